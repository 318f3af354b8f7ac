"""Activations and softmax: forward/backward pairs on NumPy views of the operands.

Each forward computes in the input's dtype and saves only what the analytic gradient needs
(the output for relu/softmax/log_softmax, a mask for dropout).
"""
import numpy as np

from tinytensor.autograd.function import Function
from tinytensor.tensor import _c, _wrap


def _max_keep(a, dim):
    """a.max(axis=dim, keepdims=True); an empty `a` (NumPy's max has no identity to start
    from) gives an empty result of that shape, so that softmax of an empty tensor is empty."""
    if a.size == 0:
        return np.zeros(a.shape[:dim] + (1,) + a.shape[dim + 1:] if a.ndim else (), a.dtype)
    return a.max(axis=dim, keepdims=True)


class ReLUFunction(Function):
    """y = max(x, 0); dy/dx = 1 where y > 0 (0 at x == 0, as PyTorch). NaN propagates."""

    @staticmethod
    def forward(ctx, x):
        a = x._numpy()
        y = np.maximum(a, 0) if a.dtype.kind == "f" else np.maximum(a, a.dtype.type(0))
        out = _wrap(_c(y))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ga = g._numpy()
        gx = ga * (y._numpy() > 0)
        return _wrap(_c(gx.astype(ga.dtype, copy=False)))


class LeakyReLUFunction(Function):
    """y = x for x > 0, else slope * x."""

    @staticmethod
    def forward(ctx, x, slope):
        a = x._numpy()
        pos = a > 0
        y = np.where(pos, a, a * a.dtype.type(slope)).astype(a.dtype, copy=False)
        if ctx.needs_input_grad[0]:
            ctx.pos = pos
            ctx.slope = slope
        return _wrap(_c(y))

    @staticmethod
    def backward(ctx, g):
        ga = g._numpy()
        gx = np.where(ctx.pos, ga, ga * ga.dtype.type(ctx.slope))
        return _wrap(_c(gx)), None


class SoftmaxFunction(Function):
    """y = exp(x - max) / sum(exp(x - max)) along `dim`; dx = y * (g - sum(g * y))."""

    @staticmethod
    def forward(ctx, x, dim):
        a = x._numpy()
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(a - _max_keep(a, dim))
            e /= e.sum(axis=dim, keepdims=True)
        out = _wrap(_c(e))
        ctx.dim = dim
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ya, ga = y._numpy(), g._numpy()
        gy = ga * ya
        gx = gy - ya * gy.sum(axis=ctx.dim, keepdims=True)
        return _wrap(_c(gx)), None


class LogSoftmaxFunction(Function):
    """y = x - max - log(sum(exp(x - max))) along `dim`; dx = g - exp(y) * sum(g)."""

    @staticmethod
    def forward(ctx, x, dim):
        a = x._numpy()
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            z = a - _max_keep(a, dim)
            z -= np.log(np.exp(z).sum(axis=dim, keepdims=True))
        out = _wrap(_c(z))
        ctx.dim = dim
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ga = g._numpy()
        gx = ga - np.exp(y._numpy()) * ga.sum(axis=ctx.dim, keepdims=True)
        return _wrap(_c(gx)), None


class DropoutFunction(Function):
    """y = x * mask / (1 - p); the same mask scales the gradient."""

    @staticmethod
    def forward(ctx, x, mask):
        y = x._numpy() * mask
        ctx.mask = mask
        return _wrap(_c(y))

    @staticmethod
    def backward(ctx, g):
        return _wrap(_c(g._numpy() * ctx.mask)), None
