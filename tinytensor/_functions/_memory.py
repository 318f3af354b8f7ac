"""Outputs and scratch for the kernels: NumPy arrays (large ones come with huge pages), with
PyTorch's RuntimeError, not NumPy's MemoryError or an overflow, when a size cannot be had."""
import sys

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


# Scratch caches that recycle big arrays (recycle() below): each registers a function
# returning the arrays it holds. The engine lets a leaf's .grad take such an array's memory,
# as the cache hands an array out again only when nothing else references it.
_recycling_caches = []


def register_recycling_cache(values):
    """`values()` -> the arrays a scratch cache currently holds."""
    _recycling_caches.append(values)


def recycled_ids():
    """ids of the arrays held by the registered scratch caches."""
    return {id(a) for values in _recycling_caches for a in values()}


# Big scratch (pooling's winners and input gradients) is recycled: a fresh array is a fresh
# mmap whose first touch costs page faults (PERFORMANCE.md: ~6 ms per 100 MB even with huge
# pages, far more without). Smaller arrays are left to malloc: recycling convolution outputs
# from 1 MiB up made S7 (conv1d) 6.5 -> 4.4 ms forward+backward alone, but slower next to
# PyTorch in bench_conv (1.03 -> 1.12) and slower in a LeNet training loop (5.0 -> 5.3 ms a
# step), so only arrays of 16 MiB and more are kept, at most _REUSE_MAX_BYTES of them.
_REUSE_MIN_BYTES = 16 << 20
_REUSE_MAX_BYTES = 256 << 20
_reuse = {}                                       # (shape, dtype) -> ndarray, oldest first


def _cached_arrays():
    return list(_reuse.values())


register_recycling_cache(_cached_arrays)


def recycle(shape, dtype, zero=False):
    """alloc(shape, dtype) for a kernel that writes every element (zeroed when `zero`).

    A big array is recycled from an earlier call once nothing references it any more (no
    tensor, view or graph node: its only owners are this cache and the local name), so a
    training loop stops paying the first-touch cost every step. Python threads may call this
    at once: dict.pop hands one array to one caller.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    if checked_numel(shape, dtype.itemsize) * dtype.itemsize < _REUSE_MIN_BYTES:
        return alloc(shape, dtype, fill=0 if zero else None)
    key = (shape, dtype.str)
    a = _reuse.pop(key, None)
    if a is None or sys.getrefcount(a) != 2:      # 2: the local name and getrefcount's argument
        a = alloc(shape, dtype, fill=0 if zero else None)
    elif zero:
        a.fill(0)
    _reuse[key] = a                               # most recently used last
    # list(): one atomic snapshot (iterating the dict itself raised "dictionary changed size
    # during iteration" when another thread recycled at the same time); pop: it may be gone
    while sum(b.nbytes for b in list(_reuse.values())) > _REUSE_MAX_BYTES:
        oldest = next(iter(list(_reuse)), None)
        if oldest is None:
            break
        _reuse.pop(oldest, None)
    return a
