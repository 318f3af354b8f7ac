"""linear: y = x W^T + b as one GEMM on a 2-D view of the input, with an analytic backward.

The GEMMs go through matmul's `_mm`: BLAS on one thread per piece, pieces fixed by the shapes,
so results are bitwise identical for any thread count (see tinytensor/_threads.py).
"""
from tinytensor._functions.matmul import _mm
from tinytensor._tensor_type import _c, _wrap
from tinytensor.autograd.function import Function


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
        y = _mm(a2, w.T)
        if bias is not None:
            y += bias._numpy()
        needs = ctx.needs_input_grad
        if needs[0] or needs[1]:
            ctx.save_for_backward(x if needs[1] else None, weight if needs[0] else None)
        ctx.lead, ctx.has_bias = lead, bias is not None
        if a.ndim == 2 and y.flags.c_contiguous:
            return _wrap(y)                  # the common 2-D call: y is a fresh result
        return _wrap(_c(y.reshape(lead + (w.shape[0],)) if a.ndim != 2 else y))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        ga = g._numpy()
        g2 = ga.reshape(-1, ga.shape[-1]) if ga.ndim != 2 else ga
        gx = gw = gb = None
        if needs[0]:
            w = weight._numpy()
            gx = _mm(g2, w)
            gx = _wrap(_c(gx.reshape(ctx.lead + (w.shape[1],)) if ga.ndim != 2 else gx))
        if needs[1]:
            a = x._numpy()
            a2 = a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a
            gw = _wrap(_c(_mm(g2.T, a2)))
        if len(needs) > 2 and needs[2]:
            gb = _wrap(_c(g2.sum(axis=0)))
        return gx, gw, gb
