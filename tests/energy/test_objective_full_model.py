"""The issue-14 objective inside a small detector on the tiny synthetic preset: the dataset
statistics reach the hard negatives' frequency prior through build_generalized_rcnn, and a
training step with matched / sample / hard negatives / Margin is finite in every task."""

import pytest
import torch

from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.utils.events import EventStorage
from tests.modeling.relation_data.synthetic import TASK_FLAGS
from tests.modeling.test_relation_synthetic import DATASET, _batch, _cfg


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("datasets")
    generate_dataset(str(root / DATASET), "tiny", seed=0, workers=1, num_images=10)
    return root


@pytest.mark.parametrize("task", list(TASK_FLAGS))
def test_training_step_with_hard_negatives_and_margin(root, monkeypatch, task):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _cfg(root, "MotifPredictor", task)
    cfg.MODEL.ENERGY_ON = True
    ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
    ebm.OBJ_EMBED_DIM = ebm.REL_EMBED_DIM = ebm.OBJ_LABEL_EMBED_DIM = 16
    ebm.REL_LABEL_EMBED_DIM = ebm.POOLING_DIM = 16
    cfg.SAMPLER.ITERS = 2
    cfg.merge_from_list(["ENERGY_MODEL.POSITIVE_GRAPH", "matched",
                         "ENERGY_MODEL.NEGATIVE_STATES", "sample",
                         "ENERGY_MODEL.HARD_NEGATIVES.NUM", "2",
                         "ENERGY_MODEL.LOSS", "Margin"])
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics)
    prior = model.energy_objective.hard_negatives.prior
    # the prior is the train split's triplet table, passed through build_generalized_rcnn
    subject, obj, predicate = statistics.triplets[0].tolist()
    assert prior.predicate_weights(subject, obj)[predicate] == statistics.triplet_counts[0]
    images, targets = _batch(cfg)
    with EventStorage() as storage:
        losses = model.train()(images, targets)
    stats = storage.latest()
    assert all(torch.isfinite(v) for v in losses.values())
    assert "energy/margin_active" in stats
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.energy_model.parameters())
    predictor_grads = [p.grad for p in model.roi_heads.relation.predictor.parameters()
                       if p.grad is not None]
    assert predictor_grads and any(g.abs().sum() > 0 for g in predictor_grads)
