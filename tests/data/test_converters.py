"""GQA and custom scene-graph converters on tiny JSON written by the tests."""

import filecmp
import json
import os

import pytest
from PIL import Image

from maskrcnn_benchmark.data.datasets.custom_convert import convert_custom
from maskrcnn_benchmark.data.datasets.gqa_convert import convert_gqa
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset


def _obj(name, x, y, w, h, relations=(), attributes=()):
    return {"name": name, "x": x, "y": y, "w": w, "h": h, "attributes": list(attributes),
            "relations": [{"object": o, "name": n} for o, n in relations]}


def _gqa_files(tmp_path):
    """Ten images over two files; 'man' x 10, 'horse' x 10, 'hat' x 2, 'cone' x 1; predicates
    'riding' x 10, 'wearing' x 2, 'near' x 1 (image n5 carries the rare ones)."""
    train, val = {}, {}
    for i in range(10):
        objects = {"1": _obj("Man", 10, 10, 20, 40, [("2", "riding")], ["tall"]),
                   "2": _obj("horse", 5, 30, 50, 30, attributes=["brown", "tall"])}
        if i < 2:
            objects["3"] = _obj("hat", 12, 8, 6, 4)
            objects["1"]["relations"].append({"object": "3", "name": "wearing"})
        if i == 0:
            objects["4"] = _obj("cone", 60, 5, 5, 5)
            objects["4"]["relations"] = [{"object": "1", "name": "near"},
                                         {"object": "99", "name": "near"}]
        key = f"n{i}" if i == 5 else str(2000 + i)
        (train if i < 6 else val)[key] = {"width": 80, "height": 60, "objects": objects}
    paths = []
    for name, content in (("train_sceneGraphs.json", train), ("val_sceneGraphs.json", val)):
        paths.append(str(tmp_path / name))
        with open(paths[-1], "w") as f:
            json.dump(content, f)
    return paths


def _kwargs(out_dir, **overrides):
    kwargs = dict(img_dir=os.path.join(out_dir, "VG_100K"),
                  roidb_file=os.path.join(out_dir, "VG-SGG-with-attri.h5"),
                  dict_file=os.path.join(out_dir, "VG-SGG-dicts-with-attri.json"),
                  image_file=os.path.join(out_dir, "image_data.json"), num_val_im=0)
    kwargs.update(overrides)
    return kwargs


def test_gqa_paper_preset(tmp_path):
    images = tmp_path / "gqa_images"
    images.mkdir()
    files = _gqa_files(tmp_path)
    out = str(tmp_path / "gqa")
    summary = convert_gqa(files, out, preset="paper", image_dir=str(images))
    assert summary["num_object_classes"] == 5 and summary["num_predicate_classes"] == 4
    assert (summary["train_images"], summary["test_images"]) == (7, 3)
    assert summary["relations"] == 10 + 2 + 1  # the relation to a missing object is dropped
    assert os.path.realpath(os.path.join(out, "VG_100K")) == os.path.realpath(images)
    train = VGDataset("train", **_kwargs(out, filter_non_overlap=False))
    test = VGDataset("test", **_kwargs(out))
    assert train.ind_to_classes == ["__background__", "cone", "hat", "horse", "man"]
    assert train.ind_to_predicates == ["__background__", "near", "riding", "wearing"]
    assert train.ind_to_attributes == ["__background__", "tall", "brown"]
    assert len(train) + len(test) == 10
    ids = [d.get_img_info(i)["image_id"] for d in (train, test) for i in range(len(d))]
    assert sorted(i for i in ids if i < 1_000_000_000) == [2000, 2001, 2002, 2003, 2004, 2006,
                                                         2007, 2008, 2009]
    n5 = [d.get_img_info(i) for d in (train, test) for i in range(len(d))
          if d.get_img_info(i)["file_name"] == "n5.jpg"]
    assert len(n5) == 1 and n5[0]["image_id"] >= 1_000_000_000
    first = next(d for d in (train, test) for i in range(len(d))
                 if d.get_img_info(i)["image_id"] == 2000)
    row = [first.get_img_info(i)["image_id"] for i in range(len(first))].index(2000)
    gt = first.get_groundtruth(row, evaluation=True)
    assert gt.get_field("labels").tolist() == [4, 3, 2, 1]  # objects sorted by GQA id
    assert gt.bbox[0].tolist() == [10, 10, 30, 50]  # x, y, x + w, y + h
    assert sorted(gt.get_field("relation_tuple").tolist()) == [[0, 1, 2], [0, 2, 3], [3, 0, 1]]
    assert gt.get_field("attributes")[1, :2].tolist() == [2, 1]  # brown, tall


def test_gqa200_preset_keeps_the_most_frequent_names(tmp_path, monkeypatch):
    from maskrcnn_benchmark.data.datasets import gqa_convert

    monkeypatch.setitem(gqa_convert.GQA_PRESETS, "gqa200", {"num_objects": 3,
                                                           "num_predicates": 2})
    out = str(tmp_path / "g200")
    summary = convert_gqa(_gqa_files(tmp_path), out, preset="gqa200")
    assert summary["num_object_classes"] == 4 and summary["num_predicate_classes"] == 3
    assert summary["relations"] == 12  # 'near' is out of the vocabulary (and so is 'cone')
    ds = VGDataset("train", **_kwargs(out, img_dir=str(tmp_path), filter_non_overlap=False))
    assert ds.ind_to_classes == ["__background__", "hat", "horse", "man"]
    assert ds.ind_to_predicates == ["__background__", "riding", "wearing"]


def test_gqa_presets_match_the_paper():
    from maskrcnn_benchmark.data.datasets.gqa_convert import GQA_PRESETS

    assert GQA_PRESETS["gqa200"] == {"num_objects": 200, "num_predicates": 100}
    assert GQA_PRESETS["paper"] == {"num_objects": None, "num_predicates": None}


def test_gqa_conversion_is_deterministic_and_seeded(tmp_path):
    files = _gqa_files(tmp_path)
    convert_gqa(files, str(tmp_path / "a"), seed=3)
    convert_gqa(files, str(tmp_path / "b"), seed=3)
    convert_gqa(files, str(tmp_path / "c"), seed=4)
    for name in ("VG-SGG-with-attri.h5", "VG-SGG-dicts-with-attri.json", "image_data.json"):
        assert filecmp.cmp(tmp_path / "a" / name, tmp_path / "b" / name, shallow=False)
    order = [json.loads((tmp_path / d / "image_data.json").read_text()) for d in "ac"]
    assert order[0] != order[1]


def test_gqa_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="GQA scene-graph file not found"):
        convert_gqa([str(tmp_path / "missing.json")], str(tmp_path / "o"))
    with pytest.raises(ValueError, match="Unknown GQA preset 'gqa150'"):
        convert_gqa(_gqa_files(tmp_path), str(tmp_path / "o"), preset="gqa150")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": {"width": 5, "objects": {}}}))
    with pytest.raises(ValueError, match="image 1 has no 'height'"):
        convert_gqa([str(bad)], str(tmp_path / "o"))


def _custom(tmp_path, images):
    path = tmp_path / "graphs.json"
    path.write_text(json.dumps({"images": images}))
    return str(path)


def _custom_images():
    return [
        {"file_name": "kitchen.png", "width": 40, "height": 30, "split": "train",
         "objects": [{"name": "cup", "box": [2, 3, 10, 12], "attributes": ["white"]},
                     {"name": "table", "box": [0, 8, 39, 29]}],
         "relations": [{"subject": 0, "object": 1, "predicate": "on"}]},
        {"file_name": "street.png", "image_id": 77, "width": 30, "height": 40, "split": "test",
         "objects": [{"name": "car", "box": [1, 1, 20, 20]}, {"name": "cup", "box": [5, 5, 9, 9]}],
         "relations": [{"subject": 1, "object": 0, "predicate": "in"}]},
    ]


def test_custom_converter_end_to_end(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    Image.new("RGB", (40, 30)).save(images / "kitchen.png")
    Image.new("RGB", (30, 40)).save(images / "street.png")
    out = str(tmp_path / "mydata")
    summary = convert_custom(_custom(tmp_path, _custom_images()), out, image_dir=str(images))
    assert (summary["train_images"], summary["test_images"]) == (1, 1)
    train = VGDataset("train", **_kwargs(out))
    assert train.ind_to_classes == ["__background__", "car", "cup", "table"]
    assert train.ind_to_predicates == ["__background__", "in", "on"]
    image, target, _ = train[0]
    assert image.size == (40, 30) and train.get_img_info(0)["file_name"] == "kitchen.png"
    assert train.get_img_info(0)["image_id"] == 0
    assert target.get_field("labels").tolist() == [2, 3]
    assert target.get_field("relation")[0, 1].item() == 2
    # Boxes are stored as integers at the 1024 scale: close to, not exactly, the input.
    expected = target.bbox.new_tensor([[2, 3, 10, 12], [0, 8, 39, 29]])
    assert (target.bbox - expected).abs().max() < 0.1
    test = VGDataset("test", **_kwargs(out))
    gt = test.get_groundtruth(0, evaluation=True)
    assert test.get_img_info(0)["image_id"] == 77
    assert gt.get_field("relation_tuple").tolist() == [[1, 0, 1]]


@pytest.mark.parametrize("mutate,message", [
    (lambda im: im[0].pop("split"), r"images\[0\] has no 'split'"),
    (lambda im: im[0].update(split="val"), "split must be 'train' or 'test'"),
    (lambda im: im[0]["objects"][0].update(box=[5, 5, 1, 1]), r"objects\[0\]: box must be"),
    (lambda im: im[1]["relations"][0].update(object=5), r"relations\[0\]: subject 1 / object 5"),
    (lambda im: im[0]["objects"][1].pop("name"), r"objects\[1\] has no 'name'"),
    (lambda im: im[0].update(image_id=77), "image_id values must be unique"),
])
def test_custom_converter_errors(tmp_path, mutate, message):
    images = _custom_images()
    mutate(images)
    with pytest.raises(ValueError, match=message):
        convert_custom(_custom(tmp_path, images), str(tmp_path / "o"))
