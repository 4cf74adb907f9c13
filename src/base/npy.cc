#include "base/npy.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/io.h"

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
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);  // "(128, 300)"; 1-D keeps "(5,)"
  else if (shape.size() == 1)
    dims.resize(dims.size() - 1);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Total header (magic 6 + version 2 + len 2 + header + '\n') padded to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  QASR_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  uint16_t hlen = static_cast<uint16_t>(header.size());
  unsigned char len_le[2] = {static_cast<unsigned char>(hlen & 0xff), static_cast<unsigned char>(hlen >> 8)};
  QASR_RETURN_IF_ERROR(f.write(magic, 8));
  QASR_RETURN_IF_ERROR(f.write(len_le, 2));
  QASR_RETURN_IF_ERROR(f.write(header));
  if (count > 0) QASR_RETURN_IF_ERROR(f.write(data, sizeof(float) * static_cast<size_t>(count)));
  return f.commit();
}

Expected<NpyArray> read_npy_f32(const std::string& path) {
  QASR_RETURN_IF_ERROR(check_input_path(path));
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) return errno_status(errno, fmt::format("cannot open '{}'", path));
  unsigned char pre[10];
  if (std::fread(pre, 1, 10, f.get()) != 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1)
    return InvalidFormat(fmt::format("'{}' is not a version-1 .npy file", path));
  size_t hlen = pre[8] | (pre[9] << 8);
  std::string header(hlen, '\0');
  if (std::fread(header.data(), 1, hlen, f.get()) != hlen)
    return InvalidFormat(fmt::format("'{}': truncated .npy header", path));
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    return InvalidFormat(fmt::format("'{}': only little-endian float32 C-order arrays are supported", path));
  NpyArray arr;
  size_t p = header.find("'shape': (");
  if (p == std::string::npos) return InvalidFormat(fmt::format("'{}': .npy header has no shape", path));
  p += 10;
  int64_t count = 1;
  while (p < header.size() && header[p] != ')') {
    if (header[p] >= '0' && header[p] <= '9') {
      int64_t v = 0;
      while (p < header.size() && header[p] >= '0' && header[p] <= '9') v = v * 10 + (header[p++] - '0');
      if (v > (int64_t{1} << 40)) return InvalidFormat(fmt::format("'{}': .npy dimension too large", path));
      arr.shape.push_back(v);
      count *= v;
      if (count > (int64_t{1} << 34)) return InvalidFormat(fmt::format("'{}': .npy array too large", path));
    } else {
      ++p;
    }
  }
  arr.data.resize(count);
  if (count > 0 && std::fread(arr.data.data(), sizeof(float), count, f.get()) != static_cast<size_t>(count))
    return InvalidFormat(fmt::format("'{}': truncated .npy data", path));
  return arr;
}

}  // namespace qasr
