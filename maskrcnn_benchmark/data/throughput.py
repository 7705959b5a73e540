"""Data-loading throughput: a generated VG-format set and images/s of ``make_data_loader``."""

from __future__ import annotations

import os
import time

import numpy as np
from PIL import Image

from .build import make_data_loader
from .datasets.vg_format import IMAGE_DIR_NAME, VGImageRecord, write_vg_files

__all__ = ["write_benchmark_dataset", "measure_loader_throughput"]


def write_benchmark_dataset(out_dir: str, num_images: int = 128, width: int = 800,
                            height: int = 600, seed: int = 0) -> str:
    """Write a VG-format set of random-noise JPEGs with random graphs; return ``out_dir``."""
    rng = np.random.RandomState(seed)
    os.makedirs(os.path.join(out_dir, IMAGE_DIR_NAME), exist_ok=True)
    records = []
    for image_id in range(1, num_images + 1):
        n = int(rng.randint(5, 25))
        x1 = rng.uniform(0, width * 0.7, n)
        y1 = rng.uniform(0, height * 0.7, n)
        boxes = np.stack([x1, y1, x1 + rng.uniform(20, width * 0.3, n),
                          y1 + rng.uniform(20, height * 0.3, n)], 1)
        pairs = rng.permutation(n * (n - 1))[: max(1, n // 2)]
        sub, obj = pairs // (n - 1), pairs % (n - 1)
        obj = obj + (obj >= sub)
        relations = np.stack([sub, obj, rng.randint(1, 51, len(sub))], 1)
        records.append(VGImageRecord(image_id=image_id, width=width, height=height, boxes=boxes,
                                     labels=rng.randint(1, 151, n), relations=relations))
        pixels = rng.randint(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(out_dir, IMAGE_DIR_NAME, f"{image_id}.jpg"),
                                     quality=90)
    write_vg_files(out_dir, records, [f"class{i}" for i in range(1, 151)],
                   [f"predicate{i}" for i in range(1, 51)])
    return out_dir


def measure_loader_throughput(cfg, num_workers: int, num_batches: int,
                              warmup_batches: int = 2) -> float:
    """Images per second of the training loader over ``num_batches`` after a warm-up."""
    cfg = cfg.clone()
    cfg.DATALOADER.NUM_WORKERS = num_workers
    cfg.SOLVER.MAX_ITER = warmup_batches + num_batches
    loader = make_data_loader(cfg, mode="train")
    images, start = 0, None
    for iteration, (batch, _, _) in enumerate(loader):
        if iteration == warmup_batches:
            start = time.perf_counter()
        if iteration >= warmup_batches:
            images += len(batch)
    return images / (time.perf_counter() - start)
