"""The inference loop and evaluator on the real VGDataset (tiny VG150 files), transforms and
collator, and the reference triplet files read by the data module's loader."""

import os

import numpy as np
import pytest
import torch
from eval_fakes import FakeRelationModel, FakeStatistics, make_cfg
from PIL import Image
from torch.utils.data import DataLoader

from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.data.datasets.vg_format import IMAGE_DIR_NAME, VGImageRecord, write_vg_files
from maskrcnn_benchmark.data.datasets.visual_genome import VGDataset
from maskrcnn_benchmark.data.transforms.build import build_transforms
from maskrcnn_benchmark.engine.inference import inference
from maskrcnn_benchmark.evaluation import build_sgg_evaluator

WIDTH, HEIGHT = 64, 32  # boxes at the 1024 scale are 16 x the pixels: exact encoding


def records():
    def rec(image_id, boxes, labels, relations):
        return VGImageRecord(image_id, WIDTH, HEIGHT, np.asarray(boxes, dtype=np.float64),
                             np.asarray(labels), np.asarray(relations).reshape(-1, 3), split=2)

    return [
        rec(1, [[0, 0, 16, 16], [32, 0, 48, 16]], [1, 2], [[0, 1, 1], [0, 1, 1]]),  # duplicate
        rec(2, [[0, 0, 16, 16], [16, 16, 32, 31], [40, 8, 60, 28]], [3, 1, 2],
            [[0, 1, 2], [2, 0, 1]]),
        rec(3, [[8, 8, 24, 24], [30, 2, 50, 30]], [2, 2], [[1, 0, 2]]),
    ]


@pytest.fixture
def vg_test_split(tmp_path):
    paths = write_vg_files(str(tmp_path), records(), ["cat", "dog", "tree"], ["on", "near", "has"])
    os.makedirs(tmp_path / IMAGE_DIR_NAME)
    for r in records():
        Image.new("RGB", (WIDTH, HEIGHT)).save(tmp_path / IMAGE_DIR_NAME / f"{r.image_id}.jpg")
    cfg = make_cfg(tmp_path)
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 4
    dataset = VGDataset("test", paths["img_dir"], paths["h5"], paths["dicts"],
                        paths["image_data"], transforms=build_transforms(cfg, is_train=False))
    return cfg, dataset


def test_perfect_predcls_predictions_on_the_real_dataset(vg_test_split, tmp_path):
    # The model sees resized images (64x32 -> 1333x666); the evaluator maps its boxes back.
    # Every GT row is recalled (the duplicate too); predicates 1 and 2 occur, 3 never:
    # mR = (1 + 1 + 0) / 3. Boxes land back on the GT: AP@0.5 = 1.
    cfg, dataset = vg_test_split
    loader = DataLoader(dataset, batch_size=2, collate_fn=BatchCollator(32))
    result = inference(cfg, FakeRelationModel(num_predicates=4), loader, "tiny_test",
                       output_folder=str(tmp_path / "out"), statistics=FakeStatistics({}))
    metrics = result.metrics
    assert metrics["num_images_with_relations"] == 3
    assert metrics["R"] == {"20": 1.0, "50": 1.0, "100": 1.0}
    assert metrics["mR"]["100"] == pytest.approx(2 / 3)
    assert metrics["per_predicate"]["names"] == ["on", "near", "has"]
    assert metrics["per_predicate"]["gt_instances"] == [3, 2, 0]
    assert metrics["detection"]["mAP@0.5"] == pytest.approx(1.0)


def test_reference_triplet_files_through_the_data_loader_function(vg_test_split, tmp_path):
    cfg, _ = vg_test_split
    legacy = dict(_use_new_zipfile_serialization=False)  # the reference's legacy format
    zero_shot = torch.tensor([[1, 2, 1], [1, 2, 1]])
    torch.save(zero_shot, tmp_path / "zeroshot_triplet.pytorch", **legacy)
    torch.save(torch.tensor([[3, 1, 2]]), tmp_path / "vg-4-shot-triplets.pytorch", **legacy)
    cfg.TEST.RELATION.ZERO_SHOT_FILE = str(tmp_path / "zeroshot_triplet.pytorch")
    cfg.TEST.RELATION.FEW_SHOT_DIR = str(tmp_path)
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (4,)
    evaluator = build_sgg_evaluator(cfg, FakeStatistics({}))
    groups = {g.key: g.triplets.tolist() for g in evaluator.groups if g.triplets is not None}
    assert groups == {"zero-shot": [[1, 2, 1]], "4": [[3, 1, 2]]}
