"""matmul with NumPy's rules (1-D promotion, broadcast batch dimensions), through BLAS.

NumPy's matmul calls its OpenBLAS GEMM on the zero-copy views of our storage (measured in
benchmarks/bench_core.py against a Cython GEMM call), with the BLAS thread pool capped by
tt.set_num_threads.
"""
import numpy as np

from tinytensor.autograd.function import Function
from tinytensor.tensor import Tensor, _c, _wrap


class MatMul(Function):
    """1-D operands are promoted to matrices ((n,) -> (1, n) on the left, (n, 1) on the right)
    and the added dimension is dropped from the result, so backward is the matrix case only.
    Broadcast batch dimensions are summed away by the engine."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.a1, ctx.b1 = a.ndim == 1, b.ndim == 1
        return _wrap(_c(np.matmul(a._numpy(), b._numpy())))

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
            ga = np.matmul(gy, np.swapaxes(bb, -1, -2))
            ga = _wrap(_c(ga[..., 0, :] if ctx.a1 else ga))
        if ctx.needs_input_grad[1]:
            aa = a._numpy()[None, :] if ctx.a1 else a._numpy()
            gb = np.matmul(np.swapaxes(aa, -1, -2), gy)
            gb = _wrap(_c(gb[..., 0] if ctx.b1 else gb))
        return ga, gb


def matmul(a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(b if isinstance(a, Tensor) else a).__name__}")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a._dtype.name} != {b._dtype.name}")
    if not a._dtype.is_floating_point and a._dtype.name == "bool":
        raise RuntimeError('"addmm_impl_cpu_" not implemented for \'Bool\'')
    k_a = a._shape[-1]
    k_b = b._shape[-2] if b.ndim > 1 else b._shape[0]
    if k_a != k_b:
        if a.ndim <= 2 and b.ndim <= 2:
            sa = a._shape if a.ndim == 2 else (1,) + a._shape
            sb = b._shape if b.ndim == 2 else b._shape + (1,)
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[0]}x{sa[1]} and "
                               f"{sb[0]}x{sb[1]})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a._shape[-1]}] but got: [{k_b}] (matmul of {list(a._shape)} and "
                           f"{list(b._shape)}).")
    try:
        np.broadcast_shapes(a._shape[:-2], b._shape[:-2])
    except ValueError:
        raise RuntimeError(f"The size of tensor a must match the size of tensor b at the batch "
                           f"dimensions: matmul of {list(a._shape)} and {list(b._shape)}") from None
    return MatMul.apply(a, b)
