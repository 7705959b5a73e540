"""Measure data-loading throughput (images/s) of the training loader with 0 and 2 workers.

Without --dataset it writes a generated VG-format set (random JPEGs) to a temporary folder.
Example: PYTHONPATH=$PWD python tools/benchmark_data.py --num-images 128 --batches 40
"""

import argparse
import os
import tempfile

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.throughput import measure_loader_throughput, write_benchmark_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="", help="optional YAML merged into the defaults")
    parser.add_argument("--dataset", default="", help="catalog name of a train split to read")
    parser.add_argument("--num-images", type=int, default=128, help="size of the generated set")
    parser.add_argument("--batches", type=int, default=40, help="timed batches per setting")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args()

    cfg = get_cfg()
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(["MODEL.RELATION_ON", True, "MODEL.ROI_BOX_HEAD.NUM_CLASSES", 151,
                         "SOLVER.IMS_PER_BATCH", 8, "DATASETS.NUM_VAL_IM", 0,
                         "INPUT.MIN_SIZE_TRAIN", (600,), "INPUT.MAX_SIZE_TRAIN", 1000])
    cfg.merge_from_list(args.opts)
    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset:
            cfg.DATASETS.TRAIN = (args.dataset,)
        else:
            write_benchmark_dataset(os.path.join(tmp, "bench"), num_images=args.num_images)
            cfg.DATASETS.DATA_DIR = tmp
            os.environ.pop("SGG_DATA_DIR", None)
            cfg.DATASETS.TRAIN = ("bench_train",)
        for workers in args.workers:
            rate = measure_loader_throughput(cfg, workers, args.batches)
            print(f"workers={workers}: {rate:.1f} images/s "
                  f"(batch {cfg.SOLVER.IMS_PER_BATCH}, {args.batches} batches)")


if __name__ == "__main__":
    main()
