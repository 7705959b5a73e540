"""Benchmark the SGG evaluator on SGDet-sized predictions: images/s per mode, and the speed-up
over the slow per-triplet SGB-style implementation used by the tests, measured in one run.

Each image: ``--boxes`` predicted boxes (80), all ordered pairs (6,320), 51 predicate scores
(softmax), predictions in a network-input frame that the evaluator resizes. GT: ``--gt-boxes``
boxes in SGDet (jittered into the predictions) and the same 80 boxes in PredCls/SGCls (the
worst case for those modes), ``--relations`` GT relations per image.

    PYTHONPATH=$PWD python tools/benchmark_eval.py --images 2000 --workers 1 2

With ``--synthetic-dir`` (a generated synthetic benchmark) it instead evaluates PredCls-style
predictions on that data set's test split (GT boxes, every ordered pair, noisy softmax scores
that favour the GT predicate) with the structure metrics (the generator's extras), without
them (the same data with the extras hidden) and with TEST.RELATION.JOINT_DECODE on the first
``--joint-images`` images:

    PYTHONPATH=$PWD python tools/benchmark_eval.py --synthetic-dir datasets/synthetic_vg_default
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

from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset  # noqa: E402
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


class _WithoutExtras:
    """A data set seen without the synthetic benchmark's extras (structure metrics off)."""

    def __init__(self, dataset, size: int | None = None) -> None:
        self.dataset, self.size = dataset, size

    def __len__(self) -> int:
        return len(self.dataset) if self.size is None else self.size

    def __getattr__(self, name):
        return getattr(self.dataset, name)

    def get_structure_annotations(self, index: int):
        return None


class _Subset(_WithoutExtras):
    """The first ``size`` images, extras kept."""

    def get_structure_annotations(self, index: int):
        return self.dataset.get_structure_annotations(index)


def synthetic_split(data_dir: str, seed: int):
    """The test split of a synthetic data set and PredCls-style predictions for it."""
    dataset = VGDataset("test", os.path.join(data_dir, "VG_100K"),
                        os.path.join(data_dir, "VG-SGG-with-attri.h5"),
                        os.path.join(data_dir, "VG-SGG-dicts-with-attri.json"),
                        os.path.join(data_dir, "image_data.json"))
    rng = np.random.default_rng(seed)
    num_predicates = len(dataset.ind_to_predicates)
    predictions = []
    for i in range(len(dataset)):
        gt = dataset.get_groundtruth(i, evaluation=True)
        n = len(gt)
        subjects, objects = np.nonzero(~np.eye(n, dtype=bool))
        logits = torch.from_numpy(rng.normal(0, 2, (len(subjects), num_predicates))).float()
        logits[:, 0] += 4.0  # most pairs are unrelated
        for s, o, p in gt.get_field("relation_tuple").tolist():
            if rng.random() < 0.7:  # a model that is often right
                logits[s * (n - 1) + o - (o > s), p] += 8.0
        rel_scores = torch.softmax(logits, 1)
        order = torch.sort(rel_scores[:, 1:].max(1).values, descending=True, stable=True)
        pairs = np.column_stack([subjects, objects])[order.indices.numpy()]
        predictions.append(prediction(gt.bbox.numpy(), gt.get_field("labels").numpy(),
                                      np.ones(n), pairs, rel_scores[order.indices], gt.size))
    return dataset, predictions


def _timed(dataset, predictions, joint: bool = False) -> tuple[float, float, dict]:
    settings = SGGEvalSettings(SGGMode.PREDCLS, (20, 50, 100), 0.5,
                               len(dataset.ind_to_predicates), detection_map=False,
                               joint_decode=joint)
    start, cpu_start = time.perf_counter(), time.process_time()
    metrics = SGGEvaluator(settings).evaluate(dataset, predictions).metrics
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return len(predictions) / wall, len(predictions) / cpu, metrics


def synthetic_benchmark(args: argparse.Namespace) -> None:
    """Evaluation rates with and without the structure metrics, and with joint decoding."""
    dataset, predictions = synthetic_split(args.synthetic_dir, args.seed)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(dataset)} test images of "
          f"{args.synthetic_dir}, PredCls, every ordered pair; torch threads "
          f"{torch.get_num_threads()}")
    rates = {"with extras": [], "without extras": []}
    for _ in range(args.repeats):  # alternate, so that changing load hits both alike
        for name, data in (("with extras", dataset), ("without extras", _WithoutExtras(dataset))):
            wall, cpu, metrics = _timed(data, predictions)
            rates[name].append((wall, cpu))
            if name == "with extras":
                shown = metrics
    for name, values in rates.items():
        wall, cpu = max(v[0] for v in values), max(v[1] for v in values)
        print(f"{name:15s} {wall:6.0f} img/s (CPU time: {cpu:.0f} img/s, best of "
              f"{args.repeats})")
    print("R@50 {:.3f} ctxR@50 {:.3f} ctx-mR@50 {:.3f} viol@20 {:.2f} viol@50 {:.2f}".format(
        shown["R"]["50"], shown["ctxR"]["50"], shown["ctx-mR"]["50"], shown["viol"]["20"],
        shown["viol"]["50"]))
    count = min(args.joint_images, len(dataset))
    subset = _Subset(dataset, count)
    plain = _timed(subset, predictions[:count])[2]
    wall, cpu, joint = _timed(subset, predictions[:count], joint=True)
    print(f"joint decoding  {wall:6.1f} img/s (CPU time: {cpu:.1f} img/s) on {count} images")
    for key in ("R", "ctxR", "ctx-mR", "viol"):
        print(f"  {key}@50 {plain[key]['50']:.3f} -> {joint[key]['50']:.3f} (joint)")


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
    parser.add_argument("--synthetic-dir", default="",
                        help="benchmark the structure metrics on this synthetic data set")
    parser.add_argument("--joint-images", type=int, default=100,
                        help="images evaluated with joint decoding (--synthetic-dir)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating runs with and without extras (--synthetic-dir)")
    args = parser.parse_args()
    if args.synthetic_dir:
        synthetic_benchmark(args)
        return
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
