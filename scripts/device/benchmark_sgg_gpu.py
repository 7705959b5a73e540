"""GPU check: scene-graph training and inference images/s on VG-sized inputs, CE vs EBM, bf16.

Motifs and VCTree PredCls (X-101-32x8d-FPN detector, 4096-d relation features, VG150 class
counts, random weights, random GT graphs of --boxes boxes and --relations relations on 600 x
1000 images): training images/s with cross-entropy and with the energy loss (tau = 20 SGLD
steps), their ratio, and inference images/s. Run from the repository root:

    PYTHONPATH=$PWD python scripts/device/benchmark_sgg_gpu.py
    PYTHONPATH=$PWD python scripts/device/benchmark_sgg_gpu.py --device cpu --small  # smoke run
    PYTHONPATH=$PWD python scripts/device/benchmark_sgg_gpu.py --predictors all  # every registered

Prints one JSON line per predictor.
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictor_catalog import (
    predictor_opts,
    relation_predictor_names,
)
from maskrcnn_benchmark.solver import make_optimizer
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.image_list import ImageList


@dataclass
class UniformStatistics:
    """Stand-in dataset statistics: class names and a flat frequency table."""

    obj_classes: list
    rel_classes: list

    def pred_dist(self) -> torch.Tensor:
        c, p = len(self.obj_classes), len(self.rel_classes)
        return torch.full((c, c, p), -float(torch.log(torch.tensor(float(p)))))


def make_batch(args, num_obj: int, num_rel: int, device: torch.device):
    """Random images and GT graphs (boxes, labels, relation matrices)."""
    g = torch.Generator().manual_seed(0)
    images = ImageList(torch.randn(args.batch_size, 3, args.height, args.width, generator=g)
                       .mul(50).to(device), [(args.height, args.width)] * args.batch_size)
    targets = []
    for _ in range(args.batch_size):
        xy = torch.rand(args.boxes, 2, generator=g) * torch.tensor([args.width, args.height]) * 0.7
        wh = 20 + torch.rand(args.boxes, 2, generator=g) * 200
        box = BoxList(torch.cat([xy, xy + wh], 1), (args.width, args.height)).clip_to_image(False)
        box.add_field("labels", torch.randint(1, num_obj, (args.boxes,), generator=g))
        relation = torch.zeros(args.boxes, args.boxes, dtype=torch.int64)
        pairs = torch.randperm(args.boxes * args.boxes, generator=g)
        pairs = pairs[pairs // args.boxes != pairs % args.boxes][: args.relations]
        relation.view(-1)[pairs] = torch.randint(1, num_rel, (len(pairs),), generator=g)
        box.add_field("relation", relation, is_triplet=True)
        targets.append(box.to(device))
    return images, targets


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(fn, args, device) -> float:
    for _ in range(args.warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(args.iterations):
        fn()
    sync(device)
    return args.batch_size * args.iterations / (time.perf_counter() - start)


def measure(args, predictor: str, energy: bool) -> dict:
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(["MODEL.DEVICE", args.device, *predictor_opts(predictor),
                         "MODEL.ENERGY_ON", str(energy), "GLOVE_DIR", "",
                         "DTYPE", "bfloat16", *args.opts])
    device = torch.device(args.device)
    num_obj, num_rel = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES, cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    stats = UniformStatistics([f"c{i}" for i in range(num_obj)], [f"r{i}" for i in range(num_rel)])
    torch.manual_seed(0)
    model = build_detection_model(cfg, stats).to(device)
    optimizer = make_optimizer(cfg, model)
    images, targets = make_batch(args, num_obj, num_rel, device)

    def train_step() -> None:
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            losses = model(images, targets)
        optimizer.zero_grad(set_to_none=True)
        sum(v for k, v in losses.items() if k.startswith("loss")).backward()
        optimizer.step()

    def test_step() -> None:
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
            model(images, targets)

    result = {"train_images_per_s": images_per_second(train_step, args, device)}
    if not energy:
        result["test_images_per_s"] = images_per_second(test_step, args, device)
    if device.type == "cuda":
        result["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/vg150/motifs_predcls.yaml")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--predictors", nargs="+", default=["MotifPredictor", "VCTreePredictor"],
                        help="registry names, or 'all' for every registered predictor (the "
                             "causal head as VCTree-TDE)")
    parser.add_argument("--height", type=int, default=608)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--boxes", type=int, default=25)
    parser.add_argument("--relations", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="tiny sizes for a CPU smoke run")
    parser.add_argument("opts", nargs="*", help="config KEY VALUE overrides")
    args = parser.parse_intermixed_args()
    if args.predictors == ["all"]:
        args.predictors = relation_predictor_names()
    if args.small:
        args.height, args.width, args.batch_size, args.boxes = 96, 128, 2, 6
        args.iterations, args.warmup = 1, 1
        args.opts += ["MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM", "64",
                      "MODEL.ROI_RELATION_HEAD.CONTEXT_POOLING_DIM", "64",
                      "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM", "32",
                      "MODEL.RESNETS.NUM_GROUPS", "1", "MODEL.RESNETS.WIDTH_PER_GROUP", "8",
                      "MODEL.BACKBONE.CONV_BODY", "R-18-FPN", "MODEL.RESNETS.TRANS_FUNC",
                      "BasicBlockWithFixedBatchNorm", "MODEL.RESNETS.RES2_OUT_CHANNELS", "16",
                      "MODEL.RESNETS.STEM_OUT_CHANNELS", "16",
                      "MODEL.RESNETS.BACKBONE_OUT_CHANNELS", "32",
                      "MODEL.RPN.RPN_MID_CHANNEL", "32"]
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("No CUDA device: run with --device cpu --small for a smoke run")
    for predictor in args.predictors:
        ce, ebm = measure(args, predictor, False), measure(args, predictor, True)
        sys.stdout.write(json.dumps({
            "check": "sgg_training_throughput", "predictor": predictor, "task": "predcls",
            "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda")
            else args.device,
            "image_size": [args.height, args.width], "batch_size": args.batch_size,
            "dtype": "bfloat16", "ce_train_images_per_s": round(ce["train_images_per_s"], 2),
            "ebm_train_images_per_s": round(ebm["train_images_per_s"], 2),
            "ebm_over_ce_time": round(ce["train_images_per_s"] / ebm["train_images_per_s"], 3),
            "test_images_per_s": round(ce["test_images_per_s"], 2),
            "max_memory_gib_ce": round(ce.get("max_memory_gib", 0.0), 2),
            "max_memory_gib_ebm": round(ebm.get("max_memory_gib", 0.0), 2),
        }) + "\n")


if __name__ == "__main__":
    main()
