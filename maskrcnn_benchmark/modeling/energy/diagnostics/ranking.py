"""Energy ranking test: does the energy rise when predicates of a GT graph are changed?

The core is independent of any model: ``ranking_test(energy, graphs, variants)`` takes an
energy callable ``energy(graph, predicates [M, E]) -> [M]`` (the graph with each row of
predicates on its edges), the GT graphs and, per graph, its changed variants. A pair
(GT, variant) is ranked right when E(GT) < E(variant); a tie counts half, so an energy that
ignores the predicates scores exactly 50%.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

__all__ = ["PredicateGraph", "Variant", "GraphEnergy", "KindRanking", "ranking_test",
           "contrast_test", "random_changes", "spearman"]


@dataclass(frozen=True)
class PredicateGraph:
    """One image's GT scene graph as labels: the edges whose predicates the test changes."""

    image: int          # position of the image in the caller's tables (the energy's key)
    labels: Tensor      # [N] object classes
    boxes: Tensor       # [N, 4] xyxy boxes in original image pixels (for scene rules)
    pairs: Tensor       # [E, 2] local (subject, object) indices
    predicates: Tensor  # [E] predicate of each edge; 0 = background pair, never changed

    def foreground_edges(self) -> Tensor:
        """Indices of the edges with a (non-background) predicate."""
        return (self.predicates > 0).nonzero(as_tuple=True)[0]


@dataclass(frozen=True)
class Variant:
    """The GT graph with ``k`` foreground predicates changed by a ``kind`` of change."""

    kind: str
    k: int
    predicates: Tensor  # [E]


GraphEnergy = Callable[[PredicateGraph, Tensor], Tensor]


@dataclass
class KindRanking:
    """Ranking figures of one kind of change."""

    accuracy: dict[int, float] = field(default_factory=dict)  # by k
    pairs: dict[int, int] = field(default_factory=dict)       # (GT, variant) pairs by k
    overall: float | None = None                             # over every k
    spearman: float | None = None      # energy vs number of wrong edges, all images pooled
    spearman_within_image: float | None = None  # mean of the per-image correlations
    images: int = 0                    # images with at least one variant of this kind

    def to_dict(self) -> dict:
        """JSON-ready dict (k as string keys)."""
        out = asdict(self)
        out["accuracy"] = {str(k): v for k, v in self.accuracy.items()}
        out["pairs"] = {str(k): v for k, v in self.pairs.items()}
        return out


def ranking_test(energy: GraphEnergy, graphs: Sequence[PredicateGraph],
                 variants: Sequence[Sequence[Variant]]) -> dict[str, KindRanking]:
    """Ranking accuracy by kind and k, and the Spearman correlation of energy with k.

    The energy is called once per graph on its GT predicates followed by its variants. The
    pooled correlation ranks every GT graph (k = 0) and variant of a kind together; the
    within-image one is averaged over images whose energies and k both vary.
    """
    if len(graphs) != len(variants):
        raise ValueError(f"ranking_test: {len(graphs)} graphs but {len(variants)} variant lists")
    wins: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    pooled: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    within: dict[str, list[float]] = defaultdict(list)
    images: dict[str, int] = defaultdict(int)
    for graph, image_variants in zip(graphs, variants):
        if not image_variants:
            continue
        rows = torch.stack([graph.predicates] + [v.predicates for v in image_variants])
        values = energy(graph, rows).detach().double().cpu()
        if values.shape != (len(rows),) or not torch.isfinite(values).all():
            raise ValueError(f"ranking_test: the energy of image {graph.image} returned "
                             f"{tuple(values.shape)} values (expected {len(rows)}) or "
                             "non-finite ones")
        gt_energy = float(values[0])
        by_kind: dict[str, tuple[list[float], list[int]]] = {}
        for variant, value in zip(image_variants, values[1:].tolist()):
            wins[variant.kind][variant.k].append(
                1.0 if gt_energy < value else 0.5 if gt_energy == value else 0.0)
            kind_values, ks = by_kind.setdefault(variant.kind, ([gt_energy], [0]))
            kind_values.append(value)
            ks.append(variant.k)
        for kind, (kind_values, ks) in by_kind.items():
            images[kind] += 1
            pooled[kind][0].extend(kind_values)
            pooled[kind][1].extend(ks)
            rho = spearman(kind_values, ks)
            if rho is not None:
                within[kind].append(rho)
    results = {}
    for kind in sorted(wins):
        by_k = wins[kind]
        everything = [w for k in by_k for w in by_k[k]]
        results[kind] = KindRanking(
            accuracy={k: sum(by_k[k]) / len(by_k[k]) for k in sorted(by_k)},
            pairs={k: len(by_k[k]) for k in sorted(by_k)},
            overall=sum(everything) / len(everything),
            spearman=spearman(*pooled[kind]),
            spearman_within_image=(sum(within[kind]) / len(within[kind])
                                   if within[kind] else None),
            images=images[kind])
    return results


def contrast_test(energy: GraphEnergy, graphs: Sequence[PredicateGraph],
                  variants: Sequence[Sequence[Variant]], high: str, low: str) -> KindRanking:
    """Does the energy put changes of kind ``high`` above those of kind ``low``?

    Over every image and k, each (``high`` variant, ``low`` variant) pair of that image and k
    counts 1 when E(high) > E(low), 1/2 on a tie: e.g. a forbidden addition against a harmless
    one, the contrast a decoder uses when it compares candidate relations with each other
    rather than with the GT graph. Returned as a KindRanking (accuracy and pairs by k, overall;
    no correlations; ``images`` with both kinds).
    """
    wins: dict[int, list[float]] = defaultdict(list)
    images = 0
    for graph, image_variants in zip(graphs, variants):
        chosen = [v for v in image_variants if v.kind in (high, low)]
        ks = {v.k for v in chosen if v.kind == high} & {v.k for v in chosen if v.kind == low}
        chosen = [v for v in chosen if v.k in ks]
        if not chosen:
            continue
        values = energy(graph, torch.stack([v.predicates for v in chosen])).detach().double()
        images += 1
        for k in sorted(ks):
            above = [float(e) for v, e in zip(chosen, values) if v.k == k and v.kind == high]
            below = [float(e) for v, e in zip(chosen, values) if v.k == k and v.kind == low]
            wins[k] += [1.0 if a > b else 0.5 if a == b else 0.0 for a in above for b in below]
    everything = [w for k in wins for w in wins[k]]
    return KindRanking(accuracy={k: sum(wins[k]) / len(wins[k]) for k in sorted(wins)},
                       pairs={k: len(wins[k]) for k in sorted(wins)},
                       overall=sum(everything) / len(everything) if everything else None,
                       images=images)


def random_changes(graph: PredicateGraph, ks: Sequence[int], count: int,
                   predicate_weights: Tensor, generator: torch.Generator) -> list[Variant]:
    """Up to ``count`` distinct variants per k: k foreground edges get a new predicate drawn
    from ``predicate_weights`` [R] (e.g. train frequencies; column 0 is ignored), never their
    own."""
    weights = predicate_weights.double().clone()
    weights[0] = 0.0
    total = float(weights.sum())
    # an edge can change if some other predicate has weight
    changeable = torch.tensor([edge for edge in graph.foreground_edges().tolist()
                               if total - float(weights[graph.predicates[edge]]) > 0],
                              dtype=torch.long)
    variants: list[Variant] = []
    for k in ks:
        seen: set[tuple[int, ...]] = set()
        if len(changeable) < k:
            continue
        for _ in range(count):
            edges = changeable[torch.randperm(len(changeable), generator=generator)[:k]]
            predicates = graph.predicates.clone()
            for edge in edges.tolist():
                w = weights.clone()
                w[graph.predicates[edge]] = 0.0
                predicates[edge] = torch.multinomial(w, 1, generator=generator)
            key = tuple(predicates.tolist())
            if key not in seen:
                seen.add(key)
                variants.append(Variant("random", k, predicates))
    return variants


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman rank correlation (average ranks for ties); None if either side is constant."""
    if len(x) != len(y):
        raise ValueError(f"spearman: {len(x)} and {len(y)} values")
    rx = _average_ranks(torch.tensor(x, dtype=torch.float64))
    ry = _average_ranks(torch.tensor(y, dtype=torch.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float((rx.pow(2).sum() * ry.pow(2).sum()).sqrt())
    if len(x) < 2 or denominator == 0.0:
        return None
    return float((rx * ry).sum()) / denominator


def _average_ranks(values: Tensor) -> Tensor:
    order = torch.argsort(values, stable=True)
    sorted_values = values[order]
    ranks = torch.empty_like(values)
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2.0
        start = end + 1
    return ranks
