"""Triplet losses of the retrieval model: SGB's random negative and in-batch negatives.

Distances (RETRIEVAL.LOSS.DISTANCE) between an image embedding and a query embedding:
``smooth_l1`` (SGB: smooth-L1 with beta SMOOTH_L1_BETA, averaged over the dimensions) or
``cosine`` (1 - cosine similarity, the score the evaluation ranks by with
RETRIEVAL.TEST.SIMILARITY "cosine").

Negatives (RETRIEVAL.LOSS.NEGATIVES), margin m, d the distance:

- ``random`` (SGB's ``modelv2.SGEncode``): pair i and one uniformly drawn other pair j give
  ``[d(img_i, txt_i) + m - d(img_i, txt_j)]+`` and ``[d(txt_j, img_j) + m - d(txt_i, img_j)]+``,
  averaged over the 2B terms. Both terms compare two queries at one image: nothing asks a query
  to be nearer its own image than other images, which is what retrieval ranks.
- ``hardest`` (VSE++, Faghri et al. 2018): within the batch of B pairs, for query i the hardest
  other image, ``max_j [d(txt_i, img_i) + m - d(txt_i, img_j)]+``, and for image i the hardest
  other query, ``max_j [d(img_i, txt_i) + m - d(img_i, txt_j)]+``; averaged over the 2B terms.
- ``all`` (VSE0): the same two directions with every other pair of the batch, each direction
  averaged over its B (B - 1) terms, the two directions averaged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DISTANCES", "NEGATIVES", "pair_distance", "distance_matrix", "random_negative_loss",
           "in_batch_loss"]

DISTANCES = ("smooth_l1", "cosine")
NEGATIVES = ("random", "hardest", "all")
_CHUNK = 64  # query rows per step of the smooth-L1 distance matrix (memory: rows x N x dim)


def _check(kind: str) -> None:
    if kind not in DISTANCES:
        raise ValueError(f"RETRIEVAL.LOSS.DISTANCE must be one of {DISTANCES}, got {kind!r}")


def _smooth_l1(diff: Tensor, beta: float) -> Tensor:
    """Smooth-L1 of differences, averaged over the last dimension."""
    return F.smooth_l1_loss(diff, torch.zeros_like(diff), reduction="none", beta=beta).mean(-1)


def pair_distance(a: Tensor, b: Tensor, kind: str = "smooth_l1", beta: float = 1.0 / 9.0
                  ) -> Tensor:
    """[N] distances of matching rows of ``a`` and ``b`` ([N, D] each)."""
    _check(kind)
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(a, b, dim=1)
    return _smooth_l1(a - b, beta)


def distance_matrix(a: Tensor, b: Tensor, kind: str = "smooth_l1", beta: float = 1.0 / 9.0
                    ) -> Tensor:
    """[N, M] distances of every row of ``a`` ([N, D]) to every row of ``b`` ([M, D])."""
    _check(kind)
    if kind == "cosine":
        return 1.0 - F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    return torch.cat([_smooth_l1(a[start:start + _CHUNK, None, :] - b[None, :, :], beta)
                      for start in range(0, len(a), _CHUNK)]) if len(a) else a.new_zeros(0, len(b))


def random_negative_loss(images: Tensor, texts: Tensor, num_pairs: int, margin: float,
                         kind: str = "smooth_l1", beta: float = 1.0 / 9.0) -> Tensor:
    """SGB's loss: rows [:B] are the positive pairs, rows [B:] their random negative pairs."""
    image_pos, image_neg = images[:num_pairs], images[num_pairs:]
    text_pos, text_neg = texts[:num_pairs], texts[num_pairs:]
    if len(image_neg) != num_pairs or len(text_neg) != num_pairs:
        raise ValueError(f"NEGATIVES 'random' needs B positive pairs followed by B negative "
                         f"pairs, got {len(images)} images and {len(texts)} queries for "
                         f"B = {num_pairs}")
    d = lambda x, y: pair_distance(x, y, kind, beta)  # noqa: E731
    image_side = F.relu(d(image_pos, text_pos) + margin - d(image_pos, text_neg))
    text_side = F.relu(d(text_neg, image_neg) + margin - d(text_pos, image_neg))
    return torch.cat([image_side, text_side]).mean()


def in_batch_loss(images: Tensor, texts: Tensor, margin: float, negatives: str = "hardest",
                  kind: str = "smooth_l1", beta: float = 1.0 / 9.0) -> Tensor:
    """Both-direction hinge loss of B matching rows against the other rows of the batch."""
    if negatives not in ("hardest", "all"):
        raise ValueError(f"in-batch negatives are 'hardest' or 'all', got {negatives!r}")
    b = len(texts)
    if len(images) != b or b < 2:
        raise ValueError(f"in-batch negatives need B >= 2 matching images and queries, got "
                         f"{len(images)} and {b}")
    dist = distance_matrix(texts, images, kind, beta)  # [query, image]
    positive = dist.diagonal()
    others = ~torch.eye(b, dtype=torch.bool, device=dist.device)
    query_side = F.relu(positive.unsqueeze(1) + margin - dist)[others].view(b, b - 1)
    image_side = F.relu(positive.unsqueeze(0) + margin - dist).T[others].view(b, b - 1)
    if negatives == "hardest":
        return torch.cat([query_side.max(dim=1).values, image_side.max(dim=1).values]).mean()
    return (query_side.mean() + image_side.mean()) / 2
