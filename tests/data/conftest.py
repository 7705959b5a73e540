"""Fixtures of the data-pipeline tests."""

import pytest
from vg_test_data import filter_records, write_dataset


@pytest.fixture
def filter_paths(tmp_path):
    """Files of the filter example with images."""
    return write_dataset(tmp_path / "tiny", filter_records())


@pytest.fixture
def stats_cfg(cfg, tmp_path, monkeypatch):
    """A PredCls config whose train split is the filter example's files (no images) in
    ``tmp_path/data/tiny`` (catalog name ``tiny_train``)."""
    write_dataset(tmp_path / "data" / "tiny", filter_records(), with_images=False)
    monkeypatch.setenv("SGG_DATA_DIR", str(tmp_path / "data"))
    cfg.OUTPUT_DIR = str(tmp_path / "out")
    cfg.DATASETS.TRAIN = ("tiny_train",)
    cfg.DATASETS.NUM_VAL_IM = 2
    cfg.MODEL.RELATION_ON = True
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 4
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 4
    return cfg
