#!/usr/bin/env bash
# The paper's Table 4 (sentence-to-graph retrieval) on the `default` synthetic preset, for SGDet
# runs of tools/run_experiments.py --plan paper (docs/RETRIEVAL.md explains each step):
#   1. captions and text graphs beside the data (once);
#   2. each run's scene graphs of the train and val images (its test-split graphs come from the
#      run itself), as SGB trains the retrieval model on the SGG model's own graphs;
#   3. graphs + captions -> retrieval input files, one per split;
#   4. the retrieval model trained and tested with SEEDS (0 1 2) on each run's files;
# plus the oracle: the same with the annotated graphs. Every step skips what exists.
# Usage: bash scripts/retrieval_table4.sh [run ...]
#   (default: motifs_sgdet_ce_seed0 motifs_sgdet_ebm_seed0 vctree_sgdet_ce_seed0
#    vctree_sgdet_ebm_seed0)
# Then: python tools/results_tables.py --section retrieval   (Table 4, mean ± std over SEEDS)
# Environment: RESULTS (output/results), S2G (output/s2g), SEEDS ("0 1 2"), PYTHON (python3);
# one process at a time, OMP_NUM_THREADS (1) threads.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-output/results}
S2G=${S2G:-output/s2g}
SEEDS=${SEEDS:-0 1 2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DATA=datasets/synthetic_vg_default
BASE=configs/synthetic_default/base.yaml
RETRIEVAL=configs/retrieval/synthetic_default.yaml
if [ $# -gt 0 ]; then RUNS=("$@"); else
    RUNS=(motifs_sgdet_ce_seed0 motifs_sgdet_ebm_seed0 vctree_sgdet_ce_seed0 vctree_sgdet_ebm_seed0)
fi
start=$(date +%s)
stamp() { echo "[retrieval_table4 $(( $(date +%s) - start ))s] $*"; }

[ -f "$DATA/vg_capgraphs_anno.json" ] || "$PYTHON" tools/image_retrieval.py captions --data-dir "$DATA"

train_and_test() {  # folder of {train,val,test}.json
    local dir=$1 seed
    for seed in $SEEDS; do
        if [ -f "$dir/seed$seed/retrieval/test.json" ]; then continue; fi
        stamp "retrieval training on $dir, seed $seed"
        "$PYTHON" tools/image_retrieval.py train --config-file "$RETRIEVAL" --no-resume \
            RETRIEVAL.TRAIN_FILES "('$dir/train.json', '$dir/val.json')" \
            RETRIEVAL.TEST_FILE "$dir/test.json" OUTPUT_DIR "$dir/seed$seed" SEED "$seed" \
            > "$dir/seed$seed.log" 2>&1
    done
}

oracle=$S2G/ground_truth
mkdir -p "$oracle"
for split in train val test; do
    [ -f "$oracle/$split.json" ] || "$PYTHON" tools/image_retrieval.py preprocess \
        --config-file "$BASE" --split "$split" --source ground_truth --out "$oracle/$split.json"
done
train_and_test "$oracle"

for run in "${RUNS[@]}"; do
    folder=$RESULTS/$run
    if [ ! -f "$folder/model_final.pth" ]; then
        echo "$folder/model_final.pth missing: run tools/run_experiments.py --plan paper --only '^$run\$' first" >&2
        exit 1
    fi
    out=$S2G/${run}
    mkdir -p "$out"
    for split in train val; do
        if [ ! -f "$folder/inference/synthetic_vg_default_$split/predictions.pth" ]; then
            stamp "$run: scene graphs of the $split split"
            "$PYTHON" tools/relation_test_net.py --config-file "$folder/config.yaml" \
                DATASETS.TO_TEST "$split" OUTPUT_DIR "$folder" > "$out/test_$split.log" 2>&1
        fi
    done
    for split in train val test; do
        [ -f "$out/$split.json" ] || "$PYTHON" tools/image_retrieval.py preprocess \
            --config-file "$folder/config.yaml" --split "$split" --out "$out/$split.json" \
            OUTPUT_DIR "$folder"
    done
    train_and_test "$out"
done
stamp "done: python tools/results_tables.py --section retrieval"
