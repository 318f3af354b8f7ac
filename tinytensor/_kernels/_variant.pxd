# cython: language_level=3
from tinytensor._kernels.conv_geometry cimport tt_conv_kernels

cdef const tt_conv_kernels* kernels() noexcept nogil
cdef Py_ssize_t gemm_work() noexcept nogil
cdef void sgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const float* a, Py_ssize_t rsa,
                Py_ssize_t csa, const float* b, Py_ssize_t rsb, Py_ssize_t csb, bint accumulate,
                float* c, Py_ssize_t ldc, float* work) noexcept nogil
cdef void dgemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const double* a, Py_ssize_t rsa,
                Py_ssize_t csa, const double* b, Py_ssize_t rsb, Py_ssize_t csb,
                bint accumulate, double* c, Py_ssize_t ldc, double* work) noexcept nogil
