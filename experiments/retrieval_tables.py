"""The paper's Table 4 (sentence-to-graph retrieval) from the runs of scripts/retrieval_table4.sh.

A source is a folder under ``<root>`` whose retrieval tests ``seed<k>/retrieval/test.json`` were
written by ``tools/image_retrieval.py``: ``ground_truth`` (the oracle: trained and tested on
the annotated graphs), ``own/<run>`` (SGB's protocol: the retrieval model trained on the SGDet
run's own graphs of the train and val images, tested on its test graphs) and ``judge/<run>``
(one retrieval model per seed, the oracle's, scores every run's test graphs). The table has a
row per source: R@20 and R@100 at every gallery size, mean ± sample std over the retrieval
seeds (percent), and the gallery's chance level.
"""

from __future__ import annotations

import glob
import json
import os
import re
import statistics

from . import ExperimentError

__all__ = ["RETRIEVAL_BEGIN", "RETRIEVAL_END", "RETRIEVAL_KS", "collect_retrieval",
           "retrieval_table"]

RETRIEVAL_BEGIN = "<!-- retrieval_tables:begin -->"
RETRIEVAL_END = "<!-- retrieval_tables:end -->"
RETRIEVAL_KS = ("20", "100")
_SEED = re.compile(r"^seed(\d+)$")

# source -> retrieval seed -> the test report of tools/image_retrieval.py
Reports = dict[str, dict[int, dict]]


def collect_retrieval(root: str) -> Reports:
    """The test reports of every source and retrieval seed under ``root``."""
    if not os.path.isdir(root):
        raise ExperimentError(f"no folder {root}: run scripts/retrieval_table4.sh first (or "
                              "pass the S2G root it wrote)")
    reports: Reports = {}
    pattern = os.path.join(root, "**", "seed*", "retrieval", "test.json")
    for path in sorted(glob.glob(pattern, recursive=True)):
        seed_dir = os.path.dirname(os.path.dirname(path))
        match = _SEED.match(os.path.basename(seed_dir))
        if not match:
            continue
        source = os.path.relpath(os.path.dirname(seed_dir), root).replace(os.sep, "/")
        try:
            with open(path) as handle:
                report = json.load(handle)
            report["galleries"][0]["recall"]
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise ExperimentError(f"{path}: unreadable retrieval report "
                                  f"({type(error).__name__}: {error}); run the test again "
                                  "(tools/image_retrieval.py test) or remove it") from error
        reports.setdefault(source, {})[int(match[1])] = report
    return reports


PROTOCOLS = {"own": "trained on its own graphs (SGB)",
             "judge": "scored by the oracle's retrieval model"}


def _label(source: str) -> str:
    if source == "ground_truth":
        return "annotated graphs (oracle)"
    protocol, _, run = source.rpartition("/")
    parts = run.split("_")
    name = (f"{parts[0]} SGDet {parts[2].upper()} ({parts[-1]})"
            if len(parts) >= 4 and parts[1] == "sgdet" else run)
    return f"{name}, {PROTOCOLS[protocol]}" if protocol in PROTOCOLS else source


def _order(source: str) -> tuple:
    return (source != "ground_truth", source.rpartition("/")[0], source)


def retrieval_table(reports: Reports) -> str:
    """Table 4 as Markdown: a row per source, R@K per gallery (mean ± std over seeds)."""
    if not reports:
        return "No retrieval runs yet: bash scripts/retrieval_table4.sh"
    first = next(iter(next(iter(reports.values())).values()))
    sizes = [(g["requested_size"], g["gallery_size"]) for g in first["galleries"]]
    header = ["graphs", "seeds"] + [
        f"R@{k} ({used:,}{'' if used == asked else f' of {asked:,} asked'})"
        for asked, used in sizes for k in RETRIEVAL_KS]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    for source in sorted(reports, key=_order):
        runs = [reports[source][seed] for seed in sorted(reports[source])]
        cells = [_label(source), str(len(runs))]
        for index, _ in enumerate(sizes):
            for k in RETRIEVAL_KS:
                values = [100 * run["galleries"][index]["recall"][k] for run in runs
                          if index < len(run["galleries"])]
                if len(values) != len(runs):
                    raise ExperimentError(f"{source}: the seeds' reports have different "
                                          "galleries; test them again with one config")
                spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
                cells.append(f"{statistics.fmean(values):.2f}{spread}")
        lines.append("| " + " | ".join(cells) + " |")
    chance = "; ".join(
        f"gallery {g['gallery_size']:,}: R@{k} {100 * g['chance_recall'][k]:.2f}"
        for g in first["galleries"] for k in RETRIEVAL_KS)
    return "\n".join(lines) + f"\n\nChance: {chance}."
