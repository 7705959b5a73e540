#!/usr/bin/env bash
# Smoke check of the shipped recipes (configs/vg150/*.yaml, configs/gqa/*.yaml) as a new user runs
# them on a CPU: random-init detector (nothing downloaded), the `tiny` synthetic data at VG size
# (600-1000 px) with its class counts, a few training iterations, then a test on the validation
# carve-out. Prints, per recipe and objective (CE, EBM), training seconds per iteration (wall
# time of the training run, model build included, over SMOKE_ITERS), the test's wall seconds
# and the peak resident memory of each run. Not for CI: X-101 on a CPU takes minutes per recipe.
# Usage: bash scripts/smoke_recipes.sh [recipe.yaml ...]   (default: every vg150 and gqa recipe)
# Environment: SMOKE_ITERS (2), SMOKE_OBJECTIVES ("ce ebm"), SMOKE_DTYPE (float32: CPU float16
# autocast is ~16x slower; set "" to keep the recipe's DTYPE), SMOKE_OUT (output/smoke_recipes),
# PYTHON (python3), SMOKE_OPTS (extra KEY VALUE overrides after the smoke's own, split on
# spaces; e.g. a trained detector in place of the random X-101, docs/BENCHMARKS.md). One recipe
# at a time, OMP_NUM_THREADS (1) threads. Each recipe's checkpoint is deleted after its test
# (X-101: ~3 GB each); logs and timings stay in SMOKE_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ITERS=${SMOKE_ITERS:-2}
OBJECTIVES=${SMOKE_OBJECTIVES:-ce ebm}
DTYPE=${SMOKE_DTYPE-float32}
OUT=${SMOKE_OUT:-output/smoke_recipes}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DATA=datasets/synthetic_vg_tiny
if [ ! -f "$DATA/VG-SGG-with-attri.h5" ]; then
    "$PYTHON" tools/make_synthetic_vg.py --preset tiny --out "$DATA"
fi
# tiny synthetic: 34 object and 21 predicate classes (+ background)
COMMON=(MODEL.DEVICE cpu MODEL.PRETRAINED_DETECTOR_CKPT "" MODEL.ROI_BOX_HEAD.NUM_CLASSES 35
    MODEL.ROI_RELATION_HEAD.NUM_CLASSES 22 SOLVER.IMS_PER_BATCH 2 TEST.IMS_PER_BATCH 1
    DATASETS.TRAIN '("synthetic_vg_tiny_train",)' DATASETS.VAL '("synthetic_vg_tiny_val",)'
    DATASETS.TEST '("synthetic_vg_tiny_test",)' DATASETS.NUM_VAL_IM 2 DATALOADER.NUM_WORKERS 0
    SOLVER.MAX_ITER "$ITERS" SOLVER.STEPS "($ITERS,)" SOLVER.WARMUP_ITERS 0 SOLVER.PRE_VAL False
    SOLVER.TO_VAL False SOLVER.CHECKPOINT_PERIOD "$ITERS" SOLVER.LOG_PERIOD 1)
[ -n "$DTYPE" ] && COMMON+=(DTYPE "$DTYPE")
# shellcheck disable=SC2206
[ -n "${SMOKE_OPTS:-}" ] && COMMON+=(${SMOKE_OPTS})
if [ $# -gt 0 ]; then RECIPES=("$@"); else
    RECIPES=(); for f in configs/vg150/*.yaml configs/gqa/*.yaml; do
        [ "$(basename "$f")" = base.yaml ] || RECIPES+=("$f"); done
fi
peak() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1048576}' "$1"; }
printf '%-32s %-4s %-8s %-10s %-9s %-10s %s\n' recipe obj status s/iter test_s peak_GB log
mkdir -p "$OUT"
for recipe in "${RECIPES[@]}"; do
    for objective in $OBJECTIVES; do
        name="$(basename "$(dirname "$recipe")")_$(basename "$recipe" .yaml)_$objective"
        dir="$OUT/$name"; rm -rf "$dir"; mkdir -p "$dir"
        energy=(MODEL.ENERGY_ON "$([ "$objective" = ebm ] && echo True || echo False)")
        status=ok; test_s=-; train_peak=-; test_peak=-
        start=$(date +%s.%N)
        if /usr/bin/time -v -o "$dir/train.time" "$PYTHON" tools/relation_train_net.py \
            --config-file "$recipe" --no-resume --skip-test "${COMMON[@]}" "${energy[@]}" \
            OUTPUT_DIR "$dir" >"$dir/train.log" 2>&1; then
            per_iter=$(echo "($(date +%s.%N) - $start) / $ITERS" | bc -l)
            train_peak=$(peak "$dir/train.time")
            start=$(date +%s.%N)
            if /usr/bin/time -v -o "$dir/test.time" "$PYTHON" tools/relation_test_net.py \
                --config-file "$recipe" "${COMMON[@]}" "${energy[@]}" DATASETS.TO_TEST val \
                OUTPUT_DIR "$dir" >"$dir/test.log" 2>&1; then
                test_s=$(echo "$(date +%s.%N) - $start" | bc -l)
                test_peak=$(peak "$dir/test.time")
            else status=test_failed; fi
            rm -f "$dir"/*.pth  # an X-101 checkpoint is ~3 GB; the logs are what the smoke keeps
        else status=train_failed; per_iter=-; train_peak=$(peak "$dir/train.time"); fi
        printf '%-32s %-4s %-8s %-10.1f %-9.1f %-10s %s\n' "$(basename "$(dirname "$recipe")")/$(basename "$recipe")" \
            "$objective" "$status" "${per_iter/-/0}" "${test_s/-/0}" "$train_peak/$test_peak" "$dir"
    done
done
