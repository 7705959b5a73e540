#!/usr/bin/env bash
# The main job on the embedded default, end to end on a CPU with nothing downloaded:
#   1. install the package (if needed),
#   2. generate the `small` synthetic benchmark (if needed),
#   3. pretrain the small detector (or reuse a finished one),
#   4. train Motifs PredCls with cross-entropy and with the energy loss, on the same schedule
#      (in parallel, one CPU thread each),
#   5. evaluate both on the test split and print one side-by-side table.
# Usage: bash scripts/quickstart.sh          (outputs in output/quickstart/)
# Environment: QUICKSTART_OUT (output folder), PYTHON (interpreter), QUICKSTART_DET_ITERS
# (detector iterations, 400), QUICKSTART_PRESET (synthetic preset, small) and QUICKSTART_ITERS
# (relation iterations, the config's 300). CI runs the whole job in seconds with
# QUICKSTART_PRESET=tiny QUICKSTART_DET_ITERS=4 QUICKSTART_ITERS=4 (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${QUICKSTART_OUT:-output/quickstart}
DET_ITERS=${QUICKSTART_DET_ITERS:-400}
PRESET=${QUICKSTART_PRESET:-small}
REL_ITERS=${QUICKSTART_ITERS:-}
DATA=datasets/synthetic_vg_$PRESET
# Another preset than the configs' `small`: its catalog names and a validation carve-out that fits.
DATA_OVERRIDES=()
if [ "$PRESET" != small ]; then
    DATA_OVERRIDES=(DATASETS.TRAIN "(\"synthetic_vg_${PRESET}_train\",)"
        DATASETS.VAL "(\"synthetic_vg_${PRESET}_val\",)"
        DATASETS.TEST "(\"synthetic_vg_${PRESET}_test\",)")
    [ "$PRESET" = tiny ] && DATA_OVERRIDES+=(DATASETS.NUM_VAL_IM 8)
fi
REL_OVERRIDES=()
if [ -n "$REL_ITERS" ]; then
    REL_OVERRIDES=(SOLVER.MAX_ITER "$REL_ITERS" SOLVER.STEPS "($((REL_ITERS * 4 / 5)),)"
        SOLVER.WARMUP_ITERS 0 SOLVER.CHECKPOINT_PERIOD "$REL_ITERS" SOLVER.VAL_PERIOD 0)
fi
start=$(date +%s)
stamp() { echo "[quickstart $(( $(date +%s) - start ))s] $*"; }

# The check runs isolated from the current folder (-I), so the source folder in the repository
# root cannot pass for an installed package, and it must resolve to this checkout (another
# clone's install would run other code).
installed=$("$PYTHON" -I -c "import os, maskrcnn_benchmark as m; print(os.path.realpath(os.path.dirname(os.path.dirname(m.__file__))))" 2>/dev/null || true)
if [ "$installed" != "$(pwd -P)" ]; then
    stamp "installing the package (pip install -e .)"
    "$PYTHON" -m pip install -q -e .
fi

if [ ! -f "$DATA/VG-SGG-with-attri.h5" ]; then
    stamp "generating the synthetic benchmark (preset $PRESET) into $DATA"
    "$PYTHON" tools/make_synthetic_vg.py --preset "$PRESET" --out "$DATA" --workers 2
fi

DET="$OUT/detector"
if [ -f "$DET/model_final.pth" ]; then
    stamp "reusing the detector in $DET"
else
    stamp "pretraining the small detector ($DET_ITERS iterations) into $DET"
    OMP_NUM_THREADS=2 "$PYTHON" tools/detector_pretrain_net.py \
        --config-file configs/detector/synthetic_R18_FPN.yaml \
        SOLVER.MAX_ITER "$DET_ITERS" SOLVER.STEPS "($((DET_ITERS * 3 / 4)),)" \
        SOLVER.CHECKPOINT_PERIOD "$DET_ITERS" SOLVER.TO_VAL False OUTPUT_DIR "$DET" \
        "${DATA_OVERRIDES[@]}"
fi

stamp "training Motifs PredCls with cross-entropy (CE) and with the energy loss (EBM)"
run() {  # name, extra overrides...
    local name=$1
    shift
    OMP_NUM_THREADS=1 "$PYTHON" tools/relation_train_net.py \
        --config-file configs/quickstart/motifs_predcls.yaml \
        MODEL.PRETRAINED_DETECTOR_CKPT "$DET/model_final.pth" \
        OUTPUT_DIR "$OUT/motifs_predcls_$name" "${DATA_OVERRIDES[@]}" "${REL_OVERRIDES[@]}" "$@" \
        2>&1 | sed -u "s/^/[$name] /"
}
run ce &
ce_pid=$!
run ebm MODEL.ENERGY_ON True &
ebm_pid=$!
wait "$ce_pid"
wait "$ebm_pid"

stamp "done; test-split results (percent):"
"$PYTHON" tools/compare_results.py CE="$OUT/motifs_predcls_ce" EBM="$OUT/motifs_predcls_ebm" \
    | tee "$OUT/comparison.md"
stamp "table saved to $OUT/comparison.md; logs, checkpoints and plots are in $OUT/"

stamp "drawing both models' scene graphs on the 4 test images where they differ most"
"$PYTHON" tools/visualize_predictions.py CE="$OUT/motifs_predcls_ce" \
    EBM="$OUT/motifs_predcls_ebm" --images 4 --select differ --out "$OUT/pictures"
stamp "CE vs EBM pictures (GT, CE and EBM top-10 triplets per image) saved in $OUT/pictures/"
