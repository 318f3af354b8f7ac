"""Batch normalisation as one Function with an analytic backward.

Statistics are over every axis but 1 (N, *spatial). In training mode the batch mean and biased
variance normalise; backward is the closed form
    dx = invstd / m * (m * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)),  dxhat = g * weight
with m the number of elements per channel. In eval mode the (constant) running statistics
normalise and dx = g * weight * invstd.
"""
import numpy as np

from tinytensor._tensor_type import _c, _wrap
from tinytensor.autograd.function import Function


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _bshape(ndim, c):
    return (1, c) + (1,) * (ndim - 2)


class BatchNormFunction(Function):
    """forward(ctx, input, weight, bias, mean, invstd, training, eps, stats).

    `mean`/`invstd` are NumPy arrays: the running statistics in eval mode, None in training mode,
    where the batch mean and biased variance are computed here and stored in the dict `stats`
    (keys "mean", "var") for the caller's running update.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, mean, invstd, training, eps, stats):
        x = input._numpy()
        dt = x.dtype
        axes = _axes(x.ndim)
        shp = _bshape(x.ndim, x.shape[1])
        if training:
            mean = x.mean(axis=axes, dtype=dt)
            xc = x - mean.reshape(shp)
            var = np.mean(np.square(xc), axis=axes, dtype=dt)
            invstd = (1.0 / np.sqrt(var + eps)).astype(dt)
            stats["mean"], stats["var"] = mean, var
            xhat = xc
            xhat *= invstd.reshape(shp)
        else:
            xhat = (x - mean.astype(dt).reshape(shp)) * invstd.astype(dt).reshape(shp)
        if weight is not None:
            y = xhat * weight._numpy().reshape(shp)
        else:
            y = xhat.copy()
        if bias is not None:
            y += bias._numpy().reshape(shp)
        if any(ctx.needs_input_grad):
            ctx.xhat = xhat
            ctx.invstd = invstd.astype(dt)
            ctx.training = training
            ctx.save_for_backward(weight)
        return _wrap(_c(y))

    @staticmethod
    def backward(ctx, g):
        (weight,) = ctx.saved_tensors
        ga = g._numpy()
        xhat = ctx.xhat
        axes = _axes(ga.ndim)
        shp = _bshape(ga.ndim, ga.shape[1])
        gsum = ga.sum(axis=axes)
        gxhat_sum = (ga * xhat).sum(axis=axes)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            scale = ctx.invstd if weight is None else ctx.invstd * weight._numpy()
            if ctx.training:
                m = ga.size // ga.shape[1]
                gx = ga - (gsum / m).reshape(shp) - xhat * (gxhat_sum / m).reshape(shp)
                gx *= scale.reshape(shp)
            else:
                gx = ga * scale.reshape(shp)
            gx = _wrap(_c(gx.astype(ga.dtype, copy=False)))
        if weight is not None and ctx.needs_input_grad[1]:
            gw = _wrap(_c(gxhat_sum.astype(ga.dtype, copy=False)))
        if ctx.needs_input_grad[2]:
            gb = _wrap(_c(gsum.astype(ga.dtype, copy=False)))
        return gx, gw, gb, None, None, None, None, None
