"""Conv1d/2d/3d and ConvTranspose1d/2d/3d, with PyTorch's construction checks, padding modes
and repr."""
import math

from tinytensor._args import _pair, _single, _triple
from tinytensor.creation import empty
from tinytensor.nn import functional as F
from tinytensor.nn import init
from tinytensor.nn.modules.module import Module
from tinytensor.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]


def _reverse_repeat_tuple(t, n):
    """(ph, pw) -> (pw, pw, ph, ph): the last dim first, each value n times (F.pad's order)."""
    return tuple(x for x in reversed(t) for _ in range(n))


class _ConvNd(Module):
    _nd = None
    _conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = {"zeros", "reflect", "replicate", "circular"}
        if padding_mode not in valid_padding_modes:
            raise ValueError(f"padding_mode must be one of {valid_padding_modes}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = False
        self.output_padding = (0,) * len(kernel_size)
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            rev = [0, 0] * len(kernel_size)
            if padding == "same":
                for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                    total = d * (k - 1)
                    left = total // 2
                    rev[2 * i] = left
                    rev[2 * i + 1] = total - left
            self._reversed_padding_repeated_twice = rev
        else:
            self._reversed_padding_repeated_twice = _reverse_repeat_tuple(self.padding, 2)
        self.weight = Parameter(empty((out_channels, in_channels // groups, *kernel_size),
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def _conv_forward(self, input, weight, bias):
        conv = getattr(F, self._conv)
        if self.padding_mode != "zeros":
            return conv(F.pad(input, self._reversed_padding_repeated_twice,
                              mode=self.padding_mode),
                        weight, bias, self.stride, _single(0) * self._nd, self.dilation,
                        self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) input.

    Args:
        in_channels, out_channels: channel counts (both divisible by `groups`).
        kernel_size, stride, padding, dilation: an int or a 1-tuple; padding may also be
            'valid' or 'same' (stride 1 only).
        groups: blocked connections from input to output channels.
        bias: learn an additive bias (default True).
        padding_mode: 'zeros' | 'reflect' | 'replicate' | 'circular'.

    Shape:
        L_out = (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1.

    Raises:
        ValueError: bad groups, padding string, padding_mode, or 'same' with stride > 1.

    >>> conv = nn.Conv1d(2, 4, kernel_size=3, padding=1)
    >>> conv(tt.ones(1, 2, 8)).shape
    tinytensor.Size([1, 4, 8])
    """
    _nd, _conv = 1, "conv1d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         padding if isinstance(padding, str) else _single(padding),
                         _single(dilation), groups, bias, padding_mode, dtype)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) input.

    Arguments as Conv1d, with ints or 2-tuples. Weight: (out, in / groups, kH, kW), initialised
    from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * kH * kW; bias likewise.

    Example:
        >>> nn.Conv2d(1, 32, 5)
        Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1))
    """
    _nd, _conv = 2, "conv2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         padding if isinstance(padding, str) else _pair(padding),
                         _pair(dilation), groups, bias, padding_mode, dtype)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) input (ints or 3-tuples).

    >>> conv = nn.Conv3d(1, 2, kernel_size=3)
    >>> conv(tt.ones(1, 1, 4, 5, 6)).shape
    tinytensor.Size([1, 2, 2, 3, 4])
    """
    _nd, _conv = 3, "conv3d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         padding if isinstance(padding, str) else _triple(padding),
                         _triple(dilation), groups, bias, padding_mode, dtype)


class _ConvTransposeNd(_ConvNd):
    """A transposed convolution: weight (in_channels, out_channels / groups, *kernel_size)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{self.__class__.__name__}')
        # _ConvNd's checks and parameters with the channel roles swapped, as PyTorch builds them
        Module.__init__(self)
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = True
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = _reverse_repeat_tuple(self.padding, 2)
        self.weight = Parameter(empty((in_channels, out_channels // groups, *kernel_size),
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _output_padding(self, input, output_size, stride, padding, kernel_size, num_spatial_dims,
                        dilation=None):
        """The output_padding that gives `output_size` (PyTorch's rules and messages)."""
        if output_size is None:
            return _single(self.output_padding)
        has_batch_dim = input.dim() == num_spatial_dims + 2
        num_non_spatial_dims = 2 if has_batch_dim else 1
        if len(output_size) == num_non_spatial_dims + num_spatial_dims:
            output_size = output_size[num_non_spatial_dims:]
        if len(output_size) != num_spatial_dims:
            raise ValueError(f"ConvTranspose{num_spatial_dims}D: for {input.dim()}D input, "
                             f"output_size must have {num_spatial_dims} or "
                             f"{num_non_spatial_dims + num_spatial_dims} elements (got "
                             f"{len(output_size)})")
        min_sizes, max_sizes = [], []
        for d in range(num_spatial_dims):
            dim_size = ((input.size(d + num_non_spatial_dims) - 1) * stride[d] - 2 * padding[d]
                        + (dilation[d] if dilation is not None else 1) * (kernel_size[d] - 1)
                        + 1)
            min_sizes.append(dim_size)
            max_sizes.append(min_sizes[d] + stride[d] - 1)
        for i in range(len(output_size)):
            if output_size[i] < min_sizes[i] or output_size[i] > max_sizes[i]:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{input.size()[2:]})")
        return [output_size[d] - min_sizes[d] for d in range(num_spatial_dims)]

    def forward(self, input, output_size=None):
        """The transposed convolution; `output_size` picks among the sizes a stride allows."""
        if self.padding_mode != "zeros":
            raise ValueError(f"Only `zeros` padding mode is supported for "
                             f"{self.__class__.__name__}")
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, self._nd, self.dilation)
        return getattr(F, self._conv)(input, self.weight, self.bias, self.stride, self.padding,
                                      output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over (N, C_in, L) or (C_in, L): the adjoint of Conv1d.

    Args:
        in_channels, out_channels: channel counts (both divisible by `groups`).
        kernel_size, stride, padding, output_padding, dilation: an int or a 1-tuple.
        groups: blocked connections from input to output channels.
        bias: learn an additive bias (default True).
        padding_mode: only 'zeros'.

    Shape:
        L_out = (L - 1) * stride - 2 * padding + dilation * (kernel_size - 1)
        + output_padding + 1; forward(input, output_size=...) picks output_padding.

    Example:
        >>> nn.ConvTranspose1d(16, 8, 3, stride=2)
        ConvTranspose1d(16, 8, kernel_size=(3,), stride=(2,))
    """
    _nd, _conv = 1, "conv_transpose1d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         _single(padding), _single(dilation), _single(output_padding), groups,
                         bias, padding_mode, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C_in, H, W) or (C_in, H, W): the adjoint of Conv2d.

    Arguments as ConvTranspose1d, with ints or 2-tuples. Weight: (in, out / groups, kH, kW),
    initialised as PyTorch does (fan_in = out / groups * kH * kW).

    Example:
        >>> up = nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1)     # DCGAN: 4x4 -> 8x8
        >>> up(tt.randn(1, 512, 4, 4)).shape
        tinytensor.Size([1, 256, 8, 8])
        >>> up(tt.randn(1, 512, 4, 4), output_size=(9, 9)).shape
        tinytensor.Size([1, 256, 9, 9])
    """
    _nd, _conv = 2, "conv_transpose2d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _pair(padding), _pair(dilation), _pair(output_padding), groups,
                         bias, padding_mode, dtype)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over (N, C_in, D, H, W) or (C_in, D, H, W) (ints or 3-tuples).

    Example:
        >>> nn.ConvTranspose3d(8, 4, 2, stride=2)(tt.randn(1, 8, 2, 3, 4)).shape
        tinytensor.Size([1, 4, 4, 6, 8])
    """
    _nd, _conv = 3, "conv_transpose3d"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         _triple(padding), _triple(dilation), _triple(output_padding), groups,
                         bias, padding_mode, dtype)
