"""`qasr bench speed` end to end on the tiny chatllm fixture, side by side with the
test suite's fake libchatllm.so (three printed chunks per transcription): the JSON
has every stage with median within [min, max], the requested thread counts, exact
token counts with EOS ignored, analytic work figures, measured machine peaks,
qasr/chatllm ratios that match the medians, and the table names both engines.
Bad arguments fail with one line. No timing is asserted (this is not a speed test).
Usage: bench_speed_check.py QASR FAKE_LIB DATA WORK"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, LIB, DATA, WORK = sys.argv[1:5]
os.makedirs(WORK, exist_ok=True)


# A tiny random-weight model in chatllm's layout, written by qasr (so it is flagged as random).
model = os.path.join(WORK, "tiny-q4_0.bin")
r = subprocess.run([QASR, "synth", "--preset", "tiny", "--format", "chatllm", "--type", "q4_0", "--seed", "3", "-o", model],
                   capture_output=True, text=True, timeout=300)
check(r.returncode == 0, f"synth tiny chatllm model (exit {r.returncode}) {r.stderr.strip()[-200:]}")
audio = os.path.join(DATA, "audio", "wenet_aishell-BAC009S0724W0121.wav")
out = os.path.join(WORK, "speed.json")
r = subprocess.run([QASR, "bench", "speed", "--model", model, "--audio", audio, "--runs", "3", "--threads", "2,1",
                    "--max-new-tokens", "5", "--chatllm-lib", LIB, "--json", out],
                   capture_output=True, text=True, timeout=600)
check(r.returncode == 0, f"bench speed ran (exit {r.returncode}) {r.stderr.strip()[-300:]}")
res = json.load(open(out))
cfg = res["config"]
check(cfg["threads"] == [2, 1] and cfg["runs"] == 3 and cfg["ignore_eos"] is True, "config records threads, runs, EOS ignored")
check(abs(cfg["audio"]["seconds"] - 4.9) < 1.0, f"audio duration recorded ({cfg['audio']['seconds']:.2f} s)")
peaks = res["machine_peaks"]
check([p["threads"] for p in peaks] == [2, 1] and all(p["read_gb_s"] > 0.1 for p in peaks),
      "read bandwidth measured for each thread count")
check(all(p["fma_gflop_s"] > 0.1 and p["int8_gop_s"] > 0.1 for p in peaks), "f32 FMA and int8 peaks measured")
m = res["models"][0]
w = m["work"]
check(w["encoder_gflop"] > 0 and w["prefill_gflop"] > 0 and w["decode_mb_per_token"] > 0 and w["audio_tokens"] > 0,
      f"work figures: {w}")
# q4_0 weights: the layers' matmuls are integer work, the f16 conv stem and attention are not.
check(0 < w["encoder_int8_gflop"] < w["encoder_gflop"] and 0 < w["prefill_int8_gflop"] < w["prefill_gflop"],
      "part of the encoder and prefill work is counted as int8 (q4_0 GEMM), the rest as f32")
check(m["random_weights"] is True, "the fixture is flagged as random weights")
check([e["threads"] for e in m["qasr"]] == [2, 1], "one qasr entry per thread count")
for e in m["qasr"]:
    s = e["summary"]
    check(len(e["runs"]) == 3, f"{e['threads']} thread(s): 3 timed runs")
    check(all(r_["generated_tokens"] == 5 for r_ in e["runs"]), "exactly --max-new-tokens tokens per run (EOS ignored)")
    for k in ("audio_ms", "mel_ms", "encoder_ms", "prefill_ms", "first_token_ms", "decode_ms", "after_load_ms",
              "ms_per_token"):
        st = s.get(k)
        check(st is not None and st["min"] <= st["median"] <= st["max"] and st["n"] == 3,
              f"{e['threads']} thread(s): {k} median within [min, max]")
    check(s["tokens_per_s"] > 0 and s["real_time_factor"] > 0 and s["decode_gb_s"] > 0, "derived rates present")
    check(abs(s["tokens_per_s"] * s["ms_per_token"]["median"] - 1000) < 1e-6, "tokens/s = 1000 / ms per token")
    check(e["hwm_mb"] > 1 and e["load_ms"] > 0, "peak RSS and load time of the child process")
    pk = next(p for p in peaks if p["threads"] == e["threads"])
    for st in ("encoder", "prefill"):
        sec = s[st + "_ms"]["median"] / 1000
        want = ((w[st + "_gflop"] - w[st + "_int8_gflop"]) / pk["fma_gflop_s"] + w[st + "_int8_gflop"] / pk["int8_gop_s"]) / sec
        check(abs(s[st + "_of_peak"] - want) < 1e-9 * max(1.0, want),
              f"{e['threads']} thread(s): {st} share of peak = (f32 work / FMA peak + int8 work / int8 peak) / time")
c = m["chatllm"]
check(len(c["runs"]) == 3 and all(r_["generated_tokens"] == 3 for r_ in c["runs"]),
      "chatllm: 3 timed runs (the warm-up dropped), the fake's 3 chunks each")
ratio = m["qasr_over_chatllm"]
q = m["qasr"][0]["summary"]
check(abs(ratio["after_load_ms"] - q["after_load_ms"]["median"] / c["summary"]["after_load_ms"]["median"]) < 1e-9,
      "the transcription ratio is the ratio of the medians")
check("qasr / chatllm.cpp" in r.stdout and "chatllm.cpp, 2 thread(s), same file" in r.stdout and
      "random weights" in r.stdout, "the table shows both engines and the random-weights note")

# --noise 1: each measurement repeated beside one spinning process; the ratios are those of the medians, and
# the busy process is gone when the command returns (no child of ours is left spinning).
out2 = os.path.join(WORK, "speed_noise.json")
r = subprocess.run([QASR, "bench", "speed", "--model", model, "--audio", audio, "--runs", "2", "--threads", "1",
                    "--max-new-tokens", "3", "--no-peaks", "--noise", "1", "--json", out2],
                   capture_output=True, text=True, timeout=600)
check(r.returncode == 0, f"bench speed --noise 1 ran (exit {r.returncode}) {r.stderr.strip()[-300:]}")
e = json.load(open(out2))["models"][0]["qasr"][0]
nz = e.get("noisy", {})
check(nz.get("busy_processes") == 1 and len(nz.get("runs", [])) == 2, "a noisy entry with one busy process, 2 runs")
for k in ("first_token_ms", "ms_per_token", "after_load_ms"):
    want = nz["summary"][k]["median"] / e["summary"][k]["median"]
    check(abs(nz["over_quiet"][k] - want) < 1e-9 * max(1.0, want), f"noisy/quiet {k} is the ratio of the medians")
check("beside 1 busy process(es)" in r.stdout, "the table prints the noisy rows")
# The busy processes are forks of that qasr, so their command line names speed_noise.json.
left = subprocess.run(["pgrep", "-f", "speed_noise.json"], capture_output=True, text=True).stdout.split()
check(not left, f"no busy process left behind (pids: {left})")
bad = subprocess.run([QASR, "bench", "speed", "--model", model, "--audio", audio, "--noise", "65", "--no-peaks"],
                     capture_output=True, text=True, timeout=60)
check(bad.returncode != 0 and bad.stderr.count("\n") == 1 and "--noise" in bad.stderr,
      f"an out-of-range --noise is one line: {bad.stderr.strip()!r}")

bad = subprocess.run([QASR, "bench", "speed", "--model", model, "--audio", audio, "--threads", "2,x"],
                     capture_output=True, text=True, timeout=60)
check(bad.returncode != 0 and bad.stderr.count("\n") == 1 and "--threads" in bad.stderr,
      f"a bad thread list is one line: {bad.stderr.strip()!r}")
bad = subprocess.run([QASR, "bench", "speed", "--model", os.path.join(WORK, "missing.bin"), "--audio", audio,
                      "--runs", "1", "--no-peaks"], capture_output=True, text=True, timeout=60)
check(bad.returncode != 0 and bad.stderr.count("\n") == 1 and "missing.bin" in bad.stderr,
      f"a missing model is one line: {bad.stderr.strip()!r}")
finish("bench speed checks")
