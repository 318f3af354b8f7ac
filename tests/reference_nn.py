"""Float64 references for the nn layers, written from the definitions with plain loops.

Nothing here shares code with tinytensor: each output element is computed on its own.
"""
import math

import numpy as np


def linear(x, w, b=None):
    n, k = x.shape
    o = w.shape[0]
    y = np.zeros((n, o))
    for i in range(n):
        for j in range(o):
            acc = 0.0
            for t in range(k):
                acc += x[i, t] * w[j, t]
            y[i, j] = acc + (b[j] if b is not None else 0.0)
    return y


def softmax_rows(x):
    out = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[0]):
        m = max(x[i])
        e = [math.exp(v - m) for v in x[i]]
        s = sum(e)
        out[i] = [v / s for v in e]
    return out


def log_softmax_rows(x):
    out = np.zeros_like(x, dtype=np.float64)
    for i in range(x.shape[0]):
        m = max(x[i])
        s = sum(math.exp(v - m) for v in x[i])
        out[i] = [v - m - math.log(s) for v in x[i]]
    return out


def cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """x (N, C) logits, t (N,) class indices. Returns (loss, dloss/dx) for sum/mean, or
    (per-row losses, None) for 'none'."""
    n, c = x.shape
    logp = log_softmax_rows(x)
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    losses = np.zeros(n)
    denom = 0.0
    for i in range(n):
        if t[i] == ignore_index:
            continue
        wt = w[t[i]]
        nll = -wt * logp[i, t[i]]
        smooth = -sum(w[j] * logp[i, j] for j in range(c)) / c
        losses[i] = (1 - label_smoothing) * nll + label_smoothing * smooth
        denom += wt
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / denom if denom else float("nan")


def cross_entropy_grad(x, t, weight=None, ignore_index=-100, reduction="mean",
                       label_smoothing=0.0):
    """d(loss)/dx for 'sum' or 'mean' by the closed form, row by row."""
    n, c = x.shape
    p = softmax_rows(x)
    w = np.ones(c) if weight is None else np.asarray(weight, np.float64)
    g = np.zeros((n, c))
    denom = 0.0
    for i in range(n):
        if t[i] == ignore_index:
            continue
        wt = w[t[i]]
        denom += wt
        for j in range(c):
            onehot = 1.0 if j == t[i] else 0.0
            g[i, j] = ((1 - label_smoothing) * wt * (p[i, j] - onehot)
                       + label_smoothing / c * (p[i, j] * w.sum() - w[j]))
    return g / denom if reduction == "mean" else g


def batch_norm_train(x, weight, bias, eps):
    """(N, C, H, W): per-channel batch mean and biased variance."""
    n, c, h, w = x.shape
    y = np.zeros_like(x, dtype=np.float64)
    means, variances = np.zeros(c), np.zeros(c)
    for ch in range(c):
        vals = [x[i, ch, a, b] for i in range(n) for a in range(h) for b in range(w)]
        m = sum(vals) / len(vals)
        v = sum((u - m) ** 2 for u in vals) / len(vals)
        means[ch], variances[ch] = m, v
        for i in range(n):
            for a in range(h):
                for b in range(w):
                    y[i, ch, a, b] = (x[i, ch, a, b] - m) / math.sqrt(v + eps) * weight[ch] \
                        + bias[ch]
    return y, means, variances


# ---------------------------------------------------------------------------------------------
# Pointwise activations (issue 11): value and derivative of one float, with the math module.
# Each entry: name -> (f(v, **kw), df(v, **kw)). Derivatives at the kinks follow PyTorch's
# choice (documented next to each).

def _sig(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _softplus(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _gelu_tanh(v):
    return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))


def _gelu_tanh_d(v):
    k = math.sqrt(2 / math.pi)
    t = math.tanh(k * (v + 0.044715 * v ** 3))
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v)


ACTIVATIONS = {
    # hardtanh: gradient 1 strictly inside the bounds (0 on them)
    "hardtanh": (lambda v, min_val=-1.0, max_val=1.0: min(max(v, min_val), max_val),
                 lambda v, min_val=-1.0, max_val=1.0: 1.0 if min_val < v < max_val else 0.0),
    "relu6": (lambda v: min(max(v, 0.0), 6.0), lambda v: 1.0 if 0 < v < 6 else 0.0),
    "threshold": (lambda v, threshold, value: v if v > threshold else value,
                  lambda v, threshold, value: 1.0 if v > threshold else 0.0),
    "elu": (lambda v, alpha=1.0: v if v > 0 else alpha * (math.exp(v) - 1),
            lambda v, alpha=1.0: 1.0 if v > 0 else alpha * math.exp(v)),
    "celu": (lambda v, alpha=1.0: max(0.0, v) + min(0.0, alpha * (math.exp(v / alpha) - 1)),
             lambda v, alpha=1.0: 1.0 if v > 0 else math.exp(v / alpha)),
    "selu": (lambda v: SELU_SCALE * (v if v > 0 else SELU_ALPHA * (math.exp(v) - 1)),
             lambda v: SELU_SCALE * (1.0 if v > 0 else SELU_ALPHA * math.exp(v))),
    "gelu": (lambda v: v * 0.5 * (1 + math.erf(v / math.sqrt(2))),
             lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))
             + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": (_gelu_tanh, _gelu_tanh_d),
    "silu": (lambda v: v * _sig(v), lambda v: _sig(v) * (1 + v * (1 - _sig(v)))),
    "mish": (lambda v: v * math.tanh(_softplus(v)),
             lambda v: math.tanh(_softplus(v))
             + v * _sig(v) * (1 - math.tanh(_softplus(v)) ** 2)),
    # hardswish: PyTorch's gradient is 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on
    "hardswish": (lambda v: v * min(max(v + 3, 0.0), 6.0) / 6,
                  lambda v: 0.0 if v <= -3 else (v / 3 + 0.5 if v < 3 else 1.0)),
    "hardsigmoid": (lambda v: min(max(v + 3, 0.0), 6.0) / 6,
                    lambda v: 1 / 6 if -3 < v < 3 else 0.0),
    "softplus": (lambda v, beta=1.0, threshold=20.0:
                 v if v * beta > threshold else math.log1p(math.exp(v * beta)) / beta,
                 lambda v, beta=1.0, threshold=20.0: 1.0 if v * beta > threshold else _sig(v * beta)),
    "softsign": (lambda v: v / (1 + abs(v)), lambda v: 1 / (1 + abs(v)) ** 2),
    "logsigmoid": (lambda v: -_softplus(-v), lambda v: _sig(-v)),
    "tanhshrink": (lambda v: v - math.tanh(v), lambda v: math.tanh(v) ** 2),
    "softshrink": (lambda v, lambd=0.5: v - lambd if v > lambd else (v + lambd if v < -lambd else 0.0),
                   lambda v, lambd=0.5: 1.0 if abs(v) > lambd else 0.0),
    "hardshrink": (lambda v, lambd=0.5: v if abs(v) > lambd else 0.0,
                   lambda v, lambd=0.5: 1.0 if abs(v) > lambd else 0.0),
}


def activation(name, x, **kw):
    """(y, dy/dx) elementwise, float64."""
    f, df = ACTIVATIONS[name]
    flat = np.asarray(x, np.float64).reshape(-1)
    y = np.array([f(float(v), **kw) for v in flat]).reshape(np.shape(x))
    d = np.array([df(float(v), **kw) for v in flat]).reshape(np.shape(x))
    return y, d


def prelu(x, w):
    """(y, dy/dx, dsum(g*y)/dw for g of ones) with w one value or one per channel (dim 1)."""
    x = np.asarray(x, np.float64)
    y = np.zeros_like(x)
    dx = np.zeros_like(x)
    dw = np.zeros(len(w))
    for idx in np.ndindex(x.shape):
        c = 0 if len(w) == 1 else idx[1]
        v = x[idx]
        y[idx] = v if v > 0 else w[c] * v
        dx[idx] = 1.0 if v > 0 else w[c]
        dw[c] += 0.0 if v > 0 else v
    return y, dx, dw


# ---------------------------------------------------------------------------------------------
# Pointwise losses: per element (loss, dloss/dinput, dloss/dtarget).

def _bce(x, t):
    lx = math.log(x) if x > 0 else float("-inf")
    l1x = math.log(1 - x) if x < 1 else float("-inf")
    loss = -(t * max(lx, -100.0) + (1 - t) * max(l1x, -100.0))
    return loss, (x - t) / max(x * (1 - x), 1e-12), l1x - lx


def _bce_logits(x, t, pw=1.0):
    lw = 1 + (pw - 1) * t
    return ((1 - t) * x + lw * _softplus(-x), (1 - t) - lw * _sig(-x),
            -x + (pw - 1) * _softplus(-x))


def _sign(v):
    return (v > 0) - (v < 0)


def _smooth_l1(x, t, beta=1.0):
    d = x - t
    if abs(d) < beta:
        return 0.5 * d * d / beta, d / beta, -d / beta
    return abs(d) - 0.5 * beta, _sign(d), -_sign(d)


def _huber(x, t, delta=1.0):
    d = x - t
    if abs(d) < delta:
        return 0.5 * d * d, d, -d
    return delta * (abs(d) - 0.5 * delta), delta * _sign(d), -delta * _sign(d)


def _kl(x, t, log_target=False):
    if log_target:
        return math.exp(t) * (t - x), -math.exp(t), math.exp(t) * (t - x + 1)
    return ((t * math.log(t) if t > 0 else 0.0) - t * x, -t,
            (math.log(t) + 1 - x) if t > 0 else float("-inf"))


def _soft_margin(x, t):
    return _softplus(-t * x), -t * _sig(-t * x), -x * _sig(-t * x)


def _hinge(x, t, margin=1.0):
    loss = (x if t != -1 else 0.0) + (max(0.0, margin - x) if t != 1 else 0.0)
    dx = (1.0 if t != -1 else 0.0) - (1.0 if t != 1 and margin - x >= 0 else 0.0)
    return loss, dx, 0.0


POINTWISE_LOSSES = {"binary_cross_entropy": _bce, "binary_cross_entropy_with_logits": _bce_logits,
                    "l1_loss": lambda x, t: (abs(x - t), _sign(x - t), -_sign(x - t)),
                    "smooth_l1_loss": _smooth_l1, "huber_loss": _huber, "kl_div": _kl,
                    "soft_margin_loss": _soft_margin, "hinge_embedding_loss": _hinge}


def pointwise_loss(name, x, t, reduction="mean", weight=None, denom=None, **kw):
    """(loss, dloss/dx, dloss/dt) for same-shape x, t; `weight` broadcast to x; 'mean' divides
    by `denom` (default numel)."""
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    w = np.ones_like(x) if weight is None else np.broadcast_to(np.asarray(weight, np.float64),
                                                                x.shape)
    per = np.zeros_like(x)
    dx = np.zeros_like(x)
    dt = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        l, a, b = POINTWISE_LOSSES[name](float(x[idx]), float(t[idx]), **kw)
        per[idx], dx[idx], dt[idx] = w[idx] * l, w[idx] * a, w[idx] * b
    if reduction == "none":
        return per, dx, dt
    if reduction == "sum":
        return per.sum(), dx, dt
    n = x.size if denom is None else denom
    return per.sum() / n, dx / n, dt / n


def cosine_embedding(x1, x2, y, margin=0.0):
    """Per-row losses of (N, D) inputs."""
    out = []
    for a, b, t in zip(x1, x2, y):
        dot = sum(float(u) * float(v) for u, v in zip(a, b))
        m1 = sum(float(u) ** 2 for u in a) + 1e-12
        m2 = sum(float(v) ** 2 for v in b) + 1e-12
        c = dot / math.sqrt(m1 * m2)
        out.append(1 - c if t == 1 else (max(0.0, c - margin) if t == -1 else 0.0))
    return np.array(out)


def margin_ranking(x1, x2, y, margin=0.0):
    return np.array([max(0.0, -float(t) * (float(a) - float(b)) + margin)
                     for a, b, t in zip(x1, x2, y)])


def multilabel_soft_margin(x, t, weight=None):
    """Per-row losses of (N, C) inputs."""
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    out = np.zeros(n)
    for i in range(n):
        s = 0.0
        for j in range(c):
            s += -w[j] * (t[i, j] * -_softplus(-x[i, j]) + (1 - t[i, j]) * -_softplus(x[i, j]))
        out[i] = s / c
    return out


# ---------------------------------------------------------------------------------------------
# 3-D adaptive pools and LP pools

def _bins(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def adaptive_pool3d(x, out_size, kind):
    """(N, C, D, H, W) -> (out, flat indices (max) or None); first max wins, last NaN wins."""
    n, c, d, h, w = x.shape
    od, oh, ow = out_size
    y = np.zeros((n, c, od, oh, ow))
    idx = np.zeros((n, c, od, oh, ow), np.int64)
    for a in range(n):
        for b in range(c):
            for i, (d0, d1) in enumerate(_bins(d, od)):
                for j, (h0, h1) in enumerate(_bins(h, oh)):
                    for k, (w0, w1) in enumerate(_bins(w, ow)):
                        cells = [(p, q, r) for p in range(d0, d1) for q in range(h0, h1)
                                 for r in range(w0, w1)]
                        if kind == "avg":
                            y[a, b, i, j, k] = sum(x[a, b, p, q, r] for p, q, r in cells) / len(cells)
                            continue
                        best, bp = None, None
                        for p, q, r in cells:
                            v = x[a, b, p, q, r]
                            if best is None or v > best or math.isnan(v):
                                best, bp = v, (p * h + q) * w + r
                        y[a, b, i, j, k], idx[a, b, i, j, k] = best, bp
    return y, (idx if kind == "max" else None)


def lp_pool1d(x, p, k, s):
    """(N, C, L): (sum over each window of x**p) ** (1/p), no padding, floor mode."""
    n, c, length = x.shape
    o = (length - k) // s + 1
    y = np.zeros((n, c, o))
    for a in range(n):
        for b in range(c):
            for i in range(o):
                y[a, b, i] = sum(float(x[a, b, i * s + j]) ** p for j in range(k)) ** (1 / p)
    return y


def lp_pool2d(x, p, k, s):
    n, c, h, w = x.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    y = np.zeros((n, c, oh, ow))
    for a in range(n):
        for b in range(c):
            for i in range(oh):
                for j in range(ow):
                    tot = sum(float(x[a, b, i * s[0] + u, j * s[1] + v]) ** p
                              for u in range(k[0]) for v in range(k[1]))
                    y[a, b, i, j] = tot ** (1 / p)
    return y


def batch_norm_any(x, weight, bias, eps, training, run_mean=None, run_var=None, g=None):
    """(N, C, *) in float64 plain loops: y, and with the output gradient g also (dx, dw, db)
    from the definition: dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) in
    training (the statistics depend on x), rstd * dxhat in eval; dxhat = g * weight."""
    n, c = x.shape[:2]
    xs = np.asarray(x, np.float64).reshape(n, c, -1)
    gs = None if g is None else np.asarray(g, np.float64).reshape(n, c, -1)
    y = np.zeros_like(xs)
    dx, dw, db = np.zeros_like(xs), np.zeros(c), np.zeros(c)
    for ch in range(c):
        vals = [float(v) for v in xs[:, ch, :].reshape(-1)]
        if training:
            m = sum(vals) / len(vals)
            v = sum((u - m) ** 2 for u in vals) / len(vals)
        else:
            m, v = float(run_mean[ch]), float(run_var[ch])
        rs = 1.0 / math.sqrt(v + eps)
        w = 1.0 if weight is None else float(weight[ch])
        b = 0.0 if bias is None else float(bias[ch])
        for i in range(n):
            for s in range(xs.shape[2]):
                y[i, ch, s] = (xs[i, ch, s] - m) * rs * w + b
        if gs is None:
            continue
        xhat = [(xs[i, ch, s] - m) * rs for i in range(n) for s in range(xs.shape[2])]
        gv = [gs[i, ch, s] for i in range(n) for s in range(xs.shape[2])]
        dxhat = [gi * w for gi in gv]
        mean_d = sum(dxhat) / len(dxhat)
        mean_dx = sum(d * h for d, h in zip(dxhat, xhat)) / len(dxhat)
        k = 0
        for i in range(n):
            for s in range(xs.shape[2]):
                if training:
                    dx[i, ch, s] = rs * (dxhat[k] - mean_d - xhat[k] * mean_dx)
                else:
                    dx[i, ch, s] = rs * dxhat[k]
                k += 1
        dw[ch] = sum(gi * h for gi, h in zip(gv, xhat))
        db[ch] = sum(gv)
    shape = x.shape
    if gs is None:
        return y.reshape(shape)
    return y.reshape(shape), dx.reshape(shape), dw, db
