"""Generate the embedded synthetic VG150 benchmark (no download needed).

    python tools/make_synthetic_vg.py --preset small --out datasets/synthetic_vg [--seed 0]
    python tools/make_synthetic_vg.py --format gqa --preset small --out datasets/synthetic_gqa_raw

Writes the VG150 files (h5, dicts json, image_data json, VG_100K/*.jpg) and a dataset card
(README.md with figures). See docs/SYNTHETIC.md. With ``--format gqa``: the same pictures
annotated GQA-style (own vocabulary, denser graphs) in the official GQA scene-graph files
(sceneGraphs/{train,val}_sceneGraphs.json, images/*.jpg), the input of tools/convert_gqa.py
(docs/DATA.md, "GQA").
"""

from __future__ import annotations

import argparse
import logging

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.datasets.synthetic.gqa_generate import generate_gqa_dataset
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import PRESETS


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and generate the data set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small",
                        help="tiny (64 images, tests), small (1,500, quickstart), "
                             "default (6,000, benchmark tables)")
    parser.add_argument("--format", choices=("vg150", "gqa"), default="vg150",
                        help="vg150: the VG150 files; gqa: official GQA scene-graph files "
                             "(convert them with tools/convert_gqa.py)")
    parser.add_argument("--out", default=None,
                        help="output folder (default datasets/synthetic_vg, or "
                             "datasets/synthetic_gqa_raw with --format gqa)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same files")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: all cores); the output does not "
                             "depend on it")
    parser.add_argument("--num-images", type=int, default=None,
                        help="override the preset's image count")
    parser.add_argument("--first-image", type=int, default=0,
                        help="start at this image of the seed's stream: with N, new images "
                             "disjoint from the data set of N images made with the same seed "
                             "and preset, from the same distribution (e.g. a 5,000-image "
                             "retrieval gallery, docs/RETRIEVAL.md)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.format == "gqa":
        out = args.out or "datasets/synthetic_gqa_raw"
        gqa = generate_gqa_dataset(out, args.preset, args.seed, args.workers, args.num_images,
                                   args.first_image)
        print(f"{gqa.num_images} images in {gqa.seconds:.1f} s -> {gqa.out_dir}: {gqa.counts}")
        return
    args.out = args.out or "datasets/synthetic_vg"
    result = generate_dataset(args.out, args.preset, args.seed, args.workers, args.num_images,
                              args.first_image)
    s = result.statistics
    print(f"{result.num_images} images ({s.num_train} train / {s.num_test} test) in "
          f"{result.seconds:.1f} s -> {result.out_dir}")
    print(f"head/tail {s.head_tail_ratio:.1f}x, zero-shot test triplets {s.zero_shot_triplets}, "
          f"few-shot {s.few_shot_triplets}, decided by the scene {s.context_share:.1%} of "
          f"relations {s.context_counts}")


if __name__ == "__main__":
    main()
