"""tt.show_config(): which kernels this build and this CPU run, and with how many threads."""
import os

from tinytensor._functions import conv as conv_fn
from tinytensor._kernels import _isa, _parallel, conv as kc, conv_wgrad as kw, pool as kp
from tinytensor._threads import get_num_threads
from tinytensor._version import __version__


def _config():
    """The facts show_config prints, as (label, text) pairs."""
    forced = os.environ.get("TINYTENSOR_ISA", "").strip()
    variant = kc.variant()
    own = kc.own_sgemm()
    mr, nr = kc.tile() if own else (0, 0)
    gemm = f"tinytensor's own ({variant}, {mr} x {nr} tile)" if own else "BLAS"
    f32_fwd = ["rows (W-stride 1 or 2)", "panels (implicit GEMM)"] if own else ["im2col + BLAS"]
    f32_gx = (["flipped convolution (stride 1)", "col2im panels", "GEMM + col2im"] if own
              else ["GEMM + col2im"])
    f32_gw = (["dot products (AVX-512)", "windows (AVX-512)"] if own and kw.available() else [])
    f32_gw.append(f"im2col + GEMM ({'own' if own else 'BLAS'})")
    return [
        ("kernel variant", f"{variant}" + (f" (forced by TINYTENSOR_ISA={forced})" if forced
                                           else " (the CPU's best)")),
        ("CPU can run", ", ".join(v for v in _isa.supported())),
        ("threads", f"{get_num_threads()}"),
        ("OpenMP", "yes" if _parallel.openmp_enabled() else "no (serial kernels)"),
        ("float32 GEMM in convolutions", gemm),
        ("float32 conv forward", ", ".join(f32_fwd)),
        ("float32 conv input gradient", ", ".join(f32_gx)),
        ("float32 conv weight gradient", ", ".join(f32_gw)),
        ("float64 convolutions", f"im2col + BLAS ({kc.blas_backend()})"),
        ("depthwise convolutions", "direct (plain C, any dtype)"),
        ("max-pool rows", "AVX-512" if kp.avx512_rows() else "portable C"),
        ("conv thresholds", f"rows from {conv_fn._ROWS_MIN_WIDTH} outputs wide, panels from "
                            f"{conv_fn._PANEL_MIN_IN_CHANNELS} input channels"),
    ]


def show_config():
    """Print the kernel variant (instruction set), threads, OpenMP and the convolution paths
    this build and this CPU run.

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
