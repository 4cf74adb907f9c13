/* The C API from C: results through the three inputs agree, every error path returns a
 * code and a message (NULL, freed and wrong-kind handles included), the text callback
 * streams and stops, cancellation, memory figures, and load/transcribe/free cycles (run
 * under AddressSanitizer + LeakSanitizer in the sanitizer build: no leak at exit).
 *
 *   capi_test ASR_MODEL ALIGNER_MODEL AUDIO_WAV CORRUPT_FILE WORK_DIR
 * Prints "tokens: ..." of the file transcription for the caller to compare with the CLI.
 */
#include <qasr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...) \
  do {                   \
    if (cond) {          \
      printf("ok   ");   \
    } else {             \
      printf("FAIL ");   \
      ++failures;        \
    }                    \
    printf(__VA_ARGS__); \
    printf("\n");        \
  } while (0)

static unsigned char* read_all(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* p = malloc((size_t)len);
  *n = fread(p, 1, (size_t)len, f);
  fclose(f);
  return p;
}

static int same_tokens(const qasr_result* a, const qasr_result* b) {
  size_t na = 0, nb = 0;
  const int32_t* x = qasr_result_tokens(a, &na);
  const int32_t* y = qasr_result_tokens(b, &nb);
  return na == nb && na > 0 && memcmp(x, y, na * sizeof *x) == 0;
}

struct stream_state {
  char text[4096];
  size_t len;
  int calls, stop_after;
};
static int on_text(const char* piece, size_t len, void* user) {
  struct stream_state* s = user;
  if (s->len + len < sizeof s->text) {
    memcpy(s->text + s->len, piece, len);
    s->len += len;
    s->text[s->len] = '\0';
  }
  ++s->calls;
  return s->stop_after <= 0 || s->calls < s->stop_after;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: capi_test ASR ALIGNER AUDIO CORRUPT WORK\n");
    return 2;
  }
  const char *asr = argv[1], *aligner_path = argv[2], *wav = argv[3], *corrupt = argv[4];
  CHECK(qasr_abi_version() == QASR_ABI_VERSION && strlen(qasr_version()) > 0, "version %s, ABI %d", qasr_version(),
        qasr_abi_version());

  /* ---- errors before anything is loaded ---- */
  qasr_model* m = NULL;
  int rc = qasr_model_load("/nonexistent/model", NULL, &m);
  CHECK(rc == QASR_NOT_FOUND && m == NULL && strlen(qasr_last_error()) > 0, "missing model: %s: %s",
        qasr_status_name(rc), qasr_last_error());
  rc = qasr_model_load(corrupt, NULL, &m);
  CHECK(rc == QASR_INVALID_FORMAT && m == NULL, "corrupt model: %s: %s", qasr_status_name(rc), qasr_last_error());
  rc = qasr_model_load(NULL, NULL, &m);
  CHECK(rc == QASR_INVALID_ARGUMENT, "NULL path: %s", qasr_last_error());
  rc = qasr_model_load(asr, NULL, NULL);
  CHECK(rc == QASR_INVALID_ARGUMENT, "NULL out: %s", qasr_last_error());
  qasr_session* s = NULL;
  rc = qasr_session_create(NULL, NULL, &s);
  CHECK(rc == QASR_INVALID_ARGUMENT && s == NULL, "session on a NULL model: %s", qasr_last_error());
  qasr_result* r = NULL;
  rc = qasr_transcribe_file(NULL, wav, NULL, &r);
  CHECK(rc == QASR_INVALID_ARGUMENT && r == NULL, "transcribe on a NULL session: %s", qasr_last_error());
  CHECK(qasr_result_text(NULL) == NULL && qasr_result_segment_count(NULL) == 0, "a NULL result reads as nothing");
  qasr_model_free(NULL);
  qasr_session_free(NULL);
  qasr_result_free(NULL);

  /* ---- load, info ---- */
  rc = qasr_model_load(asr, NULL, &m);
  CHECK(rc == QASR_OK && m != NULL, "load %s: %s", asr, rc ? qasr_last_error() : "ok");
  if (rc != QASR_OK) return 1;
  qasr_model_info info;
  qasr_model_info_init(&info);
  rc = qasr_model_info_get(m, &info);
  CHECK(rc == QASR_OK && strcmp(info.kind, "asr") == 0 && info.mapped_bytes > 0 && info.random_weights == 1,
        "info: kind %s, format %s, %llu mapped bytes, random weights %d", info.kind, info.format,
        (unsigned long long)info.mapped_bytes, info.random_weights);
  qasr_model* al = NULL;
  rc = qasr_model_load(aligner_path, NULL, &al);
  CHECK(rc == QASR_OK, "load the aligner: %s", rc ? qasr_last_error() : "ok");
  rc = qasr_session_create(al, NULL, &s);
  CHECK(rc == QASR_INVALID_ARGUMENT && s == NULL, "a session on the aligner is refused: %s", qasr_last_error());
  qasr_session_options so;
  qasr_session_options_init(&so);
  so.threads = 2;
  so.max_piece_seconds = 5;
  rc = qasr_session_create(m, &so, &s);
  CHECK(rc == QASR_INVALID_ARGUMENT, "max_piece_seconds 5 is refused: %s", qasr_last_error());
  so.max_piece_seconds = 1200;
  rc = qasr_session_create(m, &so, &s);
  CHECK(rc == QASR_OK && s != NULL, "session created");

  /* ---- the three inputs agree ---- */
  qasr_transcribe_options to;
  qasr_transcribe_options_init(&to);
  to.max_new_tokens = 16;
  qasr_result *rf = NULL, *rm = NULL, *rp = NULL;
  rc = qasr_transcribe_file(s, wav, &to, &rf);
  CHECK(rc == QASR_OK, "transcribe a file: %s", rc ? qasr_last_error() : "ok");
  size_t nbytes = 0;
  unsigned char* bytes = read_all(wav, &nbytes);
  rc = qasr_transcribe_memory(s, bytes, nbytes, "clip.wav", &to, &rm);
  CHECK(rc == QASR_OK && rf && rm && same_tokens(rf, rm), "an encoded file in memory: the same tokens");
  /* 16-bit PCM WAV: the samples of its "data" chunk as floats */
  size_t off = 12, ns = 0;
  while (off + 8 <= nbytes) {
    const size_t len = bytes[off + 4] | (bytes[off + 5] << 8) | (bytes[off + 6] << 16) | ((size_t)bytes[off + 7] << 24);
    if (memcmp(bytes + off, "data", 4) == 0) {
      off += 8;
      ns = (len < nbytes - off ? len : nbytes - off) / 2;
      break;
    }
    off += 8 + len + (len & 1);
  }
  float* pcm = malloc((ns ? ns : 1) * sizeof *pcm);
  for (size_t i = 0; i < ns; ++i)
    pcm[i] = (float)(int16_t)(bytes[off + 2 * i] | (bytes[off + 2 * i + 1] << 8)) / 32768.0f;
  rc = qasr_transcribe_pcm(s, pcm, ns, &to, &rp);
  CHECK(rc == QASR_OK && rp && same_tokens(rf, rp), "16 kHz float samples: the same tokens");
  if (rf) {
    size_t n = 0;
    const int32_t* ids = qasr_result_tokens(rf, &n);
    printf("tokens:");
    for (size_t i = 0; i < n; ++i) printf(" %d", ids[i]);
    printf("\n");
    qasr_timings t;
    qasr_result_timings(rf, &t);
    CHECK(t.total_ms > 0 && t.encoder_ms > 0 && qasr_result_duration(rf) > 10.9, "timings: total %.1f ms, %.2f s",
          t.total_ms, qasr_result_duration(rf));
    CHECK(qasr_result_segment_count(rf) == 1, "one segment");
    qasr_segment seg;
    rc = qasr_result_segment(rf, 0, &seg);
    CHECK(rc == QASR_OK && seg.end > 10.9 && seg.text != NULL, "segment 0: %.2f–%.2f", seg.start, seg.end);
    rc = qasr_result_segment(rf, 5, &seg);
    CHECK(rc == QASR_INVALID_ARGUMENT, "segment 5 of 1: %s", qasr_last_error());
    char* doc = NULL;
    rc = qasr_result_render(rf, "srt", &doc);
    CHECK(rc == QASR_OK && doc && strstr(doc, "-->") != NULL, "rendered as SRT");
    qasr_string_free(doc);
    rc = qasr_result_render(rf, "docx", &doc);
    CHECK(rc == QASR_INVALID_ARGUMENT && doc == NULL, "an unknown format: %s", qasr_last_error());
  }
  qasr_result_free(rm);
  qasr_result_free(rp);

  /* ---- bad audio, options ---- */
  r = NULL;
  rc = qasr_transcribe_memory(s, "not audio at all, just bytes", 28, "x.wav", &to, &r);
  CHECK(rc == QASR_INVALID_FORMAT || rc == QASR_UNSUPPORTED, "garbage bytes: %s: %s", qasr_status_name(rc),
        qasr_last_error());
  rc = qasr_transcribe_file(s, "/nonexistent.wav", &to, &r);
  CHECK(rc == QASR_NOT_FOUND, "a missing audio file: %s", qasr_last_error());
  pcm[0] = 0.0f / 0.0f;
  rc = qasr_transcribe_pcm(s, pcm, ns, &to, &r);
  CHECK(rc == QASR_INVALID_FORMAT, "NaN samples: %s", qasr_last_error());
  float zeros[100] = {0};
  rc = qasr_transcribe_pcm(s, zeros, 100, &to, &r);
  CHECK(rc == QASR_OK && strcmp(qasr_result_text(r), "") == 0, "100 samples of silence: an empty transcript");
  qasr_result_free(r);
  rc = qasr_transcribe_pcm(s, NULL, 0, &to, &r);
  CHECK(rc == QASR_OK && strcmp(qasr_result_text(r), "") == 0, "no samples: an empty transcript");
  qasr_result_free(r);
  qasr_transcribe_options bad = to;
  bad.language = "klingon";
  rc = qasr_transcribe_file(s, wav, &bad, &r);
  CHECK(rc == QASR_INVALID_ARGUMENT, "an unknown language: %s", qasr_last_error());
  bad = to;
  bad.timestamps = QASR_TIMESTAMPS_WORD;
  rc = qasr_transcribe_file(s, wav, &bad, &r);
  CHECK(rc == QASR_INVALID_ARGUMENT, "word timestamps without an aligner: %s", qasr_last_error());
  bad.aligner = m;
  rc = qasr_transcribe_file(s, wav, &bad, &r);
  CHECK(rc == QASR_INVALID_ARGUMENT, "an ASR model as the aligner: %s", qasr_last_error());

  /* ---- word times ---- */
  qasr_transcribe_options wt = to;
  wt.aligner = al;
  wt.timestamps = QASR_TIMESTAMPS_WORD;
  wt.language = "en";
  rc = qasr_transcribe_file(s, wav, &wt, &r);
  CHECK(rc == QASR_OK && qasr_result_word_count(r) > 0, "word times with the aligner: %zu words",
        rc == QASR_OK ? qasr_result_word_count(r) : 0);
  if (rc == QASR_OK) {
    qasr_word w;
    CHECK(qasr_result_word(r, 0, &w) == QASR_OK && w.text && w.start <= w.end, "word 0: '%s' %.3f–%.3f", w.text,
          w.start, w.end);
    qasr_result_free(r);
  }

  /* ---- streaming and stop ---- */
  struct stream_state st;
  memset(&st, 0, sizeof st);
  qasr_transcribe_options so2 = to;
  so2.language = "English";
  so2.on_text = on_text;
  so2.user_data = &st;
  rc = qasr_transcribe_file(s, wav, &so2, &r);
  CHECK(rc == QASR_OK && st.calls > 1 && strcmp(st.text, qasr_result_text(r)) == 0,
        "on_text: %d pieces, joined they are the text", st.calls);
  qasr_result_free(r);
  memset(&st, 0, sizeof st);
  st.stop_after = 2;
  r = NULL;
  rc = qasr_transcribe_file(s, wav, &so2, &r);
  CHECK(rc == QASR_CANCELLED && r == NULL && st.calls == 2, "on_text returning 0 stops: %s", qasr_status_name(rc));
  rc = qasr_transcribe_file(s, wav, &to, &r);
  CHECK(rc == QASR_OK && same_tokens(rf, r), "the session works after a stop, with the same tokens");
  qasr_result_free(r);

  /* ---- a handle of the wrong kind ---- */
  qasr_session* s2 = NULL;
  rc = qasr_session_create((qasr_model*)s, NULL, &s2);
  CHECK(rc == QASR_INVALID_ARGUMENT && s2 == NULL, "a session handle as a model: %s", qasr_last_error());
  CHECK(qasr_result_text((const qasr_result*)m) == NULL, "a model handle as a result reads as nothing");

  /* ---- memory, freed handles ---- */
  qasr_memory mem;
  rc = qasr_memory_get(&mem);
  CHECK(rc == QASR_OK && mem.models == 2 && mem.sessions == 1 && mem.rss > 0 && mem.model_mapped_bytes > 0,
        "memory: rss %lld, anon %lld, %lld models, %lld sessions", (long long)mem.rss, (long long)mem.rss_anon,
        (long long)mem.models, (long long)mem.sessions);
  qasr_result* dead = rf;
  qasr_result_free(rf);
  CHECK(qasr_result_text(dead) == NULL, "a freed result reads as nothing");
  qasr_session_free(s);
  rc = qasr_transcribe_file(s, wav, &to, &r);
  CHECK(rc == QASR_INVALID_ARGUMENT, "a freed session: %s", qasr_last_error());
  qasr_session_free(s); /* twice: ignored */
  qasr_model_free(al);

  /* ---- cycles: load → session → transcribe → free, 5 times ---- */
  qasr_model_free(m);
  int cycles_ok = 1;
  for (int i = 0; i < 5; ++i) {
    qasr_model* cm = NULL;
    qasr_session* cs = NULL;
    qasr_result* cr = NULL;
    cycles_ok &= qasr_model_load(asr, NULL, &cm) == QASR_OK;
    cycles_ok &= qasr_session_create(cm, &so, &cs) == QASR_OK;
    cycles_ok &= qasr_transcribe_pcm(cs, pcm + 1, ns - 1, &to, &cr) == QASR_OK;
    qasr_result_free(cr);
    qasr_session_free(cs);
    qasr_model_free(cm);
  }
  CHECK(cycles_ok, "5 load/transcribe/free cycles");
  rc = qasr_memory_get(&mem);
  CHECK(rc == QASR_OK && mem.models == 0 && mem.sessions == 0, "nothing live at the end");
  free(pcm);
  free(bytes);
  printf("%s\n", failures ? "C API checks failed" : "all C API checks passed");
  return failures ? 1 : 0;
}
