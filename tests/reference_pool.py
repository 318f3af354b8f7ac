"""Naive references for pooling and padding, straight from the definitions.

Float64 (or int64) loops over NumPy arrays, one output element at a time, windows and padding
spelled out. Nothing here is shared with tinytensor's kernels or Functions. Spatial dims are
the last `nsp` dims; every leading dim is a plane.
"""
import itertools
import math

import numpy as np


def out_size(n, k, s, p, d, ceil_mode):
    """Number of windows: starts at i*s - p, the last one must start inside input or left pad."""
    span = n + 2 * p - (d * (k - 1) + 1)                  # room left after the first window
    count = (math.ceil(span / s) if ceil_mode else span // s) + 1
    # ceil_mode may add a window that starts in the right padding: PyTorch drops it
    while ceil_mode and count > 0 and (count - 1) * s - p >= n:
        count -= 1
    return count


def _planes(x, nsp):
    lead = x.shape[:x.ndim - nsp]
    return x.reshape((-1,) + x.shape[x.ndim - nsp:]), lead


def max_pool(x, nsp, k, s, p, d, ceil_mode):
    """(values, flat indices) of max pooling; padding is skipped; ties: first max; NaN: last NaN."""
    xp, lead = _planes(np.asarray(x), nsp)
    sp = xp.shape[1:]
    outs = [out_size(sp[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(nsp)]
    val = np.zeros((xp.shape[0],) + tuple(outs), xp.dtype)
    idx = np.zeros(val.shape, np.int64)
    for plane in range(xp.shape[0]):
        for o in itertools.product(*[range(n) for n in outs]):
            best, best_i = None, None
            for t in itertools.product(*[range(kk) for kk in k]):      # row-major window order
                pos = [o[i] * s[i] - p[i] + t[i] * d[i] for i in range(nsp)]
                if any(q < 0 or q >= sp[i] for i, q in enumerate(pos)):
                    continue                                          # padding never competes
                v = xp[(plane,) + tuple(pos)]
                flat = int(np.ravel_multi_index(pos, sp))
                if best is None:
                    best, best_i = v, flat
                elif isinstance(v, float) or np.issubdtype(type(v), np.floating):
                    if np.isnan(v) or (not np.isnan(best) and v > best):
                        best, best_i = v, flat
                elif v > best:
                    best, best_i = v, flat
            if best is None:
                # every tap in the padding (dilation skipped the small input): PyTorch gives the
                # lowest value and the flat position of the first tap at or past 0 per dim
                first = []
                for i in range(nsp):
                    q = o[i] * s[i] - p[i]
                    while q < 0:
                        q += d[i]
                    first.append(q)
                flat = 0
                for i in range(nsp):
                    flat = flat * sp[i] + first[i]
                best = (np.iinfo(xp.dtype).min if np.issubdtype(xp.dtype, np.integer)
                        else -np.inf)
                best_i = flat
            val[(plane,) + o] = best
            idx[(plane,) + o] = best_i
    return val.reshape(lead + tuple(outs)), idx.reshape(lead + tuple(outs))


def max_pool_backward(grad_out, indices, input_shape, nsp):
    """Each output's gradient added to the input element its index names."""
    g, _ = _planes(np.asarray(grad_out, np.float64), nsp)
    ix, _ = _planes(np.asarray(indices), nsp)
    gi, _ = _planes(np.zeros(input_shape, np.float64), nsp)
    sp = gi.shape[1:]
    for plane in range(g.shape[0]):
        for o in itertools.product(*[range(n) for n in g.shape[1:]]):
            flat = int(ix[(plane,) + o])
            if not 0 <= flat < int(np.prod(sp)):
                continue                                  # window entirely in the padding
            pos = np.unravel_index(flat, sp)
            gi[(plane,) + tuple(pos)] += g[(plane,) + o]
    return gi.reshape(input_shape)


def _avg_window(o, k, s, p, sp, nsp, count_include_pad, divisor_override):
    lo, hi, pool = [], [], 1
    for i in range(nsp):
        start = o[i] * s[i] - p[i]
        end = min(start + k[i], sp[i] + p[i])          # the padded extent bounds the window
        pool *= end - start
        lo.append(max(start, 0))
        hi.append(min(end, sp[i]))
    inside = 1
    for a, b in zip(lo, hi):
        inside *= b - a
    if divisor_override is not None:
        div = divisor_override
    elif count_include_pad:
        div = pool
    else:
        div = inside
    return lo, hi, div


def avg_pool(x, nsp, k, s, p, ceil_mode, count_include_pad, divisor_override):
    xp, lead = _planes(np.asarray(x), nsp)
    sp = xp.shape[1:]
    outs = [out_size(sp[i], k[i], s[i], p[i], 1, ceil_mode) for i in range(nsp)]
    is_int = np.issubdtype(xp.dtype, np.integer)
    out = np.zeros((xp.shape[0],) + tuple(outs), xp.dtype if is_int else np.float64)
    for plane in range(xp.shape[0]):
        for o in itertools.product(*[range(n) for n in outs]):
            lo, hi, div = _avg_window(o, k, s, p, sp, nsp, count_include_pad, divisor_override)
            total = 0
            for pos in itertools.product(*[range(a, b) for a, b in zip(lo, hi)]):
                total += xp[(plane,) + pos]
            if is_int:
                q = abs(int(total)) // abs(div)                      # truncate toward zero
                out[(plane,) + o] = q if (total >= 0) == (div > 0) else -q
            else:
                out[(plane,) + o] = total / div
    return out.reshape(lead + tuple(outs))


def avg_pool_backward(grad_out, input_shape, nsp, k, s, p, ceil_mode, count_include_pad,
                      divisor_override):
    g, _ = _planes(np.asarray(grad_out, np.float64), nsp)
    gi, _ = _planes(np.zeros(input_shape, np.float64), nsp)
    sp = gi.shape[1:]
    for plane in range(g.shape[0]):
        for o in itertools.product(*[range(n) for n in g.shape[1:]]):
            lo, hi, div = _avg_window(o, k, s, p, sp, nsp, count_include_pad, divisor_override)
            for pos in itertools.product(*[range(a, b) for a, b in zip(lo, hi)]):
                gi[(plane,) + pos] += g[(plane,) + o] / div
    return gi.reshape(input_shape)


def _bins(n, o):
    return [(math.floor(i * n / o), math.ceil((i + 1) * n / o)) for i in range(o)]


def adaptive_pool(x, nsp, out, kind):
    """kind 'avg' -> values; 'max' -> (values, flat indices)."""
    xp, lead = _planes(np.asarray(x), nsp)
    sp = xp.shape[1:]
    bins = [_bins(sp[i], out[i]) for i in range(nsp)]
    val = np.zeros((xp.shape[0],) + tuple(out), np.float64 if kind == "avg" else xp.dtype)
    idx = np.zeros(val.shape, np.int64)
    for plane in range(xp.shape[0]):
        for o in itertools.product(*[range(n) for n in out]):
            ranges = [range(*bins[i][o[i]]) for i in range(nsp)]
            cells = list(itertools.product(*ranges))
            if kind == "avg":
                val[(plane,) + o] = sum(xp[(plane,) + c] for c in cells) / len(cells)
                continue
            best, bi = None, None
            for c in cells:
                v = xp[(plane,) + c]
                if best is None or np.isnan(v) or (not np.isnan(best) and v > best):
                    best, bi = v, int(np.ravel_multi_index(c, sp))
            val[(plane,) + o], idx[(plane,) + o] = best, bi
    shape = lead + tuple(out)
    return val.reshape(shape) if kind == "avg" else (val.reshape(shape), idx.reshape(shape))


def adaptive_avg_backward(grad_out, input_shape, nsp):
    g, _ = _planes(np.asarray(grad_out, np.float64), nsp)
    gi, _ = _planes(np.zeros(input_shape, np.float64), nsp)
    sp = gi.shape[1:]
    bins = [_bins(sp[i], g.shape[1 + i]) for i in range(nsp)]
    for plane in range(g.shape[0]):
        for o in itertools.product(*[range(n) for n in g.shape[1:]]):
            cells = list(itertools.product(*[range(*bins[i][o[i]]) for i in range(nsp)]))
            for c in cells:
                gi[(plane,) + c] += g[(plane,) + o] / len(cells)
    return gi.reshape(input_shape)


def max_unpool(x, indices, out_hw):
    """Values written in order to their flat positions of a zero (H, W) plane (last write wins)."""
    xp, lead = _planes(np.asarray(x), 2)
    ip, _ = _planes(np.asarray(indices), 2)
    out = np.zeros((xp.shape[0],) + tuple(out_hw), xp.dtype)
    for plane in range(xp.shape[0]):
        for o in itertools.product(range(xp.shape[1]), range(xp.shape[2])):
            h, w = divmod(int(ip[(plane,) + o]), out_hw[1])
            out[plane, h, w] = xp[(plane,) + o]
    return out.reshape(lead + tuple(out_hw))


def pad_source(mode, n, left, right, j):
    """Input position feeding output position j along one dim, or None for the constant fill.

    constant / reflect / replicate: pad the full dim, then crop negative pads (so output j sits
    at padded coordinate j - left). circular: crop first, then wrap around the cropped core.
    """
    if mode == "circular":
        c0 = max(-left, 0)
        core = n - c0 - max(-right, 0)
        k = j - max(left, 0)
        return c0 + k % core
    k = j - left
    if 0 <= k < n:
        return k
    if mode == "constant":
        return None
    if mode == "replicate":
        return 0 if k < 0 else n - 1
    return -k if k < 0 else 2 * (n - 1) - k                  # reflect: mirror, edge not repeated


def pad(x, pads, mode, value=0.0):
    """F.pad from its definition; pads = (left, right, top, bottom, ...) from the last dim."""
    x = np.asarray(x)
    per_dim = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        per_dim[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    shape = tuple(n + l + r for n, (l, r) in zip(x.shape, per_dim))
    out = np.zeros(shape, x.dtype)
    for o in itertools.product(*[range(n) for n in shape]):
        src = [pad_source(mode, n, l, r, j) for n, (l, r), j in zip(x.shape, per_dim, o)]
        out[o] = value if any(q is None for q in src) else x[tuple(src)]
    return out


def pad_backward(grad_out, input_shape, pads, mode):
    """Each output's gradient added to the input element it was copied from."""
    g = np.asarray(grad_out, np.float64)
    gi = np.zeros(input_shape, np.float64)
    per_dim = [(0, 0)] * len(input_shape)
    for i in range(len(pads) // 2):
        per_dim[len(input_shape) - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    for o in itertools.product(*[range(n) for n in g.shape]):
        src = [pad_source(mode, n, l, r, j) for n, (l, r), j in zip(input_shape, per_dim, o)]
        if not any(q is None for q in src):
            gi[tuple(src)] += g[o]
    return gi


def fractional_starts(u, n, o, k, dtype):
    """Where the o windows of fractional max pooling (kernel k, axis of n) start, as PyTorch
    defines them for a sample u: alpha = (n - k) / (o - 1) and window i < o - 1 starts at
    trunc((i + u) * alpha) - trunc(u * alpha), every step rounded to `dtype` (float32 inputs
    compute in float32); the last window starts at n - k. Finite samples only."""
    f = np.dtype(dtype).type
    starts = []
    for i in range(o):
        if i == o - 1:
            starts.append(n - k)
            continue
        alpha = f(n - k) / f(o - 1)
        hi = (f(i) + f(u)) * alpha
        lo = f(u) * alpha
        starts.append(math.trunc(float(hi)) - math.trunc(float(lo)))
    return starts


def fractional_max_pool(x, nsp, k, out, samples):
    """(values, flat indices) of fractional max pooling over the last nsp dims of x.

    samples: one row per plane (N * C rows, plane order), PyTorch's order: (u_w, u_h) for 2-D,
    (u_t, u_h, u_w) for 3-D. Max rule as max_pool: first maximum, last NaN; an empty window
    (k <= 0) gives -inf at its start position."""
    xp, lead = _planes(np.asarray(x), nsp)
    u = np.asarray(samples).reshape(-1, nsp)
    sp = xp.shape[1:]
    per_axis = [1, 0] if nsp == 2 else [0, 1, 2]        # axis -> column of the sample row
    val = np.zeros((xp.shape[0],) + tuple(out), xp.dtype)
    idx = np.zeros(val.shape, np.int64)
    for plane in range(xp.shape[0]):
        starts = [fractional_starts(u[plane, per_axis[a]], sp[a], out[a], k[a], xp.dtype)
                  for a in range(nsp)]
        for o in itertools.product(*[range(n) for n in out]):
            first = [starts[a][o[a]] for a in range(nsp)]
            flat = 0                                    # the window's first position
            for a in range(nsp):
                flat = flat * sp[a] + first[a]
            best, best_i = -np.inf, flat
            for t in itertools.product(*[range(kk) for kk in k]):      # row-major window order
                pos = tuple(first[a] + t[a] for a in range(nsp))
                assert all(0 <= pos[a] < sp[a] for a in range(nsp)), "window outside the input"
                v = xp[(plane,) + pos]
                if np.isnan(v) or v > best:
                    best, best_i = v, int(np.ravel_multi_index(pos, sp))
            val[(plane,) + o] = best
            idx[(plane,) + o] = best_i
    return val.reshape(lead + tuple(out)), idx.reshape(lead + tuple(out))
