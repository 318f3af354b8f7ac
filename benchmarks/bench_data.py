"""DataLoader workers: LeNet training throughput when loading costs ~1 ms of Python per sample.

    flock /tmp/tt-bench.lock python benchmarks/bench_data.py
    flock /tmp/tt-bench.lock python benchmarks/bench_data.py --workers 0 1 2 --threads 2

The dataset is the bundled MNIST sample (4,000 digits) whose `__getitem__` also runs a pure-Python
loop calibrated to ~1 ms, as a per-sample augmentation written in Python would. Each round
trains the LeNet-like network of bench_lenet.py (batch 64, SGD with momentum, cross-entropy) for
`--steps` steps after a warm-up, once per worker count, alternating so that the shared
machine's load falls on all of them alike; medians over the rounds are quoted, with the main
process's CPU time per step (which the load does not change). Workers are persistent, so their
start-up is not counted (it is printed separately).
"""
import argparse
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402
from tinytensor import optim  # noqa: E402
from tinytensor.datasets import MNIST  # noqa: E402
from tinytensor.utils.data import DataLoader, Dataset  # noqa: E402

sys.path.insert(0, HERE)
from bench_lenet import tt_model  # noqa: E402


def spin(n):
    """n rounds of plain Python arithmetic."""
    x = 0
    for i in range(n):
        x += i * i
    return x


def calibrate(ms=1.0):
    """The spin count that takes about `ms` milliseconds here (fastest of 7: the machine is
    shared, and the fastest run is the one least disturbed by other processes)."""
    n = 20_000
    times = []
    for _ in range(7):
        t = time.perf_counter()
        spin(n)
        times.append(time.perf_counter() - t)
    return max(1, int(n * ms / 1000 / min(times)))


class SlowMNIST(Dataset):
    """MNIST samples, each costing ~1 ms of Python work."""

    def __init__(self, spins):
        self.base = MNIST(train=True)
        self.spins = spins

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        spin(self.spins)
        return self.base[i]


def forever(loader):
    while True:
        yield from loader


def train_rate(loader_iter, model, opt, steps, warmup=3):
    """(images per second, main-process CPU ms per step) over `steps` training steps, after
    `warmup` steps. The CPU time does not depend on the machine's load: it shows how much of
    the loading the workers took off the main process."""
    for k in range(warmup + steps):
        if k == warmup:
            start, cpu = time.perf_counter(), time.process_time()
        x, y = next(loader_iter)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    wall = time.perf_counter() - start
    return steps * x.shape[0] / wall, (time.process_time() - cpu) / steps * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    ap.add_argument("--threads", type=int, default=2, help="kernel threads of the main process")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ms", type=float, default=1.0, help="Python work per sample")
    args = ap.parse_args()

    tt.set_num_threads(args.threads)
    tt.manual_seed(0)
    spins = calibrate(args.ms)
    ds = SlowMNIST(spins)
    costs = []
    for i in range(200):
        t = time.perf_counter()
        ds[i]
        costs.append(time.perf_counter() - t)
    per_sample = statistics.median(costs) * 1000
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), platform.processor())
    print(f"CPU: {cpu}, {os.cpu_count()} logical CPUs; main process kernel threads: "
          f"{args.threads}")
    print(f"dataset: {per_sample:.2f} ms per sample ({spins} spins), batch 64, LeNet training")

    model = tt_model()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    iters = {}
    for w in args.workers:
        kw = dict(num_workers=w, persistent_workers=True) if w else {}
        loader = DataLoader(ds, batch_size=64, shuffle=True, drop_last=True, **kw)
        t = time.perf_counter()
        iters[w] = forever(loader)
        next(iters[w])
        print(f"  {w} workers: first batch after {time.perf_counter() - t:.2f} s")
    rates = {w: [] for w in args.workers}
    cpu = {w: [] for w in args.workers}
    for r in range(args.rounds):
        for w in args.workers:
            rate, ms = train_rate(iters[w], model, opt, args.steps)
            rates[w].append(rate)
            cpu[w].append(ms)
        print(f"  round {r + 1}: " + ", ".join(f"{w} workers {rates[w][-1]:.0f} img/s"
                                               for w in args.workers))
    base = statistics.median(rates[args.workers[0]])
    print("medians:")
    for w in args.workers:
        m = statistics.median(rates[w])
        print(f"  num_workers={w}: {m:7.0f} img/s  ({m / base:.2f}x num_workers="
              f"{args.workers[0]}); main-process CPU {statistics.median(cpu[w]):.1f} ms/step")


if __name__ == "__main__":
    main()
