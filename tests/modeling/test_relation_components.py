"""Small building blocks of the relation head: box encodings, frequency bias, losses, one-hots."""

import math

import pytest
import torch
import torch.nn.functional as F

from maskrcnn_benchmark.modeling.roi_heads.relation_head.box_encoding import box_overlap_info
from maskrcnn_benchmark.modeling.roi_heads.relation_head.frequency_bias import FrequencyBias
from maskrcnn_benchmark.modeling.roi_heads.relation_head.loss import RelationLossComputation
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.base import (
    BatchNorm1dAnyBatch,
    RelationPredictorBase,
    onehot_logits,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList


def test_box_overlap_info_hand_computed():
    # Box 0 and 1 overlap in a 5x5 area (+1 convention); box 2 is apart.
    boxes = BoxList(torch.tensor([[0.0, 0, 9, 9], [5, 5, 14, 14], [50, 50, 59, 59]]), (64, 64))
    info = box_overlap_info([boxes])
    scale = 1024.0**2
    inter0 = 100 + 25  # with itself and with box 1
    iou0 = 1 + 25 / (100 + 100 - 25)
    plain_area = 81  # the own-area column has no +1 (SGB)
    expected0 = torch.tensor([2, inter0 / scale, iou0, inter0 / scale / 2, iou0 / 2,
                              plain_area / scale])
    assert torch.allclose(info[0], expected0, rtol=1e-5, atol=1e-9)
    assert info[2, 0] == 1 and math.isclose(float(info[2, 2]), 1.0, rel_tol=1e-6)


def test_frequency_bias_indexes_subject_times_classes_plus_object():
    pred_dist = torch.randn(4, 4, 3)
    bias = FrequencyBias(pred_dist)
    pairs = torch.tensor([[1, 2], [2, 1], [3, 0], [0, 0]])
    expected = torch.stack([pred_dist[s, o] for s, o in pairs.tolist()])
    assert torch.equal(bias(pairs), expected)
    assert bias.obj_baseline.weight.shape == (16, 3)


@pytest.mark.parametrize("bad", [torch.zeros(3, 4, 2), torch.full((2, 2, 2), float("nan"))])
def test_frequency_bias_rejects_bad_tables(bad):
    with pytest.raises(ValueError, match="pred_dist"):
        FrequencyBias(bad)


def test_onehot_logits_are_plus_minus_1000():
    logits = onehot_logits(torch.tensor([2, 0]), 4)
    assert torch.equal(logits, torch.tensor([[-1000.0, -1000, 1000, -1000],
                                             [1000, -1000, -1000, -1000]]))
    # Softmax of them is an exact one-hot, so PredCls object scores are 1.
    assert torch.equal(torch.softmax(logits, 1)[0], torch.tensor([0.0, 0, 1, 0]))


def _proposal(labels):
    box = BoxList(torch.zeros(len(labels), 4), (10, 10))
    box.add_field("labels", torch.tensor(labels))
    return box


def test_losses_are_mean_cross_entropy_over_the_batch():
    rel_logits = [torch.randn(3, 5), torch.randn(2, 5)]
    obj_logits = [torch.randn(2, 4), torch.randn(1, 4)]
    rel_labels = [torch.tensor([1, 0, 4]), torch.tensor([0, 2])]
    proposals = [_proposal([1, 3]), _proposal([2])]
    losses = RelationLossComputation(False)(proposals, rel_labels, rel_logits, obj_logits)
    all_rel, all_lab = torch.cat(rel_logits), torch.cat(rel_labels)
    manual = -torch.log_softmax(all_rel, 1)[torch.arange(5), all_lab].mean()
    assert torch.allclose(losses["loss_rel"], manual)
    manual_obj = -torch.log_softmax(torch.cat(obj_logits), 1)[torch.arange(3), [1, 3, 2]].mean()
    assert torch.allclose(losses["loss_refine_obj"], manual_obj)


def test_label_smoothing_matches_sgb_formula():
    logits = torch.randn(4, 6)
    labels = torch.tensor([0, 5, 2, 2])
    losses = RelationLossComputation(True)([_proposal([1, 1, 1, 1])], [labels], [logits],
                                           [torch.randn(4, 3)])
    target = F.one_hot(labels, 6).float() * (1 - 0.01) + 0.01 / 6
    manual = (-torch.log_softmax(logits, 1) * target).sum(1).mean()
    assert torch.allclose(losses["loss_rel"], manual)


def test_label_smoothing_epsilon_is_configurable():
    logits = torch.randn(3, 5)
    labels = torch.tensor([1, 0, 4])
    losses = RelationLossComputation(True, label_smoothing_epsilon=0.2)(
        [_proposal([1, 1, 1])], [labels], [logits], [torch.randn(3, 3)])
    target = F.one_hot(labels, 5).float() * 0.8 + 0.2 / 5
    manual = (-torch.log_softmax(logits, 1) * target).sum(1).mean()
    assert torch.allclose(losses["loss_rel"], manual)


def test_confidence_penalty_subtracts_mean_entropy_of_predicates_only():
    rel_logits = [torch.randn(3, 5), torch.randn(2, 5)]
    obj_logits = [torch.randn(2, 4), torch.randn(1, 4)]
    rel_labels = [torch.tensor([1, 0, 4]), torch.tensor([0, 2])]
    proposals = [_proposal([1, 3]), _proposal([2])]
    plain = RelationLossComputation(False)(proposals, rel_labels, rel_logits, obj_logits)
    penalised = RelationLossComputation(False, confidence_penalty=0.3)(
        proposals, rel_labels, rel_logits, obj_logits)
    probs = torch.softmax(torch.cat(rel_logits), 1)
    entropy = -(probs * probs.log()).sum(1).mean()
    assert torch.allclose(penalised["loss_rel"], plain["loss_rel"] - 0.3 * entropy)
    assert torch.equal(penalised["loss_refine_obj"], plain["loss_refine_obj"])
    # its gradient pushes the top logit down harder than plain CE does: softer predictions
    logits = torch.tensor([[4.0, 0.0, 0.0]], requires_grad=True)

    def top_logit_grad(penalty):
        loss = RelationLossComputation(False, confidence_penalty=penalty)(
            [_proposal([1])], [torch.tensor([0])], [logits], [torch.randn(1, 2)])["loss_rel"]
        return torch.autograd.grad(loss, logits)[0][0, 0].item()

    assert top_logit_grad(1.0) > top_logit_grad(0.0)


@pytest.mark.parametrize("kwargs", [{"label_smoothing_epsilon": 1.0},
                                    {"confidence_penalty": -0.1}])
def test_softening_losses_reject_bad_weights(kwargs):
    with pytest.raises(ValueError, match="LABEL_SMOOTHING_EPSILON|CONFIDENCE_PENALTY"):
        RelationLossComputation(True, **kwargs)


def test_losses_without_any_pair_are_finite_zero_with_a_graph():
    rel_logits = torch.zeros(0, 5, requires_grad=True)
    obj_logits = torch.randn(1, 4, requires_grad=True)
    losses = RelationLossComputation(False)([_proposal([2])], [torch.zeros(0, dtype=torch.long)],
                                            [rel_logits], [obj_logits])
    assert losses["loss_rel"].item() == 0.0 and losses["loss_rel"].requires_grad
    assert torch.isfinite(losses["loss_refine_obj"])


def test_batchnorm_any_batch_uses_running_stats_for_one_row():
    bn = BatchNorm1dAnyBatch(3).train()
    bn.running_mean.fill_(1.0)
    bn.running_var.fill_(4.0)
    out = bn(torch.tensor([[3.0, 1.0, -1.0]]))
    assert torch.allclose(out, torch.tensor([[1.0, 0.0, -1.0]]), atol=1e-4)
    two = bn(torch.tensor([[0.0, 0, 0], [2.0, 2, 2]]))  # normal batch statistics otherwise
    assert torch.allclose(two, torch.tensor([[-1.0, -1, -1], [1.0, 1, 1]]), atol=1e-3)


def test_global_pair_indices_offset_each_image():
    pairs = [torch.tensor([[0, 1], [1, 0]]), torch.zeros(0, 2, dtype=torch.long),
             torch.tensor([[2, 0]])]
    sub, obj = RelationPredictorBase.global_pair_indices(pairs, [2, 4, 3])
    assert sub.tolist() == [0, 1, 8] and obj.tolist() == [1, 0, 6]
