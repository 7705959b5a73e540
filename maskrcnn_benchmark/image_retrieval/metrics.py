"""Sentence-to-graph retrieval metrics: ranks of the true image, R@K, median rank, galleries.

Query ``i`` (image ``i``'s captions) is scored against every gallery image graph; the rank of
its own image is the number of other gallery images scored higher (0 = first). Ties (scores
within 1e-6, relative to the true image's score) count against the query with "pessimistic"
(SGB's ``>=`` rule without its off-by-one, which counts the query's own image too so that R@1
is always 0) or for it with "optimistic" (the EBM code's strict ``>``). R@K is the fraction of
queries ranked below K. Similarity is "cosine" (SGB), "dot" (the EBM code) or "smooth_l1" (minus
the smooth-L1 distance that SGB's loss trains, beta as RETRIEVAL.LOSS.SMOOTH_L1_BETA). Galleries
are the first N pairs of the test pool, as SGB's ``image_retrieval_test.py`` takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from .loss import distance_matrix

__all__ = ["SIMILARITIES", "TIES", "similarity_matrix", "true_image_ranks", "recall_at_k",
           "evaluate_gallery", "evaluate_galleries"]

SIMILARITIES = ("cosine", "dot", "smooth_l1")
TIES = ("pessimistic", "optimistic")
_TIE_TOLERANCE = 1e-6


def similarity_matrix(texts: Tensor, images: Tensor, kind: str = "cosine",
                      beta: float = 1.0 / 9.0) -> Tensor:
    """[queries, gallery] scores of text embeddings against image embeddings."""
    if kind not in SIMILARITIES:
        raise ValueError(f"RETRIEVAL.TEST.SIMILARITY must be one of {SIMILARITIES}, got {kind!r}")
    if kind == "smooth_l1":
        return -distance_matrix(texts, images, "smooth_l1", beta)
    if kind == "cosine":
        texts, images = F.normalize(texts, dim=1), F.normalize(images, dim=1)
    return texts @ images.T


def true_image_ranks(similarity: Tensor, ties: str = "pessimistic") -> Tensor:
    """0-based rank of gallery image ``i`` for query ``i`` (square ``similarity``)."""
    if ties not in TIES:
        raise ValueError(f"RETRIEVAL.TEST.TIES must be one of {TIES}, got {ties!r}")
    if similarity.dim() != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be square (query i matches image i), got "
                         f"{tuple(similarity.shape)}")
    true = similarity.diagonal().unsqueeze(1)
    tolerance = _TIE_TOLERANCE * true.abs().clamp(min=1.0)
    higher = similarity > true + tolerance
    ranks = higher.sum(dim=1)
    if ties == "pessimistic":
        tied = (similarity - true).abs() <= tolerance
        tied.fill_diagonal_(False)
        ranks = ranks + tied.sum(dim=1)
    return ranks


def recall_at_k(ranks: Tensor, ks: Sequence[int]) -> dict[int, float]:
    """Fraction of queries whose true image is ranked below K, for each K."""
    return {int(k): float((ranks < k).float().mean()) for k in ks}


def evaluate_gallery(texts: Tensor, images: Tensor, ks: Sequence[int], similarity: str,
                     ties: str, beta: float = 1.0 / 9.0) -> dict[str, Any]:
    """R@K, median and mean rank (1-based) and chance R@K of one gallery."""
    ranks = true_image_ranks(similarity_matrix(texts, images, similarity, beta), ties)
    size = len(ranks)
    return {"gallery_size": size,
            "recall": {str(k): v for k, v in recall_at_k(ranks, ks).items()},
            "median_rank": float((ranks + 1).float().median()),
            "mean_rank": float((ranks + 1).float().mean()),
            "chance_recall": {str(k): min(k, size) / size for k in ks}}


def evaluate_galleries(texts: Tensor, images: Tensor, sizes: Sequence[int], ks: Sequence[int],
                       similarity: str, ties: str, beta: float = 1.0 / 9.0
                       ) -> list[dict[str, Any]]:
    """``evaluate_gallery`` on the first N pairs for each requested N (at most the pool)."""
    if len(texts) != len(images) or len(texts) == 0:
        raise ValueError(f"need as many queries as images (> 0), got {len(texts)} and "
                         f"{len(images)}")
    results = []
    for requested in sizes:
        if requested <= 0:
            raise ValueError(f"RETRIEVAL.TEST.GALLERY_SIZES must be positive, got {requested}")
        size = min(int(requested), len(texts))
        result = evaluate_gallery(texts[:size], images[:size], ks, similarity, ties, beta)
        result["requested_size"] = int(requested)
        results.append(result)
    return results
