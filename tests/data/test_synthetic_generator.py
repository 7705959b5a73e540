"""The synthetic generator on the `tiny` preset: determinism, files, boxes vs pixels, card."""

import hashlib
import json
import os
import runpy

import h5py
import numpy as np
import pytest

from maskrcnn_benchmark.data.datasets.synthetic.generate import (
    META_NAME,
    generate_dataset,
    synthesize_images,
)
from maskrcnn_benchmark.data.datasets.synthetic.records import synthesize_image, to_vg_record
from maskrcnn_benchmark.data.datasets.synthetic.render import render_scene
from maskrcnn_benchmark.data.datasets.synthetic.vg_read import read_vg_records, read_vocabulary
from maskrcnn_benchmark.data.datasets.synthetic.vocabulary import (
    ATTRIBUTES,
    OBJECT_CLASSES,
    PREDICATES,
    PRESETS,
)
from maskrcnn_benchmark.data.datasets.vg_format import (
    DICTS_NAME,
    H5_NAME,
    IMAGE_DATA_NAME,
    IMAGE_DIR_NAME,
)

TINY = PRESETS["tiny"]


def _digest(folder):
    """Hash of every generated artifact (h5 arrays, jsons, image bytes) by name."""
    out = {}
    with h5py.File(os.path.join(folder, H5_NAME), "r") as h5:
        for key in h5:
            out[key] = hashlib.md5(h5[key][()].tobytes()).hexdigest()
    for name in (DICTS_NAME, IMAGE_DATA_NAME):
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = hashlib.md5(f.read()).hexdigest()
    image_dir = os.path.join(folder, IMAGE_DIR_NAME)
    for name in sorted(os.listdir(image_dir)):
        with open(os.path.join(image_dir, name), "rb") as f:
            out[name] = hashlib.md5(f.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """The tiny preset written once with one worker, through the command-line tool."""
    tool = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "make_synthetic_vg.py")
    out = str(tmp_path_factory.mktemp("tiny") / "synthetic_vg")
    runpy.run_path(tool)["main"](["--preset", "tiny", "--out", out, "--seed", "3",
                                  "--workers", "1"])
    return out


def test_same_seed_same_files_for_any_worker_count(tiny_dir, tmp_path):
    again = str(tmp_path / "again")
    generate_dataset(again, "tiny", seed=3, workers=2)
    first, second = _digest(tiny_dir), _digest(again)
    assert len([k for k in first if k.endswith(".jpg")]) == TINY.num_images
    assert first == second


def test_other_seed_other_data(tiny_dir):
    a = [to_vg_record(im) for im in synthesize_images(3, 8, TINY.test_fraction)]
    b = [to_vg_record(im) for im in synthesize_images(4, 8, TINY.test_fraction)]
    assert any(len(x.labels) != len(y.labels) or not np.array_equal(x.boxes, y.boxes)
               for x, y in zip(a, b))


def test_files_read_back_as_generated(tiny_dir):
    generated = [to_vg_record(im) for im in synthesize_images(3, TINY.num_images,
                                                              TINY.test_fraction)]
    written = read_vg_records(tiny_dir)
    assert [r.image_id for r in written] == list(range(1, TINY.num_images + 1))
    for g, w in zip(generated, written):
        assert (w.width, w.height, w.split) == (g.width, g.height, g.split)
        np.testing.assert_array_equal(w.labels, g.labels)
        np.testing.assert_array_equal(w.relations, g.relations)
        # Integer (cx, cy, w, h) at the 1024 scale: x1 = cx - w / 2 is off by <= 0.75 unit.
        tol = 0.75 * max(g.width, g.height) / 1024 + 1e-6
        assert np.abs(w.boxes - g.boxes).max() <= tol
        np.testing.assert_array_equal(w.attributes[:, :3], g.attributes)
        assert w.extra == g.extra  # scene kind, true predicates, context rules
    classes, predicates = read_vocabulary(tiny_dir)
    assert tuple(classes) == OBJECT_CLASSES and tuple(predicates) == PREDICATES
    with open(os.path.join(tiny_dir, DICTS_NAME)) as f:
        dicts = json.load(f)
    assert len(dicts["idx_to_attribute"]) == len(ATTRIBUTES)
    assert sum(dicts["predicate_count"].values()) == sum(len(g.relations) for g in generated)


def test_images_on_disk_match_image_data(tiny_dir):
    from PIL import Image

    with open(os.path.join(tiny_dir, IMAGE_DATA_NAME)) as f:
        infos = json.load(f)
    for info in infos:
        with Image.open(os.path.join(tiny_dir, IMAGE_DIR_NAME, f"{info['image_id']}.jpg")) as im:
            assert im.size == (info["width"], info["height"]) and im.mode == "RGB"
            assert 192 <= min(im.size) and max(im.size) <= 320


def test_boxes_inside_images_and_equal_to_drawn_extent():
    checked = 0
    for index in range(TINY.num_images):
        image = synthesize_image(3, index, TINY.test_fraction)
        pixels, extents = render_scene(image.scene, (3, index), with_extents=True)
        w, h = pixels.size
        for obj, extent in zip(image.scene.objects, extents):
            x1, y1, x2, y2 = obj.box
            assert 0 <= x1 < x2 <= w - 1 and 0 <= y1 < y2 <= h - 1, (obj.name, obj.box)
            assert extent == obj.box, (index, obj.name, obj.pose, obj.box, extent)
            checked += 1
    assert checked > 5 * TINY.num_images


def test_drawn_pixels_differ_from_background_inside_boxes():
    # An object's pixels must be painted: its box is not just background.
    image = synthesize_image(3, 0, TINY.test_fraction)
    scene = image.scene
    with_objects, _ = render_scene(scene, (3, 0))
    scene.objects = [o for o in scene.objects if o.name in ("sky", "street", "grass", "water",
                                                            "beach", "floor")]
    background, _ = render_scene(scene, (3, 0))
    assert np.abs(np.asarray(with_objects, np.int16) - np.asarray(background, np.int16)).mean() > 1


def test_card_and_figures_written(tiny_dir):
    names = set(os.listdir(tiny_dir))
    assert {"README.md", "predicate_frequency.png", "examples.png", META_NAME} <= names
    with open(os.path.join(tiny_dir, "README.md")) as f:
        card = f.read()
    for needle in ("## Splits and sizes", "## Scene rules", "head/tail ratio", "Zero-shot",
                   "## Relations decided by the rest of the scene", "`parked_unless_used`",
                   "<!-- oracle:begin -->", "predicate_frequency.png", "examples.png"):
        assert needle in card
    with open(os.path.join(tiny_dir, META_NAME)) as f:
        meta = json.load(f)
    assert meta["seed"] == 3 and meta["num_images"] == TINY.num_images


def test_refuses_foreign_folder_and_keeps_its_files(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        generate_dataset(str(folder), "tiny", num_images=2)
    assert (folder / "notes.txt").read_text() == "keep me"
    assert sorted(os.listdir(folder)) == ["notes.txt"]


def test_regenerating_replaces_old_images(tmp_path):
    out = str(tmp_path / "ds")
    generate_dataset(out, "tiny", seed=0, num_images=6, workers=1)
    generate_dataset(out, "tiny", seed=0, num_images=4, workers=1)
    assert sorted(os.listdir(os.path.join(out, IMAGE_DIR_NAME))) == [f"{i}.jpg" for i in
                                                                     range(1, 5)]
    assert len(read_vg_records(out)) == 4


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        generate_dataset(str(tmp_path / "x"), "huge")
    with pytest.raises(FileNotFoundError, match="make_synthetic_vg"):
        read_vg_records(str(tmp_path / "missing"))
    broken = tmp_path / "broken"
    generate_dataset(str(broken), "tiny", num_images=2, workers=1)
    (broken / H5_NAME).write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="cannot be read as a VG150 h5"):
        read_vg_records(str(broken))


def test_extension_continues_the_seed_stream_with_new_image_ids(tmp_path):
    """--first-image N: images N.. of the stream, the tail of a larger set, new ids."""
    full = [to_vg_record(im) for im in synthesize_images(5, 9, 0.5)]
    tail = [to_vg_record(im) for im in synthesize_images(5, 4, 0.5, first_image=5)]
    assert [r.image_id for r in tail] == [6, 7, 8, 9]
    for a, b in zip(full[5:], tail):
        assert a.split == b.split and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.relations, b.relations)
    out = tmp_path / "ext"
    generate_dataset(str(out), "tiny", seed=5, num_images=3, workers=1, first_image=5)
    meta = json.loads((out / META_NAME).read_text())
    assert (meta["first_image"], meta["num_images"]) == (5, 3)
    assert sorted(os.listdir(out / IMAGE_DIR_NAME)) == ["6.jpg", "7.jpg", "8.jpg"]
    on_disk = read_vg_records(str(out))
    assert [r.image_id for r in on_disk] == [6, 7, 8]
    expected = synthesize_images(5, 8, PRESETS["tiny"].test_fraction)[5:]
    assert all(np.array_equal(a.relations, to_vg_record(b).relations)
               for a, b in zip(on_disk, expected))
    assert "--first-image 5" in (out / "README.md").read_text()
    with pytest.raises(ValueError, match="first_image must be 0 or more, got -1"):
        generate_dataset(str(tmp_path / "bad"), "tiny", num_images=2, first_image=-1)
