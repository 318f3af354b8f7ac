"""UnfoldFunction (im2col) and FoldFunction (col2im): each one's backward is the other.

tinytensor.nn.functional.fold has validated every argument (PyTorch's messages); the kernels
live in _kernels/conv.pyx (the same im2col/col2im the convolutions use). Inputs are batched
here: (N, C, H, W) for unfold, (N, C*kh*kw, L) for fold.
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._functions.conv import geometry
from tinytensor._kernels import conv as _k
from tinytensor._tensor_type import from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


def _geo(dilation, padding, stride):
    return geometry(stride, padding, dilation, padding)


def im2col(x, kernel_size, dilation, padding, stride):
    """(N, C, H, W) contiguous -> (N, C*kh*kw, L)."""
    n, c, h, w = x.shape
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = alloc((n, c * kh * kw, oh * ow), x.dtype)
    _k.unfold_forward(x.reshape(n, c, 1, h, w), cols, kh, kw, _geo(dilation, padding, stride),
                      get_num_threads())
    return cols


def col2im(cols, output_size, kernel_size, dilation, padding, stride):
    """(N, C*kh*kw, L) contiguous -> (N, C, H, W), overlapping blocks summed."""
    n, ck, _ = cols.shape
    (h, w), (kh, kw) = output_size, kernel_size
    out = alloc((n, ck // (kh * kw), 1, h, w), cols.dtype, fill=0)
    _k.fold_forward(cols, out, kh, kw, _geo(dilation, padding, stride), get_num_threads())
    return out.reshape(n, ck // (kh * kw), h, w)


class UnfoldFunction(Function):
    """F.unfold on a batched (N, C, H, W) input."""

    @staticmethod
    def forward(ctx, input, kernel_size, dilation, padding, stride):
        x = np.ascontiguousarray(input._numpy())
        ctx.args = (tuple(x.shape[2:]), kernel_size, dilation, padding, stride)
        return from_numpy(im2col(x, kernel_size, dilation, padding, stride))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return (None,) * 5
        go = np.ascontiguousarray(grad_output._numpy())
        return (from_numpy(col2im(go, *ctx.args)),) + (None,) * 4


class FoldFunction(Function):
    """F.fold on a batched (N, C*kh*kw, L) input."""

    @staticmethod
    def forward(ctx, input, output_size, kernel_size, dilation, padding, stride):
        cols = np.ascontiguousarray(input._numpy())
        ctx.args = (kernel_size, dilation, padding, stride)
        return from_numpy(col2im(cols, output_size, kernel_size, dilation, padding, stride))

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        go = np.ascontiguousarray(grad_output._numpy())
        return (from_numpy(im2col(go, *ctx.args)),) + (None,) * 5
