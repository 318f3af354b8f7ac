"""Naive float64 convolution, unfold and fold, straight from the definitions.

One output element at a time, the padding test spelled out, nothing shared with the kernels:
    y[n, o, i] = b[o] + sum_{c, j} x[n, g*Cg + c, i*s - p + j*d] * w[o, c, j]    (g = o // Og)
with i, j multi-indices over the spatial dims and x = 0 outside the input (the lecture's
(x * k)_i = sum_j x_{i-1+j} k_j with stride, padding, dilation and groups). The gradients
differentiate the same sum term by term: each term x * w sends go * w to x and go * x to w.
Padding is given per dim as (begin, end) so 'same' (odd pixel at the end) is expressible.
"""
import itertools

import numpy as np


def _out_len(n, k, s, p_begin, p_end, d):
    return (n + p_begin + p_end - d * (k - 1) - 1) // s + 1


def _terms(x_shape, w_shape, stride, pad, dilation, groups):
    """Yield (n, o, out_index, x_index, w_index) for every in-bounds term of the sum."""
    N, C = x_shape[:2]
    O, Cg = w_shape[:2]
    ks = w_shape[2:]
    og = O // groups
    outs = [_out_len(n, k, s, pb, pe, d)
            for n, k, s, (pb, pe), d in zip(x_shape[2:], ks, stride, pad, dilation)]
    for n in range(N):
        for o in range(O):
            g = o // og
            for out_i in itertools.product(*[range(m) for m in outs]):
                for c in range(Cg):
                    for tap in itertools.product(*[range(k) for k in ks]):
                        pos = []
                        inside = True
                        for i, j, s, (pb, _), d, size in zip(out_i, tap, stride, pad, dilation,
                                                             x_shape[2:]):
                            q = i * s - pb + j * d
                            if q < 0 or q >= size:
                                inside = False
                                break
                            pos.append(q)
                        if inside:
                            yield (n, o, out_i, (n, g * Cg + c) + tuple(pos), (o, c) + tap)


def conv_out_shape(x_shape, w_shape, stride, pad, dilation):
    return (x_shape[0], w_shape[0]) + tuple(
        _out_len(n, k, s, pb, pe, d)
        for n, k, s, (pb, pe), d in zip(x_shape[2:], w_shape[2:], stride, pad, dilation))


def conv_forward(x, w, b, stride, pad, dilation, groups):
    """x (N, C, *sp), w (O, C/groups, *k), b (O,) or None; pad = ((begin, end), ...)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    y = np.zeros(conv_out_shape(x.shape, w.shape, stride, pad, dilation))
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))
    for n, o, out_i, xi, wi in _terms(x.shape, w.shape, stride, pad, dilation, groups):
        y[(n, o) + out_i] += x[xi] * w[wi]
    return y


def conv_backward(x, w, go, stride, pad, dilation, groups):
    """(grad_x, grad_w, grad_b) of sum(conv_forward(x, w, b) * go)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    go = np.asarray(go, np.float64)
    gx = np.zeros(x.shape)
    gw = np.zeros(w.shape)
    for n, o, out_i, xi, wi in _terms(x.shape, w.shape, stride, pad, dilation, groups):
        g = go[(n, o) + out_i]
        gx[xi] += g * w[wi]
        gw[wi] += g * x[xi]
    gb = go.sum(axis=tuple(i for i in range(go.ndim) if i != 1))
    return gx, gw, gb


def unfold(x, kernel, dilation, padding, stride):
    """im2col of a 4-D (N, C, H, W) input: out[n, (c, i, j), l] for block l in row-major order."""
    x = np.asarray(x, np.float64)
    N, C, H, W = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel, dilation, padding, stride
    oh = _out_len(H, kh, sh, ph, ph, dh)
    ow = _out_len(W, kw, sw, pw, pw, dw)
    out = np.zeros((N, C * kh * kw, oh * ow))
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for a in range(oh):
                        for b in range(ow):
                            h = a * sh - ph + i * dh
                            v = b * sw - pw + j * dw
                            if 0 <= h < H and 0 <= v < W:
                                out[n, row, a * ow + b] = x[n, c, h, v]
    return out


def fold(cols, output_size, kernel, dilation, padding, stride):
    """col2im: the sum of every block back at its place; cols (N, C*kh*kw, L)."""
    cols = np.asarray(cols, np.float64)
    N, CK, _ = cols.shape
    (H, W), (kh, kw), (dh, dw), (ph, pw), (sh, sw) = output_size, kernel, dilation, padding, stride
    C = CK // (kh * kw)
    oh = _out_len(H, kh, sh, ph, ph, dh)
    ow = _out_len(W, kw, sw, pw, pw, dw)
    out = np.zeros((N, C, H, W))
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for a in range(oh):
                        for b in range(ow):
                            h = a * sh - ph + i * dh
                            v = b * sw - pw + j * dw
                            if 0 <= h < H and 0 <= v < W:
                                out[n, c, h, v] += cols[n, row, a * ow + b]
    return out
