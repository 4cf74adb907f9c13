#!/usr/bin/env python3
"""`qasr bench serve` end to end on tiny models: it starts a server, drives two clients
alternating two models under --max-loaded 1, and reports; checks structure and consistency
(never timings). Usage: bench_serve_check.py QASR DATA_DIR WORK_DIR"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, DATA, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
out = os.path.join(WORK, "r.json")
p = subprocess.run([QASR, "bench", "serve", "--model", "a", "--model", "b", "--audio",
                    f"{DATA}/audio/whisper.cpp_jfk.wav", "--clients", "2", "--requests", "30", "--work-dir", WORK,
                    "--json", out, "--report", os.path.join(WORK, "r.html"), "--",
                    "--model", f"a={DATA}/chatllm/tiny-q4_0.bin", "--model", f"b={DATA}/chatllm/tiny-q8_0.bin",
                    "--max-loaded", "1", "--parallel", "1", "--queue", "4"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
check(p.returncode == 0, f"bench serve exits 0 ({p.returncode}): {p.stderr.decode()[-300:]}")
r = json.load(open(out))
s = r["summary"]
check(s["requests"] == 30 and len(r["requests"]) == 30, f"30 requests recorded ({s['requests']})")
check(s["ok"] + sum(s["errors"].values()) == 30, "every request is ok or counted as an error by kind")
check(s["ok"] >= 20, f"most requests succeed: {s['ok']} (the rest: {s['errors']})")
check(set(s["per_model"]) == {"a", "b"}, f"per-model latency for both models: {list(s['per_model'])}")
for m, v in s["per_model"].items():
    lat = v["latency_ms"]
    check(lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"], f"{m}: percentiles ordered")
rep = s["replicas"]["server"]
check(rep["loads"].get("a", 0) >= 2 and rep["unloads"].get("a", 0) >= 1,
      f"--max-loaded 1 with two models alternating: loads and evictions counted {rep}")
mem = s["memory"]
check(mem["samples"] > 0 and mem["unloads"] >= 2 and "verdict" in mem and mem["unloads_checked"] >= 1,
      f"memory timeline and the unload series: {mem.get('samples')} samples, {mem.get('unloads')} unloads")
check(s["health_ms"] is not None and s["health_ms"]["n"] > 0, "health probed during the run")
check(s["server_exit"] == 0, f"the server it started drained and exited 0 ({s['server_exit']})")
check(os.path.getsize(os.path.join(WORK, "r.html")) > 1000, "HTML report written")
check("requests/s" in p.stdout.decode() and "verdict" in p.stdout.decode(), "summary printed")
finish("bench serve checks")
