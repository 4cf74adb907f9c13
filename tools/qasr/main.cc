// qasr: the command-line entry point. Builds the command tree (one file per command
// group, tools/qasr/cmd_*.cc), runs the chosen command and maps what went wrong to one
// `qasr: error:` line and an exit code (cli.h). No exception leaves main().
#include <csignal>
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#include "base/io.h"
#include "base/mapped_file.h"
#include "base/memory.h"
#include "cli.h"

int main(int argc, char** argv) {
  using namespace qasr::cli;
  qasr::configure_allocator();
  qasr::install_output_cleanup_handlers();
  qasr::install_sigbus_handler(exit_code(qasr::StatusCode::kIoError));
  // A file-size limit (ulimit -f) must fail the write with EFBIG and a message, not kill.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    CLI::App app{"qasr: Qwen3-ASR speech recognition on CPU"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("qasr ") + QASR_VERSION);
    Commands cmds;
    add_transcribe_commands(app, cmds);
    add_align_commands(app, cmds);
    add_model_commands(app, cmds);
    add_text_commands(app, cmds);
    add_bench_commands(app, cmds, argv);
    add_serve_commands(app, cmds);
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      fail(qasr::InvalidArgument(std::string(e.what()) + " (see qasr --help)"));
      return kExitUsage;
    }
    for (const Command& c : cmds) {
      if (!c.app->parsed()) continue;
      const int rc = c.run();
      if (!out_ok() && rc == 0) return fail(qasr::IoError("cannot write to standard output"));
      return rc;
    }
    return kExitUsage;
  } catch (const std::bad_alloc&) {
    return fail(qasr::ResourceExhausted("out of memory"));
  } catch (const std::exception& e) {
    return fail(qasr::Internal(std::string("unexpected: ") + e.what()));
  } catch (...) {
    return fail(qasr::Internal("unexpected exception"));
  }
}
