"""Making tensors from NumPy arrays, and the small helpers every layer above needs.

Below the autograd Functions, which create tensors with these helpers; above the data layer
(`_tensor.pyx`), where the `Tensor` class object itself is made (it gets its methods from the
Tensor API layer, `tinytensor/tensor.py`: see the note at the top of that file). Here:
wrapping NumPy results, the out-of-memory error, the broadcast-gradient reduction, and the
graph node's PyTorch name.
"""
import contextlib

import numpy as np

from tinytensor import _tensor
from tinytensor._tensor import Storage, Tensor, dtype_from_numpy  # noqa: F401  (Tensor: here)


class _OutOfMemory(contextlib.ContextDecorator):
    """NumPy's MemoryError as the core allocator's RuntimeError (PyTorch's type), for results
    computed outside Function.apply (which converts it itself)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, MemoryError):
            raise RuntimeError(f"can't allocate memory: {exc}") from None
        return False


_oom = _OutOfMemory


def _c(a):
    """C-contiguous, keeping 0-d results 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.asarray(a, order="C")


def _wrap(array):
    """A Tensor owning a fresh NumPy result (shares its memory)."""
    if array.flags.c_contiguous and array.dtype in _tensor._BY_NUMPY:
        return _tensor.wrap_array(array)
    return from_numpy(array)


def from_numpy(array):
    """A tensor sharing memory with the NumPy array ``array`` (which it keeps alive), as
    ``torch.from_numpy``. A read-only array gives a read-only tensor: any in-place write raises.

    >>> a = np.array([1., 2.])
    >>> t = tt.from_numpy(a)
    >>> a[0] = 5.
    >>> t
    tensor([5., 2.], dtype=tinytensor.float64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dt = dtype_from_numpy(array.dtype)
    itemsize = array.itemsize
    if any(s < 0 for s in array.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    if any(s % itemsize for s in array.strides):
        raise ValueError("given numpy array strides not a multiple of the element byte size. "
                         "Copy the numpy array to reallocate the memory.")
    strides = tuple([s // itemsize for s in array.strides])
    if type(array) is np.ndarray and array.flags.c_contiguous and array.size:
        flat = array.reshape(-1)          # the same span as below, without as_strided's cost
    elif array.size == 0:
        flat = np.empty(0, array.dtype)
        strides = _tensor.contiguous_strides(array.shape)
    else:
        span = 1 + sum((n - 1) * s for n, s in zip(array.shape, strides))
        flat = np.lib.stride_tricks.as_strided(array, shape=(span,), strides=(itemsize,),
                                               writeable=array.flags.writeable)
    t = Tensor.__new__(Tensor)
    t._init(Storage(flat), array.shape, strides, 0, dt)
    return t


def sum_to_shape(grad, shape):
    """Sum `grad` over the dimensions that broadcasting `shape` to grad's shape created, or None
    when `shape` does not broadcast to grad's shape."""
    gshape = grad._shape
    if len(shape) > len(gshape):
        return None
    lead = len(gshape) - len(shape)
    axes = list(range(lead))
    for i, s in enumerate(shape):
        g = gshape[lead + i]
        if s == g:
            continue
        if s != 1:
            return None
        axes.append(lead + i)
    out = grad._numpy().sum(axis=tuple(axes), keepdims=True) if axes else grad._numpy()
    return _wrap(_c(out.reshape(shape)))


def _named(out, name):
    """Give the node that made `out` (or `out[0]`, for max(dim)) PyTorch's name for the op,
    where one tinytensor Function serves several PyTorch ops (repr shows it)."""
    t = out[0] if isinstance(out, tuple) else out
    if name is not None and t.grad_fn is not None:
        t.grad_fn._name = name
    return out
