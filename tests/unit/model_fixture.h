// A tiny random checkpoint written once per test binary (official HF layout).
#pragma once

#include <string>

#include "test_util.h"
#include "weights/synth.h"

namespace qasr::testing {

inline const std::string& tiny_model_dir() {
  static std::string dir = [] {
    std::string d = scratch_dir("tiny_model");
    auto sp = synth_preset("tiny");
    if (!sp.ok() || !write_synthetic_hf(d, *sp, 7, QASR_ASSETS).ok()) std::abort();
    return d;
  }();
  return dir;
}

}  // namespace qasr::testing
