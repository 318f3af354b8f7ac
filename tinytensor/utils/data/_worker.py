"""What runs inside a DataLoader worker process, and `get_worker_info()`.

A worker owns two channels to the main process, shared with no other worker:
- an index queue (multiprocessing.Queue) it reads tasks from: `(task_id, index)`, `("reset",)`
  (a persistent worker starting a new epoch of an IterableDataset) or None (exit);
- the write end of a pipe it sends `(task_id, kind, payload)` on, pickled in the worker's main
  thread and written by a sender thread, so the worker computes the next batch while the main
  process has not read the last one yet (up to the prefetch limit the main process enforces).
  The main process holds only the read end, so a worker that dies shows as EOF, never as a
  half-read message waiting forever.

Kinds: "data" (a batch), "error" (an _ExceptionWrapper), "stop" (the IterableDataset is
exhausted for this worker).
"""
import os
import pickle
import queue
import random
import sys
import threading
import traceback

import numpy as np

from tinytensor._threads import set_num_threads
from tinytensor.random import manual_seed
from tinytensor.utils.data._fetch import make_fetcher

# How often an idle worker checks that its main process is still alive (seconds).
POLL_INTERVAL = 1.0

_worker_info = None


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker.

    Attributes:
        id (int): this worker's id, 0 to num_workers - 1.
        num_workers (int): how many workers the DataLoader started.
        seed (int): the seed this worker's random streams were given (base_seed + id).
        dataset: this worker's own copy of the dataset.

    >>> tt.utils.data.get_worker_info() is None  # in the main process
    True
    """

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """In a DataLoader worker process, its `WorkerInfo`; in the main process, None.

    Example (shard an IterableDataset between workers):
        >>> def __iter__(self):
        ...     info = get_worker_info()
        ...     start, step = (0, 1) if info is None else (info.id, info.num_workers)
        ...     return iter(self.items[start::step])
    """
    return _worker_info


class _KeyErrorMessage(str):
    """KeyError shows repr(arg); this str's repr is itself, so the traceback text stays readable."""

    def __repr__(self):
        return self


class _ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as type + traceback text."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.type_name = exc_type.__name__
        self.where = where
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        try:                          # a class the main process can import back, or None
            pickle.loads(pickle.dumps(exc_type))
            self.exc_type = exc_type
        except Exception:
            self.exc_type = None

    def reraise(self):
        """Raise it in the main process: "Caught X in DataLoader worker process N. Original
        Traceback ...", as the same type when it can be built from one message (else
        RuntimeError), as PyTorch does."""
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        if self.exc_type is None:
            raise RuntimeError(msg)
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exc


class _Sender:
    """Writes pickled results to the main process from a thread of the worker."""

    def __init__(self, conn):
        self._conn = conn
        self._pending = queue.Queue()
        self.broken = False             # the main process closed its end (or is gone)
        self._thread = threading.Thread(target=self._run, name="tt-data-sender", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            blob = self._pending.get()
            if blob is None:
                return
            try:
                self._conn.send_bytes(blob)
            except OSError:
                self.broken = True
                return

    def send(self, message):
        self._pending.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def close(self):
        self._pending.put(None)
        self._thread.join()
        self._conn.close()


def _seed_everything(base_seed, worker_id):
    """Seed this worker's random streams as PyTorch does: Python's `random` and tinytensor's
    with base_seed + worker_id, NumPy's legacy global one with a hash of both (so the three
    streams differ)."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32])
                   .generate_state(4))
    return seed


def worker_loop(dataset, index_queue, conn, auto_collation, collate_fn, drop_last, base_seed,
                init_fn, worker_id, num_workers):
    """The body of worker process `worker_id` (its target; it returns to exit)."""
    global _worker_info
    # The main process, or forkserver's server: when it dies, this process is re-parented.
    parent_pid = os.getppid()

    sender = _Sender(conn)
    try:
        # One kernel thread per worker, as PyTorch: the workers already run in parallel.
        # (A forked child is serial anyway, see _threads.py; a spawned one would not be.)
        set_num_threads(1)
        seed = _seed_everything(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = _ExceptionWrapper(where)
        while not sender.broken:
            try:
                task = index_queue.get(timeout=POLL_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid:          # the parent is gone
                    break
                continue
            if task is None:
                break
            if task[0] == "reset":                      # a persistent worker's new epoch
                if init_error is None:
                    try:
                        fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
                    except Exception:
                        init_error = _ExceptionWrapper(where)
                continue
            task_id, index = task
            if init_error is not None:
                sender.send((task_id, "error", init_error))
                continue
            try:
                message = (task_id, "data", fetcher.fetch(index))
            except StopIteration:
                message = (task_id, "stop", None)
            except Exception:
                message = (task_id, "error", _ExceptionWrapper(where))
            try:
                sender.send(message)
            except Exception:           # a batch that cannot be pickled
                sender.send((task_id, "error", _ExceptionWrapper(where)))
            del message                 # do not keep a batch alive while waiting
    except KeyboardInterrupt:
        pass                            # Ctrl-C reaches the main process too; it cleans up
    finally:
        sender.close()
