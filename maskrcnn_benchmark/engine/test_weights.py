"""Weights of a relation model for testing: a checkpoint, plus a pretrained energy model when
the checkpoint has none (e.g. a CE model tested with energy-guided decoding)."""

from __future__ import annotations

import logging

from torch import nn

from maskrcnn_benchmark.modeling.energy.pretrained import load_pretrained_energy_model
from maskrcnn_benchmark.utils.checkpoint import Checkpointer

__all__ = ["load_relation_test_weights"]

logger = logging.getLogger(__name__)

_ENERGY_PREFIX = "energy_model."


def load_relation_test_weights(cfg, model: nn.Module, checkpointer: Checkpointer,
                               use_latest: bool) -> None:
    """Load OUTPUT_DIR's last checkpoint (``use_latest``) or MODEL.WEIGHT, every key required.

    With MODEL.ENERGY_ON and ENERGY_MODEL.WEIGHT set, a checkpoint without an energy model (a
    cross-entropy run) is allowed: its relation model is loaded and the energy model comes from
    ENERGY_MODEL.WEIGHT. A checkpoint that holds an energy model keeps its own (the weight file
    of its pretraining is not loaded over the trained one).
    """
    energy_file = cfg.ENERGY_MODEL.WEIGHT if cfg.MODEL.ENERGY_ON else ""
    if not energy_file:
        checkpointer.load(cfg.MODEL.WEIGHT or None, use_latest=use_latest, missing_ok=False)
        return
    found = checkpointer.read(cfg.MODEL.WEIGHT or None, use_latest=use_latest)
    if found is None:
        logger.info("No checkpoint found; the relation model keeps its initialisation")
        load_pretrained_energy_model(cfg, model)
        return
    path, data = found
    state = data["model"]
    if any(key.removeprefix("module.").startswith(_ENERGY_PREFIX) for key in state):
        logger.info("%s holds an energy model: it is used, ENERGY_MODEL.WEIGHT %s is not "
                    "loaded", path, energy_file)
        checkpointer.load_read(path, data, missing_ok=False)
        return
    keys = set(state)
    checkpointer.load_read(path, data, missing_ok=True)
    # every key but the energy model's must have come from the checkpoint
    missing = [key for key in model.state_dict()
               if not key.startswith(_ENERGY_PREFIX)
               and key not in keys and f"module.{key}" not in keys]
    if missing:
        raise ValueError(f"Checkpoint {path} does not fit the model: {len(missing)} keys "
                         f"missing, e.g. {missing[:5]}")
    logger.info("%s has no energy model: loading it from ENERGY_MODEL.WEIGHT", path)
    load_pretrained_energy_model(cfg, model)
