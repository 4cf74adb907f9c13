#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "base/memory.h"

namespace qasr {

namespace {

// Mapped files, for the SIGBUS handler: fixed slots, written with atomics, read by the
// handler without locks or allocation (async-signal-safe).
constexpr int kMapSlots = 64;
constexpr size_t kMapPathMax = 1024;
struct MapSlot {
  std::atomic<int> state{0};  // 0 free, 1 being written, 2 live
  std::atomic<uintptr_t> begin{0}, end{0};
  char path[kMapPathMax];
};
MapSlot g_maps[kMapSlots];
int g_sigbus_exit_code = 1;

int register_mapping(const void* p, size_t n, const std::string& path) {
  for (int i = 0; i < kMapSlots; ++i) {
    int expected = 0;
    if (g_maps[i].state.compare_exchange_strong(expected, 1)) {
      const size_t len = std::min(path.size(), kMapPathMax - 1);
      std::memcpy(g_maps[i].path, path.data(), len);
      g_maps[i].path[len] = '\0';
      g_maps[i].begin.store(reinterpret_cast<uintptr_t>(p));
      g_maps[i].end.store(reinterpret_cast<uintptr_t>(p) + n);
      g_maps[i].state.store(2);
      return i;
    }
  }
  return -1;
}

void unregister_mapping(int slot) {
  if (slot >= 0) g_maps[slot].state.store(0);
}

void write_all(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t k = ::write(2, s, n);
    if (k <= 0) return;
    s += k;
    n -= static_cast<size_t>(k);
  }
}

extern "C" void on_sigbus(int, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const char* path = nullptr;
  for (MapSlot& m : g_maps)
    if (m.state.load() == 2 && addr >= m.begin.load() && addr < m.end.load()) path = m.path;
  if (path) {
    write_all("qasr: error: the model file '");
    write_all(path);
    write_all(
        "' was truncated or rewritten while in use (replace model files by writing a new file and renaming "
        "it, as qasr convert does)\n");
  } else {
    write_all("qasr: error: bus error (SIGBUS) outside any model file\n");
  }
  ::_exit(g_sigbus_exit_code);
}

}  // namespace

void install_sigbus_handler(int exit_code) {
  g_sigbus_exit_code = exit_code;
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO;
  ::sigaction(SIGBUS, &sa, nullptr);
}

Expected<MappedFile> MappedFile::open(const std::string& path, bool populate) {
  // O_NONBLOCK: a FIFO cannot block the open; it is refused by the check below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno_status(errno, fmt::format("cannot open '{}'", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(fmt::format("'{}' is not a regular file", path));
  }
  MappedFile m;
  m.path_ = path;
  m.size_ = static_cast<size_t>(st.st_size);
  if (m.size_ > 0) {
    void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return errno_status(e, fmt::format("cannot map '{}'", path));
    }
    m.data_ = static_cast<uint8_t*>(p);
    m.slot_ = register_mapping(p, m.size_, path);
  }
  ::close(fd);
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      path_(std::move(o.path_)),
      slot_(std::exchange(o.slot_, -1)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    unmap();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    path_ = std::move(o.path_);
    slot_ = std::exchange(o.slot_, -1);
  }
  return *this;
}

MappedFile::~MappedFile() {
  unmap();
}

void MappedFile::unmap() {
  unregister_mapping(slot_);
  slot_ = -1;
  if (data_) ::munmap(data_, size_);
  data_ = nullptr;
}

Expected<VirtualBuffer> VirtualBuffer::reserve(size_t bytes) {
  VirtualBuffer b;
  if (bytes == 0) return b;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return ResourceExhausted(
        fmt::format("cannot reserve {} MiB of address space: {}", bytes >> 20, std::strerror(errno)));
  b.data_ = p;
  b.size_ = bytes;
  return b;
}

VirtualBuffer::VirtualBuffer(VirtualBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

VirtualBuffer& VirtualBuffer::operator=(VirtualBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

VirtualBuffer::~VirtualBuffer() {
  if (data_) ::munmap(data_, size_);
}

int64_t VirtualBuffer::resident_bytes() const {
  return resident_bytes_of(data_, size_);
}

void VirtualBuffer::release_pages() {
  if (data_) ::madvise(data_, size_, MADV_DONTNEED);
}

}  // namespace qasr
