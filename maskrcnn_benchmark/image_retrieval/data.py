"""Retrieval data: encoded graph pairs, SGB's train / val / test split, batches with negatives.

A pair is (image graph, query graph); the query is the union of all caption graphs of the
image (SGB concatenates them). Words become ids 1.. of the files' vocabularies (0 = a word
outside them). Pairs whose query has no relation are dropped (nothing to retrieve by); image
graphs may be empty (a model that predicts no relation for an image keeps it in the gallery).
SGB's split: the test pool is the first RETRIEVAL.NUM_TEST pairs of the test file, the next
RETRIEVAL.NUM_VAL are the validation set, the rest of the test file joins the train files.
A training batch holds B positive pairs and, with RETRIEVAL.LOSS.NEGATIVES "random", for each
the pair of a uniformly drawn other training image (SGB's negatives), drawn from torch's global
generator (restored on resume); the in-batch negatives ("hardest", "all") need only the B pairs,
and an epoch's last batch is dropped when it would be smaller than SOLVER.IMS_PER_BATCH.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, Dataset

from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.data.samplers import DistributedSampler, IterationBasedBatchSampler

from .retrieval_file import RetrievalItem, Vocabulary, read_retrieval_file

__all__ = ["EncodedGraph", "GraphBatch", "PairBatch", "RetrievalSplits", "encode_graph",
           "encode_item", "load_splits", "make_train_loader"]

logger = logging.getLogger(__name__)


@dataclass
class EncodedGraph:
    """Entity word ids [N] and relations [R, 3] (subject index, object index, predicate id)."""

    entities: Tensor
    relations: Tensor


@dataclass
class GraphBatch:
    """Several graphs as one: relation endpoints index the concatenated entities."""

    entities: Tensor  # [N] word ids
    entity_graph: Tensor  # [N] graph of each entity
    relations: Tensor  # [R, 3] global subject index, global object index, predicate id
    relation_graph: Tensor  # [R] graph of each relation
    num_graphs: int

    @staticmethod
    def collate(graphs: Sequence[EncodedGraph]) -> GraphBatch:
        """Concatenate ``graphs`` (relation endpoints shifted by the entity offsets)."""
        if not graphs:
            raise ValueError("GraphBatch.collate needs at least one graph")
        counts = torch.tensor([len(g.entities) for g in graphs], dtype=torch.long)
        offsets = (torch.cumsum(counts, 0) - counts).tolist()
        relations = torch.cat([g.relations + torch.tensor([off, off, 0])
                               for g, off in zip(graphs, offsets)]).reshape(-1, 3)
        ids = torch.arange(len(graphs))
        num_relations = torch.tensor([len(g.relations) for g in graphs], dtype=torch.long)
        return GraphBatch(entities=torch.cat([g.entities for g in graphs]),
                          entity_graph=torch.repeat_interleave(ids, counts),
                          relations=relations,
                          relation_graph=torch.repeat_interleave(ids, num_relations),
                          num_graphs=len(graphs))

    def to(self, device: torch.device | str) -> GraphBatch:
        """The batch on ``device``."""
        return GraphBatch(self.entities.to(device), self.entity_graph.to(device),
                          self.relations.to(device), self.relation_graph.to(device),
                          self.num_graphs)


@dataclass
class PairBatch:
    """Image and query graphs of B positive pairs followed by their B negative pairs."""

    images: GraphBatch
    texts: GraphBatch
    num_pairs: int

    def to(self, device: torch.device | str) -> PairBatch:
        """The batch on ``device``."""
        return PairBatch(self.images.to(device), self.texts.to(device), self.num_pairs)


def encode_graph(graphs: Sequence[TextGraph], entity_ids: dict[str, int],
                 predicate_ids: dict[str, int]) -> EncodedGraph:
    """The union of ``graphs`` (entity lists concatenated) as word ids."""
    entities, relations = [], []
    for graph in graphs:
        offset = len(entities)
        entities += [entity_ids.get(word, 0) for word in graph.entities]
        relations += [(s + offset, o + offset, predicate_ids.get(p, 0))
                      for s, o, p in graph.relations]
    return EncodedGraph(torch.tensor(entities, dtype=torch.long),
                        torch.tensor(relations, dtype=torch.long).reshape(-1, 3))


@functools.lru_cache(maxsize=8)
def _id_maps(vocabulary: Vocabulary) -> tuple[dict[str, int], ...]:
    """Word -> id (1 + position) of the four word lists."""
    return tuple({word: i + 1 for i, word in enumerate(words)} for words in (
        vocabulary.image_entities, vocabulary.image_predicates, vocabulary.text_entities,
        vocabulary.text_predicates))


def encode_item(item: RetrievalItem, vocabulary: Vocabulary) -> tuple[EncodedGraph, EncodedGraph]:
    """(image graph, query graph) of one item."""
    image_entities, image_predicates, text_entities, text_predicates = _id_maps(vocabulary)
    image = encode_graph([item.image_graph], image_entities, image_predicates)
    query = encode_graph(item.captions, text_entities, text_predicates)
    return image, query


@dataclass
class RetrievalSplits:
    """Encoded (image, query) pairs of each split, the test keys and the vocabulary."""

    vocabulary: Vocabulary
    train: list[tuple[EncodedGraph, EncodedGraph]]
    val: list[tuple[EncodedGraph, EncodedGraph]]
    test: list[tuple[EncodedGraph, EncodedGraph]]
    test_keys: list[str]


def has_caption_relation(item: RetrievalItem) -> bool:
    """Whether an item's captions hold a relation (a query to retrieve with)."""
    return any(caption.relations for caption in item.captions)


def _usable(path: str, items: list[RetrievalItem], vocabulary: Vocabulary
            ) -> list[tuple[str, tuple[EncodedGraph, EncodedGraph]]]:
    kept = [(item.key, encode_item(item, vocabulary)) for item in items
            if has_caption_relation(item)]
    if len(kept) < len(items):
        logger.info("%s: %d of %d images have no caption relation and are left out", path,
                    len(items) - len(kept), len(items))
    return kept


def load_splits(cfg, with_train: bool = True) -> RetrievalSplits:
    """Read RETRIEVAL.TEST_FILE (and RETRIEVAL.TRAIN_FILES) and split them as SGB does."""
    options = cfg.RETRIEVAL
    if not options.TEST_FILE:
        raise ValueError("RETRIEVAL.TEST_FILE is empty: name the test split's retrieval input "
                         "(tools/image_retrieval.py preprocess output)")
    train_paths = list(options.TRAIN_FILES) if with_train else []
    if with_train and not train_paths:
        raise ValueError("RETRIEVAL.TRAIN_FILES is empty: name the train (and val) splits' "
                         "retrieval inputs")
    test_file = read_retrieval_file(options.TEST_FILE)
    vocabulary = test_file.vocabulary
    test_pairs = _usable(options.TEST_FILE, test_file.items, vocabulary)
    train: list[tuple[EncodedGraph, EncodedGraph]] = []
    for path in train_paths:
        data = read_retrieval_file(path)
        if data.vocabulary != vocabulary:
            raise ValueError(f"{path} and {options.TEST_FILE} have different vocabularies "
                             "(another data set or caption file); preprocess both with the "
                             "same caption-graph file")
        train += [pair for _, pair in _usable(path, data.items, vocabulary)]
    num_test, num_val = options.NUM_TEST, options.NUM_VAL
    if num_test <= 0 or num_val < 0:
        raise ValueError(f"RETRIEVAL.NUM_TEST must be positive and RETRIEVAL.NUM_VAL not "
                         f"negative, got {num_test} and {num_val}")
    test = test_pairs[:num_test]
    val = test_pairs[num_test:num_test + num_val]
    train += [pair for _, pair in test_pairs[num_test + num_val:]]
    logger.info("Retrieval pairs: %d train, %d val, %d test", len(train), len(val), len(test))
    return RetrievalSplits(vocabulary, train, [p for _, p in val], [p for _, p in test],
                           [key for key, _ in test])


class _Indices(Dataset):
    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        return index


class _NegativeCollator:
    """Indices of a batch -> the PairBatch of those pairs (and one random other pair each)."""

    def __init__(self, pairs: Sequence[tuple[EncodedGraph, EncodedGraph]],
                 random_negatives: bool = True) -> None:
        self.pairs = pairs
        self.random_negatives = random_negatives

    def __call__(self, indices: list[int]) -> tuple[PairBatch, list, list[int]]:
        positives = torch.tensor(indices, dtype=torch.long)
        chosen = positives.tolist()
        if self.random_negatives:
            draws = torch.randint(0, len(self.pairs) - 1, (len(indices),))
            negatives = draws + (draws >= positives).long()  # uniform over the other pairs
            chosen += negatives.tolist()
        batch = PairBatch(GraphBatch.collate([self.pairs[i][0] for i in chosen]),
                          GraphBatch.collate([self.pairs[i][1] for i in chosen]), len(indices))
        return batch, [], list(indices)


def drops_short_batch(cfg, num_pairs: int) -> bool:
    """In-batch negatives drop an epoch's last batch when it is short (a batch of one pair has
    nothing to compare with); SGB's random negatives keep it."""
    return cfg.RETRIEVAL.LOSS.NEGATIVES != "random" and num_pairs > cfg.SOLVER.IMS_PER_BATCH


def batches_per_epoch(cfg, num_pairs: int) -> int:
    """Training iterations per pass over ``num_pairs`` pairs."""
    size = cfg.SOLVER.IMS_PER_BATCH
    return num_pairs // size if drops_short_batch(cfg, num_pairs) else math.ceil(num_pairs / size)


def make_train_loader(cfg, pairs: Sequence[tuple[EncodedGraph, EncodedGraph]],
                      start_iter: int = 0) -> DataLoader:
    """SOLVER.MAX_ITER batches of SOLVER.IMS_PER_BATCH pairs (seeded epochs, resumable)."""
    if len(pairs) < 2:
        raise ValueError(f"Retrieval training needs at least 2 training pairs, got {len(pairs)}")
    random_negatives = cfg.RETRIEVAL.LOSS.NEGATIVES == "random"
    size = cfg.SOLVER.IMS_PER_BATCH
    if not random_negatives and size < 2:
        raise ValueError(f"RETRIEVAL.LOSS.NEGATIVES {cfg.RETRIEVAL.LOSS.NEGATIVES!r} takes the "
                         f"negatives from the batch: SOLVER.IMS_PER_BATCH must be >= 2, got {size}")
    sampler = DistributedSampler(len(pairs), 1, 0, shuffle=True, seed=cfg.SEED)
    batches = BatchSampler(sampler, size, drop_last=drops_short_batch(cfg, len(pairs)))
    return DataLoader(_Indices(len(pairs)),
                      batch_sampler=IterationBasedBatchSampler(batches, cfg.SOLVER.MAX_ITER,
                                                               start_iter),
                      collate_fn=_NegativeCollator(pairs, random_negatives), num_workers=0)
