"""Run the docs/RESULTS.md experiments: CE vs EBM per predictor and task over seeds, ablations.

Each run is tools/relation_train_net.py with configs/synthetic_default/base.yaml and overrides,
in OUTPUT_ROOT/<name>; finished runs (eval_results.json present) are skipped, so the command can
be re-run after an interruption. Runs go --workers at a time, one CPU thread each.

    python tools/run_experiments.py --plan main --workers 2
    python tools/run_experiments.py --plan ablation --workers 2
    python tools/run_experiments.py --plan extras --workers 2   # gradient modes, refinement
    python tools/run_experiments.py --plan main --dry-run      # list the runs
    python tools/run_experiments.py --plan main,ablation --only 'motifs_predcls' 'tau'

--plan takes a comma-separated list; --only keeps the runs whose name matches one of the given
regular expressions and orders them by the first pattern they match (a priority queue). Several
runners may share one output root: each run is claimed with a lock file (<out>/.claim, holding
the runner's pid; a claim of a dead process is taken over), so two runners started on the same
plan split its runs between them.

Test-only runs (test-time refinement) evaluate a finished run's model_final.pth into their
own folder with tools/relation_test_net.py.
"""

import argparse
import glob
import importlib.util
import itertools
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

PREDICTORS = {"motifs": "MotifPredictor", "vctree": "VCTreePredictor", "imp": "IMPPredictor",
              "transformer": "TransformerPredictor"}
TASKS = {"predcls": ("True", "True"), "sgcls": ("True", "False")}
SEEDS = (0, 1, 2)


def run_opts(predictor: str, task: str, energy: bool, seed: int) -> list[str]:
    """Overrides of one run."""
    box, label = TASKS[task]
    return ["MODEL.ROI_RELATION_HEAD.PREDICTOR", PREDICTORS[predictor],
            "MODEL.ROI_RELATION_HEAD.USE_GT_BOX", box,
            "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", label,
            "MODEL.ENERGY_ON", str(energy), "SEED", str(seed)]


def plan(name: str, output_root: str) -> list[tuple[str, list[str]]]:
    """(run name, overrides) of a plan, in execution order; test-only runs name their weights
    with MODEL.WEIGHT."""
    runs = []
    if name == "main":
        for seed, predictor, task in itertools.product(SEEDS, PREDICTORS, TASKS):
            for energy in (False, True):
                method = "ebm" if energy else "ce"
                runs.append((f"{predictor}_{task}_{method}_seed{seed}",
                             run_opts(predictor, task, energy, seed)))
    elif name == "ablation":  # the paper's Table 5: VCTree PredCls, tau and no image graph
        for seed in SEEDS:
            base = run_opts("vctree", "predcls", True, seed)
            for steps in (0, 5):
                runs.append((f"vctree_predcls_ebm_tau{steps}_seed{seed}",
                             base + ["SAMPLER.ITERS", str(steps)]))
            runs.append((f"vctree_predcls_ebm_noimage_seed{seed}",
                         base + ["ENERGY_MODEL.USE_IMAGE_GRAPH", "False"]))
    elif name == "extras":  # how the energy gradient reaches the relation head; refinement
        for seed in SEEDS:
            base = run_opts("motifs", "predcls", True, seed)
            for mode in ("detach", "unroll", "descend"):
                runs.append((f"motifs_predcls_ebm_{mode}_seed{seed}",
                             base + ["SAMPLER.GRAD_MODE", mode]))
            for weight in ("0.1", "10.0"):  # lambda_e of Eq. 5
                runs.append((f"motifs_predcls_ebm_lw{weight}_seed{seed}",
                             base + ["ENERGY_MODEL.LOSS_WEIGHT", weight]))
            # the positive graph on the predicted pairs: E+ and E- differ in the states only
            runs.append((f"motifs_predcls_ebm_matched_seed{seed}",
                         base + ["ENERGY_MODEL.POSITIVE_GRAPH", "matched"]))
            runs.append((f"motifs_predcls_ebm_matched_descend_seed{seed}",
                         base + ["ENERGY_MODEL.POSITIVE_GRAPH", "matched",
                                 "SAMPLER.GRAD_MODE", "descend"]))
            # noisier ground-truth states: a harder positive for the energy model
            runs.append((f"motifs_predcls_ebm_gtnoise0.1_seed{seed}",
                         base + ["ENERGY_MODEL.DATA_NOISE_VAR", "0.1"]))
        seed = 0  # refinement of the seed-0 EBM models (test only)
        for predictor, task in itertools.product(PREDICTORS, TASKS):
            source = os.path.join(output_root, f"{predictor}_{task}_ebm_seed{seed}",
                                  "model_final.pth")
            runs.append((f"{predictor}_{task}_ebm_refined_seed{seed}",
                         run_opts(predictor, task, True, seed)
                         + ["TEST.ENERGY_REFINE", "True", "MODEL.WEIGHT", source]))
    else:
        raise SystemExit(f"unknown plan {name!r}: main, ablation or extras")
    return runs


def done(out: str) -> bool:
    """Whether a run folder holds its test results."""
    return bool(glob.glob(os.path.join(out, "inference", "*", "eval_results.json")))


def select(runs: list[tuple[str, list[str]]], patterns: list[str]) -> list[tuple[str, list[str]]]:
    """The runs whose name matches one of the patterns, ordered by the first pattern matched."""
    if not patterns:
        return runs
    compiled = [re.compile(pattern) for pattern in patterns]
    ranked = []
    for position, (name, opts) in enumerate(runs):
        rank = next((i for i, regex in enumerate(compiled) if regex.search(name)), None)
        if rank is not None:
            ranked.append((rank, position, (name, opts)))
    return [run for _, _, run in sorted(ranked, key=lambda item: item[:2])]


def claim(out: str) -> bool:
    """Take the run folder for this process; False when a live runner holds it."""
    path = os.path.join(out, ".claim")
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as handle:
                    pid = int(handle.read().strip() or 0)
                os.kill(pid, 0)
                return pid == os.getpid()
            except (ValueError, ProcessLookupError, FileNotFoundError):
                try:
                    os.remove(path)  # the holder died: take the run over
                except FileNotFoundError:
                    pass
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        return True
    return False


def execute(run: tuple[str, list[str]], args: argparse.Namespace) -> tuple[str, int]:
    """Train and test one run; its log goes to <out>/stdout.log."""
    name, opts = run
    out = os.path.join(args.output_root, name)
    if done(out):
        return name, 0
    if "MODEL.WEIGHT" in opts:
        weight = opts[opts.index("MODEL.WEIGHT") + 1]
        if not os.path.isfile(weight):  # its training run has not finished (yet)
            print(f"waiting (no {weight} yet; run this command again later): {name}", flush=True)
            return name, 0
    os.makedirs(out, exist_ok=True)
    if not claim(out):
        print(f"skipped (another runner holds it): {name}", flush=True)
        return name, 0
    tool = "relation_test_net.py" if "MODEL.WEIGHT" in opts else "relation_train_net.py"
    command = [sys.executable, f"tools/{tool}", "--config-file", args.config,
               *opts, "OUTPUT_DIR", out, *args.opts]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(os.path.join(out, "stdout.log"), "a") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    os.remove(os.path.join(out, ".claim"))
    print(f"{'finished' if code == 0 else f'FAILED ({code})'}: {name}", flush=True)
    return name, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="main")
    parser.add_argument("--config", default="configs/synthetic_default/base.yaml")
    parser.add_argument("--output-root", default="output/results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=[], metavar="REGEX",
                        help="keep runs matching one of these, in this priority order")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("opts", nargs="*", help="extra KEY VALUE overrides for every run")
    args = parser.parse_intermixed_args()
    runs = select([run for name in args.plan.split(",") for run in plan(name, args.output_root)],
                  args.only)
    if args.dry_run:
        for name, opts in runs:
            state = "done" if done(os.path.join(args.output_root, name)) else "todo"
            print(f"{state}  {name}  {' '.join(opts)}")
        return
    if importlib.util.find_spec("maskrcnn_benchmark") is None:
        raise SystemExit("maskrcnn_benchmark is not importable from tools/: install the project "
                         "first (pip install -e .), then run this command again")
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda run: execute(run, args), runs))
    failed = [name for name, code in results if code]
    if failed:
        raise SystemExit(f"failed runs: {failed}")


if __name__ == "__main__":
    main()
