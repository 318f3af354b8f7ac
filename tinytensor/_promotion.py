"""The default dtype and PyTorch's type promotion for bool < int64 < float32 < float64.

Below the autograd Functions, which promote their operands; above the Tensor class, which the
promotion rules tell apart from Python scalars.
"""
import numbers

import numpy as np

from tinytensor._tensor import bool_, float32, int64
from tinytensor._tensor_type import Tensor, from_numpy

_DEFAULT_DTYPE = float32


def get_default_dtype():
    """The dtype of floating point tensors made from Python floats: ``tinytensor.float32``,
    as ``torch.get_default_dtype()``.

    >>> tt.get_default_dtype()
    tinytensor.float32
    """
    return _DEFAULT_DTYPE


def _scalar_or_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (numbers.Number, np.number, np.bool_)):
        return x
    if isinstance(x, np.ndarray):
        return from_numpy(x)
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def promote_types(da, db):
    """The smallest dtype both promote to: bool < int64 < float32 < float64."""
    if da.category != db.category:
        return da if da.category > db.category else db
    return da if da.itemsize >= db.itemsize else db


def _promotion_info(x):
    """(dtype, priority): 0 dimensioned tensor, 1 zero-dim tensor, 2 Python scalar."""
    if isinstance(x, Tensor):
        return x._dtype, (0 if x._shape else 1)
    if isinstance(x, (bool, np.bool_)):
        return bool_, 2
    if isinstance(x, (int, np.integer)):
        return int64, 2
    if isinstance(x, (float, np.floating)):
        return _DEFAULT_DTYPE, 2
    raise TypeError(f"unsupported operand type for a tensor operation: {type(x).__name__}")


def result_type(a, b):
    """PyTorch's promotion for bool < int64 < float32 < float64 and Python scalars.

    Dimensioned tensors decide the type within a category; a 0-dim tensor or a Python scalar
    only raises the category (an int64 tensor times 2.5 is float32, the default float; an int64
    tensor plus a 0-dim float64 tensor is float64).
    """
    if type(a) is Tensor:
        if type(b) is Tensor and a._dtype is b._dtype:
            return a._dtype                               # the common `x * y`
        if type(b) is float and a._dtype.category == 2:
            return a._dtype                               # the common `x * 0.5`
    (da, pa), (db, pb) = _promotion_info(a), _promotion_info(b)
    if da is db:
        return da
    if pa == pb:
        return promote_types(da, db)
    if pa > pb:                     # make `a` the more tensor-like operand
        (da, pa), (db, pb) = (db, pb), (da, pa)
    if db.category > da.category:
        return db if pb == 1 else (_DEFAULT_DTYPE if db.category == 2 else db)
    return da
