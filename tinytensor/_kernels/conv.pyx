# cython: language_level=3
"""The convolution kernels, one module per path, under the names callers have always used.

- _variant.pyx: the running ISA variant's kernels (c/tt_isa.h) and the GEMMs every path uses
  (float32 and float64, our own: never BLAS); use_variant() switches them for tests.
- conv_gemm.pyx: im2col + GEMM forward and backward (any dtype), and unfold/fold.
- conv_panels.pyx: float32 forward by panels or rows, input gradient by panels.
- conv_direct.pyx: depthwise (one input channel per group), tap by tap.
- conv_wgrad.pyx: the float32 weight gradient by dot products (AVX-512).
- conv_taps.pyx: every part tap by tap, one GEMM per tap over the outputs it reaches inside
  the input (any dtype; small padded planes).
- conv_geometry.pxd: the shape struct and checks they share; c/: their C.

Which of them runs for a convolution is the plan's choice (tinytensor/_functions/conv_plan.py).
(This module stays compiled, not a .py, so that an older build's conv.*.so never shadows it.)
"""
from tinytensor._kernels._variant import (  # noqa: F401
    avx512_sgemm, dtile, own_sgemm, tile, use_variant, variant, variant_gemm, variant_sgemm)
from tinytensor._kernels.conv_direct import (  # noqa: F401
    direct_backward, direct_backward_input, direct_backward_weight, direct_forward)
from tinytensor._kernels.conv_gemm import (  # noqa: F401
    fold_forward, gemm_backward, gemm_forward, gemm_scratch_size, unfold_forward)
from tinytensor._kernels.conv_panels import (  # noqa: F401
    panel_backward_input, panel_backward_input_sizes, panel_forward, panel_sizes, rows_forward)
