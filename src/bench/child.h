// A forked child process that reports back through a pipe, one JSON object per line.
// The benchmarks run engines this way so that a process's peak memory is its own and a
// crashing engine (chatllm.cpp aborts on unload unless patched) cannot take qasr with it.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace qasr {

// Runs child(fd) in a forked process; it writes lines to fd (send_json_line) and must
// end with _exit (a return is turned into _exit(127)). The parent calls on_line with
// each line as it arrives, then reaps the child. Returns the waitpid status.
Expected<int> run_in_child(const std::function<void(int fd)>& child,
                           const std::function<void(const std::string& line)>& on_line);

// Writes j as one line to fd, whole (retried on short writes). For use in the child.
void send_json_line(int fd, const nlohmann::json& j);

}  // namespace qasr
