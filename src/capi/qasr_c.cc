// The C API (include/qasr.h) over the engine: handles are C++ objects registered in a
// live set (so NULL, freed and wrong-kind handles are refused, not dereferenced); every
// entry point catches everything and turns it into a status code plus a per-thread message.
#include "qasr.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "audio/audio.h"
#include "base/cancel.h"
#include "base/clock.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "pipeline/long_audio.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "pipeline/writers.h"
#include "text/languages.h"

using namespace qasr;

struct qasr_model {
  std::shared_ptr<const Model> model;
};

struct qasr_session {
  std::shared_ptr<const Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Session> session;
  double max_piece_seconds = kMaxAsrInputSeconds;
  int max_new_tokens = 4096;
  CancelToken cancel;
  std::atomic<bool> busy{false};
};

struct qasr_result {
  TranscriptDoc doc;
  std::vector<int32_t> tokens;
  qasr_timings timings{};
};

namespace {

enum class Kind { kModel, kSession, kResult };

// The live handles: a handle is usable only while it is in here.
std::mutex g_mu;
std::unordered_map<const void*, Kind>& live() {
  static auto* m = new std::unordered_map<const void*, Kind>();  // never destroyed: usable at exit
  return *m;
}

void add_live(const void* p, Kind k) {
  std::lock_guard<std::mutex> lk(g_mu);
  live()[p] = k;
}
bool is_live(const void* p, Kind k) {
  if (!p) return false;
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = live().find(p);
  return it != live().end() && it->second == k;
}
bool take_live(const void* p, Kind k) {  // removes it; false if it was not live as `k`
  if (!p) return false;
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = live().find(p);
  if (it == live().end() || it->second != k) return false;
  live().erase(it);
  return true;
}

thread_local std::string t_error;

int set_error(const Status& s) {
  t_error = s.message();
  return static_cast<int>(s.code());
}
int ok() {
  t_error.clear();
  return QASR_OK;
}
int bad(const std::string& m) {
  return set_error(InvalidArgument(m));
}

// Runs `f` (returning a status code), turning exceptions into codes.
template <class F>
int guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return set_error(ResourceExhausted("out of memory"));
  } catch (const std::exception& e) {
    return set_error(Internal(std::string("unexpected exception: ") + e.what()));
  } catch (...) {
    return set_error(Internal("unexpected exception"));
  }
}

const char* const kStatusNames[] = {"ok",          "invalid_argument",   "not_found", "invalid_format",
                                    "unsupported", "too_large",          "cancelled", "deadline_exceeded",
                                    "unavailable", "resource_exhausted", "io_error",  "internal"};

// Clears the session's busy flag on every path out of a call.
struct BusyGuard {
  qasr_session* s;
  ~BusyGuard() { s->busy.store(false); }
};

int transcribe_reader(qasr_session* s, PieceReader& reader, const qasr_transcribe_options* opt, qasr_result** out,
                      double t_start, double audio_ms) {
  DocumentOptions d;
  TranscribeOptions& o = d.transcribe;
  qasr_transcribe_options def;
  qasr_transcribe_options_init(&def);
  const qasr_transcribe_options& a = opt ? *opt : def;
  if (a.language && *a.language) {
    auto l = resolve_language(a.language);
    if (!l) return bad(fmt::format("unknown language '{}'; supported: {}", a.language, supported_languages_list()));
    o.language = *l;
  }
  if (a.context) o.context = a.context;
  if (a.max_new_tokens < 0) return bad("max_new_tokens must be ≥ 0");
  o.max_new_tokens = a.max_new_tokens > 0 ? std::min(a.max_new_tokens, s->max_new_tokens) : s->max_new_tokens;
  if (!(a.temperature >= 0 && a.temperature <= 1)) return bad("temperature must be in [0, 1]");
  o.temperature = a.temperature;
  o.seed = a.seed;
  if (!(a.timeout_seconds >= 0) || !std::isfinite(a.timeout_seconds)) return bad("timeout_seconds must be ≥ 0");
  if (a.timeout_seconds > 0) o.control.deadline_ms = now_ms() + a.timeout_seconds * 1000.0;
  s->cancel.reset();
  o.control.cancel = &s->cancel;
  if (a.timestamps < QASR_TIMESTAMPS_NONE || a.timestamps > QASR_TIMESTAMPS_WORD) return bad("timestamps: 0, 1 or 2");
  d.timestamps = static_cast<TimestampMode>(a.timestamps);
  if (a.aligner) {
    if (!is_live(a.aligner, Kind::kModel)) return bad("aligner: not a live qasr_model");
    if (a.aligner->model->config().kind != ModelKind::kForcedAligner)
      return bad("aligner: the model is a transcription model, not a forced aligner");
    d.aligner = a.aligner->model.get();
    if (d.timestamps == TimestampMode::kNone) d.timestamps = TimestampMode::kWord;
  } else if (d.timestamps == TimestampMode::kWord) {
    return bad("word timestamps need a forced aligner (options.aligner)");
  }
  if (max_piece_seconds(reader) > s->session->limits().max_audio_seconds + 1e-9)
    return bad(fmt::format("pieces of {:.1f} s exceed this session's {:.1f} s (raise max_piece_seconds)",
                           max_piece_seconds(reader), s->session->limits().max_audio_seconds));
  TextCallback cb;
  if (a.on_text) {
    const qasr_text_callback f = a.on_text;
    void* user = a.user_data;
    cb = [f, user](std::string_view piece) { return f(piece.data(), piece.size(), user) != 0; };
  }
  auto r = std::make_unique<qasr_result>();
  double asr_ms = 0;
  auto doc = transcribe_document(*s->session, *s->pool, reader, d, cb, [&](const AudioPiece&, const Transcript& t) {
    const Timings& tm = t.timings;
    r->timings.mel_ms += tm.mel, r->timings.encoder_ms += tm.encoder, r->timings.prefill_ms += tm.prefill;
    r->timings.decode_ms += tm.decode;
    if (r->tokens.empty() && asr_ms == 0) r->timings.first_token_ms = audio_ms + tm.first_token;
    asr_ms += tm.total;
    r->tokens.insert(r->tokens.end(), t.token_ids.begin(), t.token_ids.end());
  });
  s->session->reset();
  if (!doc.ok()) return set_error(doc.status());
  r->doc = std::move(doc).value();
  if (r->doc.language.empty() && !o.language.empty() && !r->doc.segments.empty()) r->doc.language = o.language;
  r->timings.struct_size = sizeof(qasr_timings);
  r->timings.audio_ms = audio_ms;
  r->timings.total_ms = now_ms() - t_start;
  r->timings.align_ms = d.aligner ? std::max(0.0, r->timings.total_ms - audio_ms - asr_ms) : 0.0;
  add_live(r.get(), Kind::kResult);
  *out = r.release();
  return ok();
}

// Common checks of the transcribe_* entry points; on success the session is marked busy.
int begin_transcribe(qasr_session* s, qasr_result** out) {
  if (!out) return bad("out is NULL");
  *out = nullptr;
  if (!is_live(s, Kind::kSession)) return bad("session: not a live qasr_session (NULL or freed)");
  bool expected = false;
  if (!s->busy.compare_exchange_strong(expected, true))
    return set_error(Unavailable("the session is in use by another call (one thread per session at a time)"));
  return QASR_OK;
}

double audio_limit(const qasr_transcribe_options* o) {
  return o && o->struct_size >= sizeof(qasr_transcribe_options) && o->max_audio_seconds > 0 ? o->max_audio_seconds
                                                                                            : 6 * 3600.0;
}

}  // namespace

extern "C" {

const char* qasr_version(void) {
  return QASR_VERSION;
}
int qasr_abi_version(void) {
  return QASR_ABI_VERSION;
}
const char* qasr_last_error(void) {
  return t_error.c_str();
}
const char* qasr_status_name(int status) {
  return status >= 0 && status <= QASR_INTERNAL ? kStatusNames[status] : "unknown";
}

void qasr_load_options_init(qasr_load_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
}

int qasr_model_load(const char* path, const qasr_load_options* options, qasr_model** out) {
  return guarded([&] {
    if (!out) return bad("out is NULL");
    *out = nullptr;
    if (!path) return bad("path is NULL");
    LoadOptions lo;
    if (options) {
      lo.populate = options->populate != 0;
      lo.mlock = options->mlock != 0;
    }
    auto m = Model::load(path, lo);
    if (!m.ok()) return set_error(m.status());
    auto h = std::make_unique<qasr_model>();
    h->model = std::move(m).value();
    add_live(h.get(), Kind::kModel);
    *out = h.release();
    return ok();
  });
}

void qasr_model_free(qasr_model* m) {
  if (take_live(m, Kind::kModel)) {
    delete m;
    trim_heap();  // the unload gives its memory back now, not at some later malloc
  }
}

void qasr_model_info_init(qasr_model_info* i) {
  if (!i) return;
  std::memset(i, 0, sizeof *i);
  i->struct_size = sizeof *i;
}

int qasr_model_info_get(const qasr_model* m, qasr_model_info* out) {
  return guarded([&] {
    if (!out) return bad("out is NULL");
    if (!is_live(m, Kind::kModel)) return bad("model: not a live qasr_model (NULL or freed)");
    const Model& model = *m->model;
    const ModelConfig& c = model.config();
    qasr_model_info_init(out);
    out->kind = model_kind_name(c.kind);
    out->format = model.format();
    out->mapped_bytes = model.mapped_bytes();
    out->owned_bytes = model.owned_bytes();
    out->random_weights = model.source().synthetic ? 1 : 0;
    out->audio_layers = c.audio.layers;
    out->text_layers = c.text.layers;
    out->text_hidden = c.text.hidden;
    out->vocab_size = c.text.vocab;
    out->classify_num = c.kind == ModelKind::kForcedAligner ? c.classify_num : 0;
    return ok();
  });
}

void qasr_session_options_init(qasr_session_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->max_piece_seconds = kMaxAsrInputSeconds;
  o->max_new_tokens = 4096;
  o->kv_f16 = 1;
}

int qasr_session_create(qasr_model* m, const qasr_session_options* options, qasr_session** out) {
  return guarded([&] {
    if (!out) return bad("out is NULL");
    *out = nullptr;
    if (!is_live(m, Kind::kModel)) return bad("model: not a live qasr_model (NULL or freed)");
    if (m->model->config().kind != ModelKind::kAsr)
      return bad("a session needs a transcription model; a forced aligner is passed as transcribe options.aligner");
    qasr_session_options o;
    qasr_session_options_init(&o);
    if (options) o = *options;
    if (o.threads < 0 || o.threads > 1024) return bad("threads must be in [0, 1024]");
    if (!(o.max_piece_seconds >= 10 && o.max_piece_seconds <= 3600))
      return bad("max_piece_seconds must be in [10, 3600]");
    if (o.max_new_tokens < 1 || o.max_new_tokens > 65536) return bad("max_new_tokens must be in [1, 65536]");
    auto s = std::make_unique<qasr_session>();
    s->model = m->model;
    s->max_piece_seconds = o.max_piece_seconds;
    s->max_new_tokens = o.max_new_tokens;
    s->pool = std::make_unique<ThreadPool>(o.threads > 0 ? o.threads : default_thread_count());
    // Room for the longest piece: the piece length plus the splitter's ±5 s search.
    SessionLimits lim = SessionLimits::for_audio(
        o.max_piece_seconds + static_cast<double>(kSplitExpandSamples) / kSampleRate, o.max_new_tokens);
    lim.kv_f16 = o.kv_f16 != 0;
    auto sess = Session::create(m->model, lim);
    if (!sess.ok()) return set_error(sess.status());
    s->session = std::move(sess).value();
    add_live(s.get(), Kind::kSession);
    *out = s.release();
    return ok();
  });
}

void qasr_session_free(qasr_session* s) {
  if (take_live(s, Kind::kSession)) {
    delete s;
    trim_heap();
  }
}

int qasr_session_cancel(qasr_session* s) {
  if (!is_live(s, Kind::kSession)) return bad("session: not a live qasr_session (NULL or freed)");
  s->cancel.request();
  return ok();
}

void qasr_transcribe_options_init(qasr_transcribe_options* o) {
  if (!o) return;
  std::memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
}

int qasr_transcribe_file(qasr_session* s, const char* path, const qasr_transcribe_options* opt, qasr_result** out) {
  return guarded([&] {
    if (int rc = begin_transcribe(s, out)) return rc;
    BusyGuard g{s};
    if (!path) return bad("path is NULL");
    const double t0 = now_ms();
    AudioLimits al;
    al.max_seconds = audio_limit(opt);
    auto stream = AudioStream::open_file(path, al);
    if (!stream.ok()) return set_error(stream.status());
    const double piece = opt && opt->max_segment_seconds > 0 ? opt->max_segment_seconds : s->max_piece_seconds;
    auto reader = PieceReader::create(std::move(stream).value(), piece);
    if (!reader.ok()) return set_error(reader.status().annotate(fmt::format("'{}'", path)));
    const double audio_ms = now_ms() - t0;
    int rc = transcribe_reader(s, **reader, opt, out, t0, audio_ms);
    if (rc != QASR_OK) t_error = fmt::format("'{}': {}", path, t_error);
    return rc;
  });
}

int qasr_transcribe_memory(qasr_session* s, const void* data, size_t size, const char* name,
                           const qasr_transcribe_options* opt, qasr_result** out) {
  return guarded([&] {
    if (int rc = begin_transcribe(s, out)) return rc;
    BusyGuard g{s};
    if (!data && size > 0) return bad("data is NULL");
    const double t0 = now_ms();
    AudioLimits al;
    al.max_seconds = audio_limit(opt);
    const std::string label = name && *name ? name : "memory";
    auto stream = AudioStream::open_memory({static_cast<const uint8_t*>(data), data ? size : 0}, label, al);
    if (!stream.ok()) return set_error(stream.status());
    const double piece = opt && opt->max_segment_seconds > 0 ? opt->max_segment_seconds : s->max_piece_seconds;
    auto reader = PieceReader::create(std::move(stream).value(), piece);
    if (!reader.ok()) return set_error(reader.status());
    return transcribe_reader(s, **reader, opt, out, t0, now_ms() - t0);
  });
}

int qasr_transcribe_pcm(qasr_session* s, const float* samples, size_t n, const qasr_transcribe_options* opt,
                        qasr_result** out) {
  return guarded([&] {
    if (int rc = begin_transcribe(s, out)) return rc;
    BusyGuard g{s};
    if (!samples && n > 0) return bad("samples is NULL");
    const double t0 = now_ms();
    if (static_cast<double>(n) / kSampleRate > audio_limit(opt))
      return set_error(TooLarge(fmt::format("{:.0f} s of samples is longer than the limit of {:.0f} s",
                                            static_cast<double>(n) / kSampleRate, audio_limit(opt))));
    // Read in place; a copy only when the peak needs the official scaling.
    float peak = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(samples[i])) return set_error(InvalidFormat("the samples contain NaN or infinity"));
      peak = std::max(peak, std::fabs(samples[i]));
    }
    std::vector<float> scaled;
    std::span<const float> view(samples, n);
    if (peak > 1.0f) {
      scaled.assign(samples, samples + n);
      for (float& v : scaled) v /= peak;
      view = scaled;
    }
    const double piece = opt && opt->max_segment_seconds > 0 ? opt->max_segment_seconds : s->max_piece_seconds;
    auto reader = PieceReader::from_span(view, piece);
    if (!reader.ok()) return set_error(reader.status());
    return transcribe_reader(s, **reader, opt, out, t0, 0.0);
  });
}

const char* qasr_result_text(const qasr_result* r) {
  return is_live(r, Kind::kResult) ? r->doc.text.c_str() : nullptr;
}
const char* qasr_result_language(const qasr_result* r) {
  return is_live(r, Kind::kResult) ? r->doc.language.c_str() : nullptr;
}
double qasr_result_duration(const qasr_result* r) {
  return is_live(r, Kind::kResult) ? r->doc.duration : 0.0;
}
const int32_t* qasr_result_tokens(const qasr_result* r, size_t* n) {
  if (!is_live(r, Kind::kResult)) {
    if (n) *n = 0;
    return nullptr;
  }
  if (n) *n = r->tokens.size();
  return r->tokens.data();
}
int qasr_result_timings(const qasr_result* r, qasr_timings* out) {
  if (!out) return bad("out is NULL");
  if (!is_live(r, Kind::kResult)) return bad("result: not a live qasr_result (NULL or freed)");
  *out = r->timings;
  return ok();
}
size_t qasr_result_segment_count(const qasr_result* r) {
  return is_live(r, Kind::kResult) ? r->doc.segments.size() : 0;
}
int qasr_result_segment(const qasr_result* r, size_t i, qasr_segment* out) {
  if (!out) return bad("out is NULL");
  if (!is_live(r, Kind::kResult)) return bad("result: not a live qasr_result (NULL or freed)");
  if (i >= r->doc.segments.size()) return bad(fmt::format("segment {} of {}", i, r->doc.segments.size()));
  const TranscriptSegment& s = r->doc.segments[i];
  *out = qasr_segment{sizeof(qasr_segment), s.start,          s.end,        s.text.c_str(), s.avg_logprob,
                      s.compression_ratio,  s.no_speech_prob, s.temperature};
  return ok();
}
size_t qasr_result_word_count(const qasr_result* r) {
  return is_live(r, Kind::kResult) ? r->doc.words.size() : 0;
}
int qasr_result_word(const qasr_result* r, size_t i, qasr_word* out) {
  if (!out) return bad("out is NULL");
  if (!is_live(r, Kind::kResult)) return bad("result: not a live qasr_result (NULL or freed)");
  if (i >= r->doc.words.size()) return bad(fmt::format("word {} of {}", i, r->doc.words.size()));
  const TranscriptWord& w = r->doc.words[i];
  *out = qasr_word{sizeof(qasr_word), w.start, w.end, w.text.c_str()};
  return ok();
}
int qasr_result_render(const qasr_result* r, const char* format, char** out) {
  return guarded([&] {
    if (!out) return bad("out is NULL");
    *out = nullptr;
    if (!is_live(r, Kind::kResult)) return bad("result: not a live qasr_result (NULL or freed)");
    auto f = parse_output_format(format ? format : "");
    if (!f.ok()) return set_error(f.status());
    const std::string s = render(r->doc, *f);
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (!p) return set_error(ResourceExhausted("out of memory"));
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    *out = p;
    return ok();
  });
}
void qasr_string_free(char* s) {
  std::free(s);
}
void qasr_result_free(qasr_result* r) {
  if (take_live(r, Kind::kResult)) delete r;
}

int qasr_memory_get(qasr_memory* out) {
  return guarded([&] {
    if (!out) return bad("out is NULL");
    const MemoryProbe p = read_memory();
    std::memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->rss = p.rss, out->rss_anon = p.rss_anon, out->rss_file = p.rss_file, out->swap = p.swap;
    out->peak_rss = p.hwm, out->heap_in_use = p.heap_in_use, out->heap_free = p.heap_free;
    std::lock_guard<std::mutex> lk(g_mu);
    for (const auto& [ptr, kind] : live()) {
      if (kind == Kind::kModel) {
        const auto* m = static_cast<const qasr_model*>(ptr);
        ++out->models;
        out->model_mapped_bytes += static_cast<int64_t>(m->model->mapped_bytes());
        out->model_owned_bytes += static_cast<int64_t>(m->model->owned_bytes());
      } else if (kind == Kind::kSession) {
        const auto* s = static_cast<const qasr_session*>(ptr);
        ++out->sessions;
        out->session_reserved_bytes += static_cast<int64_t>(s->session->reserved_bytes());
        out->session_resident_bytes += s->session->resident_bytes();
      }
    }
    return ok();
  });
}

void qasr_heap_trim(void) {
  trim_heap();
}

}  // extern "C"
