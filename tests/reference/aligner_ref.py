"""Independent numpy reference of Qwen3-ForcedAligner (spec §8.5; official
`Qwen3ForceAlignProcessor` and `Qwen3ForcedAligner.align`), written from the spec:
the text rule, the input ids (with bpe_ref's tokenizer), one causal forward pass of
model_ref's encoder and decoder, the classification head at each <timestamp>, argmax ×
the segment time, fix_timestamp, and round(ms / 1000, 3).
"""
import json
import os
import unicodedata

import numpy as np

import bpe_ref
import mel_ref
import model_ref

AUDIO_START, AUDIO_PAD, AUDIO_END = 151669, 151676, 151670


def _kept(ch):
    if ch == "'":
        return True
    c = unicodedata.category(ch)
    return c.startswith("L") or c.startswith("N")


def _cjk(ch):
    c = ord(ch)
    return (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF or 0x2A700 <= c <= 0x2B73F
            or 0x2B740 <= c <= 0x2B81F or 0x2B820 <= c <= 0x2CEAF or 0xF900 <= c <= 0xFAFF)


def items(text):
    """tokenize_space_lang: str.split(), keep L*/N*/apostrophe, drop empty, CJK per character."""
    out = []
    for seg in text.split():
        cleaned = "".join(ch for ch in seg if _kept(ch))
        if not cleaned:
            continue
        buf = ""
        for ch in cleaned:
            if _cjk(ch):
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(ch)
            else:
                buf += ch
        if buf:
            out.append(buf)
    return out


def fix_timestamp(data):
    """The official repair: one longest non-decreasing subsequence, then runs of outliers."""
    data = list(data)
    n = len(data)
    dp, parent = [1] * n, [-1] * n
    for i in range(1, n):
        for j in range(i):
            if data[j] <= data[i] and dp[j] + 1 > dp[i]:
                dp[i], parent[i] = dp[j] + 1, j
    normal = [False] * n
    idx = dp.index(max(dp)) if n else -1
    while idx != -1:
        normal[idx] = True
        idx = parent[idx]
    res = data[:]
    i = 0
    while i < n:
        if normal[i]:
            i += 1
            continue
        j = i
        while j < n and not normal[j]:
            j += 1
        count = j - i
        left = next((res[k] for k in range(i - 1, -1, -1) if normal[k]), None)
        right = next((res[k] for k in range(j, n) if normal[k]), None)
        if count <= 2:
            for k in range(i, j):
                if left is None:
                    res[k] = right
                elif right is None:
                    res[k] = left
                else:
                    res[k] = left if (k - (i - 1)) <= (j - k) else right
        elif left is not None and right is not None:
            step = (right - left) / (count + 1)
            for k in range(i, j):
                res[k] = left + step * (k - i + 1)
        else:
            for k in range(i, j):
                res[k] = left if left is not None else right
        i = j
    return [int(v) for v in res]


class Aligner:
    def __init__(self, folder):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        assert "forced_aligner" in cfg["thinker_config"]["model_type"], folder
        self.ts_id = int(cfg["timestamp_token_id"])
        self.seg_ms = float(cfg["timestamp_segment_time"])
        self.classes = int(cfg["thinker_config"]["classify_num"])
        self.model = model_ref.Model(folder)
        self.bpe = bpe_ref.Bpe(folder)

    def input_ids(self, n_audio, words):
        ids = [AUDIO_START] + [AUDIO_PAD] * n_audio + [AUDIO_END]
        for w in words:
            ids += self.bpe.encode(w) + [self.ts_id, self.ts_id]
        return ids

    def align(self, x, text):
        """x: float64/float32 samples at 16 kHz. Returns a dict of every intermediate."""
        words = items(text)
        if not words:
            raise ValueError("no alignable item")
        mel = mel_ref.log_mel(x)
        enc = self.model.encode(mel)
        ids = self.input_ids(enc.shape[0], words)
        m, W = self.model, self.model.w
        x_in = W["thinker.model.embed_tokens.weight"][np.array(ids)].copy()
        x_in[1:1 + enc.shape[0]] = enc
        h = m.decoder_step(x_in, 0, [None] * m.t["num_hidden_layers"])
        pos = [i for i, t in enumerate(ids) if t == self.ts_id]
        hn = model_ref.rms_norm(h[pos], W["thinker.model.norm.weight"], m.t["rms_norm_eps"])
        logits = (hn @ W["thinker.lm_head.weight"].T).astype(np.float32)
        classes = logits.argmax(-1)
        raw = (classes.astype(np.float32) * np.float32(self.seg_ms)).astype(np.float32)
        fixed = fix_timestamp([float(v) for v in raw])
        out = [{"text": w, "start": round(fixed[2 * i] / 1000.0, 3), "end": round(fixed[2 * i + 1] / 1000.0, 3)}
               for i, w in enumerate(words)]
        srt = np.sort(logits, -1)
        return {"words": out, "input_ids": ids, "logits": logits, "classes": classes.tolist(),
                "margins": (srt[:, -1] - srt[:, -2]).tolist(), "raw_ms": [int(v) for v in raw], "fixed_ms": fixed}
