#!/usr/bin/env bash
# The paper's Table 4 (sentence-to-graph retrieval) on the `default` synthetic preset, for SGDet
# runs of tools/run_experiments.py --plan paper (docs/RETRIEVAL.md explains each step):
#   1. captions and text graphs beside the data (once);
#   2. the oracle: the retrieval model trained with SEEDS (0 1 2) on the annotated graphs of the
#      train and val images and tested on those of the test images ($S2G/ground_truth);
#   3. PROTOCOL judge: every run's test graphs scored by the oracle's retrieval model of each
#      seed ($S2G/judge/<run>): one fixed judge, so rows differ only in the scene graphs;
#   4. PROTOCOL own (SGB's): the run's scene graphs of the train and val images too (a test of
#      the SGDet model on those splits, ~0.35-0.45 s per image on one core), and the retrieval
#      model trained with SEEDS on them ($S2G/own/<run>; the recipe for predicted graphs,
#      $RETRIEVAL_PREDICTED);
#   5. EXTEND 1: the 5,000-image gallery. The test split has 1,832 images, so a generated
#      extension of the data set (images 6,000-16,899 of the same seed's stream, 3,215 of them
#      test images, $EXT_DATA) is appended: the run's SGDet test on the extension's test split
#      (~25 min per run on one core), the retrieval input test_5000.json (the test split, then
#      the extension's test images), and every retrieval model above tested on it
#      (seed<k>/retrieval/test_5000.json; its first 1,000 images are the 1,000 gallery).
# Every step skips what exists. A test never rewrites a run's config.yaml (config_test.yaml).
# Usage: bash scripts/retrieval_table4.sh [run ...]
#   (default: motifs_sgdet_ce_seed0 motifs_sgdet_ebm_seed0 vctree_sgdet_ce_seed0
#    vctree_sgdet_ebm_seed0); a test-only run of the plan works too, e.g. the CE model with
#   energy-guided decoding: PROTOCOL=judge bash scripts/retrieval_table4.sh motifs_sgdet_ce_decode_seed0
# Then: python tools/results_tables.py --section retrieval   (Table 4, mean ± std over SEEDS)
# e.g. PROTOCOL=judge bash scripts/retrieval_table4.sh motifs_sgdet_ce_seed0  (the cheap protocol)
# Environment: PROTOCOL ("judge own"), EXTEND (1; 0 skips step 5), RESULTS (output/results),
# S2G (output/s2g), SEEDS ("0 1 2"), PYTHON (python3); one process at a time, OMP_NUM_THREADS
# (1) threads.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-output/results}
S2G=${S2G:-output/s2g}
SEEDS=${SEEDS:-0 1 2}
PROTOCOL=${PROTOCOL:-judge own}
EXTEND=${EXTEND:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DATA=datasets/synthetic_vg_default
EXT_DATA=datasets/synthetic_vg_default_ext
# the test split, then the extension's test images: the retrieval input of the 5,000 gallery
TEST_5000="('synthetic_vg_default_test', 'synthetic_vg_default_ext_test')"
BASE=configs/synthetic_default/base.yaml
RETRIEVAL=configs/retrieval/synthetic_default.yaml
# the recipe for training on predicted graphs (PROTOCOL own), chosen on the val split
RETRIEVAL_PREDICTED=configs/retrieval/synthetic_default_predicted.yaml
if [ $# -gt 0 ]; then RUNS=("$@"); else
    RUNS=(motifs_sgdet_ce_seed0 motifs_sgdet_ebm_seed0 vctree_sgdet_ce_seed0 vctree_sgdet_ebm_seed0)
fi
start=$(date +%s)
stamp() { echo "[retrieval_table4 $(( $(date +%s) - start ))s] $*"; }

[ -f "$DATA/vg_capgraphs_anno.json" ] || "$PYTHON" tools/image_retrieval.py captions --data-dir "$DATA"
if [ "$EXTEND" = 1 ]; then
    [ -f "$EXT_DATA/VG-SGG-with-attri.h5" ] || "$PYTHON" tools/make_synthetic_vg.py \
        --preset default --seed 0 --first-image 6000 --num-images 10900 --out "$EXT_DATA"
    [ -f "$EXT_DATA/vg_capgraphs_anno.json" ] || "$PYTHON" tools/image_retrieval.py captions \
        --data-dir "$EXT_DATA"
fi

retrieval_test() {  # folder of seed<k>/ and <stem>.json, stem; folder of the weights (default: same)
    local dir=$1 stem=$2 weights=${3:-$1} seed
    for seed in $SEEDS; do
        [ -f "$dir/seed$seed/retrieval/$stem.json" ] && continue
        stamp "$dir/$stem.json scored by the retrieval model of $weights, seed $seed"
        "$PYTHON" tools/image_retrieval.py test --config-file "$RETRIEVAL" \
            RETRIEVAL.TEST_FILE "$dir/$stem.json" OUTPUT_DIR "$dir/seed$seed" \
            MODEL.WEIGHT "$weights/seed$seed/model_final.pth" > "$dir/seed${seed}_$stem.log" 2>&1
    done
}

train_and_test() {  # folder of {train,val,test}.json, retrieval config
    local dir=$1 config=$2 seed
    for seed in $SEEDS; do
        if [ -f "$dir/seed$seed/retrieval/test.json" ]; then continue; fi
        stamp "retrieval training on $dir, seed $seed"
        "$PYTHON" tools/image_retrieval.py train --config-file "$config" --no-resume \
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
train_and_test "$oracle" "$RETRIEVAL"
if [ "$EXTEND" = 1 ]; then
    [ -f "$oracle/test_5000.json" ] || "$PYTHON" tools/image_retrieval.py preprocess \
        --config-file "$BASE" --split test --source ground_truth --out "$oracle/test_5000.json" \
        DATASETS.TEST "$TEST_5000"
    retrieval_test "$oracle" test_5000
fi

preprocess() {  # run folder, split, output file, more KEY VALUE overrides
    [ -f "$3" ] || "$PYTHON" tools/image_retrieval.py preprocess --config-file "$1/config.yaml" \
        --split "$2" --out "$3" OUTPUT_DIR "$1" "${@:4}"
}

for run in "${RUNS[@]}"; do
    folder=$RESULTS/$run
    # a trained run or a test-only one (e.g. <predictor>_sgdet_ce_decode_seed<k>: the CE model
    # with energy-guided decoding): its config and its test split's scene graphs
    if [ ! -f "$folder/inference/synthetic_vg_default_test/predictions.pth" ]; then
        echo "$folder/inference/synthetic_vg_default_test/predictions.pth missing: run tools/run_experiments.py --plan paper --only '^$run\$' first" >&2
        exit 1
    fi
    if [ "$EXTEND" = 1 ] && [ ! -f "$folder/inference/synthetic_vg_default_ext_test/predictions.pth" ]; then
        mkdir -p "$S2G/extension"
        stamp "$run: scene graphs of the extension's test images"
        "$PYTHON" tools/relation_test_net.py --config-file "$folder/config.yaml" \
            DATASETS.TEST "('synthetic_vg_default_ext_test',)" DATASETS.TO_TEST test \
            OUTPUT_DIR "$folder" > "$S2G/extension/$run.log" 2>&1
    fi
    for protocol in $PROTOCOL; do
        out=$S2G/$protocol/$run
        mkdir -p "$out"
        preprocess "$folder" test "$out/test.json"
        [ "$EXTEND" = 1 ] && preprocess "$folder" test "$out/test_5000.json" \
            DATASETS.TEST "$TEST_5000"
        if [ "$protocol" = judge ]; then  # the oracle's retrieval models score the run's graphs
            retrieval_test "$out" test "$oracle"
            [ "$EXTEND" = 1 ] && retrieval_test "$out" test_5000 "$oracle"
            continue
        fi
        for split in train val; do
            if [ ! -f "$folder/inference/synthetic_vg_default_$split/predictions.pth" ]; then
                stamp "$run: scene graphs of the $split split"
                "$PYTHON" tools/relation_test_net.py --config-file "$folder/config.yaml" \
                    DATASETS.TO_TEST "$split" OUTPUT_DIR "$folder" > "$out/test_$split.log" 2>&1
            fi
            preprocess "$folder" "$split" "$out/$split.json"
        done
        train_and_test "$out" "$RETRIEVAL_PREDICTED"
        [ "$EXTEND" = 1 ] && retrieval_test "$out" test_5000
    done
done
stamp "done: python tools/results_tables.py --section retrieval"
