"""Retrieval losses (SGB's random negative, in-batch hardest / all) and distances by hand."""

import math

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.image_retrieval.data import (
    EncodedGraph,
    _NegativeCollator,
    make_train_loader,
)
from maskrcnn_benchmark.image_retrieval.loss import (
    distance_matrix,
    in_batch_loss,
    pair_distance,
    random_negative_loss,
)
from maskrcnn_benchmark.image_retrieval.metrics import similarity_matrix, true_image_ranks
from maskrcnn_benchmark.image_retrieval.model import build_retrieval_model
from maskrcnn_benchmark.image_retrieval.retrieval_file import Vocabulary

# 3 pairs in 1-D smooth-L1 space (beta 0.1): queries at 0, 1, 3; images at 0.5, 0.8, 3.0.
TEXTS = torch.tensor([[0.0], [1.0], [3.0]])
IMAGES = torch.tensor([[0.5], [0.8], [3.0]])
BETA = 0.1


def _sl1(x: float) -> float:
    x = abs(x)
    return 0.5 * x * x / BETA if x < BETA else x - 0.5 * BETA


def _hinge(x: float) -> float:
    return max(0.0, x)


def test_distance_matrix_by_hand():
    d = distance_matrix(TEXTS, IMAGES, "smooth_l1", BETA)
    expected = [[_sl1(t - i) for i in (0.5, 0.8, 3.0)] for t in (0.0, 1.0, 3.0)]
    assert d.flatten().tolist() == pytest.approx(sum(expected, []))
    assert d[1, 1].item() == pytest.approx(0.2 - 0.05)  # |0.2| > beta: linear part
    assert distance_matrix(torch.zeros(1, 1), torch.full((1, 1), 0.05), "smooth_l1", BETA
                           ).item() == pytest.approx(0.5 * 0.05 ** 2 / BETA)  # quadratic part
    assert pair_distance(TEXTS, IMAGES, "smooth_l1", BETA).tolist() == pytest.approx(
        [expected[i][i] for i in range(3)])
    a, b = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert distance_matrix(a, b, "cosine").flatten().tolist() == pytest.approx(
        [0.0, 1.0, 1 - 1 / math.sqrt(2), 1 - 1 / math.sqrt(2)])
    # chunks of 64 rows give the same matrix as one broadcast
    big_a, big_b = torch.randn(150, 4), torch.randn(70, 4)
    direct = torch.nn.functional.smooth_l1_loss(big_a[:, None].expand(150, 70, 4),
                                                big_b[None].expand(150, 70, 4),
                                                reduction="none", beta=BETA).mean(-1)
    assert torch.allclose(distance_matrix(big_a, big_b, "smooth_l1", BETA), direct, atol=1e-6)
    with pytest.raises(ValueError, match="DISTANCE"):
        distance_matrix(a, b, "l2")


def test_in_batch_hardest_and_all_by_hand():
    d = [[_sl1(t - i) for i in (0.5, 0.8, 3.0)] for t in (0.0, 1.0, 3.0)]  # [query][image]
    m = 1.0
    query = [[_hinge(d[q][q] + m - d[q][g]) for g in range(3) if g != q] for q in range(3)]
    image = [[_hinge(d[g][g] + m - d[q][g]) for q in range(3) if q != g] for g in range(3)]
    hardest = (sum(max(r) for r in query) + sum(max(r) for r in image)) / 6
    every = (sum(map(sum, query)) / 6 + sum(map(sum, image)) / 6) / 2
    assert in_batch_loss(IMAGES, TEXTS, m, "hardest", "smooth_l1", BETA).item() == \
        pytest.approx(hardest)
    assert in_batch_loss(IMAGES, TEXTS, m, "all", "smooth_l1", BETA).item() == \
        pytest.approx(every)
    # d = [[.45, .75, 2.95], [.45, .15, 1.95], [2.45, 2.15, 0]]: query 0 and 1 each violate
    # by 0.7 against one image; image 0 by 1.0 (query 1), image 1 by 0.4 (query 0)
    assert hardest == pytest.approx((0.7 + 0.7 + 0.0 + 1.0 + 0.4 + 0.0) / 6)
    assert every == pytest.approx((1.4 / 6 + 1.4 / 6) / 2)
    # well separated pairs: no loss; one shared point: exactly the margin
    spread = torch.tensor([[0.0], [10.0], [20.0]])
    assert in_batch_loss(spread, spread, m, "hardest", "smooth_l1", BETA).item() == 0.0
    same = torch.ones(3, 2)
    assert in_batch_loss(same, same, 0.2, "all", "cosine").item() == pytest.approx(0.2)
    with pytest.raises(ValueError, match="B >= 2"):
        in_batch_loss(IMAGES[:1], TEXTS[:1], m, "hardest")


def test_random_negative_loss_is_sgb_image_anchored():
    # rows: 2 positive pairs, then their negatives (pair 1 for pair 0, pair 0 for pair 1)
    images = torch.cat([IMAGES[:2], IMAGES[[1, 0]]])
    texts = torch.cat([TEXTS[:2], TEXTS[[1, 0]]])
    d = lambda t, i: _sl1(t - i)  # noqa: E731
    terms = [_hinge(d(0.0, 0.5) + 1 - d(1.0, 0.5)), _hinge(d(1.0, 0.8) + 1 - d(0.0, 0.8)),
             _hinge(d(1.0, 0.8) + 1 - d(0.0, 0.8)), _hinge(d(0.0, 0.5) + 1 - d(1.0, 0.5))]
    assert random_negative_loss(images, texts, 2, 1.0, "smooth_l1", BETA).item() == \
        pytest.approx(sum(terms) / 4)
    with pytest.raises(ValueError, match="negative pairs"):
        random_negative_loss(IMAGES, TEXTS, 2, 1.0)


def test_smooth_l1_ranking_ranks_by_the_training_distance():
    scores = similarity_matrix(TEXTS, IMAGES, "smooth_l1", BETA)
    assert scores[0, 0].item() == pytest.approx(-_sl1(0.5))
    # query 0 (at 0) is nearer image 0 (0.5) than image 1 (0.8); query 1 (at 1) nearer image 1
    assert true_image_ranks(scores).tolist() == [0, 0, 0]
    # cosine cannot tell 1-D positive points apart: every image ties
    assert true_image_ranks(similarity_matrix(TEXTS[1:], IMAGES[1:], "cosine")).tolist() == [1, 1]


VOCAB = Vocabulary(("horse", "man"), ("riding",), ("guy", "horse"), ("ride",))


def _cfg(negatives: str, batch: int = 3):
    cfg = get_cfg()
    cfg.merge_from_list(["RETRIEVAL.MODEL.EMBED_DIM", "8", "RETRIEVAL.MODEL.HIDDEN_DIM", "8",
                         "RETRIEVAL.MODEL.OUTPUT_DIM", "8", "RETRIEVAL.MODEL.DROPOUT", "0.0",
                         "RETRIEVAL.LOSS.NEGATIVES", negatives, "RETRIEVAL.LOSS.DISTANCE",
                         "cosine", "RETRIEVAL.LOSS.MARGIN", "0.2", "SOLVER.IMS_PER_BATCH",
                         str(batch), "SOLVER.MAX_ITER", "4"])
    return cfg


def _pairs(n: int, same: bool = False):
    """n pairs; pair i's graphs have entity words (1 + i % 2, 2 - i // 2 % 2) unless ``same``."""
    def graph(i: int) -> EncodedGraph:
        words = [1, 2] if same else [1 + i % 2, 2 - i // 2 % 2]
        return EncodedGraph(torch.tensor(words), torch.tensor([[0, 1, 1]]))
    return [(graph(i), graph(i)) for i in range(n)]


def test_in_batch_batches_carry_no_random_negatives_and_no_single_pair():
    pairs = _pairs(7)  # 7 = 2 x 3 + 1: the last pair of an epoch would be a batch of one
    sizes = [batch.num_pairs for batch, _, _ in make_train_loader(_cfg("hardest"), pairs)]
    assert sizes == [3, 3, 3, 3]
    for batch, _, _ in make_train_loader(_cfg("hardest"), pairs):
        assert batch.images.num_graphs == batch.texts.num_graphs == 3
    for batch, _, _ in make_train_loader(_cfg("random"), pairs):
        assert batch.images.num_graphs == 2 * batch.num_pairs  # SGB: + one negative each
    batch, _, _ = _NegativeCollator(pairs, random_negatives=False)([0, 4])
    assert batch.images.num_graphs == 2 and batch.num_pairs == 2


def test_model_uses_the_configured_loss():
    torch.manual_seed(0)
    pairs = _pairs(3)
    batch, _, _ = _NegativeCollator(pairs, random_negatives=False)([0, 1, 2])
    for negatives in ("all", "hardest"):
        model = build_retrieval_model(_cfg(negatives), VOCAB).eval()
        images, texts = model.image_encoder(batch.images), model.text_encoder(batch.texts)
        expected = in_batch_loss(images, texts, 0.2, negatives, "cosine")
        assert model(batch)["loss_triplet"].item() == pytest.approx(expected.item())
    assert in_batch_loss(images, texts, 0.2, "all", "cosine").item() != pytest.approx(
        expected.item())  # the two options differ on this batch
    # identical pairs: every embedding equal, the loss is the margin
    same, _, _ = _NegativeCollator(_pairs(3, same=True), random_negatives=False)([0, 1, 2])
    assert model(same)["loss_triplet"].item() == pytest.approx(0.2, abs=1e-5)
    assert model.distance(images[:1], texts[:1]).item() == pytest.approx(
        pair_distance(images[:1], texts[:1], "cosine").item())
    cfg = _cfg("semi-hard")
    with pytest.raises(ValueError, match="NEGATIVES"):
        build_retrieval_model(cfg, VOCAB)
    with pytest.raises(ValueError, match="IMS_PER_BATCH"):
        make_train_loader(_cfg("hardest", batch=1), pairs)
