"""Named datasets: ``<base>_<split>`` -> the VG150 files under the dataset root.

The root is ``DATASETS.DATA_DIR`` unless the environment variable ``SGG_DATA_DIR`` is set. The
split is the suffix after the last "_" ("train", "val" or "test"). Besides the registered bases
below, an unregistered ``<folder>_<split>`` resolves to ``<root>/<folder>/`` when that folder
holds the three VG150 files (a user's own converted data set; see docs/DATA.md).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from maskrcnn_benchmark.data.datasets.vg_format import (
    DICTS_NAME,
    H5_NAME,
    IMAGE_DATA_NAME,
    IMAGE_DIR_NAME,
)

__all__ = ["DatasetCatalog", "DatasetPaths", "UnknownDatasetError", "data_root", "split_of"]

DATA_DIR_ENV = "SGG_DATA_DIR"
SPLITS = ("train", "val", "test")


def _vg_folder(folder: str) -> dict[str, str]:
    """The four standard VG150 names inside one folder."""
    return {
        "img_dir": f"{folder}/{IMAGE_DIR_NAME}",
        "roidb_file": f"{folder}/{H5_NAME}",
        "dict_file": f"{folder}/{DICTS_NAME}",
        "image_file": f"{folder}/{IMAGE_DATA_NAME}",
    }


@dataclass(frozen=True)
class DatasetPaths:
    """Absolute file locations and the split of one named dataset."""

    split: str
    img_dir: str
    roidb_file: str
    dict_file: str
    image_file: str


class UnknownDatasetError(KeyError):
    """A dataset name the catalog cannot resolve; the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def data_root(data_dir: str) -> str:
    """The dataset root: ``$SGG_DATA_DIR`` if set, else ``data_dir`` (DATASETS.DATA_DIR)."""
    return os.environ.get(DATA_DIR_ENV) or data_dir


def split_of(name: str) -> str:
    """The split of a dataset name: the suffix after its last "_"."""
    base, _, split = name.rpartition("_")
    if not base or split not in SPLITS:
        raise UnknownDatasetError(f"Dataset name '{name}' must end in _train, _val or _test")
    return split


class DatasetCatalog:
    """Registered dataset bases (paths relative to the dataset root)."""

    BASES: dict[str, dict[str, str]] = {
        "VG_stanford_filtered": {
            "img_dir": "vg/VG_100K",
            "roidb_file": "vg/VG-SGG.h5",
            "dict_file": "vg/VG-SGG-dicts.json",
            "image_file": "vg/image_data.json",
        },
        "VG_stanford_filtered_with_attribute": _vg_folder("vg"),
        "synthetic_vg": _vg_folder("synthetic_vg"),
        "synthetic_vg_tiny": _vg_folder("synthetic_vg_tiny"),
        "synthetic_vg_small": _vg_folder("synthetic_vg_small"),
        "synthetic_vg_default": _vg_folder("synthetic_vg_default"),
        "GQA": _vg_folder("gqa"),
    }

    @classmethod
    def names(cls) -> list[str]:
        """Every registered dataset name."""
        return [f"{base}_{split}" for base in cls.BASES for split in SPLITS]

    @classmethod
    def resolve(cls, name: str, root: str) -> DatasetPaths:
        """File locations of ``name`` under ``root``; an unknown name lists the known ones."""
        try:
            split = split_of(name)
        except UnknownDatasetError:
            raise cls._unknown(name, root) from None
        base = name[: -len(split) - 1]
        relative = cls.BASES.get(base)
        if relative is None:
            relative = _vg_folder(base)
            folder = os.path.join(root, base)
            if not all(os.path.isfile(os.path.join(folder, f))
                       for f in (H5_NAME, DICTS_NAME, IMAGE_DATA_NAME)):
                raise cls._unknown(name, root)
        paths = {key: os.path.join(root, value) for key, value in relative.items()}
        return DatasetPaths(split=split, **paths)

    @classmethod
    def get(cls, name: str, cfg) -> dict:
        """``{"factory": "VGDataset", "args": {...}}`` with the cfg-derived filters (SGB's API)."""
        paths = cls.resolve(name, data_root(cfg.DATASETS.DATA_DIR))
        relation_head = cfg.MODEL.ROI_RELATION_HEAD
        args = asdict(paths)
        args.update(
            filter_non_overlap=(not relation_head.USE_GT_BOX) and cfg.MODEL.RELATION_ON
            and relation_head.REQUIRE_BOX_OVERLAP,
            filter_empty_rels=cfg.MODEL.RELATION_ON,
            flip_aug=cfg.MODEL.FLIP_AUG,
            num_val_im=cfg.DATASETS.NUM_VAL_IM,
            num_im=cfg.DATASETS.NUM_IM,
        )
        return {"factory": "VGDataset", "args": args}

    @classmethod
    def _unknown(cls, name: str, root: str) -> UnknownDatasetError:
        return UnknownDatasetError(
            f"Unknown dataset '{name}'. Known names: {', '.join(cls.names())}. Any "
            f"'<folder>_<split>' also works when {root}/<folder>/ holds {H5_NAME}, {DICTS_NAME} "
            f"and {IMAGE_DATA_NAME} (dataset root from DATASETS.DATA_DIR or ${DATA_DIR_ENV}).")
