# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The im2col + GEMM convolution path (any dtype), and im2col/col2im for unfold/fold.

Contract: the callers (tinytensor/_functions/conv.py and fold.py, after
tinytensor/nn/functional/conv.py and fold.py have validated every argument with PyTorch's
messages) pass C-contiguous float32/float64 arrays of one dtype, every spatial rank as 3-D
(conv1d is (N, C, 1, 1, L), conv2d (N, C, 1, H, W)). Each `def` re-checks the O(1) invariants
that keep every index below in range (conv_geometry.pxd), so a tinytensor bug raises instead
of corrupting memory.

The GEMMs are our own (_variant.pxd: the running ISA variant's float32 or float64 GEMM),
never BLAS: each OpenMP thread runs single-threaded GEMMs on its own chunk of samples. A
chunk's result does not depend on which thread computes it, and the chunks and
weight-gradient partitions are fixed by the shapes alone (the plan, _functions/conv_plan.py),
so results are bitwise identical for any thread count. Scratch is a caller-allocated
(n_threads, size) array; a thread uses row `threadid()`.
"""
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport (
    ConvShape, tt_conv_geo, bad_geometry, conv_hi, conv_lo, conv_shape, group_geometry,
    out_size)


cdef inline void _gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb,
                       bint accumulate, floating* c, Py_ssize_t ldc,
                       floating* work) noexcept nogil:
    """Row-major c (m x n, ldc) = op(a) (m x k) @ op(b) (k x n) (+ c when accumulate); op
    transposes when trans_ is set. work: _variant.gemm_work() elements."""
    if m == 0 or n == 0:
        return
    if floating is float:
        _variant.sgemm(m, n, k, a, 1 if trans_a else lda, lda if trans_a else 1,
                       b, 1 if trans_b else ldb, ldb if trans_b else 1, accumulate, c, ldc, work)
    else:
        _variant.dgemm(m, n, k, a, 1 if trans_a else lda, lda if trans_a else 1,
                       b, 1 if trans_b else ldb, ldb if trans_b else 1, accumulate, c, ldc, work)


cdef void _im2col(const floating* x, const tt_conv_geo* g, Py_ssize_t p0, Py_ssize_t p1,
                  floating* col, Py_ssize_t ldcol) noexcept nogil:
    """col[(c, kd, kh, kw), p - p0] = x[c, od*sd-pd+kd*dd, oh*sh-ph+kh*dh, ow*sw-pw+kw*dw]
    (0 in the padding) for the output positions p = (od * OH + oh) * OW + ow in [p0, p1)
    (0 <= p0 < p1 <= OD*OH*OW); x is one sample's g.C channels (C, D, H, W), col rows are
    ldcol apart."""
    cdef Py_ssize_t C = g.C, D = g.D, H = g.H, W = g.W, KD = g.KD, KH = g.KH, KW = g.KW
    cdef Py_ssize_t OH = g.OH, OW = g.OW, sd = g.sd, sh = g.sh, sw = g.sw
    cdef Py_ssize_t pd = g.pd, ph = g.ph, pw = g.pw, dd = g.dd, dh = g.dh, dw = g.dw
    cdef Py_ssize_t c, i, j, k, q, od, oh, ow, d, h, off, lo, hi, a, e, a2, e2, q1, r = 0
    cdef floating* dst
    cdef const floating* src
    q1 = (p1 - 1) // OW
    for c in range(C):
        for i in range(KD):
            for j in range(KH):
                for k in range(KW):
                    off = k * dw - pw
                    lo = conv_lo(off, sw, W, OW)
                    hi = conv_hi(off, sw, W, OW)
                    dst = col + r * ldcol
                    q = p0 // OW
                    od = q // OH
                    oh = q - od * OH
                    while q <= q1:
                        # this row's part of the block: [a, e); its in-bounds part: [a2, e2)
                        a = p0 - q * OW if q * OW < p0 else 0
                        e = p1 - q * OW if q == q1 else OW
                        d = od * sd - pd + i * dd
                        h = oh * sh - ph + j * dh
                        if d < 0 or d >= D or h < 0 or h >= H:
                            memset(dst, 0, (e - a) * sizeof(floating))
                        else:
                            a2 = lo if lo > a else a
                            e2 = hi if hi < e else e
                            if e2 < a2:
                                e2 = a2
                            src = x + ((c * D + d) * H + h) * W + off
                            for ow in range(a, a2):
                                dst[ow - a] = 0
                            if sw != 1:
                                for ow in range(a2, e2):
                                    dst[ow - a] = src[ow * sw]
                            elif e2 - a2 > 8:
                                memcpy(dst + a2 - a, src + a2, (e2 - a2) * sizeof(floating))
                            else:             # short rows: a call costs more than the copy
                                for ow in range(a2, e2):
                                    dst[ow - a] = src[ow]
                            for ow in range(e2, e):
                                dst[ow - a] = 0
                        dst = dst + (e - a)
                        q = q + 1
                        oh = oh + 1
                        if oh == OH:
                            oh = 0
                            od = od + 1
                    r = r + 1


cdef void _col2im(const floating* col, Py_ssize_t ldcol, const tt_conv_geo* g, Py_ssize_t p0,
                  Py_ssize_t p1, floating* x) noexcept nogil:
    """The adjoint of _im2col over output positions [p0, p1): x[c, d, h, w] += every col
    entry that _im2col read from there. One caller thread owns x (one sample); the order of
    the sums is fixed."""
    cdef Py_ssize_t C = g.C, D = g.D, H = g.H, W = g.W, KD = g.KD, KH = g.KH, KW = g.KW
    cdef Py_ssize_t OH = g.OH, OW = g.OW, sd = g.sd, sh = g.sh, sw = g.sw
    cdef Py_ssize_t pd = g.pd, ph = g.ph, pw = g.pw, dd = g.dd, dh = g.dh, dw = g.dw
    cdef Py_ssize_t c, i, j, k, q, od, oh, ow, d, h, off, lo, hi, a, e, a2, e2, q1, r = 0
    cdef const floating* src
    cdef floating* dst
    q1 = (p1 - 1) // OW
    for c in range(C):
        for i in range(KD):
            for j in range(KH):
                for k in range(KW):
                    off = k * dw - pw
                    lo = conv_lo(off, sw, W, OW)
                    hi = conv_hi(off, sw, W, OW)
                    src = col + r * ldcol
                    q = p0 // OW
                    od = q // OH
                    oh = q - od * OH
                    while q <= q1:
                        a = p0 - q * OW if q * OW < p0 else 0
                        e = p1 - q * OW if q == q1 else OW
                        d = od * sd - pd + i * dd
                        h = oh * sh - ph + j * dh
                        if d >= 0 and d < D and h >= 0 and h < H:
                            a2 = lo if lo > a else a
                            e2 = hi if hi < e else e
                            dst = x + ((c * D + d) * H + h) * W + off
                            if sw == 1:
                                for ow in range(a2, e2):
                                    dst[ow] = dst[ow] + src[ow - a]
                            else:
                                for ow in range(a2, e2):
                                    dst[ow * sw] = dst[ow * sw] + src[ow - a]
                        src = src + (e - a)
                        q = q + 1
                        oh = oh + 1
                        if oh == OH:
                            oh = 0
                            od = od + 1
                    r = r + 1


def gemm_scratch_size(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t K, Py_ssize_t L, Py_ssize_t nb,
                      Py_ssize_t bs):
    """Per-thread scratch (elements) of gemm_forward / gemm_backward: col (reused as dcol) for
    a block of columns (nb whole samples, or bs output positions of one sample when nb == 1)
    and, when nb > 1, a gathered (Og, nb*L) block, after the GEMM's packing workspace."""
    if nb > 1:
        return _variant.gemm_work() + Cg * K * nb * L + Og * nb * L
    return _variant.gemm_work() + Cg * K * (bs if bs < L else L)


cdef void _fwd_chunk(const floating* x, const floating* w, const floating* bias, bint has_bias,
                     floating* y, floating* scratch, const ConvShape* s, Py_ssize_t n0,
                     Py_ssize_t nbc, Py_ssize_t nb, Py_ssize_t bs) noexcept nogil:
    """Output samples [n0, n0 + nbc): per group, GEMMs (Og x CgK) @ (CgK x columns): one over
    all nbc samples, or, for one sample, one per block of bs output positions (a col block
    that stays in cache instead of a whole-sample col matrix streamed through memory)."""
    cdef const tt_conv_geo* g = &s.g
    cdef Py_ssize_t K = g.KD * g.KH * g.KW, L = g.OD * g.OH * g.OW, Og = s.Og, Cg = g.C
    cdef Py_ssize_t CK = Cg * K, C = s.C, O = s.O, HWD = g.D * g.H * g.W, ld = nbc * L
    cdef Py_ssize_t grp, b, o, l, p0, p1
    cdef floating* work = scratch                 # the GEMM's packed blocks
    cdef floating* col = scratch + _variant.gemm_work()
    cdef floating* tmp = col + CK * nb * L
    cdef floating* yp
    cdef const floating* tp
    cdef floating bv
    for grp in range(s.groups):
        if nbc == 1:
            yp = y + (n0 * O + grp * Og) * L
            if has_bias:
                for o in range(Og):
                    bv = bias[grp * Og + o]
                    for l in range(L):
                        yp[o * L + l] = bv
            p0 = 0
            while p0 < L:
                p1 = min(L, p0 + bs)
                _im2col(x + (n0 * C + grp * Cg) * HWD, g, p0, p1, col, p1 - p0)
                _gemm(False, False, Og, p1 - p0, CK, w + grp * Og * CK, CK, col, p1 - p0,
                      has_bias, yp + p0, L, work)
                p0 = p1
        else:
            for b in range(nbc):
                _im2col(x + ((n0 + b) * C + grp * Cg) * HWD, g, 0, L, col + b * L, ld)
            _gemm(False, False, Og, ld, CK, w + grp * Og * CK, CK, col, ld, False, tmp, ld, work)
            for b in range(nbc):
                for o in range(Og):
                    yp = y + ((n0 + b) * O + grp * Og + o) * L
                    tp = tmp + o * ld + b * L
                    bv = bias[grp * Og + o] if has_bias else 0
                    for l in range(L):
                        yp[l] = tp[l] + bv


def gemm_forward(const floating[:, :, :, :, ::1] x,      # IN  (N, C, D, H, W)
                 const floating[:, :, :, :, ::1] w,      # IN  (O, C // groups, KD, KH, KW)
                 const floating[::1] bias,               # IN  (O,) when has_bias, else any
                 bint has_bias,
                 floating[:, :, :, :, ::1] y,            # OUT (N, O, OD, OH, OW)
                 floating[:, ::1] scratch,               # SCRATCH (n_threads, gemm_scratch_size)
                 Py_ssize_t[:, ::1] geo,                 # stride, pad start, dilation, pad end rows
                 Py_ssize_t groups, Py_ssize_t nb, Py_ssize_t bs, int n_threads):
    """Convolution forward by im2col + GEMM over chunks of nb samples; one thread per chunk."""
    cdef ConvShape s
    cdef Py_ssize_t nchunks, ch, tid, n0, nbc
    if not conv_shape(&s, x.shape, w.shape, y.shape, geo, groups):
        raise ValueError("gemm_forward: inconsistent shapes (a tinytensor bug)")
    if (nb < 1 or bs < 1 or n_threads < 1 or scratch.shape[0] < n_threads
            or scratch.shape[1] < gemm_scratch_size(s.g.C, s.Og, s.g.KD * s.g.KH * s.g.KW,
                                                    s.g.OD * s.g.OH * s.g.OW, nb, bs)
            or (has_bias and bias.shape[0] != s.O)):
        raise ValueError("gemm_forward: bad scratch, bias or chunking (a tinytensor bug)")
    if s.N == 0 or s.O == 0:
        return
    nchunks = (s.N + nb - 1) // nb
    for ch in prange(nchunks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        n0 = ch * nb
        nbc = min(nb, s.N - n0)
        _fwd_chunk(&x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], &bias[0] if has_bias else NULL,
                   has_bias, &y[0, 0, 0, 0, 0], &scratch[tid, 0], &s, n0, nbc, nb, bs)


cdef void _bwd_chunk(const floating* x, const floating* w, const floating* go,
                     floating* gx, floating* gw, bint need_gx, bint need_gw, floating* scratch,
                     const ConvShape* s, Py_ssize_t n0, Py_ssize_t nbc, Py_ssize_t nb,
                     Py_ssize_t bs) noexcept nogil:
    """Samples [n0, n0 + nbc): gw (O, CgK) += go @ col^T; gx[n] = col2im(w^T @ go); by blocks
    of bs output positions when nbc == 1, as in _fwd_chunk."""
    cdef const tt_conv_geo* g = &s.g
    cdef Py_ssize_t K = g.KD * g.KH * g.KW, L = g.OD * g.OH * g.OW, Og = s.Og, Cg = g.C
    cdef Py_ssize_t CK = Cg * K, C = s.C, O = s.O, HWD = g.D * g.H * g.W, ld = nbc * L
    cdef Py_ssize_t grp, b, o, l, p0, p1, cols
    cdef floating* work = scratch                 # the GEMM's packed blocks
    cdef floating* col = scratch + _variant.gemm_work()
    cdef floating* dcol
    cdef floating* gtmp = col + CK * nb * L
    cdef const floating* gp
    cdef const floating* src
    cdef floating* dst
    # dcol reuses col: the weight-gradient GEMM has consumed col before dcol is written, and
    # one buffer keeps the working set in cache (S7 backward, 1 thread: 6.3 -> 4.9 ms)
    dcol = col
    if nbc == 1:
        for grp in range(s.groups):
            gp = go + (n0 * O + grp * Og) * L
            p0 = 0
            while p0 < L:
                p1 = min(L, p0 + bs)
                cols = p1 - p0
                if need_gw:
                    _im2col(x + (n0 * C + grp * Cg) * HWD, g, p0, p1, col, cols)
                    _gemm(False, True, Og, CK, cols, gp + p0, L, col, cols, True,
                          gw + grp * Og * CK, CK, work)
                if need_gx:
                    _gemm(True, False, CK, cols, Og, w + grp * Og * CK, CK, gp + p0, L, False,
                          dcol, cols, work)
                    _col2im(dcol, cols, g, p0, p1, gx + (n0 * C + grp * Cg) * HWD)
                p0 = p1
        return
    for grp in range(s.groups):
        for o in range(Og):
            for b in range(nbc):
                src = go + ((n0 + b) * O + grp * Og + o) * L
                dst = gtmp + o * ld + b * L
                for l in range(L):
                    dst[l] = src[l]
        gp = gtmp
        if need_gw:
            for b in range(nbc):
                _im2col(x + ((n0 + b) * C + grp * Cg) * HWD, g, 0, L, col + b * L, ld)
            _gemm(False, True, Og, CK, ld, gp, ld, col, ld, True, gw + grp * Og * CK, CK, work)
        if need_gx:
            _gemm(True, False, CK, ld, Og, w + grp * Og * CK, CK, gp, ld, False, dcol, ld, work)
            for b in range(nbc):
                _col2im(dcol + b * L, ld, g, 0, L, gx + ((n0 + b) * C + grp * Cg) * HWD)


def gemm_backward(const floating[:, :, :, :, ::1] x,     # IN  (N, C, D, H, W)
                  const floating[:, :, :, :, ::1] w,     # IN  (O, C // groups, KD, KH, KW)
                  const floating[:, :, :, :, ::1] go,    # IN  (N, O, OD, OH, OW)
                  floating[:, :, :, :, ::1] gx,          # OUT (N, C, D, H, W), zero-filled
                  floating[:, :, ::1] gw_parts,          # OUT (P, O, CgK), zero-filled
                  bint need_gx, bint need_gw,
                  floating[:, ::1] scratch,              # SCRATCH (n_threads, gemm_scratch_size)
                  Py_ssize_t[:, ::1] geo, Py_ssize_t groups, Py_ssize_t nb, Py_ssize_t bs,
                  int n_threads):
    """Gradients of the input (col2im of w^T @ go) and of the weight, accumulated over samples
    into P partial sums: partition p owns a fixed run of chunks, so the caller's sum over
    axis 0 is the same for any thread count. One thread per partition."""
    cdef ConvShape s
    cdef Py_ssize_t P = gw_parts.shape[0], nchunks, p, ch, tid, n0, nbc, CK
    cdef floating* gxp = NULL
    if not conv_shape(&s, x.shape, w.shape, go.shape, geo, groups):
        raise ValueError("gemm_backward: inconsistent shapes (a tinytensor bug)")
    CK = s.g.C * s.g.KD * s.g.KH * s.g.KW
    if (nb < 1 or bs < 1 or n_threads < 1 or P < 1 or scratch.shape[0] < n_threads
            or scratch.shape[1] < gemm_scratch_size(s.g.C, s.Og, s.g.KD * s.g.KH * s.g.KW,
                                                    s.g.OD * s.g.OH * s.g.OW, nb, bs)
            or (need_gx and (gx.shape[0] != s.N or gx.shape[1] != s.C or gx.shape[2] != s.g.D
                             or gx.shape[3] != s.g.H or gx.shape[4] != s.g.W))
            or (need_gw and (gw_parts.shape[1] != s.O or gw_parts.shape[2] != CK))):
        raise ValueError("gemm_backward: bad outputs, scratch or chunking (a tinytensor bug)")
    if s.N == 0 or s.O == 0 or not (need_gx or need_gw):
        return
    if need_gx:
        gxp = &gx[0, 0, 0, 0, 0]
    nchunks = (s.N + nb - 1) // nb
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        for ch in range(p * nchunks // P, (p + 1) * nchunks // P):
            n0 = ch * nb
            nbc = min(nb, s.N - n0)
            _bwd_chunk(&x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], &go[0, 0, 0, 0, 0], gxp,
                       &gw_parts[p, 0, 0] if need_gw else NULL, need_gx, need_gw,
                       &scratch[tid, 0], &s, n0, nbc, nb, bs)


# --------------------------------------------------------------------------------------------
# unfold / fold (im2col and col2im on 2-D images)
# --------------------------------------------------------------------------------------------

cdef tt_conv_geo _unfold_geometry(Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KH,
                                  Py_ssize_t KW, Py_ssize_t[:, ::1] geo) noexcept:
    """The 2-D geometry of unfold/fold (geo already checked); OH or OW < 1 when the blocks
    do not fit."""
    return group_geometry(C, 1, H, W, 1, KH, KW, 1,
                          out_size(H, KH, geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1]),
                          out_size(W, KW, geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2]), geo)


def unfold_forward(const floating[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                   floating[:, :, ::1] col,              # OUT (N, C*KH*KW, OH*OW)
                   Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t[:, ::1] geo, int n_threads):
    """col[n] = im2col(x[n]); one thread per sample."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], n
    cdef tt_conv_geo g
    if bad_geometry(geo) or x.shape[2] != 1 or KH < 1 or KW < 1:
        raise ValueError("unfold_forward: inconsistent shapes (a tinytensor bug)")
    g = _unfold_geometry(C, x.shape[3], x.shape[4], KH, KW, geo)
    g.sd, g.pd, g.dd = 1, 0, 1
    if (g.OH < 1 or g.OW < 1 or col.shape[0] != N or col.shape[1] != C * KH * KW
            or col.shape[2] != g.OH * g.OW):
        raise ValueError("unfold_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or C == 0:
        return
    for n in prange(N, nogil=True, schedule='static', num_threads=n_threads):
        _im2col(&x[n, 0, 0, 0, 0], &g, 0, g.OH * g.OW, &col[n, 0, 0], g.OH * g.OW)


def fold_forward(const floating[:, :, ::1] col,          # IN  (N, C*KH*KW, OH*OW)
                 floating[:, :, :, :, ::1] x,            # OUT (N, C, 1, H, W), zero-filled
                 Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t[:, ::1] geo, int n_threads):
    """x[n] += col2im(col[n]) (sums overlapping blocks); one thread per sample."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], n
    cdef tt_conv_geo g
    if bad_geometry(geo) or x.shape[2] != 1 or KH < 1 or KW < 1:
        raise ValueError("fold_forward: inconsistent shapes (a tinytensor bug)")
    g = _unfold_geometry(C, x.shape[3], x.shape[4], KH, KW, geo)
    g.sd, g.pd, g.dd = 1, 0, 1
    if (g.OH < 1 or g.OW < 1 or col.shape[0] != N or col.shape[1] != C * KH * KW
            or col.shape[2] != g.OH * g.OW):
        raise ValueError("fold_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or C == 0:
        return
    for n in prange(N, nogil=True, schedule='static', num_threads=n_threads):
        _col2im(&col[n, 0, 0], g.OH * g.OW, &g, 0, g.OH * g.OW, &x[n, 0, 0, 0, 0])
