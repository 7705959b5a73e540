"""Data: VG150-format datasets, transforms, samplers, loaders and train-split statistics."""

from .build import build_dataset, make_data_loader
from .statistics import DatasetStatistics, get_dataset_statistics

__all__ = ["make_data_loader", "build_dataset", "get_dataset_statistics", "DatasetStatistics"]
