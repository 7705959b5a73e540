"""EnergyObjective with the issue-14 options: sampled negative states, hard negatives, the
Margin loss, the L2 reduction; end to end, against hand values, and the logged grad factor."""

from types import SimpleNamespace

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, LinearEnergy, make_head_output, make_model

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    EnergyObjective,
    GradMode,
    HardNegativeSampler,
    Margin,
    build_energy_objective,
)
from maskrcnn_benchmark.modeling.energy.samplers import SGLD
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from maskrcnn_benchmark.utils.events import EventStorage

LAMBDA_E, LAMBDA_R, TEMP, MARGIN = 0.7, 0.3, 2.0, 0.4


def _output(nodes_per_image):
    output, targets = make_head_output(nodes_per_image)
    output.rel_labels = [target.get_field("relation")[pairs[:, 0], pairs[:, 1]]
                         for target, pairs in zip(targets, output.rel_pair_idxs)]
    return output, targets


def _objective(task=SGGTask.PREDCLS, loss=None, num_hard=2, noise=0.0, steps=0, **overrides):
    hard = None if num_hard == 0 else HardNegativeSampler(
        num=num_hard, num_changes=(1, 2, 3), source="uniform", change_nodes=task.free_nodes,
        num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL)
    args = dict(task=task,
                sampler=SGLD(step_size=1.0, noise_std=1e-3, grad_clip=0.01, num_steps=steps,
                             grad_mode=GradMode.REFERENCE),
                energy_loss=loss or Margin(temperature=TEMP, margin=MARGIN),
                num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL, data_noise_std=noise,
                loss_weight=LAMBDA_E, l2_weight=LAMBDA_R, task_loss_weight=1.0,
                positive_graph="matched", negative_states="sample", hard_negatives=hard)
    args.update(overrides)
    return EnergyObjective(**args)


@pytest.mark.parametrize("task", [SGGTask.PREDCLS, SGGTask.SGCLS])
def test_end_to_end_matched_sample_hard_negatives_margin(task):
    model = make_model()
    output, targets = _output([3, 4])
    objective = _objective(task=task, noise=1e-4, steps=3)
    with EventStorage() as storage:
        losses = objective(model, output, targets, {"loss_rel": torch.tensor(1.0)})
    stats = {name: value for name, (value, _) in storage.latest().items()}
    assert sorted(losses) == ["loss_energy", "loss_energy_l2", "loss_rel"]
    assert all(torch.isfinite(value) for value in losses.values())
    assert {"energy/hard_negative", "energy/margin_active", "energy/grad_factor"} <= set(stats)
    assert 0.0 <= stats["energy/margin_active"] <= 1.0
    (losses["loss_energy"] + losses["loss_energy_l2"]).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert output.relation_logits[0].grad.abs().sum() > 0
    assert output.relation_logits[1].grad.abs().sum() > 0
    if task is SGGTask.SGCLS:
        assert output.refine_logits[0].grad.abs().sum() > 0
    else:
        assert output.refine_logits[0].grad is None


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_margin_loss_grad_factor_and_logit_gradient_match_the_hand_values(reduction):
    model = LinearEnergy()
    output, targets = _output([3, 4, 5])
    objective = _objective(l2_reduction=reduction)
    torch.manual_seed(7)
    with EventStorage() as storage:
        losses = objective(model, output, targets, {})
    stats = {name: value for name, (value, _) in storage.latest().items()}
    torch.manual_seed(7)  # the same draws: graphs() is the objective's first step
    graphs = objective.graphs(model, output, targets)
    with torch.no_grad():
        positive = model(graphs.positive)
        sampled = model(graphs.sampled)
        hard = model(graphs.hard_negatives.graph).reshape(2, 3).t()
    changes = graphs.hard_negatives.changes.float()
    assert changes.min() >= 1 and changes.max() <= 2  # 2 foreground edges per image
    sampled_d = torch.tensor([
        float((graphs.sampled.edge_states[graphs.sampled.edge_batch == b].argmax(1)
               != labels).sum()) for b, labels in enumerate(output.rel_labels)])
    negatives = torch.cat([sampled.unsqueeze(1), hard], dim=1)        # [B, 3]
    distance = torch.cat([sampled_d.unsqueeze(1), changes], dim=1)
    hinge = MARGIN * distance + TEMP * (positive.unsqueeze(1) - negatives)
    expected = LAMBDA_E * hinge.clamp_min(0).mean()
    assert losses["loss_energy"].item() == pytest.approx(expected.item(), rel=1e-5)
    per_image = positive.pow(2) + negatives.pow(2).mean(1)
    l2 = per_image.mean() if reduction == "mean" else per_image.sum()
    assert losses["loss_energy_l2"].item() == pytest.approx(LAMBDA_R * l2.item(), rel=1e-5)
    assert stats["energy/hard_negative"] == pytest.approx(hard.mean().item(), rel=1e-5)
    assert stats["energy/margin_active"] == pytest.approx((hinge > 0).float().mean().item())
    # f_b = B dL/dE-_b0 = (-lambda_e T [hinge active] + 2 lambda_r E-_b0 (x B for "sum")) / M
    scale = 1.0 if reduction == "mean" else 3.0
    factor = (-LAMBDA_E * TEMP * (hinge[:, 0] > 0).float()
              + 2 * LAMBDA_R * scale * sampled) / 3
    assert stats["energy/grad_factor"] == pytest.approx(factor.mean().item(), rel=1e-5)
    # the logits receive f_b / B * dE-_b0/dlogits; straight-through: dE/dlogits = J_softmax v
    (losses["loss_energy"] + losses["loss_energy_l2"]).backward()
    v = model.v.detach()
    for b, logits in enumerate(output.relation_logits):
        p = torch.softmax(logits.detach(), dim=1)
        d_energy = p * (v - (p * v).sum(1, keepdim=True))
        assert torch.allclose(logits.grad, factor[b] / 3 * d_energy, atol=1e-6)


def test_hard_negatives_enter_contrastive_divergence_as_a_per_image_mean():
    model = LinearEnergy()
    output, targets = _output([3, 4])
    objective = _objective(loss=ContrastiveDivergence(temperature=TEMP), num_hard=3)
    torch.manual_seed(1)
    losses = objective(model, output, targets, {})
    torch.manual_seed(1)
    graphs = objective.graphs(model, output, targets)
    with torch.no_grad():
        negatives = torch.cat([model(graphs.sampled).unsqueeze(1),
                               model(graphs.hard_negatives.graph).reshape(3, 2).t()], dim=1)
        positive = model(graphs.positive)
    expected = LAMBDA_E * TEMP * (positive.mean() - negatives.mean(1).mean())
    assert losses["loss_energy"].item() == pytest.approx(expected.item(), rel=1e-5)
    # the hard negatives are constants: the logits' gradient is the sampled graph's alone
    losses["loss_energy"].backward()
    v = model.v.detach()
    p = torch.softmax(output.relation_logits[0].detach(), dim=1)
    d_energy = p * (v - (p * v).sum(1, keepdim=True))
    assert torch.allclose(output.relation_logits[0].grad,
                          -LAMBDA_E * TEMP / 2 / 4 * d_energy, atol=1e-6)


def test_margin_on_the_gt_graph_uses_distance_one_and_says_so_once(caplog_info):
    objective = _objective(num_hard=0, positive_graph="gt", negative_states="minmax")
    messages = [r.getMessage() for r in caplog_info.records if "d = 1" in r.getMessage()]
    assert len(messages) == 1
    model = LinearEnergy()
    output, targets = _output([4])
    with EventStorage() as storage:
        losses = objective(model, output, targets, {})
    stats = {name: value for name, (value, _) in storage.latest().items()}
    hinge = MARGIN + TEMP * (stats["energy/positive"] - stats["energy/negative"])
    assert losses["loss_energy"].item() == pytest.approx(LAMBDA_E * max(hinge, 0.0), rel=1e-5)
    assert len([r for r in caplog_info.records if "d = 1" in r.getMessage()]) == 1


def _statistics():
    return SimpleNamespace(obj_classes=[str(i) for i in range(NUM_OBJ)],
                           rel_classes=[str(i) for i in range(NUM_REL)],
                           triplets=torch.tensor([[1, 2, 1], [1, 2, 3]]),
                           triplet_counts=torch.tensor([4, 1]),
                           object_counts=torch.tensor([0, 3, 2, 1, 1]))


def test_build_reads_the_new_keys_and_rejects_bad_combinations(energy_cfg):
    model_cfg = energy_cfg.ENERGY_MODEL
    model_cfg.POSITIVE_GRAPH, model_cfg.NEGATIVE_STATES = "matched", "sample"
    model_cfg.LOSS, model_cfg.MARGIN, model_cfg.L2_REDUCTION = "Margin", 0.3, "sum"
    model_cfg.HARD_NEGATIVES.NUM, model_cfg.HARD_NEGATIVES.NUM_CHANGES = 2, (1, 2)
    objective = build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL, _statistics())
    assert (objective.negative_states, objective.l2_reduction) == ("sample", "sum")
    assert isinstance(objective.energy_loss, Margin) and objective.energy_loss.margin == 0.3
    hard = objective.hard_negatives
    assert (hard.num, hard.num_changes, hard.source, hard.change_nodes) == (2, (1, 2),
                                                                           "frequency", True)
    assert hard.prior.predicate_weights(1, 2).tolist() == [0.0, 4.0, 0.0, 1.0]
    model_cfg.HARD_NEGATIVES.SOURCE = "uniform"
    assert build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL).hard_negatives.prior is None
    model_cfg.HARD_NEGATIVES.NUM = 0
    assert build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL).hard_negatives is None
    model_cfg.HARD_NEGATIVES.NUM, model_cfg.POSITIVE_GRAPH = 1, "gt"
    with pytest.raises(ValueError, match="POSITIVE_GRAPH 'matched'"):
        build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL, _statistics())
    model_cfg.HARD_NEGATIVES.NUM, model_cfg.POSITIVE_GRAPH = 0, "matched"
    model_cfg.NEGATIVE_STATES = "logits"
    with pytest.raises(ValueError, match="NEGATIVE_STATES"):
        build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL)
    model_cfg.NEGATIVE_STATES, model_cfg.L2_REDUCTION = "minmax", "median"
    with pytest.raises(ValueError, match="L2_REDUCTION"):
        build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL)


def test_objective_is_deterministic_under_a_seed():
    values = []
    for _ in range(2):
        torch.manual_seed(0)
        model = make_model()
        output, targets = _output([3, 4])
        with EventStorage():
            losses = _objective(task=SGGTask.SGCLS, noise=1e-4, steps=2)(model, output,
                                                                        targets, {})
        values.append([value.item() for value in losses.values()])
    assert values[0] == values[1]
