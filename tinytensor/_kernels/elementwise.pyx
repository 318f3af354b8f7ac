# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Elementwise kernels over strided, broadcast operands: binary, unary and unary backward.

Contract: tinytensor._functions.elementwise has validated broadcasting (PyTorch's message) and
promoted both operands to one dtype; each entry here re-checks, in O(ndim), that the operand
shapes broadcast and the dtypes agree, and raises otherwise, so a bad call never touches memory
out of range.

Notes:
- Operands are NumPy arrays viewing tensor memory with any strides: permuted, sliced with a
  step, offset, expanded (stride 0), even negative. Their rank is not fixed, so they are read
  through the buffer protocol (data pointer, shape, byte strides) rather than typed memoryviews;
  nothing is copied. The output is a fresh C-contiguous array from `np.empty` (NumPy asks the
  kernel for huge pages on large arrays: first-touch page faults cost ~4x less).
- Dimensions are broadcast, size-1 dimensions dropped and adjacent dimensions merged wherever
  every operand's strides allow it, so a contiguous or row-broadcast operation becomes a 1-D or
  2-D loop whose inner loop is unit-stride (or stride 0) and vectorizes.
- Parallelism: the flat output range is cut into `n_threads` disjoint pieces (prange, static);
  each output element has exactly one writer and is computed by the same instructions whatever
  the thread count, so results are bitwise identical for any number of threads. Work below
  PARALLEL_MIN elements runs on the calling thread without entering an OpenMP region.
- float32/float64 use fused `floating` kernels; int64 and bool have cheap kernels for
  add/sub/mul (bool: add = or, mul = and, as NumPy and PyTorch). Everything else on integer or
  bool dtypes (true division, unary math) goes to NumPy, which defines those results anyway.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS_RO, PyBUF_RECORDS
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log, sqrt, sqrtf, fabs, fabsf
from libc.math cimport sin, sinf, cos, cosf, INFINITY, NAN
from libc.stdint cimport int64_t

import numpy as np

from tinytensor._threads import get_num_threads

cdef extern from *:
    """
    /* The kernels never read floating-point exception flags. Without no-trapping-math GCC
       refuses to turn the selects of exp/log/tanh (x > limit ? ... : ...) into vector blends
       (a compare could raise FE_INVALID) and those loops stay scalar, ~4x slower. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC optimize("no-trapping-math")
    #endif
    /* Byte-sized C type for NumPy's bool (0 is False, any other byte True). */
    typedef unsigned char tt_bool;
    /* Bit casts between floats and integers (memcpy: the C way to reinterpret bits without
       breaking strict aliasing; GCC turns it into a register move, and it vectorizes). */
    #include <string.h>
    static inline int tt_fbits(float f) { int i; memcpy(&i, &f, 4); return i; }
    static inline float tt_bitsf(int i) { float f; memcpy(&f, &i, 4); return f; }
    static inline double tt_bitsd(long long i) { double d; memcpy(&d, &i, 8); return d; }
    /* 2**n from the exponent bits (n within the normal range) */
    static inline float tt_pow2f(int n) { return tt_bitsf((n + 127) << 23); }
    static inline double tt_pow2d(int n) { return tt_bitsd((long long)(n + 1023) << 52); }
    /* Contiguous + - * / : the memory-bound loops of every model. GCC's target_clones compiles
       them twice (baseline SSE2 and AVX2) and picks at load time (ifunc, glibc), as NumPy
       dispatches its own loops; AVX2 halves the instructions per byte (add of 1M float32:
       108 -> 98 us, NumPy 95, on the benchmark machine). Results are bitwise the same either
       way: each element is one correctly rounded IEEE operation. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define TT_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define TT_CLONES
    #endif
    #define TT_BINARY_CONTIG(NAME, T)                                                        \
    TT_CLONES static void NAME(int op, const T* x, const T* y, T* o, Py_ssize_t n) {          \
        Py_ssize_t i;                                                                        \
        if (op == 0) for (i = 0; i < n; i++) o[i] = x[i] + y[i];                             \
        else if (op == 1) for (i = 0; i < n; i++) o[i] = x[i] - y[i];                        \
        else if (op == 2) for (i = 0; i < n; i++) o[i] = x[i] * y[i];                        \
        else for (i = 0; i < n; i++) o[i] = x[i] / y[i];                                     \
    }
    TT_BINARY_CONTIG(tt_binary_contig_f, float)
    TT_BINARY_CONTIG(tt_binary_contig_d, double)
    """
    void tt_binary_contig_f(int op, const float* x, const float* y, float* o, Py_ssize_t n) nogil
    void tt_binary_contig_d(int op, const double* x, const double* y, double* o,
                            Py_ssize_t n) nogil
    ctypedef unsigned char tt_bool
    float tt_pow2f(int n) noexcept nogil
    int tt_fbits(float f) noexcept nogil
    float tt_bitsf(int i) noexcept nogil
    double tt_bitsd(long long i) noexcept nogil
    double tt_pow2d(int n) noexcept nogil

ctypedef fused num_t:
    float
    double
    int64_t
    tt_bool

cdef enum:
    MAXDIM = 64             # NumPy's own limit (NPY_MAXDIMS) is 64
    PARALLEL_MIN = 32768    # below this many outputs, one thread (OpenMP start-up ~ 2-5 us)

cdef enum Op:                # the four binary ops first: `op <= DIV` tests for them
    ADD, SUB, MUL, DIV,
    NEG, EXP, LOG, SQRT, ABS, TANH, SIGMOID, RELU, SIN, COS,
    B_NEG, B_EXP, B_LOG, B_SQRT, B_ABS, B_TANH, B_SIGMOID, B_RELU, B_SIN, B_COS

_BINARY = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV}
_UNARY = {"neg": NEG, "exp": EXP, "log": LOG, "sqrt": SQRT, "abs": ABS, "tanh": TANH,
          "sigmoid": SIGMOID, "relu": RELU, "sin": SIN, "cos": COS}
_BACKWARD = {"neg": B_NEG, "exp": B_EXP, "log": B_LOG, "sqrt": B_SQRT, "abs": B_ABS,
             "tanh": B_TANH, "sigmoid": B_SIGMOID, "relu": B_RELU, "sin": B_SIN, "cos": B_COS}

# NumPy definitions for the dtype/op pairs without a kernel here (see the module notes).
_NP_BINARY = {ADD: np.add, SUB: np.subtract, MUL: np.multiply, DIV: np.true_divide}
_NP_UNARY = {NEG: np.negative, EXP: np.exp, LOG: np.log, SQRT: np.sqrt, ABS: np.abs,
             TANH: np.tanh, SIGMOID: lambda a: 1 / (1 + np.exp(-a)),
             RELU: lambda a: np.maximum(a, 0), SIN: np.sin, COS: np.cos}

cdef object _F32 = np.dtype(np.float32)
cdef object _F64 = np.dtype(np.float64)
cdef object _I64 = np.dtype(np.int64)
cdef object _BOOL = np.dtype(np.bool_)
cdef object _empty = np.empty
cdef object _ndarray = np.ndarray


cdef struct Iter:
    # A broadcast, coalesced iteration space: the output is C-contiguous over `shape`;
    # operand x (y) element k sits at x + sum(idx[d] * sx[d]) (strides in elements).
    int ndim
    Py_ssize_t shape[MAXDIM]
    Py_ssize_t sx[MAXDIM]
    Py_ssize_t sy[MAXDIM]


# ---------------------------------------------------------------------------------------------
# exp and tanh that vectorize (libm's expf/tanhf are scalar calls: tanhf ran at 10 ns/element,
# 60x slower than NumPy's SIMD tanh, on the benchmark machine). Cephes' algorithms (S. Moshier):
# exp(x) = 2**n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, exp(r) by a polynomial
# (float32) or a Pade form (float64); 2**n applied in two halves so that results near the
# overflow and underflow limits (n = 128, or subnormal results) stay right. Branch-free:
# every special case is a select, so GCC vectorizes the loops. Errors: tests/test_kernels_core.py
# checks against NumPy to a few ulp, NaN and +-inf included.

cdef inline float _expf(float x) noexcept nogil:
    cdef float xc, nf, r, p
    cdef int n
    # clamp (NaN passes both tests unchanged and propagates through the polynomial)
    xc = <float>88.8 if x > <float>88.8 else x
    xc = <float>-104.0 if xc < <float>-104.0 else xc
    # round to nearest by the 1.5 * 2**23 trick (no SSE4.1 roundps needed)
    nf = (xc * <float>1.44269504088896341 + <float>12582912.0) - <float>12582912.0
    r = xc - nf * <float>0.693359375
    r = r - nf * <float>-2.12194440e-4
    p = ((((((<float>1.9875691500e-4 * r + <float>1.3981999507e-3) * r + <float>8.3334519073e-3) * r
            + <float>4.1665795894e-2) * r + <float>1.6666665459e-1) * r + <float>5.0000001201e-1) * r * r + r + <float>1)
    n = <int> nf
    p = p * tt_pow2f(n >> 1) * tt_pow2f(n - (n >> 1))
    p = <float> INFINITY if x > <float>88.72283935546875 else p
    return 0 if x < <float>-103.972084045410 else p


cdef inline double _exp(double x) noexcept nogil:
    cdef double xc, nf, r, rr, px, q
    cdef int n
    xc = 709.8 if x > 709.8 else x
    xc = -745.2 if xc < -745.2 else xc
    nf = (xc * 1.4426950408889634073599 + 6755399441055744.0) - 6755399441055744.0
    r = xc - nf * 6.93145751953125e-1
    r = r - nf * 1.42860682030941723212e-6
    rr = r * r
    px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
              + 9.99999999999999999910e-1)
    q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
         + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0
    r = 1 + 2 * (px / (q - px))
    n = <int> nf
    r = r * tt_pow2d(n >> 1) * tt_pow2d(n - (n >> 1))
    r = INFINITY if x > 709.782712893383973096 else r
    return 0 if x < -745.133219101941108420 else r


cdef inline floating _vexp(floating x) noexcept nogil:
    if floating is float:
        return _expf(x)
    else:
        return _exp(x)


cdef inline floating _vtanh(floating x) noexcept nogil:
    """Odd polynomial (float32) or rational (float64) below 0.625, 1 - 2 / (exp(2|x|) + 1)
    above (no cancellation there: the result is > 0.55); the sign restored last."""
    cdef floating a = fabsf(x) if floating is float else fabs(x)
    cdef floating z = x * x, small, big
    if floating is float:
        small = ((((<float>-5.70498872745e-3 * z + <float>2.06390887954e-2) * z - <float>5.37397155531e-2) * z
                  + <float>1.33314422036e-1) * z - <float>3.33332819422e-1) * z * x + x
    else:
        small = x + x * z * (((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                              - 1.61468768441708447952e3)
                             / (((z + 1.12811678491632931402e2) * z
                                 + 2.23548839060100448583e3) * z + 4.84406305325125486048e3))
    big = <floating>1 - <floating>2 / (_vexp(a + a) + <floating>1)
    big = -big if x < 0 else big
    return small if a < <floating> 0.625 else (big if a == a else x)


cdef inline float _logf(float x) noexcept nogil:
    """fdlibm's logf (e_logf.c): x = 2**k * m with m in [sqrt(1/2), sqrt(2)),
    f = m - 1, s = f / (2 + f), log(1 + f) = f - s * (f - R(s*s)) with a minimax R; k * ln 2
    added in two parts. Branch-free (the exponent read from the bits; integer selects written
    as arithmetic, which GCC would otherwise turn into table loads), so it vectorizes."""
    cdef float xs, m, f, s, z, w, R, hfsq, r, kf
    cdef int k, i
    # subnormals: scale into the normal range first
    xs = x * <float>33554432.0 if x < <float>1.17549435e-38 else x
    i = tt_fbits(xs)
    k = ((i >> 23) & 0xff) - 127 - 25 * <int> (x < <float>1.17549435e-38)
    m = tt_bitsf((i & 0x7fffff) | 0x3f800000)                  # in [1, 2)
    k = k + <int> (m > <float>1.41421356)
    m = m * <float>0.5 if m > <float>1.41421356 else m
    f = m - <float>1
    s = f / (f + <float>2)
    z = s * s
    w = z * z
    R = (w * (<float>0.40000972152 + w * <float>0.24279078841)
         + z * (<float>0.66666662693 + w * <float>0.28498786688))
    hfsq = <float>0.5 * f * f
    kf = <float>k
    r = (kf * <float>6.9313812256e-01
         - ((hfsq - (s * (hfsq + R) + kf * <float>9.0580006145e-06)) - f))
    r = -INFINITY if x == 0 else r
    r = NAN if x < 0 else r
    r = x if x == INFINITY else r
    return x if x != x else r                       # NaN in, NaN out


# ---------------------------------------------------------------------------------------------
# inner loops: one contiguous run of the output

cdef inline floating _sgn(floating s) noexcept nogil:
    # np.sign: -1, 0, +1, and NaN for NaN
    if s > 0:
        return 1
    if s < 0:
        return -1
    if s == 0:
        return 0
    return s


cdef inline void _loop_f(Op op, const floating* x, const floating* y, floating* o, Py_ssize_t n,
                         Py_ssize_t sx, Py_ssize_t sy) noexcept nogil:
    """o[i] = op(x[i*sx], y[i*sy]) for i < n; called with literal strides for the common
    layouts so each copy specialises (unit stride vectorizes)."""
    cdef Py_ssize_t i
    cdef floating v, s, c
    # A stride-0 (broadcast scalar) operand is read once into a local: read through its
    # pointer, the compiler must assume each store to o may change it and the loop stays
    # scalar (a (64,32,24,24) + (32,1,1) bias add ran 1.4x slower than NumPy).
    if op <= DIV and sx == 1 and sy == 1:          # op codes 0-3: ADD SUB MUL DIV
        if floating is float:
            tt_binary_contig_f(op, x, y, o, n)
        else:
            tt_binary_contig_d(op, x, y, o, n)
        return
    if op <= DIV and (sx == 0 or sy == 0):
        if sy == 0:
            c = y[0]
            if op == ADD:
                for i in range(n):
                    o[i] = x[i * sx] + c
            elif op == SUB:
                for i in range(n):
                    o[i] = x[i * sx] - c
            elif op == MUL:
                for i in range(n):
                    o[i] = x[i * sx] * c
            else:
                for i in range(n):
                    o[i] = x[i * sx] / c
        else:
            c = x[0]
            if op == ADD:
                for i in range(n):
                    o[i] = c + y[i * sy]
            elif op == SUB:
                for i in range(n):
                    o[i] = c - y[i * sy]
            elif op == MUL:
                for i in range(n):
                    o[i] = c * y[i * sy]
            else:
                for i in range(n):
                    o[i] = c / y[i * sy]
        return
    if op == ADD:
        for i in range(n):
            o[i] = x[i * sx] + y[i * sy]
    elif op == SUB:
        for i in range(n):
            o[i] = x[i * sx] - y[i * sy]
    elif op == MUL:
        for i in range(n):
            o[i] = x[i * sx] * y[i * sy]
    elif op == DIV:
        for i in range(n):
            o[i] = x[i * sx] / y[i * sy]
    elif op == NEG:
        for i in range(n):
            o[i] = -x[i * sx]
    elif op == EXP:
        for i in range(n):
            o[i] = _vexp(x[i * sx])
    elif op == LOG:
        for i in range(n):
            # float32: branch-free, vectorizes; float64 needs 64-bit integer vector ops that
            # SSE2 lacks, and there glibc's log is faster than the scalar branch-free form
            o[i] = _logf(x[i * sx]) if floating is float else log(x[i * sx])
    elif op == SQRT:
        for i in range(n):
            o[i] = sqrtf(x[i * sx]) if floating is float else sqrt(x[i * sx])
    elif op == ABS:
        for i in range(n):
            o[i] = fabsf(x[i * sx]) if floating is float else fabs(x[i * sx])
    elif op == TANH:
        for i in range(n):
            o[i] = _vtanh(x[i * sx])
    elif op == SIGMOID:
        for i in range(n):
            o[i] = <floating>1 / (<floating>1 + _vexp(-x[i * sx]))
    elif op == RELU:
        for i in range(n):
            v = x[i * sx]
            o[i] = 0 if v <= 0 else v          # NaN stays NaN, as np.maximum(x, 0) and PyTorch
    elif op == SIN:
        for i in range(n):
            o[i] = sinf(x[i * sx]) if floating is float else sin(x[i * sx])
    elif op == COS:
        for i in range(n):
            o[i] = cosf(x[i * sx]) if floating is float else cos(x[i * sx])
    # backward: x is the incoming gradient g, y the saved tensor s (output or input)
    elif op == B_NEG:
        for i in range(n):
            o[i] = -x[i * sx]
    elif op == B_EXP:
        for i in range(n):
            o[i] = x[i * sx] * y[i * sy]
    elif op == B_LOG:
        for i in range(n):
            o[i] = x[i * sx] / y[i * sy]
    elif op == B_SQRT:
        for i in range(n):
            o[i] = x[i * sx] / (2 * y[i * sy])
    elif op == B_ABS:
        for i in range(n):
            o[i] = x[i * sx] * _sgn(y[i * sy])
    elif op == B_TANH:
        for i in range(n):
            s = y[i * sy]
            o[i] = x[i * sx] * (1 - s * s)
    elif op == B_SIGMOID:
        for i in range(n):
            s = y[i * sy]
            o[i] = x[i * sx] * s * (1 - s)
    elif op == B_RELU:                   # PyTorch's threshold_backward: a NaN output passes
        for i in range(n):
            # both loads unconditional: a select, which vectorizes (a load under the
            # condition stays a branch, mispredicted half the time: 14 ms for 2M values)
            v = x[i * sx]
            s = y[i * sy]
            o[i] = 0 if s <= 0 else v
    elif op == B_SIN:
        for i in range(n):
            s = cosf(y[i * sy]) if floating is float else cos(y[i * sy])
            o[i] = x[i * sx] * s
    elif op == B_COS:
        for i in range(n):
            s = sinf(y[i * sy]) if floating is float else sin(y[i * sy])
            o[i] = -x[i * sx] * s


cdef inline void _loop_i(Op op, const int64_t* x, const int64_t* y, int64_t* o, Py_ssize_t n,
                         Py_ssize_t sx, Py_ssize_t sy) noexcept nogil:
    # int64 wraps on overflow, as NumPy and PyTorch (two's complement, -fwrapv not needed:
    # computed in unsigned arithmetic)
    cdef Py_ssize_t i
    if op == ADD:
        for i in range(n):
            o[i] = <int64_t> (<unsigned long long> x[i * sx] + <unsigned long long> y[i * sy])
    elif op == SUB:
        for i in range(n):
            o[i] = <int64_t> (<unsigned long long> x[i * sx] - <unsigned long long> y[i * sy])
    elif op == MUL:
        for i in range(n):
            o[i] = <int64_t> (<unsigned long long> x[i * sx] * <unsigned long long> y[i * sy])


cdef inline void _loop_b(Op op, const tt_bool* x, const tt_bool* y, tt_bool* o, Py_ssize_t n,
                         Py_ssize_t sx, Py_ssize_t sy) noexcept nogil:
    cdef Py_ssize_t i
    # any nonzero byte is True: a bool tensor viewed from uint8 bytes (from_numpy of
    # bytes.view(bool)) may hold 2..255, and 2 & 1 would be False; results are 0 or 1
    if op == ADD:                      # bool + bool = logical or
        for i in range(n):
            o[i] = (x[i * sx] != 0) | (y[i * sy] != 0)
    elif op == MUL:                    # bool * bool = logical and
        for i in range(n):
            o[i] = (x[i * sx] != 0) & (y[i * sy] != 0)


cdef inline void _loop(Op op, const num_t* x, const num_t* y, num_t* o, Py_ssize_t n,
                       Py_ssize_t sx, Py_ssize_t sy) noexcept nogil:
    if num_t is float or num_t is double:
        _loop_f(op, x, y, o, n, sx, sy)
    elif num_t is int64_t:
        _loop_i(op, x, y, o, n, sx, sy)
    else:
        _loop_b(op, x, y, o, n, sx, sy)


cdef void _inner(Op op, const num_t* x, const num_t* y, num_t* o, Py_ssize_t n,
                 Py_ssize_t sx, Py_ssize_t sy) noexcept nogil:
    # literal strides where the compiler inlines (it versions the rest for unit stride)
    if sx == 1 and sy == 1:
        _loop(op, x, y, o, n, 1, 1)
    else:
        _loop(op, x, y, o, n, sx, sy)


# ---------------------------------------------------------------------------------------------
# outer iteration: output elements [start, stop) of the coalesced space

cdef void _range(Op op, const num_t* x, const num_t* y, num_t* o, const Iter* it,
                 Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    cdef Py_ssize_t idx[MAXDIM]
    cdef int last = it.ndim - 1, d
    cdef Py_ssize_t rem = start, px = 0, py = 0, pos = start, n
    cdef Py_ssize_t inner = it.shape[last], isx = it.sx[last], isy = it.sy[last]
    d = last
    while d >= 0:                       # unravel `start` (C order)
        idx[d] = rem % it.shape[d]
        rem = rem // it.shape[d]
        px = px + idx[d] * it.sx[d]
        py = py + idx[d] * it.sy[d]
        d = d - 1
    while pos < stop:
        n = inner - idx[last]
        if n > stop - pos:
            n = stop - pos
        _inner(op, x + px, y + py, o + pos, n, isx, isy)
        pos = pos + n
        if pos >= stop:
            break
        # the inner row is finished: carry into the outer dimensions (odometer)
        px = px + (n - inner) * isx
        py = py + (n - inner) * isy
        idx[last] = 0
        d = last - 1
        while d >= 0:
            idx[d] = idx[d] + 1
            px = px + it.sx[d]
            py = py + it.sy[d]
            if idx[d] < it.shape[d]:
                break
            px = px - it.shape[d] * it.sx[d]
            py = py - it.shape[d] * it.sy[d]
            idx[d] = 0
            d = d - 1


cdef void _run(Op op, const num_t* x, const num_t* y, num_t* o, const Iter* it,
               Py_ssize_t total, int n_threads) noexcept nogil:
    """Disjoint pieces of the flat output, one per thread (a multiple of 16 elements: no two
    threads write one cache line)."""
    cdef Py_ssize_t t, chunk, s, e
    if n_threads <= 1 or total < PARALLEL_MIN:
        _range(op, x, y, o, it, 0, total)
        return
    chunk = ((total + n_threads - 1) // n_threads + 15) // 16 * 16
    for t in prange(n_threads, schedule='static', num_threads=n_threads):
        s = t * chunk
        e = s + chunk
        if e > total:
            e = total
        if s < e:
            _range(op, x, y, o, it, s, e)


# ---------------------------------------------------------------------------------------------
# Python entry points

cdef int _setup(Iter* it, Py_buffer* bx, Py_buffer* by, Py_ssize_t itemsize,
                Py_ssize_t* total) except -1:
    """Broadcast bx against by into `it` (right-aligned), drop size-1 dims, merge dims that are
    contiguous for both operands. Raises on shapes that do not broadcast."""
    cdef int nd = bx.ndim if bx.ndim > by.ndim else by.ndim
    cdef int d, k, ix, iy
    cdef Py_ssize_t nx, ny, n, tot = 1, stx, sty
    if nd > MAXDIM:
        raise ValueError(f"elementwise kernel: more than {MAXDIM} dimensions")
    k = 0
    for d in range(nd):
        ix = d - (nd - bx.ndim)
        iy = d - (nd - by.ndim)
        nx = bx.shape[ix] if ix >= 0 else 1
        ny = by.shape[iy] if iy >= 0 else 1
        stx = bx.strides[ix] if ix >= 0 else 0
        sty = by.strides[iy] if iy >= 0 else 0
        if stx % itemsize or sty % itemsize:
            raise ValueError("elementwise kernel: misaligned strides (a tinytensor bug)")
        if nx == ny:
            n = nx
        elif nx == 1:
            n, stx = ny, 0
        elif ny == 1:
            n, sty = nx, 0
        else:
            raise ValueError(f"elementwise kernel: shapes {_shape(bx)} and {_shape(by)} do not "
                             "broadcast (a tinytensor bug: callers check broadcasting)")
        tot = tot * n
        if n == 1:
            continue
        stx = stx // itemsize
        sty = sty // itemsize
        if k > 0 and it.sx[k - 1] == stx * n and it.sy[k - 1] == sty * n:
            it.shape[k - 1] = it.shape[k - 1] * n        # merge into the previous dimension
            it.sx[k - 1] = stx
            it.sy[k - 1] = sty
        else:
            it.shape[k] = n
            it.sx[k] = stx
            it.sy[k] = sty
            k = k + 1
    if k == 0:                          # a single element
        it.shape[0] = 1
        it.sx[0] = 0
        it.sy[0] = 0
        k = 1
    it.ndim = k
    total[0] = tot
    return 0


cdef tuple _shape(Py_buffer* b):
    return tuple([b.shape[d] for d in range(b.ndim)])


cdef object _out_shape(object a, object b, Py_buffer* bx, Py_buffer* by):
    """The broadcast shape as a tuple, reusing an operand's when it is the answer."""
    cdef int nd, d, ix, iy
    cdef Py_ssize_t nx
    if by.ndim == 0:
        return a.shape
    if bx.ndim == 0:
        return b.shape
    sa = a.shape
    if sa == b.shape:
        return sa
    nd = bx.ndim if bx.ndim > by.ndim else by.ndim
    out = []
    for d in range(nd):
        ix = d - (nd - bx.ndim)
        iy = d - (nd - by.ndim)
        nx = bx.shape[ix] if ix >= 0 else 1
        out.append(nx if nx != 1 else (by.shape[iy] if iy >= 0 else 1))
    return tuple(out)


cdef int _threads(object n_threads, Py_ssize_t total) except -1:
    if total < PARALLEL_MIN:
        return 1
    if n_threads is None:
        return get_num_threads()
    return n_threads


cdef object _compute(Op op, object a, object b, object dt, object n_threads):
    """out = op(a, b) with a, b ndarrays of dtype dt (kernel dtypes only)."""
    cdef Py_buffer bx, by, bo
    cdef Iter it
    cdef Py_ssize_t total
    cdef int nt
    PyObject_GetBuffer(a, &bx, PyBUF_RECORDS_RO)
    try:
        PyObject_GetBuffer(b, &by, PyBUF_RECORDS_RO)
        try:
            _setup(&it, &bx, &by, bx.itemsize, &total)
            out = _empty(_out_shape(a, b, &bx, &by), dt)
            if total == 0:
                return out
            nt = _threads(n_threads, total)
            PyObject_GetBuffer(out, &bo, PyBUF_RECORDS)
            try:
                if bo.len != total * bx.itemsize or by.itemsize != bx.itemsize:
                    raise ValueError("elementwise kernel: inconsistent output (a tinytensor bug)")
                with nogil:
                    if dt is _F32:
                        _run(op, <const float*> bx.buf, <const float*> by.buf, <float*> bo.buf,
                             &it, total, nt)
                    elif dt is _F64:
                        _run(op, <const double*> bx.buf, <const double*> by.buf, <double*> bo.buf,
                             &it, total, nt)
                    elif dt is _I64:
                        _run(op, <const int64_t*> bx.buf, <const int64_t*> by.buf,
                             <int64_t*> bo.buf, &it, total, nt)
                    else:
                        _run(op, <const tt_bool*> bx.buf, <const tt_bool*> by.buf,
                             <tt_bool*> bo.buf, &it, total, nt)
            finally:
                PyBuffer_Release(&bo)
        finally:
            PyBuffer_Release(&by)
    finally:
        PyBuffer_Release(&bx)
    return out


cdef object _as_array(object x, object other):
    """An ndarray for an operand: arrays as they are, NumPy scalars as 0-d arrays, Python
    scalars in the dtype NumPy's (NEP 50, weak scalar) promotion gives them against `other`."""
    if type(x) is _ndarray:
        return x
    if isinstance(x, _ndarray) or isinstance(x, np.generic):
        return np.asarray(x)
    if isinstance(other, _ndarray):
        return np.asarray(x, dtype=np.result_type(other, x))
    return np.asarray(x)


def binary(op, a, b, n_threads=None):
    """op(a, b) for op in add/sub/mul/div, broadcast, as a fresh C-contiguous array.

    a, b: ndarrays (any strides) or scalars; after promotion both have one dtype. n_threads:
    threads for large work (default tinytensor.get_num_threads()).
    """
    cdef Op code = _BINARY[op]
    a = _as_array(a, b)
    b = _as_array(b, a)
    dt = a.dtype
    if b.dtype is not dt and b.dtype != dt:
        dt = np.result_type(a, b)
        a, b = a.astype(dt), b.astype(dt)
    if dt == _F32:
        dt = _F32
    elif dt == _F64:
        dt = _F64
    elif (dt == _I64 and code != DIV) or (dt == _BOOL and (code == ADD or code == MUL)):
        dt = _I64 if dt == _I64 else _BOOL
    else:
        # no kernel: true division of integers, bool subtraction (NumPy raises, as PyTorch),
        # other integer widths
        with np.errstate(all="ignore"):          # as PyTorch: no warnings (1 / 0 is inf)
            return np.asarray(_NP_BINARY[code](a, b), order="C")
    return _compute(code, a, b, dt, n_threads)


def unary(op, a, n_threads=None):
    """op(a) for neg/exp/log/sqrt/abs/tanh/sigmoid/relu/sin/cos, a fresh C-contiguous array
    of a's dtype."""
    cdef Op code = _UNARY[op]
    a = _as_array(a, None)
    dt = a.dtype
    if dt == _F32 or dt == _F64:
        dt = _F32 if dt == _F32 else _F64
        return _compute(code, a, a, dt, n_threads)
    # integer and bool inputs: NumPy defines the result (neg/abs/relu keep the dtype)
    with np.errstate(all="ignore"):
        return np.asarray(_NP_UNARY[code](a), order="C").astype(dt, copy=False)


def unary_backward(op, g, s, n_threads=None):
    """dL/dx from dL/dy `g` and the saved `s` (the output for exp/sqrt/tanh/sigmoid/relu, the
    input for the rest); g and s have one shape (s may broadcast to g's) and dtype."""
    cdef Op code = _BACKWARD[op]
    g = _as_array(g, None)
    s = _as_array(s, g)
    dt = g.dtype
    if (dt == _F32 or dt == _F64) and s.dtype == dt:
        dt = _F32 if dt == _F32 else _F64
        return _compute(code, g, s, dt, n_threads)
    raise TypeError(f"unary_backward({op!r}): expected float32 or float64 operands of one "
                    f"dtype, got {g.dtype} and {s.dtype}")
