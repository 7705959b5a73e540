"""The paper's Table 4 (sentence-to-graph retrieval) from the runs of scripts/retrieval_table4.sh.

A source is a folder under ``<root>`` whose retrieval tests ``seed<k>/retrieval/test.json`` were
written by ``tools/image_retrieval.py``: ``ground_truth`` (the oracle: trained and tested on
the annotated graphs), ``own/<run>`` (SGB's protocol: the retrieval model trained on the SGDet
run's own graphs of the train and val images, tested on its test graphs) and ``judge/<run>``
(one retrieval model per seed, the oracle's, scores every run's test graphs). The table has a
row per setting and protocol (its SGDet runs of every seed pooled): R@20 and R@100 at every
gallery size, mean ± sample std over run seeds x retrieval seeds (percent); under each EBM row
EBM - CE paired by run seed and retrieval seed; and the gallery's chance level.

Where the sources were also tested on the extended gallery (``seed<k>/retrieval/
test_5000.json``: the test split followed by the test images of a generated extension of the
data set, scripts/retrieval_table4.sh ``EXTEND``), a second table gives its galleries (1,000:
the same images as the first table's; 5,000).
"""

from __future__ import annotations

import glob
import json
import os
import re
import statistics

from . import ExperimentError
from .plans import DECODED, RUN_NAME

__all__ = ["RETRIEVAL_BEGIN", "RETRIEVAL_END", "RETRIEVAL_SEED0_BEGIN", "RETRIEVAL_SEED0_END",
           "RETRIEVAL_KS", "TEST_REPORT", "EXTENDED_REPORT", "collect_retrieval",
           "collect_galleries", "collect_run_seed", "retrieval_table", "retrieval_tables"]

RETRIEVAL_BEGIN = "<!-- retrieval_tables:begin -->"
RETRIEVAL_END = "<!-- retrieval_tables:end -->"
# the same tables for the SGDet runs of one run seed only (every protocol; the oracle kept)
RETRIEVAL_SEED0_BEGIN = "<!-- retrieval_seed0_tables:begin -->"
RETRIEVAL_SEED0_END = "<!-- retrieval_seed0_tables:end -->"
RETRIEVAL_KS = ("20", "100")
TEST_REPORT = "test"  # <source>/seed<k>/retrieval/test.json: the test split
EXTENDED_REPORT = "test_5000"  # the test split + the extension's test images
_SEED = re.compile(r"^seed(\d+)$")

# source -> retrieval seed -> the test report of tools/image_retrieval.py
Reports = dict[str, dict[int, dict]]


def collect_retrieval(root: str, report: str = TEST_REPORT) -> Reports:
    """The test reports ``seed<k>/retrieval/<report>.json`` of every source and retrieval seed
    under ``root``."""
    if not os.path.isdir(root):
        raise ExperimentError(f"no folder {root}: run scripts/retrieval_table4.sh first (or "
                              "pass the S2G root it wrote)")
    reports: Reports = {}
    pattern = os.path.join(root, "**", "seed*", "retrieval", f"{report}.json")
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

# (protocol, setting) -> (run seed, retrieval seed) -> report; the oracle is ("", "ground_truth")
Groups = dict[tuple[str, str], dict[tuple[int, int], dict]]


def _groups(reports: Reports) -> Groups:
    """The reports of the runs of one setting (all its run seeds) under one protocol."""
    groups: Groups = {}
    for source, by_seed in reports.items():
        protocol, _, run = source.rpartition("/")
        match = RUN_NAME.match(run)
        setting, run_seed = (match["setting"], int(match["seed"])) if match else (run, 0)
        group = groups.setdefault((protocol, setting), {})
        for seed, report in by_seed.items():
            group[(run_seed, seed)] = report
    return groups


# variant suffix of a CE setting -> its name in the table (the plan paper's test-only runs)
VARIANTS = {DECODED: "energy-guided decoding"}


def _method(parts: list[str]) -> str:
    """``ce``, ``ebm`` or ``ce_<variant>`` as the table names it."""
    method, variant = parts[0].upper(), "_".join(parts[1:])
    return f"{method} + {VARIANTS[variant]}" if variant in VARIANTS else " ".join(
        [method] + parts[1:])


def _label(protocol: str, setting: str) -> str:
    if not protocol and setting == "ground_truth":
        return "annotated graphs (oracle)"
    parts = setting.split("_")
    name = (f"{parts[0]} SGDet {_method(parts[2:])}"
            if len(parts) >= 3 and parts[1] == "sgdet" else setting)
    return f"{name}, {PROTOCOLS[protocol]}" if protocol in PROTOCOLS else f"{protocol}/{setting}"


def _baseline(setting: str) -> str | None:
    """The CE setting a row is paired with: EBM's, or a test-time variant's of the CE model."""
    if setting.endswith("_ebm"):
        return setting[:-len("_ebm")] + "_ce"
    for variant in VARIANTS:
        if setting.endswith(f"_ce_{variant}"):
            return setting[:-len(f"_{variant}")]
    return None


def _difference_label(label: str) -> str:
    """``... EBM - CE (paired), ...`` or ``... CE + <variant> - CE (paired), ...``."""
    name, _, protocol = label.partition(", ")
    return f"{name} - CE (paired)" + (f", {protocol}" if protocol else "")


def _seed_count(keys: list[tuple[int, int]]) -> str:
    """``<run seeds> x <retrieval seeds>`` of (run seed, retrieval seed) keys."""
    runs, seeds = {run for run, _ in keys}, {seed for _, seed in keys}
    return f"{len(runs)} x {len(seeds)}"


def _recalls(group: dict[tuple[int, int], dict], keys: list[tuple[int, int]], index: int,
             k: str, source: str) -> list[float]:
    values = []
    for key in keys:
        galleries = group[key]["galleries"]
        if index >= len(galleries):
            raise ExperimentError(f"{source}: the seeds' reports have different galleries; test "
                                  "them again with one config")
        values.append(100 * galleries[index]["recall"][k])
    return values


def _mean_std(values: list[float], signed: bool = False) -> str:
    mean = f"{statistics.fmean(values):+.2f}" if signed else f"{statistics.fmean(values):.2f}"
    return mean + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")


def retrieval_table(reports: Reports) -> str:
    """Table 4 as Markdown: a row per setting and protocol, R@K per gallery as mean ± std over
    its run seeds x retrieval seeds, and under each EBM row EBM - CE paired by both seeds."""
    if not reports:
        return "No retrieval runs yet: bash scripts/retrieval_table4.sh"
    first = next(iter(next(iter(reports.values())).values()))
    sizes = [(g["requested_size"], g["gallery_size"]) for g in first["galleries"]]
    header = ["graphs", "seeds (runs x retrieval)"] + [
        f"R@{k} ({used:,}{'' if used == asked else f' of {asked:,} asked'})"
        for asked, used in sizes for k in RETRIEVAL_KS]
    lines = ["| " + " | ".join(header) + " |", "|---|---:|" + "---:|" * (len(header) - 2)]
    groups = _groups(reports)
    oracle = ("", "ground_truth")
    for protocol, setting in sorted(groups, key=lambda g: (g != oracle, g)):
        group = groups[(protocol, setting)]
        keys = sorted(group)
        count = str(len(keys)) if (protocol, setting) == oracle else _seed_count(keys)
        cells = [_label(protocol, setting), count] + [
            _mean_std(_recalls(group, keys, index, k, setting))
            for index, _ in enumerate(sizes) for k in RETRIEVAL_KS]
        lines.append("| " + " | ".join(cells) + " |")
        baseline = _baseline(setting)
        base = (protocol, baseline) if baseline else None
        paired = sorted(set(group) & set(groups[base])) if base in groups else []
        if paired:
            cells = [_difference_label(_label(protocol, setting)),
                     _seed_count(paired)]
            for index, _ in enumerate(sizes):
                for k in RETRIEVAL_KS:
                    ours = _recalls(group, paired, index, k, setting)
                    theirs = _recalls(groups[base], paired, index, k, base[1])
                    cells.append(_mean_std([a - b for a, b in zip(ours, theirs)], signed=True))
            lines.append("| " + " | ".join(cells) + " |")
    chance = "; ".join(
        f"gallery {g['gallery_size']:,}: R@{k} {100 * g['chance_recall'][k]:.2f}"
        for g in first["galleries"] for k in RETRIEVAL_KS)
    return "\n".join(lines) + f"\n\nChance: {chance}."


def collect_galleries(root: str) -> dict[str, Reports]:
    """The reports on the test split (``TEST_REPORT``) and, where any exist, on the extended
    gallery (``EXTENDED_REPORT``)."""
    galleries = {TEST_REPORT: collect_retrieval(root)}
    extended = collect_retrieval(root, EXTENDED_REPORT)
    if extended:
        galleries[EXTENDED_REPORT] = extended
    return galleries


def collect_run_seed(root: str, seed: int = 0) -> dict[str, Reports]:
    """``collect_galleries`` restricted to the SGDet runs of run seed ``seed`` (sources that
    are not runs, the oracle, are kept)."""
    def kept(source: str) -> bool:
        match = RUN_NAME.match(source.rpartition("/")[2])
        return not match or int(match["seed"]) == seed

    return {report: {source: by_seed for source, by_seed in reports.items() if kept(source)}
            for report, reports in collect_galleries(root).items()}


def retrieval_tables(galleries: dict[str, Reports]) -> str:
    """Table 4 on the test split, then (where tested) on the extended gallery."""
    text = retrieval_table(galleries[TEST_REPORT])
    extended = galleries.get(EXTENDED_REPORT)
    if extended:
        text += ("\n\nThe extended gallery (the test split followed by the test images of the "
                 "generated extension; its first 1,000 images are the 1,000 above):\n\n"
                 + retrieval_table(extended))
    return text
