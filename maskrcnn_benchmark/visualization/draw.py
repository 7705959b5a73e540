"""``draw_scene_graph``: one picture of one scene graph on its image.

The picture, top to bottom: the title; the image (scaled so that its longer side is
``max_side``) with every given box and its ``"i:<label>"`` tag, and beside it the graph
diagram (square, see ``graph.graph_side``); the ranked list of the drawn triplets, each with the
colour of its status; the legend of the statuses shown. In pixels, with M = ``style.MARGIN``
and L = ``style.LINE_HEIGHT``: width = 2M + max(w [+ M + side], list width, legend width),
height = M [+ TITLE_HEIGHT] + max(h, side) + M [+ list rows x L + M] [+ legend rows x L + M].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .graph import draw_arrow, draw_graph, graph_side
from .style import (
    BACKGROUND,
    LINE_HEIGHT,
    MARGIN,
    RGB,
    STATUS_COLORS,
    STATUS_MEANINGS,
    TEXT_COLOR,
    check_statuses,
    load_font,
    object_color,
    text_width,
)

__all__ = ["draw_scene_graph", "select_relations", "TITLE_HEIGHT", "SWATCH"]

TITLE_HEIGHT = 22
SWATCH = 10  # side of the colour square in front of each list line and legend entry
_ITEM_GAP = 16


def select_relations(count: int, scores: Sequence[float] | None, top_k: int | None,
                     threshold: float | None) -> list[int]:
    """Indices of the relations drawn: in the given (ranked) order, score >= threshold, first K."""
    if threshold is not None and scores is None:
        raise ValueError("a score threshold needs the relation scores (scores=...)")
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    kept = [i for i in range(count) if threshold is None or scores[i] >= threshold]
    return kept if top_k is None else kept[:top_k]


def _check_inputs(boxes: np.ndarray, box_labels: Sequence[str],
                  relations: Sequence[tuple[int, int, str]], per_relation: dict) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be an [N, 4] xyxy array, got shape {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise ValueError("boxes contain NaN or inf")
    if len(box_labels) != len(boxes):
        raise ValueError(f"{len(box_labels)} box labels for {len(boxes)} boxes")
    for s, o, _ in relations:
        if not (0 <= s < len(boxes) and 0 <= o < len(boxes)):
            raise ValueError(f"relation ({s}, {o}) refers to a box outside 0..{len(boxes) - 1}")
    for name, values in per_relation.items():
        if values is not None and len(values) != len(relations):
            raise ValueError(f"{len(values)} {name} for {len(relations)} relations")


def _scaled_image(image: Image.Image, max_side: int | None) -> tuple[Image.Image, float]:
    image = image.convert("RGB")
    if not max_side:
        return image, 1.0
    factor = max_side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    resample = Image.NEAREST if factor >= 2 else Image.BILINEAR  # keep pixel art crisp
    return image.resize(size, resample), factor


def _pixel_box(box: np.ndarray, factor: float, size: tuple[int, int]) -> tuple[int, ...]:
    """Box corners in the scaled image; +1 convention: x2, y2 are the last pixels inside."""
    x1, y1 = math.floor(box[0] * factor), math.floor(box[1] * factor)
    x2, y2 = math.ceil((box[2] + 1) * factor) - 1, math.ceil((box[3] + 1) * factor) - 1
    clip = lambda v, hi: int(min(max(v, 0), hi - 1))  # noqa: E731
    return clip(x1, size[0]), clip(y1, size[1]), clip(x2, size[0]), clip(y2, size[1])


def _draw_boxes(panel: Image.Image, boxes: np.ndarray, tags: Sequence[str], factor: float,
                colors: Sequence[RGB]) -> list[tuple[int, ...]]:
    draw = ImageDraw.Draw(panel)
    font = load_font()
    rects = [_pixel_box(b, factor, panel.size) for b in boxes]
    for rect, color in zip(rects, colors):
        draw.rectangle(rect, outline=color, width=2)
    for rect, color, tag in zip(rects, colors, tags):  # tags on top of every outline
        width = text_width(font, tag) + 4
        top = rect[1] - LINE_HEIGHT if rect[1] >= LINE_HEIGHT else rect[1]
        draw.rectangle((rect[0], top, rect[0] + width, top + LINE_HEIGHT - 2), fill=color)
        light = sum(c * w for c, w in zip(color, (0.299, 0.587, 0.114))) > 150
        draw.text((rect[0] + 2, top + 1), tag, fill=(0, 0, 0) if light else (255, 255, 255),
                  font=font)
    return rects


def _draw_image_edges(panel: Image.Image, rects: Sequence[tuple[int, ...]],
                      relations: Sequence[tuple[int, int, str]], colors: Sequence[RGB]) -> None:
    draw = ImageDraw.Draw(panel)
    centre = [np.array([(r[0] + r[2]) / 2.0, (r[1] + r[3]) / 2.0]) for r in rects]
    for (s, o, _), color in zip(relations, colors):
        if s != o:
            draw_arrow(draw, centre[s], centre[o], color, 2)


def _flow(widths: Sequence[int], line_width: int) -> list[int]:
    """Row of each legend item when the items flow left to right within ``line_width``."""
    rows, row, used = [], 0, 0
    for width in widths:
        if used and used + width > line_width:
            row, used = row + 1, 0
        rows.append(row)
        used += width + _ITEM_GAP
    return rows


def _entry(draw: ImageDraw.ImageDraw, x: int, y: int, swatch: RGB | None, text: str,
           color: RGB) -> None:
    """One list line or legend item: a colour square (unless None), then the text."""
    if swatch is not None:
        top = y + (LINE_HEIGHT - SWATCH) // 2
        draw.rectangle((x, top, x + SWATCH - 1, top + SWATCH - 1), fill=swatch)
        x += SWATCH + 4
    draw.text((x, y + 1), text, fill=color, font=load_font())


def draw_scene_graph(
    image: Image.Image,
    boxes: np.ndarray,
    box_labels: Sequence[str],
    relations: Sequence[tuple[int, int, str]],
    *,
    relation_status: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    title: str | None = None,
    graph: bool = True,
    top_k: int | None = None,
    threshold: float | None = None,
    marked: Sequence[bool] | None = None,
    mark_note: str = "highlighted",
    box_ids: Sequence[int] | None = None,
    max_side: int | None = 512,
    image_edges: bool | None = None,
) -> Image.Image:
    """The image with its boxes and the ranked triplet list, and the graph diagram beside it.

    ``boxes`` [N, 4] xyxy in ``image``'s pixels; ``relations`` (subject, object, predicate)
    index ``boxes`` and are drawn in the given order, limited to ``score >= threshold`` and the
    first ``top_k``. ``relation_status`` picks each relation's colour (``style.STATUS_COLORS``;
    default "gt", or "predicted" when scores are given); ``marked`` relations get a ``*`` and a
    thicker edge, explained by ``mark_note`` in the legend. Box i is shown as
    ``"<box_ids[i]>:<label>"`` in the colour of that number (default ids 0..N-1).
    ``image_edges`` (default: when there is no graph panel) also draws subject -> object
    arrows on the image.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    relations = [(int(s), int(o), str(p)) for s, o, p in relations]
    _check_inputs(boxes, box_labels, relations,
                  {"statuses": relation_status, "scores": scores, "marks": marked})
    if scores is not None and not np.isfinite(np.asarray(scores, dtype=np.float64)).all():
        raise ValueError("relation scores contain NaN or inf")
    default = "predicted" if scores is not None else "gt"
    statuses = list(relation_status) if relation_status is not None else [default] * len(relations)
    check_statuses(statuses)
    kept = select_relations(len(relations), scores, top_k, threshold)
    shown = [relations[i] for i in kept]
    colors = [STATUS_COLORS[statuses[i]] for i in kept]
    marks = [bool(marked[i]) if marked is not None else False for i in kept]
    font = load_font()

    ids = list(range(len(boxes))) if box_ids is None else [int(i) for i in box_ids]
    if len(ids) != len(boxes):
        raise ValueError(f"{len(ids)} box ids for {len(boxes)} boxes")
    names = [f"{i}:{label}" for i, label in zip(ids, box_labels)]
    picture, factor = _scaled_image(image, max_side)
    node_colors = [object_color(i) for i in ids]
    rects = _draw_boxes(picture, boxes, names, factor, node_colors)
    if image_edges if image_edges is not None else not graph:
        _draw_image_edges(picture, rects, shown, colors)
    side = graph_side(len(boxes), picture.height) if graph else 0
    content_width = picture.width + (MARGIN + side if graph else 0)

    lines = [f"{rank + 1}. {'* ' if marks[rank] else ''}{names[s]} -{predicate}-> {names[o]}"
             + (f"  {float(scores[k]):.3f}" if scores is not None else "")
             for rank, (k, (s, o, predicate)) in enumerate(zip(kept, shown))]
    column_width = max((text_width(font, t) for t in lines), default=0) + SWATCH + 6
    columns = max(1, min(len(lines), (content_width + MARGIN) // (column_width + MARGIN)))
    list_rows = math.ceil(len(lines) / columns)
    list_width = columns * column_width + (columns - 1) * MARGIN if lines else 0

    used = {statuses[i] for i in kept}
    legend = [(STATUS_COLORS[s], STATUS_MEANINGS[s]) for s in STATUS_COLORS if s in used]
    if any(marks):
        legend.append((None, f"* {mark_note}"))
    legend_widths = [text_width(font, t) + (SWATCH + 4 if c else 0) for c, t in legend]
    legend_line = max([content_width, *legend_widths])
    legend_rows = _flow(legend_widths, legend_line)

    top = MARGIN + (TITLE_HEIGHT if title else 0)
    list_top = top + max(picture.height, side) + MARGIN
    legend_top = list_top + (list_rows * LINE_HEIGHT + MARGIN if lines else 0)
    height = legend_top + ((legend_rows[-1] + 1) * LINE_HEIGHT + MARGIN if legend else 0)
    width = 2 * MARGIN + max(content_width, list_width, legend_line if legend else 0)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((MARGIN, MARGIN), title, fill=TEXT_COLOR, font=load_font(15))
    canvas.paste(picture, (MARGIN, top))
    if graph:
        diagram = draw_graph(names, boxes, shown, colors, node_colors, side, marks)
        canvas.paste(diagram, (MARGIN + picture.width + MARGIN, top))
    for n, (text, color) in enumerate(zip(lines, colors)):  # column by column
        _entry(draw, MARGIN + (n // list_rows) * (column_width + MARGIN),
               list_top + (n % list_rows) * LINE_HEIGHT, color, text, color)
    x, row = MARGIN, 0
    for (color, text), item_row, item_width in zip(legend, legend_rows, legend_widths):
        if item_row != row:
            x, row = MARGIN, item_row
        _entry(draw, x, legend_top + item_row * LINE_HEIGHT, color, text, TEXT_COLOR)
        x += item_width + _ITEM_GAP
    return canvas
