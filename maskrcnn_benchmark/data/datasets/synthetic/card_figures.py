"""Figures of the dataset card: the predicate-frequency plot and example images with their
ground-truth scene graphs drawn on them (through maskrcnn_benchmark.visualization)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from maskrcnn_benchmark.visualization import compose_panels, draw_scene_graph

from ..vg_format import IMAGE_DIR_NAME
from .records import SyntheticImage

__all__ = ["plot_predicate_frequency", "draw_examples", "pick_examples"]


def plot_predicate_frequency(path: str, predicates: Sequence[str], counts: np.ndarray) -> None:
    """Bar chart (log scale) of train relation counts per predicate, most frequent first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-counts[1:], kind="stable")
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    ax.bar(range(len(order)), counts[1:][order], color="#3b6ea5")
    ax.set_yscale("log")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([predicates[i] for i in order], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("train relations")
    ax.set_title("Predicate frequency (train split)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def pick_examples(images: Sequence[SyntheticImage], count: int = 4) -> list[SyntheticImage]:
    """The first images of distinct scene kinds with at least five relations."""
    chosen, kinds = [], set()
    for image in images:
        if image.scene.kind not in kinds and len(image.relations) >= 5:
            chosen.append(image)
            kinds.add(image.scene.kind)
        if len(chosen) == count:
            break
    return chosen


def _example_panel(image: SyntheticImage, pixels: Image.Image) -> Image.Image:
    """The example drawn through the visualisation package: boxes of the objects in relations
    (numbered as in the annotation), the relation list and the graph diagram."""
    objects = image.scene.objects
    used = sorted({i for s, o, _ in image.relations for i in (s, o)})
    position = {i: k for k, i in enumerate(used)}
    return draw_scene_graph(
        pixels, np.array([objects[i].box for i in used], dtype=np.float64).reshape(-1, 4),
        [objects[i].name for i in used],
        [(position[s], position[o], p) for s, o, p in image.relations],
        box_ids=used, max_side=2 * max(pixels.size),
        title=f"{image.image_id}.jpg ({image.scene.kind}): ground-truth scene graph")


def draw_examples(path: str, out_dir: str, examples: Sequence[SyntheticImage]) -> None:
    """Sheet of the examples as written to disk, each with its boxes, the list of its
    ground-truth relations and the graph diagram (maskrcnn_benchmark.visualization)."""
    panels = []
    for image in examples:
        with Image.open(os.path.join(out_dir, IMAGE_DIR_NAME, f"{image.image_id}.jpg")) as im:
            panels.append(_example_panel(image, im.convert("RGB")))
    compose_panels(panels, columns=1).save(path)
