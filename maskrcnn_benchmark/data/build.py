"""Datasets and data loaders from cfg: ``build_dataset`` and ``make_data_loader``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
from torch.utils.data import BatchSampler, ConcatDataset, DataLoader, Dataset

from maskrcnn_benchmark.config import paths_catalog
from maskrcnn_benchmark.utils import comm

from .collate import BatchCollator
from .datasets.visual_genome import VGDataset
from .samplers import DistributedSampler, GroupedBatchSampler, IterationBasedBatchSampler
from .transforms import build_transforms

__all__ = ["build_dataset", "make_data_loader", "check_class_counts"]

logger = logging.getLogger(__name__)

MODES = ("train", "val", "test")


def check_class_counts(cfg, obj_classes: Sequence[str], rel_classes: Sequence[str],
                       source: str) -> None:
    """Raise if the dataset's class counts disagree with the model's NUM_CLASSES keys."""
    expected = cfg.MODEL.ROI_BOX_HEAD.NUM_CLASSES
    if len(obj_classes) != expected:
        raise ValueError(
            f"{source} has {len(obj_classes)} object classes (with background) but "
            f"MODEL.ROI_BOX_HEAD.NUM_CLASSES is {expected}; set it to {len(obj_classes)}")
    expected = cfg.MODEL.ROI_RELATION_HEAD.NUM_CLASSES
    if cfg.MODEL.RELATION_ON and len(rel_classes) != expected:
        raise ValueError(
            f"{source} has {len(rel_classes)} predicate classes (with background) but "
            f"MODEL.ROI_RELATION_HEAD.NUM_CLASSES is {expected}; set it to {len(rel_classes)}")


def build_dataset(cfg, names: Sequence[str], is_train: bool) -> list[VGDataset]:
    """One VGDataset per catalog name, with the cfg's filters and transforms."""
    transforms = build_transforms(cfg, is_train)
    datasets = []
    for name in names:
        entry = paths_catalog.DatasetCatalog.get(name, cfg)
        dataset = VGDataset(transforms=transforms, **entry["args"])
        check_class_counts(cfg, dataset.ind_to_classes, dataset.ind_to_predicates,
                           f"Dataset {name} ({dataset.dict_file})")
        logger.info("Dataset %s: %d images", name, len(dataset))
        datasets.append(dataset)
    return datasets


def _image_infos(dataset: Dataset) -> list[dict]:
    if isinstance(dataset, ConcatDataset):
        return [info for part in dataset.datasets for info in _image_infos(part)]
    return [dataset.get_img_info(i) for i in range(len(dataset))]


def _aspect_groups(dataset: Dataset) -> list[int]:
    """Group 1 for portrait images (height / width > 1), group 0 otherwise."""
    return [int(info["height"] / info["width"] > 1) for info in _image_infos(dataset)]


def _batch_sampler(cfg, dataset: Dataset, images_per_gpu: int, shuffle: bool, world: int,
                   rank: int) -> BatchSampler | GroupedBatchSampler:
    sampler = DistributedSampler(len(dataset), world, rank, shuffle=shuffle, seed=cfg.SEED)
    if cfg.DATALOADER.ASPECT_RATIO_GROUPING:
        return GroupedBatchSampler(sampler, _aspect_groups(dataset), images_per_gpu)
    return BatchSampler(sampler, images_per_gpu, drop_last=False)


def make_data_loader(cfg, mode: str = "train", is_distributed: bool = False,
                     start_iter: int = 0, dataset_names: Sequence[str] | None = None
                     ) -> DataLoader | list[DataLoader]:
    """The train loader (iteration-based) or a list of val / test loaders, one per dataset.

    ``dataset_names`` replaces the mode's DATASETS entry (e.g. evaluating the train split with
    test-time loading).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    world = comm.get_world_size() if is_distributed else 1
    rank = comm.get_rank() if is_distributed else 0
    is_train = mode == "train"
    total = cfg.SOLVER.IMS_PER_BATCH if is_train else cfg.TEST.IMS_PER_BATCH
    key = "SOLVER.IMS_PER_BATCH" if is_train else "TEST.IMS_PER_BATCH"
    if total <= 0 or total % world:
        raise ValueError(f"{key} ({total}) must be a positive multiple of the number of "
                         f"processes ({world})")
    names = dataset_names or {"train": cfg.DATASETS.TRAIN, "val": cfg.DATASETS.VAL,
                              "test": cfg.DATASETS.TEST}[mode]
    if not names:
        raise ValueError(f"DATASETS.{mode.upper()} is empty; name a dataset of "
                         "maskrcnn_benchmark/config/paths_catalog.py (see docs/DATA.md)")
    datasets = build_dataset(cfg, names, is_train)
    collator = BatchCollator(cfg.DATALOADER.SIZE_DIVISIBILITY)
    # Workers seed torch, Python and NumPy from this generator, so augmentation draws (duplicate
    # filter, flips) are reproducible for a given seed, rank and start iteration.
    generator = torch.Generator()
    generator.manual_seed(cfg.SEED + rank + start_iter)

    def loader(dataset: Dataset, batch_sampler) -> DataLoader:
        return DataLoader(dataset, batch_sampler=batch_sampler, collate_fn=collator,
                          num_workers=cfg.DATALOADER.NUM_WORKERS, generator=generator)

    if is_train:
        dataset = datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)
        batches = _batch_sampler(cfg, dataset, total // world, True, world, rank)
        return loader(dataset, IterationBasedBatchSampler(batches, cfg.SOLVER.MAX_ITER,
                                                          start_iter))
    return [loader(d, _batch_sampler(cfg, d, total // world, False, world, rank))
            for d in datasets]
