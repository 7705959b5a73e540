"""Train-split statistics on hand-computed examples, against a slow reference, and caching."""

import math

import h5py
import numpy as np
import pytest
import torch

from maskrcnn_benchmark.data import statistics
from maskrcnn_benchmark.data.datasets.vg_h5 import SplitGraphs
from maskrcnn_benchmark.data.statistics import (
    compute_statistics,
    exact_shot_masks,
    few_shot_bin_masks,
    few_shot_bins,
    get_dataset_statistics,
    zero_shot_mask,
)

CLASSES = ["__background__", "a", "b", "c"]
PREDS = ["__background__", "p1", "p2", "p3"]


def _graphs(images):
    return SplitGraphs(np.arange(len(images)), len(images),
                       [np.asarray(b, dtype=np.float64) for b, _, _ in images],
                       [np.asarray(lab) for _, lab, _ in images],
                       [np.zeros((len(lab), 10), dtype=np.int64) for _, lab, _ in images],
                       [np.asarray(r, dtype=np.int64).reshape(-1, 3) for _, _, r in images])


def _hand_example():
    # Image 1: boxes 0 and 1 only touch (no overlap without +1); box 2 overlaps both.
    # Image 2: two disjoint boxes -> every ordered pair counts as background.
    return _graphs([
        ([[0, 0, 10, 10], [10, 0, 20, 10], [5, 5, 15, 15]], [1, 2, 3],
         [[0, 1, 1], [0, 1, 1], [2, 0, 3]]),
        ([[0, 0, 4, 4], [50, 50, 60, 60]], [1, 1], [[1, 0, 2]]),
    ])


def test_hand_computed_counts():
    stats = compute_statistics(_hand_example(), CLASSES, PREDS, ["__background__"])
    assert stats.triplets.tolist() == [[1, 1, 2], [1, 2, 1], [3, 1, 3]]
    assert stats.triplet_counts.tolist() == [1, 2, 1]  # duplicates are counted
    assert stats.object_counts.tolist() == [0, 3, 1, 1]
    assert stats.predicate_counts.tolist() == [0, 2, 1, 1]
    bg = {tuple(p): c for p, c in zip(stats.overlap_pairs.tolist(),
                                      stats.overlap_pair_counts.tolist())}
    assert bg == {(1, 3): 1, (3, 1): 1, (2, 3): 1, (3, 2): 1, (1, 1): 2}


def test_fg_matrix_and_pred_dist_follow_the_reference_formula():
    stats = compute_statistics(_hand_example(), CLASSES, PREDS, ["__background__"])
    fg = stats.fg_matrix()
    assert fg.shape == (4, 4, 4) and fg.dtype == torch.int64
    assert fg[1, 2].tolist() == [1, 2, 0, 0]  # touching pair: background 0 + 1
    assert fg[1, 3].tolist() == [2, 0, 0, 0]
    assert fg[3, 1].tolist() == [2, 0, 0, 1]
    assert fg[1, 1].tolist() == [3, 0, 1, 0]
    assert fg[0, 0].tolist() == [1, 0, 0, 0]
    dist = stats.pred_dist()
    expected = [math.log(v / 4 + 1e-3) for v in (3, 0, 1, 0)]
    assert torch.allclose(dist[1, 1], torch.tensor(expected))
    assert dist.dtype == torch.float32


def _slow_reference(graphs, num_obj, num_rel):
    fg = np.zeros((num_obj, num_obj, num_rel), dtype=np.int64)
    bg = np.zeros((num_obj, num_obj), dtype=np.int64)
    for boxes, labels, rels in zip(graphs.boxes, graphs.labels, graphs.relations):
        for s, o, p in rels:
            fg[labels[s], labels[o], p] += 1
        pairs = []
        for i in range(len(boxes)):
            for j in range(len(boxes)):
                w = min(boxes[i][2], boxes[j][2]) - max(boxes[i][0], boxes[j][0])
                h = min(boxes[i][3], boxes[j][3]) - max(boxes[i][1], boxes[j][1])
                if i != j and max(w, 0) * max(h, 0) > 0:
                    pairs.append((i, j))
        if not pairs:
            pairs = [(i, j) for i in range(len(boxes)) for j in range(len(boxes)) if i != j]
        for i, j in pairs:
            bg[labels[i], labels[j]] += 1
    fg[:, :, 0] = bg + 1
    return fg, np.log(fg / fg.sum(2)[:, :, None] + 1e-3)


def test_random_graphs_match_a_slow_reference():
    rng = np.random.RandomState(3)
    images = []
    for _ in range(20):
        n = rng.randint(1, 7)
        xy = rng.randint(0, 50, (n, 2))
        boxes = np.concatenate([xy, xy + rng.randint(1, 30, (n, 2))], 1)
        rels = [(rng.randint(n), rng.randint(n), rng.randint(1, 5)) for _ in range(rng.randint(4))]
        images.append((boxes, rng.randint(1, 6, n), rels))
    graphs = _graphs(images)
    names = [f"c{i}" for i in range(6)]
    stats = compute_statistics(graphs, names, PREDS + ["p4"], ["__background__"])
    fg, dist = _slow_reference(graphs, 6, 5)
    assert torch.equal(stats.fg_matrix(), torch.from_numpy(fg))
    assert torch.allclose(stats.pred_dist(), torch.from_numpy(dist).float())
    query = torch.from_numpy(np.stack(np.meshgrid(range(6), range(6), range(1, 5)), -1)
                             .reshape(-1, 3))
    expected = torch.from_numpy(fg)[query[:, 0], query[:, 1], query[:, 2]]
    assert torch.equal(stats.train_triplet_count(query), expected)


def test_triplet_lookup_and_zero_shot_mask():
    stats = compute_statistics(_hand_example(), CLASSES, PREDS, ["__background__"])
    query = torch.tensor([[1, 2, 1], [2, 1, 1], [3, 1, 3], [1, 1, 2], [3, 3, 3]])
    counts = stats.train_triplet_count(query)
    assert counts.tolist() == [2, 0, 1, 1, 0]
    assert zero_shot_mask(counts).tolist() == [False, True, False, False, True]
    assert stats.train_triplet_count(torch.zeros(0, 3, dtype=torch.long)).shape == (0,)
    with pytest.raises(ValueError, match="class ids"):
        stats.train_triplet_count(torch.tensor([[1, 4, 1]]))


def test_few_shot_bins_and_exact_k(cfg):
    counts = torch.tensor([0, 1, 5, 6, 10, 11, 20, 21, 25, 26])
    bins = few_shot_bins(cfg)
    assert bins == [(1, 5), (6, 10), (11, 15), (16, 20), (21, 25)]
    masks = few_shot_bin_masks(counts, bins)
    assert masks.int().argmax(1)[masks.any(1)].tolist() == [0, 0, 1, 1, 2, 3, 4, 4]
    assert masks.any(1).tolist() == [False] + [True] * 8 + [False]
    assert exact_shot_masks(counts, [1, 5, 7]).nonzero().tolist() == [[1, 0], [2, 1]]
    cfg.TEST.RELATION.FEW_SHOT_BINS = ((5, 1),)
    with pytest.raises(ValueError, match=r"FEW_SHOT_BINS entry \(5, 1\)"):
        few_shot_bins(cfg)


def _counting(monkeypatch):
    calls = []
    original = statistics._compute_from_args

    def wrapped(args):
        calls.append(args)
        return original(args)

    monkeypatch.setattr(statistics, "_compute_from_args", wrapped)
    return calls


def _triplet_dict(stats):
    return dict(zip(map(tuple, stats.triplets.tolist()), stats.triplet_counts.tolist()))


def test_statistics_of_the_configured_train_split_are_cached(stats_cfg, monkeypatch):
    calls = _counting(monkeypatch)
    stats = get_dataset_statistics(stats_cfg)  # PredCls: no overlap filter -> ids 14, 15
    assert _triplet_dict(stats) == {(1, 1, 3): 1, (1, 2, 1): 1, (1, 3, 2): 1, (1, 2, 3): 1}
    assert stats.obj_classes == ["__background__", "cat", "dog", "tree"]
    again = get_dataset_statistics(stats_cfg)
    assert len(calls) == 1 and _triplet_dict(again) == _triplet_dict(stats)
    assert torch.equal(again.pred_dist(), stats.pred_dist())


def test_cache_is_recomputed_when_the_config_changes(stats_cfg, monkeypatch):
    calls = _counting(monkeypatch)
    get_dataset_statistics(stats_cfg)
    stats_cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = False  # SGDet: overlap-filtered -> id 15
    stats = get_dataset_statistics(stats_cfg)
    assert len(calls) == 2
    assert _triplet_dict(stats) == {(1, 2, 1): 1, (1, 2, 3): 1}


def test_cache_is_recomputed_when_the_files_change(stats_cfg, monkeypatch, tmp_path):
    calls = _counting(monkeypatch)
    get_dataset_statistics(stats_cfg)
    with h5py.File(tmp_path / "data" / "tiny" / "VG-SGG-with-attri.h5", "r+") as h5:
        predicates = h5["predicates"][:]
        predicates[:] = 2
        h5["predicates"][...] = predicates
    stats = get_dataset_statistics(stats_cfg)
    assert len(calls) == 2
    assert _triplet_dict(stats) == {(1, 1, 2): 1, (1, 2, 2): 2, (1, 3, 2): 1}


def test_unreadable_cache_is_recomputed(stats_cfg, monkeypatch, tmp_path, caplog):
    calls = _counting(monkeypatch)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "tiny_train_statistics.cache").write_bytes(b"garbage")
    stats = get_dataset_statistics(stats_cfg)
    assert len(calls) == 1 and len(stats.triplets) == 4
    assert "unreadable" in caplog.text


def test_statistics_check_the_class_counts(stats_cfg):
    stats_cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 151
    with pytest.raises(ValueError, match="ROI_BOX_HEAD.NUM_CLASSES is 151; set it to 4"):
        get_dataset_statistics(stats_cfg)


def test_statistics_need_one_train_split(stats_cfg):
    stats_cfg.DATASETS.TRAIN = ("tiny_train", "tiny_val")
    with pytest.raises(ValueError, match="exactly one training dataset"):
        get_dataset_statistics(stats_cfg)
    stats_cfg.DATASETS.TRAIN = ("tiny_test",)
    with pytest.raises(ValueError, match="not a train split"):
        get_dataset_statistics(stats_cfg)
