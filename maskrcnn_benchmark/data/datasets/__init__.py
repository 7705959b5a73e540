"""Datasets in the VG150 file format (Visual Genome, GQA, synthetic and converted data)."""

from .visual_genome import VGDataset

__all__ = ["VGDataset"]
