"""The `tiny` synthetic preset with captions, and configs over it, for the retrieval tests."""

from __future__ import annotations

import os
from pathlib import Path

from maskrcnn_benchmark.config import get_cfg
from maskrcnn_benchmark.data.datasets.synthetic.caption_file import write_synthetic_captions
from maskrcnn_benchmark.data.datasets.synthetic.generate import generate_dataset

REPO = Path(__file__).resolve().parents[2]
DATASET = "synthetic_vg_tiny"
TEST = f"{DATASET}_test"


def make_tiny(root: Path) -> str:
    """The tiny preset (64 images, seed 0) and its caption-graph file under ``root``."""
    folder = str(root / DATASET)
    generate_dataset(folder, "tiny", seed=0, workers=1)
    write_synthetic_captions(folder)
    return str(root)


def split_opts(root: str) -> list[str]:
    """Overrides naming the tiny splits under ``root`` (8 val images)."""
    return ["DATASETS.DATA_DIR", root, "DATASETS.TRAIN", f"('{DATASET}_train',)",
            "DATASETS.VAL", f"('{DATASET}_val',)", "DATASETS.TEST", f"('{TEST}',)",
            "DATASETS.NUM_VAL_IM", "8", "MODEL.DEVICE", "cpu"]


def tiny_cfg(root: str, out: Path, *opts: str):
    """A PredCls run config over the tiny data with OUTPUT_DIR ``out``."""
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(REPO, "configs", "quickstart", "motifs_predcls.yaml"))
    cfg.merge_from_list(split_opts(root) + ["OUTPUT_DIR", str(out), *opts])
    return cfg
