#!/usr/bin/env bash
# Every GPU check of the project in one run (for a machine with one CUDA GPU):
#   1. detector forward images/s, X-101-32x8d-FPN at 600x1000, bf16 and fp32;
#   2. Motifs / VCTree PredCls training images/s with CE and EBM (tau=20) and inference
#      images/s on VG-sized inputs, bf16;
#   3. energy-model peak memory for 16 images x 80 boxes (all pairs) vs batch size 1-16.
# Results: one JSON line per check in ${OUT:-output/device}/device_checks.jsonl, plus logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-output/device}
mkdir -p "$OUT"
export PYTHONPATH=$PWD
PYTHON=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" \
    | tee -a "$OUT/gpu.txt"
: > "$OUT/device_checks.jsonl"
timeout 180 "$PYTHON" scripts/device/benchmark_detector_gpu.py \
    2> "$OUT/detector.log" | tee -a "$OUT/device_checks.jsonl"
timeout 300 "$PYTHON" scripts/device/benchmark_sgg_gpu.py \
    2> "$OUT/sgg.log" | tee -a "$OUT/device_checks.jsonl"
timeout 180 "$PYTHON" tools/benchmark_energy.py --device cuda \
    2> "$OUT/energy.log" | tee "$OUT/energy_memory.md"
