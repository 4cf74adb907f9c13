"""A small independent byte-level BPE encoder (GPT-2 / Qwen2 style) for the aligner
reference: NFC, then the Qwen2 pre-tokenizer, then merges by rank over the GPT-2 byte
alphabet. The pre-tokenizer is written for the strings the aligner feeds it (letters,
numbers and the ASCII apostrophe, no spaces), which is all `encode_timestamp` items hold:

  (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\\r\\n\\p{L}\\p{N}]?\\p{L}+ | \\p{N} | ?[^\\s\\p{L}\\p{N}]+

(the whitespace alternatives never match such strings). Python's `re` has no \\p{L}, so
the scan is by hand with unicodedata categories.
"""
import json
import os
import unicodedata


def _bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def _is_number(ch):
    return unicodedata.category(ch).startswith("N")


CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def pretokenize(s):
    out, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch == "'":
            rest = s[i + 1:i + 3].lower()
            hit = next((c for c in CONTRACTIONS if rest.startswith(c)), None)
            if hit is not None:
                out.append(s[i:i + 1 + len(hit)])
                i += 1 + len(hit)
                continue
            if i + 1 < n and _is_letter(s[i + 1]):
                j = i + 1
                while j < n and _is_letter(s[j]):
                    j += 1
                out.append(s[i:j])
                i = j
                continue
            j = i
            while j < n and not (_is_letter(s[j]) or _is_number(s[j]) or s[j].isspace()):
                j += 1
            out.append(s[i:j])
            i = j
        elif _is_letter(ch):
            j = i
            while j < n and _is_letter(s[j]):
                j += 1
            out.append(s[i:j])
            i = j
        elif _is_number(ch):
            out.append(ch)
            i += 1
        else:
            raise ValueError(f"pretokenize: unexpected character {ch!r} (only letters, numbers, apostrophes)")
    return out


class Bpe:
    def __init__(self, folder):
        self.vocab = json.load(open(os.path.join(folder, "vocab.json"), encoding="utf-8"))
        self.ranks = {}
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#version"):
                    continue
                a, b = line.split(" ")
                self.ranks[(a, b)] = len(self.ranks)
        self.b2u = _bytes_to_unicode()

    def _bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for k in range(len(parts) - 1):
                r = self.ranks.get((parts[k], parts[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best is None:
                break
            parts = parts[:best] + [parts[best] + parts[best + 1]] + parts[best + 2:]
        return parts

    def encode(self, text):
        ids = []
        for piece in pretokenize(unicodedata.normalize("NFC", text)):
            mapped = "".join(self.b2u[b] for b in piece.encode("utf-8"))
            ids += [self.vocab[p] for p in self._bpe(mapped)]
        return ids
