"""Naive references for sorting, gradient clipping and pad_sequence: plain loops over Python
floats, written from the definitions (PyTorch's docs), sharing no code with tinytensor."""
import itertools
import math

import numpy as np


def _key_le(a, b):
    """a <= b with NaN above every number (and NaN <= NaN: equal)."""
    if math.isnan(b):
        return True
    if math.isnan(a):
        return False
    return a <= b


def sort_line(values, descending):
    """Indices of a stable sort of the list `values` by insertion: each element goes after
    every element already placed that does not come after it."""
    order = []
    for i, v in enumerate(values):
        pos = 0
        for j, k in enumerate(order):
            w = values[k]
            before = _key_le(w, v) if not descending else _key_le(v, w)
            if before:
                pos = j + 1
        order.insert(pos, i)
    return order


def _lines(shape, dim):
    """Every index tuple of `shape` with position `dim` left open (None)."""
    others = [range(s) if i != dim else [None] for i, s in enumerate(shape)]
    return itertools.product(*others)


def sort_ref(a, dim, descending):
    """(values, indices) of a stable sort of the array `a` along `dim`."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a.copy(), np.zeros((), np.int64)
    values = np.empty_like(a)
    indices = np.empty(a.shape, np.int64)
    for line in _lines(a.shape, dim):
        idx = [line[:dim] + (i,) + line[dim + 1:] for i in range(a.shape[dim])]
        vals = [a[i].item() for i in idx]
        for out_pos, src in enumerate(sort_line(vals, descending)):
            values[idx[out_pos]] = vals[src]
            indices[idx[out_pos]] = src
    return values, indices


def topk_ref(a, k, dim, largest):
    values, indices = sort_ref(a, dim, largest)
    if values.ndim == 0:
        return values, indices
    sl = tuple(slice(0, k) if i == dim else slice(None) for i in range(values.ndim))
    return values[sl], indices[sl]


def sort_backward_ref(g, indices, shape, dim):
    """The gradient of sort/topk values: g[.., j, ..] goes to input position indices[.., j, ..]."""
    gx = np.zeros(shape, np.float64)
    if g.ndim == 0:
        gx[()] = g[()]
        return gx
    for pos in itertools.product(*[range(s) for s in g.shape]):
        src = pos[:dim] + (int(indices[pos]),) + pos[dim + 1:]
        gx[src] += float(g[pos])
    return gx


def vector_norm_ref(values, p):
    """The p-norm of a list of floats (p = inf: max |v|, -inf: min |v|, 0: non-zero count)."""
    absval = [abs(float(v)) for v in values]
    if p == math.inf:
        return max(absval) if absval else 0.0
    if p == -math.inf:
        return min(absval) if absval else math.inf
    if p == 0:
        return float(sum(1 for v in absval if v != 0))
    return sum(v ** p for v in absval) ** (1.0 / p)


def clip_grad_norm_ref(grads, max_norm, p):
    """(total norm, clipped grads) for a list of arrays, per PyTorch's documented rule."""
    total = vector_norm_ref([vector_norm_ref(list(g.reshape(-1)), p) for g in grads], p)
    coef = min(max_norm / (total + 1e-6), 1.0)
    return total, [g.astype(np.float64) * coef for g in grads]


def pad_sequence_ref(seqs, batch_first, value, side):
    """Sequences (L_i, *rest) -> (T, B, *rest) or (B, T, *rest), padded on `side`."""
    longest = max(s.shape[0] for s in seqs)
    rest = seqs[0].shape[1:]
    out = np.full((len(seqs), longest) + rest, value, dtype=seqs[0].dtype)
    for b, s in enumerate(seqs):
        start = 0 if side == "right" else longest - s.shape[0]
        for t in range(s.shape[0]):
            out[b, start + t] = s[t]
    return out if batch_first else np.swapaxes(out, 0, 1)
