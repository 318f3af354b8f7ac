"""`torch.multiprocessing` for CPU scripts: the standard library's multiprocessing API.

PyTorch's module wraps Python's `multiprocessing` and adds shared-memory tensor passing and
`spawn`. tinytensor tensors pickle by value (their NumPy data), so the standard library's
`Process`, `Queue`, `Pool` ... work unchanged; they are re-exported here under PyTorch's names.

    import tinytensor.multiprocessing as mp
    mp.set_start_method("spawn", force=True)
    mp.spawn(worker, args=(queue,), nprocs=2)

Not provided: sharing strategies and tensors sent through a Queue sharing memory with the
sender (a received tensor is a copy).
"""
import multiprocessing as _mp
from multiprocessing import (Array, Barrier, BoundedSemaphore, Condition, Event,  # noqa: F401
                             JoinableQueue, Lock, Manager, Pipe, Pool, Process, ProcessError,
                             Queue, RLock, RawArray, RawValue, Semaphore, SimpleQueue,
                             TimeoutError, Value, active_children, cpu_count, current_process,
                             freeze_support, get_all_start_methods, get_context, get_logger,
                             get_start_method, log_to_stderr, parent_process, set_executable,
                             set_forkserver_preload, set_start_method)

__all__ = ["Array", "Barrier", "BoundedSemaphore", "Condition", "Event", "JoinableQueue", "Lock",
           "Manager", "Pipe", "Pool", "Process", "ProcessError", "Queue", "RLock", "RawArray",
           "RawValue", "Semaphore", "SimpleQueue", "TimeoutError", "Value", "active_children",
           "cpu_count", "current_process", "freeze_support", "get_all_start_methods",
           "get_context", "get_logger", "get_start_method", "log_to_stderr", "parent_process",
           "set_executable", "set_forkserver_preload", "set_start_method", "spawn",
           "start_processes", "ProcessContext", "ProcessRaisedException",
           "ProcessExitedException"]


class ProcessRaisedException(ProcessError):
    """A spawned process raised: the message holds its traceback (PyTorch's type and wording)."""

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, error_pid


class ProcessExitedException(ProcessError):
    """A spawned process exited with a non-zero code or a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, error_pid
        self.exit_code, self.signal_name = exit_code, signal_name


def _wrap(fn, i, args, error_queue):
    """Run fn(i, *args) in the child; send a traceback to the parent if it raises."""
    import traceback
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(traceback.format_exc())
        raise SystemExit(1)


class ProcessContext:
    """The processes `start_processes` made; `join()` waits and re-raises a child's error."""

    def __init__(self, processes, error_queues):
        self.processes, self.error_queues = processes, error_queues

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        """Wait (up to `timeout` seconds) until some process ends; True once all have ended.
        The first failure terminates the others and is raised here, as in PyTorch."""
        from multiprocessing.connection import wait
        running = [p.sentinel for p in self.processes if p.exitcode is None]
        if running:
            wait(running, timeout)
        codes = [p.exitcode for p in self.processes]        # one look: they change under us
        for i, (p, code) in enumerate(zip(self.processes, codes)):
            if code is None or code == 0:
                continue
            for other in self.processes:
                if other.is_alive():
                    other.terminate()
                other.join()
            q = self.error_queues[i]
            if not q.empty():
                raise ProcessRaisedException(
                    f"\n\n-- Process {i} terminated with the following error:\n{q.get()}", i,
                    p.pid)
            if code < 0:
                import signal
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {i} terminated with signal {name}", i,
                                             p.pid, code, name)
            raise ProcessExitedException(f"process {i} terminated with exit code {code}", i,
                                         p.pid, code)
        return all(code is not None for code in codes)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start `nprocs` processes running fn(i, *args), i = 0 .. nprocs - 1.

    Returns None once all finished (join=True), else a ProcessContext.
    """
    ctx = _mp.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """`torch.multiprocessing.spawn`: fn(i, *args) in `nprocs` fresh processes (start method
    'spawn'); a child's exception is re-raised in the parent with the child's traceback.

    Example:
        >>> import operator
        >>> import tinytensor.multiprocessing as mp
        >>> mp.spawn(operator.add, args=(10,), nprocs=2)   # add(rank, 10) in each child
    """
    if start_method != "spawn":
        import warnings
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t"
                      " torch.multiprocessing.start_processes(...)", FutureWarning, stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")


