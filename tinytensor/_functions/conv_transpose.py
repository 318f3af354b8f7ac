"""ConvTransposeNdFunction: transposed convolution as the adjoint of convolution.

A transposed convolution y = conv_transpose(x, w) is the input gradient of the convolution
conv(., w) that maps y's shape to x's shape; so it runs on the convolution's own kernels and
plan (tinytensor/_functions/conv.py), through two entry points only:

    forward          y  = conv_backward(input gradient only; grad_output = x)
    input gradient   gx = conv_forward(gy, w)
    weight gradient  gw = conv_backward(weight gradient only; input = gy, grad_output = x)

In the convolution's picture, x (N, C_in, *in) is the output and y (N, C_out, *out) the input;
w (C_in, C_out / groups, *k) is the convolution's (O, C / groups, *k) weight as it stands.
The convolution pads its input by `padding` at the beginning and `padding - output_padding` at
the end: out = (in - 1) * s - 2p + d (k - 1) + output_padding + 1 positions then give exactly
`in` convolution outputs. Where output_padding > padding that end padding would be negative:
the last output_padding - padding positions of y receive no term (no window reaches them), so
the convolution runs on the shorter y and those positions are zero (or the bias).
"""
import numpy as np

from tinytensor._functions.conv import as_5d, conv_backward, conv_forward, geometry
from tinytensor._kernels import reduce as _reduce
from tinytensor._tensor_type import _wrap, from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


def transposed_out_size(n, k, s, p, op, d):
    """PyTorch's output length of a transposed convolution along one dim."""
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _owned(a, shape):
    """`a`, a fresh contiguous result, given `shape` in place, as a tensor owning its memory:
    a reshaped view would hide the owner from the engine, which then copies an input gradient
    instead of handing it to the leaf's .grad (autograd/_node.pyx owns_memory)."""
    a = np.ascontiguousarray(a)
    a.shape = shape
    return _wrap(a)


class ConvTransposeNdFunction(Function):
    """N-d transposed convolution (N = weight.ndim - 2); F.conv_transposeNd validated it all."""

    @staticmethod
    def forward(ctx, input, weight, bias, stride, padding, output_padding, dilation, groups):
        nsp = weight.ndim - 2
        x = as_5d(np.ascontiguousarray(input._numpy()), nsp)
        w = as_5d(np.ascontiguousarray(weight._numpy()), nsp)
        out_sp = tuple(transposed_out_size(n, k, s, p, op, d) for n, k, s, p, op, d in
                       zip(input.shape[2:], weight.shape[2:], stride, padding, output_padding,
                           dilation))
        # the convolution's input: y without the trailing positions no window reaches
        conv_sp = tuple(o - max(op - p, 0) for o, op, p in zip(out_sp, output_padding, padding))
        pad_end = tuple(max(p - op, 0) for p, op in zip(padding, output_padding))
        geo = geometry(stride, padding, dilation, pad_end)
        n, c_out = x.shape[0], w.shape[1] * groups
        shape5 = (n, c_out) + (1,) * (3 - nsp) + conv_sp
        # conv_backward reads only the shape and dtype of its input for the input gradient
        shape_only = np.empty(shape5, x.dtype)
        y, _, _ = conv_backward(shape_only, w, x, geo, groups, True, False, False,
                                get_num_threads())
        if conv_sp != out_sp:
            full = np.zeros((n, c_out) + (1,) * (3 - nsp) + out_sp, x.dtype)
            full[(slice(None),) * (5 - nsp) + tuple(slice(0, c) for c in conv_sp)] = y
            y = full
        if bias is not None:
            y += np.asarray(bias._numpy()).reshape(1, -1, 1, 1, 1)
        ctx.save_for_backward(input, weight)
        ctx.geo, ctx.groups, ctx.nsp, ctx.conv_sp = geo, groups, nsp, conv_sp
        return _owned(y, (n, c_out) + out_sp)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        nones = (None,) * 5
        if not (need_x or need_w or need_b):
            return (None, None, None) + nones
        nsp, threads = ctx.nsp, get_num_threads()
        go = as_5d(np.ascontiguousarray(grad_output._numpy()), nsp)
        gb = _reduce.sum(go, (0, 2, 3, 4), False, threads) if need_b else None
        gx = gw = None
        if need_x or need_w:
            x = as_5d(np.ascontiguousarray(input._numpy()), nsp)
            w = as_5d(np.ascontiguousarray(weight._numpy()), nsp)
            if go.shape[5 - nsp:] != ctx.conv_sp:      # drop the positions no window reaches
                go = np.ascontiguousarray(
                    go[(slice(None),) * (5 - nsp) + tuple(slice(0, c) for c in ctx.conv_sp)])
            if need_x:
                gx = conv_forward(go, w, None, ctx.geo, ctx.groups, threads)
            if need_w:
                _, gw, _ = conv_backward(go, w, x, ctx.geo, ctx.groups, False, True, False,
                                         threads)
        return (None if gx is None else _owned(gx, input.shape),
                None if gw is None else _owned(gw, weight.shape),
                None if gb is None else _owned(gb, gb.shape)) + nones
