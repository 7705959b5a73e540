"""CausalAnalysisPredictor (SGB's causal head, TDE): SGB key layout, training with the auxiliary
losses, the counterfactual effects at test, the untreated moving averages, the reference YAMLs
and energy training on top of it."""

import itertools
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.modeling.detector.detectors import build_detection_model
from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS
from maskrcnn_benchmark.modeling.roi_heads.relation_head.feature_extractors import (
    RelationFeatureExtractor,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.loss import RelationLossComputation
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.causal import (
    causal_effect,
    pair_box_info,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictors.causal_context import (
    AVERAGE_RATIO,
    update_moving_average,
)
from maskrcnn_benchmark.modeling.roi_heads.relation_head.sampling import RelationSampler
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.scene_graph import SGGTask
from tests.modeling.relation_data.synthetic import (
    OBJ_CLASSES,
    TASK_FLAGS,
    TinyStatistics,
    detector_cfg,
    make_statistics,
    make_target,
    proposals_for,
    small_cfg,
)
from tests.modeling.test_relation_synthetic import DATASET, _batch, _cfg, synthetic_root  # noqa: F401

DATA = Path(__file__).parent / "relation_data"
CONFIG_DATA = Path(__file__).resolve().parents[1] / "config" / "data"
SGB_KEYS = json.loads((DATA / "sgb_causal_keys.json").read_text())
CONTEXTS = ["motifs", "vctree", "vtranse"]
EFFECTS = ["none", "TDE", "NIE", "TE"]
FEAT = 24
CAUSAL = "MODEL.ROI_RELATION_HEAD.CAUSAL."


def _causal(context="vctree", **causal):
    values = {"CONTEXT_LAYER": context, "EFFECT_ANALYSIS": True, "SPATIAL_FOR_VISION": True,
              **causal}
    return {CAUSAL + k: v for k, v in values.items()}


def _build(task, context="vctree", **causal):
    cfg = small_cfg("CausalAnalysisPredictor", task, **_causal(context, **causal))
    return RELATION_PREDICTORS.get("CausalAnalysisPredictor").from_config(
        cfg, FEAT, make_statistics())


def _sampler(task):
    return RelationSampler(task=SGGTask(task), fg_iou_threshold=0.5, require_overlap=False,
                           num_sample_per_gt_rel=4, batch_size_per_image=12,
                           positive_fraction=0.25, test_require_overlap=False)


def _inputs(task, seed=7):
    generator = torch.Generator().manual_seed(seed)
    targets = [make_target(4, [(0, 1, 1), (2, 3, 2), (1, 0, 3)], generator=generator),
               make_target(3, [(2, 0, 4)], generator=generator)]
    proposals = [proposals_for(task, t, generator=generator) for t in targets]
    roi = torch.randn(sum(len(p) for p in proposals), FEAT, generator=generator)
    return proposals, targets, roi, generator


# -- SGB layout --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(SGB_KEYS["cases"]))
def test_state_dict_keys_and_shapes_match_sgb(case):
    dims = SGB_KEYS["dims"]
    overrides = {CAUSAL + k: v for k, v in SGB_KEYS["cases"][case].items()}
    cfg = small_cfg("CausalAnalysisPredictor", "sgcls", **overrides)
    assert (cfg.MODEL.ROI_RELATION_HEAD.CONTEXT_HIDDEN_DIM, cfg.MODEL.ROI_RELATION_HEAD.EMBED_DIM,
            cfg.MODEL.ROI_BOX_HEAD.MLP_HEAD_DIM) == (dims["hidden_dim"], dims["embed_dim"],
                                                     dims["mlp_head_dim"])
    predictor = RELATION_PREDICTORS.get("CausalAnalysisPredictor").from_config(
        cfg, FEAT, make_statistics())
    ours = {k: list(v.shape) for k, v in predictor.state_dict().items()}
    assert ours == SGB_KEYS["predictors"][case]
    dcfg = detector_cfg("CausalAnalysisPredictor", "sgcls", fpn_channels=dims["fpn_channels"],
                        resolution=dims["pooler_resolution"], **overrides)
    union = RelationFeatureExtractor.from_config(dcfg, dims["fpn_channels"])
    assert ({k: list(v.shape) for k, v in union.state_dict().items()}
            == SGB_KEYS["union_feature_extractor"][case])


def test_bad_causal_settings_fail_with_one_clear_error():
    with pytest.raises(ValueError, match="CONTEXT_LAYER is 'lstm'"):
        _build("predcls", "lstm")
    with pytest.raises(ValueError, match="EFFECT_TYPE is 'TIE'"):
        _build("predcls", EFFECT_TYPE="TIE")
    with pytest.raises(ValueError, match="needs EFFECT_ANALYSIS"):
        _build("predcls", EFFECT_TYPE="TDE", EFFECT_ANALYSIS=False)
    wide = small_cfg("CausalAnalysisPredictor", "predcls", pooling_dim=40, **_causal())
    with pytest.raises(ValueError, match="CONTEXT_POOLING_DIM"):
        RELATION_PREDICTORS.get("CausalAnalysisPredictor").from_config(wide, FEAT,
                                                                       make_statistics())
    cfg = detector_cfg("MotifPredictor", "predcls", **{CAUSAL + "SEPARATE_SPATIAL": True})
    with pytest.raises(ValueError, match="only works with CausalAnalysisPredictor"):
        RelationFeatureExtractor.from_config(cfg, 8)


# -- training ----------------------------------------------------------------------------------
@pytest.mark.parametrize("context,task,fusion", [
    *itertools.product(CONTEXTS, TASK_FLAGS, ["sum"]), ("vctree", "sgcls", "gate")])
def test_training_losses_finite_and_decreasing_then_every_effect_at_test(context, task, fusion):
    torch.manual_seed(0)
    predictor = _build(task, context, FUSION_TYPE=fusion).train()
    proposals, targets, roi, generator = _inputs(task)
    sampled = _sampler(task).sample(proposals, targets)
    num_rels = [len(p) for p in sampled.rel_pair_idxs]
    union = torch.randn(sum(num_rels), FEAT, generator=generator)
    optimizer = torch.optim.SGD(predictor.parameters(), lr=0.05)
    totals = []
    for _ in range(6):
        out = predictor(proposals, sampled.rel_pair_idxs, roi, union, sampled.rel_binarys,
                        rel_labels=sampled.rel_labels)
        losses = RelationLossComputation(False)(
            proposals, sampled.rel_labels, out.relation_logits.split(num_rels),
            out.obj_logits.split([len(p) for p in proposals]))
        losses.update(out.losses)
        expected = {"loss_rel", "loss_refine_obj", "loss_auxiliary_ctx"}
        expected |= {"loss_auxiliary_vis", "loss_auxiliary_frq"} if fusion == "sum" else set()
        expected |= {"loss_binary"} if context == "vctree" else set()
        assert set(losses) == expected
        assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < totals[0]

    predictor.eval()
    pairs = _sampler(task).test_pairs(proposals)
    test_union = torch.randn(sum(len(p) for p in pairs), FEAT, generator=generator)
    results = {}
    with torch.no_grad():
        for effect in EFFECTS:
            predictor.effect_type = effect
            results[effect] = predictor(proposals, pairs, roi, test_union).relation_logits
            assert results[effect].shape == (sum(len(p) for p in pairs), 5)
            assert torch.isfinite(results[effect]).all()
    # TE = TDE + NIE whatever the fusion; TDE really removes something.
    assert torch.allclose(results["TE"], results["TDE"] + results["NIE"], atol=1e-4)
    assert not torch.allclose(results["TDE"], results["none"])
    if fusion == "sum":  # the vision branch cancels in every contrast
        with torch.no_grad():
            predictor.effect_type = "TDE"
            other = predictor(proposals, pairs, roi, test_union * 3.0 + 1.0).relation_logits
        assert torch.allclose(other, results["TDE"], atol=1e-4)
    if task == "predcls":  # the untreated pass keeps the GT labels: no label effect
        assert torch.allclose(results["NIE"], torch.zeros_like(results["NIE"]), atol=1e-4)


@pytest.mark.parametrize("context,task", list(itertools.product(["motifs", "vctree"], TASK_FLAGS)))
def test_factual_context_equals_the_plain_predictors_context(context, task):
    """The causal contexts subclass LSTMContext / VCTreeLSTMContext; their factual pass must stay
    the parent's forward (this fails if one of them changes without the other)."""
    predictor = _build(task, context)
    ctx = predictor.context_layer
    parent = type(ctx).__mro__[1]
    proposals, _, roi, _ = _inputs(task)
    for train in (True, False):
        ctx.train(train)
        torch.manual_seed(1)
        ours = ctx(roi, proposals)
        torch.manual_seed(1)
        theirs = parent.forward(ctx, roi, proposals)
        assert torch.allclose(ours.obj_dists, theirs[0], atol=1e-6)
        assert torch.equal(ours.obj_preds, theirs[1])
        assert torch.allclose(ours.edge_ctx, theirs[2], atol=1e-6)
        if context == "vctree":
            assert all(torch.allclose(a, b) for a, b in zip(ours.pair_logits, theirs[3]))


@pytest.mark.parametrize("context", ["motifs", "vctree"])
def test_untreated_pass_swaps_only_the_objects_own_edge_input(context):
    """PredCls image whose objects share label and roi feature: each object's own edge input
    [label embedding, roi] is one row; with the average set to that row the untreated edge
    context equals the factual one, with another average it differs."""
    predictor = _build("predcls", context).eval()
    ctx = predictor.context_layer
    generator = torch.Generator().manual_seed(2)
    target = make_target(4, [(0, 1, 1)], generator=generator)
    target.add_field("labels", torch.full((4,), 3, dtype=torch.int64))
    proposals = [proposals_for("predcls", target)]
    roi = torch.randn(1, FEAT, generator=generator).expand(4, -1).contiguous()
    own = torch.cat((ctx.obj_embed2.weight[3], roi[0]))
    with torch.no_grad():
        ctx.untreated_edg_feat.copy_(own)
        same = ctx(roi, proposals, with_untreated=True)
        ctx.untreated_edg_feat.copy_(own + 0.5)
        other = ctx(roi, proposals, with_untreated=True)
    assert torch.allclose(same.untreated_edge_ctx, same.edge_ctx, atol=1e-5)
    assert not torch.allclose(other.untreated_edge_ctx, other.edge_ctx, atol=1e-3)
    assert torch.equal(same.untreated_obj_dists, same.obj_dists)  # PredCls keeps the labels


# -- counterfactual definitions ----------------------------------------------------------------
def test_effect_types_hand_example():
    factual = torch.tensor([[3.0, 1.0, -2.0]])
    no_context = torch.tensor([[1.0, 1.5, 0.0]])
    untreated = torch.tensor([[0.5, 0.0, 1.0]])
    assert causal_effect("TDE", factual, no_context, untreated).tolist() == [[2.0, -0.5, -2.0]]
    assert causal_effect("NIE", factual, no_context, untreated).tolist() == [[0.5, 1.5, -1.0]]
    assert causal_effect("TE", factual, no_context, untreated).tolist() == [[2.5, 1.0, -3.0]]
    assert causal_effect("none", factual, no_context, untreated) is factual


def test_vtranse_tde_and_nie_equal_the_hand_computed_counterfactual():
    """VTransE, SGCls, sum fusion: every untreated quantity is a function of the buffers."""
    torch.manual_seed(0)
    predictor = _build("sgcls", "vtranse").eval()
    ctx = predictor.context_layer
    generator = torch.Generator().manual_seed(3)
    for buffer in (ctx.untreated_obj_feat, ctx.untreated_edg_feat, predictor.untreated_spt):
        buffer.copy_(torch.rand(buffer.shape, generator=generator))
    proposals, _, roi, _ = _inputs("sgcls", seed=5)
    pairs = _sampler("sgcls").test_pairs(proposals)
    union = torch.randn(sum(len(p) for p in pairs), FEAT, generator=generator)
    with torch.no_grad():
        predictor.effect_type = "none"
        plain = predictor(proposals, pairs, roi, union)
        outputs = {}
        for effect in ("TDE", "NIE"):
            predictor.effect_type = effect
            outputs[effect] = predictor(proposals, pairs, roi, union).relation_logits
        sub, obj = predictor.global_pair_indices(pairs, [len(p) for p in proposals])
        # untreated context: every object is the average object
        avg_dists = ctx.pred_layer(ctx.untreated_obj_feat[None])
        avg_label = F.softmax(avg_dists, 1) @ ctx.obj_embed2.weight
        avg_edge = F.relu(ctx.fc_layer(torch.cat((ctx.untreated_edg_feat[None], avg_label), 1)))
        head, tail = predictor.post_emb(avg_edge).view(2, -1)
        avg_ctx = (head - tail) * predictor.spt_emb(predictor.untreated_spt[None])
        # factual context, as the forward pass computes it
        edge = predictor.post_emb(plain_edge_ctx(predictor, proposals, roi)).view(-1, 2, FEAT)
        pair_geometry = pair_box_info(proposals, pairs)
        real_ctx = (edge[sub, 0] - edge[obj, 1]) * predictor.spt_emb(pair_geometry)
        tde = predictor.ctx_compress(real_ctx) - predictor.ctx_compress(avg_ctx)
        probs = F.softmax(plain.obj_logits, 1)
        table = predictor.freq_bias.obj_baseline.weight.view(len(OBJ_CLASSES), len(OBJ_CLASSES), -1)
        expected_frq = torch.einsum("pa,pb,abr->pr", probs[sub], probs[obj], table)
        avg_prob = F.softmax(avg_dists, 1)[0]
        untreated_frq = torch.einsum("a,b,abr->r", avg_prob, avg_prob, table)
    assert torch.allclose(outputs["TDE"], tde, atol=1e-4)
    assert torch.allclose(outputs["NIE"], expected_frq - untreated_frq[None], atol=1e-4)
    # the plain output uses the frequency row of the predicted labels, not the expectation
    pair_labels = plain.obj_preds[sub] * len(OBJ_CLASSES) + plain.obj_preds[obj]
    plain_expected = (predictor.vis_compress(union) + predictor.ctx_compress(real_ctx)
                      + predictor.freq_bias.obj_baseline.weight[pair_labels])
    assert torch.allclose(plain.relation_logits, plain_expected, atol=1e-4)


def plain_edge_ctx(predictor, proposals, roi):
    """VTransE's factual edge context, read from the context layer."""
    return predictor.context_layer(roi, proposals).edge_ctx


# -- moving averages ---------------------------------------------------------------------------
def test_moving_average_formula_and_empty_batch():
    holder = torch.tensor([1.0, -2.0])
    update_moving_average(holder, torch.tensor([[3.0, 0.0], [5.0, 2.0]]))
    r = AVERAGE_RATIO
    assert torch.allclose(holder, torch.tensor([(1 - r) * 1.0 + r * 4.0, (1 - r) * -2.0 + r]))
    update_moving_average(holder, torch.zeros(0, 2))  # no rows: unchanged (SGB writes NaN)
    assert torch.isfinite(holder).all()


def test_training_step_updates_every_untreated_average_by_sgbs_formula():
    torch.manual_seed(0)
    predictor = _build("sgcls", "motifs", SEPARATE_SPATIAL=True).train()
    proposals, targets, roi, generator = _inputs("sgcls")
    sampled = _sampler("sgcls").sample(proposals, targets)
    num = sum(len(p) for p in sampled.rel_pair_idxs)
    union = torch.randn(num, FEAT, generator=generator)
    spatial = torch.rand(num, FEAT, generator=generator)
    before = {k: v.clone() for k, v in predictor.state_dict().items() if "untreated" in k
              or k == "avg_post_ctx"}
    for name in before:
        before[name] = torch.rand(before[name].shape, generator=generator)
    predictor.load_state_dict(before, strict=False)
    predictor(proposals, sampled.rel_pair_idxs, roi, (union, spatial), sampled.rel_binarys,
              rel_labels=sampled.rel_labels)
    after = predictor.state_dict()
    r = AVERAGE_RATIO
    geometry = pair_box_info(proposals, sampled.rel_pair_idxs)
    for name, values in (("untreated_feat", union), ("untreated_conv_spt", spatial),
                         ("untreated_spt", geometry)):
        assert torch.allclose(after[name], (1 - r) * before[name] + r * values.mean(0))
    for name in ("avg_post_ctx", "context_layer.untreated_obj_feat",
                 "context_layer.untreated_edg_feat", "context_layer.untreated_dcd_feat"):
        assert not torch.equal(after[name], before[name])


def test_pair_box_info_hand_example():
    boxes = BoxList(torch.tensor([[0.0, 0.0, 99.0, 49.0], [50.0, 25.0, 199.0, 99.0],
                                  [150.0, 60.0, 159.0, 69.0]]), (200, 100))
    info = pair_box_info([boxes], [torch.tensor([[0, 1], [0, 2]])])
    s = 200.0  # max(W, H, 100)
    assert torch.allclose(info[0, :8], torch.tensor([0, 0, 99, 49, 50, 25, 100, 50]) / s)
    union = torch.tensor([0, 0, 199, 99]) / s
    wh = union[2:] - union[:2] + 1.0
    assert torch.allclose(info[0, 16:24], torch.cat((union, union[:2] + wh / 2, wh)))
    inter = torch.tensor([50, 25, 99, 49]) / s
    wh = inter[2:] - inter[:2] + 1.0
    assert torch.allclose(info[0, 24:], torch.cat((inter, inter[:2] + wh / 2, wh)))
    assert torch.equal(info[1, 24:], torch.zeros(8))  # disjoint boxes: no intersection


# -- reference YAMLs and the full model --------------------------------------------------------
def _reference_statistics(num_obj, num_rel):
    counts = torch.ones(num_obj, num_obj, num_rel, dtype=torch.int64)
    return TinyStatistics(["__background__"] + [f"o{i}" for i in range(1, num_obj)],
                          ["__background__"] + [f"r{i}" for i in range(1, num_rel)], counts)


@pytest.mark.parametrize("yaml,context", [
    (CONFIG_DATA / "sgb_e2e_relation_X_101_32_8_FPN_1x.yaml", None),
    (CONFIG_DATA / "ebm_e2e_relation_X_101_32_8_FPN_1x.yaml", None),
    (CONFIG_DATA / "ebm_e2e_relation_X_101_32_8_FPN_1x.yaml", "vctree"),
], ids=["sgb", "ebm", "ebm-vctree"])
def test_reference_relation_yamls_build_the_causal_model(yaml, context):
    cfg = get_cfg()
    cfg.merge_from_file(str(yaml))
    cfg.GLOVE_DIR = "/nonexistent-glove-dir"
    if context is not None:
        cfg.MODEL.ROI_RELATION_HEAD.CAUSAL.CONTEXT_LAYER = context
    statistics = _reference_statistics(cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES,
                                       cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES)
    with torch.device("meta"):
        model = build_detection_model(cfg, statistics)
    predictor = model.roi_heads.relation.predictor
    assert type(predictor).__name__ == "CausalAnalysisPredictor"
    state = predictor.state_dict()
    assert tuple(state["vis_compress.weight"].shape) == (51, 4096)
    assert tuple(state["spt_emb.2.weight"].shape) == (4096, 512)
    assert "context_layer.untreated_edg_feat" in state  # EFFECT_ANALYSIS True in both YAMLs
    assert ("context_layer.bi_freq_prior.weight" in state) == (context == "vctree")


def _energy_cfg(root, task, context, effect):
    cfg = _cfg(root, "CausalAnalysisPredictor", task)
    cfg.merge_from_list([k for kv in _causal(context, EFFECT_TYPE=effect).items() for k in kv])
    cfg.MODEL.ENERGY_ON = True
    ebm = cfg.MODEL.ROI_RELATION_HEAD.EBM
    ebm.OBJ_EMBED_DIM = ebm.REL_EMBED_DIM = ebm.OBJ_LABEL_EMBED_DIM = 16
    ebm.REL_LABEL_EMBED_DIM = ebm.POOLING_DIM = 16
    cfg.SAMPLER.ITERS = 2
    return cfg


@pytest.mark.parametrize("task,context", list(itertools.product(TASK_FLAGS, CONTEXTS)))
def test_energy_training_step_and_every_effect_on_tiny(synthetic_root, monkeypatch,  # noqa: F811
                                                       task, context):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _energy_cfg(synthetic_root, task, context, "TDE")
    model = build_detection_model(cfg, get_dataset_statistics(cfg))
    images, targets = _batch(cfg)
    losses = model.train()(images, targets)
    assert {"loss_rel", "loss_energy", "loss_auxiliary_ctx", "loss_auxiliary_vis"} <= set(losses)
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.energy_model.parameters())
    predictor = model.roi_heads.relation.predictor
    assert predictor.untreated_feat.abs().sum() > 0  # the step updated the averages
    model.eval()
    results = {}
    with torch.no_grad():
        for effect in EFFECTS:
            predictor.effect_type = effect
            results[effect] = model(images, targets)
    for effect, predictions in results.items():
        for prediction in predictions:
            scores = prediction.get_field("pred_rel_scores")
            assert torch.isfinite(scores).all(), effect
            assert torch.allclose(scores.sum(1), torch.ones(len(scores)), atol=1e-5)
    assert any(not torch.allclose(a.get_field("pred_rel_scores"), b.get_field("pred_rel_scores"))
               for a, b in zip(results["TDE"], results["none"]))


@pytest.mark.parametrize("path", ["configs/quickstart/vctree_tde_predcls.yaml",
                                  "configs/quickstart/vctree_tde_sgcls.yaml",
                                  "configs/vg150/vctree_tde_predcls.yaml",
                                  "configs/vg150/vctree_tde_sgcls.yaml",
                                  "configs/vg150/vctree_tde_sgdet.yaml"])
def test_shipped_vctree_tde_configs_build(path):
    cfg = get_cfg()
    cfg.merge_from_file(str(Path(__file__).resolve().parents[2] / path))
    cfg.GLOVE_DIR = "/nonexistent-glove-dir"
    statistics = _reference_statistics(cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES,
                                       cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES)
    with torch.device("meta"):
        model = build_detection_model(cfg, statistics)
    predictor = model.roi_heads.relation.predictor
    assert type(predictor.context_layer).__name__ == "CausalVCTreeContext"
    assert predictor.effect_type == "TDE" and predictor.fusion_type == "sum"
    assert predictor.task is SGGTask.from_flags(cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX,
                                                cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL)


@pytest.mark.parametrize("context", CONTEXTS)
def test_training_and_tde_under_autocast(context):
    """DTYPE bfloat16 on CPU exercises the mixed-precision paths of float16 on a GPU."""
    torch.manual_seed(0)
    predictor = _build("sgcls", context, SEPARATE_SPATIAL=True, EFFECT_TYPE="TDE").train()
    proposals, targets, roi, generator = _inputs("sgcls")
    sampled = _sampler("sgcls").sample(proposals, targets)
    num = sum(len(p) for p in sampled.rel_pair_idxs)
    union = (torch.randn(num, FEAT, generator=generator), torch.rand(num, FEAT))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = predictor(proposals, sampled.rel_pair_idxs, roi, union, sampled.rel_binarys,
                        rel_labels=sampled.rel_labels)
        loss = F.cross_entropy(out.relation_logits.float(), torch.cat(sampled.rel_labels))
        loss = loss + sum(out.losses.values())
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(b).all() for b in predictor.buffers())
    predictor.eval()
    pairs = _sampler("sgcls").test_pairs(proposals)
    num = sum(len(p) for p in pairs)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = predictor(proposals, pairs, roi, (torch.randn(num, FEAT), torch.rand(num, FEAT)))
    assert torch.isfinite(out.relation_logits.float()).all()


def test_separate_spatial_and_gate_fusion_in_the_full_model(synthetic_root,  # noqa: F811
                                                             monkeypatch):
    monkeypatch.delenv("SGG_DATA_DIR", raising=False)
    torch.manual_seed(0)
    cfg = _cfg(synthetic_root, "CausalAnalysisPredictor", "sgcls")
    cfg.merge_from_list([k for kv in _causal("vctree", EFFECT_TYPE="TDE", FUSION_TYPE="gate",
                                             SEPARATE_SPATIAL=True).items() for k in kv])
    model = build_detection_model(cfg, get_dataset_statistics(cfg))
    images, targets = _batch(cfg)
    losses = model.train()(images, targets)
    assert "loss_auxiliary_vis" not in losses and "loss_auxiliary_ctx" in losses
    sum(losses.values()).backward()
    spatial_fc = model.roi_heads.relation.union_feature_extractor.spatial_fc
    assert spatial_fc[0].weight.grad.abs().sum() > 0  # the mask branch reaches the loss
    predictor = model.roi_heads.relation.predictor
    assert predictor.untreated_conv_spt.abs().sum() > 0
    with torch.no_grad():
        predictions = model.eval()(images, targets)
    assert all(torch.isfinite(p.get_field("pred_rel_scores")).all() for p in predictions)
