// Every tensor of a Qwen3-ASR / ForcedAligner checkpoint: canonical (official) name and
// shape (outermost first, PyTorch order) as they follow from the config, in file order.
// The one list that the loader (binding and shape checks), the converter (tensor order)
// and `qasr synth` (what to write) all read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace qasr {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool is_vector() const { return shape.size() == 1; }
};

// `with_lm_head`: include thinker.lm_head.weight. For ASR it is the redundant copy of the
// tied embedding ([vocab][hidden]) that some files carry; for the forced aligner it is the
// classification head ([classify_num][hidden]) and always included.
std::vector<TensorSpec> model_tensor_specs(const ModelConfig& c, bool with_lm_head);

}  // namespace qasr
