# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The direct convolution path: one input channel per group (depthwise), where no GEMM is
wide enough to pay off. Tap by tap over whole planes (c/tt_conv_direct.h: plain C with an
AVX2+FMA clone), float32 and float64.

Contract as in conv_gemm.pyx: C-contiguous arrays of one dtype viewed as 3-D spatial; each
`def` re-checks the O(1) invariants (conv_geometry.pxd) before any kernel runs. A thread owns
whole output planes (or input planes, or output channels) and walks them in a fixed order, so
the bits never depend on the thread count.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid

from tinytensor._kernels.conv_geometry cimport (
    ConvShape, tt_conv_geo, conv_hi, conv_lo, conv_shape)

cdef extern from "tt_conv_direct.h" nogil:
    # one (n, o) plane each: y = bias + taps * x (fwd); gx += taps * go, rows += go * x (bwd)
    void tt_dw_fwd_f32(float* y, const float* x, const float* w, float bias,
                       const tt_conv_geo* g) noexcept nogil
    void tt_dw_fwd_f64(double* y, const double* x, const double* w, double bias,
                       const tt_conv_geo* g) noexcept nogil
    void tt_dw_bwd_f32(const float* go, const float* x, const float* w, float* gx, float* rows,
                       int need_gx, int need_gw, int need_gb, const tt_conv_geo* g) noexcept nogil
    void tt_dw_bwd_f64(const double* go, const double* x, const double* w, double* gx,
                       double* rows, int need_gx, int need_gw, int need_gb,
                       const tt_conv_geo* g) noexcept nogil


def direct_forward(const floating[:, :, :, :, ::1] x,    # IN  (N, C, D, H, W)
                   const floating[:, :, :, :, ::1] w,    # IN  (O, 1, KD, KH, KW), C == groups
                   const floating[::1] bias,             # IN  (O,) when has_bias, else any
                   bint has_bias,
                   floating[:, :, :, :, ::1] y,          # OUT (N, O, OD, OH, OW)
                   Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Tap by tap: y[n, o] += w[o, tap] * shifted x[n, c(o)], rows vectorised over ow
    (tt_dw_fwd_*: C with an AVX2+FMA clone). One thread owns one (n, o) output plane."""
    cdef ConvShape s
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = y.shape[2], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t t, n, o, c, Og
    cdef floating bv
    if not conv_shape(&s, x.shape, w.shape, y.shape, geo, groups) or Cg != 1 \
            or (has_bias and bias.shape[0] != O):
        raise ValueError("direct_forward: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    for t in prange(N * O, nogil=True, schedule='static', num_threads=n_threads):
        n = t // O
        o = t % O
        c = o // Og
        bv = bias[o] if has_bias else 0
        if floating is float:
            tt_dw_fwd_f32(&y[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0], bv, &s.g)
        else:
            tt_dw_fwd_f64(&y[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0], bv, &s.g)


def direct_backward_input(const floating[:, :, :, :, ::1] w,   # IN  (O, 1, KD, KH, KW)
                          const floating[:, :, :, :, ::1] go,  # IN  (N, O, OD, OH, OW)
                          floating[:, :, :, :, ::1] gx,        # OUT (N, C, D, H, W), zero-filled
                          Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """gx[n, c] += w[o, tap] * go[n, o] shifted back, for the Og outputs o of group c.
    One thread owns one (n, c) input plane."""
    cdef ConvShape s
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], D = gx.shape[2], H = gx.shape[3]
    cdef Py_ssize_t W = gx.shape[4], O = w.shape[0], Cg = w.shape[1], KD = w.shape[2]
    cdef Py_ssize_t KH = w.shape[3], KW = w.shape[4], OD = go.shape[2], OH = go.shape[3]
    cdef Py_ssize_t OW = go.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t t, n, o, m, c, i, j, k, od, oh, ow, d, h, off, lo, hi, Og
    cdef floating wv
    cdef floating* xrow
    cdef const floating* grow
    if not conv_shape(&s, gx.shape, w.shape, go.shape, geo, groups) or Cg != 1:
        raise ValueError("direct_backward_input: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    for t in prange(N * C, nogil=True, schedule='static', num_threads=n_threads):
        n = t // C
        c = t % C
        for m in range(Og):
            o = c * Og + m
            for i in range(KD):
                for j in range(KH):
                    for k in range(KW):
                        wv = w[o, 0, i, j, k]
                        off = k * dw - pw
                        lo = conv_lo(off, sw, W, OW)
                        hi = conv_hi(off, sw, W, OW)
                        for od in range(OD):
                            d = od * sd - pd + i * dd
                            if d < 0 or d >= D:
                                continue
                            for oh in range(OH):
                                h = oh * sh - ph + j * dh
                                if h < 0 or h >= H:
                                    continue
                                grow = &go[n, o, od, oh, 0]
                                xrow = &gx[n, c, d, h, 0] + off
                                if sw == 1:
                                    for ow in range(lo, hi):
                                        xrow[ow] = xrow[ow] + wv * grow[ow]
                                else:
                                    for ow in range(lo, hi):
                                        xrow[ow * sw] = xrow[ow * sw] + wv * grow[ow]


def direct_backward_weight(const floating[:, :, :, :, ::1] x,   # IN  (N, C, D, H, W)
                           const floating[:, :, :, :, ::1] go,  # IN  (N, O, OD, OH, OW)
                           floating[:, :, :, :, ::1] gw,        # OUT (O, 1, KD, KH, KW)
                           floating[:, ::1] scratch,            # SCRATCH (n_threads, K * OW)
                           Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """gw[o, tap] = sum over n and output positions of go[n, o] * shifted x[n, c(o)].
    One thread owns one output channel o. Per tap, products are summed column-wise into a
    row of scratch (a vectorisable loop), and the row is summed at the end: a fixed order."""
    cdef ConvShape s
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = gw.shape[0], Cg = gw.shape[1], KD = gw.shape[2], KH = gw.shape[3]
    cdef Py_ssize_t KW = gw.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t n, o, c, i, j, k, od, oh, ow, d, h, off, lo, hi, Og, tid, tap
    cdef floating acc
    cdef floating* row
    cdef const floating* xrow
    cdef const floating* grow
    if not conv_shape(&s, x.shape, gw.shape, go.shape, geo, groups) or Cg != 1 \
            or n_threads < 1 or scratch.shape[0] < n_threads \
            or scratch.shape[1] < KD * KH * KW * OW:
        raise ValueError("direct_backward_weight: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    for o in prange(O, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        c = o // Og
        for ow in range(KD * KH * KW * OW):
            scratch[tid, ow] = 0
        # sample-major: a sample's two planes stay in cache while every tap reads them
        for n in range(N):
            for i in range(KD):
                for j in range(KH):
                    for k in range(KW):
                        off = k * dw - pw
                        lo = conv_lo(off, sw, W, OW)
                        hi = conv_hi(off, sw, W, OW)
                        row = &scratch[tid, ((i * KH + j) * KW + k) * OW]
                        for od in range(OD):
                            d = od * sd - pd + i * dd
                            if d < 0 or d >= D:
                                continue
                            for oh in range(OH):
                                h = oh * sh - ph + j * dh
                                if h < 0 or h >= H:
                                    continue
                                grow = &go[n, o, od, oh, 0]
                                xrow = &x[n, c, d, h, 0] + off
                                if sw == 1:
                                    for ow in range(lo, hi):
                                        row[ow] = row[ow] + grow[ow] * xrow[ow]
                                else:
                                    for ow in range(lo, hi):
                                        row[ow] = row[ow] + grow[ow] * xrow[ow * sw]
        for i in range(KD):
            for j in range(KH):
                for k in range(KW):
                    tap = (i * KH + j) * KW + k
                    acc = 0
                    for ow in range(OW):
                        acc = acc + scratch[tid, tap * OW + ow]
                    gw[o, 0, i, j, k] = acc


def direct_backward(const floating[:, :, :, :, ::1] x,    # IN  (N, C, D, H, W)
                    const floating[:, :, :, :, ::1] w,    # IN  (O, 1, KD, KH, KW), C == groups
                    const floating[:, :, :, :, ::1] go,   # IN  (N, O, OD, OH, OW)
                    floating[:, :, :, :, ::1] gx,         # OUT (N, C, D, H, W), zero-filled
                    floating[:, :, :, :, ::1] gw,         # OUT (O, 1, KD, KH, KW)
                    floating[::1] gb,                     # OUT (O,)
                    bint need_gx, bint need_gw, bint need_gb,
                    floating[:, ::1] scratch,             # SCRATCH (n_threads, Og*(K+1)*OW)
                    Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """All three depthwise gradients in one pass over grad_output: one thread owns a group
    (its input channel c and its Og output channels) and walks the samples in order (gx per
    plane: m, tap, row; gw per tap: n, row into a row of scratch, then the row), so the bits
    do not depend on the thread count. The plane work is tt_dw_bwd_* (C, AVX2+FMA clone)."""
    cdef ConvShape s
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t n, o, m, c, ow, Og, tid, tap, K, r0
    cdef floating acc
    K = KD * KH * KW
    if not conv_shape(&s, x.shape, w.shape, go.shape, geo, groups) or Cg != 1 \
            or n_threads < 1 or scratch.shape[0] < n_threads \
            or scratch.shape[1] < (O // groups) * (K + 1) * OW:
        raise ValueError("direct_backward: inconsistent shapes (a tinytensor bug)")
    if (need_gx and (gx.shape[0] != N or gx.shape[1] != C or gx.shape[2] != D
                     or gx.shape[3] != H or gx.shape[4] != W)) \
            or (need_gw and (gw.shape[0] != O or gw.shape[1] != 1 or gw.shape[2] != KD
                             or gw.shape[3] != KH or gw.shape[4] != KW)) \
            or (need_gb and gb.shape[0] != O):
        raise ValueError("direct_backward: inconsistent outputs (a tinytensor bug)")
    Og = O // groups
    for c in prange(C, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        for ow in range(Og * (K + 1) * OW):
            scratch[tid, ow] = 0
        for n in range(N):
            for m in range(Og):
                o = c * Og + m
                r0 = m * (K + 1) * OW
                if floating is float:
                    tt_dw_bwd_f32(&go[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0],
                                  &gx[n, c, 0, 0, 0] if need_gx else NULL, &scratch[tid, r0],
                                  need_gx, need_gw, need_gb, &s.g)
                else:
                    tt_dw_bwd_f64(&go[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0],
                                  &gx[n, c, 0, 0, 0] if need_gx else NULL, &scratch[tid, r0],
                                  need_gx, need_gw, need_gb, &s.g)
        for m in range(Og):
            o = c * Og + m
            r0 = m * (K + 1) * OW
            for tap in range(K + 1):
                acc = 0
                for ow in range(OW):
                    acc = acc + scratch[tid, r0 + tap * OW + ow]
                if tap < K:
                    if need_gw:
                        gw[o, 0, tap // (KH * KW), (tap // KW) % KH, tap % KW] = acc
                elif need_gb:
                    gb[o] = acc
