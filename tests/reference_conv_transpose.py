"""Naive float64 transposed convolution, straight from its definition (scatter form):

    y[n, g*Og + o, i*s - p + j*d] += x[n, g*Cg + c, i] * w[g*Cg + c, o, j]     (+ b[g*Og + o])

for every input position i (multi-index), tap j, input channel c of group g and output channel o
of that group, where the target lies inside y; Cg = C_in / groups, Og = C_out / groups, and y has
(L - 1) * s - 2p + d * (k - 1) + output_padding + 1 positions per dim. The gradients
differentiate the same sum term by term. Nothing here is shared with the kernels or with the
convolution reference.
"""
import itertools

import numpy as np


def out_len(n, k, s, p, op, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _terms(x_shape, w_shape, stride, padding, output_padding, dilation, groups):
    """Yield (y_index, x_index, w_index) for every in-bounds term."""
    N, C = x_shape[:2]
    cg, og = w_shape[0] // groups, w_shape[1]
    ks = w_shape[2:]
    outs = [out_len(*a) for a in zip(x_shape[2:], ks, stride, padding, output_padding, dilation)]
    for n in range(N):
        for ci in range(C):
            g = ci // cg
            for i in itertools.product(*[range(m) for m in x_shape[2:]]):
                for tap in itertools.product(*[range(k) for k in ks]):
                    pos = tuple(a * s - p + j * d for a, j, s, p, d in
                                zip(i, tap, stride, padding, dilation))
                    if any(q < 0 or q >= m for q, m in zip(pos, outs)):
                        continue
                    for o in range(og):
                        yield (n, g * og + o) + pos, (n, ci) + i, (ci, o) + tap


def conv_transpose_forward(x, w, b, stride, padding, output_padding, dilation, groups):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    outs = [out_len(*a) for a in zip(x.shape[2:], w.shape[2:], stride, padding, output_padding,
                                      dilation)]
    y = np.zeros((x.shape[0], w.shape[1] * groups) + tuple(outs))
    if b is not None:
        y += np.asarray(b, np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))
    for yi, xi, wi in _terms(x.shape, w.shape, stride, padding, output_padding, dilation, groups):
        y[yi] += x[xi] * w[wi]
    return y


def conv_transpose_backward(x, w, gy, stride, padding, output_padding, dilation, groups):
    """(grad_x, grad_w, grad_b) of sum(conv_transpose_forward(x, w, b) * gy)."""
    x, w, gy = (np.asarray(a, np.float64) for a in (x, w, gy))
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for yi, xi, wi in _terms(x.shape, w.shape, stride, padding, output_padding, dilation, groups):
        gx[xi] += gy[yi] * w[wi]
        gw[wi] += gy[yi] * x[xi]
    return gx, gw, gy.sum(axis=tuple(i for i in range(gy.ndim) if i != 1))
