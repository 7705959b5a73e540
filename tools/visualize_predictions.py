"""Draw saved scene-graph predictions as pictures (boxes, top triplets, graph diagram).

    # one test run: per image, GT (matched / missed / zero-shot) beside the prediction
    python tools/visualize_predictions.py output/quickstart/motifs_predcls_ce --images 4
    # two runs on the same test split (the paper's Figure 3): differences and zero-shot hits
    python tools/visualize_predictions.py CE=output/quickstart/motifs_predcls_ce \\
        EBM=output/quickstart/motifs_predcls_ebm --images 4 --select differ
    # a predict folder (custom_prediction.json + custom_data_info.json, SGB's format)
    python tools/visualize_predictions.py output/my_images --top-k 10 --threshold 0.05

A run folder is the OUTPUT_DIR of a run tested by tools/relation_test_net.py (or the train tool).
Pictures go to --out (default: <run>/inference/<dataset>/pictures, <parent>/pictures_A_vs_B
for a comparison, <folder>/pictures for a predict folder). See docs/VISUALIZATION.md.
"""

import argparse
import logging
import sys

from maskrcnn_benchmark.utils.logger import setup_logger
from maskrcnn_benchmark.visualization.runs import SELECTIONS, visualize_runs


def _spec(text: str) -> tuple[str | None, str]:
    name, sep, folder = text.partition("=")
    return (name, folder) if sep and name and folder else (None, text)


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="[NAME=]DIR",
                        help="a run folder, NAME=folder runs to compare, or a predict folder")
    parser.add_argument("--images", type=int, default=4, help="number of images (default 4)")
    parser.add_argument("--indices", type=int, nargs="+", default=None,
                        help="these dataset indices instead of --images/--select")
    parser.add_argument("--select", choices=SELECTIONS, default="first",
                        help="which images: the first ones with relations, most zero-shot hits, "
                             "or where the runs differ most (default first)")
    parser.add_argument("--top-k", type=int, default=10, help="triplets drawn per model (10)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="drop triplets whose score (predicate x subject x object) is lower")
    parser.add_argument("--dataset", default=None,
                        help="which saved test dataset of the runs (default: the first of "
                             "DATASETS.TEST)")
    parser.add_argument("--out", default=None, help="output folder for the PNG files")
    parser.add_argument("--no-graph", action="store_true",
                        help="no graph diagram; arrows on the image instead")
    parser.add_argument("--max-side", type=int, default=400,
                        help="longer image side in pixels in the pictures (400)")
    parser.add_argument("--sgb-frame", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="predict folder written by SGB: boxes are in its test-resized frame "
                             "(INPUT.MIN_SIZE_TEST MAX_SIZE_TEST, e.g. 600 1000)")
    args = parser.parse_args(argv)
    setup_logger("maskrcnn_benchmark", "", 0)
    paths = visualize_runs(
        [_spec(r) for r in args.runs], args.out, images=args.images, indices=args.indices,
        select=args.select, dataset=args.dataset, top_k=args.top_k, threshold=args.threshold,
        graph=not args.no_graph, max_side=args.max_side,
        sgb_frame=tuple(args.sgb_frame) if args.sgb_frame else None)
    logging.getLogger("maskrcnn_benchmark").info("%d pictures:\n%s", len(paths), "\n".join(paths))
    return paths


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, KeyError, ValueError) as err:
        sys.exit(f"visualize_predictions: {err}")
