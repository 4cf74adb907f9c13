#!/usr/bin/env bash
# The stable debug entry points `qasr tokenize` / `qasr detokenize` on the real tokenizer.
# Usage: cli_tokenizer.sh QASR ASSET_DIR
set -u
QASR=$1 TOK=$2/qwen3-asr-tokenizer
fails=0
check() {  # name, expected stdout (exact bytes, printf-style), command...
  local name=$1 want=$2; shift 2
  local got
  got=$("$@" | od -An -c | tr -s ' ')
  local exp
  exp=$(printf "$want" | od -An -c | tr -s ' ')
  if [ "$got" == "$exp" ]; then echo "ok   $name"; else echo "FAIL $name: got [$got] want [$exp]"; fails=$((fails+1)); fi
}
check "prefix ids" "151644 8948 198 151645 198 151644 872 198 151669\n" \
  "$QASR" tokenize --tokenizer "$TOK" $'<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|audio_start|>'
check "macedonian" "56452 75491\n" "$QASR" tokenize --tokenizer "$TOK" " Macedonian"
check "detokenize keeps <asr_text>" "language English<asr_text>Hello\n" \
  "$QASR" detokenize --tokenizer "$TOK" 11528 6364 151704 9707 151645
check "detokenize chinese" "我的電話\n" "$QASR" detokenize --tokenizer "$TOK" $("$QASR" tokenize --tokenizer "$TOK" "我的電話")
check "empty result" "\n" "$QASR" detokenize --tokenizer "$TOK" 151645 151643
echo "$((5 - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
