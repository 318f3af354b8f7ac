# cython: language_level=3
"""Which kernel variant (instruction set) tinytensor's float32 kernels run: chosen once, here.

The variants (c/tt_isa.h): "avx512", "avx2" (with FMA), "neon" (aarch64) and "generic" (the
build's baseline: SSE2 on x86-64). The CPU's best one runs unless the environment variable
TINYTENSOR_ISA names another the CPU supports (to test or compare variants on one machine);
naming one it cannot run is an error at import. ("avx512-portable", the portable kernel
source compiled for AVX-512, exists in the C kernel tests only: the extension's "avx512" runs
hand-written AVX-512 GEMM and convolution kernels.)
"""
import os

cdef extern from "tt_cpu.h":
    int tt_cpu_has(const char* name)

VARIANTS = ("avx512", "avx2", "neon", "generic")
_ALL = VARIANTS


def supported():
    """The variants this build and this CPU can run, best first."""
    return tuple(v for v in _ALL if tt_cpu_has(v.encode()))


def _choose():
    forced = os.environ.get("TINYTENSOR_ISA", "").strip().lower()
    can = supported()
    if not forced:                      # None: a build without any (MSVC): plain-C GEMMs
        return next((v for v in can if v in VARIANTS), None)
    if forced not in _ALL:
        raise ValueError(f"TINYTENSOR_ISA={forced!r}: unknown variant; expected one of "
                         f"{', '.join(VARIANTS)}")
    if forced not in can:
        raise RuntimeError(f"TINYTENSOR_ISA={forced!r}: this CPU (or this build) cannot run "
                           f"it; it can run {', '.join(can)}")
    return forced


_SELECTED = _choose()


def selected():
    """The variant chosen at import (TINYTENSOR_ISA or the CPU's best), or None on a build
    without any (compilers without GCC/Clang vector extensions)."""
    return _SELECTED
