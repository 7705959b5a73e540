"""Wall time of the relation head's union-box features at SGDet size: the shipped extractor
(each union box pooled once per unordered pair) against pooling every ordered pair, in turns.

The union feature extractor is most of an SGDet test on the CPU (docs/BENCHMARKS.md, "SGDet on
`default`: where the time goes"): every ordered pair of the kept detections gets its union box
pooled from all FPN levels, reduced by a 3x3 convolution, added to its two-box mask features and
sent through fc6/fc7. The union box of (i, j) is that of (j, i), so the shipped extractor pools
each once; the reference path below pools all ordered pairs (SGB's computation) and must give
the same features. Inputs: random FPN features of one test image, ``--boxes`` random boxes,
every ordered pair; the widths come from the config (default: the docs/RESULTS.md setting).

    PYTHONPATH=$PWD python tools/benchmark_union_features.py                 # 30 boxes, 870 pairs
    PYTHONPATH=$PWD python tools/benchmark_union_features.py --boxes 80 \\
        --config-file configs/vg150/motifs_sgdet.yaml MODEL.DEVICE cpu       # VG: 6,320 pairs
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import torch

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.modeling.roi_heads.relation_head.feature_extractors import (
    RelationFeatureExtractor,
    pair_rect_masks,
)
from maskrcnn_benchmark.structures.bounding_box import BoxList
from maskrcnn_benchmark.structures.boxlist_ops import boxlist_union

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("benchmark_union_features")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config-file",
                        default=str(REPO / "configs" / "synthetic_default" / "base.yaml"))
    parser.add_argument("--boxes", type=int, default=30, help="detections per image")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE overrides")
    return parser.parse_args(argv)


def inputs(cfg, boxes: int) -> tuple[list[torch.Tensor], BoxList, torch.Tensor]:
    """FPN features of one test-sized image, ``boxes`` random boxes, every ordered pair."""
    generator = torch.Generator().manual_seed(0)
    height, width = cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST
    channels = cfg.MODEL.RESNETS.BACKBONE_OUT_CHANNELS
    features = [torch.randn(1, channels, height // s, width // s, generator=generator)
                for s in (4, 8, 16, 32)]
    corner = torch.rand(boxes, 2, generator=generator) * torch.tensor([width, height]) * 0.8
    size = 8 + torch.rand(boxes, 2, generator=generator) * torch.tensor([width, height]) * 0.4
    proposal = BoxList(torch.cat([corner, (corner + size).minimum(
        torch.tensor([width - 1.0, height - 1.0]))], 1), (width, height))
    pairs = torch.nonzero(~torch.eye(boxes, dtype=torch.bool))
    return features, proposal, pairs


def every_ordered_pair(extractor: RelationFeatureExtractor, features, proposal, pairs):
    """SGB's computation: the union box of every ordered pair pooled on its own."""
    unions = boxlist_union(proposal[pairs[:, 0]], proposal[pairs[:, 1]])
    rects = extractor.rect_conv(pair_rect_masks(proposal, pairs, extractor.rect_size))
    visual = extractor.feature_extractor.pooler(features, [unions])
    return extractor.feature_extractor.forward_without_pool(visual + rects)


def main(argv: list[str] | None = None) -> None:
    """Time both paths in turns and log a table (median seconds per image)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    cfg = get_cfg()
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    torch.manual_seed(0)
    extractor = RelationFeatureExtractor.from_config(
        cfg, cfg.MODEL.RESNETS.BACKBONE_OUT_CHANNELS).eval()
    features, proposal, pairs = inputs(cfg, args.boxes)
    paths = {"every ordered pair (SGB)": lambda: every_ordered_pair(
                 extractor, features, proposal, pairs),
             "each unordered pair once (shipped)": lambda: extractor(
                 features, [proposal], [pairs])}
    times: dict[str, list[float]] = {name: [] for name in paths}
    with torch.no_grad():
        reference, shipped = (fn() for fn in paths.values())  # also the warm-up
        gap = (reference - shipped).abs().max().item()
        for _ in range(args.repeats):
            for name, fn in paths.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["every ordered pair (SGB)"])
    logger.info("%d boxes, %d ordered pairs, %d threads, max |difference| %.2e",
                args.boxes, len(pairs), torch.get_num_threads(), gap)
    logger.info("| path | s / image | speed-up |")
    logger.info("|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        logger.info("| %s | %.3f | x%.2f |", name, median, base / median)


if __name__ == "__main__":
    main()
