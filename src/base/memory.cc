#include "base/memory.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

int64_t resident_bytes_of(const void* p, size_t n) {
  if (!p || n == 0) return 0;
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // The page-aligned start as a pointer into the same object (no integer-to-pointer cast).
  const uintptr_t offset = reinterpret_cast<uintptr_t>(p) & (page - 1);
  void* begin = const_cast<char*>(static_cast<const char*>(p) - offset);
  const size_t length = (offset + n + page - 1) & ~(page - 1);
  std::vector<unsigned char> vec(length / page);
  if (::mincore(begin, length, vec.data()) != 0) return 0;
  int64_t resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  return resident * static_cast<int64_t>(page);
}

bool read_memory_of(int pid, MemoryProbe* out) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  std::fclose(f);
  *out = MemoryProbe{};
  scan(path.c_str(), *out, false);
  return true;
}

void configure_allocator() {
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

}  // namespace qasr
