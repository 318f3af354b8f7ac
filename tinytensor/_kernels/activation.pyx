# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Activation kernels that need functions NumPy lacks: erf, and exact GELU built on it.

erf is our own, not libm's: libm's erf/erff are scalar calls (exact GELU ran 14x slower than
PyTorch's vectorised one), so the loops below use a branch-free erf that GCC vectorises, in
clones for AVX-512 and AVX2+FMA picked at load time by the CPU (the build targets SSE2).
For |x| < 1, erf(x) = x P(x^2); from 1 on, erf(x) = 1 - exp(-x^2) Q(1 / (1 + x)), x clamped
at 4 (float32) or 6 (float64), where erf rounds to 1. P and Q are least-squares fits on
Chebyshev nodes computed with mpmath (relative error of P, absolute error of erfc for Q);
exp is a Taylor polynomial after the usual reduction by multiples of ln 2. Within 1-2 units
in the last place of the correctly rounded erf everywhere (tests/test_activations.py checks
a dense grid, tails, subnormals, infinities and NaN against math.erf).

Contract: `tinytensor._functions.activation` passes C-contiguous 1-D arrays of one dtype and
equal length (the entries check the lengths). Each element is computed on its own, so any
split over threads gives bitwise the same result.
"""
from cython cimport floating
from cython.parallel cimport prange

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define TT_ACT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=haswell", "default")))
    #else
    #define TT_ACT_CLONES
    #endif
    #define TT_ACT_INLINE static inline __attribute__((always_inline))

    /* erf(x) = x P(x^2) on [0, 1) */
    static const float tt_erf_p_f32[6] = {
        1.128379107e+00f, -3.761231899e-01f, 1.128013059e-01f, -2.670994960e-02f,
        4.916023463e-03f, -5.625396152e-04f};
    /* erfc(x) = exp(-x^2) Q(1 / (1 + x)) on [1, 4] */
    static const float tt_erf_q_f32[7] = {
        -8.880493697e-04f, 5.812528133e-01f, 4.243124425e-01f, 9.086884856e-01f,
        -1.879577041e+00f, 1.316806436e+00f, -3.517175019e-01f};
    static const double tt_erf_p_f64[12] = {
        1.1283791670955126, -0.37612638903183515, 0.1128379167094405, -0.026866170643090832,
        0.005223977605955977, -0.0008548325921832884, 0.00012055293361789941,
        -1.4924708324571507e-05, 1.6447084274239356e-06, -1.6205964194101388e-07,
        1.3709519207384055e-08, -7.77682913736281e-10};
    /* on [1, 6] */
    static const double tt_erf_q_f64[14] = {
        -8.790084532747608e-06, 0.5645373143451828, 0.5578537916814633, 0.352380803501629,
        -0.8100864447573722, 2.114381949196895, -11.033837912099385, 31.802792995317827,
        -55.40111581219089, 63.66356506212041, -49.125425257323435, 24.544835009594493,
        -7.122240019810793, 0.8915053594519577};

    /* exp(a) for a <= 0: 0 below the smallest normal result (and for -inf), NaN for NaN.
       a = n ln2 + r, |r| <= ln2 / 2, n rounded by the 1.5 * 2^(mantissa bits) trick (its
       low bits are then n, so no float-to-int conversion is needed), ln2 split in two so
       that n * hi is exact; exp(r) by Taylor to degree 7 / 13 (truncation < 0.1 ulp). */
    TT_ACT_INLINE float tt_expneg_f32(float a) {
        float c = a >= -87.0f ? a : -87.0f;
        float t = c * 1.442695022e+00f + 12582912.0f;
        float n = t - 12582912.0f;
        float r = (c - n * 6.931152344e-01f) - n * 3.194618330e-05f;
        float p = 1.0f / 5040;
        p = p * r + 1.0f / 720; p = p * r + 1.0f / 120; p = p * r + 1.0f / 24;
        p = p * r + 1.0f / 6; p = p * r + 0.5f; p = p * r + 1.0f; p = p * r + 1.0f;
        int32_t bits;
        memcpy(&bits, &t, 4);
        bits = (bits - 0x4B400000 + 127) << 23;          /* 2^n */
        float s;
        memcpy(&s, &bits, 4);
        return a >= -87.0f ? p * s : (a != a ? a : 0.0f);
    }
    TT_ACT_INLINE double tt_expneg_f64(double a) {
        double c = a >= -708.0 ? a : -708.0;
        double t = c * 1.4426950408889634 + 6755399441055744.0;
        double n = t - 6755399441055744.0;
        double r = (c - n * 0.6931471803691238) - n * 1.9082149292705877e-10;
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0; p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0; p = p * r + 1.0 / 362880.0; p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0; p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5; p = p * r + 1.0;
        p = p * r + 1.0;
        int64_t bits;
        memcpy(&bits, &t, 8);
        bits = (bits - 0x4338000000000000LL + 1023) << 52;
        double s;
        memcpy(&s, &bits, 8);
        return a >= -708.0 ? p * s : (a != a ? a : 0.0);
    }
    #define TT_ERF_DEFINE(T, SUF, ABS, COPYSIGN, CLAMP, NP, NQ)                              \\
    TT_ACT_INLINE T tt_erf_##SUF(T x) {                                                     \\
        T z = ABS(x), t = z * z;                                                            \\
        T ps = tt_erf_p_##SUF[NP - 1];                                                      \\
        for (int i = NP - 2; i >= 0; i--) ps = ps * t + tt_erf_p_##SUF[i];                  \\
        ps *= z;                                                                            \\
        T zc = z < (T) CLAMP ? z : (T) CLAMP;                                               \\
        T v = (T) 1 / ((T) 1 + zc);                                                         \\
        T q = tt_erf_q_##SUF[NQ - 1];                                                       \\
        for (int i = NQ - 2; i >= 0; i--) q = q * v + tt_erf_q_##SUF[i];                    \\
        T pl = (T) 1 - tt_expneg_##SUF(-(zc * zc)) * q;                                     \\
        T r = COPYSIGN(z < (T) 1 ? ps : pl, x);                                             \\
        return x != x ? x : r;                                                              \\
    }                                                                                       \\
    TT_ACT_CLONES static void tt_erf_array_##SUF(const T *__restrict x, T *__restrict y,    \\
                                                  Py_ssize_t n) {                           \\
        for (Py_ssize_t i = 0; i < n; i++) y[i] = tt_erf_##SUF(x[i]);                       \\
    }                                                                                       \\
    /* y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, PyTorch's formula */                     \\
    TT_ACT_CLONES static void tt_gelu_fwd_##SUF(const T *__restrict x, T *__restrict y,     \\
                                                 Py_ssize_t n) {                            \\
        for (Py_ssize_t i = 0; i < n; i++) {                                                \\
            T v = x[i];                                                                     \\
            y[i] = v * (T) 0.5 * ((T) 1 + tt_erf_##SUF(v * (T) 0.70710678118654752440));    \\
        }                                                                                   \\
    }                                                                                       \\
    /* gx = g (Phi(x) + x phi(x)) */                                                        \\
    TT_ACT_CLONES static void tt_gelu_bwd_##SUF(const T *__restrict x, const T *__restrict g, \\
                                                 T *__restrict gx, Py_ssize_t n) {          \\
        for (Py_ssize_t i = 0; i < n; i++) {                                                \\
            T v = x[i];                                                                     \\
            T cdf = (T) 0.5 * ((T) 1 + tt_erf_##SUF(v * (T) 0.70710678118654752440));       \\
            T pdf = tt_expneg_##SUF((T) -0.5 * v * v) * (T) 0.39894228040143267794;         \\
            gx[i] = g[i] * (cdf + v * pdf);                                                 \\
        }                                                                                   \\
    }
    TT_ERF_DEFINE(float, f32, fabsf, copysignf, 4.0f, 6, 7)
    TT_ERF_DEFINE(double, f64, fabs, copysign, 6.0, 12, 14)
    """
    void tt_erf_array_f32(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void tt_erf_array_f64(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void tt_gelu_fwd_f32(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void tt_gelu_fwd_f64(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void tt_gelu_bwd_f32(const float* x, const float* g, float* gx, Py_ssize_t n) noexcept nogil
    void tt_gelu_bwd_f64(const double* x, const double* g, double* gx, Py_ssize_t n) noexcept nogil

cdef Py_ssize_t _PARALLEL_MIN = 32768               # below this, one thread (no OpenMP start-up)
cdef Py_ssize_t _BLOCK = 8192                       # elements per parallel task


cdef inline Py_ssize_t _tasks(Py_ssize_t n, int* n_threads) noexcept nogil:
    if n < _PARALLEL_MIN:
        n_threads[0] = 1
    return (n + _BLOCK - 1) // _BLOCK


def erf(const floating[::1] x,   # IN
        floating[::1] y,         # OUT
        int n_threads):
    """y = erf(x) elementwise (the kernel GELU uses; tests check it against math.erf)."""
    cdef Py_ssize_t n = x.shape[0], t, i0, tasks
    if y.shape[0] != n:
        raise ValueError("erf: inconsistent shapes (a tinytensor bug)")
    if n == 0:
        return
    tasks = _tasks(n, &n_threads)
    for t in prange(tasks, nogil=True, schedule='static',
                    num_threads=n_threads):
        i0 = t * _BLOCK
        if floating is float:
            tt_erf_array_f32(&x[i0], &y[i0], min(_BLOCK, n - i0))
        else:
            tt_erf_array_f64(&x[i0], &y[i0], min(_BLOCK, n - i0))


def gelu_forward(const floating[::1] x,   # IN
                 floating[::1] y,         # OUT
                 int n_threads):
    """y = x * 0.5 * (1 + erf(x / sqrt(2)))."""
    cdef Py_ssize_t n = x.shape[0], t, i0, tasks
    if y.shape[0] != n:
        raise ValueError("gelu_forward: inconsistent shapes (a tinytensor bug)")
    if n == 0:
        return
    tasks = _tasks(n, &n_threads)
    for t in prange(tasks, nogil=True, schedule='static',
                    num_threads=n_threads):
        i0 = t * _BLOCK
        if floating is float:
            tt_gelu_fwd_f32(&x[i0], &y[i0], min(_BLOCK, n - i0))
        else:
            tt_gelu_fwd_f64(&x[i0], &y[i0], min(_BLOCK, n - i0))


def gelu_backward(const floating[::1] x,   # IN  the forward's input
                  const floating[::1] g,   # IN  gradient of the output
                  floating[::1] gx,        # OUT gradient of the input
                  int n_threads):
    """gx = g * (Phi(x) + x * phi(x)), Phi/phi the standard normal cdf/pdf."""
    cdef Py_ssize_t n = x.shape[0], t, i0, tasks
    if g.shape[0] != n or gx.shape[0] != n:
        raise ValueError("gelu_backward: inconsistent shapes (a tinytensor bug)")
    if n == 0:
        return
    tasks = _tasks(n, &n_threads)
    for t in prange(tasks, nogil=True, schedule='static',
                    num_threads=n_threads):
        i0 = t * _BLOCK
        if floating is float:
            tt_gelu_bwd_f32(&x[i0], &g[i0], &gx[i0], min(_BLOCK, n - i0))
        else:
            tt_gelu_bwd_f64(&x[i0], &g[i0], &gx[i0], min(_BLOCK, n - i0))
