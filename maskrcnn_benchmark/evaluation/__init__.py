"""SGG evaluation: R, ngR, mR, ng-mR, zR, ng-zR, few-shot R, A@K and detection mAP (SGB-exact);
on the synthetic benchmark also the structure metrics (ctxR, ctx-mR, viol) and joint decoding."""

from .build import (
    VAL_METRIC_FAMILIES,
    build_sgg_evaluator,
    build_triplet_groups,
    check_val_metric,
    k_shot_file,
)
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
from .joint_decoding import joint_decode_prediction
from .modes import SGGMode, sgg_mode
from .outputs import (
    JOINT_DECODE_SUFFIX,
    load_predictions,
    plot_per_predicate_recall,
    save_eval_results,
    save_predictions,
    save_visualization,
)
from .relation_metrics import RelationTable, compute_relation_metrics
from .report import format_results
from .sgg_evaluator import (
    METRIC_FAMILIES,
    SGGEvalOutput,
    SGGEvalSettings,
    SGGEvaluator,
    metric_value,
)
from .structure_metrics import (
    STRUCTURE_FAMILIES,
    ImageStructure,
    StructureSpec,
    compute_structure_metrics,
)
from .structure_rules import (
    VIOLATION_KINDS,
    RuleTables,
    pair_rule_mask,
    rule_tables,
    violation_events,
)
from .triplet_groups import (
    TripletGroup,
    few_shot_bin_group,
    few_shot_exact_group,
    group_membership,
    zero_shot_group,
)

__all__ = [
    "JOINT_DECODE_SUFFIX",
    "METRIC_FAMILIES",
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
    "STRUCTURE_FAMILIES",
    "ImageStructure",
    "RuleTables",
    "StructureSpec",
    "TripletGroup",
    "VAL_METRIC_FAMILIES",
    "VIOLATION_KINDS",
    "box_iou_plus_one",
    "build_sgg_evaluator",
    "build_triplet_groups",
    "check_val_metric",
    "compute_relation_metrics",
    "compute_structure_metrics",
    "detection_map",
    "few_shot_bin_group",
    "few_shot_exact_group",
    "format_results",
    "group_membership",
    "joint_decode_prediction",
    "k_shot_file",
    "load_predictions",
    "match_image",
    "metric_value",
    "nogc_ranking",
    "pair_rule_mask",
    "plot_per_predicate_recall",
    "rule_tables",
    "save_eval_results",
    "save_predictions",
    "save_visualization",
    "sgg_mode",
    "violation_events",
    "zero_shot_group",
]
