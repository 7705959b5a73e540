"""Every bad input gets one clear error naming the thing (and what to do)."""

import json
import os

import h5py
import pytest
from vg_test_data import _rec, dataset_kwargs, filter_records, write_dataset

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.datasets.vg_h5 import VGFormatError
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset


def test_missing_h5(filter_paths):
    os.remove(filter_paths["h5"])
    with pytest.raises(FileNotFoundError, match="VG h5 file not found: .*VG-SGG-with-attri.h5"):
        VGDataset("train", **dataset_kwargs(filter_paths))


def test_missing_dicts_json(filter_paths):
    os.remove(filter_paths["dicts"])
    with pytest.raises(FileNotFoundError, match="dicts json not found: .*dicts-with-attri.json"):
        VGDataset("train", **dataset_kwargs(filter_paths))


def test_missing_image_data_json(filter_paths):
    os.remove(filter_paths["image_data"])
    with pytest.raises(FileNotFoundError, match="image_data.json not found"):
        VGDataset("val", **dataset_kwargs(filter_paths))


def test_missing_image_folder(filter_paths):
    with pytest.raises(FileNotFoundError, match="Image folder not found: .*nowhere"):
        VGDataset("train", **dataset_kwargs(filter_paths, img_dir="/nowhere"))


def test_h5_without_a_needed_field(filter_paths):
    with h5py.File(filter_paths["h5"], "r+") as h5:
        del h5["predicates"]
    with pytest.raises(VGFormatError, match=r"lacks the field\(s\) \['predicates'\]"):
        VGDataset("train", **dataset_kwargs(filter_paths))


def test_dicts_json_without_a_needed_map(filter_paths):
    with open(filter_paths["dicts"]) as f:
        info = json.load(f)
    del info["predicate_to_idx"]
    with open(filter_paths["dicts"], "w") as f:
        json.dump(info, f)
    with pytest.raises(VGFormatError, match="no 'predicate_to_idx'"):
        VGDataset("train", **dataset_kwargs(filter_paths))


def test_corrupt_json(filter_paths):
    with open(filter_paths["image_data"], "w") as f:
        f.write("[{")
    with pytest.raises(VGFormatError, match="image_data.json .* is not valid JSON"):
        VGDataset("val", **dataset_kwargs(filter_paths))


def test_empty_split_after_filtering(tmp_path):
    paths = write_dataset(tmp_path / "d", filter_records()[:6])  # no test image
    with pytest.raises(VGFormatError, match="split 'test' .* is empty after filtering"):
        VGDataset("test", **dataset_kwargs(paths))
    with pytest.raises(VGFormatError, match="split 'train' .* empty .*NUM_VAL_IM"):
        VGDataset("train", **dataset_kwargs(paths, num_val_im=5000))


def test_relation_index_out_of_range(filter_paths):
    with h5py.File(filter_paths["h5"], "r+") as h5:
        rels = h5["relationships"][:]
        rels[0, 1] = 99
        h5["relationships"][...] = rels
    with pytest.raises(VGFormatError, match="image row 0 has a relation whose object index"):
        VGDataset("val", **dataset_kwargs(filter_paths))


def test_labels_outside_the_dicts_classes(filter_paths):
    with h5py.File(filter_paths["h5"], "r+") as h5:
        labels = h5["labels"][:]
        labels[0, 0] = 7
        h5["labels"][...] = labels
    with pytest.raises(VGFormatError, match="'labels' holds 7, outside 1..3"):
        VGDataset("val", **dataset_kwargs(filter_paths))


def test_missing_image_file_names_the_file(filter_paths):
    ds = VGDataset("val", **dataset_kwargs(filter_paths))
    os.remove(ds.filenames[1])
    ds[0]
    with pytest.raises(FileNotFoundError, match=r"Image .*13\.jpg \(image_id 13"):
        ds[1]


def test_corrupt_image_names_the_file(filter_paths):
    ds = VGDataset("val", **dataset_kwargs(filter_paths))
    with open(ds.filenames[0], "wb") as f:
        f.write(b"not a jpeg")
    with pytest.raises(OSError, match=r"Image .*10\.jpg cannot be decoded"):
        ds[0]


def test_class_counts_must_match_the_config(cfg, tmp_path, monkeypatch):
    write_dataset(tmp_path / "tiny", [_rec(1, [[0, 0, 4, 4], [1, 1, 6, 6]], [1, 2],
                                           [[0, 1, 1]])])
    monkeypatch.setenv("SGG_DATA_DIR", str(tmp_path))
    cfg.MODEL.RELATION_ON = True
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 4
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 51
    with pytest.raises(ValueError, match="4 predicate classes .*ROI_RELATION_HEAD.NUM_CLASSES "
                                         "is 51; set it to 4"):
        build_dataset(cfg, ["tiny_val"], is_train=False)
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 151
    with pytest.raises(ValueError, match="4 object classes .*ROI_BOX_HEAD.NUM_CLASSES is 151"):
        build_dataset(cfg, ["tiny_val"], is_train=False)
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 4
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 4
    assert len(build_dataset(cfg, ["tiny_val"], is_train=False)[0]) == 1
