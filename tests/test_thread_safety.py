"""Threads: concurrent training equals sequential training; thread counts never change results.

Kernels release the GIL inside their parallel loops, so four Python threads really run kernels
at the same time. Any scratch buffer shared between calls (conv and pool keep caches) would then
be written by two calls at once, and the weights would differ from a sequential run.
"""
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import tinytensor.optim as optim

# `python -c` children put the current directory on sys.path: from the repo root that is the
# source tree, without compiled modules. They run from this folder instead.
_HERE = os.path.dirname(os.path.abspath(__file__))

N_MODELS = 4
STEPS = 12


def _model():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, padding_mode="reflect"), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 8, 3, stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


def _setup():
    """Initial weights and data for each model, all made up front in the main thread."""
    states, data = [], []
    for i in range(N_MODELS):
        tt.manual_seed(100 + i)
        states.append({k: v.numpy().copy() for k, v in _model().state_dict().items()})
        data.append([(tt.randn(6, 1, 20, 20), tt.randint(0, 10, (6,))) for _ in range(3)])
    return states, data


def _train(state, batches, out, i):
    model = _model()
    model.load_state_dict({k: tt.from_numpy(v.copy()) for k, v in state.items()})
    opt = optim.Adam(model.parameters(), lr=1e-2) if i % 2 else \
        optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for s in range(STEPS):
        x, y = batches[s % len(batches)]
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    out[i] = {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_four_threads_train_like_one_after_another(threads):
    threads(2)
    states, data = _setup()
    sequential = [None] * N_MODELS
    for i in range(N_MODELS):
        _train(states[i], data[i], sequential, i)
    for attempt in range(3):          # three concurrent rounds: races are not always visible
        concurrent = [None] * N_MODELS
        errors = []

        def run(i):
            try:
                _train(states[i], data[i], concurrent, i)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
        workers = [threading.Thread(target=run, args=(i,)) for i in range(N_MODELS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        for i in range(N_MODELS):
            for k in sequential[i]:
                assert np.array_equal(sequential[i][k], concurrent[i][k]), \
                    f"round {attempt}: model {i} {k} differs between sequential and threaded"


def test_concurrent_calls_of_each_kernel(threads):
    """Many threads calling the same kernels on different shapes get their own answers."""
    threads(2)
    rng = np.random.default_rng(0)
    cases = []
    for j in range(8):
        h = 9 + j
        x = tt.from_numpy(rng.standard_normal((2, 3, h, h)).astype(np.float32))
        w = tt.from_numpy(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
        cases.append((x, w))

    def ops(x, w):
        xr = x.detach().requires_grad_(True)
        wr = w.detach().requires_grad_(True)
        y = F.conv2d(xr, wr, padding=1, stride=1 + (x.shape[-1] % 2))
        y = F.max_pool2d(y, 2, ceil_mode=True) + 0
        z = F.avg_pool2d(F.pad(xr, (1, 2, 1, 2), mode="reflect"), 3, stride=2)
        u = F.unfold(xr, 2)
        loss = y.sum() + (z * z).sum() + u.abs().sum() + (x.view(2, -1) @ x.view(2, -1).t()).sum()
        loss.backward()
        return [y.detach().numpy().copy(), z.detach().numpy().copy(), xr.grad.numpy().copy(),
                wr.grad.numpy().copy()]

    expected = [ops(x, w) for x, w in cases]
    got = [None] * len(cases)
    barrier = threading.Barrier(len(cases))

    def run(j):
        barrier.wait()
        for _ in range(5):
            got[j] = ops(*cases[j])
            for a, b in zip(got[j], expected[j]):
                if not np.array_equal(a, b):
                    got[j] = "mismatch"
                    return
    workers = [threading.Thread(target=run, args=(j,)) for j in range(len(cases))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(g != "mismatch" and g is not None for g in got)


def test_concurrent_big_pooling_scratch(threads):
    """Pool and pad recycle scratch above 32 MB across calls: threads must never share one."""
    threads(2)
    rng = np.random.default_rng(2)
    xs = [tt.from_numpy(rng.standard_normal((8, 32, 128, 128)).astype(np.float32))
          for _ in range(3)]

    def ops(x):
        xr = x.detach().requires_grad_(True)
        y = F.max_pool2d(xr, 2)
        z = F.avg_pool2d(xr, 3, stride=1, padding=1)
        p = F.pad(xr, (1, 1, 1, 1), mode="replicate")
        (y.sum() * 2 + (z * z).sum() + p[..., ::2, ::2].sum()).backward()
        return [y.detach().numpy().copy(), z.detach().numpy().copy(), xr.grad.numpy().copy()]

    expected = [ops(x) for x in xs]
    bad = []

    def run(j):
        for _ in range(2):
            for a, b in zip(ops(xs[j]), expected[j]):
                if not np.array_equal(a, b):
                    bad.append(j)
    workers = [threading.Thread(target=run, args=(j,)) for j in range(len(xs))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert bad == []


def _results():
    rng = np.random.default_rng(1)
    x = tt.from_numpy(rng.standard_normal((8, 16, 24, 24)).astype(np.float32)).requires_grad_()
    w = tt.from_numpy(rng.standard_normal((32, 16, 3, 3)).astype(np.float32)).requires_grad_()
    y = F.conv2d(x, w, padding=1)
    p = F.max_pool2d(y, 2)
    a = F.avg_pool2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), 3, stride=2)
    m = x.view(8, -1) @ x.view(8, -1).t()
    s = (y * y).sum() + p.mean() + a.sum() + m.sum() + x.exp().sum() + y.amax(dim=(2, 3)).sum()
    s.backward()
    outs = [y, p, a, m, s, x.sum(dim=(0, 2)), x.var(dim=1), F.softmax(y, dim=1)]
    return [o.detach().numpy().copy() for o in outs] + [x.grad.numpy().copy(),
                                                         w.grad.numpy().copy()]


def test_set_num_threads_never_changes_results(threads):
    reference = None
    for n in (1, 2, 3, 4, 1, 7):
        threads(n)
        got = _results()
        if reference is None:
            reference = got
            continue
        for i, (a, b) in enumerate(zip(reference, got)):
            assert np.array_equal(a, b), f"result {i} changed with {n} threads"


def test_matmul_leaves_blas_threads_alone(threads):
    """tinytensor's GEMMs never change the BLAS library's own thread setting (the user's)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    for n in (1, 2, 3):
        threads(n)
        for dtype in (tt.float32, tt.float64):
            tt.ones(64, 64, dtype=dtype) @ tt.ones(64, 64, dtype=dtype)
            tt.ones(256, 300, dtype=dtype) @ tt.ones(300, 200, dtype=dtype)
        after = [p["num_threads"] for p in threadpoolctl.threadpool_info()
                 if p["user_api"] == "blas"]
        assert after == before


OPENMP_PROBE = textwrap.dedent("""
    import json, os, sys, threading, time
    import numpy as np
    import tinytensor as tt, tinytensor.nn.functional as F

    def tasks():
        return len(os.listdir("/proc/self/task"))

    n = int(sys.argv[1])
    tt.set_num_threads(n)
    x = tt.randn(8, 32, 64, 64, requires_grad=True)
    w = tt.randn(32, 32, 3, 3, requires_grad=True)
    peak, stop = [0], threading.Event()
    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], tasks())
            time.sleep(0.0005)
    base = tasks()
    t = threading.Thread(target=sample)
    t.start()
    for _ in range(3):
        y = F.conv2d(x, w, padding=1)
        z = F.max_pool2d(F.pad(y, (1, 1, 1, 1), mode="reflect"), 3, stride=2)
        (z.sum() + (y * y).sum() + F.avg_pool2d(y, 2).sum() + y.exp().sum()).backward()
        (x.view(8, -1) @ x.view(8, -1).t()).sum()
    stop.set()
    t.join()
    print(json.dumps({"base": base, "peak": peak[0], "n": tt.get_num_threads()}))
""")


@pytest.mark.parametrize("n", [1, 2])
def test_openmp_threads_capped_at_get_num_threads(n):
    """With OMP_NUM_THREADS=8 in the environment, set_num_threads(n) still caps the pool."""
    env = dict(os.environ, OMP_NUM_THREADS="8", OPENBLAS_NUM_THREADS="8")
    res = subprocess.run([sys.executable, "-c", OPENMP_PROBE, str(n)], cwd=_HERE, capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    r = json.loads(res.stdout.strip().splitlines()[-1])
    assert r["n"] in (n, 1)             # 1: a build without OpenMP
    # the sampler thread itself is one task; OpenMP adds n - 1 workers to the calling thread.
    # Without the cap it would add 7. Margin: one more thread for any helper a runtime starts.
    extra = r["peak"] - r["base"] - 1
    assert extra <= (r["n"] - 1) + 1, r
