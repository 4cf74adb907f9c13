#!/usr/bin/env bash
# Sets everything up, builds qasr and runs the main job on the bundled clip.
# (Until the model-switching benchmark lands, the main job is the front end:
# decode + resample + log-mel of the bundled clip, and the tokenizer on its transcript.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)"
mkdir -p results
./build/qasr mel assets/audio/cmn_tw_phone.wav -o results/cmn_tw_phone.mel.npy
echo "token ids of the clip's text 我的電話是零九一二三四五六七八:"
./build/qasr tokenize --tokenizer assets/qwen3-asr-tokenizer "我的電話是零九一二三四五六七八"
