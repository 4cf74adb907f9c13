"""`qasr align` against the numpy reference of Qwen3-ForcedAligner (aligner_ref.py), on
tiny random aligner checkpoints written by `qasr synth --preset tiny-aligner` in the
official HF layout: identical items (the official text rule) and input ids, timestamp
logits within 1e-3 of max (the exact f32 K/V path), identical argmax classes where the
reference's top-1/top-2 margin is clear, identical final word times; the repair must
change something and times must differ between words. Then GGUF f32/f16 conversions give
the HF folder's words, and the default f16 K/V stays within 1e-2.
Usage: check_aligner.py --qasr BIN --data DIR --work DIR
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import aligner_ref  # noqa: E402
from wavio import read_wav, read_wav_i16, write_wav_i16  # noqa: E402

CLEAR = 1e-4  # a clear margin: above this fraction of max |logit| (the f32 path errs by ~1e-5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qasr", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    audio = os.path.join(a.data, "audio")
    jfk = os.path.join(audio, "whisper.cpp_jfk.wav")
    zh = os.path.join(audio, "wenet_aishell-BAC009S0724W0121.wav")
    short = os.path.join(a.work, "jfk_first_2s.wav")
    write_wav_i16(short, read_wav_i16(jfk)[:32000])
    cases = [  # (seed, clip, text, language)
        (3, jfk, "And so, my fellow Americans: ask not what your country can do for you — ask what you can do "
                 "for your country. Don't! Qwen3-ASR's 2nd test, l'été.", "English"),
        (3, zh, "甚至出现交易几乎停滞的情况。我们用Qwen3做测试，好吗？", "Chinese"),
        (4, jfk, "tabs\tand\u00a0no-break\u3000spaces, ’curly’ quotes, 'straight' ones, ...  --- !!! 12 345", ""),
        (4, short, "And so my", "English"),
    ]
    failures = 0
    changed_by_fix = 0

    def check(ok, msg):
        nonlocal failures
        failures += 0 if ok else 1
        print(("ok   " if ok else "FAIL ") + msg)

    models = {}
    for seed in sorted({c[0] for c in cases}):
        d = os.path.join(a.work, f"tiny-aligner-seed{seed}")
        r = subprocess.run([a.qasr, "synth", "--preset", "tiny-aligner", "--seed", str(seed), "-o", d],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL synth: {r.stderr}")
            return 1
        models[seed] = (d, aligner_ref.Aligner(d))

    def run_align(model, clip, text, lang, dump, extra=()):
        cmd = [a.qasr, "align", "--aligner", model, clip, "--text", text, "--json", "--threads", "2", *extra]
        if lang:
            cmd += ["--language", lang]
        if dump:
            cmd += ["--dump-dir", dump]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return None, r.stderr.strip()
        lines = r.stdout.splitlines()
        return (json.loads(lines[0]) if len(lines) == 1 else None), r.stderr.strip()

    for n, (seed, clip, text, lang) in enumerate(cases):
        folder, ref = models[seed]
        tag = f"seed {seed}, {os.path.basename(clip)}, case {n}"
        dump = os.path.join(a.work, f"dump-{n}")
        got, err = run_align(folder, clip, text, lang, dump, ("--kv-cache", "f32"))
        if got is None:
            check(False, f"{tag}: qasr align failed or printed more than one line: {err}")
            continue
        want = ref.align(read_wav(clip), text)
        items = [w["text"] for w in want["words"]]
        check([w["text"] for w in got["words"]] == items, f"{tag}: items identical ({len(items)}: {items[:8]}...)")
        ids = json.load(open(os.path.join(dump, "input_ids.json")))
        check(ids == want["input_ids"], f"{tag}: input ids identical ({len(ids)} ids)")
        logits = np.load(os.path.join(dump, "timestamp_logits.npy"))
        ref_l = want["logits"]
        check(logits.shape == ref_l.shape, f"{tag}: timestamp logits shape {logits.shape} (reference {ref_l.shape})")
        if logits.shape != ref_l.shape:
            continue
        scale = float(np.abs(ref_l).max())
        dl = float(np.abs(logits - ref_l).max()) / scale
        check(dl <= 1e-3, f"{tag}: timestamp logits max |Δ| / max|ref| = {dl:.2e}")
        clear = [m > CLEAR * scale for m in want["margins"]]
        got_cls = logits.argmax(-1).tolist()
        same = all(g == w for g, w, c in zip(got_cls, want["classes"], clear) if c)
        check(same, f"{tag}: argmax classes identical at {sum(clear)}/{len(clear)} clear-margin positions")
        if all(clear):
            check(got["words"] == want["words"], f"{tag}: final word times identical")
        else:
            check(False, f"{tag}: {len(clear) - sum(clear)} positions without a clear margin; the checkpoint is too "
                         "flat to compare final times")
        if want["raw_ms"] != want["fixed_ms"]:
            changed_by_fix += 1
        starts = {w["start"] for w in want["words"]}
        if len(items) >= 8:  # the checkpoint must make times differ between words
            check(len(starts) >= 3, f"{tag}: {len(starts)} distinct start times over {len(items)} items")
        # The default f16 K/V: within 1e-2 of max.
        dump16 = dump + "-f16"
        got16, err = run_align(folder, clip, text, lang, dump16)
        if got16 is None:
            check(False, f"{tag}: qasr align (f16 K/V) failed: {err}")
        else:
            l16 = np.load(os.path.join(dump16, "timestamp_logits.npy"))
            d16 = float(np.abs(l16 - ref_l).max()) / scale
            check(d16 <= 1e-2, f"{tag}: f16 K/V: timestamp logits max |Δ| / max|ref| = {d16:.2e}")
    check(changed_by_fix >= 2, f"fix_timestamp changed the raw times in {changed_by_fix} of {len(cases)} cases")

    # GGUF conversions of the aligner: f32 and f16 of a bf16 checkpoint hold the same values.
    folder, _ = models[3]
    seed, clip, text, lang = cases[0]
    base, _ = run_align(folder, clip, text, lang, None, ("--kv-cache", "f32"))
    for t in ("f32", "f16", "q8_0", "q4_0"):
        out = os.path.join(a.work, f"aligner-{t}.gguf")
        r = subprocess.run([a.qasr, "convert", folder, "-o", out, "--type", t], capture_output=True, text=True)
        if r.returncode != 0:
            check(False, f"convert --type {t}: {r.stderr.strip()}")
            continue
        got, err = run_align(out, clip, text, lang, None, ("--kv-cache", "f32"))
        if t in ("f32", "f16"):
            check(got is not None and got == base, f"GGUF {t}: the same words and times as the HF folder")
        else:  # random weights: quantisation moves argmaxes, so only the items must agree
            check(got is not None and [w["text"] for w in got["words"]] == [w["text"] for w in base["words"]],
                  f"GGUF {t}: loads and aligns the same items (times differ: random weights)")
        os.remove(out)
    print(f"{'all aligner goldens match' if failures == 0 else f'{failures} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
