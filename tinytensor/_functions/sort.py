"""Sorting: sort, argsort, msort, topk.

Every sort here is stable (equal elements keep their input order), ascending or descending, and
puts NaN above every number, as PyTorch does: NaN last ascending, first descending. PyTorch's
`stable=False` leaves the order of ties unspecified; a stable order is one valid answer, so one
path serves both. `topk` takes the first k of that order: its values equal PyTorch's, and its
indices do too wherever the k values are distinct (PyTorch's CPU topk picks among ties in an
order it does not document).

The indices are computed with NumPy outside the graph; `TakeAlongDim` then gathers the values
and scatters their gradient back (each position is picked at most once, so a put suffices).
"""
import numpy as np

from tinytensor import _args, return_types
from tinytensor._tensor import wrap_dim
from tinytensor._tensor_type import _c, _named, _oom, _wrap
from tinytensor.autograd.function import Function


class TakeAlongDim(Function):
    """values = take_along_axis(x, indices, dim) for indices that pick each position at most once."""

    @staticmethod
    def forward(ctx, x, indices, dim):
        ctx.indices, ctx.dim, ctx.shape = indices, dim, x._shape
        return _wrap(_c(np.take_along_axis(x._numpy(), indices, axis=dim)))

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, g._dtype.np_dtype)
        np.put_along_axis(gx, ctx.indices, g._numpy(), axis=ctx.dim)
        return _wrap(gx), None, None


def _stable_order(a, dim, descending):
    """Indices that sort `a` along `dim`, ties in input order; NaN counts as the largest."""
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    # Ascending stable sort of the reversed array, read backwards: the values come out
    # descending (NaN, which NumPy puts last, first) and equal values in input order.
    rev = np.argsort(np.flip(a, dim), axis=dim, kind="stable")
    return (a.shape[dim] - 1) - np.flip(rev, dim)


def _prepare(fn, input, dim):
    """(array viewed with at least one dimension, wrapped dim, was-0-d) after PyTorch's checks."""
    _args.check_tensor(fn, "input", 1, input)
    d = wrap_dim(_args.int_arg(fn, "dim", 2, dim), input.ndim)
    a = input._numpy()
    return (a.reshape(1), 0, True) if a.ndim == 0 else (a, d, False)


@_args.numpy_aliases
@_oom()
def sort(input, dim=-1, descending=False, *, stable=False):
    """Sort `input` along `dim`: a (values, indices) named tuple, values differentiable.

    Stable for any `stable` (see the module notes); NaN sorts as the largest value.

    Example:
        >>> tt.sort(tt.tensor([2., 1., 2.]), descending=True)
        tinytensor.return_types.sort(
        values=tensor([2., 2., 1.]),
        indices=tensor([0, 2, 1]))
    """
    a, d, scalar = _prepare("sort", input, dim)
    idx = _stable_order(a, d, bool(descending))
    return _gather(return_types.sort, input, idx, d, scalar, "SortBackward0")


@_args.numpy_aliases
@_oom()
def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort `input` along `dim` (the second result of `sort`).

    Example:
        >>> tt.argsort(tt.tensor([[3., 1., 2.]]), dim=1)
        tensor([[1, 2, 0]])
    """
    a, d, scalar = _prepare("argsort", input, dim)
    idx = _stable_order(a, d, bool(descending))
    return _wrap(_c(idx.reshape(()) if scalar else idx))


def msort(input):
    """`sort(input, dim=0).values`.

    Example:
        >>> tt.msort(tt.tensor([[2., 0.], [1., 3.]]))
        tensor([[1., 0.],
                [2., 3.]])
    """
    _args.check_tensor("msort", "input", 1, input)
    return sort(input, 0).values


@_args.numpy_aliases
@_oom()
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or, with largest=False, smallest) elements along `dim`, as a
    (values, indices) named tuple; values differentiable, in sorted order.

    Raises:
        RuntimeError: k < 0 or k larger than the size of `dim` ("selected index k out of range").

    Example:
        >>> tt.topk(tt.tensor([1., 5., 3., 4.]), 2)
        tinytensor.return_types.topk(
        values=tensor([5., 4.]),
        indices=tensor([1, 3]))
    """
    _args.check_tensor("topk", "input", 1, input)
    k = _args.int_arg("topk", "k", 2, k)
    a, d, scalar = _prepare("topk", input, dim)
    if not 0 <= k <= a.shape[d]:
        raise RuntimeError("selected index k out of range")
    if scalar:
        k = 1                             # a 0-d input comes back whole, also for k = 0 (PyTorch)
    idx = _stable_order(a, d, bool(largest))
    idx = np.ascontiguousarray(np.take(idx, np.arange(k), axis=d))
    return _gather(return_types.topk, input, idx, d, scalar, "TopkBackward0")


def _gather(result, input, idx, d, scalar, name):
    src = input.reshape(1) if scalar else input
    values = _named(TakeAlongDim.apply(src, idx, d), name)
    indices = _wrap(_c(idx.astype(np.int64, copy=False)))
    if scalar:
        values, indices = values.reshape(()), indices.reshape(())
        _named(values, name)
    return result(values, indices)
