"""Seconds per training iteration and per test batch of every predictor, on a CPU.

Not a test. The model is the synthetic R-18-FPN detector of ``configs/detector`` (random
weights, frozen) with a relation head of quickstart widths (hidden 128, pooling 256, GloVe-less
embeddings of 50), on 4 random 256 x 320 images with 8 GT boxes each:

    PYTHONPATH=$PWD python tests/modeling/relation_data/benchmark_relation_heads.py --threads 1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.structures.bounding_box import BoxList

ROOT = Path(__file__).resolve().parents[3]
TASKS = {"predcls": (True, True), "sgcls": (True, False), "sgdet": (False, False)}
NUM_OBJ, NUM_REL = 35, 22


@dataclass
class _Statistics:
    obj_classes: list[str]
    rel_classes: list[str]
    table: torch.Tensor

    def pred_dist(self) -> torch.Tensor:
        return self.table


def _targets(generator: torch.Generator, num_images: int) -> list[BoxList]:
    targets = []
    for _ in range(num_images):
        xy = torch.rand(8, 2, generator=generator) * 200
        target = BoxList(torch.cat((xy, xy + 20 + torch.rand(8, 2, generator=generator) * 90), 1),
                         (320, 256))
        target.add_field("labels", torch.randint(1, NUM_OBJ, (8,), generator=generator))
        relation = torch.zeros(8, 8, dtype=torch.int64)
        relation[torch.arange(0, 8, 2), torch.arange(1, 8, 2)] = 1 + torch.arange(4)
        target.add_field("relation", relation, is_triplet=True)
        targets.append(target)
    return targets


def _model(predictor: str, task: str):
    cfg = get_cfg()
    cfg.merge_from_file(str(ROOT / "configs/detector/synthetic_R18_FPN.yaml"))
    cfg.MODEL.RELATION_ON = True
    cfg.MODEL.ROI_HEADS.DETECTIONS_PER_IMG = 30
    cfg.GLOVE_DIR = ""
    head = cfg.MODEL.ROI_RELATION_HEAD
    head.PREDICTOR = predictor
    head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL = TASKS[task]
    head.NUM_CLASSES = NUM_REL
    head.EMBED_DIM, head.CONTEXT_HIDDEN_DIM, head.CONTEXT_POOLING_DIM = 50, 128, 256
    head.BATCH_SIZE_PER_IMAGE = 256
    head.TRANSFORMER.OBJ_LAYER, head.TRANSFORMER.REL_LAYER, head.TRANSFORMER.INNER_DIM = 2, 1, 256
    names = [f"class{i}" for i in range(NUM_OBJ)], [f"predicate{i}" for i in range(NUM_REL)]
    return build_detection_model(cfg, _Statistics(*names, torch.randn(NUM_OBJ, NUM_OBJ, NUM_REL)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    targets = _targets(generator, 4)
    images = [torch.randn(3, 256, 320, generator=generator) for _ in targets]
    print(f"{'predictor':22s} {'task':8s} train s/iter  test s/batch")
    for predictor in ("MotifPredictor", "VCTreePredictor", "IMPPredictor",
                      "TransformerPredictor"):
        for task in TASKS:
            model = _model(predictor, task).train()
            train = []
            for _ in range(args.iters + 1):
                start = time.perf_counter()
                sum(model(images, targets).values()).backward()
                train.append(time.perf_counter() - start)
            model.eval()
            with torch.no_grad():
                start = time.perf_counter()
                model(images, targets)
                test = time.perf_counter() - start
            print(f"{predictor:22s} {task:8s} {min(train[1:]):12.2f}  {test:12.2f}")


if __name__ == "__main__":
    main()
