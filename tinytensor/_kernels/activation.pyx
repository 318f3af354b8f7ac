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
    /* exp(a) for any a: the reduction above, 2^n applied as two halves so that neither
       leaves the normal range; results underflow to subnormals / 0 and overflow to inf as
       they should (a clamped to [LO, HI], just past where that happens). */
    #define TT_EXP_DEFINE(T, SUF, I, LO, HI, MAGIC, MAGIC_BITS, LOG2E, LN2HI, LN2LO, BIAS, MBITS) \
    TT_ACT_INLINE T tt_exp_##SUF(T a) {                                                     \
        T c = a > (T) LO ? a : (T) LO;                                                      \
        c = c < (T) HI ? c : (T) HI;                                                        \
        T t = c * (T) LOG2E + (T) MAGIC;                                                    \
        T n = t - (T) MAGIC;                                                                \
        T r = (c - n * (T) LN2HI) - n * (T) LN2LO;                                          \
        T p = tt_exp_poly_##SUF(r);                                                         \
        I bits, n1, n2;                                                                     \
        memcpy(&bits, &t, sizeof bits);                                                     \
        bits -= (I) MAGIC_BITS;                                                             \
        n1 = bits >> 1;                                                                     \
        n2 = bits - n1;                                                                     \
        n1 = (n1 + BIAS) << MBITS;                                                          \
        n2 = (n2 + BIAS) << MBITS;                                                          \
        T s1, s2;                                                                           \
        memcpy(&s1, &n1, sizeof s1);                                                        \
        memcpy(&s2, &n2, sizeof s2);                                                        \
        T e = p * s1 * s2;                                                                  \
        return a != a ? a : e;                                                              \
    }
    TT_ACT_INLINE float tt_exp_poly_f32(float r) {     /* exp(r), |r| <= ln2 / 2 */
        float p = 1.0f / 5040;
        p = p * r + 1.0f / 720; p = p * r + 1.0f / 120; p = p * r + 1.0f / 24;
        p = p * r + 1.0f / 6; p = p * r + 0.5f; p = p * r + 1.0f;
        return p * r + 1.0f;
    }
    TT_ACT_INLINE double tt_exp_poly_f64(double r) {
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0; p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0; p = p * r + 1.0 / 362880.0; p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0; p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5; p = p * r + 1.0;
        return p * r + 1.0;
    }
    TT_EXP_DEFINE(float, f32, int32_t, -104.0f, 89.0f, 12582912.0f, 0x4B400000,
                  1.442695022e+00f, 6.931152344e-01f, 3.194618330e-05f, 127, 23)
    TT_EXP_DEFINE(double, f64, int64_t, -746.0, 710.0, 6755399441055744.0, 0x4338000000000000LL,
                  1.4426950408889634, 0.6931471803691238, 1.9082149292705877e-10, 1023, 52)
    /* expm1(a) for a <= 0 (a clamped to [LO, 0]; NaN passes): with a = n ln2 + r,
       2^n (exp(r) - 1) + (2^n - 1), exp(r) - 1 by its own polynomial: no cancellation. */
    #define TT_EXPM1_DEFINE(T, SUF, I, LO, MAGIC, MAGIC_BITS, LOG2E, LN2HI, LN2LO, BIAS, MBITS) \
    TT_ACT_INLINE T tt_expm1neg_##SUF(T a) {                                                \
        T c = a > (T) LO ? a : (T) LO;                                                      \
        c = c < (T) 0 ? c : (T) 0;                                                          \
        T t = c * (T) LOG2E + (T) MAGIC;                                                    \
        T n = t - (T) MAGIC;                                                                \
        T r = (c - n * (T) LN2HI) - n * (T) LN2LO;                                          \
        T q = tt_expm1_poly_##SUF(r);                                                       \
        I bits;                                                                             \
        memcpy(&bits, &t, sizeof bits);                                                     \
        bits = (bits - (I) MAGIC_BITS + BIAS) << MBITS;                                     \
        T s;                                                                                \
        memcpy(&s, &bits, sizeof s);                                                        \
        T e = s * q + (s - (T) 1);                                                          \
        return a != a ? a : e;                                                              \
    }
    TT_ACT_INLINE float tt_expm1_poly_f32(float r) {   /* exp(r) - 1, |r| <= ln2 / 2 */
        float p = 1.0f / 40320;
        p = p * r + 1.0f / 5040; p = p * r + 1.0f / 720; p = p * r + 1.0f / 120;
        p = p * r + 1.0f / 24; p = p * r + 1.0f / 6; p = p * r + 0.5f;
        return (p * r) * r + r;
    }
    TT_ACT_INLINE double tt_expm1_poly_f64(double r) {
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0; p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0; p = p * r + 1.0 / 362880.0; p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0; p = p * r + 1.0 / 720.0; p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0; p = p * r + 1.0 / 6.0; p = p * r + 0.5;
        return (p * r) * r + r;
    }
    TT_EXPM1_DEFINE(float, f32, int32_t, -88.0f, 12582912.0f, 0x4B400000,
                    1.442695022e+00f, 6.931152344e-01f, 3.194618330e-05f, 127, 23)
    TT_EXPM1_DEFINE(double, f64, int64_t, -709.0, 6755399441055744.0, 0x4338000000000000LL,
                    1.4426950408889634, 0.6931471803691238, 1.9082149292705877e-10, 1023, 52)
    /* log1p(u) for 0 <= u <= 1: w = 1 + u = 2^k m with m in [sqrt(1/2), sqrt(2)), log m =
       2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series; then the rounding
       of 1 + u corrected to first order, (u - (w - 1)) / w. */
    #define TT_LOG1P_DEFINE(T, SUF, NT)                                                     \
    TT_ACT_INLINE T tt_log1p01_##SUF(T u) {                                                 \
        T w = (T) 1 + u;                                                                    \
        int big = w > (T) 1.4142135623730951;                                               \
        T m = big ? w * (T) 0.5 : w;                                                        \
        T s = (m - (T) 1) / (m + (T) 1), s2 = s * s;                                        \
        T p = (T) 1 / (T) (2 * NT + 1);                                                     \
        for (int k = NT - 1; k >= 1; k--) p = p * s2 + (T) 1 / (T) (2 * k + 1);             \
        T lg = (T) 2 * s + (T) 2 * s * (s2 * p);                                            \
        T corr = (u - (w - (T) 1)) / w;                                                     \
        return (big ? (T) 0.69314718055994530942 : (T) 0) + (lg + corr);                   \
    }
    TT_LOG1P_DEFINE(float, f32, 5)
    TT_LOG1P_DEFINE(double, f64, 11)
    /* The pointwise activations: y = f(x) and, when d is not NULL, dy/dx in the same pass
       (tinytensor/_functions/activation.py's formulas; p0..p2 their parameters). */
    #define TT_ACT_LOOP(NAME, T, SUF, BODY)                                                 \
    TT_ACT_CLONES static void tt_act_##NAME##_##SUF(const T *__restrict x, T *__restrict y, \
            T *__restrict d, Py_ssize_t n, T p0, T p1, T p2) {                              \
        (void) p0; (void) p1; (void) p2;                                                    \
        if (d) {                                                                            \
            for (Py_ssize_t i = 0; i < n; i++) {                                            \
                T v = x[i], yv, dv;                                                         \
                BODY                                                                        \
                y[i] = yv;                                                                  \
                d[i] = dv;                                                                  \
            }                                                                               \
        } else {                                                                            \
            for (Py_ssize_t i = 0; i < n; i++) {                                            \
                T v = x[i], yv, dv;                                                         \
                BODY                                                                        \
                (void) dv;                                                                  \
                y[i] = yv;                                                                  \
            }                                                                               \
        }                                                                                   \
    }
    #define TT_ACT_ALL(T, SUF)                                                              \
    /* hardtanh(lo = p0, hi = p1): dy/dx = 1 strictly inside, and at NaN */                 \
    TT_ACT_LOOP(hardtanh, T, SUF,                                                           \
        yv = v < p0 ? p0 : (v > p1 ? p1 : v);                                               \
        dv = (v <= p0 || v >= p1) ? (T) 0 : (T) 1;)                                         \
    /* elu(alpha = p0, scale = p1, input_scale = p2) */                                     \
    TT_ACT_LOOP(elu, T, SUF,                                                                \
        T em = tt_expm1neg_##SUF(v * p2);                                                   \
        yv = v > 0 ? v * p1 : p0 * em;                                                      \
        dv = v > 0 ? p1 : p0 * p2 * tt_exp_##SUF(v * p2);)                                  \
    TT_ACT_LOOP(silu, T, SUF,                                                               \
        T sg = (T) 1 / ((T) 1 + tt_exp_##SUF(-v));                                          \
        yv = v * sg;                                                                        \
        dv = sg * ((T) 1 + v * ((T) 1 - sg));)                                              \
    /* tanh(softplus(x)) = q / (q + 2), q = e^x (e^x + 2); 1 from x = 20 on in either type */ \
    TT_ACT_LOOP(mish, T, SUF,                                                               \
        T e = tt_exp_##SUF(v < (T) 20 ? v : (T) 20);                                        \
        T q = e * (e + (T) 2);                                                              \
        T om = (T) 2 / (q + (T) 2);                    /* 1 - tanh */                       \
        T th = q / (q + (T) 2);                                                             \
        T sg = (T) 1 / ((T) 1 + tt_exp_##SUF(-v));                                          \
        yv = v * th;                                                                        \
        dv = th + v * sg * (om * ((T) 1 + th));)                                            \
    TT_ACT_LOOP(hardswish, T, SUF,                                                          \
        T c = v + (T) 3;                                                                    \
        c = c < (T) 0 ? (T) 0 : (c > (T) 6 ? (T) 6 : c);                                    \
        yv = v * c / (T) 6;                                                                 \
        dv = v <= (T) -3 ? (T) 0 : (v < (T) 3 ? v / (T) 3 + (T) 0.5 : (T) 1);)              \
    TT_ACT_LOOP(hardsigmoid, T, SUF,                                                        \
        T c = v + (T) 3;                                                                    \
        c = c < (T) 0 ? (T) 0 : (c > (T) 6 ? (T) 6 : c);                                    \
        yv = c / (T) 6;                                                                     \
        dv = (v > (T) -3 && v < (T) 3) ? (T) 1 / (T) 6 : (T) 0;)                            \
    /* softplus(beta = p0, threshold = p1): max(z, 0) + log1p(exp(-|z|)), z = beta x */    \
    TT_ACT_LOOP(softplus, T, SUF,                                                           \
        T z = v * p0;                                                                       \
        T e = tt_exp_##SUF(-(z < 0 ? -z : z));                                              \
        T sp = ((z > 0 ? z : (T) 0) + tt_log1p01_##SUF(e)) / p0;                            \
        int lin = z > p1;                                                                   \
        yv = lin ? v : sp;                                                                  \
        dv = lin ? (T) 1 : (z < 0 ? e : (T) 1) / ((T) 1 + e);)                              \
    TT_ACT_LOOP(logsigmoid, T, SUF,                                                         \
        T e = tt_exp_##SUF(-(v < 0 ? -v : v));                                              \
        yv = (v < 0 ? v : (T) 0) - tt_log1p01_##SUF(e);                                     \
        dv = (v < 0 ? (T) 1 : e) / ((T) 1 + e);)
    TT_ACT_ALL(float, f32)
    TT_ACT_ALL(double, f64)
    #define TT_ACT_DISPATCH(T, SUF)                                                         \
    static void tt_act_##SUF(int op, const T *x, T *y, T *d, Py_ssize_t n, T p0, T p1, T p2) { \
        switch (op) {                                                                       \
        case 0: tt_act_hardtanh_##SUF(x, y, d, n, p0, p1, p2); break;                       \
        case 1: tt_act_elu_##SUF(x, y, d, n, p0, p1, p2); break;                            \
        case 2: tt_act_silu_##SUF(x, y, d, n, p0, p1, p2); break;                           \
        case 3: tt_act_mish_##SUF(x, y, d, n, p0, p1, p2); break;                           \
        case 4: tt_act_hardswish_##SUF(x, y, d, n, p0, p1, p2); break;                      \
        case 5: tt_act_hardsigmoid_##SUF(x, y, d, n, p0, p1, p2); break;                    \
        case 6: tt_act_softplus_##SUF(x, y, d, n, p0, p1, p2); break;                       \
        case 7: tt_act_logsigmoid_##SUF(x, y, d, n, p0, p1, p2); break;                     \
        }                                                                                   \
    }
    TT_ACT_DISPATCH(float, f32)
    TT_ACT_DISPATCH(double, f64)
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
    void tt_act_f32(int op, const float* x, float* y, float* d, Py_ssize_t n, float p0,
                    float p1, float p2) noexcept nogil
    void tt_act_f64(int op, const double* x, double* y, double* d, Py_ssize_t n, double p0,
                    double p1, double p2) noexcept nogil
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


# op codes of tt_act_* (the C switch above)
OPS = {"hardtanh": 0, "elu": 1, "silu": 2, "mish": 3, "hardswish": 4, "hardsigmoid": 5,
       "softplus": 6, "logsigmoid": 7}


def pointwise(int op,
              const floating[::1] x,   # IN
              floating[::1] y,         # OUT f(x)
              floating[::1] d,         # OUT dy/dx, or empty: not wanted
              double p0, double p1, double p2, int n_threads):
    """y = f(x) (and d = f'(x)) for the activation `op` (OPS) with parameters p0..p2."""
    cdef Py_ssize_t n = x.shape[0], t, i0, tasks
    cdef bint want_d = d.shape[0] != 0
    if y.shape[0] != n or (want_d and d.shape[0] != n) or not 0 <= op < len(OPS):
        raise ValueError("pointwise: inconsistent shapes (a tinytensor bug)")
    if n == 0:
        return
    tasks = _tasks(n, &n_threads)
    for t in prange(tasks, nogil=True, schedule='static', num_threads=n_threads):
        i0 = t * _BLOCK
        if floating is float:
            tt_act_f32(op, &x[i0], &y[i0], &d[i0] if want_d else NULL, min(_BLOCK, n - i0),
                       <float> p0, <float> p1, <float> p2)
        else:
            tt_act_f64(op, &x[i0], &y[i0], &d[i0] if want_d else NULL, min(_BLOCK, n - i0),
                       p0, p1, p2)
