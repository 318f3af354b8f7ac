# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The float32 Winograd convolutions over 6x6 input patches, F(4x4, 3x3) and F(2x2, 5x5): a
3x3 or 5x5, stride-1, undilated, ungrouped 2-D convolution with 36 multiplications per output
tile and channel pair instead of 144 or 100 (c/tt_winograd6.inc has the algebra and the
layouts). The forward: the weight transform U = G g G^T (the variant's wino6_weights, packed
for its GEMM), then per block of tiles the input transform (wino6_input) into V, 36 GEMMs
V_k U_k (the variant's sgemm_packed_b) into Mx and the output transform (wino6_output) into
y. The weight gradient: per block, V and Mx = A dY A^T (wino6_grad_output), dU_k += Mx_k^T
V_k (36 GEMMs, the blocks in order), then gw = G^T dU G (wino6_untransform). The input
gradient, where the flipped convolution would multiply mostly padding: dV_k = dM_k U_k^T,
then each tile's B dV B^T added into its patch (wino6_input_adjoint).

Their transforms run vectors across channels, so they keep every lane busy on small planes
(ResNet's 16 x 16 to 4 x 4, LeNet's 8 x 8), where conv_winograd.pyx's F(2x2, 3x3), whose
vectors run along a tile row, does not pay. Contract as in conv_gemm.pyx: C-contiguous
float32 arrays viewed as 3-D spatial (D = 1 here); each `def` re-checks every shape invariant
before any kernel runs. Each tile's outputs come from its own transforms, each GEMM sums
every element over the channels (or, for the weight gradient, a block's tiles) in an order
fixed by the shapes, and the weight gradient adds the blocks in order, so the bits never
depend on the thread count (the GEMMs of one block are split by k, never within one).
"""
from cython.parallel cimport parallel, prange, threadid

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport check_stride1, tt_conv_kernels

# Tiles per block: V and Mx of a block (36 x tiles x (C + M) floats) within BLOCK_FLOATS (8
# MB), blocks as even as possible
BLOCK_FLOATS = 1 << 21
# The kernels gather channels a plane apart (and weights r^2 C or r^2 M floats apart) with
# 32-bit lane offsets: planes and channel counts below this bound keep (VL - 1) x stride
# inside int32
MAX_STRIDE = (1 << 31) // 16 - 1


def applies(x_shape, w_shape, Py_ssize_t[:, ::1] geo, Py_ssize_t groups):
    """Whether these kernels compute this convolution (5-D shapes): a 3x3 or 5x5 kernel over
    planes (D = 1), stride 1, no dilation, one group, some input channels, and strides its
    gathers can offset."""
    r = w_shape[3]
    out_hw = [x_shape[3 + a] + geo[1, 1 + a] + geo[3, 1 + a] - r + 1 for a in range(2)]
    return (groups == 1 and x_shape[2] == 1 and r in (3, 5) and tuple(w_shape[2:]) == (1, r, r)
            and x_shape[1] > 0
            and all(geo[0, a] == 1 and geo[2, a] == 1 for a in range(3))
            and geo[1, 0] == 0 and geo[3, 0] == 0
            and x_shape[3] * x_shape[4] <= MAX_STRIDE and out_hw[0] * out_hw[1] <= MAX_STRIDE
            and 25 * max(x_shape[1], w_shape[0]) <= MAX_STRIDE)


cdef struct Tiling:
    int r, m                             # kernel size; output tile size (m + r - 1 = 6)
    Py_ssize_t TH, TW, T, tb, nblocks    # tile rows and columns per plane; tiles; per block
    Py_ssize_t Mp, us, vs, ms            # M rounded up to panels; U's, V's and Mx's k stride
    Py_ssize_t shared                    # floats of U (or dU), V and Mx (+ alignment slack)


cdef Tiling _tiling(const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C, Py_ssize_t M,
                    Py_ssize_t OH, Py_ssize_t OW, int r) except *:
    cdef Tiling t
    t.r = r
    t.m = 7 - r
    t.TH = (OH + t.m - 1) // t.m
    t.TW = (OW + t.m - 1) // t.m
    t.T = N * t.TH * t.TW
    t.tb = max(1, BLOCK_FLOATS // (36 * (C + M)))
    t.nblocks = max(1, (t.T + t.tb - 1) // t.tb)
    t.tb = max(1, (t.T + t.nblocks - 1) // t.nblocks)
    t.Mp = (M + kt.nr - 1) // kt.nr * kt.nr
    # k strides of whole 64-byte lines (every U_k stays aligned) plus one: the 36 matrices'
    # entries for one tile or channel pair, written together, then fall in different cache
    # sets (a stride of a power of two, 512 x 512 weights' 1 MB, would put all 36 in one)
    t.us = (t.Mp * C + 15) // 16 * 16 + 16
    t.vs = (t.tb * C + 15) // 16 * 16 + 16
    t.ms = (t.tb * M + 15) // 16 * 16 + 16
    t.shared = 36 * (t.us + t.vs + t.ms) + 16
    return t


def scratch_sizes(Py_ssize_t N, Py_ssize_t C, Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW,
                  int r):
    """(floats per thread: the GEMM's workspace, floats shared: U or dU, V and Mx), for
    both kernels."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    if kt == NULL:
        raise RuntimeError("winograd6: needs a kernel variant; a tinytensor bug")
    if r != 3 and r != 5:
        raise ValueError("winograd6: kernels of 3x3 or 5x5 only (a tinytensor bug)")
    return kt.work, _tiling(kt, N, C, M, OH, OW, r).shared


cdef Tiling _checked(str who, const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C,
                     Py_ssize_t H, Py_ssize_t W, Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW,
                     Py_ssize_t xd, Py_ssize_t yd, Py_ssize_t[:, ::1] geo, float[:, ::1] work,
                     float[::1] shared, int n_threads) except *:
    """The tiling of a call whose shapes the kernels can take (x and y of depth xd and yd),
    or ValueError."""
    cdef Py_ssize_t r
    cdef Tiling t
    if kt == NULL:
        raise RuntimeError(f"{who}: needs a kernel variant; a tinytensor bug")
    check_stride1(who, geo)
    r = H + geo[1, 1] + geo[3, 1] - OH + 1
    if (xd != 1 or yd != 1 or r not in (3, 5) or W + geo[1, 2] + geo[3, 2] - OW + 1 != r
            or geo[1, 0] != 0 or geo[3, 0] != 0 or C < 1 or H * W > MAX_STRIDE
            or OH * OW > MAX_STRIDE or 25 * max(C, M) > MAX_STRIDE or n_threads < 1):
        raise ValueError(f"{who}: inconsistent shapes (a tinytensor bug)")
    t = _tiling(kt, N, C, M, OH, OW, r)
    if work.shape[0] < n_threads or work.shape[1] < kt.work or shared.shape[0] < t.shared:
        raise ValueError(f"{who}: scratch too small (a tinytensor bug)")
    return t


cdef struct Regions:
    float* u                            # U (or dU, or U^T): 36 x us floats, 64-byte aligned
    float* v                            # V (or dM): 36 x vs floats
    float* mx                           # Mx (or dV): 36 x ms floats


cdef Regions _regions(float[::1] shared, Tiling s):
    """The three regions of the shared scratch (which has 16 floats of slack to align U)."""
    cdef Regions r
    r.u = &shared[0]
    r.u += ((64 - (<size_t> r.u) % 64) % 64) // 4
    r.v = r.u + 36 * s.us
    r.mx = r.v + 36 * s.vs
    return r


def winograd6_forward(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                      const float[:, :, :, :, ::1] w,    # IN  (M, C, 1, r, r)
                      const float[::1] bias,             # IN  (M,) when has_bias, else any
                      bint has_bias,
                      float[:, :, :, :, ::1] y,          # OUT (N, M, 1, OH, OW), fully written
                      float[:, ::1] work,                # SCRATCH (>= n_threads, scratch_sizes()[0])
                      float[::1] shared,                 # SCRATCH (>= scratch_sizes()[1])
                      Py_ssize_t[:, ::1] geo, int n_threads):
    """y = the convolution of x with the r x r weights w (+ bias)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t M = y.shape[1], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t blk, t0, t1, t, k, p, tid
    cdef Tiling s = _checked("winograd6_forward", kt, N, C, H, W, M, OH, OW, x.shape[2],
                             y.shape[2], geo, work, shared, n_threads)
    cdef Regions g = _regions(shared, s)
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2]     # (geo checked above)
    cdef float* U = g.u
    cdef float* V = g.v
    cdef float* Mx = g.mx
    cdef const float* bp = NULL
    if (y.shape[0] != N or w.shape[0] != M or w.shape[1] != C or w.shape[2] != 1
            or w.shape[3] != s.r or w.shape[4] != s.r or (has_bias and bias.shape[0] != M)):
        raise ValueError("winograd6_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or M == 0 or OH <= 0 or OW <= 0:
        return
    if has_bias:
        bp = &bias[0]
    with nogil, parallel(num_threads=n_threads):    # one team: each phase's prange ends
        tid = threadid()                            # at a barrier, no new team per phase
        for p in prange(s.Mp // kt.nr, schedule='static'):
            kt.wino6_weights(U, s.us, &w[0, 0, 0, 0, 0], M, C, s.r, kt.nr, p * kt.nr,
                             (p + 1) * kt.nr)
        for blk in range(s.nblocks):
            t0 = blk * s.tb
            t1 = min(t0 + s.tb, s.T)
            for t in prange(t0, t1, schedule='static'):
                kt.wino6_input(V, s.vs, &x[0, 0, 0, 0, 0], C, H, W, ph, pw, s.m, s.TH, s.TW,
                               t, t + 1, t0)
            for k in prange(36, schedule='static'):
                kt.sgemm_packed_b(t1 - t0, M, C, V + k * s.vs, C, 1, U + k * s.us, 0,
                                  Mx + k * s.ms, M, &work[tid, 0])
            for t in prange(t0, t1, schedule='static'):
                kt.wino6_output(&y[0, 0, 0, 0, 0], Mx, s.ms, M, OH, OW, s.m, s.TH, s.TW, t,
                                t + 1, t0, bp)


def winograd6_weight_grad(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                          const float[:, :, :, :, ::1] gy,   # IN  (N, M, 1, OH, OW)
                          float[:, :, :, :, ::1] gw,         # OUT (M, C, 1, r, r), overwritten
                          float[:, ::1] work,                # SCRATCH as for winograd6_forward
                          float[::1] shared,
                          Py_ssize_t[:, ::1] geo, int n_threads):
    """gw = the weight gradient of the convolution winograd6_forward computes, in the
    Winograd domain: dL/dU_k = sum over tiles of (A dY A^T)_k^T (B^T d B)_k (36 GEMMs per
    block, the blocks in order), gw = G^T (dL/dU) G."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t M = gy.shape[1], OH = gy.shape[3], OW = gy.shape[4]
    cdef Py_ssize_t blk, t0, t1, t, k, o, tid
    cdef Tiling s = _checked("winograd6_weight_grad", kt, N, C, H, W, M, OH, OW, x.shape[2],
                             gy.shape[2], geo, work, shared, n_threads)
    cdef Regions g = _regions(shared, s)
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2]     # (geo checked above)
    cdef float* dU = g.u
    cdef float* V = g.v
    cdef float* Mx = g.mx
    if (gy.shape[0] != N or gw.shape[0] != M or gw.shape[1] != C or gw.shape[2] != 1
            or gw.shape[3] != s.r or gw.shape[4] != s.r):
        raise ValueError("winograd6_weight_grad: inconsistent shapes (a tinytensor bug)")
    if N == 0 or OH <= 0 or OW <= 0:
        gw[...] = 0
        return
    if M == 0:
        return
    with nogil, parallel(num_threads=n_threads):    # one team, as in winograd6_forward
        tid = threadid()
        for blk in range(s.nblocks):
            t0 = blk * s.tb
            t1 = min(t0 + s.tb, s.T)
            for t in prange(t0, t1, schedule='static'):
                kt.wino6_input(V, s.vs, &x[0, 0, 0, 0, 0], C, H, W, ph, pw, s.m, s.TH, s.TW,
                               t, t + 1, t0)
                kt.wino6_grad_output(Mx, s.ms, &gy[0, 0, 0, 0, 0], M, OH, OW, s.m, s.TH,
                                     s.TW, t, t + 1, t0)
            for k in prange(36, schedule='static'):
                # dU_k (M x C) (+)= Mx_k^T (M x tiles) V_k (tiles x C)
                kt.sgemm(M, C, t1 - t0, Mx + k * s.ms, 1, M, V + k * s.vs, C, 1, blk > 0,
                         dU + k * s.us, C, &work[tid, 0])
        for o in prange(M, schedule='static'):
            kt.wino6_untransform(&gw[0, 0, 0, 0, 0], dU, s.us, C, s.r, o, o + 1)


def winograd6_input_grad(const float[:, :, :, :, ::1] gy,   # IN  (N, M, 1, OH, OW)
                         const float[:, :, :, :, ::1] wt,   # IN  (C, M, 1, r, r): w's channels swapped
                         float[:, :, :, :, ::1] gx,         # OUT (N, C, 1, H, W), zero-filled
                         float[:, ::1] work,                # SCRATCH as for winograd6_forward
                         float[::1] shared,
                         Py_ssize_t[:, ::1] geo, int n_threads):
    """gx += the input gradient of the convolution winograd6_forward computes with the
    weights w (M, C, r, r), by the forward's adjoint (where the flipped convolution would
    multiply mostly padding): dV_k = (A dY A^T)_k U_k^T (36 GEMMs per block, U^T packed from
    wt), then each tile's B dV B^T added into the 6x6 patch it came from (the patches overlap:
    one thread per image adds its tiles in order)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[3], W = gx.shape[4]
    cdef Py_ssize_t M = gy.shape[1], OH = gy.shape[3], OW = gy.shape[4]
    cdef Py_ssize_t blk, t0, t1, t, k, p, n, tid, per
    # the tiling of the convolution with the channels' roles swapped: U^T in panels of input
    # channels, dM (tiles x M) in V's place and dV (tiles x C) in Mx's
    cdef Tiling s = _checked("winograd6_input_grad", kt, N, M, H, W, C, OH, OW, gx.shape[2],
                             gy.shape[2], geo, work, shared, n_threads)
    cdef Regions g = _regions(shared, s)
    cdef Py_ssize_t ph = geo[1, 1], pw = geo[1, 2]     # (geo checked above)
    cdef float* U = g.u
    cdef float* dM = g.v
    cdef float* dV = g.mx
    if (gy.shape[0] != N or wt.shape[0] != C or wt.shape[1] != M or wt.shape[2] != 1
            or wt.shape[3] != s.r or wt.shape[4] != s.r):
        raise ValueError("winograd6_input_grad: inconsistent shapes (a tinytensor bug)")
    if N == 0 or M == 0 or C == 0 or OH <= 0 or OW <= 0:
        return
    per = s.TH * s.TW
    with nogil, parallel(num_threads=n_threads):    # one team, as in winograd6_forward
        tid = threadid()
        for p in prange(s.Mp // kt.nr, schedule='static'):
            kt.wino6_weights(U, s.us, &wt[0, 0, 0, 0, 0], C, M, s.r, kt.nr, p * kt.nr,
                             (p + 1) * kt.nr)
        for blk in range(s.nblocks):
            t0 = blk * s.tb
            t1 = min(t0 + s.tb, s.T)
            for t in prange(t0, t1, schedule='static'):
                kt.wino6_grad_output(dM, s.vs, &gy[0, 0, 0, 0, 0], M, OH, OW, s.m, s.TH, s.TW,
                                     t, t + 1, t0)
            for k in prange(36, schedule='static'):
                kt.sgemm_packed_b(t1 - t0, C, M, dM + k * s.vs, M, 1, U + k * s.us, 0,
                                  dV + k * s.ms, C, &work[tid, 0])
            for n in prange(t0 // per, (t1 - 1) // per + 1, schedule='static'):
                kt.wino6_input_adjoint(&gx[0, 0, 0, 0, 0], dV, s.ms, C, H, W, ph, pw, s.m,
                                       s.TH, s.TW, max(t0, n * per), min(t1, (n + 1) * per),
                                       t0)
