"""Transposed-convolution benchmark (issue 11): tinytensor against PyTorch in one process.

For each case and thread count (1, 2): median forward and forward+backward (gradients of input,
weight and bias) times, alternating the two libraries call by call (the machine is shared and
noisy: compare ratios, not absolute times), and the ratio tinytensor / PyTorch. float32.

Run alone on the machine's cores:  flock /tmp/tt-bench.lock python benchmarks/bench_conv_transpose.py
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
    # name, input shape, weight shape (C_in, C_out, k...), kwargs, default repetitions
    ("T1 DCGAN 512->256 k4 s2 p1", (64, 512, 4, 4), (512, 256, 4, 4),
     dict(stride=2, padding=1), 21),
    ("T2 U-Net 128->64 k2 s2", (16, 128, 32, 32), (128, 64, 2, 2), dict(stride=2), 21),
]


def _timer(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_case(xs, ws, kw, reps, n_threads):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(xs).astype(np.float32)
    w_np = (rng.standard_normal(ws) * 0.05).astype(np.float32)
    b_np = rng.standard_normal(ws[1]).astype(np.float32)
    tt.set_num_threads(n_threads)
    runs = {}
    y_shape = F.conv_transpose2d(tt.from_numpy(x_np), tt.from_numpy(w_np), None, **kw).shape
    g_np = rng.standard_normal(tuple(y_shape)).astype(np.float32)
    libs = [("tt", tt, F)] + ([("pt", torch, TF)] if torch is not None else [])
    for tag, lib, fmod in libs:
        if lib is torch:
            torch.set_num_threads(n_threads)
        x, w, b = (lib.from_numpy(a) for a in (x_np, w_np, b_np))
        xg, wg, bg = (lib.from_numpy(a.copy()).requires_grad_() for a in (x_np, w_np, b_np))
        g = lib.from_numpy(g_np)

        def fwd(x=x, w=w, b=b, lib=lib, fmod=fmod):
            with lib.no_grad():
                fmod.conv_transpose2d(x, w, b, **kw)

        def fb(xg=xg, wg=wg, bg=bg, g=g, fmod=fmod):
            xg.grad = wg.grad = bg.grad = None
            fmod.conv_transpose2d(xg, wg, bg, **kw).backward(g)

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
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    print(f"tinytensor vs PyTorch {torch.__version__ if torch else '(absent)'}; medians in ms; "
          "ratio = tinytensor / PyTorch (lower is better)")
    head = (f"{'case':<30}{'thr':>4}{'tt fwd':>9}{'pt fwd':>9}{'ratio':>7}"
            f"{'tt f+b':>9}{'pt f+b':>9}{'ratio':>7}")
    print(head)
    print("-" * len(head))
    for label, xs, ws, kw, reps in CASES:
        for n in threads:
            r = bench_case(xs, ws, kw, a.reps or reps, n)
            if torch is None:
                print(f"{label:<30}{n:>4}{r['tt_fwd']:>9.2f}{'-':>9}{'-':>7}"
                      f"{r['tt_fb']:>9.2f}{'-':>9}{'-':>7}")
                continue
            print(f"{label:<30}{n:>4}{r['tt_fwd']:>9.2f}{r['pt_fwd']:>9.2f}"
                  f"{r['tt_fwd'] / r['pt_fwd']:>7.2f}{r['tt_fb']:>9.2f}{r['pt_fb']:>9.2f}"
                  f"{r['tt_fb'] / r['pt_fb']:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
