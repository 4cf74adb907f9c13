"""`qasr split` against the numpy reference of the official splitter (split_ref.py):
identical boundaries on a synthetic 25-minute recording at 1200 s, 30 s and 7.5 s, on
speech at several short lengths (boundaries inside speech, tails under 0.5 s), and at
exactly the limit (not split) and one sample over it (split).
Usage: check_split.py --qasr BIN --data DIR --work DIR
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import longaudio  # noqa: E402
import split_ref  # noqa: E402
from wavio import read_wav_i16, write_wav_i16  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qasr", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    failures = 0

    def check(ok, msg):
        nonlocal failures
        failures += 0 if ok else 1
        print(("ok   " if ok else "FAIL ") + msg)

    long_path = os.path.join(a.work, "long25.wav")
    long_x = longaudio.write(long_path, a.data, 1500.0)
    jfk = read_wav_i16(os.path.join(a.data, "audio", "whisper.cpp_jfk.wav"))
    speech_path = os.path.join(a.work, "speech60.wav")
    speech = np.concatenate([jfk] * 6)[: 60 * 16000]  # back-to-back speech, no silence to cut at
    write_wav_i16(speech_path, speech)
    exact_path = os.path.join(a.work, "exact10.wav")
    write_wav_i16(exact_path, jfk[:160000])
    over_path = os.path.join(a.work, "over10.wav")
    write_wav_i16(over_path, jfk[:160001])
    tail_path = os.path.join(a.work, "tail.wav")  # 10 s + 0.3 s: with 10 s pieces, a short tail is likely
    write_wav_i16(tail_path, jfk[:164800])
    cases = [(long_path, long_x, 1200), (long_path, long_x, 30), (long_path, long_x, 7.5),
             (speech_path, speech, 6), (speech_path, speech, 13.3), (speech_path, speech, 59.99),
             (exact_path, jfk[:160000], 10), (over_path, jfk[:160001], 10), (tail_path, jfk[:164800], 10)]
    for path, x, max_sec in cases:
        tag = f"{os.path.basename(path)} at {max_sec} s"
        r = subprocess.run([a.qasr, "split", path, "--max-seconds", str(max_sec)], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            check(False, f"{tag}: qasr split exited {r.returncode}: {r.stderr.strip()}")
            continue
        got = [tuple(int(v) for v in line.split()) for line in r.stdout.splitlines()]
        want = split_ref.split(x.astype(np.float64) / 32768.0, max_sec)
        check(got == want, f"{tag}: {len(got)} pieces, boundaries identical to the reference"
              + ("" if got == want else f"\n     got  {got[:6]}...\n     want {want[:6]}..."))
    # The limit itself: exactly 10 s is one piece, one sample more is two.
    r = subprocess.run([a.qasr, "split", exact_path, "--max-seconds", "10"], capture_output=True, text=True)
    check(r.stdout.split("\n")[0] == "0 160000" and len(r.stdout.splitlines()) == 1, "exactly 10 s at 10 s: not split")
    r = subprocess.run([a.qasr, "split", over_path, "--max-seconds", "10"], capture_output=True, text=True)
    check(len(r.stdout.splitlines()) == 2, "10 s + 1 sample at 10 s: two pieces")
    os.remove(long_path)
    print(f"{'all split boundaries match' if failures == 0 else f'{failures} check(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
