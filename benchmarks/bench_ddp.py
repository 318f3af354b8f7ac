"""Data-parallel weak scaling over MPI on this machine, and a projection to N machines.

    pip install ".[distributed]"
    flock /tmp/tt-bench.lock python benchmarks/bench_ddp.py

Runs the LeNet training step (batch 64 per rank, 1 kernel thread per rank, SGD momentum)
under `mpiexec -n 1` and `-n 2` and prints:
- images/s for 1 and 2 ranks and their ratio (weak scaling; the target is >= 1.8 on 2 cores);
- the fraction of all-reduce time hidden behind backward: 1 - (time backward waited at its
  end) / (time from the first bucket's start to the last one's completion);
- the all-reduce bandwidth measured on LeNet's gradient size, and from it a projection of the
  step time on N machines with a ring all-reduce (each rank sends and receives
  2 (N - 1) / N of the gradient bytes, in 2 (N - 1) latency-bound steps).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(steps):
    import numpy as np

    import tinytensor as tt
    import tinytensor.distributed as dist
    import tinytensor.nn.functional as F
    from tinytensor.nn.parallel import DistributedDataParallel as DDP
    sys.path.insert(0, HERE)
    from bench_lenet import tt_model

    dist.init_process_group("mpi")
    tt.set_num_threads(1)
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(tt_model(), bucket_cap_mb=0.25)     # 3 buckets: conv2 + fc1 and the rest
    opt = tt.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = tt.from_numpy(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = tt.from_numpy(rng.integers(0, 10, 64))
    times, hidden = [], []
    for i in range(steps + 5):
        dist.barrier()
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 5:                                     # warm-up steps are not counted
            times.append(time.perf_counter() - t0)
            s = model.comm_stats
            if s["allreduce_s"] > 0:
                hidden.append(1 - s["exposed_s"] / s["allreduce_s"])
    nbytes = sum(p.numel() * 4 for p in model.parameters())
    buf = tt.zeros(nbytes // 4)
    reps = []
    for _ in range(30):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(buf)
        reps.append(time.perf_counter() - t0)
    tiny = []
    small = tt.zeros(1)
    for _ in range(30):
        dist.barrier()
        t0 = time.perf_counter()
        dist.all_reduce(small)
        tiny.append(time.perf_counter() - t0)
    if rank == 0:
        print(json.dumps({"world": world, "step_s": statistics.median(times),
                          "hidden": statistics.median(hidden) if hidden else None,
                          "bytes": nbytes, "allreduce_s": statistics.median(reps),
                          "latency_s": statistics.median(tiny)}), flush=True)
    dist.destroy_process_group()


def launch(n, steps):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(mpiexec):
        mpiexec = shutil.which("mpiexec") or shutil.which("mpirun")
    if mpiexec is None:
        sys.exit('bench_ddp.py needs an MPI launcher: pip install ".[distributed]"')
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([mpiexec, "-n", str(n), sys.executable, __file__, "--worker",
                          "--steps", str(steps)], capture_output=True, text=True, env=env,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.steps)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "unknown CPU")
    one, two = launch(1, args.steps), launch(2, args.steps)
    ips1, ips2 = 64 / one["step_s"], 2 * 64 / two["step_s"]
    print(f"CPU: {cpu}, {os.cpu_count()} cores; LeNet, batch 64 per rank, 1 thread per rank")
    print(f"1 rank : {one['step_s'] * 1e3:7.2f} ms/step  {ips1:8,.0f} images/s")
    print(f"2 ranks: {two['step_s'] * 1e3:7.2f} ms/step  {ips2:8,.0f} images/s")
    print(f"weak scaling, 2 ranks / 1 rank: {ips2 / ips1:.2f} (target >= 1.8)")
    print(f"all-reduce hidden behind backward: {100 * two['hidden']:.0f}% (median over steps)")
    bw = 2 * (2 - 1) / 2 * two["bytes"] / max(two["allreduce_s"] - two["latency_s"], 1e-9)
    print(f"all-reduce of {two['bytes'] / 1e3:.0f} kB: {two['allreduce_s'] * 1e6:.0f} us; "
          f"latency {two['latency_s'] * 1e6:.1f} us; bandwidth {bw / 1e9:.2f} GB/s (shared "
          f"memory between two processes: a network is slower; scale bw below to your links)")
    compute = one["step_s"]
    print("projection, ring all-reduce, nothing hidden (an upper bound on the step time):")
    for n in (2, 4, 8, 16, 64):
        comm = 2 * (n - 1) * two["latency_s"] + 2 * (n - 1) / n * two["bytes"] / bw
        print(f"  {n:3d} machines: step {1e3 * (compute + comm):6.2f} ms, efficiency "
              f"{compute / (compute + comm):.2f}, {n * 64 / (compute + comm):9,.0f} images/s")


if __name__ == "__main__":
    main()
