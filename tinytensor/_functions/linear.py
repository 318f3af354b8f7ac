"""linear: y = x W^T + b as one GEMM on a 2-D view of the input, with an analytic backward.

The GEMMs run on NumPy's BLAS capped at one thread (the conv kernels' cap). LeNet's fc layers
are small (64 x 256 x 200 multiply-adds at batch 64), and a multi-threaded OpenBLAS right
after an OpenMP region fights the still-spinning OpenMP threads for the cores: measured on a
shared 2-core machine, a batch-64 training step took 176 ms with the pool at 2 threads and 54 ms
with it capped (median of 12 alternating rounds). Below _CAP_MIN_MACS the cap is skipped: the
GEMM is too small for BLAS to split, and entering the cap costs ~14 us.
"""
import contextlib

from tinytensor.autograd.function import Function
from tinytensor.tensor import _c, _wrap


_CAP_MIN_MACS = 1 << 18


def _blas_cap(macs):
    if macs < _CAP_MIN_MACS:
        return contextlib.nullcontext()
    from tinytensor._functions.conv import _blas_single_thread
    return _blas_single_thread()


class LinearFunction(Function):
    """forward(ctx, input (*, in), weight (out, in), bias (out,) or None) -> (*, out).

    The leading dims are folded into one (a view when the input is contiguous), so forward is a
    single BLAS GEMM against W^T (a transposed view: no copy) plus an in-place bias add.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        a = x._numpy()
        w = weight._numpy()
        lead = a.shape[:-1]
        a2 = a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a
        with _blas_cap(a2.shape[0] * a2.shape[1] * w.shape[0]):
            y = a2 @ w.T
        if bias is not None:
            y += bias._numpy()
        needs = ctx.needs_input_grad
        if needs[0] or needs[1]:
            ctx.save_for_backward(x if needs[1] else None, weight if needs[0] else None)
        ctx.lead = lead
        return _wrap(_c(y.reshape(lead + (w.shape[0],)) if a.ndim != 2 else y))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        ga = g._numpy()
        g2 = ga.reshape(-1, ga.shape[-1]) if ga.ndim != 2 else ga
        gx = gw = gb = None
        with _blas_cap(g2.size * (weight if weight is not None else x).shape[-1]):
            if needs[0]:
                w = weight._numpy()
                gx = g2 @ w
                gx = _wrap(_c(gx.reshape(ctx.lead + (w.shape[1],)) if ga.ndim != 2 else gx))
            if needs[1]:
                a = x._numpy()
                a2 = a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a
                gw = _wrap(_c(g2.T @ a2))
        if len(needs) > 2 and needs[2]:
            gb = _wrap(_c(g2.sum(axis=0)))
        return gx, gw, gb
