"""GloVe initialisation of class-name embeddings, read from GLOVE_DIR; nothing is downloaded.

``GLOVE_DIR/glove.6B.<dim>d.txt`` is parsed once and cached next to it as ``glove.6B.<dim>d.pt``
in SGB's cache format ``(word -> row dict, [V, dim] tensor, dim)``, so caches written by SGB
and by this module are interchangeable. A class name missing from the vocabulary uses its
longest word (words split at spaces and underscores; SGB splits at spaces only). Names that
still have no vector, and every name when no GloVe file exists, get an N(0, 1) vector from a
generator seeded by the name itself: the same name always gets the same vector, whatever the
class list, construction order or global RNG state. A missing file is reported by one warning.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["class_name_vectors", "load_glove", "glove_paths"]

logger = logging.getLogger(__name__)

# Parsed vocabularies per .txt/.pt path, so several embeddings of one model parse the file once.
_VOCAB_CACHE: dict[str, tuple[dict[str, int], Tensor]] = {}
# (GLOVE_DIR, dim) pairs already warned about.
_WARNED_MISSING: set[tuple[str, int]] = set()


def glove_paths(glove_dir: str, dim: int) -> tuple[str, str]:
    """Return the expected (.txt, cached .pt) paths of the GloVe 6B vectors of ``dim``."""
    stem = os.path.join(glove_dir or ".", f"glove.6B.{dim}d")
    return stem + ".txt", stem + ".pt"


def _read_cache(pt_path: str, dim: int) -> tuple[dict[str, int], Tensor]:
    try:
        word_to_row, vectors, size = torch.load(pt_path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable or foreign file is the same problem to the user
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(
            f"Cannot read the GloVe cache {pt_path} ({reason}); delete it so that it is rebuilt "
            f"from {os.path.splitext(pt_path)[0]}.txt"
        ) from None
    if int(size) != dim or vectors.dim() != 2 or vectors.shape[1] != dim:
        raise RuntimeError(
            f"GloVe cache {pt_path} holds {tuple(vectors.shape)} vectors, expected width {dim} "
            f"(MODEL.ROI_RELATION_HEAD.EMBED_DIM); delete it or fix EMBED_DIM"
        )
    return dict(word_to_row), vectors.float()


def _parse_text(txt_path: str, dim: int) -> tuple[dict[str, int], Tensor]:
    words: list[str] = []
    rows: list[np.ndarray] = []
    with open(txt_path, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.rstrip().split(b" ")
            if len(parts) <= 1:
                continue
            if len(parts) - 1 != dim:
                raise ValueError(
                    f"{txt_path}:{line_no} has {len(parts) - 1} values, expected {dim} "
                    f"(MODEL.ROI_RELATION_HEAD.EMBED_DIM); is this the right GloVe file?"
                )
            try:
                word = parts[0].decode("utf-8")
            except UnicodeDecodeError:
                continue  # SGB skips non-UTF-8 tokens as well
            try:
                rows.append(np.asarray(parts[1:], dtype=np.float32))
            except ValueError:
                raise ValueError(f"{txt_path}:{line_no} holds a non-numeric value") from None
            words.append(word)
    vectors = torch.from_numpy(np.stack(rows)) if rows else torch.zeros(0, dim)
    return {word: row for row, word in enumerate(words)}, vectors


def _write_cache(pt_path: str, word_to_row: dict[str, int], vectors: Tensor, dim: int) -> None:
    tmp_path = f"{pt_path}.tmp{os.getpid()}"
    try:
        torch.save((word_to_row, vectors, dim), tmp_path)
        os.replace(tmp_path, pt_path)  # atomic: a reader never sees a half-written cache
    except OSError as err:
        logger.info("Could not cache GloVe vectors at %s (%s); the .txt is parsed each run",
                    pt_path, err)
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def load_glove(glove_dir: str, dim: int) -> tuple[dict[str, int], Tensor] | None:
    """Return (word -> row, [V, dim] vectors) from GLOVE_DIR, or None when no file exists."""
    txt_path, pt_path = glove_paths(glove_dir, dim)
    for key in (pt_path, txt_path):
        if key in _VOCAB_CACHE:
            return _VOCAB_CACHE[key]
    if os.path.isfile(pt_path):
        vocab = _read_cache(pt_path, dim)
        _VOCAB_CACHE[pt_path] = vocab
        return vocab
    if os.path.isfile(txt_path):
        logger.info("Parsing GloVe vectors from %s (cached as %s afterwards)", txt_path, pt_path)
        vocab = _parse_text(txt_path, dim)
        _write_cache(pt_path, vocab[0], vocab[1], dim)
        _VOCAB_CACHE[txt_path] = vocab
        return vocab
    key = (os.path.abspath(glove_dir or "."), dim)
    if key not in _WARNED_MISSING:
        _WARNED_MISSING.add(key)
        logger.warning(
            "GloVe vectors not found: GLOVE_DIR=%r holds neither %s nor %s. Class embeddings "
            "start from a seeded random N(0, 1) initialisation instead of SGB's GloVe one; put "
            "glove.6B.%dd.txt in GLOVE_DIR to use GloVe (nothing is downloaded).",
            glove_dir, os.path.basename(txt_path), os.path.basename(pt_path), dim,
        )
    return None


def _seeded_vector(name: str, dim: int) -> Tensor:
    generator = torch.Generator().manual_seed(zlib.crc32(name.encode("utf-8")))
    return torch.randn(dim, generator=generator)


def _longest_word(name: str) -> str:
    words = [w for w in name.replace("_", " ").split(" ") if w]
    return max(words, key=len) if words else name


def class_name_vectors(names: Sequence[str], glove_dir: str, dim: int) -> Tensor:
    """Return [len(names), dim] initial embeddings of class names (GloVe where available)."""
    vocab = load_glove(glove_dir, dim)
    if not names:
        return torch.zeros(0, dim)
    vectors = torch.stack([_seeded_vector(name, dim) for name in names])
    if vocab is None:
        return vectors
    word_to_row, table = vocab
    fallbacks, missing = [], []
    for i, name in enumerate(names):
        row = word_to_row.get(name)
        if row is None:
            word = _longest_word(name)
            row = word_to_row.get(word)
            if row is None:
                missing.append(name)
                continue
            fallbacks.append(f"{name}->{word}")
        vectors[i] = table[row]
    if fallbacks:
        logger.info("GloVe: class names embedded by their longest word: %s", ", ".join(fallbacks))
    if missing:
        logger.info("GloVe: no vector for %s; they keep a seeded random vector", missing)
    return vectors
