# cython: language_level=3, wraparound=False, cdivision=True
"""Inline helpers shared by the pooling kernels (pool.pyx). Callers validated every argument."""


cdef inline Py_ssize_t pool_out_size(Py_ssize_t n, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p,
                                     Py_ssize_t d, bint ceil_mode) noexcept nogil:
    """PyTorch's pooling output size, with the ceil_mode drop rule (applied even when p == 0)."""
    cdef Py_ssize_t num = n + 2 * p - d * (k - 1) - 1, o
    if ceil_mode:
        num = num + s - 1
    if num < 0:
        return 0
    o = num // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o = o - 1
    return o


cdef inline Py_ssize_t first_tap(Py_ssize_t start, Py_ssize_t d) noexcept nogil:
    """Smallest tap i >= 0 with start + i*d >= 0."""
    if start >= 0:
        return 0
    return (-start + d - 1) // d


cdef inline Py_ssize_t end_tap(Py_ssize_t start, Py_ssize_t k, Py_ssize_t d,
                               Py_ssize_t n) noexcept nogil:
    """One past the largest tap i < k with start + i*d < n (start < n is guaranteed)."""
    cdef Py_ssize_t e = (n - start + d - 1) // d
    return e if e < k else k


cdef inline Py_ssize_t bin_start(Py_ssize_t i, Py_ssize_t n, Py_ssize_t o) noexcept nogil:
    """Adaptive pooling: bin i of o over n starts at floor(i*n/o)."""
    return (i * n) // o


cdef inline Py_ssize_t bin_end(Py_ssize_t i, Py_ssize_t n, Py_ssize_t o) noexcept nogil:
    """Adaptive pooling: bin i of o over n ends (exclusive) at ceil((i+1)*n/o)."""
    return ((i + 1) * n + o - 1) // o
