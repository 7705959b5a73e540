"""SGB's sentence-to-graph encoder (``modelv2.SGEncode``): two graph encoders, one embedding.

Each side (image graphs, text graphs) has its own embeddings: entity, relation head, relation
tail (indexed by the endpoint's word) and predicate. A relation is [head; tail; predicate]
(3 x EMBED_DIM). Each of GLIMPSES rounds computes one vector per graph,
``h = sum_r sum_e A[r, e] * relu(W_v v_r) * relu(W_q q_e)`` with A the relation-entity
incidence normalised per relation (1/2 for each endpoint), and adds ``W_a h`` to every entity
vector ``q_e``; weight-normalised linear maps with dropout before them, as SGB. The graph
embedding is ``MLP(sum_e q_e)`` (EMBED -> HIDDEN -> OUTPUT, ReLU after each). Options (new,
SGB's values by default): RETRIEVAL.MODEL.POOLING "mean" divides the sum by the graph's entity
count; OUTPUT_RELU False drops the last ReLU (SGB's non-negative embeddings are mostly zeros
under the cosine); GLIMPSES 0 leaves the entity vectors as they are (a bag of entity words).

Training loss (``loss.py``): SGB's random negative by default (RETRIEVAL.LOSS.NEGATIVES
"random": for a pair (image i, query i) and a random other pair j,
``max(0, d(img_i, txt_i) + m - d(img_i, txt_j)) + max(0, d(txt_j, img_j) + m - d(txt_i, img_j))``
with d the smooth-L1 distance (SMOOTH_L1_BETA) averaged over dimensions, averaged over the
2B hinge terms), or in-batch negatives in both directions ("hardest", "all"), with the smooth-L1
or the cosine distance (RETRIEVAL.LOSS.DISTANCE). Deviation: SGB marks an entity as incident to
a relation when its class id appears anywhere in the relation's (class, class, predicate)
triple, so same-class entities and predicate ids collide; here incidence is by the relation's
own subject and object.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from .data import GraphBatch, PairBatch
from .loss import DISTANCES, NEGATIVES, in_batch_loss, pair_distance, random_negative_loss
from .retrieval_file import Vocabulary

__all__ = ["POOLINGS", "GraphEncoder", "SentenceToGraphModel", "build_retrieval_model"]

POOLINGS = ("sum", "mean")


def _linear(in_dim: int, out_dim: int) -> nn.Linear:
    return weight_norm(nn.Linear(in_dim, out_dim), dim=None)


class _Glimpse(nn.Module):
    """One attention round: a graph vector from relation x entity products."""

    def __init__(self, relation_dim: int, entity_dim: int, hidden_dim: int,
                 dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.relation_map = _linear(relation_dim, hidden_dim)
        self.entity_map = _linear(entity_dim, hidden_dim)
        self.output_map = _linear(hidden_dim, entity_dim)

    def forward(self, relations: Tensor, entities: Tensor, batch: GraphBatch) -> Tensor:
        """[num_graphs, entity_dim] update added to every entity of each graph."""
        v = F.relu(self.relation_map(self.dropout(relations)))
        q = F.relu(self.entity_map(self.dropout(entities)))
        subject, obj = batch.relations[:, 0], batch.relations[:, 1]
        endpoints = torch.where((subject == obj).unsqueeze(1), q[subject],
                                0.5 * (q[subject] + q[obj]))
        per_graph = v.new_zeros(batch.num_graphs, v.shape[1])
        per_graph.index_add_(0, batch.relation_graph, v * endpoints)
        return self.output_map(self.dropout(per_graph))


class GraphEncoder(nn.Module):
    """Graph embeddings of one side (image or text)."""

    def __init__(self, num_entities: int, num_predicates: int, embed_dim: int, hidden_dim: int,
                 output_dim: int, glimpses: int, dropout: float, pooling: str = "sum",
                 output_relu: bool = True) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"RETRIEVAL.MODEL.POOLING must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.entity_embed = nn.Embedding(num_entities + 1, embed_dim)
        self.head_embed = nn.Embedding(num_entities + 1, embed_dim)
        self.tail_embed = nn.Embedding(num_entities + 1, embed_dim)
        self.predicate_embed = nn.Embedding(num_predicates + 1, embed_dim)
        self.glimpses = nn.ModuleList(_Glimpse(3 * embed_dim, embed_dim, hidden_dim, dropout)
                                      for _ in range(glimpses))
        layers = [nn.Linear(embed_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)]
        self.output = nn.Sequential(*layers, *([nn.ReLU()] if output_relu else []))

    def forward(self, batch: GraphBatch) -> Tensor:
        """[num_graphs, output_dim] embeddings."""
        entities = self.entity_embed(batch.entities)
        words = batch.entities
        subject, obj, predicate = batch.relations.unbind(1)
        relations = torch.cat([self.head_embed(words[subject]), self.tail_embed(words[obj]),
                               self.predicate_embed(predicate)], dim=1)
        for glimpse in self.glimpses:
            entities = entities + glimpse(relations, entities, batch)[batch.entity_graph]
        pooled = entities.new_zeros(batch.num_graphs, entities.shape[1])
        pooled.index_add_(0, batch.entity_graph, entities)
        if self.pooling == "mean":
            counts = torch.bincount(batch.entity_graph, minlength=batch.num_graphs)
            pooled = pooled / counts.clamp(min=1).unsqueeze(1).to(pooled.dtype)
        return self.output(pooled)


class SentenceToGraphModel(nn.Module):
    """Image-graph and text-graph encoders trained with a triplet loss (``loss.py``)."""

    def __init__(self, image_encoder: GraphEncoder, text_encoder: GraphEncoder, margin: float,
                 beta: float, negatives: str = "random", distance: str = "smooth_l1") -> None:
        super().__init__()
        if negatives not in NEGATIVES or distance not in DISTANCES:
            raise ValueError(f"RETRIEVAL.LOSS: NEGATIVES must be one of {NEGATIVES} and DISTANCE "
                             f"one of {DISTANCES}, got {negatives!r} and {distance!r}")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.margin = margin
        self.beta = beta
        self.negatives = negatives
        self.distance_kind = distance

    def distance(self, a: Tensor, b: Tensor) -> Tensor:
        """The training distance (RETRIEVAL.LOSS.DISTANCE) of matching rows."""
        return pair_distance(a, b, self.distance_kind, self.beta)

    def forward(self, batch: PairBatch, targets: list | None = None) -> dict[str, Tensor]:
        """The loss dict of a training batch (``targets`` is unused: the trainer's call)."""
        images = self.image_encoder(batch.images)
        texts = self.text_encoder(batch.texts)
        if self.negatives == "random":
            loss = random_negative_loss(images, texts, batch.num_pairs, self.margin,
                                        self.distance_kind, self.beta)
        else:
            loss = in_batch_loss(images[:batch.num_pairs], texts[:batch.num_pairs], self.margin,
                                 self.negatives, self.distance_kind, self.beta)
        return {"loss_triplet": loss}


def build_retrieval_model(cfg, vocabulary: Vocabulary) -> SentenceToGraphModel:
    """The model of RETRIEVAL.MODEL / RETRIEVAL.LOSS for the files' vocabulary."""
    options = cfg.RETRIEVAL.MODEL
    dims = (cfg.RETRIEVAL.MODEL.EMBED_DIM, cfg.RETRIEVAL.MODEL.HIDDEN_DIM,
            cfg.RETRIEVAL.MODEL.OUTPUT_DIM, cfg.RETRIEVAL.MODEL.GLIMPSES)
    if min(dims[:3]) < 1 or dims[3] < 0 or not 0.0 <= options.DROPOUT < 1.0:
        raise ValueError(f"RETRIEVAL.MODEL: dimensions must be positive, GLIMPSES not negative "
                         f"and DROPOUT in [0, 1), got {dims} and {options.DROPOUT}")
    shape = (options.DROPOUT, options.POOLING, options.OUTPUT_RELU)
    image = GraphEncoder(len(vocabulary.image_entities), len(vocabulary.image_predicates),
                         *dims, *shape)
    text = GraphEncoder(len(vocabulary.text_entities), len(vocabulary.text_predicates),
                        *dims, *shape)
    loss = cfg.RETRIEVAL.LOSS
    return SentenceToGraphModel(image, text, loss.MARGIN, loss.SMOOTH_L1_BETA, loss.NEGATIVES,
                                loss.DISTANCE)
