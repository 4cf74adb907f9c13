#include "cli.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "base/thread_pool.h"
#include "base/utf8.h"
#include "text/languages.h"

namespace qasr::cli {
namespace {
bool g_out_failed = false;
}  // namespace

int exit_code(StatusCode c) {
  if (c == StatusCode::kOk) return 0;
  if (c == StatusCode::kInternal) return kExitInternal;
  return 2 + static_cast<int>(c);
}

std::string printable(std::string_view s) {
  const std::string valid = utf8::repair(s);
  std::string o;
  o.reserve(valid.size());
  for (unsigned char c : valid) {
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      o += fmt::format("\\x{:02x}", c);
    else
      o.push_back(static_cast<char>(c));
  }
  return o;
}

int fail(const Status& s) {
  std::fprintf(stderr, "qasr: error: %s\n", printable(s.message()).c_str());
  std::fflush(stderr);
  return exit_code(s.code());
}

void out(std::string_view s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) g_out_failed = true;
}

bool out_ok() {
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) g_out_failed = true;
  return !g_out_failed;
}

Expected<std::string> canonical_language(const std::string& given) {
  if (given.empty()) return std::string();
  auto l = resolve_language(given);
  if (!l)
    return InvalidArgument(fmt::format("unknown language '{}'; supported: {}", given, supported_languages_list()));
  return *l;
}

int threads_or_default(int requested) {
  return requested > 0 ? requested : default_thread_count();
}

CLI::Option* add_threads_option(CLI::App* app, int* threads, const std::string& help) {
  return app->add_option("--threads", *threads, help)->check(CLI::Range(1, 1024));
}

CLI::Validator finite_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        char* end = nullptr;
        const double d = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !std::isfinite(d) || d < lo || d > hi)
          return fmt::format("'{}' is not a number in [{}, {}]", v, lo, hi);
        return "";
      },
      fmt::format("NUMBER in [{}, {}]", lo, hi));
}

Progress::Progress(bool enabled) : enabled_(enabled), tty_(::isatty(2) != 0) {}

void Progress::update(const std::string& line) {
  if (!enabled_) return;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    dirty_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::done() {
  if (dirty_) std::fprintf(stderr, "\n");
  dirty_ = false;
}

void ProgressFlags::add_to(CLI::App* app) {
  app->add_flag("--progress", progress, "show progress on stderr even when it is not a terminal");
  app->add_flag("--quiet", quiet, "no progress on stderr");
}

bool ProgressFlags::enabled() const {
  return !quiet && (progress || ::isatty(2) != 0);
}

}  // namespace qasr::cli
