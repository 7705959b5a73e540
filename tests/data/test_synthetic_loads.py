"""The generated `tiny` files load through VGDataset with every filter, unchanged."""

import os

import numpy as np
import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import (
    generate_dataset,
    synthesize_images,
)
from maskrcnn_benchmark.data.datasets.synthetic.records import to_vg_record
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
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset

TINY = PRESETS["tiny"]
NUM_VAL = 8


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synthetic") / "synthetic_vg_tiny")
    generate_dataset(out, "tiny", seed=0, workers=1)
    records = [to_vg_record(im) for im in synthesize_images(0, TINY.num_images,
                                                            TINY.test_fraction)]
    return out, {r.image_id: r for r in records}


def _dataset(out, split, **kwargs):
    return VGDataset(split, os.path.join(out, IMAGE_DIR_NAME), os.path.join(out, H5_NAME),
                     os.path.join(out, DICTS_NAME), os.path.join(out, IMAGE_DATA_NAME),
                     num_val_im=NUM_VAL, **kwargs)


def _overlap(a, b):
    """boxlist_iou > 0 with the +1 convention (touching boxes overlap)."""
    return min(a[2], b[2]) - max(a[0], b[0]) + 1 > 0 and min(a[3], b[3]) - max(a[1], b[1]) + 1 > 0


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_every_filter_on(tiny, split):
    out, records = tiny
    ds = _dataset(out, split, filter_empty_rels=True, filter_duplicate_rels=True,
                  filter_non_overlap=True, flip_aug=True)
    expected = [r for r in records.values() if r.split == (2 if split == "test" else 0)]
    if split == "val":
        expected = expected[:NUM_VAL]
    elif split == "train":
        expected = expected[NUM_VAL:]
        # the overlap filter keeps an image while one relation's boxes overlap
        expected = [r for r in expected if any(_overlap(r.boxes[s], r.boxes[o])
                                               for s, o, _ in r.relations)]
        assert len(expected) >= 0.9 * (TINY.num_images * (1 - TINY.test_fraction) - NUM_VAL)
    assert [ds.get_img_info(i)["image_id"] for i in range(len(ds))] == [
        r.image_id for r in expected]
    assert ds.ind_to_classes == ["__background__", *OBJECT_CLASSES]
    assert ds.ind_to_predicates == ["__background__", *PREDICATES]
    assert ds.ind_to_attributes == ["__background__", *ATTRIBUTES]
    for i in range(len(ds)):
        image, target, index = ds[i]
        record = records[ds.get_img_info(i)["image_id"]]
        assert index == i and image.size == (record.width, record.height)
        assert target.size == image.size
        labels = target.get_field("labels")
        assert labels.tolist() == record.labels.tolist()
        relation = target.get_field("relation")
        assert relation.shape == (len(labels), len(labels))
        assert target.get_field("attributes").shape == (len(labels), 10)
        kept = {(s, o, p) for s, o, p in record.relations.tolist()
                if split != "train" or _overlap(record.boxes[s], record.boxes[o])}
        assert {(s, o, int(relation[s, o])) for s, o in zip(*torch.nonzero(relation).T.tolist())
                } == kept


def test_evaluation_ground_truth_is_the_generated_graph(tiny):
    out, records = tiny
    ds = _dataset(out, "test")
    assert len(ds) == sum(r.split == 2 for r in records.values())
    for i in range(len(ds)):
        record = records[ds.get_img_info(i)["image_id"]]
        gt = ds.get_groundtruth(i, evaluation=True)
        np.testing.assert_array_equal(gt.get_field("relation_tuple").numpy(), record.relations)
        # 1024-scale integer (cx, cy, w, h), halves truncated on load as in the reference:
        # a coordinate moves by less than 1.5 units of the 1024 scale.
        tol = 1.5 * max(record.width, record.height) / 1024
        assert np.abs(gt.bbox.numpy() - record.boxes).max() <= tol
