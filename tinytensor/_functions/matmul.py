"""matmul with NumPy's rules (1-D promotion, broadcast batch dimensions), through BLAS.

NumPy's matmul calls its OpenBLAS GEMM on zero-copy views of our storage. OpenBLAS's own
threading is not bitwise reproducible across thread counts (1 vs 2 threads differ in the last
bits), so matmul splits its work into pieces fixed by the shapes alone (leading batch entries,
else blocks of >= 128 rows), runs each piece with BLAS on one thread, and spreads the pieces over
tt.get_num_threads() Python threads (NumPy releases the GIL inside GEMM). Results are then
identical for any thread count.
"""
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tinytensor import _threads
from tinytensor._tensor_type import Tensor, _c, _wrap
from tinytensor.autograd.function import Function

_SMALL = 1 << 20         # multiply-adds below which one piece (one GEMM call) does everything
_PIECE = 1 << 22         # target multiply-adds per piece above that
_MIN_ROWS = 128          # a row block never gets smaller than this (GEMM efficiency: 1024^3
                         # float32 at 1 thread, 64 rows 1.25x NumPy's time, 128 rows 0.94x)

_pool = None
_pool_size = 0
_pool_lock = threading.Lock()


def _forget_pool():
    """In a child made by fork(): the pool's threads were not copied, and its bookkeeping says
    they are idle, so work handed to it would wait forever. Start afresh when next needed."""
    global _pool, _pool_lock, _pool_size
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _executor(n):
    """A pool of n worker threads. A pool of another size is replaced, never shut down here:
    another Python thread may still be handing it work (its threads exit when it is freed)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != n:
            _pool, _pool_size = ThreadPoolExecutor(max_workers=n, thread_name_prefix="tt-matmul"), n
        return _pool


def _pieces(x, y, out):
    """(x_part, y_part, out_part) triples covering out, chosen from the shapes alone."""
    n, k = x.shape[-2], x.shape[-1]
    work = out.size * k
    if work < _SMALL or out.size == 0:
        return [(x, y, out)]
    batch = out.shape[:-2]
    if batch and batch[0] >= 2:
        xb = np.broadcast_to(x, batch + x.shape[-2:])
        yb = np.broadcast_to(y, batch + y.shape[-2:])
        count = min(batch[0], max(1, work // _PIECE))
        cuts = [batch[0] * i // count for i in range(count + 1)]
        return [(xb[lo:hi], yb[lo:hi], out[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:])]
    count = min(math.ceil(n / _MIN_ROWS), max(1, work // _PIECE))
    cuts = [n * i // count for i in range(count + 1)]
    return [(x[..., lo:hi, :], y, out[..., lo:hi, :]) for lo, hi in zip(cuts[:-1], cuts[1:])]


def _mm(x, y):
    """np.matmul of two arrays with >= 2 dims, bitwise independent of the thread count."""
    shape = np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1])
    out = np.empty(shape, np.result_type(x, y))
    pieces = _pieces(x, y, out)
    n_threads = _threads.get_num_threads()      # BLAS itself is kept at one thread (_threads)
    if n_threads == 1 or len(pieces) == 1:
        for xp, yp, op in pieces:
            np.matmul(xp, yp, out=op)
    else:
        list(_executor(n_threads).map(
            lambda p: np.matmul(p[0], p[1], out=p[2]), pieces))
    return out


class MatMul(Function):
    """1-D operands are promoted to matrices ((n,) -> (1, n) on the left, (n, 1) on the right)
    and the added dimension is dropped from the result, so backward is the matrix case only.
    Broadcast batch dimensions are summed away by the engine."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.a1, ctx.b1 = a.ndim == 1, b.ndim == 1
        x, y = a._numpy(), b._numpy()
        out = _mm(x[None, :] if ctx.a1 else x, y[:, None] if ctx.b1 else y)
        if ctx.b1:
            out = out[..., 0]
        if ctx.a1:
            out = out[..., 0, :] if not ctx.b1 else out[..., 0]
        return _wrap(_c(out))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gy = g._numpy()
        if ctx.b1:
            gy = gy[..., None]
        if ctx.a1:
            gy = gy[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            bb = b._numpy()[:, None] if ctx.b1 else b._numpy()
            ga = _mm(gy, np.swapaxes(bb, -1, -2))
            ga = _wrap(_c(ga[..., 0, :] if ctx.a1 else ga))
        if ctx.needs_input_grad[1]:
            aa = a._numpy()[None, :] if ctx.a1 else a._numpy()
            gb = _mm(np.swapaxes(aa, -1, -2), gy)
            gb = _wrap(_c(gb[..., 0] if ctx.b1 else gb))
        return ga, gb


_MM_NAMES = {"float32": "float", "float64": "double", "int64": "long int", "bool": "bool"}


def _broadcast_batch(sa, sb):
    """Broadcast two batch shapes with PyTorch's message (dims counted in the batch shapes)."""
    n = max(len(sa), len(sb))
    out = []
    for i in range(n):
        x = sa[i - n + len(sa)] if i - n + len(sa) >= 0 else 1
        y = sb[i - n + len(sb)] if i - n + len(sb) >= 0 else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                               f"at non-singleton dimension {i}")
        out.append(x if y == 1 else y)
    return tuple(out)


def matmul(a, b):
    """Validate as torch.matmul does, with its messages for each path (dot, mv, mm, folded mm,
    bmm), then run MatMul."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(b if isinstance(a, Tensor) else a).__name__}")
    da, db = a.ndim, b.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    if a._dtype is not b._dtype:
        if da == 1 and db == 1:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{_legacy(a)} and {_legacy(b)}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_MM_NAMES[a._dtype.name]} != {_MM_NAMES[b._dtype.name]}")
    if a._dtype.name == "bool":
        raise NotImplementedError('"addmm_impl_cpu_" not implemented for \'Bool\'')
    sa, sb = a._shape, b._shape
    k_a = sa[-1]
    k_b = sb[-2] if db > 1 else sb[0]
    if da == 1 and db == 1:
        if k_a != k_b:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src [{k_b}] "
                               f"to have the same number of elements, but got {k_a} and {k_b} "
                               f"elements respectively")
    elif db == 1:                                   # mv, with a's leading dims folded into rows
        if k_a != k_b:
            rows = a.numel() // k_a if k_a else int(np.prod(sa[:-1]))
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k_a}), "
                               f"vec ({k_b})")
    elif db == 2 and da != 1 or da == 1 and db == 2:   # mm, with a's leading dims folded
        if k_a != k_b:
            rows = 1 if da == 1 else int(np.prod(sa[:-1]))
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and "
                               f"{k_b}x{sb[-1]})")
    else:                                           # bmm over broadcast batch dims
        batch = _broadcast_batch(sa[:-2], sb[:-2])
        if k_a != k_b:
            n = int(np.prod(batch))
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{n}, {k_a}] but got: [{n}, {k_b}].")
    out = MatMul.apply(a, b)
    if out.grad_fn is not None:
        out.grad_fn.ndims = (da, db)       # PyTorch's node names per path: _functions/names.py
    return out


def _legacy(t):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[t._dtype.name]
