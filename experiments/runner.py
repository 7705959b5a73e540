"""The queue of a plan's runs: priority patterns, run-folder claims, launching the tools.

Finished runs (eval_results.json present) are skipped, so a queue can be started again after an
interruption. Several runners may share one output root: each run is claimed with a lock file
(``<run>/.claim`` holding the runner's pid; a dead runner's claim is taken over), so two runners
started on the same plans split the runs between them. A test-only run waits (is skipped, and
leaves nothing behind) while the weights of its training run do not exist yet.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import ExperimentError
from .plans import Run, done

PRETRAINED_FILE = "energy_model.pth"  # what tools/energy_pretrain_net.py writes to OUTPUT_DIR

__all__ = ["TOOLS", "select", "claim", "execute", "run_all", "dry_run"]

logger = logging.getLogger(__name__)

# The training and test tools of this checkout (the package is installed editable).
TOOLS = Path(__file__).resolve().parents[1] / "tools"


def select(runs: list[Run], patterns: list[str]) -> list[Run]:
    """The runs whose name matches one of the patterns, ordered by the first pattern matched."""
    if not patterns:
        return runs
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise ExperimentError(f"--only pattern {pattern!r} is not a regular expression "
                                  f"({error})") from error
    ranked = []
    for position, (name, opts) in enumerate(runs):
        rank = next((i for i, regex in enumerate(compiled) if regex.search(name)), None)
        if rank is not None:
            ranked.append((rank, position, (name, opts)))
    return [run for _, _, run in sorted(ranked, key=lambda item: item[:2])]


def claim(out: str) -> bool:
    """Take the folder for this worker (process and thread); False when another live runner,
    or another worker thread of this one, holds it."""
    path = os.path.join(out, ".claim")
    me = (os.getpid(), threading.get_ident())
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as handle:
                    holder = [int(part) for part in handle.read().split()] or [0]
                os.kill(holder[0], 0)
                return holder[0] == me[0] and holder[1:] in ([], [me[1]])
            except (ValueError, ProcessLookupError, FileNotFoundError):
                try:
                    os.remove(path)  # the holder died: take the run over
                except FileNotFoundError:
                    pass
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{me[0]} {me[1]}")
        return True
    return False


def execute(run: Run, *, output_root: str, config: str, extra_opts: list[str]) -> tuple[str, int]:
    """Train and test one run (test only when it names MODEL.WEIGHT); its log goes to
    ``<out>/stdout.log``. Returns (name, exit code); 0 also for a skipped or waiting run."""
    name, opts = run
    out = os.path.join(output_root, name)
    if done(out):
        return name, 0
    test_only = "MODEL.WEIGHT" in opts
    if test_only:
        weight = opts[opts.index("MODEL.WEIGHT") + 1]
        if not os.path.isfile(weight):  # its training run has not finished (yet)
            logger.info("waiting (no %s yet; run this command again later): %s", weight, name)
            return name, 0
    blocked = _pretrain_energy_if_needed(name, opts, config)
    if blocked is not None:
        return name, blocked
    os.makedirs(out, exist_ok=True)
    if not claim(out):
        logger.info("skipped (another runner holds it): %s", name)
        return name, 0
    tool = TOOLS / ("relation_test_net.py" if test_only else "relation_train_net.py")
    command = [sys.executable, str(tool), "--config-file", config, *opts, "OUTPUT_DIR", out,
               *extra_opts]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        with open(os.path.join(out, "stdout.log"), "a") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                  env=env).returncode
    finally:
        _release(out)
    logger.info("%s: %s", "finished" if code == 0 else f"FAILED ({code})", name)
    return name, code


def _pretrain_energy_if_needed(name: str, opts: list[str], config: str) -> int | None:
    """None when the run (training or test-only) needs no pretrained energy model or its
    ENERGY_MODEL.WEIGHT exists; otherwise pretrain it first (tools/energy_pretrain_net.py with
    the run's overrides but not its weight keys, into the file's folder; the log goes to
    ``pretrain.log`` there) and return None once it is written, 0 while another runner
    pretrains it (the run waits for a later call), or the pretraining's non-zero exit code."""
    if "ENERGY_MODEL.WEIGHT" not in opts:
        return None
    weight = opts[opts.index("ENERGY_MODEL.WEIGHT") + 1]
    folder = os.path.dirname(weight) or "."
    if os.path.isfile(weight):
        # a pretraining still running writes the file after every epoch: wait for its end
        if not os.path.exists(os.path.join(folder, ".claim")) or claim(folder):
            _release(folder)
            return None
        logger.info("waiting (another runner still pretrains %s; run this command again "
                    "later): %s", weight, name)
        return 0
    if os.path.basename(weight) != PRETRAINED_FILE:
        raise ExperimentError(f"{name}: ENERGY_MODEL.WEIGHT {weight} does not exist and is not "
                              f"the {PRETRAINED_FILE} that tools/energy_pretrain_net.py writes")
    os.makedirs(folder, exist_ok=True)
    if not claim(folder):
        logger.info("waiting (another runner pretrains %s; run this command again later): %s",
                    weight, name)
        return 0
    keep = [item for pair in zip(opts[::2], opts[1::2])
            if pair[0] not in ("ENERGY_MODEL.WEIGHT", "MODEL.WEIGHT") for item in pair]
    command = [sys.executable, str(TOOLS / "energy_pretrain_net.py"), "--config-file", config,
               *keep, "OUTPUT_DIR", folder]
    logger.info("pretraining the energy model %s (needed by %s)", weight, name)
    try:
        with open(os.path.join(folder, "pretrain.log"), "a") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode
    finally:
        _release(folder)
    if code != 0 or not os.path.isfile(weight):
        logger.info("FAILED (%s) pretraining %s: see %s; %s not started", code, weight,
                    os.path.join(folder, "pretrain.log"), name)
        return code or 1
    return None


def _release(folder: str) -> None:
    """Drop this worker's claim on ``folder`` (nothing if there is none)."""
    try:
        os.remove(os.path.join(folder, ".claim"))
    except FileNotFoundError:
        pass


def run_all(runs: list[Run], *, workers: int, output_root: str, config: str,
            extra_opts: list[str]) -> list[str]:
    """Execute the runs ``workers`` at a time, one CPU thread each; the names of failed runs."""
    if not os.path.isfile(config):
        raise ExperimentError(f"config file {config} not found (relative paths start at "
                              f"{os.getcwd()}): run from the repository root or pass --config")
    for tool in ("relation_train_net.py", "relation_test_net.py"):
        if not (TOOLS / tool).is_file():
            raise ExperimentError(f"{TOOLS / tool} not found: the experiments package must be "
                                  "installed from a checkout (pip install -e .)")
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda run: execute(run, output_root=output_root, config=config,
                                                    extra_opts=extra_opts), runs))
    return [name for name, code in results if code]


def dry_run(runs: list[Run], output_root: str) -> list[str]:
    """One line per run: done/todo, its name and its overrides."""
    return [f"{'done' if done(os.path.join(output_root, name)) else 'todo'}  {name}  "
            f"{' '.join(opts)}" for name, opts in runs]
