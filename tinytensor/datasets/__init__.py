"""Datasets: `MNIST` (a bundled 5,000-digit sample, or the full set from a folder)."""
from tinytensor.datasets.mnist import MNIST, read_idx

__all__ = ["MNIST", "read_idx"]
