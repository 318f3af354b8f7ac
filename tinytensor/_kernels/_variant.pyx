# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""The running ISA variant's kernels (c/tt_isa.h: the float32 and float64 GEMMs and the
float32 convolution micro-kernels of AVX-512, AVX2, NEON or plain vectors), chosen once at
import by _isa (the CPU's best, or TINYTENSOR_ISA), and the GEMMs every convolution path
uses: the variant's, or c/tt_gemm_plain.h's on a build without any variant. Never BLAS.

The other convolution modules (conv_gemm, conv_panels) reach the table through `kernels()`
(cimported from _variant.pxd), so use_variant() switches all of them at once."""
from cython cimport floating
import numpy as np
from cython.parallel cimport prange

from tinytensor._kernels.conv_geometry cimport tt_conv_kernels

cdef extern from "tt_isa.h" nogil:
    const tt_conv_kernels* tt_conv_kernels_get(const char* name)

cdef extern from "tt_gemm_plain.h" nogil:
    void tt_sgemm_plain(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                        Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb,
                        int accumulate, float* c, Py_ssize_t ldc)
    void tt_dgemm_plain(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a,
                        Py_ssize_t rsa, Py_ssize_t csa, const double* b, Py_ssize_t rsb,
                        Py_ssize_t csb, int accumulate, double* c, Py_ssize_t ldc)

from tinytensor._kernels import _isa

# NULL on a build without any variant (then the GEMMs are tt_gemm_plain.h's and the float32
# panel and rows paths do not exist).
cdef const tt_conv_kernels* _kt = (tt_conv_kernels_get(_isa.selected().encode())
                                   if _isa.selected() is not None else NULL)
# GEMM workspace per thread, in elements of either dtype: enough for any variant's sgemm and
# dgemm, so scratch sizes never depend on the variant
cdef Py_ssize_t _work = 0


def _max_work():
    cdef Py_ssize_t most = 0
    cdef const tt_conv_kernels* kt
    for name in _isa.supported():
        kt = tt_conv_kernels_get(name.encode())
        if kt != NULL:
            most = max(most, kt.work, kt.dwork)
    return most


_work = _max_work()


cdef const tt_conv_kernels* kernels() noexcept nogil:
    """The running variant's kernel table, or NULL (no variant in this build)."""
    return _kt


cdef Py_ssize_t gemm_work() noexcept nogil:
    """Elements of workspace sgemm/dgemm need per thread (any variant)."""
    return _work


cdef void sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb, bint accumulate,
                float* c, Py_ssize_t ldc, float* work) noexcept nogil:
    """c (m x n, ldc) = A B (+ c when accumulate; c is never read otherwise), A(i, p) =
    a[i*rsa + p*csa], B(p, j) = b[p*rsb + j*csb]; single-threaded, its sums in an order
    fixed by the shapes. work: gemm_work() floats."""
    if _kt != NULL:
        _kt.sgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)
    else:
        tt_sgemm_plain(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc)


cdef void dgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a, Py_ssize_t rsa,
                Py_ssize_t csa, const double* b, Py_ssize_t rsb, Py_ssize_t csb,
                bint accumulate, double* c, Py_ssize_t ldc, double* work) noexcept nogil:
    """sgemm for doubles. work: gemm_work() doubles."""
    if _kt != NULL:
        _kt.dgemm(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc, work)
    else:
        tt_dgemm_plain(m, n, k, a, rsa, csa, b, rsb, csb, accumulate, c, ldc)


def use_variant(str name):
    """Run the kernels of variant `name` (one of _isa.supported()) from now on; returns the
    previous variant's name. For tests and benchmarks: not thread-safe."""
    global _kt
    cdef const tt_conv_kernels* kt = tt_conv_kernels_get(name.encode())
    if kt == NULL:
        raise ValueError(f"use_variant: {name!r} is not one of {_isa.supported()}")
    old = variant()
    _kt = kt
    return old


def variant():
    """The variant whose kernels run (see _isa), or None (plain-C GEMMs only)."""
    return _kt.name.decode() if _kt != NULL else None


def tile():
    """(rows, columns) of the running variant's float32 GEMM micro-kernel tile (None: no
    variant)."""
    return (_kt.mr, _kt.nr) if _kt != NULL else None


def dtile():
    """(rows, columns) of the running variant's float64 GEMM micro-kernel tile."""
    return (_kt.dmr, _kt.dnr) if _kt != NULL else None


def own_sgemm():
    """Whether a variant's kernels run (the float32 panel and rows paths need them)."""
    return _kt != NULL


def variant_gemm(const floating[:, :] a, const floating[:, :] b, floating[:, ::1] c,
                 bint accumulate, int n_threads=1):
    """c = a @ b (+ c when accumulate) by the GEMM the convolutions use (sgemm or dgemm
    above), for the tests and the benchmark's GEMM ceiling. a and b may have any strides (a
    transposed view is swapped strides); rows of c are split into n_threads blocks, each one
    thread's single-threaded GEMM."""
    cdef Py_ssize_t m = a.shape[0], k = a.shape[1], n = b.shape[1], t, r0, r1, rows
    cdef Py_ssize_t f = sizeof(floating)
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n or n_threads < 1:
        raise ValueError(f"variant_gemm: shapes {(m, k)} @ {(b.shape[0], n)} -> {(c.shape[0], c.shape[1])}")
    if any(s % f for s in (a.strides[0], a.strides[1], b.strides[0], b.strides[1])):
        raise ValueError("variant_gemm: strides must be whole elements")
    work = np.empty((n_threads, max(_work, 1)), np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] wk = work
    if m == 0 or n == 0:
        return
    rows = (m + n_threads - 1) // n_threads
    for t in prange(n_threads, nogil=True, schedule='static', num_threads=n_threads):
        r0 = t * rows
        r1 = min(m, r0 + rows)
        if r0 < r1:
            if floating is float:
                sgemm(r1 - r0, n, k, &a[r0, 0] if k > 0 else NULL, a.strides[0] // f,
                      a.strides[1] // f, &b[0, 0] if k > 0 else NULL, b.strides[0] // f,
                      b.strides[1] // f, accumulate, &c[r0, 0], n, &wk[t, 0])
            else:
                dgemm(r1 - r0, n, k, &a[r0, 0] if k > 0 else NULL, a.strides[0] // f,
                      a.strides[1] // f, &b[0, 0] if k > 0 else NULL, b.strides[0] // f,
                      b.strides[1] // f, accumulate, &c[r0, 0], n, &wk[t, 0])


variant_sgemm = variant_gemm    # older names (tests, benchmarks/bench_conv.py)
avx512_sgemm = variant_gemm
