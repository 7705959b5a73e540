"""A named registry: pluggable components register under a name that a config value selects."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Registry"]


class Registry:
    """Maps names to classes or functions; an unknown name is an error listing the known ones."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, Any] = {}

    def register(self, name: str | None = None, obj: Any = None) -> Callable[[Any], Any] | Any:
        """Register ``obj`` under ``name`` (default: its ``__name__``); usable as a decorator."""

        def _do(item: Any) -> Any:
            key = name or item.__name__
            if key in self._entries:
                raise KeyError(f"'{key}' is already registered in registry {self.name}")
            self._entries[key] = item
            return item

        return _do(obj) if obj is not None else _do

    def get(self, name: str) -> Any:
        """Return the entry for ``name`` or raise a KeyError naming the closest known names."""
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(
                f"'{name}' is not in registry {self.name}; known: {sorted(self._entries)}.{hint}"
            ) from None

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def keys(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.name}: {sorted(self._entries)})"
