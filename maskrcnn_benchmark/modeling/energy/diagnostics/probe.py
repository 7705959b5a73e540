"""Shortcut probe: can a linear classifier on structure-free graph statistics tell G+ from G-?

Logistic regression (L2-penalised, L-BFGS, float64) on standardised per-graph features, with
a held-out split. Held-out accuracy near 100% means the energy model does not need to look at
structure to separate the graphs it is trained on; near 50% means these cues are gone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .graph_stats import GRAPH_FEATURES

__all__ = ["ProbeResult", "shortcut_probe"]


@dataclass
class ProbeResult:
    """Held-out and training accuracy of the probe and its fitted (standardised) weights."""

    accuracy: float
    train_accuracy: float
    num_train: int
    num_test: int
    chance_std: float  # binomial std of a coin-flip classifier's accuracy on num_test graphs
    feature_names: list[str]
    weights: list[float]
    bias: float
    single_feature_accuracy: dict[str, float]  # held-out accuracy of a probe on one feature

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


def shortcut_probe(positive: Tensor, negative: Tensor, *,
                   feature_names: Sequence[str] = GRAPH_FEATURES, test_fraction: float = 0.3,
                   seed: int = 0, l2: float = 1e-3, max_iter: int = 200) -> ProbeResult:
    """Fit G+ (label 1) vs G- (label 0) on ``[n, F]`` features; score the held-out graphs.

    The split draws ``test_fraction`` of each class at random; with as many positives as
    negatives (one G+ and one G- per image) the same permutation is used for both, so the two
    graphs of an image land on the same side. Features are standardised with the training
    split's mean and std. A held-out graph scored exactly on the boundary counts half.
    """
    positive, negative = positive.double(), negative.double()
    if positive.ndim != 2 or negative.ndim != 2 or positive.shape[1] != negative.shape[1]:
        raise ValueError(f"shortcut_probe needs [n, F] features with the same F, got "
                         f"{tuple(positive.shape)} and {tuple(negative.shape)}")
    if positive.shape[1] != len(feature_names):
        raise ValueError(f"shortcut_probe: {positive.shape[1]} feature columns but "
                         f"{len(feature_names)} feature names")
    if min(len(positive), len(negative)) < 2:
        raise ValueError("shortcut_probe needs at least 2 graphs of each kind (one to train, "
                         f"one to test), got {len(positive)} G+ and {len(negative)} G-; "
                         "run it on more images")
    if not (torch.isfinite(positive).all() and torch.isfinite(negative).all()):
        raise ValueError("shortcut_probe: the graph statistics contain NaN or infinite values")
    generator = torch.Generator().manual_seed(seed)
    pos_train, pos_test, neg_train, neg_test = _split(positive, negative, test_fraction,
                                                      generator)
    train_x = torch.cat([pos_train, neg_train])
    train_y = torch.cat([torch.ones(len(pos_train)), torch.zeros(len(neg_train))]).double()
    test_x = torch.cat([pos_test, neg_test])
    test_y = torch.cat([torch.ones(len(pos_test)), torch.zeros(len(neg_test))]).double()
    mean, std = train_x.mean(0), train_x.std(0, unbiased=False)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    weights, bias = _fit(train_x, train_y, l2, max_iter)
    single = {}
    for column, name in enumerate(feature_names):
        w, b = _fit(train_x[:, column:column + 1], train_y, l2, max_iter)
        single[name] = _accuracy(test_x[:, column:column + 1] @ w + b, test_y)
    return ProbeResult(
        accuracy=_accuracy(test_x @ weights + bias, test_y),
        train_accuracy=_accuracy(train_x @ weights + bias, train_y),
        num_train=len(train_y), num_test=len(test_y),
        chance_std=math.sqrt(0.25 / len(test_y)), feature_names=list(feature_names),
        weights=weights.tolist(), bias=float(bias), single_feature_accuracy=single)


def _split(positive: Tensor, negative: Tensor, test_fraction: float,
           generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"shortcut_probe: test_fraction must be in (0, 1), got {test_fraction}")
    pos_perm = torch.randperm(len(positive), generator=generator)
    neg_perm = (pos_perm if len(negative) == len(positive)
                else torch.randperm(len(negative), generator=generator))
    out = []
    for data, perm in ((positive, pos_perm), (negative, neg_perm)):
        num_test = min(max(1, round(test_fraction * len(data))), len(data) - 1)
        out += [data[perm[num_test:]], data[perm[:num_test]]]
    return out[0], out[1], out[2], out[3]


def _fit(x: Tensor, y: Tensor, l2: float, max_iter: int) -> tuple[Tensor, Tensor]:
    weights = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = (F.binary_cross_entropy_with_logits(x @ weights + bias, y)
                + 0.5 * l2 * weights.pow(2).sum())
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weights.detach(), bias.detach()


def _accuracy(scores: Tensor, labels: Tensor) -> float:
    correct = torch.where(scores == 0, torch.full_like(scores, 0.5),
                          ((scores > 0).double() == labels).double())
    return float(correct.mean())
