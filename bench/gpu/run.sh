#!/bin/bash
# Everything one GPU lease checks, in one call (see bench/gpu/README.md). Needs the .gpu/ bundle
# from ../shared/gpu/pack.sh carried along; writes its logs and JSON under $OUT.
#   1. wgrad: matmul variants 1024–4096², MoCo steps (ResNet-18 batch 256, SmallConvNet) — gpu.ts
#   2. PyTorch, same machine and call: cuBLAS fp32 (TF32 off) and the same MoCo steps — torch_ref.py
#   3. the benchmark harness with its TensorFlow.js peers on the same Dawn device (bench/run.ts
#      --peers --big), unless WGRAD_GPU_HARNESS_S=0
#   4. wgrad's test suite on the discrete GPU (its kernel choices differ from lavapipe's), unless
#      WGRAD_GPU_TEST_S=0
set -u
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$OUT/nvidia-smi.txt" 2>&1
timeout "${WGRAD_GPU_BENCH_S:-240}" bash .gpu/run.sh node --import tsx bench/gpu/gpu.ts "$OUT/wgrad.json" > "$OUT/wgrad.log" 2>&1
echo "wgrad bench exit $?" >> "$OUT/wgrad.log"
PYTHONUNBUFFERED=1 timeout 120 python3 bench/gpu/torch_ref.py "$OUT/torch.json" > "$OUT/torch.log" 2>&1
echo "torch exit $?" >> "$OUT/torch.log"
if [ "${WGRAD_GPU_HARNESS_S:-200}" != 0 ]; then
  timeout "${WGRAD_GPU_HARNESS_S:-200}" bash .gpu/run.sh node --import tsx bench/run.ts --peers --big \
    --json "$OUT/harness.json" --md "$OUT/harness.md" --svg "$OUT/harness.svg" > "$OUT/harness.log" 2>&1
  echo "harness exit $?" >> "$OUT/harness.log"
fi
if [ "${WGRAD_GPU_TEST_S:-150}" != 0 ]; then
  timeout "${WGRAD_GPU_TEST_S:-150}" bash .gpu/run.sh node node_modules/uvu/bin.js -r tsx test '\.test\.ts$' > "$OUT/test.log" 2>&1
  echo "tests exit $?" >> "$OUT/test.log"
fi
grep -v '^Warning' "$OUT/wgrad.log" | head -40
cat "$OUT/torch.log"
[ -f "$OUT/harness.md" ] && cat "$OUT/harness.md"
[ -f "$OUT/test.log" ] && grep -E 'FAIL|Total|Passed|Skipped|exit' "$OUT/test.log" | head -30
exit 0
