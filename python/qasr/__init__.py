"""qasr: Qwen3-ASR speech recognition on CPU, in Python.

Pure Python over libqasr's C API (ctypes; the GIL is released while the engine runs):

    import qasr
    with qasr.Model("models/qwen3-asr-0.6b-q4_0.bin", threads=4) as m:
        t = m.transcribe("clip.wav", language="en")
        print(t.text, t.timings.total_ms)

A Model maps its weights (never copies them) and sizes its per-request memory once; close() (or
the end of a `with`) gives both back at once, so loading and unloading models in a loop does not
grow the process. Threads may share a Model: each concurrent call runs on a session of its own
(up to `max_sessions`, created on demand and kept for reuse; further callers wait), and the GIL
is released while the engine works, so calls on two threads run in parallel.
"""
from __future__ import annotations

import ctypes
import dataclasses
import os
import threading
from typing import Callable, List, Optional, Union

from . import _native as _n

__all__ = ["Model", "Transcript", "Segment", "Word", "Timings", "ModelInfo", "Memory", "Error", "InvalidArgument",
           "NotFound", "InvalidFormat", "Unsupported", "TooLarge", "Cancelled", "DeadlineExceeded", "Unavailable",
           "ResourceExhausted", "IOError_", "Internal", "memory", "heap_trim", "version", "library_path"]


class Error(Exception):
    """A failed qasr call. `code` is the C API's status name ("not_found", …), `status` its number."""
    code = "error"
    status = -1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(Error, ValueError):
    code, status = "invalid_argument", 1


class NotFound(Error, FileNotFoundError):
    code, status = "not_found", 2


class InvalidFormat(Error, ValueError):
    code, status = "invalid_format", 3


class Unsupported(Error):
    code, status = "unsupported", 4


class TooLarge(Error, ValueError):
    code, status = "too_large", 5


class Cancelled(Error):
    code, status = "cancelled", 6


class DeadlineExceeded(Error, TimeoutError):
    code, status = "deadline_exceeded", 7


class Unavailable(Error):
    code, status = "unavailable", 8


class ResourceExhausted(Error, MemoryError):
    code, status = "resource_exhausted", 9


class IOError_(Error, OSError):
    code, status = "io_error", 10


class Internal(Error):
    code, status = "internal", 11


_BY_STATUS = {c.status: c for c in (InvalidArgument, NotFound, InvalidFormat, Unsupported, TooLarge, Cancelled,
                                    DeadlineExceeded, Unavailable, ResourceExhausted, IOError_, Internal)}


def _check(status: int) -> None:
    if status != 0:
        msg = (_n.qasr_last_error() or b"").decode("utf-8", "replace")
        raise _BY_STATUS.get(status, Error)(msg or _n.qasr_status_name(status).decode())


def _s(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


@dataclasses.dataclass(frozen=True)
class Timings:
    """Milliseconds: reading the audio, mel, encoder, prefill, decode, first token, alignment, total."""
    audio_ms: float
    mel_ms: float
    encoder_ms: float
    prefill_ms: float
    decode_ms: float
    first_token_ms: float
    align_ms: float
    total_ms: float


@dataclasses.dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float


@dataclasses.dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclasses.dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration: float  # seconds of audio
    token_ids: List[int]
    timings: Timings
    segments: List[Segment]
    words: List[Word]
    _rendered: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def render(self, fmt: str) -> str:
        """The transcript as "text", "json", "verbose_json", "srt" or "vtt" (rendered by the engine)."""
        if fmt not in self._rendered:
            raise InvalidArgument(f"unknown or unrendered format {fmt!r}; formats: {sorted(self._rendered)}")
        return self._rendered[fmt]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    kind: str  # "asr" or "forced-aligner"
    format: str  # "hf-safetensors", "gguf", "chatllm-bin"
    mapped_bytes: int
    owned_bytes: int
    random_weights: bool  # a `qasr synth` model: its outputs are meaningless
    audio_layers: int
    text_layers: int
    text_hidden: int
    vocab_size: int
    classify_num: int


@dataclasses.dataclass(frozen=True)
class Memory:
    """This process (from /proc/self/status, bytes) and what qasr holds."""
    rss: int
    rss_anon: int
    rss_file: int
    swap: int
    peak_rss: int
    heap_in_use: int
    heap_free: int
    models: int
    sessions: int
    model_mapped_bytes: int
    model_owned_bytes: int
    session_reserved_bytes: int
    session_resident_bytes: int


def version() -> str:
    return _s(_n.qasr_version())


library_path = _n.library_path
_FORMATS = ("text", "json", "verbose_json", "srt", "vtt")


def memory() -> Memory:
    m = _n.Memory()
    m.struct_size = ctypes.sizeof(m)
    _check(_n.qasr_memory_get(ctypes.byref(m)))
    return Memory(*(getattr(m, f) for f, _ in _n.Memory._fields_[1:]))


def heap_trim() -> None:
    """Returns glibc's free heap pages to the system (malloc_trim)."""
    _n.qasr_heap_trim()


_TIMESTAMPS = {None: 0, "none": 0, "segment": 1, "word": 2}
Audio = Union[str, os.PathLike, bytes, bytearray, memoryview, "numpy.ndarray"]  # noqa: F821


class Model:
    """A loaded model: Qwen3-ASR (transcribe) or Qwen3-ForcedAligner (pass it as `aligner=`)."""

    def __init__(self, path: Union[str, os.PathLike], *, threads: Optional[int] = None,
                 max_piece_seconds: float = 1200.0, max_new_tokens: int = 4096, kv_cache: str = "f16",
                 populate: bool = False, mlock: bool = False, max_sessions: int = 4):
        if kv_cache not in ("f16", "f32"):
            raise InvalidArgument("kv_cache: 'f16' or 'f32'")
        if max_sessions < 1:
            raise InvalidArgument("max_sessions must be ≥ 1")
        self._cond = threading.Condition()
        self._idle: list = []  # sessions not running a call
        self._busy: set = set()  # sessions running one (their handles' values)
        self._max_sessions = int(max_sessions)
        self._model = None
        lo = _n.LoadOptions()
        _n.qasr_load_options_init(ctypes.byref(lo))
        lo.populate, lo.mlock = int(populate), int(mlock)
        handle = ctypes.c_void_p()
        _check(_n.qasr_model_load(os.fsencode(path), ctypes.byref(lo), ctypes.byref(handle)))
        self._model = handle
        self.path = os.fspath(path)
        self.info = self._info()
        self._so = _n.SessionOptions()
        _n.qasr_session_options_init(ctypes.byref(self._so))
        self._so.threads = int(threads or 0)
        self._so.max_piece_seconds = float(max_piece_seconds)
        self._so.max_new_tokens = int(max_new_tokens)
        self._so.kv_f16 = int(kv_cache == "f16")
        if self.info.kind == "asr":
            try:  # the first session now, so a bad option fails here and not at the first call
                self._idle.append(self._new_session())
            except BaseException:
                self.close()
                raise

    def _new_session(self) -> ctypes.c_void_p:
        s = ctypes.c_void_p()
        _check(_n.qasr_session_create(self._model, ctypes.byref(self._so), ctypes.byref(s)))
        return s

    def _acquire(self) -> ctypes.c_void_p:
        with self._cond:
            while True:
                if self._model is None:
                    raise InvalidArgument("the model is closed")
                if self._idle:
                    s = self._idle.pop()
                    break
                if len(self._busy) < self._max_sessions:
                    s = self._new_session()
                    break
                self._cond.wait()
            self._busy.add(s.value)
            return s

    def _release(self, s: ctypes.c_void_p) -> None:
        with self._cond:
            self._busy.discard(s.value)
            if self._model is None:
                _n.qasr_session_free(s)
            else:
                self._idle.append(s)
            self._cond.notify_all()

    def _info(self) -> ModelInfo:
        i = _n.ModelInfo()
        _n.qasr_model_info_init(ctypes.byref(i))
        _check(_n.qasr_model_info_get(self._model, ctypes.byref(i)))
        return ModelInfo(_s(i.kind), _s(i.format), i.mapped_bytes, i.owned_bytes, bool(i.random_weights),
                         i.audio_layers, i.text_layers, i.text_hidden, i.vocab_size, i.classify_num)

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._model is None

    def close(self) -> None:
        """Frees the sessions and unmaps the weights (waits for running calls to end)."""
        cond = getattr(self, "_cond", None)
        if cond is None:
            return
        with cond:
            while self._busy:
                cond.wait()
            for s in self._idle:
                _n.qasr_session_free(s)
            self._idle = []
            if self._model is not None:
                _n.qasr_model_free(self._model)
                self._model = None
            cond.notify_all()

    def cancel(self) -> None:
        """Stops every call running on this model (each raises Cancelled). Any thread."""
        with self._cond:
            for v in list(self._busy):
                _n.qasr_session_cancel(ctypes.c_void_p(v))

    def transcribe(self, audio: Audio, *, language: Optional[str] = None, context: Optional[str] = None,
                   max_new_tokens: int = 0, temperature: float = 0.0, seed: int = 0,
                   timestamps: Optional[str] = None, aligner: Optional["Model"] = None,
                   max_segment_seconds: float = 0.0, timeout: Optional[float] = None,
                   max_audio_seconds: float = 0.0, on_text: Optional[Callable[[str], Optional[bool]]] = None,
                   formats: tuple = ()) -> Transcript:
        """Transcribes `audio`: a file path, the bytes of a file (WAV, FLAC, OGG, MP3), or a 1-D float32 numpy
        array of 16 kHz mono samples (read in place, not copied).

        on_text(piece) receives the text as it is decoded; returning False stops the call (Cancelled); an
        exception it raises stops the call and is raised here. timestamps="word" needs aligner=a forced
        aligner Model. formats=("srt", …) renders those outputs now (Transcript.render)."""
        if timestamps not in _TIMESTAMPS:
            raise InvalidArgument("timestamps: None, 'segment' or 'word'")
        if aligner is not None and (not isinstance(aligner, Model) or aligner.closed):
            raise InvalidArgument("aligner: an open qasr.Model of a forced aligner")
        for f in formats:
            if f not in _FORMATS:
                raise InvalidArgument(f"format {f!r}: one of {', '.join(_FORMATS)}")
        o = _n.TranscribeOptions()
        _n.qasr_transcribe_options_init(ctypes.byref(o))
        keep = []  # what the C call points into, alive until it returns
        if language:
            o.language = language.encode()
        if context:
            o.context = context.encode()
        o.max_new_tokens, o.temperature, o.seed = int(max_new_tokens), float(temperature), int(seed)
        o.max_segment_seconds = float(max_segment_seconds)
        o.timestamps = _TIMESTAMPS[timestamps]
        o.timeout_seconds = float(timeout or 0.0)
        o.max_audio_seconds = float(max_audio_seconds)
        raised: List[BaseException] = []
        if on_text is not None:
            def trampoline(data, size, _user):
                try:
                    return 0 if on_text(ctypes.string_at(data, size).decode("utf-8", "replace")) is False else 1
                except BaseException as e:  # noqa: B902 - carried across the C frames, raised below
                    raised.append(e)
                    return 0
            o.on_text = _n.TEXT_CALLBACK(trampoline)
            keep.append(o.on_text)
        if self._model is not None and self.info.kind != "asr":
            raise InvalidArgument(f"{self.path} is a {self.info.kind} model; it cannot transcribe "
                                  "(pass it as aligner= to a transcription model)")
        session = self._acquire()
        try:
            if aligner is not None:
                o.aligner = aligner._model
            result = ctypes.c_void_p()
            status = self._call(session, audio, o, result, keep)
            try:
                if raised:
                    raise raised[0]
                _check(status)
                return self._read(result, formats)
            finally:
                _n.qasr_result_free(result)
        finally:
            self._release(session)

    @staticmethod
    def _call(s, audio, o, result, keep) -> int:
        if isinstance(audio, (str, os.PathLike)):
            return _n.qasr_transcribe_file(s, os.fsencode(audio), ctypes.byref(o), ctypes.byref(result))
        if isinstance(audio, (bytes, bytearray, memoryview)):
            buf = bytes(audio) if not isinstance(audio, bytes) else audio
            keep.append(buf)
            return _n.qasr_transcribe_memory(s, ctypes.c_char_p(buf), len(buf), b"memory", ctypes.byref(o),
                                             ctypes.byref(result))
        if type(audio).__module__ == "numpy" and hasattr(audio, "ctypes"):
            import numpy as np
            if audio.ndim != 1:
                raise InvalidArgument(f"samples: a 1-D array of 16 kHz mono float32, not shape {audio.shape}")
            a = np.ascontiguousarray(audio, dtype=np.float32)  # no copy when it already is
            keep.append(a)
            return _n.qasr_transcribe_pcm(s, a.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), a.size,
                                          ctypes.byref(o), ctypes.byref(result))
        raise InvalidArgument(f"audio: a path, bytes or a float32 numpy array, not {type(audio).__name__}")

    @staticmethod
    def _read(r, formats) -> Transcript:
        n = ctypes.c_size_t()
        p = _n.qasr_result_tokens(r, ctypes.byref(n))
        tokens = [p[i] for i in range(n.value)] if p else []
        t = _n.Timings()
        t.struct_size = ctypes.sizeof(t)
        _check(_n.qasr_result_timings(r, ctypes.byref(t)))
        segs = []
        for i in range(_n.qasr_result_segment_count(r)):
            s = _n.Segment()
            s.struct_size = ctypes.sizeof(s)
            _check(_n.qasr_result_segment(r, i, ctypes.byref(s)))
            segs.append(Segment(s.start, s.end, _s(s.text), s.avg_logprob, s.compression_ratio, s.no_speech_prob,
                                s.temperature))
        words = []
        for i in range(_n.qasr_result_word_count(r)):
            w = _n.Word()
            w.struct_size = ctypes.sizeof(w)
            _check(_n.qasr_result_word(r, i, ctypes.byref(w)))
            words.append(Word(w.start, w.end, _s(w.text)))
        rendered = {}
        for f in formats:
            out = ctypes.c_void_p()
            _check(_n.qasr_result_render(r, f.encode(), ctypes.byref(out)))
            try:
                rendered[f] = ctypes.string_at(out).decode("utf-8", "replace")
            finally:
                _n.qasr_string_free(out)
        return Transcript(_s(_n.qasr_result_text(r)), _s(_n.qasr_result_language(r)), _n.qasr_result_duration(r),
                          tokens, Timings(*(getattr(t, f) for f, _ in _n.Timings._fields_[1:])), segs, words,
                          rendered)
