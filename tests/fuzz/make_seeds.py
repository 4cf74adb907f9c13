"""Writes small seed inputs for the fuzz harnesses into corpus/<harness>/ (run once;
the outputs are committed). Valid files of each format, kept tiny so mutations stay
fast. Usage: /usr/bin/python3 make_seeds.py"""
import json
import os
import struct
import subprocess
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def out(kind, name, data):
    p = os.path.join(HERE, "corpus", kind)
    os.makedirs(p, exist_ok=True)
    with open(os.path.join(p, name), "wb") as f:
        f.write(data)


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf():
    kv = b""
    kv += gstr("general.architecture") + struct.pack("<I", 8) + gstr("qwen3-asr")
    kv += gstr("general.alignment") + struct.pack("<II", 4, 32)
    kv += gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) + gstr("a") + gstr("b") + gstr("ab")
    kv += gstr("x.ints") + struct.pack("<IIQ", 9, 5, 2) + struct.pack("<ii", 7, -1)
    kv += gstr("x.f") + struct.pack("<If", 6, 0.5)
    infos = gstr("t.q8") + struct.pack("<IQQIQ", 2, 32, 2, 8, 0)
    infos += gstr("t.f32") + struct.pack("<IQIQ", 1, 4, 0, 96)
    head = b"GGUF" + struct.pack("<IQQ", 3, 2, 5) + kv + infos
    head += b"\0" * ((32 - len(head) % 32) % 32)
    data = bytes(68) + bytes(28) + struct.pack("<4f", 1, 2, 3, 4)
    return head + data


def chatllm():
    meta = json.dumps({"config.json": {"thinker_config": {}}, "model_name": "seed"}).encode()
    meta += b"\0" * ((4 - len(meta) % 4) % 4)
    off_config = 20 + len(meta)
    cfg = struct.pack("<ii", 0x1000010F, 1) + struct.pack("<154i", *([0, 3, 32, 1, 1, 64, 128] + [0] * 147))
    off_tok = off_config + 8 + 616
    tok = b""
    for t in (b"a", b"b", b"ab"):
        tok += struct.pack("<i", len(t)) + t + b"\x01"
    tok += struct.pack("<i", -1) + struct.pack("<i", 3) + b"a b" + struct.pack("<i", -1)
    off_ten = off_tok + len(tok)
    rec = struct.pack("<i", 8) + b"lm_head." + struct.pack("<iii", 2, 2, 32) + struct.pack("<i", 8)
    pos = off_ten + len(rec)
    rec += b"\0" * ((16 - pos % 16) % 16) + bytes(68)
    rec2 = struct.pack("<i", 4) + b"norm" + struct.pack("<ii", 1, 4) + struct.pack("<i", 0)
    pos = off_ten + len(rec) + len(rec2)
    rec2 += b"\0" * ((16 - pos % 16) % 16) + struct.pack("<4f", 1, 1, 1, 1)
    head = b"ggmm" + struct.pack("<IIII", 1, off_config, off_tok, off_ten)
    return head + meta + cfg + tok + rec + rec2


def safetensors():
    h = json.dumps({"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]},
                    "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
                    "__metadata__": {"format": "pt"}}).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + bytes(12)


def audio():
    t = np.arange(1600) / 16000.0
    x = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    p = os.path.join(HERE, "corpus", "audio", "sine.wav")
    with wave.open(p, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(x.tobytes())
    for ext, args in (("flac", []), ("mp3", ["-b:a", "32k"]), ("ogg", ["-c:a", "libvorbis"]), ("opus", ["-c:a", "libopus", "-ar", "48000"])):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", p, "-ac", "2", "-ar", "22050", *args,
                        os.path.join(HERE, "corpus", "audio", "sine." + ext)], check=True)


out("gguf", "small.gguf", gguf())
out("chatllm", "small.bin", chatllm())
out("safetensors", "small.safetensors", safetensors())
audio()
