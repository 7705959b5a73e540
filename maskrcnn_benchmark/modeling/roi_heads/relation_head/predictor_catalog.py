"""Registered relation predictors by name, each with the config it runs with in the paper's tables.

Tests and benchmark tools iterate over ``relation_predictor_names()`` instead of a written-out
list, so a newly registered predictor is covered automatically. ``predictor_settings(name)``
holds what a predictor needs beyond ``MODEL.ROI_RELATION_HEAD.PREDICTOR`` to be the model the
paper reports (for ``CausalAnalysisPredictor``: VCTree-TDE, the settings of
``configs/quickstart/vctree_tde_predcls.yaml``); every other predictor needs nothing.
"""

from __future__ import annotations

from typing import Any

from maskrcnn_benchmark.modeling.registry import RELATION_PREDICTORS

from . import predictors  # noqa: F401  (registration)

__all__ = ["PREDICTOR_SETTINGS", "relation_predictor_names", "predictor_settings",
           "predictor_opts", "apply_predictor"]

_CAUSAL = "MODEL.ROI_RELATION_HEAD.CAUSAL."

# Registry name -> {full config key: value}: the variant of the paper's tables.
PREDICTOR_SETTINGS: dict[str, dict[str, Any]] = {
    "CausalAnalysisPredictor": {
        _CAUSAL + "CONTEXT_LAYER": "vctree",
        _CAUSAL + "FUSION_TYPE": "sum",
        _CAUSAL + "EFFECT_ANALYSIS": True,
        _CAUSAL + "EFFECT_TYPE": "TDE",
        _CAUSAL + "SPATIAL_FOR_VISION": True,
        _CAUSAL + "SEPARATE_SPATIAL": False,
    },
}


def relation_predictor_names() -> list[str]:
    """Every registered relation predictor, sorted by name."""
    return RELATION_PREDICTORS.keys()


def predictor_settings(name: str) -> dict[str, Any]:
    """Config keys (full names) besides PREDICTOR that ``name`` runs with; {} when none."""
    RELATION_PREDICTORS.get(name)  # an unknown name is one error listing the known names
    return dict(PREDICTOR_SETTINGS.get(name, {}))


def predictor_opts(name: str) -> list[Any]:
    """``[KEY, VALUE, ...]`` for ``cfg.merge_from_list``: PREDICTOR and its settings."""
    opts: list[Any] = ["MODEL.ROI_RELATION_HEAD.PREDICTOR", name]
    for key, value in predictor_settings(name).items():
        opts += [key, value]
    return opts


def apply_predictor(cfg: Any, name: str) -> Any:
    """Select predictor ``name`` with its settings in ``cfg`` (in place); return ``cfg``."""
    cfg.merge_from_list(predictor_opts(name))
    return cfg
