"""Oracle checks on `tiny`: captions identify their image's annotated graph (ground-truth gallery,
scored without learning by the classes the caption words name); shuffled graphs give chance."""

import pytest
import torch
from retrieval_data import tiny_cfg

from maskrcnn_benchmark.data.datasets.synthetic.caption_words import NOUNS
from maskrcnn_benchmark.image_retrieval.metrics import (
    evaluate_gallery,
    recall_at_k,
    true_image_ranks,
)
from maskrcnn_benchmark.image_retrieval.preprocess import preprocess_split

CLASSES_OF = {}
for name, entries in NOUNS.items():
    for entry in entries:
        CLASSES_OF.setdefault(entry[2], set()).add(name)


@pytest.fixture(scope="module")
def test_items(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("s2g_oracle")
    cfg = tiny_cfg(tiny, out / "run")
    return preprocess_split(cfg, "test", "ground_truth", str(out / "test.json")).items


def _class_overlap(items) -> torch.Tensor:
    """scores[q, g]: how many classes named by query q's captions image graph g contains (ties
    broken by a small fixed random jitter, so a random graph is ranked uniformly)."""
    named = [set().union(*(CLASSES_OF.get(w, set()) for c in it.captions for w in c.entities))
             for it in items]
    present = [set(it.image_graph.entities) for it in items]
    scores = torch.tensor([[len(q & g) - 0.01 * len(g) for g in present] for q in named])
    return scores + 1e-3 * torch.rand(scores.shape, generator=torch.Generator().manual_seed(0))


def test_ground_truth_gallery_is_retrieved_almost_perfectly(test_items):
    ranks = true_image_ranks(_class_overlap(test_items), "pessimistic")
    recall = recall_at_k(ranks, [1, 5])
    assert len(test_items) == 13
    assert recall[1] > 0.7 and recall[5] == 1.0  # chance: 1/13 and 5/13


def test_shuffled_graphs_give_chance(test_items):
    scores = _class_overlap(test_items)
    generator = torch.Generator().manual_seed(0)
    recalls = []
    for _ in range(200):  # every query gets the graph of a random image
        shuffled = scores[:, torch.randperm(len(test_items), generator=generator)]
        recalls.append(recall_at_k(true_image_ranks(shuffled, "pessimistic"), [5])[5])
    assert sum(recalls) / len(recalls) == pytest.approx(5 / 13, abs=0.05)


def test_random_embeddings_give_chance_and_collapsed_ones_nothing():
    """Random embeddings average R@K = K / N (the reported chance figure); a collapsed model
    (every embedding equal) gets R@K = 0 with pessimistic ties, 1 with optimistic ones."""
    generator = torch.Generator().manual_seed(0)
    hits = [evaluate_gallery(torch.randn(50, 8, generator=generator),
                             torch.randn(50, 8, generator=generator), [5], "cosine",
                             "pessimistic")["recall"]["5"] for _ in range(100)]
    assert sum(hits) / len(hits) == pytest.approx(0.1, abs=0.02)
    collapsed = evaluate_gallery(torch.ones(50, 8), torch.ones(50, 8), [5], "cosine",
                                 "pessimistic")
    assert collapsed["recall"]["5"] == 0.0 and collapsed["chance_recall"]["5"] == 0.1
    assert evaluate_gallery(torch.ones(50, 8), torch.ones(50, 8), [5], "cosine",
                            "optimistic")["recall"]["5"] == 1.0
