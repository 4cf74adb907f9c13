#!/usr/bin/env bash
# Bad input to the CLI: every case must exit non-zero with exactly one line on
# stderr starting "qasr: error:", and no sanitizer or crash report.
# Usage: cli_bad_input.sh QASR DATA_DIR ASSET_DIR WORK_DIR
set -u
QASR=$1 DATA=$2 ASSETS=$3 WORK=$4
mkdir -p "$WORK"
PY=/usr/bin/python3
fails=0

# Inputs.
: > "$WORK/empty.wav"
echo "hello, this is a text file, not audio" > "$WORK/text.wav"
head -c 20000 "$DATA/audio/whisper.cpp_jfk.wav" > "$WORK/truncated.wav"
$PY - "$WORK" <<'PYEOF'
import sys, wave, struct
d = sys.argv[1]
for name, n in (("zero", 0), ("hundred", 100)):
    with wave.open(f"{d}/{name}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
        w.writeframes(struct.pack(f"<{n}h", *([1000] * n)))
PYEOF
mkdir -p "$WORK/notatokenizer"
head -c 200000 "$DATA/chatllm/tiny-q4_0.bin" > "$WORK/truncated.bin"
echo "not a model" > "$WORK/text.gguf"
printf 'GGUF\x03\x00\x00\x00' > "$WORK/header-only.gguf"
cp "$DATA/chatllm/tiny-q4_0.bin" "$WORK/badoffset.bin"
printf '\x00\x00\x00\x00' | dd of="$WORK/badoffset.bin" bs=1 seek=12 conv=notrunc status=none

expect_error() {  # name, then the command
  local name=$1; shift
  "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"
  local rc=$?
  local lines
  lines=$(wc -l < "$WORK/err.txt")
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
    echo "FAIL $name: exit code $rc (want 1..127)"; fails=$((fails+1))
  elif [ "$lines" -ne 1 ] || ! head -1 "$WORK/err.txt" | grep -q '^qasr: error: '; then
    echo "FAIL $name: stderr is not one 'qasr: error:' line:"; cat "$WORK/err.txt"; fails=$((fails+1))
  else
    echo "ok   $name (exit $rc): $(cat "$WORK/err.txt")"
  fi
}

expect_error "missing file"        "$QASR" mel "$WORK/does-not-exist.wav" -o "$WORK/o.npy"
expect_error "empty file"          "$QASR" mel "$WORK/empty.wav" -o "$WORK/o.npy"
expect_error "text named .wav"     "$QASR" mel "$WORK/text.wav" -o "$WORK/o.npy"
expect_error "truncated WAV"       "$QASR" mel "$WORK/truncated.wav" -o "$WORK/o.npy"
expect_error "0 samples"           "$QASR" mel "$WORK/zero.wav" -o "$WORK/o.npy"
expect_error "100 samples"         "$QASR" mel "$WORK/hundred.wav" -o "$WORK/o.npy"
expect_error "m4a (AAC)"           "$QASR" mel "$DATA/audio/aishell_16k.m4a" -o "$WORK/o.npy"
expect_error "directory as audio"  "$QASR" mel "$WORK" -o "$WORK/o.npy"
expect_error "unwritable output"   "$QASR" mel "$DATA/audio/whisper.cpp_jfk.wav" -o "/nonexistent/dir/o.npy"
expect_error "tokenizer missing"   "$QASR" tokenize --tokenizer "$WORK/notatokenizer" "hi"
expect_error "bad token id"        "$QASR" detokenize --tokenizer "$ASSETS/qwen3-asr-tokenizer" 12 x3
expect_error "negative token id"   "$QASR" detokenize --tokenizer "$ASSETS/qwen3-asr-tokenizer" -- -4

expect_error "model missing"       "$QASR" transcribe --model "$WORK/nope.gguf" "$DATA/audio/whisper.cpp_jfk.wav"
expect_error "model truncated"     "$QASR" transcribe --model "$WORK/truncated.bin" "$DATA/audio/whisper.cpp_jfk.wav"
expect_error "model is text"       "$QASR" inspect "$WORK/text.gguf"
expect_error "gguf header only"    "$QASR" inspect "$WORK/header-only.gguf"
expect_error "chatllm bad offset"  "$QASR" inspect "$WORK/badoffset.bin"
expect_error "unknown language"    "$QASR" transcribe --model "$DATA/chatllm/tiny-q4_0.bin" --language Klingon "$DATA/audio/whisper.cpp_jfk.wav"
expect_error "bad convert type"    "$QASR" convert "$DATA/chatllm/tiny-q4_0.bin" -o "$WORK/x.gguf" --type q5_k
expect_error "hf with q4_0"        "$QASR" synth --preset tiny --format hf --type q4_0 -o "$WORK/hfq"

# A good chatllm file: inspect works and counts its tensors.
if "$QASR" inspect "$DATA/chatllm/tiny-q4_0.bin" | grep -q '^tensors: 70$'; then echo "ok   inspect tensors: 70"
else echo "FAIL inspect did not print 'tensors: 70'"; fails=$((fails+1)); fi

echo "$((21 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
