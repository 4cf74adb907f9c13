// File helpers that report errors as Status, and the one way qasr writes an output file.
//
// Reading: read_file() opens with O_NONBLOCK and checks fstat before reading, so a FIFO,
// a device or a directory is refused with a message instead of blocking or failing
// strangely; the size limit is checked before anything is allocated.
//
// Writing: every output (a converted model, a synthetic model, a .npy, a results file)
// goes through AtomicFile: the bytes go to a temporary file in the same folder, which is
// flushed, fsync'ed and renamed over the final name only when complete. So an
// interrupted or failed write (SIGINT, SIGTERM, disk full) never leaves a partial file
// under the final name, never destroys a good file that was there, and never truncates a
// file another process has mapped (a running server's model): its old inode lives on
// until unmapped. Two writers of the same path each produce a whole file; the last rename
// wins. Temporaries are removed on failure, on destruction without commit, and (through
// a small signal-safe registry) on SIGINT/SIGTERM.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qasr {

// Reads a whole (small) regular file; `max_bytes` guards against reading a huge file.
Expected<std::string> read_file(const std::string& path, size_t max_bytes = size_t{1} << 30);

// Checks that `path` names a regular file or a directory (as `allow_dir`) without
// opening it for reading, so FIFOs and devices are refused before anyone blocks on them.
// Messages distinguish a missing file, a symlink loop, a directory and special files.
Status check_input_path(const std::string& path, bool allow_dir = false);

// Identity of an existing file (device and inode), to refuse an output that is an input.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};
// The id of the file `path` resolves to (following symlinks); false if it does not exist.
bool file_id(const std::string& path, FileId* out);

class AtomicFile {
 public:
  // Starts writing `path`. Refuses a path that is, or resolves to, one of `inputs`
  // (the files being read, e.g. a model's mapped files) and a path that is a directory.
  static Expected<AtomicFile> create(const std::string& path, const std::vector<std::string>& inputs = {});
  AtomicFile() = default;
  AtomicFile(AtomicFile&& o) noexcept;
  AtomicFile& operator=(AtomicFile&& o) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();  // without commit(): the temporary is removed

  Status write(const void* data, size_t n);
  Status write(std::string_view s) { return write(s.data(), s.size()); }
  // Writes at an absolute offset (patching a header written earlier); the file grows as needed.
  Status pwrite(const void* data, size_t n, uint64_t offset);
  uint64_t size() const { return written_; }
  // Flushes, fsyncs, renames over the final path and fsyncs the folder.
  Status commit();
  const std::string& path() const { return path_; }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 16;  // small writes are batched
  void discard();
  Status write_through(const char* p, size_t n);
  Status flush_buffer();
  int fd_ = -1;
  std::string path_, tmp_;
  uint64_t written_ = 0;
  std::vector<char> buffer_;
  int slot_ = -1;  // signal-cleanup registry slot
  bool ok_ = true;
};

// write_file = AtomicFile + write + commit.
Status write_file(const std::string& path, std::string_view contents, const std::vector<std::string>& inputs = {});

// Creates `dir` and its parents (std::filesystem, no shell). Fine if it exists.
Status make_dirs(const std::string& dir);

// Installs SIGINT/SIGTERM handlers that remove registered temporaries and then re-raise
// the signal with its default action (exit status 128 + signal). Called once by tools.
void install_output_cleanup_handlers();

}  // namespace qasr
