"""Energy-model peak memory of one training step versus batch size (target: linear).

Each image has ``--boxes`` boxes and all ordered pairs as candidate edges; one step is a full
SGLD run (SAMPLER.ITERS, 20 here unless overridden), E+ and E-, the energy and L2 losses and the
backward pass, with nodes and edges free (SGCls / SGDet). See
maskrcnn_benchmark/modeling/energy/benchmark.py for how memory is measured.

    PYTHONPATH=$PWD python tools/benchmark_energy.py --device cuda
    PYTHONPATH=$PWD python tools/benchmark_energy.py --device cpu --batch-sizes 1,2,4 \\
        MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM 64 SAMPLER.ITERS 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.energy import build_energy_loss, build_energy_model, build_sampler
from maskrcnn_benchmark.modeling.energy.benchmark import measure_energy_step

DEFAULT_OPTS = ["SAMPLER.ITERS", "20", "SAMPLER.LR", "1.0"]
MIB = 2 ** 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--boxes", type=int, default=80, help="boxes per image")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16", help="comma-separated")
    parser.add_argument("--gt-relations", type=int, default=20, help="GT relations per image")
    parser.add_argument("--num-obj-classes", type=int, default=151)
    parser.add_argument("--num-rel-classes", type=int, default=51)
    parser.add_argument("--roi-feature-dim", type=int, default=4096)
    parser.add_argument("--grad-ratio", action="store_true",
                        help="add a task loss and time the energy/grad_ratio measurement")
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE overrides")
    return parser.parse_args()


def measure(args: argparse.Namespace, batch_size: int) -> dict:
    cfg = get_cfg()
    cfg.merge_from_list(DEFAULT_OPTS + args.opts)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_energy_model(cfg, args.roi_feature_dim, args.num_obj_classes,
                               args.num_rel_classes).to(device)
    result = measure_energy_step(
        model, build_sampler(cfg), build_energy_loss(cfg), batch_size, args.boxes,
        args.gt_relations, num_obj_classes=args.num_obj_classes,
        num_rel_classes=args.num_rel_classes, roi_feature_dim=args.roi_feature_dim,
        device=device, grad_ratio=args.grad_ratio)
    return dict(batch_size=batch_size, nodes=result.num_nodes, edges=result.num_edges,
                peak_mib=result.peak_bytes / MIB, seconds=result.seconds,
                grad_ratio_seconds=result.grad_ratio_seconds,
                steps=cfg.SAMPLER.ITERS, grad_mode=cfg.SAMPLER.GRAD_MODE,
                edge_dim=cfg.MODEL.ROI_RELATION_HEAD.EBM.REL_LABEL_EMBED_DIM)


def measure_in_subprocess(args: argparse.Namespace, batch_size: int) -> dict:
    # Peak RSS is per process: every CPU measurement gets a fresh interpreter.
    command = [sys.executable, __file__, "--device", args.device, "--boxes", str(args.boxes),
               "--gt-relations", str(args.gt_relations),
               "--num-obj-classes", str(args.num_obj_classes),
               "--num-rel-classes", str(args.num_rel_classes),
               "--roi-feature-dim", str(args.roi_feature_dim),
               *(["--grad-ratio"] if args.grad_ratio else []),
               "--single", str(batch_size), *args.opts]
    # A fixed glibc mmap threshold returns every freed tensor buffer above 64 KiB to the system,
    # so the peak RSS follows live tensor memory instead of the allocator's dynamic threshold.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        return dict(batch_size=batch_size, error=done.stderr.strip().splitlines()[-1])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.single is not None:
        print(json.dumps(measure(args, args.single)))
        return
    rows = []
    for batch_size in [int(size) for size in args.batch_sizes.split(",")]:
        if args.device == "cpu":
            rows.append(measure_in_subprocess(args, batch_size))
            continue
        try:
            rows.append(measure(args, batch_size))
        except torch.cuda.OutOfMemoryError:
            rows.append(dict(batch_size=batch_size, error="out of memory"))
        torch.cuda.empty_cache()
    print(f"device={args.device} boxes/image={args.boxes} (all ordered pairs) "
          f"gt relations/image={args.gt_relations} opts={DEFAULT_OPTS + args.opts}")
    ratio = " s grad ratio |" if args.grad_ratio else ""
    print("| images | nodes | edges | peak MiB | MiB / image | s / step |" + ratio
          + " one dense N x N x d fp32 tensor (reference layout), MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if ratio else ""))
    for row in rows:
        if "error" in row:
            print(f"| {row['batch_size']} | | | {row['error']} | | |{' |' if ratio else ''} |")
            continue
        dense = (row["nodes"] ** 2) * row["edge_dim"] * 4 / MIB
        ratio_cell = f" {row['grad_ratio_seconds']:.3f} |" if ratio else ""
        print(f"| {row['batch_size']} | {row['nodes']} | {row['edges']} | "
              f"{row['peak_mib']:.0f} | {row['peak_mib'] / row['batch_size']:.0f} | "
              f"{row['seconds']:.2f} |{ratio_cell} {dense:.0f} |")


if __name__ == "__main__":
    main()
