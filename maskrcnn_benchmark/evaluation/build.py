"""Build the SGG evaluator from the config (the only place the evaluator reads cfg)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .modes import sgg_mode
from .sgg_evaluator import SGGEvalSettings, SGGEvaluator
from .triplet_groups import (
    TripletGroup,
    few_shot_bin_group,
    few_shot_exact_group,
    zero_shot_group,
)

__all__ = ["build_sgg_evaluator", "build_triplet_groups", "check_val_metric", "k_shot_file",
           "VAL_METRIC_FAMILIES"]

logger = logging.getLogger(__name__)

LoadTriplets = Callable[[str], torch.Tensor]


def k_shot_file(folder: str, k: int) -> str:
    """Path of the reference's exact-k file ``vg-{k}-shot-triplets.pytorch`` in ``folder``."""
    return os.path.join(folder, f"vg-{k}-shot-triplets.pytorch")


def _default_loader(path: str) -> torch.Tensor:
    from maskrcnn_benchmark.data.statistics import load_reference_triplets

    return load_reference_triplets(path)


def build_triplet_groups(
    zero_shot_file: str,
    few_shot_dir: str,
    few_shot_bins: Sequence[Sequence[int]],
    few_shot_exact_ks: Sequence[int],
    have_statistics: bool,
    load_triplets: LoadTriplets | None = None,
) -> list[TripletGroup]:
    """Zero-shot, few-shot bin and exact-k groups: from reference files where given, else counts.

    Groups that need train counts are left out, with one warning, when there are no statistics.
    """
    load = load_triplets or _default_loader
    groups, skipped = [], []
    if zero_shot_file:
        groups.append(zero_shot_group(load(zero_shot_file)))
    elif have_statistics:
        groups.append(zero_shot_group())
    else:
        skipped.append("zero-shot recall (zR, ng-zR)")
    if few_shot_bins and not have_statistics:
        skipped.append(f"few-shot bins {[tuple(b) for b in few_shot_bins]}")
    elif few_shot_bins:
        for bounds in few_shot_bins:
            if len(bounds) != 2:
                raise ValueError(
                    f"TEST.RELATION.FEW_SHOT_BINS entry {tuple(bounds)} must be a pair (k1, k2)"
                )
            groups.append(few_shot_bin_group(int(bounds[0]), int(bounds[1])))
    for k in few_shot_exact_ks:
        if few_shot_dir:
            path = k_shot_file(few_shot_dir, int(k))
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"TEST.RELATION.FEW_SHOT_DIR has no {os.path.basename(path)} ({path}); "
                    f"remove {k} from TEST.RELATION.FEW_SHOT_EXACT_KS or add the file"
                )
            groups.append(few_shot_exact_group(int(k), load(path)))
        elif have_statistics:
            groups.append(few_shot_exact_group(int(k)))
        else:
            skipped.append(f"{k}-shot recall")
    if skipped:
        logger.warning(
            "No train-split statistics given: not computing %s. Pass the dataset statistics "
            "or set TEST.RELATION.ZERO_SHOT_FILE / FEW_SHOT_DIR.", ", ".join(skipped)
        )
    return groups


# Families the validation score may use: the plateau scheduler maximises it, so the
# violation counts (lower is better) are excluded.
VAL_METRIC_FAMILIES = ("R", "mR", "ngR", "ng-mR", "A", "ctxR", "ctx-mR", "ng-ctxR", "ng-ctx-mR")


def check_val_metric(name: str, recall_ks: Sequence[int]) -> None:
    """Fail early (before inference) on a SOLVER.VAL_METRIC that evaluation cannot produce."""
    parsed = re.fullmatch(r"([A-Za-z-]+)@(\d+)", name.strip())
    if parsed is None or parsed.group(1) not in VAL_METRIC_FAMILIES:
        lower = parsed is not None and parsed.group(1) in ("viol", "viol-any")
        raise ValueError(
            f"SOLVER.VAL_METRIC '{name}' is not one of "
            + ", ".join(f"{f}@K" for f in VAL_METRIC_FAMILIES)
            + " (the ctx* metrics need the synthetic benchmark)"
            + ("; violation rates fall as models improve, and the validation score is "
               "maximised" if lower else "")
        )
    if int(parsed.group(2)) not in {int(k) for k in recall_ks}:
        raise ValueError(
            f"SOLVER.VAL_METRIC '{name}': K={parsed.group(2)} is not in TEST.RELATION.RECALL_KS "
            f"{tuple(recall_ks)}"
        )


def build_sgg_evaluator(
    cfg: Any, statistics: Any | None = None, load_triplets: LoadTriplets | None = None
) -> SGGEvaluator:
    """The evaluator for ``cfg``'s mode; ``statistics`` provides ``train_triplet_count``."""
    head = cfg.MODEL.ROI_RELATION_HEAD
    relation = cfg.TEST.RELATION
    settings = SGGEvalSettings(
        mode=sgg_mode(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL),
        recall_ks=tuple(int(k) for k in relation.RECALL_KS),
        iou_threshold=float(relation.IOU_THRESHOLD),
        num_predicates=int(head.NUM_CLASSES),
        num_workers=int(cfg.DATALOADER.NUM_WORKERS),
        joint_decode=bool(relation.JOINT_DECODE),
    )
    groups = build_triplet_groups(
        relation.ZERO_SHOT_FILE,
        relation.FEW_SHOT_DIR,
        relation.FEW_SHOT_BINS,
        relation.FEW_SHOT_EXACT_KS,
        have_statistics=statistics is not None,
        load_triplets=load_triplets,
    )
    train_count = None if statistics is None else statistics.train_triplet_count
    return SGGEvaluator(settings, groups, train_count)
