"""Ground-truth scene graphs on all ordered pairs, for pretraining the energy model.

A ``GTGraph`` is one image's GT graph as labels, read through ``get_groundtruth`` (annotations
only, no image is decoded): nodes = the GT objects (labels, boxes in original pixels and their
``encode_box_info`` positions in the original image size), edges = every ordered pair (i, j),
i != j, with the GT predicate where annotated and the background predicate 0 elsewhere. The
predicate of a pair is the dataset's ``relation`` matrix, so a pair annotated twice keeps one
predicate exactly as relation training sees it (train split: one uniformly random predicate per
pair, redrawn every time the annotation is read).

Cap (``max_pairs`` > 0, ENERGY_MODEL.PRETRAIN.MAX_PAIRS): an image with more ordered pairs keeps
every annotated pair and fills up to ``max_pairs`` with background pairs drawn uniformly without
replacement; an image with more annotated pairs than ``max_pairs`` keeps all of them and no
background pair. Edges stay in row-major (subject, object) order. ``max_pairs`` 0 = no cap.

``batch_graphs`` turns GT graphs into a ``SceneGraph`` with one-hot states plus the data noise,
as ``graph_builder.build_gt_graph`` does for relation training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, encode_box_info

from .diagnostics.ranking import PredicateGraph
from .graph_builder import _noisy, _one_hot

__all__ = ["GTGraph", "gt_graph_from_target", "load_gt_graphs", "batch_graphs",
           "all_ordered_pairs"]


@dataclass(frozen=True)
class GTGraph:
    """One image's GT scene graph on (capped) all ordered pairs of its objects."""

    image: int          # index of the image in its dataset
    labels: Tensor      # [N] int64 object classes
    boxes: Tensor       # [N, 4] xyxy, original image pixels
    positions: Tensor   # [N, 9] encode_box_info in the original image size
    pairs: Tensor       # [E, 2] int64 local (subject, object), i != j
    predicates: Tensor  # [E] int64, 0 = no annotated relation

    @property
    def num_annotated(self) -> int:
        """Number of edges with a foreground predicate."""
        return int((self.predicates > 0).sum())

    def as_predicate_graph(self, position: int) -> PredicateGraph:
        """The ranking test's view of this graph; ``position`` is its key in the caller's
        tables."""
        return PredicateGraph(image=position, labels=self.labels, boxes=self.boxes,
                              pairs=self.pairs, predicates=self.predicates)


def all_ordered_pairs(num_nodes: int) -> Tensor:
    """[N (N - 1), 2] every ordered pair (i, j), i != j, in row-major order."""
    index = torch.arange(num_nodes)
    pairs = torch.cartesian_prod(index, index).reshape(-1, 2)
    return pairs[pairs[:, 0] != pairs[:, 1]]


def gt_graph_from_target(target: BoxList, image: int, max_pairs: int = 0,
                         generator: torch.Generator | None = None) -> GTGraph:
    """The GT graph of one ``get_groundtruth`` target (fields ``labels`` and ``relation``)."""
    if max_pairs < 0:
        raise ValueError(f"ENERGY_MODEL.PRETRAIN.MAX_PAIRS must be >= 0 (0 = every ordered "
                         f"pair), got {max_pairs}")
    target = target.convert("xyxy")
    relation = target.get_field("relation")
    num_nodes = len(target)
    if tuple(relation.shape) != (num_nodes, num_nodes):
        raise ValueError(f"image {image}: 'relation' is {tuple(relation.shape)} for "
                         f"{num_nodes} boxes; expected an N x N predicate matrix")
    pairs = all_ordered_pairs(num_nodes)
    predicates = relation[pairs[:, 0], pairs[:, 1]].long()
    if max_pairs and len(pairs) > max_pairs:
        annotated = (predicates > 0).nonzero(as_tuple=True)[0]
        background = (predicates == 0).nonzero(as_tuple=True)[0]
        room = max(max_pairs - len(annotated), 0)
        chosen = background[torch.randperm(len(background), generator=generator)[:room]]
        keep = torch.cat([annotated, chosen]).sort().values
        pairs, predicates = pairs[keep], predicates[keep]
    return GTGraph(image=image, labels=target.get_field("labels").long(),
                   boxes=target.bbox.float(), positions=encode_box_info([target]),
                   pairs=pairs, predicates=predicates)


def load_gt_graphs(dataset, max_pairs: int = 0, generator: torch.Generator | None = None,
                   indices: Sequence[int] | None = None) -> list[GTGraph]:
    """GT graphs of ``dataset`` (a VGDataset; every image, or ``indices``), read from its
    annotations only (``get_groundtruth``; no image is decoded)."""
    indices = range(len(dataset)) if indices is None else indices
    return [gt_graph_from_target(dataset.get_groundtruth(i), i, max_pairs, generator)
            for i in indices]


def batch_graphs(graphs: Sequence[GTGraph], *, num_obj_classes: int, num_rel_classes: int,
                 noise_std: float, device: torch.device | str = "cpu") -> SceneGraph:
    """One SceneGraph of one-hot GT states (+ N(0, noise_std^2) noise, nodes then edges)."""
    device = torch.device(device)
    nodes = [_noisy(_one_hot(g.labels, num_obj_classes, f"image {g.image} 'labels'").to(device),
                    noise_std) for g in graphs]
    edges = [_noisy(_one_hot(g.predicates, num_rel_classes, f"image {g.image} 'relation'")
                    .to(device), noise_std) for g in graphs]
    return SceneGraph.from_images(
        node_states=nodes, edge_states=edges,
        pair_idxs=[g.pairs.to(device) for g in graphs],
        node_positions=[g.positions.to(device) for g in graphs])
