"""Independent numpy reference of the Qwen3-ASR log-mel (spec §2.2), float64.

Written from the spec, in the librosa/HF formulation (np.fft.rfft, librosa-style
ramp filterbank), deliberately not mirroring the C++ code (DFT-as-GEMM).
"""
import numpy as np


def slaney_hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mels)


def slaney_mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr=16000, n_fft=400, n_mels=128, fmin=0.0, fmax=8000.0):
    """(n_mels, 1 + n_fft//2) like librosa.filters.mel(htk=False, norm='slaney')."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_pts = np.linspace(slaney_hz_to_mel(fmin), slaney_hz_to_mel(fmax), n_mels + 2)
    mel_f = slaney_mel_to_hz(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


def power_frames(x, n_fft=400, hop=160):
    """Power spectrogram of every centred STFT frame, (n_frames, bins), last frame kept."""
    x = np.asarray(x, dtype=np.float64)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    xp = np.pad(x, n_fft // 2, mode="reflect")
    n_frames = 1 + len(x) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(xp[idx] * win, axis=1)
    return spec.real ** 2 + spec.imag ** 2


def log_mel(x, drop_last_first=True):
    """(128, T) float32, T = len(x)//160. drop_last_first=False reproduces pitfall P7."""
    p = power_frames(x)
    if drop_last_first:
        p = p[:-1]
    logm = np.log10(np.maximum(p @ mel_filters().T, 1e-10))
    logm = np.maximum(logm, logm.max() - 8.0)
    if not drop_last_first:
        logm = logm[:-1]
    return ((logm + 4.0) / 4.0).T.astype(np.float32)
