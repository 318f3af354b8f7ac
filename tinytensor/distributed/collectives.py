"""The process group and its collectives, on mpi4py's non-blocking MPI calls.

Each collective starts a non-blocking MPI operation on a NumPy view of the tensor's memory and
returns a `Work`. `Work.wait()` polls the request until it completes or the group's timeout
passes: MPI's blocking calls would wait forever for a rank that died, and a poll also keeps
MPI's progress engine turning while other requests are in flight (DistributedDataParallel
tests its buckets from backward for the same reason).

mpi4py is imported only by `init_process_group`: importing it starts MPI.
"""
import datetime
import importlib.util
import sys
import time

import numpy as np

from tinytensor.tensor import Tensor

__all__ = ["ReduceOp", "Work", "is_available", "is_mpi_available", "init_process_group",
           "is_initialized", "destroy_process_group", "get_rank", "get_world_size",
           "get_backend", "all_reduce", "broadcast", "all_gather", "reduce", "gather", "scatter",
           "barrier"]

_DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)      # PyTorch's default for CPU backends


class ReduceOp:
    """How `all_reduce` and `reduce` combine the ranks' tensors (PyTorch's names)."""
    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"


class _Group:
    """The world: a private duplicate of MPI's world communicator, and the timeout."""

    def __init__(self, mpi, comm, timeout):
        self.mpi = mpi
        self.comm = comm
        self.timeout = timeout
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.previous_excepthook = None


_world = None


def is_available():
    """True when mpi4py can be imported (`pip install ".[distributed]"`). It does not start MPI.

    >>> import tinytensor.distributed as dist
    >>> isinstance(dist.is_available(), bool)
    True
    """
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


def is_initialized():
    """Whether `init_process_group` has been called (and not destroyed)."""
    return _world is not None


def _group():
    if _world is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _world


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the job that an MPI launcher started: rank and world size come from MPI.

    Args:
        backend: "mpi" (also "gloo", which PyTorch CPU scripts name: both run on MPI here).
            "nccl" needs GPUs and is refused.
        timeout: a `datetime.timedelta` after which a collective that has not completed
            raises RuntimeError (default 30 minutes, PyTorch's).
        world_size, rank: if given, they must agree with MPI's.
    init_method and store are accepted for PyTorch's signature; MPI needs neither.
    """
    global _world
    if _world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() not in ("mpi", "gloo", "cpu:mpi", "cpu:gloo"):
        raise RuntimeError(f"tinytensor.distributed runs on MPI (CPU only): backend "
                           f"'{backend}' is not available; use backend='mpi'")
    if timeout is None:
        timeout = _DEFAULT_TIMEOUT
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    if not is_available():
        raise RuntimeError('tinytensor.distributed needs mpi4py: pip install ".[distributed]"')
    from mpi4py import MPI
    comm = MPI.COMM_WORLD.Dup()
    group = _Group(MPI, comm, timeout.total_seconds())
    if world_size not in (-1, None) and world_size != group.size:
        raise ValueError(f"world_size={world_size} but MPI started {group.size} processes")
    if rank not in (-1, None) and rank != group.rank:
        raise ValueError(f"rank={rank} but MPI gave this process rank {group.rank}")
    _abort_on_unhandled_exception(group)
    _world = group


def _abort_on_unhandled_exception(group):
    """An exception that ends one rank ends the job: print it, then MPI_Abort (the other ranks
    would otherwise wait in their next collective until the timeout)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        group.comm.Abort(1)

    group.previous_excepthook = previous
    sys.excepthook = hook


def destroy_process_group(group=None):
    """Leave the group: later collectives raise until `init_process_group` is called again."""
    global _world
    g = _group()
    if sys.excepthook is not g.previous_excepthook and g.previous_excepthook is not None:
        sys.excepthook = g.previous_excepthook
    g.comm.Free()
    _world = None


def get_rank(group=None):
    """This process's rank, 0 .. world size - 1."""
    return _group().rank


def get_world_size(group=None):
    """The number of processes in the job."""
    return _group().size


def get_backend(group=None):
    _group()
    return "mpi"


# ------------------------------------------------------------------------------ requests

class Work:
    """A collective in flight (`async_op=True`); `wait()` completes it.

    `wait()` raises RuntimeError when the group's timeout (or `timeout`, seconds or a
    timedelta) passes first: the ranks that did not join are dead or elsewhere."""

    def __init__(self, group, request, finish=None, what="collective"):
        self._group = group
        self._request = request
        self._finish = finish
        self._what = what
        self._done = False

    def is_completed(self):
        """Whether the collective has finished (finishing it, without blocking, if it has)."""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def test(self):
        return self.is_completed()

    def wait(self, timeout=None):
        if self._done:
            return True
        if isinstance(timeout, datetime.timedelta):
            timeout = timeout.total_seconds()
        limit = self._group.timeout if timeout is None else float(timeout)
        start = time.monotonic()
        deadline = start + limit
        pause = 0.0
        while not self._request.Test():
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"tinytensor.distributed: {self._what} timed out after "
                                   f"{limit:g} s on rank {self._group.rank} of "
                                   f"{self._group.size}: another rank has failed or is not "
                                   f"taking part")
            # Spin for the first millisecond: collectives usually finish within microseconds,
            # and even the shortest sleep costs ~50 us of timer slack. Then back off to 1 ms.
            if now - start > 1e-3:
                pause = min(pause * 2 or 1e-5, 1e-3)
                time.sleep(pause)
        self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None


def _run(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


# ------------------------------------------------------------------------------ buffers

_DTYPES = {"float32", "float64", "int64"}


def _check(tensor, name, allow_bool=False):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}(): argument 'tensor' must be Tensor, not "
                        f"{type(tensor).__name__}")
    dt = tensor.dtype.name
    if dt not in _DTYPES and not (allow_bool and dt == "bool"):
        raise RuntimeError(f"{name}(): tensors of dtype {dt} are not supported; use float32, "
                           f"float64 or int64")


def _buffer(tensor):
    """(array, write_back): a contiguous NumPy array over the tensor's memory, and what makes
    the tensor hold the array's values afterwards (a copy back for non-contiguous tensors)."""
    view = tensor.detach()._numpy()
    if view.flags.c_contiguous:
        return view, tensor._bump_version
    arr = np.ascontiguousarray(view)

    def write_back():
        view[...] = arr
        tensor._bump_version()
    return arr, write_back


def _mpi_op(group, op):
    mpi = group.mpi
    ops = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD,
           ReduceOp.MIN: mpi.MIN, ReduceOp.MAX: mpi.MAX}
    if op not in ops:
        raise ValueError(f"unknown reduce op {op!r}; use tinytensor.distributed.ReduceOp")
    return ops[op]


def _then(*steps):
    def run():
        for step in steps:
            if step is not None:
                step()
    return run


def _average(arr, group, op, dtype_name):
    if op != ReduceOp.AVG:
        return None
    if dtype_name == "int64":
        raise RuntimeError("ReduceOp.AVG is not supported for int64 tensors")

    def divide():
        arr[...] /= group.size
    return divide


def _check_rank(group, rank, name):
    if not 0 <= rank < group.size:
        raise ValueError(f"{name}: rank {rank} is out of range for a world of {group.size}")


# ------------------------------------------------------------------------------ collectives

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over all ranks, in place, on every rank (SUM by default).

    Returns None, or a `Work` with `async_op=True`."""
    _check(tensor, "all_reduce")
    g = _group()
    arr, write_back = _buffer(tensor)
    avg = _average(arr, g, op, tensor.dtype.name)
    request = g.comm.Iallreduce(g.mpi.IN_PLACE, arr, _mpi_op(g, op))
    return _run(Work(g, request, _then(avg, write_back), "all_reduce"), async_op)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over all ranks into rank `dst`'s tensor (the others' are unchanged)."""
    _check(tensor, "reduce")
    g = _group()
    _check_rank(g, dst, "reduce")
    arr, write_back = _buffer(tensor)
    if g.rank == dst:
        avg = _average(arr, g, op, tensor.dtype.name)
        request = g.comm.Ireduce(g.mpi.IN_PLACE, arr, _mpi_op(g, op), root=dst)
        finish = _then(avg, write_back)
    else:
        _average(arr, g, op, tensor.dtype.name)                  # same checks on every rank
        request = g.comm.Ireduce(arr, None, _mpi_op(g, op), root=dst)
        finish = None
    return _run(Work(g, request, finish, "reduce"), async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank `src`'s tensor into every other rank's tensor (same shape and dtype)."""
    _check(tensor, "broadcast", allow_bool=True)
    g = _group()
    _check_rank(g, src, "broadcast")
    arr, write_back = _buffer(tensor)
    request = g.comm.Ibcast(arr, root=src)
    return _run(Work(g, request, write_back if g.rank != src else None, "broadcast"), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill `tensor_list[r]` with rank r's `tensor`, on every rank."""
    _check(tensor, "all_gather", allow_bool=True)
    g = _group()
    _check_list(tensor_list, tensor, g.size, "all_gather")
    send = np.ascontiguousarray(tensor.detach()._numpy())
    recv = np.empty((g.size,) + send.shape, dtype=send.dtype)
    request = g.comm.Iallgather(send, recv)
    return _run(Work(g, request, _scatter_rows(recv, tensor_list), "all_gather"), async_op)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Collect every rank's `tensor` into `gather_list` on rank `dst` (None elsewhere)."""
    _check(tensor, "gather", allow_bool=True)
    g = _group()
    _check_rank(g, dst, "gather")
    send = np.ascontiguousarray(tensor.detach()._numpy())
    if g.rank == dst:
        _check_list(gather_list, tensor, g.size, "gather")
        recv = np.empty((g.size,) + send.shape, dtype=send.dtype)
        request = g.comm.Igather(send, recv, root=dst)
        return _run(Work(g, request, _scatter_rows(recv, gather_list), "gather"), async_op)
    if gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    request = g.comm.Igather(send, None, root=dst)
    return _run(Work(g, request, None, "gather"), async_op)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank r's `tensor` receives `scatter_list[r]` from rank `src`."""
    _check(tensor, "scatter", allow_bool=True)
    g = _group()
    _check_rank(g, src, "scatter")
    arr, write_back = _buffer(tensor)
    if g.rank == src:
        _check_list(scatter_list, tensor, g.size, "scatter")
        send = np.ascontiguousarray(np.stack([t.detach()._numpy() for t in scatter_list]))
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                             "ranks.")
        send = None
    request = g.comm.Iscatter(send, arr, root=src)
    return _run(Work(g, request, write_back, "scatter"), async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached its barrier."""
    g = _group()
    return _run(Work(g, g.comm.Ibarrier(), None, "barrier"), async_op)


def _check_list(tensors, like, size, name):
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        raise ValueError(f"{name}(): expected a list of {size} tensors (one per rank)")
    for t in tensors:
        if not isinstance(t, Tensor) or t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(f"{name}(): every tensor in the list must have the shape "
                             f"{list(like.shape)} and dtype {like.dtype.name} of the input")


def _scatter_rows(rows, tensors):
    def copy():
        for row, t in zip(rows, tensors):
            t.detach()._numpy()[...] = row
            t._bump_version()
    return copy
