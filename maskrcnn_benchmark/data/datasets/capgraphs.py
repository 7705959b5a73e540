"""SGB's caption-graph file (``vg_capgraphs_anno.json``): captions and their text scene graphs.

The file the sentence-to-graph retrieval reads (SGB's ``capgraphs_file``, by default beside the
VG150 h5). One JSON object with the keys SGB's ``image_retrieval`` code uses:

- ``vg_valids``, ``vg_coco_ids``, ``vg_image_ids``: lists aligned with the h5's image rows:
  whether the image has captions (0/1), its caption id (a COCO id on VG; the image id on the
  synthetic benchmark) and its VG image id.
- ``idx_to_meta_predicate``: ``{"<predicate id>": word}``, the image-side predicate word of
  each VG150 predicate id.
- ``cap_category``, ``cap_predicate``: ``{word: count}``; their keys are the text vocabularies.
- ``vg_coco_id_to_capgraphs``: ``{"<caption id>": [graph, ...]}``, one text graph per caption,
  ``{"entities": [lemma, ...], "relations": [[subject index, object index, predicate], ...]}``
  (indices into that caption's ``entities``), as a scene-graph parser gives them.
- ``vg_coco_id_to_caps``: ``{"<caption id>": [caption, ...]}``, the raw sentences.

Other keys (the synthetic benchmark writes ``synthetic``: how the captions were made) are kept
in ``extra`` and ignored by SGB's code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from maskrcnn_benchmark.utils.atomic_json import write_json_atomic

__all__ = ["CAPGRAPHS_NAME", "TextGraph", "CaptionGraphs", "read_capgraphs", "write_capgraphs",
           "CaptionGraphsError"]

CAPGRAPHS_NAME = "vg_capgraphs_anno.json"
_LIST_KEYS = ("vg_valids", "vg_coco_ids", "vg_image_ids")
_MAP_KEYS = ("idx_to_meta_predicate", "cap_category", "cap_predicate",
             "vg_coco_id_to_capgraphs", "vg_coco_id_to_caps")


class CaptionGraphsError(ValueError):
    """A caption-graph file that cannot be used; the message names the file and the problem."""


@dataclass
class TextGraph:
    """One caption's graph: entity words and (subject index, object index, predicate) rows."""

    entities: list[str]
    relations: list[tuple[int, int, str]]

    def to_json(self) -> dict[str, Any]:
        """SGB's ``{"entities", "relations"}`` form."""
        return {"entities": list(self.entities),
                "relations": [[int(s), int(o), str(p)] for s, o, p in self.relations]}


@dataclass
class CaptionGraphs:
    """The content of a caption-graph file."""

    image_ids: list[int]
    caption_ids: list[int]
    valids: list[int]
    meta_predicates: dict[int, str]
    categories: dict[str, int]
    predicates: dict[str, int]
    graphs: dict[str, list[TextGraph]]
    captions: dict[str, list[str]]
    extra: dict[str, Any] = field(default_factory=dict)

    def caption_id_of(self) -> dict[int, int]:
        """Image id -> caption id of every image marked valid."""
        return {image: caption for image, caption, valid
                in zip(self.image_ids, self.caption_ids, self.valids) if valid}

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        out: dict[str, Any] = {
            "vg_valids": [int(v) for v in self.valids],
            "vg_coco_ids": [int(c) for c in self.caption_ids],
            "vg_image_ids": [int(i) for i in self.image_ids],
            "idx_to_meta_predicate": {str(k): v for k, v in sorted(self.meta_predicates.items())},
            "cap_category": dict(self.categories),
            "cap_predicate": dict(self.predicates),
            "vg_coco_id_to_capgraphs": {k: [g.to_json() for g in graphs]
                                        for k, graphs in self.graphs.items()},
            "vg_coco_id_to_caps": {k: list(v) for k, v in self.captions.items()},
        }
        out.update(self.extra)
        return out


def _graph(raw: Any, path: str, key: str) -> TextGraph:
    if not isinstance(raw, dict) or "entities" not in raw or "relations" not in raw:
        raise CaptionGraphsError(f"{path}: vg_coco_id_to_capgraphs['{key}'] holds an entry "
                                 "without 'entities' and 'relations'")
    entities = [str(e) for e in raw["entities"]]
    relations = []
    for row in raw["relations"]:
        if len(row) != 3 or not all(isinstance(i, int) and 0 <= i < len(entities)
                                    for i in row[:2]):
            raise CaptionGraphsError(
                f"{path}: vg_coco_id_to_capgraphs['{key}'] has the relation {row}, which is not "
                f"[subject index, object index, predicate] over its {len(entities)} entities")
        relations.append((int(row[0]), int(row[1]), str(row[2])))
    return TextGraph(entities, relations)


def read_capgraphs(path: str) -> CaptionGraphs:
    """Read and check a caption-graph file (SGB's download or ``tools/image_retrieval.py
    captions`` output)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Caption-graph file {path} not found: on the synthetic benchmark write it with "
            "`python tools/image_retrieval.py captions --data-dir <dataset folder>`; on VG "
            "download SGB's vg_capgraphs_anno.json (docs/RETRIEVAL.md), or set "
            "RETRIEVAL.CAPTIONS_FILE")
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CaptionGraphsError(f"{path} is not a readable JSON file ({err}); write or "
                                 "download it again") from None
    if not isinstance(raw, dict):
        raise CaptionGraphsError(f"{path} must hold a JSON object (SGB's caption-graph layout)")
    missing = [k for k in _LIST_KEYS + _MAP_KEYS if k not in raw]
    if missing:
        raise CaptionGraphsError(f"{path} lacks the key(s) {missing} of SGB's caption-graph "
                                 "layout (docs/RETRIEVAL.md)")
    lengths = {k: len(raw[k]) for k in _LIST_KEYS}
    if len(set(lengths.values())) != 1:
        raise CaptionGraphsError(f"{path}: vg_valids, vg_coco_ids and vg_image_ids must be "
                                 f"aligned lists, got lengths {lengths}")
    try:
        meta = {int(k): str(v) for k, v in raw["idx_to_meta_predicate"].items()}
    except ValueError:
        raise CaptionGraphsError(f"{path}: idx_to_meta_predicate keys must be predicate ids "
                                 "('1', '2', ...)") from None
    graphs = {str(k): [_graph(g, path, str(k)) for g in v]
              for k, v in raw["vg_coco_id_to_capgraphs"].items()}
    return CaptionGraphs(
        image_ids=[int(i) for i in raw["vg_image_ids"]],
        caption_ids=[int(c) for c in raw["vg_coco_ids"]],
        valids=[int(v) for v in raw["vg_valids"]],
        meta_predicates=meta,
        categories={str(k): int(v) for k, v in raw["cap_category"].items()},
        predicates={str(k): int(v) for k, v in raw["cap_predicate"].items()},
        graphs=graphs,
        captions={str(k): [str(c) for c in v] for k, v in raw["vg_coco_id_to_caps"].items()},
        extra={k: v for k, v in raw.items() if k not in _LIST_KEYS + _MAP_KEYS},
    )


def write_capgraphs(path: str, data: CaptionGraphs) -> None:
    """Write ``data`` as a caption-graph file (to a temporary name, then renamed)."""
    write_json_atomic(path, data.to_json())
