"""Pooling benchmark: rows P1-P3 of issue 3, tinytensor against PyTorch in the same process.

For each case and thread count (1, 2): median forward and forward+backward times, alternating
the two libraries call by call (the machine is shared and noisy: compare ratios, not absolute
times), and the ratio tinytensor / PyTorch. float32, default (contiguous) layout.

Run alone on the machine's cores:  flock /tmp/bench.lock python benchmarks/bench_pool.py
Options: --reps N (default: per case), --threads 1,2
"""
import argparse
import time

import numpy as np

import tinytensor as tt
import tinytensor.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:                     # the table then shows tinytensor alone
    torch = None

CASES = [
    # name, input shape, function name, args, kwargs, default repetitions
    ("P1 max_pool2d (LeNet)", (64, 32, 24, 24), "max_pool2d", (3,), {}, 101),
    ("P2 max_pool2d k3 s2 p1", (32, 64, 112, 112), "max_pool2d", (3, 2, 1), {}, 15),
    ("P3 avg_pool2d k2", (32, 64, 56, 56), "avg_pool2d", (2,), {}, 41),
]


def _timer(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_case(shape, name, args, kwargs, reps, n_threads):
    x_np = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    tt.set_num_threads(n_threads)
    xt = tt.from_numpy(x_np)
    xg = tt.from_numpy(x_np.copy()).requires_grad_()
    fn = getattr(F, name)
    g_np = np.random.default_rng(1).standard_normal(fn(xt, *args, **kwargs).shape).astype(np.float32)
    gt = tt.from_numpy(g_np)

    def tt_fwd():
        fn(xt, *args, **kwargs)

    def tt_fb():
        xg.grad = None
        fn(xg, *args, **kwargs).backward(gt)

    runs = {"tt_fwd": tt_fwd, "tt_fb": tt_fb}
    if torch is not None:
        torch.set_num_threads(n_threads)
        xp = torch.from_numpy(x_np)
        xpg = torch.from_numpy(x_np.copy()).requires_grad_()
        tfn = getattr(TF, name)
        gp = torch.from_numpy(g_np)

        def pt_fwd():
            with torch.no_grad():
                tfn(xp, *args, **kwargs)

        def pt_fb():
            xpg.grad = None
            tfn(xpg, *args, **kwargs).backward(gp)

        runs.update(pt_fwd=pt_fwd, pt_fb=pt_fb)
    for f in runs.values():                       # warm-up: first calls, page mappings
        f()
        f()
    times = {k: [] for k in runs}
    for _ in range(reps):                         # alternate libraries call by call
        for k, f in runs.items():
            times[k].append(_timer(f))
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    print(f"tinytensor vs PyTorch {torch.__version__ if torch else '(absent)'}; medians in ms; "
          "ratio = tinytensor / PyTorch (lower is better)")
    head = (f"{'case':<26}{'thr':>4}{'tt fwd':>9}{'pt fwd':>9}{'ratio':>7}"
            f"{'tt f+b':>9}{'pt f+b':>9}{'ratio':>7}")
    print(head)
    print("-" * len(head))
    for label, shape, name, args, kwargs, reps in CASES:
        for n in threads:
            r = bench_case(shape, name, args, kwargs, a.reps or reps, n)
            if torch is None:
                print(f"{label:<26}{n:>4}{r['tt_fwd']:>9.2f}{'-':>9}{'-':>7}"
                      f"{r['tt_fb']:>9.2f}{'-':>9}{'-':>7}")
                continue
            print(f"{label:<26}{n:>4}{r['tt_fwd']:>9.2f}{r['pt_fwd']:>9.2f}"
                  f"{r['tt_fwd'] / r['pt_fwd']:>7.2f}{r['tt_fb']:>9.2f}{r['pt_fb']:>9.2f}"
                  f"{r['tt_fb'] / r['pt_fb']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
