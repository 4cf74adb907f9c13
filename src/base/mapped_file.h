// A read-only memory mapping of a whole file. Model weights are views into it;
// destroying the MappedFile unmaps them (that is what "unload" means).
//
// A mapped file that shrinks under a running process (truncated or rewritten in place by
// another program) makes the next access to the lost pages raise SIGBUS; no request can
// recover from that safely. install_sigbus_handler() turns it into one clear
// "qasr: error:" line naming the file and an exit with `exit_code`, instead of a silent
// signal. qasr itself never truncates a mapped file: it writes outputs to a new file
// and renames it (base/io.h AtomicFile), which leaves running mappings intact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace qasr {

class MappedFile {
 public:
  // populate = MAP_POPULATE (pay page-in at load time).
  static Expected<MappedFile> open(const std::string& path, bool populate = false);
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void unmap();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
  int slot_ = -1;  // in the SIGBUS handler's table
};

// Installs the SIGBUS handler described above (process-wide; tools call it once).
void install_sigbus_handler(int exit_code);

// Anonymous memory reserved as virtual address space (MAP_NORESERVE): pages become
// resident only when touched, and all of it returns to the OS on destruction.
// Used for per-session KV caches and scratch sized for the worst case.
class VirtualBuffer {
 public:
  VirtualBuffer() = default;
  static Expected<VirtualBuffer> reserve(size_t bytes);
  VirtualBuffer(VirtualBuffer&& o) noexcept;
  VirtualBuffer& operator=(VirtualBuffer&& o) noexcept;
  VirtualBuffer(const VirtualBuffer&) = delete;
  VirtualBuffer& operator=(const VirtualBuffer&) = delete;
  ~VirtualBuffer();

  template <typename T>
  T* as() const {
    return reinterpret_cast<T*>(data_);
  }
  size_t size() const { return size_; }
  // Gives touched pages back to the OS (MADV_DONTNEED); contents become zero.
  void release_pages();
  // Bytes of it resident now (mincore).
  int64_t resident_bytes() const;

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qasr
