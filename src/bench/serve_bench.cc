#include "bench/serve_bench.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "audio/audio.h"
#include "base/clock.h"
#include "base/io.h"
#include "base/json.h"
#include "base/memory.h"
#include "bench/stats.h"
#include "bench/switch_bench.h"

extern char** environ;

namespace qasr {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;
constexpr double kMiB = 1048576.0;

struct Url {
  std::string host, port, prefix;
};

Expected<Url> parse_url(const std::string& u) {
  if (u.rfind("http://", 0) != 0) return InvalidArgument(fmt::format("--url '{}': only http:// URLs", u));
  std::string rest = u.substr(7);
  const size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  Url r;
  r.prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!r.prefix.empty() && r.prefix.back() == '/') r.prefix.pop_back();
  const size_t colon = hostport.rfind(':');
  r.host = hostport.substr(0, colon);
  r.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  if (r.host.empty()) return InvalidArgument(fmt::format("--url '{}' has no host", u));
  return r;
}

struct Reply {
  int status = 0;
  std::string body, replica, error;
  double latency_ms = 0, first_byte_ms = -1;
};

// One HTTP/1.1 request on a fresh connection (bounded by `timeout_s`).
Reply http_call(const Url& url, http::verb method, const std::string& target, const std::string& content_type,
                const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
                double timeout_s) {
  Reply out;
  const double t0 = now_ms();
  try {
    net::io_context io;
    tcp::resolver res(io);
    beast::tcp_stream s(io);
    s.expires_after(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
    s.connect(res.resolve(url.host, url.port));
    http::request<http::string_body> req{method, url.prefix + target, 11};
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "qasr-bench-serve");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(false);
    http::write(s, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(size_t{64} << 20);
    while (!p.is_done()) {
      http::read_some(s, buf, p);
      if (out.first_byte_ms < 0 && p.is_header_done() && !p.get().body().empty()) out.first_byte_ms = now_ms() - t0;
    }
    out.status = static_cast<int>(p.get().result_int());
    out.body = std::move(p.get().body());
    if (auto it = p.get().find("x-qasr-replica"); it != p.get().end()) out.replica = std::string(it->value());
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  out.latency_ms = now_ms() - t0;
  return out;
}

std::string multipart_body(const std::string& boundary, const std::string& audio, const std::string& filename,
                           const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string b;
  b.reserve(audio.size() + 512);
  b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
  b.append(filename).append("\"\r\nContent-Type: application/octet-stream\r\n\r\n").append(audio).append("\r\n");
  for (const auto& [k, v] : fields) {
    b.append("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"").append(k);
    b.append("\"\r\n\r\n").append(v).append("\r\n");
  }
  b.append("--").append(boundary).append("--\r\n");
  return b;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - i;
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

json dist(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  return {{"n", v.size()},
          {"p50", percentile(v, 0.5)},
          {"p95", percentile(v, 0.95)},
          {"p99", percentile(v, 0.99)},
          {"max", *std::max_element(v.begin(), v.end())}};
}

// Sums of the counters `name` in a /metrics text, by the value of label `by`.
std::map<std::string, double> counters(const std::string& text, const std::string& name, const std::string& by) {
  std::map<std::string, double> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    const std::string line = text.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? text.size() : eol + 1;
    if (line.rfind(name + "{", 0) != 0) continue;
    const size_t k = line.find(by + "=\"");
    const std::string label =
        k == std::string::npos ? ""
                               : line.substr(k + by.size() + 2, line.find('"', k + by.size() + 2) - k - by.size() - 2);
    out[label] += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return out;
}

// A `qasr serve` child: started with --port 0, its port read from its first stdout line.
struct Child {
  pid_t pid = -1;
  int port = 0;
  std::string log;
};

Expected<Child> start_server(const ServeBenchConfig& c) {
  QASR_RETURN_IF_ERROR(make_dirs(c.work_dir));
  Child ch;
  ch.log = c.work_dir + "/server.log";
  std::vector<std::string> args = {c.self, "serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"};
  args.insert(args.end(), c.server_args.begin(), c.server_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errno_status(errno, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, ch.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = ::posix_spawn(&ch.pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return errno_status(rc, fmt::format("cannot start '{}'", c.self));
  }
  std::string line;
  const double until = now_ms() + 120000;
  while (line.find('\n') == std::string::npos && now_ms() < until) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  const size_t colon = line.rfind(':');
  if (line.find("listening on") == std::string::npos || colon == std::string::npos) {
    ::kill(ch.pid, SIGKILL);
    ::waitpid(ch.pid, nullptr, 0);
    return Unavailable(fmt::format("qasr serve did not start (see {})", ch.log));
  }
  ch.port = std::atoi(line.c_str() + colon + 1);
  return ch;
}

int stop_server(const Child& ch) {
  ::kill(ch.pid, SIGTERM);
  const double until = now_ms() + 90000;
  int status = 0;
  while (now_ms() < until) {
    const pid_t r = ::waitpid(ch.pid, &status, WNOHANG);
    if (r == ch.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(ch.pid, SIGKILL);
  ::waitpid(ch.pid, &status, 0);
  return 137;
}

// The server's token ceiling for a clip of `audio_s` seconds (its --max-new-tokens if given,
// else 32 + 25 per second, as qasr serve computes it), so the CLI does the same work.
int server_token_ceiling(const ServeBenchConfig& c, double audio_s) {
  int ceiling = static_cast<int>(std::ceil(32 + 25 * audio_s));
  for (size_t i = 0; i + 1 < c.server_args.size(); ++i)
    if (c.server_args[i] == "--max-new-tokens") {
      const std::string& v = c.server_args[i + 1];
      int given = 0;
      if (std::from_chars(v.data(), v.data() + v.size(), given).ec == std::errc()) ceiling = std::min(ceiling, given);
    }
  return std::clamp(ceiling, 1, 65536);
}

// Runs `self transcribe --json` of the clip `n` times with the server's token ceiling; the
// medians of its total (audio decode to the last token) and of its load, in ms.
Expected<json> time_cli(const ServeBenchConfig& c, int n, double audio_s) {
  std::vector<double> totals;
  for (int i = 0; i < n; ++i) {
    const std::string out = c.work_dir + "/cli.json";
    std::vector<std::string> args = {
        c.self,   "transcribe", "--model",          c.compare_cli_model,
        "--json", c.audio,      "--max-new-tokens", std::to_string(server_token_ceiling(c, audio_s))};
    if (c.threads > 0) args.insert(args.end(), {"--threads", std::to_string(c.threads)});
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return errno_status(rc, "cannot start qasr transcribe");
    int st = 0;
    ::waitpid(pid, &st, 0);
    QASR_ASSIGN_OR_RETURN(std::string text, read_file(out));
    QASR_ASSIGN_OR_RETURN(json j, parse_json(text, "qasr transcribe --json"));
    if (!j.contains("timings_ms")) return Internal("qasr transcribe gave no timings");
    totals.push_back(j["timings_ms"].value("total", 0.0));
  }
  return json{{"runs", n}, {"total_ms", dist(totals)}};
}

}  // namespace

Expected<json> run_serve_bench(const ServeBenchConfig& c) {
  if (c.models.empty()) return InvalidArgument("bench serve: give at least one --model NAME for the request mix");
  if (c.requests <= 0 && c.duration_s <= 0) return InvalidArgument("bench serve: give --requests N or --duration S");
  if (c.clients < 1 || c.clients > 1024) return InvalidArgument("bench serve: --clients must be in [1, 1024]");
  QASR_ASSIGN_OR_RETURN(std::string audio, read_file(c.audio, size_t{64} << 20));
  QASR_ASSIGN_OR_RETURN(Pcm16k pcm, load_audio_file(c.audio));
  const double audio_s = pcm.seconds();
  QASR_RETURN_IF_ERROR(make_dirs(c.work_dir));
  Child child;
  Url url;
  if (c.url.empty()) {
    QASR_ASSIGN_OR_RETURN(child, start_server(c));
    url = {"127.0.0.1", std::to_string(child.port), ""};
  } else {
    QASR_ASSIGN_OR_RETURN(url, parse_url(c.url));
  }
  // Wait for readiness (preloads) at most two minutes.
  for (double until = now_ms() + 120000; now_ms() < until;) {
    if (http_call(url, http::verb::get, "/ready", "", "", {}, 5).status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<Url> replicas;
  for (const std::string& r : c.replica_urls) {
    QASR_ASSIGN_OR_RETURN(Url u, parse_url(r));
    replicas.push_back(u);
  }
  if (replicas.empty() && c.url.empty()) replicas.push_back(url);
  auto scrape = [&] {
    json m = json::object();
    for (size_t i = 0; i < replicas.size(); ++i) {
      const Reply r = http_call(replicas[i], http::verb::get, "/metrics", "", "", {}, 10);
      m[c.replica_urls.empty() ? "server" : c.replica_urls[i]] = r.body;
    }
    return m;
  };
  const json metrics_before = scrape();

  std::vector<std::pair<std::string, std::string>> auth;
  if (!c.api_key.empty()) auth.emplace_back("Authorization", "Bearer " + c.api_key);
  std::atomic<bool> running{true};
  // Memory of the server process, sampled from /proc by pid.
  std::vector<json> timeline;
  std::thread sampler([&] {
    const double t0 = now_ms();
    while (running && child.pid > 0) {
      MemoryProbe m;
      if (read_memory_of(child.pid, &m))
        timeline.push_back({{"t_s", (now_ms() - t0) / 1000.0},
                            {"rss_anon_mb", m.rss_anon / kMiB},
                            {"rss_file_mb", m.rss_file / kMiB},
                            {"rss_mb", m.rss / kMiB}});
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(c.sample_interval_s * 1000)));
    }
  });
  std::vector<double> health_ms;
  std::thread prober([&] {
    while (running) {
      const Reply r = http_call(url, http::verb::get, "/health", "", "", auth, 10);
      if (r.status == 200) health_ms.push_back(r.latency_ms);
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(c.health_interval_s * 1000)));
    }
  });

  std::mutex mu;
  std::vector<json> results;
  std::atomic<int> issued{0};
  const double t_start = now_ms();
  const double t_stop = c.duration_s > 0 ? t_start + c.duration_s * 1000 : 0;
  // Bounded whatever the server does: at most 600 s per request.
  const double hard_stop = t_start + 1000.0 * (c.duration_s > 0 ? c.duration_s + 600 : 600.0 * std::max(1, c.requests));
  std::vector<std::thread> clients;
  clients.reserve(static_cast<size_t>(c.clients));
  for (int ci = 0; ci < c.clients; ++ci)
    clients.emplace_back([&, ci] {
      for (int k = 0;; ++k) {
        if (c.requests > 0 && issued.fetch_add(1) >= c.requests) return;
        if (t_stop > 0 && now_ms() >= t_stop) return;
        if (now_ms() >= hard_stop) return;
        const std::string& model = c.models[(static_cast<size_t>(ci) + k) % c.models.size()];
        std::vector<std::pair<std::string, std::string>> fields = {{"model", model},
                                                                   {"response_format", c.response_format}};
        if (c.stream) fields.emplace_back("stream", "true");
        const std::string boundary = fmt::format("qasrbench{}x{}", ci, k);
        auto headers = auth;
        if (c.model_header) headers.emplace_back("X-Model", model);
        const double t_req = (now_ms() - t_start) / 1000.0;
        const Reply r =
            http_call(url, http::verb::post, "/v1/audio/transcriptions", "multipart/form-data; boundary=" + boundary,
                      multipart_body(boundary, audio, "audio.wav", fields), headers, 600);
        json rec = {
            {"t_s", t_req},        {"client", ci}, {"model", model}, {"status", r.status}, {"latency_ms", r.latency_ms},
            {"replica", r.replica}};
        if (c.stream && r.first_byte_ms >= 0) rec["ttft_ms"] = r.first_byte_ms;
        if (!r.error.empty()) rec["error"] = r.error;
        if (r.status != 200 && r.status != 0) {
          auto e = parse_json(r.body, "error body");
          rec["error_code"] = e.ok() && e->contains("error") && (*e)["error"].is_object() &&
                                      (*e)["error"].contains("code") && (*e)["error"]["code"].is_string()
                                  ? (*e)["error"]["code"].get<std::string>()
                                  : std::string("?");
        }
        std::lock_guard<std::mutex> lk(mu);
        results.push_back(rec);
      }
    });
  for (std::thread& t : clients) t.join();
  const double wall_s = (now_ms() - t_start) / 1000.0;
  const json metrics_after = scrape();

  // The server overhead over `qasr transcribe`: one client, the first model, same threads.
  json compare = nullptr;
  if (!c.compare_cli_model.empty()) {
    std::vector<double> server_ms;
    for (int i = 0; i < 6; ++i) {
      const std::string boundary = fmt::format("qasrcmp{}", i);
      const Reply r =
          http_call(url, http::verb::post, "/v1/audio/transcriptions", "multipart/form-data; boundary=" + boundary,
                    multipart_body(boundary, audio, "audio.wav", {{"model", c.models[0]}}), auth, 600);
      if (r.status == 200 && i > 0) server_ms.push_back(r.latency_ms);  // the first warms the model
    }
    auto cli = time_cli(c, 5, audio_s);
    if (!cli.ok()) return cli.status();
    compare = {{"server_latency_ms", dist(server_ms)}, {"cli", *cli}};
    if (!server_ms.empty() && (*cli)["total_ms"].is_object())
      compare["overhead"] = percentile(server_ms, 0.5) / (*cli)["total_ms"]["p50"].get<double>() - 1.0;
  }
  running = false;
  prober.join();
  int server_exit = -1;
  if (child.pid > 0) server_exit = stop_server(child);
  sampler.join();

  // ---- summary ----
  json per_model = json::object(), errors = json::object();
  int ok = 0;
  std::vector<double> all_lat;
  std::map<std::string, std::vector<double>> lat, ttft;
  std::map<std::string, int> by_replica;
  std::map<std::string, std::map<std::string, int>> by_model_replica;  // model → replica → requests
  for (const json& r : results) {
    const std::string m = r["model"];
    if (r["status"] == 200) {
      ++ok;
      lat[m].push_back(r["latency_ms"]);
      all_lat.push_back(r["latency_ms"]);
      if (r.contains("ttft_ms")) ttft[m].push_back(r["ttft_ms"]);
    } else {
      const std::string kind = r["status"] == 0
                                   ? "connection: " + r.value("error", std::string("?"))
                                   : fmt::format("{} {}", r["status"].get<int>(), r.value("error_code", ""));
      errors[kind] = errors.value(kind, 0) + 1;
    }
    by_replica[r.value("replica", std::string(""))]++;
    if (r["status"] == 200) by_model_replica[m][r.value("replica", std::string("(no header)"))]++;
  }
  // Server-side TTFT, per-request: from its log when this run started it.
  std::vector<json> events;
  if (child.pid > 0) {
    std::ifstream log(child.log);
    std::string line;
    while (std::getline(log, line)) {
      auto j = parse_json(line, "server log");
      if (!j.ok() || !j->is_object() || !j->contains("msg")) continue;
      const std::string msg = (*j)["msg"].is_string() ? (*j)["msg"].get<std::string>() : "";
      if (msg == "request" && j->contains("ttft_ms") && (*j)["status"] == 200 && !c.stream)
        ttft[(*j)["model"].get<std::string>()].push_back((*j)["ttft_ms"]);
      if (msg == "model loaded" || msg == "model unloaded") events.push_back(*j);
    }
  }
  for (const auto& [m, v] : lat) per_model[m] = {{"ok", v.size()}, {"latency_ms", dist(v)}, {"ttft_ms", dist(ttft[m])}};
  // Loads and evictions per replica, from the counters before and after.
  json replicas_json = json::object();
  for (auto& [name, after] : metrics_after.items()) {
    const std::string before = metrics_before.contains(name) ? metrics_before[name].get<std::string>() : "";
    auto loads_a = counters(after.get<std::string>(), "qasr_model_loads_total", "model");
    auto loads_b = counters(before, "qasr_model_loads_total", "model");
    auto ev_a = counters(after.get<std::string>(), "qasr_model_unloads_total", "model");
    auto ev_b = counters(before, "qasr_model_unloads_total", "model");
    json rj = {{"loads", json::object()}, {"unloads", json::object()}};
    for (auto& [m, v] : loads_a) rj["loads"][m] = v - loads_b[m];
    for (auto& [m, v] : ev_a) rj["unloads"][m] = v - ev_b[m];
    replicas_json[name] = rj;
  }
  // The memory verdict: RssAnon after each unload (the same series bench switch judges),
  // and each unload against the RssAnon before that model's load.
  std::vector<double> after_unload;
  std::map<std::string, double> anon_before_load;
  int checked = 0, over = 0;
  double worst = 0;
  for (const json& e : events) {
    const std::string m = e.value("model", "");
    if (e["msg"] == "model loaded") anon_before_load[m] = e.value("rss_anon_before_mb", 0.0);
    if (e["msg"] == "model unloaded" && e.value("reason", "") != "shutdown") {
      const double a = e.value("rss_anon_after_mb", 0.0);
      after_unload.push_back(a);
      if (anon_before_load.count(m)) {
        ++checked;
        const double d = a - anon_before_load[m];
        worst = std::max(worst, d);
        if (d > 2.0) ++over;
      }
    }
  }
  json memory = {{"samples", timeline.size()}, {"unloads", after_unload.size()}};
  if (!after_unload.empty()) {
    const int warm = std::min<int>(static_cast<int>(after_unload.size()) / 5, 3);
    const Slope sl = fit_slope(std::vector<double>(after_unload.begin() + warm, after_unload.end()));
    const Verdict v = judge(sl, after_unload.back() - after_unload.front());
    memory["slope_mb_per_unload"] = sl.slope;
    memory["slope_ci95"] = {sl.ci_low, sl.ci_high};
    memory["verdict"] = v.verdict;
    memory["evidence"] = v.evidence;
    memory["unloads_checked"] = checked;
    memory["unloads_over_2mb"] = over;
    memory["worst_unload_vs_before_load_mb"] = worst;
  }
  double peak = 0;
  for (const json& s : timeline) peak = std::max(peak, s["rss_mb"].get<double>());
  memory["peak_rss_mb"] = peak;
  json by_rep = json::object();
  for (const auto& [r, n] : by_replica) by_rep[r.empty() ? "(no header)" : r] = n;
  return json{{"config",
               {{"url", c.url},
                {"server_args", c.server_args},
                {"models", c.models},
                {"audio", c.audio},
                {"audio_seconds", audio_s},
                {"clients", c.clients},
                {"requests", c.requests},
                {"duration_s", c.duration_s},
                {"response_format", c.response_format},
                {"stream", c.stream},
                {"machine", machine_description()}}},
              {"summary",
               {{"requests", results.size()},
                {"ok", ok},
                {"wall_s", wall_s},
                {"requests_per_s", ok / std::max(wall_s, 1e-9)},
                {"audio_seconds_per_s", ok * audio_s / std::max(wall_s, 1e-9)},
                {"latency_ms", dist(all_lat)},
                {"per_model", per_model},
                {"errors", errors},
                {"health_ms", dist(health_ms)},
                {"replicas", replicas_json},
                {"served_by", by_rep},
                {"served_by_model", by_model_replica},
                {"memory", memory},
                {"cli_comparison", compare},
                {"server_exit", server_exit}}},
              {"requests", results},
              {"events", events},
              {"timeline", timeline}};
}

std::string format_serve_summary(const json& r) {
  const json& s = r["summary"];
  std::string o = fmt::format(
      "qasr bench serve: {} requests ({} ok) from {} clients in {:.1f} s: {:.2f} requests/s, "
      "{:.1f} audio s/s\n",
      s["requests"].get<size_t>(), s["ok"].get<int>(), r["config"]["clients"].get<int>(), s["wall_s"].get<double>(),
      s["requests_per_s"].get<double>(), s["audio_seconds_per_s"].get<double>());
  auto d = [](const json& x) {
    return x.is_object() ? fmt::format("p50 {:.0f} / p95 {:.0f} / p99 {:.0f} ms (n {})", x["p50"].get<double>(),
                                       x["p95"].get<double>(), x["p99"].get<double>(), x["n"].get<size_t>())
                         : std::string("n/a");
  };
  o += "latency (all): " + d(s["latency_ms"]) + "\n";
  for (const auto& [m, v] : s["per_model"].items())
    o += fmt::format("  {}: latency {}; time to first token {}\n", m, d(v["latency_ms"]), d(v["ttft_ms"]));
  o += "/health while loaded: " + d(s["health_ms"]) + "\n";
  o += "errors: " + (s["errors"].empty() ? std::string("none") : dump_json(s["errors"])) + "\n";
  o += "served by: " + dump_json(s["served_by"]) + "\n";
  if (s.contains("served_by_model"))
    for (const auto& [m, v] : s["served_by_model"].items()) o += fmt::format("  {}: {}\n", m, dump_json(v));
  for (const auto& [name, rep] : s["replicas"].items())
    o += fmt::format("{}: loads {}, unloads {}\n", name, dump_json(rep["loads"]), dump_json(rep["unloads"]));
  const json& m = s["memory"];
  o +=
      fmt::format("server memory: peak RSS {:.0f} MiB, {} samples", m.value("peak_rss_mb", 0.0), m.value("samples", 0));
  if (m.contains("verdict"))
    o += fmt::format(
        "; RssAnon after {} unloads: slope {:+.4f} MiB/unload, verdict {}; unloads more than 2 MiB above "
        "the level before that model's load: {} of {} (worst {:+.2f} MiB)",
        m["unloads"].get<size_t>(), m["slope_mb_per_unload"].get<double>(), m["verdict"].get<std::string>(),
        m["unloads_over_2mb"].get<int>(), m["unloads_checked"].get<int>(),
        m["worst_unload_vs_before_load_mb"].get<double>());
  o += "\n";
  if (s["cli_comparison"].is_object() && s["cli_comparison"].contains("overhead"))
    o += fmt::format(
        "server overhead over qasr transcribe of the same clip: {:+.1f}% (median server request {:.0f} ms, "
        "median CLI transcription {:.0f} ms)\n",
        100 * s["cli_comparison"]["overhead"].get<double>(),
        s["cli_comparison"]["server_latency_ms"]["p50"].get<double>(),
        s["cli_comparison"]["cli"]["total_ms"]["p50"].get<double>());
  return o;
}

std::string render_serve_report(const json& r) {
  std::string pts_a, pts_f;
  double tmax = 1, ymax = 1;
  for (const json& s : r["timeline"]) {
    tmax = std::max(tmax, s["t_s"].get<double>());
    ymax = std::max({ymax, s["rss_anon_mb"].get<double>(), s["rss_file_mb"].get<double>()});
  }
  ymax *= 1.1;
  const double W = 960, H = 320, L = 60, T = 20, B = 40, R = 20;
  for (const json& s : r["timeline"]) {
    const double x = L + (W - L - R) * s["t_s"].get<double>() / tmax;
    pts_a += fmt::format("{:.1f},{:.1f} ", x, T + (H - T - B) * (1 - s["rss_anon_mb"].get<double>() / ymax));
    pts_f += fmt::format("{:.1f},{:.1f} ", x, T + (H - T - B) * (1 - s["rss_file_mb"].get<double>() / ymax));
  }
  std::string svg = fmt::format(
      R"(<svg id="memory-chart" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}"><rect width="{0}" height="{1}" fill="#fff"/>)"
      R"(<polyline points="{2}" fill="none" stroke="#1f77b4" stroke-width="2"/><polyline points="{3}" fill="none" stroke="#d62728" stroke-dasharray="4 3"/>)"
      R"(<text x="{4}" y="14" font-size="12">RssAnon (solid) and RssFile (dashed) of the server, MiB; max {5:.0f}; over {6:.0f} s</text></svg>)",
      W, H, pts_a, pts_f, L, ymax, tmax);
  std::string summary = format_serve_summary(r);
  std::string esc;
  for (char ch : summary)
    esc += ch == '<' ? std::string("&lt;") : ch == '&' ? std::string("&amp;") : std::string(1, ch);
  return "<!doctype html><html><head><meta charset=\"utf-8\"><title>qasr bench serve</title></head><body "
         "style=\"font-family:sans-serif\"><h1>qasr bench serve</h1><pre>" +
         esc + "</pre><h2>Server memory</h2>" + svg + "</body></html>\n";
}

}  // namespace qasr
