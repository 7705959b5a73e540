"""Unlabelled images: listing, upright RGB decoding, skipping unreadable files, batching."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.datasets.image_folder import (
    ImageFolderCollator,
    ImageFolderDataset,
    LoadedImage,
    NoImagesError,
    SkippedImage,
    list_images,
    load_upright_rgb,
)
from maskrcnn_benchmark.data.datasets.user_boxes import UserBox
from maskrcnn_benchmark.data.transforms import build_transforms
from tests.data.custom_image_files import BAD_FILES, RED, UPRIGHT_SIZES, write_image_folder


@pytest.fixture
def folder(tmp_path):
    return write_image_folder(tmp_path / "images")


def _test_transforms():
    cfg = get_cfg()
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 96, 128
    return build_transforms(cfg, is_train=False)


def test_folder_listing_is_sorted_flat_and_skips_hidden_files(folder):
    (folder / ".DS_Store").write_bytes(b"\0\0")
    (folder / "nested").mkdir()
    (folder / "nested" / "z.png").write_bytes(b"")
    names = [p.rsplit("/", 1)[-1] for p in list_images(str(folder))]
    assert names == sorted([*UPRIGHT_SIZES, *BAD_FILES])
    recursive = list_images(str(folder / "**" / "*.png"))  # subfolders only through a glob
    assert str(folder / "nested" / "z.png") in recursive and len(recursive) == 4


def test_file_glob_json_list_and_duplicates(folder, tmp_path):
    pngs = list_images(str(folder / "*.png"))
    assert [p.rsplit("/", 1)[-1] for p in pngs] == ["a_rgb.png", "b_rgba.png", "f_empty.png"]
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps([str(folder / "c_grey.jpg"), str(folder / "a_rgb.png")]))
    # SGB's JSON list keeps its order; a file named twice is listed once
    files = list_images([str(listing), str(folder / "a_rgb.png"), str(folder / "c_grey.jpg")])
    assert files == [str(folder / "c_grey.jpg"), str(folder / "a_rgb.png")]


def test_nothing_to_predict_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoImagesError, match="empty"):
        list_images(str(tmp_path / "empty"))
    with pytest.raises(NoImagesError, match=r"\*\.jpg"):
        list_images(str(tmp_path / "empty" / "*.jpg"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        list_images(str(tmp_path / "nowhere"))
    bad = tmp_path / "list.json"
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="JSON list"):
        list_images(str(bad))


def test_exif_orientation_is_applied(folder):
    upright = load_upright_rgb(str(folder / "d_rotated.jpg"))
    assert upright.size == (100, 160)
    # the block stored at the top-left shows at the top-right once turned clockwise
    assert np.allclose(upright.getpixel((95, 10)), RED, atol=12)
    assert not np.allclose(upright.getpixel((5, 10)), RED, atol=60)
    with Image.open(folder / "d_rotated.jpg") as raw:
        assert raw.size == (160, 100)


def test_rgba_greyscale_and_16_bit_become_rgb(folder, tmp_path):
    rgba = load_upright_rgb(str(folder / "b_rgba.png"))
    assert rgba.mode == "RGB" and rgba.size == (120, 160)
    assert rgba.getpixel((10, 10)) == RED
    assert rgba.getpixel((100, 10)) == (255, 255, 255)  # transparent -> white, not black
    grey = load_upright_rgb(str(folder / "c_grey.jpg"))
    r, g, b = grey.getpixel((30, 40))
    assert grey.mode == "RGB" and r == g == b and abs(r - 200) <= 3
    deep = np.full((20, 30), 40000, dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    pixel = load_upright_rgb(str(tmp_path / "deep.png")).getpixel((0, 0))
    assert pixel == (155, 155, 155)  # 40000 / 65535 * 255, not clipped to white


def test_dataset_skips_bad_files_and_reports_sizes(folder):
    files = list_images(str(folder))
    dataset = ImageFolderDataset(files, _test_transforms())
    items = [dataset[i] for i in range(len(dataset))]
    skipped = [item for item in items if isinstance(item, SkippedImage)]
    assert sorted(s.path.rsplit("/", 1)[-1] for s in skipped) == sorted(BAD_FILES)
    assert any("empty" in s.reason for s in skipped)
    loaded = {item.path.rsplit("/", 1)[-1]: item for item in items
              if isinstance(item, LoadedImage)}
    assert {name: item.image_size for name, item in loaded.items()} == UPRIGHT_SIZES
    # shorter side 96, longer side capped at 128 (SGB's rounding)
    assert loaded["a_rgb.png"].input_size == (128, 96)
    assert loaded["d_rotated.jpg"].input_size == (80, 128)
    assert tuple(loaded["d_rotated.jpg"].image.shape) == (3, 128, 80)
    assert loaded["a_rgb.png"].target is None


def test_collator_pads_loaded_images_and_passes_skips_through(folder):
    files = [str(folder / n) for n in ("a_rgb.png", "e_text.jpg", "d_rotated.jpg")]
    dataset = ImageFolderDataset(files, _test_transforms())
    batch = ImageFolderCollator(size_divisible=32)([dataset[0], dataset[1], dataset[2]])
    assert [s.index for s in batch.skipped] == [1]
    assert [item.index for item in batch.loaded] == [0, 2]
    assert tuple(batch.images.tensors.shape) == (2, 3, 128, 128)
    assert batch.images.image_sizes == [(96, 128), (128, 80)]
    assert batch.targets is None
    only_bad = ImageFolderCollator()([dataset[1]])
    assert only_bad.images is None and len(only_bad.skipped) == 1


def test_user_boxes_follow_the_resize(folder):
    files = [str(folder / "a_rgb.png")]
    boxes = [[UserBox((20.0, 30.0, 100.0, 90.0), 3), UserBox((0.0, 0.0, 200.0, 150.0), 5)]]
    item = ImageFolderDataset(files, _test_transforms(), boxes)[0]
    target = item.target
    assert target.size == (128, 96)
    assert target.get_field("labels").tolist() == [3, 5]
    scale = 128 / 200
    expected = torch.tensor([[20, 30, 100, 90], [0, 0, 199, 149]]) * scale  # clipped to W-1
    assert torch.allclose(target.bbox, expected.float(), atol=1e-4)
