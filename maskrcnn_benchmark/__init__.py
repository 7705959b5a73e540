"""Scene graph generation with energy-based learning, on modern PyTorch."""

__version__ = "0.1.0"
