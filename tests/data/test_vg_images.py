"""Image loading: the flip of image and boxes together, file names, size mismatches."""

import json
import os
import random

import numpy as np
import torch
from PIL import Image
from vg_test_data import WIDTH, _rec, dataset_kwargs, write_dataset

from maskrcnn_benchmark.data.datasets.vg_format import IMAGE_DIR_NAME
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset

GREEN = (0, 255, 0)


def _flip_dataset(tmp_path):
    """One train image (PNG via file_name) whose object 0 is painted green, pixels 0..4."""
    rec = _rec(21, [[0, 0, 4, 4], [3, 2, 30, 20]], [1, 2], [[0, 1, 1]])
    rec.extra = {"file_name": "pic.png"}
    paths = write_dataset(tmp_path / "flip", [rec], with_images=False)
    os.makedirs(paths["img_dir"])
    pixels = np.zeros((32, 64, 3), dtype=np.uint8)
    pixels[0:5, 0:5] = GREEN  # +1 convention: box (0, 0, 4, 4) covers pixels 0..4
    Image.fromarray(pixels).save(os.path.join(paths["img_dir"], "pic.png"))
    return paths


def _green_box(image):
    pixels = np.asarray(image)
    ys, xs = np.nonzero((pixels == GREEN).all(-1))
    return [xs.min(), ys.min(), xs.max(), ys.max()]


def test_flip_moves_image_and_boxes_together(tmp_path):
    paths = _flip_dataset(tmp_path)
    ds = VGDataset("train", **dataset_kwargs(paths, num_val_im=0, flip_aug=True))
    random.seed(0)
    seen = set()
    for _ in range(30):
        image, target, index = ds[0]
        flipped = _green_box(image)[0] > 0
        seen.add(flipped)
        assert _green_box(image) == target.bbox[0].tolist()
        expected = [[59, 0, 63, 4], [33, 2, 60, 20]] if flipped else [[0, 0, 4, 4],
                                                                        [3, 2, 30, 20]]
        assert target.bbox.tolist() == expected  # x -> W - x - 1
        assert target.get_field("relation")[0, 1] == 1 and index == 0
    assert seen == {True, False}


def test_no_flip_without_flip_aug_or_outside_train(tmp_path):
    paths = _flip_dataset(tmp_path)
    random.seed(0)
    for split, flip_aug in (("train", False), ("val", True)):
        ds = VGDataset(split, **dataset_kwargs(paths, num_val_im=0, flip_aug=flip_aug))
        for _ in range(10):
            image, target, _ = ds[0]
            assert _green_box(image) == [0, 0, 4, 4] == target.bbox[0].tolist()


def test_get_groundtruth_flip_img(tmp_path):
    ds = VGDataset("val", **dataset_kwargs(_flip_dataset(tmp_path), num_val_im=0))
    gt = ds.get_groundtruth(0, flip_img=True)
    assert gt.bbox.tolist() == [[WIDTH - 1 - 4, 0, WIDTH - 1, 4], [33, 2, 60, 20]]


def test_image_info_and_file_names(tmp_path):
    ds = VGDataset("val", **dataset_kwargs(_flip_dataset(tmp_path), num_val_im=0))
    info = ds.get_img_info(0)
    assert (info["width"], info["height"], info["image_id"], info["file_name"]) == (
        64, 32, 21, "pic.png")
    assert ds.ind_to_classes == ["__background__", "cat", "dog", "tree"]
    assert ds.ind_to_predicates == ["__background__", "on", "near", "has"]
    assert ds.ind_to_attributes == ["__background__", "red", "big"]
    assert ds.categories == {0: "__background__", 1: "cat", 2: "dog", 3: "tree"}


def test_image_larger_than_image_data_rescales_boxes(tmp_path, caplog):
    paths = _flip_dataset(tmp_path)
    Image.new("RGB", (128, 64)).save(os.path.join(paths["img_dir"], "pic.png"))
    ds = VGDataset("val", **dataset_kwargs(paths, num_val_im=0))
    _, target, _ = ds[0]
    assert target.size == (128, 64)
    assert torch.allclose(target.bbox[0], torch.tensor([0.0, 0.0, 8.0, 8.0]))
    assert "pic.png" in caplog.text and "rescaled" in caplog.text


def test_transforms_are_applied(tmp_path):
    paths = _flip_dataset(tmp_path)

    def halve(image, target):
        image = image.resize((32, 16))
        return torch.zeros(3, 16, 32), target.resize((32, 16))

    ds = VGDataset("val", **dataset_kwargs(paths, num_val_im=0, transforms=halve))
    image, target, _ = ds[0]
    assert image.shape == (3, 16, 32) and target.bbox[1].tolist() == [1.5, 1, 15, 10]


def test_jpg_named_by_image_id(tmp_path):
    paths = write_dataset(tmp_path / "j", [_rec(5, [[0, 0, 4, 4], [1, 1, 6, 6]], [1, 2],
                                                [[0, 1, 1]])])
    with open(paths["image_data"]) as f:
        assert "file_name" not in json.load(f)[0]
    ds = VGDataset("val", **dataset_kwargs(paths, num_val_im=0))
    assert ds.filenames == [os.path.join(paths["img_dir"], "5.jpg")]
    image, _, _ = ds[0]
    assert image.size == (64, 32)
    assert IMAGE_DIR_NAME in ds.filenames[0]
