"""SGG evaluation: R, ngR, mR, ng-mR, zR, ng-zR, few-shot R, A@K and detection mAP (SGB-exact)."""

from .build import build_sgg_evaluator, build_triplet_groups, check_val_metric, k_shot_file
from .detection_map import DetectionInput, DetectionResult, detection_map
from .image_matching import (
    NEVER,
    NOGC_TOP,
    ImageGroundTruth,
    ImageMatches,
    ImagePrediction,
    box_iou_plus_one,
    match_image,
    nogc_ranking,
)
from .modes import SGGMode, sgg_mode
from .outputs import (
    load_predictions,
    plot_per_predicate_recall,
    save_eval_results,
    save_predictions,
    save_visualization,
)
from .relation_metrics import RelationTable, compute_relation_metrics
from .report import format_results
from .sgg_evaluator import SGGEvalOutput, SGGEvalSettings, SGGEvaluator, metric_value
from .triplet_groups import (
    TripletGroup,
    few_shot_bin_group,
    few_shot_exact_group,
    group_membership,
    zero_shot_group,
)

__all__ = [
    "NEVER",
    "NOGC_TOP",
    "DetectionInput",
    "DetectionResult",
    "ImageGroundTruth",
    "ImageMatches",
    "ImagePrediction",
    "RelationTable",
    "SGGEvalOutput",
    "SGGEvalSettings",
    "SGGEvaluator",
    "SGGMode",
    "TripletGroup",
    "box_iou_plus_one",
    "build_sgg_evaluator",
    "build_triplet_groups",
    "check_val_metric",
    "compute_relation_metrics",
    "detection_map",
    "few_shot_bin_group",
    "few_shot_exact_group",
    "format_results",
    "group_membership",
    "k_shot_file",
    "load_predictions",
    "match_image",
    "metric_value",
    "nogc_ranking",
    "plot_per_predicate_recall",
    "save_eval_results",
    "save_predictions",
    "save_visualization",
    "sgg_mode",
    "zero_shot_group",
]
