"""Loss functions as fused forward/backward pairs.

Inputs arrive as (N, C) or (C,) or (N, C, d1, ...); every Function folds them to a 2-D (R, C)
array of rows (the class axis last) so one code path serves all ranks, and unfolds gradients.
Targets and weights are NumPy arrays validated by `tinytensor.nn.functional.loss`; the
arrays may share memory with the caller's tensors, which arrive too (`guard`) and are saved,
so that an in-place change to a target or weight after forward makes backward refuse, as
PyTorch's version counter does.
"""
import numpy as np

from tinytensor._tensor_type import _c, _wrap
from tinytensor.autograd.function import Function


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


# ---------------------------------------------------------------------------------------------
# Pointwise losses (issue 11): loss_i = w_i * f(x_i, t_i), then reduced.


class _PointwiseLossFunction(Function):
    """Base of the elementwise losses. forward(ctx, input, target, weight, reduction, denom,
    *params): input and target arrive with one shape and dtype (the functional broadcast them);
    `weight` is a NumPy array broadcastable to that shape, or None. A subclass gives
    `_f(x, t, need_dx, need_dt, *params) -> (loss, dloss/dx, dloss/dt)`, the derivatives only
    when asked, all computed in one pass over the arrays. reduction 'none' keeps the shape,
    'sum' sums, 'mean' divides the sum by `denom` (numel; the batch for KL's 'batchmean')."""

    @staticmethod
    def forward(ctx, input, target, weight, reduction, denom, *params):
        x, t = input._numpy(), target._numpy()
        dt = x.dtype
        need_dx, need_dt = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        with np.errstate(all="ignore"):
            loss, dx, dtg = type(ctx)._f(x, t, need_dx, need_dt, *params)
            if weight is not None:
                w = weight.astype(dt, copy=False)
                loss = loss * w
                dx = None if dx is None else dx * w
                dtg = None if dtg is None else dtg * w
        loss = np.asarray(loss, dt)
        if need_dx or need_dt:
            ctx.dx, ctx.dt, ctx.reduction, ctx.denom = dx, dtg, reduction, denom
            ctx.n_params = len(params)
        if reduction == "none":
            return _wrap(_c(loss))
        total = loss.sum(dtype=dt)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = dt.type(total / dt.type(denom))
        return _wrap(_c(np.asarray(total, dt)))

    @staticmethod
    def backward(ctx, g):
        ga = g._numpy()
        dt = ga.dtype
        if ctx.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                ga = dt.type(ga.reshape(()) / dt.type(ctx.denom))
        elif ctx.reduction == "sum":
            ga = ga.reshape(())
        out = []
        for d in (ctx.dx, ctx.dt):
            out.append(None if d is None else _wrap(_c(np.asarray(d * ga, dt))))
        return tuple(out) + (None,) * (3 + ctx.n_params)


_LOG_MIN = -100.0     # PyTorch clamps BCE's logs at -100, so a 0 or 1 prediction costs 100


class BCEFunction(_PointwiseLossFunction):
    """loss = -(t max(log x, -100) + (1 - t) max(log(1 - x), -100));
    dx = (x - t) / max(x (1 - x), 1e-12) (PyTorch's backward); dt = log(1 - x) - log(x),
    unclamped as PyTorch's (+-inf at x = 0 or 1)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt):
        lx, l1x = np.log(x), np.log1p(-x)
        loss = -(t * np.maximum(lx, _LOG_MIN) + (1 - t) * np.maximum(l1x, _LOG_MIN))
        dx = (x - t) / np.maximum(x * (1 - x), 1e-12) if need_dx else None
        return loss, dx, (l1x - lx if need_dt else None)


class BCEWithLogitsFunction(_PointwiseLossFunction):
    """loss = (1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0)): stable for any x;
    dx = (1 - t) - (1 + (pw - 1) t) sigmoid(-x); dt = -x + (pw - 1) softplus(-x).
    `pos_weight` (a params entry) is an array broadcastable to x, or None."""

    @staticmethod
    def _f(x, t, need_dx, need_dt, pos_weight):
        sp = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)        # softplus(-x)
        if pos_weight is None:
            loss = (1 - t) * x + sp
            dx = 1 / (1 + np.exp(-x)) - t if need_dx else None
            return loss, dx, (-x if need_dt else None)
        pw = pos_weight.astype(x.dtype, copy=False)
        lw = 1 + (pw - 1) * t
        loss = (1 - t) * x + lw * sp
        dx = (1 - t) - lw / (1 + np.exp(x)) if need_dx else None
        return loss, dx, (-x + (pw - 1) * sp if need_dt else None)


class L1Function(_PointwiseLossFunction):
    """loss = |x - t|; dx = sign(x - t) (0 at a tie, as PyTorch); dt = -dx."""

    @staticmethod
    def _f(x, t, need_dx, need_dt):
        d = x - t
        s = np.sign(d) if (need_dx or need_dt) else None
        return np.abs(d), s, (None if s is None or not need_dt else -s)


class SmoothL1Function(_PointwiseLossFunction):
    """loss = 0.5 d^2 / beta for |d| < beta, else |d| - 0.5 beta (beta == 0: |d|)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt, beta):
        d = x - t
        ad = np.abs(d)
        if beta == 0:
            loss, g = ad, np.sign(d)
        else:
            quad = ad < beta
            loss = np.where(quad, 0.5 * d * d / beta, ad - 0.5 * beta)
            g = np.where(quad, d / beta, np.sign(d))
        return loss, (g if need_dx else None), (-g if need_dt else None)


class HuberFunction(_PointwiseLossFunction):
    """loss = 0.5 d^2 for |d| < delta, else delta (|d| - 0.5 delta); dx = clamp(d, +-delta)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt, delta):
        d = x - t
        ad = np.abs(d)
        loss = np.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
        g = np.clip(d, -delta, delta)
        return loss, (g if need_dx else None), (-g if need_dt else None)


class KLDivFunction(_PointwiseLossFunction):
    """log_target False: loss = t (log t - x), 0 where t == 0 (xlogy); dx = -t,
    dt = log t + 1 - x. log_target True: loss = exp(t) (t - x); dx = -exp(t),
    dt = exp(t) (t - x + 1)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt, log_target):
        if log_target:
            et = np.exp(t)
            loss = et * (t - x)
            return loss, (-et if need_dx else None), (et * (t - x + 1) if need_dt else None)
        logt = np.log(t)
        loss = np.where(t == 0, t.dtype.type(0), t * logt) - t * x
        loss = np.where(np.isnan(t), t, loss)
        return loss, (-t if need_dx else None), (logt + 1 - x if need_dt else None)


class SoftMarginFunction(_PointwiseLossFunction):
    """loss = log(1 + exp(-t x)) (stable); dx = -t sigmoid(-t x); dt = -x sigmoid(-t x)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt):
        z = -t * x
        loss = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0)
        s = 1 / (1 + np.exp(-z)) if (need_dx or need_dt) else None
        return loss, (-t * s if need_dx else None), (-x * s if need_dt else None)


class HingeEmbeddingFunction(_PointwiseLossFunction):
    """loss = x where t != -1, plus max(0, margin - x) where t != 1 (PyTorch's composite);
    dx = [t != -1] - [t != 1][margin - x >= 0]. No gradient reaches the target (PyTorch's
    composite only selects with it)."""

    @staticmethod
    def _f(x, t, need_dx, need_dt, margin):
        not_pos, not_neg = t != 1, t != -1
        m = margin - x
        loss = np.where(not_pos, np.maximum(m, 0), 0) + np.where(not_neg, x, 0)
        dx = not_neg.astype(x.dtype) - (not_pos & (m >= 0)) if need_dx else None
        return loss, dx, None
