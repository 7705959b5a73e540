"""The boxes file of PredCls / SGCls prediction: parsing, matching to files, clear errors."""

import json

import pytest

from maskrcnn_benchmark.data.datasets.user_boxes import (
    BoxesFileError,
    UserBox,
    boxes_to_target,
    load_boxes_file,
    match_boxes_to_files,
)

CLASSES = ["__background__", "man", "horse", "hat", "traffic light"]


def _write(tmp_path, content, name="boxes.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_names_and_ids_become_class_ids(tmp_path):
    path = _write(tmp_path, {"a.jpg": [{"box": [1, 2, 30, 40], "label": "horse"},
                                       {"box": [0.5, 0, 10, 10.5], "label": 4}]})
    boxes = load_boxes_file(path, CLASSES, need_labels=True)
    assert boxes == {"a.jpg": [UserBox((1.0, 2.0, 30.0, 40.0), 2),
                               UserBox((0.5, 0.0, 10.0, 10.5), 4)]}


def test_sgcls_boxes_may_omit_labels(tmp_path):
    path = _write(tmp_path, {"a.jpg": [{"box": [1, 2, 30, 40]}]})
    assert load_boxes_file(path, CLASSES, need_labels=False)["a.jpg"][0].label == 0
    with pytest.raises(BoxesFileError, match="'a.jpg', box 0 has no 'label'"):
        load_boxes_file(path, CLASSES, need_labels=True)


@pytest.mark.parametrize("entry, message", [
    ({"box": [1, 2, 30, 40], "label": "hors"}, r"unknown class name 'hors'.*Did you mean: horse"),
    ({"box": [1, 2, 30, 40], "label": 5}, r"class id 5 is outside 1\.\.4"),
    ({"box": [1, 2, 30, 40], "label": 0}, "outside 1..4"),
    ({"box": [1, 2, 30, 40], "label": True}, "class name or an integer"),
    ({"box": [1, 2, 30], "label": 1}, "four numbers"),
    ({"box": [1, 2, "3", 4], "label": 1}, "four numbers"),
    ({"box": [30, 2, 1, 40], "label": 1}, "x1 <= x2"),
    ({"box": [-1, 2, 10, 40], "label": 1}, "0 <= x1"),
    ({"box": [1, 2, 30, 40], "lable": 1}, r"unknown keys \['lable'\]"),
    ([1, 2, 30, 40], "must be an object"),
])
def test_malformed_box_names_file_image_and_box(tmp_path, entry, message):
    path = _write(tmp_path, {"a.jpg": [{"box": [0, 0, 5, 5], "label": 1}, entry]})
    with pytest.raises(BoxesFileError, match=message) as err:
        load_boxes_file(path, CLASSES, need_labels=True)
    assert path in str(err.value) and "'a.jpg', box 1" in str(err.value)


def test_malformed_file(tmp_path):
    with pytest.raises(BoxesFileError, match="not valid JSON"):
        load_boxes_file(_write(tmp_path, "{oops"), CLASSES, need_labels=True)
    with pytest.raises(BoxesFileError, match="JSON object mapping image file names"):
        load_boxes_file(_write(tmp_path, [1, 2]), CLASSES, need_labels=True)
    with pytest.raises(BoxesFileError, match="non-empty list"):
        load_boxes_file(_write(tmp_path, {"a.jpg": []}), CLASSES, need_labels=True)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_boxes_file(str(tmp_path / "missing.json"), CLASSES, need_labels=True)


def test_matching_by_path_or_base_name():
    one, two = [UserBox((0, 0, 1, 1), 1)], [UserBox((0, 0, 2, 2), 2)]
    files = ["photos/a.jpg", "photos/b.jpg"]
    matched, unused = match_boxes_to_files(
        {"a.jpg": one, "photos/b.jpg": two, "c.jpg": one}, files, "boxes.json")
    assert matched == [one, two] and unused == ["c.jpg"]
    with pytest.raises(BoxesFileError, match=r"no boxes for 1 of 2 input images: photos/b\.jpg"):
        match_boxes_to_files({"a.jpg": one}, files, "boxes.json")
    with pytest.raises(BoxesFileError, match="fits 2 input files"):
        match_boxes_to_files({"a.jpg": one}, ["x/a.jpg", "y/a.jpg"], "boxes.json")


def test_box_outside_the_upright_image_is_an_error():
    inside = [UserBox((0, 0, 100, 60), 1)]  # touching the far border is fine
    target = boxes_to_target(inside, (100, 60), "a.jpg")
    assert target.bbox.tolist() == [[0, 0, 99, 59]] and target.get_field("labels").tolist() == [1]
    with pytest.raises(BoxesFileError, match=r"Box 0 .* of a\.jpg .* 60 x 100 pixels upright"):
        boxes_to_target(inside, (60, 100), "a.jpg")
