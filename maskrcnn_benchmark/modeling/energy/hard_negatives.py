"""Hard negatives: the matched positive graph with k labels changed (ENERGY_MODEL.HARD_NEGATIVES).

Per image, ``num`` negative graphs are drawn; each is the positive graph G+ of
``POSITIVE_GRAPH "matched"`` (the head's sampled pairs, background pairs included, GT states)
with k labels changed, k drawn uniformly from ``num_changes`` and capped by how many labels can
be changed. Which labels change:

- Changeable labels are the foreground GT edges (predicate > 0) and, when ``change_nodes``
  (SGCls / SGDet), the foreground nodes (object label > 0). PredCls changes predicates only.
  With ``additions`` > 0 the background edges (pairs without a GT relation) are changeable
  too: an edge change is then an *addition* (a background pair given a foreground predicate)
  with probability ``additions`` and a relabelling of a foreground edge otherwise, falling back
  to the other kind once one has no unchanged edge left. Without additions the energy model
  never sees a graph with an extra relation, which is what a decoder's false positives are.
  With ``deletions`` > 0 a chosen foreground edge is set to background (a *deletion*) with
  probability ``deletions`` instead of being relabelled: without deletions the energy model
  never sees a graph with a relation missing, so it cannot tell the first link an "exactly
  one" rule requires from a second one the rule forbids.
- Mixing rule: each of the k changes is a node change with probability 1/2 and an edge change
  otherwise, falling back to the other kind once one kind has no unchanged label left; the
  labels of a kind are then picked uniformly without replacement.
- A predicate change draws another foreground predicate: with ``source "frequency"`` from the
  train split's p(predicate | subject class, object class) at the edge's GT classes, the true
  predicate excluded and renormalised (uniform over the other foreground predicates where that
  row has no mass); with ``source "uniform"`` uniformly. A node change draws another foreground
  object class from the train object frequency ("frequency", same fallback) or uniformly.
  An addition draws its predicate the same way (only background excluded), so it is a
  plausible relation for the class pair.

The new state of a changed row is the positive's row with its one-hot moved from the old to the
new label (``row - one_hot(old) + one_hot(new)``), so the data noise is the positive's and a hard
negative differs from G+ in exactly its k changed rows. Hard negatives are built from detached
tensors: constants for the relation model. Draws use the global torch RNG (CPU), so they are
deterministic under ``torch.manual_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.scene_graph import SceneGraph

__all__ = ["HARD_NEGATIVE_SOURCES", "LabelPrior", "HardNegatives", "HardNegativeSampler"]

HARD_NEGATIVE_SOURCES = ("frequency", "uniform")


@dataclass(frozen=True)
class LabelPrior:
    """Train-split counts the frequency source draws from, kept sparse (GQA-sized tables)."""

    pair_keys: Tensor      # [T] int64 subject * C + object of each foreground triplet, sorted
    predicates: Tensor     # [T] int64 predicate of each triplet
    counts: Tensor         # [T] float64 triplet counts
    object_counts: Tensor  # [C] float64 object-class counts (column 0, background, is 0)
    num_obj_classes: int
    num_rel_classes: int

    @classmethod
    def from_statistics(cls, statistics, num_obj_classes: int, num_rel_classes: int
                        ) -> LabelPrior:
        """From a DatasetStatistics (``triplets``, ``triplet_counts``, ``object_counts``)."""
        if (len(statistics.obj_classes), len(statistics.rel_classes)) != (num_obj_classes,
                                                                         num_rel_classes):
            raise ValueError(
                f"ENERGY_MODEL.HARD_NEGATIVES: the dataset statistics have "
                f"{len(statistics.obj_classes)} object and {len(statistics.rel_classes)} "
                f"predicate classes but the model has {num_obj_classes} and {num_rel_classes}; "
                "make MODEL.ROI_BOX_HEAD.NUM_CLASSES / ROI_RELATION_HEAD.NUM_CLASSES agree")
        return cls.from_counts(statistics.triplets, statistics.triplet_counts,
                               statistics.object_counts, num_obj_classes, num_rel_classes)

    @classmethod
    def from_counts(cls, triplets: Tensor, triplet_counts: Tensor, object_counts: Tensor,
                    num_obj_classes: int, num_rel_classes: int) -> LabelPrior:
        """From [T, 3] (subject class, object class, predicate) rows, their counts and [C]
        object counts; background triplets and negative counts are rejected."""
        triplets = torch.as_tensor(triplets, dtype=torch.int64).reshape(-1, 3).cpu()
        counts = torch.as_tensor(triplet_counts).reshape(-1).double().cpu()
        objects = torch.as_tensor(object_counts).reshape(-1).double().cpu().clone()
        limits = torch.tensor([num_obj_classes, num_obj_classes, num_rel_classes])
        if (len(counts) != len(triplets) or objects.shape[0] != num_obj_classes
                or (triplets < 0).any() or (triplets >= limits).any()
                or (counts < 0).any() or (objects < 0).any()
                or not torch.isfinite(counts).all() or not torch.isfinite(objects).all()):
            raise ValueError(
                "ENERGY_MODEL.HARD_NEGATIVES: the frequency prior needs [T, 3] triplets with "
                f"classes below {limits.tolist()}, T finite counts >= 0 and "
                f"{num_obj_classes} object counts; recompute the dataset statistics")
        keep = triplets[:, 2] > 0
        triplets, counts = triplets[keep], counts[keep]
        keys = triplets[:, 0] * num_obj_classes + triplets[:, 1]
        order = torch.argsort(keys, stable=True)
        objects[0] = 0.0
        return cls(keys[order], triplets[order, 2], counts[order], objects, num_obj_classes,
                   num_rel_classes)

    def predicate_weights(self, subject: int, obj: int) -> Tensor:
        """[R] float64 train counts of each predicate for the class pair (column 0 is 0)."""
        key = torch.tensor([subject * self.num_obj_classes + obj])
        low = int(torch.searchsorted(self.pair_keys, key))
        high = int(torch.searchsorted(self.pair_keys, key, right=True))
        weights = torch.zeros(self.num_rel_classes, dtype=torch.float64)
        weights.index_add_(0, self.predicates[low:high], self.counts[low:high])
        return weights


@dataclass(frozen=True)
class HardNegatives:
    """``num`` hard negatives per image, batched copy-major: graph ``n * B + b`` is negative n
    of image b. ``changes`` [B, num] counts the labels changed (0: nothing could change; that
    negative equals G+ and the losses leave it out)."""

    graph: SceneGraph
    changes: Tensor

    @property
    def mask(self) -> Tensor:
        """[B, num] bool: the negatives that differ from their positive."""
        return self.changes > 0


@dataclass(frozen=True)
class HardNegativeSampler:
    """Draws label changes and builds the hard-negative graphs (module docstring)."""

    num: int
    num_changes: tuple[int, ...]
    source: str
    change_nodes: bool
    num_obj_classes: int
    num_rel_classes: int
    prior: LabelPrior | None = None
    additions: float = 0.0
    deletions: float = 0.0

    def __post_init__(self) -> None:
        for key, value in (("ADDITIONS", self.additions), ("DELETIONS", self.deletions)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ENERGY_MODEL.HARD_NEGATIVES.{key} is a probability in "
                                 f"[0, 1], got {value}")
        if self.num < 1:
            raise ValueError(f"ENERGY_MODEL.HARD_NEGATIVES.NUM must be >= 1 to sample, got "
                             f"{self.num}")
        if not self.num_changes or any(int(k) != k or k < 1 for k in self.num_changes):
            raise ValueError("ENERGY_MODEL.HARD_NEGATIVES.NUM_CHANGES must be a non-empty list "
                             f"of integers >= 1, got {self.num_changes!r}")
        if self.source not in HARD_NEGATIVE_SOURCES:
            raise ValueError(f"ENERGY_MODEL.HARD_NEGATIVES.SOURCE is {self.source!r}; use one "
                             f"of {', '.join(HARD_NEGATIVE_SOURCES)}")
        if self.source == "frequency" and self.prior is None:
            raise ValueError("ENERGY_MODEL.HARD_NEGATIVES.SOURCE 'frequency' needs the train "
                             "split's statistics (build_energy_objective(..., statistics))")

    def draw(self, node_labels: Tensor, edge_labels: Tensor, pairs: Tensor
             ) -> tuple[Tensor, Tensor, int]:
        """One negative of one image: (new node labels [N], new edge labels [E], k changed).

        ``pairs`` [E, 2] holds local (subject, object) indices; labels are int64 on the CPU.
        """
        nodes = node_labels.clone()
        edges = edge_labels.clone()
        edge_pool = self._changeable(edge_labels, self.num_rel_classes)
        empty_pool = (self._addable(edge_labels, self.num_rel_classes) if self.additions > 0
                      else edge_pool[:0])
        node_pool = (self._changeable(node_labels, self.num_obj_classes) if self.change_nodes
                     else edge_pool[:0])
        wanted = self.num_changes[int(torch.randint(len(self.num_changes), ()))]
        k = min(int(wanted), len(edge_pool) + len(empty_pool) + len(node_pool))
        num_nodes = 0
        for step in range(k):
            edges_left = len(edge_pool) + len(empty_pool) - (step - num_nodes)
            nodes_left = len(node_pool) - num_nodes
            if nodes_left and (not edges_left or bool(torch.rand(()) < 0.5)):
                num_nodes += 1
        num_added = 0
        for step in range(k - num_nodes):
            relabels_left = len(edge_pool) - (step - num_added)
            additions_left = len(empty_pool) - num_added
            if additions_left and (not relabels_left
                                   or bool(torch.rand(()) < self.additions)):
                num_added += 1
        chosen_edges = edge_pool[torch.randperm(len(edge_pool))[:k - num_nodes - num_added]]
        chosen_nodes = node_pool[torch.randperm(len(node_pool))[:num_nodes]]
        # (no randperm without additions: the RNG stream stays that of relabellings only)
        added_edges = (empty_pool[torch.randperm(len(empty_pool))[:num_added]] if num_added
                       else empty_pool[:0])
        # (no draw without deletions: the RNG stream stays that of the runs before them)
        deleted = (torch.rand(len(chosen_edges)) < self.deletions if self.deletions > 0
                   else torch.zeros(len(chosen_edges), dtype=torch.bool))
        edges[chosen_edges[deleted]] = 0
        for edge in chosen_edges[~deleted].tolist() + added_edges.tolist():
            old = int(edge_labels[edge])
            if self.source == "frequency":
                subject, obj = pairs[edge].tolist()
                weights = self.prior.predicate_weights(int(node_labels[subject]),
                                                       int(node_labels[obj]))
            else:
                weights = None
            edges[edge] = _draw_other(weights, old, self.num_rel_classes)
        for node in chosen_nodes.tolist():
            weights = self.prior.object_counts if self.source == "frequency" else None
            nodes[node] = _draw_other(weights, int(node_labels[node]), self.num_obj_classes)
        return nodes, edges, k

    def __call__(self, positive: SceneGraph, node_labels: Sequence[Tensor],
                 edge_labels: Sequence[Tensor], pair_idxs: Sequence[Tensor]) -> HardNegatives:
        """``num`` hard negatives per image of ``positive`` (whose per-image node and edge
        labels, in the graph's order, are ``node_labels`` / ``edge_labels``)."""
        batch = positive.num_graphs
        if not len(node_labels) == len(edge_labels) == len(pair_idxs) == batch:
            raise ValueError(f"hard negatives: {batch} images in the positive graph but "
                             f"{len(node_labels)} / {len(edge_labels)} / {len(pair_idxs)} "
                             "label / pair lists")
        nodes = [labels.detach().long().cpu() for labels in node_labels]
        edges = [labels.detach().long().cpu() for labels in edge_labels]
        pairs = [p.detach().long().cpu() for p in pair_idxs]
        node_offsets = _offsets([len(n) for n in nodes])
        edge_offsets = _offsets([len(e) for e in edges])
        if node_offsets[-1] != positive.num_nodes or edge_offsets[-1] != positive.num_edges:
            raise ValueError(f"hard negatives: the labels cover {node_offsets[-1]} nodes and "
                             f"{edge_offsets[-1]} edges, the positive graph has "
                             f"{positive.num_nodes} and {positive.num_edges}")
        base = positive.detach()
        node_states, edge_states = [], []
        changes = torch.zeros(batch, self.num, dtype=torch.long)
        for copy in range(self.num):
            node_rows, node_old, node_new = [], [], []
            edge_rows, edge_old, edge_new = [], [], []
            for image in range(batch):
                new_nodes, new_edges, k = self.draw(nodes[image], edges[image], pairs[image])
                changes[image, copy] = k
                _collect(nodes[image], new_nodes, node_offsets[image], node_rows, node_old,
                         node_new)
                _collect(edges[image], new_edges, edge_offsets[image], edge_rows, edge_old,
                         edge_new)
            node_states.append(_moved(base.node_states, node_rows, node_old, node_new))
            edge_states.append(_moved(base.edge_states, edge_rows, edge_old, edge_new))
        return HardNegatives(_repeat(base, node_states, edge_states, self.num), changes)

    @staticmethod
    def _addable(labels: Tensor, num_classes: int) -> Tensor:
        """Indices of background edges (a relation can be added there)."""
        if num_classes < 2:
            return torch.zeros(0, dtype=torch.long)
        return (labels == 0).nonzero(as_tuple=True)[0]

    def _changeable(self, labels: Tensor, num_classes: int) -> Tensor:
        """Indices of foreground labels that have another foreground class to become."""
        if num_classes < 3:  # background and at most one foreground class
            return torch.zeros(0, dtype=torch.long)
        return (labels > 0).nonzero(as_tuple=True)[0]


def _draw_other(weights: Tensor | None, old: int, num_classes: int) -> int:
    """A foreground class other than ``old`` drawn from ``weights`` (uniform if None or if no
    mass is left once background and ``old`` are excluded)."""
    weights = (torch.ones(num_classes, dtype=torch.float64) if weights is None
               else weights.double().clone())
    weights[0] = 0.0
    weights[old] = 0.0
    if not float(weights.sum()) > 0:
        weights = torch.ones(num_classes, dtype=torch.float64)
        weights[0] = 0.0
        weights[old] = 0.0
    return int(torch.multinomial(weights, 1))


def _offsets(sizes: list[int]) -> list[int]:
    offsets = [0]
    for size in sizes:
        offsets.append(offsets[-1] + size)
    return offsets


def _collect(old: Tensor, new: Tensor, offset: int, rows: list[int], olds: list[int],
             news: list[int]) -> None:
    changed = (old != new).nonzero(as_tuple=True)[0]
    rows.extend((changed + offset).tolist())
    olds.extend(old[changed].tolist())
    news.extend(new[changed].tolist())


def _moved(states: Tensor, rows: list[int], old: list[int], new: list[int]) -> Tensor:
    """``states`` with each listed row's one-hot moved from column ``old`` to ``new``."""
    if not rows:
        return states
    moved = states.clone()
    index = torch.tensor(rows, dtype=torch.long, device=states.device)
    old_cols = torch.tensor(old, dtype=torch.long, device=states.device)
    new_cols = torch.tensor(new, dtype=torch.long, device=states.device)
    moved[index, old_cols] -= 1.0
    moved[index, new_cols] += 1.0
    return moved


def _repeat(base: SceneGraph, node_states: list[Tensor], edge_states: list[Tensor],
            copies: int) -> SceneGraph:
    """``copies`` copies of ``base``'s structure, copy-major, with the given states."""
    num_nodes, batch = base.num_nodes, base.num_graphs
    features = base.image_node_features
    return SceneGraph(
        node_states=torch.cat(node_states, dim=0),
        edge_states=torch.cat(edge_states, dim=0),
        edge_index=torch.cat([base.edge_index + c * num_nodes for c in range(copies)], dim=0),
        node_batch=torch.cat([base.node_batch + c * batch for c in range(copies)], dim=0),
        edge_batch=torch.cat([base.edge_batch + c * batch for c in range(copies)], dim=0),
        num_graphs=copies * batch,
        node_positions=base.node_positions.repeat(copies, 1),
        image_node_features=None if features is None else features.repeat(copies, 1),
    )
