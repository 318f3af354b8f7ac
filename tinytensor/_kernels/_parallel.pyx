# cython: language_level=3
"""Which build this is (OpenMP or serial, release or debug) and the OpenMP side of the thread
setting.

OpenMP calls sit behind `#ifdef _OPENMP`, as in scikit-learn's `_openmp_helpers`, so the same
source builds where the compiler has no OpenMP (the kernels' prange then runs serially).
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define TT_OPENMP 1
    #else
    #define TT_OPENMP 0
    static void omp_set_num_threads(int n) { (void)n; }
    static int omp_get_max_threads(void) { return 1; }
    #endif
    #ifndef TT_DEBUG_BUILD
    #define TT_DEBUG_BUILD 0
    #endif
    """
    int TT_OPENMP
    int TT_DEBUG_BUILD    # setup.py: 1 when built with TINYTENSOR_CYTHON_DEBUG=1
    void omp_set_num_threads(int n) nogil
    int omp_get_max_threads() nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP (can run in parallel)."""
    return bool(TT_OPENMP)


def debug_build():
    """True for the bounds-checked build the tests also run on (TINYTENSOR_CYTHON_DEBUG=1):
    several times slower, never the one to time."""
    return bool(TT_DEBUG_BUILD)


def set_openmp_threads(int n):
    omp_set_num_threads(n)


def openmp_max_threads():
    return omp_get_max_threads()
