"""Activation functions, softmax/log_softmax (numerically stable) and dropout."""
import numbers
import warnings

import numpy as np

from tinytensor import random as _random
from tinytensor._args import check_tensor, scalar_name
from tinytensor._functions.activation import (DropoutFunction, LeakyReLUFunction,
                                              LogSoftmaxFunction, ReLUFunction, SoftmaxFunction)
from tinytensor._tensor import wrap_dim

__all__ = ["relu", "relu_", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout"]


def _check_tensor(name, input):
    check_tensor(name, "input", 1, input)


def _inplace_result(input, out, name):
    """Write `out` into `input` (PyTorch's inplace=True flag) through the Tensor's copy_; the
    recorded copy then shows as PyTorch's in-place node `name` (_functions/names.py)."""
    from tinytensor._functions.names import show_as_inplace
    return show_as_inplace(input.copy_(out), out, name)


def relu(input, inplace=False):
    """max(input, 0), elementwise.

    Args:
        input: any tensor. inplace: write the result into `input`.
    """
    _check_tensor("relu", input)
    if input._dtype.name == "bool":
        raise RuntimeError('"clamp_min_scalar_cpu" not implemented for \'Bool\'')
    out = ReLUFunction.apply(input)
    return _inplace_result(input, out, "ReluBackward0") if inplace else out


def relu_(input):
    return relu(input, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where input > 0, else negative_slope * input."""
    _check_tensor("leaky_relu", input)
    if not input.is_floating_point():
        raise NotImplementedError('"leaky_relu_cpu" not implemented for '
                                  f"'{scalar_name(input)}'")
    out = LeakyReLUFunction.apply(input, float(negative_slope))
    return _inplace_result(input, out, "LeakyReluBackward1") if inplace else out


def sigmoid(input):
    """1 / (1 + exp(-input))."""
    _check_tensor("sigmoid", input)
    return input.sigmoid()


def tanh(input):
    """tanh(input)."""
    _check_tensor("tanh", input)
    return input.tanh()


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_args(name, input, dim, dtype):
    _check_tensor(name, input)
    if dim is None:
        dim = _get_softmax_dim(name, input.ndim, 4)
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise NotImplementedError(f'"{name}_lastdim_kernel_impl" not implemented for '
                                  f"'{scalar_name(input)}'")
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = wrap_dim(int(dim), input.ndim) if input.ndim else wrap_dim(int(dim), 0)
    return input, d


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along `dim`, computed as exp(x - max) to avoid overflow.

    Example:
        >>> F.softmax(tt.tensor([[1000., 0.]]), dim=1)
        tensor([[1., 0.]])
    """
    input, d = _softmax_args("softmax", input, dim, dtype)
    if input.ndim == 0:
        return SoftmaxFunction.apply(input.reshape(1), 0).reshape(())
    return SoftmaxFunction.apply(input, d)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input, dim)), computed as x - max - log(sum(exp(x - max)))."""
    input, d = _softmax_args("log_softmax", input, dim, dtype)
    if input.ndim == 0:
        return LogSoftmaxFunction.apply(input.reshape(1), 0).reshape(())
    return LogSoftmaxFunction.apply(input, d)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p (library RNG) and scale the rest by 1/(1-p).

    Identity when `training` is False or p == 0.

    Raises:
        ValueError: p outside [0, 1].
    """
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    _check_tensor("dropout", input)
    if not training or p == 0.0:
        return input
    dt = input._dtype.np_dtype
    if p == 1.0:
        mask = np.zeros(input.shape, dt)
    else:
        keep = _random.generator().random(input.shape, dtype=np.float32) >= np.float32(p)
        mask = keep.astype(dt) * dt.type(1.0 / (1.0 - p))
    out = DropoutFunction.apply(input, mask)
    return _inplace_result(input, out, "MulBackward0") if inplace else out
