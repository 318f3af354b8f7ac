"""Normalisation benchmark (issue 11): tinytensor against PyTorch in one process.

For each case and thread count (1, 2): median forward and forward+backward (gradients of input,
weight and bias) times of the module, alternating the two libraries call by call (the machine
is shared and noisy: compare ratios, not absolute times), and the ratio tinytensor / PyTorch.

Run alone on the machine's cores:  flock /tmp/tt-bench.lock python benchmarks/bench_norm.py
Options: --reps N (default 31), --threads 1,2
"""
import argparse
import time

import numpy as np

import tinytensor as tt
import tinytensor.nn as nn

try:
    import torch
except ImportError:                     # the table then shows tinytensor alone
    torch = None

CASES = [
    # name, input shape, module class name, args
    ("N1 GroupNorm(32, 256)", (16, 256, 28, 28), "GroupNorm", (32, 256)),
    ("N2 InstanceNorm2d(64, affine)", (16, 64, 56, 56), "InstanceNorm2d", (64,)),
    ("N3 LayerNorm(768)", (64, 128, 768), "LayerNorm", (768,)),
]


def _timer(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_case(shape, cls, args, reps, n_threads):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(shape).astype(np.float32)
    g_np = rng.standard_normal(shape).astype(np.float32)
    kw = dict(affine=True) if cls.startswith("Instance") else {}
    runs = {}
    for tag, lib, mod in [("tt", tt, nn)] + ([("pt", torch, torch.nn)] if torch else []):
        lib.set_num_threads(n_threads)
        m = getattr(mod, cls)(*args, **kw)
        x = lib.from_numpy(x_np)
        xg = lib.from_numpy(x_np.copy()).requires_grad_()
        g = lib.from_numpy(g_np)

        def fwd(m=m, x=x, lib=lib):
            with lib.no_grad():
                m(x)

        def fb(m=m, xg=xg, g=g):
            xg.grad = None
            m.zero_grad()
            m(xg).backward(g)

        runs[tag + "_fwd"], runs[tag + "_fb"] = fwd, fb
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
    ap.add_argument("--reps", type=int, default=31)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    print(f"tinytensor vs PyTorch {torch.__version__ if torch else '(absent)'}; medians in ms; "
          "ratio = tinytensor / PyTorch (lower is better)")
    head = (f"{'case':<32}{'thr':>4}{'tt fwd':>9}{'pt fwd':>9}{'ratio':>7}"
            f"{'tt f+b':>9}{'pt f+b':>9}{'ratio':>7}")
    print(head)
    print("-" * len(head))
    for label, shape, cls, args in CASES:
        for n in threads:
            r = bench_case(shape, cls, args, a.reps, n)
            if torch is None:
                print(f"{label:<32}{n:>4}{r['tt_fwd']:>9.2f}{'-':>9}{'-':>7}"
                      f"{r['tt_fb']:>9.2f}{'-':>9}{'-':>7}")
                continue
            print(f"{label:<32}{n:>4}{r['tt_fwd']:>9.2f}{r['pt_fwd']:>9.2f}"
                  f"{r['tt_fwd'] / r['pt_fwd']:>7.2f}{r['tt_fb']:>9.2f}{r['pt_fb']:>9.2f}"
                  f"{r['tt_fb'] / r['pt_fb']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
