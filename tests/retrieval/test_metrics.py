"""Retrieval metrics against hand-computed rankings, ties included."""

import math

import pytest
import torch

from maskrcnn_benchmark.image_retrieval.metrics import (
    evaluate_galleries,
    recall_at_k,
    similarity_matrix,
    true_image_ranks,
)

# Rows: queries; columns: gallery images; query i's own image is column i.
SCORES = torch.tensor([[0.9, 0.9, 0.1],    # a tie with image 1
                       [0.5, 0.4, 0.6],    # two images above the true one
                       [0.2, 0.2, 0.2]])   # everything tied


def test_ranks_by_hand_with_both_tie_rules():
    assert true_image_ranks(SCORES, "pessimistic").tolist() == [1, 2, 2]
    assert true_image_ranks(SCORES, "optimistic").tolist() == [0, 2, 0]


def test_ties_are_decided_within_a_relative_tolerance():
    scores = torch.tensor([[100.0, 100.00001], [0.0, 1.0]])
    assert true_image_ranks(scores, "pessimistic").tolist() == [1, 0]
    assert true_image_ranks(scores, "optimistic").tolist() == [0, 0]
    assert true_image_ranks(torch.tensor([[1.0, 1.001], [0.0, 1.0]]), "optimistic")[0] == 1


def test_recall_at_k_by_hand():
    pessimistic = recall_at_k(true_image_ranks(SCORES, "pessimistic"), [1, 2, 3])
    assert pessimistic == pytest.approx({1: 0.0, 2: 1 / 3, 3: 1.0})
    optimistic = recall_at_k(true_image_ranks(SCORES, "optimistic"), [1, 2, 3])
    assert optimistic == pytest.approx({1: 2 / 3, 2: 2 / 3, 3: 1.0})


def test_cosine_and_dot_similarities():
    texts = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    images = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert similarity_matrix(texts, images, "dot").tolist() == [[2.0, 0.0], [2.0, 3.0]]
    cosine = similarity_matrix(texts, images, "cosine")
    half = 1 / math.sqrt(2)
    assert cosine.flatten().tolist() == pytest.approx([1.0, 0.0, half, half])
    # the dot product ranks image 1 first for query 1, cosine ties it with image 0
    assert true_image_ranks(similarity_matrix(texts, images, "dot")).tolist() == [0, 0]
    assert true_image_ranks(cosine, "pessimistic").tolist() == [0, 1]


def test_galleries_are_prefixes_capped_at_the_pool():
    # embeddings: query i matches image i except query 2, which matches image 0 best
    images = torch.eye(4)
    texts = torch.eye(4)
    texts[2] = torch.tensor([1.0, 0.0, 0.5, 0.0])
    small, whole = evaluate_galleries(texts, images, [2, 10], [1, 2], "dot", "pessimistic")
    assert small["gallery_size"] == 2 and small["requested_size"] == 2
    assert small["recall"] == {"1": 1.0, "2": 1.0}
    assert whole["gallery_size"] == 4 and whole["requested_size"] == 10
    assert whole["recall"] == {"1": 0.75, "2": 1.0}
    assert whole["median_rank"] == 1.0 and whole["mean_rank"] == pytest.approx(1.25)
    assert whole["chance_recall"] == {"1": 0.25, "2": 0.5}
    assert small["chance_recall"] == {"1": 0.5, "2": 1.0}


def test_bad_settings_are_errors():
    with pytest.raises(ValueError, match="TIES"):
        true_image_ranks(SCORES, "random")
    with pytest.raises(ValueError, match="SIMILARITY"):
        similarity_matrix(SCORES, SCORES, "l2")
    with pytest.raises(ValueError, match="square"):
        true_image_ranks(SCORES[:2])
    with pytest.raises(ValueError, match="GALLERY_SIZES"):
        evaluate_galleries(SCORES, SCORES, [0], [1], "dot", "pessimistic")
