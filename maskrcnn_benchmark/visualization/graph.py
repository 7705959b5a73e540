"""The graph diagram of a scene graph: objects as nodes, relations as directed labelled edges.

Layout (deterministic, no graph library): the nodes sit evenly spaced on an ellipse, in the
order of the angle of their box centre around the mean box centre, starting at the angle of
the first node, so the diagram keeps the rough left/right/top/bottom arrangement of the image.
Edges between the same two nodes are drawn side by side, a fixed distance apart.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .style import (
    BACKGROUND,
    LINE_HEIGHT,
    MARGIN,
    RGB,
    TEXT_COLOR,
    draw_centered,
    load_font,
    text_width,
)

__all__ = ["graph_side", "node_layout", "draw_graph", "draw_arrow"]

MIN_SIDE = 240
SIDE_PER_NODE = 18
PARALLEL_GAP = 12
ARROW_LENGTH = 9
ARROW_HALF_WIDTH = 4
LABEL_POSITIONS = (0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85)  # along an edge, first free wins


def graph_side(num_nodes: int, image_height: int) -> int:
    """Side of the square diagram: the image height, larger for many nodes."""
    return max(image_height, MIN_SIDE, 160 + SIDE_PER_NODE * num_nodes)


def node_layout(boxes: np.ndarray, side: int, half_sizes: np.ndarray) -> np.ndarray:
    """Node centres [N, 2] in a ``side`` x ``side`` panel for boxes [N, 4] (xyxy)."""
    count = len(boxes)
    if count == 0:
        return np.zeros((0, 2))
    centre = np.array([side / 2.0, side / 2.0])
    if count == 1:
        return centre[None, :]
    box_centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    offsets = box_centres - box_centres.mean(axis=0)
    angles = np.arctan2(offsets[:, 1], offsets[:, 0])
    order = np.lexsort((np.arange(count), angles))  # by angle, ties by index
    start = angles[order[0]]
    radius_x = max(side / 2.0 - half_sizes[:, 0].max() - MARGIN, side / 6.0)
    radius_y = max(side / 2.0 - half_sizes[:, 1].max() - MARGIN, side / 6.0)
    centres = np.zeros((count, 2))
    for slot, node in enumerate(order):
        angle = start + 2.0 * math.pi * slot / count
        centres[node] = centre + (radius_x * math.cos(angle), radius_y * math.sin(angle))
    return centres


def _exit_distance(direction: np.ndarray, half_size: np.ndarray) -> float:
    """Distance from a node centre along the unit ``direction`` to its rectangle's border."""
    limits = [half_size[k] / abs(direction[k]) for k in (0, 1) if abs(direction[k]) > 1e-9]
    return min(limits) if limits else 0.0


def _edge_offsets(relations: Sequence[tuple[int, int, str]]) -> list[float]:
    """Perpendicular offset of each edge so that edges of one node pair do not overlap."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (s, o, _) in enumerate(relations):
        groups[(min(s, o), max(s, o))].append(k)
    offsets = [0.0] * len(relations)
    for members in groups.values():
        for rank, k in enumerate(members):
            offsets[k] = (rank - (len(members) - 1) / 2.0) * PARALLEL_GAP
    return offsets


def draw_arrow(draw: ImageDraw.ImageDraw, start: np.ndarray, end: np.ndarray, color: RGB,
               width: int) -> None:
    """A line from ``start`` to ``end`` ending in a filled arrowhead."""
    vector = end - start
    length = float(np.hypot(*vector))
    if length < 1e-6:
        return
    unit = vector / length
    normal = np.array([-unit[1], unit[0]])
    base = end - unit * min(ARROW_LENGTH, length)
    draw.line([tuple(start), tuple(base)], fill=color, width=width)
    wing = normal * ARROW_HALF_WIDTH
    draw.polygon([tuple(end), tuple(base + wing), tuple(base - wing)], fill=color)


def draw_graph(
    names: Sequence[str],
    boxes: np.ndarray,
    relations: Sequence[tuple[int, int, str]],
    edge_colors: Sequence[RGB],
    node_colors: Sequence[RGB],
    side: int,
    marked: Sequence[bool] | None = None,
) -> Image.Image:
    """A ``side`` x ``side`` diagram; node i is labelled ``names[i]``."""
    font = load_font()
    panel = Image.new("RGB", (side, side), BACKGROUND)
    draw = ImageDraw.Draw(panel)
    half = np.array([[text_width(font, n) / 2.0 + 6, LINE_HEIGHT / 2.0 + 2] for n in names])
    half = half.reshape(-1, 2)
    centres = node_layout(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), side, half)
    marked = marked or [False] * len(relations)
    offsets = _edge_offsets(relations)
    labels = []
    for k, (s, o, predicate) in enumerate(relations):
        if s == o:
            continue
        vector = centres[o] - centres[s]
        length = float(np.hypot(*vector))
        if length < 1e-6:
            continue
        unit = vector / length
        sign = 1.0 if s < o else -1.0  # one normal per node pair, whatever the direction
        shift = np.array([-unit[1], unit[0]]) * offsets[k] * sign
        start = centres[s] + shift + unit * _exit_distance(unit, half[s])
        end = centres[o] + shift - unit * _exit_distance(unit, half[o])
        if float(np.dot(end - start, unit)) <= 0:  # overlapping nodes: centre to centre
            start, end = centres[s] + shift, centres[o] + shift
        draw_arrow(draw, start, end, edge_colors[k], 3 if marked[k] else 2)
        labels.append((start, end, predicate, edge_colors[k]))
    taken = [(c[0] - h[0], c[1] - h[1], c[0] + h[0], c[1] + h[1]) for c, h in zip(centres, half)]
    for i, name in enumerate(names):
        draw.rounded_rectangle(taken[i], radius=5, fill=BACKGROUND, outline=node_colors[i],
                               width=2)
        draw_centered(draw, tuple(centres[i]), name, font, TEXT_COLOR)
    for start, end, text, color in labels:
        rect = _label_place(start, end, text_width(font, text) / 2.0 + 3, taken)
        taken.append(rect)
        draw.rectangle(rect, fill=BACKGROUND, outline=color)
        draw_centered(draw, ((rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0), text, font,
                      color)
    return panel


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_place(start: np.ndarray, end: np.ndarray, half_width: float,
                 taken: Sequence[tuple[float, ...]]) -> tuple[float, ...]:
    """The label box on the edge: the midpoint, else the first point along it that is free."""
    for t in LABEL_POSITIONS:
        x, y = start + (end - start) * t
        rect = (x - half_width, y - 8, x + half_width, y + 8)
        if not any(_overlaps(rect, other) for other in taken):
            return rect
    x, y = (start + end) / 2.0
    return (x - half_width, y - 8, x + half_width, y + 8)
