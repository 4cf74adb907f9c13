// libFuzzer harness: the GGUF reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "formats/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = qasr::parse_gguf(data, size, "fuzz");
  if (r.ok()) {
    // Touch every view: each must lie inside the input.
    volatile uint8_t sink = 0;  // keeps the reads
    for (const auto& t : r->tensors)
      if (t.nbytes) sink = sink ^ static_cast<const uint8_t*>(t.data)[t.nbytes - 1];
    (void)sink;
  }
  return 0;
}
