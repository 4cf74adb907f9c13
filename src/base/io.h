// Small file helpers that report errors as Status.
#pragma once

#include <string>

#include "base/status.h"

namespace qasr {

// Reads a whole (small) file. `max_bytes` guards against reading a huge file by mistake.
Expected<std::string> read_file(const std::string& path, size_t max_bytes = size_t{1} << 30);
Status write_file(const std::string& path, const std::string& contents);

}  // namespace qasr
