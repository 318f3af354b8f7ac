"""Activation functions, softmax/log_softmax (numerically stable) and dropout."""
import math
import warnings

import numpy as np

from tinytensor import random as _random
from tinytensor._args import check_tensor, number_arg, scalar_name
from tinytensor._functions.activation import (
    DropoutFunction, EluFunction, GeluFunction, HardshrinkFunction, HardsigmoidFunction,
    HardswishFunction, HardtanhFunction, LeakyReLUFunction, LogSigmoidFunction, MishFunction,
    PReLUFunction, ReLUFunction, SiluFunction, SoftplusFunction, SoftshrinkFunction,
    SoftsignFunction, TanhshrinkFunction, ThresholdFunction, softmax as _softmax)
from tinytensor._functions.names import show_as_inplace

__all__ = ["relu", "relu_", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout",
           # activations and dropout variants of issue 11
           "leaky_relu_", "relu6", "elu", "elu_", "celu", "celu_", "selu", "selu_", "gelu",
           "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_", "softplus",
           "softsign", "prelu", "logsigmoid", "threshold", "threshold_", "tanhshrink",
           "softshrink", "hardshrink", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]


def _check_tensor(name, input):
    check_tensor(name, "input", 1, input)


def _inplace_result(input, out, name=None):
    """Write `out` into `input` (PyTorch's inplace=True flag) through the Tensor's copy_; the
    recorded copy then shows as PyTorch's in-place node `name` (_functions/names.py), where
    one is given."""
    result = input.copy_(out)
    return result if name is None else show_as_inplace(result, out, name)


def relu(input, inplace=False):
    """max(input, 0), elementwise.

    Args:
        input: any tensor. inplace: write the result into `input`.

    >>> F.relu(tt.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    _check_tensor("relu", input)
    if input._dtype.name == "bool":
        raise RuntimeError('"clamp_min_scalar_cpu" not implemented for \'Bool\'')
    out = ReLUFunction.apply(input)
    return _inplace_result(input, out, "ReluBackward0") if inplace else out


def relu_(input):
    """In-place ``relu``: ``input`` becomes max(input, 0), and is returned
    (``torch.nn.functional.relu_``).

    >>> F.relu_(tt.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    return relu(input, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """input where input > 0, else negative_slope * input.

    >>> F.leaky_relu(tt.tensor([-1., 2.]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    _check_tensor("leaky_relu", input)
    negative_slope = number_arg("leaky_relu", "negative_slope", 2, negative_slope)
    if not input.is_floating_point():
        raise NotImplementedError('"leaky_relu_cpu" not implemented for '
                                  f"'{scalar_name(input)}'")
    out = LeakyReLUFunction.apply(input, negative_slope)
    return _inplace_result(input, out, "LeakyReluBackward1") if inplace else out


def leaky_relu_(input, negative_slope=0.01):
    """In-place `leaky_relu`.

    >>> F.leaky_relu_(tt.tensor([-1., 2.]), 0.1)
    tensor([-0.1000,  2.0000])
    """
    return leaky_relu(input, negative_slope, inplace=True)


def sigmoid(input):
    """1 / (1 + exp(-input)).

    >>> F.sigmoid(tt.tensor([0.]))
    tensor([0.5000])
    """
    _check_tensor("sigmoid", input)
    return input.sigmoid()


def tanh(input):
    """tanh(input).

    >>> F.tanh(tt.tensor([0., 1.]))
    tensor([0.0000, 0.7616])
    """
    _check_tensor("tanh", input)
    return input.tanh()


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x_i) / sum_j exp(x_j) along `dim`, computed as exp(x - max) to avoid overflow.

    Example:
        >>> F.softmax(tt.tensor([[1000., 0.]]), dim=1)
        tensor([[1., 0.]])
    """
    if dim is None:
        _check_tensor("softmax", input)
        dim = _get_softmax_dim("softmax", input.ndim, 3)
    return _softmax("softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(input, dim)), computed as x - max - log(sum(exp(x - max))).

    >>> F.log_softmax(tt.tensor([0., 0.]), dim=0)
    tensor([-0.6931, -0.6931])
    """
    if dim is None:
        _check_tensor("log_softmax", input)
        dim = _get_softmax_dim("log_softmax", input.ndim, 3)
    return _softmax("log_softmax", input, dim, dtype)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p (library RNG) and scale the rest by 1/(1-p).

    Identity when `training` is False or p == 0.

    Raises:
        ValueError: p outside [0, 1].

    >>> y = F.dropout(tt.ones(1000), 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
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


# ---------------------------------------------------------------------------------------------
# Pointwise activations (issue 11). Each checks its arguments with PyTorch's messages, then runs
# one Function whose forward computes y and dy/dx in one pass (tinytensor._functions.activation).


def _float_only(fn, kernel, input):
    """Check the input, and PyTorch's dtype refusal for float-only kernels."""
    _check_tensor(fn, input)
    if not input.is_floating_point():
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(input)}\'')


def _apply(fn, input, inplace, *params):
    out = fn.apply(input, *params)
    return _inplace_result(input, out) if inplace else out


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(input, min_val, max_val); the gradient is 1 strictly between the bounds.

    Raises:
        ValueError: min_val > max_val. RuntimeError: a bool input.

    Example:
        >>> F.hardtanh(tt.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    _check_tensor("hardtanh", input)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    lo = number_arg("hardtanh", "min_val", 2, min_val)
    hi = number_arg("hardtanh", "max_val", 3, max_val)
    if input.dtype.name == "bool":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    return _apply(HardtanhFunction, input, inplace, lo, hi)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place `hardtanh`.

    >>> F.hardtanh_(tt.tensor([-2., 0.5, 2.]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(input, 0), 6) (hardtanh(input, 0, 6), as PyTorch).

    Example:
        >>> F.relu6(tt.tensor([-1.0, 3.0, 7.0]))
        tensor([0., 3., 6.])
    """
    _check_tensor("relu6", input)
    if input.dtype.name == "bool":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    return _apply(HardtanhFunction, input, inplace, 0.0, 6.0)


def threshold(input, threshold, value, inplace=False):
    """input where input > threshold, else value.

    Example:
        >>> F.threshold(tt.tensor([0.5, 2.0]), 1.0, -1.0)
        tensor([-1.,  2.])
    """
    _check_tensor("threshold", input)
    th = number_arg("threshold", "threshold", 2, threshold)
    v = number_arg("threshold", "value", 3, value)
    if input.dtype.name == "bool":
        raise NotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    return _apply(ThresholdFunction, input, inplace, th, v)


def threshold_(input, threshold, value):
    """In-place `threshold`.

    >>> F.threshold_(tt.tensor([0.5, 2.]), 1.0, 0.)
    tensor([0., 2.])
    """
    return globals()["threshold"](input, threshold, value, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """input for input > 0, else alpha * (exp(input) - 1).

    Example:
        >>> F.elu(tt.tensor([1.0, 0.0]))
        tensor([1., 0.])
    """
    _check_tensor("elu", input)
    alpha = number_arg("elu", "alpha", 2, alpha)
    _float_only("elu", "elu_cpu", input)
    return _apply(EluFunction, input, inplace, alpha, 1.0, 1.0)


def elu_(input, alpha=1.0):
    """In-place `elu`.

    >>> x = tt.tensor([-1., 1.])
    >>> F.elu_(x)
    tensor([-0.6321,  1.0000])
    """
    return elu(input, alpha, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).

    Raises:
        RuntimeError: alpha == 0.

    >>> F.celu(tt.tensor([-1., 1.]))
    tensor([-0.6321,  1.0000])
    """
    _check_tensor("celu", input)
    alpha = number_arg("celu", "alpha", 2, alpha)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    _float_only("celu", "elu_cpu", input)
    return _apply(EluFunction, input, inplace, alpha, 1.0, 1.0 / alpha)


def celu_(input, alpha=1.0):
    """In-place `celu`.

    >>> x = tt.tensor([-1., 1.])
    >>> F.celu_(x) is x
    True
    """
    return celu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(input, alpha) with scale ~ 1.0507 and alpha ~ 1.6733 (self-normalising).

    Example:
        >>> F.selu(tt.tensor([1.0]))
        tensor([1.0507])
    """
    _float_only("selu", "elu_cpu", input)
    return _apply(EluFunction, input, inplace, _SELU_ALPHA * _SELU_SCALE, _SELU_SCALE, 1.0)


def selu_(input):
    """In-place `selu`.

    >>> F.selu_(tt.tensor([-1., 1.]))
    tensor([-1.1113,  1.0507])
    """
    return selu(input, inplace=True)


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF; approximate='tanh' uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    Example:
        >>> F.gelu(tt.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8413])
    """
    _check_tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _float_only("gelu", "GeluKernelImpl", input)
    return GeluFunction.apply(input, approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (swish).

    Example:
        >>> F.silu(tt.tensor([0.0]))
        tensor([0.])
    """
    _float_only("silu", "silu_cpu", input)
    return _apply(SiluFunction, input, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x)).

    >>> F.mish(tt.tensor([0., 1.]))
    tensor([0.0000, 0.8651])
    """
    _float_only("mish", "mish_cpu", input)
    return _apply(MishFunction, input, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6 (MobileNetV3).

    Example:
        >>> F.hardswish(tt.tensor([-4.0, 0.0, 4.0]))
        tensor([-0., 0., 4.])
    """
    _float_only("hardswish", "hardswish_cpu", input)
    return _apply(HardswishFunction, input, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6.

    >>> F.hardsigmoid(tt.tensor([-4., 0., 4.]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    _float_only("hardsigmoid", "hardsigmoid_cpu", input)
    return _apply(HardsigmoidFunction, input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule).

    Example:
        >>> F.softplus(tt.tensor([0.0, 30.0]))
        tensor([ 0.6931, 30.0000])
    """
    _check_tensor("softplus", input)
    beta = number_arg("softplus", "beta", 2, beta)
    th = number_arg("softplus", "threshold", 3, threshold)
    _float_only("softplus", "softplus_cpu", input)
    return SoftplusFunction.apply(input, beta, th)


def softsign(input):
    """x / (1 + abs(x)). An integer input gives float32, as PyTorch.

    >>> F.softsign(tt.tensor([-1., 3.]))
    tensor([-0.5000,  0.7500])
    """
    _check_tensor("softsign", input)
    if input.dtype.name == "bool":
        raise NotImplementedError('"abs_cpu" not implemented for \'Bool\'')
    if not input.is_floating_point():
        input = input.float()
    return SoftsignFunction.apply(input)


def logsigmoid(input):
    """log(sigmoid(x)), computed as min(x, 0) - log1p(exp(-abs(x))) (no overflow).

    Example:
        >>> F.logsigmoid(tt.tensor([0.0]))
        tensor([-0.6931])
    """
    _float_only("logsigmoid", "log_sigmoid_cpu", input)
    return LogSigmoidFunction.apply(input)


def tanhshrink(input):
    """x - tanh(x). An integer input gives float32, as PyTorch.

    >>> F.tanhshrink(tt.tensor([0., 1.]))
    tensor([0.0000, 0.2384])
    """
    _check_tensor("tanhshrink", input)
    if input.dtype.name == "bool":
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    if not input.is_floating_point():
        input = input.float()
    return TanhshrinkFunction.apply(input)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between.

    Raises:
        RuntimeError: lambd < 0.

    >>> F.softshrink(tt.tensor([-1., 0.2, 0.7]))
    tensor([-0.5000,  0.0000,  0.2000])
    """
    _check_tensor("softshrink", input)
    lambd = number_arg("softshrink", "lambd", 2, lambd)
    _float_only("softshrink", "softshrink_check", input)
    if not lambd >= 0:
        raise RuntimeError(f"lambda must be in range [0, 3.40282e+38] for input dtype "
                           f"{scalar_name(input)}, but found {lambd:g}")
    return SoftshrinkFunction.apply(input, lambd)


def hardshrink(input, lambd=0.5):
    """x where abs(x) > lambd, else 0.

    >>> F.hardshrink(tt.tensor([-1., 0.2, 0.7]))
    tensor([-1.0000,  0.0000,  0.7000])
    """
    _check_tensor("hardshrink", input)
    lambd = number_arg("hardshrink", "lambd", 2, lambd)
    _float_only("hardshrink", "hardshrink_cpu", input)
    return HardshrinkFunction.apply(input, lambd)


def prelu(input, weight):
    """x for x > 0, else weight * x; weight has one value, or one per channel (dim 1).

    Raises:
        RuntimeError: PyTorch's messages for a 0-d input with several weights, a weight count
        that is not the channel count, a weight of rank > 1, or differing dtypes.

    Example:
        >>> F.prelu(tt.tensor([[-1.0, 2.0]]), tt.tensor([0.25]))
        tensor([[-0.2500,  2.0000]])
    """
    check_tensor("prelu", "input", 1, input)
    check_tensor("prelu", "weight", 2, weight)
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim > 1 else 1
        if channels != n:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {scalar_name(input)} and "
                           f"{scalar_name(weight)}")
    _float_only("prelu", "prelu_cpu", input)
    return PReLUFunction.apply(input, weight)


# ---------------------------------------------------------------------------------------------
# Channel and alpha dropout (PyTorch's _dropout_impl: identity unless training with 0 < p;
# p == 1 multiplies by zero; the mask is drawn per element, or per (N, C) for feature dropout).

_ALPHA_PRIME = 1.7580993408473766          # -scale * alpha of SELU: where alpha dropout sends x


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise_dropout(input, p, training, inplace, feature, alpha):
    """x * mask (+ shift) with PyTorch's scaling; `feature` draws one value per (N, C)."""
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    dt = input._dtype.np_dtype
    shape = tuple(input.shape)
    if feature:
        shape = shape[:2] + (1,) * (len(shape) - 2)
    shift = None
    if p == 1.0:
        mask = np.zeros(shape, dt)
    else:
        keep = (_random.generator().random(shape, dtype=np.float32) >= np.float32(p)).astype(dt)
        if alpha:
            a = 1.0 / math.sqrt((_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
            shift = ((keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p).astype(dt)
            mask = keep * dt.type(a)
        else:
            mask = keep * dt.type(1.0 / (1.0 - p))
    out = DropoutFunction.apply(input, mask, shift)
    return _inplace_result(input, out) if inplace else out


def _feature_dropout(input, p, training, inplace):
    return _noise_dropout(input, p, training, inplace, True, False)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p, scaling the rest
    by 1/(1-p).

    Raises:
        ValueError: p outside [0, 1]. RuntimeError: input not 2-D or 3-D.

    >>> F.dropout1d(tt.ones(1, 4, 3), 0.5).shape
    tinytensor.Size([1, 4, 3])
    """
    _check_p(p)
    _check_tensor("dropout1d", input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout on "
                           "inputs with 1 spatial dimension, a channel dimension, and an optional "
                           "batch dimension (i.e. 2D or 3D inputs).")
    if not training or p == 0.0:
        return input
    if input.ndim == 2:                 # unbatched (C, L): one draw per channel
        out = _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)
        return _inplace_result(input, out) if inplace else out
    return _feature_dropout(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability p, scaling the rest by
    1/(1-p). A 3-D input is read as (N, C, L), with PyTorch's warning.

    >>> F.dropout2d(tt.ones(1, 4, 2, 2), 0.5).shape
    tinytensor.Size([1, 4, 2, 2])
    """
    _check_p(p)
    _check_tensor("dropout2d", input)
    nd = input.ndim
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior and "
                      "silence this warning, please use dropout instead. Note that dropout2d "
                      "exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                      "or 4D inputs).", stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape (C, "
                      "H, W). To maintain the 1D channel-wise dropout behavior, please switch to "
                      "using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p,
    scaling the rest by 1/(1-p).

    >>> F.dropout3d(tt.ones(1, 4, 2, 2, 2), 0.5).shape
    tinytensor.Size([1, 4, 2, 2, 2])
    """
    _check_p(p)
    _check_tensor("dropout3d", input)
    nd = input.ndim
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior and "
                      "silence this warning, please use dropout instead. Note that dropout3d "
                      "exists to provide channel-wise dropout on inputs with 3 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 4D "
                      "or 5D inputs).", stacklevel=2)
    if not training or p == 0.0:
        return input
    if nd != 5:                         # read as unbatched (C, D, H, W)
        out = _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)
        return _inplace_result(input, out) if inplace else out
    return _feature_dropout(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's zero mean and unit variance: dropped elements become
    -alpha' = -1.7581, then everything is scaled by a and shifted by b (PyTorch's constants).

    Note training defaults to False here, as in PyTorch.

    >>> x = tt.ones(4)
    >>> F.alpha_dropout(x, 0.5) is x  # training=False: the identity
    True
    """
    _check_p(p)
    _check_tensor("alpha_dropout", input)
    return _noise_dropout(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (one draw per (N, C)).

    >>> x = tt.ones(1, 2, 3)
    >>> F.feature_alpha_dropout(x, 0.5) is x  # training=False: the identity
    True
    """
    _check_p(p)
    _check_tensor("feature_alpha_dropout", input)
    return _noise_dropout(input, p, training, inplace, True, True)
