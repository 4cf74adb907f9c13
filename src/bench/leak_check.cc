#include "bench/leak_check.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "base/io.h"

extern char** environ;

namespace qasr {

Expected<int> spawn_and_wait(const std::vector<std::string>& args) {
  if (args.empty()) return InvalidArgument("nothing to run");
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    if (rc == ENOENT) return NotFound(fmt::format("'{}' is not installed (not found on PATH)", args[0]));
    return errno_status(rc, fmt::format("cannot start '{}'", args[0]));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return errno_status(errno, fmt::format("waiting for '{}'", args[0]));
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

Expected<LeakReport> parse_memcheck_log(const std::string& text) {
  LeakReport r;
  auto grab = [&](const std::string& what, long long* bytes, long long* blocks) {
    *bytes = *blocks = 0;
    const size_t p = text.rfind(what + ":");
    if (p == std::string::npos) return false;
    const size_t eol = text.find('\n', p);
    const std::string line = text.substr(p, (eol == std::string::npos ? text.size() : eol) - p);
    std::string digits;
    for (char ch : line)
      if (ch != ',') digits.push_back(ch);
    return std::sscanf(digits.c_str() + what.size() + 1, " %lld bytes in %lld blocks", bytes, blocks) == 2;
  };
  const bool summary = grab("definitely lost", &r.definitely_bytes, &r.definitely_blocks);
  grab("indirectly lost", &r.indirectly_bytes, &r.indirectly_blocks);
  grab("possibly lost", &r.possibly_bytes, &r.possibly_blocks);
  grab("still reachable", &r.reachable_bytes, &r.reachable_blocks);
  const bool all_freed = text.find("All heap blocks were freed") != std::string::npos;
  if (!summary && !all_freed) return InvalidFormat("valgrind's report has no leak summary (did the program run?)");
  return r;
}

Expected<LeakReport> run_leak_check(const std::string& self, const std::vector<std::string>& models,
                                    const std::string& audio, int cycles, int max_new_tokens,
                                    const std::string& work_dir) {
  QASR_RETURN_IF_ERROR(make_dirs(work_dir));
  const std::string log = work_dir + "/memcheck.log";
  ::unlink(log.c_str());
  std::vector<std::string> argv = {"valgrind",
                                   "--tool=memcheck",
                                   "--leak-check=full",
                                   "--show-leak-kinds=all",
                                   "--num-callers=30",
                                   "--log-file=" + log,
                                   self,
                                   "bench",
                                   "cycles",
                                   "--audio",
                                   audio,
                                   "--cycles",
                                   std::to_string(cycles),
                                   "--max-new-tokens",
                                   std::to_string(max_new_tokens)};
  for (const std::string& m : models) argv.insert(argv.end(), {"--model", m});
  QASR_ASSIGN_OR_RETURN(const int rc, spawn_and_wait(argv));
  auto text = read_file(log, size_t{256} << 20);
  if (!text.ok()) return IoError(fmt::format("valgrind wrote no report at '{}' (exit {}): {}", log, rc, text.error()));
  QASR_ASSIGN_OR_RETURN(LeakReport r, parse_memcheck_log(*text));
  r.exit_code = rc;
  r.log_path = log;
  return r;
}

}  // namespace qasr
