"""GroupNormFunction: group, instance and layer normalisation over the fused kernels of
_kernels/norm.pyx (statistics + normalise + affine forward; input, weight and bias gradients
backward).

The functional layer (nn/functional/normalization.py) has validated everything and passes the
input's shape as (R, G, Cg, S) (see norm.pyx): GroupNorm (N, G, C / G, spatial), InstanceNorm
(N, C, 1, spatial), LayerNorm (rows, 1, prod(normalized_shape), 1).
"""
import numpy as np

from tinytensor._functions._memory import alloc
from tinytensor._kernels import norm as _k
from tinytensor._tensor_type import _wrap, from_numpy
from tinytensor._threads import get_num_threads
from tinytensor.autograd import Function

# LayerNorm's weight gradient sums its rows in this many fixed parts (one task each), then the
# parts in order: the same bits for any thread count.
_ROW_PARTS = 8
_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32),
          np.dtype(np.float64): np.empty(0, np.float64)}


def _owned(a, shape):
    """`a`, a fresh contiguous result, given `shape` in place: a reshaped view would hide the
    array that owns the memory from the engine, which then copies a gradient instead of
    handing it to the leaf's .grad (autograd/_node.pyx owns_memory; 3.5 ms for LayerNorm's
    25 MB input gradient)."""
    a.shape = shape
    return _wrap(a)


def _flat(t, dtype):
    """An affine parameter (or None) as a contiguous 1-D array of `dtype` (the kernels'
    one dtype for input and parameters)."""
    return _EMPTY[dtype] if t is None else np.ascontiguousarray(t._numpy(), dtype).reshape(-1)


class GroupNormFunction(Function):
    """forward(ctx, input, weight, bias, groups4, eps, stats): `groups4` is (R, G, Cg, S);
    `stats`, a dict or None, receives the per-group "mean" and biased "var" (float64 (R, G))
    for InstanceNorm's running statistics."""

    @staticmethod
    def forward(ctx, input, weight, bias, groups4, eps, stats):
        x = np.ascontiguousarray(input._numpy()).reshape(groups4)
        dt = x.dtype
        y = alloc(groups4, dt)
        mean = np.empty(groups4[:2], np.float64)
        rstd = np.empty(groups4[:2], np.float64)
        _k.norm_forward(x, _flat(weight, dt), _flat(bias, dt), weight is not None,
                        bias is not None, eps, y, mean, rstd, get_num_threads())
        if stats is not None:
            stats["mean"], stats["var"] = mean, 1.0 / (rstd * rstd) - eps
        ctx.save_for_backward(input, weight)
        ctx.mean, ctx.rstd, ctx.groups4 = mean, rstd, groups4
        ctx.bias_shape = None if bias is None else tuple(bias.shape)
        return _owned(y, input.shape)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        x = np.ascontiguousarray(input._numpy()).reshape(ctx.groups4)
        dy = np.ascontiguousarray(grad_output._numpy()).reshape(ctx.groups4)
        threads = get_num_threads()
        r, g, cg, s = ctx.groups4
        c = g * cg
        dw, db = np.empty(c), np.empty(c)
        # GroupNorm/InstanceNorm: the input-gradient pass also gives the affine gradients
        fused = need_x and (need_w or need_b) and s > 1
        if need_x and (need_w or need_b) and g == 1 and s == 1:
            # LayerNorm: one pass over x and dy for all three (rows in _ROW_PARTS fixed parts)
            dx = alloc(ctx.groups4, x.dtype)
            _k.norm_backward_rows(x, dy, _flat(weight, x.dtype), weight is not None, ctx.mean,
                                  ctx.rstd, dx, dw, db,
                                  np.empty((max(1, min(_ROW_PARTS, r)), 2, c)), threads)
            gx = _owned(dx, input.shape)
            need_x = fused = False
            done_affine = True
        else:
            done_affine = False
        if need_x:
            dx = alloc(ctx.groups4, x.dtype)
            part = np.empty((r, c, 2) if fused else (0, 0, 2))
            _k.norm_backward_input(x, dy, _flat(weight, x.dtype), weight is not None, ctx.mean,
                                   ctx.rstd, dx, part, threads)
            gx = _owned(dx, input.shape)
            if fused:
                _k.affine_from_parts(part, ctx.mean, ctx.rstd, dw, db)
        if (need_w or need_b) and not fused and not done_affine:
            # LayerNorm: rows in _ROW_PARTS fixed parts (a function of the shape only)
            parts = max(1, min(_ROW_PARTS, r)) if g == 1 and s == 1 else 0
            _k.norm_backward_affine(x, dy, ctx.mean, ctx.rstd, dw, db,
                                    np.empty((parts, 2, c if parts else 0)), threads)
        if need_w or need_b:
            if need_w:
                gw = _owned(dw.astype(x.dtype), weight.shape)
            if need_b:
                gb = _owned(db.astype(x.dtype), ctx.bias_shape)
        return gx, gw, gb, None, None, None
