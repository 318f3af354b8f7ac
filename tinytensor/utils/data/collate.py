"""`default_collate` (a list of samples -> one batch) and `default_convert` (one sample, no
batching), with PyTorch's rules.

tinytensor has four dtypes, so NumPy data is widened where PyTorch would keep a dtype we do not
have: every integer type up to 32 bits (uint8 images, int32 labels) becomes int64, float16
becomes float32. Values are unchanged; anything else (strings, objects, complex) is refused.
"""
import collections.abc
import copy

import numpy as np

from tinytensor._functions.shape import stack
from tinytensor.tensor import Tensor, from_numpy, tensor

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _numpy_to_tensor(a, what):
    """A tensor holding NumPy data `a` (array or scalar), widened to a tinytensor dtype."""
    a = np.asarray(a)
    k, size = a.dtype.kind, a.dtype.itemsize
    if k == "b" or a.dtype in (np.float32, np.float64, np.int64):
        pass
    elif k == "i" or (k == "u" and size <= 4):
        a = a.astype(np.int64)
    elif k == "u" and (a.size == 0 or a.max() <= np.iinfo(np.int64).max):
        a = a.astype(np.int64)
    elif k == "f" and size < 4:
        a = a.astype(np.float32)
    else:
        raise TypeError(what.format(a.dtype))
    return from_numpy(a if a.flags.c_contiguous else np.ascontiguousarray(a))  # keeps 0-d


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _same_mapping(elem, values):
    """A mapping of elem's type holding `values` (a dict), as PyTorch keeps OrderedDict etc."""
    if isinstance(elem, collections.abc.MutableMapping):
        out = copy.copy(elem)
        out.update(values)
        return out
    try:
        return type(elem)(values)
    except TypeError:               # a mapping type that cannot be built from a dict
        return values


def default_collate(batch):
    """Merge a list of samples into a batch, as PyTorch's `default_collate`.

    Rules, by the type of the first sample:

    - Tensor: stacked along a new dimension 0.
    - NumPy array or scalar: stacked into a tensor (integer types widened to int64, float16 to
      float32); arrays of strings or objects raise TypeError.
    - float: a float64 tensor. int: a tensor (int64, bool for bools, float32 if floats are mixed
      in).
    - str / bytes: the list unchanged.
    - dict (any Mapping): a mapping of the same type, collated key by key.
    - namedtuple: the same namedtuple, collated field by field.
    - tuple / list (any Sequence): a list, collated position by position; samples must have
      equal lengths (RuntimeError "each element in list of batch should be of equal size").

    Example:
        >>> default_collate([(tt.ones(2), 1), (tt.zeros(2), 0)])
        [tensor([[1., 1.], [0., 0.]]), tensor([1, 0])]
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "SUO":
            raise TypeError(_ERR.format(elem.dtype))
        return _numpy_to_tensor(np.stack(batch), _ERR)
    if isinstance(elem, (np.bool_, np.number)):
        return _numpy_to_tensor(np.array(batch), _ERR)
    if isinstance(elem, float):
        return tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):
        return tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch])
                                    for key in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(e) != n for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(s) for s in zip(*batch)]   # tuples: strings stay tuples
        if isinstance(elem, (tuple, list)):
            return columns      # a list for tuples too, as PyTorch ("backwards compatibility")
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Turn NumPy data in one sample into tensors, without batching, as PyTorch's
    `default_convert` (the DataLoader's collate_fn when `batch_size=None`).

    Tensors are returned as they are, NumPy arrays and scalars become tensors (widened as in
    `default_collate`), mappings, namedtuples and sequences are converted element by element
    (tuples become lists), and anything else is returned unchanged.

    Example:
        >>> default_convert({"x": np.zeros(3)})["x"].dtype
        tinytensor.float64
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "SUO":
            return data
        return _numpy_to_tensor(data, "default_convert: cannot convert a NumPy array of dtype {}")
    if isinstance(data, (np.bool_, np.number)):
        return _numpy_to_tensor(data, "default_convert: cannot convert a NumPy scalar of dtype {}")
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {key: default_convert(data[key]) for key in data})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        converted = [default_convert(d) for d in data]
        if isinstance(data, list):
            return converted
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data
