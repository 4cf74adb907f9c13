"""Golden test: `qasr mel` against the numpy reference on 16 kHz clips.

Usage: check_mel.py --qasr BIN --data DIR --work DIR
Exits non-zero (and says why) if any clip differs by more than 1e-4.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import mel_ref  # noqa: E402
from wavio import read_wav_i16, write_wav_i16  # noqa: E402

TOL = 1e-4


def load_npy(path):
    return np.load(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qasr", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    audio = os.path.join(a.data, "audio")
    clips = {
        "jfk_11s": os.path.join(audio, "whisper.cpp_jfk.wav"),
        "aishell_4s": os.path.join(audio, "wenet_aishell-BAC009S0724W0121.wav"),
    }
    # Under 1 s, loudest frame is the one that gets dropped (pitfall P7).
    jfk = read_wav_i16(clips["jfk_11s"])
    short = os.path.join(a.work, "jfk_first_11200.wav")
    write_wav_i16(short, jfk[:11200])
    clips["jfk_first_11200"] = short
    # Odd length, not a multiple of 160, with a loud click at the very start.
    rng = np.random.default_rng(7)
    odd = (rng.standard_normal(16000 * 2 + 77) * 800).astype(np.int16)
    odd[:50] = 30000
    oddp = os.path.join(a.work, "noise_odd.wav")
    write_wav_i16(oddp, odd)
    clips["noise_odd"] = oddp

    x_short = jfk[:11200].astype(np.float64) / 32768.0
    p = mel_ref.power_frames(x_short) @ mel_ref.mel_filters().T
    if int(np.argmax(p.max(axis=1))) != p.shape[0] - 1:
        print("FAIL: the short clip no longer has its loudest frame last; the P7 check is void")
        return 1
    diff_p7 = np.abs(mel_ref.log_mel(x_short, True) - mel_ref.log_mel(x_short, False)).max()
    print(f"P7 sensitivity on the short clip: max |drop-then-max − max-then-drop| = {diff_p7:.4f}")

    failures = 0
    for name, path in clips.items():
        out = os.path.join(a.work, name + ".npy")
        r = subprocess.run([a.qasr, "mel", path, "-o", out], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {name}: qasr exited {r.returncode}: {r.stderr.strip()}")
            failures += 1
            continue
        got = load_npy(out)
        x = read_wav_i16(path).astype(np.float64) / 32768.0
        ref = mel_ref.log_mel(x)
        if got.shape != ref.shape or got.dtype != np.float32:
            print(f"FAIL {name}: shape {got.shape} {got.dtype}, expected {ref.shape} float32")
            failures += 1
            continue
        d = float(np.abs(got - ref).max())
        ok = d <= TOL
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: shape {got.shape}, max |Δ| = {d:.2e} (tolerance {TOL:g})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
