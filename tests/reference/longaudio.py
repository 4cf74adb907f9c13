"""Synthetic long recordings for the long-audio checks: the bundled 16 kHz speech clips
(whisper.cpp_jfk.wav, wenet_aishell-BAC009S0724W0121.wav) repeated in a fixed pseudo-random
order (an LCG) with silence gaps of 0.05–3 s, over a little seeded noise (±6 LSB), as
16-bit mono WAV.
"""
import os

import numpy as np

from wavio import read_wav_i16, write_wav_i16

SR = 16000


def clips(data_dir):
    audio = os.path.join(data_dir, "audio")
    return [read_wav_i16(os.path.join(audio, n)) for n in ("whisper.cpp_jfk.wav", "wenet_aishell-BAC009S0724W0121.wav")]


def make(data_dir, seconds, seed=7):
    """int16 samples of exactly `seconds` (rounded to a sample)."""
    n = int(round(seconds * SR))
    cs = clips(data_dir)
    state = seed & 0xFFFFFFFF

    def rnd():
        nonlocal state
        state = (1664525 * state + 1013904223) & 0xFFFFFFFF
        return state

    parts, total = [], 0
    while total < n:
        c = cs[rnd() % len(cs)]
        gap = int(SR * (0.05 + 2.95 * (rnd() % 1000) / 1000.0))
        parts.append(np.zeros(gap, np.int32))
        parts.append(c.astype(np.int32))
        total += gap + len(c)
    x = np.concatenate(parts)[:n]
    # Noise: uniform in [-6, 6] from PCG64 (the files are made and read in the same run).
    noise = np.random.Generator(np.random.PCG64(seed)).integers(-6, 7, n)
    x = x + noise
    return np.clip(x, -32768, 32767).astype(np.int16)


def write(path, data_dir, seconds, seed=7):
    x = make(data_dir, seconds, seed)
    write_wav_i16(path, x)
    return x
