"""Every predictor x task on the tiny synthetic preset, inside a randomly initialised small
detector: a training step (finite losses, frozen detector) and test-time post-processing.

Each batch holds two synthetic images plus two hand-made ones: an image with a single object
and an image whose objects have no relation.
"""

import itertools
import json
import os

import pytest
import torch

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.datasets.vg_format import DICTS_NAME
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictor_catalog import (
    predictor_settings,
    relation_predictor_names,
)
from tests.modeling.relation_data.synthetic import TASK_FLAGS, detector_cfg, make_target

PREDICTORS = relation_predictor_names()
DATASET = "synthetic_vg_tiny"


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


def _cfg(root, predictor, task, dataset=DATASET):
    """A small detector + relation head on ``<root>/<dataset>`` (class counts from its dicts)."""
    with open(os.path.join(root, dataset, DICTS_NAME)) as f:
        dicts = json.load(f)
    cfg = detector_cfg(predictor, task, **predictor_settings(predictor))
    cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES = len(dicts["idx_to_label"]) + 1
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = len(dicts["idx_to_predicate"]) + 1
    cfg.MODEL.ROI_RELATION_HEAD.REQUIRE_BOX_OVERLAP = False
    cfg.DATASETS.TRAIN = (f"{dataset}_train",)
    cfg.DATASETS.DATA_DIR = str(root)
    cfg.DATASETS.NUM_VAL_IM = 1
    cfg.INPUT.MIN_SIZE_TRAIN = (96,)
    cfg.INPUT.MAX_SIZE_TRAIN = 128
    cfg.OUTPUT_DIR = str(root / "output")
    return cfg


def _batch(cfg):
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, is_train=True)[0]
    items = [dataset[0], dataset[1]]
    image, target, _ = items[0]
    size = target.size
    generator = torch.Generator().manual_seed(0)
    for num, relations in ((1, []), (3, [])):
        extra = make_target(num, relations, size, generator)
        extra.add_field("attributes", torch.zeros(num, 10, dtype=torch.int64))
        items.append((torch.randn(image.shape, generator=generator), extra, -1))
    images, targets, _ = BatchCollator(32)(items)
    return images, list(targets)


def _detector_state(model):
    parts = ("backbone.", "rpn.", "roi_heads.box.")
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(parts)}


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_train_step_and_prediction(synthetic_root, monkeypatch, name, task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _cfg(synthetic_root, name, task)
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics)
    images, targets = _batch(cfg)
    assert len(targets[0].get_field("relation").nonzero()) > 0  # real relations in the batch
    before = _detector_state(model)
    relation_before = {k: v.clone() for k, v in model.roi_heads.relation.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01)

    losses = model.train()(images, targets)
    assert {"loss_rel", "loss_refine_obj"} <= set(losses)
    assert all(k.startswith("loss_") and v.dim() == 0 and torch.isfinite(v)
               for k, v in losses.items())
    sum(losses.values()).backward()
    for part in (model.backbone, model.rpn, model.roi_heads.box):
        assert all(not p.requires_grad and p.grad is None for p in part.parameters())
    optimizer.step()
    after = _detector_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # buffers included
    changed = {k.split(".")[0] for k, v in model.roi_heads.relation.state_dict().items()
               if not torch.equal(v, relation_before[k])}
    assert {"predictor", "box_feature_extractor"} <= changed

    with torch.no_grad():
        results = model.eval()(images, targets)
    num_rel_classes = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    assert len(results) == len(targets)
    for result, target in zip(results, targets):
        num = len(result)
        pairs = result.get_field("rel_pair_idxs")
        assert pairs.shape[1] == 2 and ((pairs >= 0) & (pairs < num)).all()
        if task != "sgdet":  # every ordered pair, or the (0, 0) placeholder for one box
            assert torch.equal(result.bbox, target.bbox)
            assert len(pairs) == (num * (num - 1) if num > 1 else 1)
        assert result.get_field("pred_labels").shape == (num,)
        assert result.get_field("pred_scores").shape == (num,)
        rel_scores = result.get_field("pred_rel_scores")
        assert rel_scores.shape == (len(pairs), num_rel_classes)
        assert torch.allclose(rel_scores.sum(1), torch.ones(len(pairs)))
        assert result.get_field("pred_rel_labels").shape == (len(pairs),)
        assert (result.get_field("pred_rel_labels") >= 1).all()
        triple = (rel_scores[:, 1:].max(1).values
                  * result.get_field("pred_scores")[pairs[:, 0]]
                  * result.get_field("pred_scores")[pairs[:, 1]])
        assert (triple[:-1] >= triple[1:]).all()  # ranked by the triplet score
        if task == "predcls":
            assert torch.equal(result.get_field("pred_labels"), target.get_field("labels"))
            assert torch.allclose(result.get_field("pred_scores"), torch.ones(num))
