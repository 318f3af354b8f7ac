# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The float32 Winograd convolution F(2x2, 3x3): a 3x3, stride-1, undilated, ungrouped 2-D
convolution with 16 multiplications per 2x2 output tile and channel pair instead of 36
(c/tt_winograd.inc has the algebra). Per block of tile rows: the input transform (the
variant's wino_input) into V (16 x C x T), 16 GEMMs U_k (M x C) V_k by the variant's sgemm
into M (16 x M x T), the output transform (wino_output) into y. The weight gradient works in
the same domain: dU_k = sum over tiles of (A dY A^T)_k V_k^T (wino_grad_output, 16 GEMMs),
then G^T dU G.

Contract as in conv_gemm.pyx: C-contiguous float32 arrays viewed as 3-D spatial (D = 1 here);
the `def` re-checks every shape invariant before any kernel runs. Each block writes its own
tiles of y and every output element's sums run in an order fixed by the shapes (the GEMM sums
each element over the channels in order, whatever columns share its call), so the bits never
depend on the thread count or the block size.
"""
from cython.parallel cimport prange, threadid

import numpy as np

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport tt_conv_kernels

# Tiles per block (whole tile rows): BLOCK_FLOATS / max(C, M), at least MIN_BLOCK_TILES: 256
# for 64 channels, V and M near 1 MB each (2^13 and 2^15 measured slower for S4 and ResNet's
# 32 x 32 and 16 x 16 layers)
BLOCK_FLOATS = 1 << 14
MIN_BLOCK_TILES = 32


def weights(w, int n_threads=1):
    """U (16, M, C) float32 of the weights w (M, C, [1,] 3, 3): G g G^T per (M, C), with
    G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] (tt_winograd.inc), summed in float64 and
    rounded once. (Plain loops, not NumPy's einsum: that called the BLAS, whose threads then
    fought tinytensor's for the cores: ResNet-18's step at 2 threads 660 -> 940 ms.)"""
    g = np.ascontiguousarray(w, dtype=np.float32).reshape(w.shape[0], w.shape[1], 9)
    u = np.empty((16, w.shape[0], w.shape[1]), dtype=np.float32)
    _weights(g, u, n_threads)
    return u


cdef void _weights(const float[:, :, ::1] g, float[:, :, ::1] u, int n_threads) noexcept:
    cdef Py_ssize_t M = g.shape[0], C = g.shape[1], m, c
    with nogil:
        for m in prange(M, schedule='static', num_threads=n_threads):
            for c in range(C):
                _transform(&g[m, c, 0], &u[0, m, c], M * C)


cdef inline void _transform(const float* g, float* u, Py_ssize_t stride) noexcept nogil:
    """u[k * stride] = (G g G^T)[k // 4][k % 4] for the 3x3 g (row-major)."""
    cdef double r[4][3]
    cdef int i, a
    for a in range(3):                          # r = G g: rows 0 and 3 copied, 1 and 2 mixed
        r[0][a] = g[a]
        r[1][a] = 0.5 * (g[a] + g[3 + a] + g[6 + a])
        r[2][a] = 0.5 * (g[a] - g[3 + a] + g[6 + a])
        r[3][a] = g[6 + a]
    for i in range(4):                          # (G g) G^T, row i
        u[(4 * i) * stride] = <float> r[i][0]
        u[(4 * i + 1) * stride] = <float> (0.5 * (r[i][0] + r[i][1] + r[i][2]))
        u[(4 * i + 2) * stride] = <float> (0.5 * (r[i][0] - r[i][1] + r[i][2]))
        u[(4 * i + 3) * stride] = <float> r[i][2]


# The scratch of a block holds whole tile rows of V and M: (C + M) x (tiles per row) at most
# this many floats per transform (16 of them: 32 MB a thread at worst)
MAX_ROW_FLOATS = 1 << 19


def applies(x_shape, w_shape, Py_ssize_t[:, ::1] geo, Py_ssize_t groups):
    """Whether winograd_forward computes this convolution (5-D shapes): a 3x3 kernel over
    planes (D = 1), stride 1, no dilation, one group, input channels, and tile rows whose
    scratch stays bounded."""
    out_w = x_shape[4] + geo[1, 2] + geo[3, 2] - 2
    return (groups == 1 and x_shape[2] == 1 and tuple(w_shape[2:]) == (1, 3, 3)
            and x_shape[1] > 0
            and all(geo[0, a] == 1 and geo[2, a] == 1 for a in range(3))
            and geo[1, 0] == 0 and geo[3, 0] == 0
            and (x_shape[1] + w_shape[0]) * ((out_w + 1) // 2 + 16) <= MAX_ROW_FLOATS)


def block_rows(Py_ssize_t C, Py_ssize_t M, Py_ssize_t TW):
    """Tile rows per block (shapes only)."""
    cdef Py_ssize_t tiles = max(MIN_BLOCK_TILES, BLOCK_FLOATS // max(C, M, 1))
    return max(1, tiles // max(TW, 1))


def scratch_size(Py_ssize_t N, Py_ssize_t C, Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW):
    """Floats of scratch per thread for both kernels: V and M of a block, the row buffer and
    the GEMM's workspace."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    if kt == NULL:
        raise RuntimeError("winograd: needs a kernel variant; a tinytensor bug")
    return _tiling(kt, N, C, M, OH, OW).total


cdef struct Tiling:
    Py_ssize_t TH, TW, TWp, rows, rb, nblocks   # tile rows per plane, tiles per row (and
                                                # rounded up to vectors), rows, rows per block
    Py_ssize_t ld, vsize, msize, lb, total      # V's and M's row stride; floats per thread
                                                # of V, M, the row buffer and in all


cdef Tiling _tiling(const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C, Py_ssize_t M,
                    Py_ssize_t OH, Py_ssize_t OW) except *:
    cdef Tiling t
    t.TH = (OH + 1) // 2
    t.TW = (OW + 1) // 2
    t.TWp = (t.TW + kt.vl - 1) // kt.vl * kt.vl
    t.rows = N * t.TH
    t.rb = max(1, min(t.rows, block_rows(C, M, t.TW)))
    t.nblocks = (t.rows + t.rb - 1) // t.rb
    t.ld = t.rb * t.TW + kt.vl                  # a row's slack for the last tile row's vectors
    t.vsize = 16 * C * t.ld
    t.msize = 16 * M * t.ld
    t.lb = 2 * t.TWp + 2
    t.total = t.vsize + t.msize + 4 * t.lb + kt.work
    return t


cdef bint _bad_geometry(Py_ssize_t[:, ::1] geo, Py_ssize_t C, Py_ssize_t M, Py_ssize_t H,
                        Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW):
    """Whether geo (checked (4, 3)) is not a stride-1, undilated 3x3 over planes from (C, H, W)
    to (M, OH, OW) within the kernels' scratch bound."""
    cdef Py_ssize_t a
    for a in range(3):
        if geo[0, a] != 1 or geo[2, a] != 1 or geo[1, a] < 0 or geo[3, a] < 0:
            return True
    return (geo[1, 0] != 0 or geo[3, 0] != 0 or OH != H + geo[1, 1] + geo[3, 1] - 2
            or OW != W + geo[1, 2] + geo[3, 2] - 2 or C < 1
            or (C + M) * ((OW + 1) // 2 + 16) > MAX_ROW_FLOATS)


def winograd_forward(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                     const float[:, :, ::1] u,          # IN  (16, M, C): weights(w)
                     const float[::1] bias,             # IN  (M,) when has_bias, else any
                     bint has_bias,
                     float[:, :, :, :, ::1] y,          # OUT (N, M, 1, OH, OW), fully written
                     float[:, ::1] scratch,             # SCRATCH (>= n_threads, scratch_size())
                     Py_ssize_t[:, ::1] geo, int n_threads):
    """y = the convolution of x with the 3x3 weights whose transform is u (+ bias)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t M = y.shape[1], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t ph, pw, blk, R0, R1, T, k, tid
    cdef Tiling t
    cdef float* V
    cdef float* Mx
    cdef const float* bp = NULL
    if kt == NULL:
        raise RuntimeError("winograd_forward: needs a kernel variant; a tinytensor bug")
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        raise ValueError("winograd_forward: geometry must be (4, 3) (a tinytensor bug)")
    ph, pw = geo[1, 1], geo[1, 2]
    if (x.shape[2] != 1 or y.shape[0] != N or y.shape[2] != 1 or u.shape[0] != 16
            or u.shape[1] != M or u.shape[2] != C or n_threads < 1
            or _bad_geometry(geo, C, M, H, W, OH, OW) or (has_bias and bias.shape[0] != M)):
        raise ValueError("winograd_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or M == 0 or OH <= 0 or OW <= 0:
        return
    if has_bias:
        bp = &bias[0]
    t = _tiling(kt, N, C, M, OH, OW)
    n_threads = <int> min(n_threads, t.nblocks)
    if scratch.shape[0] < n_threads or scratch.shape[1] < t.total:
        raise ValueError("winograd_forward: scratch too small (a tinytensor bug)")
    with nogil:
        for blk in prange(t.nblocks, schedule='static', num_threads=n_threads):
            tid = threadid()
            R0 = blk * t.rb
            R1 = min(R0 + t.rb, t.rows)
            T = (R1 - R0) * t.TW
            V = &scratch[tid, 0]
            Mx = V + t.vsize
            kt.wino_input(V, t.ld, C * t.ld, &x[0, 0, 0, 0, 0], C, H, W, ph, pw, t.TH, t.TW,
                          R0, R1, Mx + t.msize)
            for k in range(16):
                kt.sgemm(M, T, C, &u[k, 0, 0], C, 1, V + k * C * t.ld, t.ld, 1, 0,
                         Mx + k * M * t.ld, t.ld, Mx + t.msize + 4 * t.lb)
            kt.wino_output(&y[0, 0, 0, 0, 0], Mx, t.ld, M * t.ld, M, OH, OW, t.TH, t.TW, R0, R1,
                           bp)


# The weight gradient sums its blocks' products into at most this many partial sums (fixed by
# the shapes, each a sequence of blocks in order: the bits never depend on the threads), and
# all of them together hold at most PARTS_FLOATS floats.
MAX_PARTS = 8
PARTS_FLOATS = 1 << 23


def weight_grad_parts(Py_ssize_t nblocks, Py_ssize_t C, Py_ssize_t M):
    """Partial sums of the weight gradient (shapes only)."""
    return max(1, min(MAX_PARTS, nblocks, PARTS_FLOATS // max(16 * C * M, 1)))


def winograd_weight_grad(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                         const float[:, :, :, :, ::1] gy,   # IN  (N, M, 1, OH, OW)
                         float[:, :, :, :, ::1] gw,         # OUT (M, C, 1, 3, 3), overwritten
                         float[:, ::1] scratch,             # SCRATCH as for winograd_forward
                         Py_ssize_t[:, ::1] geo, int n_threads):
    """gw = the weight gradient of the convolution winograd_forward computes, in the Winograd
    domain: dL/dU_k = sum over tiles of (A dY A^T)_k (B^T d B)_k^T (16 GEMMs per block, summed
    over the blocks of a part in order, then over the parts in order), gw = G^T (dL/dU) G."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t M = gy.shape[1], OH = gy.shape[3], OW = gy.shape[4]
    cdef Py_ssize_t ph, pw, parts, p, b, b0, b1, R0, R1, T, k, tid, m, c
    cdef Tiling t
    cdef float* V
    cdef float* Mg
    cdef float[:, :, :, ::1] du
    cdef double[:, :, ::1] dus
    if kt == NULL:
        raise RuntimeError("winograd_weight_grad: needs a kernel variant; a tinytensor bug")
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        raise ValueError("winograd_weight_grad: geometry must be (4, 3) (a tinytensor bug)")
    ph, pw = geo[1, 1], geo[1, 2]
    if (x.shape[2] != 1 or gy.shape[0] != N or gy.shape[2] != 1 or gw.shape[0] != M
            or gw.shape[1] != C or gw.shape[2] != 1 or gw.shape[3] != 3 or gw.shape[4] != 3
            or n_threads < 1 or _bad_geometry(geo, C, M, H, W, OH, OW)):
        raise ValueError("winograd_weight_grad: inconsistent shapes (a tinytensor bug)")
    gw[...] = 0
    if N == 0 or M == 0 or OH <= 0 or OW <= 0:
        return
    t = _tiling(kt, N, C, M, OH, OW)
    parts = weight_grad_parts(t.nblocks, C, M)
    n_threads = <int> min(n_threads, parts)
    if scratch.shape[0] < n_threads or scratch.shape[1] < t.total:
        raise ValueError("winograd_weight_grad: scratch too small (a tinytensor bug)")
    du = np.zeros((parts, 16, M, C), dtype=np.float32)
    with nogil:
        for p in prange(parts, schedule='static', num_threads=n_threads):
            tid = threadid()
            V = &scratch[tid, 0]
            Mg = V + t.vsize
            b0 = p * t.nblocks // parts
            b1 = (p + 1) * t.nblocks // parts
            for b in range(b0, b1):
                R0 = b * t.rb
                R1 = min(R0 + t.rb, t.rows)
                T = (R1 - R0) * t.TW
                kt.wino_input(V, t.ld, C * t.ld, &x[0, 0, 0, 0, 0], C, H, W, ph, pw, t.TH,
                              t.TW, R0, R1, Mg + t.msize)
                kt.wino_grad_output(Mg, t.ld, M * t.ld, &gy[0, 0, 0, 0, 0], M, OH, OW, t.TH,
                                    t.TW, R0, R1)
                for k in range(16):
                    # du[p, k] (M x C) += Mg_k (M x T) V_k^T (T x C)
                    kt.sgemm(M, C, T, Mg + k * M * t.ld, t.ld, 1, V + k * C * t.ld, 1, t.ld, 1,
                             &du[p, k, 0, 0], C, Mg + t.msize + 4 * t.lb)
    dus = np.zeros((16, M, C), dtype=np.float64)
    for p in range(parts):                          # the parts in order, in float64
        np.add(dus, du[p], out=np.asarray(dus))
    with nogil:
        for m in prange(M, schedule='static', num_threads=n_threads):
            for c in range(C):
                _untransform(&dus[0, m, c], M * C, &gw[m, c, 0, 0, 0])


cdef inline void _untransform(const double* du, Py_ssize_t stride, float* g) noexcept nogil:
    """g (3x3, row-major) = G^T du G for the 4x4 du[k * stride], k = 4 i + j."""
    cdef double q[3][4]
    cdef double d0, d1, d2, d3
    cdef int a, j
    for j in range(4):                          # q = G^T du: rows 0 and 2 mixed, 1 halved
        d0 = du[j * stride]
        d1 = du[(4 + j) * stride]
        d2 = du[(8 + j) * stride]
        d3 = du[(12 + j) * stride]
        q[0][j] = d0 + 0.5 * (d1 + d2)
        q[1][j] = 0.5 * (d1 - d2)
        q[2][j] = 0.5 * (d1 + d2) + d3
    for a in range(3):                          # (G^T du) G
        g[3 * a] = <float> (q[a][0] + 0.5 * (q[a][1] + q[a][2]))
        g[3 * a + 1] = <float> (0.5 * (q[a][1] - q[a][2]))
        g[3 * a + 2] = <float> (0.5 * (q[a][1] + q[a][2]) + q[a][3])
