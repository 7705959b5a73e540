"""ROI box head: feature extractor, predictor, sampling, loss and post-processing."""

from .box_head import ROIBoxHead, build_roi_box_head
from .roi_box_feature_extractors import FPN2MLPFeatureExtractor, make_roi_box_feature_extractor

__all__ = [
    "ROIBoxHead",
    "build_roi_box_head",
    "FPN2MLPFeatureExtractor",
    "make_roi_box_feature_extractor",
]
