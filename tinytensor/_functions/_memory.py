"""Outputs and scratch for the kernels: NumPy arrays (large ones come with huge pages), with
PyTorch's RuntimeError, not NumPy's MemoryError or an overflow, when a size cannot be had."""
import threading
import weakref

import numpy as np

from tinytensor._tensor import checked_numel


def check_size(shape, dtype):
    """PyTorch's RuntimeError when an array of `shape` (a tuple of ints) and NumPy `dtype`
    has more bytes than int64 counts: what alloc checks, for callers that check a shape once
    and then allocate it many times with np.empty."""
    try:
        return checked_numel(shape, dtype.itemsize)
    except OverflowError:                            # a size beyond int64
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}") from None


def alloc(shape, dtype, fill=None):
    """np.empty(shape, dtype), or filled with `fill` (0 uses np.zeros: lazily zeroed pages)."""
    if type(shape) is tuple:
        if not all([type(n) is int for n in shape]):
            shape = tuple([int(n) for n in shape])
    else:
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple([int(n) for n in shape])
    if not isinstance(dtype, np.dtype):
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


# Big scratch (pooling's winners and input gradients) is recycled: a fresh array is a fresh
# mmap whose first touch costs page faults (PERFORMANCE.md: ~6 ms per 100 MB even with huge
# pages, far more without). Smaller arrays are left to malloc: recycling convolution outputs
# from 1 MiB up made S7 (conv1d) 6.5 -> 4.4 ms forward+backward alone, but slower next to
# PyTorch in bench_conv (1.03 -> 1.12) and slower in a LeNet training loop (5.0 -> 5.3 ms a
# step), so only arrays of 16 MiB and more are kept, at most _REUSE_MAX_BYTES of them.
_REUSE_MIN_BYTES = 16 << 20
_REUSE_MAX_BYTES = 256 << 20
_reuse = {}                                       # (shape, dtype) -> ndarray, oldest first
_leases = {}                                      # (shape, dtype) -> weakref to its _Lease
_lock = threading.Lock()                          # free-threaded CPython: dicts are not enough


class _Lease:
    """The loan of a cached array: every array `recycle` hands out is made from this object
    (NumPy keeps it as the array's `base`), so the lease lives exactly as long as any tensor,
    view, graph node or `.grad` that can see the memory. The cache lends the array again only
    once the lease is gone -- ownership stated by object lifetime, which every Python keeps,
    not read from reference counts (which free-threaded CPython and PyPy do not keep exact)."""
    __slots__ = ("block", "__array_interface__", "__weakref__")

    def __init__(self, block):
        self.block = block
        self.__array_interface__ = block.__array_interface__


def recycle(shape, dtype, zero=False):
    """alloc(shape, dtype) for a kernel that writes every element (zeroed when `zero`).

    A big array is recycled from an earlier call once its lease has ended (no tensor, view or
    graph node holds any array made from it), so a training loop stops paying the first-touch
    cost every step. Python threads may call this at once: one lock guards the cache.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    if checked_numel(shape, dtype.itemsize) * dtype.itemsize < _REUSE_MIN_BYTES:
        return alloc(shape, dtype, fill=0 if zero else None)
    key = (shape, dtype.str)
    with _lock:
        block = _reuse.pop(key, None)
        lease = _leases.pop(key, None)
    if block is None or (lease is not None and lease() is not None):
        block = alloc(shape, dtype, fill=0 if zero else None)     # (the lent one stays lent)
    elif zero:
        block.fill(0)
    loan = _Lease(block)
    out = np.asarray(loan)
    with _lock:
        _reuse[key] = block                       # most recently used last
        _leases[key] = weakref.ref(loan)
        while sum(b.nbytes for b in _reuse.values()) > _REUSE_MAX_BYTES:
            oldest = next(iter(_reuse))
            del _reuse[oldest]
            _leases.pop(oldest, None)
    return out
