"""The marked blocks of docs/RESULTS.md that tools/results_tables.py writes, one per section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import ExperimentError
from .paper_tables import PAPER_BEGIN, PAPER_END, paper_tables
from .plans import SEEDS
from .results import Settings, collect
from .retrieval_tables import (
    RETRIEVAL_BEGIN,
    RETRIEVAL_END,
    RETRIEVAL_SEED0_BEGIN,
    RETRIEVAL_SEED0_END,
    collect_galleries,
    collect_run_seed,
    retrieval_tables,
)
from .structure_tables import STRUCTURE_BEGIN, STRUCTURE_END, structure_tables
from .tables import BEGIN, END, tables

__all__ = ["Section", "SECTIONS", "section_text", "collect_main_seeds"]


@dataclass(frozen=True)
class Section:
    """How to read a section's runs, build its Markdown and where it goes."""

    collect: Callable[[str], Any]
    build: Callable[[Any], str]
    begin: str
    end: str
    default_root: str = "output/results"


def collect_main_seeds(root: str) -> Settings:
    """The runs of the main plan's seeds only: the structure plan trains CE on more seeds
    (EXTRA_SEEDS), which the main grid's and the paper's CE-against-EBM tables must not mix in."""
    return {name: {seed: row for seed, row in runs.items() if seed in SEEDS}
            for name, runs in collect(root).items()}


SECTIONS = {
    "main": Section(collect_main_seeds, tables, BEGIN, END),
    "structure": Section(collect, structure_tables, STRUCTURE_BEGIN, STRUCTURE_END),
    "paper": Section(collect_main_seeds, paper_tables, PAPER_BEGIN, PAPER_END),
    "retrieval": Section(collect_galleries, retrieval_tables, RETRIEVAL_BEGIN, RETRIEVAL_END,
                         "output/s2g"),
    "retrieval-seed0": Section(collect_run_seed, retrieval_tables, RETRIEVAL_SEED0_BEGIN,
                               RETRIEVAL_SEED0_END, "output/s2g"),
}


def section_text(name: str, root: str | None = None) -> str:
    """The Markdown of one section from the runs under ``root`` (its default root if None)."""
    if name not in SECTIONS:
        raise ExperimentError(f"unknown section {name!r}: {', '.join(SECTIONS)}")
    section = SECTIONS[name]
    return section.build(section.collect(root or section.default_root))
