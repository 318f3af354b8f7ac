"""Datasets: `MNIST` (a bundled 5,000-digit sample, or the full set from a folder), and the few
image `transforms` training scripts use (as torchvision's)."""
from tinytensor.datasets import transforms
from tinytensor.datasets.mnist import MNIST, read_idx

__all__ = ["MNIST", "read_idx", "transforms"]
