#include "base/memory.h"

#include <malloc.h>

#include <cstdio>
#include <cstring>

namespace qasr {
namespace {

// Reads "Key:   1234 kB" lines from a /proc file.
void scan(const char* path, MemoryProbe& m, bool rollup) {
  FILE* f = std::fopen(path, "r");
  if (!f) return;
  char line[256];
  while (std::fgets(line, sizeof line, f)) {
    char key[64];
    long long kb;
    if (std::sscanf(line, "%63[^:]: %lld kB", key, &kb) != 2) continue;
    const int64_t b = static_cast<int64_t>(kb) * 1024;
    if (rollup) {
      if (!std::strcmp(key, "Pss")) m.pss = b;
    } else if (!std::strcmp(key, "VmRSS"))
      m.rss = b;
    else if (!std::strcmp(key, "RssAnon"))
      m.rss_anon = b;
    else if (!std::strcmp(key, "RssFile"))
      m.rss_file = b;
    else if (!std::strcmp(key, "RssShmem"))
      m.rss_shmem = b;
    else if (!std::strcmp(key, "VmSwap"))
      m.swap = b;
    else if (!std::strcmp(key, "VmHWM"))
      m.hwm = b;
  }
  std::fclose(f);
}

}  // namespace

MemoryProbe read_memory() {
  MemoryProbe m;
  scan("/proc/self/status", m, false);
  scan("/proc/self/smaps_rollup", m, true);
  struct mallinfo2 mi = mallinfo2();
  m.heap_in_use = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  m.heap_free = static_cast<int64_t>(mi.fordblks);
  return m;
}

void trim_heap() {
  malloc_trim(0);
}

void configure_allocator() {
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

}  // namespace qasr
