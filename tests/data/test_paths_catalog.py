"""Named datasets: registered names, the dataset root, the generic folder rule, cfg filters."""

import os

import pytest
from vg_test_data import filter_records, write_dataset

from maskrcnn_benchmark.config.paths_catalog import (
    DatasetCatalog,
    UnknownDatasetError,
    data_root,
    split_of,
)


def test_registered_vg_names(cfg, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg.DATASETS.DATA_DIR = "/data"
    args = DatasetCatalog.get("VG_stanford_filtered_with_attribute_val", cfg)["args"]
    assert args["split"] == "val"
    assert args["img_dir"] == "/data/vg/VG_100K"
    assert args["roidb_file"] == "/data/vg/VG-SGG-with-attri.h5"
    assert args["dict_file"] == "/data/vg/VG-SGG-dicts-with-attri.json"
    assert args["image_file"] == "/data/vg/image_data.json"
    plain = DatasetCatalog.resolve("VG_stanford_filtered_test", "/data")
    assert (plain.split, plain.roidb_file, plain.dict_file) == (
        "test", "/data/vg/VG-SGG.h5", "/data/vg/VG-SGG-dicts.json")


@pytest.mark.parametrize("name,folder", [
    ("synthetic_vg_train", "synthetic_vg"), ("synthetic_vg_tiny_test", "synthetic_vg_tiny"),
    ("synthetic_vg_small_val", "synthetic_vg_small"),
    ("synthetic_vg_default_train", "synthetic_vg_default"), ("GQA_test", "gqa")])
def test_folder_datasets(name, folder):
    paths = DatasetCatalog.resolve(name, "/r")
    assert paths.img_dir == f"/r/{folder}/VG_100K"
    assert paths.roidb_file == f"/r/{folder}/VG-SGG-with-attri.h5"
    assert paths.image_file == f"/r/{folder}/image_data.json"
    assert paths.split == name.rsplit("_", 1)[1]


def test_environment_overrides_data_dir(monkeypatch):
    monkeypatch.setenv("SGG_DATA_DIR", "/env/root")
    assert data_root("datasets") == "/env/root"
    monkeypatch.delenv("SGG_DATA_DIR")
    assert data_root("datasets") == "datasets"


def test_split_is_the_suffix_after_the_last_underscore():
    assert split_of("a_b_c_train") == "train"
    with pytest.raises(UnknownDatasetError):
        split_of("VG_stanford_filtered")


def test_unregistered_folder_with_vg_files_resolves(tmp_path):
    write_dataset(tmp_path / "my_data", filter_records(), with_images=False)
    paths = DatasetCatalog.resolve("my_data_test", str(tmp_path))
    assert paths.roidb_file == os.path.join(str(tmp_path), "my_data", "VG-SGG-with-attri.h5")
    assert paths.split == "test"


def test_unknown_name_lists_the_known_names(tmp_path):
    with pytest.raises(UnknownDatasetError) as err:
        DatasetCatalog.resolve("VG_stanford_filterd_train", str(tmp_path))
    message = str(err.value)
    assert "Unknown dataset 'VG_stanford_filterd_train'" in message
    assert "VG_stanford_filtered_with_attribute_train" in message and "GQA_val" in message
    with pytest.raises(UnknownDatasetError, match="Unknown dataset 'vg_150'"):
        DatasetCatalog.resolve("vg_150", str(tmp_path))


@pytest.mark.parametrize("use_gt_box,relation_on,require_overlap,expected", [
    (False, True, True, True), (True, True, True, False), (False, False, True, False),
    (False, True, False, False)])
def test_filters_follow_the_config(cfg, use_gt_box, relation_on, require_overlap, expected):
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = use_gt_box
    cfg.MODEL.RELATION_ON = relation_on
    cfg.MODEL.ROI_RELATION_HEAD.REQUIRE_BOX_OVERLAP = require_overlap
    cfg.MODEL.FLIP_AUG = True
    cfg.DATASETS.NUM_VAL_IM = 7
    cfg.DATASETS.NUM_IM = 3
    entry = DatasetCatalog.get("GQA_train", cfg)
    assert entry["factory"] == "VGDataset"
    args = entry["args"]
    assert args["filter_non_overlap"] is expected
    assert args["filter_empty_rels"] is relation_on
    assert args["flip_aug"] is True and args["num_val_im"] == 7 and args["num_im"] == 3
