"""GQA scene graphs (train_sceneGraphs.json / val_sceneGraphs.json) -> the VG150 files.

The official files map image id -> ``{width, height, objects: {object id: {name, x, y, w, h,
attributes, relations: [{object, name}]}}}``. Presets:

- ``paper``: every object and predicate name (the EBM paper reports 1704 object / 311
  predicate classes with background) and a 70/30 train/test split of the pooled images;
- ``gqa200``: the 200 most frequent object and 100 most frequent predicate names, same split.

The split is a seeded permutation of the sorted image ids, so it is reproducible; validation
is the loader's carve-out (DATASETS.NUM_VAL_IM, 5000) from the start of the train images.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence

import numpy as np

from .scene_graph_convert import TEST, TRAIN, SceneGraphImage, convert_scene_graphs

__all__ = ["GQA_PRESETS", "load_gqa_scene_graphs", "convert_gqa"]

logger = logging.getLogger(__name__)

GQA_PRESETS = {
    "paper": {"num_objects": None, "num_predicates": None},
    "gqa200": {"num_objects": 200, "num_predicates": 100},
}


def _clean(name: str) -> str:
    return " ".join(str(name).lower().split())


def _parse_image(key: str, graph: dict, source: str) -> SceneGraphImage:
    for field_name in ("width", "height", "objects"):
        if field_name not in graph:
            raise ValueError(f"{source}: image {key} has no '{field_name}'; expected the "
                             "official GQA scene-graph format")
    image = SceneGraphImage(key=key, file_name=f"{key}.jpg", width=int(graph["width"]),
                            height=int(graph["height"]), split=TRAIN)
    object_ids = sorted(graph["objects"])  # sorted: the output must not depend on dict order
    index = {oid: i for i, oid in enumerate(object_ids)}
    for oid in object_ids:
        obj = graph["objects"][oid]
        try:
            x, y, w, h = (float(obj[k]) for k in ("x", "y", "w", "h"))
            name = obj["name"]
        except KeyError as err:
            raise ValueError(f"{source}: object {oid} of image {key} lacks {err}") from None
        image.boxes.append((x, y, x + w, y + h))  # VG's convention: x2 = x + w
        image.names.append(_clean(name))
        image.attributes.append([_clean(a) for a in obj.get("attributes", [])])
        for rel in _relations(obj, f"{source}: object {oid} of image {key}"):
            target = index.get(str(rel["object"]))
            if target is not None and target != index[oid]:
                image.relations.append((index[oid], target, _clean(rel["name"])))
    return image


def _relations(obj: dict, where: str) -> list[dict]:
    """An object's outgoing relations: the files' list, or the relation-id dict of GQA's
    format description; each needs 'name' and 'object'."""
    relations = obj.get("relations", [])
    if isinstance(relations, dict):
        relations = [relations[k] for k in sorted(relations)]
    if not isinstance(relations, list):
        raise ValueError(f"{where}: 'relations' must be a list of {{name, object}}; got "
                         f"{type(relations).__name__}")
    for rel in relations:
        if not isinstance(rel, dict) or "name" not in rel or "object" not in rel:
            raise ValueError(f"{where}: relation {rel!r} lacks 'name' or 'object' (official "
                             "GQA format: {\"name\": predicate, \"object\": target object id})")
    return relations


def load_gqa_scene_graphs(paths: Sequence[str]) -> list[SceneGraphImage]:
    """Parse and pool official GQA scene-graph files, images sorted by id."""
    pooled: dict[str, SceneGraphImage] = {}
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"GQA scene-graph file not found: {path}")
        with open(path) as f:
            graphs = json.load(f)
        if not isinstance(graphs, dict):
            raise ValueError(f"{path} must map image ids to scene graphs (official GQA format)")
        for key, graph in graphs.items():
            pooled[str(key)] = _parse_image(str(key), graph, path)
    return [pooled[key] for key in sorted(pooled)]


def convert_gqa(scene_graph_files: Sequence[str], out_dir: str, preset: str = "paper",
                image_dir: str | None = None, train_fraction: float = 0.7,
                seed: int = 0) -> dict:
    """Convert GQA scene graphs into VG150 files in ``out_dir``; return the summary."""
    if preset not in GQA_PRESETS:
        raise ValueError(f"Unknown GQA preset {preset!r}; choose one of {sorted(GQA_PRESETS)}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    images = load_gqa_scene_graphs(scene_graph_files)
    order = np.random.RandomState(seed).permutation(len(images))
    num_train = int(round(train_fraction * len(images)))
    ordered = [images[i] for i in order]
    for position, image in enumerate(ordered):
        image.split = TRAIN if position < num_train else TEST
    if image_dir is not None:
        missing = sum(not os.path.isfile(os.path.join(image_dir, im.file_name)) for im in images)
        if missing:
            logger.warning("%d of %d GQA images are missing from %s; loading them will fail",
                           missing, len(images), image_dir)
    return convert_scene_graphs(ordered, out_dir, image_dir=image_dir, **GQA_PRESETS[preset])
