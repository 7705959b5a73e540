"""Energy-guided decoding at test time (TEST.ENERGY_DECODE.*): greedy label changes that
trade the relation head's log-probabilities against the energy of the decoded scene graph.

Per image, over the labels y of its scored pairs (all predicate classes, background 0
included), the decoder maximises

    J(y) = sum_pairs log softmax(relation_logits)[y] - WEIGHT * E(y)

with E evaluated on one-hot states (no noise). It starts from the head's argmax and runs at
most ROUNDS rounds; each round, for all images of the batch at once:

1. one energy forward and backward pass gives dE/dstates, and every change of a pair to one of
   its TOP_PREDICATES most probable labels is scored by ``delta log p - WEIGHT * (dE/dx[r, b]
   - dE/dx[r, y_r])`` (the first-order energy change);
2. the CANDIDATES best changes of each image are evaluated exactly: each is one copy of the
   image's graph with that single change, all copies batched (in chunks of as many graphs as
   the batch holds, so memory stays that of one forward pass of the batch);
3. each image applies its best change if it raises J (by more than ``MIN_GAIN``); an image
   where nothing does is finished.

Nodes stay fixed at the head's labels: PredCls the given labels, SGCls the post-processor's
label (argmax over classes 1..), SGDet the post-processor's per-class NMS label; object logits
are returned unchanged. The returned output is a copy of the head output whose
``relation_logits`` rows of the moved pairs have the logits of the decoded label and of the
original argmax exchanged (``swap_to_labels``): the post-processor's softmax is then a
permutation of the head's, its predicate label is the decoded one, and its triplet score (best
foreground probability x object scores) follows the decoding: a pair decoded to background
loses its top foreground probability (its best predicate now holds the background logit) and
drops in the ranking; a pair decoded from background to a predicate gets the head's top
probability for that predicate and rises; a predicate-to-predicate change keeps its score.

The listed predicates of background pairs (FILLER_TOP_K > 0). The evaluation ranks every pair
by its best *foreground* probability, so pairs decoded as background still fill an image's
top-K list with their best predicate (about 40% of a top-20 list on the synthetic benchmark),
and the decoded graph's energy never saw them. With FILLER_TOP_K = K, the background pairs that
rank in an image's top K (by the post-processor's triplet score after the swap above) are
taken in rank order, and each is listed with the one of its TOP_PREDICATES most probable
foreground predicates that maximises ``log p(label) - WEIGHT * E(listed graph + the pair with
that label)``, evaluated exactly (one batched copy per candidate); the listed graph starts as
the decoded graph and grows by each listed pair, so the K-th pair is judged with everything
ranked above it. Its logits of the chosen label and of its best foreground label are
exchanged: the triplet score, hence the ranking, is unchanged; only the listed label moves.
With FILLER_RESCORE the filler's row becomes instead its conditional under the decoder's model
given the listed graph: the head's logits with each candidate's lowered by ``WEIGHT * (E(with
the candidate) - E(with background))``; foreground labels outside the candidates (never
evaluated) are capped at the chosen label's new logit, so the listed label is an evaluated one.
A filler that every candidate makes costlier then drops in the ranking. With
FILLER_DEMOTE_ONLY the tilt is one-sided, ``-WEIGHT * max(E(with the candidate) - E(with
background), 0)``: the energy can push a filler down but does not lift one (a filler is a
pair both the head and the decoder labelled background); its triplet score rises only where the
softmax's renormalisation moves mass from a demoted label to an untouched one. With
FILLER_CENTER the energy changes of an image's fillers are first taken relative to their mean
over the listed labels (``E(with the candidate) - E(with background) - mean over the image's
fillers of that change for the listed label``): adding any relation raises the energy of a
model pretrained on additions, so the uncentred tilt lowers every filler against the decoded
relations; centred, the fillers keep their average level and are reordered among themselves,
a filler costlier than the image's typical one dropping and a cheaper one rising. With
FILLER_CENTER_BY "predicate" the mean is over the image's fillers listed with the same
predicate (a filler alone with its predicate keeps the head's score): what adding any relation
of that predicate costs cancels, and only the contrast among them stays (a part's second
"of" link, judged with the first one listed above it, against the first links of the image).
FILLER_WEIGHT (>= 0) replaces WEIGHT in the filler step (listing and tilt); below 0 it is WEIGHT.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.roi_heads.relation_head.inference import (
    object_labels_and_scores,
    triplet_order,
)
from maskrcnn_benchmark.structures.scene_graph import SceneGraph, SGGTask

from .graph_builder import RelationHeadOutputLike, build_predicted_graph
from .graph_copies import energies_of_changes

logger = logging.getLogger(__name__)

__all__ = ["EnergyDecoder", "build_energy_decoder", "decode_labels", "list_filler_labels",
           "swap_to_labels", "MIN_GAIN", "FILLER_CENTER_GROUPS"]

OutputT = TypeVar("OutputT", bound=RelationHeadOutputLike)

# What FILLER_CENTER takes each filler's energy change against: the mean over the image's
# fillers, or over those listed with the same predicate.
FILLER_CENTER_GROUPS = ("image", "predicate")

# A change is applied only if it raises J by more than this (float noise between the batched
# and the per-copy energy evaluations must not move a pair).
MIN_GAIN = 1e-5


def swap_to_labels(logits: Tensor, old: Tensor, new: Tensor) -> Tensor:
    """A copy of [P, R] ``logits`` whose rows with ``new != old`` exchange columns old and new."""
    out = logits.clone()
    rows = torch.nonzero(new != old, as_tuple=False).squeeze(1)
    out[rows, old[rows]] = logits[rows, new[rows]]
    out[rows, new[rows]] = logits[rows, old[rows]]
    return out


def _energy_and_gradient(energy_model: nn.Module, graph: SceneGraph,
                         image_embedding: Tensor | None, labels: Tensor) -> tuple[Tensor, Tensor]:
    """[B] energies of the one-hot labelling and dE/d(edge states) [E, R]; no parameter grad."""
    states = F.one_hot(labels, graph.edge_states.shape[1]).float().requires_grad_(True)
    energy = energy_model(graph.with_states(edge_states=states), image_embedding).float()
    if not bool(torch.isfinite(energy).all()):
        raise ValueError(f"TEST.ENERGY_DECODE: the energy model returned non-finite energies "
                         f"{energy.detach().tolist()}; check the checkpoint's energy_model.*")
    (grad,) = torch.autograd.grad(energy.sum(), [states], allow_unused=True)
    return energy.detach(), torch.zeros_like(states) if grad is None else grad


def _best_per_image(values: Tensor, images: Tensor, num_images: int,
                    count: int) -> Tensor:
    """Indices of the ``count`` largest finite ``values`` of every image, image by image."""
    finite = torch.isfinite(values)
    order = torch.sort(values, descending=True, stable=True).indices
    order = order[torch.sort(images[order], stable=True).indices]  # by image, then by value
    counts = torch.bincount(images, minlength=num_images)
    rank = torch.arange(len(order), device=values.device) \
        - (torch.cumsum(counts, 0) - counts)[images[order]]
    return order[(rank < count) & finite[order]]


def decode_labels(energy_model: nn.Module, graph: SceneGraph, image_embedding: Tensor | None,
                  log_probs: Tensor, *, weight: float, rounds: int, top_predicates: int,
                  candidates: int) -> tuple[Tensor, int]:
    """Greedy maximisation of J (module docstring) from the argmax of ``log_probs`` [E, R].

    ``graph`` holds the fixed one-hot node states; its edge states are ignored. Returns the
    decoded [E] labels and the number of rounds run.
    """
    labels = log_probs.argmax(dim=1)
    num_images, num_labels = graph.num_graphs, log_probs.shape[1]
    top = log_probs.topk(min(top_predicates, num_labels), dim=1).indices
    width = top.shape[1]
    active = torch.bincount(graph.edge_batch, minlength=num_images) > 0
    done = 0
    with torch.autocast(log_probs.device.type, enabled=False):
        while done < rounds and bool(active.any()):
            done += 1
            with torch.enable_grad():
                energy, grad = _energy_and_gradient(energy_model, graph, image_embedding, labels)
            own = labels[:, None]
            score = (log_probs.gather(1, top) - log_probs.gather(1, own)) \
                - weight * (grad.gather(1, top) - grad.gather(1, own))
            score = score.masked_fill((top == own) | ~active[graph.edge_batch, None],
                                      float("-inf"))
            flat_images = graph.edge_batch.repeat_interleave(width)
            chosen = _best_per_image(score.reshape(-1), flat_images, num_images, candidates)
            if chosen.numel() == 0:
                break
            rows, new = chosen // width, top.reshape(-1)[chosen]
            images = graph.edge_batch[rows]
            exact = energies_of_changes(energy_model, graph, image_embedding, labels, rows, new)
            gain = (log_probs[rows, new] - log_probs[rows, labels[rows]]) \
                - weight * (exact - energy[images])
            best = _best_per_image(gain, images, num_images, 1)
            best = best[gain[best] > MIN_GAIN]
            labels = labels.clone()
            labels[rows[best]] = new[best]
            active = torch.zeros_like(active)
            active[images[best]] = True
    return labels, done


@torch.no_grad()
def list_filler_labels(energy_model: nn.Module, graph: SceneGraph,
                       image_embedding: Tensor | None, log_probs: Tensor, labels: Tensor,
                       fillers: list[Tensor], *, weight: float, top_predicates: int
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """The listed foreground label of every filler pair (module docstring), -1 elsewhere.

    ``labels`` [E] are the decoded labels (the filler rows background), ``fillers`` per image
    the edge rows of ``graph`` to list, in rank order. Each filler's candidates are its
    ``top_predicates`` most probable foreground labels under ``log_probs`` [E, R]; position r
    of every image is decided in one batched evaluation, given positions 0..r-1. Returns
    (listed [E], candidates [E, T], energy change [E, T]: E(listed graph with the pair at the
    candidate) - E(listed graph with the pair at background), 0 on rows that are no filler).
    """
    foreground = log_probs[:, 1:]
    top = foreground.topk(min(top_predicates, foreground.shape[1]), dim=1).indices + 1
    width = top.shape[1]
    state = labels.clone()
    listed = torch.full_like(labels, -1)
    change = torch.zeros(top.shape, dtype=log_probs.dtype, device=log_probs.device)
    depth = max((len(rows) for rows in fillers), default=0)
    with torch.autocast(log_probs.device.type, enabled=False):
        for position in range(depth):
            rows = torch.stack([image_rows[position] for image_rows in fillers
                                if len(image_rows) > position])
            options = torch.cat([torch.zeros_like(rows)[:, None], top[rows]], dim=1)
            energy = energies_of_changes(
                energy_model, graph, image_embedding, state,
                rows.repeat_interleave(width + 1), options.reshape(-1)).reshape(-1, width + 1)
            change[rows] = energy[:, 1:] - energy[:, :1]
            value = log_probs[rows].gather(1, top[rows]) - weight * change[rows]
            chosen = top[rows].gather(1, value.argmax(dim=1, keepdim=True)).squeeze(1)
            state[rows] = chosen
            listed[rows] = chosen
    return listed, top, change


class EnergyDecoder:
    """Relation logits re-ranked by energy-guided decoding (module docstring)."""

    def __init__(self, *, task: SGGTask, num_obj_classes: int, weight: float, rounds: int,
                 top_predicates: int, candidates: int, later_nms_thresh: float,
                 filler_top_k: int = 0, filler_rescore: bool = False,
                 filler_demote_only: bool = False, filler_center: bool = False,
                 filler_weight: float | None = None, filler_center_by: str = "image") -> None:
        if weight < 0 or rounds < 0 or top_predicates < 2 or candidates < 1 or filler_top_k < 0:
            raise ValueError(
                "TEST.ENERGY_DECODE needs WEIGHT >= 0, ROUNDS >= 0, TOP_PREDICATES >= 2, "
                f"CANDIDATES >= 1 and FILLER_TOP_K >= 0; got {weight}, {rounds}, "
                f"{top_predicates}, {candidates}, {filler_top_k}")
        for key, on in (("FILLER_DEMOTE_ONLY", filler_demote_only),
                        ("FILLER_CENTER", filler_center)):
            if on and not (filler_rescore and filler_top_k):
                raise ValueError(
                    f"TEST.ENERGY_DECODE.{key} changes how fillers are rescored: set "
                    "TEST.ENERGY_DECODE.FILLER_RESCORE True and FILLER_TOP_K > 0 with it, or "
                    f"{key} False")
        if filler_center_by != FILLER_CENTER_GROUPS[0] and not filler_center:
            raise ValueError("TEST.ENERGY_DECODE.FILLER_CENTER_BY chooses how FILLER_CENTER "
                             "centres the fillers: set FILLER_CENTER True with it, or leave it "
                             f"{FILLER_CENTER_GROUPS[0]!r}")
        if filler_center_by not in FILLER_CENTER_GROUPS:
            raise ValueError(f"TEST.ENERGY_DECODE.FILLER_CENTER_BY must be one of "
                             f"{', '.join(FILLER_CENTER_GROUPS)}; got {filler_center_by!r}")
        self.task = task
        self.num_obj_classes = num_obj_classes
        self.weight = weight
        self.rounds = rounds
        self.top_predicates = top_predicates
        self.candidates = candidates
        self.later_nms_thresh = later_nms_thresh
        self.filler_top_k = filler_top_k
        self.filler_rescore = filler_rescore
        self.filler_demote_only = filler_demote_only
        self.filler_center = filler_center
        self.filler_center_by = filler_center_by
        self.filler_weight = weight if filler_weight is None or filler_weight < 0 else filler_weight
        self.totals = {"batches": 0, "images": 0, "pairs": 0, "moved": 0, "rounds": 0,
                       "fillers": 0, "relisted": 0}

    def node_objects(self, output: RelationHeadOutputLike) -> list[tuple[Tensor, Tensor]]:
        """The head's object (labels, scores) per image, as the post-processor reports them
        (PredCls: the given labels)."""
        objects = []
        for logits, proposal in zip(output.refine_logits, output.proposals):
            boxes = proposal.get_field("boxes_per_cls") if self.task is SGGTask.SGDET else None
            labels, scores = object_labels_and_scores(logits.detach(), boxes,
                                                      self.later_nms_thresh)
            if self.task is SGGTask.PREDCLS:
                labels = proposal.get_field("labels").long()
            objects.append((labels, scores))
        return objects

    def node_labels(self, output: RelationHeadOutputLike) -> list[Tensor]:
        """The head's object labels, as the post-processor reports them, per image."""
        return [labels for labels, _ in self.node_objects(output)]

    def __call__(self, energy_model: nn.Module, output: OutputT) -> OutputT:
        """A copy of the (eval-mode) head output with decoded relation logits."""
        with torch.no_grad():
            graph = build_predicted_graph(
                output, self.task, num_obj_classes=self.num_obj_classes, noise_std=0.0,
                with_image_graph=energy_model.use_image_graph).detach()
            nodes = torch.cat(self.node_labels(output)).to(graph.node_states.device)
            graph = graph.with_states(
                node_states=F.one_hot(nodes, self.num_obj_classes).float())
            image_embedding = energy_model.image_embedding(graph)
            logits = torch.cat([r.detach().float() for r in output.relation_logits])
            log_probs = torch.log_softmax(logits, dim=1)
        labels, rounds = decode_labels(
            energy_model, graph, image_embedding, log_probs, weight=self.weight,
            rounds=self.rounds, top_predicates=self.top_predicates, candidates=self.candidates)
        start = log_probs.argmax(dim=1)
        counts = [r.shape[0] for r in output.relation_logits]
        relation_logits = [
            swap_to_labels(original.detach(), old, new)
            for original, old, new in zip(output.relation_logits, start.split(counts),
                                          labels.split(counts))]
        fillers = relisted = 0
        if self.filler_top_k:
            relation_logits, fillers, relisted = self._list_fillers(
                energy_model, graph, image_embedding, log_probs, labels, relation_logits, output)
        self._log(len(counts), len(labels), int((labels != start).sum()), rounds, fillers,
                  relisted)
        return dataclasses.replace(output, relation_logits=relation_logits)

    def _list_fillers(self, energy_model: nn.Module, graph: SceneGraph,
                      image_embedding: Tensor | None, log_probs: Tensor, labels: Tensor,
                      relation_logits: list[Tensor], output: RelationHeadOutputLike,
                      ) -> tuple[list[Tensor], int, int]:
        """(relation logits with the fillers' listed labels, #fillers, #relisted)."""
        fillers, offset = [], 0
        decoded = labels.split([len(r) for r in relation_logits])
        for logits, pairs, (_, scores), own in zip(relation_logits, output.rel_pair_idxs,
                                                   self.node_objects(output), decoded):
            probs = torch.softmax(logits.float(), dim=-1).to(scores.device)
            ranked = triplet_order(probs, scores, pairs.to(scores.device))[:self.filler_top_k]
            ranked = ranked.to(own.device)
            fillers.append(ranked[own[ranked] == 0] + offset)
            offset += len(logits)
        listed, top, change = list_filler_labels(
            energy_model, graph, image_embedding, log_probs, labels, fillers,
            weight=self.filler_weight, top_predicates=self.top_predicates)
        counts = [len(r) for r in relation_logits]
        out, relisted = [], 0
        for logits, original, chosen, top_i, change_i in zip(
                relation_logits, output.relation_logits, listed.split(counts), top.split(counts),
                change.split(counts)):
            current = logits.float()[:, 1:].max(dim=1).indices + 1
            chosen = chosen.to(current.device)
            target = torch.where(chosen >= 0, chosen, current)
            relisted += int((target != current).sum())
            if not self.filler_rescore:
                out.append(swap_to_labels(logits, current, target))
                continue
            rows = torch.nonzero(chosen >= 0, as_tuple=False).squeeze(1)
            tilted = original.detach()[rows].float()
            delta = change_i[rows].float()
            if self.filler_center and len(rows):
                # each filler's energy change at its listed label, then the group means
                own = (delta * (top_i[rows] == chosen[rows, None]).float()).sum(dim=1)
                if self.filler_center_by == "image":
                    delta = delta - own.mean()
                else:
                    group = chosen[rows]
                    size = tilted.shape[1]
                    sums = torch.zeros(size, dtype=own.dtype, device=own.device)
                    counts = torch.bincount(group, minlength=size).to(own.dtype)
                    delta = delta - (sums.index_add(0, group, own) / counts.clamp(min=1))[
                        group, None]
            if self.filler_demote_only:
                delta = delta.clamp(min=0.0)
            tilted.scatter_add_(1, top_i[rows], -self.filler_weight * delta)
            cap = tilted.gather(1, chosen[rows, None])
            outside = torch.ones_like(tilted, dtype=torch.bool)
            outside[:, 0] = False
            outside.scatter_(1, top_i[rows], False)
            tilted = torch.where(outside, torch.minimum(tilted, cap), tilted)
            new = logits.clone()
            new[rows] = tilted.to(new.dtype)
            out.append(new)
        return out, int(sum(len(rows) for rows in fillers)), relisted

    def filler_description(self) -> str:
        """The filler options in words, for the log (``fillers off`` without FILLER_TOP_K)."""
        if not self.filler_top_k:
            return "fillers off"
        parts = [f"fillers of the top {self.filler_top_k} listed"]
        if self.filler_rescore:
            parts.append("rescored" + (" (demote only)" if self.filler_demote_only else "")
                         + (f", centred by {self.filler_center_by}" if self.filler_center
                            else ""))
        if self.filler_weight != self.weight:
            parts.append(f"filler weight {self.filler_weight:g}")
        return ", ".join(parts)

    def _log(self, images: int, pairs: int, moved: int, rounds: int, fillers: int,
             relisted: int) -> None:
        first = self.totals["batches"] == 0
        for key, value in (("batches", 1), ("images", images), ("pairs", pairs),
                           ("moved", moved), ("rounds", rounds), ("fillers", fillers),
                           ("relisted", relisted)):
            self.totals[key] += value
        if first:
            logger.info("Energy-guided decoding (weight %g, %d rounds, top %d, %d candidates, "
                        "%s): %d of %d pairs moved and %d of %d fillers relisted in the first "
                        "batch; running totals at DEBUG level and in EnergyDecoder.totals",
                        self.weight, self.rounds, self.top_predicates, self.candidates,
                        self.filler_description(), moved, pairs, relisted, fillers)
        else:
            logger.debug("Energy-guided decoding so far: %d of %d pairs moved, %d of %d fillers "
                         "relisted over %d images", self.totals["moved"], self.totals["pairs"],
                         self.totals["relisted"], self.totals["fillers"], self.totals["images"])


def build_energy_decoder(cfg, num_obj_classes: int) -> EnergyDecoder | None:
    """The decoder if TEST.ENERGY_DECODE.ON (needs MODEL.ENERGY_ON, not ENERGY_REFINE)."""
    decode = cfg.TEST.ENERGY_DECODE
    if not decode.ON:
        return None
    if not cfg.MODEL.ENERGY_ON:
        raise ValueError("TEST.ENERGY_DECODE.ON needs the energy model: set MODEL.ENERGY_ON "
                         "True and load a checkpoint trained with it")
    if cfg.TEST.ENERGY_REFINE:
        raise ValueError("TEST.ENERGY_REFINE and TEST.ENERGY_DECODE.ON are alternative uses of "
                         "the energy at test time; turn one of them off")
    head = cfg.MODEL.ROI_RELATION_HEAD
    return EnergyDecoder(
        task=SGGTask.from_flags(head.USE_GT_BOX, head.USE_GT_OBJECT_LABEL),
        num_obj_classes=num_obj_classes, weight=decode.WEIGHT, rounds=decode.ROUNDS,
        top_predicates=decode.TOP_PREDICATES, candidates=decode.CANDIDATES,
        later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
        filler_top_k=decode.FILLER_TOP_K, filler_rescore=decode.FILLER_RESCORE,
        filler_demote_only=decode.FILLER_DEMOTE_ONLY, filler_center=decode.FILLER_CENTER,
        filler_weight=decode.FILLER_WEIGHT, filler_center_by=decode.FILLER_CENTER_BY)
