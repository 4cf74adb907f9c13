"""q4_0 and q8_0 models: the integer GEMM (q8_0 activations, what ggml computes) against
the exact path (QASR_GEMM=f32: weights dequantized, f32 activations), end to end on tiny
random q4_0 and q8_0 checkpoints in chatllm's layout (seeds 1-3, JFK 11 s, 16 tokens,
EOS ignored, f32 KV cache).

The kernels are bit-identical to ggml's scalar q4_0 / q8_0 × q8_0 dots (unit test
Gemm.IntegerMatchesScalarReferenceBitForBit); what is bounded here is the q8_0
rounding of the activations (at most half a quantum, amax/254 of each 32-block, per
element) carried through the encoder and prefill. Bounds: encoder output max |Δ| ≤
2.5e-2 of max (measured 0.9-1.2%), step-0 logits ≤ 6e-2 of max (measured 1.2-3.1%),
the same step-0 top-1, and the same greedy ids over the first 8 steps (they may part
later, where these random checkpoints' top-2 margins are within a quantum's effect).

q8_0 checkpoints are bounded against a second reference as well, the row-dot path
(QASR_NO_BLAS=1: the same q8_0 activations, ggml's per-row block dots, what chatllm.cpp
computes): on these random q8_0 checkpoints the activation rounding moves the step-0
logits by up to 17% of max against the f32 path, and the row-dot path moves them just as
much (measured 1.7-16.9% vs 2.0-15.8%), while the two quantized paths agree within
1.2-1.9%. Bounds for q8_0: encoder against f32 as above, step-0 logits against the
row-dot path ≤ 6e-2 of max, the same step-0 top-1 as both references (greedy ids part
as early as step 1 on seed 1, between the f32 path and both quantized ones alike).
Usage: quant_gemm_check.py QASR DATA WORK"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from checks import check, finish  # noqa: E402

QASR, DATA, WORK = sys.argv[1:4]
os.makedirs(WORK, exist_ok=True)
jfk = os.path.join(DATA, "audio", "whisper.cpp_jfk.wav")


for wtype, seed in [(t, s) for t in ("q4_0", "q8_0") for s in (1, 2, 3)]:
    model = os.path.join(WORK, f"tiny-{wtype}-seed{seed}.bin")
    r = subprocess.run([QASR, "synth", "--preset", "tiny", "--format", "chatllm", "--type", wtype, "--seed", str(seed),
                        "-o", model], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        check(False, f"{wtype} seed {seed}: synth exited {r.returncode}: {r.stderr.strip()[-200:]}")
        continue
    got = {}
    modes = ("f32", "int8") + (("rowdot",) if wtype == "q8_0" else ())
    for mode in modes:
        dump = os.path.join(WORK, f"dump-{wtype}-{seed}-{mode}")
        env = dict(os.environ, QASR_GEMM=mode) if mode != "rowdot" else dict(os.environ, QASR_NO_BLAS="1")
        r = subprocess.run([QASR, "transcribe", "--model", model, jfk, "--json", "--ignore-eos", "--max-new-tokens", "16",
                            "--kv-cache", "f32", "--threads", "2", "--dump-dir", dump],
                           capture_output=True, text=True, timeout=600, env=env)
        if r.returncode != 0:
            check(False, f"{wtype} seed {seed} {mode}: transcribe exited {r.returncode}: {r.stderr.strip()[-200:]}")
            break
        got[mode] = (json.loads(r.stdout.splitlines()[0])["token_ids"], np.load(os.path.join(dump, "encoder_out.npy")),
                     np.load(os.path.join(dump, "logits_step0.npy")))
    if len(got) != len(modes):
        continue
    (ids_f, enc_f, log_f), (ids_i, enc_i, log_i) = got["f32"], got["int8"]
    de = float(np.abs(enc_i - enc_f).max() / np.abs(enc_f).max())
    check(enc_i.shape == enc_f.shape and de <= 2.5e-2, f"{wtype} seed {seed}: encoder output max |Δ| / max = {de:.2e}")
    check(de > 0.0, f"{wtype} seed {seed}: the two paths are distinct computations (encoder Δ {de:.2e} > 0)")
    if wtype == "q8_0":
        ids_r, _, log_r = got["rowdot"]
        dr = float(np.abs(log_i - log_r).max() / np.abs(log_r).max())
        top = [int(np.argmax(v)) for v in (log_i, log_f, log_r)]
        check(dr <= 6e-2 and top[0] == top[1] == top[2],
              f"{wtype} seed {seed}: step-0 logits against the row-dot path max |Δ| / max = {dr:.2e}, "
              f"top-1 {top[0]} (f32 {top[1]}, row-dot {top[2]})")
        check(len(ids_i) == 16 and ids_i[0] == ids_f[0] == ids_r[0],
              f"{wtype} seed {seed}: 16 ids, the first one the same on all three paths")
        continue
    dl = float(np.abs(log_i - log_f).max() / np.abs(log_f).max())
    check(dl <= 6e-2 and int(np.argmax(log_i)) == int(np.argmax(log_f)),
          f"{wtype} seed {seed}: step-0 logits max |Δ| / max = {dl:.2e}, top-1 {int(np.argmax(log_i))} vs {int(np.argmax(log_f))}")
    same = 0
    while same < min(len(ids_f), len(ids_i)) and ids_f[same] == ids_i[same]:
        same += 1
    check(len(ids_i) == 16 and same >= 8, f"{wtype} seed {seed}: greedy ids identical over the first {same}/16 steps")

finish("integer GEMM checks")
