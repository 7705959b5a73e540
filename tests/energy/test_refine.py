"""Test-time energy refinement: identity at zero steps, well-formed logits, no parameter grads,
and the discrete sampler's label swaps."""

import dataclasses

import pytest
import torch
from energy_testing import NUM_OBJ, make_head_output, make_model

from maskrcnn_benchmark.modeling.energy import (
    EnergyRefiner,
    GradMode,
    build_energy_refiner,
    build_sampler,
)
from maskrcnn_benchmark.modeling.energy.samplers import SGLD
from maskrcnn_benchmark.structures.scene_graph import SGGTask


def _refiner(task=SGGTask.SGCLS, num_steps=5):
    sampler = SGLD(step_size=1.0, noise_std=1e-3, grad_clip=0.01, num_steps=num_steps,
                   grad_mode=GradMode.UNROLL)
    return EnergyRefiner(task=task, sampler=sampler, num_obj_classes=NUM_OBJ)


def _eval_output():
    output, _ = make_head_output([3, 4])
    return dataclasses.replace(
        output, relation_logits=[r.detach() for r in output.relation_logits],
        refine_logits=[r.detach() for r in output.refine_logits],
        roi_features=output.roi_features.detach())


def test_zero_steps_return_the_original_logits():
    output = _eval_output()
    refined = _refiner(num_steps=0)(make_model().eval(), output)
    for new, old in zip(refined.relation_logits + refined.refine_logits,
                        output.relation_logits + output.refine_logits):
        assert new.dtype == old.dtype and torch.allclose(new, old, atol=1e-6)


def test_refined_logits_are_well_formed_and_parameters_get_no_gradient():
    model = make_model().eval()
    output = _eval_output()
    with torch.no_grad():  # the inference loop's context
        refined = _refiner()(model, output)
    assert refined is not output and refined.proposals is output.proposals
    assert all(p.grad is None for p in model.parameters())
    changed = False
    for new, old in zip(refined.relation_logits + refined.refine_logits,
                        output.relation_logits + output.refine_logits):
        assert new.shape == old.shape and torch.isfinite(new).all() and not new.requires_grad
        # Each row keeps the base model's minimum and maximum logit (scale for the softmax).
        assert torch.allclose(new.min(-1).values, old.min(-1).values, atol=1e-5)
        assert torch.allclose(new.max(-1).values, old.max(-1).values, atol=1e-5)
        changed = changed or not torch.allclose(new, old, atol=1e-4)
    assert changed


def test_predcls_refinement_keeps_object_logits():
    output = _eval_output()
    refined = _refiner(task=SGGTask.PREDCLS)(make_model().eval(), output)
    assert refined.refine_logits is output.refine_logits
    assert not torch.allclose(refined.relation_logits[0], output.relation_logits[0], atol=1e-4)


def test_refiner_samples_in_detach_mode_and_is_built_only_when_asked(energy_cfg):
    assert _refiner().sampler.grad_mode is GradMode.DETACH
    assert build_energy_refiner(energy_cfg, NUM_OBJ) is None
    energy_cfg.TEST.ENERGY_REFINE = True
    with pytest.raises(ValueError, match="MODEL.ENERGY_ON"):
        build_energy_refiner(energy_cfg, NUM_OBJ)
    energy_cfg.MODEL.ENERGY_ON = True
    energy_cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = False
    refiner = build_energy_refiner(energy_cfg, NUM_OBJ)
    assert refiner.task is SGGTask.SGDET and refiner.sampler.num_steps == 3


def _is_swap_of_the_argmax(new, old):
    """Row unchanged, or two entries exchanged, one of them the row's original argmax."""
    diff = (new != old).nonzero().flatten().tolist()
    if not diff:
        return True
    if len(diff) != 2 or int(old.argmax()) not in diff:
        return False
    a, b = diff
    return bool(new[a] == old[b] and new[b] == old[a])


@pytest.mark.parametrize("task", [SGGTask.PREDCLS, SGGTask.SGCLS])
def test_discrete_sampler_refines_by_swapping_sampled_labels(energy_cfg, task):
    energy_cfg.SAMPLER.NAME, energy_cfg.SAMPLER.ITERS = "GibbsWithGradients", 3
    energy_cfg.SAMPLER.PROPOSAL_TEMPERATURE = 50.0  # nearly every flip accepted
    sampler = build_sampler(energy_cfg)
    refiner = EnergyRefiner(task=task, sampler=sampler, num_obj_classes=NUM_OBJ)
    assert refiner.sampler.grad_mode is GradMode.DETACH
    output = _eval_output()
    with torch.no_grad():
        refined = refiner(make_model().eval(), output)
    changed = [0, 0]
    fields = ["relation_logits"] + (["refine_logits"] if task.free_nodes else [])
    for field in fields:
        for image, (new, old) in enumerate(zip(getattr(refined, field), getattr(output, field))):
            assert new.dtype == old.dtype and new.shape == old.shape
            assert all(_is_swap_of_the_argmax(n, o) for n, o in zip(new, old))
            changed[image] += int((new != old).any(1).sum())
    assert all(0 < count <= 3 for count in changed)
    if not task.free_nodes:
        assert refined.refine_logits is output.refine_logits
