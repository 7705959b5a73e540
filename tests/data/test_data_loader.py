"""make_data_loader end to end on a tiny generated VG-format set."""

import random

import numpy as np
import pytest
import torch
from vg_test_data import write_dataset

from maskrcnn_benchmark.data import make_data_loader
from maskrcnn_benchmark.data.datasets.vg_format import VGImageRecord


def _records(num=20):
    """Landscape (64 x 32) and portrait (32 x 64) images with overlapping boxes and a
    duplicated pair (two predicates on (0, 1)), alternating; the last four are test images."""
    records = []
    for i in range(num):
        w, h = (64, 32) if i % 3 else (32, 64)
        boxes = np.array([[0, 0, 10, 10], [5, 5, 20, 20], [2, 2, 8, 30]], dtype=np.float64)
        records.append(VGImageRecord(image_id=100 + i, width=w, height=h, boxes=boxes,
                                     labels=np.array([1, 2, 3]),
                                     relations=np.array([[0, 1, 1], [0, 1, 2], [2, 0, 3]]),
                                     split=2 if i >= num - 4 else 0))
    return records


@pytest.fixture
def loader_cfg(cfg, tmp_path, monkeypatch):
    write_dataset(tmp_path / "tiny", _records())
    monkeypatch.setenv("SGG_DATA_DIR", str(tmp_path))
    cfg.DATASETS.TRAIN = ("tiny_train",)
    cfg.DATASETS.VAL = ("tiny_val",)
    cfg.DATASETS.TEST = ("tiny_test", "tiny_val")
    cfg.DATASETS.NUM_VAL_IM = 3
    cfg.MODEL.RELATION_ON = True
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = 4
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 4
    cfg.INPUT.MIN_SIZE_TRAIN = (16, 24)
    cfg.INPUT.MAX_SIZE_TRAIN = 64
    cfg.INPUT.MIN_SIZE_TEST = 16
    cfg.INPUT.MAX_SIZE_TEST = 64
    cfg.DATALOADER.SIZE_DIVISIBILITY = 32
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.SOLVER.IMS_PER_BATCH = 4
    cfg.SOLVER.MAX_ITER = 7
    cfg.TEST.IMS_PER_BATCH = 3
    return cfg


def test_train_loader_batches(loader_cfg):
    loader = make_data_loader(loader_cfg, mode="train")
    assert len(loader) == 7
    batches = list(loader)
    assert len(batches) == 7
    dataset = loader.dataset
    assert len(dataset) == 13  # 16 train-flag images minus the 3 carved for validation
    for images, targets, indices in batches:
        assert images.tensors.shape[-1] % 32 == 0 and images.tensors.shape[-2] % 32 == 0
        assert len(images) == len(targets) == len(indices) <= 4
        portrait = {dataset.get_img_info(i)["height"] > dataset.get_img_info(i)["width"]
                    for i in indices}
        assert len(portrait) == 1  # aspect-ratio grouping
        for (h, w), target, index in zip(images.image_sizes, targets, indices):
            assert target.size == (w, h) and min(h, w) in (16, 24)
            relation = target.get_field("relation")
            assert relation.shape == (3, 3) and relation[0, 1].item() in (1, 2)
            assert relation[2, 0].item() == 3 and int((relation > 0).sum()) == 2
            assert 0 <= index < 13


def test_resumed_train_loader_continues_the_batch_sequence(loader_cfg):
    full = [indices for _, _, indices in make_data_loader(loader_cfg, mode="train")]
    resumed = [indices for _, _, indices in make_data_loader(loader_cfg, "train", start_iter=4)]
    assert resumed == full[4:]


def test_val_and_test_loaders(loader_cfg):
    (val,) = make_data_loader(loader_cfg, mode="val")
    seen = [i for _, _, indices in val for i in indices]
    assert sorted(seen) == [0, 1, 2] and len(val.dataset) == 3
    test_loaders = make_data_loader(loader_cfg, mode="test")
    assert [len(loader.dataset) for loader in test_loaders] == [4, 3]
    test_seen = [i for _, _, indices in test_loaders[0] for i in indices]
    assert sorted(test_seen) == [0, 1, 2, 3]
    assert all(len(indices) <= 3 for _, _, indices in test_loaders[0])
    images, targets, _ = next(iter(test_loaders[0]))
    assert min(targets[0].size) == 16  # test resize


def test_worker_randomness_is_seeded(loader_cfg):
    loader_cfg.DATALOADER.NUM_WORKERS = 2
    loader_cfg.SOLVER.MAX_ITER = 4

    def relations(parent_seed):
        np.random.seed(parent_seed)  # forked workers must not inherit the parent's state
        random.seed(parent_seed)
        return [torch.stack([t.get_field("relation")[0, 1] for t in targets])
                for _, targets, _ in make_data_loader(loader_cfg, mode="train")]

    first, second = relations(1), relations(2)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert {v for r in first for v in r.tolist()} == {1, 2}  # the duplicate filter does draw


def test_loader_configuration_errors(loader_cfg):
    with pytest.raises(ValueError, match="mode must be one of"):
        make_data_loader(loader_cfg, mode="training")
    loader_cfg.DATASETS.TRAIN = ()
    with pytest.raises(ValueError, match="DATASETS.TRAIN is empty"):
        make_data_loader(loader_cfg, mode="train")
    loader_cfg.TEST.IMS_PER_BATCH = 0
    with pytest.raises(ValueError, match="TEST.IMS_PER_BATCH"):
        make_data_loader(loader_cfg, mode="test")
