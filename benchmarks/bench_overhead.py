"""Per-call overhead: tinytensor against PyTorch on tiny tensors, same process, 1 thread.

    flock /tmp/tt-bench.lock python benchmarks/bench_overhead.py [--repeats 31]

At these sizes the kernels cost almost nothing: what is measured is the Python work of a call
(argument parsing, validation, Function.apply and the graph node, Tensor construction, the
backward engine). The libraries alternate inside one process (each repeat times every case
once for each library, in turn); the table shows medians over the repeats and their ratio.

Targets (issue 13): LeNet inference at batch 1 <= 0.8 of PyTorch; the tiny chain
`(a * b + a).sum().backward()` on 8-element float32 tensors that require grad <= 0.7.
The per-op rows show where the rest of the overhead is.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as TF  # noqa: E402

try:
    import torch
    import torch.nn.functional as PF
except ImportError:
    torch = PF = None


def _timer(fn, inner):
    def run():
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner
    return run


def make_cases():
    """[(name, inner, {lib: fn})]: tinytensor and torch closures over the same data."""
    from bench_lenet import initial_weights, torch_model, tt_model
    rng = np.random.default_rng(0)
    a8 = rng.standard_normal(8).astype(np.float32)
    b8 = rng.standard_normal(8).astype(np.float32)
    m = rng.standard_normal((4, 8)).astype(np.float32)
    img = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    conv_x = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    conv_w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    libs = {}

    weights = initial_weights()
    net = tt_model().eval()
    net.load_state_dict({k: v.copy() for k, v in weights.items()})
    libs["tinytensor"] = (tt, TF, net, tt.from_numpy, tt.no_grad)
    if torch is not None:
        pnet = torch_model().eval()
        pnet.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
        libs["torch"] = (torch, PF, pnet, torch.from_numpy, torch.no_grad)

    cases = {}

    def case(name, inner, make):
        cases[name] = (inner, {lib: make(*spec) for lib, spec in libs.items()})

    def lenet(mod, F, net, T, no_grad):
        x = T(img.copy())

        def run():
            with no_grad():
                net(x)
        return run

    def chain(mod, F, net, T, no_grad):
        a = T(a8.copy()).requires_grad_(True)
        b = T(b8.copy()).requires_grad_(True)

        def run():
            (a * b + a).sum().backward()
        return run

    def add1(mod, F, net, T, no_grad):
        a = T(a8[:1].copy()).requires_grad_(True)
        b = T(b8[:1].copy()).requires_grad_(True)
        return lambda: (a + b).backward()

    def fwd(op):
        def make(mod, F, net, T, no_grad):
            a, b, mm = T(a8.copy()), T(b8.copy()), T(m.copy())
            x, w = T(conv_x.copy()), T(conv_w.copy())
            fns = {"a + b": lambda: a + b, "a * 2.0": lambda: a * 2.0,
                   "a.sum()": lambda: a.sum(), "a.view(2, 4)": lambda: a.view(2, 4),
                   "relu(a)": lambda: F.relu(a), "a.exp()": lambda: a.exp(),
                   "linear (4,8)x(8,8)": lambda: F.linear(mm, mm.t() @ mm),
                   "conv2d 1x4x8x8, 8x4x3x3": lambda: F.conv2d(x, w),
                   "max_pool2d 1x4x8x8, 2": lambda: F.max_pool2d(x, 2)}
            return fns[op]
        return make

    case("LeNet inference, batch 1", 200, lenet)
    case("(a * b + a).sum().backward(), 8 elem", 500, chain)
    case("(a + b).backward(), 1 elem", 1000, add1)
    for op in ("a + b", "a * 2.0", "a.sum()", "a.view(2, 4)", "relu(a)", "a.exp()",
               "linear (4,8)x(8,8)", "conv2d 1x4x8x8, 8x4x3x3", "max_pool2d 1x4x8x8, 2"):
        case(f"fwd {op}", 1000, fwd(op))
    return cases


def bench(cases, repeats):
    results = {}
    for name, (inner, fns) in cases.items():
        timers = {lib: _timer(fn, inner) for lib, fn in fns.items()}
        for t in timers.values():            # warm up
            t()
            t()
        samples = {lib: [] for lib in timers}
        for _ in range(repeats):
            for lib, t in timers.items():
                samples[lib].append(t())
        results[name] = {lib: statistics.median(s) for lib, s in samples.items()}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    tt.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}, "
          f"python {sys.version.split()[0]}, 1 thread, load average {os.getloadavg()[0]:.2f}")
    cases = {k: v for k, v in make_cases().items() if args.only in k}
    res = bench(cases, args.repeats)
    print(f"\n| case (medians of {args.repeats} alternating repeats) | tinytensor | torch "
          f"| tt/torch |")
    print("| --- | ---: | ---: | ---: |")
    for name, r in res.items():
        t_tt, t_pt = r["tinytensor"], r.get("torch")
        pt = f"{t_pt * 1e6:.1f} us" if t_pt else "-"
        ratio = f"{t_tt / t_pt:.2f}" if t_pt else "-"
        print(f"| {name} | {t_tt * 1e6:.1f} us | {pt} | {ratio} |")


if __name__ == "__main__":
    main()
