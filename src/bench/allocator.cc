#include "bench/allocator.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

namespace qasr {

Status ensure_allocator(const std::string& allocator, char** argv) {
  if (allocator == "glibc") return Status::Ok();
  const char* soname = allocator == "jemalloc"   ? "libjemalloc.so.2"
                       : allocator == "mimalloc" ? "libmimalloc.so.2"
                                                 : nullptr;
  if (!soname) return InvalidArgument(fmt::format("unknown --allocator '{}' (glibc, jemalloc, mimalloc)", allocator));
  const char* package = allocator == "jemalloc" ? "libjemalloc2" : "libmimalloc2.0";
  if (const char* active = std::getenv("QASR_ALLOCATOR_ACTIVE"); active && allocator == active) {
    // RTLD_NOLOAD: only asks whether it is already mapped (preloaded), loads nothing.
    if (void* h = ::dlopen(soname, RTLD_LAZY | RTLD_NOLOAD)) {
      ::dlclose(h);
      return Status::Ok();
    }
    return NotFound(fmt::format("--allocator {}: the dynamic loader could not preload {} (install Debian's {})",
                                allocator, soname, package));
  }
  ::setenv("LD_PRELOAD", soname, 1);
  ::setenv("QASR_ALLOCATOR_ACTIVE", allocator.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  return errno_status(errno, fmt::format("cannot re-execute with {} preloaded", soname));
}

}  // namespace qasr
