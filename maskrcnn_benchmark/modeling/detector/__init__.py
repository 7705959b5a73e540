"""Detector meta-architecture: GeneralizedRCNN and its builder."""

from .detectors import build_detection_model, freeze_detector
from .generalized_rcnn import GeneralizedRCNN

__all__ = ["GeneralizedRCNN", "build_detection_model", "freeze_detector"]
