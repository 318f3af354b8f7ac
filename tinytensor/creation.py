"""Creation functions with PyTorch's signatures: zeros, ones, full, arange, rand, ..."""
import math

import numpy as np

from tinytensor import _args, _tensor, random
from tinytensor._promotion import _DEFAULT_DTYPE, get_default_dtype
from tinytensor._tensor import Size, as_dtype, dtype_from_numpy, float32, int64
from tinytensor._tensor_type import Tensor, _oom, _wrap, from_numpy


def _shape_arg(args, name):
    """Accept f(2, 3), f((2, 3)), f([2, 3]) or f(Size) as PyTorch does."""
    if args:
        for s in args:                   # (a loop: all() over a list costs twice as much)
            if type(s) is not int or not -2**63 <= s < 2**63:
                break
        else:
            return args                  # f(2, 3): plain ints, nothing to convert
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = args[0]
    elif len(args) == 1 and not _args.is_int(args[0]):
        return tuple(_args.int_list(name, "size", 1, args[0]))    # its "not float" text
    return tuple(_args.int_list(name, "size", 1, list(args)))


def _check_creation_grad(dt):
    """Factory functions' wording (requires_grad_() on an existing tensor says it differently)."""
    if not dt.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")


def _new(shape, dtype, fill, requires_grad, name="empty"):
    shape = _shape_arg(shape, name)
    dt = get_default_dtype() if dtype is None else as_dtype(dtype)
    if requires_grad:
        _check_creation_grad(dt)
    storage = _tensor.allocate(shape, dt, zero=(fill == 0))
    if fill is not None and fill != 0:
        storage.data[...] = fill
    t = Tensor.__new__(Tensor)
    t._init(storage, shape, _tensor.contiguous_strides(shape), 0, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _sizes(size_args, size):
    """The size of f(2, 3), f((2, 3)) or f(size=(2, 3)) (PyTorch accepts each)."""
    if size is None:
        return size_args
    if size_args:
        raise TypeError("got multiple values for argument 'size'")
    return (size,)


def zeros(*size_args, size=None, dtype=None, requires_grad=False, device=None):
    """A tensor of the given size filled with 0 (the default dtype unless `dtype` says).

    >>> tt.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    >>> tt.zeros((2,), dtype=tt.int64)
    tensor([0, 0])
    """
    _args.check_device(device)
    return _new(_sizes(size_args, size), dtype, 0, requires_grad, "zeros")


def ones(*size_args, size=None, dtype=None, requires_grad=False, device=None):
    """A tensor of the given size filled with 1.

    >>> tt.ones(size=(1, 2), requires_grad=True)
    tensor([[1., 1.]], requires_grad=True)
    """
    _args.check_device(device)
    return _new(_sizes(size_args, size), dtype, 1, requires_grad, "ones")


def empty(*size_args, size=None, dtype=None, requires_grad=False, device=None):
    """A tensor of the given size whose values are not set (read them only after writing).

    >>> tt.empty(2, 3).shape
    tinytensor.Size([2, 3])
    """
    _args.check_device(device)
    return _new(_sizes(size_args, size), dtype, None, requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of `size` filled with `fill_value`; an int value gives int64, a bool bool.

    >>> tt.full((2, 2), 7)
    tensor([[7, 7],
            [7, 7]])
    >>> tt.full((2,), 0.5)
    tensor([0.5000, 0.5000])
    """
    _args.check_device(device)
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _tensor.bool_
        elif isinstance(fill_value, int):
            dtype = int64
    return _new((size,) if isinstance(size, int) else size, dtype, fill_value, requires_grad, "full")


def _like(t, dtype):
    if not isinstance(t, Tensor):
        raise TypeError(f"argument 'input' (position 1) must be Tensor, not {type(t).__name__}")
    return t._dtype if dtype is None else dtype


def zeros_like(input, dtype=None, requires_grad=False, device=None,
               memory_format=None):
    """zeros of `input`'s shape and dtype (or `dtype`).

    >>> tt.zeros_like(tt.ones(2, dtype=tt.float64))
    tensor([0., 0.], dtype=tinytensor.float64)
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return zeros(input._shape, dtype=dt, requires_grad=requires_grad)


def ones_like(input, dtype=None, requires_grad=False, device=None,
              memory_format=None):
    """ones of `input`'s shape and dtype (or `dtype`).

    >>> tt.ones_like(tt.zeros(3), dtype=tt.int64)
    tensor([1, 1, 1])
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return ones(input._shape, dtype=dt, requires_grad=requires_grad)


def empty_like(input, dtype=None, requires_grad=False, device=None,
               memory_format=None):
    """An unset tensor of `input`'s shape and dtype (or `dtype`).

    >>> tt.empty_like(tt.zeros(2, 5)).shape
    tinytensor.Size([2, 5])
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return empty(input._shape, dtype=dt, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None,
              memory_format=None):
    """`fill_value` in `input`'s shape and dtype (or `dtype`).

    >>> tt.full_like(tt.zeros(2), 3)
    tensor([3., 3.])
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return full(input._shape, fill_value, dtype=dt, requires_grad=requires_grad)


def rand_like(input, dtype=None, requires_grad=False, device=None,
              memory_format=None):
    """Uniform samples on [0, 1) in `input`'s shape and dtype (or `dtype`).

    >>> tt.rand_like(tt.zeros(2, 2)).shape
    tinytensor.Size([2, 2])
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return rand(input._shape, dtype=dt, requires_grad=requires_grad)


def randn_like(input, dtype=None, requires_grad=False, device=None,
               memory_format=None):
    """Standard normal samples in `input`'s shape and dtype (or `dtype`).

    >>> tt.randn_like(tt.zeros(4)).dtype
    tinytensor.float32
    """
    _args.check_device(device)
    dt = _like(input, dtype)
    return randn(input._shape, dtype=dt, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values from `start` to `end` (excluded) by `step`; int64 when all three are ints.

    >>> tt.arange(4)
    tensor([0, 1, 2, 3])
    >>> tt.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    _args.check_device(device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if is_int else get_default_dtype()
    dt = as_dtype(dtype)
    if dt is int64:
        # PyTorch converts start, end and step to the integer type first (truncation):
        # arange(0, 2, 0.5, dtype=long) has step 0
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = max(0, math.ceil((end - start) / step))
    if n > 2 ** 62 // 8:                      # before NumPy allocates (or overflows) it
        raise RuntimeError(f"Storage size calculation overflowed with sizes=[{n}]")
    try:
        if dt is int64:
            arr = np.arange(start, end, step, dtype=np.int64)
        else:
            arr = (np.arange(n, dtype=np.float64) * step + start).astype(dt.np_dtype)
    except MemoryError:
        raise RuntimeError(f"can't allocate memory: you tried to allocate {n * 8} bytes for "
                           f"a tensor of shape [{n}]") from None
    return _finish(arr, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """`steps` values evenly spaced from `start` to `end`, both included.

    >>> tt.linspace(0, 1, 5)
    tensor([0.0000, 0.2500, 0.5000, 0.7500, 1.0000])
    """
    _args.check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = get_default_dtype() if dtype is None else as_dtype(dtype)
    with _oom():
        return _finish(np.linspace(start, end, steps).astype(dt.np_dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    """The n x m identity matrix (m defaults to n).

    >>> tt.eye(2, 3)
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    _args.check_device(device)
    dt = get_default_dtype() if dtype is None else as_dtype(dtype)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    with _oom():
        return _finish(np.eye(n, m, dtype=dt.np_dtype), requires_grad)


def rand(*size_args, size=None, dtype=None, requires_grad=False, generator=None, device=None):
    """Uniform samples on [0, 1) of the given size, from tinytensor's generator (`tt.manual_seed`).

    >>> tt.rand(2, 3).shape
    tinytensor.Size([2, 3])
    """
    _args.check_device(device)
    t = empty(*_sizes(size_args, size), dtype=dtype)
    with _oom():
        t._numpy()[...] = random.uniform(0.0, 1.0, t._shape, t._dtype.np_dtype)
    return t.requires_grad_(requires_grad)


def randn(*size_args, size=None, dtype=None, requires_grad=False, generator=None, device=None):
    """Standard normal samples of the given size, from tinytensor's generator (`tt.manual_seed`).

    >>> x = tt.randn(1000)
    >>> abs(x.mean().item()) < 0.2
    True
    """
    _args.check_device(device)
    t = empty(*_sizes(size_args, size), dtype=dtype)
    with _oom():
        t._numpy()[...] = random.normal(0.0, 1.0, t._shape, t._dtype.np_dtype)
    return t.requires_grad_(requires_grad)


def randint(low, high=None, size=None, dtype=None, requires_grad=False, generator=None, device=None):
    """Integers drawn uniformly from [low, high) of the given size (int64 by default).

    >>> x = tt.randint(0, 10, (3,))
    >>> x.dtype, bool(((x >= 0) & (x < 10)).all())
    (tinytensor.int64, True)
    """
    _args.check_device(device)
    if size is None and isinstance(high, (tuple, list)):
        high, size = None, high           # randint(high, size), as PyTorch
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    shape = _shape_arg((size,), "size")
    dt = int64 if dtype is None else as_dtype(dtype)
    _tensor.checked_numel(shape)
    with _oom():
        return _finish(random.generator().integers(low, high, shape).astype(dt.np_dtype),
                       requires_grad)


def randperm(n, dtype=None, requires_grad=False, device=None):
    """A random permutation of 0 .. n-1 (int64 by default).

    >>> sorted(tt.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    _args.check_device(device)
    dt = int64 if dtype is None else as_dtype(dtype)
    _tensor.checked_numel((n,), 8)        # negative or overflowing n: PyTorch's errors
    with _oom():
        return _finish(random.generator().permutation(n).astype(dt.np_dtype), requires_grad)


def _finish(arr, requires_grad):
    t = _wrap(np.asarray(arr, order='C'))
    if requires_grad:
        _check_creation_grad(t._dtype)
    return t.requires_grad_(True) if requires_grad else t


# ---------------------------------------------------------------------- from data

def from_dlpack(obj):
    """A tensor sharing memory with any DLPack producer (NumPy arrays, other frameworks' CPU
    tensors), without a copy (``torch.from_dlpack``).

    >>> tt.from_dlpack(np.arange(3))
    tensor([0, 1, 2])
    """
    if isinstance(obj, Tensor):
        return obj
    return from_numpy(np.from_dlpack(obj))


def _infer_numpy(data, dtype):
    if isinstance(data, Tensor):
        arr = data.detach()._numpy()
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)            # NumPy arrays and scalars keep their dtype, as PyTorch
    else:
        if data is None:
            raise RuntimeError("Could not infer dtype of NoneType")
        arr = np.asarray(data)
        if arr.dtype.kind == "u" or (arr.dtype == object or arr.dtype.kind == "f"
                                     and np.any(np.abs(arr) >= 2.0 ** 63)) and _has_big_int(data):
            raise ValueError("Overflow when unpacking long long")     # beyond int64, as PyTorch
        if arr.dtype == object:
            raise TypeError(f"tensor(): could not infer a dtype from {type(data).__name__} data")
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(_DEFAULT_DTYPE.np_dtype)
    if dtype is not None:
        return arr.astype(as_dtype(dtype).np_dtype)
    if arr.dtype.kind in "iu" and not isinstance(data, (np.ndarray, np.generic)):
        return arr.astype(np.int64)
    dtype_from_numpy(arr.dtype)           # refuse dtypes we do not have
    return arr


def _has_big_int(data):
    """True when nested Python data holds an int outside int64 (NumPy makes it an object)."""
    stack = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, (list, tuple)):
            stack.extend(d)
        elif isinstance(d, int) and not isinstance(d, bool) and not -2**63 <= d < 2**63:
            return True
    return False


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested lists, a NumPy array or a
    tensor), with its dtype inferred unless ``dtype`` says (``torch.tensor``): Python floats give
    the default dtype, ints int64, bools bool.

    >>> tt.tensor([[1., 2.], [3., 4.]])
    tensor([[1., 2.],
            [3., 4.]])
    >>> tt.tensor([1, 2], dtype=tt.float64, requires_grad=True)
    tensor([1., 2.], dtype=tinytensor.float64, requires_grad=True)
    """
    _args.check_device(device)
    arr = np.array(_infer_numpy(data, dtype), order="C", copy=True)
    t = _wrap(arr)
    if requires_grad:
        _check_creation_grad(t._dtype)
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it already is one (or a NumPy array) of the
    wanted dtype, else a copy (``torch.as_tensor``).

    >>> a = np.array([1., 2.])
    >>> t = tt.as_tensor(a)
    >>> a[0] = 7.
    >>> t
    tensor([7., 2.], dtype=tinytensor.float64)
    """
    _args.check_device(device)
    if isinstance(data, Tensor) and (dtype is None or as_dtype(dtype) is data._dtype):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(as_dtype(dtype).np_dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)
