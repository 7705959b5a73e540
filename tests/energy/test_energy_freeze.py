"""ENERGY_MODEL.FREEZE: a pretrained energy model stays fixed while the relation model learns
from it."""

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from tests.energy.test_energy_training_all_heads import _energy_cfg
from tests.modeling.test_relation_synthetic import DATASET, _batch


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


def test_frozen_energy_model_gets_no_gradient_and_guides_the_relation_model(root, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _energy_cfg(root, "MotifPredictor", "predcls", **{
        "ENERGY_MODEL.FREEZE": "True", "ENERGY_MODEL.WEIGHT": "pretrained.pth",
        "ENERGY_MODEL.POSITIVE_GRAPH": "matched", "ENERGY_MODEL.NEGATIVE_STATES": "sample",
        "SAMPLER.NAME": "GibbsWithGradients", "SAMPLER.GRAD_MODE": "descend",
        "ENERGY_MODEL.USE_IMAGE_GRAPH": "False"})
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).train()
    assert not any(p.requires_grad for p in model.energy_model.parameters())
    images, targets = _batch(cfg)
    losses = model(images, targets)
    assert losses["loss_energy_descent"].requires_grad
    assert not losses["loss_energy"].requires_grad  # nothing left to train in the energy
    # the descent term alone reaches the relation model, and only the relation model
    losses["loss_energy_descent"].backward()
    assert all(p.grad is None for p in model.energy_model.parameters())
    grads = [p.grad for p in model.roi_heads.relation.predictor.parameters()
             if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_freezing_a_random_energy_model_is_refused(root, monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    cfg = _energy_cfg(root, "MotifPredictor", "predcls", **{"ENERGY_MODEL.FREEZE": "True"})
    with pytest.raises(ValueError, match="FREEZE True keeps the energy model as initialised"):
        build_detection_model(cfg, get_dataset_statistics(cfg))
