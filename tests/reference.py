"""Naive references for the core ops: float64 loops, one output element at a time.

Written straight from each definition and sharing no code with tinytensor: inputs and outputs
are NumPy arrays, but NumPy is used only as storage (indexing one element at a time), never for
the arithmetic, broadcasting or reductions under test. The gradient formulas ("reference
backward") take the upstream gradient `g` and return one gradient per input, already summed
back to that input's shape.

Conv/pool references live in tests/reference_conv.py and tests/reference_pool.py.
"""
import itertools
import math

import numpy as np


# ------------------------------------------------------------------------------- helpers

def indices(shape):
    """Every index tuple of `shape` in row-major order (one tuple for a 0-d shape)."""
    return itertools.product(*[range(s) for s in shape])


def broadcast_shape(sa, sb):
    """NumPy/PyTorch broadcasting: align on the right, a size-1 dim stretches, else sizes match."""
    n = max(len(sa), len(sb))
    a = (1,) * (n - len(sa)) + tuple(sa)
    b = (1,) * (n - len(sb)) + tuple(sb)
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ValueError(f"shapes {sa} and {sb} do not broadcast")
    return tuple(out)


def source_index(out_idx, in_shape):
    """The element of an input of `in_shape` that broadcasting maps to output index `out_idx`."""
    lead = len(out_idx) - len(in_shape)
    return tuple(0 if s == 1 else out_idx[lead + k] for k, s in enumerate(in_shape))


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def unbroadcast(g, shape):
    """Sum a gradient of the broadcast shape back to an input's `shape`, element by element."""
    g = _f64(g)
    out = np.zeros(shape, np.float64)
    for idx in indices(g.shape):
        src = source_index(idx, shape)
        out[src] = out[src] + g[idx]
    return out


# ------------------------------------------------------------------------------- elementwise

def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: math.exp(x) if x < 700 else math.inf,
    "log": lambda x: math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan),
    "sqrt": lambda x: math.sqrt(x) if x >= 0 else math.nan,
    "abs": lambda x: x if x >= 0 else -x,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda x: x if x > 0 else 0.0,
    "sin": math.sin,
    "cos": math.cos,
}

# d f / d x as a function of the input x
UNARY_GRAD = {
    "neg": lambda x: -1.0,
    "exp": lambda x: math.exp(x),
    "log": lambda x: 1.0 / x,
    "sqrt": lambda x: 0.5 / math.sqrt(x),
    "abs": lambda x: 1.0 if x > 0 else (-1.0 if x < 0 else 0.0),
    "tanh": lambda x: 1.0 - math.tanh(x) ** 2,
    "sigmoid": lambda x: _sigmoid(x) * (1.0 - _sigmoid(x)),
    "relu": lambda x: 1.0 if x > 0 else 0.0,
    "sin": math.cos,
    "cos": lambda x: -math.sin(x),
}


def unary(op, a):
    a = _f64(a)
    out = np.zeros(a.shape, np.float64)
    for idx in indices(a.shape):
        out[idx] = UNARY[op](float(a[idx]))
    return out


def unary_backward(op, a, g):
    a, g = _f64(a), _f64(g)
    out = np.zeros(a.shape, np.float64)
    for idx in indices(a.shape):
        out[idx] = g[idx] * UNARY_GRAD[op](float(a[idx]))
    return out


def _maximum(x, y):
    if x != x or y != y:
        return math.nan
    return x if x >= y else y


def _minimum(x, y):
    if x != x or y != y:
        return math.nan
    return x if x <= y else y


BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y if y != 0 else (math.copysign(math.inf, x) * math.copysign(1, y)
                                              if x != 0 else math.nan),
    "pow": lambda x, y: _pow(x, y),
    "maximum": _maximum,
    "minimum": _minimum,
    "eq": lambda x, y: x == y,
    "ne": lambda x, y: x != y,
    "lt": lambda x, y: x < y,
    "le": lambda x, y: x <= y,
    "gt": lambda x, y: x > y,
    "ge": lambda x, y: x >= y,
}


def _pow(x, y):
    """Real x ** y: NaN for a negative base with a non-integer exponent, inf for 0 ** negative."""
    if x < 0 and y != int(y):
        return math.nan
    if x == 0 and y < 0:
        return math.inf
    try:
        return x ** y
    except OverflowError:
        return math.inf


def _pow_grad(x, y):
    """(y * x**(y-1), x**y * log x) as PyTorch: 0 where y == 0 for the first; for the second,
    0 where x == 0 and y >= 0, NaN for a negative base (log of a negative number)."""
    dx = 0.0 if y == 0 else y * _pow(x, y - 1)
    if x > 0:
        dy = _pow(x, y) * math.log(x)
    elif x == 0 and y >= 0:
        dy = 0.0
    else:
        dy = math.nan
    return dx, dy


def _half_if_tie(x, y, win):
    if x == y:
        return 0.5
    return 1.0 if win else 0.0


# (d/dx, d/dy) of each differentiable binary op at (x, y)
BINARY_GRAD = {
    "add": lambda x, y: (1.0, 1.0),
    "sub": lambda x, y: (1.0, -1.0),
    "mul": lambda x, y: (y, x),
    "div": lambda x, y: (1.0 / y, -x / (y * y)),
    "pow": _pow_grad,
    # at a tie each side gets half, as PyTorch's maximum/minimum
    "maximum": lambda x, y: (_half_if_tie(x, y, x > y), _half_if_tie(x, y, y > x)),
    "minimum": lambda x, y: (_half_if_tie(x, y, x < y), _half_if_tie(x, y, y < x)),
}


def binary(op, a, b):
    """`op` applied to broadcast operands, element by element (arrays or Python scalars)."""
    a, b = _f64(a), _f64(b)
    shape = broadcast_shape(a.shape, b.shape)
    out = np.zeros(shape, np.float64)
    for idx in indices(shape):
        out[idx] = BINARY[op](float(a[source_index(idx, a.shape)]),
                              float(b[source_index(idx, b.shape)]))
    return out


def binary_backward(op, a, b, g):
    """(grad_a, grad_b), each summed back to its operand's shape."""
    a, b, g = _f64(a), _f64(b), _f64(g)
    shape = broadcast_shape(a.shape, b.shape)
    ga, gb = np.zeros(a.shape, np.float64), np.zeros(b.shape, np.float64)
    for idx in indices(shape):
        ia, ib = source_index(idx, a.shape), source_index(idx, b.shape)
        da, db = BINARY_GRAD[op](float(a[ia]), float(b[ib]))
        ga[ia] = ga[ia] + g[idx] * da
        gb[ib] = gb[ib] + g[idx] * db
    return ga, gb


def where(cond, a, b):
    cond, a, b = np.asarray(cond), _f64(a), _f64(b)
    shape = broadcast_shape(broadcast_shape(cond.shape, a.shape), b.shape)
    out = np.zeros(shape, np.float64)
    for idx in indices(shape):
        c = bool(cond[source_index(idx, cond.shape)])
        out[idx] = a[source_index(idx, a.shape)] if c else b[source_index(idx, b.shape)]
    return out


def clamp(a, lo, hi):
    a = _f64(a)
    out = np.zeros(a.shape, np.float64)
    for idx in indices(a.shape):
        x = float(a[idx])
        if lo is not None and x < lo:
            x = lo
        if hi is not None and x > hi:
            x = hi
        out[idx] = x
    return out


def clamp_backward(a, lo, hi, g):
    """PyTorch passes the gradient where lo <= x <= hi (both bounds inclusive)."""
    a, g = _f64(a), _f64(g)
    out = np.zeros(a.shape, np.float64)
    for idx in indices(a.shape):
        x = float(a[idx])
        inside = (lo is None or x >= lo) and (hi is None or x <= hi)
        out[idx] = g[idx] if inside else 0.0
    return out


# ------------------------------------------------------------------------------- reductions

def norm_dims(dims, ndim):
    """None or () -> every dim; an int or a tuple of possibly negative dims -> sorted tuple."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    if len(dims) == 0:
        return tuple(range(ndim))
    return tuple(sorted(d % ndim if ndim else 0 for d in dims))


def _groups(shape, dims, keepdim):
    """Output shape, and for each output index the list of input indices reduced into it."""
    kept = [i for i in range(len(shape)) if i not in dims]
    out_shape = tuple(1 if (i in dims) else shape[i] for i in range(len(shape))) if keepdim \
        else tuple(shape[i] for i in kept)
    groups = {}
    for idx in indices(shape):
        key = tuple(0 if i in dims else idx[i] for i in range(len(shape))) if keepdim \
            else tuple(idx[i] for i in kept)
        groups.setdefault(key, []).append(idx)
    return out_shape, groups


def reduce(op, a, dims=None, keepdim=False, correction=1):
    """sum mean amax amin var std over `dims` (None: all), one output element at a time."""
    a = _f64(a)
    dims = norm_dims(dims, a.ndim)
    out_shape, groups = _groups(a.shape, dims, keepdim)
    out = np.zeros(out_shape, np.float64)
    for key in indices(out_shape):
        vals = [float(a[i]) for i in groups.get(key, [])]
        n = len(vals)
        if op == "sum":
            r = 0.0
            for v in vals:
                r += v
        elif op == "mean":
            r = sum(vals) / n if n else math.nan
        elif op in ("amax", "amin"):
            if any(v != v for v in vals):
                r = math.nan
            else:
                r = vals[0]
                for v in vals[1:]:
                    r = (v if v > r else r) if op == "amax" else (v if v < r else r)
        elif op in ("var", "std"):
            mean = sum(vals) / n if n else math.nan
            ss = 0.0
            for v in vals:
                ss += (v - mean) * (v - mean)
            denom = max(n - correction, 0)
            r = ss / denom if denom > 0 else (math.nan if ss == 0 or ss != ss else math.inf)
            if op == "std":
                r = math.sqrt(r) if r >= 0 else math.nan
        else:
            raise ValueError(op)
        out[key] = r
    return out


def reduce_backward(op, a, g, dims=None, keepdim=False, correction=1):
    """Gradient of `reduce(op, a, dims, keepdim)` for upstream `g`.

    amax/amin share the gradient evenly among tied maxima (PyTorch's amax rule).
    """
    a, g = _f64(a), _f64(g)
    dims = norm_dims(dims, a.ndim)
    out_shape, groups = _groups(a.shape, dims, keepdim)
    out = np.zeros(a.shape, np.float64)
    res = reduce(op, a, dims, keepdim, correction)
    for key in indices(out_shape):
        members = groups.get(key, [])
        n = len(members)
        gk = float(g[key])
        vals = [float(a[i]) for i in members]
        if op == "sum":
            for i in members:
                out[i] = gk
        elif op == "mean":
            for i in members:
                out[i] = gk / n
        elif op in ("amax", "amin"):
            best = float(res[key])
            ties = [i for i, v in zip(members, vals) if v == best]
            for i in ties:
                out[i] = gk / len(ties)
        elif op in ("var", "std"):
            mean = sum(vals) / n
            denom = n - correction
            for i, v in zip(members, vals):
                dvar = 2.0 * (v - mean) / denom
                out[i] = gk * (dvar if op == "var" else dvar / (2.0 * float(res[key])))
    return out


def argextreme(kind, a, dim=None, keepdim=False):
    """argmax/argmin: the FIRST index of the extreme value (NaN counts as the extreme, first
    NaN wins). dim=None flattens in row-major order."""
    a = _f64(a)
    if dim is None:
        flat = [float(a[i]) for i in indices(a.shape)]
        best = _first_extreme(kind, flat)
        r = np.array(best, dtype=np.int64)
        return r.reshape((1,) * a.ndim) if keepdim else r
    dim = dim % a.ndim
    out_shape, groups = _groups(a.shape, (dim,), keepdim)
    out = np.zeros(out_shape, np.int64)
    for key in indices(out_shape):
        members = groups[key]
        out[key] = _first_extreme(kind, [float(a[i]) for i in members])
    return out


def _first_extreme(kind, vals):
    best = 0
    for j in range(1, len(vals)):
        v, b = vals[j], vals[best]
        if b != b:
            break
        if v != v or (v > b if kind == "max" else v < b):
            best = j
    return best


# ------------------------------------------------------------------------------- matmul

def matmul(a, b):
    """torch.matmul: 1-D operands promoted ((n,) -> (1, n) left, (n, 1) right) then the added
    dim dropped; batch dims broadcast; each output element an explicit dot product."""
    a, b = _f64(a), _f64(b)
    a1, b1 = a.ndim == 1, b.ndim == 1
    A = a.reshape((1,) + a.shape) if a1 else a
    B = b.reshape(b.shape + (1,)) if b1 else b
    batch = broadcast_shape(A.shape[:-2], B.shape[:-2])
    n, k, m = A.shape[-2], A.shape[-1], B.shape[-1]
    assert B.shape[-2] == k
    out = np.zeros(batch + (n, m), np.float64)
    for bi in indices(batch):
        ia = source_index(bi, A.shape[:-2])
        ib = source_index(bi, B.shape[:-2])
        for i in range(n):
            for j in range(m):
                acc = 0.0
                for p in range(k):
                    acc += float(A[ia + (i, p)]) * float(B[ib + (p, j)])
                out[bi + (i, j)] = acc
    if a1:
        out = out.reshape(out.shape[:-2] + out.shape[-1:])
    if b1:
        out = out.reshape(out.shape[:-1])
    return out


def matmul_backward(a, b, g):
    """(grad_a, grad_b) of matmul(a, b): dL/dA[i,p] = sum_j g[i,j] B[p,j], summed over the
    batch elements that broadcasting mapped onto each input element."""
    a, b, g = _f64(a), _f64(b), _f64(g)
    a1, b1 = a.ndim == 1, b.ndim == 1
    A = a.reshape((1,) + a.shape) if a1 else a
    B = b.reshape(b.shape + (1,)) if b1 else b
    G = g
    if b1:
        G = G.reshape(G.shape + (1,))
    if a1:
        G = G.reshape(G.shape[:-1] + (1,) + G.shape[-1:])
    batch = broadcast_shape(A.shape[:-2], B.shape[:-2])
    n, k, m = A.shape[-2], A.shape[-1], B.shape[-1]
    gA, gB = np.zeros(A.shape, np.float64), np.zeros(B.shape, np.float64)
    for bi in indices(batch):
        ia = source_index(bi, A.shape[:-2])
        ib = source_index(bi, B.shape[:-2])
        for i in range(n):
            for j in range(m):
                gij = float(G[bi + (i, j)])
                for p in range(k):
                    gA[ia + (i, p)] += gij * float(B[ib + (p, j)])
                    gB[ib + (p, j)] += gij * float(A[ia + (i, p)])
    return gA.reshape(a.shape), gB.reshape(b.shape)


# ------------------------------------------------------------------------------- joining

def cat(arrays, dim=0):
    """Concatenate along `dim`: output index idx[dim] walks through the inputs in turn."""
    arrays = [_f64(x) for x in arrays]
    ndim = arrays[0].ndim
    dim = dim % ndim
    total = sum(x.shape[dim] for x in arrays)
    shape = arrays[0].shape[:dim] + (total,) + arrays[0].shape[dim + 1:]
    out = np.zeros(shape, np.float64)
    for idx in indices(shape):
        j = idx[dim]
        for x in arrays:
            if j < x.shape[dim]:
                out[idx] = x[idx[:dim] + (j,) + idx[dim + 1:]]
                break
            j -= x.shape[dim]
    return out


def cat_backward(shapes, g, dim=0):
    """The slices of `g` belonging to each input."""
    g = _f64(g)
    dim = dim % g.ndim
    outs, start = [], 0
    for s in shapes:
        o = np.zeros(s, np.float64)
        for idx in indices(s):
            o[idx] = g[idx[:dim] + (idx[dim] + start,) + idx[dim + 1:]]
        outs.append(o)
        start += s[dim]
    return outs


def stack(arrays, dim=0):
    """out[..., i, ...] (i at position `dim`) is arrays[i]."""
    arrays = [_f64(x) for x in arrays]
    ndim = arrays[0].ndim + 1
    dim = dim % ndim
    shape = arrays[0].shape[:dim] + (len(arrays),) + arrays[0].shape[dim:]
    out = np.zeros(shape, np.float64)
    for idx in indices(shape):
        out[idx] = arrays[idx[dim]][idx[:dim] + idx[dim + 1:]]
    return out


def stack_backward(n, g, dim=0):
    g = _f64(g)
    dim = dim % g.ndim
    shape = g.shape[:dim] + g.shape[dim + 1:]
    outs = []
    for i in range(n):
        o = np.zeros(shape, np.float64)
        for idx in indices(shape):
            o[idx] = g[idx[:dim] + (i,) + idx[dim:]]
        outs.append(o)
    return outs
