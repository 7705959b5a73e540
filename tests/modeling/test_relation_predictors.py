"""Every registered predictor on synthetic features: SGB key layout, shapes, losses, batching."""

import itertools
import json
from pathlib import Path

import pytest
import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.modeling.roi_heads.relation_head.loss import RelationLossComputation
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictor_catalog import (
    predictor_opts,
    predictor_settings,
    relation_predictor_names,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.sampling import RelationSampler
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from tests.modeling.relation_data.synthetic import (
    OBJ_CLASSES,
    REL_CLASSES,
    TASK_FLAGS,
    make_statistics,
    make_target,
    proposals_for,
    small_cfg,
)

DATA = Path(__file__).parent / "relation_data"
SGB_KEYS = json.loads((DATA / "sgb_relation_keys.json").read_text())
# Predictors with several SGB layouts (one per config case) are listed in their own file and
# checked by their own test (test_relation_causal.py).
SGB_CASE_KEYS = {"CausalAnalysisPredictor": DATA / "sgb_causal_keys.json"}
PREDICTORS = relation_predictor_names()
FEAT = 24  # MLP_HEAD_DIM of small_cfg: box and union feature width
# Training losses a predictor adds to loss_rel and loss_refine_obj (a new predictor with others
# fails test_forward_backward_and_test_outputs until it is listed here).
EXTRA_LOSSES = {
    "VCTreePredictor": {"loss_binary"},
    "CausalAnalysisPredictor": {"loss_auxiliary_ctx", "loss_auxiliary_vis",
                                "loss_auxiliary_frq", "loss_binary"},
}


def _build(name, task, **overrides):
    cfg = small_cfg(name, task, **{**predictor_settings(name), **overrides})
    return RELATION_PREDICTORS.get(name).from_config(cfg, FEAT, make_statistics())


def _extra(predictor, sampled):
    """The sampled labels for predictors whose training forward reads them (as the head does)."""
    return {"rel_labels": sampled.rel_labels} if predictor.needs_rel_labels else {}


def test_registry_lists_the_papers_predictors_and_their_settings():
    assert {"MotifPredictor", "VCTreePredictor", "IMPPredictor", "TransformerPredictor",
            "CausalAnalysisPredictor"} <= set(PREDICTORS)
    assert PREDICTORS == sorted(RELATION_PREDICTORS.keys())
    assert predictor_settings("MotifPredictor") == {}
    # The causal head runs as the paper's VCTree-TDE, as in the shipped quickstart config.
    shipped = get_cfg()
    shipped.merge_from_file(str(Path(__file__).resolve().parents[2] / "configs" / "quickstart"
                                / "vctree_tde_predcls.yaml"))
    cfg = get_cfg()
    cfg.merge_from_list(predictor_opts("CausalAnalysisPredictor"))
    assert cfg.MODEL.ROI_RELATION_HEAD.PREDICTOR == "CausalAnalysisPredictor"
    assert cfg.MODEL.ROI_RELATION_HEAD.CAUSAL == shipped.MODEL.ROI_RELATION_HEAD.CAUSAL
    assert cfg.MODEL.ROI_RELATION_HEAD.CAUSAL.EFFECT_TYPE == "TDE"
    with pytest.raises(KeyError, match="known: .*MotifPredictor"):
        predictor_settings("MotifsPredictor")


def test_every_registered_predictor_has_sgb_reference_keys():
    listed = set(SGB_KEYS["predictors"]) | set(SGB_CASE_KEYS)
    assert set(PREDICTORS) <= listed
    for path in SGB_CASE_KEYS.values():
        assert json.loads(path.read_text())["predictors"]


@pytest.mark.parametrize("name", [n for n in PREDICTORS if n not in SGB_CASE_KEYS])
def test_state_dict_keys_and_shapes_match_sgb(name):
    dims = SGB_KEYS["dims"]
    overrides = {"MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM": dims["hidden_dim"],
                 "MODEL.ROI_RELATION_HEAD.EMBED_DIM": dims["embed_dim"],
                 "pooling_dim": dims["pooling_dim"]}
    if name == "IMPPredictor":  # SGB hard-codes IMP's 512 states (our CONTEXT_HIDDEN_DIM)
        overrides["MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM"] = 512
    assert (len(OBJ_CLASSES), len(REL_CLASSES)) == (dims["num_obj_classes"],
                                                    dims["num_rel_classes"])
    predictor = _build(name, "sgcls", **overrides)
    ours = {k: list(v.shape) for k, v in predictor.state_dict().items()}
    assert ours == SGB_KEYS["predictors"][name]


def test_union_projection_and_frequency_bias_switches():
    wide = _build("MotifPredictor", "predcls", pooling_dim=40)
    assert tuple(wide.up_dim.weight.shape) == (40, FEAT)
    no_bias = _build("VCTreePredictor", "predcls",
                     **{"MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS": False})
    assert not any(k.startswith("freq_bias") for k in no_bias.state_dict())
    assert _build("IMPPredictor", "predcls").freq_bias is None  # IMP never uses the bias
    blind = _build("TransformerPredictor", "predcls",
                   **{"MODEL.ROI_RELATION_HEAD.PREDICT_USE_VISION": False})
    assert not blind.uses_union_features
    assert _build("VCTreePredictor", "predcls").uses_union_features


class _NoDenseTable:
    """Statistics whose dense frequency table must not be built (GQA: 1704 x 1704 x 311)."""

    def __init__(self):
        self.obj_classes, self.rel_classes = list(OBJ_CLASSES), list(REL_CLASSES)

    def pred_dist(self):
        raise AssertionError("the dense [C, C, P] table was built")


@pytest.mark.parametrize("name", PREDICTORS)
def test_without_frequency_bias_the_dense_table_is_built_only_where_needed(name):
    """The paper trains GQA without the bias: the [C, C, P] table is then built only by heads
    that use it for more than the bias (VCTree's pair prior, the causal frequency branch)."""
    cfg = small_cfg(name, "predcls", **{**predictor_settings(name),
                                         "MODEL.ROI_RELATION_HEAD.PREDICT_USE_BIAS": False})
    build = RELATION_PREDICTORS.get(name).from_config
    if name in ("VCTreePredictor", "CausalAnalysisPredictor"):
        with pytest.raises(AssertionError, match="dense"):
            build(cfg, FEAT, _NoDenseTable())
    else:
        predictor = build(cfg, FEAT, _NoDenseTable())
        assert predictor.freq_bias is None


def _batch(task, generator):
    """Three images: relations, a single object, objects without any relation."""
    targets = [make_target(4, [(0, 1, 1), (2, 3, 2), (1, 0, 3)], generator=generator),
               make_target(1, [], generator=generator),
               make_target(3, [], generator=generator)]
    return [proposals_for(task, t, generator=generator) for t in targets], targets


def _sampler(task):
    return RelationSampler(task=task, fg_iou_threshold=0.5, require_overlap=False,
                           num_sample_per_gt_rel=4, batch_size_per_image=12,
                           positive_fraction=0.25, test_require_overlap=True)


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_forward_backward_and_test_outputs(name, task):
    generator = torch.Generator().manual_seed(7)
    predictor = _build(name, task).train()
    relation_task = SGGTask(task)
    proposals, targets = _batch(task, generator)
    num_objs = [len(p) for p in proposals]
    sampled = _sampler(relation_task).sample(proposals, targets)
    num_rels = [len(p) for p in sampled.rel_pair_idxs]
    assert num_rels[1] == (1 if task == "sgdet" else 0)  # one box: no pair (SGDet: placeholder)
    roi = torch.randn(sum(num_objs), FEAT, requires_grad=True)
    union = torch.randn(sum(num_rels), FEAT, requires_grad=True)
    out = predictor(proposals, sampled.rel_pair_idxs, roi, union, sampled.rel_binarys,
                    **_extra(predictor, sampled))
    assert out.obj_logits.shape == (sum(num_objs), len(OBJ_CLASSES))
    assert out.relation_logits.shape == (sum(num_rels), len(REL_CLASSES))
    losses = RelationLossComputation(False)(
        proposals, sampled.rel_labels, out.relation_logits.split(num_rels),
        out.obj_logits.split(num_objs))
    losses.update(out.losses)
    assert set(losses) == {"loss_rel", "loss_refine_obj"} | EXTRA_LOSSES.get(name, set())
    assert all(k.startswith("loss_") and v.dim() == 0 and torch.isfinite(v)
               for k, v in losses.items())
    sum(losses.values()).backward()
    assert torch.isfinite(roi.grad).all() and roi.grad.abs().sum() > 0
    trained = [p for p in predictor.parameters() if p.grad is not None]
    assert trained and all(torch.isfinite(p.grad).all() for p in trained)
    if task == "predcls":
        labels = torch.cat([p.get_field("labels") for p in proposals])
        assert torch.equal(out.obj_preds, labels)
        assert torch.equal(out.obj_logits.abs(), torch.full_like(out.obj_logits, 1000.0))

    predictor.eval()
    pairs = _sampler(relation_task).test_pairs(proposals)
    with torch.no_grad():
        out = predictor(proposals, pairs, roi, torch.randn(sum(len(p) for p in pairs), FEAT))
    assert out.relation_logits.shape == (sum(len(p) for p in pairs), len(REL_CLASSES))
    assert torch.isfinite(out.relation_logits).all() and torch.isfinite(out.obj_logits).all()
    assert ((out.obj_preds > 0) | (task == "sgdet")).all()


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_batched_evaluation_equals_one_image_at_a_time(name, task):
    generator = torch.Generator().manual_seed(11)
    predictor = _build(name, task).eval()
    proposals, _ = _batch(task, generator)
    pairs = _sampler(SGGTask(task)).test_pairs(proposals)
    num_objs, num_rels = [len(p) for p in proposals], [len(p) for p in pairs]
    roi = torch.randn(sum(num_objs), FEAT, generator=generator)
    union = torch.randn(sum(num_rels), FEAT, generator=generator)
    with torch.no_grad():
        batched = predictor(proposals, pairs, roi, union)
        for i, (rois, unions) in enumerate(zip(roi.split(num_objs), union.split(num_rels))):
            alone = predictor([proposals[i]], [pairs[i]], rois, unions)
            assert torch.allclose(batched.obj_logits.split(num_objs)[i], alone.obj_logits,
                                  atol=1e-5)
            assert torch.equal(batched.obj_preds.split(num_objs)[i], alone.obj_preds)
            assert torch.allclose(batched.relation_logits.split(num_rels)[i],
                                  alone.relation_logits, atol=1e-4)


def test_imp_message_passing_equals_dense_incidence_formulation():
    torch.manual_seed(0)
    predictor = _build("IMPPredictor", "sgcls").eval()
    ctx = predictor.context_layer
    generator = torch.Generator().manual_seed(3)
    proposals, _ = _batch("sgcls", generator)
    pairs = _sampler(SGGTask.SGCLS).test_pairs(proposals)
    num_objs = [len(p) for p in proposals]
    roi = torch.randn(sum(num_objs), FEAT)
    union = torch.randn(sum(len(p) for p in pairs), FEAT)
    out = predictor(proposals, pairs, roi, union)
    # SGB's version: dense object x relation incidence matrices and three rounds.
    sub, obj = predictor.global_pair_indices(pairs, num_objs)
    sub2rel = torch.zeros(len(roi), len(sub))
    obj2rel = torch.zeros(len(roi), len(sub))
    sub2rel[sub, torch.arange(len(sub))] = 1
    obj2rel[obj, torch.arange(len(sub))] = 1
    vert = [ctx.node_gru(ctx.obj_unary(roi), torch.zeros(len(roi), ctx.hidden_dim))]
    edge = [ctx.edge_gru(torch.relu(ctx.edge_unary(union)), torch.zeros(len(sub), ctx.hidden_dim))]
    for i in range(3):
        sv, ov = vert[i][sub], vert[i][obj]
        ws = ctx.sub_vert_w_fc(torch.cat((sv, edge[i]), 1)) * sv
        wo = ctx.obj_vert_w_fc(torch.cat((ov, edge[i]), 1)) * ov
        edge.append(ctx.edge_gru(ws + wo, edge[i]))
        pre_out = ctx.out_edge_w_fc(torch.cat((sv, edge[i]), 1)) * edge[i]
        pre_in = ctx.in_edge_w_fc(torch.cat((ov, edge[i]), 1)) * edge[i]
        vert.append(ctx.node_gru(sub2rel @ pre_out + obj2rel @ pre_in, vert[i]))
    assert torch.allclose(out.relation_logits, ctx.rel_fc(edge[-1]), atol=1e-5)
    assert torch.allclose(out.obj_logits, ctx.obj_fc(vert[-1]), atol=1e-5)


@pytest.mark.parametrize("name,task", list(itertools.product(PREDICTORS, TASK_FLAGS)))
def test_training_and_evaluation_under_autocast(name, task):
    """DTYPE bfloat16 on CPU exercises the same mixed-precision paths as float16 on a GPU."""
    generator = torch.Generator().manual_seed(5)
    predictor = _build(name, task).train()
    proposals, targets = _batch(task, generator)
    sampled = _sampler(SGGTask(task)).sample(proposals, targets)
    roi = torch.randn(sum(len(p) for p in proposals), FEAT)
    union = torch.randn(sum(len(p) for p in sampled.rel_pair_idxs), FEAT)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = predictor(proposals, sampled.rel_pair_idxs, roi, union, sampled.rel_binarys,
                        **_extra(predictor, sampled))
        loss = torch.nn.functional.cross_entropy(out.relation_logits.float(),
                                                 torch.cat(sampled.rel_labels))
        loss = loss + sum(out.losses.values())
    loss.backward()
    assert torch.isfinite(loss)
    predictor.eval()
    pairs = _sampler(SGGTask(task)).test_pairs(proposals)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = predictor(proposals, pairs, roi, torch.randn(sum(len(p) for p in pairs), FEAT))
    assert torch.isfinite(out.relation_logits.float()).all()
