"""Checkpoints of the EBM code (mods333/energy-based-scene-graph) mapped onto this package.

The EBM code's ``EBMCheckpointer`` writes ``{"base_model": ..., "energy_model": ...,
"energy_optimizer": ..., "iteration": ...}`` (keys prefixed with ``module.`` when saved under
DDP). ``base_model`` is an SGB detector with relation head and loads as it is;
``energy_model`` is its ``GraphEnergyModel`` and is mapped here onto ``GraphEnergyModel`` of
``energy_model.py`` (prefix ``energy_model.``):

- ``obj_emdedding.*`` -> ``obj_embedding.*`` (renamed);
- ``sg_layer.node2edge_kernel.{0,2}.weight``: 1x1 Conv2d kernels [out, in, 1, 1] over the dense
  N x N grid -> Linear weights [out, in] over the edge list (same names);
- ``pos_embed.0.*`` (Linear) + ``pos_embed.1.*`` (BatchNorm1d) -> ``pos_embed.0.*`` with the
  eval-mode BatchNorm folded in, ``pos_embed.1.*`` (LayerNorm) at identity;
- ``{sg,im}_pooler.hgate_node.0.*`` / ``sg_pooler.hgate_edge.0.*`` ->
  ``{sg,im}_pooler.node_gate.*`` / ``sg_pooler.edge_gate.*``; ``{sg,im}_pooler.poolingLayer.0.*``
  -> ``{sg,im}_pooler.projection.*`` (renamed);
- ``rel_embeding.*`` and ``*.htheta_*`` are dropped (never used by the EBM code's forward);
- every other key (label embeddings, ``pos_embed.2``, the EGNN / GGNN kernels and GRU cells,
  ``energy``) is copied under its own name.

Every EGNN / GGNN layer, embedding and the energy MLP compute what they computed in the EBM code
(up to its 1e-6 in the denominator of the neighbour mean) under the default architecture keys
(``MESSAGE_AGGREGATION reference``, ``EDGE_DIRECTIONS incoming``, ``POOLING sum``,
``SPECTRAL_NORM False``). The pooling gates equal the EBM code's with ``ENERGY_MODEL.POOLING_GATE
raw``; the default ``sigmoid`` passes the same scores through a sigmoid. One documented
difference (docs/ENERGY.md) cannot be mapped: the position embedding normalises with LayerNorm,
so the folded eval-mode BatchNorm output is normalised once more. A mapped EBM energy model is
therefore a trained initialisation for further training or refinement, not the EBM code's energy
function (with raw gates, it is that function with one extra LayerNorm on the box codes); the
relation model (``base_model``) is copied unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .energy_model import POSITION_EMBED_DIM

__all__ = [
    "EBMConversion",
    "is_ebm_checkpoint",
    "convert_ebm_energy_state",
    "convert_ebm_checkpoint",
    "BATCHNORM_EPS",
]

logger = logging.getLogger(__name__)

# EBM's pos_embed BatchNorm1d(32, momentum=0.001) keeps PyTorch's default eps.
BATCHNORM_EPS = 1e-5
_RENAMED_PREFIXES = {
    "obj_emdedding.": "obj_embedding.",
    "sg_pooler.hgate_node.0.": "sg_pooler.node_gate.",
    "sg_pooler.hgate_edge.0.": "sg_pooler.edge_gate.",
    "sg_pooler.poolingLayer.0.": "sg_pooler.projection.",
    "im_pooler.hgate_node.0.": "im_pooler.node_gate.",
    "im_pooler.poolingLayer.0.": "im_pooler.projection.",
}
_CONV_KERNELS = ("sg_layer.node2edge_kernel.0.weight", "sg_layer.node2edge_kernel.2.weight")
_UNUSED_PREFIXES = ("rel_embeding.", "sg_pooler.htheta_node.", "sg_pooler.htheta_edge.",
                    "im_pooler.htheta_node.", "post_processor.")
_POS_LINEAR, _POS_NORM = "pos_embed.0.", "pos_embed.1."
_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


@dataclass
class EBMConversion:
    """What ``convert_ebm_energy_state`` did, key by key."""

    copied: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    reshaped: list[str] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per kind of change, keys grouped by module."""
        renamed = sorted({f"{a.rsplit('.', 1)[0]}.* -> {b.rsplit('.', 1)[0]}.*"
                          for a, b in self.renamed})
        return "\n".join([
            f"    copied under their own names: {len(self.copied)} keys",
            "    renamed: " + ", ".join(renamed),
            "    1x1 Conv2d [out, in, 1, 1] -> Linear [out, in]: " + ", ".join(self.reshaped),
            "    BatchNorm1d pos_embed.1 folded into pos_embed.0 (eval-mode running statistics); "
            "LayerNorm pos_embed.1 set to identity",
            "    dropped (unused by the EBM code's forward): " + ", ".join(_modules(self.dropped)),
        ])


def _modules(keys: list[str]) -> list[str]:
    return sorted({key.rsplit(".", 1)[0] + ".*" for key in keys})


def is_ebm_checkpoint(data: Mapping[str, Any]) -> bool:
    """Whether ``data`` is an EBMCheckpointer container (``base_model`` + ``energy_model``) or
    a bare state dict of the EBM code's energy model (recognised by its Conv2d kernel)."""
    if "model" in data:
        return False
    if "base_model" in data and "energy_model" in data:
        return True
    return _is_ebm_energy_state(data)


def _is_ebm_energy_state(data: Mapping[str, Any]) -> bool:
    state = _strip_module(data) if all(isinstance(v, Tensor) for v in data.values()) else {}
    kernel = state.get(_CONV_KERNELS[0])
    return "obj_emdedding.weight" in state and kernel is not None and kernel.dim() == 4


def _strip_module(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _fold_batchnorm(state: dict[str, Tensor], out: dict[str, Tensor],
                    report: EBMConversion) -> None:
    """``Linear -> BatchNorm1d(eval)`` as one Linear: W' = s W, b' = s (b - mean) + beta."""
    needed = [_POS_LINEAR + "weight", _POS_LINEAR + "bias"] + [_POS_NORM + k for k in _BN_KEYS]
    absent = [k for k in needed if k not in state]
    if absent:
        raise ValueError(f"EBM energy-model state dict lacks {absent}: the position embedding "
                         "Linear(9, 32) - BatchNorm1d(32) of the EBM code is incomplete")
    dtype = state[_POS_LINEAR + "weight"].dtype
    weight, bias = (state[_POS_LINEAR + k].double() for k in ("weight", "bias"))
    gamma, beta, mean, var = (state[_POS_NORM + k].double() for k in _BN_KEYS)
    scale = gamma / torch.sqrt(var + BATCHNORM_EPS)  # folded in float64, stored in the file's
    out[_POS_LINEAR + "weight"] = (weight * scale[:, None]).to(dtype)
    out[_POS_LINEAR + "bias"] = ((bias - mean) * scale + beta).to(dtype)
    out[_POS_NORM + "weight"] = torch.ones_like(state[_POS_NORM + "weight"])
    out[_POS_NORM + "bias"] = torch.zeros_like(state[_POS_NORM + "bias"])
    report.folded = needed + ([_POS_NORM + "num_batches_tracked"]
                              if _POS_NORM + "num_batches_tracked" in state else [])


def convert_ebm_energy_state(
        state: Mapping[str, Tensor]) -> tuple[dict[str, Tensor], EBMConversion]:
    """Map an EBM ``GraphEnergyModel`` state dict onto this package's (keys without prefix).

    Keys the table of this module does not know are passed through unchanged, so a load
    reports them as unexpected instead of hiding them.
    """
    state = _strip_module(state)
    report = EBMConversion()
    out: dict[str, Tensor] = {}
    _fold_batchnorm(state, out, report)
    for key, value in state.items():
        if key in report.folded:
            continue
        if key.startswith(_UNUSED_PREFIXES):
            report.dropped.append(key)
            continue
        if key in _CONV_KERNELS:
            if value.dim() != 4 or tuple(value.shape[2:]) != (1, 1):
                raise ValueError(f"EBM key {key} has shape {tuple(value.shape)}; the EBM code "
                                 "stores the node-to-edge kernel as a 1x1 Conv2d [out, in, 1, 1]")
            out[key] = value.reshape(value.shape[0], value.shape[1])
            report.reshaped.append(key)
            continue
        new_key = key
        for old, new in _RENAMED_PREFIXES.items():
            if key.startswith(old):
                new_key = new + key[len(old):]
                report.renamed.append((key, new_key))
                break
        else:
            report.copied.append(key)
        out[new_key] = value
    return out, report


def _widths(energy: Mapping[str, Tensor]) -> str:
    """The config values an EBM energy state dict was trained with, read off its shapes."""
    try:
        obj_embed, roi_dim = energy["obj_embedding.weight"].shape
        rel_embed, num_rel = energy["rel_label_embedding.weight"].shape
        num_obj = energy["obj_label_embedding.weight"].shape[1] - POSITION_EMBED_DIM
        pooling = energy["energy.0.weight"].shape[0]
    except KeyError:
        return "widths unknown: incomplete energy model"
    return (f"{num_obj} object / {num_rel} predicate classes, RoI features {roi_dim}; needs "
            f"EBM.OBJ_EMBED_DIM = EBM.OBJ_LABEL_EMBED_DIM = {obj_embed}, "
            f"EBM.REL_EMBED_DIM = EBM.REL_LABEL_EMBED_DIM = {rel_embed}, "
            f"EBM.POOLING_DIM = {pooling}")


def convert_ebm_checkpoint(data: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """EBMCheckpointer container -> this package's ``{"model": ..., ...}``; logs the mapping.

    ``model`` holds ``base_model`` unchanged plus the mapped energy model under
    ``energy_model.`` (a bare energy-model state dict gives the latter only). The two
    optimizer states (separate optimizers in the EBM code, one with parameter groups here) and
    its schedulers cannot be mapped and are left out; other plain entries such as
    ``iteration`` are kept.
    """
    if not is_ebm_checkpoint(data):
        raise ValueError(f"{source or 'checkpoint'} is not an EBM checkpoint (needs "
                         f"'base_model' and 'energy_model', has {sorted(data)[:8]})")
    if _is_ebm_energy_state(data):  # a bare energy-model state dict
        data = {"base_model": {}, "energy_model": data}
    energy, report = convert_ebm_energy_state(data["energy_model"])
    model = _strip_module(data["base_model"])
    model.update({f"energy_model.{k}": v for k, v in energy.items()})
    skipped = sorted(k for k in data if k.endswith(("optimizer", "scheduler")))
    converted = {k: v for k, v in data.items()
                 if k not in ("base_model", "energy_model") and k not in skipped}
    converted["model"] = model
    logger.info(
        "%s is an EBM-code checkpoint: base_model (%d keys) loads under its own names; "
        "energy_model mapped onto energy_model.* (%s):\n%s\n    not loaded: %s. The mapped "
        "energy model "
        "normalises box codes with LayerNorm (and, unless ENERGY_MODEL.POOLING_GATE is raw, "
        "gates its pooling with a sigmoid), so its energies differ from the EBM code's "
        "(docs/ENERGY.md).",
        source or "checkpoint", len(model) - len(energy), _widths(energy), report.summary(),
        ", ".join(skipped) or "nothing")
    return converted
