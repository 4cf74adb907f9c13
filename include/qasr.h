/* qasr — Qwen3-ASR on CPU: the C API of libqasr.
 *
 * Plain C, opaque handles. Every function that can fail returns a qasr_status (QASR_OK = 0)
 * and leaves a one-line message for the calling thread in qasr_last_error(). Handles are
 * checked against the live set: NULL, a freed handle or a handle of the wrong kind is
 * QASR_INVALID_ARGUMENT, never a crash (a pointer to random memory cannot be checked).
 *
 * Thread safety
 *   - A qasr_model is immutable after load: any number of sessions, on any threads, may use
 *     one model at once. Free it when no session is running on it (sessions keep it alive:
 *     qasr_model_free while sessions exist only drops the caller's reference).
 *   - A qasr_session (its run state and its own worker threads) is used by one thread at a
 *     time. Two sessions on two threads transcribe in parallel.
 *   - qasr_session_cancel may be called from any thread, while a call runs on the session.
 *   - qasr_last_error is per thread. Results are owned by the caller until qasr_result_free.
 *
 * Versioning: qasr_version() is the release ("0.1.0"); QASR_ABI_VERSION (the soname's
 * number, libqasr.so.1) changes when a function or struct changes incompatibly. Option
 * structs start with `struct_size` (set by the *_init functions), so new fields can be
 * added at the end without breaking callers built against older headers.
 */
#ifndef QASR_H
#define QASR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define QASR_API __attribute__((visibility("default")))
#else
#define QASR_API
#endif

#define QASR_ABI_VERSION 1

/* Status codes: the engine's error kinds (the CLI's exit code is 2 + the code). */
typedef enum qasr_status {
  QASR_OK = 0,
  QASR_INVALID_ARGUMENT = 1,   /* a bad value, a NULL or freed handle */
  QASR_NOT_FOUND = 2,          /* a file or name that does not exist */
  QASR_INVALID_FORMAT = 3,     /* a corrupt, truncated or mislabelled file */
  QASR_UNSUPPORTED = 4,        /* valid input qasr does not handle (e.g. m4a) */
  QASR_TOO_LARGE = 5,          /* over a limit (audio length, a size from a file) */
  QASR_CANCELLED = 6,          /* stopped: qasr_session_cancel or the text callback */
  QASR_DEADLINE_EXCEEDED = 7,  /* ran past its timeout */
  QASR_UNAVAILABLE = 8,        /* busy or shutting down; retry later */
  QASR_RESOURCE_EXHAUSTED = 9, /* out of memory or address space */
  QASR_IO_ERROR = 10,          /* reading or writing failed */
  QASR_INTERNAL = 11           /* a bug in qasr */
} qasr_status;

QASR_API const char* qasr_version(void);
QASR_API int qasr_abi_version(void);
/* The message of the last failing call on this thread ("" if none). Valid until the next
 * qasr call on this thread. */
QASR_API const char* qasr_last_error(void);
/* "ok", "invalid_argument", ... ("unknown" for other values). */
QASR_API const char* qasr_status_name(int status);

typedef struct qasr_model qasr_model;
typedef struct qasr_session qasr_session;
typedef struct qasr_result qasr_result;

/* ---- models ---- */

typedef struct qasr_load_options {
  size_t struct_size;
  int populate; /* pre-fault the mapped weights at load */
  int mlock;    /* lock the mapped weights in RAM */
} qasr_load_options;
QASR_API void qasr_load_options_init(qasr_load_options* options);

/* A Hugging Face folder, a GGUF file or a chatllm.cpp .bin (ASR), or a Qwen3-ForcedAligner
 * folder or GGUF. Every tensor is validated first; on error nothing stays mapped.
 * `options` may be NULL (defaults). */
QASR_API int qasr_model_load(const char* path, const qasr_load_options* options, qasr_model** out);
QASR_API void qasr_model_free(qasr_model* model); /* NULL is fine */

typedef struct qasr_model_info {
  size_t struct_size;
  const char* kind;      /* "asr" or "forced-aligner" (static strings) */
  const char* format;    /* "hf-safetensors", "gguf", "chatllm-bin" */
  uint64_t mapped_bytes; /* the mapped files */
  uint64_t owned_bytes;  /* anonymous copies (norms, tables, tokenizer) */
  int random_weights;    /* 1 for `qasr synth` models: outputs are meaningless */
  int audio_layers, text_layers, text_hidden, vocab_size;
  int classify_num; /* forced aligner: timestamp classes (0 for ASR) */
} qasr_model_info;
QASR_API void qasr_model_info_init(qasr_model_info* info);
QASR_API int qasr_model_info_get(const qasr_model* model, qasr_model_info* out);

/* ---- sessions ---- */

typedef struct qasr_session_options {
  size_t struct_size;
  int threads;              /* worker threads of this session; 0: $QASR_THREADS, else all cores */
  double max_piece_seconds; /* the longest piece it runs in one pass (default 1200); longer audio is split */
  int max_new_tokens;       /* per piece (default 4096) */
  int kv_f16;               /* 1 (default): f16 KV cache; 0: f32 */
} qasr_session_options;
QASR_API void qasr_session_options_init(qasr_session_options* options);

/* A session on an ASR model: its run state sized once (address space; only what a request
 * touches becomes resident). Holds a reference to the model. `options` may be NULL. */
QASR_API int qasr_session_create(qasr_model* model, const qasr_session_options* options, qasr_session** out);
QASR_API void qasr_session_free(qasr_session* session); /* NULL is fine */
/* Stops the call running on `session` at its next step (QASR_CANCELLED). Any thread. */
QASR_API int qasr_session_cancel(qasr_session* session);

/* ---- transcription ---- */

/* Called with text pieces as they form whole UTF-8 characters (not NUL-terminated; `len`
 * bytes). Return 0 to stop (the call then fails with QASR_CANCELLED), non-zero to go on. */
typedef int (*qasr_text_callback)(const char* piece, size_t len, void* user_data);

typedef enum qasr_timestamps {
  QASR_TIMESTAMPS_NONE = 0,
  QASR_TIMESTAMPS_SEGMENT = 1,
  QASR_TIMESTAMPS_WORD = 2
} qasr_timestamps;

typedef struct qasr_transcribe_options {
  size_t struct_size;
  const char* language; /* name ("English") or ISO code ("en"); NULL or "": detect */
  const char* context;  /* system-turn text (hotwords, background); plain text; may be NULL */
  int max_new_tokens;   /* per piece; 0: the session's limit */
  float temperature;    /* 0: greedy; (0, 1]: sampled with `seed` */
  uint64_t seed;
  double max_segment_seconds; /* split longer audio (official splitter); 0: the session's piece length */
  int timestamps;             /* qasr_timestamps; WORD needs `aligner` */
  qasr_model* aligner;        /* a loaded forced aligner, or NULL */
  double timeout_seconds;     /* 0: none */
  qasr_text_callback on_text; /* may be NULL */
  void* user_data;
  double max_audio_seconds; /* refuse longer input (from the header when it says); 0: 6 h */
} qasr_transcribe_options;
QASR_API void qasr_transcribe_options_init(qasr_transcribe_options* options);

/* Transcribe an audio file (WAV, FLAC, Ogg Vorbis/Opus, MP3 ...), an encoded file held in
 * memory (`name` is for messages only), or mono 16 kHz float samples in [-1, 1] (read in
 * place, not copied; peak safety is applied to a copy only when the peak exceeds 1).
 * Silence is valid input: an empty text. `options` may be NULL. */
QASR_API int qasr_transcribe_file(qasr_session* session, const char* path, const qasr_transcribe_options* options,
                                  qasr_result** out);
QASR_API int qasr_transcribe_memory(qasr_session* session, const void* data, size_t size, const char* name,
                                    const qasr_transcribe_options* options, qasr_result** out);
QASR_API int qasr_transcribe_pcm(qasr_session* session, const float* samples, size_t n_samples,
                                 const qasr_transcribe_options* options, qasr_result** out);

/* ---- results (owned by the caller; strings live as long as the result) ---- */

typedef struct qasr_timings {
  size_t struct_size;
  double audio_ms, mel_ms, encoder_ms, prefill_ms, decode_ms, first_token_ms, align_ms, total_ms;
} qasr_timings;

typedef struct qasr_segment {
  size_t struct_size;
  double start, end; /* seconds */
  const char* text;
  double avg_logprob, compression_ratio, no_speech_prob, temperature;
} qasr_segment;

typedef struct qasr_word {
  size_t struct_size;
  double start, end; /* seconds */
  const char* text;
} qasr_word;

QASR_API const char* qasr_result_text(const qasr_result* result);     /* NULL for a bad handle */
QASR_API const char* qasr_result_language(const qasr_result* result); /* "English", "" when unknown */
QASR_API double qasr_result_duration(const qasr_result* result);      /* seconds of audio */
/* The generated token ids of all pieces: *n_out gets the count; the array lives with the result. */
QASR_API const int32_t* qasr_result_tokens(const qasr_result* result, size_t* n_out);
QASR_API int qasr_result_timings(const qasr_result* result, qasr_timings* out);
QASR_API size_t qasr_result_segment_count(const qasr_result* result);
QASR_API int qasr_result_segment(const qasr_result* result, size_t index, qasr_segment* out);
QASR_API size_t qasr_result_word_count(const qasr_result* result);
QASR_API int qasr_result_word(const qasr_result* result, size_t index, qasr_word* out);
/* The document in "text", "json", "verbose_json", "srt" or "vtt" (the CLI's and server's
 * writers). *out is malloc'd; free it with qasr_string_free. */
QASR_API int qasr_result_render(const qasr_result* result, const char* format, char** out);
QASR_API void qasr_string_free(char* s);
QASR_API void qasr_result_free(qasr_result* result); /* NULL is fine */

/* ---- memory ---- */

typedef struct qasr_memory {
  size_t struct_size;
  int64_t rss, rss_anon, rss_file, swap, peak_rss; /* this process, from /proc/self/status */
  int64_t heap_in_use, heap_free;                  /* glibc's view (mallinfo2) */
  int64_t models, sessions;                        /* live handles */
  int64_t model_mapped_bytes, model_owned_bytes;   /* what the live models hold */
  int64_t session_reserved_bytes, session_resident_bytes;
} qasr_memory;
QASR_API int qasr_memory_get(qasr_memory* out);
/* malloc_trim(0): give freed heap memory back to the OS. */
QASR_API void qasr_heap_trim(void);

#ifdef __cplusplus
}
#endif

#endif /* QASR_H */
