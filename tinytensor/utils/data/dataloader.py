"""`DataLoader`: mini-batches from a dataset, in the main process or in worker processes.

    loader = DataLoader(dataset, batch_size=64, shuffle=True, num_workers=2)
    for x, y in loader:
        ...

With `num_workers=N > 0`, N processes (forked on Linux, like PyTorch; any start method through
`multiprocessing_context`) each build whole batches; the main process hands out the sampler's
batches round robin, keeps at most `prefetch_factor * N` of them in flight, and yields them in
the sampler's order: the same batches, in the same order, as `num_workers=0`.

The main process never waits blindly: it waits on the workers' pipes and on their process
handles at once, so a worker that dies is noticed at once ("DataLoader worker (pid(s) ...)
exited unexpectedly") and `timeout` bounds each wait. Workers stop when the epoch ends (or, with
`persistent_workers=True`, when the DataLoader goes away), when the iterator is garbage
collected, on KeyboardInterrupt and at interpreter exit; a worker whose main process is gone
exits by itself within a second.
"""
import multiprocessing
import multiprocessing.connection
import numbers
import os
import pickle
import sys
import time
import warnings
import weakref

import numpy as np

from tinytensor.utils.data._fetch import _InfiniteConstantSampler, make_fetcher
from tinytensor.utils.data._generator import check_generator, draw_seed
from tinytensor.utils.data._worker import worker_loop
from tinytensor.utils.data.collate import default_collate, default_convert
from tinytensor.utils.data.dataset import IterableDataset
from tinytensor.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader"]

# How long shutdown lets workers finish their current item before terminating them (seconds).
SHUTDOWN_GRACE = 2.0


def _default_context():
    """fork on Linux unless the program chose a start method (PyTorch uses Python's default,
    which is fork on Linux); the platform default elsewhere."""
    if multiprocessing.get_start_method(allow_none=True) is None and \
            sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


class DataLoader:
    """Iterates over a dataset in mini-batches, as `torch.utils.data.DataLoader`.

    Args:
        dataset: a map-style dataset (`__getitem__`, `__len__`) or an `IterableDataset`.
        batch_size (int or None): samples per batch (default 1); None yields samples one by one
            (converted by `default_convert`, not batched).
        shuffle (bool): a new random order every epoch (map-style datasets only).
        sampler (Sampler or iterable): the indices to read, instead of shuffle's.
        batch_sampler (Sampler or iterable): yields lists of indices; excludes batch_size,
            shuffle, sampler and drop_last.
        num_workers (int): worker processes (default 0: load in the main process).
        collate_fn (callable): merges a list of samples (default `default_collate`).
        pin_memory (bool): accepted for compatibility; tinytensor runs on the CPU, where pinned
            memory means nothing, so it does nothing.
        drop_last (bool): drop the last batch when it is smaller than `batch_size`.
        timeout (float): with workers, raise RuntimeError if a batch takes longer than this
            many seconds to arrive (default 0: wait as long as the workers live).
        worker_init_fn (callable): called as `worker_init_fn(worker_id)` in each worker, after
            seeding and before any loading.
        multiprocessing_context (str or context): the start method ("fork", "spawn",
            "forkserver") or a `multiprocessing` context; default fork on Linux.
        generator (numpy.random.Generator): the random stream for shuffling and for the
            workers' base seed (default tinytensor's, so `tt.manual_seed` makes runs repeatable).
        prefetch_factor (int): batches in flight per worker (default 2 with workers; 0 is
            taken as 1).
        persistent_workers (bool): keep the workers between epochs.
        pin_memory_device (str): accepted and ignored, as pin_memory.
        in_order (bool): yield batches in the sampler's order (default); False yields them as
            they are ready.

    Seeding: every epoch draws a base seed from `generator` (also without workers, so the
    shuffled orders are the same for any `num_workers`); worker `i` seeds Python's `random`
    and tinytensor's stream with `base_seed + i` and NumPy's legacy global stream with a hash
    of both, and `get_worker_info().seed` tells it. Persistent workers are seeded once.

    Raises:
        ValueError / TypeError: PyTorch's, for options that are out of range or that exclude
            each other; TypeError for a dataset without `__getitem__` / `__len__`.

    Example:
        >>> from tinytensor.utils.data import TensorDataset
        >>> x, y = tt.randn(100, 1, 28, 28), tt.randint(0, 10, (100,))
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=2)
        >>> [tuple(xb.shape) for xb, yb in loader]
        [(64, 1, 28, 28), (36, 1, 28, 28)]
    """

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral):
            raise TypeError(f"DataLoader: num_workers must be an int, got "
                            f"{type(num_workers).__name__}")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if not isinstance(timeout, numbers.Real) or isinstance(timeout, bool):
            raise TypeError(f"DataLoader: timeout must be a number, got {type(timeout).__name__}")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and (isinstance(prefetch_factor, bool) or
                                              not isinstance(prefetch_factor, numbers.Integral)):
            raise TypeError(f"DataLoader: prefetch_factor must be an int, got "
                            f"{type(prefetch_factor).__name__}")
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if shuffle is not None and not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"DataLoader: shuffle must be a bool, got {type(shuffle).__name__}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError("DataLoader: worker_init_fn must be callable, got "
                            f"{type(worker_init_fn).__name__}")
        check_generator(generator, "DataLoader")

        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._iterable = True
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            self._iterable = False
            shuffle = bool(shuffle)
            needs_len = sampler is None and batch_sampler is None
            if not hasattr(dataset, "__getitem__") or (needs_len and not hasattr(dataset,
                                                                                   "__len__")):
                raise TypeError("DataLoader: dataset must define __getitem__ and __len__, got "
                                f"{type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = bool(persistent_workers)
        self._iterator = None
        self._initialized = True
        self._check_worker_number()

    # -- options PyTorch freezes after construction, and the start method

    def __setattr__(self, name, value):
        if self._initialized and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def _check_worker_number(self):
        cpus = _usable_cpus()
        if cpus and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get "
                          "DataLoader running slow or even freeze, lower the worker number to "
                          "avoid potential slowness/freeze if necessary.", stacklevel=3)

    # -- iteration

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if self.persistent_workers:
            if self._iterator is None or self._iterator._pool.closed:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator._reset(self)
            return self._iterator
        return _MultiProcessIter(self)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


class _SingleProcessIter:
    """num_workers=0: fetch each batch in the calling process."""

    def __init__(self, loader):
        draw_seed(loader.generator)     # as PyTorch, and as the multi-process iterator does
        self._index_sampler = loader._index_sampler
        self._sampler_iter = iter(self._index_sampler)
        self._fetcher = make_fetcher(loader.dataset, loader._auto_collation, loader.collate_fn,
                                     loader.drop_last)

    def __iter__(self):
        return self

    def __next__(self):
        return self._fetcher.fetch(next(self._sampler_iter))

    def __len__(self):
        return len(self._index_sampler)


class _WorkerPool:
    """The worker processes and their channels; `shutdown()` is idempotent and holds no
    reference to the iterator, so a weakref.finalize can call it when the iterator dies."""

    def __init__(self, loader, ctx, base_seed):
        self.owner = os.getpid()
        self.closed = False
        self.procs, self.queues, self.readers = [], [], []
        n = loader.num_workers
        try:
            for wid in range(n):
                q = ctx.Queue()
                q.cancel_join_thread()          # never block exit on an unread task
                reader, writer = ctx.Pipe(duplex=False)
                p = ctx.Process(target=worker_loop, daemon=True,
                                args=(loader.dataset, q, writer, loader._auto_collation,
                                      loader.collate_fn, loader.drop_last, base_seed,
                                      loader.worker_init_fn, wid, n))
                self.queues.append(q)
                self.readers.append(reader)
                try:
                    p.start()
                finally:
                    writer.close()              # the worker holds the only write end
                self.procs.append(p)
        except BaseException:
            self.shutdown()
            raise

    def receive(self, timeout):
        """The next message from any worker: (task_id, kind, payload).

        Raises:
            RuntimeError: a worker died ("exited unexpectedly"), or `timeout` > 0 seconds
                passed without a message ("DataLoader timed out after ...").
        """
        deadline = time.monotonic() + timeout if timeout > 0 else None
        by_handle = {}
        for wid, (p, r) in enumerate(zip(self.procs, self.readers)):
            by_handle[r] = wid
            by_handle[p.sentinel] = wid
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
            ready = multiprocessing.connection.wait(list(by_handle), timeout=remaining)
            exited = []
            for handle in ready:
                wid = by_handle[handle]
                reader = self.readers[wid]
                if handle is reader or reader.poll():   # read what a worker sent before dying
                    try:
                        blob = reader.recv_bytes()
                    except EOFError:
                        exited.append(wid)
                        continue
                    try:
                        return pickle.loads(blob)
                    except Exception as e:
                        self.shutdown()         # a task will never be answered: stop here
                        raise RuntimeError(f"DataLoader: a batch from worker process {wid} "
                                           f"cannot be unpickled in the main process: "
                                           f"{type(e).__name__}: {e}") from e
                exited.append(wid)
            if exited:
                pids = ", ".join(str(self.procs[w].pid) for w in sorted(set(exited)))
                self.shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")

    def shutdown(self):
        if self.closed or os.getpid() != self.owner:    # a forked child's copy does nothing
            return
        self.closed = True
        for q in self.queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for r in self.readers:          # a worker blocked writing a batch gets EPIPE
            r.close()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            if p.is_alive():            # busy in a slow __getitem__: stop it
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join()
        for q in self.queues:
            q.close()


class _MultiProcessIter:
    """num_workers > 0: batches built by worker processes, yielded in the sampler's order."""

    def __init__(self, loader):
        ctx = loader.multiprocessing_context or _default_context()
        self._persistent = loader.persistent_workers
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._num_workers = loader.num_workers
        self._max_tasks = max(1, loader.prefetch_factor) * loader.num_workers
        self._iterable = loader._iterable
        self._next_task = 0
        self._pool = _WorkerPool(loader, ctx, draw_seed(loader.generator))
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._start_epoch(loader)

    def _reset(self, loader):
        """A persistent iterator's next epoch."""
        draw_seed(loader.generator)     # keep the random stream as num_workers=0 leaves it
        if self._iterable:
            for q in self._pool.queues:
                q.put(("reset",))
        self._start_epoch(loader)

    def _start_epoch(self, loader):
        self._index_sampler = loader._index_sampler     # not the loader: no reference cycle
        self._sampler_iter = iter(self._index_sampler)
        self._sampler_done = False
        self._tasks = {}            # task id -> worker id: sent, not yet yielded or skipped
        self._results = {}          # task id -> (kind, payload): arrived before its turn
        self._next_yield = self._next_task
        self._active = [True] * self._num_workers   # False: its IterableDataset is exhausted
        self._worker_cycle = 0
        self._fill()

    def _fill(self):
        """Hand out batches round robin until `prefetch_factor * num_workers` are in flight."""
        while not self._sampler_done and not self._pool.closed:
            live = sum(1 for w in self._tasks.values() if self._active[w])
            if live >= self._max_tasks:
                return
            for _ in range(self._num_workers):
                wid = self._worker_cycle
                self._worker_cycle = (wid + 1) % self._num_workers
                if self._active[wid]:
                    break
            else:
                return
            try:
                index = next(self._sampler_iter)
            except StopIteration:
                self._sampler_done = True
                return
            self._pool.queues[wid].put((self._next_task, index))
            self._tasks[self._next_task] = wid
            self._next_task += 1

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._index_sampler)

    def __next__(self):
        if self._pool.closed:
            raise StopIteration
        try:
            return self._next()
        except KeyboardInterrupt:
            self._pool.shutdown()
            raise

    def _skip_finished(self):
        """Step past tasks that will never be answered (their worker's IterableDataset ended)
        or were already yielded out of order."""
        while self._next_yield < self._next_task:
            tid = self._next_yield
            wid = self._tasks.get(tid)
            if wid is not None and (tid in self._results or self._active[wid]):
                return
            self._tasks.pop(tid, None)
            self._results.pop(tid, None)
            self._next_yield += 1

    def _next(self):
        while True:
            self._skip_finished()
            if self._next_yield == self._next_task:
                self._fill()
                self._skip_finished()
                if self._next_yield == self._next_task:       # the epoch is over
                    if not self._persistent:
                        self._pool.shutdown()
                    raise StopIteration
            if self._next_yield in self._results:
                return self._deliver(self._next_yield)
            if not self._in_order and self._results:
                return self._deliver(next(iter(self._results)))
            tid, kind, payload = self._pool.receive(self._timeout)
            if tid not in self._tasks:          # from an epoch abandoned earlier
                continue
            if kind == "stop":
                self._active[self._tasks.pop(tid)] = False
                continue
            self._results[tid] = (kind, payload)

    def _deliver(self, tid):
        kind, payload = self._results.pop(tid)
        del self._tasks[tid]
        if tid == self._next_yield:
            self._next_yield += 1
        self._fill()
        if kind == "error":
            payload.reraise()
        return payload
