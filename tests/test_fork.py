"""fork() after threads have run (issue 9, items 5 and 6): the child must work, never hang.

libgomp's thread pool and matmul's ThreadPoolExecutor do not survive fork(): the child has only
the forking thread. Each test runs its script in a fresh interpreter with a timeout, so a hang
fails the test instead of stalling the suite.
"""
import os
import textwrap

import pytest

from childproc import check_python

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")

# Work that reaches every threaded path: OpenMP kernels (conv, pool, pad, reductions,
# elementwise) and matmul's worker pool (a product large enough to be cut into pieces).
WORK = textwrap.dedent("""
    import numpy as np
    import tinytensor as tt, tinytensor.nn.functional as F

    def work():
        g = np.random.default_rng(0)
        x = tt.tensor(g.standard_normal((4, 8, 40, 40)), dtype=tt.float32, requires_grad=True)
        w = tt.tensor(g.standard_normal((8, 8, 3, 3)), dtype=tt.float32, requires_grad=True)
        a = tt.tensor(g.standard_normal((600, 600)), requires_grad=True)
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), w)
        z = F.max_pool2d(y, 2).sum() + F.avg_pool2d(y, 2).sum() + (y * 0.01).exp().mean()
        m = (a @ a).sum()
        (z + m).backward()
        return [t.detach().numpy().copy() for t in (y, z, m, x.grad, w.grad, a.grad)]
""")


def _run(body, timeout=120):
    return check_python(WORK + textwrap.dedent(body), timeout=timeout)


def test_fork_child_after_parallel_kernels_and_matmul():
    """os.fork() after the parent ran every threaded path: the child runs them all again
    (serially) and gets the parent's results bitwise."""
    out = _run("""
        import os, pickle
        tt.set_num_threads(2)
        parent = work()
        r, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                got = work()
                ok = all(np.array_equal(p, c) for p, c in zip(parent, got))
                os.write(wfd, pickle.dumps((ok, tt.get_num_threads())))
            finally:
                os._exit(0)
        os.close(wfd)
        data = b""
        while chunk := os.read(r, 65536):
            data += chunk
        os.waitpid(pid, 0)
        ok, n_child = pickle.loads(data)
        assert ok, "child results differ from the parent's"
        assert n_child == 1, n_child
        assert tt.get_num_threads() in (2, 1)  # the parent keeps its setting (1: no OpenMP)
        assert all(np.array_equal(p, c) for p, c in zip(parent, work()))
        print("done")
    """)
    assert "done" in out


def test_multiprocessing_fork_pool_after_threads():
    """A multiprocessing 'fork' pool (what DataLoader workers use) after threaded work, with
    set_num_threads called in the workers too."""
    out = _run("""
        import multiprocessing as mp

        def job(i):
            tt.set_num_threads(2)           # accepted; the child still runs serially
            return [float(v.sum()) for v in work()]

        if __name__ == "__main__":
            tt.set_num_threads(2)
            parent = [float(v.sum()) for v in work()]
            with mp.get_context("fork").Pool(2) as pool:
                got = pool.map(job, range(2))
            assert got == [parent, parent], (got, parent)
            print("done")
    """)
    assert "done" in out


def test_fork_from_a_thread_while_another_runs_matmul():
    """fork() from a secondary thread while the main thread keeps multiplying: the child's
    matmul pool starts afresh and its first product completes."""
    out = _run("""
        import os, threading
        tt.set_num_threads(2)
        work()
        a = tt.randn(700, 700)
        stop, statuses = threading.Event(), []
        def forker():
            for _ in range(3):
                pid = os.fork()
                if pid == 0:
                    b = (a @ a).sum() + work()[1].sum()
                    os._exit(0 if np.isfinite(float(b)) else 3)
                statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
            stop.set()
        t = threading.Thread(target=forker)
        t.start()
        while not stop.is_set():
            (a @ a).sum()
        t.join()
        assert statuses == [0, 0, 0], statuses
        print("done")
    """)
    assert "done" in out
