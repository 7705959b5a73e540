"""The retrieval input file (``tools/image_retrieval.py preprocess`` output).

One JSON object per split of a run (SGB writes ``sg_*.json`` with the same content, encoded):

- ``format``: ``RETRIEVAL_FORMAT``; ``source``: "predictions" or "ground_truth";
  ``datasets``: the catalog names; ``captions_file``, ``predictions_files``, ``obj_threshold``,
  ``top_k``: where the graphs came from.
- ``image_vocabulary`` / ``text_vocabulary``: ``{"entities": [...], "predicates": [...]}``, the
  words of the image graphs (class names, the caption file's ``idx_to_meta_predicate`` words)
  and of the text graphs (the caption file's ``cap_category`` / ``cap_predicate`` keys).
- ``items``: in data set order, per image with captions ``{"key": caption id, "image_id",
  "image_graph": graph, "captions": [graph, ...]}``; a graph is ``{"entities": [word, ...],
  "relations": [[subject index, object index, predicate word], ...]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from maskrcnn_benchmark.data.datasets.capgraphs import TextGraph
from maskrcnn_benchmark.utils.atomic_json import write_json_atomic

__all__ = ["RETRIEVAL_FORMAT", "RetrievalItem", "RetrievalFile", "write_retrieval_file",
           "read_retrieval_file", "Vocabulary"]

RETRIEVAL_FORMAT = "sgg-ebm-s2g-graphs-v1"


@dataclass(frozen=True)
class Vocabulary:
    """Entity and predicate words of both sides (ids are 1 + position; 0 = unknown word)."""

    image_entities: tuple[str, ...]
    image_predicates: tuple[str, ...]
    text_entities: tuple[str, ...]
    text_predicates: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The two ``*_vocabulary`` entries of the file."""
        return {"image_vocabulary": {"entities": list(self.image_entities),
                                     "predicates": list(self.image_predicates)},
                "text_vocabulary": {"entities": list(self.text_entities),
                                    "predicates": list(self.text_predicates)}}


@dataclass
class RetrievalItem:
    """One image: its caption id, image id, scene graph and its captions' text graphs."""

    key: str
    image_id: int
    image_graph: TextGraph
    captions: list[TextGraph]


@dataclass
class RetrievalFile:
    """The content of a retrieval input file."""

    source: str
    vocabulary: Vocabulary
    items: list[RetrievalItem]
    info: dict[str, Any] = field(default_factory=dict)


def write_retrieval_file(path: str, data: RetrievalFile) -> None:
    """Write ``data`` (temporary name, then renamed: a crash never leaves half a file)."""
    payload = {"format": RETRIEVAL_FORMAT, "source": data.source, **data.info,
               **data.vocabulary.to_json(),
               "items": [{"key": it.key, "image_id": it.image_id,
                          "image_graph": it.image_graph.to_json(),
                          "captions": [c.to_json() for c in it.captions]}
                         for it in data.items]}
    write_json_atomic(path, payload)


def _read_graph(raw: Any, path: str, key: str) -> TextGraph:
    try:
        entities = [str(e) for e in raw["entities"]]
        relations = [(int(s), int(o), str(p)) for s, o, p in raw["relations"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}: item '{key}' has a graph that is not {{'entities': [...], "
                         "'relations': [[s, o, predicate], ...]}; preprocess again") from None
    if any(not (0 <= s < len(entities) and 0 <= o < len(entities)) for s, o, _ in relations):
        raise ValueError(f"{path}: item '{key}' has a relation index outside its "
                         f"{len(entities)} entities; preprocess again")
    return TextGraph(entities, relations)


def read_retrieval_file(path: str) -> RetrievalFile:
    """Read and check a retrieval input file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Retrieval input {path} not found; write it with "
                                "`python tools/image_retrieval.py preprocess` (docs/RETRIEVAL.md)")
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} cannot be read ({err}); preprocess again") from None
    if not isinstance(raw, dict) or raw.get("format") != RETRIEVAL_FORMAT:
        raise ValueError(f"{path} is not a {RETRIEVAL_FORMAT} file (tools/image_retrieval.py "
                         "preprocess writes them; SGB's sg_*.json files are not read)")
    try:
        image, text = raw["image_vocabulary"], raw["text_vocabulary"]
        vocabulary = Vocabulary(tuple(image["entities"]), tuple(image["predicates"]),
                                tuple(text["entities"]), tuple(text["predicates"]))
        items = [RetrievalItem(str(it["key"]), int(it["image_id"]),
                               _read_graph(it["image_graph"], path, str(it["key"])),
                               [_read_graph(c, path, str(it["key"])) for c in it["captions"]])
                 for it in raw["items"]]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} lacks the entry {err}; preprocess again") from None
    info = {k: v for k, v in raw.items()
            if k not in ("format", "source", "image_vocabulary", "text_vocabulary", "items")}
    return RetrievalFile(str(raw.get("source", "")), vocabulary, items, info)
