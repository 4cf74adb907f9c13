#include "base/npy.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace qasr {
namespace {
struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;
}  // namespace

Status write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  std::string dims;
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += fmt::format("{}, ", d);
    count *= d;
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // "(128, 300)"; 1-D keeps "(5,)"
  else if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Total header (magic 6 + version 2 + len 2 + header + '\n') padded to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f) return Status::Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  uint16_t hlen = static_cast<uint16_t>(header.size());
  unsigned char len_le[2] = {static_cast<unsigned char>(hlen & 0xff), static_cast<unsigned char>(hlen >> 8)};
  bool ok = std::fwrite(magic, 1, 8, f.get()) == 8 && std::fwrite(len_le, 1, 2, f.get()) == 2 &&
            std::fwrite(header.data(), 1, header.size(), f.get()) == header.size();
  if (ok && count > 0) ok = std::fwrite(data, sizeof(float), count, f.get()) == static_cast<size_t>(count);
  if (!ok || std::fflush(f.get()) != 0)
    return Status::Error(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
  return Status::Ok();
}

Expected<NpyArray> read_npy_f32(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  unsigned char pre[10];
  if (std::fread(pre, 1, 10, f.get()) != 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1)
    return Status::Error(fmt::format("'{}' is not a version-1 .npy file", path));
  size_t hlen = pre[8] | (pre[9] << 8);
  std::string header(hlen, '\0');
  if (std::fread(header.data(), 1, hlen, f.get()) != hlen)
    return Status::Error(fmt::format("'{}': truncated .npy header", path));
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    return Status::Error(fmt::format("'{}': only little-endian float32 C-order arrays are supported", path));
  NpyArray arr;
  size_t p = header.find("'shape': (");
  if (p == std::string::npos) return Status::Error(fmt::format("'{}': .npy header has no shape", path));
  p += 10;
  int64_t count = 1;
  while (p < header.size() && header[p] != ')') {
    if (header[p] >= '0' && header[p] <= '9') {
      int64_t v = 0;
      while (p < header.size() && header[p] >= '0' && header[p] <= '9') v = v * 10 + (header[p++] - '0');
      if (v > (int64_t{1} << 40)) return Status::Error(fmt::format("'{}': .npy dimension too large", path));
      arr.shape.push_back(v);
      count *= v;
      if (count > (int64_t{1} << 34)) return Status::Error(fmt::format("'{}': .npy array too large", path));
    } else {
      ++p;
    }
  }
  arr.data.resize(count);
  if (count > 0 && std::fread(arr.data.data(), sizeof(float), count, f.get()) != static_cast<size_t>(count))
    return Status::Error(fmt::format("'{}': truncated .npy data", path));
  return arr;
}

}  // namespace qasr
