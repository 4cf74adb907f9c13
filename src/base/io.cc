#include "base/io.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace qasr {

Expected<std::string> read_file(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) return Status::Error(fmt::format("'{}' is a directory, expected a file", path));
  if (static_cast<size_t>(st.st_size) > max_bytes)
    return Status::Error(fmt::format("'{}' is too large ({} bytes, limit {})", path, st.st_size, max_bytes));
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = data.empty() ? 0 : std::fread(data.data(), 1, data.size(), f);
  std::fclose(f);
  if (got != data.size()) return Status::Error(fmt::format("cannot read '{}': short read", path));
  return data;
}

Status write_file(const std::string& path, const std::string& contents) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Status::Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  bool ok = std::fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Status::Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  return Status::Ok();
}

}  // namespace qasr
