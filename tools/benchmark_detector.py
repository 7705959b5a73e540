"""Measure detector forward throughput (images/s) on the CPU, randomly initialised.

Example (the small synthetic-benchmark detector at two image sizes):
    PYTHONPATH=$PWD python tools/benchmark_detector.py \
        --config-file configs/detector/synthetic_R18_FPN.yaml --sizes 256x320 512x640
"""

import argparse

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.detector.throughput import measure_forward_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/detector/synthetic_R18_FPN.yaml")
    parser.add_argument("--sizes", nargs="+", default=["256x320"], help="HxW image sizes")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", *args.opts])
    torch.manual_seed(0)
    model = build_detection_model(cfg)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"{cfg.MODEL.BACKBONE.CONV_BODY} ({params:.2f}M parameters), "
          f"{torch.get_num_threads()} threads, batch {args.batch_size}")
    for size in args.sizes:
        height, width = (int(v) for v in size.split("x"))
        rate = measure_forward_throughput(model, height, width, args.batch_size, args.iterations)
        print(f"{height}x{width}: {rate:.2f} images/s")


if __name__ == "__main__":
    main()
