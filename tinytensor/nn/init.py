"""Parameter initialisation, as `torch.nn.init`: every function fills its tensor in place,
under no_grad, from the library's one random stream (`tt.manual_seed`), and returns it."""
import math
import warnings

import numpy as np

from tinytensor import random

from tinytensor.autograd.grad_mode import no_grad

__all__ = ["calculate_gain", "uniform_", "normal_", "zeros_", "ones_", "constant_", "eye_",
           "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
           "trunc_normal_"]


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table).

    Raises:
        ValueError: an unknown nonlinearity or a non-numeric negative slope.

    >>> nn.init.calculate_gain('relu')
    1.4142135623730951
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out): size(1) and size(0) times the receptive field (dims 2 and on)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field_size = 1
    for s in tensor.shape[2:]:
        receptive_field_size *= s
    return tensor.shape[1] * receptive_field_size, tensor.shape[0] * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b).

    >>> w = nn.init.uniform_(tt.empty(3), -1., 1.)
    >>> bool(((w >= -1) & (w < 1)).all())
    True
    """
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std**2).

    >>> nn.init.normal_(tt.empty(2, 3), 0., 0.01).shape
    tinytensor.Size([2, 3])
    """
    with no_grad():
        return tensor.normal_(mean, std)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std**2) draws truncated to [a, b], by inverting the normal CDF (as
    PyTorch): uniform draws between CDF(a) and CDF(b) mapped back through erfinv. (Redrawing
    values outside [a, b] never ended for a > b or an interval far in a tail.)

    >>> w = nn.init.trunc_normal_(tt.empty(100), a=-1., b=1.)
    >>> bool(((w >= -1) & (w <= 1)).all())
    True
    """

    from scipy.special import erfinv
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    with no_grad():
        lo = (1.0 + math.erf((a - mean) / std / math.sqrt(2.0))) - 1.0    # 2 * CDF - 1
        hi = (1.0 + math.erf((b - mean) / std / math.sqrt(2.0))) - 1.0
        if lo > hi:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={lo:g} > to={hi:g}")
        u = random.uniform(lo, hi, tuple(tensor.shape), np.float64)
        out = np.clip(erfinv(u) * (std * math.sqrt(2.0)) + mean, a, b)
        tensor._check_inplace()
        tensor._refuse_overlap()
        tensor._numpy()[...] = out
        tensor._bump_version()
        return tensor


def constant_(tensor, val):
    """Fill with `val`.

    >>> nn.init.constant_(tt.empty(2), 0.5)
    tensor([0.5000, 0.5000])
    """
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill with 1.

    >>> nn.init.ones_(tt.empty(2))
    tensor([1., 1.])
    """
    with no_grad():
        return tensor.fill_(1.0)


def zeros_(tensor):
    """Fill with 0.

    >>> nn.init.zeros_(tt.empty(2))
    tensor([0., 0.])
    """
    with no_grad():
        return tensor.zero_()


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix.

    >>> nn.init.eye_(tt.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]])
    """
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        tensor._check_inplace()
        tensor._refuse_overlap()
        tensor._numpy()[...] = np.eye(*tensor.shape)
        tensor._bump_version()
        return tensor


def _no_op_if_empty(tensor):
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op")
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialisation: U(-bound, bound), bound = gain * sqrt(3 / fan).

    With `a=sqrt(5)` (what Conv and Linear use) the bound is 1/sqrt(fan_in).

    >>> nn.init.kaiming_uniform_(tt.empty(4, 3), nonlinearity='relu').shape
    tinytensor.Size([4, 3])
    """
    if _no_op_if_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    with no_grad():
        return tensor.uniform_(-bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He initialisation: N(0, std**2), std = gain / sqrt(fan).

    >>> nn.init.kaiming_normal_(tt.empty(4, 3)).shape
    tinytensor.Size([4, 3])
    """
    if _no_op_if_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    with no_grad():
        return tensor.normal_(0, std)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot initialisation: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    >>> nn.init.xavier_uniform_(tt.empty(4, 3)).shape
    tinytensor.Size([4, 3])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    with no_grad():
        return tensor.uniform_(-a, a)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot initialisation: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> nn.init.xavier_normal_(tt.empty(4, 3)).shape
    tinytensor.Size([4, 3])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    with no_grad():
        return tensor.normal_(0.0, std)
