"""The ISA variants of the float32 kernels this machine runs (tinytensor/_kernels/_isa.pyx),
and on_variant(name): run a block on one of them, the others' kernels restored afterwards.

The portable kernels (c/tt_portable.inc) run in every variant but "avx512", which has its own
hand-written GEMM and convolution ones; the weight-gradient kernels (c/tt_conv_wgrad.inc) and
the max-pool row kernel (c/tt_pool_rows.inc) are the portable ones in every variant, "avx512"
included;
"avx512-portable" (the portable source compiled for AVX-512) exists and is tested at the C
level only (tests/kernels/test_kernels.c)."""
import contextlib

from tinytensor._kernels import _isa, conv as K, pool as KP

VARIANTS = _isa.supported()
DEFAULT = _isa.selected()


@contextlib.contextmanager
def on_variant(name):
    """The float32 kernels of variant `name` inside the block (not thread-safe: tests only)."""
    old = K.use_variant(name)              # (the weight-gradient kernels come with it)
    old_pool = KP._use_vector_rows(True)
    try:
        yield
    finally:
        K.use_variant(old)
        KP._use_vector_rows(old_pool)
