"""Pointwise activations and losses of issue 11: forward + backward time against PyTorch.

    flock /tmp/tt-bench.lock python benchmarks/bench_activations.py [--threads 1]

Prints the median of 15 runs of y = f(x); y.backward(g) on a 1M-element float32 tensor, and
the ratio tinytensor / PyTorch (< 1: tinytensor is faster).
"""
import argparse
import statistics
import time

import numpy as np

import tinytensor as tt
import tinytensor.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = TF = None

OPS = ["relu6", "elu", "selu", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "softplus",
       "logsigmoid", "softsign"]


def bench(fn, lib, a, g, reps=15):
    times = []
    for _ in range(reps):
        x = lib.tensor(a, requires_grad=True)
        t0 = time.perf_counter()
        fn(x).backward(g)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=1 << 20)
    args = ap.parse_args()
    tt.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(args.n).astype(np.float32) * 4
    g = rng.standard_normal(args.n).astype(np.float32)
    print(f"{'op':<12} {'tinytensor ms':>14} {'torch ms':>10} {'ratio':>7}")
    for op in OPS:
        ours = bench(getattr(F, op), tt, a, tt.tensor(g))
        line = f"{op:<12} {ours * 1e3:14.2f}"
        if torch is not None:
            theirs = bench(getattr(TF, op), torch, a, torch.tensor(g))
            line += f" {theirs * 1e3:10.2f} {ours / theirs:7.2f}"
        print(line)


if __name__ == "__main__":
    main()
