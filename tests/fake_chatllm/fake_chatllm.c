/* A stand-in for chatllm.cpp's libchatllm.so, implementing the C API that
 * `qasr bench switch --engine chatllm` drives (chatllm-format.md §3). It "loads"
 * by touching a buffer sized like a small model, answers a transcription with a
 * few streamed chunks, and leaks FAKE_CHATLLM_LEAK_KB kilobytes (touched, never
 * freed) per successful start, so the benchmark's leak detector can be tested.
 * FAKE_CHATLLM_ABORT_ON_DESTROY=1 mimics upstream's abort on unload (§3.5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*f_chatllm_print)(void* user_data, int print_type, const char* utf8_str);
typedef void (*f_chatllm_end)(void* user_data);

struct chatllm_obj {
  char* params[64];
  int n_params;
  char* model;
  size_t model_bytes;
  f_chatllm_print print;
  f_chatllm_end end;
  void* user;
};

int chatllm_init(void) {
  return 0;
}
void chatllm_append_init_param(const char* p) {
  (void)p;
}

struct chatllm_obj* chatllm_create(void) {
  return (struct chatllm_obj*)calloc(1, sizeof(struct chatllm_obj));
}

void chatllm_append_param(struct chatllm_obj* o, const char* p) {
  if (o->n_params < 64) o->params[o->n_params++] = strdup(p);
}

int chatllm_start(struct chatllm_obj* o, f_chatllm_print print, f_chatllm_end end, void* user) {
  const char* model = NULL;
  for (int i = 0; i + 1 < o->n_params; ++i)
    if (!strcmp(o->params[i], "-m")) model = o->params[i + 1];
  if (!model) return -1;
  FILE* f = fopen(model, "rb");
  if (!f) {
    print(user, 2, "cannot open model");
    return 1;
  }
  fclose(f);
  o->print = print, o->end = end, o->user = user;
  o->model_bytes = 8u << 20; /* 8 MiB of "weights" in anonymous memory, as chatllm reads them */
  o->model = (char*)malloc(o->model_bytes);
  memset(o->model, 1, o->model_bytes);
  const char* kb = getenv("FAKE_CHATLLM_LEAK_KB");
  if (kb && atoi(kb) > 0) {
    size_t n = (size_t)atoi(kb) * 1024;
    char* leak = (char*)malloc(n); /* never freed: the planted leak */
    memset(leak, 2, n);
  }
  print(user, 13, "{\"name\":\"fake\",\"purpose\":\"ASR\"}");
  return 0;
}

int chatllm_user_input(struct chatllm_obj* o, const char* input) {
  if (!o->model) return -2;
  (void)input;
  o->print(o->user, 0, "language Chinese<asr_text>");
  o->print(o->user, 0, "我的電話是");
  o->print(o->user, 0, "0912345678");
  o->end(o->user);
  return 0;
}

void chatllm_restart(struct chatllm_obj* o, const char* sys) {
  (void)o, (void)sys;
}
void chatllm_set_gen_max_tokens(struct chatllm_obj* o, int n) {
  (void)o, (void)n;
}

int chatllm_destroy(struct chatllm_obj* o) {
  const char* ab = getenv("FAKE_CHATLLM_ABORT_ON_DESTROY");
  if (ab && atoi(ab)) abort();
  for (int i = 0; i < o->n_params; ++i) free(o->params[i]);
  free(o->model);
  free(o);
  return 0;
}
