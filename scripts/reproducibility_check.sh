#!/usr/bin/env bash
# Which conditions make a rerun reproduce docs/RESULTS.md to every digit?
# Trains the documented `default` detector recipe for a few iterations four ways (the documented
# one-thread run twice, CPU kernels capped at AVX2, two threads) and prints, for each, the
# largest absolute weight difference to the first run: 0 means bitwise identical.
# Usage: bash scripts/reproducibility_check.sh [iterations]     (needs datasets/synthetic_vg_default)
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-20}
OUT=$(mktemp -d)
PYTHON=${PYTHON:-python3}

train() {  # name, environment assignments...
    local name=$1
    shift
    env "$@" "$PYTHON" tools/detector_pretrain_net.py \
        --config-file configs/detector/synthetic_default_R18_FPN.yaml --skip-test \
        SOLVER.MAX_ITER "$ITERS" SOLVER.TO_VAL False SOLVER.CHECKPOINT_PERIOD 1000000 \
        OUTPUT_DIR "$OUT/$name" > "$OUT/$name.log" 2>&1 || {
        tail -n 20 "$OUT/$name.log"
        echo "the $name run failed (log above)"
        exit 1
    }
}
train reference OMP_NUM_THREADS=1
train rerun OMP_NUM_THREADS=1
train avx2 OMP_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
    ATEN_CPU_CAPABILITY=avx2
train threads2 OMP_NUM_THREADS=2

"$PYTHON" - "$OUT" <<'EOF'
import sys

import torch

root = sys.argv[1]


def weights(name):
    return torch.load(f"{root}/{name}/model_final.pth", map_location="cpu",
                      weights_only=False)["model"]


reference = weights("reference")
for name in ("rerun", "avx2", "threads2"):
    other = weights(name)
    diff = max((reference[k].double() - other[k].double()).abs().max().item()
               for k in reference if reference[k].is_floating_point())
    print(f"{name:9s} max |weight difference| to the reference run: {diff:.3g}")
EOF
rm -rf "$OUT"
