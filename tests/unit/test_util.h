// Helpers shared by unit tests.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace qasr::testing {

inline std::string data_path(const std::string& rel) {
  return std::string(QASR_TEST_DATA) + "/" + rel;
}
inline std::string asset_path(const std::string& rel) {
  return std::string(QASR_ASSETS) + "/" + rel;
}

// A fresh scratch directory for this test process under the build tree
// (QASR_TEST_TMP), emptied first; tests leave nothing in /tmp.
// Removed again when the process exits.
inline std::string scratch_dir(const std::string& name) {
  struct Cleanup {
    std::vector<std::string> dirs;
    ~Cleanup() {
      for (const auto& d : dirs) std::system(("rm -rf '" + d + "'").c_str());
    }
  };
  static Cleanup cleanup;
  std::string dir = std::string(QASR_TEST_TMP) + "/" + name + "_" + std::to_string(::getpid());
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::abort();
  cleanup.dirs.push_back(dir);
  return dir;
}

// Writes a 16-bit PCM WAV.
inline void write_wav_s16(const std::string& path, const std::vector<int16_t>& samples, int rate, int channels) {
  FILE* f = std::fopen(path.c_str(), "wb");
  auto u32 = [&](uint32_t v) { std::fwrite(&v, 4, 1, f); };
  auto u16 = [&](uint16_t v) { std::fwrite(&v, 2, 1, f); };
  uint32_t data_bytes = static_cast<uint32_t>(samples.size() * 2);
  std::fwrite("RIFF", 1, 4, f);
  u32(36 + data_bytes);
  std::fwrite("WAVEfmt ", 1, 8, f);
  u32(16);
  u16(1);
  u16(static_cast<uint16_t>(channels));
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate * channels * 2));
  u16(static_cast<uint16_t>(channels * 2));
  u16(16);
  std::fwrite("data", 1, 4, f);
  u32(data_bytes);
  if (!samples.empty()) std::fwrite(samples.data(), 2, samples.size(), f);
  std::fclose(f);
}

}  // namespace qasr::testing
