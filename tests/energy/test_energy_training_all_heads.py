"""Energy training for every predictor x task inside a random small detector on the tiny
synthetic preset: Eq. 5 losses are finite, gradients reach the energy model and the relation
head, the detector stays frozen, and test-time refinement returns ranked predictions."""

import itertools

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from tests.modeling.relation_data.synthetic import TASK_FLAGS
from tests.modeling.test_relation_synthetic import DATASET, PREDICTORS, _batch, _cfg


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


def _energy_cfg(root, predictor, task, **extra):
    cfg = _cfg(root, predictor, task)
    cfg.MODEL.ENERGY_ON = True
    ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
    ebm.OBJ_EMBED_DIM = ebm.REL_EMBED_DIM = ebm.OBJ_LABEL_EMBED_DIM = 16
    ebm.REL_LABEL_EMBED_DIM = ebm.POOLING_DIM = 16
    cfg.SAMPLER.ITERS = 2
    for key, value in extra.items():
        cfg.merge_from_list([key, value])
    return cfg


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_energy_training_step(root, monkeypatch, name, task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _energy_cfg(root, name, task)
    model = build_detection_model(cfg, get_dataset_statistics(cfg))
    images, targets = _batch(cfg)
    losses = model.train()(images, targets)
    assert {"loss_rel", "loss_energy", "loss_energy_l2"} <= set(losses)
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()
    energy_grads = [p.grad for p in model.energy_model.parameters()]
    assert all(g is not None for g in energy_grads) and any(g.abs().sum() > 0
                                                           for g in energy_grads)
    predictor_grads = [p.grad for p in model.roi_heads.relation.predictor.parameters()
                       if p.grad is not None]
    assert predictor_grads and any(g.abs().sum() > 0 for g in predictor_grads)
    for part in (model.backbone, model.rpn, model.roi_heads.box):
        assert all(p.grad is None for p in part.parameters())


@pytest.mark.parametrize("task", list(TASK_FLAGS))
def test_energy_refinement_at_test_time(root, monkeypatch, task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _energy_cfg(root, "MotifPredictor", task, **{"TEST.ENERGY_REFINE": "True"})
    model = build_detection_model(cfg, get_dataset_statistics(cfg)).eval()
    images, targets = _batch(cfg)
    with torch.no_grad():
        refined = model(images, targets)
    model.energy_refiner = None
    with torch.no_grad():
        plain = model(images, targets)
    changed = False
    for a, b in zip(refined, plain):
        scores = a.get_field("pred_rel_scores")
        assert torch.allclose(scores.sum(1), torch.ones(len(scores)), atol=1e-5)
        assert a.get_field("rel_pair_idxs").shape == b.get_field("rel_pair_idxs").shape
        changed |= not torch.allclose(scores, b.get_field("pred_rel_scores"))
    assert changed  # the sampler moved the relation states


@pytest.mark.parametrize("task", list(TASK_FLAGS))
def test_matched_positive_graph_in_a_full_training_step(root, monkeypatch, task):
    """POSITIVE_GRAPH matched reads the head's sampled pairs and their training labels."""
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _energy_cfg(root, "MotifPredictor", task, **{"ENERGY_MODEL.POSITIVE_GRAPH": "matched"})
    model = build_detection_model(cfg, get_dataset_statistics(cfg))
    images, targets = _batch(cfg)
    seen = {}
    build = model.energy_objective.__class__.__call__

    def spy(objective, energy_model, output, targets, task_losses):
        seen["pairs"] = sum(len(p) for p in output.rel_pair_idxs)
        seen["labels"] = sum(len(labels) for labels in output.rel_labels)
        return build(objective, energy_model, output, targets, task_losses)

    monkeypatch.setattr(model.energy_objective.__class__, "__call__", spy)
    losses = model.train()(images, targets)
    assert torch.isfinite(losses["loss_energy"]) and torch.isfinite(losses["loss_energy_l2"])
    gt_relations = sum(int((t.get_field("relation") > 0).sum()) for t in targets)
    assert seen["pairs"] == seen["labels"] > 0
    if task != "sgdet":  # GT boxes: all sampled pairs incl. background ones are edges
        assert seen["pairs"] > gt_relations
