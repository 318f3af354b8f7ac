"""One thread setting for every kernel: `tt.set_num_threads(n)`.

The policy, in one place:
- OpenMP kernels run `prange(..., num_threads=n)` with n = get_num_threads(). Every kernel
  passes n itself, so tinytensor never sets OpenMP's process-wide default (omp_set_num_threads
  would also change it for any other library sharing the same libgomp).
- GEMMs (matmul, linear, convolutions) run on tinytensor's own kernels where it has one for
  the dtype, their work split by the shapes alone, so results are bitwise identical for any
  thread count and at most n threads compute (see tinytensor/_functions/matmul.py). The rest
  (small products, float64 until the kernels have a float64 GEMM) calls NumPy's BLAS at the
  BLAS's own thread setting, which tinytensor leaves alone.
- Nothing here touches what tinytensor does not own: importing it leaves the environment,
  NumPy's BLAS threads and OpenMP's defaults as they were. (Earlier versions capped every
  BLAS at one thread with threadpoolctl and set GOMP_SPINCOUNT in os.environ at import; a
  user's NumPy matmul then ran on one thread, and every child process inherited the setting.)
- Idle OpenMP workers spin-wait before they sleep (libgomp's default: up to 300,000 rounds).
  On a machine busy with other processes, a worker spinning on a core another process needs
  stalls the next barrier: on the shared 2-core Zen 5 at load 7-12, a LeNet batch-64 training
  step on 2 threads took 465-497 ms at libgomp's default and 63-72 ms with
  GOMP_SPINCOUNT=10000 (benchmarks/bench_lenet.py; on a quiet machine 10,000 costs nothing
  measurable). libgomp reads GOMP_SPINCOUNT and OMP_WAIT_POLICY once, when it loads, and they
  are the user's: a user who shares cores starts Python with GOMP_SPINCOUNT=10000 (README).
  tinytensor sets neither. (Setting it in os.environ at import, as before, leaked it into
  every child process and into any other library on the same libgomp.)
"""
import operator
import os

from tinytensor._kernels import _parallel

# The most threads set_num_threads accepts. libgomp builds a team of n threads with an alloca
# of n entries on the calling thread's stack and one OS thread each: 10**6 overflowed the
# stack (a segfault in the first parallel kernel). 1024 threads start and run correctly here.
MAX_THREADS = 1024

_num_threads = None
# True in a child made by fork() (multiprocessing's "fork" start method, DataLoader workers):
# every kernel then runs on one thread. libgomp's thread pool does not survive fork (the child
# has only the forking thread), so a parallel region there waits forever for workers that no
# longer exist; a team of one never touches the pool.
_forked_child = False


def _after_fork_in_child():
    global _forked_child
    _forked_child = True


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
    _num_threads = n


def get_num_threads():
    """The number of threads kernels use (``torch.get_num_threads``): 1 on a build without
    OpenMP or in a forked child.

    >>> tt.get_num_threads() >= 1
    True
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads()
    if _forked_child or not _parallel.openmp_enabled():
        return 1
    return _num_threads
