"""Reductions: sum, mean, amax/amin, max/min with indices, argmax/argmin, var (and std)."""
import numpy as np

from tinytensor import return_types

from tinytensor._kernels import reduce as K
from tinytensor._tensor import as_dtype, bool_, int64, wrap_dim
from tinytensor._promotion import get_default_dtype
from tinytensor._tensor_type import Tensor, _c, _oom, _wrap
from tinytensor.autograd.function import Function


def _dims(x, dim):
    """Normalise `dim` (None, int, or a tuple/list of ints) to a sorted tuple of axes."""
    n = x.ndim
    if dim is None:
        return tuple(range(n))
    if isinstance(dim, (tuple, list)):
        axes = tuple(wrap_dim(d, n) for d in dim)
        if len(set(axes)) != len(axes):
            dup = next(a for i, a in enumerate(axes) if a in axes[:i])
            raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
        if n == 0:
            return ()                 # a 0-d tensor reduced over dim 0 or -1 is itself (PyTorch)
        return tuple(sorted(axes)) if axes else tuple(range(n))
    wrap_dim(dim, n)
    return (wrap_dim(dim, n),) if n else ()


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_grad(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes, as a contiguous array."""
    gy = g._numpy()
    if not keepdim and len(axes) != len(shape):
        gy = gy.reshape(_kept_shape(shape, axes))     # (a full reduction's 0-d result broadcasts)
    out = np.empty(shape, gy.dtype)
    np.copyto(out, gy)               # (broadcast_to(...).copy() cost 2.5 us on small tensors)
    return out


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        a = x._numpy()
        if dtype is not None:
            a = a.astype(dtype.np_dtype)
        elif not x._dtype.is_floating_point:
            a = a.astype(np.int64)            # bool and int sum as int64, as PyTorch
        ctx.shape, ctx.axes, ctx.keepdim = x._shape, axes, keepdim
        return _wrap(K.sum(a, axes, keepdim))

    @staticmethod
    def backward(ctx, g):
        return _wrap(_expand_grad(g, ctx.shape, ctx.axes, ctx.keepdim)), None, None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        a = x._numpy() if dtype is None else x._numpy().astype(dtype.np_dtype)
        count = 1
        for ax in axes:
            count *= x._shape[ax]
        ctx.shape, ctx.axes, ctx.keepdim, ctx.count = x._shape, axes, keepdim, count
        s = K.sum(a, axes, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _wrap(_c(s / s.dtype.type(count) if count else s * np.nan))

    @staticmethod
    def backward(ctx, g):
        gx = _expand_grad(g, ctx.shape, ctx.axes, ctx.keepdim)
        return _wrap(_c(gx / gx.dtype.type(ctx.count))), None, None, None


class AMax(Function):
    """amax/amin (and max()/min() over everything): ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, kind):
        a = x._numpy()
        fn = np.max if kind == "max" else np.min
        out = _c(fn(a, axis=axes, keepdims=keepdim))
        ctx.axes, ctx.keepdim = axes, keepdim
        result = _wrap(out)
        ctx.save_for_backward(x, result)      # the returned tensor: in-place changes are seen
        return result

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        a = x._numpy()
        o = out._numpy() if ctx.keepdim else out._numpy().reshape(_kept_shape(a.shape, ctx.axes))
        mask = (a == o) | (np.isnan(a) & np.isnan(o))
        count = mask.sum(axis=ctx.axes, keepdims=True)
        gy = _expand_grad(g, a.shape, ctx.axes, ctx.keepdim)
        return _wrap(_c(np.where(mask, gy / count, 0).astype(gy.dtype))), None, None, None


class MaxDim(Function):
    """max(dim)/min(dim) -> (values, indices); the gradient goes to the index position."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, kind):
        a = x._numpy()
        arg = np.argmax if kind == "max" else np.argmin
        idx = arg(a, axis=dim, keepdims=True)
        vals = np.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            idx, vals = idx.squeeze(dim), vals.squeeze(dim)
        ctx.shape, ctx.dim, ctx.keepdim = x._shape, dim, keepdim
        indices = _wrap(_c(idx.astype(np.int64)))
        ctx.save_for_backward(indices)       # returned to the user: in-place changes are seen
        ctx.mark_non_differentiable(indices)
        return _wrap(_c(vals)), indices

    @staticmethod
    def backward(ctx, g, _gi):
        (indices,) = ctx.saved_tensors
        gy, idx = g._numpy(), indices._numpy()
        if not ctx.keepdim:
            gy, idx = np.expand_dims(gy, ctx.dim), np.expand_dims(idx, ctx.dim)
        gx = np.zeros(ctx.shape, gy.dtype)
        np.put_along_axis(gx, idx, gy, axis=ctx.dim)
        return _wrap(gx), None, None, None


class Var(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        a = x._numpy()
        count = 1
        for ax in axes:
            count *= x._shape[ax]
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, max(count - correction, 0)
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = a.mean(axis=axes, keepdims=True)
            d = a - mean
            s = K.sum(d * d, axes, keepdim)
            return _wrap(_c(s / s.dtype.type(ctx.denom)))

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved_tensors[0]            # Std saves its result after it
        a = x._numpy()
        gy = _expand_grad(g, a.shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = a - a.mean(axis=ctx.axes, keepdims=True)
            gx = gy * (d * (a.dtype.type(2) / a.dtype.type(ctx.denom)))
        return _wrap(_c(gx.astype(a.dtype))), None, None, None


class Std(Function):
    """sqrt(var); where the result is 0 the gradient is 0, as PyTorch's std_backward (the chain
    rule through sqrt would give 0 * inf = nan)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        var = Var.forward(ctx, x, axes, keepdim, correction)._numpy()
        with np.errstate(invalid="ignore"):
            out = _wrap(_c(np.sqrt(var)))
        ctx.save_for_backward(x, out)        # the returned tensor: in-place changes are seen
        return out

    @staticmethod
    def backward(ctx, g):
        gy, s = g._numpy(), ctx.saved_tensors[1]._numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            gv = np.where(s == 0, gy.dtype.type(0), gy / (gy.dtype.type(2) * s))
        return Var.backward(ctx, _wrap(_c(gv.astype(gy.dtype, copy=False))))


# ---------------------------------------------------------------------- entry points

def sum(x, dim, keepdim, dtype):
    return Sum.apply(x, _dims(x, dim), keepdim, None if dtype is None else as_dtype(dtype))


def mean(x, dim, keepdim, dtype):
    dt = None if dtype is None else as_dtype(dtype)
    if not (x._dtype.is_floating_point or (dt is not None and dt.is_floating_point)):
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: "
                           f"{ {'int64': 'Long', 'bool': 'Bool'}.get(x._dtype.name, x._dtype.name)}")
    return Mean.apply(x, _dims(x, dim), keepdim, dt)


def _check_nonempty(x, axes, name):
    for ax in axes:
        if x._shape[ax] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {ax} to have non-zero size.")
    if x.numel() == 0 and not axes:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")


def amax(x, dim, keepdim, kind):
    axes = _dims(x, dim if dim != () else None)
    _check_nonempty(x, axes, "a" + kind)
    return AMax.apply(x, axes, keepdim, kind)


MaxResult = return_types.max
MinResult = return_types.min


@_oom()
def all_any(x, dim, keepdim, kind):
    """all()/any(), over every element or along `dim`: a bool tensor."""
    fn = np.all if kind == "all" else np.any
    axes = _dims(x, dim)
    return _wrap(_c(fn(x._numpy(), axis=axes, keepdims=bool(keepdim) and dim is not None)))


def max_min(x, dim, keepdim, kind):
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return AMax.apply(x, tuple(range(x.ndim)), False, kind)
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return (MaxResult if kind == "max" else MinResult)(x.clone(), _wrap(np.zeros((), np.int64)))
    _check_nonempty(x, (d,), kind)
    vals, idx = MaxDim.apply(x, d, keepdim, kind)
    return (MaxResult if kind == "max" else MinResult)(vals, idx)


@_oom()
def argmax(x, dim, keepdim, kind):
    a = x._numpy()
    fn = np.argmax if kind == "max" else np.argmin
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"arg{kind}(): Expected reduction dim to be specified for input.numel() == 0.")
        r = np.asarray(fn(a.reshape(-1)))
        return _wrap(r.reshape((1,) * x.ndim) if keepdim else r.reshape(()))
    d = wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return _wrap(np.zeros((), np.int64))
    _check_nonempty(x, (d,), "arg" + kind)
    return _wrap(_c(fn(a, axis=d, keepdims=keepdim).astype(np.int64)))


def var(x, dim, unbiased, keepdim, correction):
    if not x._dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if isinstance(dim, bool):                 # var(False) in the old positional form
        dim, correction = None, (1 if dim else 0)
    return Var.apply(x, _dims(x, dim), keepdim, correction)


def std(x, dim, unbiased, keepdim, correction):
    if not x._dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if isinstance(dim, bool):
        dim, correction = None, (1 if dim else 0)
    return Std.apply(x, _dims(x, dim), keepdim, correction)
