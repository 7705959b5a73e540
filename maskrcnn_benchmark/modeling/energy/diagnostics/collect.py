"""Graphs of a trained EBM model on dataset images, built by the model's own energy objective.

The detector runs in training mode (the relation head samples its pairs and keeps its
training labels, exactly as in energy training) under ``torch.no_grad()``; the energy objective
is swapped for a recorder that calls ``EnergyObjective.graphs`` and returns no losses. Nothing
of the model is changed: mode, objective and buffers (e.g. BatchNorm running statistics that a
training-mode forward updates) are restored, and the sampler asks autograd for state gradients
only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SceneGraph

from ..objective import EnergyGraphs, EnergyObjective
from .graph_stats import select_graph
from .ranking import GraphEnergy, PredicateGraph

__all__ = ["RecordedBatch", "record_training_graphs", "iterate_batches", "noise_free",
           "ranking_graphs", "template_energy"]


@dataclass
class RecordedBatch:
    """The objective's graphs of one batch, with the head output and targets they came from."""

    graphs: EnergyGraphs
    proposals: list[BoxList]
    targets: list[BoxList]
    indices: list[int]


class _Recorder:
    """Stands in for the model's energy objective: records the graphs, returns no losses."""

    def __init__(self, objective: EnergyObjective) -> None:
        self.objective = objective
        self.records: list[tuple[EnergyGraphs, list[BoxList], list[BoxList]]] = []

    def __call__(self, energy_model: nn.Module, output, targets, task_losses) -> dict:
        graphs = self.objective.graphs(energy_model, output, targets)
        self.records.append((graphs, list(output.proposals), list(targets)))
        return {}


@contextmanager
def _recording(model: nn.Module, objective: EnergyObjective) -> Iterator[_Recorder]:
    recorder, saved, mode = _Recorder(objective), model.energy_objective, model.training
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    model.energy_objective = recorder
    try:
        model.train()
        yield recorder
    finally:
        model.energy_objective = saved
        model.train(mode)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])


def noise_free(objective: EnergyObjective) -> EnergyObjective:
    """A copy of the objective that adds no data noise to the states and features."""
    quiet = copy.copy(objective)
    quiet.data_noise_std = 0.0
    return quiet


def iterate_batches(dataset, indices: Sequence[int], batch_size: int, size_divisibility: int,
                    device: torch.device) -> Iterator[tuple[object, list[BoxList], list[int]]]:
    """(ImageList, targets, dataset indices) batches of ``dataset[i]`` for ``indices``."""
    collate = BatchCollator(size_divisibility)
    for start in range(0, len(indices), batch_size):
        images, targets, idxs = collate([dataset[i] for i in indices[start:start + batch_size]])
        yield images.to(device), [t.to(device) for t in targets], list(idxs)


def record_training_graphs(model: nn.Module, objective: EnergyObjective, images,
                           targets: list[BoxList], indices: list[int]) -> RecordedBatch:
    """G+, G0 and G- of one batch as ``objective`` builds them in a training step."""
    with _recording(model, objective) as recorder, torch.no_grad():
        model(images, targets)
    if len(recorder.records) != 1:
        raise RuntimeError("The model did not call its energy objective exactly once; is "
                           "MODEL.ENERGY_ON True and MODEL.RELATION_ON True?")
    graphs, proposals, recorded_targets = recorder.records[0]
    return RecordedBatch(graphs, proposals, recorded_targets, indices)


def ranking_graphs(batch: RecordedBatch, positive_graph: str, dataset, first_image: int
                   ) -> list[tuple[PredicateGraph, SceneGraph]]:
    """Per image of the batch: its G+ as labels (boxes in original pixels) and as a template.

    G+ must come from a noise-free objective, so that its states are exact one-hots. Node
    boxes are the targets' ("gt" positive graph) or the proposals' ("matched"), resized to
    the original image size for the scene rules.
    """
    nodes = batch.targets if positive_graph == "gt" else batch.proposals
    out = []
    for b, index in enumerate(batch.indices):
        template = select_graph(batch.graphs.positive, b)
        info = dataset.get_img_info(index)
        boxes = nodes[b].resize((int(info["width"]), int(info["height"]))).convert("xyxy")
        if len(boxes) != template.num_nodes:
            raise RuntimeError(f"Image {index}: {template.num_nodes} graph nodes but "
                               f"{len(boxes)} boxes")
        graph = PredicateGraph(
            image=first_image + b,
            labels=template.node_states.argmax(1).cpu() if template.num_nodes
            else torch.zeros(0, dtype=torch.long),
            boxes=boxes.bbox.detach().cpu(),
            pairs=template.edge_index.cpu(),
            predicates=template.edge_states.argmax(1).cpu() if template.num_edges
            else torch.zeros(0, dtype=torch.long))
        out.append((graph, template))
    return out


def template_energy(energy_model: nn.Module, templates: Sequence[SceneGraph]) -> GraphEnergy:
    """The ranking test's energy: image ``graph.image``'s template with one-hot predicates."""
    embeddings: dict[int, Tensor | None] = {}

    def energy(graph: PredicateGraph, predicates: Tensor) -> Tensor:
        template = templates[graph.image]
        if graph.image not in embeddings:
            with torch.no_grad():
                embeddings[graph.image] = energy_model.image_embedding(template)
        embedding = embeddings[graph.image]
        rows = predicates.shape[0]
        states = F.one_hot(predicates.to(template.edge_states.device),
                           template.edge_states.shape[1]).to(template.edge_states.dtype)
        features = template.image_node_features
        batch = SceneGraph.from_images(
            node_states=[template.node_states] * rows,
            edge_states=list(states.unbind(0)),
            pair_idxs=[template.edge_index] * rows,
            node_positions=[template.node_positions] * rows,
            image_node_features=None if features is None else [features] * rows)
        with torch.no_grad():
            return energy_model(batch, None if embedding is None
                                else embedding.expand(rows, -1)).double().cpu()

    return energy
