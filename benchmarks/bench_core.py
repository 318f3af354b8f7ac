"""Core benchmark: tinytensor vs NumPy (and PyTorch when installed) at 1 and 2 threads.

Run on a quiet machine, one benchmark at a time:

    flock /tmp/bench.lock python benchmarks/bench_core.py [--repeats N]

Cases (float32): `a + b` and `a * b` on 1M elements, contiguous and broadcasting a
(1000, 1000) with a (1000,) row; `sum` over all elements and over one dim of a (1000, 1000);
`matmul` 1024 x 1024; per-op overhead of `a + b` on two 1-element tensors that require grad,
forward plus backward. The libraries alternate inside one process (each repeat times every
library once, in turn), many repeats, and the table shows medians and median ratios.
Targets (issue 2): elementwise and reductions within 1.2x NumPy, matmul within 1.1x NumPy,
per-op overhead at most PyTorch's.

At 2 threads three thread pools share the cores (tinytensor's libgomp, PyTorch's own libgomp,
OpenBLAS); with libgomp's default spin-waiting, threads of one library spin while the next
library runs, and on a machine with other load the 2-thread numbers swing by 10-100x.
`GOMP_SPINCOUNT=10000` (both libgomps read it) makes them repeatable; the header prints the
environment and the load average.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

import tinytensor as tt

try:
    import torch
except ImportError:
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


def _timer(fn, inner):
    def run():
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner
    return run


def make_cases():
    rng = np.random.default_rng(0)
    a1 = rng.standard_normal(1_000_000).astype(np.float32)
    b1 = rng.standard_normal(1_000_000).astype(np.float32)
    m = rng.standard_normal((1000, 1000)).astype(np.float32)
    row = rng.standard_normal(1000).astype(np.float32)
    g1 = rng.standard_normal((1024, 1024)).astype(np.float32)
    g2 = rng.standard_normal((1024, 1024)).astype(np.float32)

    T = tt.from_numpy
    ta1, tb1, tm, trow, tg1, tg2 = T(a1), T(b1), T(m), T(row), T(g1), T(g2)
    cases = []

    def case(name, inner, np_fn, tt_fn, torch_fn):
        cases.append((name, inner, {"tinytensor": tt_fn, "numpy": np_fn, "torch": torch_fn}))

    if torch is not None:
        pa1, pb1, pm, prow, pg1, pg2 = (torch.from_numpy(x) for x in (a1, b1, m, row, g1, g2))
    else:
        pa1 = pb1 = pm = prow = pg1 = pg2 = None

    def P(fn):
        return fn if torch is not None else None

    case("add 1M", 20, lambda: a1 + b1, lambda: ta1 + tb1, P(lambda: pa1 + pb1))
    case("mul 1M", 20, lambda: a1 * b1, lambda: ta1 * tb1, P(lambda: pa1 * pb1))
    case("add (1000,1000)+(1000,)", 20, lambda: m + row, lambda: tm + trow, P(lambda: pm + prow))
    case("mul (1000,1000)*(1000,)", 20, lambda: m * row, lambda: tm * trow, P(lambda: pm * prow))
    case("sum all (1000,1000)", 50, lambda: m.sum(), lambda: tm.sum(), P(lambda: pm.sum()))
    case("sum dim0 (1000,1000)", 50, lambda: m.sum(0), lambda: tm.sum(0), P(lambda: pm.sum(0)))
    case("sum dim1 (1000,1000)", 50, lambda: m.sum(1), lambda: tm.sum(1), P(lambda: pm.sum(1)))
    case("matmul 1024^2", 3, lambda: g1 @ g2, lambda: tg1 @ tg2, P(lambda: pg1 @ pg2))

    # per-op overhead: forward + backward of a + b on 1-element tensors requiring grad
    x, y = tt.tensor([1.0], requires_grad=True), tt.tensor([2.0], requires_grad=True)
    if torch is not None:
        px, py = torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    case("overhead add fwd+bwd (1 elem)", 500, lambda: na + nb,   # NumPy: forward only, for scale
         lambda: (x + y).backward(), P(lambda: (px + py).backward()))
    return cases


def set_threads(n):
    tt.set_num_threads(n)            # tinytensor's kernels and GEMMs (it leaves BLAS alone)
    if threadpool_limits is not None:
        threadpool_limits(n, user_api="blas")      # the NumPy column's matmul at n threads too
    if torch is not None:
        torch.set_num_threads(n)


def bench(cases, repeats):
    results = {}
    for name, inner, fns in cases:
        timers = {lib: _timer(fn, inner) for lib, fn in fns.items() if fn is not None}
        for t in timers.values():    # warm up: first calls, page faults, thread pools
            t()
        samples = {lib: [] for lib in timers}
        for _ in range(repeats):
            for lib, t in timers.items():
                samples[lib].append(t())
        results[name] = {lib: statistics.median(s) for lib, s in samples.items()}
    return results


def fmt(t):
    return f"{t * 1e6:9.1f} us" if t < 1e-3 else f"{t * 1e3:9.3f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
                                                    "OMP_NUM_THREADS") if k in os.environ)
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}, "
          f"python {sys.version.split()[0]}, openmp {tt._kernels._parallel.openmp_enabled()}, "
          f"env: {env or 'default'}, load average {os.getloadavg()[0]:.2f}")
    cases = make_cases()
    for n in args.threads:
        set_threads(n)
        res = bench(cases, args.repeats)
        print(f"\n## {n} thread(s), medians of {args.repeats} alternating repeats")
        print(f"| case | tinytensor | numpy | torch | tt/numpy | tt/torch |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, r in res.items():
            t_tt, t_np, t_pt = r["tinytensor"], r["numpy"], r.get("torch")
            np_ratio = "n/a (fwd only)" if name.startswith("overhead") else f"{t_tt / t_np:.2f}"
            pt = fmt(t_pt) if t_pt else "-"
            pt_ratio = f"{t_tt / t_pt:.2f}" if t_pt else "-"
            print(f"| {name} | {fmt(t_tt)} | {fmt(t_np)} | {pt} | {np_ratio} | {pt_ratio} |")


if __name__ == "__main__":
    main()
