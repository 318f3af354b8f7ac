"""Naive interpolation, pixel shuffle and unshuffle, one output element at a time.

Source coordinates follow PyTorch's documented rules (aten/src/ATen/native/UpSample.h), written
out for one position, in double precision except where PyTorch's definition itself rounds
to float32 (the nearest modes' scale):
    nearest:        src = floor(dst * s)              s = float32(1 / scale_factor or in / out)
    nearest-exact:  src = floor((dst + 0.5) * s)
    linear:         x = (dst + 0.5) * s - 0.5, clamped at 0 (align_corners=False)
                    x = dst * (in - 1) / (out - 1)      (align_corners=True)
                    y = (1 - t) * v[floor(x)] + t * v[floor(x) + 1], t = x - floor(x)
A multi-dim linear mode weighs each of the 2^d corners by the product of its 1-D weights.
"""
import itertools

import numpy as np


def _nearest_src(dst, n_in, n_out, scale, exact):
    if not exact and n_out == n_in:
        return dst
    if not exact and n_out == 2 * n_in:
        return dst // 2
    s = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    if exact:
        v = np.float32((dst + 0.5) * float(s))
    else:
        v = np.float32(dst) * s
    return min(int(np.floor(v)), n_in - 1)


def _linear_taps(dst, n_in, n_out, scale, align_corners):
    """[(source index, weight), ...] for one output position along one axis."""
    if n_out == n_in:
        return [(dst, 1.0)]
    if align_corners:
        x = dst * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    else:
        s = 1.0 / scale if scale else n_in / n_out
        x = max((dst + 0.5) * s - 0.5, 0.0)
    i0 = min(int(np.floor(x)), n_in - 1)
    t = min(max(x - i0, 0.0), 1.0)
    i1 = i0 + 1 if i0 < n_in - 1 else i0
    return [(i0, 1.0 - t), (i1, t)]


def _taps(mode, dst, n_in, n_out, scale, align_corners):
    if mode in ("nearest", "nearest-exact"):
        return [(_nearest_src(dst, n_in, n_out, scale, mode == "nearest-exact"), 1.0)]
    return _linear_taps(dst, n_in, n_out, scale, align_corners)


def interpolate(x, out_size, mode, scales=None, align_corners=False, gy=None):
    """(y, grad_x); `scales` per dim (None: sizes decide the coordinates)."""
    x = np.asarray(x, np.float64)
    in_sp = x.shape[2:]
    scales = scales or [None] * len(in_sp)
    y = np.zeros(x.shape[:2] + tuple(out_sp := tuple(out_size)))
    gx = np.zeros_like(x)
    gy = None if gy is None else np.asarray(gy, np.float64)
    for o in itertools.product(*[range(m) for m in out_sp]):
        per_dim = [_taps(mode, d, n, m, s, align_corners)
                   for d, n, m, s in zip(o, in_sp, out_sp, scales)]
        for combo in itertools.product(*per_dim):
            src = tuple(i for i, _ in combo)
            w = float(np.prod([wt for _, wt in combo]))
            y[(Ellipsis,) + o] += w * x[(Ellipsis,) + src]
            if gy is not None:
                gx[(Ellipsis,) + src] += w * gy[(Ellipsis,) + o]
    return y, gx


def pixel_shuffle(x, r):
    """out[..., c, h * r + i, w * r + j] = x[..., c * r * r + i * r + j, h, w]."""
    x = np.asarray(x)
    *batch, c, h, w = x.shape
    out = np.zeros(tuple(batch) + (c // (r * r), h * r, w * r), x.dtype)
    for c2, hh, ww in itertools.product(range(c // (r * r)), range(h * r), range(w * r)):
        out[..., c2, hh, ww] = x[..., c2 * r * r + (hh % r) * r + ww % r, hh // r, ww // r]
    return out


def pixel_unshuffle(x, r):
    """The inverse: out[..., c * r * r + i * r + j, h, w] = x[..., c, h * r + i, w * r + j]."""
    x = np.asarray(x)
    *batch, c, h, w = x.shape
    out = np.zeros(tuple(batch) + (c * r * r, h // r, w // r), x.dtype)
    for c1, hh, ww in itertools.product(range(c), range(h), range(w)):
        out[..., c1 * r * r + (hh % r) * r + ww % r, hh // r, ww // r] = x[..., c1, hh, ww]
    return out
