"""Diagnose a trained EBM model: energies, shortcut probe and energy ranking test.

    python tools/energy_diagnostics.py --config-file configs/quickstart/motifs_predcls.yaml \\
        MODEL.ENERGY_ON True OUTPUT_DIR output/quickstart/motifs_predcls_ebm --images 100
    python tools/energy_diagnostics.py --config-file F MODEL.WEIGHT model_final.pth \\
        MODEL.ENERGY_ON True --images 200 --out diagnostics.json

Weights come from OUTPUT_DIR/last_checkpoint when it exists, else MODEL.WEIGHT; the checkpoint
must hold the energy model. Prints a short table and writes the JSON report to --out (default
OUTPUT_DIR/energy_diagnostics.json). Nothing else under OUTPUT_DIR is written except the
dataset statistics cache. What the numbers mean: docs/ENERGY.md, "Diagnostics".
"""

import os

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.statistics import get_dataset_statistics
from maskrcnn_benchmark.engine.launch import default_argument_parser, resolve_device
from maskrcnn_benchmark.modeling.detector import build_detection_model
from maskrcnn_benchmark.modeling.energy.diagnostics import (
    format_report,
    run_energy_diagnostics,
    write_report,
)
from maskrcnn_benchmark.utils.checkpoint import Checkpointer
from maskrcnn_benchmark.utils.env import seed_all_rng
from maskrcnn_benchmark.utils.logger import setup_logger


def main() -> None:
    parser = default_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100,
                        help="images of the probe split and of the test split (default 100)")
    parser.add_argument("--probe-split", choices=("train", "val"), default=None,
                        help="split of the shortcut probe (default: val if DATASETS.VAL is set)")
    parser.add_argument("--variants", type=int, default=4,
                        help="changed graphs per image, k and kind (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON report path")
    args = parser.parse_args()
    cfg = get_cfg()
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    setup_logger("maskrcnn_benchmark", None)
    resolve_device(cfg.MODEL.DEVICE)
    seed_all_rng(args.seed)
    if not (cfg.MODEL.RELATION_ON and cfg.MODEL.ENERGY_ON):
        raise SystemExit("The energy diagnostics need MODEL.RELATION_ON True and "
                         "MODEL.ENERGY_ON True (add `MODEL.ENERGY_ON True` to the command)")
    statistics = get_dataset_statistics(cfg)
    model = build_detection_model(cfg, statistics).to(cfg.MODEL.DEVICE)
    checkpointer = Checkpointer(model, save_dir=cfg.OUTPUT_DIR, save_to_disk=False)
    if not checkpointer.has_checkpoint() and not cfg.MODEL.WEIGHT:
        raise SystemExit("No weights: set OUTPUT_DIR to a training folder holding "
                         "last_checkpoint, or MODEL.WEIGHT to an EBM relation checkpoint")
    checkpointer.load(cfg.MODEL.WEIGHT or None, use_latest=not args.no_resume, missing_ok=False)
    report = run_energy_diagnostics(cfg, model, statistics, num_images=args.images,
                                    probe_split=args.probe_split,
                                    variants_per_k=args.variants, seed=args.seed)
    print(format_report(report))
    out = args.out or (os.path.join(cfg.OUTPUT_DIR, "energy_diagnostics.json")
                       if cfg.OUTPUT_DIR else None)
    if out:
        write_report(report, out)
        print(f"report written to {out}")


if __name__ == "__main__":
    main()
