"""Wall time of energy-guided decoding, its variants side by side (tools/benchmark_decoding.py).

The input is a synthetic PredCls relation-head output: ``boxes`` boxes per image, all ordered
pairs scored, a confident "no relation" on all but ``relations`` pairs per image (as a trained
head scores a test image: about 12 relations among 132 pairs on the synthetic ``default``
preset), random logits on those. Every variant decodes the same output with the same energy
model; the variants are timed in turns (one call of each per repeat, after one warm-up call of
each), so that a change of machine load affects them alike, and the median of the repeats is
reported. The energy model's weights do not need to be trained: the cost of a decoding call is
set by the number of energy passes (rounds, exact evaluations, listed fillers), which depend on
the sizes, not on what the energy has learned, except for how many rounds move a pair.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from maskrcnn_benchmark.modeling.roi_heads.relation_head.output import RelationHeadOutput
from maskrcnn_benchmark.structures.bounding_box import BoxList

from .energy_decode import EnergyDecoder

__all__ = ["DecodingMeasurement", "synthetic_head_output", "measure_decoding"]

# The background logit of the pairs without a relation, above random foreground logits ~N(0, 1).
NO_RELATION_MARGIN = 4.0


@dataclass
class DecodingMeasurement:
    """One variant's row: median seconds per call and what the decoder did per call."""

    variant: str
    seconds: float
    repeats: int
    images: int
    pairs: int
    moved: int
    fillers: int
    relisted: int


def synthetic_head_output(batch_size: int, boxes_per_image: int, relations_per_image: int, *,
                          num_obj_classes: int, num_rel_classes: int, roi_feature_dim: int,
                          image_size: tuple[int, int] = (592, 800), seed: int = 0,
                          device: torch.device | str = "cpu") -> RelationHeadOutput:
    """A PredCls head output of ``batch_size`` images on all ordered pairs (module docstring)."""
    if boxes_per_image < 2 or not 0 <= relations_per_image <= boxes_per_image * (
            boxes_per_image - 1):
        raise ValueError(f"need at least 2 boxes and 0..{boxes_per_image} x "
                         f"{boxes_per_image - 1} relations per image; got {boxes_per_image} "
                         f"boxes and {relations_per_image} relations")
    generator = torch.Generator().manual_seed(seed)
    width, height = image_size
    idx = torch.arange(boxes_per_image)
    pairs = torch.cartesian_prod(idx, idx)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    proposals, relation_logits, refine_logits = [], [], []
    for _ in range(batch_size):
        corners = torch.rand(boxes_per_image, 2, generator=generator)
        sizes = 0.1 + 0.4 * torch.rand(boxes_per_image, 2, generator=generator)
        x1 = corners[:, 0] * width * 0.5
        y1 = corners[:, 1] * height * 0.5
        boxes = torch.stack([x1, y1, x1 + sizes[:, 0] * width, y1 + sizes[:, 1] * height], 1)
        proposal = BoxList(boxes, (width, height), mode="xyxy")
        labels = torch.randint(1, num_obj_classes, (boxes_per_image,), generator=generator)
        proposal.add_field("labels", labels)
        proposals.append(proposal)
        logits = torch.randn(len(pairs), num_rel_classes, generator=generator)
        related = torch.randperm(len(pairs), generator=generator)[:relations_per_image]
        background = torch.ones(len(pairs), dtype=torch.bool)
        background[related] = False
        logits[background, 0] += NO_RELATION_MARGIN
        relation_logits.append(logits)
        refine = torch.full((boxes_per_image, num_obj_classes), -1000.0)
        refine[idx, labels] = 1000.0
        refine_logits.append(refine)
    features = torch.randn(batch_size * boxes_per_image, roi_feature_dim, generator=generator)
    return RelationHeadOutput(
        proposals=[p.to(device) for p in proposals],
        rel_pair_idxs=[pairs.to(device) for _ in range(batch_size)],
        relation_logits=[t.to(device) for t in relation_logits],
        refine_logits=[t.to(device) for t in refine_logits], roi_features=features.to(device),
        rel_labels=None)


def measure_decoding(energy_model: nn.Module, decoders: dict[str, EnergyDecoder],
                     output: RelationHeadOutput, repeats: int = 5) -> list[DecodingMeasurement]:
    """Median wall time per call of each decoder on ``output``, timed in turns (docstring)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    energy_model.eval()
    for decoder in decoders.values():  # warm-up: first-use allocations and lazy initialisation
        decoder(energy_model, output)
    counts = {name: dict(decoder.totals) for name, decoder in decoders.items()}
    times: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(repeats):
        for name, decoder in decoders.items():
            started = time.perf_counter()
            decoder(energy_model, output)
            times[name].append(time.perf_counter() - started)
    rows = []
    for name, decoder in decoders.items():
        per_call = {key: (decoder.totals[key] - counts[name][key]) // repeats
                    for key in ("images", "pairs", "moved", "fillers", "relisted")}
        rows.append(DecodingMeasurement(variant=name, seconds=statistics.median(times[name]),
                                        repeats=repeats, **per_call))
    return rows
