"""Building the evaluator from the config: mode, K values, triplet groups, validation metric."""

import pytest
import torch
from eval_fakes import FakeStatistics

from maskrcnn_benchmark.evaluation import (
    SGGMode,
    build_sgg_evaluator,
    check_val_metric,
    k_shot_file,
    metric_value,
)


@pytest.mark.parametrize(
    "use_gt_box, use_gt_label, mode",
    [(True, True, SGGMode.PREDCLS), (True, False, SGGMode.SGCLS),
     (False, False, SGGMode.SGDET), (False, True, SGGMode.SGDET)],
)
def test_mode_follows_the_two_gt_flags(cfg, use_gt_box, use_gt_label, mode):
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_BOX = use_gt_box
    cfg.MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL = use_gt_label
    assert build_sgg_evaluator(cfg, FakeStatistics({})).settings.mode is mode


def test_settings_and_groups_from_config_with_statistics(cfg):
    cfg.TEST.RELATION.RECALL_KS = (10, 30)
    cfg.TEST.RELATION.IOU_THRESHOLD = 0.7
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (3,)
    cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES = 11
    evaluator = build_sgg_evaluator(cfg, FakeStatistics({}))
    s = evaluator.settings
    assert (s.recall_ks, s.iou_threshold, s.num_predicates) == ((10, 30), 0.7, 11)
    assert [g.key for g in evaluator.groups] == [
        "zero-shot", "1-5", "6-10", "11-15", "16-20", "21-25", "3"]
    assert all(g.needs_counts for g in evaluator.groups)


def test_reference_files_replace_counts(cfg, tmp_path):
    (tmp_path / "vg-2-shot-triplets.pytorch").write_bytes(b"")
    cfg.TEST.RELATION.ZERO_SHOT_FILE = str(tmp_path / "zeroshot_triplet.pytorch")
    cfg.TEST.RELATION.FEW_SHOT_DIR = str(tmp_path)
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (2,)
    cfg.TEST.RELATION.FEW_SHOT_BINS = ()
    loaded = []

    def load(path):
        loaded.append(path)
        return torch.tensor([[1, 2, 3], [1, 2, 3]])

    evaluator = build_sgg_evaluator(cfg, None, load_triplets=load)
    assert loaded == [cfg.TEST.RELATION.ZERO_SHOT_FILE, k_shot_file(str(tmp_path), 2)]
    assert [g.triplets.tolist() for g in evaluator.groups] == [[[1, 2, 3]], [[1, 2, 3]]]
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (2, 7)
    with pytest.raises(FileNotFoundError, match="vg-7-shot-triplets.pytorch"):
        build_sgg_evaluator(cfg, None, load_triplets=load)


def test_without_statistics_count_based_groups_are_skipped_with_a_warning(cfg, eval_log):
    cfg.TEST.RELATION.FEW_SHOT_EXACT_KS = (4,)
    evaluator = build_sgg_evaluator(cfg, None)
    assert evaluator.groups == []
    assert "not computing zero-shot recall" in eval_log.text and "4-shot" in eval_log.text


def test_few_shot_bins_are_validated(cfg):
    cfg.TEST.RELATION.FEW_SHOT_BINS = ((5, 2),)
    with pytest.raises(ValueError, match=r"few-shot bin \(5, 2\)"):
        build_sgg_evaluator(cfg, FakeStatistics({}))


def test_validation_metric_is_checked_before_inference_and_read_after():
    check_val_metric("mR@100", (20, 50, 100))
    with pytest.raises(ValueError, match="not in TEST.RELATION.RECALL_KS"):
        check_val_metric("R@200", (20, 50, 100))
    with pytest.raises(ValueError, match="SOLVER.VAL_METRIC 'recall'"):
        check_val_metric("recall", (20, 50, 100))
    metrics = {"R": {"100": 0.25}, "mR": {"100": 0.125}}
    assert metric_value(metrics, "mR@100") == 0.125 and metric_value(metrics, "R@100") == 0.25
    with pytest.raises(ValueError, match="K=50"):
        metric_value(metrics, "R@50")
