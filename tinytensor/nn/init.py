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
        out = np.clip(_erfinv(u) * (std * math.sqrt(2.0)) + mean, a, b)
        tensor._check_inplace()
        tensor._refuse_overlap()
        tensor._numpy()[...] = out
        tensor._bump_version()
        return tensor


# The normal quantile of Wichura's algorithm AS 241 (PPND16, Applied Statistics 37, 1988):
# rational functions of degree 7 with relative error below 1e-16, for the centre
# (|p - 0.5| <= 0.425), the near tail (r = sqrt(-log(min(p, 1 - p))) <= 5) and the far tail.
_AS241_CENTRE = ((3.387132872796366608, 133.14166789178437745, 1971.5909503065514427,
                  13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
                  33430.575583588128105, 2509.0809287301226727),
                 (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
                  21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
                  5226.495278852545925))
_AS241_NEAR = ((1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055,
                3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177,
                0.0227238449892691845833, 7.7454501427834140764e-4),
               (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
                0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4,
                1.05075007164441684324e-9))
_AS241_FAR = ((6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358,
               0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386,
               2.71155556874348757815e-5, 2.01033439929228813265e-7),
              (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
               7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7,
               2.04426310338993978564e-15))


def _rational(coefficients, x):
    """p(x) / q(x), coefficients lowest degree first (Horner)."""
    num, den = (np.full_like(x, c[-1]) for c in coefficients)
    for cn, cd in zip(coefficients[0][-2::-1], coefficients[1][-2::-1]):
        num = num * x + cn
        den = den * x + cd
    return num / den


def _erfinv(y):
    """The inverse error function of a float64 array, within 3 units in the last place
    (scipy.special.erfinv: 2), through the normal quantile: erfinv(y) = ndtri((1 + y) / 2) /
    sqrt(2). AS 241 takes p - 0.5 = y / 2 and min(p, 1 - p) = (1 - |y|) / 2, both exact, so
    no digits of y are lost near 0 or near +-1. erfinv(+-1) = +-inf; nan outside [-1, 1]."""
    y = np.asarray(y, np.float64)
    q = y * 0.5
    out = np.full(y.shape, np.nan)
    centre = np.abs(q) <= 0.425
    r = 0.180625 - q[centre] * q[centre]
    out[centre] = q[centre] * _rational(_AS241_CENTRE, r)
    tail = ~centre & (np.abs(y) <= 1.0)
    with np.errstate(divide="ignore"):
        r = np.sqrt(-np.log((1.0 - np.abs(y[tail])) * 0.5))
    v = np.full_like(r, np.inf)                                  # y = +-1: r = inf
    near = r <= 5.0
    far = ~near & (r < np.inf)
    v[near] = _rational(_AS241_NEAR, r[near] - 1.6)
    v[far] = _rational(_AS241_FAR, r[far] - 5.0)
    out[tail] = np.copysign(v, y[tail])
    return out * 0.7071067811865476                            # 1 / sqrt(2)


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
