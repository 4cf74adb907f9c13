"""Runs the C test of the C API (tests/capi/capi_test.c) on tiny random checkpoints and
compares its token ids with `qasr transcribe --json` on the same file and settings.
Usage: capi_check.py QASR CAPI_TEST DATA WORK
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, TEST, DATA, WORK = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)
tiny, aligner = os.path.join(WORK, "tiny"), os.path.join(WORK, "tiny-aligner")
for preset, seed, out in (("tiny", 7, tiny), ("tiny-aligner", 3, aligner)):
    if not os.path.exists(os.path.join(out, "config.json")):
        subprocess.run([QASR, "synth", "--preset", preset, "--seed", str(seed), "-o", out], check=True,
                       capture_output=True, timeout=300)
corrupt = os.path.join(WORK, "corrupt.gguf")
with open(corrupt, "wb") as f:
    f.write(b"GGUF" + (3).to_bytes(4, "little") + os.urandom(200))
wav = os.path.join(DATA, "audio", "whisper.cpp_jfk.wav")
r = subprocess.run([TEST, tiny, aligner, wav, corrupt, WORK], capture_output=True, text=True, timeout=600)
print(r.stdout, end="")
check(r.returncode == 0, f"capi_test exited {r.returncode} {r.stderr.strip()[-400:]}")
got = next((line.split()[1:] for line in r.stdout.splitlines() if line.startswith("tokens:")), None)
cli = subprocess.run([QASR, "transcribe", "--model", tiny, wav, "--json", "--max-new-tokens", "16", "--threads", "2"],
                     capture_output=True, text=True, timeout=300)
want = [str(t) for t in json.loads(cli.stdout)["token_ids"]] if cli.returncode == 0 else None
check(got is not None and got == want, f"C API token ids equal the CLI's ({len(want or [])} ids)")
finish("C API checks")
