#include "bench/child.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace qasr {

Expected<int> run_in_child(const std::function<void(int fd)>& child,
                           const std::function<void(const std::string& line)>& on_line) {
  int fds[2];
  if (pipe(fds) != 0) return Internal("cannot create a pipe");
  // Buffered output would otherwise be written twice, once by each process.
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Internal("cannot fork a child process");
  }
  if (pid == 0) {
    close(fds[0]);
    child(fds[1]);
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  while (in && (n = getline(&line, &cap, in)) > 0) on_line(std::string(line, static_cast<size_t>(n)));
  std::free(line);
  if (in)
    std::fclose(in);
  else
    close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

void send_json_line(int fd, const nlohmann::json& j) {
  const std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace qasr
