# cython: language_level=3, wraparound=False, cdivision=True
"""Inline helpers shared by the pooling kernels (pool.pyx). Callers validated every argument."""
from libc.stdint cimport int32_t, int64_t, uint16_t


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


cdef extern from *:
    """
    /* Reading memory the user can still write (indices they hold, shared with NumPy): load
       each element exactly once through a volatile access, check the value, then use only
       that value. A plain load may legally be repeated by the compiler after the check. */
    static inline int64_t tt_read_once_i64(const int64_t *p) { return *(const volatile int64_t *)p; }
    static inline int32_t tt_read_once_i32(const int32_t *p) { return *(const volatile int32_t *)p; }
    static inline uint16_t tt_read_once_u16(const uint16_t *p) { return *(const volatile uint16_t *)p; }
    /* Integer average: C division traps (SIGFPE on x86) for INT64_MIN / -1; wrap instead, as
       two's complement does (the quotient 2**63 wraps to INT64_MIN). */
    static inline int64_t tt_div_wrap_i64(int64_t a, int64_t b) {
        return b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
    }
    static inline int64_t tt_add_wrap_i64(int64_t a, int64_t b) {
        return (int64_t)((uint64_t)a + (uint64_t)b);
    }
    """
    int64_t tt_read_once_i64(const int64_t* p) noexcept nogil
    int32_t tt_read_once_i32(const int32_t* p) noexcept nogil
    uint16_t tt_read_once_u16(const uint16_t* p) noexcept nogil
    int64_t tt_div_wrap_i64(int64_t a, int64_t b) noexcept nogil
    int64_t tt_add_wrap_i64(int64_t a, int64_t b) noexcept nogil


ctypedef fused user_index_t:
    uint16_t
    int32_t
    int64_t


cdef inline int64_t read_index(const user_index_t* p) noexcept nogil:
    """*p, loaded exactly once (see tt_read_once_i64)."""
    if user_index_t is int64_t:
        return tt_read_once_i64(p)
    elif user_index_t is int32_t:
        return tt_read_once_i32(p)
    else:
        return tt_read_once_u16(p)
