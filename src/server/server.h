// `qasr serve`: the OpenAI-compatible transcription server (wire contract:
// docs/spec/server-api.md). HTTP/1.1 by Boost.Beast over blocking sockets:
//
//   acceptor thread ──▶ one thread per connection (capped): reads a request with header and
//                       body time limits and the upload cap (chunked bodies too), answers
//                       health, readiness, metrics, models and admin at once, decodes the
//                       upload, and for a transcription hands a Job to the bounded queue
//   worker threads (--parallel), each with its own ThreadPool (--threads): take a Job,
//                       acquire its model from the ModelManager (service/), run a Session,
//                       send text pieces back to the connection thread
//   janitor thread:     model TTL, the RSS alert, the drain after SIGTERM
//
// Health and metrics never wait for a worker. The connection thread watches its socket
// while its job runs: a client that goes away cancels the transcription at the next step
// and frees the worker. A full queue is 503 server_busy, a load longer than --load-wait
// 503 model_loading (both with Retry-After); every error is OpenAI-shaped JSON.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "service/model_manager.h"

namespace qasr {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: pick a free port
  std::string api_key;  // empty: no authentication
  int parallel = 1;     // transcriptions at once
  // Nice value added to the worker threads (and the pool threads they start, which inherit it),
  // so the HTTP threads (/health, /ready, /metrics, uploads) are scheduled first when the
  // transcriptions keep every core busy. 0 leaves them equal.
  int worker_nice = 10;
  int threads = 0;                      // per transcription; 0: cores / parallel
  int queue = 8;                        // requests waiting for a worker
  int64_t max_upload_bytes = 25 << 20;  // OpenAI's 25 MiB
  double max_audio_seconds = 1200;      // longer uploads are refused
  double max_segment_seconds = 1200;    // longer audio is split at quiet points into pieces of at most this
  int max_new_tokens = 0;               // ceiling per request; 0: proportional to the audio
  double request_timeout_s = 0;         // 0: max(120 s, 2.5 × audio duration)
  double rss_alert_mb = 0;              // 0: no alert
  double drain_delay_s = 2;             // /ready is 503 at least this long after SIGTERM
  double drain_timeout_s = 60;          // requests in flight get this long to finish
  double header_timeout_s = 10, body_timeout_s = 120;  // slow clients cannot hold a thread
  double sse_ping_s = 15;                              // keep-alive comments on quiet streams
  int max_connections = 256;
  bool log_json = false;
  std::string aligner;  // name of a forced-aligner model (word timestamps); empty: none
  // Tests only (hidden flag --debug-step-delay-ms): sleep this long at every progress
  // report of a transcription (per encoder layer, prefill layer and 16 decoded tokens), so
  // tests can hold a worker for a known time on a tiny model.
  int debug_step_delay_ms = 0;
  std::string replica_name;  // sent as X-Qasr-Replica on every response (default host:port)
  // Behind a balancer that routes on X-Model or /m/<model>/: a transcription without either
  // gets 400 (after its body is read, so every client sees the answer; HAProxy 2.6 resets a
  // connection it answers itself before the body is in).
  bool require_routing_key = false;
};

class Server {
 public:
  static Expected<std::unique_ptr<Server>> create(const ServerConfig& cfg, std::vector<ModelSpec> models,
                                                  const ManagerConfig& manager);
  ~Server();
  int port() const;
  // Preloads, then serves until a drain completes. Returns Ok after a clean drain.
  Status run();
  // Starts the drain (SIGTERM/SIGINT): /ready 503 at once, no new transcriptions, the
  // requests in flight finish, then run() returns. Safe from any thread.
  void request_drain();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "3G", "512M", "1048576" → bytes; InvalidArgument otherwise.
Expected<int64_t> parse_size(const std::string& s);

}  // namespace qasr
