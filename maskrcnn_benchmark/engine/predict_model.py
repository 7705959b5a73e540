"""A trained scene graph model ready for prediction on one's own images.

Prediction needs the config, the checkpoint and the class names of the training data set (its
dicts json); not the training h5: every tensor the dataset statistics initialise (frequency
bias, class embeddings) is a trained parameter that the checkpoint must provide, so the model
is built from names-only statistics and loaded with every key required.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import nn

from maskrcnn_benchmark.config import paths_catalog
from maskrcnn_benchmark.data.build import check_class_counts
from maskrcnn_benchmark.data.datasets.vg_format import DICTS_NAME
from maskrcnn_benchmark.data.datasets.vg_h5 import load_info
from maskrcnn_benchmark.data.statistics import DatasetStatistics
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.roi_heads.relation_head import glove
from maskrcnn_benchmark.utils.checkpoint import (
    Checkpointer,
    load_checkpoint_file,
    load_model_state,
)

__all__ = ["ModelLoadError", "class_names_statistics", "resolve_weights",
           "check_checkpoint_classes", "load_prediction_model"]

logger = logging.getLogger(__name__)

_BOX_CLASSIFIER = "roi_heads.box.predictor.cls_score.weight"
# The predicate classifier of each relation predictor (rows = predicate classes).
_RELATION_CLASSIFIERS = ("roi_heads.relation.predictor.rel_compress.weight",
                         "roi_heads.relation.predictor.ctx_compress.weight",
                         "roi_heads.relation.predictor.context_layer.rel_fc.weight")


class ModelLoadError(ValueError):
    """The checkpoint, the config or the class names do not fit together."""


def _train_dict_file(cfg: Any) -> str:
    if len(cfg.DATASETS.TRAIN) != 1:
        raise ModelLoadError(
            "Class names come from the training dataset's dicts json, but DATASETS.TRAIN is "
            f"{list(cfg.DATASETS.TRAIN)}; set it to the one dataset the model was trained on "
            "(e.g. DATASETS.TRAIN \"('VG_stanford_filtered_with_attribute_train',)\")")
    name = cfg.DATASETS.TRAIN[0]
    root = paths_catalog.data_root(cfg.DATASETS.DATA_DIR)
    try:
        return paths_catalog.DatasetCatalog.resolve(name, root).dict_file
    except paths_catalog.UnknownDatasetError:  # a user's folder: only its dicts json is needed
        base, _, split = name.rpartition("_")
        if not base or split != "train":
            raise
        return os.path.join(root, base, DICTS_NAME)


def class_names_statistics(cfg: Any) -> DatasetStatistics:
    """Names-only statistics (zero counts) from DATASETS.TRAIN's dicts json, as SGB's names."""
    dict_file = _train_dict_file(cfg)
    if not os.path.isfile(dict_file):
        raise FileNotFoundError(
            f"Class names file {dict_file} (the dicts json of DATASETS.TRAIN "
            f"{cfg.DATASETS.TRAIN[0]}) not found; copy the training dataset's dicts json there "
            "(the dataset root is DATASETS.DATA_DIR or $SGG_DATA_DIR; see docs/DATA.md)")
    obj_classes, rel_classes, att_classes = load_info(dict_file)
    check_class_counts(cfg, obj_classes, rel_classes, f"Class names file {dict_file}")
    empty = torch.zeros(0, dtype=torch.int64)
    return DatasetStatistics(
        obj_classes=obj_classes, rel_classes=rel_classes, att_classes=att_classes,
        object_counts=torch.zeros(len(obj_classes), dtype=torch.int64),
        predicate_counts=torch.zeros(len(rel_classes), dtype=torch.int64),
        triplets=empty.reshape(0, 3), triplet_counts=empty,
        overlap_pairs=empty.reshape(0, 2), overlap_pair_counts=empty)


def resolve_weights(cfg: Any, weights: str | None = None, use_latest: bool = True) -> str:
    """The checkpoint to predict with: ``weights``, else OUTPUT_DIR's last_checkpoint (when
    ``use_latest``), else MODEL.WEIGHT; a missing file is an error naming it."""
    path = weights
    if not path and use_latest:
        path = Checkpointer(nn.Module(), save_dir=cfg.OUTPUT_DIR).get_checkpoint_file()
    path = path or cfg.MODEL.WEIGHT
    if not path:
        raise FileNotFoundError(
            "No checkpoint: pass --weights model_final.pth, set MODEL.WEIGHT, or set OUTPUT_DIR "
            "to a training folder holding last_checkpoint")
    if "://" not in path and not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file not found: {path}; check the path (--weights "
                                "or MODEL.WEIGHT)")
    return path


def _rows(state_dict: dict[str, torch.Tensor], key: str) -> int | None:
    value = state_dict.get(key, state_dict.get(f"module.{key}"))
    return None if value is None else int(value.shape[0])


def check_checkpoint_classes(state_dict: dict[str, torch.Tensor], cfg: Any, path: str) -> None:
    """Raise when the checkpoint's object / predicate classifiers disagree with NUM_CLASSES."""
    checks = [(_BOX_CLASSIFIER, "object", "MODEL.ROI_BOX_HEAD.NUM_CLASSES",
               cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES)]
    if cfg.MODEL.RELATION_ON:
        key = next((k for k in _RELATION_CLASSIFIERS if _rows(state_dict, k) is not None), None)
        if key is not None:
            checks.append((key, "predicate", "MODEL.ROI_RELATION_HEAD.NUM_CLASSES",
                           cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES))
    for key, what, cfg_key, expected in checks:
        found = _rows(state_dict, key)
        if found is not None and found != expected:
            raise ModelLoadError(
                f"Checkpoint {path} was trained with {found} {what} classes (background "
                f"included; {key}) but the config has {cfg_key} {expected}. Use the config the "
                f"model was trained with, or set {cfg_key} {found} and DATASETS.TRAIN to its "
                "training dataset")


def _build_without_glove(cfg: Any, statistics: Any) -> nn.Module:
    """Build the model without reading GloVe: the class embeddings come from the checkpoint
    (every key is required), so the vectors would be parsed for nothing."""
    build_cfg = cfg.clone()
    build_cfg.defrost()
    build_cfg.GLOVE_DIR = ""
    glove_logger = logging.getLogger(glove.__name__)
    level = glove_logger.level
    glove_logger.setLevel(logging.ERROR)  # no "GloVe not found" warning for an unused init
    try:
        return build_detection_model(build_cfg, statistics)
    finally:
        glove_logger.setLevel(level)


def load_prediction_model(cfg: Any, weights: str, statistics: Any,
                          device: str | torch.device) -> nn.Module:
    """Build the model of ``cfg``, load ``weights`` (every model key required), eval mode."""
    data = load_checkpoint_file(weights)
    check_checkpoint_classes(data["model"], cfg, weights)
    model = _build_without_glove(cfg, statistics)
    try:
        report = load_model_state(model, data["model"], missing_ok=False)
    except ValueError as err:
        raise ModelLoadError(f"Checkpoint {weights} does not fit the model of this config "
                             f"(MODEL.ROI_RELATION_HEAD.PREDICTOR "
                             f"{cfg.MODEL.ROI_RELATION_HEAD.PREDICTOR}, MODEL.ENERGY_ON "
                             f"{cfg.MODEL.ENERGY_ON}): {err}") from None
    logger.info("Loaded %s (%d tensors)", weights, len(report.loaded))
    return model.to(device).eval()
