// libFuzzer harness: the multipart/form-data parser (the server's upload path). The first
// line of the input is the Content-Type header value, the rest the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nl = all.find('\n');
  const std::string_view ct = all.substr(0, nl), body = nl == std::string_view::npos ? "" : all.substr(nl + 1);
  auto b = qasr::multipart_boundary(ct);
  if (!b.ok()) return 0;
  auto parts = qasr::parse_multipart(body, *b);
  if (parts.ok()) {
    // Every part's data must lie inside the body.
    volatile char sink = 0;
    for (const auto& p : *parts)
      if (!p.data.empty()) sink = sink ^ p.data.back();
    (void)sink;
  }
  return 0;
}
