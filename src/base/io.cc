#include "base/io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include <fmt/format.h>

namespace qasr {
namespace {

// ---- temporaries to remove on SIGINT/SIGTERM ----
// Fixed slots of fixed-size paths, so the handler only reads memory and calls unlink()
// (async-signal-safe). A slot is claimed by CAS and released after rename or unlink.
constexpr int kSlots = 16;
constexpr size_t kPathMax = 4096;
struct CleanupSlot {
  std::atomic<int> state{0};  // 0 free, 1 claimed (path being written), 2 armed
  char path[kPathMax];
};
CleanupSlot g_cleanup[kSlots];

int claim_slot(const std::string& path) {
  if (path.size() + 1 > kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_cleanup[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_cleanup[i].path, path.c_str(), path.size() + 1);
      g_cleanup[i].state.store(2);
      return i;
    }
  }
  return -1;  // more than kSlots outputs at once: still correct, just not cleaned on a signal
}

void release_slot(int i) {
  if (i >= 0) g_cleanup[i].state.store(0);
}

extern "C" void cleanup_and_reraise(int sig) {
  for (CleanupSlot& s : g_cleanup)
    if (s.state.load() == 2) ::unlink(s.path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::string describe_mode(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status check_input_path(const std::string& path, bool allow_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ELOOP) return InvalidArgument(fmt::format("'{}' is a symbolic link loop", path));
    if (e == ENOENT) {
      struct stat lst {};
      if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
        return NotFound(fmt::format("'{}' is a symbolic link to a file that does not exist", path));
      return NotFound(fmt::format("'{}' does not exist ({})", path, std::strerror(e)));
    }
    return errno_status(e, fmt::format("cannot open '{}'", path));
  }
  if (S_ISREG(st.st_mode) || (allow_dir && S_ISDIR(st.st_mode))) return Status::Ok();
  return InvalidArgument(fmt::format("'{}' is {}, expected {}", path, describe_mode(st.st_mode),
                                     allow_dir ? "a file or a folder" : "a regular file"));
}

Expected<std::string> read_file(const std::string& path, size_t max_bytes) {
  QASR_RETURN_IF_ERROR(check_input_path(path));
  // O_NONBLOCK: if the path was swapped for a FIFO after the check, open() does not block.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno_status(errno, fmt::format("cannot open '{}'", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(fmt::format("'{}' is not a regular file", path));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return TooLarge(fmt::format("'{}' is too large ({} bytes, limit {})", path, st.st_size, max_bytes));
  }
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return errno_status(e, fmt::format("cannot read '{}'", path));
    }
    if (n == 0) break;  // the file shrank while we read it
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

bool file_id(const std::string& path, FileId* out) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  return true;
}

Expected<AtomicFile> AtomicFile::create(const std::string& path, const std::vector<std::string>& inputs) {
  if (path.empty()) return InvalidArgument("empty output path");
  FileId out_id;
  if (file_id(path, &out_id)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return InvalidArgument(fmt::format("output '{}' is a directory", path));
    for (const std::string& in : inputs) {
      FileId in_id;
      if (file_id(in, &in_id) && in_id == out_id)
        return InvalidArgument(
            fmt::format("output '{}' is the input '{}' (or a link to it); write to another path", path, in));
    }
  }
  // A symlink as output: write where it points, so the link stays a link.
  std::string target = path;
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    const auto resolved = std::filesystem::weakly_canonical(path, ec);
    if (!ec) target = resolved.string();
  }
  AtomicFile f;
  f.path_ = target;
  std::random_device rd;
  for (int attempt = 0; attempt < 16 && f.fd_ < 0; ++attempt) {
    f.tmp_ = fmt::format("{}/.{}.qasr-tmp-{}-{:08x}", folder_of(target), target.substr(target.find_last_of('/') + 1),
                         ::getpid(), rd());
    f.fd_ = ::open(f.tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (f.fd_ < 0 && errno != EEXIST)
      return errno_status(errno, fmt::format("cannot write '{}' (temporary file in its folder)", path));
  }
  if (f.fd_ < 0) return IoError(fmt::format("cannot create a temporary file beside '{}'", path));
  f.slot_ = claim_slot(f.tmp_);
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)),
      tmp_(std::move(o.tmp_)),
      written_(o.written_),
      buffer_(std::move(o.buffer_)),
      slot_(std::exchange(o.slot_, -1)),
      ok_(o.ok_) {}

AtomicFile& AtomicFile::operator=(AtomicFile&& o) noexcept {
  if (this != &o) {
    discard();
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    tmp_ = std::move(o.tmp_);
    written_ = o.written_;
    buffer_ = std::move(o.buffer_);
    slot_ = std::exchange(o.slot_, -1);
    ok_ = o.ok_;
  }
  return *this;
}

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::discard() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
    fd_ = -1;
  }
  release_slot(slot_);
  slot_ = -1;
}

Status AtomicFile::write_through(const char* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::write(fd_, p + done, n - done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      ok_ = false;
      return errno_status(errno, fmt::format("cannot write '{}'", path_));
    }
    done += static_cast<size_t>(k);
  }
  return Status::Ok();
}

Status AtomicFile::flush_buffer() {
  if (buffer_.empty()) return Status::Ok();
  Status s = write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
  return s;
}

Status AtomicFile::write(const void* data, size_t n) {
  if (fd_ < 0) return Internal("write to a closed output file");
  if (!ok_) return IoError(fmt::format("cannot write '{}'", path_));
  const char* p = static_cast<const char*>(data);
  written_ += n;
  if (buffer_.size() + n <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + n);
    return Status::Ok();
  }
  QASR_RETURN_IF_ERROR(flush_buffer());
  if (n >= kBufferBytes) return write_through(p, n);
  buffer_.insert(buffer_.end(), p, p + n);
  return Status::Ok();
}

Status AtomicFile::pwrite(const void* data, size_t n, uint64_t offset) {
  if (fd_ < 0) return Internal("write to a closed output file");
  QASR_RETURN_IF_ERROR(flush_buffer());
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  while (done < n) {
    const ssize_t k = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      ok_ = false;
      return errno_status(errno, fmt::format("cannot write '{}'", path_));
    }
    done += static_cast<size_t>(k);
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  if (fd_ < 0) return Internal("commit of a closed output file");
  if (!ok_) return IoError(fmt::format("'{}' was not written completely", path_));
  if (Status s = flush_buffer(); !s.ok()) {
    discard();
    return s;
  }
  if (::fsync(fd_) != 0) {
    const int e = errno;
    discard();
    return errno_status(e, fmt::format("cannot write '{}' (fsync)", path_));
  }
  if (::close(fd_) != 0) {
    const int e = errno;
    fd_ = -1;
    ::unlink(tmp_.c_str());
    release_slot(slot_);
    slot_ = -1;
    return errno_status(e, fmt::format("cannot write '{}' (close)", path_));
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    release_slot(slot_);
    slot_ = -1;
    return errno_status(e, fmt::format("cannot write '{}' (rename)", path_));
  }
  release_slot(slot_);
  slot_ = -1;
  const int dfd = ::open(folder_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename is durable; a failure here leaves a complete file either way
    ::close(dfd);
  }
  return Status::Ok();
}

Status write_file(const std::string& path, std::string_view contents, const std::vector<std::string>& inputs) {
  QASR_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path, inputs));
  QASR_RETURN_IF_ERROR(f.write(contents));
  return f.commit();
}

Status make_dirs(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(fmt::format("cannot create folder '{}': {}", dir, ec.message()));
  if (!std::filesystem::is_directory(dir, ec))
    return InvalidArgument(fmt::format("'{}' exists and is not a folder", dir));
  return Status::Ok();
}

void install_output_cleanup_handlers() {
  struct sigaction sa {};
  sa.sa_handler = cleanup_and_reraise;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace qasr
