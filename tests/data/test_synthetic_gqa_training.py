"""The GQA recipe end to end on a tiny GQA-format set: generator -> convert_gqa -> the catalog's
folder name -> Transformer, Motifs and IMP trained without the frequency bias (the paper's GQA
setting), cross-entropy and energy-based, inside a small random detector; the dense
[C, C, P] frequency table is never built (GQA's is 1704 x 1704 x 311)."""

import itertools
import os

import pytest
import torch

from maskrcnn_benchmark.data.build import build_dataset
from maskrcnn_benchmark.data.collate import BatchCollator
from maskrcnn_benchmark.data.datasets.gqa_convert import convert_gqa
from maskrcnn_benchmark.data.datasets.synthetic.gqa_generate import (
    GQA_IMAGE_DIR,
    SCENE_GRAPH_DIR,
    TRAIN_SCENE_GRAPHS,
    VAL_SCENE_GRAPHS,
    generate_gqa_dataset,
)
from maskrcnn_benchmark.data.statistics import DatasetStatistics, get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from tests.modeling.test_relation_synthetic import _cfg as relation_cfg

DATASET = "synthetic_gqa"  # an unregistered folder name: <root>/synthetic_gqa/
GQA_PREDICTORS = ["TransformerPredictor", "MotifPredictor", "IMPPredictor"]  # the paper's rows


@pytest.fixture(scope="module")
def gqa_root(tmp_path_factory):
    """12 tiny-preset images written in the GQA format, converted into ``root/synthetic_gqa``."""
    root = tmp_path_factory.mktemp("datasets")
    raw = str(root / "synthetic_gqa_raw")
    generate_gqa_dataset(raw, "tiny", seed=0, workers=1, num_images=12)
    convert_gqa([os.path.join(raw, SCENE_GRAPH_DIR, n) for n in (TRAIN_SCENE_GRAPHS,
                                                                VAL_SCENE_GRAPHS)],
                str(root / DATASET), preset="paper",
                image_dir=os.path.join(raw, GQA_IMAGE_DIR))
    return root


def _cfg(root, predictor, task, energy):
    cfg = relation_cfg(root, predictor, task, dataset=DATASET)
    cfg.MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS = False
    if energy:
        cfg.MODEL.ENERGY_ON = True
        ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
        ebm.OBJ_EMBED_DIM = ebm.REL_EMBED_DIM = ebm.OBJ_LABEL_EMBED_DIM = 16
        ebm.REL_LABEL_EMBED_DIM = ebm.POOLING_DIM = 16
        cfg.SAMPLER.ITERS = 2
    return cfg


def _no_dense_table(self):
    raise AssertionError("the dense [C, C, P] frequency table was built")


@pytest.mark.parametrize("name,task,energy", [
    *itertools.product(GQA_PREDICTORS, ["predcls"], [False, True]),
    ("TransformerPredictor", "sgcls", True)])
def test_gqa_recipe_trains_without_frequency_bias(gqa_root, monkeypatch, name, task, energy):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    monkeypatch.setattr(DatasetStatistics, "pred_dist", _no_dense_table)
    monkeypatch.setattr(DatasetStatistics, "fg_matrix", _no_dense_table)
    torch.manual_seed(0)
    cfg = _cfg(gqa_root, name, task, energy)
    statistics = get_dataset_statistics(cfg)
    assert statistics.obj_classes[1:] == sorted(statistics.obj_classes[1:])
    assert {"head", "to the left of"} <= set(statistics.obj_classes) | set(
        statistics.rel_classes)  # the GQA-style vocabulary came through the converter
    model = build_detection_model(cfg, statistics)
    predictor = model.roi_heads.relation.predictor
    assert getattr(predictor, "freq_bias", None) is None
    dataset = build_dataset(cfg, cfg.DATASETS.TRAIN, is_train=True)[0]
    images, targets, _ = BatchCollator(32)([dataset[0], dataset[1]])
    targets = list(targets)
    assert sum(int((t.get_field("relation") > 0).sum()) for t in targets) > 5  # dense graphs
    before = {k: v.clone() for k, v in predictor.state_dict().items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01)
    for _ in range(3):
        losses = model.train()(images, targets)
        assert "loss_rel" in losses and (("loss_energy" in losses) == energy)
        assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
        optimizer.zero_grad()
        sum(losses.values()).backward()
        # The trainer's SOLVER.GRAD_NORM_CLIP: the random detector's features are large.
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
    assert any(not torch.equal(v, before[k]) for k, v in predictor.state_dict().items())
    with torch.no_grad():
        results = model.eval()(images, targets)
    num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    for result, target in zip(results, targets):
        scores = result.get_field("pred_rel_scores")
        assert scores.shape == (len(target) * (len(target) - 1), num_rel)
        assert torch.allclose(scores.sum(1), torch.ones(len(scores)), atol=1e-5)
