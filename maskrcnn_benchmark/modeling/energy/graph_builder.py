"""Ground-truth and predicted SceneGraphs from targets and the relation head's output.

Follows the EBM code's graph construction (reference-spec-models Sec. 4.3):

- GT graph: edges = the non-zero cells of each target's ``relation`` matrix; edge states =
  one-hot predicates, node states = one-hot GT labels, both plus N(0, noise_std^2) noise
  (ENERGY_MODEL.DATA_NOISE_VAR, used as a standard deviation like the EBM code).
- Predicted graph: edges = the head's ``rel_pair_idxs``; node states = one-hot labels plus
  noise in PredCls (from the proposals' ``labels``, not from the logits). Edge states (and in
  SGCls / SGDet node states, from ``refine_logits``) follow ENERGY_MODEL.NEGATIVE_STATES:
  "minmax" (row-wise min-max normalised logits, the EBM code), "softmax" (probabilities) or
  "sample" (one-hot draws from the softmax with a straight-through gradient, plus the same
  N(0, noise_std^2) noise as the positive states, so both graphs have the same row statistics).
- Matched GT graph (``ENERGY_MODEL.POSITIVE_GRAPH "matched"``, new): the predicted graph's nodes,
  pairs and image graph with GT states: one-hot proposal labels and one-hot ``rel_labels``
  (background predicate for unrelated pairs), plus noise. E+ and E- then differ only in the
  states, not in how many edges the graph has.
- Image graph (same nodes and edges): RoI features plus N(0, noise_std^2) noise, drawn
  independently for each graph and never written in place (the EBM code adds it in place
  on ``.data``, twice to one shared tensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask, encode_box_info

from .normalization import minmax_normalize

__all__ = ["NEGATIVE_STATES", "RelationHeadOutputLike", "build_gt_graph",
           "build_matched_gt_graph", "build_predicted_graph", "gt_image_features",
           "straight_through_one_hot"]

# How logits become the predicted graph's free states (ENERGY_MODEL.NEGATIVE_STATES).
NEGATIVE_STATES = ("minmax", "softmax", "sample")


class RelationHeadOutputLike(Protocol):
    """The fields of the relation head's RelationHeadOutput that the energy part reads."""

    proposals: list[BoxList]
    rel_pair_idxs: list[Tensor]
    relation_logits: list[Tensor]
    refine_logits: list[Tensor]
    roi_features: Tensor
    rel_labels: list[Tensor] | None
    target_roi_features: Tensor | None


def _noisy(states: Tensor, noise_std: float) -> Tensor:
    return states + noise_std * torch.randn_like(states) if noise_std > 0 else states


def _one_hot(labels: Tensor, num_classes: int, what: str) -> Tensor:
    labels = labels.long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f"{what} has labels in [{int(labels.min())}, {int(labels.max())}] but the energy "
            f"model has {num_classes} classes; check NUM_CLASSES against the dataset")
    return F.one_hot(labels, num_classes).float()


def gt_image_features(output: RelationHeadOutputLike, task: SGGTask,
                      targets: Sequence[BoxList]) -> Tensor:
    """RoI features of the GT boxes: the head's own (GT-box tasks) or ``target_roi_features``."""
    features = output.roi_features if task is not SGGTask.SGDET else output.target_roi_features
    num_gt = sum(len(target) for target in targets)
    if features is None:
        raise ValueError("SGDet energy training needs RelationHeadOutput.target_roi_features "
                         "(RoI features of the GT boxes) from the relation head")
    if features.shape[0] != num_gt:
        source = "roi_features" if task is not SGGTask.SGDET else "target_roi_features"
        raise ValueError(
            f"RelationHeadOutput.{source} has {features.shape[0]} rows but the targets have "
            f"{num_gt} boxes; in {task.value} the GT image graph needs one feature per GT box")
    return features


def build_gt_graph(targets: Sequence[BoxList], image_features: Tensor | None, *,
                   num_obj_classes: int, num_rel_classes: int, noise_std: float) -> SceneGraph:
    """The GT scene graph (+ image graph on ``image_features`` [sum N_i, D] if given)."""
    nodes, edges, pairs = [], [], []
    for target in targets:
        relation = target.get_field("relation")
        pair_idxs = torch.nonzero(relation, as_tuple=False)
        predicates = relation[pair_idxs[:, 0], pair_idxs[:, 1]]
        nodes.append(_one_hot(target.get_field("labels"), num_obj_classes, "target 'labels'"))
        edges.append(_one_hot(predicates, num_rel_classes, "target 'relation'"))
        pairs.append(pair_idxs)
    features = None if image_features is None else _noisy(image_features, noise_std)
    return SceneGraph.from_images(
        node_states=[_noisy(n, noise_std) for n in nodes],
        edge_states=[_noisy(e, noise_std) for e in edges],
        pair_idxs=pairs,
        node_positions=_positions(targets),
        image_node_features=features,
    )


def build_matched_gt_graph(output: RelationHeadOutputLike, *, num_obj_classes: int,
                           num_rel_classes: int, noise_std: float,
                           with_image_graph: bool) -> SceneGraph:
    """GT states on the predicted graph's structure: proposal labels and training ``rel_labels``
    as one-hots (+ noise) on the head's proposals and ``rel_pair_idxs``."""
    _check_output(output)
    if output.rel_labels is None:
        raise ValueError("ENERGY_MODEL.POSITIVE_GRAPH 'matched' needs the relation head's "
                         "training rel_labels (one target predicate per sampled pair); they are "
                         "missing, so this output did not come from a training forward pass")
    for image, (labels, pairs) in enumerate(zip(output.rel_labels, output.rel_pair_idxs)):
        if labels.shape[0] != pairs.shape[0]:
            raise ValueError(f"RelationHeadOutput image {image}: {pairs.shape[0]} pairs but "
                             f"{labels.shape[0]} rel_labels")
    nodes = _label_states(output, num_obj_classes, noise_std)  # noise order: nodes, edges
    edges = [_noisy(_one_hot(labels, num_rel_classes, "rel_labels"), noise_std)
             for labels in output.rel_labels]
    return _graph_on_output(output, nodes, edges, noise_std, with_image_graph)


def build_predicted_graph(output: RelationHeadOutputLike, task: SGGTask, *, num_obj_classes: int,
                          noise_std: float, with_image_graph: bool,
                          states: str = "minmax") -> SceneGraph:
    """The scene graph predicted by the relation head (+ its image graph if requested), its
    logits turned into states as ``states`` (one of NEGATIVE_STATES) says."""
    if states not in NEGATIVE_STATES:
        raise ValueError(f"ENERGY_MODEL.NEGATIVE_STATES is {states!r}; use one of "
                         f"{', '.join(NEGATIVE_STATES)}")
    _check_output(output)
    if task is SGGTask.PREDCLS:
        nodes = _label_states(output, num_obj_classes, noise_std)
    else:
        nodes = [_logit_states(logits, states, noise_std) for logits in output.refine_logits]
    edges = [_logit_states(logits, states, noise_std) for logits in output.relation_logits]
    return _graph_on_output(output, nodes, edges, noise_std, with_image_graph)


def straight_through_one_hot(logits: Tensor) -> Tensor:
    """One-hot rows drawn from ``softmax(logits)`` (forward) whose gradient is the softmax's
    (backward): ``one_hot + p - p.detach()``. Uses the global torch RNG."""
    probs = torch.softmax(logits.float(), dim=-1)
    if probs.shape[0] == 0:
        return probs
    drawn = torch.multinomial(probs.detach(), 1).squeeze(1)
    return F.one_hot(drawn, probs.shape[1]).to(probs.dtype) + probs - probs.detach()


def _logit_states(logits: Tensor, states: str, noise_std: float) -> Tensor:
    """Free states of one image's logits [K, classes] as NEGATIVE_STATES ``states`` says."""
    if states == "minmax":
        return minmax_normalize(logits.float())
    if states == "softmax":
        return torch.softmax(logits.float(), dim=-1)
    return _noisy(straight_through_one_hot(logits), noise_std)


def _label_states(output: RelationHeadOutputLike, num_obj_classes: int,
                  noise_std: float) -> list[Tensor]:
    """One-hot proposal labels plus noise, per image."""
    return [_noisy(_one_hot(p.get_field("labels"), num_obj_classes, "proposal 'labels'"),
                   noise_std) for p in output.proposals]


def _graph_on_output(output: RelationHeadOutputLike, nodes: list[Tensor], edges: list[Tensor],
                     noise_std: float, with_image_graph: bool) -> SceneGraph:
    """A SceneGraph on the head's proposals and pairs with the given states."""
    features = _noisy(output.roi_features, noise_std) if with_image_graph else None
    return SceneGraph.from_images(
        node_states=nodes,
        edge_states=edges,
        pair_idxs=list(output.rel_pair_idxs),
        node_positions=_positions(output.proposals),
        image_node_features=features,
    )


def _positions(boxlists: Sequence[BoxList]) -> list[Tensor]:
    return [encode_box_info([boxlist]) for boxlist in boxlists]


def _check_output(output: RelationHeadOutputLike) -> None:
    counts = [len(p) for p in output.proposals]
    if len(output.rel_pair_idxs) != len(counts) or len(output.relation_logits) != len(counts) \
            or len(output.refine_logits) != len(counts):
        raise ValueError("RelationHeadOutput: proposals, rel_pair_idxs, relation_logits and "
                         "refine_logits must have one entry per image")
    for image, (count, logits, pairs, rel) in enumerate(zip(
            counts, output.refine_logits, output.rel_pair_idxs, output.relation_logits)):
        if logits.shape[0] != count or pairs.shape[0] != rel.shape[0]:
            raise ValueError(
                f"RelationHeadOutput image {image}: {count} proposals but {logits.shape[0]} "
                f"refine_logits rows, {pairs.shape[0]} pairs but {rel.shape[0]} "
                "relation_logits rows")
    if output.roi_features.shape[0] != sum(counts):
        raise ValueError(f"RelationHeadOutput.roi_features has {output.roi_features.shape[0]} "
                         f"rows for {sum(counts)} proposals")

