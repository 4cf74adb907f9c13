// The comparison engine for `qasr bench switch --engine chatllm`: drives
// chatllm.cpp's libchatllm C API (chatllm-format.md §3) through dlopen, in a
// child process that reports each probe back over a pipe, so chatllm's known
// abort on unload (§3.5) is reported and never takes qasr down. Same phases and
// metrics as the qasr engine; its models take `--set language X` and
// `{{audio:PATH}}` input (ffmpeg decodes inside chatllm).
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "bench/switch_bench.h"

namespace qasr {

Expected<SwitchResults> run_chatllm_switch_bench(const SwitchConfig& cfg, const std::string& lib_path,
                                                 const std::function<void(const std::string&)>& progress);

}  // namespace qasr
