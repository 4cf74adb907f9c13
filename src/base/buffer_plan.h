// Lays several float buffers out in one reservation: add() each buffer's size, then
// reserve() maps one VirtualBuffer (MAP_NORESERVE: resident only as touched) and
// points every registered pointer into it, 64-byte aligned. Used by the model's run
// state so that a session's scratch is one mapping sized once, never grown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"

namespace qasr {

class BufferPlan {
 public:
  template <typename T>
  void add(T** ptr, int64_t count) {
    entries_.push_back({ptr, &bind<T>, align(static_cast<size_t>(count < 0 ? 0 : count) * sizeof(T))});
  }
  size_t bytes() const {
    size_t n = 0;
    for (const auto& e : entries_) n += e.bytes;
    return n;
  }
  // Reserves bytes() and binds every pointer. The buffer must outlive the pointers.
  Expected<VirtualBuffer> reserve() const {
    QASR_ASSIGN_OR_RETURN(VirtualBuffer b, VirtualBuffer::reserve(bytes()));
    char* p = b.as<char>();
    for (const auto& e : entries_) {
      e.set(e.slot, p);
      p += e.bytes;
    }
    return b;
  }

 private:
  static size_t align(size_t n) { return (n + 63) / 64 * 64; }
  template <typename T>
  static void bind(void* slot, char* p) {
    *static_cast<T**>(slot) = reinterpret_cast<T*>(p);
  }
  struct Entry {
    void* slot;  // a T** registered by add()
    void (*set)(void*, char*);
    size_t bytes;
  };
  std::vector<Entry> entries_;
};

}  // namespace qasr
