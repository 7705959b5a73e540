"""The caption-information diagnostic (image_retrieval/ceiling.py, `image_retrieval.py ceiling`)
on hand-built galleries whose counts, ranks and R@K are worked out by hand below."""

import json
import runpy
import sys

import pytest
import torch
from retrieval_data import REPO

from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.image_retrieval.ceiling import (
    caption_ceiling,
    choose_lexicon,
    consistency_matrix,
    named_content,
    overlap_scores,
    uniform_tie_recall,
    word_classes,
)
from maskrcnn_benchmark.image_retrieval.retrieval_file import (
    RetrievalFile,
    RetrievalItem,
    Vocabulary,
    write_retrieval_file,
)

TOOL = REPO / "tools" / "image_retrieval.py"


def _item(index, entities, relations, captions):
    return RetrievalItem(str(index), index, TextGraph(entities, relations),
                         [TextGraph(e, r) for e, r in captions])


def _gallery():
    """4 images; the captions name classes by their own names (the exact lexicon).

    image 0: man -riding-> horse -on-> street     query 0: man-horse; man in park (names no class)
    image 1: horse -near-> man                    query 1: horse-man; a tree (not in image 1)
    image 2: man -> horse, man -> tree, street    query 2: park-city (names nothing)
    image 3: dog -on-> grass                      query 3: dog-grass
    """
    return [
        _item(0, ["man", "horse", "street"], [(0, 1, "riding"), (1, 2, "on")],
              [(["man", "horse"], [(0, 1, "ride")]), (["man", "park"], [(0, 1, "in")])]),
        _item(1, ["horse", "man"], [(0, 1, "near")],
              [(["horse", "man"], [(0, 1, "near")]), (["tree"], [])]),
        _item(2, ["man", "horse", "street", "tree"], [(0, 1, "riding"), (0, 3, "near")],
              [(["park", "city"], [(0, 1, "in")])]),
        _item(3, ["dog", "grass"], [(0, 1, "on")], [(["dog", "grass"], [(0, 1, "on")])]),
    ]


@pytest.fixture
def exact():
    return word_classes("exact", ["dog", "grass", "horse", "man", "street", "tree"])


def test_consistent_counts_and_expected_recall_by_hand(exact):
    items = _gallery()
    classes = consistency_matrix(items, exact)
    pairs = consistency_matrix(items, exact, with_pairs=True)
    # query 0 names {man}, {horse}: images 0, 1, 2; (man, horse) is a relation of 0 and 2 only.
    # query 1 names {horse}, {man}, {tree}; image 1 has no tree, so that constraint is dropped:
    # images 0, 1, 2; only image 1 has (horse, man). Query 2 names nothing: every image.
    assert classes.sum(dim=1).tolist() == [3, 3, 4, 1]
    assert pairs.sum(dim=1).tolist() == [2, 1, 4, 1]
    assert classes.diagonal().all() and pairs.diagonal().all()  # the true image always fits
    result = caption_ceiling(items, "exact", ks=(1, 2))
    ceiling = result["ceiling_classes"]["recall"]
    assert ceiling["1"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 4 + 1) / 4)
    assert ceiling["2"] == pytest.approx((2 / 3 + 2 / 3 + 2 / 4 + 1) / 4)
    with_pairs = result["ceiling_classes_pairs"]
    assert with_pairs["recall"]["1"] == pytest.approx((1 / 2 + 1 + 1 / 4 + 1) / 4)
    assert with_pairs["recall"]["2"] == pytest.approx((1 + 1 + 2 / 4 + 1) / 4)
    assert with_pairs["median_consistent"] == 1.5
    assert with_pairs["share_more_than_k"] == {"1": 0.5, "2": 0.25}
    # fewest classes first among the consistent: query 0 ranks image 0 (3 classes) after
    # image 1 (2 classes), query 1 its image first; the query naming nothing puts image 2
    # (4 classes) last: ranks 1, 0, 3, 0
    fewest = result["ceiling_classes"]["recall_fewest_classes_first"]
    assert fewest == pytest.approx({"1": 2 / 4, "2": 3 / 4})
    assert result["queries_naming_no_class"] == 1 and result["chance"]["1"] == 0.25


def test_query_naming_nothing_is_at_chance_and_loses_size_ties(exact):
    items = _gallery()
    assert named_content(items[2].captions, exact).classes == frozenset()
    assert consistency_matrix(items, exact)[2].all()  # no constraint: all 4 images fit
    # its score row is the class-count key only: -3/5, -2/5, -4/5, -2/5; its image (4 classes)
    # is last
    scores = overlap_scores(items, exact)
    assert scores[2].tolist() == pytest.approx([-0.6, -0.4, -0.8, -0.4])
    recall = uniform_tie_recall(consistency_matrix(items, exact)[2:3, 2:3].double(), [1])
    assert recall["expected"][1] == 1.0  # a one-image gallery needs no information


def test_score_ranking_by_hand(exact):
    items = _gallery()
    scores = overlap_scores(items, exact)
    # classes met minus classes / 5: query 0 meets 2 in images 0, 1, 2 -> 1.4, 1.6, 1.2, -0.4;
    # query 1 meets 3 in image 2 (it has the tree) -> 1.4, 1.6, 2.2, -0.4
    assert scores[0].tolist() == pytest.approx([1.4, 1.6, 1.2, -0.4])
    assert scores[1].tolist() == pytest.approx([1.4, 1.6, 2.2, -0.4])
    # ranks of the true images: 1, 1, 3, 0 -> R@1 1/4, R@2 3/4
    recall = uniform_tie_recall(scores, [1, 2])
    assert recall["expected"] == pytest.approx({1: 0.25, 2: 0.75})
    # the pairs lift images 0 (man, horse) and 1 (horse, man) to the top of their own queries
    paired = overlap_scores(items, exact, with_pairs=True)
    assert paired[0].tolist() == pytest.approx([2.4, 1.6, 2.2, -0.4])
    assert paired[1].tolist() == pytest.approx([1.4, 2.6, 2.2, -0.4])
    assert uniform_tie_recall(paired, [1])["expected"] == pytest.approx({1: 0.75})


def test_ties_are_broken_uniformly():
    # query 0: its image ties with 2 others, 1 scores higher -> P(rank < 2) = 1/3, < 4 = 1;
    # query 1: alone at the top
    scores = torch.tensor([[1.0, 2.0, 1.0, 1.0], [0.0, 5.0, 1.0, 1.0],
                           [0.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 3.0]])
    recall = uniform_tie_recall(scores, [1, 2, 4])
    assert recall["expected"] == pytest.approx({1: 0.75, 2: (1 / 3 + 3) / 4, 4: 1.0})
    assert recall["optimistic"][2] == 1.0 and recall["pessimistic"][2] == 0.75


def test_captioner_lexicon_names_ambiguous_classes():
    words = word_classes("captioner", ["bike", "man", "motorcycle", "woman", "building"])
    assert words["person"] == {"man", "woman"} and words["bike"] == {"bike", "motorcycle"}
    assert words["house"] == {"building"} and "park" not in words and "dog" not in words
    named = named_content([TextGraph(["person", "bike", "park"],
                                     [(0, 1, "ride"), (0, 2, "in")])], words)
    assert named.classes == {frozenset({"man", "woman"}), frozenset({"bike", "motorcycle"})}
    assert named.pairs == {frozenset({("man", "bike"), ("man", "motorcycle"),
                                      ("woman", "bike"), ("woman", "motorcycle")})}
    items = [_item(0, ["woman", "motorcycle"], [(0, 1, "riding")],
                   [(["person", "bike"], [(0, 1, "ride")])]),
             _item(1, ["man", "bike"], [], [(["bike"], [])]),
             _item(2, ["woman"], [], [(["lady"], [])])]
    # "person" and "bike" fit images 0 and 1 by classes, only image 0 by the ridden pair
    assert consistency_matrix(items, words)[0].tolist() == [True, True, False]
    assert consistency_matrix(items, words, with_pairs=True)[0].tolist() == [True, False, False]


def test_lexicon_is_chosen_by_the_file_vocabulary():
    synthetic = Vocabulary(("man", "street"), ("on",), ("guy", "park", "road"), ("walk on",))
    vg = Vocabulary(("man", "street"), ("on",), ("guy", "jacket", "road"), ("walk on",))
    assert choose_lexicon(synthetic) == "captioner" and choose_lexicon(vg) == "exact"
    assert word_classes("exact", ["man"]) == {"man": {"man"}}  # VG: "guy" names nothing
    with pytest.raises(ValueError, match="lexicon must be one of"):
        word_classes("wordnet", ["man"])


def test_command_writes_the_json_beside_the_file(tmp_path, monkeypatch):
    items = _gallery()
    silent = _item(9, ["man"], [], [(["man"], [])])  # no caption relation: not in the gallery
    vocabulary = Vocabulary(("dog", "grass", "horse", "man", "street", "tree"), ("near",),
                            ("city", "dog", "grass", "horse", "jacket", "man", "park", "tree"),
                            ("in",))  # "jacket": not a synthetic caption word, as on VG
    path = tmp_path / "gt_test.json"
    write_retrieval_file(str(path), RetrievalFile("ground_truth", vocabulary,
                                                  [items[0], silent, *items[1:]]))
    monkeypatch.setattr(sys, "argv", [str(TOOL), "ceiling", "--file", str(path),
                                      "--gallery", "3", "--ks", "1", "2"])
    runpy.run_path(str(TOOL), run_name="__main__")
    result = json.loads((tmp_path / "gt_test_ceiling.json").read_text())
    assert result["usable_images"] == 4 and result["gallery_size"] == 3
    assert result["lexicon"] == "exact" and result["source"] == "ground_truth"
    # images 0-2 only: the class counts are 3, 3, 3 -> R@1 1/3
    assert result["ceiling_classes"]["recall"]["1"] == pytest.approx(1 / 3)
    with pytest.raises(FileNotFoundError, match="preprocess"):
        monkeypatch.setattr(sys, "argv", [str(TOOL), "ceiling", "--file",
                                          str(tmp_path / "missing.json")])
        runpy.run_path(str(TOOL), run_name="__main__")
