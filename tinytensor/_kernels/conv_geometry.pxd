# cython: language_level=3
"""What the convolution kernel modules share (conv_gemm, conv_panels, conv_direct, _variant):
the C types of c/tt_conv_types.h, the convolution's shape in one struct (`ConvShape`, instead of
two dozen scalar arguments), and the O(1) checks every `def` entry runs before a kernel."""

from libc.stdint cimport uint16_t, int32_t

cdef extern from "tt_conv_types.h" nogil:
    ctypedef struct tt_conv_geo:
        Py_ssize_t C, D, H, W, KD, KH, KW, OD, OH, OW, sd, sh, sw, pd, ph, pw, dd, dh, dw
    ctypedef struct tt_wgrad_geo:
        Py_ssize_t N, C, D, H, W, O, Cg, Og, KD, KH, KW, OD, OH, OW
        Py_ssize_t sd, sh, pd, ph, pw, dd, dh, dw, plane, lines_per_n, lp, nch
    ctypedef struct tt_wgrad_kernels:
        int vl
        int (*nr)(int mr) noexcept nogil
        void (*task)(const float* x, const float* go, float* gw, const tt_wgrad_geo* g,
                     const uint16_t* masks, const Py_ssize_t* taps, float* gpk, Py_ssize_t grp,
                     Py_ssize_t o0, int mr, int nr_tile, Py_ssize_t tt0, Py_ssize_t tt1,
                     Py_ssize_t line0, Py_ssize_t nlines, Py_ssize_t ch0,
                     Py_ssize_t ch1) noexcept nogil
        void (*task_win)(const float* x, const float* got, float* gwt, const tt_wgrad_geo* g,
                         const uint16_t* masks, const Py_ssize_t* taps, float* gpk,
                         Py_ssize_t C, Py_ssize_t DHW, Py_ssize_t K, Py_ssize_t nch,
                         const int32_t* bidx, const int32_t* toff, const uint16_t* wmask,
                         Py_ssize_t t0, int mr, int nr_tile,
                         Py_ssize_t tt0, Py_ssize_t tt1, Py_ssize_t q0,
                         Py_ssize_t q1) noexcept nogil
    ctypedef struct tt_conv_kernels:
        const char* name
        int mr, nr, vl, rows_mr
        Py_ssize_t work
        int dmr, dnr
        Py_ssize_t dwork
        void (*sgemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                      Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb,
                      int accumulate, float* c, Py_ssize_t ldc, float* work) noexcept nogil
        void (*dgemm)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a,
                      Py_ssize_t rsa, Py_ssize_t csa, const double* b, Py_ssize_t rsb,
                      Py_ssize_t csb, int accumulate, double* c, Py_ssize_t ldc,
                      double* work) noexcept nogil
        Py_ssize_t (*rows_padded)(Py_ssize_t M) noexcept nogil
        void (*pack_weights)(float* dst, const float* w, Py_ssize_t M,
                             Py_ssize_t K) noexcept nogil
        void (*forward_panel)(const float* x, Py_ssize_t xs, const tt_conv_geo* g,
                              const float* wp, Py_ssize_t M, const float* bias, float* y,
                              Py_ssize_t ys, Py_ssize_t q0, int nq, float* panel,
                              float* tile) noexcept nogil
        void (*backward_input_panel)(const float* go, Py_ssize_t gos, const tt_conv_geo* g,
                                     const float* wt, Py_ssize_t M, float* gx, Py_ssize_t xs,
                                     Py_ssize_t q0, int nq, float* panel,
                                     float* tile) noexcept nogil
        void (*rows_pack_weights)(float* dst, const float* w, Py_ssize_t M, Py_ssize_t C,
                                  Py_ssize_t T) noexcept nogil
        void (*rows_forward_piece)(const float* x, Py_ssize_t xs, const tt_conv_geo* g,
                                   const float* wp, Py_ssize_t M, const float* bias, float* y,
                                   Py_ssize_t ys, Py_ssize_t n, Py_ssize_t od, Py_ssize_t oh,
                                   Py_ssize_t ow0, int nr) noexcept nogil
        tt_wgrad_kernels wgrad
        # the Winograd F(2x2, 3x3) transforms (c/tt_winograd.inc; conv_winograd.pyx)
        void (*wino_input)(float* V, Py_ssize_t ld, Py_ssize_t vs, const float* x,
                           Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph,
                           Py_ssize_t pw, Py_ssize_t TH, Py_ssize_t TW, Py_ssize_t R0,
                           Py_ssize_t R1, float* rowbuf) noexcept nogil
        void (*wino_output)(float* y, const float* Mx, Py_ssize_t ld, Py_ssize_t ms,
                            Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t TH,
                            Py_ssize_t TW, Py_ssize_t R0, Py_ssize_t R1,
                            const float* bias) noexcept nogil
        void (*wino_grad_output)(float* Mg, Py_ssize_t ld, Py_ssize_t ms, const float* gy,
                                 Py_ssize_t M, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t TH,
                                 Py_ssize_t TW, Py_ssize_t R0, Py_ssize_t R1) noexcept nogil
        # the Winograd convolutions over 6x6 patches (c/tt_winograd6.inc; conv_winograd6.pyx)
        void (*sgemm_packed_b)(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a,
                               Py_ssize_t rsa, Py_ssize_t csa, const float* bp,
                               int accumulate, float* c, Py_ssize_t ldc,
                               float* work) noexcept nogil
        void (*wino6_weights)(float* U, Py_ssize_t us, const float* w, Py_ssize_t M,
                              Py_ssize_t C, int r, Py_ssize_t nr, Py_ssize_t o0,
                              Py_ssize_t o1) noexcept nogil
        void (*wino6_input)(float* V, Py_ssize_t vs, const float* x, Py_ssize_t C,
                            Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw, int m,
                            Py_ssize_t TH, Py_ssize_t TW, Py_ssize_t t0, Py_ssize_t t1,
                            Py_ssize_t tb) noexcept nogil
        void (*wino6_output)(float* y, const float* Mx, Py_ssize_t ms, Py_ssize_t M,
                             Py_ssize_t OH, Py_ssize_t OW, int m, Py_ssize_t TH,
                             Py_ssize_t TW, Py_ssize_t t0, Py_ssize_t t1, Py_ssize_t tb,
                             const float* bias) noexcept nogil
        void (*wino6_grad_output)(float* Mx, Py_ssize_t ms, const float* gy, Py_ssize_t M,
                                  Py_ssize_t OH, Py_ssize_t OW, int m, Py_ssize_t TH,
                                  Py_ssize_t TW, Py_ssize_t t0, Py_ssize_t t1,
                                  Py_ssize_t tb) noexcept nogil
        void (*wino6_untransform)(float* gw, const float* dU, Py_ssize_t us, Py_ssize_t C,
                                  int r, Py_ssize_t o0, Py_ssize_t o1) noexcept nogil
        void (*wino6_input_adjoint)(float* gx, const float* dV, Py_ssize_t vs, Py_ssize_t C,
                                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t ph, Py_ssize_t pw,
                                    int m, Py_ssize_t TH, Py_ssize_t TW, Py_ssize_t t0,
                                    Py_ssize_t t1, Py_ssize_t tb) noexcept nogil
        # the 1-D Winograd convolutions (c/tt_winograd1d.inc; conv_winograd1d.pyx)
        void (*wino1d_input)(float* V, Py_ssize_t vs, const float* x, Py_ssize_t C,
                             Py_ssize_t L, Py_ssize_t p, int m, Py_ssize_t t0, Py_ssize_t nb,
                             Py_ssize_t nr, float* buf) noexcept nogil
        void (*wino1d_output)(float* y, Py_ssize_t OL, const float* Mx, Py_ssize_t ms,
                              Py_ssize_t ld, Py_ssize_t M, int m, Py_ssize_t t0,
                              Py_ssize_t nb, const float* bias) noexcept nogil
        void (*wino1d_grad_output)(float* Mx, Py_ssize_t ms, Py_ssize_t ld, const float* gy,
                                   Py_ssize_t OL, Py_ssize_t M, int m, Py_ssize_t t0,
                                   Py_ssize_t nb) noexcept nogil
        # pooling: the float32 max-pool row kernel (c/tt_pool_rows.inc; pool.pyx)
        void (*max_row)(const float* xp, float* y, void* idx, int kind, Py_ssize_t n,
                        Py_ssize_t sw, Py_ssize_t start, Py_ssize_t na, Py_ssize_t nb,
                        Py_ssize_t nc, Py_ssize_t ja, Py_ssize_t jb, Py_ssize_t jc,
                        const float* pf, Py_ssize_t pf_len) noexcept nogil


cdef struct ConvShape:
    Py_ssize_t N, C, O, groups      # batch, input channels, output channels, groups
    Py_ssize_t Og                   # output channels per group (O // groups)
    tt_conv_geo g                   # one group's geometry (g.C = C // groups input channels)


cdef inline Py_ssize_t out_size(Py_ssize_t n, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p,
                                Py_ssize_t q, Py_ssize_t d) noexcept nogil:
    """Output length for padding p at the start and q at the end."""
    return (n + p + q - d * (k - 1) - 1) // s + 1


cdef inline Py_ssize_t conv_hi(Py_ssize_t off, Py_ssize_t s, Py_ssize_t n,
                               Py_ssize_t out) noexcept nogil:
    """End of the outputs o in [0, out) with o * s + off < n."""
    cdef Py_ssize_t b = 0
    if n - off > 0:
        b = (n - off - 1) // s + 1          # ceil without s - 1 in the sum: s may be ~2**63
    return b if b < out else out


cdef inline Py_ssize_t conv_lo(Py_ssize_t off, Py_ssize_t s, Py_ssize_t n,
                               Py_ssize_t out) noexcept nogil:
    """Start of the outputs o in [0, out) with 0 <= o * s + off < n (never above conv_hi).
    Values, not out-pointers: a prange body must assign its locals to keep them private."""
    cdef Py_ssize_t a = 0, b = conv_hi(off, s, n, out)
    if off < 0:
        a = (-off - 1) // s + 1
    return a if a < b else b


cdef inline bint bad_geometry(Py_ssize_t[:, ::1] geo) noexcept:
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


cdef inline check_stride1(str who, Py_ssize_t[:, ::1] geo):
    """ValueError unless geo (as for bad_geometry) is a stride-1, undilated convolution's
    without negative padding: the Winograd kernels' (conv_winograd6, conv_winograd1d)."""
    cdef Py_ssize_t a
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        raise ValueError(f"{who}: geometry must be (4, 3) (a tinytensor bug)")
    for a in range(3):
        if geo[0, a] != 1 or geo[2, a] != 1 or geo[1, a] < 0 or geo[3, a] < 0:
            raise ValueError(f"{who}: not a stride-1 undilated convolution (a tinytensor bug)")


cdef inline tt_conv_geo group_geometry(Py_ssize_t Cg, Py_ssize_t D, Py_ssize_t H, Py_ssize_t W,
                                       Py_ssize_t KD, Py_ssize_t KH, Py_ssize_t KW,
                                       Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                                       Py_ssize_t[:, ::1] geo) noexcept:
    """One group's geometry for the C kernels (the pad end is implied by the output size).
    geo must have passed bad_geometry."""
    cdef tt_conv_geo g
    g.C, g.D, g.H, g.W = Cg, D, H, W
    g.KD, g.KH, g.KW, g.OD, g.OH, g.OW = KD, KH, KW, OD, OH, OW
    g.sd, g.sh, g.sw = geo[0, 0], geo[0, 1], geo[0, 2]
    g.pd, g.ph, g.pw = geo[1, 0], geo[1, 1], geo[1, 2]
    g.dd, g.dh, g.dw = geo[2, 0], geo[2, 1], geo[2, 2]
    return g


cdef inline bint conv_shape(ConvShape* s, const Py_ssize_t* x, const Py_ssize_t* w,
                            const Py_ssize_t* y, Py_ssize_t[:, ::1] geo,
                            Py_ssize_t groups) noexcept:
    """Fill s from the shapes of x (N, C, D, H, W), w (O, C // groups, KD, KH, KW) and y (N,
    O, OD, OH, OW: the output, or the output gradient for a backward); False unless they are
    consistent with each other, the geometry and groups (every index the kernels form is
    then in range)."""
    cdef Py_ssize_t N = x[0], C = x[1], O = w[0], Cg = w[1]
    if bad_geometry(geo) or groups < 1 or C != Cg * groups or O % groups or y[0] != N \
            or y[1] != O or min(w[2], w[3], w[4]) < 1:
        return False
    if (y[2] != out_size(x[2], w[2], geo[0, 0], geo[1, 0], geo[3, 0], geo[2, 0]) or
            y[3] != out_size(x[3], w[3], geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1]) or
            y[4] != out_size(x[4], w[4], geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2]) or
            min(y[2], y[3], y[4]) < 1):
        return False
    s.N, s.C, s.O, s.groups, s.Og = N, C, O, groups, O // groups
    s.g = group_geometry(Cg, x[2], x[3], x[4], w[2], w[3], w[4], y[2], y[3], y[4], geo)
    return True
