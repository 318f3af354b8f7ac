"""Activations and softmax: forward/backward pairs on NumPy views of the operands.

Each forward computes in the input's dtype and saves only what the analytic gradient needs
(the output for relu/softmax/log_softmax, a mask for dropout, the local derivative dy/dx for
the pointwise activations).
"""
import math
import numbers

import numpy as np

from tinytensor._args import check_tensor, scalar_name
from tinytensor._kernels import activation as _k
from tinytensor._kernels import elementwise as _K
from tinytensor._tensor import wrap_dim
from tinytensor._tensor_type import _c, _wrap
from tinytensor._threads import get_num_threads
from tinytensor.autograd.function import Function


def _max_keep(a, dim):
    """a.max(axis=dim, keepdims=True); an empty `a` (NumPy's max has no identity to start
    from) gives an empty result of that shape, so that softmax of an empty tensor is empty."""
    if a.size == 0:
        return np.zeros(a.shape[:dim] + (1,) + a.shape[dim + 1:] if a.ndim else (), a.dtype)
    return a.max(axis=dim, keepdims=True)


class ReLUFunction(Function):
    """y = max(x, 0); dy/dx = 1 where y > 0 (0 at x == 0, as PyTorch). NaN propagates, and
    the gradient passes where the output is NaN (PyTorch's threshold_backward: 0 where
    y <= 0, else the gradient, so an infinite gradient never meets a 0 * inf)."""

    @staticmethod
    def forward(ctx, x):
        a = x._numpy()
        # floats: the elementwise kernel (the same values as np.maximum, NaN kept; 1.5 us less
        # per call on small tensors); other dtypes: NumPy
        y = _K.unary("relu", a) if a.dtype.kind == "f" else np.maximum(a, a.dtype.type(0))
        out = _wrap(_c(y))
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        ga, ya = g._numpy(), y._numpy()
        if ga.dtype.kind == "f" and ya.dtype == ga.dtype:
            return _wrap(_K.unary_backward("relu", ga, ya))    # one threaded pass
        return _wrap(_c(np.where(ya <= 0, ga.dtype.type(0), ga)))


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


def softmax(name, input, dim, dtype):
    """softmax or log_softmax (`name`) of `input` along `dim`, after PyTorch's checks: the one
    entry of F.softmax, Tensor.softmax and tinytensor.softmax (and their log_ forms)."""
    check_tensor(name, "input", 1, input)
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise NotImplementedError(f'"{name}_lastdim_kernel_impl" not implemented for '
                                  f"'{scalar_name(input)}'")
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = wrap_dim(int(dim), input.ndim) if input.ndim else wrap_dim(int(dim), 0)
    fn = SoftmaxFunction if name == "softmax" else LogSoftmaxFunction
    if input.ndim == 0:
        return fn.apply(input.reshape(1), 0).reshape(())
    return fn.apply(input, d)


class DropoutFunction(Function):
    """y = x * mask (+ shift); the same mask scales the gradient.

    `mask` (and `shift`) broadcast against x: the input's shape for dropout, (N, C, 1, ...) for
    channel dropout. Dropout's mask is keep / (1 - p); alpha dropout's is keep * a with
    shift = a * alpha' * (p - 1 + keep) (F.alpha_dropout builds both)."""

    @staticmethod
    def forward(ctx, x, mask, shift=None):
        y = x._numpy() * mask
        if shift is not None:
            y += shift
        ctx.mask = mask
        return _wrap(_c(y))

    @staticmethod
    def backward(ctx, g):
        return _wrap(_c(g._numpy() * ctx.mask)), None, None


# ---------------------------------------------------------------------------------------------
# Pointwise activations: y = f(x; params) elementwise.


class _PointwiseFunction(Function):
    """Base of the pointwise activations. A subclass gives `_f(a, grad, *params)`, returning
    y and (when `grad`) dy/dx as NumPy arrays of the input's dtype, both computed in one
    forward pass; backward is then g * dy/dx. Saving the derivative (a fresh array, or a
    boolean mask for the piecewise-linear ones) rather than the input keeps the gradient
    right after an in-place call has overwritten the input with the output.

    The Python-float parameters stay weak scalars in NumPy 2 arithmetic, so float32 stays
    float32. Overflow in a branch np.where discards (exp of a large x) is expected: errstate
    silences it."""

    # A subclass naming an op of _kernels/activation.pyx (OPS) computes float32/float64 there:
    # y and dy/dx in one vectorised pass (NumPy's chains of temporaries were 3-20x slower than
    # PyTorch); `_kernel_params(*params)` gives its three parameters.
    _kernel = None

    @staticmethod
    def _kernel_params(*params):
        return (params + (0.0, 0.0, 0.0))[:3]

    @staticmethod
    def forward(ctx, x, *params):
        a = x._numpy()
        grad = ctx.needs_input_grad[0]
        cls = type(ctx)
        if cls._kernel is not None and a.dtype in _KERNEL_DTYPES:
            a = _c(a)
            y = np.empty_like(a)
            d = np.empty_like(a) if grad else _KERNEL_DTYPES[a.dtype]
            _k.pointwise(_k.OPS[cls._kernel], a.reshape(-1), y.reshape(-1), d.reshape(-1),
                         *[float(p) for p in cls._kernel_params(*params)], get_num_threads())
        else:
            with np.errstate(all="ignore"):
                y, d = cls._f(a, grad, *params)
        if grad:
            ctx.d = d
            ctx.n_params = len(params)
        return _wrap(_c(np.asarray(y, a.dtype)))

    @staticmethod
    def backward(ctx, g):
        ga = g._numpy()
        d = ctx.d
        with np.errstate(all="ignore"):
            gx = np.where(d, ga, ga.dtype.type(0)) if d.dtype == np.bool_ else ga * d
        return (_wrap(_c(np.asarray(gx, ga.dtype))),) + (None,) * ctx.n_params


_KERNEL_DTYPES = {np.dtype(np.float32): np.empty(0, np.float32),
                  np.dtype(np.float64): np.empty(0, np.float64)}   # dtype -> "no d" marker


def _sigmoid(a):
    """1 / (1 + exp(-a)): exp overflows to inf for a < -88 (float32), giving exactly 0."""
    return 1 / (1 + np.exp(-a))


class HardtanhFunction(_PointwiseFunction):
    """y = clamp(x, lo, hi); dy/dx = 1 strictly inside (lo, hi) and at NaN, as PyTorch's
    hardtanh_backward (`x <= lo or x >= hi ? 0 : g`). relu6 is hardtanh(0, 6)."""

    _kernel = "hardtanh"

    @staticmethod
    def _f(a, grad, lo, hi):
        if a.dtype.kind != "f":                      # int64: PyTorch clamps with int bounds
            return np.clip(a, a.dtype.type(lo), a.dtype.type(hi)), None
        y = np.clip(a, lo, hi)
        return y, (~((a <= lo) | (a >= hi)) if grad else None)


class ThresholdFunction(_PointwiseFunction):
    """y = x if x > threshold else value; dy/dx = 0 where x <= threshold."""

    @staticmethod
    def _f(a, grad, threshold, value):
        low = a <= threshold
        y = np.where(low, a.dtype.type(value), a)
        return y, (~low if grad else None)


class EluFunction(_PointwiseFunction):
    """PyTorch's elu with (alpha, scale, input_scale): ELU (a, 1, 1), SELU (alpha_s, scale_s,
    1), CELU (a, 1, 1/a). y = scale * x for x > 0, else alpha * expm1(input_scale * x)."""

    _kernel = "elu"

    @staticmethod
    def _f(a, grad, alpha, scale, input_scale):
        pos = a > 0
        e = np.exp(a * input_scale) if grad else None
        y = np.where(pos, a * scale, alpha * np.expm1(a * input_scale))
        return y, (np.where(pos, a.dtype.type(scale), e * (alpha * input_scale))
                   if grad else None)


class GeluFunction(_PointwiseFunction):
    """Exact GELU x * Phi(x) in a Cython kernel with our own vectorised erf (NumPy has none;
    libm's is scalar); approximate='tanh' 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in
    NumPy."""

    @staticmethod
    def forward(ctx, x, approximate):
        if approximate == "tanh":
            return _PointwiseFunction.forward(ctx, x, approximate)
        a = _c(x._numpy())                  # C order, and 0-d stays 0-d
        y = np.empty_like(a)
        _k.gelu_forward(a.reshape(-1), y.reshape(-1), get_num_threads())
        if ctx.needs_input_grad[0]:
            ctx.x = a.copy() if np.shares_memory(a, x._numpy()) else a
        ctx.n_params = 1
        return _wrap(y)

    @staticmethod
    def backward(ctx, g):
        if getattr(ctx, "x", None) is None:
            return _PointwiseFunction.backward(ctx, g)
        ga = _c(g._numpy())
        gx = np.empty_like(ga)
        _k.gelu_backward(ctx.x.reshape(-1), ga.reshape(-1), gx.reshape(-1), get_num_threads())
        return _wrap(gx), None

    @staticmethod
    def _f(a, grad, approximate):
        k_beta, k_kappa = math.sqrt(2 / math.pi), 0.044715
        t = np.tanh(k_beta * (a + k_kappa * a * a * a))
        y = 0.5 * a * (1 + t)
        if not grad:
            return y, None
        return y, 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * k_beta * (1 + 3 * k_kappa * a * a)


class SiluFunction(_PointwiseFunction):
    """y = x sigmoid(x); dy/dx = s (1 + x (1 - s))."""

    _kernel = "silu"

    @staticmethod
    def _f(a, grad):
        s = _sigmoid(a)
        return a * s, (s * (1 + a * (1 - s)) if grad else None)


class MishFunction(_PointwiseFunction):
    """y = x tanh(softplus(x)); dy/dx = t + x sigmoid(x) (1 - t^2)."""

    _kernel = "mish"

    @staticmethod
    def _f(a, grad):
        t = np.tanh(np.logaddexp(a.dtype.type(0), a))
        return a * t, (t + a * _sigmoid(a) * (1 - t * t) if grad else None)


class HardswishFunction(_PointwiseFunction):
    """y = x relu6(x + 3) / 6; dy/dx = 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on
    (PyTorch's hardswish_backward, the kinks included)."""

    _kernel = "hardswish"

    @staticmethod
    def _f(a, grad):
        y = a * np.clip(a + 3, 0, 6) / 6
        if not grad:
            return y, None
        return y, np.where(a <= -3, a.dtype.type(0), np.where(a < 3, a / 3 + 0.5, 1))


class HardsigmoidFunction(_PointwiseFunction):
    """y = relu6(x + 3) / 6; dy/dx = 1/6 strictly inside (-3, 3)."""

    _kernel = "hardsigmoid"

    @staticmethod
    def _f(a, grad):
        y = np.clip(a + 3, 0, 6) / 6
        if not grad:
            return y, None
        return y, np.where((a > -3) & (a < 3), a.dtype.type(1 / 6), a.dtype.type(0))


class SoftplusFunction(_PointwiseFunction):
    """y = log1p(exp(beta x)) / beta, or x where beta x > threshold (PyTorch's rule);
    dy/dx = sigmoid(beta x), or 1 above the threshold."""

    _kernel = "softplus"

    @staticmethod
    def _f(a, grad, beta, threshold):
        z = a * beta
        lin = z > threshold
        y = np.where(lin, a, np.log1p(np.exp(z)) / beta)
        return y, (np.where(lin, a.dtype.type(1), _sigmoid(z)) if grad else None)


class SoftsignFunction(_PointwiseFunction):
    """y = x / (1 + |x|); dy/dx = 1 / (1 + |x|)^2."""

    @staticmethod
    def _f(a, grad):
        q = 1 / (1 + np.abs(a))
        return a * q, (q * q if grad else None)


class LogSigmoidFunction(_PointwiseFunction):
    """y = min(x, 0) - log1p(exp(-|x|)) (no overflow either side); dy/dx = sigmoid(-x)."""

    _kernel = "logsigmoid"

    @staticmethod
    def _f(a, grad):
        e = np.exp(-np.abs(a))
        y = np.minimum(a, 0) - np.log1p(e)
        return y, (np.where(a < 0, 1, e) / (1 + e) if grad else None)


class TanhshrinkFunction(_PointwiseFunction):
    """y = x - tanh(x); dy/dx = tanh(x)^2."""

    @staticmethod
    def _f(a, grad):
        t = np.tanh(a)
        return a - t, (t * t if grad else None)


class SoftshrinkFunction(_PointwiseFunction):
    """y = x - lambd for x > lambd, x + lambd for x < -lambd, else 0 (NaN stays NaN);
    dy/dx = 0 inside [-lambd, lambd]."""

    @staticmethod
    def _f(a, grad, lambd):
        inside = (a >= -lambd) & (a <= lambd)
        return a - np.clip(a, -lambd, lambd), (~inside if grad else None)


class HardshrinkFunction(_PointwiseFunction):
    """y = 0 inside [-lambd, lambd], else x; dy/dx the same mask."""

    @staticmethod
    def _f(a, grad, lambd):
        inside = (a >= -lambd) & (a <= lambd)
        return np.where(inside, a.dtype.type(0), a), (~inside if grad else None)


class PReLUFunction(Function):
    """y = x for x > 0, else w * x, with w one value or one per channel (dim 1; F.prelu has
    checked the shapes). dx = g where x > 0, else w g; dw = sum of g x where x <= 0 over every
    dim but the channel."""

    @staticmethod
    def forward(ctx, x, weight):
        a, w = x._numpy(), weight._numpy()
        wb = w.reshape((1, -1) + (1,) * (a.ndim - 2)) if w.size > 1 else w.reshape(())
        pos = a > 0
        y = np.where(pos, a, a * wb)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, weight)
            ctx.pos, ctx.wb = pos, wb
        return _wrap(_c(np.asarray(y, a.dtype)))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        ga = g._numpy()
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = _wrap(_c(np.where(ctx.pos, ga, ga * ctx.wb).astype(ga.dtype, copy=False)))
        if ctx.needs_input_grad[1]:
            contrib = np.where(ctx.pos, ga.dtype.type(0), ga * x._numpy())
            if weight.numel() > 1:
                axes = (0,) + tuple(range(2, contrib.ndim))
                s = contrib.sum(axis=axes, dtype=ga.dtype)
            else:
                s = contrib.sum(dtype=ga.dtype)
            gw = _wrap(_c(np.asarray(s, ga.dtype).reshape(tuple(weight.shape))))
        return gx, gw
