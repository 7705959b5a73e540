"""Seconds per training iteration, cross-entropy vs energy-based, side by side in one run.

For each predictor (default: every registered one; the causal head as VCTree-TDE, the
settings of predictor_catalog): the quickstart config (synthetic `small`, CPU) trained with CE
and with MODEL.ENERGY_ON True (SAMPLER.ITERS 20 unless overridden), timed through the real
training loop; prints CE s/iter, EBM s/iter and their ratio.

    PYTHONPATH=$PWD python tools/benchmark_training.py --threads 1
    PYTHONPATH=$PWD python tools/benchmark_training.py --predictors MotifPredictor \\
        --iterations 20 MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL False
"""

import argparse
import logging

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.engine.benchmark import time_training_iterations
from maskrcnn_benchmark.modeling.roi_heads.relation_head.predictor_catalog import (
    predictor_opts,
    relation_predictor_names,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config-file", default="configs/quickstart/motifs_predcls.yaml")
    parser.add_argument("--predictors", type=lambda s: s.split(","),
                        default=relation_predictor_names(),
                        help="comma-separated registry names (default: all registered)")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("opts", nargs="*", help="config KEY VALUE overrides")
    args = parser.parse_intermixed_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    rows = []
    for predictor in args.predictors:
        times = {}
        for energy in (False, True):
            cfg = get_cfg()
            cfg.merge_from_file(args.config_file)
            cfg.merge_from_list([*predictor_opts(predictor), "MODEL.ENERGY_ON", str(energy),
                                 "OUTPUT_DIR", "output/benchmark_training", *args.opts])
            times[energy] = time_training_iterations(cfg, args.iterations, args.warmup)
        rows.append((predictor, times[False][0], times[True][0], cfg.SAMPLER.ITERS))
    print(f"config {args.config_file} {' '.join(args.opts)}; {args.threads} thread(s); median "
          f"of {args.iterations} iterations after {args.warmup} warm-up")
    print("| predictor | CE s/iter | EBM s/iter (tau) | EBM / CE |")
    print("|---|---:|---:|---:|")
    for predictor, ce, ebm, tau in rows:
        print(f"| {predictor} | {ce:.3f} | {ebm:.3f} ({tau}) | {ebm / ce:.2f} |")


if __name__ == "__main__":
    main()
