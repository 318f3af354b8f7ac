"""ResNet-18 (CIFAR variant) training step: tinytensor against PyTorch, same process.

    flock /tmp/tt-bench.lock python benchmarks/bench_resnet.py                  # 1 and 2 threads
    flock /tmp/tt-bench.lock python benchmarks/bench_resnet.py --threads 2 --profile

The network (issue 12's target case): a 3x3 stem convolution (no max-pool), four stages of two
BasicBlocks (64, 128, 256, 512 channels; stride 2 and a 1x1 projection shortcut at the start of
stages 2-4), BatchNorm after every convolution, global average pool, a 10-way linear layer;
32x32 inputs, batch 32. One step: forward, cross-entropy, backward, SGD (lr 0.05, momentum
0.9), zero_grad. Both libraries start from the same weights (drawn by tinytensor) and inputs,
and the first step's losses are printed and compared.

Timing: per thread count, the two libraries alternate in rounds (each round times `--steps`
steps of one library, then of the other); the table quotes medians over all rounds and their
ratio tinytensor / PyTorch (target: <= 0.8). The machine is shared: quote the CPU line too.
`--profile` adds a cProfile of tinytensor's step: time by layer of the library (convolutions by
function, BatchNorm, elementwise, autograd engine, optimiser, Python modules).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

BATCH = 32


def resnet18(nn, F, num_classes=10):
    """ResNet-18 for 32x32 inputs, written once for either library's nn and F."""
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.shortcut(x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers.append(nn.Sequential(BasicBlock(cin, cout, stride),
                                            BasicBlock(cout, cout, 1)))
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
            out = F.adaptive_avg_pool2d(out, 1).flatten(1)
            return self.fc(out)
    return ResNet18()


def initial_weights():
    """Weights (and BatchNorm buffers) drawn by tinytensor; both libraries load them."""
    import tinytensor as tt
    import tinytensor.nn as nn
    import tinytensor.nn.functional as F
    tt.manual_seed(0)
    return {k: v.numpy().copy() for k, v in resnet18(nn, F).state_dict().items()}


class Runner:
    """One library's model, optimiser, input batch and training step."""

    def __init__(self, lib, weights, threads):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, BATCH).astype(np.int64)
        self.lib = lib
        if lib == "tinytensor":
            import tinytensor as tt
            import tinytensor.nn as nn
            import tinytensor.nn.functional as F
            tt.set_num_threads(threads)
            self.model = resnet18(nn, F)
            self.model.load_state_dict({k: tt.from_numpy(v.copy()) for k, v in weights.items()})
            self.opt = tt.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
            self.x, self.y, self.ce = tt.from_numpy(x), tt.from_numpy(y), F.cross_entropy
        else:
            import torch
            import torch.nn as nn
            import torch.nn.functional as F
            torch.set_num_threads(threads)
            self.model = resnet18(nn, F)
            self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
            self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
            self.x, self.y, self.ce = torch.from_numpy(x), torch.from_numpy(y), F.cross_entropy
        self.model.train()

    def set_threads(self, n):
        if self.lib == "tinytensor":
            import tinytensor as tt
            tt.set_num_threads(n)
        else:
            import torch
            torch.set_num_threads(n)

    def step(self):
        loss = self.ce(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss


def timed(fn, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
            else:
                name = "unknown CPU"
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f" in f.read()
        return f"{name} ({'AVX-512' if avx512 else 'no AVX-512'})"
    except OSError:
        return "unknown CPU"


# ---------------------------------------------------------------------------------- profile

# Where a function's self time is charged: the first matching path fragment names the layer.
LAYERS = [("_functions/conv", "convolution"), ("_kernels/conv", "convolution"),
          ("_functions/batchnorm", "BatchNorm"), ("_functions/norm", "BatchNorm"),
          ("_kernels/norm", "BatchNorm"),
          ("_functions/elementwise", "elementwise (add, relu, mul)"),
          ("_functions/activation", "elementwise (add, relu, mul)"),
          ("_kernels/elementwise", "elementwise (add, relu, mul)"),
          ("_functions/pool", "pooling"), ("_functions/reduce", "reductions"),
          ("_functions/linear", "linear / matmul"), ("_functions/matmul", "linear / matmul"),
          ("_functions/loss", "loss"), ("autograd/", "autograd engine"),
          ("optim/", "optimiser"), ("nn/", "nn modules and functional (Python)"),
          ("tinytensor/tensor", "Tensor API (Python)"), ("tinytensor/", "tinytensor other"),
          ("numpy", "NumPy (Python side)")]


def profile(threads, steps):
    import cProfile
    import pstats
    r = Runner("tinytensor", initial_weights(), threads)
    for _ in range(2):
        r.step()
    wall = timed(r.step, steps)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        r.step()
    pr.disable()
    st = pstats.Stats(pr)
    total = sum(v[2] for v in st.stats.values())
    layers, funcs = {}, []
    for (path, line, name), (cc, nc, tottime, cumtime, _) in st.stats.items():
        where = "builtins and C calls (NumPy, kernels called directly)"
        if not path.startswith("~"):
            where = next((layer for frag, layer in LAYERS if frag in path), "other Python")
        layers[where] = layers.get(where, 0.0) + tottime
        short = path.split("tinytensor/")[-1] if "tinytensor/" in path else path.split("/")[-1]
        funcs.append((tottime, nc, cumtime, f"{short}:{line}({name})"))
    print(f"\ncProfile of {steps} tinytensor steps ({threads} thread(s)); median step without "
          f"the profiler {1e3 * statistics.median(wall):.1f} ms, with it "
          f"{1e3 * total / steps:.1f} ms; {sum(v[1] for v in st.stats.values()) / steps:.0f} "
          f"Python calls per step")
    print("\n  self time per step by layer (ms, share):")
    for layer, t in sorted(layers.items(), key=lambda kv: -kv[1]):
        print(f"    {1e3 * t / steps:8.2f}  {100 * t / total:5.1f}%  {layer}")
    print("\n  top functions by self time (ms per step, calls per step, cumulative ms per step):")
    for tottime, nc, cumtime, name in sorted(funcs, reverse=True)[:30]:
        print(f"    {1e3 * tottime / steps:8.2f}  {nc / steps:6.1f}  {1e3 * cumtime / steps:9.2f}"
              f"  {name}")


# ---------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per thread count")
    ap.add_argument("--steps", type=int, default=3, help="training steps per round and library")
    ap.add_argument("--profile", action="store_true", help="also profile tinytensor's step")
    args = ap.parse_args()

    import torch
    import tinytensor as tt
    print(f"tinytensor {tt.__version__}, torch {torch.__version__}, NumPy {np.__version__}")
    from tinytensor._config import build_kind
    print(f"tinytensor from {os.path.dirname(tt.__file__)}, build: {build_kind()}")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical CPUs; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    weights = initial_weights()
    runners = {lib: Runner(lib, weights, args.threads[0]) for lib in ("tinytensor", "torch")}

    # same weights, same inputs: the first step's losses agree (BatchNorm in training mode)
    first = {lib: r.step().item() for lib, r in runners.items()}
    rel = abs(first["tinytensor"] - first["torch"]) / abs(first["torch"])
    print(f"first-step loss: tinytensor {first['tinytensor']:.6f}, torch {first['torch']:.6f} "
          f"(relative difference {rel:.1e})")
    if rel > 1e-4:
        sys.exit("the first-step losses differ: the two networks are not the same")

    print(f"\nResNet-18 (CIFAR) training step, batch {BATCH}, 32x32: median ms over "
          f"{args.rounds} alternating rounds of {args.steps} steps\n")
    print("| threads | tinytensor (ms) | PyTorch (ms) | ratio tt/torch | target |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.threads:
        for r in runners.values():
            r.set_threads(n)
            timed(r.step, 1)                              # warm-up at this thread count
        samples = {lib: [] for lib in runners}
        for _ in range(args.rounds):
            for lib, r in runners.items():
                samples[lib] += timed(r.step, args.steps)
        med = {lib: 1e3 * statistics.median(s) for lib, s in samples.items()}
        print(f"| {n} | {med['tinytensor']:.1f} | {med['torch']:.1f} | "
              f"{med['tinytensor'] / med['torch']:.2f} | <= 0.8 |", flush=True)

    if args.profile:
        for n in args.threads:
            profile(n, max(args.steps, 3))


if __name__ == "__main__":
    main()
