"""The ISA variants of the float32 kernels this machine runs (tinytensor/_kernels/_isa.pyx),
and on_variant(name): run a block on one of them, the others' kernels restored afterwards.

The portable kernels (c/tt_portable.inc) run in every variant but "avx512", which has its own
hand-written ones (and the AVX-512-only weight-gradient kernels); the max-pool row kernel
(c/tt_pool_rows.inc) is the portable one in every variant, "avx512" included;
"avx512-portable" (the portable source compiled for AVX-512) is tested at the C level only
(tests/kernels/test_kernels.c), to keep the suite short."""
import contextlib

from tinytensor._kernels import _isa, conv as K, conv_wgrad as KW, pool as KP

VARIANTS = tuple(v for v in _isa.supported() if v != "avx512-portable")
DEFAULT = _isa.selected()


@contextlib.contextmanager
def on_variant(name):
    """The float32 kernels of variant `name` inside the block (not thread-safe: tests only)."""
    old = K.use_variant(name)
    old_wgrad = KW.use_avx512(name == "avx512")
    old_pool = KP._use_vector_rows(True)
    try:
        yield
    finally:
        K.use_variant(old)
        KW.use_avx512(old_wgrad)
        KP._use_vector_rows(old_pool)
