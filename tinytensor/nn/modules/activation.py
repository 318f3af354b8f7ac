"""Activation modules: ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, LogSoftmax, and the pointwise
family (ReLU6, Hardtanh, ELU, CELU, SELU, GELU, SiLU, Mish, Hardswish, Hardsigmoid, Softplus,
Softsign, LogSigmoid, Threshold, Tanhshrink, Softshrink, Hardshrink, PReLU)."""
from tinytensor.creation import empty
from tinytensor.nn import functional as F
from tinytensor.nn import init as _init
from tinytensor.nn.modules.module import Module
from tinytensor.nn.parameter import Parameter

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax",
           # issue 11
           "ReLU6", "Hardtanh", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Hardswish",
           "Hardsigmoid", "Softplus", "Softsign", "LogSigmoid", "Threshold", "Tanhshrink",
           "Softshrink", "Hardshrink", "PReLU"]


class ReLU(Module):
    """max(x, 0) elementwise.

    >>> nn.ReLU()(tt.tensor([-1., 2.]))
    tensor([0., 2.])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, else negative_slope * x.

    >>> nn.LeakyReLU(0.1)(tt.tensor([-1., 2.]))
    tensor([-0.1000,  2.0000])
    """

    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class Tanh(Module):
    """tanh(x) elementwise.

    >>> nn.Tanh()(tt.tensor([0., 1.]))
    tensor([0.0000, 0.7616])
    """

    def forward(self, input):
        return input.tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise.

    >>> nn.Sigmoid()(tt.tensor([0.]))
    tensor([0.5000])
    """

    def forward(self, input):
        return input.sigmoid()


class Softmax(Module):
    """softmax along `dim` (numerically stable).

    >>> nn.Softmax(dim=1)(tt.tensor([[0., 0.]]))
    tensor([[0.5000, 0.5000]])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along `dim` (numerically stable).

    >>> nn.LogSoftmax(dim=1)(tt.tensor([[0., 0.]]))
    tensor([[-0.6931, -0.6931]])
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self):
        return f"dim={self.dim}"


# ---------------------------------------------------------------------------------------------
# Pointwise activations of issue 11: PyTorch's constructors, attributes and reprs.


def _inplace_repr(inplace):
    return "inplace=True" if inplace else ""


class Hardtanh(Module):
    """clamp(x, min_val, max_val).

    Example:
        >>> nn.Hardtanh(-2, 2)
        Hardtanh(min_val=-2, max_val=2)
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if not self.max_val > self.min_val:
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val ({min_val})")

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace_str}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) (MobileNets). repr: `ReLU6()`.

    >>> nn.ReLU6()(tt.tensor([-1., 3., 8.]))
    tensor([0., 3., 6.])
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Threshold(Module):
    """x where x > threshold, else value.

    Example:
        >>> nn.Threshold(0.1, 20)
        Threshold(threshold=0.1, value=20)
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace_str}"


class ELU(Module):
    """x for x > 0, else alpha * (exp(x) - 1). repr: `ELU(alpha=1.0)`.

    >>> nn.ELU()(tt.tensor([-1., 1.]))
    tensor([-0.6321,  1.0000])
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self):
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)). repr: `CELU(alpha=1.0)`.

    >>> nn.CELU(alpha=2.)(tt.tensor([-1., 1.]))
    tensor([-0.7869,  1.0000])
    """

    def forward(self, input):
        return F.celu(input, self.alpha, self.inplace)


class SELU(Module):
    """scale * elu(x, alpha) with PyTorch's constants. repr: `SELU()`.

    >>> nn.SELU()(tt.tensor([-1., 1.]))
    tensor([-1.1113,  1.0507])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.selu(input, self.inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class GELU(Module):
    """x * Phi(x); approximate='tanh' for the tanh formula.

    Example:
        >>> nn.GELU()
        GELU(approximate='none')
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(SELU):
    """x * sigmoid(x). repr: `SiLU()`.

    >>> nn.SiLU()(tt.tensor([0., 1.]))
    tensor([0.0000, 0.7311])
    """

    def forward(self, input):
        return F.silu(input, inplace=self.inplace)


class Mish(SELU):
    """x * tanh(softplus(x)). repr: `Mish()`.

    >>> nn.Mish()(tt.tensor([0., 1.]))
    tensor([0.0000, 0.8651])
    """

    def forward(self, input):
        return F.mish(input, inplace=self.inplace)


class Hardswish(Module):
    """x * relu6(x + 3) / 6. The repr shows no arguments, as PyTorch's.

    >>> nn.Hardswish()(tt.tensor([-4., 1., 4.]))
    tensor([-0.0000, 0.6667, 4.0000])
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.hardswish(input, self.inplace)


class Hardsigmoid(Hardswish):
    """relu6(x + 3) / 6. repr: `Hardsigmoid()`.

    >>> nn.Hardsigmoid()(tt.tensor([-4., 0., 4.]))
    tensor([0.0000, 0.5000, 1.0000])
    """

    def forward(self, input):
        return F.hardsigmoid(input, self.inplace)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above `threshold`.

    Example:
        >>> nn.Softplus()
        Softplus(beta=1.0, threshold=20.0)
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(Module):
    """x / (1 + abs(x)).

    >>> nn.Softsign()(tt.tensor([-1., 3.]))
    tensor([-0.5000,  0.7500])
    """

    def forward(self, input):
        return F.softsign(input)


class LogSigmoid(Module):
    """log(sigmoid(x)), stable.

    >>> nn.LogSigmoid()(tt.tensor([0.]))
    tensor([-0.6931])
    """

    def forward(self, input):
        return F.logsigmoid(input)


class Tanhshrink(Module):
    """x - tanh(x).

    >>> nn.Tanhshrink()(tt.tensor([0., 1.]))
    tensor([0.0000, 0.2384])
    """

    def forward(self, input):
        return F.tanhshrink(input)


class Softshrink(Module):
    """Shrink toward 0 by lambd (0 inside [-lambd, lambd]). repr: `Softshrink(0.5)`.

    >>> nn.Softshrink(0.5)(tt.tensor([-1., 0.2, 0.7]))
    tensor([-0.5000,  0.0000,  0.2000])
    """

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """0 inside [-lambd, lambd], else x. repr: `Hardshrink(0.5)`.

    >>> nn.Hardshrink(0.5)(tt.tensor([-1., 0.2, 0.7]))
    tensor([-1.0000,  0.0000,  0.7000])
    """

    def forward(self, input):
        return F.hardshrink(input, self.lambd)


class PReLU(Module):
    """x for x > 0, else a * x with a learnable `weight` of num_parameters values (1, or
    one per channel), initialised to `init`.

    Example:
        >>> nn.PReLU(3)
        PReLU(num_parameters=3)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        _init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
