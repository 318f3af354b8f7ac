# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The float32 convolution paths of the ISA variants' micro-kernels (c/tt_isa.h): the forward by
panels (implicit GEMM: im2col built a panel of columns at a time, in registers) and by rows
(output rows straight from the input), and the input gradient by panels (col2im without a
col matrix).

Contract as in conv_gemm.pyx: C-contiguous float32 arrays viewed as 3-D spatial; each `def`
re-checks the O(1) invariants (conv_geometry.pxd) before any kernel runs. Parallel tasks are
fixed by the shapes, and each writes its own outputs, so the bits never depend on the thread
count. The variant's kernels come from _variant.kernels() (NULL: a build without any
variant, where these paths do not exist and the plan never chooses them).
"""
from cython.parallel cimport prange, threadid

from tinytensor._kernels cimport _variant
from tinytensor._kernels.conv_geometry cimport ConvShape, tt_conv_kernels, conv_shape


cdef const tt_conv_kernels* _kernels(str who) except NULL:
    cdef const tt_conv_kernels* kt = _variant.kernels()
    if kt == NULL:
        raise RuntimeError(f"{who}: needs a kernel variant; a tinytensor bug")
    return kt


cdef inline float* _aligned64(float* p) noexcept nogil:
    return <float*> ((<size_t> p + 63) & ~(<size_t> 63))


def panel_sizes(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t K, Py_ssize_t groups):
    """(packed weights, per-thread scratch) in floats for panel_forward and rows_forward: the
    weights of every group packed for the micro-kernel; a K x NR panel, an Mpad x NR tile and
    alignment slack."""
    cdef const tt_conv_kernels* kt = _kernels("panel_sizes")
    cdef Py_ssize_t mpad = kt.rows_padded(Og)
    # the packed weights serve rows_forward too, whose panels are of rows_mr channels
    return groups * max(mpad, _rows_padded(kt, Og)) * Cg * K, (Cg * K + mpad) * kt.nr + 32


cdef inline Py_ssize_t _rows_padded(const tt_conv_kernels* kt, Py_ssize_t Og) noexcept:
    """Output channels rounded up to whole panels of rows_forward's tile."""
    return (Og + kt.rows_mr - 1) // kt.rows_mr * kt.rows_mr


def panel_forward(const float[:, :, :, :, ::1] x,        # IN  (N, C, D, H, W)
                  const float[:, :, :, :, ::1] w,        # IN  (O, C // groups, KD, KH, KW)
                  const float[::1] bias,                 # IN  (O,) when has_bias, else any
                  bint has_bias,
                  float[:, :, :, :, ::1] y,              # OUT (N, O, OD, OH, OW)
                  float[::1] wpack,                      # SCRATCH panel_sizes()[0]
                  float[:, ::1] scratch,                 # SCRATCH (n_threads, panel_sizes()[1])
                  Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Convolution forward by the variant's forward_panel: one parallel task per (group,
    panel of NR output columns across the batch), so a panel's bits never depend on the
    thread count."""
    cdef const tt_conv_kernels* kt = _kernels("panel_forward")
    cdef ConvShape s
    cdef Py_ssize_t Og, CK, L, mpad, npanels, t, grp, q0, tid
    cdef float* panel
    if not conv_shape(&s, x.shape, w.shape, y.shape, geo, groups) \
            or (has_bias and bias.shape[0] != s.O):
        raise ValueError("panel_forward: inconsistent shapes (a tinytensor bug)")
    Og = s.Og
    CK = s.g.C * s.g.KD * s.g.KH * s.g.KW
    sizes = panel_sizes(s.g.C, Og, s.g.KD * s.g.KH * s.g.KW, groups)
    if n_threads < 1 or scratch.shape[0] < n_threads or scratch.shape[1] < sizes[1] \
            or wpack.shape[0] < sizes[0]:
        raise ValueError("panel_forward: bad scratch (a tinytensor bug)")
    if s.N == 0 or s.O == 0:
        return
    L = s.g.OD * s.g.OH * s.g.OW
    mpad = kt.rows_padded(Og)
    with nogil:
        for grp in range(groups):
            kt.pack_weights(&wpack[grp * mpad * CK], &w[grp * Og, 0, 0, 0, 0], Og, CK)
    npanels = (s.N * L + kt.nr - 1) // kt.nr
    for t in prange(groups * npanels, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        grp = t // npanels
        q0 = (t % npanels) * kt.nr
        panel = _aligned64(&scratch[tid, 0])
        kt.forward_panel(&x[0, grp * s.g.C, 0, 0, 0], s.C * s.g.D * s.g.H * s.g.W, &s.g,
                         &wpack[grp * mpad * CK], Og, &bias[grp * Og] if has_bias else NULL,
                         &y[0, grp * Og, 0, 0, 0], s.O * L, q0,
                         <int> min(kt.nr, s.N * L - q0), panel, panel + CK * kt.nr)


def panel_backward_input_sizes(Py_ssize_t Cg, Py_ssize_t Og, Py_ssize_t T, Py_ssize_t groups):
    """(packed transposed weights, per-thread scratch) in floats for panel_backward_input."""
    cdef const tt_conv_kernels* kt = _kernels("panel_backward_input_sizes")
    cdef Py_ssize_t cpad = kt.rows_padded(Cg)
    return groups * T * cpad * Og, (Og + cpad) * kt.nr + 32


def panel_backward_input(const float[:, :, :, :, ::1] go,   # IN  (N, O, OD, OH, OW)
                         const float[:, :, :, ::1] wt,       # IN  (groups, T, Cg, Og): w^T per tap
                         float[:, :, :, :, ::1] gx,          # OUT (N, C, D, H, W), zero-filled
                         float[::1] wpack,                   # SCRATCH sizes()[0]
                         float[:, ::1] scratch,              # SCRATCH (n_threads, sizes()[1])
                         Py_ssize_t[:, ::1] geo, Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                         int n_threads):
    """Input gradient by the variant's backward_input_panel (col2im without a col matrix). A
    task is (group, block of whole samples), so no two threads add into one sample's gx and
    the order of the sums depends on the shapes only."""
    cdef const tt_conv_kernels* kt = _kernels("panel_backward_input")
    cdef ConvShape s
    cdef Py_ssize_t groups = wt.shape[0], T = wt.shape[1], Cg = wt.shape[2], Og = wt.shape[3]
    cdef Py_ssize_t w_shape[5]
    cdef Py_ssize_t L, cpad, sb, nblocks, t, grp, n0, n1, q, tid
    cdef float* panel
    w_shape[0], w_shape[1], w_shape[2], w_shape[3], w_shape[4] = Og * groups, Cg, KD, KH, KW
    if T != KD * KH * KW or not conv_shape(&s, gx.shape, w_shape, go.shape, geo, groups):
        raise ValueError("panel_backward_input: inconsistent shapes (a tinytensor bug)")
    sizes = panel_backward_input_sizes(Cg, Og, T, groups)
    if n_threads < 1 or scratch.shape[0] < n_threads or scratch.shape[1] < sizes[1] \
            or wpack.shape[0] < sizes[0]:
        raise ValueError("panel_backward_input: bad scratch (a tinytensor bug)")
    if s.N == 0 or s.O == 0 or s.C == 0:
        return
    L = s.g.OD * s.g.OH * s.g.OW
    cpad = kt.rows_padded(Cg)
    with nogil:
        for t in range(groups * T):
            kt.pack_weights(&wpack[t * cpad * Og], &wt[t // T, t % T, 0, 0], Cg, Og)
    sb = (kt.nr + L - 1) // L                # samples per task: at least one panel
    nblocks = (s.N + sb - 1) // sb
    for t in prange(groups * nblocks, nogil=True, schedule='static', num_threads=n_threads):
        tid = threadid()
        grp = t // nblocks
        n0 = (t % nblocks) * sb
        n1 = min(s.N, n0 + sb)
        panel = _aligned64(&scratch[tid, 0])
        q = n0 * L
        while q < n1 * L:
            kt.backward_input_panel(&go[0, grp * Og, 0, 0, 0], s.O * L, &s.g,
                                    &wpack[grp * T * cpad * Og], Og, &gx[0, grp * Cg, 0, 0, 0],
                                    s.C * s.g.D * s.g.H * s.g.W, q, <int> min(kt.nr, n1 * L - q),
                                    panel, panel + Og * kt.nr)
            q = q + kt.nr


def rows_forward(const float[:, :, :, :, ::1] x,         # IN  (N, C, D, H, W)
                 const float[:, :, :, :, ::1] w,         # IN  (O, C // groups, KD, KH, KW)
                 const float[::1] bias,                  # IN  (O,) when has_bias, else any
                 bint has_bias,
                 float[:, :, :, :, ::1] y,               # OUT (N, O, OD, OH, OW)
                 float[::1] wpack,                       # SCRATCH panel_sizes()[0]
                 Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads):
    """Convolution forward with stride 1 or 2 along W by the variant's rows_forward_piece (no
    im2col): one parallel task per (group, output row, piece of up to NR positions)."""
    cdef const tt_conv_kernels* kt = _kernels("rows_forward")
    cdef ConvShape s
    cdef Py_ssize_t Og, Cg, T, L, mpad, pieces, rows, t, grp, r, ow0, OD, OH, OW
    cdef int width
    if not conv_shape(&s, x.shape, w.shape, y.shape, geo, groups) \
            or (has_bias and bias.shape[0] != s.O) or not 1 <= geo[0, 2] <= 2:
        raise ValueError("rows_forward: inconsistent shapes (a tinytensor bug)")
    Og, Cg = s.Og, s.g.C
    T = s.g.KD * s.g.KH * s.g.KW
    if n_threads < 1 or wpack.shape[0] < panel_sizes(Cg, Og, T, groups)[0]:
        raise ValueError("rows_forward: bad scratch (a tinytensor bug)")
    if s.N == 0 or s.O == 0:
        return
    OD, OH, OW = s.g.OD, s.g.OH, s.g.OW
    L = OD * OH * OW
    mpad = _rows_padded(kt, Og)
    # pieces of NR positions; a row of NR / 2 or fewer is one piece of half the width
    width = kt.nr if OW > kt.nr // 2 else kt.nr // 2
    pieces = (OW + width - 1) // width
    rows = s.N * OD * OH
    with nogil:
        for grp in range(groups):
            kt.rows_pack_weights(&wpack[grp * mpad * Cg * T], &w[grp * Og, 0, 0, 0, 0], Og, Cg,
                                 T)
    for t in prange(groups * rows * pieces, nogil=True, schedule='static',
                    num_threads=n_threads):
        grp = t // (rows * pieces)
        r = t // pieces % rows
        ow0 = (t % pieces) * width
        kt.rows_forward_piece(&x[0, grp * Cg, 0, 0, 0], s.C * s.g.D * s.g.H * s.g.W, &s.g,
                              &wpack[grp * mpad * Cg * T], Og,
                              &bias[grp * Og] if has_bias else NULL,
                              &y[0, grp * Og, 0, 0, 0], s.O * L, r // (OD * OH),
                              r // OH % OD, r % OH, ow0, <int> min(width, OW - ow0))
