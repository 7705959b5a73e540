"""YACS configuration: ``get_cfg()`` returns a fresh copy of every default key."""

import difflib
import logging
from typing import Any

import yaml
from yacs.config import CfgNode as _YacsCfgNode

from .compat import dropped_reason

logger = logging.getLogger(__name__)

__all__ = ["CfgNode", "get_cfg", "ConfigKeyError", "all_leaf_keys"]


class ConfigKeyError(KeyError):
    """A config key that does not exist, with the closest existing keys in the message."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def all_leaf_keys(node: _YacsCfgNode, prefix: str = "") -> list[str]:
    """Return every leaf key under ``node`` as a dotted path."""
    keys = []
    for name, value in node.items():
        full = f"{prefix}{name}"
        if isinstance(value, _YacsCfgNode):
            keys.extend(all_leaf_keys(value, full + "."))
        else:
            keys.append(full)
    return keys


def _all_keys(node: _YacsCfgNode, prefix: str = "") -> list[str]:
    keys = []
    for name, value in node.items():
        full = f"{prefix}{name}"
        keys.append(full)
        if isinstance(value, _YacsCfgNode):
            keys.extend(_all_keys(value, full + "."))
    return keys


def _unknown_key_error(full_key: str, known: list[str], source: str) -> ConfigKeyError:
    close = difflib.get_close_matches(full_key, known, n=3, cutoff=0.6)
    if not close:  # a typo in the leaf name: compare leaf names under the same parent
        leaf = full_key.rsplit(".", 1)[-1]
        close = [k for k in known if k.rsplit(".", 1)[-1] in difflib.get_close_matches(
            leaf, [k.rsplit(".", 1)[-1] for k in known], n=3, cutoff=0.7)][:3]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return ConfigKeyError(f"Unknown config key '{full_key}' in {source}.{hint}")


class CfgNode(_YacsCfgNode):
    """A yacs CfgNode whose merges reject unknown keys by name and skip dropped keys (warning)."""

    def merge_from_file(self, cfg_filename: str) -> None:
        """Merge a YAML file (SGB / EBM YAMLs load unchanged) into this config."""
        try:
            with open(cfg_filename) as f:
                loaded = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise FileNotFoundError(f"Config file not found: {cfg_filename}") from None
        except yaml.YAMLError as err:
            raise ValueError(f"Config file {cfg_filename} is not valid YAML: {err}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"Config file {cfg_filename} must hold a mapping of keys")
        base = loaded.pop("_BASE_", None)
        if base is not None:
            import os

            self.merge_from_file(os.path.join(os.path.dirname(cfg_filename), base))
        version = loaded.get("VERSION", _root_defaults().VERSION)
        if version > _root_defaults().VERSION:
            raise ValueError(
                f"Config file {cfg_filename} has VERSION {version}, newer than this framework's "
                f"{_root_defaults().VERSION}; update the framework"
            )
        cleaned = self._clean_dict(loaded, "", cfg_filename)
        self.merge_from_other_cfg(CfgNode(cleaned))

    def merge_from_list(self, cfg_list: list) -> None:
        """Merge ``[KEY, VALUE, KEY, VALUE, ...]`` (command-line overrides) into this config."""
        if len(cfg_list) % 2 != 0:
            raise ValueError(f"Config overrides must come in KEY VALUE pairs, got {cfg_list}")
        known = _all_keys(self)
        kept = []
        for full_key, value in zip(cfg_list[0::2], cfg_list[1::2]):
            reason = dropped_reason(full_key)
            if reason is not None:
                logger.warning("Config key %s has no effect: %s.", full_key, reason)
                continue
            node = self
            parts = full_key.split(".")
            for part in parts:
                if not isinstance(node, _YacsCfgNode) or part not in node:
                    raise _unknown_key_error(full_key, known, "the command line")
                node = node[part]
            kept.extend([full_key, self._coerce(self._decode_cfg_value(value), node)])
        super().merge_from_list(kept)

    def _clean_dict(self, loaded: dict, prefix: str, source: str) -> dict:
        """Drop deprecated keys (with a warning), reject unknown ones, coerce ints to floats."""
        known = _all_keys(_root_defaults())
        cleaned = {}
        for name, value in loaded.items():
            full_key = f"{prefix}{name}"
            reason = dropped_reason(full_key)
            if reason is not None:
                logger.warning("Config key %s in %s has no effect: %s.", full_key, source, reason)
                continue
            default = _lookup(_root_defaults(), full_key)
            if default is _MISSING:
                raise _unknown_key_error(full_key, known, source)
            if isinstance(value, dict):
                if not isinstance(default, _YacsCfgNode):
                    raise ValueError(f"Config key {full_key} in {source} is a value, not a section")
                cleaned[name] = self._clean_dict(value, full_key + ".", source)
            else:
                cleaned[name] = self._coerce(self._decode_cfg_value(value), default)
        return cleaned

    @staticmethod
    def _coerce(value: Any, default: Any) -> Any:
        # YAML and command lines write 1 for 1.0; yacs would reject the int as a type mismatch.
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


_MISSING = object()


def _lookup(node: _YacsCfgNode, full_key: str) -> Any:
    for part in full_key.split("."):
        if not isinstance(node, _YacsCfgNode) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _root_defaults() -> _YacsCfgNode:
    from .defaults import _C

    return _C


def get_cfg() -> CfgNode:
    """Return a fresh, mutable copy of the default configuration."""
    return CfgNode(_root_defaults().clone())
