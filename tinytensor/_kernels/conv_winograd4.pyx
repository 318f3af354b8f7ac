# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The float32 Winograd convolution F(4x4, 3x3) for small planes: a 3x3, stride-1,
undilated, ungrouped 2-D convolution with 36 multiplications per 4x4 output tile and channel
pair instead of 144 (c/tt_winograd4.inc has the algebra and the layouts). One call: the weight
transform U = G g G^T (the variant's wino4_weights, packed for its GEMM), then per block of
tiles the input transform (wino4_input) into V, 36 GEMMs V_k U_k (the variant's
sgemm_packed_b) into Mx, and the output transform (wino4_output) into y.

Its transforms run vectors across channels, so they keep every lane busy on the 8 x 8 and
4 x 4 planes where conv_winograd.pyx's F(2x2, 3x3), whose vectors run along a tile row, does
not pay. Contract as in conv_gemm.pyx: C-contiguous float32 arrays viewed as 3-D spatial (D = 1
here); the `def` re-checks every shape invariant before any kernel runs. Each tile's outputs
come from its own transforms and every GEMM sums each element over the channels in an order
fixed by the shapes, so the bits never depend on the thread count or the block size.
"""
from cython.parallel cimport prange, threadid

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport tt_conv_kernels

# Tiles per block: V and Mx of a block (36 x tiles x (C + M) floats) within BLOCK_FLOATS (8
# MB), blocks as even as possible
BLOCK_FLOATS = 1 << 21
# The kernels gather channels a plane apart (and weights 9 C floats apart) with 32-bit lane
# offsets: planes and channel counts below this bound keep (VL - 1) x stride inside int32
MAX_STRIDE = (1 << 31) // 16 - 1


def applies(x_shape, w_shape, Py_ssize_t[:, ::1] geo, Py_ssize_t groups):
    """Whether winograd4_forward computes this convolution (5-D shapes): a 3x3 kernel over
    planes (D = 1), stride 1, no dilation, one group, some input channels, and strides its
    gathers can offset."""
    return (groups == 1 and x_shape[2] == 1 and tuple(w_shape[2:]) == (1, 3, 3)
            and x_shape[1] > 0
            and all(geo[0, a] == 1 and geo[2, a] == 1 for a in range(3))
            and geo[1, 0] == 0 and geo[3, 0] == 0
            and x_shape[3] * x_shape[4] <= MAX_STRIDE and 9 * x_shape[1] <= MAX_STRIDE)


cdef struct Tiling:
    Py_ssize_t TH, TW, T, tb, nblocks    # tile rows and columns per plane; tiles; per block
    Py_ssize_t Mp, us, vs, ms            # M rounded up to panels; U's, V's and Mx's k stride
    Py_ssize_t shared                    # floats of U, V and Mx (+ alignment slack)


cdef Tiling _tiling(const tt_conv_kernels* kt, Py_ssize_t N, Py_ssize_t C, Py_ssize_t M,
                    Py_ssize_t OH, Py_ssize_t OW) except *:
    cdef Tiling t
    t.TH = (OH + 3) // 4
    t.TW = (OW + 3) // 4
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


def scratch_sizes(Py_ssize_t N, Py_ssize_t C, Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW):
    """(floats per thread: the GEMM's workspace, floats shared: U, V and Mx)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    if kt == NULL:
        raise RuntimeError("winograd4: needs a kernel variant; a tinytensor bug")
    return kt.work, _tiling(kt, N, C, M, OH, OW).shared


def winograd4_forward(const float[:, :, :, :, ::1] x,    # IN  (N, C, 1, H, W)
                      const float[:, :, :, :, ::1] w,    # IN  (M, C, 1, 3, 3)
                      const float[::1] bias,             # IN  (M,) when has_bias, else any
                      bint has_bias,
                      float[:, :, :, :, ::1] y,          # OUT (N, M, 1, OH, OW), fully written
                      float[:, ::1] work,                # SCRATCH (>= n_threads, scratch_sizes()[0])
                      float[::1] shared,                 # SCRATCH (>= scratch_sizes()[1])
                      Py_ssize_t[:, ::1] geo, int n_threads):
    """y = the convolution of x with the 3x3 weights w (+ bias)."""
    cdef const tt_conv_kernels* kt = _variant.kernels()
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t M = y.shape[1], OH = y.shape[3], OW = y.shape[4]
    cdef Py_ssize_t ph, pw, a, blk, t0, t1, t, k, p, npanels, tid
    cdef Tiling s
    cdef float* U
    cdef float* V
    cdef float* Mx
    cdef const float* bp = NULL
    if kt == NULL:
        raise RuntimeError("winograd4_forward: needs a kernel variant; a tinytensor bug")
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        raise ValueError("winograd4_forward: geometry must be (4, 3) (a tinytensor bug)")
    for a in range(3):
        if geo[0, a] != 1 or geo[2, a] != 1 or geo[1, a] < 0 or geo[3, a] < 0:
            raise ValueError("winograd4_forward: not a stride-1 undilated convolution "
                             "(a tinytensor bug)")
    ph, pw = geo[1, 1], geo[1, 2]
    if (x.shape[2] != 1 or y.shape[0] != N or y.shape[2] != 1 or w.shape[0] != M
            or w.shape[1] != C or w.shape[2] != 1 or w.shape[3] != 3 or w.shape[4] != 3
            or geo[1, 0] != 0 or geo[3, 0] != 0 or OH != H + ph + geo[3, 1] - 2
            or OW != W + pw + geo[3, 2] - 2 or C < 1 or H * W > MAX_STRIDE
            or 9 * C > MAX_STRIDE or n_threads < 1 or (has_bias and bias.shape[0] != M)):
        raise ValueError("winograd4_forward: inconsistent shapes (a tinytensor bug)")
    if N == 0 or M == 0 or OH <= 0 or OW <= 0:
        return
    if has_bias:
        bp = &bias[0]
    s = _tiling(kt, N, C, M, OH, OW)
    if work.shape[0] < n_threads or work.shape[1] < kt.work or shared.shape[0] < s.shared:
        raise ValueError("winograd4_forward: scratch too small (a tinytensor bug)")
    U = &shared[0]
    U += ((64 - (<size_t> U) % 64) % 64) // 4                  # 64-byte aligned
    V = U + 36 * s.us
    Mx = V + 36 * s.vs
    npanels = s.Mp // kt.nr
    with nogil:
        for p in prange(npanels, schedule='static', num_threads=n_threads):
            kt.wino4_weights(U, s.us, &w[0, 0, 0, 0, 0], M, C, kt.nr, p * kt.nr,
                             (p + 1) * kt.nr)
        for blk in range(s.nblocks):
            t0 = blk * s.tb
            t1 = min(t0 + s.tb, s.T)
            for t in prange(t0, t1, schedule='static', num_threads=n_threads):
                kt.wino4_input(V, s.vs, &x[0, 0, 0, 0, 0], C, H, W, ph, pw, s.TH, s.TW, t,
                               t + 1, t0)
            for k in prange(36, schedule='static', num_threads=n_threads):
                tid = threadid()
                kt.sgemm_packed_b(t1 - t0, M, C, V + k * s.vs, C, 1, U + k * s.us, 0,
                                  Mx + k * s.ms, M, &work[tid, 0])
            for t in prange(t0, t1, schedule='static', num_threads=n_threads):
                kt.wino4_output(&y[0, 0, 0, 0, 0], Mx, s.ms, M, OH, OW, s.TH, s.TW, t, t + 1,
                                t0, bp)
