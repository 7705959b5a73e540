"""Figures of the dataset card: the predicate-frequency plot and example images with their
ground-truth scene graphs drawn on them."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..vg_format import IMAGE_DIR_NAME
from .records import SyntheticImage

__all__ = ["plot_predicate_frequency", "draw_examples", "pick_examples"]

_COLORS = ((230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
           (0, 128, 128), (170, 110, 40), (128, 0, 0), (0, 0, 128), (128, 128, 0))


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


def _panel(image: SyntheticImage, pixels: Image.Image, scale: int,
           font: ImageFont.ImageFont) -> Image.Image:
    objs = image.scene.objects
    big = pixels.resize((pixels.width * scale, pixels.height * scale), Image.NEAREST)
    used = sorted({i for s, o, _ in image.relations for i in (s, o)})
    color = {i: _COLORS[k % len(_COLORS)] for k, i in enumerate(used)}
    lines = [f"{s}:{objs[s].name} -{p}-> {o}:{objs[o].name}" for s, o, p in image.relations]
    text_w = 12 + max(int(font.getlength(t)) for t in lines)
    panel = Image.new("RGB", (big.width + text_w, max(big.height, 16 * len(lines) + 12)),
                      (255, 255, 255))
    panel.paste(big, (0, 0))
    draw = ImageDraw.Draw(panel)
    for i in used:
        x1, y1, x2, y2 = (c * scale for c in objs[i].box)
        draw.rectangle((x1, y1, x2 + scale - 1, y2 + scale - 1), outline=color[i], width=2)
        draw.text((x1 + 3, y1 + 2), f"{i}:{objs[i].name}", fill=color[i], font=font,
                  stroke_width=2, stroke_fill=(0, 0, 0))
    for s, o, _ in image.relations:
        a = [(objs[s].box[0] + objs[s].box[2]) / 2 * scale,
             (objs[s].box[1] + objs[s].box[3]) / 2 * scale]
        b = [(objs[o].box[0] + objs[o].box[2]) / 2 * scale,
             (objs[o].box[1] + objs[o].box[3]) / 2 * scale]
        draw.line(a + b, fill=color[s], width=2)
        draw.ellipse((b[0] - 4, b[1] - 4, b[0] + 4, b[1] + 4), fill=color[s])
    for k, text in enumerate(lines):
        draw.text((big.width + 8, 6 + 16 * k), text, fill=color[image.relations[k][0]],
                  font=font, stroke_width=1, stroke_fill=(90, 90, 90))
    return panel


def draw_examples(path: str, out_dir: str, examples: Sequence[SyntheticImage]) -> None:
    """Grid of the examples as written to disk, with boxes, arrows (subject -> object) and the
    list of ground-truth relations next to each image."""
    font = ImageFont.load_default(size=13)
    panels = []
    for image in examples:
        with Image.open(os.path.join(out_dir, IMAGE_DIR_NAME, f"{image.image_id}.jpg")) as im:
            panels.append(_panel(image, im.convert("RGB"), 2, font))
    width = max(p.width for p in panels)
    sheet = Image.new("RGB", (width, sum(p.height + 8 for p in panels)), (255, 255, 255))
    y = 0
    for p in panels:
        sheet.paste(p, (0, y))
        y += p.height + 8
    sheet.save(path)
