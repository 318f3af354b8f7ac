"""Convolution benchmark: tinytensor vs PyTorch (issue 3, cases S1-S8), same process, alternating.

Run only under the shared lock (other engineers benchmark on the same cores):

    flock /tmp/tt-bench.lock python benchmarks/bench_conv.py [--threads 1 2] [--cases S1 S4]
                                                          [--reps 7] [--rss]

Prints, per thread count and case: median forward and forward+backward times (ms) of both
libraries, tinytensor's GFLOP/s (forward flops = 2 * N * C_out * prod(out) * C_in/groups *
prod(kernel); forward+backward counts three times that), and the ratios tinytensor / PyTorch.
Also NumPy's 2048x2048 matmul rate of the dtype (the GEMM ceiling the issue names) and
tinytensor's own GEMM rate (the running variant's, c/tt_isa.h) on the same matmul, at each
thread count, and the S4 forward rate as a fraction of each. `--rss` measures peak resident
memory of S4 forward+backward in fresh subprocesses for both libraries. `--dtype float64`
runs every case in float64 (tinytensor: im2col + its own double GEMM); `--isa avx2` runs the
kernels an AVX2-only CPU runs, in both libraries (PyTorch's ATen, oneDNN and MKL held to AVX2
as benchmarks/as_avx2 does; any other benchmark runs that way under that script);
`--paths forward=gemm,...` forces convolution paths.

OpenBLAS picks its kernels at load time; OPENBLAS_CORETYPE=Haswell pins them to AVX2.
tinytensor's convolutions never go through OpenBLAS (they use their own GEMMs), so NumPy's
rate is only a reference. `--openblas-coretype SkylakeX` sets OPENBLAS_CORETYPE before NumPy
loads (only if the CPU has avx512f), to see NumPy's own AVX-512 rate.
"""
import argparse
import os
import subprocess
import sys
import time


def _parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cases", nargs="+", default=None)
    ap.add_argument("--reps", type=int, default=7, help="minimum timed repetitions per cell")
    ap.add_argument("--min-time", type=float, default=0.4,
                    help="keep repeating a cell until its runs add up to this many seconds")
    ap.add_argument("--rss", action="store_true", help="peak RSS of S4 fwd+bwd, both libraries")
    ap.add_argument("--openblas-coretype", default=None,
                    help="set OPENBLAS_CORETYPE (e.g. SkylakeX) before NumPy loads")
    ap.add_argument("--isa", default=None,
                    help="run tinytensor's kernels of this variant (sets TINYTENSOR_ISA); "
                         "avx2 holds PyTorch to AVX2 too")
    ap.add_argument("--paths", default=None,
                    help="force convolution paths, e.g. 'forward=gemm,weight_grad=gemm' "
                         "(sets TINYTENSOR_CONV_PLAN; see tinytensor/_functions/conv_plan.py)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                    help="the tensors' dtype (float64: tinytensor's own double GEMM)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="min: the fastest run of each cell (steadier on a loaded machine)")
    ap.add_argument("--_rss-child", nargs=2, metavar=("LIB", "CASE"), help=argparse.SUPPRESS)
    return ap.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None and ARGS.isa:
    os.environ["TINYTENSOR_ISA"] = ARGS.isa
    if ARGS.isa == "avx2":                   # PyTorch too (read when torch loads)
        os.environ.update(ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2",
                          MKL_ENABLE_INSTRUCTIONS="AVX2")
if ARGS is not None and ARGS.paths:
    os.environ["TINYTENSOR_CONV_PLAN"] = ARGS.paths
if ARGS is not None and ARGS.openblas_coretype:
    with open("/proc/cpuinfo") as f:
        if "avx512f" in f.read():
            os.environ["OPENBLAS_CORETYPE"] = ARGS.openblas_coretype

import numpy as np  # noqa: E402

#         input shape            weight shape        stride pad dil groups
CASES = {
    "S1": ((128, 3, 20, 20), (5, 3, 5, 5), 1, 0, 1, 1),
    "S2": ((64, 1, 28, 28), (32, 1, 5, 5), 1, 0, 1, 1),
    "S3": ((64, 32, 8, 8), (64, 32, 5, 5), 1, 0, 1, 1),
    "S4": ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1, 1),
    "S5": ((16, 32, 32, 32), (32, 8, 3, 3), 2, 2, 2, 4),
    "S6": ((32, 64, 56, 56), (64, 1, 3, 3), 1, 1, 1, 64),
    "S7": ((32, 16, 1024), (32, 16, 7), 1, 3, 1, 1),
    "S8": ((4, 8, 16, 32, 32), (16, 8, 3, 3, 3), 1, 1, 1, 1),
}
DESC = {"S1": "lecture", "S2": "LeNet conv1", "S3": "LeNet conv2", "S4": "ResNet 3x3",
        "S5": "strided/dilated/grouped", "S6": "depthwise", "S7": "conv1d", "S8": "conv3d"}


def out_shape(case):
    xs, ws, s, p, d, _ = case
    sp = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k in zip(xs[2:], ws[2:])]
    return (xs[0], ws[0], *sp)


def flops(case):
    _, ws, *_ = case
    return 2 * int(np.prod(out_shape(case))) * int(np.prod(ws[1:]))


class Runner:
    """Forward and forward+backward closures for one library and case (inputs made once)."""

    def __init__(self, lib, case, seed=0, dtype="float32"):
        xs, ws, s, p, d, g = case
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(xs).astype(dtype)
        w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
        b = rng.standard_normal(ws[0]).astype(dtype)
        go = np.ones(out_shape(case), dtype)
        nsp = len(xs) - 2
        if lib == "tt":
            import tinytensor as mod
            import tinytensor.nn.functional as fn
        else:
            import torch as mod
            import torch.nn.functional as fn
        self.mod = mod
        self.conv = getattr(fn, f"conv{nsp}d")
        self.args = dict(stride=s, padding=p, dilation=d, groups=g)
        self.x = mod.tensor(x, requires_grad=True)
        self.w = mod.tensor(w, requires_grad=True)
        self.b = mod.tensor(b, requires_grad=True)
        self.go = mod.tensor(go)

    def forward(self):
        with self.mod.no_grad():
            self.conv(self.x, self.w, self.b, **self.args)

    def forward_backward(self):
        for t in (self.x, self.w, self.b):
            t.grad = None
        y = self.conv(self.x, self.w, self.b, **self.args)
        y.backward(self.go)


def set_threads(n):
    import tinytensor as tt
    import torch
    tt.set_num_threads(n)
    torch.set_num_threads(n)


def time_alternating(fns, reps, min_time):
    """Run each fn in turn, round after round; return each one's median seconds."""
    for f in fns:
        f()                                          # warm-up: specialisations, buffers
    times = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < reps or (time.perf_counter() - start < min_time * len(fns)
                                   and len(times[0]) < 200):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            times[i].append(time.perf_counter() - t0)
    stat = np.min if ARGS is not None and ARGS.stat == "min" else np.median
    return [float(stat(t)) for t in times]


def gemm_rate(n_threads, reps=5, dtype="float32"):
    """GFLOP/s of 2048^2 matmuls: (NumPy's, tinytensor's own GEMM of the running variant or
    None)."""
    from threadpoolctl import threadpool_limits
    from tinytensor._kernels import conv as kernels
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(dtype)
    c = np.empty_like(a)

    def rate(fn):
        fn()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        stat = np.min if ARGS is not None and ARGS.stat == "min" else np.median
        return 2 * 2048 ** 3 / float(stat(ts)) / 1e9

    with threadpool_limits(n_threads, user_api="blas"):
        numpy_rate = rate(lambda: np.matmul(a, a, out=c))
    own = rate(lambda: kernels.variant_gemm(a, a, c, False, n_threads)) \
        if kernels.own_sgemm() else None
    return numpy_rate, own


def _vm_hwm_mb():
    """Peak resident set of this process (VmHWM; ru_maxrss would include the parent's peak,
    which Linux carries across fork + exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(lib, name):
    r = Runner(lib, CASES[name])
    for _ in range(3):
        r.forward_backward()
    print(_vm_hwm_mb())


def peak_rss(name):
    out = {}
    for lib in ("tt", "torch"):
        res = subprocess.run([sys.executable, __file__, "--_rss-child", lib, name],
                             capture_output=True, text=True, env=os.environ.copy())
        out[lib] = float(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else None
    # the baseline: importing the library alone
    for lib, mod in (("tt", "tinytensor"), ("torch", "torch")):
        res = subprocess.run([sys.executable, "-c", f"import numpy, {mod}; print([int(l.split()[1])"
                              " / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:')]"
                              "[0])"], capture_output=True, text=True)
        out[lib + "_import"] = float(res.stdout.strip()) if res.returncode == 0 else None
    return out


def main(args):
    import torch
    from threadpoolctl import threadpool_info
    import tinytensor as tt  # noqa: F401
    from tinytensor._kernels import conv as kernels
    names = args.cases or list(CASES)
    from tinytensor._config import build_kind
    print(f"tinytensor from {os.path.dirname(tt.__file__)}, build: {build_kind()}")
    variant = getattr(kernels, "variant", lambda: "AVX-512 if the CPU has it")()
    print(f"tinytensor kernels: {variant}; PyTorch CPU capability: "
          f"{torch.backends.cpu.get_cpu_capability()}"
          f"{' (paths forced: ' + args.paths + ')' if args.paths else ''}")
    blas = [f"{i['internal_api']} {i.get('version')} {i.get('architecture')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"torch {torch.__version__}; numpy {np.__version__}; BLAS: {'; '.join(blas)}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"dtype: {args.dtype}")
    print(f"times: {args.stat} ms, alternating tinytensor/PyTorch in one process; "
          "ratio = tinytensor / PyTorch (lower is better)\n")
    ceilings, s4 = {}, {}
    for n in args.threads:
        set_threads(n)
        ceilings[n] = gemm_rate(n, dtype=args.dtype)
        own = "" if ceilings[n][1] is None else \
            f"; tinytensor's own GEMM ({variant}): {ceilings[n][1]:.0f}"
        print(f"== {n} thread(s); 2048^2 {args.dtype} matmul GFLOP/s: NumPy {ceilings[n][0]:.0f}{own}")
        print(f"{'case':<4} {'':<24} {'tt fwd':>8} {'pt fwd':>8} {'ratio':>6} {'tt GF/s':>8}"
              f"   {'tt f+b':>8} {'pt f+b':>8} {'ratio':>6} {'tt GF/s':>8}")
        for name in names:
            case = CASES[name]
            a, b = Runner("tt", case, dtype=args.dtype), Runner("torch", case, dtype=args.dtype)
            tf, pf, tfb, pfb = time_alternating(
                [a.forward, b.forward, a.forward_backward, b.forward_backward],
                args.reps, args.min_time)
            fl = flops(case)
            print(f"{name:<4} {DESC[name]:<24} {tf * 1e3:8.2f} {pf * 1e3:8.2f} {tf / pf:6.2f} "
                  f"{fl / tf / 1e9:8.1f}   {tfb * 1e3:8.2f} {pfb * 1e3:8.2f} {tfb / pfb:6.2f} "
                  f"{3 * fl / tfb / 1e9:8.1f}", flush=True)
            if name == "S4":
                s4[n] = (tf, tfb, pf, pfb)
                own = "" if ceilings[n][1] is None else \
                    f", {fl / tf / 1e9 / ceilings[n][1]:.0%} of tinytensor's GEMM"
                print(f"     S4 forward = {fl / tf / 1e9 / ceilings[n][0]:.0%} of NumPy's GEMM "
                      f"rate{own}")
            del a, b
        print()
    if 1 in s4 and 2 in s4:
        print(f"S4 speed-up 1 -> 2 threads: tinytensor forward {s4[1][0] / s4[2][0]:.2f}x, "
              f"forward+backward {s4[1][1] / s4[2][1]:.2f}x; PyTorch {s4[1][2] / s4[2][2]:.2f}x, "
              f"{s4[1][3] / s4[2][3]:.2f}x")
    if args.rss:
        r = peak_rss("S4")
        print(f"peak RSS, S4 forward+backward x3 in a fresh process: tinytensor {r['tt']:.0f} MB "
              f"(import alone {r['tt_import']:.0f} MB), PyTorch {r['torch']:.0f} MB "
              f"(import alone {r['torch_import']:.0f} MB)")


if __name__ == "__main__":
    if ARGS._rss_child:
        rss_child(*ARGS._rss_child)
    else:
        main(ARGS)
