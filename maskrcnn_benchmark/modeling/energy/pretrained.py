"""The energy model's own weight file: written by pretraining, read through ENERGY_MODEL.WEIGHT.

File (``OUTPUT_DIR/energy_model.pth`` of tools/energy_pretrain_net.py): ``{"model": the energy
model's state dict, "config": the pretraining config as YAML, "epoch", "epochs", "metrics"}``,
written atomically. ``load_pretrained_energy_model`` also takes a bare state dict of the energy
model, or any checkpoint whose keys hold the ``energy_model.`` prefix (a relation-training
checkpoint), and loads strictly: every key present, no extra key, every shape equal.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import yaml
from torch import nn

from maskrcnn_benchmark.utils.checkpoint import (
    _atomic_torch_save,
    load_checkpoint_file,
    load_model_state,
)

__all__ = ["ARCHITECTURE_KEYS", "save_energy_model", "load_energy_model_file",
           "load_pretrained_energy_model"]

logger = logging.getLogger(__name__)

# Config keys that shape the energy model or its function; a file and a run must agree on them.
ARCHITECTURE_KEYS = (
    "ENERGY_MODEL.META_ARCHITECTURE", "ENERGY_MODEL.USE_IMAGE_GRAPH",
    "ENERGY_MODEL.EDGE_DIRECTIONS", "ENERGY_MODEL.ITERS", "ENERGY_MODEL.ALPHA",
    "ENERGY_MODEL.MESSAGE_AGGREGATION", "ENERGY_MODEL.POOLING", "ENERGY_MODEL.POOLING_GATE",
    "ENERGY_MODEL.SPECTRAL_NORM", "MODEL.ROI_RELATION_HEAD.EBM.OBJ_EMBED_DIM",
    "MODEL.ROI_RELATION_HEAD.EBM.REL_EMBED_DIM", "MODEL.ROI_RELATION_HEAD.EBM.OBJ_LABEL_EMBED_DIM",
    "MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM", "MODEL.ROI_RELATION_HEAD.EBM.POOLING_DIM",
    "MODEL.ROI_BOX_HEAD.NUM_CLASSES", "MODEL.ROI_RELATION_HEAD.NUM_CLASSES",
)
_PREFIX = "energy_model."


def save_energy_model(path: str, energy_model: nn.Module, cfg, *, epoch: int, epochs: int,
                      metrics: dict[str, Any] | None = None) -> None:
    """Write the energy model's weights (CPU tensors) with the config and epoch, atomically."""
    state = {key: value.detach().cpu().clone() for key, value in energy_model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _atomic_torch_save({"model": state, "config": cfg.dump(), "epoch": int(epoch),
                        "epochs": int(epochs), "metrics": dict(metrics or {})}, path)


def load_energy_model_file(path: str, energy_model: nn.Module, cfg=None) -> dict[str, Any]:
    """Load ``path`` into ``energy_model`` strictly and return the file's dict; one clear error
    (naming the file and the config keys that must match) when it does not fit."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"ENERGY_MODEL.WEIGHT: file not found: {path}; write it with "
            "tools/energy_pretrain_net.py (OUTPUT_DIR/energy_model.pth) or clear the key")
    try:
        data = load_checkpoint_file(path)
    except ValueError as err:
        raise ValueError(f"ENERGY_MODEL.WEIGHT {path}: {err}") from None
    state = data["model"]
    if any(key.startswith(_PREFIX) for key in state):  # a whole relation-training checkpoint
        state = {key[len(_PREFIX):]: value for key, value in state.items()
                 if key.startswith(_PREFIX)}
    try:
        load_model_state(energy_model, state, strict=True)
    except ValueError as err:
        differences = _config_differences(data.get("config"), cfg)
        hint = ("; the file's config differs in " + ", ".join(differences) if differences
                else "")
        raise ValueError(
            f"ENERGY_MODEL.WEIGHT {path} does not fit this run's energy model{hint}. "
            "ENERGY_MODEL.USE_IMAGE_GRAPH, EDGE_DIRECTIONS, SPECTRAL_NORM, the "
            "MODEL.ROI_RELATION_HEAD.EBM widths and the class counts must match the "
            f"pretraining config.\n{err}") from None
    if cfg is not None:
        differences = _config_differences(data.get("config"), cfg)
        if differences:
            logger.warning("ENERGY_MODEL.WEIGHT %s was trained with a different architecture "
                           "setting (%s): the weights fit but compute another function",
                           path, ", ".join(differences))
    return data


def load_pretrained_energy_model(cfg, model: nn.Module) -> bool:
    """ENERGY_MODEL.WEIGHT into ``model.energy_model`` (a fresh relation-training run); True
    when loaded, False when the key is empty or the model has no energy model (warned)."""
    path = cfg.ENERGY_MODEL.WEIGHT
    if not path:
        return False
    model = model.module if hasattr(model, "module") else model
    energy_model = getattr(model, "energy_model", None)
    if energy_model is None:
        logger.warning("ENERGY_MODEL.WEIGHT %s ignored: the model has no energy model "
                       "(MODEL.ENERGY_ON is False)", path)
        return False
    data = load_energy_model_file(path, energy_model, cfg)
    epoch = data.get("epoch")
    logger.info("Energy model initialised from ENERGY_MODEL.WEIGHT %s%s", path,
                f" (pretrained, epoch {epoch}/{data.get('epochs')})" if epoch is not None
                else "")
    return True


def _config_differences(file_config: Any, cfg) -> list[str]:
    """``KEY file_value (file) vs run_value (run)`` for ARCHITECTURE_KEYS that differ."""
    if cfg is None or not isinstance(file_config, str):
        return []
    try:
        saved = yaml.safe_load(file_config)
    except yaml.YAMLError:
        return []
    differences = []
    for key in ARCHITECTURE_KEYS:
        theirs, ours = saved, cfg
        for part in key.split("."):
            theirs = theirs.get(part) if isinstance(theirs, dict) else None
            ours = getattr(ours, part, None)
        if theirs is not None and theirs != ours:
            differences.append(f"{key} {theirs!r} (file) vs {ours!r} (run)")
    return differences
