"""GraphEnergyModel: one scalar energy per image for a (image graph, scene graph) pair (Eq. 6).

Differences from the EBM code's ``GraphEnergyModel`` (all deliberate, see docs/ENERGY.md):
sparse edge-list message passing instead of dense N x N grids (the 1x1 convolutions of the
node-to-edge kernel become Linear layers), the *label* embedding widths read from
EBM.OBJ/REL_LABEL_EMBED_DIM, LayerNorm in place of BatchNorm in the box-position embedding,
sigmoid pooling gates by default (``raw`` = the EBM code's), and no unused layers.
``ebm_checkpoint.py`` maps EBM-code checkpoints onto this model.

Architecture options (all off by default, i.e. the EBM code's computation): mean message
aggregation, outgoing edges in the node update, mean pooling, raw pooling gates, spectral
normalisation (``spectral.py``).
"""

from __future__ import annotations

import enum

import torch
from torch import Tensor, nn

from maskrcnn_benchmark.modeling.registry import ENERGY_MODELS
from maskrcnn_benchmark.structures.scene_graph import BOX_INFO_DIM, SceneGraph

from .egnn import EGNNLayer
from .ggnn import GGNNLayer
from .message_passing import Aggregation, EdgeDirections
from .pooling import EdgeGatedPooling, GatedPooling, Pooling, PoolingGate
from .spectral import apply_spectral_norm, weights_once

__all__ = ["GraphEnergyModel", "build_energy_model", "POSITION_EMBED_DIM"]

POSITION_EMBED_DIM = 128


@ENERGY_MODELS.register("GraphEnergyModel")
class GraphEnergyModel(nn.Module):
    """E(G_I, G_SG) = MLP[pool(EGNN(G_SG)) ; pool(GGNN(G_I))] for every image of a batch."""

    def __init__(self, *, num_obj_classes: int, num_rel_classes: int, roi_feature_dim: int,
                 obj_embed_dim: int, rel_embed_dim: int, obj_label_embed_dim: int,
                 rel_label_embed_dim: int, pooling_dim: int, iters: int, alpha: float,
                 aggregation: Aggregation | str, use_image_graph: bool,
                 edge_directions: EdgeDirections | str = EdgeDirections.INCOMING,
                 pooling: Pooling | str = Pooling.SUM,
                 pooling_gate: PoolingGate | str = PoolingGate.SIGMOID,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        aggregation = _option(Aggregation, "MESSAGE_AGGREGATION", aggregation)
        edge_directions = _option(EdgeDirections, "EDGE_DIRECTIONS", edge_directions)
        pooling = _option(Pooling, "POOLING", pooling)
        pooling_gate = _option(PoolingGate, "POOLING_GATE", pooling_gate)
        if not isinstance(spectral_norm, bool):
            raise ValueError("ENERGY_MODEL.SPECTRAL_NORM must be True or False, got "
                             f"{spectral_norm!r}")
        self.num_obj_classes = num_obj_classes
        self.num_rel_classes = num_rel_classes
        self.use_image_graph = use_image_graph
        self.spectral_norm = spectral_norm
        # LayerNorm, not the reference's BatchNorm: batch statistics would couple the images
        # of a batch and drift running statistics at every sampler step.
        self.pos_embed = nn.Sequential(
            nn.Linear(BOX_INFO_DIM, 32), nn.LayerNorm(32),
            nn.Linear(32, POSITION_EMBED_DIM), nn.ReLU(),
        )
        self.obj_label_embedding = nn.Linear(num_obj_classes + POSITION_EMBED_DIM,
                                             obj_label_embed_dim)
        self.rel_label_embedding = nn.Linear(num_rel_classes, rel_label_embed_dim)
        self.sg_layer = EGNNLayer(node_dim=obj_label_embed_dim, edge_dim=rel_label_embed_dim,
                                  message_dim=rel_embed_dim, iters=iters, alpha=alpha,
                                  aggregation=aggregation, edge_directions=edge_directions)
        self.sg_pooler = EdgeGatedPooling(node_dim=obj_label_embed_dim,
                                          edge_dim=rel_label_embed_dim, pooling_dim=pooling_dim,
                                          pooling=pooling, gate=pooling_gate)
        if use_image_graph:
            self.obj_embedding = nn.Linear(roi_feature_dim, obj_embed_dim)
            self.im_layer = GGNNLayer(node_dim=obj_embed_dim, iters=iters,
                                      aggregation=aggregation)
            self.im_pooler = GatedPooling(node_dim=obj_embed_dim, pooling_dim=pooling_dim,
                                          pooling=pooling, gate=pooling_gate)
        num_pooled = 2 if use_image_graph else 1
        self.energy = nn.Sequential(nn.Linear(num_pooled * pooling_dim, pooling_dim), nn.ReLU(),
                                    nn.Linear(pooling_dim, 1))
        if spectral_norm:
            apply_spectral_norm(self)

    @classmethod
    def from_config(cls, cfg, roi_feature_dim: int, num_obj_classes: int,
                    num_rel_classes: int) -> GraphEnergyModel:
        """Build from ENERGY_MODEL.* and MODEL.ROI_RELATION_HEAD.EBM.*."""
        ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
        energy = cfg.ENERGY_MODEL
        return cls(
            num_obj_classes=num_obj_classes, num_rel_classes=num_rel_classes,
            roi_feature_dim=roi_feature_dim, obj_embed_dim=ebm.OBJ_EMBED_DIM,
            rel_embed_dim=ebm.REL_EMBED_DIM, obj_label_embed_dim=ebm.OBJ_LABEL_EMBED_DIM,
            rel_label_embed_dim=ebm.REL_LABEL_EMBED_DIM, pooling_dim=ebm.POOLING_DIM,
            iters=energy.ITERS, alpha=energy.ALPHA, aggregation=energy.MESSAGE_AGGREGATION,
            use_image_graph=energy.USE_IMAGE_GRAPH, edge_directions=energy.EDGE_DIRECTIONS,
            pooling=energy.POOLING, pooling_gate=energy.POOLING_GATE,
            spectral_norm=energy.SPECTRAL_NORM,
        )

    def image_embedding(self, graph: SceneGraph) -> Tensor | None:
        """[B, pooling_dim] pooled image graph (state independent), None without image graph.

        The sampler only moves scene-graph states, so callers compute this once per graph
        and pass it to every ``forward`` of a sampler run.
        """
        if not self.use_image_graph:
            return None
        if graph.image_node_features is None:
            raise ValueError("GraphEnergyModel: the scene graph carries no image_node_features "
                             "but ENERGY_MODEL.USE_IMAGE_GRAPH is True")
        features = graph.image_node_features.to(self._dtype())
        with weights_once(self.spectral_norm):
            nodes = self.im_layer(self.obj_embedding(features), graph.edge_index)
            return self.im_pooler(nodes, graph.node_batch, graph.num_graphs)

    def forward(self, graph: SceneGraph, image_embedding: Tensor | None = None) -> Tensor:
        """[B] energies; ``image_embedding`` defaults to ``self.image_embedding(graph)``."""
        self._check_widths(graph)
        with weights_once(self.spectral_norm):
            return self._energy(graph, image_embedding)

    def _energy(self, graph: SceneGraph, image_embedding: Tensor | None) -> Tensor:
        dtype = self._dtype()
        positions = self.pos_embed(graph.node_positions.to(dtype))
        nodes = self.obj_label_embedding(torch.cat([graph.node_states.to(dtype), positions], -1))
        edges = self.rel_label_embedding(graph.edge_states.to(dtype))
        nodes, edges = self.sg_layer(nodes, edges, graph.edge_index)
        pooled = self.sg_pooler(nodes, edges, graph.node_batch, graph.edge_batch,
                                graph.num_graphs)
        if self.use_image_graph:
            if image_embedding is None:
                image_embedding = self.image_embedding(graph)
            pooled = torch.cat([image_embedding.to(pooled.dtype), pooled], dim=-1)
        return self.energy(pooled).squeeze(-1)

    def _dtype(self) -> torch.dtype:
        # The bias: reading a spectrally normalised weight would run a power iteration.
        return self.rel_label_embedding.bias.dtype

    def _check_widths(self, graph: SceneGraph) -> None:
        if graph.node_states.shape[1] != self.num_obj_classes:
            raise ValueError(
                f"GraphEnergyModel: node states have {graph.node_states.shape[1]} columns, the "
                f"model was built for {self.num_obj_classes} object classes "
                "(MODEL.ROI_BOX_HEAD.NUM_CLASSES); rebuild it for this dataset")
        if graph.edge_states.shape[1] != self.num_rel_classes:
            raise ValueError(
                f"GraphEnergyModel: edge states have {graph.edge_states.shape[1]} columns, the "
                f"model was built for {self.num_rel_classes} predicate classes "
                "(MODEL.ROI_RELATION_HEAD.NUM_CLASSES); rebuild it for this dataset")


def _option(choices: type[enum.Enum], key: str, value: enum.Enum | str) -> enum.Enum:
    """``value`` as a member of ``choices``; a clear error naming ENERGY_MODEL.``key``."""
    if isinstance(value, choices):
        return value
    try:
        return choices(value)
    except ValueError:
        known = [member.value for member in choices]
        raise ValueError(f"ENERGY_MODEL.{key} must be one of {known}, got {value!r}") from None


def build_energy_model(cfg, roi_feature_dim: int, num_obj_classes: int,
                       num_rel_classes: int) -> nn.Module:
    """The ENERGY_MODELS entry named by ENERGY_MODEL.META_ARCHITECTURE, built from cfg."""
    model_cls = ENERGY_MODELS.get(cfg.ENERGY_MODEL.META_ARCHITECTURE)
    return model_cls.from_config(cfg, roi_feature_dim, num_obj_classes, num_rel_classes)
