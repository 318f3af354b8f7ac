"""matmul with NumPy's rules (1-D promotion, broadcast batch dimensions), on our own GEMM.

Each 2-D product of at least _OWN_MIN_MACS multiply-adds runs on tinytensor's own GEMM for its
dtype (`_own_gemm`: the convolutions' GEMM) on tt.get_num_threads() OpenMP threads.
Its threads split the rows of the result, and every element is computed the same way
whichever thread computes it, so results are bitwise identical for any thread count (tests:
test_matmul_threads.py). Smaller products and other dtypes use NumPy's matmul: its BLAS runs products that small on one thread, and tinytensor never
changes the BLAS's own thread setting (that belongs to the user).
"""
import numpy as np

from tinytensor import _threads
from tinytensor._kernels import conv as _kc
from tinytensor._tensor_type import Tensor, _c, _wrap
from tinytensor.autograd.function import Function

# Multiply-adds of one 2-D product from which our GEMM runs it (below: NumPy). Our GEMM packs
# whole 32-column panels, which costs more than BLAS's small-matrix kernels on products this
# small (32x512x10: 18 vs 6 us). OpenBLAS runs a GEMM of at most 2**18 multiply-adds on one
# thread; its matrix-vector products may use its own threads (at the user's setting, which
# does not depend on tt.set_num_threads, so results still do not).
_OWN_MIN_MACS = 1 << 18
# Multiply-adds per thread below which more threads do not pay for waking them.
_MACS_PER_THREAD = 1 << 20


def _own_gemm(dtype):
    """Our GEMM for this dtype, called as gemm(a, b, c, accumulate, n_threads), or None."""
    if dtype in (np.float32, np.float64):
        return _kc.variant_gemm
    return None


def _mm(x, y):
    """np.matmul of two arrays with >= 2 dims, bitwise independent of the thread count."""
    m, k, n = x.shape[-2], x.shape[-1], y.shape[-1]
    if x.ndim == 2 and y.ndim == 2:      # (broadcast_shapes costs microseconds)
        if m * n * k < _OWN_MIN_MACS and x.dtype == y.dtype:
            return np.matmul(x, y)       # the small product, at NumPy's own cost
        batch = ()
    else:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    dtype = x.dtype if x.dtype == y.dtype else np.result_type(x, y)
    out = np.empty(batch + (m, n), dtype)
    gemm = _own_gemm(dtype) if m * n * k >= _OWN_MIN_MACS and x.dtype == y.dtype else None
    if gemm is None:
        np.matmul(x, y, out=out)
        return out
    threads = max(1, min(_threads.get_num_threads(), m * n * k // _MACS_PER_THREAD))
    if not batch:
        gemm(x, y, out, False, threads)
        return out
    xb, yb = np.broadcast_to(x, batch + (m, k)), np.broadcast_to(y, batch + (k, n))
    for i in np.ndindex(*batch):
        gemm(xb[i], yb[i], out[i], False, threads)
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
