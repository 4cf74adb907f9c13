#!/usr/bin/env bash
# Sets everything up and runs the main job: the model-switching memory benchmark on
# the embedded default. Random-weight models with the real Qwen3-ASR 0.6B and 1.7B
# shapes in chatllm.cpp's q4_0 layout (the files the earlier study used; written
# once into models/synthetic/) alternate load → transcribe → unload on the bundled
# clip, scored against 我的電話是0912345678. Results go to results/.
# RANDOM WEIGHTS: the transcripts and WER/CER are meaningless; memory and timings are real.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)"
mkdir -p models/synthetic results
for size in 0.6b 1.7b; do
  f=models/synthetic/qwen3-asr-$size-q4_0.bin
  [ -f "$f" ] || ./build/qasr synth --preset "$size" --format chatllm --type q4_0 --seed 1 -o "$f"
done
./build/qasr bench switch \
  --model models/synthetic/qwen3-asr-0.6b-q4_0.bin --model models/synthetic/qwen3-asr-1.7b-q4_0.bin \
  --audio assets/audio/cmn_tw_phone.wav --reference 我的電話是0912345678 \
  --iterations "${ITERATIONS:-12}" --max-new-tokens "${MAX_NEW_TOKENS:-16}" \
  --json results/model_switch_results.json --csv results/model_switch_timeline.csv \
  --report results/model_switch_report.html
