"""The relation head: pair sampling, box / union features, pluggable predictors, post-processing.

Importing this package registers the union feature extractor and every relation predictor.
"""

from . import feature_extractors, predictors  # noqa: F401  (registration)
from .output import RelationHeadOutput
from .relation_head import ROIRelationHead, build_roi_relation_head, relation_slow_heads

__all__ = [
    "ROIRelationHead",
    "RelationHeadOutput",
    "build_roi_relation_head",
    "relation_slow_heads",
]
