# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The float32 1-D Winograd convolutions over 10-sample windows, F(8, 3), F(6, 5) and F(4, 7):
a 3-, 5- or 7-tap, stride-1, undilated, ungrouped convolution of signals with 10
multiplications per run of m = 11 - r outputs and channel pair instead of m r
(c/tt_winograd1d.inc has the algebra and the layouts). The weight transform U_k = (G g)_k is
done here, once per call; then per block of tiles of one signal the input transform
(the variant's wino1d_input) into V, 10 GEMMs U_k V_k (its sgemm_packed_b) into Mx and the
output transform (wino1d_output) into y. The flipped convolution of the input gradient runs
it too. The weight gradient: per block, V and the output transform's adjoint of the output
gradient (wino1d_grad_output) into Mx, dU_k += Mx_k V_k^T (10 GEMMs), then gw = G^T dU.

Contract as in conv_gemm.pyx: C-contiguous float32 arrays viewed as 3-D spatial (D = H = 1
here); each `def` re-checks every shape invariant before any kernel runs. A block's outputs
come from its own transforms and GEMMs, which sum over the channels in an order fixed by the
shapes, so the bits never depend on the thread count (threads take whole blocks). The weight
gradient sums the blocks of each of PARTS fixed parts of the batch in order, then the parts in
order: fixed by the shapes too.
"""
from cython.parallel cimport parallel, prange, threadid

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport check_stride1, tt_conv_kernels

# Tiles per block: a block's V and Mx (10 x tiles x (C + M) floats) within BLOCK_FLOATS
# (256 KB, a quarter of the EPYC's 1 MB L2 per core), blocks of a signal as even as possible
BLOCK_FLOATS = 1 << 16
# The weight gradient's blocks fall into at most this many parts (runs of blocks, each
# summed by one thread into its own dU), added in order at the end
PARTS = 8
# G's rows: s_p p^j for the interpolation points p (c/tt_winograd1d.inc), then infinity
cdef enum:
    W = 10                              # samples per tile window, products per tile
cdef double[9] _POINTS = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 1.5, -1.5]
cdef double[9] _SCALES = [4.0 / 9, 8.0 / 45, 8.0 / 45, 2.0 / 315, 2.0 / 315, -16.0 / 45,
                          -16.0 / 45, -16.0 / 315, -16.0 / 315]


def applies(x_shape, w_shape, Py_ssize_t[:, ::1] geo, Py_ssize_t groups):
    """Whether these kernels compute this convolution (5-D shapes): a 3-, 5- or 7-tap kernel
    over signals (D = H = 1), stride 1, no dilation, one group, some input channels and
    samples."""
    r = w_shape[4]
    return (groups == 1 and x_shape[2] == 1 and x_shape[3] == 1 and r in (3, 5, 7)
            and tuple(w_shape[2:]) == (1, 1, r) and x_shape[1] > 0 and x_shape[4] > 0
            and all(geo[0, a] == 1 and geo[2, a] == 1 for a in range(3))
            and geo[1, 0] == 0 and geo[3, 0] == 0 and geo[1, 1] == 0 and geo[3, 1] == 0)


cdef struct Tiling:
    int r, m                              # taps; outputs per tile (m + r - 1 = W)
    Py_ssize_t TL, nb, nbp, nblocks       # tiles per signal; per block; rounded up to nr
    Py_ssize_t us, vs, ld, ms             # U's k stride; V's; Mx's row and k strides
    Py_ssize_t parts                      # the weight gradient's parts
    Py_ssize_t own                        # floats per thread: GEMM workspace, V, Mx, buffer
    Py_ssize_t shared                     # floats of U, or of each part's dU (+ slack)


cdef Tiling _tiling(const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C, Py_ssize_t M,
                    Py_ssize_t OL, int r) except *:
    cdef Tiling t
    t.r = r
    t.m = 11 - r
    t.TL = (OL + t.m - 1) // t.m
    t.nb = max(kt.nr, BLOCK_FLOATS // (W * (C + M)) // kt.nr * kt.nr)
    t.nblocks = max(1, (t.TL + t.nb - 1) // t.nb)
    t.nb = max(1, (t.TL + t.nblocks - 1) // t.nblocks)
    t.nbp = (t.nb + kt.nr - 1) // kt.nr * kt.nr
    # strides of whole 64-byte lines plus one (k-matrices and rows in different cache sets)
    t.us = (M * C + 15) // 16 * 16
    t.vs = (C * t.nbp + 15) // 16 * 16 + 16
    t.ld = t.nbp + 16
    t.ms = M * t.ld + 16
    t.own = (kt.work + 16) + W * (t.vs + t.ms) + 16 + t.m * (t.nbp + 4)
    t.parts = max(1, min(PARTS, N * t.nblocks))
    t.shared = t.parts * W * t.us + 16
    return t


def scratch_sizes(Py_ssize_t N, Py_ssize_t C, Py_ssize_t M, Py_ssize_t OL, int r):
    """(floats per thread, floats shared) for both kernels."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    if kt == NULL:
        raise RuntimeError("winograd1d: needs a kernel variant; a tinytensor bug")
    if r != 3 and r != 5 and r != 7:
        raise ValueError("winograd1d: kernels of 3, 5 or 7 taps only (a tinytensor bug)")
    cdef Tiling t = _tiling(kt, N, C, M, OL, r)
    return t.own, t.shared


cdef float* _aligned(float* p) noexcept nogil:
    """p rounded up to 64 bytes (every region has 16 floats of slack for it)."""
    return p + ((64 - (<size_t> p) % 64) % 64) // 4


cdef void _g_rows(double* G, int r) noexcept nogil:
    """G[k * 7 + j] (W x r): the rows of the header's G."""
    cdef int k, j
    for k in range(W):
        for j in range(r):
            if k == W - 1:
                G[k * 7 + j] = 1.0 if j == r - 1 else 0.0
            else:
                G[k * 7 + j] = _SCALES[k] * _POINTS[k] ** j


cdef void _transform_weights(float* U, Py_ssize_t us, const float* w, Py_ssize_t M,
                             Py_ssize_t C, int r) noexcept nogil:
    """U[k * us + o * C + c] = (G w[o, c])_k, summed in double."""
    cdef double[W * 7] G
    cdef Py_ssize_t k, o, c
    cdef int j
    cdef double s
    _g_rows(G, r)
    for k in range(W):
        for o in range(M):
            for c in range(C):
                s = 0.0
                for j in range(r):
                    s += G[k * 7 + j] * w[(o * C + c) * r + j]
                U[k * us + o * C + c] = <float> s


cdef void _untransform(float* gw, const float* dU, Py_ssize_t us, Py_ssize_t M,
                       Py_ssize_t C, int r, bint transposed) noexcept nogil:
    """gw[o, c, j] = (G^T dU[., o, c])_j, summed in double; dU_k is M x C, or C x M when
    transposed (the GEMM's columns are the larger channel count: whole panels)."""
    cdef double[W * 7] G
    cdef Py_ssize_t k, o, c
    cdef int j
    cdef double s
    _g_rows(G, r)
    for o in range(M):
        for c in range(C):
            for j in range(r):
                s = 0.0
                for k in range(W):
                    s += G[k * 7 + j] * dU[k * us + (c * M + o if transposed else o * C + c)]
                gw[(o * C + c) * r + j] = <float> s


cdef Tiling _checked(str who, const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C,
                     Py_ssize_t L, Py_ssize_t M, Py_ssize_t OL, x_shape, y_shape, w_shape,
                     Py_ssize_t[:, ::1] geo, float[:, ::1] work, float[::1] shared,
                     int n_threads) except *:
    """The tiling of a call whose shapes the kernel can take (x (N, C, 1, 1, L), y or its
    gradient (N, M, 1, 1, OL), w or its gradient (M, C, 1, 1, r)), or ValueError."""
    cdef Py_ssize_t r
    cdef Tiling t
    if kt == NULL:
        raise RuntimeError(f"{who}: needs a kernel variant; a tinytensor bug")
    check_stride1(who, geo)
    r = L + geo[1, 2] + geo[3, 2] - OL + 1
    if (r not in (3, 5, 7) or tuple(x_shape[2:4]) != (1, 1)
            or tuple(y_shape[:4]) != (N, M, 1, 1) or tuple(w_shape[:5]) != (M, C, 1, 1, r)
            or C < 1 or L < 1 or n_threads < 1
            or geo[1, 0] != 0 or geo[3, 0] != 0 or geo[1, 1] != 0 or geo[3, 1] != 0):
        raise ValueError(f"{who}: inconsistent shapes (a tinytensor bug)")
    t = _tiling(kt, N, C, M, OL, r)
    if work.shape[0] < n_threads or work.shape[1] < t.own or shared.shape[0] < t.shared:
        raise ValueError(f"{who}: scratch too small (a tinytensor bug)")
    return t


cdef struct Regions:
    float* gemm_work                    # the GEMM's workspace
    float* v                            # V: W x vs floats, 64-byte aligned
    float* mx                           # Mx (or A dY): W x ms floats, 64-byte aligned
    float* buf                          # the input transform's deinterleaved signal


cdef Regions _regions(float* own, const tt_conv_kernels* kt, Tiling s) noexcept nogil:
    """The regions of one thread's scratch (own: its row of `work`)."""
    cdef Regions g
    g.gemm_work = own
    g.v = _aligned(own + kt.work)
    g.mx = _aligned(g.v + W * s.vs)
    g.buf = g.mx + W * s.ms
    return g


def winograd1d_forward(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, 1, L)
                       const float[:, :, :, :, ::1] w,    # IN  (M, C, 1, 1, r)
                       const float[::1] bias,             # IN  (M,) when has_bias, else any
                       bint has_bias,
                       float[:, :, :, :, ::1] y,          # OUT (N, M, 1, 1, OL), fully written
                       float[:, ::1] work,                # SCRATCH (>= n_threads, scratch_sizes()[0])
                       float[::1] shared,                 # SCRATCH (>= scratch_sizes()[1])
                       Py_ssize_t[:, ::1] geo, int n_threads):
    """y = the convolution of x with the r-tap weights w (+ bias)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[4]
    cdef Py_ssize_t M = y.shape[1], OL = y.shape[4]
    cdef Py_ssize_t item, n, t0, nb, k, tid
    cdef Tiling s = _checked("winograd1d_forward", kt, N, C, L, M, OL, x.shape, y.shape,
                             w.shape, geo, work, shared, n_threads)
    cdef Regions g
    cdef float* U
    cdef const float* bp = NULL
    if has_bias and bias.shape[0] != M:
        raise ValueError("winograd1d_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or M == 0 or OL <= 0:
        return
    if has_bias:
        bp = &bias[0]
    U = _aligned(&shared[0])
    with nogil:
        _transform_weights(U, s.us, &w[0, 0, 0, 0, 0], M, C, s.r)
    with nogil, parallel(num_threads=n_threads):
        tid = threadid()
        g = _regions(&work[tid, 0], kt, s)
        for item in prange(N * s.nblocks, schedule='static'):
            n = item // s.nblocks
            t0 = item % s.nblocks * s.nb
            nb = min(s.nb, s.TL - t0)
            kt.wino1d_input(g.v, s.vs, &x[n, 0, 0, 0, 0], C, L, geo[1, 2], s.m, t0, nb, kt.nr,
                            g.buf)
            for k in range(W):                     # (nb rounded up to panels of nr)
                kt.sgemm_packed_b(M, (nb + kt.nr - 1) // kt.nr * kt.nr, C, U + k * s.us, C, 1,
                                  g.v + k * s.vs, 0, g.mx + k * s.ms, s.ld, g.gemm_work)
            kt.wino1d_output(&y[n, 0, 0, 0, 0], OL, g.mx, s.ms, s.ld, M, s.m, t0, nb, bp)


def winograd1d_weight_grad(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, 1, L)
                           const float[:, :, :, :, ::1] gy,   # IN  (N, M, 1, 1, OL)
                           float[:, :, :, :, ::1] gw,         # OUT (M, C, 1, 1, r), overwritten
                           float[:, ::1] work,                # SCRATCH as for winograd1d_forward
                           float[::1] shared,
                           Py_ssize_t[:, ::1] geo, int n_threads):
    """gw = the weight gradient of the convolution winograd1d_forward computes, in the
    Winograd domain: dL/dU_k = sum over tiles of (A dy)_k (B^T d)_k^T (W GEMMs per block,
    the blocks of each part in order, then the parts in order), gw = G^T (dL/dU)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[4]
    cdef Py_ssize_t M = gy.shape[1], OL = gy.shape[4]
    cdef Py_ssize_t part, item, i0, i1, n, t0, nb, k, tid, q, per
    cdef Tiling s = _checked("winograd1d_weight_grad", kt, N, C, L, M, OL, x.shape, gy.shape,
                             gw.shape, geo, work, shared, n_threads)
    cdef Regions g
    cdef float* dU
    cdef float* d
    if N == 0 or OL <= 0:
        gw[...] = 0
        return
    if M == 0:
        return
    dU = _aligned(&shared[0])
    per = W * s.us
    with nogil, parallel(num_threads=n_threads):
        tid = threadid()
        g = _regions(&work[tid, 0], kt, s)
        for part in prange(s.parts, schedule='static'):
            d = dU + part * per
            i0 = part * (N * s.nblocks) // s.parts
            i1 = (part + 1) * (N * s.nblocks) // s.parts
            for item in range(i0, i1):
                n = item // s.nblocks
                t0 = item % s.nblocks * s.nb
                nb = min(s.nb, s.TL - t0)
                # V plain row-major (panels as wide as the block), A dy in Mx's place
                kt.wino1d_input(g.v, s.vs, &x[n, 0, 0, 0, 0], C, L, geo[1, 2], s.m, t0, nb,
                                s.nbp, g.buf)
                kt.wino1d_grad_output(g.mx, s.ms, s.ld, &gy[n, 0, 0, 0, 0], OL, M, s.m, t0, nb)
                for k in range(W):
                    if M >= C:    # dU_k^T (C x M) (+)= V_k (C x nb) Mx_k^T (nb x M)
                        kt.sgemm(C, M, nb, g.v + k * s.vs, s.nbp, 1, g.mx + k * s.ms, 1,
                                 s.ld, item > i0, d + k * s.us, M, g.gemm_work)
                    else:         # dU_k (M x C) (+)= Mx_k (M x nb) V_k^T (nb x C)
                        kt.sgemm(M, C, nb, g.mx + k * s.ms, s.ld, 1, g.v + k * s.vs, 1,
                                 s.nbp, item > i0, d + k * s.us, C, g.gemm_work)
    with nogil:
        for part in range(1, s.parts):           # the parts in order
            for q in range(per):
                dU[q] += dU[part * per + q]
        _untransform(&gw[0, 0, 0, 0, 0], dU, s.us, M, C, s.r, M >= C)
