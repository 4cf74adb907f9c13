#include "server/server.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/memory.h"
#include "base/thread_pool.h"
#include "pipeline/aligner.h"
#include "pipeline/long_audio.h"
#include "pipeline/session.h"
#include "pipeline/transcribe.h"
#include "pipeline/writers.h"
#include "server/metrics.h"
#include "server/multipart.h"
#include "text/languages.h"

namespace qasr {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

// ---- errors on the wire (server-api.md §1.6) ----

struct ApiError {
  int status = 500;
  std::string type = "server_error", code, param, message;
  int retry_after = 0;    // seconds; 0: no header
  bool no_retry = false;  // x-should-retry: false (deterministic failures)
};

ApiError bad_request(std::string message, std::string param = "", std::string code = "invalid_value") {
  return {400, "invalid_request_error", std::move(code), std::move(param), std::move(message)};
}

// Maps an engine Status to its HTTP form.
ApiError api_error(const Status& s, const std::string& param = "") {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return bad_request(s.message(), param);
    case StatusCode::kNotFound:
      return {404, "invalid_request_error", "model_not_found", "model", s.message()};
    case StatusCode::kInvalidFormat:
    case StatusCode::kUnsupported:
      return bad_request("Invalid file format. Supported formats: [flac, mp3, ogg, opus, wav]. " + s.message(), "file",
                         "invalid_file_format");
    case StatusCode::kTooLarge:
      return bad_request(s.message(), "file", "audio_too_long");
    case StatusCode::kUnavailable:
      return {503, "server_error", "model_loading", "", s.message(), 5};
    case StatusCode::kDeadlineExceeded:
      return {408, "timeout", "timeout", "", s.message(), 0, true};
    case StatusCode::kCancelled:
      return {499, "server_error", "cancelled", "", s.message(), 0, true};
    case StatusCode::kResourceExhausted:
      return {503, "server_error", "insufficient_memory", "", s.message(), 30};
    default:
      return {500, "server_error", "internal_error", "", s.message(), 0, true};
  }
}

json error_body(const ApiError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", e.type},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

// ---- a job: one transcription handed from a connection to a worker ----

struct Event {
  enum Kind { kDelta, kDone } kind;
  std::string text;
};

struct Job {
  std::string model;
  Pcm16k audio;
  TranscribeOptions opts;
  OutputFormat format = OutputFormat::kJson;
  bool stream = false;
  CancelToken cancel;
  double t_enqueue = 0, t_start = 0, t_first = -1, t_end = 0;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;
  bool finished = false;
  Status status;
  TranscriptDoc doc;

  void push(Event e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(std::move(e));
    cv.notify_all();
  }
  // Called by the worker before the result is handed over (the worker counts as free from
  // then on, so the client's next request, sent the moment this one is answered, is admitted).
  std::function<void()> on_finish;

  void finish(Status s) {
    if (auto f = std::exchange(on_finish, nullptr)) f();
    std::lock_guard<std::mutex> lk(mu);
    status = std::move(s);
    finished = true;
    t_end = now_ms();
    cv.notify_all();
  }
};

// The admission queue: a job is admitted when a worker is idle or fewer than `capacity`
// jobs are waiting for one.
class JobQueue {
 public:
  explicit JobQueue(int capacity) : capacity_(capacity) {}
  bool try_push(std::shared_ptr<Job> j) {
    std::lock_guard<std::mutex> lk(mu_);
    if (closed_ || static_cast<int>(q_.size()) >= capacity_ + idle_ + finishing_) return false;
    q_.push_back(std::move(j));
    cv_.notify_one();
    return true;
  }
  // A worker whose job has finished but which is not back in pop() yet.
  void finishing() {
    std::lock_guard<std::mutex> lk(mu_);
    ++finishing_;
  }
  // `finished`: this worker called finishing() for the job it ran last.
  std::shared_ptr<Job> pop(bool finished = false) {
    std::unique_lock<std::mutex> lk(mu_);
    if (finished) --finishing_;
    ++idle_;
    cv_.wait(lk, [&] { return closed_ || !q_.empty(); });
    --idle_;
    if (q_.empty()) return nullptr;
    auto j = std::move(q_.front());
    q_.pop_front();
    return j;
  }
  void close() {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  int size() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<int>(q_.size());
  }
  void cancel_all() {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& j : q_) j->cancel.request();
  }

 private:
  int capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> q_;
  int idle_ = 0;       // workers waiting in pop()
  int finishing_ = 0;  // workers between a job's finish and pop()
  bool closed_ = false;
};

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string iso_time() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

// Whether the peer has closed its side (a client that went away).
bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

}  // namespace

Expected<int64_t> parse_size(const std::string& s) {
  if (s.empty()) return InvalidArgument("empty size");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  std::string unit(end);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double mul = 1;
  if (unit == "" || unit == "B")
    mul = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB")
    mul = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    mul = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    mul = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB")
    mul = 1024.0 * 1024 * 1024 * 1024;
  else
    return InvalidArgument(fmt::format("'{}' is not a size (e.g. 3G, 512M)", s));
  if (!std::isfinite(v) || v < 0 || v * mul > 9e18) return InvalidArgument(fmt::format("'{}' is not a size", s));
  return static_cast<int64_t>(v * mul);
}

// ============================================================================

struct Server::Impl {
  ServerConfig cfg;
  std::unique_ptr<ModelManager> manager;
  Metrics metrics;
  JobQueue queue;
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> workers;
  std::thread acceptor_thread, janitor;
  std::atomic<bool> ready{false}, draining{false}, stopping{false};
  std::atomic<bool> listener_closed{false};  // after --drain-delay: new connections are refused
  std::atomic<int> connections{0}, running{0};
  std::atomic<double> drain_started{0};
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  double started_s = 0;
  int threads_per_worker = 1;
  std::string replica;  // X-Qasr-Replica
  std::mutex log_mu;

  explicit Impl(const ServerConfig& c) : cfg(c), queue(c.queue) {}

  // ---- logging ----
  void log(const json& fields) {
    std::lock_guard<std::mutex> lk(log_mu);
    if (cfg.log_json) {
      json j = fields;
      j["ts"] = iso_time();
      std::fprintf(stderr, "%s\n", dump_json(j).c_str());
    } else {
      std::string line = "ts=" + iso_time();
      for (const auto& [k, v] : fields.items())
        line += " " + k + "=" + (v.is_string() ? json(v.get<std::string>()).dump() : dump_json(v));
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }

  // ---- workers ----
  void worker_main(int index) {
    // Per-thread on Linux (a tid is a PRIO_PROCESS id); threads created after this inherit it.
    if (cfg.worker_nice > 0) {
      const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
      errno = 0;
      const int now = ::getpriority(PRIO_PROCESS, tid);
      if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, now + cfg.worker_nice));
    }
    ThreadPool pool(threads_per_worker);
    bool finished = false;
    for (;;) {
      std::shared_ptr<Job> job = queue.pop(finished);
      if (!job) return;
      ++running;
      finished = false;
      job->on_finish = [this, &finished] {
        finished = true;
        queue.finishing();
      };
      run_job(*job, pool);
      job->on_finish = nullptr;
      pool.release_scratch();
      --running;
    }
  }

  void run_job(Job& job, ThreadPool& pool) {
    job.t_start = now_ms();
    metrics.observe("qasr_queue_wait_seconds", {{"model", job.model}}, (job.t_start - job.t_enqueue) / 1000.0,
                    "Time a transcription waited for a worker");
    if (job.cancel.requested()) return job.finish(Cancelled("the client went away while queued"));
    // Long audio is cut by the official splitter (pieces of at most 180 s when words are
    // timed, the official alignment limit) and its pieces run in order on one session.
    const bool words = job.doc.words_requested;
    const double piece_s =
        words ? std::min(cfg.max_segment_seconds, kMaxForceAlignInputSeconds) : cfg.max_segment_seconds;
    auto reader = PieceReader::from_span(job.audio.samples, piece_s);
    if (!reader.ok()) return job.finish(reader.status());
    struct PieceText {
      AudioPiece piece;  // range only (the samples are cut again from job.audio for the aligner)
      std::string text, language;
      int segment = -1;
    };
    std::vector<PieceText> pieces;
    TranscriptDoc doc;
    {
      auto handle = manager->acquire(job.model, &job.cancel);
      if (!handle.ok()) return job.finish(handle.status());
      auto session = Session::create(handle->model(),
                                     SessionLimits::for_audio(max_piece_seconds(**reader), job.opts.max_new_tokens));
      if (!session.ok()) return job.finish(session.status());
      TextCallback cb;
      if (job.stream)
        cb = [&job](std::string_view piece) {
          if (job.t_first < 0) job.t_first = now_ms();
          job.push({Event::kDelta, std::string(piece)});
          return !job.cancel.requested();
        };
      DocumentOptions d;
      d.transcribe = job.opts;
      int segments = 0;
      double first_token = -1;
      auto r = transcribe_document(**session, pool, **reader, d, cb, [&](const AudioPiece& p, const Transcript& t) {
        if (first_token < 0) first_token = t.timings.first_token;
        const bool has_segment = !t.text.empty() || !t.token_ids.empty();
        PieceText pt;
        pt.piece.range = p.range;
        pt.text = t.text;
        pt.language = t.language;
        pt.segment = has_segment ? segments++ : -1;
        pieces.push_back(std::move(pt));
        handle->report_working_bytes((*session)->resident_bytes());
      });
      (*session)->reset();
      if (!r.ok()) return job.finish(r.status());
      doc = std::move(r).value();
      if (job.t_first < 0) job.t_first = job.t_start + std::max(0.0, first_token);
    }  // the transcription model is released before the aligner is acquired (never both held)
    if (words) {
      auto al = manager->acquire(cfg.aligner, &job.cancel);
      if (!al.ok()) return job.finish(al.status().annotate("the forced aligner"));
      AlignOptions ao;
      ao.control = job.opts.control;
      const bool split = pieces.size() > 1;
      for (PieceText& pt : pieces) {
        const PieceRange& rg = pt.piece.range;
        pt.piece.audio.samples.assign(job.audio.samples.begin() + rg.start, job.audio.samples.begin() + rg.end);
        if (split && pt.piece.audio.samples.size() < static_cast<size_t>(kMinPieceSamples))
          pt.piece.audio.samples.resize(kMinPieceSamples, 0.0f);
        const std::string lang = !job.opts.language.empty() ? job.opts.language : pt.language;
        Status st = align_piece(doc, pt.segment >= 0 ? &doc.segments[pt.segment] : nullptr, *al->model(), pool,
                                pt.piece, pt.text, lang, TimestampMode::kWord, ao);
        pt.piece.audio.samples = std::vector<float>();
        if (!st.ok()) return job.finish(st.annotate("aligning"));
      }
      metrics.add("qasr_aligned_words_total", {{"model", cfg.aligner}}, static_cast<double>(doc.words.size()),
                  "Words timed by the forced aligner");
    }
    doc.words_requested = words;
    if (doc.language.empty() && !doc.segments.empty()) doc.language = job.opts.language;
    metrics.add("qasr_audio_tokens_total", {{"model", job.model}}, static_cast<double>(doc.input_audio_tokens),
                "Audio tokens encoded");
    metrics.add("qasr_output_tokens_total", {{"model", job.model}}, static_cast<double>(doc.output_tokens),
                "Tokens generated");
    job.doc = std::move(doc);
    job.finish(Status::Ok());
  }

  // ---- model manager events → metrics and log ----
  void on_manager_event(const ManagerEvent& e) {
    if (e.kind == ManagerEvent::kLoaded) {
      metrics.add("qasr_model_loads_total", {{"model", e.name}}, 1, "Model loads");
      metrics.observe("qasr_model_load_seconds", {{"model", e.name}}, e.seconds, "Time to load a model");
      log({{"level", "info"},
           {"msg", "model loaded"},
           {"model", e.name},
           {"load_s", e.seconds},
           {"rss_anon_before_mb", e.rss_anon_bytes / 1048576.0}});
    } else if (e.kind == ManagerEvent::kLoadFailed) {
      metrics.add("qasr_model_load_failures_total", {{"model", e.name}}, 1, "Failed model loads");
      log({{"level", "error"}, {"msg", "model load failed"}, {"model", e.name}, {"error", e.error}});
    } else {
      metrics.add("qasr_model_unloads_total", {{"model", e.name}, {"reason", e.reason}}, 1, "Model unloads");
      metrics.set("qasr_model_unload_released_bytes", {{"model", e.name}}, static_cast<double>(e.released_bytes),
                  "Process memory given back by the last unload of the model");
      log({{"level", "info"},
           {"msg", "model unloaded"},
           {"model", e.name},
           {"reason", e.reason},
           {"released_mb", e.released_bytes / 1048576.0},
           {"rss_anon_after_mb", e.rss_anon_bytes / 1048576.0}});
    }
  }

  void update_gauges() {
    for (const ModelStatus& s : manager->status()) {
      metrics.set("qasr_model_loaded", {{"model", s.name}}, s.state == ModelState::kLoaded ? 1 : 0,
                  "1 when the model is loaded");
      metrics.set("qasr_model_resident_bytes", {{"model", s.name}}, static_cast<double>(s.resident_bytes),
                  "Bytes the loaded model holds resident (measured; estimated before its first use)");
      metrics.set("qasr_requests_in_flight", {{"model", s.name}}, s.in_flight, "Transcriptions running");
    }
    metrics.set("qasr_requests_queued", {}, queue.size(), "Transcriptions waiting for a worker");
    const MemoryProbe m = read_memory();
    metrics.set("qasr_process_rss_anon_bytes", {}, static_cast<double>(m.rss_anon), "Anonymous resident memory");
    metrics.set("qasr_process_swap_bytes", {}, static_cast<double>(m.swap), "Swapped-out memory");
    metrics.set("process_resident_memory_bytes", {}, static_cast<double>(m.rss), "Resident memory");
    metrics.set("qasr_ready", {}, ready && !draining ? 1 : 0, "1 when /ready answers 200");
  }

  bool rss_alert() const { return cfg.rss_alert_mb > 0 && read_memory().rss_anon / 1048576.0 > cfg.rss_alert_mb; }

  void janitor_main() {
    double last_tick = 0;
    bool alerted = false;
    while (!stopping) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const double now = now_ms() / 1000.0;
      if (now - last_tick >= 1.0) {
        last_tick = now;
        manager->tick();
        update_gauges();
        const bool alert = rss_alert();
        if (alert && !alerted)
          log({{"level", "warn"},
               {"msg", "rss alert"},
               {"rss_anon_mb", read_memory().rss_anon / 1048576.0},
               {"alert_mb", cfg.rss_alert_mb}});
        alerted = alert;
        metrics.set("qasr_rss_alert", {}, alert ? 1 : 0, "1 while RssAnon is above --rss-alert-mb");
      }
      if (draining) {
        const double since = now - drain_started.load();
        const bool idle = running == 0 && queue.size() == 0;
        // The delay gives a balancer time to see /ready 503 while requests are still served;
        // then the listener closes, so a late connection is refused and the balancer retries
        // it elsewhere (HAProxy's retry-on conn-failure), instead of getting a 503 here.
        if (since >= cfg.drain_delay_s && !listener_closed.exchange(true)) close_acceptor();
        if (since > cfg.drain_delay_s + cfg.drain_timeout_s) queue.cancel_all();
        if (since >= cfg.drain_delay_s && (idle || since > cfg.drain_delay_s + cfg.drain_timeout_s + 5)) {
          stop();
          return;
        }
      }
    }
  }

  // Wakes the acceptor thread out of accept() (closing the socket from another thread
  // does not), then closes it.
  void close_acceptor() {
    if (acceptor.is_open()) ::shutdown(acceptor.native_handle(), SHUT_RDWR);
  }

  void stop() {
    stopping = true;
    close_acceptor();
    std::lock_guard<std::mutex> lk(done_mu);
    done = true;
    done_cv.notify_all();
  }

  // ---- HTTP ----
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  Response make(const Request& req, http::status st, std::string body, const char* type) {
    Response res{st, req.version()};
    res.set(http::field::server, "qasr/" QASR_VERSION);
    res.set("x-qasr-replica", replica);
    res.set(http::field::content_type, type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }
  Response make_json(const Request& req, http::status st, const json& j) {
    return make(req, st, dump_json(j), "application/json");
  }
  Response make_error(const Request& req, const ApiError& e) {
    Response res = make_json(req, static_cast<http::status>(e.status), error_body(e));
    if (e.retry_after > 0) res.set(http::field::retry_after, std::to_string(e.retry_after));
    if (e.no_retry) res.set("x-should-retry", "false");
    return res;
  }

  static std::string path_of(const Request& req) {
    std::string t(req.target());
    const size_t q = t.find('?');
    return q == std::string::npos ? t : t.substr(0, q);
  }

  bool authorized(const Request& req) const {
    if (cfg.api_key.empty()) return true;
    const auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    const std::string_view v = it->value();
    return v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ") &&
           constant_time_equal(v.substr(7), cfg.api_key);
  }

  json model_object(const std::string& id) const {
    return {{"id", id}, {"object", "model"}, {"created", static_cast<int64_t>(started_s)}, {"owned_by", "qasr"}};
  }

  bool is_transcription_model(const std::string& name) const { return name != cfg.aligner; }

  Response handle_simple(const Request& req, const std::string& path) {
    if (path == "/health" || path == "/v1/health") {
      const MemoryProbe m = read_memory();
      const bool alert = rss_alert();
      json j = {{"status", alert ? "degraded" : "ok"}, {"rss_anon_mb", m.rss_anon / 1048576.0}};
      if (alert) j["rss_alert_mb"] = cfg.rss_alert_mb;
      return make_json(req, http::status::ok, j);
    }
    if (path == "/ready") {
      if (ready && !draining) return make_json(req, http::status::ok, {{"status", "ready"}});
      const char* why = draining ? "draining: the server is shutting down" : "starting: models are preloading";
      ApiError e{503, "unavailable_error", draining ? "draining" : "starting", "", why, 1};
      return make_error(req, e);
    }
    if (path == "/metrics") {
      update_gauges();
      return make(req, http::status::ok, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    }
    return make_error(req, {404, "invalid_request_error", "not_found", "", fmt::format("no route for {}", path)});
  }

  // The model name of the routing header (X-Model, or X-Gateway-Model-Name).
  static std::string header_model(const Request& req) {
    for (const char* h : {"x-model", "x-gateway-model-name"}) {
      const auto it = req.find(h);
      if (it != req.end()) return std::string(it->value());
    }
    return "";
  }

  Response handle_models(const Request& req, const std::string& path) {
    if (req.method() == http::verb::get && path == "/v1/models") {
      json data = json::array();
      for (const std::string& n : manager->names())
        if (is_transcription_model(n)) data.push_back(model_object(n));
      return make_json(req, http::status::ok, {{"object", "list"}, {"data", data}});
    }
    if (req.method() == http::verb::get && path.rfind("/v1/models/", 0) == 0) {
      const std::string id = path.substr(11);
      if (!manager->has(id) || !is_transcription_model(id))
        return make_error(req, {404, "invalid_request_error", "model_not_found", "model",
                                fmt::format("The model '{}' does not exist", id)});
      return make_json(req, http::status::ok, model_object(id));
    }
    if (req.method() == http::verb::get && path == "/models") {
      json data = json::array();
      for (const ModelStatus& s : manager->status()) {
        json m = {{"id", s.name},
                  {"status", {{"value", model_state_name(s.state)}}},
                  {"resident_bytes", s.resident_bytes},
                  {"resident_measured", s.measured},
                  {"working_bytes", s.working_bytes},
                  {"in_flight", s.in_flight},
                  {"loads", s.loads},
                  {"pinned", s.pinned},
                  {"kind", s.name == cfg.aligner ? "aligner" : "asr"}};
        if (!s.error.empty()) m["status"]["error"] = s.error;
        data.push_back(m);
      }
      return make_json(req, http::status::ok, {{"data", data}});
    }
    if (req.method() == http::verb::post && (path == "/models/load" || path == "/models/unload")) {
      auto body = parse_json(req.body(), "request body");
      if (!body.ok() || !body->is_object() || !body->contains("model") || !(*body)["model"].is_string())
        return make_error(req, bad_request("the body must be a JSON object {\"model\": NAME}", "model"));
      const std::string name = (*body)["model"].get<std::string>();
      if (!manager->has(name))
        return make_error(req, {404, "invalid_request_error", "model_not_found", "model",
                                fmt::format("The model '{}' does not exist", name)});
      const Status st = path == "/models/load" ? manager->load(name) : manager->unload(name);
      if (!st.ok()) {
        ApiError e = api_error(st, "model");
        if (st.code() == StatusCode::kUnavailable && path == "/models/unload") e.code = "model_busy", e.status = 409;
        return make_error(req, e);
      }
      return make_json(req, http::status::ok, {{"success", true}});
    }
    return make_error(req, {405, "invalid_request_error", "method_not_allowed", "",
                            fmt::format("{} is not allowed on {}", std::string(req.method_string()), path)});
  }

  // Parses and checks the transcription form; on success fills `job`.
  std::optional<ApiError> parse_form(const Request& req, const std::string& route_model, Job& job) {
    const auto ct = req.find(http::field::content_type);
    auto boundary = multipart_boundary(ct == req.end() ? std::string_view()
                                                       : std::string_view(ct->value().data(), ct->value().size()));
    if (!boundary.ok()) return bad_request(boundary.error(), "file");
    auto parts = parse_multipart(req.body(), *boundary);
    if (!parts.ok()) return bad_request(parts.error(), "file");
    const MultipartPart* file = nullptr;
    std::string model, language, format = "json", temperature, seed, stream;
    bool want_words = false, want_segments = false;
    for (const MultipartPart& p : *parts) {
      const std::string& n = p.name;
      const std::string v(p.data);
      if (n == "file")
        file = &p;
      else if (n == "model")
        model = v;
      else if (n == "language")
        language = v;
      else if (n == "prompt")
        job.opts.context = v;
      else if (n == "response_format")
        format = v;
      else if (n == "temperature")
        temperature = v;
      else if (n == "seed")
        seed = v;
      else if (n == "stream")
        stream = v;
      else if (n == "timestamp_granularities[]" || n == "timestamp_granularities") {
        if (v == "word")
          want_words = true;
        else if (v == "segment")
          want_segments = true;
        else
          return bad_request(fmt::format("timestamp_granularities: '{}' is not word or segment", v),
                             "timestamp_granularities");
      } else if (n == "include[]" || n == "include" || n.rfind("chunking_strategy", 0) == 0 || n == "languages[]" ||
                 n == "keywords[]") {
        // Accepted and ignored (server-api.md §1.2): no logprobs output yet, chunking is
        // qasr's own long-audio split, languages/keywords belong to other models.
      } else if (n.rfind("known_speaker", 0) == 0) {
        return bad_request("speaker diarization is not supported by Qwen3-ASR", n);
      } else {
        return bad_request(fmt::format("Unrecognized request argument supplied: {}", n), n, "unknown_parameter");
      }
    }
    if (route_model.empty() && cfg.require_routing_key)
      return ApiError{400, "invalid_request_error", "missing_routing_key", "model",
                      "an X-Model header or a /m/<model>/v1 path prefix is required (this replica is behind a "
                      "balancer that routes on it)"};
    if (!route_model.empty()) {
      if (!model.empty() && model != route_model)
        return bad_request(
            fmt::format("the model field '{}' differs from the routing header or path '{}'", model, route_model),
            "model");
      model = route_model;
    }
    if (model.empty()) return bad_request("you must provide a model parameter", "model", "missing_parameter");
    if (!manager->has(model) || !is_transcription_model(model))
      return ApiError{404, "invalid_request_error", "model_not_found", "model",
                      fmt::format("The model '{}' does not exist", model)};
    if (!file) return bad_request("you must provide a file parameter", "file", "missing_parameter");
    job.model = model;
    auto fmt_r = parse_output_format(format);
    if (!fmt_r.ok()) {
      if (format == "diarized_json")
        return bad_request("response_format diarized_json is not supported", "response_format");
      return bad_request(fmt_r.error(), "response_format");
    }
    job.format = *fmt_r;
    if (!language.empty()) {
      auto l = resolve_language(language);
      if (!l)
        return bad_request(fmt::format("unknown language '{}'; supported: {}", language, supported_languages_list()),
                           "language");
      job.opts.language = *l;
    }
    if (!temperature.empty()) {
      char* end = nullptr;
      const double t = std::strtod(temperature.c_str(), &end);
      if (*end != '\0' || !std::isfinite(t) || t < 0 || t > 1)
        return bad_request(fmt::format("temperature must be a number in [0, 1], got '{}'", temperature), "temperature");
      job.opts.temperature = static_cast<float>(t);
    }
    if (!seed.empty()) {
      char* end = nullptr;
      job.opts.seed = std::strtoull(seed.c_str(), &end, 10);
      if (*end != '\0') return bad_request(fmt::format("seed must be an integer, got '{}'", seed), "seed");
    }
    if (!stream.empty()) {
      if (stream == "true" || stream == "1")
        job.stream = true;
      else if (stream == "false" || stream == "0")
        job.stream = false;
      else
        return bad_request(fmt::format("stream must be true or false, got '{}'", stream), "stream");
    }
    if ((want_words || want_segments) && job.format != OutputFormat::kVerboseJson)
      return bad_request("timestamp_granularities requires response_format=verbose_json", "timestamp_granularities");
    if (want_words && cfg.aligner.empty())
      return bad_request("word timestamps need a forced aligner: start qasr serve with --aligner NAME=PATH",
                         "timestamp_granularities");
    job.doc.words_requested = want_words;
    // The audio: sniffed from its bytes (the part's Content-Type is not trusted).
    AudioLimits lim;
    lim.max_seconds = cfg.max_audio_seconds;
    const std::string name = file->has_filename && !file->filename.empty() ? file->filename : "upload";
    auto pcm = decode_audio_memory({reinterpret_cast<const uint8_t*>(file->data.data()), file->data.size()}, name, lim);
    if (!pcm.ok()) {
      ApiError e = api_error(pcm.status(), "file");
      metrics.add("qasr_requests_rejected_total",
                  {{"reason", pcm.status().code() == StatusCode::kTooLarge ? "audio_too_long" : "bad_format"}}, 1,
                  "Requests refused before transcription");
      return e;
    }
    job.audio = std::move(pcm).value();
    // Work limits scale with the audio: a model stuck in a loop cannot hold a worker.
    const double s = job.audio.seconds();
    // Per piece (long audio is split at max_segment_seconds, a piece runs ≤ 5 s past its cut).
    const double piece_s = std::min(s, cfg.max_segment_seconds + 5.0);
    const int proportional = static_cast<int>(std::ceil(32 + 25 * piece_s));
    job.opts.max_new_tokens = cfg.max_new_tokens > 0 ? std::min(cfg.max_new_tokens, proportional) : proportional;
    job.opts.max_new_tokens = std::clamp(job.opts.max_new_tokens, 1, 65536);
    const double timeout = cfg.request_timeout_s > 0 ? cfg.request_timeout_s : std::max(120.0, 2.5 * s);
    job.opts.control.deadline_ms = now_ms() + timeout * 1000.0;
    job.opts.control.cancel = &job.cancel;
    if (cfg.debug_step_delay_ms > 0) {
      job.opts.control.progress = [](void* user, const char*, int64_t, int64_t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(*static_cast<const int*>(user)));
      };
      job.opts.control.progress_user = const_cast<int*>(&cfg.debug_step_delay_ms);
    }
    return std::nullopt;
  }

  // ---- one connection ----

  // After refusing a body: stop sending, then read and discard what the client is still
  // sending (for at most 2 s and 64 MiB, nothing kept), so it receives the response
  // instead of a reset. Closing with unread data would make the kernel send RST.
  void linger_close(tcp::socket& sock) {
    ::shutdown(sock.native_handle(), SHUT_WR);
    char sink[16384];
    const double until = now_ms() + 2000;
    size_t total = 0;
    while (now_ms() < until && total < (size_t{64} << 20)) {
      const ssize_t n = ::recv(sock.native_handle(), sink, sizeof sink, 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        break;
      }
      total += static_cast<size_t>(n);
    }
  }

  template <class Body>
  bool write_message(tcp::socket& sock, http::response<Body>& res) {
    beast::error_code ec;
    http::write(sock, res, ec);
    return !ec;
  }

  bool write_raw(tcp::socket& sock, std::string_view data) {
    beast::error_code ec;
    net::write(sock, net::buffer(data.data(), data.size()), ec);
    return !ec;
  }

  void set_timeouts(tcp::socket& sock, double recv_s, double send_s) {
    auto tv = [](double s) {
      timeval t{};
      t.tv_sec = static_cast<time_t>(s);
      t.tv_usec = static_cast<suseconds_t>((s - static_cast<double>(t.tv_sec)) * 1e6);
      return t;
    };
    const timeval r = tv(recv_s), w = tv(send_s);
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r);
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &w, sizeof w);
    const int one = 1;
    ::setsockopt(sock.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  // Reads with a deadline. The socket is non-blocking while this reads and the waiting is
  // done here, in poll() with a 1 s step, so the loop looks at the clock and at `stopping`:
  // Asio's blocking read turns SO_RCVTIMEO's EAGAIN into a poll without a timeout, so a silent
  // client (or a balancer's idle keep-alive connection) would hold the thread, and a drain,
  // until it closed.
  template <class Pred>
  beast::error_code read_until(tcp::socket& sock, beast::flat_buffer& buf, http::request_parser<http::string_body>& p,
                               Pred done, double deadline_ms, bool* got_bytes) {
    beast::error_code ec;
    sock.non_blocking(true, ec);
    if (ec) return ec;
    struct Restore {
      tcp::socket& s;
      ~Restore() {
        beast::error_code e;
        s.non_blocking(false, e);  // writes stay blocking
      }
    } restore{sock};
    while (!done()) {
      if (stopping && !*got_bytes) return http::error::end_of_stream;
      const size_t before = buf.size();
      http::read_some(sock, buf, p, ec);
      if (buf.size() != before || p.got_some()) *got_bytes = true;
      if (ec == net::error::would_block || ec == net::error::try_again) {
        ec = {};
        if (now_ms() > deadline_ms) return net::error::timed_out;
        pollfd pfd{sock.native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, 1000) < 0 && errno != EINTR) return beast::error_code(errno, beast::system_category());
        continue;
      }
      if (ec) return ec;
    }
    return ec;
  }

  // Answers a request that could not be read (then the connection closes).
  void refuse_request(tcp::socket& sock, beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == http::error::partial_message)
      return;  // the client went away
    Request r;
    r.version(11);
    r.keep_alive(false);
    if (ec == http::error::body_limit) {
      metrics.add("qasr_requests_rejected_total", {{"reason", "too_large"}}, 1,
                  "Requests refused before transcription");
      auto res =
          make_error(r, {413, "invalid_request_error", "request_too_large", "file",
                         fmt::format("Maximum content size limit ({}) exceeded", cfg.max_upload_bytes), 0, true});
      write_message(sock, res);
      linger_close(sock);
    } else if (ec == net::error::timed_out) {
      auto res = make_error(r, {408, "invalid_request_error", "timeout", "", "request not received in time"});
      write_message(sock, res);
    } else {
      auto res = make_error(r, bad_request(fmt::format("malformed HTTP request: {}", ec.message())));
      write_message(sock, res);
      linger_close(sock);
    }
  }

  void serve_connection(tcp::socket& sock) {
    set_timeouts(sock, 1.0, 30.0);
    beast::flat_buffer buf;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(static_cast<uint64_t>(cfg.max_upload_bytes));
      bool got = false;
      // An idle keep-alive connection may wait longer than a header in progress.
      beast::error_code ec = read_until(
          sock, buf, parser, [&] { return parser.is_header_done(); },
          now_ms() + 1000.0 * (cfg.header_timeout_s * (buf.size() ? 1 : 6)), &got);
      if (ec) {
        if (ec == net::error::timed_out && !got) return;  // an idle keep-alive connection
        refuse_request(sock, ec);
        return;
      }
      const auto& hdr = parser.get();
      std::string path = Impl::path_of(hdr);
      // Routing by path prefix /m/<model>/v1/...: the model as a header would give it.
      std::string route_model;
      if (path.rfind("/m/", 0) == 0) {
        const size_t slash = path.find('/', 3);
        if (slash != std::string::npos) {
          route_model = path.substr(3, slash - 3);
          path = path.substr(slash);
        }
      }
      if (route_model.empty()) route_model = header_model(hdr);
      const bool open_path = path == "/health" || path == "/v1/health" || path == "/ready";
      Request early;  // for responses before the body is read
      early.version(hdr.version());
      early.keep_alive(false);
      if (!open_path && !authorized(hdr)) {
        auto res = make_error(early, {401, "invalid_request_error", "invalid_api_key", "",
                                      "Incorrect API key provided (send Authorization: Bearer KEY)"});
        write_message(sock, res);
        return;
      }
      // Large uploads send Expect: 100-continue and wait for it.
      if (auto e = hdr.find(http::field::expect); e != hdr.end() && beast::iequals(e->value(), "100-continue"))
        write_raw(sock, "HTTP/1.1 100 Continue\r\n\r\n");
      ec = read_until(
          sock, buf, parser, [&] { return parser.is_done(); }, now_ms() + 1000.0 * cfg.body_timeout_s, &got);
      if (ec) {
        refuse_request(sock, ec);
        return;
      }
      Request req = parser.release();
      const bool keep = req.keep_alive();
      const double t0 = now_ms();
      bool ok_to_continue = true;
      if (path == "/v1/audio/transcriptions" && req.method() == http::verb::post) {
        ok_to_continue = handle_transcription(sock, req, route_model, t0) && keep;
      } else {
        Response res;
        if (path == "/v1/audio/translations") {
          res = make_error(req, {404, "invalid_request_error", "unsupported", "",
                                 "translations are not supported by Qwen3-ASR; use /v1/audio/transcriptions"});
        } else if (path == "/v1/models" || path.rfind("/v1/models/", 0) == 0 || path == "/models" ||
                   path == "/models/load" || path == "/models/unload") {
          res = handle_models(req, path);
        } else if (path == "/v1/audio/transcriptions") {
          res = make_error(req, {405, "invalid_request_error", "method_not_allowed", "", "use POST"});
        } else {
          res = handle_simple(req, path);
        }
        ok_to_continue = write_message(sock, res) && keep;
      }
      if (!ok_to_continue || stopping) return;
    }
  }

  void log_request(const Job* job, const std::string& model, int status, double t0, double audio_s) {
    json f = {{"level", status >= 500 ? "error" : "info"},
              {"msg", "request"},
              {"model", model},
              {"status", status},
              {"audio_s", audio_s},
              {"total_ms", now_ms() - t0}};
    if (job && job->t_start > 0) {
      f["queue_ms"] = job->t_start - job->t_enqueue;
      if (job->t_first > 0) f["ttft_ms"] = job->t_first - t0;
    }
    log(f);
    metrics.add(
        "qasr_requests_total",
        {{"model", model}, {"format", job ? output_format_name(job->format) : ""}, {"status", std::to_string(status)}},
        1, "Transcription requests by outcome");
    metrics.observe("qasr_request_duration_seconds", {{"model", model}}, (now_ms() - t0) / 1000.0,
                    "Transcription requests, end to end");
    if (job && job->t_first > 0)
      metrics.observe("qasr_time_to_first_token_seconds", {{"model", model}}, (job->t_first - t0) / 1000.0,
                      "From the end of the upload to the first token");
  }

  // Returns false when the connection must close.
  bool handle_transcription(tcp::socket& sock, const Request& req, const std::string& route_model, double t0) {
    auto job = std::make_shared<Job>();
    // Draining: served during --drain-delay (a balancer has not seen /ready 503 yet); after it,
    // only a request on a connection opened before gets here, and is refused.
    if (draining && now_ms() / 1000.0 - drain_started.load() >= cfg.drain_delay_s) {
      auto res = make_error(req, {503, "server_error", "shutting_down", "", "the server is shutting down", 1});
      res.keep_alive(false);
      log_request(nullptr, route_model, 503, t0, 0);
      write_message(sock, res);
      return false;
    }
    if (auto err = parse_form(req, route_model, *job)) {
      auto res = make_error(req, *err);
      log_request(nullptr, job->model.empty() ? route_model : job->model, err->status, t0, 0);
      return write_message(sock, res);
    }
    const double audio_s = job->audio.seconds();
    job->t_enqueue = now_ms();
    if (!queue.try_push(job)) {
      metrics.add("qasr_requests_rejected_total", {{"reason", "queue_full"}}, 1,
                  "Requests refused before transcription");
      auto res = make_error(req, {503, "server_error", "server_busy", "",
                                  "server busy: every worker is busy and the queue is full; retry later", 2});
      log_request(job.get(), job->model, 503, t0, audio_s);
      return write_message(sock, res);
    }
    metrics.add("qasr_audio_seconds_total", {{"model", job->model}}, audio_s, "Seconds of audio received");
    const int fd = sock.native_handle();
    const bool stream = job->stream;
    bool header_sent = false, alive = true;
    std::string text;  // the deltas joined (the done event's text)
    http::response<http::empty_body> sse_head{http::status::ok, req.version()};
    http::response_serializer<http::empty_body> sse{sse_head};
    double last_write = now_ms();
    auto send_chunk = [&](const std::string& data) {
      beast::error_code ec;
      net::write(sock, http::make_chunk(net::buffer(data)), ec);
      last_write = now_ms();
      return !ec;
    };
    auto start_stream = [&] {
      if (header_sent) return true;
      sse_head.set(http::field::server, "qasr/" QASR_VERSION);
      sse_head.set("x-qasr-replica", replica);
      sse_head.set(http::field::content_type, "text/event-stream");
      sse_head.set(http::field::cache_control, "no-cache");
      sse_head.set("x-accel-buffering", "no");
      sse_head.chunked(true);
      sse_head.keep_alive(req.keep_alive());
      beast::error_code ec;
      http::write_header(sock, sse, ec);
      header_sent = true;
      return !ec;
    };
    // Wait for the worker; stream its pieces; watch the socket for a client that left.
    for (;;) {
      std::deque<Event> events;
      bool finished = false;
      {
        std::unique_lock<std::mutex> lk(job->mu);
        job->cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return job->finished || !job->events.empty(); });
        events.swap(job->events);
        finished = job->finished;
      }
      for (Event& e : events) {
        if (!stream || !alive) continue;
        text += e.text;
        alive = start_stream() &&
                send_chunk("data: " + dump_json({{"type", "transcript.text.delta"}, {"delta", e.text}}) + "\n\n");
      }
      if (finished) break;
      if (alive && peer_closed(fd)) alive = false;
      if (alive && stream && header_sent && now_ms() - last_write > cfg.sse_ping_s * 1000.0)
        alive = send_chunk(": ping\n\n");
      if (!alive && !job->cancel.requested()) {
        job->cancel.request();
        metrics.add("qasr_requests_cancelled_total", {{"model", job->model}}, 1,
                    "Transcriptions cancelled because the client went away");
      }
    }
    const Status st = job->status;
    if (!alive) {
      log_request(job.get(), job->model, 499, t0, audio_s);
      return false;
    }
    if (!st.ok()) {
      const ApiError e = api_error(st);
      log_request(job.get(), job->model, e.status, t0, audio_s);
      if (header_sent) {
        send_chunk("data: " + dump_json(error_body(e)) + "\n\n");
        beast::error_code ec;
        net::write(sock, http::make_chunk_last(), ec);
        return false;
      }
      auto res = make_error(req, e);
      return write_message(sock, res);
    }
    log_request(job.get(), job->model, 200, t0, audio_s);
    if (stream) {
      if (!start_stream()) return false;
      // The done event carries the whole text (the deltas joined) and the token usage.
      json done = {{"type", "transcript.text.done"},
                   {"text", text.empty() ? job->doc.text : text},
                   {"usage", token_usage(job->doc)}};
      if (!send_chunk("data: " + dump_json(done) + "\n\n")) return false;
      beast::error_code ec;
      net::write(sock, http::make_chunk_last(), ec);
      return !ec;
    }
    auto res = make(req, http::status::ok, render(job->doc, job->format), content_type(job->format));
    return write_message(sock, res);
  }

  // ---- accepting ----
  void accept_main() {
    for (;;) {
      beast::error_code ec;
      tcp::socket sock(io);
      acceptor.accept(sock, ec);
      if (stopping || listener_closed) return;
      if (ec) continue;
      if (connections.load() >= cfg.max_connections) {
        set_timeouts(sock, 1.0, 1.0);
        Request dummy;
        dummy.version(11);
        dummy.keep_alive(false);
        auto res = make_error(dummy, {503, "server_error", "server_busy", "", "too many connections", 1});
        write_message(sock, res);
        continue;
      }
      ++connections;
      std::thread([this, s = std::move(sock)]() mutable {
        serve_connection(s);
        beast::error_code e;
        s.shutdown(tcp::socket::shutdown_both, e);
        s.close(e);
        // Under the lock: the destructor may free this Impl as soon as it sees zero.
        std::lock_guard<std::mutex> lk(done_mu);
        --connections;
        done_cv.notify_all();
      }).detach();
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Impl& s = *impl_;
  s.stopping = true;
  s.close_acceptor();
  if (s.acceptor_thread.joinable()) s.acceptor_thread.join();
  beast::error_code ec;
  s.acceptor.close(ec);
  if (s.janitor.joinable()) s.janitor.join();
  s.queue.cancel_all();
  s.queue.close();
  for (std::thread& w : s.workers)
    if (w.joinable()) w.join();
  // Connection threads end within a receive timeout once stopping is set (their jobs were
  // finished or cancelled above); each may still touch this Impl until it has counted down.
  {
    std::unique_lock<std::mutex> lk(s.done_mu);
    s.done_cv.wait(lk, [&] { return s.connections.load() == 0; });
  }
  // The models unload now, while the metrics and the log their events go to still exist.
  s.manager.reset();
}

int Server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void Server::request_drain() {
  if (!impl_->draining.exchange(true)) {
    impl_->drain_started = now_ms() / 1000.0;
    impl_->log({{"level", "info"}, {"msg", "draining"}, {"drain_delay_s", impl_->cfg.drain_delay_s}});
  }
}

Expected<std::unique_ptr<Server>> Server::create(const ServerConfig& cfg, std::vector<ModelSpec> models,
                                                 const ManagerConfig& manager) {
  if (models.empty()) return InvalidArgument("serve: give at least one --model NAME=PATH or --models-dir DIR");
  if (cfg.parallel < 1 || cfg.parallel > 256) return InvalidArgument("--parallel must be in [1, 256]");
  if (cfg.queue < 0) return InvalidArgument("--queue must not be negative");
  auto impl = std::make_unique<Impl>(cfg);
  Impl* s = impl.get();
  ManagerHooks hooks;
  hooks.on_event = [s](const ManagerEvent& e) { s->on_manager_event(e); };
  ManagerConfig mc = manager;
  mc.workers = cfg.parallel;
  s->manager = std::make_unique<ModelManager>(std::move(models), mc, hooks);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s->threads_per_worker = cfg.threads > 0 ? cfg.threads : std::max(1, cores / cfg.parallel);
  beast::error_code ec;
  const auto addr = net::ip::make_address(cfg.host, ec);
  if (ec) return InvalidArgument(fmt::format("--host '{}' is not an IP address", cfg.host));
  const tcp::endpoint ep(addr, static_cast<unsigned short>(cfg.port));
  s->acceptor.open(ep.protocol(), ec);
  if (!ec) s->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(ep, ec);
  if (!ec) s->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable(fmt::format("cannot listen on {}:{}: {}", cfg.host, cfg.port, ec.message()));
  s->started_s = static_cast<double>(std::time(nullptr));
  s->replica =
      cfg.replica_name.empty() ? fmt::format("{}:{}", cfg.host, s->acceptor.local_endpoint().port()) : cfg.replica_name;
  s->metrics.set("qasr_build_info", {{"version", QASR_VERSION}}, 1, "qasr build");
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::run() {
  Impl& s = *impl_;
  for (int i = 0; i < s.cfg.parallel; ++i) s.workers.emplace_back([&s, i] { s.worker_main(i); });
  s.acceptor_thread = std::thread([&s] { s.accept_main(); });
  s.janitor = std::thread([&s] { s.janitor_main(); });
  s.log({{"level", "info"},
         {"msg", "listening"},
         {"host", s.cfg.host},
         {"port", port()},
         {"parallel", s.cfg.parallel},
         {"threads", s.threads_per_worker}});
  const Status pre = s.manager->preload();
  if (!pre.ok()) s.log({{"level", "error"}, {"msg", "preload failed"}, {"error", pre.message()}});
  s.ready = true;
  {
    std::unique_lock<std::mutex> lk(s.done_mu);
    s.done_cv.wait(lk, [&] { return s.done; });
  }
  s.log({{"level", "info"}, {"msg", "stopped"}});
  return Status::Ok();
}

}  // namespace qasr
