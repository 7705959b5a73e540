"""SceneGraph: a batch of scene graphs (and their image graphs) as one sparse edge list.

All images of a batch live in one graph: node rows of every image are concatenated, edges
carry *global* node indices, and ``node_batch`` / ``edge_batch`` say which image each row
belongs to. Message passing gathers and scatters over ``edge_index``; nothing is ever stored
as a dense ``n x n`` (or batch-wide ``N x N``) tensor.

The image graph of the EBM paper (Sec. 3.3) has the same nodes (the same boxes) and the same
edges as the scene graph, so it is stored here as one more per-node tensor,
``image_node_features``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .bounding_box import TO_REMOVE, BoxList

__all__ = ["SGGTask", "SceneGraph", "encode_box_info", "BOX_INFO_DIM"]

BOX_INFO_DIM = 9


class SGGTask(enum.Enum):
    """The three SGG protocols; decided once from USE_GT_BOX / USE_GT_OBJECT_LABEL."""

    PREDCLS = "predcls"
    SGCLS = "sgcls"
    SGDET = "sgdet"

    @classmethod
    def from_flags(cls, use_gt_box: bool, use_gt_object_label: bool) -> SGGTask:
        """PredCls = GT boxes and labels, SGCls = GT boxes, SGDet = detected boxes."""
        if not use_gt_box:
            return cls.SGDET
        return cls.PREDCLS if use_gt_object_label else cls.SGCLS

    @property
    def free_nodes(self) -> bool:
        """Whether object (node) states are predicted, hence free variables for the sampler."""
        return self is not SGGTask.PREDCLS


def encode_box_info(boxlists: Sequence[BoxList]) -> Tensor:
    """9-d box encoding of every box, images concatenated (SGB's ``encode_box_info``).

    Per box, with ``w = x2 - x1 + 1`` and ``h = y2 - y1 + 1`` (+1 pixel convention) and the
    image size ``(W, H)``: ``(w/W, h/H, cx/W, cy/H, x1/W, y1/H, x2/W, y2/H, wh/(WH))`` where
    ``cx = x1 + w/2``, ``cy = y1 + h/2``.
    """
    rows = []
    for boxlist in boxlists:
        boxes = boxlist.convert("xyxy").bbox
        width, height = boxlist.size
        if width <= 0 or height <= 0:
            raise ValueError(f"encode_box_info: image size must be positive, got {boxlist.size}")
        x1, y1, x2, y2 = boxes.unbind(dim=-1)
        w = x2 - x1 + TO_REMOVE
        h = y2 - y1 + TO_REMOVE
        rows.append(torch.stack([
            w / width, h / height, (x1 + 0.5 * w) / width, (y1 + 0.5 * h) / height,
            x1 / width, y1 / height, x2 / width, y2 / height, w * h / (width * height),
        ], dim=-1))
    if not rows:
        return torch.zeros(0, BOX_INFO_DIM)
    return torch.cat(rows, dim=0)


@dataclass(frozen=True)
class SceneGraph:
    """A batch of scene graphs with shared image graphs, as flat node and edge tables.

    Attributes:
        node_states: [N, C] object label states (one-hot or [0, 1]-normalised scores).
        edge_states: [E, R] predicate states of the directed edges.
        edge_index: [E, 2] long, (subject, object) as *global* node indices.
        node_batch: [N] long, image index of each node.
        edge_batch: [E] long, image index of each edge.
        num_graphs: number of images B (images may have no nodes or no edges).
        node_positions: [N, 9] box encodings (see ``encode_box_info``).
        image_node_features: [N, D] RoI features (image-graph nodes), or None when the
            energy model does not use the image graph.
    """

    node_states: Tensor
    edge_states: Tensor
    edge_index: Tensor
    node_batch: Tensor
    edge_batch: Tensor
    num_graphs: int
    node_positions: Tensor
    image_node_features: Tensor | None = None

    def __post_init__(self) -> None:
        num_nodes = self.node_states.shape[0]
        num_edges = self.edge_states.shape[0]
        _expect(self.node_states.ndim == 2, "node_states must be [N, C]", self.node_states)
        _expect(self.edge_states.ndim == 2, "edge_states must be [E, R]", self.edge_states)
        _expect(tuple(self.edge_index.shape) == (num_edges, 2),
                f"edge_index must be [E={num_edges}, 2]", self.edge_index)
        _expect(tuple(self.node_batch.shape) == (num_nodes,),
                f"node_batch must be [N={num_nodes}]", self.node_batch)
        _expect(tuple(self.edge_batch.shape) == (num_edges,),
                f"edge_batch must be [E={num_edges}]", self.edge_batch)
        _expect(tuple(self.node_positions.shape) == (num_nodes, BOX_INFO_DIM),
                f"node_positions must be [N={num_nodes}, {BOX_INFO_DIM}]", self.node_positions)
        if self.image_node_features is not None:
            _expect(self.image_node_features.ndim == 2
                    and self.image_node_features.shape[0] == num_nodes,
                    f"image_node_features must be [N={num_nodes}, D]", self.image_node_features)
        for name in ("edge_index", "node_batch", "edge_batch"):
            dtype = getattr(self, name).dtype
            if dtype != torch.long:
                raise ValueError(f"SceneGraph.{name} must be int64, got {dtype}")
        if self.num_graphs < 0:
            raise ValueError(f"SceneGraph.num_graphs must be >= 0, got {self.num_graphs}")

    @classmethod
    def from_images(
        cls,
        node_states: Sequence[Tensor],
        edge_states: Sequence[Tensor],
        pair_idxs: Sequence[Tensor],
        node_positions: Sequence[Tensor],
        image_node_features: Sequence[Tensor] | Tensor | None = None,
    ) -> SceneGraph:
        """Batch per-image graphs; ``pair_idxs[i]`` [E_i, 2] holds *local* node indices."""
        num_graphs = len(node_states)
        if not (len(edge_states) == len(pair_idxs) == len(node_positions) == num_graphs):
            raise ValueError("SceneGraph.from_images: per-image lists differ in length: "
                             f"{num_graphs} node states, {len(edge_states)} edge states, "
                             f"{len(pair_idxs)} pair lists, {len(node_positions)} positions")
        device = node_states[0].device if num_graphs else torch.device("cpu")
        offsets, node_batch, edge_batch, edges = 0, [], [], []
        for image, (nodes, pairs) in enumerate(zip(node_states, pair_idxs)):
            num_nodes = nodes.shape[0]
            pairs = pairs.to(device=device, dtype=torch.long).reshape(-1, 2)
            if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= num_nodes):
                raise ValueError(f"SceneGraph.from_images: image {image} has pair indices "
                                 f"outside [0, {num_nodes}) (its number of boxes)")
            edges.append(pairs + offsets)
            node_batch.append(torch.full((num_nodes,), image, dtype=torch.long, device=device))
            edge_batch.append(torch.full((pairs.shape[0],), image, dtype=torch.long,
                                         device=device))
            offsets += num_nodes
        if isinstance(image_node_features, (list, tuple)):
            image_node_features = torch.cat(list(image_node_features), dim=0)
        return cls(
            node_states=torch.cat(list(node_states), dim=0),
            edge_states=torch.cat(list(edge_states), dim=0),
            edge_index=torch.cat(edges, dim=0),
            node_batch=torch.cat(node_batch, dim=0),
            edge_batch=torch.cat(edge_batch, dim=0),
            num_graphs=num_graphs,
            node_positions=torch.cat(list(node_positions), dim=0),
            image_node_features=image_node_features,
        )

    @property
    def num_nodes(self) -> int:
        """Total number of nodes N over the batch."""
        return self.node_states.shape[0]

    @property
    def num_edges(self) -> int:
        """Total number of edges E over the batch."""
        return self.edge_states.shape[0]

    def with_states(self, node_states: Tensor | None = None,
                    edge_states: Tensor | None = None) -> SceneGraph:
        """A new graph with the given states replaced (same structure, nothing mutated)."""
        changes = {}
        if node_states is not None:
            changes["node_states"] = node_states
        if edge_states is not None:
            changes["edge_states"] = edge_states
        return dataclasses.replace(self, **changes)

    def detach(self) -> SceneGraph:
        """A new graph whose tensors are detached from autograd."""
        features = self.image_node_features
        return dataclasses.replace(
            self,
            node_states=self.node_states.detach(),
            edge_states=self.edge_states.detach(),
            node_positions=self.node_positions.detach(),
            image_node_features=None if features is None else features.detach(),
        )

    def nodes_per_graph(self) -> list[int]:
        """Number of nodes of each image."""
        return torch.bincount(self.node_batch, minlength=self.num_graphs).tolist()

    def edges_per_graph(self) -> list[int]:
        """Number of edges of each image."""
        return torch.bincount(self.edge_batch, minlength=self.num_graphs).tolist()


def _expect(condition: bool, message: str, tensor: Tensor) -> None:
    if not condition:
        raise ValueError(f"SceneGraph: {message}, got shape {tuple(tensor.shape)}")
