"""The docs/RESULTS.md experiments: plans of training runs, the runner, the result tables.

- ``plans``: run names, settings and the config overrides of the plans main/ablation/extras;
- ``runner``: the queue of a plan's runs (claims, priority patterns, test-only runs);
- ``results``: the metric rows of every finished run of an output root;
- ``tables``, ``structure_tables``, ``paper_tables``, ``retrieval_tables``: the Markdown tables
  of RESULTS.md; ``sections`` names them, their runs and their marked blocks.

The command-line entry points are tools/run_experiments.py and tools/results_tables.py.
"""


class ExperimentError(ValueError):
    """Bad input of an experiment command (unknown plan, unreadable run, bad file); the message
    names the thing and what to do."""


__all__ = ["ExperimentError"]
