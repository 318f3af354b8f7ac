"""DataLoader with worker processes: the same batches as num_workers=0, seeding, errors,
dead workers, timeouts, persistent workers, cleanup (GC, exit, Ctrl-C, a killed parent), spawn.

Loaders run in this process get `timeout=`: a hung worker then fails the test with
"DataLoader timed out" instead of hanging the suite. What can hang or kill the whole process
(SIGKILL, SIGINT, exit) runs in a subprocess with a hard timeout.
"""
import gc
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import tinytensor as tt
from tinytensor.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                                   get_worker_info)

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="fork, /proc and signals as on Linux"),
              pytest.mark.filterwarnings("ignore:This DataLoader will create")]

GUARD = 30          # seconds: the in-process hang guard (DataLoader(timeout=...))
# where the tinytensor these tests import lives (installed, or a source tree built in place):
# children get it first on their path and run in tests/, so a source tree without compiled
# extensions at the current directory never shadows an installed package
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tt.__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))


class Images(Dataset):
    """Samples built with tinytensor ops, so workers run kernels (and collate stacks them)."""

    def __init__(self, n=37, side=16):
        self.n, self.side = n, side

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = tt.full((3, self.side, self.side), float(i)) * 2.0 + tt.ones(self.side)
        return img, i, {"square": i * i, "name": f"s{i}"}


class WhoAmI(Dataset):
    """Each sample says which process, worker and random streams produced it."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "id": -1 if info is None else info.id,
                "seed": -1 if info is None else info.seed, "py": random.random(),
                "np": float(np.random.rand()), "tt": tt.rand(1).item(),
                "init": _INIT_CALLS[:], "same": info is not None and info.dataset is self}


_INIT_CALLS = []


def _record_init(worker_id):
    _INIT_CALLS.append(worker_id)


def batches(loader):
    """A loader's epoch as plain Python values, for comparison."""
    out = []
    for img, idx, meta in loader:
        out.append((img.numpy().tolist(), idx.tolist(), meta["square"].tolist(), meta["name"]))
    return out


def alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def run_script(*parts, timeout=60, **kw):
    """Run the code `parts` in a fresh interpreter with this tree on the path (hard timeout)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = "\n".join(textwrap.dedent(p) for p in parts)
    kw.setdefault("cwd", HERE)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


# ---------------------------------------------------------------------------- same batches

@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("batch_size, drop_last, shuffle", [
    (1, False, False), (4, False, True), (5, True, True), (16, False, False), (64, True, False),
])
def test_same_batches_as_single_process(workers, batch_size, drop_last, shuffle):
    def load(num_workers):
        g = np.random.default_rng(7)
        kw = dict(timeout=GUARD) if num_workers else {}
        return batches(DataLoader(Images(), batch_size=batch_size, shuffle=shuffle,
                                  drop_last=drop_last, generator=g, num_workers=num_workers,
                                  **kw))
    expected = load(0)
    assert load(workers) == expected
    if batch_size == 64 and drop_last:
        assert expected == []


def test_same_batches_with_the_global_stream_over_epochs():
    def epochs(**kw):
        tt.manual_seed(123)
        loader = DataLoader(Images(20, 4), batch_size=6, shuffle=True, **kw)
        return [batches(loader) for _ in range(3)]
    expected = epochs()
    assert expected[0] != expected[1]
    assert epochs(num_workers=2, timeout=GUARD) == expected
    assert epochs(num_workers=2, timeout=GUARD, persistent_workers=True) == expected


def test_tensor_dataset_and_custom_samplers():
    x, y = tt.randn(50, 3), tt.arange(50)
    from tinytensor.utils.data import BatchSampler, WeightedRandomSampler
    for kw in (dict(batch_size=8, shuffle=True),
               dict(batch_sampler=BatchSampler(range(49, -1, -3), 4, False)),
               dict(batch_size=None),
               dict(batch_size=8, sampler=WeightedRandomSampler(np.ones(50), 30))):
        tt.manual_seed(5)
        ref = [[t.numpy().tolist() for t in b] for b in DataLoader(TensorDataset(x, y), **kw)]
        tt.manual_seed(5)
        got = [[t.numpy().tolist() for t in b]
               for b in DataLoader(TensorDataset(x, y), num_workers=2, timeout=GUARD, **kw)]
        assert got == ref and len(ref) > 0


def test_pin_memory_and_prefetch_change_nothing():
    ref = batches(DataLoader(Images(), batch_size=4))
    for pf in (1, 2, 5):
        loader = DataLoader(Images(), batch_size=4, num_workers=2, pin_memory=True,
                            prefetch_factor=pf, timeout=GUARD)
        assert batches(loader) == ref


def test_in_order_false_yields_every_batch():
    loader = DataLoader(Images(), batch_size=3, num_workers=2, in_order=False, timeout=GUARD)
    got = sorted(b[1] for b in batches(loader))
    assert got == sorted(b[1] for b in batches(DataLoader(Images(), batch_size=3)))


def test_workers_after_parent_ran_parallel_kernels(threads):
    """The parent runs multi-threaded kernels first; forked workers still compute."""
    threads(2)
    a = tt.randn(128, 128)
    (a @ a).sum().item()
    tt.nn.functional.conv2d(tt.randn(8, 3, 32, 32), tt.randn(8, 3, 5, 5)).sum().item()
    ref = batches(DataLoader(Images(16, 64), batch_size=8))
    assert batches(DataLoader(Images(16, 64), batch_size=8, num_workers=2,
                              timeout=GUARD)) == ref


def test_worker_asking_for_threads_after_parent_ran_parallel_kernels():
    """A worker_init_fn that sets 2 kernel threads, in a child forked from a parent whose
    OpenMP pool and matmul threads are running: the kernels must still finish (issue 9's fork
    fix). In a subprocess, as a regression would hang."""
    out = run_script("""
        import tinytensor as tt
        import tinytensor.nn.functional as F
        from tinytensor.utils.data import DataLoader, Dataset

        class Kernels(Dataset):
            def __len__(self):
                return 8
            def __getitem__(self, i):
                a = tt.full((96, 96), float(i))
                c = F.conv2d(tt.ones(1, 3, 32, 32), tt.ones(4, 3, 5, 5))
                return (a @ a).sum() + c.sum()

        def two_threads(worker_id):
            tt.set_num_threads(2)

        tt.set_num_threads(2)
        a = tt.randn(256, 256)
        (a @ a).sum().item()
        F.conv2d(tt.randn(8, 3, 32, 32), tt.randn(8, 3, 5, 5)).sum().item()
        ref = [b.tolist() for b in DataLoader(Kernels(), batch_size=4)]
        got = [b.tolist() for b in DataLoader(Kernels(), batch_size=4, num_workers=2,
                                              worker_init_fn=two_threads, timeout=30)]
        print("SAME", ref == got)
    """)
    assert out.returncode == 0, out.stderr
    assert "SAME True" in out.stdout


# ---------------------------------------------------------------------------- workers' state

def test_worker_info_seeds_and_init_fn():
    _INIT_CALLS.clear()
    assert get_worker_info() is None
    g = np.random.default_rng(99)
    loader = DataLoader(WhoAmI(), batch_size=None, num_workers=3, generator=g,
                        worker_init_fn=_record_init, timeout=GUARD)
    samples = list(loader)
    assert [s["i"] for s in samples] == list(range(12))
    by_worker = {}
    for s in samples:
        by_worker.setdefault(s["id"], []).append(s)
    assert sorted(by_worker) == [0, 1, 2]
    base = by_worker[0][0]["seed"]
    assert base == np.random.default_rng(99).integers(0, 1 << 63)     # drawn from `generator`
    for wid, ss in by_worker.items():
        first = ss[0]
        assert {s["pid"] for s in ss} == {first["pid"]} != {os.getpid()}
        assert first["seed"] == base + wid
        assert first["init"] == [wid]                                 # worker_init_fn(worker_id)
        assert first["same"]                                          # info.dataset: its copy
        assert first["py"] == random.Random(base + wid).random()      # random seeded
        tt.manual_seed(base + wid)
        assert first["tt"] == tt.rand(1).item()                       # tinytensor seeded
    assert len({ss[0]["np"] for ss in by_worker.values()}) == 3       # NumPy's differs per worker
    assert _INIT_CALLS == []                                          # never in the main process


def test_same_generator_seed_same_worker_seeds():
    def seeds(seed):
        loader = DataLoader(WhoAmI(), batch_size=None, num_workers=2, timeout=GUARD,
                            generator=np.random.default_rng(seed))
        return [(s["seed"], s["py"], s["np"], s["tt"]) for s in loader]
    assert seeds(1) == seeds(1) != seeds(2)


def test_persistent_workers_are_reused():
    loader = DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True,
                        timeout=GUARD)
    first = {int(p) for b in loader for p in b["pid"]}
    second = {int(p) for b in loader for p in b["pid"]}
    assert first == second and len(first) == 2 and os.getpid() not in first
    partial = iter(loader)
    next(partial)                           # abandon an epoch halfway: the next one is whole
    assert [b["i"].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    del loader, partial
    gc.collect()
    assert wait_gone(first, 10) == []


def test_new_workers_each_epoch_without_persistence():
    loader = DataLoader(WhoAmI(), batch_size=4, num_workers=2, timeout=GUARD)
    first = {int(p) for b in loader for p in b["pid"]}
    assert wait_gone(first, 10) == []       # an exhausted epoch stops its workers
    second = {int(p) for b in loader for p in b["pid"]}
    assert not first & second


def test_iterator_garbage_collected_mid_epoch_stops_workers():
    it = iter(DataLoader(WhoAmI(), batch_size=2, num_workers=2, timeout=GUARD))
    pids = {int(p) for p in next(it)["pid"]} | {int(p) for p in next(it)["pid"]}
    assert len(pids) == 2 and all(alive(p) for p in pids)
    del it
    gc.collect()
    assert wait_gone(pids, 10) == []


# ---------------------------------------------------------------------------- IterableDataset

class Stream(IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_sharded_by_worker_info():
    for workers in (1, 2, 3):
        loader = DataLoader(Stream(23), batch_size=4, num_workers=workers, timeout=GUARD)
        flat = [v for b in loader for v in b.tolist()]
        assert sorted(flat) == list(range(23))
    loader = DataLoader(Stream(23), batch_size=4, num_workers=2, timeout=GUARD)
    assert [b.tolist() for b in loader][:2] == [[0, 2, 4, 6], [1, 3, 5, 7]]   # round robin


def test_iterable_dataset_copies_and_drop_last():
    loader = DataLoader(Stream(5, shard=False), batch_size=2, num_workers=2, timeout=GUARD)
    assert sorted(v for b in loader for v in b.tolist()) == sorted(list(range(5)) * 2)
    loader = DataLoader(Stream(5, shard=False), batch_size=2, drop_last=True, num_workers=2,
                        timeout=GUARD)
    assert [b.tolist() for b in loader] == [[0, 1], [0, 1], [2, 3], [2, 3]]
    loader = DataLoader(Stream(7), batch_size=None, num_workers=3, persistent_workers=True,
                        timeout=GUARD)
    assert list(loader) == list(range(7)) and list(loader) == list(range(7))


# ---------------------------------------------------------------------------- errors

class Failing(Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 5:
            raise self.exc
        return i


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


def test_worker_exception_reraised_with_traceback():
    it = iter(DataLoader(Failing(ValueError("bad sample 5")), batch_size=2, num_workers=2,
                         timeout=GUARD))
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as info:
        next(it)
    text = str(info.value)
    assert text.startswith("Caught ValueError in DataLoader worker process 0.\n"
                           "Original Traceback (most recent call last):")
    assert "bad sample 5" in text and "in __getitem__" in text and "raise self.exc" in text
    assert next(it).tolist() == [6, 7]              # the loader goes on, as PyTorch's


def test_worker_exception_types():
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(DataLoader(Failing(KeyError("k")), batch_size=4, num_workers=2, timeout=GUARD))
    with pytest.raises(RuntimeError, match="Caught TwoArgError in DataLoader worker process"):
        list(DataLoader(Failing(TwoArgError(1, 2)), batch_size=4, num_workers=2, timeout=GUARD))


def _failing_init(worker_id):
    raise OSError(f"init failed in {worker_id}")


def test_worker_init_fn_error_and_unpicklable_batch():
    with pytest.raises(OSError, match="(?s)Caught OSError in DataLoader worker process 0.*"
                                      "init failed in 0"):
        next(iter(DataLoader(Images(), num_workers=2, worker_init_fn=_failing_init,
                             timeout=GUARD)))
    with pytest.raises(Exception, match="Caught .* in DataLoader worker process"):
        next(iter(DataLoader(Images(), num_workers=1, timeout=GUARD,
                             collate_fn=lambda b: (lambda: None))))


class MakesAClass(Dataset):
    """Returns an instance of a class that exists only in the worker's module namespace."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if "OnlyInWorker" not in globals():
            globals()["OnlyInWorker"] = type("OnlyInWorker", (), {"__module__": __name__})
        return globals()["OnlyInWorker"]()


def test_batch_that_cannot_be_unpickled_in_main():
    loader = DataLoader(MakesAClass(), batch_size=2, num_workers=1, collate_fn=list,
                        timeout=GUARD)
    with pytest.raises(RuntimeError, match="a batch from worker process 0 cannot be unpickled "
                                           "in the main process: AttributeError"):
        next(iter(loader))
    assert "OnlyInWorker" not in globals()


class Slow(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 2:
            time.sleep(1.0)
        return i


def test_timeout():
    it = iter(DataLoader(Slow(), batch_size=2, num_workers=1, timeout=0.3))
    assert next(it).tolist() == [0, 1]
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds"):
        next(it)
    assert time.monotonic() - start < 0.9


def test_killed_worker_raises_instead_of_hanging():
    out = run_script("""
        import os, signal, time
        from tinytensor.utils.data import DataLoader, Dataset

        class Killer(Dataset):
            def __len__(self):
                return 40
            def __getitem__(self, i):
                if i == 13:
                    os.kill(os.getpid(), signal.SIGKILL)
                return i

        loader = DataLoader(Killer(), batch_size=2, num_workers=2)
        start = time.monotonic()
        try:
            for b in loader:
                pass
        except RuntimeError as e:
            print("RAISED", e, round(time.monotonic() - start, 2))
    """)
    assert out.returncode == 0, out.stderr
    assert "RAISED DataLoader worker (pid(s) " in out.stdout
    assert "exited unexpectedly" in out.stdout
    assert float(out.stdout.split()[-1]) < 5.0


# ---------------------------------------------------------------------------- cleanup

_PIDS_SCRIPT = """
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)   # (as in test_interrupt.py)
    import tinytensor as tt
    from tinytensor.utils.data import DataLoader, Dataset

    class Pids(Dataset):
        def __len__(self):
            return 10_000
        def __getitem__(self, i):
            time.sleep(0.01)
            return tt.full((4, 4), float(os.getpid()), dtype=tt.float64)

    loader = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
    it = iter(loader)
    pids = {int(v) for _ in range(4) for v in next(it)[:, 0, 0].tolist()}
    print("PIDS", *sorted(pids), flush=True)
"""


def _pids(stdout):
    line = next(l for l in stdout.splitlines() if l.startswith("PIDS"))
    return [int(p) for p in line.split()[1:]]


def test_workers_stop_at_interpreter_exit():
    out = run_script(_PIDS_SCRIPT, "print('EXIT', flush=True)")
    assert out.returncode == 0, out.stderr
    pids = _pids(out.stdout)
    assert len(pids) == 2 and wait_gone(pids, 5) == []


def test_keyboard_interrupt_leaves_no_orphans():
    script = """
    def interrupt():
        time.sleep(0.3)
        os.killpg(os.getpgid(0), signal.SIGINT)        # Ctrl-C: the whole process group
    import threading
    threading.Thread(target=interrupt, daemon=True).start()
    try:
        for _ in it:
            pass
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
        alive = [p for p in pids if os.path.exists(f"/proc/{p}")]
        print("LEFT", alive, flush=True)
    """
    out = run_script(_PIDS_SCRIPT, script, start_new_session=True)
    assert "INTERRUPTED" in out.stdout, out.stderr
    assert "LEFT []" in out.stdout                # reaped before the handler even ran
    assert wait_gone(_pids(out.stdout), 5) == []


def test_workers_exit_when_the_main_process_is_killed():
    out = run_script(_PIDS_SCRIPT, "os.kill(os.getpid(), signal.SIGKILL)")
    assert out.returncode == -signal.SIGKILL
    pids = _pids(out.stdout)
    assert len(pids) == 2 and wait_gone(pids, 10) == []


# ---------------------------------------------------------------------------- spawn

def test_spawn():
    """Spawned workers (a fresh interpreter each): same order, same seeding as fork."""
    ref = [s["i"] for s in DataLoader(WhoAmI(), batch_size=None, shuffle=True,
                                      generator=np.random.default_rng(3))]
    samples = list(DataLoader(WhoAmI(), batch_size=None, shuffle=True, num_workers=2,
                              timeout=GUARD, multiprocessing_context="spawn",
                              generator=np.random.default_rng(3)))
    assert [s["i"] for s in samples] == ref and ref != sorted(ref)
    base = int(np.random.default_rng(3).integers(0, 1 << 63))    # the first draw, as PyTorch
    assert {(s["id"], s["seed"]) for s in samples} == {(0, base), (1, base + 1)}
    assert all(s["pid"] != os.getpid() for s in samples)


def test_forkserver_workers_outlive_an_idle_second():
    """A forkserver worker's parent is the server: idle past the parent check, it stays."""
    loader = DataLoader(Images(), batch_size=5, num_workers=2, persistent_workers=True,
                        multiprocessing_context="forkserver", timeout=GUARD)
    ref = batches(DataLoader(Images(), batch_size=5))
    assert batches(loader) == ref
    time.sleep(_worker_poll() + 0.3)
    assert batches(loader) == ref


def _worker_poll():
    from tinytensor.utils.data import _worker
    return _worker.POLL_INTERVAL
