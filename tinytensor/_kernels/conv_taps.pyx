# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The tap-by-tap convolution paths (any dtype): one GEMM per kernel tap over only the columns
that tap reaches inside the input, so no product with a padding zero is ever formed.

im2col + GEMM (conv_gemm.pyx) and the panel kernels (conv_panels.pyx) multiply every tap by
every output position, padding included. Where a plane is small and padded that is much of
the work: a DCGAN generator layer (4 x 4 -> 8 x 8, kernel 4, stride 2, padding 1) reads
padding in 23% of its products, a 3 x 3 convolution with padding 1 on 4 x 4 planes in 31%.
For tap t = (i, j, k) the output positions whose window tap lies inside the input form a box
(od in [d0, d1), oh in [h0, h1), ow in [w0, w1)); its columns, across a chunk of samples,
are gathered, multiplied by the tap's weight matrix with our own GEMM (_variant.pxd), and
added back:

- forward: y[n, :, q] += w[:, :, t] @ x[n, :, in(t, q)] for q in the box;
- input gradient: gx[n, :, in(t, q)] += w[:, :, t]^T @ go[n, :, q] for q in the box;
- weight gradient: gw[:, :, t] = the sum over samples and q in the box of
  go[n, :, q] x[n, :, in(t, q)]^T.

A chunk of samples is first copied with the sample index innermost ("interleaved"), so a
tap's box is a few long runs of columns (DCGAN's 3 or 4 positions per output row become
runs of 3 or 4 times the chunk) and the copies in and out vectorise.

Contract as in conv_gemm.pyx (C-contiguous arrays of one float dtype viewed as 3-D spatial,
O(1) checks in each `def`). Chunks and the order of the sums are fixed by the shapes, and
each task writes its own outputs (forward and input gradient: a chunk of samples; weight
gradient: a block of taps, each summed over the whole batch), so results are bitwise
identical for any thread count. Scratch is (n_threads, taps_scratch_size()): a chunk's planes, bounded by
the plan (conv_plan.taps_chunk: chunks of about TAPS_COLUMNS positions, small planes
only).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memset

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport (
    ConvShape, tt_conv_geo, conv_hi, conv_lo, conv_shape)


cdef struct Tap:
    Py_ssize_t d0, nd, h0, nh, w0, nw         # the box of outputs the tap reaches the input from
    Py_ssize_t doff, hoff, woff               # input place of output 0 under the tap


cdef inline void _gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating* a,
                       Py_ssize_t rsa, Py_ssize_t csa, const floating* b, Py_ssize_t rsb,
                       Py_ssize_t csb, bint accumulate, floating* c, Py_ssize_t ldc,
                       floating* work) noexcept nogil:
    """Row-major c (m x n) = A (m x k) @ B (k x n) (+ c when accumulate), A(i, p) =
    a[i * rsa + p * csa], B(p, j) = b[p * rsb + j * csb]."""
    if m == 0 or n == 0:
        return
    if floating is float:
        _variant.sgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)
    else:
        _variant.dgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)


cdef inline Tap _tap(const tt_conv_geo* g, Py_ssize_t t) noexcept nogil:
    """Tap t = (i, j, k) of the kernel: its box of outputs and input offsets."""
    cdef Tap tp
    cdef Py_ssize_t i = t // (g.KH * g.KW), j = t // g.KW % g.KH, k = t % g.KW
    tp.doff = i * g.dd - g.pd
    tp.hoff = j * g.dh - g.ph
    tp.woff = k * g.dw - g.pw
    tp.d0 = conv_lo(tp.doff, g.sd, g.D, g.OD)
    tp.nd = conv_hi(tp.doff, g.sd, g.D, g.OD) - tp.d0
    tp.h0 = conv_lo(tp.hoff, g.sh, g.H, g.OH)
    tp.nh = conv_hi(tp.hoff, g.sh, g.H, g.OH) - tp.h0
    tp.w0 = conv_lo(tp.woff, g.sw, g.W, g.OW)
    tp.nw = conv_hi(tp.woff, g.sw, g.W, g.OW) - tp.w0
    return tp


cdef void _interleave(const floating* a, Py_ssize_t ss, Py_ssize_t cs, Py_ssize_t nch,
                      Py_ssize_t P, Py_ssize_t nbc, floating* buf, bint back,
                      const floating* bias) noexcept nogil:
    """buf[c, p * nbc + b] = a[b * ss + c * cs + p] for nbc samples (a: the first one's first
    channel), or the reverse when back (plus bias[c] when bias is not NULL): the chunk with
    the sample index innermost, so that a tap's box is a few long runs of columns instead of
    many rows of a few."""
    cdef Py_ssize_t c, b, p
    cdef floating* dst
    cdef floating* src
    cdef floating bv
    for c in range(nch):
        dst = buf + c * P * nbc
        bv = bias[c] if bias != NULL else 0
        for b in range(nbc):
            src = <floating*> a + b * ss + c * cs
            if back and bias != NULL:
                for p in range(P):
                    src[p] = dst[p * nbc + b] + bv
            elif back:
                for p in range(P):
                    src[p] = dst[p * nbc + b]
            else:
                for p in range(P):
                    dst[p * nbc + b] = src[p]


cdef inline bint _box_is_run(const tt_conv_geo* g, const Tap* tp) noexcept nogil:
    """Whether the tap's box is one run of consecutive output positions."""
    return tp.nw == g.OW and (tp.nd == 1 or tp.nh == g.OH)


cdef void _box(floating* buf, Py_ssize_t nch, Py_ssize_t P, const tt_conv_geo* g,
               const Tap* tp, Py_ssize_t nbc, bint inplane, floating* cols,
               bint scatter) noexcept nogil:
    """Between an interleaved chunk buf (nch rows of P * nbc: _interleave) and cols (nch rows
    of nd * nh * nw * nbc: the tap's box, columns in (od, oh, ow, sample) order): copy buf's
    values into cols, or, when scatter, add cols into buf. inplane: buf holds input planes
    (the places the tap reads, ow stride apart), else output planes (the box itself)."""
    cdef Py_ssize_t ncols = tp.nd * tp.nh * tp.nw * nbc, ld = P * nbc
    cdef Py_ssize_t c, od, oh, v, e, q, base, step, run
    cdef floating* src
    cdef floating* dst
    step = g.sw if inplane else 1
    run = tp.nw * nbc if step == 1 else nbc       # floats per contiguous piece
    for c in range(nch):
        q = 0
        for od in range(tp.d0, tp.d0 + tp.nd):
            for oh in range(tp.h0, tp.h0 + tp.nh):
                if inplane:
                    base = ((od * g.sd + tp.doff) * g.H + oh * g.sh + tp.hoff) * g.W \
                        + tp.w0 * g.sw + tp.woff
                else:
                    base = (od * g.OH + oh) * g.OW + tp.w0
                for v in range(0, tp.nw if step != 1 else 1):
                    src = buf + c * ld + (base + v * step) * nbc
                    dst = cols + c * ncols + q
                    if scatter:
                        for e in range(run):
                            src[e] = src[e] + dst[e]
                    else:
                        for e in range(run):
                            dst[e] = src[e]
                    q = q + run


cdef void _check_scratch(str name, const ConvShape* s, Py_ssize_t Cg, Py_ssize_t Og,
                         Py_ssize_t nb, int n_threads, Py_ssize_t rows,
                         Py_ssize_t row_size) except *:
    """The chunking and the per-thread scratch every tap-by-tap kernel needs (the caller,
    tinytensor/_functions/conv.py, sizes them by taps_scratch_size; a mismatch is our bug)."""
    if (nb < 1 or n_threads < 1 or rows < n_threads
            or row_size < taps_scratch_size(Cg, Og, s.g.OD * s.g.OH * s.g.OW,
                                            s.g.D * s.g.H * s.g.W, nb)):
        raise ValueError(f"{name}: bad scratch or chunking (a tinytensor bug)")


cdef void _forward_chunk(const floating* x, const floating* wt, const floating* bias,
                         floating* y, floating* scratch, const ConvShape* s, Py_ssize_t grp,
                         Py_ssize_t n0, Py_ssize_t nbc) noexcept nogil:
    """y of samples [n0, n0 + nbc) and group grp: the taps' products summed tap after tap
    (a fixed order), then the bias."""
    cdef const tt_conv_geo* g = &s.g
    cdef Py_ssize_t T = g.KD * g.KH * g.KW, Og = s.Og, Cg = g.C, L = g.OD * g.OH * g.OW
    cdef Py_ssize_t HWD = g.D * g.H * g.W, t, cols
    cdef floating* work = scratch
    cdef floating* ybuf = scratch + _variant.gemm_work()      # Og x L * nbc: y, interleaved
    cdef floating* xbuf = ybuf + Og * L * nbc                   # Cg x HWD * nbc: x, interleaved
    cdef floating* bcol = xbuf + Cg * HWD * nbc                 # Cg x cols: x under a tap
    cdef floating* ccol = bcol + Cg * L * nbc                   # Og x cols: their products
    cdef Tap tp
    _interleave(x + (n0 * s.C + grp * Cg) * HWD, s.C * HWD, HWD, Cg, HWD, nbc, xbuf, False,
                NULL)
    memset(ybuf, 0, Og * L * nbc * sizeof(floating))
    for t in range(T):
        tp = _tap(g, t)
        if tp.nd <= 0 or tp.nh <= 0 or tp.nw <= 0:
            continue
        cols = tp.nd * tp.nh * tp.nw * nbc
        _box(xbuf, Cg, HWD, g, &tp, nbc, True, bcol, False)
        if _box_is_run(g, &tp):                   # add straight into y's columns
            _gemm(Og, cols, Cg, wt + (grp * T + t) * Og * Cg, Cg, 1, bcol, cols, 1, True,
                  ybuf + ((tp.d0 * g.OH + tp.h0) * g.OW + tp.w0) * nbc, L * nbc, work)
        else:
            _gemm(Og, cols, Cg, wt + (grp * T + t) * Og * Cg, Cg, 1, bcol, cols, 1, False,
                  ccol, cols, work)
            _box(ybuf, Og, L, g, &tp, nbc, False, ccol, True)
    _interleave(y + (n0 * s.O + grp * Og) * L, s.O * L, L, Og, L, nbc, ybuf, True,
                bias + grp * Og if bias != NULL else NULL)


def taps_forward(const floating[:, :, :, :, ::1] x,          # IN  (N, C, D, H, W)
                 const floating[:, :, :, ::1] wt,            # IN  (groups, T, Og, Cg): w per tap
                 const floating[::1] bias,                   # IN  (O,) when has_bias, else any
                 bint has_bias,
                 floating[:, :, :, :, ::1] y,                # OUT (N, O, OD, OH, OW)
                 floating[:, ::1] scratch,                   # SCRATCH (n_threads, taps_scratch_size)
                 Py_ssize_t[:, ::1] geo, Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                 Py_ssize_t nb, int n_threads):
    """Convolution forward tap by tap over chunks of nb samples: one task per (group, chunk),
    which writes that chunk's y (every element)."""
    cdef ConvShape s
    cdef Py_ssize_t groups = wt.shape[0], T = wt.shape[1], Og = wt.shape[2], Cg = wt.shape[3]
    cdef Py_ssize_t w_shape[5]
    cdef Py_ssize_t nchunks, task, grp, n0, tid
    w_shape[0], w_shape[1], w_shape[2], w_shape[3], w_shape[4] = Og * groups, Cg, KD, KH, KW
    if (T != KD * KH * KW or not conv_shape(&s, x.shape, w_shape, y.shape, geo, groups)
            or (has_bias and bias.shape[0] != s.O)):
        raise ValueError("taps_forward: inconsistent shapes (a tinytensor bug)")
    _check_scratch("taps_forward", &s, Cg, Og, nb, n_threads, scratch.shape[0],
                   scratch.shape[1])
    if s.N == 0 or s.O == 0:
        return
    nchunks = (s.N + nb - 1) // nb
    for task in prange(groups * nchunks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        grp = task // nchunks
        n0 = task % nchunks * nb
        _forward_chunk(&x[0, 0, 0, 0, 0] if Cg else NULL, &wt[0, 0, 0, 0] if Cg else NULL,
                       &bias[0] if has_bias else NULL, &y[0, 0, 0, 0, 0], &scratch[tid, 0],
                       &s, grp, n0, min(nb, s.N - n0))


def taps_scratch_size(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t L, Py_ssize_t HWD,
                      Py_ssize_t nb):
    """Per-thread scratch (elements) of taps_forward, taps_backward_input and
    taps_weight_grad for chunks of nb samples with L output and HWD input positions: the
    GEMM's workspace, the chunk's output-side and input-side planes interleaved, and one
    tap's columns of both."""
    return _variant.gemm_work() + nb * (2 * Og * L + Cg * (HWD + L))


cdef void _input_chunk(const floating* go, const floating* wt, floating* gx,
                       floating* scratch, const ConvShape* s, Py_ssize_t grp, Py_ssize_t n0,
                       Py_ssize_t nbc, const Py_ssize_t* order) noexcept nogil:
    """gx of samples [n0, n0 + nbc) and group grp, tap after tap in the given order."""
    cdef const tt_conv_geo* g = &s.g
    cdef Py_ssize_t T = g.KD * g.KH * g.KW, Og = s.Og, Cg = g.C, L = g.OD * g.OH * g.OW
    cdef Py_ssize_t HWD = g.D * g.H * g.W, t, ti, cols, ldb
    cdef floating* work = scratch
    cdef floating* gbuf = scratch + _variant.gemm_work()      # Og x L * nbc: go, interleaved
    cdef floating* xbuf = gbuf + Og * L * nbc                   # Cg x HWD * nbc: gx, interleaved
    cdef floating* bcol = xbuf + Cg * HWD * nbc                 # Og x cols: a tap's go columns
    cdef floating* ccol = bcol + Og * L * nbc                   # Cg x cols: their products
    cdef const floating* b
    cdef Tap tp
    _interleave(go + (n0 * s.O + grp * Og) * L, s.O * L, L, Og, L, nbc, gbuf, False, NULL)
    memset(xbuf, 0, Cg * HWD * nbc * sizeof(floating))
    for ti in range(T):
        t = order[ti]
        tp = _tap(g, t)
        if tp.nd <= 0 or tp.nh <= 0 or tp.nw <= 0:
            continue
        cols = tp.nd * tp.nh * tp.nw * nbc
        if _box_is_run(g, &tp):                   # no copy: go's columns as they stand
            b = gbuf + ((tp.d0 * g.OH + tp.h0) * g.OW + tp.w0) * nbc
            ldb = L * nbc
        else:
            _box(gbuf, Og, L, g, &tp, nbc, False, bcol, False)
            b = bcol
            ldb = cols
        # the tap's (Og, Cg) matrix read transposed: the GEMM packs its columns as they
        # stand (contiguous runs of Cg), as fast as rows of a transposed copy
        _gemm(Cg, cols, Og, wt + (grp * T + t) * Og * Cg, 1, Cg, b, ldb, 1, False, ccol, cols,
              work)
        _box(xbuf, Cg, HWD, g, &tp, nbc, True, ccol, True)
    _interleave(gx + (n0 * s.C + grp * Cg) * HWD, s.C * HWD, HWD, Cg, HWD, nbc, xbuf, True, NULL)


def taps_backward_input(const floating[:, :, :, :, ::1] go,   # IN  (N, O, OD, OH, OW)
                        const floating[:, :, :, ::1] wt,       # IN  (groups, T, Og, Cg): w per tap
                        floating[:, :, :, :, ::1] gx,          # OUT (N, C, D, H, W)
                        floating[:, ::1] scratch,              # SCRATCH (n_threads, taps_scratch_size)
                        Py_ssize_t[:, ::1] geo, Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                        Py_ssize_t nb, const Py_ssize_t[::1] order, int n_threads):
    """Input gradient tap by tap over chunks of nb samples: one task per (group, chunk), which
    writes that chunk's gx (every element). order: the taps, a permutation of range(T) (see
    tap_order: taps that add into the same input places one after the other)."""
    cdef ConvShape s
    cdef Py_ssize_t groups = wt.shape[0], T = wt.shape[1], Og = wt.shape[2], Cg = wt.shape[3]
    cdef Py_ssize_t w_shape[5]
    cdef Py_ssize_t nchunks, task, grp, n0, tid
    w_shape[0], w_shape[1], w_shape[2], w_shape[3], w_shape[4] = Og * groups, Cg, KD, KH, KW
    if T != KD * KH * KW or not conv_shape(&s, gx.shape, w_shape, go.shape, geo, groups):
        raise ValueError("taps_backward_input: inconsistent shapes (a tinytensor bug)")
    _check_scratch("taps_backward_input", &s, Cg, Og, nb, n_threads, scratch.shape[0],
                   scratch.shape[1])
    if order.shape[0] != T or sorted(order) != list(range(T)):
        raise ValueError("taps_backward_input: bad tap order (a tinytensor bug)")
    if s.N == 0 or s.O == 0 or s.C == 0:
        return
    nchunks = (s.N + nb - 1) // nb
    for task in prange(groups * nchunks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        grp = task // nchunks
        n0 = task % nchunks * nb
        _input_chunk(&go[0, 0, 0, 0, 0], &wt[0, 0, 0, 0], &gx[0, 0, 0, 0, 0], &scratch[tid, 0],
                     &s, grp, n0, min(nb, s.N - n0), &order[0])


cdef void _weight_taps(const floating* gbuf, const floating* xbuf, floating* gwt,
                       floating* scratch, const ConvShape* s, Py_ssize_t grp, Py_ssize_t t0,
                       Py_ssize_t t1, Py_ssize_t nb, Py_ssize_t nbc,
                       bint accumulate) noexcept nogil:
    """gwt[grp * T + t] (Og x Cg) = (+= when accumulate) go's box columns times x's columns
    under tap t, for the taps [t0, t1), over one interleaved chunk of nbc <= nb samples (gbuf:
    go, xbuf: x, as _interleave leaves them; scratch: this thread's row, laid out as
    taps_scratch_size says for chunks of nb). The sums' order depends on the shapes only, not
    on which taps share a task."""
    cdef const tt_conv_geo* g = &s.g
    cdef Py_ssize_t T = g.KD * g.KH * g.KW, Og = s.Og, Cg = g.C, L = g.OD * g.OH * g.OW
    cdef Py_ssize_t HWD = g.D * g.H * g.W, t, cols, lda
    cdef floating* work = scratch
    # past the chunk's buffers (which the first thread's row holds for all): Og x cols, a
    # tap's go columns
    cdef floating* acol = scratch + _variant.gemm_work() + nb * (Og * L + Cg * HWD)
    cdef floating* bcol = acol + Og * L * nbc                   # Cg x cols: x's under the tap
    cdef const floating* a
    cdef Tap tp
    for t in range(t0, t1):
        tp = _tap(g, t)
        if tp.nd <= 0 or tp.nh <= 0 or tp.nw <= 0:
            continue
        cols = tp.nd * tp.nh * tp.nw * nbc
        if _box_is_run(g, &tp):
            a = gbuf + ((tp.d0 * g.OH + tp.h0) * g.OW + tp.w0) * nbc
            lda = L * nbc
        else:
            _box(<floating*> gbuf, Og, L, g, &tp, nbc, False, acol, False)
            a = acol
            lda = cols
        _box(<floating*> xbuf, Cg, HWD, g, &tp, nbc, True, bcol, False)
        _gemm(Og, Cg, cols, a, lda, 1, bcol, 1, cols, accumulate,
              gwt + (grp * T + t) * Og * Cg, Cg, work)


def taps_weight_grad(const floating[:, :, :, :, ::1] x,      # IN  (N, C, D, H, W)
                     const floating[:, :, :, :, ::1] go,     # IN  (N, O, OD, OH, OW)
                     floating[:, :, ::1] gwt,                # OUT (groups * T, Og, Cg)
                     floating[:, ::1] scratch,               # SCRATCH (n_threads, taps_scratch_size)
                     Py_ssize_t[:, ::1] geo, Py_ssize_t groups, Py_ssize_t KD, Py_ssize_t KH,
                     Py_ssize_t KW, Py_ssize_t nb, int n_threads):
    """Weight gradient tap by tap, per tap as an (Og, Cg) matrix summed over the batch in
    chunks of nb samples. Group by group and chunk by chunk, the threads first interleave the
    chunk's go and x once, a channel each at a time (into the first thread's scratch), then
    each takes a block of taps (a block of output channels of every tap instead was slower,
    on a loaded machine: 3 x 3 on 4 x 4 planes, 512 channels, 2 threads, 13.3 ms against 11.0,
    though the taps split 4 against 5). Every element of gwt is summed by one thread in an
    order fixed by the shapes, whatever the blocks."""
    cdef ConvShape s
    cdef Py_ssize_t T = KD * KH * KW, Og, Cg, nblocks, grp, blk, n0, nbc, c, t, e, L, HWD
    cdef Py_ssize_t w_shape[5]
    cdef floating* gbuf
    cdef floating* xbuf
    cdef floating* out
    cdef Tap tp
    if groups < 1 or T < 1 or gwt.shape[0] != groups * T:
        raise ValueError("taps_weight_grad: inconsistent shapes (a tinytensor bug)")
    Og, Cg = gwt.shape[1], gwt.shape[2]
    w_shape[0], w_shape[1], w_shape[2], w_shape[3], w_shape[4] = Og * groups, Cg, KD, KH, KW
    if not conv_shape(&s, x.shape, w_shape, go.shape, geo, groups):
        raise ValueError("taps_weight_grad: inconsistent shapes (a tinytensor bug)")
    _check_scratch("taps_weight_grad", &s, Cg, Og, nb, n_threads, scratch.shape[0],
                   scratch.shape[1])
    if s.O == 0 or s.C == 0:
        return
    L = s.g.OD * s.g.OH * s.g.OW
    HWD = s.g.D * s.g.H * s.g.W
    gbuf = &scratch[0, 0] + _variant.gemm_work()                # Og x L * nb: go, interleaved
    xbuf = gbuf + Og * L * nb                                   # Cg x HWD * nb: x, interleaved
    for t in range(groups * T):                   # taps no output reaches: zero
        tp = _tap(&s.g, t % T)
        if tp.nd <= 0 or tp.nh <= 0 or tp.nw <= 0 or s.N == 0:
            out = &gwt[t, 0, 0]
            for e in range(Og * Cg):
                out[e] = 0
    if L == 0 or HWD == 0:                        # no tap reaches anything: all zero
        return
    nblocks = min(T, n_threads)
    for grp in range(groups):
        n0 = 0
        while n0 < s.N:
            nbc = min(nb, s.N - n0)
            for c in prange(Og + Cg, nogil=True, schedule='static', num_threads=n_threads):
                if c < Og:
                    _interleave(&go[n0, grp * Og + c, 0, 0, 0], s.O * L, L, 1, L, nbc,
                                gbuf + c * L * nbc, False, NULL)
                else:
                    _interleave(&x[n0, grp * Cg + c - Og, 0, 0, 0], s.C * HWD, HWD, 1, HWD,
                                nbc, xbuf + (c - Og) * HWD * nbc, False, NULL)
            for blk in prange(nblocks, nogil=True, schedule='static', num_threads=n_threads):
                _weight_taps(gbuf, xbuf, &gwt[0, 0, 0], &scratch[threadid(), 0], &s, grp,
                             blk * T // nblocks, (blk + 1) * T // nblocks, nb, nbc, n0 > 0)
            n0 = n0 + nbc


def tap_order(Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t[:, ::1] geo):
    """The taps in the order taps_backward_input adds them: grouped by the input places they
    reach (the residues of their offsets modulo the stride), in ascending order within a
    group. Every input place is reached by one group only, and by its taps in ascending
    order, so the sums are those of the natural order (the same bits); but with a stride the
    chunk's gx is visited a part at a time: DCGAN's 2 MB chunk (beyond L2) a quarter at a
    time."""
    def key(t):
        i, j, k = t // (KH * KW), t // KW % KH, t % KW
        return ((i * geo[2, 0] - geo[1, 0]) % geo[0, 0], (j * geo[2, 1] - geo[1, 1]) % geo[0, 1],
                (k * geo[2, 2] - geo[1, 2]) % geo[0, 2], t)
    return np.array(sorted(range(KD * KH * KW), key=key), dtype=np.intp)


cdef extern from "tt_transpose.h" nogil:
    void tt_transpose_f32(const float* src, Py_ssize_t lds, float* dst, Py_ssize_t ldd,
                          Py_ssize_t rows, Py_ssize_t cols)
    void tt_transpose_f64(const double* src, Py_ssize_t lds, double* dst, Py_ssize_t ldd,
                          Py_ssize_t rows, Py_ssize_t cols)


cdef inline void _transpose(const floating* src, Py_ssize_t lds, floating* dst, Py_ssize_t ldd,
                            Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    """dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols."""
    if floating is float:
        tt_transpose_f32(src, lds, dst, ldd, rows, cols)
    else:
        tt_transpose_f64(src, lds, dst, ldd, rows, cols)


def to_per_tap(const floating[:, :, ::1] w,             # IN  (O, Cg, T): as stored
               floating[:, :, :, ::1] wt,                # OUT (groups, T, Og, Cg)
               int n_threads):
    """wt[g, t, o, c] = w[g * Og + o, c, t]: the weights in the tap-by-tap kernels' layout (a
    tap's matrix with its rows contiguous, and its columns runs of Cg: the GEMM packs either
    fast), output channel by output channel, each a transpose of its (Cg, T) block into T
    rows of Cg (tt_transpose.h)."""
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], T = w.shape[2], groups = wt.shape[0]
    cdef Py_ssize_t Og = O // groups if groups > 0 else 0, o, g
    if groups < 1 or O % groups or wt.shape[1] != T or (wt.shape[2], wt.shape[3]) != (Og, Cg):
        raise ValueError("to_per_tap: inconsistent shapes (a tinytensor bug)")
    if O == 0 or Cg == 0 or T == 0:
        return
    for o in prange(O, nogil=True, schedule='static', num_threads=n_threads):
        g = o // Og
        _transpose(&w[o, 0, 0], T, &wt[g, 0, o - g * Og, 0], Og * Cg, Cg, T)


def from_per_tap(const floating[:, :, :, ::1] wt,        # IN  (groups, T, Og, Cg)
                 floating[:, :, ::1] w,                  # OUT (O, Cg, T)
                 int n_threads):
    """The reverse of to_per_tap: the weight gradient back to the weights' layout, one
    thread per output channel."""
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], T = w.shape[2], groups = wt.shape[0]
    cdef Py_ssize_t Og = wt.shape[2], o, g
    if groups < 1 or wt.shape[1] != T or wt.shape[3] != Cg or Og * groups != O:
        raise ValueError("from_per_tap: inconsistent shapes (a tinytensor bug)")
    if O == 0 or Cg == 0 or T == 0:
        return
    for o in prange(O, nogil=True, schedule='static', num_threads=n_threads):
        g = o // Og
        _transpose(&wt[g, 0, o - g * Og, 0], Og * Cg, &w[o, 0, 0], T, T, Cg)
