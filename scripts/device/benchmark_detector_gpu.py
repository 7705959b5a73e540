"""GPU check: X-101-32x8d-FPN detector forward images/s at 600x1000 in bf16 (random weights).

Run on a machine with a CUDA GPU from the repository root:
    PYTHONPATH=$PWD python scripts/device/benchmark_detector_gpu.py
Prints one JSON line: device, image size, batch size, dtype, images/s (bf16 and fp32).
"""

import argparse
import json
import sys

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.detector.throughput import measure_forward_throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/detector/vg150_X_101_32_8_FPN.yaml")
    parser.add_argument("--height", type=int, default=608)  # 600 padded to a multiple of 32
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("No CUDA device: this check needs a GPU")

    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(["MODEL.DEVICE", "cuda"])
    torch.manual_seed(0)
    model = build_detection_model(cfg).cuda()
    torch.backends.cudnn.benchmark = True
    rates = {}
    for name, dtype in (("bfloat16", torch.bfloat16), ("float32", None)):
        rates[name] = measure_forward_throughput(model, args.height, args.width, args.batch_size,
                                                 args.iterations, args.warmup, dtype=dtype)
    sys.stdout.write(json.dumps({
        "check": "detector_forward_throughput",
        "device": torch.cuda.get_device_name(0),
        "model": "X-101-32x8d-FPN",
        "image_size": [args.height, args.width],
        "batch_size": args.batch_size,
        "images_per_s_bf16": round(rates["bfloat16"], 2),
        "images_per_s_fp32": round(rates["float32"], 2),
        "max_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }) + "\n")


if __name__ == "__main__":
    main()
