// multipart/form-data (RFC 7578) as the OpenAI clients send it: parts in any order, each
// with a Content-Disposition naming the field (and a filename for files). A pure function
// over a body already read (the server caps its size): parts are views into it. Every
// malformed body is an InvalidArgument naming what is wrong; fuzzed (tests/fuzz).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace qasr {

struct MultipartPart {
  std::string name;      // form field name ("file", "model", "timestamp_granularities[]")
  std::string filename;  // empty unless the part is a file
  bool has_filename = false;
  std::string content_type;  // as sent (ignored for audio: the bytes are sniffed)
  std::string_view data;     // into the body
};

// The boundary of a "multipart/form-data; boundary=..." Content-Type value.
Expected<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into parts; at most `max_parts` (more is InvalidArgument).
Expected<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                     size_t max_parts = 256);

}  // namespace qasr
