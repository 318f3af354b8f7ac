"""ConvNdFunction: convolution forward and backward over the kernels in _kernels/conv.pyx.

tinytensor.nn.functional.conv has validated every argument (PyTorch's messages) before
`ConvNdFunction.apply` runs; here arrays are made contiguous, viewed as 3-D spatial
(N, C, D, H, W), and handed to the kernels the convolution's plan names (conv_plan.py: which
forward, input-gradient and weight-gradient path, threads and chunking), with their outputs
and scratch.

Paths (conv_plan.PATHS; the kernels of each in its own module, see _kernels/conv.pyx):
- direct (one input channel per group, at most 4 outputs per group: depthwise): tap-by-tap
  kernels, one thread per output plane; backward fused into one pass when groups >= 4.
- float32 where a kernel variant runs (AVX-512, AVX2, NEON, generic: c/tt_isa.h): forward by
  rows (no im2col) or by panels (im2col rows built in registers, a panel at a time); input
  gradient as a flipped convolution (stride 1) or col2im by panels; weight gradient by the
  dot-product kernel or its window mode (conv_wgrad.pyx, every variant), or the GEMM path below.
- GEMM (every dtype): im2col of a chunk (several small samples, or a block of output rows of
  one large sample) into a per-thread buffer, then single-threaded GEMMs (our own float32 or
  float64 GEMM of the running variant: no BLAS), one OpenMP thread per chunk. Scratch is
  (threads x bounded chunk), never batch-sized, and reused across calls.

Reproducibility: chunks, row blocks and weight-gradient partitions depend on the shapes only,
and every GEMM runs on one thread, so results are bitwise identical for any thread count
(tests/test_conv.py checks 1 vs 2). They can differ between kernel variants (tile shapes,
FMA).
"""
import contextlib

import numpy as np

from tinytensor._functions import conv_plan
from tinytensor._functions._memory import alloc, check_size
from tinytensor._functions.conv_plan import geometry  # noqa: F401  (fold.py, conv_transpose.py)
from tinytensor._kernels import conv_direct as _kd
from tinytensor._kernels import conv_gemm as _kg
from tinytensor._kernels import conv_panels as _kp
from tinytensor._kernels import conv_taps as _kt
from tinytensor._kernels import conv_wgrad as _kw
from tinytensor._kernels import conv_winograd as _kwino
from tinytensor._kernels import conv_winograd1d as _kwino1d
from tinytensor._kernels import conv_winograd6 as _kwino6
from tinytensor._kernels import reduce as _reduce
from tinytensor._tensor_type import _wrap, from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function

_scratch = {}          # dtype -> 1-D array, leased by _Scratch (out of the dict while in use)


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


def plan(x_shape, w_shape, geo, groups, dtype, n_threads=None):
    """The ConvPlan (conv_plan.py) of a convolution of these 5-D shapes: which kernels
    conv_forward and conv_backward run for it. n_threads: tt.get_num_threads() if None."""
    return conv_plan.plan(x_shape, w_shape, geo, groups, dtype,
                          get_num_threads() if n_threads is None else n_threads)


def _transposed_conv_as_conv(w, geo, groups):
    """For stride 1, the input gradient is itself a convolution: of grad_output with the
    weights flipped in space and with input and output channels swapped per group, padded by
    dilation * (kernel - 1) - padding on each side. Returns (weights, geometry); the plan
    has checked that the padding is not negative (conv_plan.flipped_padding)."""
    pad_begin, pad_end = conv_plan.flipped_padding(w.shape, geo)
    o, cg = w.shape[:2]
    flipped = (w.reshape((groups, o // groups, cg) + w.shape[2:]).transpose(0, 2, 1, 3, 4, 5)
               [..., ::-1, ::-1, ::-1].reshape((groups * cg, o // groups) + w.shape[2:]))
    return np.ascontiguousarray(flipped), np.array([geo[0], pad_begin, geo[2], pad_end])


def _weights_per_tap(w, groups):
    """w (O, Cg, *k) as (groups, taps, Cg, O // groups): each tap's transposed weights."""
    o, cg = w.shape[:2]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    return np.ascontiguousarray(w.reshape(groups, o // groups, cg, taps).transpose(0, 3, 2, 1))


def _backward_input_panels(w, go, gx, geo, groups, n_threads):
    """gx (zero-filled) += the input gradient, by tt_conv_backward_input_panel (S3: 1.39 ->
    0.65 ms against GEMM + col2im)."""
    o, cg = w.shape[:2]
    taps = w.shape[2] * w.shape[3] * w.shape[4]
    wt = _weights_per_tap(w, groups)
    packed, size = _kp.panel_backward_input_sizes(cg, o // groups, taps, groups)
    rows = n_threads + -(-packed // size)      # per-thread rows, then the packed weights
    with _Scratch(np.float32, rows, size) as scratch:
        _kp.panel_backward_input(go, wt, gx, scratch[n_threads:].reshape(-1),
                                scratch[:n_threads], geo, *w.shape[2:], n_threads)


def _plane(a):
    """Positions per channel of a 5-D array."""
    return a.shape[2] * a.shape[3] * a.shape[4]


def _taps_call(kernel, a, w, geo, groups, n_threads, length, in_positions, *outputs,
               weights="forward"):
    """Run a conv_taps kernel with per-thread scratch and, after it in the same reused buffer
    (no fresh pages to fault in on every call), the weights per tap, (groups, taps, Og, Cg),
    for weights="forward" or "input_grad", or room for the weight gradient in that layout
    (weights=None), which is then returned."""
    o, cg = w.shape[:2]
    og, taps = o // groups, w.shape[2] * w.shape[3] * w.shape[4]
    nb = conv_plan.taps_chunk(a.shape[0], length, n_threads if weights else 1)
    size = _kt.taps_scratch_size(cg, og, length, in_positions, nb)
    rows = n_threads + -(-w.size // size)
    with _Scratch(a.dtype, rows, size) as scratch:
        per_tap = scratch[n_threads:].reshape(-1)[:w.size].reshape(groups * taps, og, cg)
        if weights:
            per_tap = per_tap.reshape(groups, taps, og, cg)
            _kt.to_per_tap(w.reshape(o, cg, taps), per_tap, n_threads)
            order = (_kt.tap_order(*w.shape[2:], geo),) if weights == "input_grad" else ()
            kernel(a, per_tap, *outputs, scratch[:n_threads], geo, *w.shape[2:], nb, *order,
                   n_threads)
            return None
        kernel(a, *outputs, per_tap, scratch[:n_threads], geo, groups, *w.shape[2:], nb,
               n_threads)
        gw = alloc(w.shape, w.dtype)
        _kt.from_per_tap(per_tap.reshape(groups, taps, og, cg), gw.reshape(o, cg, taps),
                         n_threads)
        return gw


@contextlib.contextmanager
def _winograd6_scratch(x, w, out_sp, n_threads):
    """(per-thread GEMM workspace, shared U or dU, V and Mx) for conv_winograd6's kernels, in
    one reused buffer."""
    work, shared = _kwino6.scratch_sizes(x.shape[0], x.shape[1], w.shape[0], out_sp[1],
                                         out_sp[2], w.shape[3])
    with _Scratch(x.dtype, n_threads + -(-shared // work), work) as scratch:
        yield scratch[:n_threads], scratch[n_threads:].reshape(-1)


@contextlib.contextmanager
def _winograd1d_scratch(x, w, out_sp, n_threads):
    """(per-thread workspace, shared U or dU) for conv_winograd1d's kernels, in one reused
    buffer."""
    own, shared = _kwino1d.scratch_sizes(x.shape[0], x.shape[1], w.shape[0], out_sp[2],
                                         w.shape[4])
    with _Scratch(x.dtype, n_threads + -(-shared // own), own) as scratch:
        yield scratch[:n_threads], scratch[n_threads:].reshape(-1)


# What a convolution's shapes and arguments fix, by (input shape, weight shape, dtype, stride,
# pad_begin, pad_end, dilation): plain values, never memory a caller can change. Spares the
# per-call geometry array, output-size arithmetic and size check (a few microseconds each,
# as much as the kernel of a LeNet layer at batch 1).
_PREPARED = {}
_PREPARED_MAX = 256


def _prepare(in_shape, w_shape, dtype, stride, pad_begin, pad_end, dilation):
    """(x 5-D shape, w 5-D shape, geometry, 3-D output spatial, 5-D output shape, output
    shape), checked once for an output size that overflows."""
    key = (in_shape, w_shape, dtype, stride, pad_begin, pad_end, dilation)
    got = _PREPARED.get(key)
    if got is None:
        nsp = len(w_shape) - 2
        ones = (1,) * (3 - nsp)
        x5 = in_shape[:2] + ones + in_shape[2:]
        w5 = w_shape[:2] + ones + w_shape[2:]
        geo = geometry(stride, pad_begin, dilation, pad_end)
        out_sp = tuple([int(v) for v in conv_plan.out_spatial(x5, w5, geo)])
        y5 = (x5[0], w5[0]) + out_sp
        check_size(y5, dtype)
        got = (x5, w5, geo, out_sp, y5, y5[:2] + out_sp[3 - nsp:])
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        _PREPARED[key] = got
    return got


def conv_forward(x, w, b, geo, groups, n_threads, out_sp=None):
    """y = conv(x, w) + b on contiguous 5-D arrays of one float dtype (b may be None), by
    the kernels of the convolution's plan. out_sp: the output's (OD, OH, OW) when the caller
    has it (_prepare), which also vouches that its size was checked."""
    n, o = x.shape[0], w.shape[0]
    if out_sp is None:
        out_sp = conv_plan.out_spatial(x.shape, w.shape, geo)
        y = alloc((n, o) + out_sp, x.dtype)
    else:
        y = np.empty((n, o) + out_sp, x.dtype)
    if n == 0 or o == 0:
        return y
    p = conv_plan.plan(x.shape, w.shape, geo, groups, x.dtype, n_threads)
    n_threads = p.threads
    has_bias = b is not None
    bias = b if has_bias else np.empty(0, x.dtype)
    cg, og = w.shape[1], o // groups
    k = w.shape[2] * w.shape[3] * w.shape[4]
    if p.forward == "direct":
        _kd.direct_forward(x, w, bias, has_bias, y, geo, groups, n_threads)
    elif p.forward == "winograd":
        size = _kwino.scratch_size(n, x.shape[1], o, out_sp[1], out_sp[2])
        with _Scratch(x.dtype, n_threads, size) as scratch:
            _kwino.winograd_forward(x, _kwino.weights(w, n_threads), bias, has_bias, y,
                                    scratch, geo, n_threads)
    elif p.forward == "winograd6":
        with _winograd6_scratch(x, w, out_sp, n_threads) as (work, shared):
            _kwino6.winograd6_forward(x, w, bias, has_bias, y, work, shared, geo, n_threads)
    elif p.forward == "winograd1d":
        with _winograd1d_scratch(x, w, out_sp, n_threads) as (work, shared):
            _kwino1d.winograd1d_forward(x, w, bias, has_bias, y, work, shared, geo, n_threads)
    elif p.forward == "rows":
        with _Scratch(x.dtype, 1, _kp.panel_sizes(cg, og, k, groups)[0]) as packed:
            _kp.rows_forward(x, w, bias, has_bias, y, packed[0], geo, groups, n_threads)
    elif p.forward == "taps":
        _taps_call(_kt.taps_forward, x, w, geo, groups, n_threads, _plane(y), _plane(x),
                   bias, has_bias, y)
    elif p.forward == "panels":
        packed, size = _kp.panel_sizes(cg, og, k, groups)
        rows = n_threads + -(-packed // size)      # per-thread rows, then the packed weights
        with _Scratch(x.dtype, rows, size) as scratch:
            _kp.panel_forward(x, w, bias, has_bias, y, scratch[n_threads:].reshape(-1),
                             scratch[:n_threads], geo, groups, n_threads)
    else:
        length = out_sp[0] * out_sp[1] * out_sp[2]
        size = _kg.gemm_scratch_size(cg, og, k, length, p.chunk, p.block)
        with _Scratch(x.dtype, n_threads, size) as scratch:
            _kg.gemm_forward(x, w, bias, has_bias, y, scratch, geo, groups, p.chunk, p.block,
                            n_threads)
    return y


def conv_backward(x, w, go, geo, groups, need_x, need_w, need_b, n_threads):
    """(grad_x, grad_w, grad_b) for contiguous 5-D arrays; None where not needed. Only the
    shape and dtype of x are read when need_w is false."""
    n, o = x.shape[0], w.shape[0]
    cg = w.shape[1]
    if n == 0 or o == 0:
        return (alloc(x.shape, x.dtype, fill=0) if need_x else None,
                np.zeros(w.shape, w.dtype) if need_w else None,
                go.sum(axis=(0, 2, 3, 4)) if need_b else None)
    p = conv_plan.plan(x.shape, w.shape, geo, groups, x.dtype, n_threads)
    n_threads = p.threads
    gx = gw = gb = None
    if need_x and p.input_grad == "flipped":
        flipped, flipped_geo = _transposed_conv_as_conv(w, geo, groups)
        gx = conv_forward(go, flipped, None, flipped_geo, groups, n_threads)
    elif need_x and p.input_grad == "taps":
        gx = alloc(x.shape, x.dtype)                  # every element written
        _taps_call(_kt.taps_backward_input, go, w, geo, groups, n_threads, _plane(go),
                   _plane(gx), gx, weights="input_grad")
    elif need_x and p.input_grad == "winograd6":
        gx = alloc(x.shape, x.dtype, fill=0)          # the kernel adds each tile's patch
        wt = np.ascontiguousarray(w.transpose(1, 0, 2, 3, 4))
        with _winograd6_scratch(go, wt, go.shape[2:], n_threads) as (work, shared):
            _kwino6.winograd6_input_grad(go, wt, gx, work, shared, geo, n_threads)
    elif need_x and p.input_grad == "panels":
        gx = alloc(x.shape, x.dtype, fill=0)
        _backward_input_panels(w, go, gx, geo, groups, n_threads)
    elif need_x:
        gx = alloc(x.shape, x.dtype, fill=0)          # the kernels below add into it
    if p.input_grad == "direct-fused":
        # one pass over grad_output for all three gradients (memory-bound depthwise)
        gw = np.empty(w.shape, w.dtype) if need_w else np.empty((0,) * 5, w.dtype)
        gb = np.empty(o, w.dtype) if need_b else np.empty(0, w.dtype)
        rows = np.empty((n_threads, (o // groups) * (w.shape[2] * w.shape[3] * w.shape[4] + 1)
                         * go.shape[4]), w.dtype)
        _kd.direct_backward(x, w, go, gx if need_x else np.empty((0,) * 5, x.dtype), gw, gb,
                           need_x, need_w, need_b, rows, geo, groups, n_threads)
        return gx, gw if need_w else None, gb if need_b else None
    # tinytensor's parallel pairwise sum, not NumPy's (S2's 1.2M values: 0.18 ms -> 0.07 on
    # one thread, 0.04 on two; same bits for any thread count)
    gb = _reduce.sum(go, (0, 2, 3, 4), False, n_threads) if need_b else None
    if need_x and p.input_grad == "direct":
        _kd.direct_backward_input(w, go, gx, geo, groups, n_threads)
    if need_w and p.weight_grad == "direct":
        gw = np.empty(w.shape, w.dtype)
        rows = np.empty((n_threads, w.shape[2] * w.shape[3] * w.shape[4] * go.shape[4]),
                        w.dtype)
        _kd.direct_backward_weight(x, go, gw, rows, geo, groups, n_threads)
    elif need_w and p.weight_grad == "taps":
        gw = _taps_call(_kt.taps_weight_grad, x, w, geo, groups, n_threads, _plane(go),
                        _plane(x), go, weights=None)
    elif need_w and p.weight_grad == "winograd":
        gw = alloc(w.shape, w.dtype)
        size = _kwino.scratch_size(n, cg, o, go.shape[3], go.shape[4])
        with _Scratch(x.dtype, n_threads, size) as scratch:
            _kwino.winograd_weight_grad(x, go, gw, scratch, geo, n_threads)
    elif need_w and p.weight_grad == "winograd6":
        gw = alloc(w.shape, w.dtype)
        with _winograd6_scratch(x, w, go.shape[2:], n_threads) as (work, shared):
            _kwino6.winograd6_weight_grad(x, go, gw, work, shared, geo, n_threads)
    elif need_w and p.weight_grad == "winograd1d":
        gw = alloc(w.shape, w.dtype)
        with _winograd1d_scratch(x, w, go.shape[2:], n_threads) as (work, shared):
            _kwino1d.winograd1d_weight_grad(x, go, gw, work, shared, geo, n_threads)
    elif need_w and p.weight_grad == "dot":
        gw = alloc(w.shape, w.dtype)
        _kw.panel_weight_grad(x, go, gw, geo, groups, n_threads)
    elif need_w and p.weight_grad == "window":
        gw = alloc(w.shape, w.dtype)
        _kw.window_weight_grad(x, go, gw, geo, groups, n_threads)
    gemm_x = need_x and p.input_grad == "gemm"
    gemm_w = need_w and p.weight_grad == "gemm"
    if not (gemm_x or gemm_w):
        return gx, gw, gb
    # one pass of im2col + GEMMs for both gradients that take the GEMM path
    length = go.shape[2] * go.shape[3] * go.shape[4]
    k = w.shape[2] * w.shape[3] * w.shape[4]
    parts = p.parts
    gw_parts = (np.zeros((parts, o, cg * k), w.dtype) if gemm_w
                else np.empty((parts, 0, 0), w.dtype))
    gx_arg = gx if gemm_x else np.empty((0,) * 5, x.dtype)
    size = _kg.gemm_scratch_size(cg, o // groups, k, length, p.chunk, p.block)
    with _Scratch(x.dtype, n_threads, size) as scratch:
        _kg.gemm_backward(x, w, go, gx_arg, gw_parts, gemm_x, gemm_w, scratch, geo, groups,
                         p.chunk, p.block, n_threads)
    if gemm_w:
        gw = gw_parts.sum(axis=0).reshape(w.shape) if parts > 1 else gw_parts[0].reshape(w.shape)
    return gx, gw, gb


class ConvNdFunction(Function):
    """N-d convolution (N = weight.ndim - 2); F.conv1d/2d/3d have validated every argument."""

    @staticmethod
    def forward(ctx, input, weight, bias, stride, pad_begin, pad_end, dilation, groups):
        x5, w5, geo, out_sp, _, out_shape = _prepare(
            input._shape, weight._shape, input._dtype.np_dtype, stride, pad_begin, pad_end,
            dilation)
        x = np.ascontiguousarray(input._numpy()).reshape(x5)
        w = np.ascontiguousarray(weight._numpy()).reshape(w5)
        b = None if bias is None else np.ascontiguousarray(bias._numpy())
        y = conv_forward(x, w, b, geo, groups, get_num_threads(), out_sp)
        needs = ctx.needs_input_grad
        if needs[0] or needs[1] or needs[2]:
            ctx.save_for_backward(input, weight)
        ctx.geo, ctx.groups, ctx.nsp = geo, groups, len(weight._shape) - 2
        return _wrap(y.reshape(out_shape))

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
