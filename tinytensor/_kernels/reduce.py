"""Reduction kernels, NumPy fallback (replaced by the Cython kernels in reduce.pyx)."""
import numpy as np


def _c(a):
    """C-contiguous, keeping 0-d results 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.asarray(a, order="C")


def sum(a, axes, keepdim):
    return _c(np.sum(a, axis=axes, keepdims=keepdim))
