"""Wall time of energy-guided decoding with and without the filler step, side by side.

Variants (TEST.ENERGY_DECODE): plain decoding (FILLER_TOP_K 0), the fillers of the top 20 and
of the top 40 listed, and the fillers of the top 40 listed and rescored (FILLER_RESCORE), all
on the same synthetic PredCls head output and the same energy model, timed in turns; see
maskrcnn_benchmark/modeling/energy/decode_benchmark.py. The defaults are the synthetic
``default`` preset's test images (12 boxes, 132 pairs, 12 relations) at TEST.IMS_PER_BATCH 8
with the structured energy model and the decoding keys of
configs/quickstart/motifs_predcls_energy_decode.yaml (the plan's energy model); the results
are in docs/BENCHMARKS.md.

    PYTHONPATH=$PWD python tools/benchmark_decoding.py
    PYTHONPATH=$PWD python tools/benchmark_decoding.py \\
        ENERGY_MODEL.WEIGHT output/energy_pretrain/seed0/energy_model.pth   # trained energy
    PYTHONPATH=$PWD python tools/benchmark_decoding.py --boxes 40 --relations 20 \\
        MODEL.ROI_BOX_HEAD.NUM_CLASSES 151 MODEL.ROI_RELATION_HEAD.NUM_CLASSES 51  # VG labels
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.energy import build_energy_decoder, build_energy_model
from maskrcnn_benchmark.modeling.energy.decode_benchmark import (
    measure_decoding,
    synthetic_head_output,
)
from maskrcnn_benchmark.modeling.energy.pretrained import load_energy_model_file

REPO = Path(__file__).resolve().parents[1]
# The synthetic head output is a PredCls one, decoded with the energy model.
FORCED = ["MODEL.ROI_RELATION_HEAD.USE_GT_BOX", "True",
          "MODEL.ROI_RELATION_HEAD.USE_GT_OBJECT_LABEL", "True", "MODEL.ENERGY_ON", "True",
          "TEST.ENERGY_DECODE.ON", "True"]
# name -> (FILLER_TOP_K, FILLER_RESCORE)
VARIANTS = {"decoding": (0, False), "+ fillers listed (top 20)": (20, False),
            "+ fillers listed (top 40)": (40, False), "+ fillers rescored (top 40)": (40, True)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file",
                        default=str(REPO / "configs" / "quickstart"
                                    / "motifs_predcls_energy_decode.yaml"),
                        help="energy model, class counts and TEST.ENERGY_DECODE keys (the "
                        "variants set FILLER_TOP_K and FILLER_RESCORE)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=8, help="images per call")
    parser.add_argument("--boxes", type=int, default=12, help="boxes per image")
    parser.add_argument("--relations", type=int, default=12,
                        help="pairs per image that the head scores as a relation")
    parser.add_argument("--roi-feature-dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE overrides")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> list[dict]:
    """The rows of the table, one per variant."""
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts + FORCED)
    num_obj = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
    num_rel = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_energy_model(cfg, args.roi_feature_dim, num_obj, num_rel)
    if cfg.ENERGY_MODEL.WEIGHT:  # a pretrained energy model moves pairs as it does on test data
        load_energy_model_file(cfg.ENERGY_MODEL.WEIGHT, model, cfg)
    model = model.to(device)
    output = synthetic_head_output(
        args.batch_size, args.boxes, args.relations, num_obj_classes=num_obj,
        num_rel_classes=num_rel, roi_feature_dim=args.roi_feature_dim, device=device)
    decoders = {}
    for name, (top_k, rescore) in VARIANTS.items():
        variant = cfg.clone()
        variant.merge_from_list(["TEST.ENERGY_DECODE.FILLER_TOP_K", top_k,
                                 "TEST.ENERGY_DECODE.FILLER_RESCORE", rescore])
        decoders[name] = build_energy_decoder(variant, num_obj)
    rows = measure_decoding(model, decoders, output, args.repeats)
    base = rows[0].seconds
    return [dict(vars(row), per_image_ms=1000 * row.seconds / args.batch_size,
                 ratio=row.seconds / base, num_obj_classes=num_obj, num_rel_classes=num_rel)
            for row in rows]


def main(argv: list[str] | None = None) -> None:
    """Print the table (and write the JSON rows)."""
    logging.basicConfig(level=logging.WARNING)
    args = parse_args(argv)
    rows = run(args)
    lines = [f"device {args.device}, {args.batch_size} images of {args.boxes} boxes "
             f"({args.boxes * (args.boxes - 1)} pairs, {args.relations} relations), "
             f"{rows[0]['num_obj_classes']} object / {rows[0]['num_rel_classes']} predicate "
             "classes, "
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
