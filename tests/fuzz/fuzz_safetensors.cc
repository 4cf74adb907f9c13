// libFuzzer harness: the safetensors header reader on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = qasr::parse_safetensors(data, size, "fuzz");
  if (r.ok()) {
    volatile uint8_t sink = 0;  // keeps the reads
    for (const auto& t : *r)
      if (t.nbytes) sink = sink ^ static_cast<const uint8_t*>(t.data)[t.nbytes - 1];
    (void)sink;
  }
  return 0;
}
