"""Naive float64 group / layer / instance normalisation and local response normalisation,
straight from the definitions, one group at a time; gradients from the chain rule written out
(no code shared with the kernels).

For a group of M values x_i:  mu = sum(x) / M,  var = sum((x - mu)^2) / M,
    xhat_i = (x_i - mu) / sqrt(var + eps),  y_i = xhat_i * w_i + b_i.
With dxhat_i = dy_i * w_i:
    dx_i = (dxhat_i - sum(dxhat) / M - xhat_i * sum(dxhat * xhat) / M) / sqrt(var + eps),
    dw_i = sum over the values sharing w_i of dy * xhat,  db_i = sum of dy.
"""
import itertools

import numpy as np


def _groups(x, num_groups):
    """Yield (list of flat indices of one group) for an (N, C, *) array."""
    n, c = x.shape[:2]
    spatial = int(np.prod(x.shape[2:]))
    cg = c // num_groups
    for s in range(n):
        for g in range(num_groups):
            idx = []
            for ch in range(g * cg, (g + 1) * cg):
                for p in range(spatial):
                    idx.append(((s * c + ch) * spatial + p, ch))
            yield idx


def _norm(x, groups, w, b, eps, gy=None):
    """Forward (and backward when gy is given) over `groups`: lists of (flat index, affine
    index); w and b flat arrays or None."""
    xf = np.asarray(x, np.float64).reshape(-1)
    y = np.zeros_like(xf)
    gx = np.zeros_like(xf)
    gw = None if w is None else np.zeros(len(w))
    gb = None if b is None else np.zeros(len(b))
    gyf = None if gy is None else np.asarray(gy, np.float64).reshape(-1)
    for idx in groups:
        m = len(idx)
        vals = [xf[i] for i, _ in idx]
        mu = sum(vals) / m
        var = sum((v - mu) ** 2 for v in vals) / m
        inv = 1.0 / np.sqrt(var + eps)
        xhat = [(v - mu) * inv for v in vals]
        for (i, a), xh in zip(idx, xhat):
            y[i] = xh * (1.0 if w is None else w[a]) + (0.0 if b is None else b[a])
        if gyf is None:
            continue
        dxhat = [gyf[i] * (1.0 if w is None else w[a]) for i, a in idx]
        s1 = sum(dxhat)
        s2 = sum(d * xh for d, xh in zip(dxhat, xhat))
        for (i, a), d, xh in zip(idx, dxhat, xhat):
            gx[i] = (d - s1 / m - xh * s2 / m) * inv
            if gw is not None:
                gw[a] += gyf[i] * xh
            if gb is not None:
                gb[a] += gyf[i]
    shape = np.shape(x)
    return y.reshape(shape), gx.reshape(shape), gw, gb


def group_norm(x, num_groups, w=None, b=None, eps=1e-5, gy=None):
    return _norm(x, _groups(np.asarray(x), num_groups), w, b, eps, gy)


def instance_norm(x, w=None, b=None, eps=1e-5, gy=None):
    return _norm(x, _groups(np.asarray(x), np.shape(x)[1]), w, b, eps, gy)


def layer_norm(x, normalized_shape, w=None, b=None, eps=1e-5, gy=None):
    m = int(np.prod(normalized_shape))
    rows = int(np.prod(np.shape(x))) // m
    groups = [[(r * m + j, j) for j in range(m)] for r in range(rows)]
    wf = None if w is None else np.asarray(w, np.float64).reshape(-1)
    bf = None if b is None else np.asarray(b, np.float64).reshape(-1)
    y, gx, gw, gb = _norm(x, groups, wf, bf, eps, gy)
    shape = tuple(normalized_shape)
    return (y, gx, None if gw is None else gw.reshape(shape),
            None if gb is None else gb.reshape(shape))


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """y[n, c, ...] = x / (k + alpha / size * sum_{c'} x[n, c', ...]^2) ** beta over
    c - size // 2 <= c' <= c + (size - 1) // 2, channels outside the input counting as 0."""
    x = np.asarray(x, np.float64)
    y = np.zeros_like(x)
    n, c = x.shape[:2]
    for s, ch in itertools.product(range(n), range(c)):
        acc = np.zeros(x.shape[2:])
        for cc in range(ch - size // 2, ch + (size - 1) // 2 + 1):
            if 0 <= cc < c:
                acc += x[s, cc] ** 2
        y[s, ch] = x[s, ch] / (k + alpha / size * acc) ** beta
    return y
