# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Convolution kernels (forward, backward) and im2col/col2im for unfold/fold.

Contract: the callers (tinytensor/_functions/conv.py and fold.py, after
tinytensor/nn/functional/conv.py and fold.py have validated every argument with PyTorch's
messages) pass C-contiguous float32/float64 arrays of one dtype. Every spatial rank is handled
as 3-D: conv1d is (N, C, 1, 1, L), conv2d is (N, C, 1, H, W). Each `def` re-checks the O(1)
invariants that keep every index below in range, so a tinytensor bug raises instead of
corrupting memory.

Notes:
- GEMM paths (im2col + GEMM) call our own GEMMs (c/tt_isa.h: the float32 and float64 GEMMs of
  the ISA variant chosen at import, c/tt_gemm_plain.h on a build without any), never BLAS:
  each OpenMP thread runs single-threaded GEMMs on its own chunk of samples. A chunk's result
  does not depend on which thread computes it, and the chunks and weight-gradient partitions
  are fixed by the shapes alone, so results are bitwise identical for any thread count.
- Scratch is a caller-allocated (n_threads, size) array; a thread uses row `threadid()`.
"""
from cython cimport floating
import numpy as np
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

cdef extern from "tt_isa.h" nogil:
    ctypedef struct tt_conv_geo:
        Py_ssize_t C, D, H, W, KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw, dd, dh, dw
    ctypedef struct tt_conv_kernels:
        const char* name
        int mr, nr, vl, rows_mr
        Py_ssize_t work
        int dmr, dnr
        Py_ssize_t dwork
        void (*sgemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                   Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb,
                   int accumulate, float* c, Py_ssize_t ldc, float* work) noexcept nogil
        void (*dgemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a, Py_ssize_t rsa,
                   Py_ssize_t csa, const double* b, Py_ssize_t rsb, Py_ssize_t csb,
                   int accumulate, double* c, Py_ssize_t ldc, double* work) noexcept nogil
        Py_ssize_t (*rows_padded)(Py_ssize_t M) noexcept nogil
        void (*pack_weights)(float* dst, const float* w, Py_ssize_t M, Py_ssize_t K) noexcept nogil
        void (*forward_panel)(const float* x, Py_ssize_t xs, const tt_conv_geo* g,
                           const float* wp, Py_ssize_t M, const float* bias, float* y,
                           Py_ssize_t ys, Py_ssize_t q0, int nq, float* panel, float* tile) noexcept nogil
        void (*backward_input_panel)(const float* go, Py_ssize_t gos, const tt_conv_geo* g,
                                  const float* wt, Py_ssize_t M, float* gx, Py_ssize_t xs,
                                  Py_ssize_t q0, int nq, float* panel, float* tile) noexcept nogil
        void (*rows_pack_weights)(float* dst, const float* w, Py_ssize_t M, Py_ssize_t C,
                               Py_ssize_t T) noexcept nogil
        void (*rows_forward_piece)(const float* x, Py_ssize_t xs, const tt_conv_geo* g,
                                const float* wp, Py_ssize_t M, const float* bias, float* y,
                                Py_ssize_t ys, Py_ssize_t n, Py_ssize_t od, Py_ssize_t oh,
                                Py_ssize_t ow0, int nr) noexcept nogil
    const tt_conv_kernels* tt_conv_kernels_get(const char* name)

cdef extern from "tt_gemm_plain.h" nogil:
    void tt_sgemm_plain(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                        Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb,
                        int accumulate, float* c, Py_ssize_t ldc)
    void tt_dgemm_plain(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a,
                        Py_ssize_t rsa, Py_ssize_t csa, const double* b, Py_ssize_t rsb,
                        Py_ssize_t csb, int accumulate, double* c, Py_ssize_t ldc)

from tinytensor._kernels import _isa

# The kernels of one ISA variant (c/tt_isa.h), chosen once at import by _isa (the CPU's best,
# or TINYTENSOR_ISA); NULL on a build without any (then the GEMMs are tt_gemm_plain.h's and
# the float32 panel and rows paths do not exist). use_variant() switches them, for tests.
cdef const tt_conv_kernels* _kt = (tt_conv_kernels_get(_isa.selected().encode())
                                   if _isa.selected() is not None else NULL)
# GEMM workspace per thread, in elements of either dtype: enough for any variant's sgemm and
# dgemm, so scratch sizes never depend on the variant
cdef Py_ssize_t TT_GEMM_WORK = 0


def _max_work():
    cdef Py_ssize_t most = 0
    cdef const tt_conv_kernels* kt
    for name in _isa.supported():
        kt = tt_conv_kernels_get(name.encode())
        if kt != NULL:
            most = max(most, kt.work, kt.dwork)
    return most


TT_GEMM_WORK = _max_work()


def use_variant(str name):
    """Run the kernels of variant `name` (one of _isa.supported()) from now on; returns the
    previous variant's name. For tests and benchmarks: not thread-safe."""
    global _kt
    cdef const tt_conv_kernels* kt = tt_conv_kernels_get(name.encode())
    if kt == NULL:
        raise ValueError(f"use_variant: {name!r} is not one of {_isa.supported()}")
    old = variant()
    _kt = kt
    return old


def variant():
    """The variant whose kernels run (see _isa), or None (plain-C GEMMs only)."""
    return _kt.name.decode() if _kt != NULL else None


def tile():
    """(rows, columns) of the running variant's float32 GEMM micro-kernel tile (None: no
    variant)."""
    return (_kt.mr, _kt.nr) if _kt != NULL else None


def dtile():
    """(rows, columns) of the running variant's float64 GEMM micro-kernel tile."""
    return (_kt.dmr, _kt.dnr) if _kt != NULL else None


def own_sgemm():
    """Whether a variant's kernels run (the float32 panel and rows paths need them)."""
    return _kt != NULL


def variant_gemm(const floating[:, :] a, const floating[:, :] b, floating[:, ::1] c,
                 bint accumulate, int n_threads=1):
    """c = a @ b (+ c when accumulate) by the GEMM the convolutions use (the running variant's
    sgemm or dgemm), for the tests and the benchmark's GEMM ceiling. a and b may have any
    strides (a transposed view is swapped strides); rows of c are split into n_threads
    blocks, each one thread's single-threaded GEMM."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1], t, r0, r1, rows
    cdef Py_ssize_t f = sizeof(floating)
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n or n_threads < 1:
        raise ValueError(f"variant_gemm: shapes {(m, k)} @ {(b.shape[0], n)} -> {(c.shape[0], c.shape[1])}")
    if any(s % f for s in (a.strides[0], a.strides[1], b.strides[0], b.strides[1])):
        raise ValueError("variant_gemm: strides must be whole elements")
    work = np.empty((n_threads, max(TT_GEMM_WORK, 1)), np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] wk = work
    if m == 0 or n == 0:
        return
    rows = (m + n_threads - 1) // n_threads
    for t in prange(n_threads, nogil=True, schedule='static', num_threads=n_threads):
        r0 = t * rows
        r1 = min(m, r0 + rows)
        if r0 < r1:
            _strided_gemm(r1 - r0, n, k, &a[r0, 0] if k > 0 else NULL, a.strides[0] // f,
                          a.strides[1] // f, &b[0, 0] if k > 0 else NULL, b.strides[0] // f,
                          b.strides[1] // f, accumulate, &c[r0, 0], n, &wk[t, 0])


variant_sgemm = variant_gemm    # older names (tests, benchmarks/bench_conv.py)
avx512_sgemm = variant_gemm


cdef extern from "tt_conv_direct.h" nogil:
    void tt_dw_fwd_f32(float* y, const float* x, const float* w, float bias,
                       Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KD, Py_ssize_t KH,
                       Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                       Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh,
                       Py_ssize_t dw) noexcept nogil
    void tt_dw_fwd_f64(double* y, const double* x, const double* w, double bias,
                       Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KD, Py_ssize_t KH,
                       Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                       Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh,
                       Py_ssize_t dw) noexcept nogil
    void tt_dw_bwd_f32(const float* go, const float* x, const float* w, float* gx, float* rows,
                       int need_gx, int need_gw, int need_gb,
                       Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KD, Py_ssize_t KH,
                       Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                       Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh,
                       Py_ssize_t dw) noexcept nogil
    void tt_dw_bwd_f64(const double* go, const double* x, const double* w, double* gx,
                       double* rows, int need_gx, int need_gw, int need_gb,
                       Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KD, Py_ssize_t KH,
                       Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                       Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd,
                       Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh,
                       Py_ssize_t dw) noexcept nogil


cdef inline Py_ssize_t _out_size(Py_ssize_t n, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p,
                                 Py_ssize_t q, Py_ssize_t d) noexcept nogil:
    """Output length for padding p at the start and q at the end."""
    return (n + p + q - d * (k - 1) - 1) // s + 1


cdef inline void _strided_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating* a,
                               Py_ssize_t rsa, Py_ssize_t csa, const floating* b,
                               Py_ssize_t rsb, Py_ssize_t csb, bint accumulate, floating* c,
                               Py_ssize_t ldc, floating* work) noexcept nogil:
    """c (m x n, ldc) = A B (+ c when accumulate), A(i, p) = a[i*rsa + p*csa], B(p, j) =
    b[p*rsb + j*csb]: the running variant's GEMM of this dtype, or tt_gemm_plain.h's.
    work: TT_GEMM_WORK elements."""
    if floating is float:
        if _kt != NULL:
            _kt.sgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)
        else:
            tt_sgemm_plain(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc)
    else:
        if _kt != NULL:
            _kt.dgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)
        else:
            tt_dgemm_plain(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc)


cdef inline void _gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                       const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb,
                       bint accumulate, floating* c, Py_ssize_t ldc,
                       floating* work) noexcept nogil:
    """Row-major c (m x n, ldc) = op(a) (m x k) @ op(b) (k x n) (+ c when accumulate); op
    transposes when trans_ is set. work: TT_GEMM_WORK elements."""
    if m == 0 or n == 0:
        return
    _strided_gemm(m, n, k, a, 1 if trans_a else lda, lda if trans_a else 1,
                  b, 1 if trans_b else ldb, ldb if trans_b else 1, accumulate, c, ldc, work)


cdef inline Py_ssize_t _hi(Py_ssize_t off, Py_ssize_t s, Py_ssize_t n,
                          Py_ssize_t out) noexcept nogil:
    """End of the outputs o in [0, out) with o * s + off < n."""
    cdef Py_ssize_t b = 0
    if n - off > 0:
        b = (n - off - 1) // s + 1          # ceil without s - 1 in the sum: s may be ~2**63
    return b if b < out else out


cdef inline Py_ssize_t _lo(Py_ssize_t off, Py_ssize_t s, Py_ssize_t n,
                          Py_ssize_t out) noexcept nogil:
    """Start of the outputs o in [0, out) with 0 <= o * s + off < n (never above _hi).
    Values, not out-pointers: a prange body must assign its locals to keep them private."""
    cdef Py_ssize_t a = 0, b = _hi(off, s, n, out)
    if off < 0:
        a = (-off - 1) // s + 1
    return a if a < b else b


cdef void _im2col(const floating* x, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                  Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                  Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                  Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                  Py_ssize_t p0, Py_ssize_t p1, floating* col, Py_ssize_t ldcol) noexcept nogil:
    """col[(c, kd, kh, kw), p - p0] = x[c, od*sd-pd+kd*dd, oh*sh-ph+kh*dh, ow*sw-pw+kw*dw]
    (0 in the padding) for the output positions p = (od * OH + oh) * OW + ow in [p0, p1)
    (0 <= p0 < p1 <= OD*OH*OW); x is one sample (C, D, H, W), col rows are ldcol apart."""
    cdef Py_ssize_t c, i, j, k, q, od, oh, ow, d, h, off, lo, hi, a, e, a2, e2, q1, r = 0
    cdef floating* dst
    cdef const floating* src
    q1 = (p1 - 1) // OW
    for c in range(C):
        for i in range(KD):
            for j in range(KH):
                for k in range(KW):
                    off = k * dw - pw
                    lo = _lo(off, sw, W, OW)
                    hi = _hi(off, sw, W, OW)
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


cdef void _col2im(const floating* col, Py_ssize_t ldcol,
                  Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                  Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                  Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                  Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                  Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                  Py_ssize_t p0, Py_ssize_t p1, floating* x) noexcept nogil:
    """The adjoint of _im2col over output positions [p0, p1): x[c, d, h, w] += every col
    entry that _im2col read from there. One caller thread owns x (one sample); the order of
    the sums is fixed."""
    cdef Py_ssize_t c, i, j, k, q, od, oh, ow, d, h, off, lo, hi, a, e, a2, e2, q1, r = 0
    cdef const floating* src
    cdef floating* dst
    q1 = (p1 - 1) // OW
    for c in range(C):
        for i in range(KD):
            for j in range(KH):
                for k in range(KW):
                    off = k * dw - pw
                    lo = _lo(off, sw, W, OW)
                    hi = _hi(off, sw, W, OW)
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


cdef inline bint _bad_geometry(Py_ssize_t[:, ::1] geo) noexcept:
    """geo rows: stride, padding at the start, dilation, padding at the end (D, H, W each).
    Kernels index with the start padding; reads past the end are clipped, which is the
    zero padding at the end ('same' puts the odd pixel there)."""
    cdef Py_ssize_t a
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        return True
    for a in range(3):
        if geo[0, a] < 1 or geo[1, a] < 0 or geo[2, a] < 1 or geo[3, a] < 0:
            return True
    return False


cdef bint _bad_shapes(Py_ssize_t N, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                      Py_ssize_t O, Py_ssize_t Cg, Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                      Py_ssize_t N2, Py_ssize_t O2, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                      Py_ssize_t[:, ::1] geo, Py_ssize_t groups) noexcept:
    if _bad_geometry(geo) or groups < 1 or C != Cg * groups or O % groups or N2 != N or O2 != O:
        return True
    if min(KD, KH, KW) < 1:
        return True
    return (OD != _out_size(D, KD, geo[0, 0], geo[1, 0], geo[3, 0], geo[2, 0]) or
            OH != _out_size(H, KH, geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1]) or
            OW != _out_size(W, KW, geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2]) or min(OD, OH, OW) < 1)


# --------------------------------------------------------------------------------------------
# im2col + GEMM path
# --------------------------------------------------------------------------------------------

def gemm_scratch_size(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t K, Py_ssize_t L, Py_ssize_t nb,
                      Py_ssize_t bs):
    """Per-thread scratch (elements) of gemm_forward / gemm_backward: col (reused as dcol) for
    a block of columns (nb whole samples, or bs output positions of one sample when nb == 1)
    and, when nb > 1, a gathered (Og, nb*L) block, after the GEMM's packing workspace."""
    if nb > 1:
        return TT_GEMM_WORK + Cg * K * nb * L + Og * nb * L
    return TT_GEMM_WORK + Cg * K * (bs if bs < L else L)


cdef void _fwd_chunk(const floating* x, const floating* w, const floating* bias, bint has_bias,
                     floating* y, floating* scratch,
                     Py_ssize_t n0, Py_ssize_t nbc, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H,
                     Py_ssize_t W, Py_ssize_t O, Py_ssize_t Cg, Py_ssize_t KD, Py_ssize_t KH,
                     Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                     Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd, Py_ssize_t ph,
                     Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                     Py_ssize_t groups, Py_ssize_t nb, Py_ssize_t bs) noexcept nogil:
    """Output samples [n0, n0 + nbc): per group, GEMMs (Og x CgK) @ (CgK x columns): one over
    all nbc samples, or, for one sample, one per block of bs output positions (a col block
    that stays in cache instead of a whole-sample col matrix streamed through memory)."""
    cdef Py_ssize_t K = KD * KH * KW, L = OD * OH * OW, Og = O // groups, CK = Cg * K
    cdef Py_ssize_t HWD = D * H * W, ld = nbc * L, g, b, o, l, p0, p1
    cdef floating* work = scratch                 # the GEMM's packed blocks
    cdef floating* col = scratch + TT_GEMM_WORK
    cdef floating* tmp = col + CK * nb * L
    cdef floating* yp
    cdef const floating* tp
    cdef floating bv
    for g in range(groups):
        if nbc == 1:
            yp = y + (n0 * O + g * Og) * L
            if has_bias:
                for o in range(Og):
                    bv = bias[g * Og + o]
                    for l in range(L):
                        yp[o * L + l] = bv
            p0 = 0
            while p0 < L:
                p1 = min(L, p0 + bs)
                _im2col(x + (n0 * C + g * Cg) * HWD, Cg, D, H, W, KD, KH, KW, OD, OH, OW,
                        sd, sh, sw, pd, ph, pw, dd, dh, dw, p0, p1, col, p1 - p0)
                _gemm(False, False, Og, p1 - p0, CK, w + g * Og * CK, CK, col, p1 - p0,
                      1 if has_bias else 0, yp + p0, L, work)
                p0 = p1
        else:
            for b in range(nbc):
                _im2col(x + ((n0 + b) * C + g * Cg) * HWD, Cg, D, H, W, KD, KH, KW, OD, OH,
                        OW, sd, sh, sw, pd, ph, pw, dd, dh, dw, 0, L, col + b * L, ld)
            _gemm(False, False, Og, ld, CK, w + g * Og * CK, CK, col, ld, 0, tmp, ld, work)
            for b in range(nbc):
                for o in range(Og):
                    yp = y + ((n0 + b) * O + g * Og + o) * L
                    tp = tmp + o * ld + b * L
                    bv = bias[g * Og + o] if has_bias else 0
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
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = y.shape[2], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t nchunks, ch, tid, n0, nbc
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, y.shape[0], y.shape[1], OD, OH, OW,
                   geo, groups):
        raise ValueError("gemm_forward: inconsistent shapes (a tinytensor bug)")
    if (nb < 1 or bs < 1 or n_threads < 1 or scratch.shape[0] < n_threads
            or scratch.shape[1] < gemm_scratch_size(Cg, O // groups, KD * KH * KW,
                                                    OD * OH * OW, nb, bs)
            or (has_bias and bias.shape[0] != O)):
        raise ValueError("gemm_forward: bad scratch, bias or chunking (a tinytensor bug)")
    if N == 0 or O == 0:
        return
    nchunks = (N + nb - 1) // nb
    for ch in prange(nchunks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        n0 = ch * nb
        nbc = min(nb, N - n0)
        _fwd_chunk(&x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], &bias[0] if has_bias else NULL,
                   has_bias, &y[0, 0, 0, 0, 0], &scratch[tid, 0], n0, nbc, C, D, H, W, O, Cg,
                   KD, KH, KW, OD, OH, OW, geo[0, 0], geo[0, 1], geo[0, 2], geo[1, 0],
                   geo[1, 1], geo[1, 2], geo[2, 0], geo[2, 1], geo[2, 2], groups, nb, bs)


cdef void _bwd_chunk(const floating* x, const floating* w, const floating* go,
                     floating* gx, floating* gw, bint need_gx, bint need_gw, floating* scratch,
                     Py_ssize_t n0, Py_ssize_t nbc, Py_ssize_t C, Py_ssize_t D, Py_ssize_t H,
                     Py_ssize_t W, Py_ssize_t O, Py_ssize_t Cg, Py_ssize_t KD, Py_ssize_t KH,
                     Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                     Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pd, Py_ssize_t ph,
                     Py_ssize_t pw, Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                     Py_ssize_t groups, Py_ssize_t nb, Py_ssize_t bs) noexcept nogil:
    """Samples [n0, n0 + nbc): gw (O, CgK) += go @ col^T; gx[n] = col2im(w^T @ go); by blocks
    of bs output positions when nbc == 1, as in _fwd_chunk."""
    cdef Py_ssize_t K = KD * KH * KW, L = OD * OH * OW, Og = O // groups, CK = Cg * K
    cdef Py_ssize_t HWD = D * H * W, ld = nbc * L, g, b, o, l, p0, p1, cols
    cdef floating* work = scratch                 # the GEMM's packed blocks
    cdef floating* col = scratch + TT_GEMM_WORK
    cdef floating* dcol
    cdef floating* gtmp = col + CK * nb * L
    cdef const floating* gp
    cdef const floating* src
    cdef floating* dst
    # dcol reuses col: the weight-gradient GEMM has consumed col before dcol is written, and
    # one buffer keeps the working set in cache (S7 backward, 1 thread: 6.3 -> 4.9 ms)
    dcol = col
    if nbc == 1:
        for g in range(groups):
            gp = go + (n0 * O + g * Og) * L
            p0 = 0
            while p0 < L:
                p1 = min(L, p0 + bs)
                cols = p1 - p0
                if need_gw:
                    _im2col(x + (n0 * C + g * Cg) * HWD, Cg, D, H, W, KD, KH, KW, OD, OH, OW,
                            sd, sh, sw, pd, ph, pw, dd, dh, dw, p0, p1, col, cols)
                    _gemm(False, True, Og, CK, cols, gp + p0, L, col, cols, 1,
                          gw + g * Og * CK, CK, work)
                if need_gx:
                    _gemm(True, False, CK, cols, Og, w + g * Og * CK, CK, gp + p0, L, 0,
                          dcol, cols, work)
                    _col2im(dcol, cols, Cg, D, H, W, KD, KH, KW, OD, OH, OW, sd, sh, sw,
                            pd, ph, pw, dd, dh, dw, p0, p1, gx + (n0 * C + g * Cg) * HWD)
                p0 = p1
        return
    for g in range(groups):
        for o in range(Og):
            for b in range(nbc):
                src = go + ((n0 + b) * O + g * Og + o) * L
                dst = gtmp + o * ld + b * L
                for l in range(L):
                    dst[l] = src[l]
        gp = gtmp
        if need_gw:
            for b in range(nbc):
                _im2col(x + ((n0 + b) * C + g * Cg) * HWD, Cg, D, H, W, KD, KH, KW, OD, OH,
                        OW, sd, sh, sw, pd, ph, pw, dd, dh, dw, 0, L, col + b * L, ld)
            _gemm(False, True, Og, CK, ld, gp, ld, col, ld, 1, gw + g * Og * CK, CK, work)
        if need_gx:
            _gemm(True, False, CK, ld, Og, w + g * Og * CK, CK, gp, ld, 0, dcol, ld, work)
            for b in range(nbc):
                _col2im(dcol + b * L, ld, Cg, D, H, W, KD, KH, KW, OD, OH, OW,
                        sd, sh, sw, pd, ph, pw, dd, dh, dw, 0, L,
                        gx + ((n0 + b) * C + g * Cg) * HWD)


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
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t P = gw_parts.shape[0], nchunks, p, ch, tid, n0, nbc
    cdef floating* gxp = NULL
    cdef floating* gwp = NULL
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, go.shape[0], go.shape[1], OD, OH, OW,
                   geo, groups):
        raise ValueError("gemm_backward: inconsistent shapes (a tinytensor bug)")
    if (nb < 1 or bs < 1 or n_threads < 1 or P < 1 or scratch.shape[0] < n_threads
            or scratch.shape[1] < gemm_scratch_size(Cg, O // groups, KD * KH * KW,
                                                    OD * OH * OW, nb, bs)
            or (need_gx and (gx.shape[0] != N or gx.shape[1] != C or gx.shape[2] != D
                             or gx.shape[3] != H or gx.shape[4] != W))
            or (need_gw and (gw_parts.shape[1] != O or gw_parts.shape[2] != Cg * KD * KH * KW))):
        raise ValueError("gemm_backward: bad outputs, scratch or chunking (a tinytensor bug)")
    if N == 0 or O == 0 or not (need_gx or need_gw):
        return
    if need_gx:
        gxp = &gx[0, 0, 0, 0, 0]
    nchunks = (N + nb - 1) // nb
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        for ch in range(p * nchunks // P, (p + 1) * nchunks // P):
            n0 = ch * nb
            nbc = min(nb, N - n0)
            _bwd_chunk(&x[0, 0, 0, 0, 0], &w[0, 0, 0, 0, 0], &go[0, 0, 0, 0, 0], gxp,
                       &gw_parts[p, 0, 0] if need_gw else NULL,
                       need_gx, need_gw, &scratch[tid, 0], n0, nbc, C, D, H, W, O, Cg,
                       KD, KH, KW, OD, OH, OW, geo[0, 0], geo[0, 1], geo[0, 2], geo[1, 0],
                       geo[1, 1], geo[1, 2], geo[2, 0], geo[2, 1], geo[2, 2], groups, nb, bs)


# --------------------------------------------------------------------------------------------
# Panel path (float32 where tt_sgemm runs): implicit GEMM, im2col gathered panel by panel
# --------------------------------------------------------------------------------------------

def panel_sizes(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t K, Py_ssize_t groups):
    """(packed weights, per-thread scratch) in floats for panel_forward: the weights of every
    group packed for the micro-kernel; a K x 32 panel, an Mpad x 32 tile and alignment slack."""
    cdef Py_ssize_t mpad = _kt.rows_padded(Og)
    # the packed weights serve rows_forward too, whose panels are of rows_mr channels
    return groups * max(mpad, _rows_padded(Og)) * Cg * K, (Cg * K + mpad) * _kt.nr + 32


cdef inline Py_ssize_t _rows_padded(Py_ssize_t Og) noexcept:
    """Output channels rounded up to whole panels of rows_forward's tile."""
    return (Og + _kt.rows_mr - 1) // _kt.rows_mr * _kt.rows_mr


cdef tt_conv_geo _geometry(Py_ssize_t Cg, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                           Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t OD,
                           Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t[:, ::1] geo) noexcept:
    """One group's geometry for the C kernels (the pad end is implied by the output size)."""
    cdef tt_conv_geo g
    g.C, g.D, g.H, g.W = Cg, D, H, W
    g.KD, g.KH, g.KW, g.OD, g.OH, g.OW = KD, KH, KW, OD, OH, OW
    g.sd, g.sh, g.sw = geo[0, 0], geo[0, 1], geo[0, 2]
    g.pd, g.ph, g.pw = geo[1, 0], geo[1, 1], geo[1, 2]
    g.dd, g.dh, g.dw = geo[2, 0], geo[2, 1], geo[2, 2]
    return g


cdef inline float* _aligned64(float* p) noexcept nogil:
    return <float*> ((<size_t> p + 63) & ~(<size_t> 63))


def panel_forward(const float[:, :, :, :, ::1] x,        # IN  (N, C, D, H, W)
                  const float[:, :, :, :, ::1] w,        # IN  (O, C // groups, KD, KH, KW)
                  const float[::1] bias,                 # IN  (O,) when has_bias, else any
                  bint has_bias,
                  float[:, :, :, :, ::1] y,              # OUT (N, O, OD, OH, OW)
                  float[::1] wpack,                      # SCRATCH panel_sizes()[0]
                  float[:, ::1] scratch,                 # SCRATCH (n_threads, panel_sizes()[1])
                  Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Convolution forward by tt_conv_panel.h: one parallel task per (group, panel of 32
    output columns across the batch), so a panel's bits never depend on the thread count."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = y.shape[2], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t Og, CK, L, mpad, npanels, t, g, q0, tid
    cdef tt_conv_geo geom
    cdef float* panel
    if _kt == NULL:
        raise RuntimeError("panel_forward: needs a kernel variant; a tinytensor bug")
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, y.shape[0], y.shape[1], OD, OH, OW,
                   geo, groups) or (has_bias and bias.shape[0] != O):
        raise ValueError("panel_forward: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    CK = Cg * KD * KH * KW
    sizes = panel_sizes(Cg, Og, KD * KH * KW, groups)
    if n_threads < 1 or scratch.shape[0] < n_threads or scratch.shape[1] < sizes[1] \
            or wpack.shape[0] < sizes[0]:
        raise ValueError("panel_forward: bad scratch (a tinytensor bug)")
    if N == 0 or O == 0:
        return
    L = OD * OH * OW
    mpad = _kt.rows_padded(Og)
    geom = _geometry(Cg, D, H, W, KD, KH, KW, OD, OH, OW, geo)
    with nogil:
        for g in range(groups):
            _kt.pack_weights(&wpack[g * mpad * CK], &w[g * Og, 0, 0, 0, 0], Og, CK)
    npanels = (N * L + _kt.nr - 1) // _kt.nr
    for t in prange(groups * npanels, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        g = t // npanels
        q0 = (t % npanels) * _kt.nr
        panel = _aligned64(&scratch[tid, 0])
        _kt.forward_panel(&x[0, g * Cg, 0, 0, 0], C * D * H * W, &geom,
                              &wpack[g * mpad * CK], Og, &bias[g * Og] if has_bias else NULL,
                              &y[0, g * Og, 0, 0, 0], O * L, q0,
                              <int> min(_kt.nr, N * L - q0), panel,
                              panel + CK * _kt.nr)


def panel_backward_input_sizes(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t T, Py_ssize_t groups):
    """(packed transposed weights, per-thread scratch) in floats for panel_backward_input."""
    cdef Py_ssize_t cpad = _kt.rows_padded(Cg)
    return groups * T * cpad * Og, (Og + cpad) * _kt.nr + 32


def panel_backward_input(const float[:, :, :, :, ::1] go,   # IN  (N, O, OD, OH, OW)
                         const float[:, :, :, ::1] wt,       # IN  (groups, T, Cg, Og): w^T per tap
                         float[:, :, :, :, ::1] gx,          # OUT (N, C, D, H, W), zero-filled
                         float[::1] wpack,                   # SCRATCH sizes()[0]
                         float[:, ::1] scratch,              # SCRATCH (n_threads, sizes()[1])
                         Py_ssize_t[:, ::1] geo, Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                         int n_threads):
    """Input gradient by tt_conv_backward_input_panel (col2im without a col matrix). A task
    is (group, block of whole samples), so no two threads add into one sample's gx and the
    order of the sums depends on the shapes only."""
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], D = gx.shape[2], H = gx.shape[3]
    cdef Py_ssize_t W = gx.shape[4], O = go.shape[1], OD = go.shape[2], OH = go.shape[3]
    cdef Py_ssize_t OW = go.shape[4], groups = wt.shape[0], T = wt.shape[1], Cg = wt.shape[2]
    cdef Py_ssize_t Og = wt.shape[3], L, cpad, sb, nblocks, t, g, n0, n1, q, tid
    cdef tt_conv_geo geom
    cdef float* panel
    if _kt == NULL:
        raise RuntimeError("panel_backward_input: needs a kernel variant; a tinytensor bug")
    if (T != KD * KH * KW or _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, go.shape[0], O,
                                          OD, OH, OW, geo, groups) or O != Og * groups):
        raise ValueError("panel_backward_input: inconsistent shapes (a tinytensor bug)")
    sizes = panel_backward_input_sizes(Cg, Og, T, groups)
    if n_threads < 1 or scratch.shape[0] < n_threads or scratch.shape[1] < sizes[1] \
            or wpack.shape[0] < sizes[0]:
        raise ValueError("panel_backward_input: bad scratch (a tinytensor bug)")
    if N == 0 or O == 0 or C == 0:
        return
    L = OD * OH * OW
    cpad = _kt.rows_padded(Cg)
    geom = _geometry(Cg, D, H, W, KD, KH, KW, OD, OH, OW, geo)
    with nogil:
        for t in range(groups * T):
            _kt.pack_weights(&wpack[t * cpad * Og], &wt[t // T, t % T, 0, 0], Cg, Og)
    sb = (_kt.nr + L - 1) // L               # samples per task: at least one panel
    nblocks = (N + sb - 1) // sb
    for t in prange(groups * nblocks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        g = t // nblocks
        n0 = (t % nblocks) * sb
        n1 = min(N, n0 + sb)
        panel = _aligned64(&scratch[tid, 0])
        q = n0 * L
        while q < n1 * L:
            _kt.backward_input_panel(&go[0, g * Og, 0, 0, 0], O * L, &geom,
                                         &wpack[g * T * cpad * Og], Og, &gx[0, g * Cg, 0, 0, 0],
                                         C * D * H * W, q, <int> min(_kt.nr, n1 * L - q),
                                         panel, panel + Og * _kt.nr)
            q = q + _kt.nr


def rows_forward(const float[:, :, :, :, ::1] x,         # IN  (N, C, D, H, W)
                 const float[:, :, :, :, ::1] w,         # IN  (O, C // groups, KD, KH, KW)
                 const float[::1] bias,                  # IN  (O,) when has_bias, else any
                 bint has_bias,
                 float[:, :, :, :, ::1] y,               # OUT (N, O, OD, OH, OW)
                 float[::1] wpack,                       # SCRATCH panel_sizes()[0]
                 Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Convolution forward with stride 1 or 2 along W by tt_conv_rows.h (no im2col): one parallel
    task per (group, output row, piece of up to 32 positions)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = y.shape[2], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t Og, T, L, mpad, pieces, rows, t, g, r, piece, ow0
    cdef int width
    cdef tt_conv_geo geom
    if _kt == NULL:
        raise RuntimeError("rows_forward: needs a kernel variant; a tinytensor bug")
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, y.shape[0], y.shape[1], OD, OH, OW,
                   geo, groups) or (has_bias and bias.shape[0] != O) or not 1 <= geo[0, 2] <= 2:
        raise ValueError("rows_forward: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    T = KD * KH * KW
    if n_threads < 1 or wpack.shape[0] < panel_sizes(Cg, Og, T, groups)[0]:
        raise ValueError("rows_forward: bad scratch (a tinytensor bug)")
    if N == 0 or O == 0:
        return
    L = OD * OH * OW
    mpad = _rows_padded(Og)
    geom = _geometry(Cg, D, H, W, KD, KH, KW, OD, OH, OW, geo)
    # pieces of 32 positions; a row of 16 or fewer is one piece of one vector
    width = _kt.nr if OW > _kt.nr // 2 else _kt.nr // 2
    pieces = (OW + width - 1) // width
    rows = N * OD * OH
    with nogil:
        for g in range(groups):
            _kt.rows_pack_weights(&wpack[g * mpad * Cg * T], &w[g * Og, 0, 0, 0, 0], Og, Cg,
                                      T)
    for t in prange(groups * rows * pieces, nogil=True, schedule='static',
                    num_threads=n_threads):
        g = t // (rows * pieces)
        r = t // pieces % rows
        ow0 = (t % pieces) * width
        _kt.rows_forward_piece(&x[0, g * Cg, 0, 0, 0], C * D * H * W, &geom,
                                   &wpack[g * mpad * Cg * T], Og,
                                   &bias[g * Og] if has_bias else NULL,
                                   &y[0, g * Og, 0, 0, 0], O * L, r // (OD * OH),
                                   r // OH % OD, r % OH, ow0, <int> min(width, OW - ow0))


# --------------------------------------------------------------------------------------------
# Direct path: one input channel per group (depthwise); no GEMM is wide enough to pay off.
# --------------------------------------------------------------------------------------------

def direct_forward(const floating[:, :, :, :, ::1] x,    # IN  (N, C, D, H, W)
                   const floating[:, :, :, :, ::1] w,    # IN  (O, 1, KD, KH, KW), C == groups
                   const floating[::1] bias,             # IN  (O,) when has_bias, else any
                   bint has_bias,
                   floating[:, :, :, :, ::1] y,          # OUT (N, O, OD, OH, OW)
                   Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Tap by tap: y[n, o] += w[o, tap] * shifted x[n, c(o)], rows vectorised over ow
    (tt_dw_fwd_*: C with an AVX2+FMA clone). One thread owns one (n, o) output plane."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = y.shape[2], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t t, n, o, c, Og
    cdef floating bv
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, y.shape[0], y.shape[1], OD, OH, OW,
                   geo, groups) or Cg != 1 or (has_bias and bias.shape[0] != O):
        raise ValueError("direct_forward: inconsistent shapes (a tinytensor bug)")
    Og = O // groups
    for t in prange(N * O, nogil=True, schedule='static', num_threads=n_threads):
        n = t // O
        o = t % O
        c = o // Og
        bv = bias[o] if has_bias else 0
        if floating is float:
            tt_dw_fwd_f32(&y[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0], bv, D, H, W,
                          KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw, dd, dh, dw)
        else:
            tt_dw_fwd_f64(&y[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0], bv, D, H, W,
                          KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw, dd, dh, dw)


def direct_backward_input(const floating[:, :, :, :, ::1] w,   # IN  (O, 1, KD, KH, KW)
                          const floating[:, :, :, :, ::1] go,  # IN  (N, O, OD, OH, OW)
                          floating[:, :, :, :, ::1] gx,        # OUT (N, C, D, H, W), zero-filled
                          Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """gx[n, c] += w[o, tap] * go[n, o] shifted back, for the Og outputs o of group c.
    One thread owns one (n, c) input plane."""
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
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, go.shape[0], go.shape[1], OD, OH, OW,
                   geo, groups) or Cg != 1:
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
                        lo = _lo(off, sw, W, OW)
                        hi = _hi(off, sw, W, OW)
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
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, go.shape[0], go.shape[1], OD, OH, OW,
                   geo, groups) or Cg != 1 or n_threads < 1 or scratch.shape[0] < n_threads \
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
                        lo = _lo(off, sw, W, OW)
                        hi = _hi(off, sw, W, OW)
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
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = w.shape[0], Cg = w.shape[1], KD = w.shape[2], KH = w.shape[3]
    cdef Py_ssize_t KW = w.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t sd = geo[0, 0], sh = geo[0, 1], sw = geo[0, 2], pd = geo[1, 0]
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2], dd = geo[2, 0], dh = geo[2, 1], dw = geo[2, 2]
    cdef Py_ssize_t n, o, m, c, ow, Og, tid, tap, K, r0
    cdef floating acc
    K = KD * KH * KW
    if _bad_shapes(N, C, D, H, W, O, Cg, KD, KH, KW, go.shape[0], go.shape[1], OD, OH, OW,
                   geo, groups) or Cg != 1 or n_threads < 1 or scratch.shape[0] < n_threads \
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
                                  need_gx, need_gw, need_gb, D, H, W, KD, KH, KW, OD, OH, OW,
                                  sd, sh, sw, pd, ph, pw, dd, dh, dw)
                else:
                    tt_dw_bwd_f64(&go[n, o, 0, 0, 0], &x[n, c, 0, 0, 0], &w[o, 0, 0, 0, 0],
                                  &gx[n, c, 0, 0, 0] if need_gx else NULL, &scratch[tid, r0],
                                  need_gx, need_gw, need_gb, D, H, W, KD, KH, KW, OD, OH, OW,
                                  sd, sh, sw, pd, ph, pw, dd, dh, dw)
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


# --------------------------------------------------------------------------------------------
# unfold / fold (im2col and col2im on 2-D images)
# --------------------------------------------------------------------------------------------

def unfold_forward(const floating[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                   floating[:, :, ::1] col,              # OUT (N, C*KH*KW, OH*OW)
                   Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t[:, ::1] geo, int n_threads):
    """col[n] = im2col(x[n]); one thread per sample."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t OH, OW, n
    if _bad_geometry(geo) or D != 1 or KH < 1 or KW < 1:
        raise ValueError("unfold_forward: inconsistent shapes (a tinytensor bug)")
    OH = _out_size(H, KH, geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1])
    OW = _out_size(W, KW, geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2])
    if (OH < 1 or OW < 1 or col.shape[0] != N or col.shape[1] != C * KH * KW
            or col.shape[2] != OH * OW):
        raise ValueError("unfold_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or C == 0:
        return
    for n in prange(N, nogil=True, schedule='static', num_threads=n_threads):
        _im2col(&x[n, 0, 0, 0, 0], C, 1, H, W, 1, KH, KW, 1, OH, OW, 1, geo[0, 1], geo[0, 2],
                0, geo[1, 1], geo[1, 2], 1, geo[2, 1], geo[2, 2], 0, OH * OW, &col[n, 0, 0], OH * OW)


def fold_forward(const floating[:, :, ::1] col,          # IN  (N, C*KH*KW, OH*OW)
                 floating[:, :, :, :, ::1] x,            # OUT (N, C, 1, H, W), zero-filled
                 Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t[:, ::1] geo, int n_threads):
    """x[n] += col2im(col[n]) (sums overlapping blocks); one thread per sample."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t OH, OW, n
    if _bad_geometry(geo) or D != 1 or KH < 1 or KW < 1:
        raise ValueError("fold_forward: inconsistent shapes (a tinytensor bug)")
    OH = _out_size(H, KH, geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1])
    OW = _out_size(W, KW, geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2])
    if (OH < 1 or OW < 1 or col.shape[0] != N or col.shape[1] != C * KH * KW
            or col.shape[2] != OH * OW):
        raise ValueError("fold_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or C == 0:
        return
    for n in prange(N, nogil=True, schedule='static', num_threads=n_threads):
        _col2im(&col[n, 0, 0], OH * OW, C, 1, H, W, 1, KH, KW, 1, OH, OW, 1, geo[0, 1],
                geo[0, 2], 0, geo[1, 1], geo[1, 2], 1, geo[2, 1], geo[2, 2], 0, OH * OW,
                &x[n, 0, 0, 0, 0])
