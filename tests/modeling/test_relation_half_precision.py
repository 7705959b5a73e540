"""The VG150 recipes' DTYPE float16 under autocast, with the recipes' widths (MLP_HEAD_DIM 4096,
EMBED_DIM 200, CONTEXT_HIDDEN_DIM 512, CONTEXT_POOLING_DIM 4096): Motifs' LSTMs on a CPU, and
VCTree's pair fusion at an untrained detector's feature scale (about 1e3)."""

import pytest
import torch
from torch import nn

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.sequences import (
    SequenceBatch,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.sampling import RelationSampler
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from tests.modeling.relation_data.synthetic import (
    make_statistics,
    make_target,
    proposals_for,
    small_cfg,
)

ROI_DIM = 4096  # MLP_HEAD_DIM of configs/vg150/base.yaml
RECIPE_WIDTHS = {"MODEL.ROI_RELATION_HEAD.EMBED_DIM": 200,
                 "MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM": 512, "pooling_dim": 4096,
                 "MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM": ROI_DIM}


def _half_autocast():
    return torch.autocast("cpu", dtype=torch.float16)


@pytest.mark.parametrize("lengths", [(7, 7), (7,), (7, 5)])
def test_motifs_lstm_under_cpu_float16_autocast_runs_in_float32(lengths):
    torch.manual_seed(0)
    # the object-context LSTM: roi features + class embedding + 128-d box embedding
    lstm = nn.LSTM(ROI_DIM + 200 + 128, 512, bidirectional=True)
    starts = torch.tensor((0, *lengths)).cumsum(0).tolist()
    layout = SequenceBatch([torch.arange(a, b) for a, b in zip(starts, starts[1:])], starts[-1])
    values = torch.randn(starts[-1], ROI_DIM + 200 + 128, requires_grad=True)
    # Equal lengths reach oneDNN's LSTM, which raised without a float16 kernel on this CPU.
    with _half_autocast():
        out = layout.run_lstm(lstm, values)
    expected = layout.run_lstm(lstm, values)
    assert out.dtype == torch.float32 and out.shape == (starts[-1], 1024)
    assert torch.equal(out, expected)
    out.sum().backward()
    assert torch.isfinite(values.grad).all() and values.grad.abs().sum() > 0


def _recipe_predictor(name: str, task: str):
    cfg = small_cfg(name, task, **RECIPE_WIDTHS)
    return RELATION_PREDICTORS.get(name).from_config(cfg, ROI_DIM, make_statistics())


def _predcls_batch(generator):
    targets = [make_target(5, [(0, 1, 1), (2, 3, 2)], generator=generator),
               make_target(5, [(4, 0, 3)], generator=generator)]  # equal lengths, as on VG
    return [proposals_for("predcls", t) for t in targets], targets


def _sampler():
    return RelationSampler(task=SGGTask.PREDCLS, fg_iou_threshold=0.5, require_overlap=False,
                           num_sample_per_gt_rel=4, batch_size_per_image=64,
                           positive_fraction=0.25, test_require_overlap=False)


def test_motifs_predcls_training_step_under_cpu_float16_autocast():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    predictor = _recipe_predictor("MotifPredictor", "predcls").train()
    proposals, targets = _predcls_batch(generator)
    sampled = _sampler().sample(proposals, targets)
    roi = torch.rand(10, ROI_DIM, generator=generator, requires_grad=True)
    union = torch.rand(sum(len(p) for p in sampled.rel_pair_idxs), ROI_DIM, generator=generator)
    with _half_autocast():
        out = predictor(proposals, sampled.rel_pair_idxs, roi, union, sampled.rel_binarys)
        loss = nn.functional.cross_entropy(out.relation_logits.float(),
                                           torch.cat(sampled.rel_labels))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(roi.grad).all()


@pytest.mark.parametrize("scale", [1.0, 2000.0])  # a trained detector's scale, an untrained one's
def test_vctree_predcls_scores_are_finite_under_float16_autocast(scale):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(2)
    predictor = _recipe_predictor("VCTreePredictor", "predcls").eval()
    proposals, _ = _predcls_batch(generator)
    pairs = _sampler().test_pairs(proposals)
    # non-negative like fc7 after ReLU; an untrained X-101-FPN gives values up to about 1.9e3
    roi = torch.rand(10, ROI_DIM, generator=generator) * scale
    union = torch.rand(sum(len(p) for p in pairs), ROI_DIM, generator=generator) * scale
    with torch.no_grad():
        with _half_autocast():
            half = predictor(proposals, pairs, roi, union).relation_logits
        full = predictor(proposals, pairs, roi, union).relation_logits
    assert half.shape == (40, 5) and half.dtype == torch.float32
    assert torch.isfinite(half).all() and torch.isfinite(full).all()
    if scale == 1.0:  # at 2e3 the float16 rounding of the fusion's inputs is amplified ~1e7
        torch.testing.assert_close(half, full, rtol=2e-2, atol=2e-2)
