"""Padding Functions: constant mode by NumPy slicing, the other modes through index maps.

`tinytensor.nn.functional.padding` has validated the pad tuple, the mode and its limits, so
every map built here points inside the input.
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._kernels import pad as _k
from tinytensor._tensor_type import from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


def source_map(mode, n, left, right):
    """Input position of each output position along one dim of size n padded by (left, right).

    Mirrors PyTorch's CPU kernels, negative pads (crops) included: reflect and replicate index
    from the cropped start (i_start = max(0, -left)); circular wraps within the cropped core.
    """
    j = np.arange(n + left + right, dtype=np.int64)
    i_start, o_start = max(0, -left), max(0, left)
    if mode == "reflect":
        ip = np.where(j < left, 2 * left - j, np.where(j < n + left, j, 2 * (n + left - 1) - j))
        return ip - o_start + i_start
    if mode == "replicate":
        ip = np.clip(j, left, n + left - 1)
        # = ip - o_start + i_start = ip - left, which lies in [0, n): computed modulo 2**64 so
        # that a crop of 2**63 (left = -2**63) does not overflow int64
        return (ip.astype(np.uint64) - np.uint64(left % 2 ** 64)).astype(np.int64)
    m = n + min(left, 0) + min(right, 0)                  # circular: the cropped core
    return i_start + (j - o_start) % m


class ConstantPadFunction(Function):
    """Constant padding of any dims; pads[i] = (left, right) for dim i (0 for unpadded dims)."""

    @staticmethod
    def forward(ctx, input, pads, value):
        x = input._numpy()
        out_shape = tuple(n + l + r for n, (l, r) in zip(x.shape, pads))
        out = alloc(out_shape, x.dtype, fill=value)
        src = tuple(slice(max(0, -l), n - max(0, -r)) for n, (l, r) in zip(x.shape, pads))
        dst = tuple(slice(max(0, l), o - max(0, r)) for o, (l, r) in zip(out_shape, pads))
        out[dst] = x[src]
        ctx.slices = (src, dst)
        ctx.input_shape = x.shape
        return from_numpy(out)

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        src, dst = ctx.slices
        go = grad_output._numpy()
        gi = np.zeros(ctx.input_shape, go.dtype)          # cropped cells get no gradient
        gi[src] = go[dst]
        return from_numpy(gi), None, None


class MapPadFunction(Function):
    """reflect / replicate / circular padding of the last nsp (1-3) dims."""

    @staticmethod
    def forward(ctx, input, pads, mode, nsp):
        ctx.mode, ctx.nsp = mode, nsp                     # names the node (_functions/names.py)
        x = np.ascontiguousarray(input._numpy())
        lead = x.shape[:x.ndim - nsp]
        sp = x.shape[x.ndim - nsp:]
        P = int(np.prod(lead, dtype=np.int64))
        x4 = x.reshape((P,) + (1,) * (3 - nsp) + sp)
        ctx.planes_shape = x4.shape
        ctx.input_shape = x.shape
        out_sp = (1,) * (3 - nsp) + tuple(n + l + r for n, (l, r) in zip(sp, pads))
        if P == 0 or 0 in out_sp:                         # nothing to read or write
            ctx.maps = None
            return from_numpy(alloc(lead + out_sp[3 - nsp:], x.dtype))
        # first: it is the big one (and errors name the shape the caller would see)
        out = alloc(lead + out_sp[3 - nsp:], x.dtype).reshape((P,) + out_sp)
        maps = [source_map(mode, n, l, r) for n, (l, r) in zip(sp, pads)]
        maps = [np.zeros(1, np.int64)] * (3 - nsp) + maps
        if x.dtype == np.bool_:
            out[...] = x4[:, maps[0][:, None, None], maps[1][None, :, None],
                          maps[2][None, None, :]]
        else:
            _k.pad_forward(x4, out, maps[0], maps[1], maps[2], get_num_threads())
        ctx.maps = maps
        return from_numpy(out.reshape(lead + out_sp[3 - nsp:]))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        if ctx.maps is None:
            return from_numpy(np.zeros(ctx.input_shape, grad_output._numpy().dtype)), None, None, None
        md, mh, mw = ctx.maps
        go = np.ascontiguousarray(grad_output._numpy())
        go = go.reshape((ctx.planes_shape[0], len(md), len(mh), len(mw)))
        gi = np.empty(ctx.planes_shape, go.dtype)          # the kernel zeroes each plane
        _k.pad_backward(go, gi, md, mh, mw, get_num_threads())
        return from_numpy(gi.reshape(ctx.input_shape)), None, None, None
