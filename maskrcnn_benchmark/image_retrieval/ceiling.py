"""What the captions alone can retrieve: a no-learning score and the caption-information ceiling.

A diagnostic of the oracle gallery (``tools/image_retrieval.py ceiling``): how well can a query
single out its image among the gallery's graphs with nothing but the object classes its captions
name? Both parts use the graphs' class names only, no predicate word (the caption and image
sides have different predicate vocabularies).

- **Lexicon** (caption word -> the classes it may name). ``captioner``: the synthetic
  captioner's noun table (``NOUNS`` of ``data/datasets/synthetic/caption_words.py``; "bike" names
  bike or motorcycle, "person" man or woman, "house" building; place words such as "park" name
  nothing). ``exact``: a word names the class of the same name (SGB's VG caption file has no
  such table: "man" names man, "guy" nothing). ``choose_lexicon`` takes ``captioner`` when
  every image class is a class of the captioner and every caption entity word is one of its
  lemmas (the synthetic benchmark), ``exact`` otherwise (VG).
- **Named content** of a query (the union of its captions): the *class constraints*, one per
  distinct set of classes a caption entity word may name (a graph meets one when it has any of
  those classes), and the *pair constraints*, one per caption relation whose two words both name
  classes (met when the graph has a relation from any of the subject's to any of the object's
  classes, in that order).
- **Score** (``overlap_scores``): constraints a gallery graph meets (class constraints, plus
  pair constraints with ``with_pairs``), minus ``classes / (1 + most classes in a graph)``: of
  two graphs meeting as many, the one with fewer classes ranks first (it meets them less by
  chance); a secondary key, it never outweighs one constraint.
- **Ceiling** (``consistency_matrix``): a gallery image is consistent with a query when it meets
  every constraint that the query's own image meets (a constraint the true image misses, e.g. a
  place word naming an unannotated ground, is caption noise and dropped). The true image is
  always consistent; ranking the ``c`` consistent images first in uniformly random order gives
  R@K = min(1, K / c) per query: no ranker that uses only the named classes (and pairs) and
  ranks the true image no worse than other consistent ones can expect more.

R@K of a score with ties is the expectation under uniform tie-breaking (``uniform_tie_recall``),
from the ranks of ``metrics.true_image_ranks`` with both tie rules. The gallery is the first N
images with a caption relation, as the retrieval tests take it.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.data.datasets.synthetic.caption_words import NOUNS, PLACE_WORDS
from maskrcnn_benchmark.utils.atomic_json import write_json_atomic

from .data import has_caption_relation
from .metrics import recall_at_k, true_image_ranks
from .retrieval_file import RetrievalItem, Vocabulary, read_retrieval_file

__all__ = ["LEXICONS", "NamedContent", "choose_lexicon", "word_classes", "named_content",
           "graph_content", "overlap_scores", "consistency_matrix", "uniform_tie_recall",
           "caption_ceiling", "format_ceiling", "ceiling_of_file", "DEFAULT_KS"]

logger = logging.getLogger(__name__)

LEXICONS = ("captioner", "exact")
DEFAULT_KS = (1, 5, 20, 100)
Pair = tuple[str, str]


@dataclass(frozen=True)
class NamedContent:
    """A query's class constraints (sets of classes) and pair constraints (sets of pairs)."""

    classes: frozenset[frozenset[str]]
    pairs: frozenset[frozenset[Pair]]


def _captioner_classes() -> dict[str, set[str]]:
    classes: dict[str, set[str]] = {}
    for name, nouns in NOUNS.items():
        for _, _, lemma, _ in nouns:
            classes.setdefault(lemma, set()).add(name)
    return classes


def choose_lexicon(vocabulary: Vocabulary) -> str:
    """``captioner`` for a synthetic retrieval file (its words are the captioner's), else
    ``exact``."""
    lemmas = set(_captioner_classes()) | {w[2] for words in PLACE_WORDS.values() for w in words}
    synthetic = (set(vocabulary.image_entities) <= set(NOUNS)
                 and set(vocabulary.text_entities) <= lemmas)
    return "captioner" if synthetic else "exact"


def word_classes(lexicon: str, image_classes: Sequence[str]) -> dict[str, frozenset[str]]:
    """Caption word -> the image classes it may name (words naming none are absent)."""
    if lexicon not in LEXICONS:
        raise ValueError(f"lexicon must be one of {LEXICONS}, got {lexicon!r}")
    known = set(image_classes)
    if lexicon == "exact":
        return {name: frozenset((name,)) for name in known}
    table = {word: frozenset(classes & known) for word, classes in _captioner_classes().items()}
    return {word: classes for word, classes in table.items() if classes}


def named_content(captions: Sequence[TextGraph], lexicon: Mapping[str, frozenset[str]]
                  ) -> NamedContent:
    """The class and pair constraints named by an image's captions."""
    classes, pairs = set(), set()
    for caption in captions:
        named = [lexicon.get(word) for word in caption.entities]
        classes.update(c for c in named if c)
        for subject, obj, _ in caption.relations:
            if named[subject] and named[obj]:
                pairs.add(frozenset((a, b) for a in named[subject] for b in named[obj]))
    return NamedContent(frozenset(classes), frozenset(pairs))


def graph_content(graph: TextGraph) -> tuple[frozenset[str], frozenset[Pair]]:
    """An image graph's classes and (subject class, object class) pairs of its relations."""
    return (frozenset(graph.entities),
            frozenset((graph.entities[s], graph.entities[o]) for s, o, _ in graph.relations))


def _met(constraints: frozenset[frozenset], present: frozenset) -> int:
    return sum(1 for options in constraints if options & present)


def _class_count_key(items: Sequence[RetrievalItem]) -> Tensor:
    """[gallery] classes / (1 + most classes in a graph): below 1, fewer classes -> smaller."""
    counts = torch.tensor([len(set(it.image_graph.entities)) for it in items], dtype=torch.float64)
    return counts / (1 + counts.max()) if len(counts) else counts


def overlap_scores(items: Sequence[RetrievalItem], lexicon: Mapping[str, frozenset[str]],
                   with_pairs: bool = False) -> Tensor:
    """[queries, gallery] no-learning scores: constraints met, minus a class-count tie key."""
    named = [named_content(it.captions, lexicon) for it in items]
    graphs = [graph_content(it.image_graph) for it in items]
    met = torch.zeros(len(items), len(items), dtype=torch.float64)
    for q, query in enumerate(named):  # row by row: no Python list of N x N numbers
        met[q] = torch.tensor([_met(query.classes, classes)
                               + (_met(query.pairs, pairs) if with_pairs else 0)
                               for classes, pairs in graphs], dtype=torch.float64)
    return met - _class_count_key(items)


def consistency_matrix(items: Sequence[RetrievalItem], lexicon: Mapping[str, frozenset[str]],
                       with_pairs: bool = False) -> Tensor:
    """[queries, gallery] bool: the gallery graph meets every constraint the true graph meets."""
    graphs = [graph_content(it.image_graph) for it in items]
    consistent = torch.zeros(len(items), len(items), dtype=torch.bool)
    for q, item in enumerate(items):
        query = named_content(item.captions, lexicon)
        own_classes, own_pairs = graphs[q]
        classes = [c for c in query.classes if c & own_classes]
        pairs = [p for p in query.pairs if p & own_pairs] if with_pairs else []
        consistent[q] = torch.tensor([all(c & g_classes for c in classes)
                                      and all(p & g_pairs for p in pairs)
                                      for g_classes, g_pairs in graphs], dtype=torch.bool)
    return consistent


def uniform_tie_recall(scores: Tensor, ks: Sequence[int]) -> dict[str, dict[int, float]]:
    """Expected R@K when ties are broken uniformly at random, and its two bounds."""
    higher = true_image_ranks(scores, "optimistic")  # gallery images scored above the true one
    at_least = true_image_ranks(scores, "pessimistic")  # ... plus those tied with it
    tied = (at_least - higher).double()
    expected = {int(k): float(((k - higher.double()) / (tied + 1)).clamp(0, 1).mean())
                for k in ks}
    return {"expected": expected, "optimistic": recall_at_k(higher, ks),
            "pessimistic": recall_at_k(at_least, ks)}


def _summary(counts: Tensor, ks: Sequence[int]) -> dict[str, Any]:
    values = counts.tolist()
    return {"median_consistent": float(statistics.median(values)),
            "mean_consistent": float(statistics.mean(values)),
            "share_more_than_k": {str(k): float((counts > k).double().mean()) for k in ks}}


def caption_ceiling(items: Sequence[RetrievalItem], lexicon: str,
                    ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """Scores and ceilings (classes; classes + pairs) of a gallery whose query i is image i."""
    if not items:
        raise ValueError("the gallery is empty: the retrieval input has no image with a "
                         "caption relation")
    classes = sorted({c for it in items for c in it.image_graph.entities})
    words = word_classes(lexicon, classes)
    named = [named_content(it.captions, words) for it in items]
    result: dict[str, Any] = {
        "lexicon": lexicon, "gallery_size": len(items), "ks": [int(k) for k in ks],
        "chance": {str(k): min(k, len(items)) / len(items) for k in ks},
        "queries_naming_no_class": sum(1 for n in named if not n.classes),
        "mean_class_constraints": statistics.mean(len(n.classes) for n in named),
        "mean_pair_constraints": statistics.mean(len(n.pairs) for n in named),
        "mean_image_classes": statistics.mean(len(set(it.image_graph.entities)) for it in items)}
    for name, with_pairs in (("classes", False), ("classes_pairs", True)):
        recall = uniform_tie_recall(overlap_scores(items, words, with_pairs), ks)
        result[f"score_{name}"] = {kind: {str(k): v for k, v in r.items()}
                                   for kind, r in recall.items()}
        consistent = consistency_matrix(items, words, with_pairs)
        ceiling = uniform_tie_recall(consistent.double(), ks)["expected"]
        fewest = uniform_tie_recall(2 * consistent.double() - _class_count_key(items),
                                    ks)["expected"]
        result[f"ceiling_{name}"] = {
            "recall": {str(k): v for k, v in ceiling.items()},
            "recall_fewest_classes_first": {str(k): v for k, v in fewest.items()},
            **_summary(consistent.sum(dim=1), ks)}
    return result


def format_ceiling(result: Mapping[str, Any]) -> str:
    """A text table: R@K (%) of both scores, both ceilings and chance."""
    ks = [str(k) for k in result["ks"]]
    rows = ["                               | " + " | ".join(f"R@{k:>3}" for k in ks)
            + " | median consistent"]
    lines = [("score: classes", result["score_classes"]["expected"], None),
             ("score: classes + pairs", result["score_classes_pairs"]["expected"], None),
             ("ceiling: classes", result["ceiling_classes"]["recall"],
              result["ceiling_classes"]["median_consistent"]),
             ("  the same, fewest classes 1st",
              result["ceiling_classes"]["recall_fewest_classes_first"], None),
             ("ceiling: classes + pairs", result["ceiling_classes_pairs"]["recall"],
              result["ceiling_classes_pairs"]["median_consistent"]),
             ("  the same, fewest classes 1st",
              result["ceiling_classes_pairs"]["recall_fewest_classes_first"], None),
             ("chance", result["chance"], None)]
    for label, recall, median in lines:
        rows.append(f"{label:<30} | " + " | ".join(f"{100 * recall[k]:5.1f}" for k in ks)
                    + (f" | {median:g}" if median is not None else " |"))
    return "\n".join(rows)


def ceiling_of_file(path: str, gallery: int = 1000, out: str | None = None,
                    ks: Sequence[int] = DEFAULT_KS) -> dict[str, Any]:
    """Run ``caption_ceiling`` on the first ``gallery`` usable images of a retrieval input, log
    the table and write the JSON (default ``<file stem>_ceiling.json`` beside it)."""
    if gallery <= 0 or any(k <= 0 for k in ks):
        raise ValueError(f"--gallery and the Ks must be positive, got {gallery} and {list(ks)}")
    data = read_retrieval_file(path)
    usable = [it for it in data.items if has_caption_relation(it)]
    items = usable[:gallery]
    lexicon = choose_lexicon(data.vocabulary)
    result = caption_ceiling(items, lexicon, ks)
    result.update({"file": path, "source": data.source, "requested_size": int(gallery),
                   "usable_images": len(usable)})
    out = out or os.path.splitext(path)[0] + "_ceiling.json"
    write_json_atomic(out, result, indent=1)
    logger.info("Caption-information ceiling of %s (%s graphs): gallery %d of %d images with a "
                "caption relation, lexicon %s, %d queries name no class; R@K in %%, expected "
                "under uniform tie-breaking:\n%s\nsaved to %s", path, data.source or "?",
                len(items), len(usable), lexicon, result["queries_naming_no_class"],
                format_ceiling(result), out)
    return result
