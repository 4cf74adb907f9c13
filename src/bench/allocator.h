// `--allocator jemalloc|mimalloc` for the benchmarks: re-executes this process with the
// allocator preloaded. The library is named by soname (libjemalloc.so.2, libmimalloc.so.2)
// and found by the dynamic loader's own search path, not a hard-coded folder; the
// re-executed process checks that the loader really preloaded it.
#pragma once

#include <string>

#include "base/status.h"

namespace qasr {

// "glibc": nothing to do (Ok). Otherwise, in the first process: execv()s /proc/self/exe
// with LD_PRELOAD and does not return unless that fails; in the re-executed process
// (QASR_ALLOCATOR_ACTIVE set): Ok if the library is loaded, else an error naming the
// Debian package to install.
Status ensure_allocator(const std::string& allocator, char** argv);

}  // namespace qasr
