"""Checkpoint I/O: SGB-compatible loading and atomic, complete saving.

Files are SGB's container ``{"model": state_dict, "optimizer": ..., "scheduler": ..., ...}`` as
``OUTPUT_DIR/model_XXXXXXX.pth`` / ``model_final.pth``, plus a text file ``last_checkpoint``
naming the newest one. Unlike SGB:

- ``last_checkpoint`` holds a path relative to the output folder, so a moved folder resumes
  (an old absolute path is resolved by its file name inside the folder);
- every load uses ``torch.load(weights_only=True)``; a file that needs arbitrary pickled Python
  objects is refused with a message instead of being executed;
- saves go to a temporary file that is renamed into place, so a crash during a write leaves
  the previous checkpoint intact;
- when the newest checkpoint is unreadable (e.g. truncated after a full disk) or gone, loading
  the latest falls back, with a warning naming it, to the newest readable older one of the same
  folder (by iteration); none readable is one error;
- an EBM-code container (``base_model`` + ``energy_model``) is mapped on loading
  (``modeling/energy/ebm_checkpoint.py``);
- a key of the model present in the file is always loaded as itself; ``load_mapping`` only fills
  keys the file does not have (SGB would overwrite trained relation weights with the detector's).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import re
from typing import Any

import torch
from torch import nn

from maskrcnn_benchmark.utils.comm import is_main_process

__all__ = [
    "Checkpointer",
    "load_checkpoint_file",
    "load_model_state",
    "LoadReport",
    "RELATION_LOAD_MAPPING",
    "unwrap_model",
    "sanitize_checkpoint_file",
]

logger = logging.getLogger(__name__)

# Relation training starts from a detector checkpoint: the relation head's own copies of the box
# feature extractor (and the union-box extractor's MLP) start from the detector's fc6/fc7.
RELATION_LOAD_MAPPING = {
    "roi_heads.relation.box_feature_extractor": "roi_heads.box.feature_extractor",
    "roi_heads.relation.union_feature_extractor.feature_extractor": (
        "roi_heads.box.feature_extractor"
    ),
}


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the module itself)."""
    return model.module if hasattr(model, "module") else model


def load_checkpoint_file(path: str) -> dict[str, Any]:
    """Load a checkpoint with weights_only=True; a bare state dict becomes {"model": ...}."""
    if "://" in path:
        raise ValueError(
            f"Checkpoint '{path}' is a URL; nothing is downloaded. Download it yourself and "
            "point the key (MODEL.WEIGHT / MODEL.PRETRAINED_DETECTOR_CKPT) at the local file."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"Checkpoint {path} holds pickled Python objects that weights_only loading refuses "
            f"({str(err).splitlines()[0]}). Only load files you trust: re-save its tensors with "
            "`python tools/sanitize_checkpoint.py IN OUT` and load OUT."
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise ValueError(f"Checkpoint {path} is not a readable torch file: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"Checkpoint {path} holds a {type(data).__name__}, expected a dict")
    from maskrcnn_benchmark.modeling.energy.ebm_checkpoint import (
        convert_ebm_checkpoint,
        is_ebm_checkpoint,
    )

    if is_ebm_checkpoint(data):
        data = convert_ebm_checkpoint(data, path)
    if "model" not in data:
        if all(isinstance(v, torch.Tensor) for v in data.values()):
            data = {"model": data}
        else:
            raise ValueError(f"Checkpoint {path} has no 'model' entry (keys: {sorted(data)[:8]})")
    return data


class LoadReport:
    """What a state-dict load did: loaded, mapped, missing, unexpected and mismatched keys."""

    def __init__(self) -> None:
        self.loaded: list[str] = []
        self.mapped: list[tuple[str, str]] = []
        self.missing: list[str] = []
        self.unexpected: list[str] = []
        self.mismatched: list[tuple[str, tuple, tuple]] = []

    def table(self) -> str:
        """A readable multi-line summary (one section per kind, keys grouped by prefix)."""
        lines = [f"loaded {len(self.loaded)} keys ({len(self.mapped)} through load_mapping)"]
        for title, keys in (("missing in the checkpoint (kept initialised)", self.missing),
                            ("unexpected in the checkpoint (ignored)", self.unexpected)):
            if keys:
                lines.append(f"{title}: {len(keys)}")
                lines.extend(f"    {prefix}  ({n} keys)" for prefix, n in _group(keys))
        if self.mismatched:
            lines.append(f"shape mismatch: {len(self.mismatched)}")
            lines.extend(f"    {k}: model {m} vs checkpoint {c}" for k, m, c in self.mismatched)
        return "\n".join(lines)


def _group(keys: list[str]) -> list[tuple[str, int]]:
    """Group keys by the module that owns them (all but the last component)."""
    counts: dict[str, int] = {}
    for key in keys:
        prefix = key.rsplit(".", 1)[0] + ".*" if "." in key else key
        counts[prefix] = counts.get(prefix, 0) + 1
    return sorted(counts.items())


def load_model_state(
    model: nn.Module,
    state_dict: dict[str, torch.Tensor],
    load_mapping: dict[str, str] | None = None,
    strict: bool = False,
    missing_ok: bool = True,
) -> LoadReport:
    """Load ``state_dict`` into ``model`` SGB-style and return a LoadReport.

    A ``module.`` prefix (DDP) is stripped when every key has it. Keys of the model missing from
    the file are filled from ``load_mapping`` (model prefix -> file prefix) when possible. Shape
    mismatches are always an error; with ``strict`` missing or unexpected keys are too.
    """
    model = unwrap_model(model)
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
    own = model.state_dict()
    report = LoadReport()
    merged: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key, own_value in own.items():
        source = key if key in state_dict else None
        if source is None and load_mapping:
            for model_prefix, file_prefix in load_mapping.items():
                if key.startswith(model_prefix):
                    candidate = file_prefix + key[len(model_prefix):]
                    if candidate in state_dict:
                        source = candidate
                        report.mapped.append((key, candidate))
                        break
        if source is None:
            report.missing.append(key)
            continue
        value = state_dict[source]
        used.add(source)
        if tuple(value.shape) != tuple(own_value.shape):
            report.mismatched.append((key, tuple(own_value.shape), tuple(value.shape)))
            continue
        merged[key] = value
        report.loaded.append(key)
    report.unexpected = sorted(k for k in state_dict if k not in used)
    if (report.mismatched or (strict and (report.missing or report.unexpected))
            or (not missing_ok and report.missing)):
        raise ValueError("Checkpoint does not fit the model:\n" + report.table())
    model.load_state_dict(merged, strict=False)
    return report


class Checkpointer:
    """Saves and restores model, optimizer, scheduler, grad scaler and extra training state."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        scaler: Any = None,
        save_dir: str = "",
        save_to_disk: bool | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.scaler = scaler
        self.save_dir = save_dir
        self.save_to_disk = is_main_process() if save_to_disk is None else save_to_disk

    def save(self, name: str, **extra: Any) -> str | None:
        """Write ``save_dir/name.pth`` atomically and point ``last_checkpoint`` at it."""
        if not self.save_dir or not self.save_to_disk:
            return None
        os.makedirs(self.save_dir, exist_ok=True)
        data: dict[str, Any] = {"model": unwrap_model(self.model).state_dict()}
        for key, obj in (("optimizer", self.optimizer), ("scheduler", self.scheduler),
                         ("scaler", self.scaler)):
            if obj is not None:
                data[key] = obj.state_dict()
        data.update(extra)
        path = os.path.join(self.save_dir, f"{name}.pth")
        _atomic_torch_save(data, path)
        _atomic_write_text(os.path.join(self.save_dir, "last_checkpoint"), f"{name}.pth")
        logger.info("Saved checkpoint %s", path)
        return path

    def has_checkpoint(self) -> bool:
        """Whether ``save_dir`` holds a ``last_checkpoint`` that points at an existing file."""
        return bool(self.save_dir) and self.get_checkpoint_file() != ""

    def get_checkpoint_file(self) -> str:
        """Resolve ``last_checkpoint`` (relative, or an old absolute path) to a file, or ''."""
        tag = os.path.join(self.save_dir, "last_checkpoint")
        if not os.path.isfile(tag):
            return ""
        with open(tag) as f:
            name = f.read().strip()
        for candidate in (os.path.join(self.save_dir, name),
                          os.path.join(self.save_dir, os.path.basename(name))):
            if name and os.path.isfile(candidate):
                return candidate
        older = self._older_checkpoints(name)
        if older:
            logger.warning("%s names %s, which does not exist; resuming from the newest older "
                           "checkpoint %s", tag, name, older[0])
            return older[0]
        logger.warning("%s names %s, which does not exist; ignoring it", tag, name)
        return ""

    def _older_checkpoints(self, newest: str) -> list[str]:
        """Checkpoint files of ``save_dir`` older than ``newest`` by iteration, newest first.

        Files are SGB's ``model_XXXXXXX.pth`` and ``model_final.pth`` (the last iteration);
        when ``newest`` has another name, every such file counts as older.
        """
        name = os.path.basename(newest)
        limit = _checkpoint_iteration(name)
        limit = math.inf if limit is None else limit
        found = []
        for entry in os.listdir(self.save_dir):
            iteration = _checkpoint_iteration(entry)
            if iteration is None or entry == name:
                continue
            path = os.path.join(self.save_dir, entry)
            if (iteration < limit or limit == math.inf) and os.path.isfile(path):
                found.append((iteration, path))
        return [path for _, path in sorted(found, reverse=True)]

    def _read_latest(self) -> tuple[str, dict[str, Any]]:
        """Read the newest readable checkpoint of ``save_dir``: the one ``last_checkpoint``
        names or, when that file is unreadable, the newest older one (with a warning)."""
        newest = self.get_checkpoint_file()
        failures: list[str] = []
        for path in [newest, *self._older_checkpoints(newest)]:
            try:
                data = load_checkpoint_file(path)
            except (ValueError, OSError) as err:
                logger.warning("Skipping unreadable checkpoint %s (%s); trying the newest older "
                               "checkpoint of %s", path, err, self.save_dir)
                failures.append(os.path.basename(path))
                continue
            if failures:
                logger.warning("Loading %s instead: the newer checkpoint(s) %s are unreadable "
                               "(e.g. truncated when the disk was full)", path,
                               ", ".join(failures))
            return path, data
        raise ValueError(
            f"No readable checkpoint in {self.save_dir}: {', '.join(failures)} could not be "
            "read (see the warnings above). Replace or delete the broken files, or start "
            "afresh with --no-resume or another OUTPUT_DIR.")

    def load(
        self,
        f: str | None = None,
        use_latest: bool = True,
        load_mapping: dict[str, str] | None = None,
        with_optim: bool = True,
        strict: bool = False,
        missing_ok: bool = True,
    ) -> dict[str, Any]:
        """Load the latest checkpoint in ``save_dir`` (if ``use_latest``) or ``f``.

        Returns the entries besides model / optimizer / scheduler / scaler (e.g. iteration,
        RNG state); an empty dict when there is nothing to load.
        """
        if use_latest and self.has_checkpoint():
            load_mapping = None  # resuming our own checkpoint: every key is present
        found = self.read(f, use_latest)
        if found is None:
            logger.info("No checkpoint found; the model keeps its initialisation")
            return {}
        return self.load_read(*found, load_mapping=load_mapping, with_optim=with_optim,
                              strict=strict, missing_ok=missing_ok)

    def read(self, f: str | None = None, use_latest: bool = True
             ) -> tuple[str, dict[str, Any]] | None:
        """(path, contents) of what ``load`` would load, read once; None when there is none."""
        if use_latest and self.has_checkpoint():
            return self._read_latest()
        return (f, load_checkpoint_file(f)) if f else None

    def load_read(self, f: str, data: dict[str, Any], load_mapping: dict[str, str] | None = None,
                  with_optim: bool = True, strict: bool = False, missing_ok: bool = True
                  ) -> dict[str, Any]:
        """``load`` of contents already read from ``f`` (``read``); consumes ``data``."""
        logger.info("Loading checkpoint from %s", f)
        report = load_model_state(self.model, data.pop("model"), load_mapping, strict=strict,
                                  missing_ok=missing_ok)
        logger.info("Checkpoint %s:\n%s", os.path.basename(f), report.table())
        for key, obj in (("optimizer", self.optimizer), ("scheduler", self.scheduler),
                         ("scaler", self.scaler)):
            state = data.pop(key, None)
            if with_optim and obj is not None and state is not None:
                obj.load_state_dict(state)
        return data


_CHECKPOINT_NAME = re.compile(r"^model_(\d+|final)\.pth$")


def _checkpoint_iteration(name: str) -> float | None:
    """Iteration of a checkpoint file name (``model_final.pth``: infinity), None otherwise."""
    match = _CHECKPOINT_NAME.match(name)
    if match is None:
        return None
    return math.inf if match.group(1) == "final" else int(match.group(1))


def _atomic_torch_save(data: Any, path: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _plain(value: Any) -> Any:
    """Keep tensors, numbers, strings and containers of them; drop anything else."""
    if isinstance(value, (torch.Tensor, int, float, str, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _plain(v)) for k, v in value.items()) if v is not _DROP}
    if isinstance(value, (list, tuple)):
        items = [v for v in (_plain(v) for v in value) if v is not _DROP]
        return type(value)(items) if isinstance(value, tuple) else items
    return _DROP


_DROP = object()


def sanitize_checkpoint_file(src: str, dst: str) -> list[str]:
    """Re-save a TRUSTED checkpoint keeping only tensors and plain values; return dropped keys.

    This is the one place that unpickles arbitrary objects (``weights_only=False``): run it only
    on files whose origin you trust.
    """
    data = torch.load(src, map_location="cpu", weights_only=False)
    if not isinstance(data, dict):
        raise ValueError(f"Checkpoint {src} holds a {type(data).__name__}, expected a dict")
    cleaned = _plain(data)
    dropped = sorted(k for k in data if k not in cleaned)
    _atomic_torch_save(cleaned, dst)
    return dropped
