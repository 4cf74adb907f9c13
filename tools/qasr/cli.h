// What every qasr command shares: the one-line error channel and its exit codes, the
// checked standard output, --language resolution, thread counts, progress on stderr.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/status.h"

namespace qasr::cli {

// Exit codes (README "Exit codes"): 0 success, 1 internal error, 2 usage error, and
// 2 + StatusCode for the other kinds: 3 invalid argument, 4 not found, 5 invalid format,
// 6 unsupported, 7 too large, 8 cancelled, 9 deadline exceeded, 10 unavailable,
// 11 resource exhausted, 12 I/O error.
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
int exit_code(StatusCode c);

// Prints "qasr: error: MESSAGE" on one line (control characters escaped, so user input
// cannot drive the terminal) and returns the exit code of the status.
int fail(const Status& s);

// Text for a terminal: control characters other than tab as \xNN, invalid UTF-8 repaired.
std::string printable(std::string_view s);

// Standard output, checked: writes that fail (a closed pipe, /dev/full) turn the exit
// status into an I/O error (main() checks out_ok() after the command).
void out(std::string_view s);
bool out_ok();

// A --language value (name or ISO code) → its canonical name; empty stays empty.
Expected<std::string> canonical_language(const std::string& given);

// Threads for a command: `requested` if > 0, else $QASR_THREADS, $INFERENCE_THREADS, or
// the number of cores (base/thread_pool.h default_thread_count()).
int threads_or_default(int requested);
// Adds --threads with its range check ([1, 1024]).
CLI::Option* add_threads_option(CLI::App* app, int* threads, const std::string& help);

// A CLI11 check that a number is finite and inside [lo, hi] (CLI::Range lets NaN through).
CLI::Validator finite_range(double lo, double hi);

// Progress lines on stderr: rewritten in place on a terminal, one line each otherwise;
// silent when disabled (--quiet, or not a terminal without --progress).
class Progress {
 public:
  explicit Progress(bool enabled);
  void update(const std::string& line);
  void done();  // ends an in-place line
  bool enabled() const { return enabled_; }

 private:
  bool enabled_, tty_;
  bool dirty_ = false;
};
// --progress / --quiet on a command; `enabled()` resolves them (default: stderr is a terminal).
struct ProgressFlags {
  bool progress = false, quiet = false;
  void add_to(CLI::App* app);
  bool enabled() const;
};

// A command: its subcommand and what runs when it was given.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};
using Commands = std::vector<Command>;

// Command groups (one file each).
void add_transcribe_commands(CLI::App& app, Commands& cmds);
void add_model_commands(CLI::App& app, Commands& cmds);
void add_text_commands(CLI::App& app, Commands& cmds);
void add_bench_commands(CLI::App& app, Commands& cmds, char** argv);
void add_serve_commands(CLI::App& app, Commands& cmds);
void add_align_commands(CLI::App& app, Commands& cmds);

}  // namespace qasr::cli
