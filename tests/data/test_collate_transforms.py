"""BatchCollator padding and the image transforms (resize rule, flips, normalisation)."""

import random

import pytest
import torch
from PIL import Image

from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.data.transforms import (
    ColorJitter,
    Normalize,
    RandomVerticalFlip,
    Resize,
    build_transforms,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList


def test_collate_pads_to_the_size_divisibility():
    a, b = torch.rand(3, 10, 7), torch.rand(3, 5, 12)
    ta, tb = BoxList(torch.zeros(1, 4), (7, 10)), BoxList(torch.zeros(2, 4), (12, 5))
    images, targets, indices = BatchCollator(4)([(a, ta, 3), (b, tb, 8)])
    assert images.tensors.shape == (2, 3, 12, 12)
    assert images.image_sizes == [(10, 7), (5, 12)]
    assert torch.equal(images.tensors[0, :, :10, :7], a)
    assert images.tensors[0, :, 10:].abs().sum() == 0
    assert images.tensors[0, :, :, 7:].abs().sum() == 0
    assert targets == (ta, tb) and indices == (3, 8)
    assert BatchCollator(0)([(a, ta, 0), (b, tb, 1)])[0].tensors.shape == (2, 3, 10, 12)


@pytest.mark.parametrize("size,expected", [
    ((640, 480), (600, 800)),   # shorter side 600, longer 800 <= 1000
    ((2000, 500), (250, 1000)),  # longer side capped: size = round(1000 * 500 / 2000)
    ((600, 900), (900, 600)),   # already at size
    ((333, 500), (900, 600)),   # width 600, height int(600 * 500 / 333) = int(900.9)
])
def test_resize_rule(size, expected):
    assert Resize(600, 1000).get_size(size) == expected


def test_resize_scales_image_and_boxes():
    image = Image.new("RGB", (200, 100))
    target = BoxList(torch.tensor([[10.0, 20.0, 50.0, 60.0]]), (200, 100))
    out_image, out_target = Resize((50,), 1000)(image, target)
    assert out_image.size == (100, 50) and out_target.size == (100, 50)
    assert out_target.bbox.tolist() == [[5.0, 10.0, 25.0, 30.0]]


def test_resize_draws_the_short_side_from_the_choices():
    random.seed(0)
    sizes = {Resize((10, 20, 30), 1000).get_size((100, 100))[0] for _ in range(50)}
    assert sizes == {10, 20, 30}


def test_vertical_flip_moves_image_and_boxes():
    image = Image.new("RGB", (4, 6))
    image.putpixel((1, 0), (255, 0, 0))
    target = BoxList(torch.tensor([[1.0, 0.0, 2.0, 1.0]]), (4, 6))
    flipped, out = RandomVerticalFlip(1.0)(image, target)
    assert flipped.getpixel((1, 5)) == (255, 0, 0)
    assert out.bbox.tolist() == [[1.0, 4.0, 2.0, 5.0]]  # y -> H - y - 1
    same, kept = RandomVerticalFlip(0.0)(image, target)
    assert same is image and kept is target


def test_normalize_to_bgr255():
    image = torch.tensor([1.0, 0.5, 0.0]).reshape(3, 1, 1)
    out, _ = Normalize([1.0, 2.0, 3.0], [1.0, 1.0, 2.0], to_bgr255=True)(image, None)
    assert out.flatten().tolist() == [0.0 - 1.0, 127.5 - 2.0, (255.0 - 3.0) / 2]
    out, _ = Normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], to_bgr255=False)(image, None)
    assert out.flatten().tolist() == [1.0, 0.0, -1.0]


def test_build_transforms(cfg):
    cfg.INPUT.MIN_SIZE_TRAIN = (20,)
    cfg.INPUT.MAX_SIZE_TRAIN = 100
    cfg.INPUT.MIN_SIZE_TEST = 10
    cfg.INPUT.MAX_SIZE_TEST = 100
    cfg.INPUT.VERTICAL_FLIP_PROB_TRAIN = 1.0
    cfg.MODEL.FLIP_AUG = True  # the dataset flips; the transforms never flip left-right
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    target = BoxList(torch.tensor([[0.0, 0.0, 3.0, 3.0]]), (40, 20))
    train = build_transforms(cfg, is_train=True)
    assert not any(isinstance(t, ColorJitter) for t in train.transforms)
    tensor, out = train(image, target)
    assert tensor.shape == (3, 20, 40)
    assert out.bbox.tolist() == [[0.0, 16.0, 3.0, 19.0]]  # vertical flip only
    assert torch.allclose(tensor[:, 0, 0], torch.tensor([-102.9801, -115.9465, 255 - 122.7717]))
    tensor, out = build_transforms(cfg, is_train=False)(image, target)
    assert tensor.shape == (3, 10, 20) and out.bbox.tolist() == [[0.0, 0.0, 1.5, 1.5]]
    cfg.INPUT.BRIGHTNESS = 0.5
    assert isinstance(build_transforms(cfg, is_train=True).transforms[0], ColorJitter)
    assert not any(isinstance(t, ColorJitter) for t in build_transforms(cfg, False).transforms)
