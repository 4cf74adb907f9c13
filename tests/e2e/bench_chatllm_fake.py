"""`qasr bench switch --engine chatllm` against the test suite's fake libchatllm.so:
a planted leak of 256 KiB per load (two models → 0.5 MiB per iteration) must give
the verdict "leak" with the rate recovered within 10%; a library that aborts on
destroy (chatllm.cpp's known bug) must be reported clearly, not crash qasr.
Usage: bench_chatllm_fake.py QASR FAKE_LIB ASSETS WORK"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, LIB, ASSETS, WORK = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)


models = []
for name in ("fake-0.6b.bin", "fake-1.7b.bin"):
    p = os.path.join(WORK, name)
    open(p, "wb").write(b"not really a model")
    models += ["--model", p]
audio = os.path.join(ASSETS, "audio", "cmn_tw_phone.wav")
out = os.path.join(WORK, "fake.json")
env = dict(os.environ, FAKE_CHATLLM_LEAK_KB="256")
r = subprocess.run([QASR, "bench", "switch", "--engine", "chatllm", "--chatllm-lib", LIB, *models, "--audio", audio,
                    "--reference", "我的電話是0912345678", "--iterations", "30", "--quiet", "--json", out],
                   capture_output=True, text=True, env=env, timeout=600)
check(r.returncode == 0, f"benchmark ran (exit {r.returncode}) {r.stderr.strip()[:300]}")
res = json.load(open(out))
s = res["summary"]
check(res["config"]["engine"] == "chatllm", "config.engine is chatllm")
check(s["verdict"] == "leak", f"verdict 'leak' (got {s['verdict']!r}: {s['evidence']})")
rate = s["slope_mb_per_iter"]
check(abs(rate - 0.5) <= 0.05, f"leak rate {rate:.4f} MiB/iteration recovers the injected 0.5 within 10%")
first = res["iterations"][0]["models"][0]
check(first["text"] == "我的電話是0912345678" and first["language"] == "Chinese", "chunks parsed into language and text")
check(first["metrics"]["cer"] == 0.0, "scored against the reference")
for ph in ("before_load", "after_load", "after_inference", "after_unload", "after_trim"):
    check(ph in first["phases"], f"phase {ph} reported from the child")

env = dict(os.environ, FAKE_CHATLLM_ABORT_ON_DESTROY="1")
r = subprocess.run([QASR, "bench", "switch", "--engine", "chatllm", "--chatllm-lib", LIB, *models, "--audio", audio,
                    "--iterations", "2", "--quiet"], capture_output=True, text=True, env=env, timeout=120)
check(r.returncode == 1, f"abort on destroy: exit code 1 (got {r.returncode})")
check("signal 6" in r.stderr and "phase unload" in r.stderr and "§3.5" in r.stderr,
      f"abort reported clearly: {r.stderr.strip()}")
check(len(r.stderr.strip().split("\n")) == 1, "one-line error")
r = subprocess.run([QASR, "bench", "switch", "--engine", "chatllm", "--chatllm-lib", "/nonexistent/libchatllm.so", *models,
                    "--audio", audio, "--iterations", "1", "--quiet"], capture_output=True, text=True, timeout=60)
check(r.returncode == 1 and "cannot load" in r.stderr, f"missing library: {r.stderr.strip()}")
finish("chatllm-engine checks")
