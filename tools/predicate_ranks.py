"""Where the GT relations of one predicate rank in several runs (Markdown table).

    python tools/predicate_ranks.py --predicate of --top 20 \\
        decoded=output/results/motifs_predcls_ce_decode_seed0 \\
        rescored=output/results/motifs_predcls_ce_decode_fill_seed0

Every run must hold ``inference/<dataset>/predictions.pth`` of the same test split; the split
and its GT come from the first run's config.yaml. Columns: GT triplets of the predicate, how
many rank in the top K, how many are hits there (listed with that predicate), how many have
background as the most probable label in the run's saved scores (after any test-time decoding),
and how many top-K hits are such background pairs ("fillers").
"""

import argparse
import glob
import logging
import os
import sys

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.evaluation.outputs import load_predictions
from maskrcnn_benchmark.evaluation.predicate_ranks import predicate_ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=DIR")
    parser.add_argument("--predicate", required=True, help="predicate name, e.g. of")
    parser.add_argument("--top", type=int, default=20, help="K of the top-K list")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    runs = [spec.partition("=")[::2] for spec in args.runs]
    if any(not folder for _, folder in runs):
        parser.error("expected NAME=DIR")
    cfg = get_cfg()
    config = os.path.join(runs[0][1], "config.yaml")
    if not os.path.isfile(config):
        sys.exit(f"predicate_ranks.py: error: no {config}: name run folders of "
                 "tools/relation_test_net.py or relation_train_net.py")
    cfg.merge_from_file(config)
    dataset = build_dataset(cfg, cfg.DATASETS.TEST, False)[0]
    names = list(dataset.ind_to_predicates)
    if args.predicate not in names:
        sys.exit(f"predicate_ranks.py: error: unknown predicate {args.predicate!r}; the data "
                 f"set has {', '.join(names[1:])}")
    gt = [dataset.get_groundtruth(i, evaluation=True).get_field("relation_tuple")
          for i in range(len(dataset))]
    lines = [f"| run | GT '{args.predicate}' | in top {args.top} | hits in top {args.top} | "
             f"background most probable | hits that are background pairs |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, folder in runs:
        paths = glob.glob(os.path.join(folder, "inference", "*", "predictions.pth"))
        if len(paths) != 1:
            sys.exit(f"predicate_ranks.py: error: expected one inference/*/predictions.pth "
                     f"under {folder}, found {len(paths)}")
        predictions = load_predictions(paths[0], os.path.basename(os.path.dirname(paths[0])),
                                       len(dataset))
        counts = predicate_ranks(
            gt, [p.get_field("rel_pair_idxs") for p in predictions],
            [p.get_field("pred_rel_labels") for p in predictions],
            [p.get_field("pred_rel_scores") for p in predictions],
            names.index(args.predicate), args.top)
        lines.append(f"| {name} | {counts.gt} | {counts.in_top} | {counts.hit_top} | "
                     f"{counts.background} | {counts.hit_top_background} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
