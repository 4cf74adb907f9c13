"""Independent numpy reference of the official long-audio splitter (spec §8.4, official
`split_audio_into_chunks` in qwen_asr/inference/utils.py), written from the spec.

split(x, max_sec) -> list of (start, end) sample indices of the input (end exclusive).
pieces(x, max_sec) -> the same with each piece's float32 samples, zero-padded to 8000
when the audio was split and the piece is shorter.
"""
import numpy as np

SR = 16000
EXPAND = 5 * SR      # the ±5 s search window
BOX = 1600           # 100 ms box filter
MIN_PIECE = 8000     # pieces shorter than 0.5 s are padded to this


def split(x, max_sec):
    x = np.asarray(x, dtype=np.float32)
    n = len(x)
    if n / SR <= max_sec:
        return [(0, n)]
    max_len = int(max_sec * SR)
    out, start = [], 0
    while n - start > max_len:
        cut = start + max_len
        left, right = max(start, cut - EXPAND), min(n, cut + EXPAND)
        seg = np.abs(x[left:right])
        if len(seg) <= BOX:
            boundary = cut
        else:
            sums = np.convolve(seg, np.ones(BOX, dtype=np.float32), mode="valid")
            k = int(np.argmin(sums))
            j = int(np.argmin(seg[k:k + BOX]))
            boundary = left + k + j
        boundary = min(max(boundary, start + 1), n)
        out.append((start, boundary))
        start = boundary
    out.append((start, n))
    return out


def offsets(ranges):
    """offset_sec of each piece: the float64 running sum of (end - start) / 16000."""
    acc, out = 0.0, []
    for s, e in ranges:
        out.append(acc)
        acc += (e - s) / SR
    return out


def pieces(x, max_sec):
    x = np.asarray(x, dtype=np.float32)
    ranges = split(x, max_sec)
    out = []
    for s, e in ranges:
        p = x[s:e]
        if len(ranges) > 1 and len(p) < MIN_PIECE:
            p = np.concatenate([p, np.zeros(MIN_PIECE - len(p), np.float32)])
        out.append(p)
    return ranges, out
