"""The synthetic data set in the official GQA scene-graph format (input of tools/convert_gqa.py).

Layout of ``out_dir`` (as the GQA downloads unpack):

- ``sceneGraphs/train_sceneGraphs.json`` and ``sceneGraphs/val_sceneGraphs.json``: image id ->
  ``{width, height, location, weather, objects: {object id: {name, x, y, w, h, attributes,
  relations: [{name, object}]}}}``; boxes follow GQA / VG (x2 = x + w);
- ``images/{image id}.jpg``;
- ``synthetic_gqa.json``: preset, seed, generator version and the counts written.

Image i shows the same picture as image i of the VG150-style data set with the same seed; its
annotation (``gqa_annotation``) has its own vocabulary and denser graphs. The images of the
compose split 0 go to the train file, those of split 2 to the val file. Every image is
synthesised from generators seeded by (seed, index), so the output does not depend on the
number of worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass

from .generate import render_chunk as render_vg_chunk
from .generate import check_first_image, preset_size, render_images
from .gqa_annotation import GQAImage, annotate_gqa
from .records import TEST_SPLIT, synthesize_image

__all__ = ["GQA_META_NAME", "SCENE_GRAPH_DIR", "TRAIN_SCENE_GRAPHS", "VAL_SCENE_GRAPHS",
           "GQA_IMAGE_DIR", "GQAGenerationResult", "synthesize_gqa_images", "gqa_scene_graph",
           "object_id", "generate_gqa_dataset"]

logger = logging.getLogger(__name__)

GQA_META_NAME = "synthetic_gqa.json"
GQA_GENERATOR_VERSION = 1
SCENE_GRAPH_DIR = "sceneGraphs"
TRAIN_SCENE_GRAPHS = "train_sceneGraphs.json"
VAL_SCENE_GRAPHS = "val_sceneGraphs.json"
GQA_IMAGE_DIR = "images"
_OWN = {SCENE_GRAPH_DIR, GQA_IMAGE_DIR, GQA_META_NAME}
_MAX_OBJECTS_PER_IMAGE = 1000  # object ids are image_id * 1000 + index (same digit count)


@dataclass
class GQAGenerationResult:
    """Where the files went, how long it took and what they hold."""

    out_dir: str
    num_images: int
    seconds: float
    counts: dict


def synthesize_gqa_images(seed: int, num_images: int, test_fraction: float) -> list[GQAImage]:
    """The GQA-style annotations of a data set without rendering pixels."""
    return [annotate_gqa(synthesize_image(seed, i, test_fraction), seed)
            for i in range(num_images)]


def object_id(image_id: int, index: int) -> str:
    """The GQA object id of object ``index`` of an image (its position after sorting by id)."""
    return str(image_id * _MAX_OBJECTS_PER_IMAGE + index)


def gqa_scene_graph(image: GQAImage) -> dict:
    """The official-format entry of one image."""
    if len(image.objects) >= _MAX_OBJECTS_PER_IMAGE:
        raise ValueError(f"image {image.image_id} has {len(image.objects)} objects; object ids "
                         f"allow {_MAX_OBJECTS_PER_IMAGE - 1}")
    objects = {}
    for k, obj in enumerate(image.objects):
        x1, y1, x2, y2 = obj.box
        objects[object_id(image.image_id, k)] = {
            "name": obj.name, "x": int(x1), "y": int(y1), "w": int(x2 - x1),
            "h": int(y2 - y1), "attributes": list(obj.attributes), "relations": []}
    for s, o, word in image.relations:
        objects[object_id(image.image_id, s)]["relations"].append(
            {"name": word, "object": object_id(image.image_id, o)})
    return {"width": image.width, "height": image.height, "location": image.location,
            "weather": None, "objects": objects}


def _render_chunk(task: tuple[int, list[int], float, str]) -> list[GQAImage]:
    """The VG150 writer's rendering of a chunk, annotated GQA-style."""
    return [annotate_gqa(image, task[0]) for image in render_vg_chunk(task)]


def _prepare(out_dir: str) -> str:
    """Create ``out_dir`` (or reuse one holding an earlier GQA-format synthetic set)."""
    entries = os.listdir(out_dir) if os.path.isdir(out_dir) else []
    if entries:
        foreign = sorted(e for e in entries if e not in _OWN)
        if foreign or GQA_META_NAME not in entries:
            raise FileExistsError(
                f"{out_dir} is not empty and does not hold a GQA-format synthetic data set "
                f"(found {foreign[:5] if foreign else 'no ' + GQA_META_NAME}); choose an empty "
                "or new --out")
    image_dir = os.path.join(out_dir, GQA_IMAGE_DIR)
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.join(out_dir, SCENE_GRAPH_DIR), exist_ok=True)
    for name in os.listdir(image_dir):
        if name.endswith(".jpg"):
            os.remove(os.path.join(image_dir, name))
    return image_dir


def _counts(images: list[GQAImage]) -> dict:
    names = Counter(obj.name for im in images for obj in im.objects)
    words = Counter(word for im in images for _, _, word in im.relations)
    num = max(len(images), 1)
    return {
        "train_images": sum(im.split != TEST_SPLIT for im in images),
        "val_images": sum(im.split == TEST_SPLIT for im in images),
        "objects": sum(names.values()), "relations": sum(words.values()),
        "object_names": len(names), "predicate_names": len(words),
        "objects_per_image": round(sum(names.values()) / num, 2),
        "relations_per_image": round(sum(words.values()) / num, 2),
    }


def generate_gqa_dataset(out_dir: str, preset: str = "small", seed: int = 0,
                         workers: int | None = None, num_images: int | None = None,
                         first_image: int = 0) -> GQAGenerationResult:
    """Write the GQA-format scene graphs and images of the synthetic benchmark into ``out_dir``
    (images ``first_image`` .. of the seed's stream, as ``generate_dataset``)."""
    spec, count = preset_size(preset, num_images)
    first_image = check_first_image(first_image)
    start = time.perf_counter()
    image_dir = _prepare(out_dir)
    images = render_images(_render_chunk, seed, count, spec.test_fraction, image_dir, workers,
                           first_image)
    for file_name, in_file in ((TRAIN_SCENE_GRAPHS, lambda im: im.split != TEST_SPLIT),
                               (VAL_SCENE_GRAPHS, lambda im: im.split == TEST_SPLIT)):
        graphs = {str(im.image_id): gqa_scene_graph(im) for im in images if in_file(im)}
        with open(os.path.join(out_dir, SCENE_GRAPH_DIR, file_name), "w") as f:
            json.dump(graphs, f)
    counts = _counts(images)
    with open(os.path.join(out_dir, GQA_META_NAME), "w") as f:
        json.dump({"generator_version": GQA_GENERATOR_VERSION, "format": "gqa",
                   "preset": preset, "seed": seed, "num_images": count,
                   "first_image": first_image, "test_fraction": spec.test_fraction, **counts},
                  f, indent=1)
    seconds = time.perf_counter() - start
    logger.info("wrote %d GQA-format images (%d train, %d val) to %s in %.1f s", count,
                counts["train_images"], counts["val_images"], out_dir, seconds)
    return GQAGenerationResult(out_dir, count, seconds, counts)
