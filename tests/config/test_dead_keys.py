"""Every key in defaults.py must be read somewhere in the package (no silent dead keys)."""

import re
from pathlib import Path

from maskrcnn_benchmark.config import all_leaf_keys, get_cfg

PACKAGE = Path(__file__).resolve().parents[2] / "maskrcnn_benchmark"
EXCLUDED = {PACKAGE / "config" / "defaults.py", PACKAGE / "config" / "compat.py"}


def _sources() -> list[str]:
    return [p.read_text() for p in sorted(PACKAGE.rglob("*.py")) if p not in EXCLUDED]


def _is_read(full_key: str, sources: list[str]) -> bool:
    parts = full_key.split(".")
    leaf = parts[-1]
    if len(parts) == 1:
        return any(re.search(rf"\.{leaf}\b", src) for src in sources)
    parent = parts[-2]
    dotted = re.compile(rf"\b{parent}\.{leaf}\b")
    # Also accept `node = cfg...PARENT` followed by `node.LEAF` in the same file.
    leaf_attr = re.compile(rf"\.{leaf}\b")
    parent_ref = re.compile(rf"\.{parent}\b")
    return any(dotted.search(src) or (leaf_attr.search(src) and parent_ref.search(src))
               for src in sources)


def test_every_default_key_is_read_by_the_package():
    sources = _sources()
    dead = [key for key in all_leaf_keys(get_cfg()) if not _is_read(key, sources)]
    assert not dead, f"config keys read nowhere in maskrcnn_benchmark/: {dead}"


def test_dead_key_check_detects_an_unread_key():
    sources = ["x = cfg.SOLVER.BASE_LR\n", "node = cfg.MODEL.RPN\nnode.NMS_THRESH\n"]
    assert _is_read("SOLVER.BASE_LR", sources)
    assert _is_read("MODEL.RPN.NMS_THRESH", sources)
    assert not _is_read("SOLVER.MAX_ITER", sources)
    assert not _is_read("MODEL.RPN.MIN_SIZE", sources)
