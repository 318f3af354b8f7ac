"""Fractional max pooling: forward over `tinytensor._kernels.fractional`, backward the max-pool
scatter of `tinytensor._functions.pool`.

`tinytensor.nn.functional.pooling` has validated every argument: kernel and output sizes arrive
as 3-tuples (depth, height, width; a 2-D pool has depth 1 and kernel depth 1), `samples` is a
float (planes, 3) array in the input's dtype with one (t, h, w) row per plane (the 2-D pool's
(w, h) pairs already reordered), and `nsp` says how many trailing dims are spatial.
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._functions.pool import _max_scatter, _planes
from tinytensor._kernels import fractional as _k
from tinytensor._tensor_type import from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function


class FractionalMaxPoolFunction(Function):
    """Max over pseudo-random windows of the last `nsp` dims; returns (values, indices)."""

    @staticmethod
    def forward(ctx, input, samples, kernel, output_size, nsp, name):
        ctx.nsp = nsp                                      # names the node (_functions/names.py)
        x, lead = _planes(input, nsp)
        P = x.shape[0]
        out = alloc((P,) + tuple(output_size), x.dtype)
        idx = alloc(out.shape, np.int64)
        if out.size:                                       # (an empty output reads nothing)
            starts = alloc((P, sum(output_size)), np.int64)
            bad = _k.fractional_max_forward(x, samples, out, idx, starts, *kernel,
                                            get_num_threads())
            if bad >= 0:
                # PyTorch reads outside the input here (or stops at an internal assert)
                n, c = divmod(bad, lead[-1])
                raise RuntimeError(f"{name}(): _random_samples[{n}, {c}] puts a pooling window "
                                   f"outside the input (samples should be in [0, 1))")
        shape = lead + tuple(output_size)[3 - nsp:]
        indices = from_numpy(idx.reshape(shape))
        ctx.save_for_backward(indices)                     # in-place edits get detected
        ctx.mark_non_differentiable(indices)
        ctx.input_shape = tuple(input.shape)
        ctx.n_planes = P
        ctx.op_name = name
        ctx.empty_windows = min(kernel) <= 0
        return from_numpy(out.reshape(shape)), indices

    @staticmethod
    def backward(ctx, grad_output, grad_indices=None):
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        (indices,) = ctx.saved_tensors
        if ctx.empty_windows:
            # k <= 0 (PyTorch's functional form accepts it): an empty window's index names its
            # start, maybe outside the plane, where PyTorch's backward stops at an assert
            plane = int(np.prod(ctx.input_shape[len(ctx.input_shape) - ctx.nsp:]))
            i = indices._numpy()
            if i.size and (i.min() < 0 or i.max() >= plane):
                raise RuntimeError(f"{ctx.op_name}_backward(): an index outside the input plane "
                                   f"of {plane} elements (a kernel_size <= 0 pools empty "
                                   f"windows)")
        return (_max_scatter(grad_output, indices._numpy(), ctx.input_shape, ctx.n_planes),
                ) + (None,) * 5

