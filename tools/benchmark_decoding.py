"""Wall time of energy-guided decoding with and without the filler step, side by side.

Variants (TEST.ENERGY_DECODE): plain decoding (FILLER_TOP_K 0), the fillers of the top 20 and
of the top 40 listed, and the fillers of the top 40 listed and rescored (FILLER_RESCORE), all
on the same synthetic PredCls head output and the same energy model, timed in turns; see
maskrcnn_benchmark/modeling/energy/decode_benchmark.py. The defaults are the synthetic
``default`` preset's test images (12 boxes, 132 pairs, 12 relations) at TEST.IMS_PER_BATCH 8
with the structured energy model of docs/ENERGY.md at the widths of
configs/synthetic_default/base.yaml; the results are in docs/BENCHMARKS.md.

    PYTHONPATH=$PWD python tools/benchmark_decoding.py
    PYTHONPATH=$PWD python tools/benchmark_decoding.py \
        ENERGY_MODEL.WEIGHT output/energy_pretrain/seed0/energy_model.pth   # trained energy
    PYTHONPATH=$PWD python tools/benchmark_decoding.py --boxes 40 --relations 20 \\
        --num-obj-classes 151 --num-rel-classes 51      # VG-sized label sets
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.energy import EnergyDecoder, build_energy_model
from maskrcnn_benchmark.modeling.energy.decode_benchmark import (
    measure_decoding,
    synthetic_head_output,
)
from maskrcnn_benchmark.modeling.energy.pretrained import load_energy_model_file
from maskrcnn_benchmark.structures.scene_graph import SGGTask

REPO = Path(__file__).resolve().parents[1]
# The structured energy model (experiments/plans.py STRUCTURED_EBM) and decoding at weight 1.
DEFAULT_OPTS = ["ENERGY_MODEL.USE_IMAGE_GRAPH", "False", "ENERGY_MODEL.EDGE_DIRECTIONS", "both",
                "TEST.ENERGY_DECODE.WEIGHT", "1.0"]
# name -> (FILLER_TOP_K, FILLER_RESCORE)
VARIANTS = {"decoding": (0, False), "+ fillers listed (top 20)": (20, False),
            "+ fillers listed (top 40)": (40, False), "+ fillers rescored (top 40)": (40, True)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file",
                        default=str(REPO / "configs" / "synthetic_default" / "base.yaml"),
                        help="the energy model's widths and the decoding keys come from it")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=8, help="images per call")
    parser.add_argument("--boxes", type=int, default=12, help="boxes per image")
    parser.add_argument("--relations", type=int, default=12,
                        help="pairs per image that the head scores as a relation")
    parser.add_argument("--num-obj-classes", type=int, default=35)
    parser.add_argument("--num-rel-classes", type=int, default=22)
    parser.add_argument("--roi-feature-dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE overrides")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[dict]:
    """The rows of the table, one per variant."""
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(DEFAULT_OPTS + args.opts)
    decode = cfg.TEST.ENERGY_DECODE
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_energy_model(cfg, args.roi_feature_dim, args.num_obj_classes,
                               args.num_rel_classes)
    if cfg.ENERGY_MODEL.WEIGHT:  # a pretrained energy model moves pairs as it does on test data
        load_energy_model_file(cfg.ENERGY_MODEL.WEIGHT, model, cfg)
    model = model.to(device)
    output = synthetic_head_output(
        args.batch_size, args.boxes, args.relations, num_obj_classes=args.num_obj_classes,
        num_rel_classes=args.num_rel_classes, roi_feature_dim=args.roi_feature_dim,
        device=device)
    decoders = {name: EnergyDecoder(
        task=SGGTask.PREDCLS, num_obj_classes=args.num_obj_classes, weight=decode.WEIGHT,
        rounds=decode.ROUNDS, top_predicates=decode.TOP_PREDICATES,
        candidates=decode.CANDIDATES,
        later_nms_thresh=cfg.TEST.RELATION.LATER_NMS_PREDICTION_THRES,
        filler_top_k=top_k, filler_rescore=rescore)
        for name, (top_k, rescore) in VARIANTS.items()}
    rows = measure_decoding(model, decoders, output, args.repeats)
    base = rows[0].seconds
    return [dict(vars(row), per_image_ms=1000 * row.seconds / args.batch_size,
                 ratio=row.seconds / base) for row in rows]


def main(argv: list[str] | None = None) -> None:
    """Print the table (and write the JSON rows)."""
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    rows = run(args)
    lines = [f"device {args.device}, {args.batch_size} images of {args.boxes} boxes "
             f"({args.boxes * (args.boxes - 1)} pairs, {args.relations} relations), "
             f"{args.num_obj_classes} object / {args.num_rel_classes} predicate classes, "
             f"median of {args.repeats}",
             "",
             "| variant | s per call | ms per image | x decoding | pairs moved | fillers | "
             "relisted |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['seconds']:.3f} | {r['per_image_ms']:.1f} | "
              f"{r['ratio']:.2f} | {r['moved']} | {r['fillers']} | {r['relisted']} |"
              for r in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
