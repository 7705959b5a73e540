"""draw_scene_graph and compose_panels draw what they are given, at the designed sizes."""

import numpy as np
import pytest
from PIL import Image

from maskrcnn_benchmark.visualization import STATUS_COLORS, compose_panels, draw_scene_graph
from maskrcnn_benchmark.visualization.draw import TITLE_HEIGHT, select_relations
from maskrcnn_benchmark.visualization.graph import graph_side
from maskrcnn_benchmark.visualization.style import LINE_HEIGHT, MARGIN, object_color

GREY = (200, 200, 200)
M, L = MARGIN, LINE_HEIGHT


def grey(width=100, height=80):
    return Image.new("RGB", (width, height), GREY)


def pixel(picture, x, y):
    return picture.getpixel((int(x), int(y)))


def colours(picture):
    return {c for _, c in picture.getcolors(maxcolors=1 << 20)}


def test_box_outline_has_the_box_colour_on_its_edge_and_not_inside():
    picture = draw_scene_graph(grey(), np.array([[10, 10, 50, 40]]), ["cat"], [], graph=False,
                               max_side=None)
    red = object_color(0)
    # the image is pasted at (M, M), unscaled; +1 convention: columns 10..50, rows 10..40;
    # the label tag fills rows 10..26 inside the top edge
    for x, y in ((30, 40), (30, 39), (10, 35), (11, 35), (50, 35), (49, 35)):
        assert pixel(picture, M + x, M + y) == red, (x, y)
    for x, y in ((30, 41), (30, 32), (12, 35), (48, 35), (9, 35), (51, 35), (30, 38)):
        assert pixel(picture, M + x, M + y) == GREY, (x, y)


def test_scaled_boxes_and_box_ids_pick_position_and_colour():
    picture = draw_scene_graph(grey(), np.array([[10, 10, 50, 40]]), ["cat"], [], graph=False,
                               max_side=200, box_ids=[3])  # factor 2, pixels 20..101 x 20..81
    colour = object_color(3)
    assert colour != object_color(0)
    assert pixel(picture, M + 60, M + 81) == colour and pixel(picture, M + 60, M + 80) == colour
    assert pixel(picture, M + 60, M + 82) == GREY and pixel(picture, M + 60, M + 50) == GREY
    assert pixel(picture, M + 101, M + 50) == colour and pixel(picture, M + 102, M + 50) == GREY


BOXES = np.array([[5, 5, 30, 30], [50, 20, 90, 70], [10, 45, 40, 75]])
RELATIONS = [(0, 1, "near"), (1, 2, "on"), (2, 0, "has"), (0, 2, "under"), (1, 0, "behind")]
STATUSES = ["matched", "missed", "zero-shot", "unmatched", "zero-shot missed"]
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5]


@pytest.mark.parametrize("graph", [True, False])
def test_each_drawn_status_colour_appears_and_no_other(graph):
    picture = draw_scene_graph(grey(), BOXES, ["a", "b", "c"], RELATIONS[:2],
                               relation_status=STATUSES[:2], scores=SCORES[:2], graph=graph)
    seen = colours(picture)
    assert STATUS_COLORS["matched"] in seen and STATUS_COLORS["missed"] in seen
    assert not {STATUS_COLORS[s] for s in STATUSES[2:]} & seen


@pytest.mark.parametrize("top_k,threshold,drawn", [
    (2, None, 2), (None, 0.65, 3), (2, 0.85, 1), (None, None, 5), (0, None, 0),
])
def test_top_k_and_threshold_limit_the_triplets_drawn(top_k, threshold, drawn):
    picture = draw_scene_graph(grey(), BOXES, ["a", "b", "c"], RELATIONS,
                               relation_status=STATUSES, scores=SCORES, top_k=top_k,
                               threshold=threshold)
    seen = colours(picture)
    assert [STATUS_COLORS[s] in seen for s in STATUSES] == [k < drawn for k in range(5)]


def test_select_relations_keeps_the_given_order():
    assert select_relations(4, [0.1, 0.9, 0.5, 0.7], 2, 0.4) == [1, 2]
    assert select_relations(3, None, 2, None) == [0, 1]
    with pytest.raises(ValueError, match="threshold needs the relation scores"):
        select_relations(3, None, None, 0.5)


def test_output_size_as_designed():
    image = grey(120, 90)  # scaled to 240 x 180
    one = [(0, 1, "r")]
    plain = draw_scene_graph(image, BOXES, ["a", "b", "c"], one, graph=False, max_side=240)
    assert plain.size == (2 * M + 240, M + 180 + M + L + M + L + M)  # list + legend lines
    side = graph_side(3, 180)
    assert side == 240
    both = draw_scene_graph(image, BOXES, ["a", "b", "c"], one, max_side=240, title="t")
    assert both.size == (2 * M + 240 + M + side, M + TITLE_HEIGHT + side + M + L + M + L + M)
    empty = draw_scene_graph(image, BOXES, ["a", "b", "c"], [], graph=False, max_side=240)
    assert empty.size == (2 * M + 240, M + 180 + M)
    # more nodes than the image height allows: the diagram grows, 18 px per node
    many = np.tile(BOXES, (6, 1))
    assert draw_scene_graph(image, many, ["x"] * 18, one, max_side=240).size[0] == \
        2 * M + 240 + M + 160 + 18 * 18


def test_relation_colours_follow_the_graph_edges():
    """With the graph, an edge of each status is drawn in the diagram (right of the image)."""
    picture = draw_scene_graph(grey(), BOXES, ["a", "b", "c"], RELATIONS[:1],
                               relation_status=["zero-shot"], max_side=100)
    diagram = picture.crop((M + 100 + M, M, picture.width, M + graph_side(3, 80)))
    assert STATUS_COLORS["zero-shot"] in colours(diagram)


@pytest.mark.parametrize("kwargs,message", [
    ({"relations": [(0, 3, "on")]}, "outside 0..2"),
    ({"relation_status": ["great"]}, "unknown relation status"),
    ({"scores": [float("nan")]}, "NaN"),
    ({"scores": [0.1, 0.2]}, "2 scores for 1 relations"),
    ({"box_labels": ["a"]}, "1 box labels for 3 boxes"),
    ({"boxes": np.zeros((3, 3))}, r"\[N, 4\]"),
])
def test_bad_inputs_are_named(kwargs, message):
    args = {"boxes": BOXES, "box_labels": ["a", "b", "c"], "relations": [(0, 1, "on")], **kwargs}
    with pytest.raises(ValueError, match=message):
        draw_scene_graph(grey(), **args)


def test_compose_panels_places_each_panel_under_its_title():
    red = Image.new("RGB", (100, 50), (255, 0, 0))
    blue = Image.new("RGB", (80, 70), (0, 0, 255))
    sheet = compose_panels([red, blue], ["A", "B"])
    assert sheet.size == (100 + 80 + 3 * M, M + 70 + TITLE_HEIGHT + M)
    assert pixel(sheet, M, M + TITLE_HEIGHT) == (255, 0, 0)
    assert pixel(sheet, 2 * M + 100, M + TITLE_HEIGHT) == (0, 0, 255)
    grid = compose_panels([red, blue, red], columns=2, title="sheet")
    assert grid.size == (100 + 80 + 3 * M, M + TITLE_HEIGHT + 70 + 50 + 2 * M)
    assert pixel(grid, M, M + TITLE_HEIGHT + 70 + M) == (255, 0, 0)  # second row, first column
    with pytest.raises(ValueError, match="1 titles for 2 panels"):
        compose_panels([red, blue], ["A"])
