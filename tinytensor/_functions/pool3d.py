"""3-D adaptive pooling and the root step of power-average (LP) pooling.

`tinytensor.nn.functional.pooling` has validated every argument. Adaptive pools run the kernels
of `tinytensor._kernels.adaptive3d` on C-contiguous (P, D, H, W) planes; the max pool's backward
is the max-pool scatter of `tinytensor._functions.pool` on the flat winners it returns.
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._functions.pool import _max_scatter, _planes
from tinytensor._kernels import adaptive3d as _k
from tinytensor._tensor_type import _c, _wrap, from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


class AdaptiveAvgPool3dFunction(Function):
    """Mean over bins [floor(i*n/o), ceil((i+1)*n/o)) of the last three dims."""

    @staticmethod
    def forward(ctx, input, output_size):
        x, lead = _planes(input, 3)
        out = alloc((x.shape[0],) + tuple(output_size), x.dtype)
        if out.size:
            _k.adaptive_avg3d_forward(x, out, get_num_threads())
        ctx.planes_shape = x.shape
        ctx.input_shape = tuple(input.shape)
        return from_numpy(out.reshape(lead + tuple(output_size)))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None
        P = ctx.planes_shape[0]
        go = np.ascontiguousarray(grad_output._numpy())
        go = go.reshape((P,) + go.shape[go.ndim - 3:])
        gi = np.empty(ctx.planes_shape, go.dtype)
        _k.adaptive_avg3d_backward(go, gi, get_num_threads())
        return from_numpy(gi.reshape(ctx.input_shape)), None


class AdaptiveMaxPool3dFunction(Function):
    """Max over the same bins; returns (values, flat (d*H + h)*W + w indices)."""

    @staticmethod
    def forward(ctx, input, output_size):
        x, lead = _planes(input, 3)
        P = x.shape[0]
        out = alloc((P,) + tuple(output_size), x.dtype)
        idx = alloc(out.shape, np.int64)
        if out.size:
            _k.adaptive_max3d_forward(x, out, idx, get_num_threads())
        shape = lead + tuple(output_size)
        indices = from_numpy(idx.reshape(shape))
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        ctx.input_shape = tuple(input.shape)
        ctx.n_planes = P
        return from_numpy(out.reshape(shape)), indices

    @staticmethod
    def backward(ctx, grad_output, grad_indices=None):
        if not ctx.needs_input_grad[0]:
            return None, None
        (indices,) = ctx.saved_tensors
        return _max_scatter(grad_output, indices._numpy(), ctx.input_shape, ctx.n_planes), None


class LPRootFunction(Function):
    """y = (k * s) ** (1/p), s the window means of x**p: PyTorch's
    (sign(s) * relu(|s|)).mul(k).pow(1/p), whose gradient is 0 where s == 0 (a window of
    zeros), else (1/p) k (k s) ** (1/p - 1)."""

    @staticmethod
    def forward(ctx, s, k, p):
        a = s._numpy()
        if a.dtype.kind != "f":          # integer window sums: a float power gives float32
            a = a.astype(np.float32)
        with np.errstate(all="ignore"):
            y = np.power(a * k, 1.0 / p)
            if ctx.needs_input_grad[0]:
                ctx.d = np.where(a == 0, 0, (k / p) * np.power(a * k, 1.0 / p - 1)).astype(
                    a.dtype, copy=False)
        return _wrap(_c(np.asarray(y).astype(a.dtype, copy=False)))

    @staticmethod
    def backward(ctx, g):
        ga = g._numpy()
        return _wrap(_c(np.asarray(ga * ctx.d, ga.dtype))), None, None
