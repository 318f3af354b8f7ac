"""UpsampleFunction: nearest, nearest-exact and (bi/tri)linear interpolation, one spatial axis
at a time.

Every mode is separable: along each spatial axis an output position reads one input position
(nearest) or two with weights lambda0 + lambda1 = 1 (linear). `axis_plan` computes those
indices and weights with PyTorch's arithmetic (aten/src/ATen/native/UpSample.h), including
its float32 scales, so the same output positions pick the same sources; the forward gathers
along the last axis first, then the one before (PyTorch's nesting order for 2-D and 3-D), and
the backward is the exact adjoint: a scatter-add of each gather, axes in reverse order.
Sources are non-decreasing in the output position, so the scatter is a segmented sum
(np.add.reduceat) in output order: deterministic, independent of the thread count.
"""
import numpy as np

from tinytensor._tensor_type import from_numpy
from tinytensor.autograd import Function


def _scale_value(scale, n_in, n_out, dtype):
    """compute_scales_value: 1 / scale_factor when one was given, else in / out, in `dtype`."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(n_in) / dtype(n_out)


def axis_plan(mode, n_in, n_out, scale, align_corners, dtype):
    """None (identity), or (i0, lambda0, i1, lambda1) (lambdas None for nearest modes)."""
    if mode == "nearest":
        if n_out == n_in:
            return None
        if n_out == 2 * n_in:
            return np.arange(n_out, dtype=np.int64) >> 1, None, None, None
        s = _scale_value(scale, n_in, n_out, np.float32)
        src = np.arange(n_out).astype(np.float32) * s                 # float32 product
    elif mode == "nearest-exact":
        s = _scale_value(scale, n_in, n_out, np.float32)
        # (dst + 0.5) is a double in PyTorch's C++; floorf rounds the product to float
        src = ((np.arange(n_out, dtype=np.float64) + 0.5) * np.float64(s)).astype(np.float32)
    else:
        if n_out == n_in:
            return None
        op = np.dtype(dtype).type                                      # opmath: the input's type
        if align_corners:
            ratio = op(n_in - 1) / op(n_out - 1) if n_out > 1 else op(0)
            real = np.arange(n_out).astype(op) * ratio
        else:
            ratio = _scale_value(scale, n_in, n_out, op)
            real = ratio * (np.arange(n_out).astype(op) + op(0.5)) - op(0.5)
            real = np.where(real < 0, op(0), real)
        i0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
        lam1 = np.minimum(np.maximum(real - i0.astype(op), op(0)), op(1))
        i1 = i0 + (i0 < n_in - 1)
        return i0, (op(1) - lam1).astype(op), i1, lam1.astype(op)
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1), None, None, None


def _along(w, axis, ndim):
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


def _gather(x, axis, plan):
    i0, l0, i1, l1 = plan
    a = np.take(x, i0, axis=axis)
    if l0 is None:
        return a
    a *= _along(l0, axis, x.ndim)
    b = np.take(x, i1, axis=axis)
    b *= _along(l1, axis, x.ndim)
    a += b
    return a


def _scatter(g, axis, index, n_in, out):
    """out[..., index[j], ...] += g[..., j, ...] along `axis`; index non-decreasing."""
    uniq, starts = np.unique(index, return_index=True)
    sums = np.add.reduceat(g, starts, axis=axis)
    sl = [slice(None)] * g.ndim
    sl[axis] = uniq
    out[tuple(sl)] += sums


def _gather_adjoint(g, axis, plan, n_in):
    i0, l0, i1, l1 = plan
    shape = list(g.shape)
    shape[axis] = n_in
    out = np.zeros(shape, g.dtype)
    if l0 is None:
        _scatter(g, axis, i0, n_in, out)
        return out
    _scatter(g * _along(l0, axis, g.ndim), axis, i0, n_in, out)
    _scatter(g * _along(l1, axis, g.ndim), axis, i1, n_in, out)
    return out


class UpsampleFunction(Function):
    """forward(ctx, input, plans): `plans[k]` is axis_plan(...) for spatial axis k (None:
    identity); F.interpolate has validated the arguments and built the plans."""

    @staticmethod
    def forward(ctx, input, plans):
        y = input._numpy()
        for k in reversed(range(len(plans))):
            if plans[k] is not None:
                y = _gather(y, 2 + k, plans[k])
        ctx.plans, ctx.in_shape = plans, tuple(input.shape)
        return from_numpy(np.ascontiguousarray(y) if y is not input._numpy() else y.copy())

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None
        g = grad_output._numpy()
        for k in range(len(ctx.plans)):
            if ctx.plans[k] is not None:
                g = _gather_adjoint(g, 2 + k, ctx.plans[k], ctx.in_shape[2 + k])
        return from_numpy(np.ascontiguousarray(g) if g is not grad_output._numpy()
                          else g.copy()), None
