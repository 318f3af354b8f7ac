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
