"""Benchmark the SGG evaluator on SGDet-sized predictions: images/s per mode, and the speed-up
over the slow per-triplet SGB-style implementation used by the tests, measured in one run.

Each image: ``--boxes`` predicted boxes (80), all ordered pairs (6,320), 51 predicate scores
(softmax), predictions in a network-input frame that the evaluator resizes. GT: ``--gt-boxes``
boxes in SGDet (jittered into the predictions) and the same 80 boxes in PredCls/SGCls (the
worst case for those modes), ``--relations`` GT relations per image.

    PYTHONPATH=$PWD python tools/benchmark_eval.py --images 2000 --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "evaluation"))  # the tests' fakes and oracle

from eval_fakes import FakeDataset, gt_image, prediction  # noqa: E402
from eval_slow_reference import slow_evaluate  # noqa: E402

from maskrcnn_benchmark.evaluation import SGGEvalSettings, SGGEvaluator, SGGMode  # noqa: E402

NUM_CLASSES, NUM_PREDICATES = 151, 51
ORIGINAL, NETWORK = (1024, 768), (800, 600)


def make_split(mode: SGGMode, args: argparse.Namespace, seed: int):
    """A FakeDataset and one prediction BoxList per image."""
    rng = np.random.default_rng(seed)
    scale = np.array([NETWORK[0] / ORIGINAL[0], NETWORK[1] / ORIGINAL[1]] * 2, dtype=np.float32)
    images, predictions = [], []
    for _ in range(min(args.distinct, args.images)):
        xy = rng.uniform(0, 800, (args.boxes, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(20, 220, (args.boxes, 2))], 1)
        boxes = boxes.astype(np.float32)
        labels = rng.integers(1, NUM_CLASSES, args.boxes)
        num_gt = args.boxes if mode.uses_gt_boxes else args.gt_boxes
        gt_boxes = boxes[:num_gt] + (0 if mode.uses_gt_boxes else rng.normal(0, 4, (num_gt, 4)))
        subjects = rng.integers(0, num_gt, args.relations)
        relations = np.column_stack([
            subjects, (subjects + rng.integers(1, num_gt, args.relations)) % num_gt,
            rng.integers(1, NUM_PREDICATES, args.relations)])
        images.append(gt_image(gt_boxes, labels[:num_gt], relations, *ORIGINAL))
        subjects, objects = np.nonzero(~np.eye(args.boxes, dtype=bool))
        logits = torch.from_numpy(rng.normal(0, 2, (len(subjects), NUM_PREDICATES))).float()
        for s, o, p in relations[rng.random(len(relations)) < 0.7]:  # a model that is often right
            logits[s * (args.boxes - 1) + o - (o > s), p] += 6.0
        rel_scores = torch.softmax(logits, 1)
        obj_scores = torch.from_numpy(rng.uniform(0.05, 1, args.boxes)).float()
        triple = rel_scores[:, 1:].max(1).values * obj_scores[subjects] * obj_scores[objects]
        order = torch.sort(triple, descending=True, stable=True).indices.numpy()
        pairs = np.column_stack([subjects, objects])[order]
        predictions.append(prediction(boxes * scale, labels, obj_scores, pairs,
                                      rel_scores[order], NETWORK))
    # cycle the distinct images (memory: each prediction holds 6,320 x 51 float32 scores)
    images = [images[i % len(images)] for i in range(args.images)]
    predictions = [predictions[i % len(predictions)] for i in range(args.images)]
    return FakeDataset(images, NUM_CLASSES, NUM_PREDICATES), predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--distinct", type=int, default=300,
                        help="distinct images, cycled up to --images (memory)")
    parser.add_argument("--boxes", type=int, default=80)
    parser.add_argument("--gt-boxes", type=int, default=25)
    parser.add_argument("--relations", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--slow-images", type=int, default=3,
                        help="images for the slow per-triplet reference (it is ~1000x slower)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; "
          f"{args.images} images x {args.boxes} boxes, {args.boxes * (args.boxes - 1)} pairs, "
          f"{NUM_PREDICATES} predicate scores; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs")
    for seed, mode in enumerate(SGGMode):
        dataset, predictions = make_split(mode, args, args.seed + seed)
        rates = {}
        for workers in args.workers:
            settings = SGGEvalSettings(mode, (20, 50, 100), 0.5, NUM_PREDICATES,
                                       num_workers=workers, detection_map=False)
            start, cpu_start = time.perf_counter(), time.process_time()
            fast = SGGEvaluator(settings).evaluate(dataset, predictions).metrics
            rates[workers] = args.images / (time.perf_counter() - start)
            if workers <= 1:  # CPU time of the one process: robust to other load on the machine
                cpu_rate = args.images / (time.process_time() - cpu_start)
        subset = FakeDataset(dataset.images[: args.slow_images], NUM_CLASSES, NUM_PREDICATES)
        start = time.perf_counter()
        slow = slow_evaluate(subset, predictions[: args.slow_images], mode.value, (20, 50, 100),
                             0.5, NUM_PREDICATES)
        slow_rate = args.slow_images / (time.perf_counter() - start)
        check = SGGEvaluator(SGGEvalSettings(mode, (20, 50, 100), 0.5, NUM_PREDICATES,
                                             detection_map=False)).evaluate(
            subset, predictions[: args.slow_images]).metrics
        agree = all(check[k] == slow[k] for k in ("R", "ngR", "mR", "ng-mR", "A"))
        best = max(rates.values())
        print(f"{mode.value:7s} " + "  ".join(
            f"{w} worker(s): {r:6.0f} img/s" for w, r in rates.items())
            + (f" (1 worker CPU time: {cpu_rate:.0f} img/s)" if 1 in rates else "")
            + f" | slow reference {slow_rate:.2f} img/s, speed-up x{best / slow_rate:,.0f}"
            + f" | equal to slow: {agree} | R@100 {fast['R']['100']:.3f}")


if __name__ == "__main__":
    main()
