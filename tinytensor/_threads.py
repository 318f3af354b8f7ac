"""One thread setting for every kernel: `tt.set_num_threads(n)`.

The policy, in one place:
- OpenMP kernels run `prange(..., num_threads=n)` with n = get_num_threads().
- The BLAS library (NumPy's and SciPy's OpenBLAS) is kept at ONE thread for the whole process.
  tinytensor splits GEMM work itself into pieces fixed by the shapes (a GEMM per OpenMP thread
  in the convolutions, a piece per worker in matmul/linear), so results are bitwise identical
  for any thread count, and at most n threads ever compute. A multi-threaded OpenBLAS is not
  reproducible across thread counts, and on 2 cores its pool fought our OpenMP threads (a
  64x256 @ 256x200 GEMM took 6-80 ms right after a conv instead of 46 us).
  Side effect: NumPy's own matmul in the same process runs on one thread too; wrap such code
  in `threadpoolctl.threadpool_limits(k)` to change that locally.
- OpenMP workers spin, then sleep, between parallel regions (libgomp's active-then-passive
  default), but spin 10,000 rounds instead of libgomp's 300,000: tinytensor/__init__.py sets
  GOMP_SPINCOUNT=10000 unless the user set it, before libgomp loads. A worker that spins on a
  core another process needs stalls every barrier: with two busy processes on the 2-core
  machine, an epoch of examples/train_lenet.py on 2 threads took 6.8 s at libgomp's spin
  count and 0.8 s at 10,000 (0.6 s on one thread; 0.2 s on the quiet machine).
  On the quiet machine 10,000 costs nothing measurable (LeNet batch-64 step 4.60 vs 4.76 ms,
  batch-1 inference 0.23 vs 0.22 ms), while 1,000 slows batch-1 inference to 0.29 ms and
  PASSIVE to 0.48 ms.
"""
import operator
import os

from tinytensor._kernels import _parallel

# The most threads set_num_threads accepts. libgomp builds a team of n threads with an alloca
# of n entries on the calling thread's stack and one OS thread each: 10**6 overflowed the
# stack (a segfault in the first parallel kernel). 1024 threads start and run correctly here.
MAX_THREADS = 1024

_num_threads = None
_blas_capped = False
# True in a child made by fork() (multiprocessing's "fork" start method, DataLoader workers):
# every kernel then runs on one thread. libgomp's thread pool does not survive fork (the child
# has only the forking thread), so a parallel region there waits forever for workers that no
# longer exist; a team of one never touches the pool.
_forked_child = False


def _after_fork_in_child():
    global _forked_child
    _forked_child = True
    _parallel.set_openmp_threads(1)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return min(int(env), MAX_THREADS)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_THREADS))


def _cap_blas_once():
    """Set every loaded BLAS to one thread (threadpoolctl finds NumPy's and SciPy's)."""
    global _blas_capped
    if _blas_capped:
        return
    _blas_capped = True
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")


def set_num_threads(n):
    """Set the number of threads every tinytensor kernel and GEMM may use (1 to MAX_THREADS).

    A bad value raises and leaves the setting as it was. In a child process made by fork()
    kernels run on one thread whatever the setting (see _forked_child).

        >>> tt.set_num_threads(2)
    """
    global _num_threads
    if isinstance(n, bool) or not hasattr(type(n), "__index__"):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    n = operator.index(n)
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    if n > MAX_THREADS:
        raise RuntimeError(f"set_num_threads expects at most {MAX_THREADS} threads, but got {n}")
    _parallel.set_openmp_threads(1 if _forked_child else n)
    _num_threads = n
    _cap_blas_once()


def get_num_threads():
    """The number of threads kernels use (``torch.get_num_threads``): 1 on a build without
    OpenMP or in a forked child.

    >>> tt.get_num_threads() >= 1
    True
    """
    if _num_threads is None:
        set_num_threads(_default_threads())
    if _forked_child or not _parallel.openmp_enabled():
        return 1
    return _num_threads
