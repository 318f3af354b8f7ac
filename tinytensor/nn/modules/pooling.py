"""Pooling modules: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,
MaxUnpool2d. Each stores its arguments as given (an int stays an int) and calls F; the
fractional pools store tuples, as PyTorch's do."""
from tinytensor.nn import functional as F
from tinytensor._args import _pair, _single, _triple
from tinytensor.nn.modules.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d",
           # issue 11
           "AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d",
           "LPPool1d", "LPPool2d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


class _MaxPoolNd(Module):
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(F, self._fn)(input, self.kernel_size, self.stride, self.padding,
                                    self.dilation, ceil_mode=self.ceil_mode,
                                    return_indices=self.return_indices)

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}, "
                "dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__))


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L) or (C, L) input; stride defaults to kernel_size.

    >>> nn.MaxPool1d(2)(tt.tensor([[[1., 5., 3., 4.]]]))
    tensor([[[5., 4.]]])
    """
    _fn = "max_pool1d"


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W) or (C, H, W) input.

    Shape:
        H_out = (H + 2p - d(k - 1) - 1 [+ s - 1 if ceil_mode]) // s + 1 (see F.max_pool2d).

    Example:
        >>> nn.MaxPool2d(2)
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """
    _fn = "max_pool2d"


class MaxPool3d(_MaxPoolNd):
    """Max over sliding windows of (N, C, D, H, W) or (C, D, H, W) input.

    >>> nn.MaxPool3d(2)(tt.ones(1, 1, 2, 4, 4)).shape
    tinytensor.Size([1, 1, 1, 2, 2])
    """
    _fn = "max_pool3d"


class _AvgPoolNd(Module):
    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, L) input (no divisor_override, as PyTorch).

    >>> nn.AvgPool1d(2)(tt.tensor([[[1., 2., 3., 4.]]]))
    tensor([[[1.5000, 3.5000]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, H, W) or (C, H, W) input.

    The repr shows kernel_size, stride and padding only, as PyTorch's does.

    >>> nn.AvgPool2d(2)(tt.arange(16.).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    _fn = "avg_pool2d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return getattr(F, self._fn)(input, self.kernel_size, self.stride, self.padding,
                                    self.ceil_mode, self.count_include_pad,
                                    self.divisor_override)


class AvgPool3d(AvgPool2d):
    """Mean over sliding windows of (N, C, D, H, W) or (C, D, H, W) input.

    >>> nn.AvgPool3d(2)(tt.ones(1, 1, 2, 4, 4)).shape
    tinytensor.Size([1, 1, 1, 2, 2])
    """
    _fn = "avg_pool3d"


class AdaptiveAvgPool2d(Module):
    """Mean over bins [floor(i*n/o), ceil((i+1)*n/o)) giving an output of `output_size`
    (an int, a pair, or a pair with None keeping that input size).

    >>> nn.AdaptiveAvgPool2d(1)(tt.arange(16.).reshape(1, 1, 4, 4))
    tensor([[[[7.5000]]]])
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max over adaptive bins (see AdaptiveAvgPool2d); return_indices is not in the repr.

    >>> nn.AdaptiveMaxPool2d((1, 2))(tt.arange(16.).reshape(1, 1, 4, 4))
    tensor([[[[13., 15.]]]])
    """

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class MaxUnpool2d(Module):
    """The partial inverse of MaxPool2d: scatters values to their indices, zeros elsewhere.

    forward(input, indices, output_size=None).

    >>> pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    >>> y, i = pool(tt.arange(16.).reshape(1, 1, 4, 4))
    >>> unpool(y, i)
    tensor([[[[ 0.,  0.,  0.,  0.],
              [ 0.,  5.,  0.,  7.],
              [ 0.,  0.,  0.,  0.],
              [ 0., 13.,  0., 15.]]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride if (stride is not None) else kernel_size)
        self.padding = _pair(padding)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


# ---------------------------------------------------------------------------------------------
# issue 11: the 1-D and 3-D adaptive pools and power-average pools as modules


class _AdaptiveAvgPoolNd(Module):
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return getattr(F, self._fn)(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean over adaptive bins of (N, C, L) or (C, L) input to length output_size.

    Example:
        >>> nn.AdaptiveAvgPool1d(3)
        AdaptiveAvgPool1d(output_size=3)
    """
    _fn = "adaptive_avg_pool1d"


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean over adaptive bins of (N, C, D, H, W) or (C, D, H, W) input (None keeps a size).

    >>> nn.AdaptiveAvgPool3d(1)(tt.ones(1, 2, 3, 4, 5)).shape
    tinytensor.Size([1, 2, 1, 1, 1])
    """
    _fn = "adaptive_avg_pool3d"


class _AdaptiveMaxPoolNd(Module):
    _fn = None

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(F, self._fn)(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max over adaptive bins of (N, C, L) or (C, L) input.

    >>> nn.AdaptiveMaxPool1d(2)(tt.tensor([[[1., 5., 3., 4.]]]))
    tensor([[[5., 4.]]])
    """
    _fn = "adaptive_max_pool1d"


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max over adaptive bins of (N, C, D, H, W) or (C, D, H, W) input.

    >>> nn.AdaptiveMaxPool3d(1)(tt.ones(1, 2, 3, 4, 5)).shape
    tinytensor.Size([1, 2, 1, 1, 1])
    """
    _fn = "adaptive_max_pool3d"


class _LPPoolNd(Module):
    _fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(F, self._fn)(input, float(self.norm_type), self.kernel_size,
                                    self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling (sum of x**p per window) ** (1/p) over (N, C, L) or (C, L).

    Example:
        >>> nn.LPPool1d(2, 3)
        LPPool1d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)
    """
    _fn = "lp_pool1d"


class LPPool2d(_LPPoolNd):
    """Power-average pooling over (N, C, H, W) or (C, H, W).

    >>> nn.LPPool2d(2, 2)(tt.ones(1, 1, 2, 2))
    tensor([[[[2.]]]])
    """
    _fn = "lp_pool2d"


class _FractionalMaxPoolNd(Module):
    """PyTorch's FractionalMaxPool2d/3d: sizes stored as tuples, `_random_samples` a buffer
    (None unless given: then each forward draws new samples), no extra_repr."""
    _nsp = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        tup = _pair if self._nsp == 2 else _triple
        if self._nsp == 3 and (
                (isinstance(kernel_size, int) and kernel_size <= 0)
                or (isinstance(kernel_size, (tuple, list)) and not all(k > 0 for k in kernel_size))):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = tup(kernel_size)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = tup(output_size) if output_size is not None else None
        self.output_ratio = tup(output_ratio) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None:
            if not all(0 < self.output_ratio[i] < 1 for i in range(self._nsp)):
                raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        fn = F.fractional_max_pool2d if self._nsp == 2 else F.fractional_max_pool3d
        return fn(input, self.kernel_size, self.output_size, self.output_ratio,
                  self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """2-D fractional max pooling (Graham, arXiv:1412.6071) of (N, C, H, W) or (C, H, W): the
    max over kH x kW windows with pseudo-random steps, to output_size (oH, oW) or to
    int(H * rH), int(W * rW) for output_ratio (rH, rW) in (0, 1); see F.fractional_max_pool2d.
    Exactly one of output_size and output_ratio must be given. Without `_random_samples`, every
    call draws new windows from tinytensor's generator (tt.manual_seed makes them repeatable).

    Example:
        >>> _ = tt.manual_seed(0)
        >>> m = nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))
        >>> m
        FractionalMaxPool2d()
        >>> m(tt.randn(20, 16, 50, 32)).shape
        tinytensor.Size([20, 16, 25, 16])
    """
    _nsp = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """3-D fractional max pooling of (N, C, T, H, W) or (C, T, H, W) over kT x kH x kW windows;
    see FractionalMaxPool2d and F.fractional_max_pool3d. kernel_size must be positive.

    Example:
        >>> m = nn.FractionalMaxPool3d(2, output_size=(2, 3, 3), return_indices=True)
        >>> out, idx = m(tt.randn(1, 4, 5, 6, 6))
        >>> out.shape, idx.dtype
        (tinytensor.Size([1, 4, 2, 3, 3]), tinytensor.int64)
    """
    _nsp = 3
