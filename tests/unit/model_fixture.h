// A tiny random checkpoint written once per test binary (official HF layout).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "convert/synth.h"
#include "test_util.h"

namespace qasr::testing {

// Written once per build tree and shared by every test process (ctest runs each
// test in its own process, several at a time): built under a lock, published by rename.
inline const std::string& tiny_model_dir() {
  static std::string dir = [] {
    const std::string root = QASR_TEST_TMP, d = root + "/tiny_model_seed7";
    if (std::system(("mkdir -p '" + root + "'").c_str()) != 0) std::abort();
    const int lock = ::open((root + "/tiny_model.lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0) std::abort();
    struct stat st {};
    if (::stat((d + "/model.safetensors").c_str(), &st) != 0) {
      const std::string tmp = d + ".tmp" + std::to_string(::getpid());
      auto sp = synth_preset("tiny");
      if (std::system(("rm -rf '" + tmp + "' && mkdir -p '" + tmp + "'").c_str()) != 0) std::abort();
      if (!sp.ok() || !write_synthetic_hf(tmp, *sp, 7, QASR_ASSETS).ok()) std::abort();
      if (std::system(("rm -rf '" + d + "'").c_str()) != 0 || ::rename(tmp.c_str(), d.c_str()) != 0) std::abort();
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return d;
  }();
  return dir;
}

}  // namespace qasr::testing
