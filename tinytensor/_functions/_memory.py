"""Outputs and scratch for the kernels: NumPy arrays (large ones come with huge pages), with
PyTorch's RuntimeError, not NumPy's MemoryError or an overflow, when a size cannot be had."""
import numpy as np

from tinytensor._tensor import checked_numel


def alloc(shape, dtype, fill=None):
    """np.empty(shape, dtype), or filled with `fill` (0 uses np.zeros: lazily zeroed pages)."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    try:
        n = checked_numel(shape, dtype.itemsize)
    except OverflowError:                            # a size beyond int64
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}") from None
    try:
        if fill is None:
            return np.empty(shape, dtype)
        if fill == 0:
            return np.zeros(shape, dtype)
        return np.full(shape, fill, dtype)
    except MemoryError:
        raise RuntimeError(f"can't allocate memory: you tried to allocate {n * dtype.itemsize} "
                           f"bytes for a tensor of shape {list(shape)}") from None


# Scratch caches that recycle big arrays (pool.py's _scratch): each registers a function
# returning the arrays it holds. The engine lets a leaf's .grad take such an array's memory,
# as the cache hands an array out again only when nothing else references it.
_recycling_caches = []


def register_recycling_cache(values):
    """`values()` -> the arrays a scratch cache currently holds."""
    _recycling_caches.append(values)


def recycled_ids():
    """ids of the arrays held by the registered scratch caches."""
    return {id(a) for values in _recycling_caches for a in values()}
