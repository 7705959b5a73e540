"""EnergyObjective: Eq. 5 terms, gradient paths per GRAD_MODE, and the non-finite skip."""

import logging

import pytest
import torch
from energy_testing import NUM_OBJ, NUM_REL, ROI_DIM, make_head_output, make_model

from maskrcnn_benchmark.modeling.energy import (
    ContrastiveDivergence,
    EnergyObjective,
    GradMode,
    build_energy_objective,
)
from maskrcnn_benchmark.modeling.energy.samplers import SGLD
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from maskrcnn_benchmark.utils.events import EventStorage


def _objective(task=SGGTask.SGCLS, grad_mode=GradMode.REFERENCE, **overrides):
    args = dict(task=task,
                sampler=SGLD(step_size=1.0, noise_std=1e-3, grad_clip=0.01, num_steps=3,
                             grad_mode=grad_mode),
                energy_loss=ContrastiveDivergence(temperature=2.0), num_obj_classes=NUM_OBJ,
                num_rel_classes=NUM_REL, data_noise_std=1e-4, loss_weight=0.7, l2_weight=0.3,
                task_loss_weight=0.5)
    args.update(overrides)
    return EnergyObjective(**args)


def _task_losses():
    return {"loss_rel": torch.tensor(2.0), "loss_refine_obj": torch.tensor(4.0)}


def test_losses_follow_eq5_and_stats_go_to_the_event_storage():
    model = make_model()
    output, targets = make_head_output([3, 4])
    with EventStorage() as storage:
        losses = _objective()(model, output, targets, _task_losses())
    stats = {name: value for name, (value, _) in storage.latest().items()}
    assert sorted(losses) == ["loss_energy", "loss_energy_l2", "loss_refine_obj", "loss_rel"]
    assert losses["loss_rel"].item() == pytest.approx(1.0)  # lambda_t = 0.5
    assert losses["loss_refine_obj"].item() == pytest.approx(2.0)
    cd = 0.7 * 2.0 * (stats["energy/positive"] - stats["energy/negative"])  # l_e T (E+ - E-)
    assert losses["loss_energy"].item() == pytest.approx(cd, rel=1e-5)
    assert losses["loss_energy_l2"].item() > 0
    assert stats["energy/skipped_steps"] == 0.0


@pytest.mark.parametrize("task", [SGGTask.SGCLS, SGGTask.PREDCLS])
def test_reference_mode_trains_energy_model_and_relation_logits(task):
    model = make_model()
    output, targets = make_head_output([3, 4])
    losses = _objective(task=task)(model, output, targets, {})
    (losses["loss_energy"] + losses["loss_energy_l2"]).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert output.relation_logits[0].grad.abs().sum() > 0
    assert output.roi_features.grad.abs().sum() > 0  # image-graph features, both energies
    if task is SGGTask.PREDCLS:  # object states are GT one-hots: no gradient to the logits
        assert output.refine_logits[0].grad is None
    else:
        assert output.refine_logits[0].grad.abs().sum() > 0


def test_detach_mode_sends_no_energy_gradient_to_the_relation_logits():
    model = make_model()
    output, targets = make_head_output([3, 4])
    losses = _objective(grad_mode=GradMode.DETACH)(model, output, targets, {})
    losses["loss_energy"].backward()
    assert output.relation_logits[0].grad is None and output.refine_logits[0].grad is None
    assert model.energy[2].weight.grad.abs().sum() > 0


def _grads_after(grad_mode, l2_weight, seed=0):
    torch.manual_seed(seed)
    model = make_model()
    output, targets = make_head_output([3, 4])
    torch.manual_seed(seed + 1)  # same sampler noise in every mode
    losses = _objective(grad_mode=grad_mode, l2_weight=l2_weight)(model, output, targets, {})
    sum(losses.values()).backward()
    params = {name: p.grad.clone() for name, p in model.named_parameters()}
    return losses, output.relation_logits[0].grad, params


def test_descend_mode_flips_the_relation_gradient_and_keeps_the_energy_model_gradient():
    ref_losses, ref_logit_grad, _ = _grads_after(GradMode.REFERENCE, l2_weight=0.0)
    losses, logit_grad, params = _grads_after(GradMode.DESCEND, l2_weight=0.0)
    # the energy of the sampled graph is the same number in both modes
    assert losses["loss_energy"].item() == pytest.approx(ref_losses["loss_energy"].item())
    # reference: the contrastive term -lambda_e T mean(E-) raises E- through the logits;
    # descend: +lambda_e mean(E-) lowers it (T only scales the contrastive term)
    assert torch.allclose(logit_grad, -ref_logit_grad / 2.0, atol=1e-6)
    assert logit_grad.abs().sum() > 0
    _, _, detach_params = _grads_after(GradMode.DETACH, l2_weight=0.3)
    _, _, descend_params = _grads_after(GradMode.DESCEND, l2_weight=0.3)
    for name, grad in detach_params.items():  # the descent term leaves the energy model alone
        assert torch.allclose(grad, descend_params[name], atol=1e-6), name


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_non_finite_energies_skip_the_energy_terms_with_a_counted_warning():
    model = make_model()
    output, targets = make_head_output([3, 4])
    output.roi_features = torch.full((7, ROI_DIM), float("inf"))
    objective = _objective()
    records = _Records()
    objective_logger = logging.getLogger("maskrcnn_benchmark.modeling.energy.objective")
    objective_logger.addHandler(records)
    try:
        with EventStorage() as storage:
            losses = objective(model, output, targets, _task_losses())
    finally:
        objective_logger.removeHandler(records)
    assert objective.num_skipped == 1
    assert len(records.messages) == 1 and "skipped" in records.messages[0]
    assert losses["loss_energy"].item() == 0.0 and losses["loss_energy_l2"].item() == 0.0
    assert losses["loss_refine_obj"].item() == pytest.approx(2.0)
    assert storage.latest()["energy/skipped_steps"][0] == 1.0
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.equal(g, torch.zeros_like(g)) for g in grads)


def test_build_energy_objective_reads_the_energy_keys(energy_cfg):
    energy_cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = True
    energy_cfg.ENERGY_MODEL.LOSS_WEIGHT, energy_cfg.ENERGY_MODEL.L2COEFF = 0.7, 0.3
    energy_cfg.ENERGY_MODEL.TASK_LOSS_WEIGHT, energy_cfg.ENERGY_MODEL.DATA_NOISE_VAR = 0.5, 0.01
    energy_cfg.ENERGY_MODEL.POSITIVE_GRAPH = "matched"
    objective = build_energy_objective(energy_cfg, NUM_OBJ, NUM_REL)
    assert objective.task is SGGTask.PREDCLS and objective.positive_graph == "matched"
    assert (objective.loss_weight, objective.l2_weight, objective.task_loss_weight,
            objective.data_noise_std) == (0.7, 0.3, 0.5, 0.01)
    assert objective.sampler.num_steps == 3 and isinstance(objective.energy_loss,
                                                           ContrastiveDivergence)


def test_objective_is_amp_safe():
    model = make_model()
    output, targets = make_head_output([3, 4])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = _objective()(model, output, targets, {})
    assert losses["loss_energy"].dtype == torch.float32
    assert all(torch.isfinite(value) for value in losses.values())
    sum(losses.values()).backward()
    assert output.relation_logits[0].grad is not None


def test_matched_positive_graph_scores_gt_states_on_the_predicted_pairs():
    model = make_model()
    output, targets = make_head_output([3, 4])
    # the sampled pairs' targets: GT predicates where the GT relation matrix has one, else 0
    output.rel_labels = [target.get_field("relation")[pairs[:, 0], pairs[:, 1]]
                         for target, pairs in zip(targets, output.rel_pair_idxs)]
    torch.manual_seed(0)
    with EventStorage() as storage:
        _objective(positive_graph="matched", data_noise_std=0.0)(model, output, targets, {})
    positive = storage.latest()["energy/positive"][0]
    from maskrcnn_benchmark.modeling.energy.graph_builder import build_matched_gt_graph
    expected = build_matched_gt_graph(output, num_obj_classes=NUM_OBJ, num_rel_classes=NUM_REL,
                                      noise_std=0.0, with_image_graph=True)
    assert expected.num_edges == 3 * 2 + 4 * 3  # all ordered pairs, not the 4 GT relations
    assert positive == pytest.approx(model(expected).mean().item(), rel=1e-5)
    # the default "gt" graph has only the GT relations: a different energy
    from maskrcnn_benchmark.modeling.energy import build_gt_graph
    gt = build_gt_graph(targets, output.roi_features, num_obj_classes=NUM_OBJ,
                        num_rel_classes=NUM_REL, noise_std=0.0)
    assert gt.num_edges == 4
    assert model(gt).mean().item() != pytest.approx(positive, rel=1e-3)
    with pytest.raises(ValueError, match="POSITIVE_GRAPH"):
        _objective(positive_graph="targets")
