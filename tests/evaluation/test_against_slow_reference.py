"""Property test: the vectorised evaluator equals a slow per-triplet SGB-style implementation.

Random PredCls, SGCls and SGDet predictions (jittered and extra boxes, duplicate GT rows,
quantised scores so ties are frequent, images big enough that the top-100 ng cut matters).
"""

import numpy as np
import pytest
import torch
from eval_fakes import FakeDataset, FakeStatistics, gt_image, prediction
from eval_slow_reference import slow_evaluate

from maskrcnn_benchmark.evaluation import (
    SGGEvalSettings,
    SGGEvaluator,
    SGGMode,
    few_shot_bin_group,
    image_records,
    nogc_ranking,
    zero_shot_group,
)

NUM_CLASSES, NUM_PREDICATES = 4, 6  # few classes and predicates: many label collisions
KS = (1, 3, 10, 50)


def random_boxes(rng, n, size=100):
    xy = rng.integers(0, size - 40, (n, 2)).astype(np.float32)
    wh = rng.integers(8, 40, (n, 2)).astype(np.float32)
    return np.concatenate([xy, xy + wh], axis=1)


def random_image(rng, mode):
    num_gt = int(rng.integers(2, 9))
    gt_boxes, gt_labels = random_boxes(rng, num_gt), rng.integers(1, NUM_CLASSES, num_gt)
    num_rel = int(rng.integers(0, 7))
    subjects = rng.integers(0, num_gt, num_rel)
    objects = (subjects + rng.integers(1, num_gt, num_rel)) % num_gt  # never a self-relation
    relations = np.column_stack([subjects, objects, rng.integers(1, NUM_PREDICATES, num_rel)])
    if num_rel and rng.random() < 0.5:  # duplicate GT rows
        relations = np.concatenate([relations, relations[: int(rng.integers(1, num_rel + 1))]])
    if mode is SGGMode.SGDET:  # jittered GT boxes (some label noise) plus extra boxes
        jitter = rng.normal(0, 2.0, gt_boxes.shape).astype(np.float32)
        num_extra = int(rng.integers(0, 6))
        boxes = np.concatenate([gt_boxes + jitter, random_boxes(rng, num_extra)])
        labels = np.concatenate([gt_labels, rng.integers(0, NUM_CLASSES, num_extra)])
    else:
        boxes, labels = gt_boxes.copy(), gt_labels.copy()
    noisy = rng.random(len(labels)) < 0.2
    labels[noisy] = rng.integers(1, NUM_CLASSES, int(noisy.sum()))
    scores = rng.integers(1, 5, len(boxes)) / 4.0  # quantised: tied products are common
    subjects, objects = np.nonzero(~np.eye(len(boxes), dtype=bool))
    pairs = np.column_stack([subjects, objects])
    rel_scores = rng.integers(0, 5, (len(pairs), NUM_PREDICATES)) / 8.0
    for s, o, p in relations:  # the "model" often gets GT relations right
        if rng.random() < 0.7:
            rel_scores[(pairs[:, 0] == s) & (pairs[:, 1] == o), p] = 1.0
    # rank as the post-processor does: triple score, descending (stable)
    triple = rel_scores[:, 1:].max(1) * scores[pairs[:, 0]] * scores[pairs[:, 1]]
    order = np.argsort(-triple, kind="stable")
    pairs, rel_scores = pairs[order], rel_scores[order]
    if rng.random() < 0.1:
        pairs, rel_scores = pairs[:0], rel_scores[:0]
    # network frame at half size: the evaluator must resize to the original 100 x 100 first
    pred = prediction(boxes / 2, labels, scores, pairs, rel_scores, size=(50, 50))
    return gt_image(gt_boxes, gt_labels, relations), pred


@pytest.mark.parametrize("mode", list(SGGMode))
@pytest.mark.parametrize("seed", range(8))
def test_vectorised_evaluator_matches_slow_reference(mode, seed):
    rng = np.random.default_rng(seed)
    images, predictions = zip(*[random_image(rng, mode) for _ in range(12)])
    dataset = FakeDataset(list(images), NUM_CLASSES, NUM_PREDICATES)
    counts = {(int(s), int(o), int(p)): int(rng.integers(0, 7))
              for s in range(1, NUM_CLASSES) for o in range(1, NUM_CLASSES)
              for p in range(1, NUM_PREDICATES)}
    groups = [zero_shot_group(), few_shot_bin_group(1, 3), few_shot_bin_group(4, 6)]
    membership = {"zero-shot": lambda *t: counts[t] == 0,
                  "1-3": lambda *t: 1 <= counts[t] <= 3, "4-6": lambda *t: 4 <= counts[t] <= 6}
    settings = SGGEvalSettings(mode, KS, 0.5, NUM_PREDICATES, detection_map=False)
    fast = SGGEvaluator(settings, groups, FakeStatistics(counts).train_triplet_count).evaluate(
        dataset, list(predictions)).metrics
    slow = slow_evaluate(dataset, predictions, mode.value, KS, 0.5, NUM_PREDICATES, membership)
    for name in ("R", "ngR", "mR", "ng-mR", "A"):
        assert fast[name] == slow[name], name  # exact: same per-image values, same averaging
    assert fast["per_predicate"]["R"] == slow["per_predicate"]["R"]
    assert fast["per_predicate"]["ngR"] == slow["per_predicate"]["ngR"]
    for key in membership:
        group = fast["triplet_groups"][key]
        assert (group["R"], group["ngR"], group["num_images"]) == (
            slow["groups"][key]["R"], slow["groups"][key]["ngR"], slow["groups"][key]["num_images"])


@pytest.mark.parametrize("seed", range(6))
def test_pruned_top_100_equals_a_full_stable_sort(seed):
    rng = np.random.default_rng(seed)
    num_pairs = int(rng.integers(1, 400))
    rel_scores = (rng.integers(0, 6, (num_pairs, 11)) / 5).astype(np.float32)  # heavy ties
    pair_scores = None if seed % 2 else (rng.integers(1, 4, num_pairs) / 3).astype(np.float32)
    rows, predicates = nogc_ranking(rel_scores, pair_scores)
    full = rel_scores[:, 1:] if pair_scores is None else pair_scores[:, None] * rel_scores[:, 1:]
    order = np.argsort(-full.ravel(), kind="stable")[:100]
    np.testing.assert_array_equal(rows, order // 10)
    np.testing.assert_array_equal(predicates, order % 10 + 1)


def test_process_pool_gives_the_serial_results(monkeypatch):
    monkeypatch.setattr(image_records, "MIN_IMAGES_PER_WORKER", 16)  # pool for 40 images
    contexts = []
    get_context = image_records.multiprocessing.get_context
    monkeypatch.setattr(image_records.multiprocessing, "get_context",
                        lambda method: contexts.append(method) or get_context(method))
    torch.ones(1000, 1000) @ torch.ones(1000, 1000)  # the parent has used torch's thread pool
    rng = np.random.default_rng(11)
    images, predictions = zip(*[random_image(rng, SGGMode.SGCLS) for _ in range(40)])
    dataset = FakeDataset(list(images), NUM_CLASSES, NUM_PREDICATES)
    results = []
    for workers in (0, 2):
        settings = SGGEvalSettings(SGGMode.SGCLS, KS, 0.5, NUM_PREDICATES, num_workers=workers,
                                   detection_map=False)
        results.append(SGGEvaluator(settings).evaluate(dataset, list(predictions)).metrics)
    assert results[0] == results[1] and contexts == ["fork"]
