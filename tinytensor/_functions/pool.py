"""Pooling Functions: forward/backward pairs over the kernels of `tinytensor._kernels.pool`.

`tinytensor.nn.functional.pooling` has normalised and validated every argument: kernel, stride,
padding and dilation arrive as 3-tuples (depth, height, width), padded with ones / zeros for
1-D and 2-D pools, and `nsp` says how many trailing dims are spatial. Every leading dim is a
plane axis (N, C for batched input, C alone for unbatched input).
"""
import math

import numpy as np

from tinytensor._functions._memory import alloc, check_size as _check_size, recycle
from tinytensor._kernels import pool as _k
from tinytensor._tensor_type import _wrap, from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


def pool_out_size(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (pooling_output_shape), the ceil_mode drop rule included."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def _planes(t, nsp):
    """C-contiguous NumPy array of `t` as (P, D, H, W), plus the leading (plane) shape."""
    x = np.ascontiguousarray(t._numpy())
    lead = x.shape[:x.ndim - nsp]
    sp = (1,) * (3 - nsp) + x.shape[x.ndim - nsp:]
    planes = 1
    for n in lead:                       # (np.prod cost 3 us a call)
        planes *= n
    return x.reshape((planes,) + sp), lead


# By (input shape, dtype, kernel, stride, padding, dilation, ceil_mode, nsp): the input as
# planes (P, D, H, W), the output's planes shape, the result's shape, and the leading (plane)
# shape -- plain values, checked once for an output size that overflows.
_PREPARED = {}


def _prepare(in_shape, np_dtype, kernel, stride, padding, dilation, ceil_mode, nsp):
    key = (in_shape, np_dtype, kernel, stride, padding, dilation, ceil_mode, nsp)
    got = _PREPARED.get(key)
    if got is None:
        lead = in_shape[:len(in_shape) - nsp]
        planes = 1
        for n in lead:
            planes *= n
        x_shape = (planes,) + (1,) * (3 - nsp) + in_shape[len(in_shape) - nsp:]
        osp = tuple([pool_out_size(n, k, s, p, d, ceil_mode)
                     for n, k, s, p, d in zip(x_shape[1:], kernel, stride, padding, dilation)])
        _check_size((planes,) + osp, np_dtype)
        got = (x_shape, (planes,) + osp, lead + osp[3 - nsp:], lead)
        if len(_PREPARED) >= 256:
            _PREPARED.clear()
        _PREPARED[key] = got
    return got


class MaxPoolNdFunction(Function):
    """Max pooling over the last `nsp` dims; returns (values, indices) or values."""

    @staticmethod
    def forward(ctx, input, kernel, stride, padding, dilation, ceil_mode, return_indices, nsp):
        ctx.nsp = nsp                                      # names the node (_functions/names.py)
        x_shape, out_shape, shape, lead = _prepare(input._shape, input._dtype.np_dtype, kernel,
                                                   stride, padding, dilation, ceil_mode, nsp)
        x = np.ascontiguousarray(input._numpy()).reshape(x_shape)
        out = np.empty(out_shape, x.dtype)                 # the kernel writes every element
        need_idx = return_indices or ctx.needs_input_grad[0]
        idx = None
        if need_idx:
            # backward alone needs only positions within a plane: uint16 / int32 quarter /
            # halve their traffic (uint16: a window wholly in the padding gets 0xFFFF, never in
            # a plane)
            plane = x_shape[1] * x_shape[2] * x_shape[3]
            idx_dtype = (np.int64 if return_indices or plane >= 2**31
                         else np.uint16 if plane < 0xFFFF else np.int32)
            # internal winners are recycled; indices handed to the user are not
            idx = (alloc(out_shape, idx_dtype) if return_indices
                   else recycle(out_shape, idx_dtype))
        _k.max_pool_forward(x, out, idx, *kernel, *stride, *padding, *dilation, ceil_mode,
                            get_num_threads())
        y = _wrap(out.reshape(shape))
        if not need_idx:
            return y
        ctx.input_shape = tuple(input.shape)
        ctx.n_planes = x.shape[0]
        if not return_indices:
            ctx.winners = idx                              # the winners, not the input
            return y
        indices = _wrap(idx.reshape(shape))
        ctx.save_for_backward(indices)                     # in-place edits get detected
        ctx.winners = None
        ctx.mark_non_differentiable(indices)
        return y, indices

    @staticmethod
    def backward(ctx, grad_output, grad_indices=None):
        if not ctx.needs_input_grad[0]:
            return (None,) * 8
        idx = ctx.winners if ctx.winners is not None else ctx.saved_tensors[0]._numpy()
        return (_max_scatter(grad_output, idx, ctx.input_shape, ctx.n_planes),) + (None,) * 7


def _max_scatter(grad_output, idx, input_shape, n_planes):
    """Gradient of a max pool: grad_output added at the winners' flat positions, per plane."""
    if n_planes == 0:
        return from_numpy(np.zeros(input_shape, grad_output._numpy().dtype))
    go = np.ascontiguousarray(grad_output._numpy()).reshape(n_planes, -1)
    idx = np.ascontiguousarray(idx).reshape(n_planes, -1)
    gi = recycle((n_planes, int(np.prod(input_shape, dtype=np.int64)) // n_planes),
                  go.dtype)                               # the kernel zeroes each plane
    _k.max_pool_backward(go, idx, gi, get_num_threads())
    return _wrap(gi.reshape(input_shape))


class AvgPoolNdFunction(Function):
    """Average pooling over the last `nsp` dims with PyTorch's divisor rule."""

    @staticmethod
    def forward(ctx, input, kernel, stride, padding, ceil_mode, count_include_pad,
                divisor_override, nsp):
        ctx.nsp = nsp
        x, lead = _planes(input, nsp)
        osp = tuple(pool_out_size(n, k, s, p, 1, ceil_mode)
                    for n, k, s, p in zip(x.shape[1:], kernel, stride, padding))
        out = alloc((x.shape[0],) + osp, x.dtype)
        dov = 0 if divisor_override is None else int(divisor_override)
        nt = get_num_threads()
        fast = (nsp == 2 and kernel == (1, 2, 2) and stride == (1, 2, 2)
                and padding == (0, 0, 0) and dov == 0 and x.dtype != np.int64
                and osp == (1, x.shape[2] // 2, x.shape[3] // 2))
        if fast:
            _k.avg_pool2d_forward_k2s2(x.reshape(x.shape[0], x.shape[2], x.shape[3]),
                                       out.reshape(out.shape[0], osp[1], osp[2]), nt)
        else:
            _k.avg_pool_forward(x, out, *kernel, *stride, *padding, ceil_mode,
                                count_include_pad, dov, nt)
        ctx.params = (kernel, stride, padding, ceil_mode, count_include_pad, dov)
        ctx.fast = fast
        ctx.input_shape = tuple(input.shape)
        ctx.planes_shape = x.shape
        return _wrap(out.reshape(lead + osp[3 - nsp:]))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return (None,) * 8
        kernel, stride, padding, ceil_mode, cip, dov = ctx.params
        P, D, H, W = ctx.planes_shape
        go = np.ascontiguousarray(grad_output._numpy())
        go = go.reshape((P,) + tuple(pool_out_size(n, k, s, p, 1, ceil_mode)
                                     for n, k, s, p in zip((D, H, W), kernel, stride, padding)))
        gi = recycle((P, D, H, W), go.dtype)              # the kernels write every cell
        if ctx.fast:
            _k.avg_pool2d_backward_k2s2(go.reshape(P, go.shape[2], go.shape[3]),
                                        gi.reshape(P, H, W), get_num_threads())
        else:
            _k.avg_pool_backward(go, gi, *kernel, *stride, *padding, ceil_mode, cip, dov,
                                 get_num_threads())
        return (_wrap(gi.reshape(ctx.input_shape)),) + (None,) * 7


class AdaptiveAvgPoolFunction(Function):
    """Adaptive average pooling of the last `nsp` (1 or 2) dims to `output_size` (oh, ow)."""

    @staticmethod
    def forward(ctx, input, output_size, nsp):
        ctx.nsp, ctx.output_size = nsp, tuple(output_size)
        x, lead = _planes(input, nsp)
        P, _, H, W = x.shape
        out = alloc((P,) + tuple(output_size), x.dtype)
        if out.size and x.size:
            _k.adaptive_avg_forward(x.reshape(P, H, W), out, get_num_threads())
        elif out.size:
            out.fill(np.nan)                     # the mean of an empty plane, as PyTorch's
        ctx.planes_shape = (P, H, W)
        ctx.out_hw = tuple(output_size)
        ctx.input_shape = tuple(input.shape)
        return from_numpy(out.reshape(lead + tuple(output_size)[2 - nsp:]))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        P, H, W = ctx.planes_shape
        go = np.ascontiguousarray(grad_output._numpy()).reshape((P,) + ctx.out_hw)
        if H * W == 0:
            return from_numpy(np.zeros(ctx.input_shape, go.dtype)), None, None
        gi = np.empty((P, H, W), go.dtype)
        _k.adaptive_avg_backward(go, gi, get_num_threads())
        return from_numpy(gi.reshape(ctx.input_shape)), None, None


class AdaptiveMaxPoolFunction(Function):
    """Adaptive max pooling of the last `nsp` (1 or 2) dims; returns (values, indices)."""

    @staticmethod
    def forward(ctx, input, output_size, nsp):
        ctx.nsp, ctx.output_size = nsp, tuple(output_size)
        x, lead = _planes(input, nsp)
        P, _, H, W = x.shape
        out = alloc((P,) + tuple(output_size), x.dtype)
        idx = alloc(out.shape, np.int64)
        _k.adaptive_max_forward(x.reshape(P, H, W), out, idx, get_num_threads())
        shape = lead + tuple(output_size)[2 - nsp:]
        indices = from_numpy(idx.reshape(shape))
        ctx.save_for_backward(indices)
        ctx.mark_non_differentiable(indices)
        ctx.input_shape = tuple(input.shape)
        ctx.n_planes = P
        return from_numpy(out.reshape(shape)), indices

    @staticmethod
    def backward(ctx, grad_output, grad_indices=None):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (indices,) = ctx.saved_tensors
        return _max_scatter(grad_output, indices._numpy(), ctx.input_shape, ctx.n_planes), None, None


def _check_unpool_index(bad, out_sp):
    """The kernels return an index they found outside the output plane, or None."""
    if bad is not None:
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, out_sp))})")


class MaxUnpoolFunction(Function):
    """max_unpool over the last `nsp` dims: values scattered to `indices` in an `out_sp` plane.

    F.max_unpool2d has checked the indices' dtype and shape; the kernels check their range
    where they read them (the user may change them at any time, even after forward).
    """

    @staticmethod
    def forward(ctx, input, indices, out_sp, nsp):
        ctx.nsp = nsp
        x = np.ascontiguousarray(input._numpy())
        lead = x.shape[:x.ndim - nsp]
        P = int(np.prod(lead, dtype=np.int64))
        L = int(np.prod(x.shape[x.ndim - nsp:], dtype=np.int64))
        x = x.reshape(P, L)
        idx = np.ascontiguousarray(indices._numpy()).reshape(P, L)
        out = alloc((P, math.prod(out_sp)), x.dtype)
        _check_unpool_index(_k.max_unpool_forward(x, idx, out, get_num_threads()), out_sp)
        ctx.save_for_backward(indices)
        ctx.out_sp = tuple(out_sp)
        ctx.input_shape = tuple(input.shape)
        ctx.n_planes, ctx.in_len, ctx.out_len = P, L, out.shape[1]
        return from_numpy(out.reshape(lead + tuple(out_sp)))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        (indices,) = ctx.saved_tensors
        P = ctx.n_planes
        go = np.ascontiguousarray(grad_output._numpy()).reshape(P, ctx.out_len)
        idx = np.ascontiguousarray(indices._numpy()).reshape(P, ctx.in_len)
        gi = np.empty(idx.shape, go.dtype)
        _check_unpool_index(_k.gather_planes(go, idx, gi, get_num_threads()), ctx.out_sp)
        return from_numpy(gi.reshape(ctx.input_shape)), None, None, None
