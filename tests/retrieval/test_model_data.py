"""Retrieval data (encoding, batches, SGB's split, negatives) and the model (loss, invariances)."""

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.image_retrieval.data import (
    EncodedGraph,
    GraphBatch,
    _NegativeCollator,
    encode_graph,
    load_splits,
)
from maskrcnn_benchmark.image_retrieval.model import build_retrieval_model
from maskrcnn_benchmark.image_retrieval.retrieval_file import (
    RetrievalFile,
    RetrievalItem,
    Vocabulary,
    write_retrieval_file,
)

VOCAB = Vocabulary(("horse", "man", "street"), ("on", "riding"),
                   ("guy", "horse", "road"), ("on", "ride"))


def _graph(entities, relations) -> EncodedGraph:
    return EncodedGraph(torch.tensor(entities), torch.tensor(relations).reshape(-1, 3))


def test_captions_are_concatenated_into_one_query():
    captions = [TextGraph(["guy", "horse"], [(0, 1, "ride")]),
                TextGraph(["horse", "road", "unicorn"], [(0, 1, "on"), (2, 1, "fly")])]
    query = encode_graph(captions, {w: i + 1 for i, w in enumerate(VOCAB.text_entities)},
                         {w: i + 1 for i, w in enumerate(VOCAB.text_predicates)})
    assert query.entities.tolist() == [1, 2, 2, 3, 0]  # "unicorn" is unknown: 0
    assert query.relations.tolist() == [[0, 1, 2], [2, 3, 1], [4, 3, 0]]


def test_graph_batch_shifts_relation_endpoints():
    batch = GraphBatch.collate([_graph([1, 2], [[0, 1, 1]]), _graph([3], []),
                                _graph([2, 1, 3], [[2, 0, 2], [1, 2, 1]])])
    assert batch.entities.tolist() == [1, 2, 3, 2, 1, 3]
    assert batch.entity_graph.tolist() == [0, 0, 1, 2, 2, 2]
    assert batch.relations.tolist() == [[0, 1, 1], [5, 3, 2], [4, 5, 1]]
    assert batch.relation_graph.tolist() == [0, 2, 2]
    assert batch.num_graphs == 3


def test_negatives_are_other_pairs_drawn_uniformly():
    # pair i's graphs hold the single entity i + 1, so a batch shows which pairs it holds
    pairs = [(_graph([i + 1], []), _graph([i + 1], [])) for i in range(4)]
    collate = _NegativeCollator(pairs)
    counts = torch.zeros(4, 4)
    for _ in range(1200):
        batch, targets, indices = collate([0, 1, 2, 3])
        assert targets == [] and indices == [0, 1, 2, 3] and batch.num_pairs == 4
        assert batch.images.entities[:4].tolist() == [1, 2, 3, 4]
        negatives = batch.images.entities[4:] - 1
        assert negatives.tolist() == (batch.texts.entities[4:] - 1).tolist()  # same pair
        counts[torch.arange(4), negatives] += 1
    assert counts.diagonal().sum() == 0  # never the positive itself
    off = counts[~torch.eye(4, dtype=torch.bool)]
    assert off.min() > 330 and off.max() < 470  # 400 expected each


def _item(key: str, relations: int) -> RetrievalItem:
    caption = TextGraph(["guy", "horse"], [(0, 1, "ride")] * relations)
    return RetrievalItem(key, int(key), TextGraph(["man", "horse"], [(0, 1, "riding")]),
                         [caption])


def test_sgb_split_of_the_test_file(tmp_path):
    test = [_item(str(i), 0 if i == 3 else 1) for i in range(1, 11)]  # item 3: no relation
    write_retrieval_file(str(tmp_path / "test.json"), RetrievalFile("ground_truth", VOCAB, test))
    write_retrieval_file(str(tmp_path / "train.json"),
                         RetrievalFile("ground_truth", VOCAB, [_item("20", 1), _item("21", 2)]))
    cfg = get_cfg()
    cfg.merge_from_list(["RETRIEVAL.TEST_FILE", str(tmp_path / "test.json"),
                         "RETRIEVAL.TRAIN_FILES", f"('{tmp_path / 'train.json'}',)",
                         "RETRIEVAL.NUM_TEST", "4", "RETRIEVAL.NUM_VAL", "3"])
    splits = load_splits(cfg)
    assert splits.test_keys == ["1", "2", "4", "5"]  # first 4 usable pairs
    assert len(splits.val) == 3  # 6, 7, 8
    assert len(splits.train) == 2 + 2  # the train file and test items 9, 10
    other = Vocabulary(("man",), ("on",), ("guy",), ("on",))
    write_retrieval_file(str(tmp_path / "train.json"),
                         RetrievalFile("ground_truth", other, [_item("20", 1)]))
    with pytest.raises(ValueError, match="different vocabularies"):
        load_splits(cfg)


def _model(dropout: float = 0.0):
    cfg = get_cfg()
    cfg.merge_from_list(["RETRIEVAL.MODEL.EMBED_DIM", "16", "RETRIEVAL.MODEL.HIDDEN_DIM", "16",
                         "RETRIEVAL.MODEL.OUTPUT_DIM", "32", "RETRIEVAL.MODEL.DROPOUT",
                         str(dropout), "RETRIEVAL.LOSS.SMOOTH_L1_BETA", "0.1"])
    return build_retrieval_model(cfg, VOCAB).eval()


def test_graph_embedding_depends_on_structure_not_on_order():
    model = _model()
    encode = model.image_encoder
    graph = _graph([2, 1, 3, 2], [[0, 1, 2], [0, 2, 1], [3, 2, 1]])
    # the same graph with entities and relations listed in another order
    permuted = _graph([3, 2, 2, 1], [[2, 0, 1], [1, 3, 2], [1, 0, 1]])
    # the same entities and predicates, but the horse (not the man) on the street
    rewired = _graph([2, 1, 3, 2], [[0, 1, 2], [1, 2, 1], [3, 2, 1]])
    out = encode(GraphBatch.collate([graph, permuted, rewired]))
    assert out[0].abs().sum() > 0
    assert torch.allclose(out[0], out[1], atol=1e-6)
    assert not torch.allclose(out[0], out[2], atol=1e-4)
    alone = encode(GraphBatch.collate([graph]))
    assert torch.allclose(alone[0], out[0], atol=1e-6)  # batching does not mix graphs


def test_triplet_loss_by_hand():
    model = _model()
    a, b = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.05]])
    # smooth-L1 with beta 0.1: |1| -> 1 - 0.05; |0.05| -> 0.5 * 0.05^2 / 0.1; mean of the two
    assert model.distance(a, b).item() == pytest.approx((0.95 + 0.0125) / 2)
    pair = (_graph([2, 1], [[0, 1, 2]]), _graph([1, 2], [[0, 1, 2]]))
    other = (_graph([2, 3], [[0, 1, 1]]), _graph([2, 3], [[0, 1, 1]]))
    batch, _, _ = _NegativeCollator([pair, other])([0])
    images = model.image_encoder(batch.images)
    texts = model.text_encoder(batch.texts)
    d = model.distance
    expected = (torch.relu(d(images[:1], texts[:1]) + 1 - d(images[:1], texts[1:]))
                + torch.relu(d(texts[1:], images[1:]) + 1 - d(texts[:1], images[1:]))) / 2
    assert model(batch)["loss_triplet"].item() == pytest.approx(expected.item())
    # a negative identical to the positive gives exactly the margin
    same, _, _ = _NegativeCollator([pair, pair])([0])
    assert model(same)["loss_triplet"].item() == pytest.approx(1.0)
