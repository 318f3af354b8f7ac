"""ConvNdFunction: convolution forward and backward over the kernels in _kernels/conv.pyx.

tinytensor.nn.functional.conv has validated every argument (PyTorch's messages) before
`ConvNdFunction.apply` runs; here arrays are made contiguous, viewed as 3-D spatial
(N, C, D, H, W), and handed to a kernel with its outputs and scratch.

Paths:
- direct (one input channel per group, at most 4 outputs per group: depthwise): tap-by-tap
  kernels, one thread per output plane; backward fused into one pass when groups >= 4.
- float32 where the CPU has AVX-512 (`_panel_path`), our own micro-kernels (tt_*.h):
  forward by rows (W-stride 1 or 2, rows of >= _ROWS_MIN_WIDTH: no im2col) or by panels
  (im2col rows built in registers, 32 columns at a time); input gradient as a flipped
  convolution (stride 1) or col2im by panels; weight gradient by the dot-product kernel
  (conv_wgrad.pyx), its window mode for small outputs, or else the GEMM path below with our
  GEMM. The thresholds below pick among them, each with the measurement behind it.
- GEMM: im2col of a chunk (several small samples, or a block of output rows of one large
  sample) into a per-thread buffer, then single-threaded GEMMs (BLAS, or tt_sgemm for
  float32 on AVX-512), one OpenMP thread per chunk. Scratch is (threads x bounded chunk),
  never batch-sized, and reused across calls.

Reproducibility: chunks, row blocks and weight-gradient partitions depend on the shapes only,
and every GEMM runs on one BLAS thread, so results are bitwise identical for any thread count
(tests/test_conv.py checks 1 vs 2). They can differ between machines or BLAS builds (kernel
choice, FMA), as any BLAS result can. BLAS runs on one thread process-wide (see
tinytensor/_threads.py), so each OpenMP thread's GEMMs are serial.
"""
import ctypes
import os

import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._kernels import conv as _k
from tinytensor._kernels import conv_wgrad as _kw
from tinytensor._kernels import reduce as _reduce
from tinytensor._tensor_type import from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function

# A chunk holds enough samples for about this many output columns per GEMM (small images are
# batched into one GEMM; large ones go one sample at a time).
_CHUNK_COLUMNS = 512
# A single large sample is processed in blocks of output positions whose col block (CgK x
# columns) takes about this many bytes, so it stays in cache instead of streaming through
# memory, and scratch stays bounded however long a row is (1 thread: S8 forward 8.9 -> 7.6
# ms, backward 19.6 -> 15.2 ms; S4 unchanged).
_COL_BLOCK_BYTES = 2 * 1024 * 1024
# The weight gradient is summed over at most this many fixed partitions of the batch (not one
# per thread), so the result does not depend on the thread count.
_MAX_PARTS = 8
# Direct kernels when a group has one input channel and at most this many outputs.
_DIRECT_MAX_OUT_PER_GROUP = 4
# The fused depthwise backward parallelises over groups; below this many, the separate
# kernels (parallel over samples x channels) keep both threads busy. The choice depends on
# the shape alone, so the bits never depend on the thread count.
_FUSED_MIN_GROUPS = 4
# Stride 1 or 2 along W and output rows at least this wide: the forward reads input rows directly
# (tt_conv_rows.h); narrower rows would leave most vector lanes idle, and go to the panels.
_ROWS_MIN_WIDTH = 12
# The input gradient of a stride-1 convolution runs as a convolution (see
# _transposed_conv_as_conv) unless that multiplies more than this factor of padding zeros.
# (S1, 20 x 20 inputs from 16 x 16 outputs: 0.93 -> 0.70 ms)
_MAX_FLIPPED_GROWTH = 2.0
# Both input-gradient ways above need this many input channels per group (see
# _panel_input_grad); fewer go to GEMM + col2im.
_PANEL_MIN_IN_CHANNELS = 3
# The dot-product weight gradient (conv_wgrad.pyx) is used when at least this fraction of its
# vector lanes hold output positions (S3's rows of 4 use 0.25: 2.2x slower than the GEMM
# path; S2's rows of 24 use 0.75) and a group has at least _WGRAD_MIN_CHANNELS input channels
# (its tiles are that many channels wide: S2, one channel, 1.02 -> 1.23 ms).
_WGRAD_MIN_LANE_USE = 0.8
_WGRAD_MIN_CHANNELS = 2
# Otherwise, for one group and output volumes of at most _WGRAD_WIN_MAX_POSITIONS positions
# per sample that fill at least _WGRAD_WIN_MIN_LANE_USE of the 16-lane vectors, its window mode
# (window_weight_grad: vectors over a whole output volume, im2col rows built per block; any
# strides and padding). S3 (4 x 4 planes): 1.49 -> 0.72 ms on 1 thread, 0.76 -> 0.37 on 2.
# Measured faster than the GEMM path on every such shape tried (1 thread): 6 x 6 and 8 x 4
# stride-1 planes 2.0-2.1x, stride 2 with padding 1.3-2.3x (gathers), 8 x 8 and 12 x 12
# outputs from 12 x 12 and 16 x 16 inputs 1.6x and 1.4x, 3-D 4 x 4 x 4 and 3 x 3 x 3 3.6x
# and 2.1x, 14 x 14 -> 7 x 7 stride 2 padding 1 about even.
_WGRAD_WIN_MAX_POSITIONS = 256
_WGRAD_WIN_MIN_LANE_USE = 0.5
# Below this many multiply-adds per thread, use fewer threads.
_MIN_MACS_PER_THREAD = 100_000

_scratch = {}          # dtype -> 1-D array, leased by _Scratch (out of the dict while in use)
_blas_chosen = False


def _choose_blas():
    """Once: prefer NumPy's OpenBLAS over scipy's cython_blas when NumPy bundles one."""
    global _blas_chosen
    if _blas_chosen:
        return
    _blas_chosen = True
    if os.environ.get("TINYTENSOR_CONV_BLAS", "") != "scipy":
        from threadpoolctl import ThreadpoolController
        _use_numpy_cblas(ThreadpoolController().select(user_api="blas"))


def _use_numpy_cblas(controller):
    """Point the kernels at NumPy's bundled OpenBLAS (64-bit CBLAS) when there is one: it is
    newer and faster here than scipy's (61 vs 72 ms for S4's forward GEMMs, one thread).
    Anything else (MKL, a system BLAS) keeps scipy's cython_blas."""
    for lib in controller.lib_controllers:
        if lib.internal_api != "openblas" or "numpy" not in os.path.basename(
                os.path.dirname(lib.filepath)):
            continue
        handle = ctypes.CDLL(lib.filepath)
        for prefix in ("scipy_cblas_", "cblas_"):
            s = getattr(handle, prefix + "sgemm64_", None)
            d = getattr(handle, prefix + "dgemm64_", None)
            if s is not None and d is not None:
                _k.set_cblas64(ctypes.cast(s, ctypes.c_void_p).value,
                               ctypes.cast(d, ctypes.c_void_p).value)
                return


class _Scratch:
    """(n_threads, size) scratch: the cached buffer when free and large enough, else fresh.
    Reusing it avoids first-touch page faults (PERFORMANCE.md).

    The cached buffer is leased, not locked: __enter__ takes it out of `_scratch` (dict.pop is
    atomic, so two Python threads never share it) and __exit__ puts it back. An exception
    anywhere, even a KeyboardInterrupt between the two, at worst loses the lease: the next
    call allocates a fresh buffer and caches that one. (A lock held across the call stayed
    held after an interrupt at an unlucky moment, and scratch was never reused again.)"""

    def __init__(self, dtype, n_threads, size):
        self.shape = (n_threads, max(size, 1))
        self.dtype = np.dtype(dtype)
        self.buf = None

    def __enter__(self):
        need = self.shape[0] * self.shape[1]
        buf = _scratch.pop(self.dtype, None)
        if buf is None or buf.size < need:
            buf = None                                  # free the old one first
            buf = alloc(need, self.dtype)
        self.buf = buf
        return buf[:need].reshape(self.shape)

    def __exit__(self, *exc):
        buf, self.buf = self.buf, None
        if buf is not None:
            held = _scratch.get(self.dtype)
            if held is None or held.size < buf.size:    # keep the larger of two returned
                _scratch[self.dtype] = buf
        return False


def as_5d(a, nspatial):
    """View a C-contiguous (N, C, *spatial) array as (N, C, D, H, W)."""
    return a.reshape(a.shape[:2] + (1,) * (3 - nspatial) + a.shape[2:])


def geometry(stride, pad_begin, dilation, pad_end):
    """The kernels' (4, 3) geometry array from per-dim tuples (1-D/2-D lead with 1s/0s)."""
    rows = []
    for vals, fill in ((stride, 1), (pad_begin, 0), (dilation, 1), (pad_end, 0)):
        rows.append((fill,) * (3 - len(vals)) + tuple(vals))
    return np.array(rows, dtype=np.intp)


def _chunk(n, length):
    return max(1, min(n, -(-_CHUNK_COLUMNS // max(length, 1))))


def _block(nb, ck, length, itemsize):
    """Output positions per col block: whole samples when several share a GEMM, else about
    _COL_BLOCK_BYTES of col (CgK x columns) and at least _CHUNK_COLUMNS columns, so the
    GEMMs stay wide. Any split works (a block may start or end inside an output row)."""
    if nb > 1:
        return length
    cols = max(_CHUNK_COLUMNS, _COL_BLOCK_BYTES // max(1, ck * itemsize))
    return max(1, min(length, cols))


def _use_direct(cg, og):
    return cg == 1 and og <= _DIRECT_MAX_OUT_PER_GROUP


def _panel_path(dtype):
    """float32 on a CPU where tt_sgemm runs: the implicit-GEMM kernels of tt_conv_panel.h."""
    return dtype == np.float32 and _k.own_sgemm()


def _transposed_conv_as_conv(w, geo, groups, in_sp, out_sp):
    """For stride 1, the input gradient is itself a convolution: of grad_output with the
    weights flipped in space and with input and output channels swapped per group, padded by
    dilation * (kernel - 1) - padding on each side. Returns (weights, geometry), or None where
    that padding would be negative, or where the input has more than _MAX_FLIPPED_GROWTH
    times as many positions as the output (in_sp, out_sp): the padding zeros would be
    multiplied too (S3, 8 x 8 inputs from 4 x 4 outputs: 2.2x slower)."""
    ext = geo[2] * (np.array(w.shape[2:]) - 1)
    pad_begin, pad_end = ext - geo[1], ext - geo[3]
    if (geo[0] != 1).any() or (pad_begin < 0).any() or (pad_end < 0).any():
        return None
    if np.prod(in_sp) > _MAX_FLIPPED_GROWTH * np.prod(out_sp):
        return None
    o, cg = w.shape[:2]
    flipped = (w.reshape((groups, o // groups, cg) + w.shape[2:]).transpose(0, 2, 1, 3, 4, 5)
               [..., ::-1, ::-1, ::-1].reshape((groups * cg, o // groups) + w.shape[2:]))
    return np.ascontiguousarray(flipped), np.array([geo[0], pad_begin, geo[2], pad_end])


def _panel_input_grad(x, w, go, geo, groups, n_threads):
    """The input gradient on the panel path (float32, AVX-512): a convolution of grad_output
    where stride 1 allows, else col2im panel by panel. None where a group has fewer than
    _PANEL_MIN_IN_CHANNELS input channels: they become the rows of the micro-kernel's tile,
    and a tile of one row waits on its own multiply-adds (S2, one channel: 0.69 ms by the
    GEMM + col2im path, 1.54 as a convolution, 1.68 by panels)."""
    if not _panel_path(x.dtype) or w.shape[1] < _PANEL_MIN_IN_CHANNELS:
        return None
    flipped = _transposed_conv_as_conv(w, geo, groups, x.shape[2:], go.shape[2:])
    if flipped is not None:
        return conv_forward(go, flipped[0], None, flipped[1], groups, n_threads)
    gx = alloc(x.shape, x.dtype, fill=0)
    _backward_input_panels(w, go, gx, geo, groups, n_threads)
    return gx


def _backward_input_panels(w, go, gx, geo, groups, n_threads):
    """gx (zero-filled) += the input gradient, by tt_conv_backward_input_panel (S3: 1.39 ->
    0.65 ms against GEMM + col2im)."""
    o, cg = w.shape[:2]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    wt = np.ascontiguousarray(w.reshape(groups, o // groups, cg, taps).transpose(0, 3, 2, 1))
    packed, size = _k.panel_backward_input_sizes(cg, o // groups, taps, groups)
    rows = n_threads + -(-packed // size)      # per-thread rows, then the packed weights
    with _Scratch(np.float32, rows, size) as scratch:
        _k.panel_backward_input(go, wt, gx, scratch[n_threads:].reshape(-1),
                                scratch[:n_threads], geo, *w.shape[2:], n_threads)


def _weight_grad_dot(x, w, go, geo, groups, n_threads):
    """The float32 weight gradient by tt_conv_wgrad.h's dot-product kernel (no im2col), or
    None where it does not apply: other dtypes, no AVX-512, one input channel per group,
    W-stride != 1 or short rows unless window mode applies (one group, small outputs)."""
    if not _panel_path(x.dtype) or not _kw.available() or w.shape[1] < _WGRAD_MIN_CHANNELS:
        return None
    if (geo[0, 2] == 1 and _kw.wgrad_lane_use(x.shape[4], go.shape[4], go.shape[3], geo)
            >= _WGRAD_MIN_LANE_USE):
        gw = alloc(w.shape, w.dtype)
        _kw.panel_weight_grad(x, go, gw, geo, groups, n_threads)
        return gw
    positions = go.shape[2] * go.shape[3] * go.shape[4]
    if (groups == 1 and 0 < positions <= _WGRAD_WIN_MAX_POSITIONS
            and positions / (16.0 * -(-positions // 16)) >= _WGRAD_WIN_MIN_LANE_USE
            and _kw.win_applies(x.shape[2], x.shape[3], x.shape[4], geo)):
        gw = alloc(w.shape, w.dtype)
        _kw.window_weight_grad(x, go, gw, geo, n_threads)
        return gw
    return None


def _threads_for(n_threads, out_shape, w_shape):
    """Fewer threads for small convolutions: a parallel region costs microseconds when idle
    and far more on a loaded machine. Safe for reproducibility: every kernel gives the same
    bits for any thread count."""
    macs = 1
    for v in out_shape:
        macs *= v
    for v in w_shape[1:]:
        macs *= v
    return max(1, min(n_threads, macs // _MIN_MACS_PER_THREAD))


def conv_forward(x, w, b, geo, groups, n_threads):
    """y = conv(x, w) + b on contiguous 5-D arrays of one float dtype (b may be None)."""
    n, o = x.shape[0], w.shape[0]
    out_sp = tuple((x.shape[2 + a] + geo[1, a] + geo[3, a] - geo[2, a] * (w.shape[2 + a] - 1) - 1)
                   // geo[0, a] + 1 for a in range(3))
    n_threads = _threads_for(n_threads, (n, o) + out_sp, w.shape)
    y = alloc((n, o) + out_sp, x.dtype)
    has_bias = b is not None
    bias = b if has_bias else np.empty(0, x.dtype)
    cg, og = w.shape[1], o // groups
    if n == 0 or o == 0:
        return y
    if _use_direct(cg, og):
        _k.direct_forward(x, w, bias, has_bias, y, geo, groups, n_threads)
        return y
    k = w.shape[2] * w.shape[3] * w.shape[4]
    if _panel_path(x.dtype) and geo[0, 2] <= 2 and out_sp[2] >= _ROWS_MIN_WIDTH:
        with _Scratch(x.dtype, 1, _k.panel_sizes(cg, og, k, groups)[0]) as packed:
            _k.rows_forward(x, w, bias, has_bias, y, packed[0], geo, groups, n_threads)
        return y
    if _panel_path(x.dtype):
        packed, size = _k.panel_sizes(cg, og, k, groups)
        rows = n_threads + -(-packed // size)      # per-thread rows, then the packed weights
        with _Scratch(x.dtype, rows, size) as scratch:
            _k.panel_forward(x, w, bias, has_bias, y, scratch[n_threads:].reshape(-1),
                             scratch[:n_threads], geo, groups, n_threads)
        return y
    length = out_sp[0] * out_sp[1] * out_sp[2]
    nb = _chunk(n, length)
    bs = _block(nb, cg * k, length, x.itemsize)
    size = _k.gemm_scratch_size(cg, og, k, length, nb, bs)
    _choose_blas()
    with _Scratch(x.dtype, n_threads, size) as scratch:
        _k.gemm_forward(x, w, bias, has_bias, y, scratch, geo, groups, nb, bs, n_threads)
    return y


def conv_backward(x, w, go, geo, groups, need_x, need_w, need_b, n_threads):
    """(grad_x, grad_w, grad_b) for contiguous 5-D arrays; None where not needed."""
    n, o = x.shape[0], w.shape[0]
    cg, og = w.shape[1], o // groups
    n_threads = _threads_for(n_threads, go.shape, w.shape)
    gw = None
    gx = None
    if need_x and n > 0 and o > 0 and not _use_direct(cg, og):
        gx = _panel_input_grad(x, w, go, geo, groups, n_threads)
        need_x = gx is None
    if need_x:
        gx = alloc(x.shape, x.dtype, fill=0)
    if n == 0 or o == 0:
        return (gx, np.zeros(w.shape, w.dtype) if need_w else None,
                go.sum(axis=(0, 2, 3, 4)) if need_b else None)
    if _use_direct(cg, og) and groups >= _FUSED_MIN_GROUPS:
        # one pass over grad_output for all three gradients (memory-bound depthwise)
        gw = np.empty(w.shape, w.dtype) if need_w else np.empty((0,) * 5, w.dtype)
        gb = np.empty(o, w.dtype) if need_b else np.empty(0, w.dtype)
        rows = np.empty((n_threads, og * (w.shape[2] * w.shape[3] * w.shape[4] + 1)
                         * go.shape[4]), w.dtype)
        _k.direct_backward(x, w, go, gx if need_x else np.empty((0,) * 5, x.dtype), gw, gb,
                           need_x, need_w, need_b, rows, geo, groups, n_threads)
        return gx, gw if need_w else None, gb if need_b else None
    # tinytensor's parallel pairwise sum, not NumPy's (S2's 1.2M values: 0.18 ms -> 0.07 on
    # one thread, 0.04 on two; same bits for any thread count)
    gb = _reduce.sum(go, (0, 2, 3, 4), False, n_threads) if need_b else None
    if _use_direct(cg, og):
        if need_x:
            _k.direct_backward_input(w, go, gx, geo, groups, n_threads)
        if need_w:
            gw = np.empty(w.shape, w.dtype)
            rows = np.empty((n_threads, w.shape[2] * w.shape[3] * w.shape[4] * go.shape[4]),
                            w.dtype)
            _k.direct_backward_weight(x, go, gw, rows, geo, groups, n_threads)
        return gx, gw, gb
    if need_w:
        gw = _weight_grad_dot(x, w, go, geo, groups, n_threads)
        need_w = gw is None
    if not (need_x or need_w):
        return gx, gw, gb
    length = go.shape[2] * go.shape[3] * go.shape[4]
    k = w.shape[2] * w.shape[3] * w.shape[4]
    nb = _chunk(n, length)
    bs = _block(nb, cg * k, length, x.itemsize)
    parts = min(_MAX_PARTS, -(-n // nb))
    gw_parts = np.zeros((parts, o, cg * k), w.dtype) if need_w else np.empty((parts, 0, 0), w.dtype)
    gx_arg = gx if need_x else np.empty((0,) * 5, x.dtype)
    size = _k.gemm_scratch_size(cg, og, k, length, nb, bs)
    _choose_blas()
    with _Scratch(x.dtype, n_threads, size) as scratch:
        _k.gemm_backward(x, w, go, gx_arg, gw_parts, need_x, need_w, scratch, geo, groups, nb,
                         bs, n_threads)
    if need_w:
        gw = gw_parts.sum(axis=0).reshape(w.shape) if parts > 1 else gw_parts[0].reshape(w.shape)
    return gx, gw, gb


class ConvNdFunction(Function):
    """N-d convolution (N = weight.ndim - 2); F.conv1d/2d/3d have validated every argument."""

    @staticmethod
    def forward(ctx, input, weight, bias, stride, pad_begin, pad_end, dilation, groups):
        nsp = weight.ndim - 2
        x = as_5d(np.ascontiguousarray(input._numpy()), nsp)
        w = as_5d(np.ascontiguousarray(weight._numpy()), nsp)
        b = None if bias is None else np.ascontiguousarray(bias._numpy())
        geo = geometry(stride, pad_begin, dilation, pad_end)
        y = conv_forward(x, w, b, geo, groups, get_num_threads())
        ctx.save_for_backward(input, weight)
        ctx.geo, ctx.groups, ctx.nsp = geo, groups, nsp
        return from_numpy(y.reshape(y.shape[:2] + y.shape[5 - nsp:]))

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        nones = (None,) * 5
        if not (need_x or need_w or need_b):
            return (None, None, None) + nones
        nsp = ctx.nsp
        x = as_5d(np.ascontiguousarray(input._numpy()), nsp)
        w = as_5d(np.ascontiguousarray(weight._numpy()), nsp)
        go = as_5d(np.ascontiguousarray(grad_output._numpy()), nsp)
        gx, gw, gb = conv_backward(x, w, go, ctx.geo, ctx.groups, need_x, need_w, need_b,
                                   get_num_threads())
        return (None if gx is None else from_numpy(gx.reshape(input.shape)),
                None if gw is None else from_numpy(gw.reshape(weight.shape)),
                None if gb is None else from_numpy(gb)) + nones
