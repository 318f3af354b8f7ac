"""Loss functions as fused forward/backward pairs.

Inputs arrive as (N, C) or (C,) or (N, C, d1, ...); every Function folds them to a 2-D (R, C)
array of rows (the class axis last) so one code path serves all ranks, and unfolds gradients.
Targets and weights are NumPy arrays validated by `tinytensor.nn.functional.loss`; the
arrays may share memory with the caller's tensors, which arrive too (`guard`) and are saved,
so that an in-place change to a target or weight after forward makes backward refuse, as
PyTorch's version counter does.
"""
import numpy as np

from tinytensor.autograd.function import Function
from tinytensor.tensor import _c, _wrap


def _to_rows(a):
    """(C,) -> (1, C); (N, C) -> itself; (N, C, *d) -> (N * prod(d), C)."""
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim == 2:
        return a
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _from_rows(g2, shape):
    """The inverse of _to_rows, C-contiguous."""
    if len(shape) <= 2:
        return np.ascontiguousarray(g2.reshape(shape))
    n, c = shape[0], shape[1]
    g = g2.reshape((n,) + tuple(shape[2:]) + (c,))
    return np.ascontiguousarray(np.moveaxis(g, -1, 1))


def _log_softmax_rows(x2):
    """(log_softmax, softmax) of each row, stable: z = x - max, logp = z - log(sum(exp(z)))."""
    if x2.size == 0:                  # no rows or no classes: NumPy's max has no identity
        return x2.copy(), x2.copy()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        z = x2 - x2.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        logp = z - np.log(s)
        e /= s
    return logp, e


def _pick(x2, ti):
    """x2[i, ti[i]] for every row i; zeros when there are no classes (every target is then
    ignore_index, as F.*'s checks made sure, and ti holds 0 for those rows)."""
    if x2.shape[1] == 0:
        return np.zeros(x2.shape[0], x2.dtype)
    return x2[np.arange(x2.shape[0]), ti]


def _reduce(loss, denom, reduction, out_shape):
    if reduction == "none":
        return loss.reshape(out_shape)
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / denom).astype(loss.dtype)


def _grad_scale(g, reduction, denom, rows, dt):
    """dL/dloss_i as a column vector (R, 1) or a scalar."""
    ga = g._numpy()
    if reduction == "none":
        return ga.reshape(rows, 1).astype(dt, copy=False)
    scale = ga.reshape(()).astype(dt)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = (scale / denom).astype(dt)
    return scale


class CrossEntropyFunction(Function):
    """Fused log_softmax + nll_loss for class-index targets.

    forward(ctx, input, target (R,) int64, weight (C,) or None, ignore_index, reduction,
    label_smoothing, out_shape). Per row: loss = w_t * (-logp[t]) (times 1 - eps, plus
    eps / C * sum_c(-w_c logp_c) with label smoothing); ignored rows are 0 and leave the 'mean'
    denominator sum(w_t). The gradient is the closed form w_t (softmax - onehot) (+ smoothing).
    """

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, eps, out_shape, guard=()):
        a = input._numpy()
        dt = a.dtype
        x2 = _to_rows(a)
        rows, c = x2.shape
        logp, p = _log_softmax_rows(x2)
        valid = target != ignore_index
        # the common case (no weights, no smoothing, nothing ignored) skips the masks
        simple = weight is None and eps == 0 and bool(valid.all())
        if simple:
            ti, wt = target, None
            loss = -_pick(logp, ti)
            denom = dt.type(rows)
        else:
            ti = np.where(valid, target, 0)
            wt = (weight[ti] * valid).astype(dt) if weight is not None else valid.astype(dt)
            loss = -_pick(logp, ti) * wt
            if eps > 0:
                smooth = -(logp @ weight.astype(dt)) if weight is not None else -logp.sum(axis=1)
                loss = loss * dt.type(1 - eps) + smooth * valid * dt.type(eps / c if c else 0.0)
            denom = wt.sum(dtype=dt)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(*guard)
            ctx.p, ctx.ti, ctx.wt, ctx.valid, ctx.simple = p, ti, wt, valid, simple
            ctx.weight, ctx.eps, ctx.reduction, ctx.denom = weight, eps, reduction, denom
            ctx.shape = a.shape
        return _wrap(_c(_reduce(loss, denom, reduction, out_shape)))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                # refuses if the target or weight changed in place
        p, ti, wt, valid, eps = ctx.p, ctx.ti, ctx.wt, ctx.valid, ctx.eps
        rows, c = p.shape
        dt = p.dtype
        scale = _grad_scale(g, ctx.reduction, ctx.denom, rows, dt)
        if ctx.simple:                   # (softmax - onehot) * dL/dloss
            grad = p.copy()
            if c:
                grad[np.arange(rows), ti] -= 1
            grad *= scale
            return (_wrap(_from_rows(grad, ctx.shape)),) + (None,) * 7
        k = wt * dt.type(1 - eps)
        grad = p * k[:, None]
        if c:
            grad[np.arange(rows), ti] -= k
        if eps > 0:
            w = ctx.weight
            vm = valid.astype(dt)[:, None] * dt.type(eps / c if c else 0.0)
            if w is None:
                grad += (p * dt.type(c) - 1) * vm
            else:
                w = w.astype(dt)
                grad += (p * w.sum(dtype=dt) - w) * vm
        with np.errstate(invalid="ignore"):
            grad *= scale
        if not valid.all():
            grad[~valid] = 0         # ignored rows get 0, also when the mean is 0/0 (nan)
        return (_wrap(_from_rows(grad, ctx.shape)),) + (None,) * 7


class CrossEntropyProbFunction(Function):
    """Cross-entropy with class-probability targets (same shape as the input).

    loss_i = -sum_c w_c q_ic logp_ic with q = (1 - eps) * target + eps / C; 'mean' divides by
    the number of rows. Gradients flow to the input and to the target.
    """

    @staticmethod
    def forward(ctx, input, target, weight, reduction, eps, out_shape, guard=()):
        a = input._numpy()
        dt = a.dtype
        x2 = _to_rows(a)
        rows, c = x2.shape
        logp, p = _log_softmax_rows(x2)
        q = _to_rows(target._numpy()).astype(dt, copy=False)
        if eps > 0:
            q = q * dt.type(1 - eps) + dt.type(eps / c if c else 0.0)
        wq = q * weight.astype(dt) if weight is not None else q
        loss = -(wq * logp).sum(axis=1)
        denom = dt.type(rows) if c else dt.type(np.nan)     # PyTorch: numel / C
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(target, *guard)   # wq may share the target's memory
            ctx.p, ctx.wq, ctx.logp, ctx.weight = p, wq, logp, weight
            ctx.eps, ctx.reduction, ctx.denom = eps, reduction, denom
            ctx.shape, ctx.tshape = a.shape, target.shape
        return _wrap(_c(_reduce(loss, denom, reduction, out_shape)))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                # refuses if the target or weight changed in place
        p, wq = ctx.p, ctx.wq
        rows, c = p.shape
        dt = p.dtype
        scale = _grad_scale(g, ctx.reduction, ctx.denom, rows, dt)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            grad = p * wq.sum(axis=1, keepdims=True) - wq
            grad *= scale
            gx = _wrap(_from_rows(grad, ctx.shape))
        if ctx.needs_input_grad[1]:
            w = ctx.weight.astype(dt) if ctx.weight is not None else dt.type(1)
            grad_t = -ctx.logp * w * dt.type(1 - ctx.eps) * scale
            gt = _wrap(_from_rows(np.asarray(grad_t, dt), tuple(ctx.tshape)))
        return (gx, gt) + (None,) * 5


class NLLLossFunction(Function):
    """loss_i = -w_t * input[i, t_i]; ignored rows are 0 and leave the 'mean' denominator."""

    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, out_shape, guard=()):
        a = input._numpy()
        dt = a.dtype
        x2 = _to_rows(a)
        rows = x2.shape[0]
        valid = target != ignore_index
        ti = np.where(valid, target, 0)
        wt = (weight[ti] * valid).astype(dt) if weight is not None else valid.astype(dt)
        loss = -_pick(x2, ti) * wt
        denom = wt.sum(dtype=dt)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(*guard)
            ctx.ti, ctx.wt, ctx.reduction, ctx.denom = ti, wt, reduction, denom
            ctx.shape, ctx.rows_shape, ctx.valid = a.shape, x2.shape, valid
        return _wrap(_c(_reduce(loss, denom, reduction, out_shape)))

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors                # refuses if the target or weight changed in place
        rows, c = ctx.rows_shape
        dt = ctx.wt.dtype
        scale = _grad_scale(g, ctx.reduction, ctx.denom, rows, dt)
        grad = np.zeros((rows, c), dt)
        with np.errstate(invalid="ignore"):
            vals = -ctx.wt * (scale.reshape(-1) if np.ndim(scale) else scale)
        vals[~ctx.valid] = 0         # ignored rows get 0, also when the mean is 0/0 (nan)
        if c:
            grad[np.arange(rows), ctx.ti] = vals
        return (_wrap(_from_rows(grad, ctx.shape)),) + (None,) * 6


class MseLossFunction(Function):
    """forward(ctx, input, target, reduction) -> (input - target)^2, reduced ('none', 'mean',
    'sum'); input and target share a floating dtype, target may broadcast against input.

    One node for the loss, as PyTorch's MseLossBackward0: backward is 2 (input - target) g
    (divided by the element count for 'mean'); the engine sums a broadcast target's gradient.
    """

    @staticmethod
    def forward(ctx, input, target, reduction):
        d = np.subtract(input._numpy(), target._numpy())
        sq = d * d
        if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
            ctx.d, ctx.reduction = d, reduction
        if reduction == "none":
            return _wrap(_c(sq))
        if reduction == "sum":
            out = sq.sum()
        else:                             # the mean of nothing is NaN, as in PyTorch
            out = sq.mean() if sq.size else np.nan
        return _wrap(np.asarray(out, d.dtype))

    @staticmethod
    def backward(ctx, g):
        d = ctx.d
        dt = d.dtype
        gy = g._numpy()
        if ctx.reduction == "mean":
            gy = gy / dt.type(d.size) if d.size else gy
        gd = (dt.type(2) * d * gy).astype(dt, copy=False)
        gi = _wrap(_c(gd)) if ctx.needs_input_grad[0] else None
        gt = _wrap(_c(-gd)) if ctx.needs_input_grad[1] else None
        return gi, gt, None
