"""LeNet-like network: tinytensor against PyTorch, same process, same thread count.

    flock /tmp/bench.lock python benchmarks/bench_lenet.py --threads 2
    flock /tmp/bench.lock python benchmarks/bench_lenet.py --threads 2 --profile

Measures, for each library, alternating between them in rounds (the machine is shared, so
single timings swing; medians over all rounds are quoted):

- training step at batch 64 and 256: forward, cross-entropy, backward, SGD step
  (lr=0.05, momentum=0.9), zero_grad;
- inference latency at batch 1 (eval mode, no graph);
- inference throughput at batch 256 (images/s);
- peak resident memory of a batch-64 training loop, each library in its own subprocess
  (only one library imported there).

Both networks start from the same weights. `--profile` adds a cProfile of 50 tinytensor
training steps at batch 64: where the per-step Python time goes.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BATCHES = (1, 64, 256)


# ---------------------------------------------------------------------------------- models

def lenet(nn, F):
    """The lecture's LeNet-like network, written once for either library's nn and F."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5)
            self.conv2 = nn.Conv2d(32, 64, 5)
            self.fc1 = nn.Linear(256, 200)
            self.fc2 = nn.Linear(200, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 3))
            x = F.relu(F.max_pool2d(self.conv2(x), 2))
            x = x.view(-1, 256)
            x = F.relu(self.fc1(x))
            return self.fc2(x)
    return Net()


def tt_model():
    import tinytensor.nn as nn
    import tinytensor.nn.functional as F
    return lenet(nn, F)


def torch_model():
    import torch.nn as nn
    import torch.nn.functional as F
    return lenet(nn, F)


class Runner:
    """One library's model, optimiser and closures for each measurement."""

    def __init__(self, lib, weights, threads):
        self.lib = lib
        rng = np.random.default_rng(0)
        self.inputs = {b: rng.standard_normal((b, 1, 28, 28)).astype(np.float32)
                       for b in BATCHES}
        self.labels = {b: rng.integers(0, 10, b) for b in BATCHES}
        if lib == "tinytensor":
            import tinytensor as tt
            import tinytensor.nn.functional as F
            from tinytensor import optim
            tt.set_num_threads(threads)
            self.model = tt_model()
            self.model.load_state_dict({k: v.copy() for k, v in weights.items()})
            self.opt = optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
            self.x = {b: tt.from_numpy(a) for b, a in self.inputs.items()}
            self.y = {b: tt.from_numpy(a.astype(np.int64)) for b, a in self.labels.items()}
            self.no_grad, self.ce = tt.no_grad, F.cross_entropy
        else:
            import torch
            import torch.nn.functional as F
            torch.set_num_threads(threads)
            self.model = torch_model()
            self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
            self.x = {b: torch.from_numpy(a) for b, a in self.inputs.items()}
            self.y = {b: torch.from_numpy(a.astype(np.int64)) for b, a in self.labels.items()}
            self.no_grad, self.ce = torch.no_grad, F.cross_entropy

    def train_step(self, b):
        out = self.model(self.x[b])
        loss = self.ce(out, self.y[b])
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss

    def infer(self, b):
        with self.no_grad():
            return self.model(self.x[b])


def timed(fn, n):
    """Per-call times (s) of n calls."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def initial_weights():
    """PyTorch-style initial weights, drawn by tinytensor (both libraries start from them)."""
    import tinytensor as tt
    tt.manual_seed(0)
    return {k: v.numpy().copy() for k, v in tt_model().state_dict().items()}


# ---------------------------------------------------------------------------------- RSS child

def rss_child(lib, threads, steps):
    r = Runner(lib, initial_weights() if lib == "tinytensor" else _torch_weights(), threads)
    for _ in range(steps):
        r.train_step(64)
    print(_peak_rss_mib())


def _peak_rss_mib():
    """This process's peak RSS. VmHWM, not getrusage: after fork + exec, ru_maxrss starts at
    the parent's peak, which would charge the parent's memory to the child."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _torch_weights():
    import torch
    torch.manual_seed(0)
    return {k: v.numpy().copy() for k, v in torch_model().state_dict().items()}


def peak_rss(lib, threads, steps=60):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    res = subprocess.run([sys.executable, __file__, "--rss-child", lib, "--threads", str(threads),
                          "--steps", str(steps)], capture_output=True, text=True, env=env,
                         check=False)
    if res.returncode != 0:
        raise RuntimeError(f"RSS child for {lib} failed:\n{res.stderr}")
    return float(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- profile

def profile(threads, steps=50):
    import cProfile
    import pstats
    r = Runner("tinytensor", initial_weights(), threads)
    for _ in range(10):
        r.train_step(64)
    wall = timed(lambda: r.train_step(64), steps)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        r.train_step(64)
    pr.disable()
    st = pstats.Stats(pr)
    total = sum(v[2] for v in st.stats.values())        # sum of tottime = profiled wall time
    by_file, by_func = {}, []
    for (path, line, name), (cc, nc, tottime, cumtime, _) in st.stats.items():
        short = path.split("site-packages/")[-1].split("/work/main/")[-1]
        key = short if not path.startswith("~") else "<builtins>"
        by_file[key] = by_file.get(key, 0.0) + tottime
        by_func.append((tottime, nc, cumtime, f"{short}:{line}({name})"))
    print(f"\ncProfile of {steps} tinytensor training steps at batch 64 "
          f"({threads} thread(s)); median step without the profiler "
          f"{1e3 * statistics.median(wall):.2f} ms")
    print(f"  calls per step: {sum(v[1] for v in st.stats.values()) / steps:.0f}; "
          f"profiled time per step {1e3 * total / steps:.2f} ms")
    # Functions that spend > 0.2 ms per call in themselves are the ones that call the compiled
    # kernels (or BLAS); everything else is the per-step Python work of the framework.
    heavy = sum(v[2] for v in st.stats.values() if v[2] / max(v[1], 1) > 2e-4)
    print(f"  in kernel-calling function bodies (> 0.2 ms per call): "
          f"{1e3 * heavy / steps:.2f} ms; the rest (Python work, small NumPy calls): "
          f"{1e3 * (total - heavy) / steps:.2f} ms")
    print("\n  self time per step by file (ms):")
    for key, t in sorted(by_file.items(), key=lambda kv: -kv[1])[:15]:
        print(f"    {1e3 * t / steps:7.3f}  {key}")
    print("\n  top functions by self time (ms per step, calls per step, cumulative ms):")
    for tottime, nc, cumtime, name in sorted(by_func, reverse=True)[:25]:
        print(f"    {1e3 * tottime / steps:7.3f}  {nc / steps:6.1f}  {1e3 * cumtime / steps:8.3f}"
              f"  {name}")

    # Per-step Python overhead: a batch-1 step does almost no arithmetic.
    t1 = statistics.median(timed(lambda: r.train_step(1), 200))
    print(f"\n  a training step at batch 1 (almost pure per-op overhead): {1e3 * t1:.3f} ms")


# ---------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per measurement")
    ap.add_argument("--steps", type=int, default=20, help="training steps per round")
    ap.add_argument("--profile", action="store_true", help="also profile tinytensor's step")
    ap.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    ap.add_argument("--rss-child", choices=["tinytensor", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.threads, args.steps)
        return

    import torch
    import tinytensor as tt
    weights = initial_weights()
    runners = {"tinytensor": Runner("tinytensor", weights, args.threads),
               "torch": Runner("torch", weights, args.threads)}
    print(f"tinytensor {tt.__version__}, torch {torch.__version__}, NumPy {np.__version__}; "
          f"{args.threads} thread(s) each (tt {tt.get_num_threads()}, torch "
          f"{torch.get_num_threads()})")
    from tinytensor._config import build_kind
    print(f"tinytensor from {os.path.dirname(tt.__file__)}, build: {build_kind()}")

    # same weights and inputs: the first losses agree
    l_tt = runners["tinytensor"].train_step(64).item()
    l_pt = runners["torch"].train_step(64).item()
    print(f"first-step loss at batch 64: tinytensor {l_tt:.6f}, torch {l_pt:.6f}")

    cases = [("train step, batch 64 (ms)", lambda r: r.train_step(64), args.steps, 1e3),
             ("train step, batch 256 (ms)", lambda r: r.train_step(256), max(args.steps // 3, 3),
              1e3),
             ("train step, batch 1 (ms): per-step overhead", lambda r: r.train_step(1), 100,
              1e3),
             ("inference, batch 1 (ms)", lambda r: r.infer(1), 200, 1e3),
             ("inference, batch 256 (ms)", lambda r: r.infer(256), 10, 1e3)]
    results = {}
    for name, fn, n, scale in cases:
        samples = {lib: [] for lib in runners}
        for lib, r in runners.items():             # warm-up
            timed(lambda: fn(r), 3)
        for _ in range(args.rounds):
            for lib, r in runners.items():
                samples[lib] += timed(lambda: fn(r), n)
        results[name] = {lib: scale * statistics.median(s) for lib, s in samples.items()}

    rows = list(results.items())
    b64 = results["train step, batch 64 (ms)"]
    b256 = results["train step, batch 256 (ms)"]
    inf256 = results["inference, batch 256 (ms)"]
    rows.append(("train throughput, batch 64 (img/s)",
                 {k: 64e3 / v for k, v in b64.items()}))
    rows.append(("train throughput, batch 256 (img/s)",
                 {k: 256e3 / v for k, v in b256.items()}))
    rows.append(("inference throughput, batch 256 (img/s)",
                 {k: 256e3 / v for k, v in inf256.items()}))
    if not args.no_rss:
        rows.append(("peak RSS, batch-64 training (MiB)",
                     {lib: peak_rss(lib, args.threads) for lib in runners}))

    targets = {"train step, batch 64 (ms)": 0.8, "train step, batch 256 (ms)": 1.0,
               "inference, batch 1 (ms)": 1.0, "peak RSS, batch-64 training (MiB)": 1.0}
    print(f"\n| measurement | tinytensor | PyTorch {torch.__version__} | ratio tt/torch | target |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, v in rows:
        ratio = v["tinytensor"] / v["torch"]
        target = f"≤ {targets[name]:.1f}" if name in targets else ""
        fmt = "{:,.0f}" if "img/s" in name or "MiB" in name else "{:.2f}"
        print(f"| {name} | {fmt.format(v['tinytensor'])} | {fmt.format(v['torch'])} | "
              f"{ratio:.2f} | {target} |")

    if args.profile:
        profile(args.threads)


if __name__ == "__main__":
    main()
