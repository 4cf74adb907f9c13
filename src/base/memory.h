// Process memory probes from /proc/self/status and /proc/self/smaps_rollup (Linux),
// and the heap as glibc sees it (mallinfo2). Values in bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qasr {

struct MemoryProbe {
  int64_t rss = 0;          // VmRSS
  int64_t rss_anon = 0;     // RssAnon
  int64_t rss_file = 0;     // RssFile (mapped files, e.g. model weights)
  int64_t rss_shmem = 0;    // RssShmem
  int64_t swap = 0;         // VmSwap
  int64_t hwm = 0;          // VmHWM (peak RSS)
  int64_t pss = -1;         // Pss from smaps_rollup (-1 if unavailable)
  int64_t heap_in_use = 0;  // mallinfo2().uordblks + hblkhd
  int64_t heap_free = 0;    // mallinfo2().fordblks (freed but not returned)
};

MemoryProbe read_memory();

// Bytes of [p, p + n) that are resident now (mincore over whole pages); works for file
// mappings and anonymous reservations alike.
int64_t resident_bytes_of(const void* p, size_t n);

// The memory probe of another process (for the server benchmark): VmRSS, RssAnon,
// RssFile, VmSwap and VmHWM from /proc/PID/status; false if it cannot be read.
bool read_memory_of(int pid, MemoryProbe* out);

// malloc_trim(0): give freed heap memory back to the OS (glibc).
void trim_heap();

// glibc tuning so big buffers come from mmap and go back on free: a fixed
// M_MMAP_THRESHOLD of 256 KiB (glibc otherwise raises the threshold after the
// first large free, and later large buffers land on fragmented heaps that
// malloc_trim cannot fully return). Called once at start-up by the tools.
void configure_allocator();

}  // namespace qasr
