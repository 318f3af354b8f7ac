"""Batch normalisation as one Function over the fused kernels of _kernels/norm.pyx.

Statistics are per channel (dim 1) over every other axis. In training mode the batch mean and
biased variance normalise, and the backward is the closed form
    dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * weight;
in eval mode the (constant) running statistics normalise and dx = g * weight * invstd. One
threaded pass computes the statistics and another the output (one channel per task), and the
backward takes two passes over x and g: the per-channel sums, then dx. As PyTorch, the input
is saved for backward (xhat is recomputed from it), so changing it in place before backward
is refused.
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._functions.norm import _flat, _owned
from tinytensor._kernels import norm as _k
from tinytensor._tensor_type import _wrap
from tinytensor._threads import get_num_threads
from tinytensor.autograd.function import Function


def _as_ncs(a):
    """a (N, C, *) as a C-contiguous (N, C, S) array."""
    a = np.ascontiguousarray(a)
    return a.reshape(a.shape[0], a.shape[1], -1) if a.size else a.reshape(a.shape[:2] + (0,))


class BatchNormFunction(Function):
    """forward(ctx, input, weight, bias, mean, invstd, training, eps, stats).

    `mean`/`invstd` are NumPy arrays: the running statistics in eval mode, None in training mode,
    where the batch mean and biased variance are computed here and stored in the dict `stats`
    (keys "mean", "var", in the input's dtype) for the caller's running update; an empty
    input has none, and leaves `stats` empty.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, mean, invstd, training, eps, stats):
        x = _as_ncs(input._numpy())
        dt = x.dtype
        c = x.shape[1]
        y = alloc(x.shape, dt)
        var = np.empty(c, np.float64)
        if training:
            mean, invstd = np.full(c, np.nan), np.full(c, np.nan)
        else:
            mean = np.ascontiguousarray(mean, np.float64)
            invstd = np.ascontiguousarray(invstd, np.float64)
        if x.size or not training:
            _k.batch_norm_forward(x, _flat(weight, dt), _flat(bias, dt), weight is not None,
                                  bias is not None, training, eps, y, mean, var, invstd,
                                  get_num_threads())
        if training and x.size:                 # no values: no statistics (PyTorch)
            stats["mean"], stats["var"] = mean.astype(dt), var.astype(dt)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(input, weight)
            ctx.mean, ctx.invstd, ctx.training = mean, invstd, training
        return _owned(y, input.shape)

    @staticmethod
    def backward(ctx, g):
        input, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        x = _as_ncs(input._numpy())
        dt = x.dtype
        go = _as_ncs(g._numpy()).astype(dt, copy=False)
        c = x.shape[1]
        gx = alloc(x.shape, dt) if need_x else np.empty((0, 0, 0), dt)
        dw, db = np.empty(c, np.float64), np.empty(c, np.float64)
        _k.batch_norm_backward(x, go, _flat(weight, dt), weight is not None, ctx.training,
                               ctx.mean, ctx.invstd, gx, dw, db, get_num_threads())
        return (_owned(gx, input.shape) if need_x else None,
                _wrap(dw.astype(dt)) if weight is not None and need_w else None,
                _wrap(db.astype(dt)) if need_b else None,
                None, None, None, None, None)
