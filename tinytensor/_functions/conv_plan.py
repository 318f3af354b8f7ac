"""The convolution plan: which kernel computes each part of a convolution, decided in one place.

`plan(x_shape, w_shape, geo, groups, dtype, n_threads)` returns a `ConvPlan`: the forward
path, the input-gradient path and the weight-gradient path, the threads, and the chunk and
block sizes of the im2col + GEMM path, computed from the shapes, the dtype, the kernel variant
(instruction set) running and the thread count. `tinytensor/_functions/conv.py` runs what
the plan says; nothing else chooses a convolution kernel.

The paths (`PATHS`):

- forward: ``direct`` (one input channel per group: depthwise, tap by tap), ``winograd6``
  (float32, 3x3 or 5x5 kernels over small planes, stride 1, one group: Winograd's F(4x4, 3x3)
  or F(2x2, 5x5) over 6x6 patches, 36 multiplications per output tile and channel pair
  instead of 144 or 100, vectors across channels, conv_winograd6.pyx), ``winograd`` (3x3 over
  wider planes: F(2x2, 3x3), 16 multiplications per 2x2 outputs and channel pair instead of
  36, conv_winograd.pyx), ``winograd1d`` (float32, 3-, 5- or 7-tap kernels over signals,
  stride 1, one group: 1-D Winograd over 10-sample windows, 10 multiplications per run of 11 - r
  outputs and channel pair, vectors along the signal, conv_winograd1d.pyx),
  ``taps`` (any dtype, small planes: one GEMM per kernel tap over the output positions whose
  window has that tap inside the input, conv_taps.pyx: no products with padding), ``rows``
  (float32, W-stride 1 or 2: output rows straight from the input, no im2col), ``panels``
  (float32: implicit GEMM, im2col built 32 columns at a time), ``gemm`` (any dtype: im2col of
  a chunk + our own GEMM, c/tt_dgemm.inc and c/tt_portable.inc).
- input gradient: ``direct-fused`` (depthwise, all three gradients in one pass; with the
  weight gradient's ``direct-fused``), ``direct``, ``taps`` (as for the forward),
  ``flipped`` (stride 1: a convolution of the output gradient
  with the flipped weights), ``winograd6`` (where its forward applies but the flipped
  convolution would multiply mostly padding: the forward's adjoint, patch by patch),
  ``panels`` (float32: col2im panel by panel), ``gemm`` (GEMM +
  col2im).
- weight gradient: ``direct-fused``, ``direct``, ``taps`` (as for the input gradient),
  ``winograd6``, ``winograd`` and ``winograd1d`` (where the forward's applies: the products
  in Winograd's domain, 36, 16 or 10 GEMMs per block of tiles, summed over the blocks in order
  or over fixed parts of the batch),
  ``dot`` (float32, W-stride 1: dot products, no im2col), ``window`` (float32: window
  mode of the same kernel), ``gemm`` (im2col + GEMM). Both float32 kernels run on
  every variant (its vector width: 16 lanes on AVX-512, 8 on AVX2, 4 on NEON and generic).

Which one runs is chosen by the thresholds below, each with the measurement behind it.

Forcing a path (tests, the script that runs every kernel path, benchmarks)::

    with conv_plan.force(forward="panels", input_grad="gemm", weight_grad="window"):
        ...                                  # every convolution in the block

or, for a whole process, the environment variable
``TINYTENSOR_CONV_PLAN="forward=panels,input_grad=gemm,weight_grad=window"`` (read when the
convolutions load: ``import tinytensor.nn``, ``tinytensor.nn.functional``, ``tt.show_config()``;
also ``chunk_columns=N`` and ``col_block_bytes=N``, the GEMM path's chunking). A forced path
runs wherever it can (`ConvPlan.forced` lists what was asked for); where it cannot (a path of
float32 for a float64 convolution, ``rows`` for a W-stride of 3, ``direct`` for several input
channels per group), the plan falls back to its own choice. The kernel variant is chosen
separately, by ``TINYTENSOR_ISA`` (see tinytensor/_kernels/_isa.pyx).

Inspecting::

    >>> import numpy as np
    >>> from tinytensor._functions import conv_plan
    >>> geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    >>> p = conv_plan.plan((8, 16, 1, 32, 32), (32, 16, 1, 3, 3), geo, 1, np.float64, 1)
    >>> p.forward, p.input_grad, p.weight_grad
    ('gemm', 'gemm', 'gemm')
    >>> with conv_plan.force(input_grad="flipped"):
    ...     conv_plan.plan((8, 16, 1, 32, 32), (32, 16, 1, 3, 3), geo, 1, np.float64, 1).input_grad
    'flipped'

Results never depend on the thread count whatever the plan: every path sums in an order fixed
by the shapes (the plan's chunking depends on the shapes only, not on the threads).
"""
import contextlib
import os

import numpy as np

from tinytensor._kernels import _variant as _k
from tinytensor._kernels import conv_wgrad as _kw
from tinytensor._kernels import conv_winograd as _kwino
from tinytensor._kernels import conv_winograd1d as _kwino1d
from tinytensor._kernels import conv_winograd6 as _kwino6

PATHS = {
    "forward": ("direct", "winograd6", "winograd", "winograd1d", "rows", "panels", "gemm",
                "taps"),
    "input_grad": ("direct-fused", "direct", "flipped", "winograd6", "panels", "gemm", "taps"),
    "weight_grad": ("direct-fused", "direct", "winograd6", "winograd", "winograd1d", "dot",
                    "window", "gemm", "taps"),
}
_KNOBS = ("chunk_columns", "col_block_bytes")

# ------------------------------------------------------------------------ the thresholds

# A chunk holds enough samples for about this many output columns per GEMM (small images are
# batched into one GEMM; large ones go one sample at a time).
CHUNK_COLUMNS = 512
# A single large sample is processed in blocks of output positions whose col block (CgK x
# columns) takes about this many bytes, so it stays in cache instead of streaming through
# memory, and scratch stays bounded however long a row is (1 thread: S8 forward 8.9 -> 7.6
# ms, backward 19.6 -> 15.2 ms; S4 unchanged).
COL_BLOCK_BYTES = 2 * 1024 * 1024
# The weight gradient is summed over at most this many fixed partitions of the batch (not one
# per thread), so the result does not depend on the thread count.
MAX_PARTS = 8
# Direct kernels when a group has one input channel and at most this many outputs.
DIRECT_MAX_OUT_PER_GROUP = 4
# The fused depthwise backward parallelises over groups; below this many, the separate
# kernels (parallel over samples x channels) keep both threads busy. The choice depends on
# the shape alone, so the bits never depend on the thread count.
FUSED_MIN_GROUPS = 4
# Stride 1 or 2 along W and output rows at least this wide: the forward reads input rows
# directly (tt_conv_rows.h); narrower rows would leave most vector lanes idle, and go to the
# panels.
ROWS_MIN_WIDTH = 12
# The input gradient of a stride-1 convolution runs as a convolution (see
# conv._transposed_conv_as_conv) unless that multiplies more than this factor of padding
# zeros. (S1, 20 x 20 inputs from 16 x 16 outputs: 0.93 -> 0.70 ms; S3, 8 x 8 inputs from
# 4 x 4 outputs: 2.2x slower as a convolution.)
MAX_FLIPPED_GROWTH = 2.0
# Both float32 input-gradient ways above need this many input channels per group: they
# become the rows of the micro-kernel's tile, and a tile of one row waits on its own
# multiply-adds (S2, one channel: 0.69 ms by the GEMM + col2im path, 1.54 as a convolution,
# 1.68 by panels); fewer go to GEMM + col2im.
PANEL_MIN_IN_CHANNELS = 3
# The dot-product weight gradient (conv_wgrad.pyx, every variant) is used when at least this
# fraction of its vector lanes hold output positions (lanes per vector: 16 on AVX-512, 8 on
# AVX2, 4 on NEON and generic; S3's rows of 4 use 0.25 of 16 lanes: 2.2x slower than the
# GEMM path on AVX-512, 0.5 of 8 on AVX2: 1.55x slower) and a group has at least
# WGRAD_MIN_CHANNELS input channels (its tiles are that many channels wide: S2, one channel,
# 1.02 -> 1.23 ms on AVX-512, 1.0-1.2x the GEMM path's time on AVX2). On AVX2 (Zen 5 running
# the avx2 variant, 1 thread, weight gradient alone): S1 2.47 -> 0.87 ms, S7 5.4 -> 4.5, S8
# 14.7 -> 7.3.
WGRAD_MIN_LANE_USE = 0.8
WGRAD_MIN_CHANNELS = 2
# ... and its lines (rows in row mode) have at least this many positions: the 16-lane rule
# above implies it; narrower vectors fill their lanes with shorter rows, but then every line
# costs a tile's setup for one chunk (S3's rows of 4 on the generic variant: 1.44x the GEMM
# path's time by dot products, 0.72x by the window mode).
WGRAD_MIN_LINE = 13
# Otherwise, for output volumes of at most WGRAD_WIN_MAX_POSITIONS positions per sample that
# fill at least WGRAD_WIN_MIN_LANE_USE of the vectors' lanes, its window mode
# (window_weight_grad: vectors over a whole output volume, im2col rows built per block; any
# strides, padding and groups). S3 (4 x 4 planes): 1.49 -> 0.72 ms on 1 thread, 0.76 -> 0.37 on
# 2 (AVX-512); 4.0 -> 2.1 ms on 1 thread (AVX2). Measured faster than the GEMM path on every
# such shape tried (1 thread, AVX-512): 6 x 6 and 8 x 4 stride-1 planes 2.0-2.1x, stride 2
# with padding 1.3-2.3x, 8 x 8 and 12 x 12 outputs from 12 x 12 and 16 x 16 inputs 1.6x and
# 1.4x, 3-D 4 x 4 x 4 and 3 x 3 x 3 3.6x and 2.1x, 14 x 14 -> 7 x 7 stride 2 padding 1 about
# even (on AVX2: 4 x 4 stride 2 padding 1 1.7x, 3-D 4 x 4 x 4 1.9x, 7 x 7 about even).
# Grouped (1 thread, minima, the GEMM path -> window; AVX-512 / AVX2 variant on the same
# EPYC): S5 (4 groups, stride 2, dilation 2) 1.36 -> 0.85 / 1.63 -> 0.97 ms; 32 groups of
# 4 -> 4 channels over 8 x 8 3.06 -> 1.27 / 3.77 -> 1.80 (dot products: 0.35 / 0.67); 2 groups
# of 32, stride 2, 16 x 16 -> 8 x 8 2.27 -> 1.74 / 2.53 -> 1.97; 4 groups of 16, 14 x 14
# 2.76 -> 2.36 / 2.25 -> 1.68 (dot products: 1.04 / 1.00).
WGRAD_WIN_MAX_POSITIONS = 256
WGRAD_WIN_MIN_LANE_USE = 0.5
# The tap-by-tap paths (conv_taps.pyx) for all three parts when at least this fraction of the
# im2col products would read padding and a group has at least TAPS_MIN_CHANNELS input and
# output channels (the per-tap GEMMs' inner dimensions). T1 of bench_conv_transpose (DCGAN,
# 64 x 512 x 4 x 4 -> 256 x 8 x 8, k4 s2 p1: 23% padding), CPU ms on 1 thread of a shared
# Zen 5: its forward (this input gradient) 54.6 (panels) -> 41.2, its input gradient (this
# forward) 46.6 (panels) -> 41.4, its weight gradient 71.0 (window; GEMM 66.8) -> 43.0.
TAPS_MIN_SKIPPED = 0.1
TAPS_MIN_CHANNELS = 32
# The tap-by-tap paths take chunks of samples with about this many output positions (the
# columns of their GEMMs), and run only on planes of at most TAPS_MAX_POSITIONS output and
# 4x that many input positions (their scratch holds a chunk's planes).
TAPS_COLUMNS = 512
TAPS_MAX_POSITIONS = 1024
# Winograd's F(2x2, 3x3) for the forward (and so the flipped input gradient) and the weight
# gradient of a 3x3, stride-1 convolution over planes with one group, at least
# WINO_MIN_CHANNELS input and output channels (the inner and outer dimensions of its 16
# GEMMs) and output rows at least WINO_MIN_WIDTH wide (its transforms take a vector of tiles
# of one row at a time), where the tap-by-tap paths do not apply. CPU ms on 1 thread of Zen 5
# (avx512 / avx2 variants) against the paths chosen before: S4 forward + input gradient 167
# -> 89-102 / 171 -> 95-99 (rows), weight gradient 77 -> 49 / 102 -> 59 (dot); ResNet-18's
# 32 x 32 x 64 layer at batch 32, forward + input gradient 47 -> 33 / 65 -> 33, weight
# gradient 25 -> 18; its 16 x 16 x 128 one 47 -> 34 / 50 -> 34 and 25 -> 17.5; its 8 x 8 x 256
# layer stays tap by tap (forward + input gradient 45 against Winograd's 52-53).
WINO_MIN_CHANNELS = 16
WINO_MIN_WIDTH = 8
# Winograd's F(4x4, 3x3) and F(2x2, 5x5) (conv_winograd6.pyx: 36 multiplications per output tile
# and channel pair instead of 144 or 100, vectors across channels) for the forward, the input
# gradient (the flipped convolution, which runs it too, or, where that would multiply mostly
# padding, the forward's adjoint) and the weight gradient of such convolutions, 3x3 or 5x5, whose
# output rows are at most WINO6_MAX_WIDTH wide, with WINO_MIN_CHANNELS as above. Their transforms
# gather channels a plane apart, which larger planes make slow. CPU ms on 1 thread of the AVX-512
# EPYC, ResNet-18's layers at batch 32, forward / weight gradient: 16 x 16 x 128 8.9-9.2 / 11.4
# (F(2x2, 3x3) 14.9-16.3 / 18.7), 8 x 8 x 256 8.4-10.2 / 11.5 (tap by tap 20.8-24.5 / 21.8), 4 x
# 4 x 512 12.8-14.9 / 16.2 (18.3-21.8 / 18.8), but 32 x 32 x 64 17.4-20.9 / 17.9 (F(2x2, 3x3)
# 14.8-16.5 / 18.3); S3 (LeNet's 5x5 over 8 x 8 planes) 0.65 / 0.70 (panels 1.12, window 1.32),
# its input gradient by the adjoint 0.76 (panels 1.14). They round more than F(2x2, 3x3):
# relative errors ~1e-5 of the largest output, not 1e-7.
WINO6_MAX_WIDTH = 16
# The 1-D Winograd convolutions F(8, 3), F(6, 5) and F(4, 7) (conv_winograd1d.pyx: 10
# multiplications per run of 8, 6 or 4 outputs and channel pair instead of 24, 30 or 28,
# vectors along the signal) for the forward (and so the flipped input gradient) and the
# weight gradient of 3-, 5- and 7-tap, stride-1 convolutions of signals with one group,
# WINO_MIN_CHANNELS as above and at least WINO1D_MIN_LENGTH outputs. CPU ms on 1 thread of
# the AVX-512 EPYC, forward against the rows path: S7 (32 x 16 x 1024, 7 taps, 32 outputs)
# 1.31 against 2.41, its flipped input gradient 1.30 against 2.41; 5 taps 1.47 against 1.72
# (16 -> 32 channels), 2.54 against 3.16 (64 -> 128 over 256 samples); 3 taps 1.10 against
# 1.11 (16 -> 32), 0.76 against 0.97 (64 -> 64). Weight gradient against the dot-product
# kernel: S7 1.66 against 2.47, 32 -> 64 channels 2.51 against 4.94 (7 taps) and 2.82 against
# 3.57 (5 taps), 128 -> 128 4.84 against 9.77, 64 -> 64 with 3 taps 0.90 against 1.04.
WINO1D_MIN_LENGTH = 64
# Below this many multiply-adds per thread, use fewer threads.
MIN_MACS_PER_THREAD = 100_000


# ----------------------------------------------------------------------------- forcing

def _parse_env(text):
    forced = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in PATHS and key not in _KNOBS:
            raise ValueError(f"TINYTENSOR_CONV_PLAN: {item!r} is not one of "
                             f"{', '.join(list(PATHS) + list(_KNOBS))}=VALUE")
        forced[key] = int(value) if key in _KNOBS else value
    _check_forced(forced, "TINYTENSOR_CONV_PLAN")
    return forced


def _check_forced(forced, who):
    for key, value in forced.items():
        if key in PATHS and value not in PATHS[key]:
            raise ValueError(f"{who}: {key}={value!r} is not one of {', '.join(PATHS[key])}")
        if key in _KNOBS and (not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{who}: {key} must be a positive integer, got {value!r}")


_forced = _parse_env(os.environ.get("TINYTENSOR_CONV_PLAN", ""))
_cache = {}


@contextlib.contextmanager
def force(**paths):
    """Inside the block, every convolution's plan takes the given paths wherever they can run
    (keywords: forward, input_grad, weight_grad; values in PATHS; None leaves one to the plan)
    and the GEMM path's chunk_columns / col_block_bytes. Nested blocks add to the outer one.
    For tests and benchmarks: process-wide, not thread-safe.

    >>> with force(forward="gemm"):
    ...     pass
    """
    global _forced
    unknown = set(paths) - set(PATHS) - set(_KNOBS)
    if unknown:
        raise TypeError(f"force: unexpected keyword(s) {', '.join(sorted(unknown))}")
    new = dict(_forced)
    new.update({k: v for k, v in paths.items() if v is not None})
    _check_forced(new, "force")
    old = _forced
    _forced = new
    _cache.clear()
    try:
        yield
    finally:
        _forced = old
        _cache.clear()


def forced():
    """What is forced now (force() blocks and TINYTENSOR_CONV_PLAN), as a dict."""
    return dict(_forced)


# ---------------------------------------------------------------------------------- plan

class ConvPlan:
    """How one convolution runs (see the module docstring): forward, input_grad and
    weight_grad are names from PATHS; threads the OpenMP threads its kernels use; chunk
    (samples per GEMM), block (output positions per col block of one sample) and parts
    (partial weight-gradient sums) the GEMM path's chunking; isa the kernel variant and tile
    its GEMM micro-kernel's tile for this dtype (rows x columns); forced what was asked."""

    __slots__ = ("forward", "input_grad", "weight_grad", "threads", "chunk", "block", "parts",
                 "isa", "tile", "dtype", "forced")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields[name])

    def __repr__(self):
        forced = f", forced={self.forced}" if self.forced else ""
        tile = f"{self.tile[0]}x{self.tile[1]}" if self.tile else "plain C"
        return (f"ConvPlan(forward={self.forward!r}, input_grad={self.input_grad!r}, "
                f"weight_grad={self.weight_grad!r}, threads={self.threads}, "
                f"chunk={self.chunk}, block={self.block}, parts={self.parts}, "
                f"dtype={self.dtype}, isa={self.isa!r}, gemm_tile={tile}{forced})")


def geometry(stride, pad_begin, dilation, pad_end):
    """The kernels' (4, 3) geometry array from per-dim tuples (1-D/2-D lead with 1s/0s)."""
    rows = []
    for vals, fill in ((stride, 1), (pad_begin, 0), (dilation, 1), (pad_end, 0)):
        rows.append((fill,) * (3 - len(vals)) + tuple(vals))
    return np.array(rows, dtype=np.intp)


def out_spatial(x_shape, w_shape, geo):
    """(OD, OH, OW) of a convolution of 5-D shapes."""
    return tuple((x_shape[2 + a] + geo[1, a] + geo[3, a] - geo[2, a] * (w_shape[2 + a] - 1) - 1)
                 // geo[0, a] + 1 for a in range(3))


def flipped_padding(w_shape, geo):
    """(pad_begin, pad_end) of the input gradient of a stride-1 convolution run as a
    convolution (dilation * (kernel - 1) - padding on each side), or None where that is not
    possible (a stride > 1 or a negative padding)."""
    ext = geo[2] * (np.array(w_shape[2:]) - 1)
    pad_begin, pad_end = ext - geo[1], ext - geo[3]
    if (geo[0] != 1).any() or (pad_begin < 0).any() or (pad_end < 0).any():
        return None
    return pad_begin, pad_end


def _threads_for(n_threads, out_shape, w_shape):
    """Fewer threads for small convolutions: a parallel region costs microseconds when idle
    and far more on a loaded machine. Safe for reproducibility: every kernel gives the same
    bits for any thread count."""
    macs = 1
    for v in out_shape:
        macs *= v
    for v in w_shape[1:]:
        macs *= v
    return max(1, min(n_threads, macs // MIN_MACS_PER_THREAD))


def _chunking(n, cg, k, length, itemsize, columns, col_bytes):
    """(samples per chunk, output positions per col block, weight-gradient partitions) of the
    GEMM path. Whole samples per block when several share a GEMM, else about col_bytes of col
    (CgK x columns) and at least `columns` columns, so the GEMMs stay wide. Any split works
    (a block may start or end inside an output row)."""
    nb = max(1, min(n, -(-columns // max(length, 1))))
    if nb > 1:
        bs = length
    else:
        bs = max(1, min(length, max(columns, col_bytes // max(1, cg * k * itemsize))))
    return nb, bs, max(1, min(MAX_PARTS, -(-n // nb)))


def taps_chunk(n, length, n_threads=1):
    """Samples per chunk of the tap-by-tap paths (length: output positions per sample): about
    TAPS_COLUMNS columns, and, given n_threads, at least one chunk per thread (ResNet-18's
    4 x 4 planes at batch 32 made one chunk: its forward ran on one thread of two). Only the
    forward and the input gradient may pass n_threads: their chunks are independent tasks
    whose bits do not depend on the chunk size (each output column's sums run over the
    channels and taps alone); the weight gradient sums over the chunks, so its chunking must
    depend on the shapes only."""
    nb = max(1, min(n, -(-TAPS_COLUMNS // max(length, 1))))
    return max(1, min(nb, -(-n // max(n_threads, 1))))


def skipped_fraction(x_shape, w_shape, geo):
    """The fraction of im2col's products (every tap times every output position) that read
    padding: what the tap-by-tap paths leave out."""
    out_sp = out_spatial(x_shape, w_shape, geo)
    frac = 1.0
    for a in range(3):
        n, k, o = x_shape[2 + a], w_shape[2 + a], out_sp[a]
        s, p, d = geo[0, a], geo[1, a], geo[2, a]
        inside = sum(sum(1 for q in range(o) if 0 <= q * s - p + t * d < n) for t in range(k))
        frac *= inside / (k * o) if k * o else 1.0
    return 1.0 - frac


def _own_float32(dtype):
    """float32 on a build with a kernel variant: the rows and panel kernels exist."""
    return dtype == np.float32 and _k.own_sgemm()


def _runs(slot, path, d):
    """Whether `path` can compute `slot` for these shapes (d: the facts plan() gathered)."""
    if path in ("direct", "direct-fused"):
        return d["cg"] == 1
    if path == "gemm":
        return True
    if path == "taps":
        return d["small"]
    if path == "winograd":
        return d["f32"] and d["wino"]
    if path == "winograd6":
        return d["f32"] and d["wino6"]
    if path == "winograd1d":
        return d["f32"] and d["wino1d"]
    if slot == "forward":
        return d["f32"] and (path == "panels" or d["sw"] <= 2)
    if slot == "input_grad":
        return d["flip"] is not None if path == "flipped" else d["f32"]
    if not (d["f32"] and _kw.available()):
        return False
    if path == "dot":
        return d["sw"] == 1
    return d["positions"] > 0 and d["win_ok"]


def _choose(slot, d):
    """The path the thresholds choose (nothing forced)."""
    if d["direct"]:
        if slot == "forward":
            return "direct"
        return "direct-fused" if d["groups"] >= FUSED_MIN_GROUPS else "direct"
    if d["f32"] and d["wino6"] and min(d["cg"], d["og"]) >= WINO_MIN_CHANNELS \
            and d["ow"] <= WINO6_MAX_WIDTH:
        if slot != "input_grad":
            return "winograd6"
        if d["flip"] is not None and d["in_positions"] <= MAX_FLIPPED_GROWTH * d["positions"]:
            return "flipped"                    # a convolution that runs it too
        return "winograd6"                      # its adjoint, without the padding
    if d["taps"]():
        return "taps"
    if (slot != "input_grad" and d["f32"] and d["wino1d"] and d["ow"] >= WINO1D_MIN_LENGTH
            and min(d["cg"], d["og"]) >= WINO_MIN_CHANNELS):
        return "winograd1d"
    if (slot != "input_grad" and d["f32"] and d["wino"]
            and min(d["cg"], d["og"]) >= WINO_MIN_CHANNELS and d["ow"] >= WINO_MIN_WIDTH):
        return "winograd"
    if slot == "forward":
        if d["f32"]:
            return "rows" if d["sw"] <= 2 and d["ow"] >= ROWS_MIN_WIDTH else "panels"
        return "gemm"
    if slot == "input_grad":
        if d["f32"] and d["cg"] >= PANEL_MIN_IN_CHANNELS:
            grows = d["in_positions"] > MAX_FLIPPED_GROWTH * d["positions"]
            return "flipped" if d["flip"] is not None and not grows else "panels"
        return "gemm"
    if not (d["f32"] and _kw.available() and d["cg"] >= WGRAD_MIN_CHANNELS):
        return "gemm"
    if (d["sw"] == 1 and d["lane_use"]() >= WGRAD_MIN_LANE_USE
            and d["line"]() >= WGRAD_MIN_LINE):
        return "dot"
    p = d["positions"]
    if (0 < p <= WGRAD_WIN_MAX_POSITIONS
            and p / (d["vl"] * -(-p // d["vl"])) >= WGRAD_WIN_MIN_LANE_USE and d["win_ok"]):
        return "window"
    return "gemm"


def plan(x_shape, w_shape, geo, groups, dtype, n_threads):
    """The ConvPlan of a convolution of 5-D shapes x (N, C, D, H, W) and w (O, C // groups,
    KD, KH, KW) with the (4, 3) geometry `geo` (see geometry()), in `dtype`, given
    n_threads."""
    dtype = np.dtype(dtype)
    key = (tuple(x_shape), tuple(w_shape), geo.tobytes(), groups, dtype.char, n_threads,
           _k.variant(), _kw.available())
    got = _cache.get(key)
    if got is not None:
        return got
    n, o = x_shape[0], w_shape[0]
    cg, og = w_shape[1], o // groups
    out_sp = out_spatial(x_shape, w_shape, geo)
    positions = out_sp[0] * out_sp[1] * out_sp[2]
    k = w_shape[2] * w_shape[3] * w_shape[4]
    in_positions = x_shape[2] * x_shape[3] * x_shape[4]
    vl = _kw.vector_width()
    d = dict(cg=cg, og=og, groups=groups, f32=_own_float32(dtype), sw=geo[0, 2], ow=out_sp[2],
             vl=vl, wino=_kwino.applies(x_shape, w_shape, geo, groups),
             wino6=_kwino6.applies(x_shape, w_shape, geo, groups),
             wino1d=_kwino1d.applies(x_shape, w_shape, geo, groups),
             positions=positions, in_positions=in_positions,
             direct=cg == 1 and og <= DIRECT_MAX_OUT_PER_GROUP,
             flip=flipped_padding(w_shape, geo),
             win_ok=_kw.win_applies(x_shape[2], x_shape[3], x_shape[4], geo),
             lane_use=lambda: _kw.wgrad_lane_use(x_shape[4], out_sp[2], out_sp[1], geo, vl),
             line=lambda: _kw.wgrad_line(x_shape[4], out_sp[2], out_sp[1], geo),
             small=positions <= TAPS_MAX_POSITIONS and in_positions <= 4 * TAPS_MAX_POSITIONS,
             taps=lambda: (d["small"] and min(cg, og) >= TAPS_MIN_CHANNELS
                           and skipped_fraction(x_shape, w_shape, geo) >= TAPS_MIN_SKIPPED))
    chosen = {}
    for slot in PATHS:
        want = _forced.get(slot)
        chosen[slot] = want if want is not None and _runs(slot, want, d) else _choose(slot, d)
    # the fused depthwise kernel computes both gradients (and the bias's): both or neither
    if (chosen["input_grad"] == "direct-fused") != (chosen["weight_grad"] == "direct-fused"):
        for slot in ("input_grad", "weight_grad"):
            if chosen[slot] == "direct-fused":
                chosen[slot] = "direct"
    nb, bs, parts = _chunking(n, cg, k, positions, dtype.itemsize,
                              _forced.get("chunk_columns", CHUNK_COLUMNS),
                              _forced.get("col_block_bytes", COL_BLOCK_BYTES))
    tile = (_k.tile() if dtype == np.float32 else _k.dtile()) if _k.variant() else None
    got = ConvPlan(threads=_threads_for(n_threads, (n, o) + out_sp, w_shape), chunk=nb,
                   block=bs, parts=parts, isa=_k.variant(), tile=tile, dtype=dtype.name,
                   forced=dict(_forced), **chosen)
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = got
    return got


def available(dtype):
    """{slot: the paths that exist for this dtype on this build and CPU (best first)}, for
    tt.show_config()."""
    f32 = _own_float32(np.dtype(dtype))
    out = {}
    for slot, names in PATHS.items():
        ok = []
        for name in names:
            if name in ("direct", "direct-fused", "gemm", "taps"):
                ok.append(name)
            elif slot == "input_grad" and name == "flipped":
                ok.append(name)
            elif f32 and (slot != "weight_grad" or _kw.available()):
                ok.append(name)
        out[slot] = ok
    return out
