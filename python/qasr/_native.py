"""ctypes declarations of libqasr's C API (include/qasr.h) and how the library is found:
$QASR_LIBRARY, else the copy installed inside this package, else the system's (ldconfig)."""
import ctypes
import ctypes.util
import os

c_int, c_size_t, c_double, c_float, c_char_p, c_void_p = (ctypes.c_int, ctypes.c_size_t, ctypes.c_double,
                                                          ctypes.c_float, ctypes.c_char_p, ctypes.c_void_p)
c_int32_p = ctypes.POINTER(ctypes.c_int32)


class LoadOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("populate", c_int), ("mlock", c_int)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("kind", c_char_p), ("format", c_char_p), ("mapped_bytes", ctypes.c_uint64),
                ("owned_bytes", ctypes.c_uint64), ("random_weights", c_int), ("audio_layers", c_int),
                ("text_layers", c_int), ("text_hidden", c_int), ("vocab_size", c_int), ("classify_num", c_int)]


class SessionOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("threads", c_int), ("max_piece_seconds", c_double),
                ("max_new_tokens", c_int), ("kv_f16", c_int)]


TEXT_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)


class TranscribeOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("language", c_char_p), ("context", c_char_p), ("max_new_tokens", c_int),
                ("temperature", c_float), ("seed", ctypes.c_uint64), ("max_segment_seconds", c_double),
                ("timestamps", c_int), ("aligner", c_void_p), ("timeout_seconds", c_double),
                ("on_text", TEXT_CALLBACK), ("user_data", c_void_p), ("max_audio_seconds", c_double)]


class Timings(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t)] + [(n, c_double) for n in (
        "audio_ms", "mel_ms", "encoder_ms", "prefill_ms", "decode_ms", "first_token_ms", "align_ms", "total_ms")]


class Segment(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("start", c_double), ("end", c_double), ("text", c_char_p),
                ("avg_logprob", c_double), ("compression_ratio", c_double), ("no_speech_prob", c_double),
                ("temperature", c_double)]


class Word(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("start", c_double), ("end", c_double), ("text", c_char_p)]


class Memory(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t)] + [(n, ctypes.c_int64) for n in (
        "rss", "rss_anon", "rss_file", "swap", "peak_rss", "heap_in_use", "heap_free", "models", "sessions",
        "model_mapped_bytes", "model_owned_bytes", "session_reserved_bytes", "session_resident_bytes")]


def _candidates():
    env = os.environ.get("QASR_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libqasr.so.1", "libqasr.so"):
        p = os.path.join(here, name)
        if os.path.exists(p):
            yield p
    found = ctypes.util.find_library("qasr")
    if found:
        yield found
    yield "libqasr.so.1"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path  # CDLL: the GIL is released during every call
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("qasr: cannot load libqasr (set QASR_LIBRARY to build/libqasr.so.1, or install the package "
                      "from a tree with a build): " + "; ".join(errors))


lib, library_path = _load()


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = ctypes.POINTER
qasr_version = _fn("qasr_version", c_char_p)
qasr_abi_version = _fn("qasr_abi_version", c_int)
qasr_last_error = _fn("qasr_last_error", c_char_p)
qasr_status_name = _fn("qasr_status_name", c_char_p, c_int)
qasr_load_options_init = _fn("qasr_load_options_init", None, P(LoadOptions))
qasr_model_load = _fn("qasr_model_load", c_int, c_char_p, P(LoadOptions), P(c_void_p))
qasr_model_free = _fn("qasr_model_free", None, c_void_p)
qasr_model_info_init = _fn("qasr_model_info_init", None, P(ModelInfo))
qasr_model_info_get = _fn("qasr_model_info_get", c_int, c_void_p, P(ModelInfo))
qasr_session_options_init = _fn("qasr_session_options_init", None, P(SessionOptions))
qasr_session_create = _fn("qasr_session_create", c_int, c_void_p, P(SessionOptions), P(c_void_p))
qasr_session_free = _fn("qasr_session_free", None, c_void_p)
qasr_session_cancel = _fn("qasr_session_cancel", c_int, c_void_p)
qasr_transcribe_options_init = _fn("qasr_transcribe_options_init", None, P(TranscribeOptions))
qasr_transcribe_file = _fn("qasr_transcribe_file", c_int, c_void_p, c_char_p, P(TranscribeOptions), P(c_void_p))
qasr_transcribe_memory = _fn("qasr_transcribe_memory", c_int, c_void_p, c_void_p, c_size_t, c_char_p,
                             P(TranscribeOptions), P(c_void_p))
qasr_transcribe_pcm = _fn("qasr_transcribe_pcm", c_int, c_void_p, P(c_float), c_size_t, P(TranscribeOptions),
                          P(c_void_p))
qasr_result_text = _fn("qasr_result_text", c_char_p, c_void_p)
qasr_result_language = _fn("qasr_result_language", c_char_p, c_void_p)
qasr_result_duration = _fn("qasr_result_duration", c_double, c_void_p)
qasr_result_tokens = _fn("qasr_result_tokens", c_int32_p, c_void_p, P(c_size_t))
qasr_result_timings = _fn("qasr_result_timings", c_int, c_void_p, P(Timings))
qasr_result_segment_count = _fn("qasr_result_segment_count", c_size_t, c_void_p)
qasr_result_segment = _fn("qasr_result_segment", c_int, c_void_p, c_size_t, P(Segment))
qasr_result_word_count = _fn("qasr_result_word_count", c_size_t, c_void_p)
qasr_result_word = _fn("qasr_result_word", c_int, c_void_p, c_size_t, P(Word))
qasr_result_render = _fn("qasr_result_render", c_int, c_void_p, c_char_p, P(c_void_p))
qasr_string_free = _fn("qasr_string_free", None, c_void_p)
qasr_result_free = _fn("qasr_result_free", None, c_void_p)
qasr_memory_get = _fn("qasr_memory_get", c_int, P(Memory))
qasr_heap_trim = _fn("qasr_heap_trim", None)
