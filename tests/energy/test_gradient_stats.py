"""energy/grad_factor and energy/grad_ratio: the numbers the energy objective logs equal the
closed form on toy cases and the gradient that really reaches the relation logits."""

import math

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, LinearEnergy, make_head_output

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    EnergyObjective,
    GradMode,
    SoftPlus,
    build_energy_objective,
    build_predicted_graph,
)
from maskrcnn_benchmark.modeling.energy.gradient_stats import (
    negative_energy_grad_factor,
    relation_gradient_norms,
)
from maskrcnn_benchmark.modeling.energy.samplers import SGLD
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from maskrcnn_benchmark.utils.events import EventStorage

LAMBDA_E, LAMBDA_R, LAMBDA_T, TEMP = 0.7, 0.3, 0.5, 2.0


def _objective(loss, period=0):
    sampler = SGLD(step_size=1.0, noise_std=0.0, grad_clip=0.01, num_steps=0,
                   grad_mode=GradMode.REFERENCE)
    return EnergyObjective(task=SGGTask.PREDCLS, sampler=sampler, energy_loss=loss,
                           num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL, data_noise_std=0.0,
                           loss_weight=LAMBDA_E, l2_weight=LAMBDA_R,
                           task_loss_weight=LAMBDA_T, grad_ratio_period=period)


def _per_image_energy_grads(model, output):
    """E-_b and dE-_b / d logits_b, computed apart from the objective."""
    graph = build_predicted_graph(output, SGGTask.PREDCLS, num_obj_classes=NUM_OBJ,
                                  noise_std=0.0, with_image_graph=False)
    energies = model(graph)
    grads = [torch.autograd.grad(energies[b], output.relation_logits[b], retain_graph=True)[0]
             for b in range(len(energies))]
    return energies.detach(), grads


def _closed_form(loss_name, positive, negative):
    if loss_name == "cd":  # Eq. 2 + mean Eq. 4
        return -LAMBDA_E * TEMP + 2 * LAMBDA_R * negative
    return -LAMBDA_E * TEMP * torch.sigmoid(TEMP * (positive - negative)) + 2 * LAMBDA_R * negative


@pytest.mark.parametrize("loss_name,loss", [("cd", ContrastiveDivergence(temperature=TEMP)),
                                            ("softplus", SoftPlus(temperature=TEMP))])
def test_grad_factor_is_the_closed_form_and_the_real_gradient_on_the_logits(loss_name, loss):
    model = LinearEnergy()
    output, targets = make_head_output([3, 4, 2])
    with EventStorage() as storage:
        losses = _objective(loss)(model, output, targets, {})
    logged = storage.latest()["energy/grad_factor"][0]
    negative, d_energy = _per_image_energy_grads(model, output)
    positive = model(_objective(loss).graphs(model, output, targets).positive).detach()
    expected = _closed_form(loss_name, positive, negative)
    assert logged == pytest.approx(float(expected.mean()), rel=1e-5)
    # The gradient the relation logits receive from the energy terms is (f_b / B) dE-_b/dlogits
    (losses["loss_energy"] + losses["loss_energy_l2"]).backward()
    batch = len(negative)
    for b, d in enumerate(d_energy):
        received = output.relation_logits[b].grad
        factor = batch * float((received * d).sum() / (d * d).sum())
        assert torch.allclose(received, factor / batch * d, atol=1e-6)  # parallel to dE-_b
        assert factor == pytest.approx(float(expected[b]), rel=1e-4)


def test_grad_factor_vanishes_at_the_saturated_optimum_and_follows_the_reduction():
    objective = _objective(ContrastiveDivergence(temperature=1.0))
    objective.loss_weight, objective.l2_weight = 1.0, 1.0

    def terms(pos, neg):
        return sum(objective.energy_terms(pos, neg).values())

    saturated = negative_energy_grad_factor(terms, torch.full((4,), -0.5), torch.full((4,), 0.5))
    assert torch.allclose(saturated, torch.zeros(4))
    negative = torch.tensor([0.1, -0.3, 0.9])
    factor = negative_energy_grad_factor(terms, torch.zeros(3), negative)
    assert torch.allclose(factor, -1.0 + 2.0 * negative)
    # the EBM code's L2 term is summed over images: its factor is B times larger per image
    summed = negative_energy_grad_factor(
        lambda pos, neg: (pos.mean() - neg.mean()) + (pos.pow(2) + neg.pow(2)).sum(),
        torch.zeros(3), negative)
    assert torch.allclose(summed, -1.0 + 2.0 * 3 * negative)


def test_gradient_norms_match_a_hand_computation():
    x = torch.tensor([[1.0, -2.0], [2.0, 0.5]], requires_grad=True)
    y = torch.tensor([[3.0, 4.0]], requires_grad=True)
    energy = 3.0 * (x.sum() + y.sum())        # gradient 3 everywhere: norm 3 sqrt(6)
    task = 0.5 * (x.pow(2).sum() + y.pow(2).sum())  # gradient = the logits: norm sqrt(35.25)
    energy_norm, task_norm = relation_gradient_norms(energy, task, [x, y])
    assert energy_norm == pytest.approx(3 * math.sqrt(6))
    assert task_norm == pytest.approx(math.sqrt(1 + 4 + 4 + 0.25 + 9 + 16))
    (energy + task).backward()  # the graph was kept and no .grad was written before
    assert torch.allclose(x.grad, 3 + x.detach())
    assert relation_gradient_norms(energy.detach(), None, [x]) == (0.0, 0.0)


def test_grad_ratio_is_logged_every_period_and_equals_the_hand_ratio():
    model = LinearEnergy()
    output, targets = make_head_output([3, 4])
    task = {"loss_rel": 0.5 * sum(logits.pow(2).sum() for logits in output.relation_logits)}
    objective = _objective(ContrastiveDivergence(temperature=TEMP), period=2)
    with EventStorage(start_iter=1) as storage:
        objective(model, output, targets, task)
        assert "energy/grad_ratio" not in storage.latest()
        storage.iter = 2
        losses = objective(model, output, targets, task)
    ratio = storage.latest()["energy/grad_ratio"][0]
    negative, d_energy = _per_image_energy_grads(model, output)
    factors = -LAMBDA_E * TEMP + 2 * LAMBDA_R * negative
    energy_norm = math.sqrt(sum(float((f / 2 * d).pow(2).sum())
                                for f, d in zip(factors, d_energy)))
    task_norm = LAMBDA_T * math.sqrt(sum(float(x.detach().pow(2).sum())
                                         for x in output.relation_logits))
    assert ratio == pytest.approx(energy_norm / task_norm, rel=1e-4)
    # the measurement left the graph intact and wrote no gradient
    assert all(x.grad is None for x in output.relation_logits) and model.v.grad is None
    sum(losses.values()).backward()
    assert output.relation_logits[0].grad is not None


def test_grad_ratio_does_not_change_the_training_gradients():
    grads = []
    for period in (0, 1):
        torch.manual_seed(0)
        model = LinearEnergy()
        output, targets = make_head_output([3, 4])
        task = {"loss_rel": sum(logits.sum() for logits in output.relation_logits)}
        with EventStorage() as storage:
            losses = _objective(ContrastiveDivergence(temperature=TEMP), period)(
                model, output, targets, task)
        assert ("energy/grad_ratio" in storage.latest()) == (period == 1)
        sum(losses.values()).backward()
        grads.append([x.grad.clone() for x in output.relation_logits] + [model.v.grad.clone()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_grad_ratio_period_key(energy_cfg):
    assert build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL).grad_ratio_period == 20
    energy_cfg.MODEL.ROI_RELATION_HEAD.EBM.GRAD_RATIO_PERIOD = 0
    assert build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL).grad_ratio_period == 0


def test_log_line_keeps_small_gradient_numbers_visible():
    from maskrcnn_benchmark.engine.hooks import _scalar

    assert _scalar(1.48e-5) == "1.480e-05"  # a saturated grad_ratio is not printed as 0.0000
    assert _scalar(0.0) == "0.0000" and _scalar(-0.50041) == "-0.5004"
