"""Weight-gradient times (median ms) of the conv cases, GEMM path vs the dot/window kernels (c/tt_conv_wgrad.inc), one process.

    PYTHONPATH=. flock /tmp/bench.lock python benchmarks/bench_wgrad.py THREADS [S1,S4,...]

"before" forces the GEMM path (conv_plan.force(weight_grad="gemm"));
"after" is conv_backward as planned.
"""
import sys, time
import numpy as np
sys.path.insert(0, __file__.rsplit('/', 1)[0] if '/' in __file__ else '.')
import bench_conv as b
from tinytensor._functions import conv as C, conv_plan
import tinytensor as tt

nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
cases = sys.argv[2].split(',') if len(sys.argv) > 2 else ['S1', 'S2', 'S3', 'S4', 'S5', 'S7', 'S8']
tt.set_num_threads(nt)


def med(f, min_time=0.3, reps=7):
    f()
    ts = []
    while len(ts) < reps or sum(ts) < min_time:
        s0 = time.perf_counter(); f(); ts.append(time.perf_counter() - s0)
    return np.median(ts) * 1e3


print("threads %d" % nt)
for name in cases:
    xs, ws, s, p, d, g = b.CASES[name]
    nsp = len(xs) - 2
    rng = np.random.default_rng(0)
    x = C.as_5d(rng.standard_normal(xs).astype(np.float32), nsp)
    w = C.as_5d(rng.standard_normal(ws).astype(np.float32), nsp)
    geo = C.geometry((s,) * nsp, (p,) * nsp, (d,) * nsp, (p,) * nsp)
    y = C.conv_forward(x, w, None, geo, g, nt)
    go = rng.standard_normal(y.shape).astype(np.float32)
    flops = 2 * np.prod(y.shape) * np.prod(w.shape[1:])
    f = lambda: C.conv_backward(x, w, go, geo, g, False, True, False, tt.get_num_threads())
    with conv_plan.force(weight_grad="gemm"):                  # GEMM path (before)
        ref = f()[1]
        t_old = med(f)
    new = f()[1]
    t_new = med(f)
    used = C.plan(x.shape, w.shape, geo, g, np.float32).weight_grad != "gemm"
    err = np.abs(new - ref).max() / np.abs(ref).max()
    print("%s  before %7.2f ms (%5.0f GFLOP/s)  after %7.2f ms (%5.0f GFLOP/s)  x%.2f  %s  "
          "relerr %.1e"
          % (name, t_old, flops / t_old / 1e6, t_new, flops / t_new / 1e6, t_old / t_new,
             "kernel" if used else "GEMM path", err))
