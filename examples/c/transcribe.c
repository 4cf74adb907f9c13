/* A C program on libqasr: load a model, transcribe one file (text streamed as it comes),
 * print the token ids and timings, free everything.
 *
 *   cc transcribe.c $(pkg-config --cflags --libs qasr) -o transcribe
 *   ./transcribe MODEL AUDIO [LANGUAGE]
 */
#include <qasr.h>
#include <stdio.h>

static int print_piece(const char* piece, size_t len, void* user) {
  (void)user;
  fwrite(piece, 1, len, stderr); /* the transcript as it is generated */
  return 1;                      /* go on (0 would stop) */
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL AUDIO [LANGUAGE]\n", argv[0]);
    return 2;
  }
  qasr_model* model = NULL;
  int rc = qasr_model_load(argv[1], NULL, &model);
  if (rc != QASR_OK) {
    fprintf(stderr, "error (%s): %s\n", qasr_status_name(rc), qasr_last_error());
    return 1;
  }
  qasr_session_options so;
  qasr_session_options_init(&so);
  so.threads = 2;
  qasr_session* session = NULL;
  rc = qasr_session_create(model, &so, &session);
  if (rc != QASR_OK) {
    fprintf(stderr, "error (%s): %s\n", qasr_status_name(rc), qasr_last_error());
    qasr_model_free(model);
    return 1;
  }
  qasr_transcribe_options to;
  qasr_transcribe_options_init(&to);
  to.language = argc > 3 ? argv[3] : NULL;
  to.max_new_tokens = 16;
  to.on_text = print_piece;
  qasr_result* result = NULL;
  rc = qasr_transcribe_file(session, argv[2], &to, &result);
  if (rc == QASR_OK) {
    size_t n = 0;
    const int32_t* ids = qasr_result_tokens(result, &n);
    qasr_timings t;
    qasr_result_timings(result, &t);
    fprintf(stderr, "\nlanguage '%s', %zu tokens, %.1f ms\n", qasr_result_language(result), n, t.total_ms);
    printf("text: %s\ntokens:", qasr_result_text(result));
    for (size_t i = 0; i < n; ++i) printf(" %d", ids[i]);
    printf("\n");
    qasr_result_free(result);
  } else {
    fprintf(stderr, "error (%s): %s\n", qasr_status_name(rc), qasr_last_error());
  }
  qasr_session_free(session);
  qasr_model_free(model);
  return rc == QASR_OK ? 0 : 1;
}
