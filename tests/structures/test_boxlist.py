"""BoxList and box ops follow the +1 pixel convention of maskrcnn-benchmark / SGB."""

import torch

from maskrcnn_benchmark.structures import FLIP_LEFT_RIGHT, BoxList, boxlist_iou, cat_boxlist
from maskrcnn_benchmark.structures.boxlist_ops import (
    boxlist_intersection,
    boxlist_union,
    remove_small_boxes,
)
from maskrcnn_benchmark.structures.image_list import to_image_list


def test_area_and_xywh_use_plus_one():
    b = BoxList([[0, 0, 9, 19], [5, 5, 5, 5]], (100, 50))
    assert b.area().tolist() == [200.0, 1.0]
    xywh = b.convert("xywh")
    assert xywh.bbox.tolist() == [[0, 0, 10, 20], [5, 5, 1, 1]]
    assert torch.equal(xywh.convert("xyxy").bbox, b.bbox)


def test_iou_plus_one_convention():
    a = BoxList([[0, 0, 9, 9]], (50, 50))
    b = BoxList([[5, 0, 14, 9], [10, 0, 19, 9], [9, 9, 18, 18]], (50, 50))
    iou = boxlist_iou(a, b)
    # overlap 5x10 = 50 of union 150; touching at x=10 does not overlap; one shared pixel
    assert torch.allclose(iou, torch.tensor([[50 / 150, 0.0, 1 / 199]]))


def test_flip_maps_x_to_w_minus_x_minus_1():
    b = BoxList([[0, 2, 9, 7]], (100, 20))
    b.add_field("labels", torch.tensor([3]))
    f = b.transpose(FLIP_LEFT_RIGHT)
    assert f.bbox.tolist() == [[90, 2, 99, 7]]
    assert f.get_field("labels").tolist() == [3]
    assert torch.equal(f.transpose(FLIP_LEFT_RIGHT).bbox, b.bbox)


def test_resize_scales_coordinates():
    b = BoxList([[10, 20, 30, 40]], (100, 200))
    r = b.resize((50, 400))
    assert r.bbox.tolist() == [[5, 40, 15, 80]] and r.size == (50, 400)


def test_clip_removes_empty_and_slices_triplet_field():
    b = BoxList([[-5, -5, 20, 20], [120, 10, 150, 30], [10, 10, 30, 30]], (100, 100))
    b.add_field("labels", torch.tensor([1, 2, 3]))
    rel = torch.tensor([[0, 4, 5], [6, 0, 7], [8, 9, 0]])
    b.add_field("relation", rel, is_triplet=True)
    c = b.clip_to_image(remove_empty=True)
    assert c.bbox.tolist() == [[0, 0, 20, 20], [10, 10, 30, 30]]
    assert c.get_field("labels").tolist() == [1, 3]
    assert c.get_field("relation").tolist() == [[0, 5], [8, 0]]
    kept = b.clip_to_image(remove_empty=False)
    assert len(kept) == 3 and kept.bbox[1].tolist() == [99, 10, 99, 30]


def test_crop_and_small_boxes():
    b = BoxList([[10, 10, 50, 50], [0, 0, 2, 2]], (100, 100))
    c = b.crop((20, 20, 60, 60))
    assert c.size == (40, 40) and c.bbox.tolist() == [[0, 0, 30, 30], [0, 0, 0, 0]]
    assert len(remove_small_boxes(b, 4)) == 1


def test_cat_union_intersection():
    a = BoxList([[0, 0, 10, 10]], (50, 50))
    a.add_field("labels", torch.tensor([1]))
    b = BoxList([[20, 20, 30, 30]], (50, 50))
    b.add_field("labels", torch.tensor([2]))
    c = cat_boxlist([a, b])
    assert len(c) == 2 and c.get_field("labels").tolist() == [1, 2]
    assert boxlist_union(a, b).bbox.tolist() == [[0, 0, 30, 30]]
    assert boxlist_intersection(a, b).bbox.tolist() == [[0, 0, 0, 0]]


def test_missing_field_error_names_fields():
    b = BoxList([[0, 0, 1, 1]], (5, 5))
    b.add_field("labels", torch.tensor([1]))
    try:
        b.get_field("scores")
    except KeyError as err:
        assert "scores" in str(err) and "labels" in str(err)
    else:
        raise AssertionError("expected KeyError")


def test_image_list_pads_to_divisible_size():
    il = to_image_list([torch.ones(3, 10, 17), torch.ones(3, 12, 5)], size_divisible=8)
    assert il.tensors.shape == (2, 3, 16, 24)
    assert il.image_sizes == [(10, 17), (12, 5)]
    assert il.tensors[1, :, 12:].abs().sum() == 0 and il.tensors[1, :, :12, :5].min() == 1


def test_boxlist_nms_uses_plus_one_iou():
    from maskrcnn_benchmark.structures import boxlist_nms

    b = BoxList([[0, 0, 9, 9], [5, 0, 14, 9]], (50, 50))
    b.add_field("scores", torch.tensor([0.9, 0.8]))
    # +1 IoU = 50 / 150 = 0.333 (suppressed at 0.3); continuous IoU would be 36 / 126 = 0.286
    assert len(boxlist_nms(b, 0.3)) == 1
    assert len(boxlist_nms(b, 0.34)) == 2
