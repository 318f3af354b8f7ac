# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Activation kernels that need libm functions NumPy lacks (erf): exact GELU.

Contract: `tinytensor._functions.activation` passes C-contiguous 1-D arrays of one dtype and
equal length (the entries check the lengths). Each element is computed on its own, so any
split over threads gives bitwise the same result.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport erf, erff, exp, expf

cdef double _SQRT1_2 = 0.70710678118654752440       # 1 / sqrt(2)
cdef double _INV_SQRT_2PI = 0.39894228040143267794  # 1 / sqrt(2 pi)
cdef Py_ssize_t _PARALLEL_MIN = 32768               # below this, one thread (no OpenMP start-up)


def gelu_forward(const floating[::1] x,   # IN
                 floating[::1] y,         # OUT
                 int n_threads):
    """y = x * 0.5 * (1 + erf(x / sqrt(2)))."""
    cdef Py_ssize_t n = x.shape[0], i
    cdef floating v
    if y.shape[0] != n:
        raise ValueError("gelu_forward: inconsistent shapes (a tinytensor bug)")
    if n < _PARALLEL_MIN:
        n_threads = 1
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        v = x[i]
        if floating is float:
            y[i] = v * 0.5 * (1 + erff(v * <float> _SQRT1_2))
        else:
            y[i] = v * 0.5 * (1 + erf(v * _SQRT1_2))


def gelu_backward(const floating[::1] x,   # IN  the forward's input
                  const floating[::1] g,   # IN  gradient of the output
                  floating[::1] gx,        # OUT gradient of the input
                  int n_threads):
    """gx = g * (Phi(x) + x * phi(x)), Phi/phi the standard normal cdf/pdf."""
    cdef Py_ssize_t n = x.shape[0], i
    cdef floating v
    if g.shape[0] != n or gx.shape[0] != n:
        raise ValueError("gelu_backward: inconsistent shapes (a tinytensor bug)")
    if n < _PARALLEL_MIN:
        n_threads = 1
    for i in prange(n, nogil=True, schedule='static', num_threads=n_threads):
        v = x[i]
        if floating is float:
            gx[i] = g[i] * (0.5 * (1 + erff(v * <float> _SQRT1_2))
                            + v * <float> _INV_SQRT_2PI * expf(-0.5 * v * v))
        else:
            gx[i] = g[i] * (0.5 * (1 + erf(v * _SQRT1_2))
                            + v * _INV_SQRT_2PI * exp(-0.5 * v * v))
