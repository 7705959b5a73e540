"""Diagnostics of a trained energy model (docs/ENERGY.md, "Diagnostics").

- ``shortcut_probe``: can structure-free graph statistics (``graph_statistics``) tell the GT
  graph from the sampled one? (logistic regression, held-out accuracy);
- ``ranking_test``: does the energy rank a GT graph below copies with k predicates changed
  (``random_changes``, ``rule_breaking_changes``), or with relations a rule requires removed
  and relations added (``link_changes``)? They take plain tensors and callables, so they run
  on hand-built energies too;
- ``run_energy_diagnostics``: both, plus the energies and gradient factor, on a model's data.
"""

from .graph_stats import GRAPH_FEATURES, graph_statistics, select_graph
from .probe import ProbeResult, shortcut_probe
from .ranking import (
    GraphEnergy,
    KindRanking,
    PredicateGraph,
    Variant,
    contrast_test,
    random_changes,
    ranking_test,
    spearman,
)
from .report import format_report, run_energy_diagnostics, write_report
from .rule_changes import LINK_KINDS, SceneRules, link_changes, rule_breaking_changes

__all__ = [
    "GRAPH_FEATURES",
    "LINK_KINDS",
    "GraphEnergy",
    "KindRanking",
    "PredicateGraph",
    "ProbeResult",
    "SceneRules",
    "Variant",
    "contrast_test",
    "format_report",
    "graph_statistics",
    "link_changes",
    "random_changes",
    "ranking_test",
    "rule_breaking_changes",
    "run_energy_diagnostics",
    "select_graph",
    "shortcut_probe",
    "spearman",
    "write_report",
]
