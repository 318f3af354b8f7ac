"""One thread setting for every kernel: OpenMP loops and the BLAS behind matmul.

Kernels receive `get_num_threads()` as an argument (their `prange(..., num_threads=n)`), and
the BLAS pool is capped at the same number, so the two never run more threads than the user
asked for. The OpenMP loops and BLAS calls never overlap in time (a kernel finishes before a
GEMM starts), so the cap is the total.
"""
import os

from tinytensor._kernels import _parallel

_num_threads = None
_blas_limiter = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cap_blas(n):
    """Cap NumPy's BLAS pool at n threads (threadpoolctl finds the library NumPy loaded)."""
    global _blas_limiter
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:          # an optional nicety: without it BLAS keeps its own default
        return
    _blas_limiter = threadpool_limits(limits=n, user_api="blas")


def set_num_threads(n):
    """Set the number of threads every tinytensor kernel and GEMM may use."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads(): argument 'n' must be int, not {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads(): expected a positive number of threads, but got {n}")
    _num_threads = n
    _parallel.set_openmp_threads(n)
    _cap_blas(n)


def get_num_threads():
    """The number of threads kernels use (1 on a build without OpenMP)."""
    if _num_threads is None:
        set_num_threads(_default_threads())
    return _num_threads if _parallel.openmp_enabled() else 1
