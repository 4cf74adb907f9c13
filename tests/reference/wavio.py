"""16 kHz mono int16 WAV helpers shared by the golden checks (stdlib `wave` + numpy)."""
import wave

import numpy as np


def read_wav_i16(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def read_wav(path):
    """As float64 in [-1, 1): int16 / 32768, as libsndfile reads it."""
    return read_wav_i16(path).astype(np.float64) / 32768.0


def write_wav_i16(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.asarray(x, dtype="<i2").tobytes())
