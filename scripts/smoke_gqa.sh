#!/usr/bin/env bash
# The GQA path end to end on a CPU with nothing downloaded:
#   1. the synthetic data set in the official GQA scene-graph format
#      (tools/make_synthetic_vg.py --format gqa), if missing;
#   2. tools/convert_gqa.py --preset paper into the VG150 files, if missing;
#   3. optionally a small detector pretrained on it (SMOKE_GQA_DET_ITERS > 0; default 0 keeps a
#      random frozen detector, enough to show the recipe runs);
#   4. the paper's GQA models (Transformer, Motifs, IMP; no frequency bias) trained with
#      cross-entropy and with the energy loss (configs/gqa/synthetic/<model>_<task>.yaml),
#      each then tested on the test split.
# Prints one row per run: training seconds per iteration (the trainer's last logged "time", a
# running median), wall seconds of the training and of the test command (start-up included),
# the trainer's peak resident memory, R@50 and mR@20/50/100 on the test split (percent); the
# table also goes to $OUT/summary.md.
# Usage: bash scripts/smoke_gqa.sh
# Environment: SMOKE_GQA_PRESET (tiny | small | default; tiny), SMOKE_GQA_ITERS (relation
# iterations, 20), SMOKE_GQA_DET_ITERS (0), SMOKE_GQA_MODELS ("transformer motifs imp"),
# SMOKE_GQA_TASKS ("predcls"; add sgcls), SMOKE_GQA_OBJECTIVES ("ce ebm"), SMOKE_GQA_OUT
# (output/smoke_gqa), PYTHON (python3). Runs one at a time, OMP_NUM_THREADS (1) threads.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PRESET=${SMOKE_GQA_PRESET:-tiny}
ITERS=${SMOKE_GQA_ITERS:-20}
DET_ITERS=${SMOKE_GQA_DET_ITERS:-0}
MODELS=${SMOKE_GQA_MODELS:-transformer motifs imp}
TASKS=${SMOKE_GQA_TASKS:-predcls}
OBJECTIVES=${SMOKE_GQA_OBJECTIVES:-ce ebm}
OUT=${SMOKE_GQA_OUT:-output/smoke_gqa}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RAW=datasets/synthetic_gqa_${PRESET}_raw
NAME=synthetic_gqa_${PRESET}
DATA=datasets/$NAME
start=$(date +%s)
stamp() { echo "[smoke_gqa $(( $(date +%s) - start ))s] $*"; }
mkdir -p "$OUT"

if [ ! -f "$RAW/sceneGraphs/val_sceneGraphs.json" ]; then
    stamp "writing the GQA-format synthetic data set (preset $PRESET) into $RAW"
    "$PYTHON" tools/make_synthetic_vg.py --format gqa --preset "$PRESET" --out "$RAW" --workers 2
fi
if [ ! -f "$DATA/VG-SGG-with-attri.h5" ]; then
    stamp "converting it with tools/convert_gqa.py into $DATA"
    "$PYTHON" tools/convert_gqa.py --preset paper --out "$DATA" --images "$RAW/images" \
        --scene-graphs "$RAW/sceneGraphs/train_sceneGraphs.json" \
        "$RAW/sceneGraphs/val_sceneGraphs.json"
fi
read -r NUM_OBJ NUM_REL NUM_TRAIN < <("$PYTHON" - "$DATA" <<'EOF'
import json, sys
import h5py
d = json.load(open(f"{sys.argv[1]}/VG-SGG-dicts-with-attri.json"))
with h5py.File(f"{sys.argv[1]}/VG-SGG-with-attri.h5") as h5:
    train = int((h5["split"][:] == 0).sum())
print(len(d["label_to_idx"]) + 1, len(d["predicate_to_idx"]) + 1, train)
EOF
)
NUM_VAL=$(( NUM_TRAIN / 10 < 100 ? NUM_TRAIN / 10 : 100 ))
stamp "$DATA: $NUM_OBJ object / $NUM_REL predicate classes (with background), $NUM_TRAIN train images"
DATA_OPTS=(MODEL.ROI_BOX_HEAD.NUM_CLASSES "$NUM_OBJ" MODEL.ROI_RELATION_HEAD.NUM_CLASSES "$NUM_REL"
    DATASETS.TRAIN "(\"${NAME}_train\",)" DATASETS.VAL "(\"${NAME}_val\",)"
    DATASETS.TEST "(\"${NAME}_test\",)" DATASETS.NUM_VAL_IM "$NUM_VAL")

DET_CKPT=""
if [ "$DET_ITERS" -gt 0 ]; then
    DET_CKPT="$OUT/detector/model_final.pth"
    if [ ! -f "$DET_CKPT" ]; then
        stamp "pretraining the small detector on $NAME ($DET_ITERS iterations)"
        "$PYTHON" tools/detector_pretrain_net.py --config-file configs/detector/synthetic_R18_FPN.yaml \
            "${DATA_OPTS[@]}" SOLVER.MAX_ITER "$DET_ITERS" SOLVER.STEPS "($((DET_ITERS * 3 / 4)),)" \
            SOLVER.CHECKPOINT_PERIOD "$DET_ITERS" SOLVER.TO_VAL False OUTPUT_DIR "$OUT/detector" \
            >"$OUT/detector.log" 2>&1
    fi
fi
RUN_OPTS=(MODEL.PRETRAINED_DETECTOR_CKPT "$DET_CKPT" SOLVER.MAX_ITER "$ITERS"
    SOLVER.STEPS "($((ITERS * 4 / 5)),)" SOLVER.WARMUP_ITERS "$(( ITERS / 10 ))"
    SOLVER.CHECKPOINT_PERIOD "$ITERS" SOLVER.VAL_PERIOD 0 SOLVER.PRE_VAL False
    SOLVER.LOG_PERIOD "$(( ITERS < 25 ? 1 : 25 ))")

metrics() {  # eval_results.json -> "R@50 mR@20 mR@50 mR@100" in percent
    "$PYTHON" - "$1" <<'EOF'
import json, sys
from maskrcnn_benchmark.evaluation.sgg_evaluator import metric_value
m = json.load(open(sys.argv[1]))
print(" ".join(f"{100 * metric_value(m, k):.2f}" for k in ("R@50", "mR@20", "mR@50", "mR@100")))
EOF
}

{
    echo "GQA-format synthetic ($PRESET, $NUM_OBJ / $NUM_REL classes), $ITERS iterations," \
        "detector: $([ -n "$DET_CKPT" ] && echo "pretrained $DET_ITERS it." || echo "random, frozen")"
    echo
    echo "| run | status | s/iter | train s | test s | max rss | R@50 | mR@20 | mR@50 | mR@100 |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT/summary.md"
for model in $MODELS; do
    for task in $TASKS; do
        for objective in $OBJECTIVES; do
            run="${model}_${task}_${objective}"
            dir="$OUT/$run"
            rm -rf "$dir"
            mkdir -p "$dir"
            energy=(MODEL.ENERGY_ON "$([ "$objective" = ebm ] && echo True || echo False)")
            config="configs/gqa/synthetic/${model}_${task}.yaml"
            stamp "training $run ($config)"
            status=ok per_iter=- train_s=- rss=- test_s=- row="- - - -"
            t0=$(date +%s.%N)
            if "$PYTHON" tools/relation_train_net.py --config-file "$config" --no-resume \
                --skip-test "${DATA_OPTS[@]}" "${RUN_OPTS[@]}" "${energy[@]}" OUTPUT_DIR "$dir" \
                >"$dir/train.log" 2>&1; then
                train_s=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf "%.1f")
                per_iter=$(grep -o 'time: [0-9.]*' "$dir/train.log" | tail -1 | cut -d' ' -f2)
                rss=$(grep -o 'max rss: [0-9]*M' "$dir/train.log" | tail -1 | cut -d' ' -f3)
                t0=$(date +%s.%N)
                if "$PYTHON" tools/relation_test_net.py --config-file "$config" "${DATA_OPTS[@]}" \
                    "${RUN_OPTS[@]}" "${energy[@]}" OUTPUT_DIR "$dir" >"$dir/test.log" 2>&1; then
                    test_s=$(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf "%.1f")
                    row=$(metrics "$dir/inference/${NAME}_test/eval_results.json")
                else status=test_failed; fi
            else status=train_failed; fi
            # shellcheck disable=SC2086
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$run" "$status" \
                "$per_iter" "$train_s" "$test_s" "$rss" $row | tee -a "$OUT/summary.md"
        done
    done
done
stamp "done; table in $OUT/summary.md, logs in $OUT/<run>/"
