#!/usr/bin/env python3
"""Hostile and careless use of the CLI, one group per class of issue 11 (README "What qasr
refuses, and why"): no crash, no hang, no command run from a path, no lost or damaged file,
bounded memory and time, one `qasr: error:` line and the documented exit code.

Usage: cli_hostile.py QASR DATA_DIR ASSET_DIR WORK_DIR
Every process is started with a timeout; every loop is bounded.
"""
import hashlib
import json
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, DATA, ASSETS, WORK = sys.argv[1:5]
WORK = pathlib.Path(WORK).resolve()
shutil.rmtree(WORK, ignore_errors=True)
WORK.mkdir(parents=True)
TINY = f"{DATA}/chatllm/tiny-q4_0.bin"
JFK = f"{DATA}/audio/whisper.cpp_jfk.wav"
TOK = f"{ASSETS}/qwen3-asr-tokenizer"
SANITIZED = "ASAN_OPTIONS" in os.environ  # the sanitizer build: slower, more memory
EXIT = {"internal": 1, "usage": 2, "invalid_argument": 3, "not_found": 4, "invalid_format": 5, "unsupported": 6,
        "too_large": 7, "cancelled": 8, "io": 12}


def run(args, timeout=120, stdout=subprocess.PIPE, **kw):
    t0 = time.monotonic()
    p = subprocess.run([QASR] + args, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, **kw)
    return p, time.monotonic() - t0


def one_error_line(p):
    lines = p.stderr.decode("utf-8", "replace").splitlines()
    return len(lines) == 1 and lines[0].startswith("qasr: error: ")


def expect_error(name, args, code, needle=None, timeout=120, **kw):
    try:
        p, dt = run(args, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        check(False, f"{name}: still running after {timeout} s")
        return None
    err = p.stderr.decode("utf-8", "replace")
    good = p.returncode == code and one_error_line(p) and (needle is None or needle in err)
    check(good, f"{name}: exit {p.returncode} (want {code}), {dt:.1f} s: {err.strip()[:200]}")
    return p


def md5(path):
    return hashlib.md5(pathlib.Path(path).read_bytes()).hexdigest()


def leftovers(folder):
    return [f for f in os.listdir(folder) if ".qasr-tmp-" in f]


def child_peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# A GGUF of the tiny model for the file cases.
src = WORK / "tiny.gguf"
p, _ = run(["convert", TINY, "-o", str(src)])
check(p.returncode == 0 and src.exists(), "setup: tiny GGUF written")
good_md5 = md5(src)

# ---- 1. writing onto a file that is mapped ----
expect_error("convert -o its own source", ["convert", str(src), "-o", str(src)], EXIT["invalid_argument"], "is the input")
check(md5(src) == good_md5, "the source is intact after convert -o source")
link = WORK / "link.gguf"
link.symlink_to(src)
expect_error("convert -o a symlink to the source", ["convert", str(src), "-o", str(link)], EXIT["invalid_argument"],
             "is the input")
check(md5(src) == good_md5 and link.is_symlink(), "source and symlink intact")

# ---- 2. a model file changed under a running process ----
victim = WORK / "victim.gguf"
shutil.copy(src, victim)
clips = [JFK] * 40
proc = subprocess.Popen([QASR, "transcribe", "--model", str(victim), "--max-new-tokens", "2000", "--ignore-eos",
                         "--language", "en", "--threads", "1"] + clips, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
time.sleep(1.5 if not SANITIZED else 4)
with open(victim, "r+b") as f:
    f.truncate(4096)
try:
    _, err = proc.communicate(timeout=120)
    err = err.decode("utf-8", "replace")
    check(proc.returncode == EXIT["io"] and "was truncated or rewritten" in err and err.count("\n") >= 1,
          f"model truncated under a running transcription: exit {proc.returncode}, '{err.strip()[-160:]}'")
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
    check(False, "model truncated under a running transcription: hung")
# qasr's own rewrite of a model in use is a rename: the running process keeps its pages.
shutil.copy(src, victim)
proc = subprocess.Popen([QASR, "transcribe", "--model", str(victim), "--max-new-tokens", "200", "--ignore-eos",
                         "--language", "en", "--threads", "1"] + [JFK] * 8, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
time.sleep(0.5)
p, _ = run(["convert", TINY, "-o", str(victim)])
_, err = proc.communicate(timeout=300)
check(proc.returncode == 0 and p.returncode == 0,
      f"convert over a model in use: converter exit {p.returncode}, transcriber exit {proc.returncode}")

# ---- 3. outputs written in place ----
out = WORK / "out.gguf"
shutil.copy(src, out)
sp = subprocess.Popen([QASR, "synth", "--preset", "0.6b", "--format", "gguf", "-o", str(out)],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(2.0)
sp.send_signal(signal.SIGINT)
sp.wait(timeout=60)
check(sp.returncode != 0, f"interrupted synth exits non-zero ({sp.returncode})")
check(md5(out) == good_md5, "the good file under the output name survives an interrupted synth")
check(not leftovers(WORK), f"no temporary left after SIGINT: {leftovers(WORK)}")
full = WORK / "full"
full.mkdir()
p = subprocess.run(f"ulimit -f 100; exec '{QASR}' convert '{TINY}' -o '{full}/big.gguf' --type f32", shell=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
err = p.stderr.decode()
check(p.returncode == EXIT["too_large"] and "File too large" in err and one_error_line(p),
      f"a full disk (ulimit -f) names the reason: exit {p.returncode}, '{err.strip()}'")
check(not os.listdir(full), f"nothing left after the failed write: {os.listdir(full)}")
a = subprocess.Popen([QASR, "convert", TINY, "-o", str(WORK / "same.gguf"), "--type", "q8_0"], stderr=subprocess.PIPE)
b = subprocess.Popen([QASR, "convert", TINY, "-o", str(WORK / "same.gguf"), "--type", "q8_0"], stderr=subprocess.PIPE)
a.wait(timeout=120)
b.wait(timeout=120)
run(["convert", TINY, "-o", str(WORK / "serial.gguf"), "--type", "q8_0"])
check(a.returncode == 0 and b.returncode == 0 and md5(WORK / "same.gguf") == md5(WORK / "serial.gguf"),
      "two converts to one path: both succeed and the file is whole")
p, _ = run(["inspect", str(WORK / "same.gguf")])
check(p.returncode == 0, "the concurrently written file loads")

# ---- 4. no shell: paths with quotes and apostrophes ----
for folder in ["bob's results", "q'uo\"te $(touch pwned) ;x"]:
    d = WORK / folder / "deeper"
    p, _ = run(["bench", "switch", "--model", TINY, "--audio", JFK, "--iterations", "1", "--max-new-tokens", "2",
                "--quiet", "--json", str(d / "r.json"), "--csv", str(d / "r.csv"), "--report", str(d / "r.html")],
               timeout=600)
    check(p.returncode == 0 and (d / "r.json").exists() and (d / "r.csv").exists() and (d / "r.html").exists(),
          f"bench outputs under '{folder}' (exit {p.returncode})")
check(not pathlib.Path("pwned").exists() and not (WORK / "pwned").exists(), "no command ran from a path")
# (valgrind passes the failing run's own error line through, so only the last line is ours.)
p, _ = run(["bench", "leak-check", "--model", str(WORK / "nope.bin"), "--audio", JFK, "--cycles", "1"], timeout=600)
check(p.returncode != 0 and p.stderr.decode().strip().splitlines()[-1].startswith("qasr: error: "),
      f"leak-check of a missing model fails (exit {p.returncode})")

# ---- 5. memory errors on valid input (ASan runs this script too) ----
res = WORK / "two.json"
p, _ = run(["bench", "switch", "--model", TINY, "--model", str(src), "--audio", JFK, "--iterations", "2",
            "--max-new-tokens", "2", "--quiet", "--json", str(res)], timeout=600)
check(p.returncode == 0, f"bench switch, 2 models × 2 iterations, no --reference (exit {p.returncode})")
doc = json.loads(res.read_text())
doc["iterations"][0]["models"] = []
(WORK / "short.json").write_text(json.dumps(doc))
expect_error("report on a results file with a short iteration", ["report", str(WORK / "short.json"), "-o",
                                                                  str(WORK / "r.html")], EXIT["invalid_format"])
doc["iterations"] = []
(WORK / "empty.json").write_text(json.dumps(doc))
expect_error("report on a results file without iterations", ["report", str(WORK / "empty.json"), "-o",
                                                             str(WORK / "r.html")], EXIT["invalid_format"])
p, _ = run(["report", str(res), "-o", str(WORK / "good.html")])
check(p.returncode == 0 and (WORK / "good.html").exists(), "report on the good results file")

# ---- 6. recursion, uncaught exceptions ----
deep = WORK / "deep_hf"
deep.mkdir()
for f in ["vocab.json", "merges.txt", "tokenizer_config.json"]:
    shutil.copy(f"{TOK}/{f}", deep / f)
(deep / "config.json").write_text("[" * 200000 + "]" * 200000)
expect_error("config.json nested 200000 deep", ["inspect", str(deep)], EXIT["invalid_format"], "nested deeper")
st = WORK / "deep.safetensors"
header = b"[" * 100000 + b"]" * 100000
st.write_bytes(len(header).to_bytes(8, "little") + header)
shutil.copytree(deep, WORK / "deep_st")
(WORK / "deep_st" / "config.json").write_text((pathlib.Path(ASSETS) / "qwen3-asr-0.6b/config.json").read_text())
shutil.copy(st, WORK / "deep_st" / "model.safetensors")
expect_error("safetensors header nested 100000 deep", ["inspect", str(WORK / "deep_st")], EXIT["invalid_format"],
             "nested deeper")
expect_error("--threads 100000", ["transcribe", "--model", TINY, "--threads", "100000", JFK], EXIT["usage"])
expect_error("--iterations 10^12", ["bench", "switch", "--model", TINY, "--audio", JFK, "--iterations",
                                    "1000000000000"], EXIT["usage"])
try:
    odd_path = os.fsencode(str(WORK)) + b"/odd\xff\xfename.wav"
    shutil.copy(JFK, odd_path)
    p = subprocess.run([os.fsencode(QASR), b"transcribe", b"--model", os.fsencode(TINY), b"--json",
                        b"--max-new-tokens", b"4", odd_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    ok = p.returncode == 0
    try:
        json.loads(p.stdout.decode("utf-8"))
    except ValueError:
        ok = False
    check(ok, f"a non-UTF-8 path in --json output: exit {p.returncode}, valid JSON")
except OSError as e:
    check(False, f"could not create a non-UTF-8 file name: {e}")

# ---- 7. bounded memory and time ----
flac = WORK / "huge.flac"
subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=192000:cl=7.1", "-t", "600",
                "-c:a", "flac", str(flac)], check=True, timeout=600)
expect_error("600 s 8-channel 192 kHz FLAC, --max-audio-seconds 60 (refused from the header)",
             ["transcribe", "--model", TINY, "--max-audio-seconds", "60", str(flac)], EXIT["too_large"], "600 s long",
             timeout=30)
before = child_peak_rss_mb()
p, dt = run(["mel", str(flac), "-o", str(WORK / "huge.npy")], timeout=600)
peak = child_peak_rss_mb()
limit = 1500 if SANITIZED else 600
check(p.returncode == 0 and peak < limit,
      f"decoding it whole holds its 16 kHz mono form only: peak RSS {peak:.0f} MB (limit {limit}; was 4.6 GB), {dt:.0f} s")
wav = WORK / "sevenhours.wav"
n = 7 * 3600 * 16000
with open(wav, "wb") as f:
    f.write(b"RIFF" + (36 + 2 * n).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") +
            (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little") +
            (32000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little") + b"data" +
            (2 * n).to_bytes(4, "little"))
    f.truncate(44 + 2 * n)  # sparse: seven hours of silence
# Long audio is split (default limit 6 h): past the limit it is refused from the header, at once.
expect_error("a 7-hour WAV refused from its header (default limit 6 h)", ["transcribe", "--model", TINY, str(wav)],
             EXIT["too_large"], "25200 s long", timeout=30)
expect_error("the same with --max-audio-seconds 3600", ["transcribe", "--model", TINY, "--max-audio-seconds", "3600",
                                                         str(wav)], EXIT["too_large"], "25200 s long", timeout=30)
absurd = WORK / "absurd_tok"
absurd.mkdir()
shutil.copy(f"{TOK}/merges.txt", absurd)
shutil.copy(f"{TOK}/tokenizer_config.json", absurd)
(absurd / "vocab.json").write_text('{"a": 0, "b": 4000000000}')
expect_error("one absurd id in vocab.json", ["tokenize", "--tokenizer", str(absurd), "x"], EXIT["invalid_format"],
             "invalid id")
(WORK / "r.txt").write_text("a" * 900000)
(WORK / "h.txt").write_text("b" * 900000)
expect_error("score on two 900 KB files", ["score", "--reference-file", str(WORK / "r.txt"), "--hypothesis-file",
                                           str(WORK / "h.txt")], EXIT["too_large"], "alignment steps", timeout=60)
try:
    p, dt = run(["convert", TINY, "-o", str(WORK / "re.gguf"), "--tensor-type", "(.*.*)*X=q8_0"], timeout=60)
    check(dt < 30 and (p.returncode == 0 or one_error_line(p)),
          f"a backtracking --tensor-type pattern ends in {dt:.1f} s (exit {p.returncode})")
except subprocess.TimeoutExpired:
    check(False, "a backtracking --tensor-type pattern ran for a minute")

# ---- 8. special files ----
fifo = WORK / "fifo.wav"
os.mkfifo(fifo)
expect_error("a FIFO as audio", ["mel", str(fifo), "-o", str(WORK / "f.npy")], EXIT["invalid_argument"], "FIFO",
             timeout=20)
expect_error("a FIFO as model", ["inspect", str(fifo)], EXIT["invalid_argument"], "FIFO", timeout=20)
expect_error("a directory as audio", ["mel", str(WORK), "-o", str(WORK / "f.npy")], EXIT["invalid_argument"],
             "is a directory")
loop = WORK / "loop.wav"
loop.symlink_to("loop.wav")
expect_error("a symlink loop as audio", ["mel", str(loop), "-o", str(WORK / "f.npy")], EXIT["invalid_argument"],
             "symbolic link loop")

# ---- 9. special tokens from user text: plain text in the prompt ----
p, _ = run(["tokenize", "--tokenizer", TOK, "--plain", "<|im_end|>"])
ids = p.stdout.decode().split()
check(p.returncode == 0 and "151645" not in ids and len(ids) > 1, f"--plain keeps <|im_end|> as text: {ids}")
p, _ = run(["tokenize", "--tokenizer", TOK, "<|im_end|>"])
check(p.stdout.decode().split() == ["151645"], "the reference behaviour without --plain")

# ---- 10. lost output ----
with open("/dev/full", "wb") as devfull:
    for name, args in [("transcribe", ["transcribe", "--model", TINY, "--max-new-tokens", "8", "--language", "en", JFK]),
                       ("transcribe --json", ["transcribe", "--model", TINY, "--max-new-tokens", "4", "--json", JFK]),
                       ("tokenize", ["tokenize", "--tokenizer", TOK, "hello"]),
                       ("normalize", ["normalize", "Hello"])]:
        expect_error(f"{name} > /dev/full", args, EXIT["io"], "standard output", stdout=devfull)

# ---- 11. valid audio that used to be refused ----
piped = WORK / "piped.wav"
with open(piped, "wb") as f:
    ff = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-i", JFK, "-f", "wav", "-"], stdout=subprocess.PIPE)
    f.write(ff.stdout.read())
    ff.wait()
check(piped.read_bytes()[4:8] == b"\xff\xff\xff\xff", "ffmpeg wrote size fields 0xFFFFFFFF to the pipe")
p, _ = run(["mel", str(piped), "-o", str(WORK / "p.npy")])
check(p.returncode == 0, f"a WAV written to a pipe decodes (exit {p.returncode})")
adpcm = WORK / "adpcm.wav"
subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", JFK, "-c:a", "adpcm_ima_wav", str(adpcm)], check=True)
p, _ = run(["mel", str(adpcm), "-o", str(WORK / "a.npy")])
check(p.returncode == 0, f"an IMA-ADPCM WAV decodes (exit {p.returncode})")

# ---- 12. silent acceptance, misleading messages ----
expect_error("detokenize 1000000000", ["detokenize", "--tokenizer", TOK, "1000000000"], EXIT["invalid_argument"],
             "outside")
eos = WORK / "eos_hf"
p, _ = run(["synth", "--preset", "tiny", "-o", str(eos)])
gen = json.loads((eos / "generation_config.json").read_text())
gen["eos_token_id"] = 2 ** 40
(eos / "generation_config.json").write_text(json.dumps(gen))
expect_error("eos_token_id 2^40", ["inspect", str(eos)], EXIT["invalid_format"], "out of range")
for v in ["nan", "inf", "1e17"]:
    expect_error(f"--max-audio-seconds {v}", ["transcribe", "--model", TINY, "--max-audio-seconds", v, JFK],
                 EXIT["usage"])
expect_error("--max-new-tokens 0", ["transcribe", "--model", TINY, "--max-new-tokens", "0", JFK], EXIT["usage"],
             "--max-new-tokens")
expect_error("unknown flag", ["transcribe", "--frobnicate"], EXIT["usage"])
esc = WORK / "esc\x1b[31mred.wav"
p = expect_error("control characters in a path are escaped", ["mel", str(esc), "-o", str(WORK / "e.npy")],
                 EXIT["not_found"], "\\x1b")
check(p is not None and b"\x1b" not in p.stderr, "no raw ESC reaches the terminal")

# ---- 13. progress on long work ----
p, _ = run(["transcribe", "--model", TINY, "--max-new-tokens", "40", "--json", "--progress", JFK])
err = p.stderr.decode()
check(p.returncode == 0 and "encoder" in err and "decode" in err, "--progress shows the stages on stderr")
p, _ = run(["transcribe", "--model", TINY, "--max-new-tokens", "40", "--json", JFK])
check("encoder 1/" not in p.stderr.decode(), "no progress lines when stderr is not a terminal")

# Silence is valid input: an empty transcript.
zero = WORK / "zero.wav"
with open(zero, "wb") as f:
    f.write(b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") +
            (1).to_bytes(2, "little") + (16000).to_bytes(4, "little") + (32000).to_bytes(4, "little") +
            (2).to_bytes(2, "little") + (16).to_bytes(2, "little") + b"data" + (0).to_bytes(4, "little"))
p, _ = run(["transcribe", "--model", TINY, "--json", str(zero)])
check(p.returncode == 0 and json.loads(p.stdout)["text"] == "", "a WAV without samples: exit 0, empty text")

finish("hostile-input checks")
