// `qasr bench leak-check`: load → transcribe → unload cycles under valgrind memcheck,
// and the reading of its report. valgrind is started with an argument vector
// (posix_spawnp; no shell), so no path can be taken for a command.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace qasr {

struct LeakReport {
  long long definitely_bytes = 0, definitely_blocks = 0, indirectly_bytes = 0, indirectly_blocks = 0;
  long long possibly_bytes = 0, possibly_blocks = 0, reachable_bytes = 0, reachable_blocks = 0;
  int exit_code = 0;     // of the program valgrind ran
  std::string log_path;  // valgrind's full report
};

// Reads the LEAK SUMMARY (or "All heap blocks were freed") of a memcheck log.
Expected<LeakReport> parse_memcheck_log(const std::string& text);

// Runs `self` (this qasr binary) as `self bench cycles --model M... --audio A --cycles N
// --max-new-tokens T` under valgrind. The report is written under `work_dir`.
Expected<LeakReport> run_leak_check(const std::string& self, const std::vector<std::string>& models,
                                    const std::string& audio, int cycles, int max_new_tokens,
                                    const std::string& work_dir);

// Spawns argv[0] (searched on PATH) with the arguments as given and waits for it.
// Returns its exit status (128 + signal when killed); NotFound if it cannot be started.
Expected<int> spawn_and_wait(const std::vector<std::string>& argv);

}  // namespace qasr
