"""tt.show_config(): which kernels this build and this CPU run, and with how many threads."""
import os

from tinytensor._functions import conv_plan, matmul as mm
from tinytensor._kernels import _isa, _parallel, conv as kc, pool as kp
from tinytensor._threads import get_num_threads
from tinytensor._version import __version__


def _config():
    """The facts show_config prints, as (label, text) pairs."""
    forced = os.environ.get("TINYTENSOR_ISA", "").strip()
    variant = kc.variant()
    own = kc.own_sgemm()
    if own:
        gemm = (f"tinytensor's own ({variant}; float32 {' x '.join(map(str, kc.tile()))} "
                f"tile, float64 {' x '.join(map(str, kc.dtile()))} tile), no BLAS")
    else:
        gemm = "tinytensor's own (plain C: this build has no kernel variant), no BLAS"
    rows = [
        ("kernel variant", f"{variant}" + (f" (forced by TINYTENSOR_ISA={forced})" if forced
                                           else " (the CPU's best)")),
        ("CPU can run", ", ".join(v for v in _isa.supported())),
        ("threads", f"{get_num_threads()}"),
        ("OpenMP", "yes" if _parallel.openmp_enabled() else "no (serial kernels)"),
        ("build", build_kind()),
        ("GEMM in convolutions", gemm),
        ("matmul and linear", _matmul_gemms()),
    ]
    names = {"forward": "conv forward", "input_grad": "conv input gradient",
             "weight_grad": "conv weight gradient"}
    for dtype in ("float32", "float64"):
        for slot, paths in conv_plan.available(dtype).items():
            rows.append((f"{dtype} {names[slot]}", ", ".join(paths)))
    if conv_plan.forced():
        rows.append(("conv paths forced", ", ".join(f"{k}={v}" for k, v in
                                                    conv_plan.forced().items())))
    rows += [
        ("max-pool rows", f"{kp.vector_rows()} vectors" if kp.vector_rows() else "plain loops"),
        ("conv thresholds", f"rows from {conv_plan.ROWS_MIN_WIDTH} outputs wide, panels from "
                            f"{conv_plan.PANEL_MIN_IN_CHANNELS} input channels"),
    ]
    return rows


def build_kind():
    """'release', or what the bounds-checked debug build (TINYTENSOR_CYTHON_DEBUG=1) is: the
    benchmarks print it too."""
    return "debug (bounds checks on: for tests, slow)" if _parallel.debug_build() else "release"


def _matmul_gemms():
    """Which GEMM runs matmul/linear (tinytensor/_functions/matmul.py)."""
    return (f"tinytensor's own GEMM (float32, float64) from {mm._OWN_MIN_MACS:,} "
            f"multiply-adds, NumPy's below that and for other dtypes")


def show_config():
    """Print the kernel variant (instruction set), threads, OpenMP and the convolution paths
    this build and this CPU run (each convolution picks one per gradient: its plan, see
    tinytensor/_functions/conv_plan.py).

    >>> import tinytensor as tt
    >>> tt.show_config()                                         # doctest: +SKIP
    tinytensor 0.1.0
      kernel variant:               avx2 (the CPU's best)
      ...
    """
    rows = _config()
    width = max(len(label) for label, _ in rows) + 2
    print(f"tinytensor {__version__}")
    for label, text in rows:
        print(f"  {label + ':':<{width}}{text}")
