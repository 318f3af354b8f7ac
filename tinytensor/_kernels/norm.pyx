# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Fused normalisation kernels: statistics + normalise + affine in one call per direction.

One layout serves GroupNorm, InstanceNorm and LayerNorm: x is (R, G, Cg, S), C-contiguous;
each (r, g) is one normalisation group of M = Cg * S values; the affine weight and bias have
G * Cg entries, indexed by g * Cg + c and shared by the S values of a channel.
  GroupNorm(G):  R = N, G groups, Cg = C / G, S = spatial size
  InstanceNorm:  R = N, G = C, Cg = 1, S = spatial size
  LayerNorm:     R = rows, G = 1, Cg = prod(normalized_shape), S = 1 (elementwise affine)

Contract: tinytensor._functions.norm has validated shapes and dtypes; the `def` entries re-check
the O(1) invariants and raise ValueError on a bad call, so no index leaves its array.

Notes:
- Statistics accumulate in double with 8 independent accumulators in a fixed order (the loop
  vectorizes; the order depends on the shape only); float32 sums runs of 512 values in 16
  float lanes (32 values per lane) and those partial sums in double: float vectors instead
  of half as wide double ones, with the error of a 32-term float sum. The float32 loops are
  C with AVX-512 and AVX2 clones (below). Variance is the biased two-pass variance
  sum((x - mean)^2) / M, stable for large means; rstd = 1 / sqrt(var + eps).
- The normalise pass is y = x * a[c] + b'[c] with per-channel a = rstd * w, b' = bias - mean * a
  (PyTorch's form), one multiply-add per element in the input's type.
- Threads: forward and the input gradient are parallel over groups (R * G), the weight and bias
  gradients over blocks of channels; every output has one writer and a fixed summation order,
  so results are bitwise identical for any thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

cdef enum:
    LANES = 8           # independent accumulators of the statistics sums
    CH_BLOCK = 16       # channels per task of the weight gradient (one cache line of float)


cdef extern from *:
    """
    /* The float32 loops in plain C, so that on x86-64 Linux with GCC they carry AVX-512 and
       AVX2+FMA clones picked at load time by the CPU (the build targets SSE2: these passes ran
       4 floats at a time). The sums keep a fixed order: runs of CHUNK values in 16 float
       lanes, lanes and runs added in double. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define TT_NORM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
    #else
    #define TT_NORM_CLONES
    #endif
    #include <string.h>
    #define TT_NORM_LANES 16
    #define TT_NORM_CHUNK 512
    static inline double tt_norm_lanes(const float *a) {
        double h[8];
        for (int j = 0; j < 8; j++) h[j] = (double) a[j] + a[j + 8];
        return ((h[0] + h[1]) + (h[2] + h[3])) + ((h[4] + h[5]) + (h[6] + h[7]));
    }
    /* 16 floats as one value: one zmm, two ymm or four xmm by clone; any alignment */
    typedef float tt_norm_v16 __attribute__((vector_size(64), aligned(4), may_alias));
    /* sum(p), or sum((p - m)^2) when square, of n floats */
    TT_NORM_CLONES static double tt_norm_fsum(const float *p, Py_ssize_t n, float m, int square) {
        double total = 0;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += TT_NORM_CHUNK) {
            Py_ssize_t len = n - c0 < TT_NORM_CHUNK ? n - c0 : TT_NORM_CHUNK;
            Py_ssize_t n16 = len - len % TT_NORM_LANES;
            const float *q = p + c0;
            tt_norm_v16 acc = {0};
            float lanes[TT_NORM_LANES];
            if (square) {
                for (Py_ssize_t i = 0; i < n16; i += TT_NORM_LANES) {
                    tt_norm_v16 d = *(const tt_norm_v16 *) (q + i) - m;
                    acc += d * d;
                }
            } else {
                for (Py_ssize_t i = 0; i < n16; i += TT_NORM_LANES)
                    acc += *(const tt_norm_v16 *) (q + i);
            }
            memcpy(lanes, &acc, sizeof lanes);
            for (Py_ssize_t i = n16; i < len; i++) {
                float d = square ? q[i] - m : q[i];
                lanes[0] += square ? d * d : d;
            }
            total += tt_norm_lanes(lanes);
        }
        return total;
    }
    /* sdy = sum(dy), sdyx = sum(dy * x) over n floats */
    TT_NORM_CLONES static void tt_norm_fdot2(const float *dy, const float *x, Py_ssize_t n,
                                             double *sdy, double *sdyx) {
        double ta = 0, tb = 0;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += TT_NORM_CHUNK) {
            Py_ssize_t len = n - c0 < TT_NORM_CHUNK ? n - c0 : TT_NORM_CHUNK;
            Py_ssize_t n16 = len - len % TT_NORM_LANES;
            const float *d = dy + c0, *v = x + c0;
            tt_norm_v16 a = {0}, b = {0};
            float la[TT_NORM_LANES], lb[TT_NORM_LANES];
            for (Py_ssize_t i = 0; i < n16; i += TT_NORM_LANES) {
                tt_norm_v16 dv = *(const tt_norm_v16 *) (d + i);
                a += dv;
                b += dv * *(const tt_norm_v16 *) (v + i);
            }
            memcpy(la, &a, sizeof la);
            memcpy(lb, &b, sizeof lb);
            for (Py_ssize_t i = n16; i < len; i++) {
                la[0] += d[i];
                lb[0] += d[i] * v[i];
            }
            ta += tt_norm_lanes(la);
            tb += tt_norm_lanes(lb);
        }
        *sdy = ta;
        *sdyx = tb;
    }
    /* s1 = sum(w * dy), s2 = sum(w * dy * x) over n floats (LayerNorm's per-value weight) */
    TT_NORM_CLONES static void tt_norm_fdot2w(const float *dy, const float *x, const float *w,
                                              Py_ssize_t n, double *s1, double *s2) {
        double ta = 0, tb = 0;
        for (Py_ssize_t c0 = 0; c0 < n; c0 += TT_NORM_CHUNK) {
            Py_ssize_t len = n - c0 < TT_NORM_CHUNK ? n - c0 : TT_NORM_CHUNK;
            Py_ssize_t n16 = len - len % TT_NORM_LANES;
            const float *d = dy + c0, *v = x + c0, *ww = w + c0;
            tt_norm_v16 a = {0}, b = {0};
            float la[TT_NORM_LANES], lb[TT_NORM_LANES];
            for (Py_ssize_t i = 0; i < n16; i += TT_NORM_LANES) {
                tt_norm_v16 dw = *(const tt_norm_v16 *) (d + i) * *(const tt_norm_v16 *) (ww + i);
                a += dw;
                b += dw * *(const tt_norm_v16 *) (v + i);
            }
            memcpy(la, &a, sizeof la);
            memcpy(lb, &b, sizeof lb);
            for (Py_ssize_t i = n16; i < len; i++) {
                float dw = d[i] * ww[i];
                la[0] += dw;
                lb[0] += dw * v[i];
            }
            ta += tt_norm_lanes(la);
            tb += tt_norm_lanes(lb);
        }
        *s1 = ta;
        *s2 = tb;
    }
    /* LayerNorm's input gradient of one row: dx = r w dy + k1 x + k0 (w NULL: r dy + ...) */
    TT_NORM_CLONES static void tt_norm_fdx_row(const float *__restrict dy,
                                               const float *__restrict x,
                                               const float *__restrict w, float *__restrict dx,
                                               Py_ssize_t n, float r, float k1, float k0) {
        if (w)
            for (Py_ssize_t i = 0; i < n; i++) dx[i] = r * w[i] * dy[i] + k1 * x[i] + k0;
        else
            for (Py_ssize_t i = 0; i < n; i++) dx[i] = r * dy[i] + k1 * x[i] + k0;
    }
    /* LayerNorm's affine gradients, one row of C values: dw += dy (x - m) rs, db += dy */
    TT_NORM_CLONES static void tt_norm_frow_affine(const float *__restrict dy,
                                                   const float *__restrict x, Py_ssize_t C,
                                                   double m, double rs, double *__restrict dw,
                                                   double *__restrict db) {
        for (Py_ssize_t ch = 0; ch < C; ch++) {
            dw[ch] += dy[ch] * ((x[ch] - m) * rs);
            db[ch] += dy[ch];
        }
    }
    /* y = x * a + b */
    TT_NORM_CLONES static void tt_norm_faxpb(const float *__restrict x, float *__restrict y,
                                             Py_ssize_t n, float a, float b) {
        for (Py_ssize_t i = 0; i < n; i++) y[i] = x[i] * a + b;
    }
    /* dx = a * dy + k1 * x + k0 */
    TT_NORM_CLONES static void tt_norm_fdx(const float *__restrict dy, const float *__restrict x,
                                           float *__restrict dx, Py_ssize_t n, float a,
                                           float k1, float k0) {
        for (Py_ssize_t i = 0; i < n; i++) dx[i] = a * dy[i] + k1 * x[i] + k0;
    }
    /* the same with x centred first: BatchNorm's few values per channel at a large mean
       (k1 x + k0 would cancel to a few bits) */
    TT_NORM_CLONES static void tt_norm_fdx_centred(const float *__restrict dy,
                                                   const float *__restrict x,
                                                   float *__restrict dx, Py_ssize_t n, float a,
                                                   float k1, float m, float k0) {
        for (Py_ssize_t i = 0; i < n; i++) dx[i] = a * dy[i] + k1 * (x[i] - m) + k0;
    }
    """
    double tt_norm_fsum(const float* p, Py_ssize_t n, float m, int square) noexcept nogil
    void tt_norm_fdot2(const float* dy, const float* x, Py_ssize_t n, double* sdy,
                       double* sdyx) noexcept nogil
    void tt_norm_faxpb(const float* x, float* y, Py_ssize_t n, float a, float b) noexcept nogil
    void tt_norm_fdot2w(const float* dy, const float* x, const float* w, Py_ssize_t n,
                        double* s1, double* s2) noexcept nogil
    void tt_norm_fdx_row(const float* dy, const float* x, const float* w, float* dx,
                         Py_ssize_t n, float r, float k1, float k0) noexcept nogil
    void tt_norm_frow_affine(const float* dy, const float* x, Py_ssize_t C, double m, double rs,
                             double* dw, double* db) noexcept nogil
    void tt_norm_fdx(const float* dy, const float* x, float* dx, Py_ssize_t n, float a,
                     float k1, float k0) noexcept nogil
    void tt_norm_fdx_centred(const float* dy, const float* x, float* dx, Py_ssize_t n,
                             float a, float k1, float m, float k0) noexcept nogil


cdef inline double _sum(const floating* p, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return tt_norm_fsum(p, n, 0, False)
    cdef double acc[LANES]
    cdef Py_ssize_t i, i0, j, n8 = n - n % LANES
    for j in range(<Py_ssize_t> LANES):
        acc[j] = 0
    for i0 in range(n8 // LANES):
        i = i0 * LANES
        for j in range(<Py_ssize_t> LANES):
            acc[j] += p[i + j]
    for i in range(n8, n):
        acc[0] += p[i]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline double _sq_dev(const floating* p, Py_ssize_t n, double m) noexcept nogil:
    if floating is float:
        return tt_norm_fsum(p, n, <float> m, True)
    cdef double acc[LANES]
    cdef double d
    cdef Py_ssize_t i, i0, j, n8 = n - n % LANES
    for j in range(<Py_ssize_t> LANES):
        acc[j] = 0
    for i0 in range(n8 // LANES):
        i = i0 * LANES
        for j in range(<Py_ssize_t> LANES):
            d = p[i + j] - m
            acc[j] += d * d
    for i in range(n8, n):
        d = p[i] - m
        acc[0] += d * d
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline void _dot2(const floating* dy, const floating* x, Py_ssize_t n,
                       double* sdy, double* sdyx) noexcept nogil:
    """sdy = sum(dy), sdyx = sum(dy * x) over n values."""
    if floating is float:
        tt_norm_fdot2(dy, x, n, sdy, sdyx)
        return
    cdef double a[LANES]
    cdef double b[LANES]
    cdef Py_ssize_t i, i0, j, n8 = n - n % LANES
    for j in range(<Py_ssize_t> LANES):
        a[j] = 0
        b[j] = 0
    for i0 in range(n8 // LANES):
        i = i0 * LANES
        for j in range(<Py_ssize_t> LANES):
            a[j] += dy[i + j]
            b[j] += <double> dy[i + j] * x[i + j]
    for i in range(n8, n):
        a[0] += dy[i]
        b[0] += <double> dy[i] * x[i]
    sdy[0] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
    sdyx[0] = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]))


cdef inline void _axpb(const floating* x, floating* y, Py_ssize_t n, floating a,
                       floating b) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        tt_norm_faxpb(x, y, n, a, b)
        return
    for i in range(n):
        y[i] = x[i] * a + b


cdef void _forward_group(const floating* x, floating* y, const floating* w, const floating* b,
                         bint has_w, bint has_b, Py_ssize_t Cg, Py_ssize_t S, double eps,
                         double* mean, double* rstd) noexcept nogil:
    """One group: x, y point at its M = Cg * S values; w, b at its Cg affine entries."""
    cdef Py_ssize_t M = Cg * S, c
    cdef double m = _sum(x, M) / M
    cdef double rs = 1.0 / sqrt(_sq_dev(x, M, m) / M + eps)
    cdef double a
    cdef floating fr = <floating> rs, fm = <floating> (-m * rs)
    mean[0] = m
    rstd[0] = rs
    if S == 1:                        # LayerNorm: one affine entry per value, one pass
        if has_w and has_b:
            for c in range(Cg):
                y[c] = (x[c] * fr + fm) * w[c] + b[c]
        elif has_w:
            for c in range(Cg):
                y[c] = (x[c] * fr + fm) * w[c]
        else:
            for c in range(Cg):
                y[c] = x[c] * fr + fm
        return
    for c in range(Cg):
        a = rs * w[c] if has_w else rs
        _axpb(x + c * S, y + c * S, S, <floating> a,
              <floating> ((b[c] if has_b else 0.0) - m * a))


def norm_forward(const floating[:, :, :, ::1] x,     # IN  (R, G, Cg, S)
                 const floating[::1] weight,         # IN  (G * Cg,) or empty
                 const floating[::1] bias,           # IN  (G * Cg,) or empty
                 bint has_w, bint has_b, double eps,
                 floating[:, :, :, ::1] y,           # OUT (R, G, Cg, S)
                 double[:, ::1] mean,                # OUT (R, G)
                 double[:, ::1] rstd,                # OUT (R, G)
                 int n_threads):
    """y = (x - mean) * rstd * weight + bias per group; also writes mean and rstd."""
    cdef Py_ssize_t R = x.shape[0], G = x.shape[1], Cg = x.shape[2], S = x.shape[3]
    cdef Py_ssize_t t, r, g
    if (y.shape[0] != R or y.shape[1] != G or y.shape[2] != Cg or y.shape[3] != S
            or mean.shape[0] != R or mean.shape[1] != G or rstd.shape[0] != R
            or rstd.shape[1] != G or (has_w and weight.shape[0] != G * Cg)
            or (has_b and bias.shape[0] != G * Cg) or not eps >= 0):
        raise ValueError("norm_forward: inconsistent shapes (a tinytensor bug)")
    if R == 0 or G == 0 or Cg * S == 0:
        return
    for t in prange(R * G, nogil=True, schedule='static', num_threads=n_threads):
        r = t // G
        g = t % G
        _forward_group(&x[r, g, 0, 0], &y[r, g, 0, 0],
                       &weight[g * Cg] if has_w else NULL, &bias[g * Cg] if has_b else NULL,
                       has_w, has_b, Cg, S, eps, &mean[r, g], &rstd[r, g])


cdef inline void _dot2w(const floating* dy, const floating* x, const floating* w,
                        Py_ssize_t n, double* s1, double* s2) noexcept nogil:
    """s1 = sum(w * dy), s2 = sum(w * dy * x) over n values (LayerNorm's per-value weight)."""
    if floating is float:
        tt_norm_fdot2w(dy, x, w, n, s1, s2)
        return
    cdef double a[LANES]
    cdef double b[LANES]
    cdef double d
    cdef Py_ssize_t i, i0, j, n8 = n - n % LANES
    for j in range(<Py_ssize_t> LANES):
        a[j] = 0
        b[j] = 0
    for i0 in range(n8 // LANES):
        i = i0 * LANES
        for j in range(<Py_ssize_t> LANES):
            d = <double> dy[i + j] * w[i + j]
            a[j] += d
            b[j] += d * x[i + j]
    for i in range(n8, n):
        d = <double> dy[i] * w[i]
        a[0] += d
        b[0] += d * x[i]
    s1[0] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
    s2[0] = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]))


cdef void _backward_group(const floating* x, const floating* dy, floating* dx,
                          const floating* w, bint has_w, Py_ssize_t Cg, Py_ssize_t S,
                          double m, double rs, double* part) noexcept nogil:
    """dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * w[c],
    written per channel as dx = a[c] * dy + k1 * x + k0. With `part` (S > 1), also writes
    each channel's (sum(dy), sum(dy * x)) there for the weight and bias gradients."""
    cdef Py_ssize_t M = Cg * S, c, i
    cdef double s1 = 0, s2 = 0, sdy, sdyx, wc, A, B, k1, k0
    cdef floating a, fk1, fk0, fr
    if S == 1 and has_w:
        _dot2w(dy, x, w, Cg, &s1, &s2)
    elif S == 1:
        _dot2(dy, x, Cg, &s1, &s2)
    else:
        for c in range(Cg):
            _dot2(dy + c * S, x + c * S, S, &sdy, &sdyx)
            if part != NULL:
                part[2 * c] = sdy
                part[2 * c + 1] = sdyx
            wc = w[c] if has_w else 1.0
            s1 = s1 + wc * sdy            # sum(dxhat)
            s2 = s2 + wc * sdyx           # sum(dxhat * x)
    A = s1 / M
    B = rs * (s2 - m * s1) / M        # mean(dxhat * xhat)
    k1 = -rs * rs * B
    k0 = rs * rs * B * m - rs * A
    fk1 = <floating> k1
    fk0 = <floating> k0
    if S == 1:
        fr = <floating> rs
        if floating is float:
            tt_norm_fdx_row(dy, x, w if has_w else NULL, dx, Cg, fr, fk1, fk0)
            return
        if has_w:
            for c in range(Cg):
                dx[c] = fr * w[c] * dy[c] + fk1 * x[c] + fk0
        else:
            for c in range(Cg):
                dx[c] = fr * dy[c] + fk1 * x[c] + fk0
        return
    for c in range(Cg):
        a = <floating> (rs * (w[c] if has_w else 1.0))
        if floating is float:
            tt_norm_fdx(dy + c * S, x + c * S, dx + c * S, S, a, fk1, fk0)
        else:
            for i in range(c * S, (c + 1) * S):
                dx[i] = a * dy[i] + fk1 * x[i] + fk0


def norm_backward_input(const floating[:, :, :, ::1] x,     # IN  (R, G, Cg, S)
                        const floating[:, :, :, ::1] dy,    # IN  (R, G, Cg, S)
                        const floating[::1] weight,         # IN  (G * Cg,) or empty
                        bint has_w,
                        const double[:, ::1] mean,          # IN  (R, G)
                        const double[:, ::1] rstd,          # IN  (R, G)
                        floating[:, :, :, ::1] dx,          # OUT (R, G, Cg, S)
                        double[:, :, ::1] part,             # OUT (R, G * Cg, 2) or (0, 0, 2)
                        int n_threads):
    """The input gradient of norm_forward, one group per task. With S > 1 and a non-empty
    `part`, also each (r, channel)'s (sum(dy), sum(dy * x)), from which affine_from_parts
    gives the weight and bias gradients without another pass over x and dy."""
    cdef Py_ssize_t R = x.shape[0], G = x.shape[1], Cg = x.shape[2], S = x.shape[3]
    cdef Py_ssize_t t, r, g
    cdef bint want_part = part.shape[0] != 0
    if (dy.shape[0] != R or dy.shape[1] != G or dy.shape[2] != Cg or dy.shape[3] != S
            or dx.shape[0] != R or dx.shape[1] != G or dx.shape[2] != Cg or dx.shape[3] != S
            or mean.shape[0] != R or mean.shape[1] != G or rstd.shape[0] != R
            or rstd.shape[1] != G or (has_w and weight.shape[0] != G * Cg)
            or part.shape[2] != 2
            or (want_part and (S < 2 or part.shape[0] != R or part.shape[1] != G * Cg))):
        raise ValueError("norm_backward_input: inconsistent shapes (a tinytensor bug)")
    if R == 0 or G == 0 or Cg * S == 0:
        return
    for t in prange(R * G, nogil=True, schedule='static', num_threads=n_threads):
        r = t // G
        g = t % G
        _backward_group(&x[r, g, 0, 0], &dy[r, g, 0, 0], &dx[r, g, 0, 0],
                        &weight[g * Cg] if has_w else NULL, has_w, Cg, S, mean[r, g],
                        rstd[r, g], &part[r, g * Cg, 0] if want_part else NULL)


def affine_from_parts(const double[:, :, ::1] part,      # IN  (R, C, 2)
                      const double[:, ::1] mean,         # IN  (R, G)
                      const double[:, ::1] rstd,         # IN  (R, G)
                      double[::1] dw,                    # OUT (C,)
                      double[::1] db):                   # OUT (C,)
    """dw[ch] = sum_r rstd * (sum(dy * x) - mean * sum(dy)), db[ch] = sum_r sum(dy), rows in
    order (R x C work: small next to the passes over the data)."""
    cdef Py_ssize_t R = part.shape[0], C = part.shape[1], G = mean.shape[1], r, ch, g
    if (part.shape[2] != 2 or mean.shape[0] != R or rstd.shape[0] != R or rstd.shape[1] != G
            or G == 0 or C % G or dw.shape[0] != C or db.shape[0] != C):
        raise ValueError("affine_from_parts: inconsistent shapes (a tinytensor bug)")
    with nogil:
        for ch in range(C):
            dw[ch] = 0
            db[ch] = 0
        for r in range(R):
            for ch in range(C):
                g = ch // (C // G)
                dw[ch] += rstd[r, g] * (part[r, ch, 1] - mean[r, g] * part[r, ch, 0])
                db[ch] += part[r, ch, 0]


cdef void _affine_grad_block(const floating* x, const floating* dy, const double* mean,
                             const double* rstd, Py_ssize_t R, Py_ssize_t G, Py_ssize_t Cg,
                             Py_ssize_t S, Py_ssize_t ch0, Py_ssize_t ch1,
                             double* dw, double* db) noexcept nogil:
    """dw[ch] = sum_r rstd * (sum_s dy * x - mean * sum_s dy), db[ch] = sum_{r,s} dy for
    channels ch0 <= ch < ch1, rows in order."""
    cdef Py_ssize_t r, ch, g, off, C = G * Cg
    cdef double sdy, sdyx
    for ch in range(ch0, ch1):
        dw[ch] = 0
        db[ch] = 0
    for r in range(R):
        for ch in range(ch0, ch1):
            g = ch // Cg
            off = (r * C + ch) * S
            _dot2(dy + off, x + off, S, &sdy, &sdyx)
            dw[ch] += rstd[r * G + g] * (sdyx - mean[r * G + g] * sdy)
            db[ch] += sdy


cdef inline void _affine_grad_rows_acc(const floating* x, const floating* dy, double m,
                                       double rs, Py_ssize_t C, double* dw,
                                       double* db) noexcept nogil:
    """One row of C values: dw += dy * (x - m) * rs, db += dy."""
    cdef Py_ssize_t ch
    if floating is float:
        tt_norm_frow_affine(dy, x, C, m, rs, dw, db)
        return
    for ch in range(C):
        dw[ch] += dy[ch] * ((x[ch] - m) * rs)
        db[ch] += dy[ch]


cdef void _affine_grad_rows(const floating* x, const floating* dy, const double* mean,
                            const double* rstd, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C,
                            double* dw, double* db) noexcept nogil:
    """LayerNorm's affine gradients over rows r0 <= r < r1 into dw, db (zeroed here): rows
    streamed in order, each a contiguous run of C values."""
    cdef Py_ssize_t r, ch
    for ch in range(C):
        dw[ch] = 0
        db[ch] = 0
    for r in range(r0, r1):
        _affine_grad_rows_acc(x + r * C, dy + r * C, mean[r], rstd[r], C, dw, db)


def norm_backward_affine(const floating[:, :, :, ::1] x,     # IN  (R, G, Cg, S)
                         const floating[:, :, :, ::1] dy,    # IN  (R, G, Cg, S)
                         const double[:, ::1] mean,          # IN  (R, G)
                         const double[:, ::1] rstd,          # IN  (R, G)
                         double[::1] dw,                     # OUT (G * Cg,)
                         double[::1] db,                     # OUT (G * Cg,)
                         double[:, :, ::1] rows_scratch,     # SCRATCH (P, 2, C) for S == G == 1
                         int n_threads):
    """The weight and bias gradients of norm_forward. LayerNorm (S == G == 1): the rows are
    cut into P fixed parts (P = rows_scratch.shape[0], chosen from the shape by the caller),
    each summed in order by one task, then the parts in order: reading rows, not columns,
    of a (R, C) matrix. Otherwise blocks of CH_BLOCK channels per task."""
    cdef Py_ssize_t R = x.shape[0], G = x.shape[1], Cg = x.shape[2], S = x.shape[3]
    cdef Py_ssize_t C = G * Cg, nblk = (C + CH_BLOCK - 1) // CH_BLOCK, blk, P, p, ch
    cdef bint by_rows = S == 1 and G == 1
    if (dy.shape[0] != R or dy.shape[1] != G or dy.shape[2] != Cg or dy.shape[3] != S
            or mean.shape[0] != R or mean.shape[1] != G or rstd.shape[0] != R
            or rstd.shape[1] != G or dw.shape[0] != C or db.shape[0] != C
            or (by_rows and (rows_scratch.shape[0] < 1 or rows_scratch.shape[1] != 2
                             or rows_scratch.shape[2] != C))):
        raise ValueError("norm_backward_affine: inconsistent shapes (a tinytensor bug)")
    if C == 0:
        return
    if R == 0 or S == 0:
        dw[:] = 0
        db[:] = 0
        return
    if by_rows:
        P = rows_scratch.shape[0]
        for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
            _affine_grad_rows(&x[0, 0, 0, 0], &dy[0, 0, 0, 0], &mean[0, 0], &rstd[0, 0],
                              p * R // P, (p + 1) * R // P, C, &rows_scratch[p, 0, 0],
                              &rows_scratch[p, 1, 0])
        with nogil:
            for ch in range(C):
                dw[ch] = 0
                db[ch] = 0
            for p in range(P):
                for ch in range(C):
                    dw[ch] += rows_scratch[p, 0, ch]
                    db[ch] += rows_scratch[p, 1, ch]
        return
    for blk in prange(nblk, nogil=True, schedule='static', num_threads=n_threads):
        _affine_grad_block(&x[0, 0, 0, 0], &dy[0, 0, 0, 0], &mean[0, 0], &rstd[0, 0], R, G, Cg,
                           S, blk * CH_BLOCK, min(C, (blk + 1) * CH_BLOCK), &dw[0], &db[0])


def norm_backward_rows(const floating[:, :, :, ::1] x,     # IN  (R, 1, C, 1)
                       const floating[:, :, :, ::1] dy,    # IN  (R, 1, C, 1)
                       const floating[::1] weight,         # IN  (C,) or empty
                       bint has_w,
                       const double[:, ::1] mean,          # IN  (R, 1)
                       const double[:, ::1] rstd,          # IN  (R, 1)
                       floating[:, :, :, ::1] dx,          # OUT (R, 1, C, 1)
                       double[::1] dw,                     # OUT (C,)
                       double[::1] db,                     # OUT (C,)
                       double[:, :, ::1] rows_scratch,     # SCRATCH (P, 2, C)
                       int n_threads):
    """LayerNorm's whole backward in one pass over x and dy: the rows cut into P fixed parts
    (as norm_backward_affine), each row's input gradient and its affine terms computed while
    the row is in cache. The same bits as norm_backward_input + norm_backward_affine."""
    cdef Py_ssize_t R = x.shape[0], C = x.shape[2], P = rows_scratch.shape[0], p, r, ch
    if (x.shape[1] != 1 or x.shape[3] != 1 or dy.shape[0] != R or dy.shape[1] != 1
            or dy.shape[2] != C or dy.shape[3] != 1 or dx.shape[0] != R or dx.shape[1] != 1
            or dx.shape[2] != C or dx.shape[3] != 1 or mean.shape[0] != R
            or mean.shape[1] != 1 or rstd.shape[0] != R or rstd.shape[1] != 1
            or (has_w and weight.shape[0] != C) or dw.shape[0] != C or db.shape[0] != C
            or P < 1 or rows_scratch.shape[1] != 2 or rows_scratch.shape[2] != C):
        raise ValueError("norm_backward_rows: inconsistent shapes (a tinytensor bug)")
    if C == 0:
        return
    if R == 0:
        dw[:] = 0
        db[:] = 0
        return
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for ch in range(C):
            rows_scratch[p, 0, ch] = 0
            rows_scratch[p, 1, ch] = 0
        for r in range(p * R // P, (p + 1) * R // P):
            _backward_group(&x[r, 0, 0, 0], &dy[r, 0, 0, 0], &dx[r, 0, 0, 0],
                            &weight[0] if has_w else NULL, has_w, C, 1, mean[r, 0],
                            rstd[r, 0], NULL)
            _affine_grad_rows_acc(&x[r, 0, 0, 0], &dy[r, 0, 0, 0], mean[r, 0], rstd[r, 0], C,
                                  &rows_scratch[p, 0, 0], &rows_scratch[p, 1, 0])
    with nogil:
        for ch in range(C):
            dw[ch] = 0
            db[ch] = 0
        for p in range(P):
            for ch in range(C):
                dw[ch] += rows_scratch[p, 0, ch]
                db[ch] += rows_scratch[p, 1, ch]


# ------------------------------------------------------------------------------ BatchNorm
# Statistics per channel c over its N runs of S values (x is (N, C, S)): the same sums as
# above, run after run in order, one channel per task.

cdef void _bn_forward_channel(const floating* x, floating* y, Py_ssize_t N, Py_ssize_t CS,
                              Py_ssize_t S, double w, double b, bint training, double eps,
                              double* mean, double* var, double* rstd) noexcept nogil:
    """One channel: x, y point at its first run (runs CS apart). Training: writes the batch
    mean, biased variance and 1 / sqrt(var + eps); eval: reads mean and rstd."""
    cdef Py_ssize_t n, M = N * S
    cdef double m, v, rs, a
    if training:
        m = 0
        for n in range(N):
            m = m + _sum(x + n * CS, S)
        m = m / M
        v = 0
        for n in range(N):
            v = v + _sq_dev(x + n * CS, S, m)
        v = v / M
        rs = 1.0 / sqrt(v + eps)
        mean[0] = m
        var[0] = v
        rstd[0] = rs
    else:
        m = mean[0]
        rs = rstd[0]
    a = rs * w
    for n in range(N):
        _axpb(x + n * CS, y + n * CS, S, <floating> a, <floating> (b - m * a))


def batch_norm_forward(const floating[:, :, ::1] x,     # IN  (N, C, S)
                       const floating[::1] weight,      # IN  (C,) or empty
                       const floating[::1] bias,        # IN  (C,) or empty
                       bint has_w, bint has_b, bint training, double eps,
                       floating[:, :, ::1] y,           # OUT (N, C, S)
                       double[::1] mean,                # OUT (training) / IN (eval) (C,)
                       double[::1] var,                 # OUT (training: biased) (C,)
                       double[::1] rstd,                # OUT (training) / IN (eval) (C,)
                       int n_threads):
    """y = (x - mean) * rstd * weight + bias per channel (dim 1), as y = x * a + b' with
    a = rstd * weight, b' = bias - mean * a (PyTorch's form). Training: batch statistics,
    written to mean, var, rstd; eval: the given mean and rstd. One channel per task."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c
    if (y.shape[0] != N or y.shape[1] != C or y.shape[2] != S or mean.shape[0] != C
            or var.shape[0] != C or rstd.shape[0] != C or (has_w and weight.shape[0] != C)
            or (has_b and bias.shape[0] != C) or not eps >= 0 or (training and N * S == 0)):
        raise ValueError("batch_norm_forward: inconsistent shapes (a tinytensor bug)")
    if N * S == 0 or C == 0:
        return
    for c in prange(C, nogil=True, schedule='static', num_threads=n_threads):
        _bn_forward_channel(&x[0, c, 0], &y[0, c, 0], N, C * S, S,
                            weight[c] if has_w else 1.0, bias[c] if has_b else 0.0, training,
                            eps, &mean[c], &var[c], &rstd[c])


cdef void _bn_backward_channel(const floating* x, const floating* dy, floating* dx,
                               Py_ssize_t N, Py_ssize_t CS, Py_ssize_t S, double w,
                               bint training, double m, double rs, double* dw,
                               double* db) noexcept nogil:
    """One channel: dw = sum(dy * xhat), db = sum(dy); with dx, also the input gradient
    dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) in training (the batch
    statistics depend on x), dx = rstd * dxhat in eval; dxhat = dy * w, written as
    dx = a * dy + k1 * (x - mean) + k0."""
    cdef Py_ssize_t n, i, M = N * S
    cdef double sdy = 0, sdyx = 0, s1, s2, A, B, k1 = 0, k0 = 0
    cdef floating a, fk1, fk0, fm = <floating> m
    cdef const floating* xn
    cdef const floating* dyn
    cdef floating* dxn
    for n in range(N):
        _dot2(dy + n * CS, x + n * CS, S, &s1, &s2)
        sdy = sdy + s1
        sdyx = sdyx + s2
    db[0] = sdy
    dw[0] = rs * (sdyx - m * sdy)
    if dx == NULL:
        return
    if training:
        A = w * sdy / M                          # mean(dxhat)
        B = rs * w * (sdyx - m * sdy) / M        # mean(dxhat * xhat)
        k1 = -rs * rs * B
        k0 = -rs * A
    a = <floating> (rs * w)
    fk1 = <floating> k1
    fk0 = <floating> k0
    for n in range(N):
        xn = x + n * CS
        dyn = dy + n * CS
        dxn = dx + n * CS
        if not training:                    # x plays no part (an inf in it is no NaN here)
            for i in range(S):
                dxn[i] = a * dyn[i]
        elif floating is float:
            tt_norm_fdx_centred(dyn, xn, dxn, S, a, fk1, fm, fk0)
        else:
            for i in range(S):
                dxn[i] = a * dyn[i] + fk1 * (xn[i] - fm) + fk0


def batch_norm_backward(const floating[:, :, ::1] x,    # IN  (N, C, S)
                        const floating[:, :, ::1] dy,   # IN  (N, C, S)
                        const floating[::1] weight,     # IN  (C,) or empty
                        bint has_w, bint training,
                        const double[::1] mean,         # IN  (C,): the forward's
                        const double[::1] rstd,         # IN  (C,)
                        floating[:, :, ::1] dx,         # OUT (N, C, S), or empty: not wanted
                        double[::1] dw,                 # OUT (C,) sum(dy * xhat)
                        double[::1] db,                 # OUT (C,) sum(dy)
                        int n_threads):
    """The gradients of batch_norm_forward, one channel per task: two passes over x and dy
    (the sums, then dx)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c
    cdef bint want_dx = dx.shape[0] != 0
    if (dy.shape[0] != N or dy.shape[1] != C or dy.shape[2] != S or mean.shape[0] != C
            or rstd.shape[0] != C or dw.shape[0] != C or db.shape[0] != C
            or (has_w and weight.shape[0] != C)
            or (want_dx and (dx.shape[0] != N or dx.shape[1] != C or dx.shape[2] != S))):
        raise ValueError("batch_norm_backward: inconsistent shapes (a tinytensor bug)")
    if C == 0:
        return
    if N * S == 0:
        for c in range(C):
            dw[c] = 0
            db[c] = 0
        return
    for c in prange(C, nogil=True, schedule='static', num_threads=n_threads):
        _bn_backward_channel(&x[0, c, 0], &dy[0, c, 0], &dx[0, c, 0] if want_dx else NULL,
                             N, C * S, S, weight[c] if has_w else 1.0, training, mean[c],
                             rstd[c], &dw[c], &db[c])
