"""Train-split statistics: class counts, sparse triplet counts, the frequency-bias prior.

``get_dataset_statistics(cfg)`` computes them once from the configured train split and caches
them under OUTPUT_DIR; the cache records a key of the file contents and the split settings and
is recomputed whenever that key changes. Counts are stored sparsely (GQA's 1704 x 1704 x 311
dense tensor would not fit); ``fg_matrix()`` / ``pred_dist()`` build dense tensors on request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from maskrcnn_benchmark.config import paths_catalog
from maskrcnn_benchmark.utils import comm

from .datasets.vg_h5 import SplitGraphs, load_info, load_split_graphs

__all__ = [
    "DatasetStatistics",
    "compute_statistics",
    "get_dataset_statistics",
    "zero_shot_mask",
    "few_shot_bin_masks",
    "exact_shot_masks",
    "few_shot_bins",
    "load_reference_triplets",
]

logger = logging.getLogger(__name__)

# Bump when the computation changes so old caches are never reused.
_STATISTICS_VERSION = 1
_EPS = 1e-3


@dataclass
class DatasetStatistics:
    """Counts over the training split; triplets are (subject class, object class, predicate)."""

    obj_classes: list[str]
    rel_classes: list[str]
    att_classes: list[str]
    object_counts: torch.Tensor  # [C] int64
    predicate_counts: torch.Tensor  # [P] int64 (column 0, background, is 0)
    triplets: torch.Tensor  # [T, 3] int64, unique, sorted
    triplet_counts: torch.Tensor  # [T] int64
    overlap_pairs: torch.Tensor  # [B, 2] int64 class pairs of overlapping boxes, unique
    overlap_pair_counts: torch.Tensor  # [B] int64

    def _triplet_keys(self, triplets: torch.Tensor) -> torch.Tensor:
        num_obj, num_rel = len(self.obj_classes), len(self.rel_classes)
        return (triplets[:, 0] * num_obj + triplets[:, 1]) * num_rel + triplets[:, 2]

    def train_triplet_count(self, triplets: torch.Tensor) -> torch.Tensor:
        """Train count of each (subject class, object class, predicate) row; 0 = zero-shot."""
        triplets = torch.as_tensor(triplets, dtype=torch.int64).reshape(-1, 3)
        limits = torch.tensor([len(self.obj_classes), len(self.obj_classes),
                               len(self.rel_classes)])
        if triplets.numel() and ((triplets < 0).any() or (triplets >= limits).any()):
            raise ValueError(f"triplets must hold class ids < {limits.tolist()} "
                             "(subject, object, predicate)")
        known = self._triplet_keys(self.triplets)
        query = self._triplet_keys(triplets)
        if known.numel() == 0:
            return torch.zeros(len(triplets), dtype=torch.int64)
        pos = torch.searchsorted(known, query).clamp(max=len(known) - 1)
        found = known[pos] == query
        return torch.where(found, self.triplet_counts[pos], torch.zeros_like(query))

    def fg_matrix(self) -> torch.Tensor:
        """Dense [C, C, P] int64 counts; column 0 = overlapping-pair counts + 1 (the reference)."""
        num_obj, num_rel = len(self.obj_classes), len(self.rel_classes)
        matrix = torch.zeros((num_obj, num_obj, num_rel), dtype=torch.int64)
        t = self.triplets
        matrix[t[:, 0], t[:, 1], t[:, 2]] = self.triplet_counts
        background = torch.ones((num_obj, num_obj), dtype=torch.int64)
        p = self.overlap_pairs
        background[p[:, 0], p[:, 1]] += self.overlap_pair_counts
        matrix[:, :, 0] = background
        return matrix

    def pred_dist(self) -> torch.Tensor:
        """Dense [C, C, P] float32 ``log(fg / fg.sum(-1) + 1e-3)``, the frequency-bias init."""
        fg = self.fg_matrix().double()
        return torch.log(fg / fg.sum(dim=2, keepdim=True) + _EPS).float()


def _unique_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(keys, return_counts=True) if keys.size else (keys, keys)


def _overlapping_pairs(boxes: np.ndarray) -> np.ndarray:
    """Ordered pairs (i != j) whose boxes intersect with positive area (no +1, the reference's
    test); all ordered pairs when none do."""
    lt = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    overlap = wh[..., 0] * wh[..., 1] > 0
    np.fill_diagonal(overlap, False)
    if not overlap.any():
        overlap = ~np.eye(len(boxes), dtype=bool)
    return np.argwhere(overlap)


def compute_statistics(graphs: SplitGraphs, obj_classes: Sequence[str],
                       rel_classes: Sequence[str], att_classes: Sequence[str]) -> DatasetStatistics:
    """Counts of ``graphs`` (all relations, duplicates included) in sparse form."""
    num_obj, num_rel = len(obj_classes), len(rel_classes)
    triplet_keys, pair_keys = [], []
    for boxes, labels, rels in zip(graphs.boxes, graphs.labels, graphs.relations):
        sub, obj = labels[rels[:, 0]], labels[rels[:, 1]]
        triplet_keys.append((sub * num_obj + obj) * num_rel + rels[:, 2])
        pairs = _overlapping_pairs(boxes)
        pair_keys.append(labels[pairs[:, 0]] * num_obj + labels[pairs[:, 1]])
    all_labels = np.concatenate(graphs.labels)
    all_rels = np.concatenate(graphs.relations)
    keys, counts = _unique_counts(np.concatenate(triplet_keys).astype(np.int64))
    triplets = np.stack([keys // num_rel // num_obj, keys // num_rel % num_obj, keys % num_rel], 1)
    pkeys, pcounts = _unique_counts(np.concatenate(pair_keys).astype(np.int64))
    return DatasetStatistics(
        obj_classes=list(obj_classes), rel_classes=list(rel_classes),
        att_classes=list(att_classes),
        object_counts=torch.from_numpy(np.bincount(all_labels, minlength=num_obj)),
        predicate_counts=torch.from_numpy(np.bincount(all_rels[:, 2], minlength=num_rel)),
        triplets=torch.from_numpy(triplets.reshape(-1, 3).astype(np.int64)),
        triplet_counts=torch.from_numpy(counts.astype(np.int64)),
        overlap_pairs=torch.from_numpy(
            np.stack([pkeys // num_obj, pkeys % num_obj], 1).reshape(-1, 2).astype(np.int64)),
        overlap_pair_counts=torch.from_numpy(pcounts.astype(np.int64)),
    )


def _file_digest(path: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _train_split_args(cfg) -> dict:
    if len(cfg.DATASETS.TRAIN) != 1:
        raise ValueError("Dataset statistics need exactly one training dataset in "
                         f"DATASETS.TRAIN, got {list(cfg.DATASETS.TRAIN)}")
    args = paths_catalog.DatasetCatalog.get(cfg.DATASETS.TRAIN[0], cfg)["args"]
    if args["split"] != "train":
        raise ValueError(f"DATASETS.TRAIN[0] = {cfg.DATASETS.TRAIN[0]} is not a train split")
    return args


def _cache_key(args: dict) -> str:
    content = {
        "version": _STATISTICS_VERSION,
        "h5": _file_digest(args["roidb_file"]),
        "dicts": _file_digest(args["dict_file"]),
        **{k: args[k] for k in ("num_im", "num_val_im", "filter_empty_rels",
                                "filter_non_overlap")},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _compute_from_args(args: dict) -> DatasetStatistics:
    obj_classes, rel_classes, att_classes = load_info(args["dict_file"])
    graphs = load_split_graphs(
        args["roidb_file"], "train", num_im=args["num_im"], num_val_im=args["num_val_im"],
        filter_empty_rels=args["filter_empty_rels"],
        filter_non_overlap=args["filter_non_overlap"], num_classes=len(obj_classes),
        num_predicates=len(rel_classes))
    return compute_statistics(graphs, obj_classes, rel_classes, att_classes)


def _load_cache(path: str, key: str) -> DatasetStatistics | None:
    if not os.path.isfile(path):
        return None
    try:
        saved = torch.load(path, weights_only=True)
    except Exception as err:  # an unreadable cache is recomputed, never trusted
        logger.warning("Statistics cache %s is unreadable (%s); recomputing", path, err)
        return None
    if saved.get("key") != key:
        logger.info("Statistics cache %s is stale (files or settings changed); recomputing", path)
        return None
    return DatasetStatistics(**saved["statistics"])


def get_dataset_statistics(cfg) -> DatasetStatistics:
    """Statistics of the configured train split, cached in OUTPUT_DIR (rank 0 computes)."""
    from .build import check_class_counts

    args = _train_split_args(cfg)
    key = _cache_key(args)
    path = os.path.join(cfg.OUTPUT_DIR, f"{cfg.DATASETS.TRAIN[0]}_statistics.cache")
    stats = None
    if comm.is_main_process():
        stats = _load_cache(path, key)
        if stats is None:
            stats = _compute_from_args(args)
            os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
            tmp = f"{path}.tmp{os.getpid()}"
            torch.save({"key": key, "statistics": asdict(stats)}, tmp)
            os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache
            logger.info("Saved dataset statistics to %s", path)
        else:
            logger.info("Loaded dataset statistics from %s", path)
    comm.synchronize()
    if stats is None:
        stats = _load_cache(path, key) or _compute_from_args(args)
    check_class_counts(cfg, stats.obj_classes, stats.rel_classes,
                       f"Dataset {cfg.DATASETS.TRAIN[0]} ({args['dict_file']})")
    return stats


def zero_shot_mask(counts: torch.Tensor) -> torch.Tensor:
    """True where a triplet never occurs in the train split."""
    return counts == 0


def few_shot_bin_masks(counts: torch.Tensor, bins: Sequence[Sequence[int]]) -> torch.Tensor:
    """[M, len(bins)] bool: ``k1 <= count <= k2`` for each inclusive bin (k1, k2)."""
    counts = torch.as_tensor(counts).reshape(-1, 1)
    low = torch.tensor([b[0] for b in bins], dtype=counts.dtype).reshape(1, -1)
    high = torch.tensor([b[1] for b in bins], dtype=counts.dtype).reshape(1, -1)
    return (counts >= low) & (counts <= high)


def exact_shot_masks(counts: torch.Tensor, ks: Sequence[int]) -> torch.Tensor:
    """[M, len(ks)] bool: ``count == k`` (the EBM code's k-shot triplet sets)."""
    counts = torch.as_tensor(counts).reshape(-1, 1)
    return counts == torch.tensor(list(ks), dtype=counts.dtype).reshape(1, -1)


def few_shot_bins(cfg) -> list[tuple[int, int]]:
    """TEST.RELATION.FEW_SHOT_BINS as validated (k1, k2) pairs with 1 <= k1 <= k2."""
    bins = [tuple(int(v) for v in b) for b in cfg.TEST.RELATION.FEW_SHOT_BINS]
    for b in bins:
        if len(b) != 2 or not 1 <= b[0] <= b[1]:
            raise ValueError(f"TEST.RELATION.FEW_SHOT_BINS entry {b} must be (k1, k2) with "
                             "1 <= k1 <= k2")
    return bins


def load_reference_triplets(path: str) -> torch.Tensor:
    """Read a reference triplet file (zeroshot_triplet.pytorch, vg-{k}-shot-triplets.pytorch).

    Returns int64 [N, 3] rows of (subject class, object class, predicate).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Triplet file not found: {path}")
    try:
        triplets = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:
        raise ValueError(f"{path} is not a reference triplet file (a torch-saved int64 [N, 3] "
                         f"tensor): {str(err).splitlines()[0]}") from None
    if (not isinstance(triplets, torch.Tensor) or triplets.dim() != 2
            or triplets.shape[1] != 3 or triplets.is_floating_point()):
        shape = tuple(triplets.shape) if isinstance(triplets, torch.Tensor) else type(triplets)
        raise ValueError(f"{path} must hold an integer [N, 3] tensor of (subject class, object "
                         f"class, predicate), got {shape}")
    return triplets.long()
