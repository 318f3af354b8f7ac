"""Pooling: max, average, adaptive pools and max_unpool2d, as `torch.nn.functional`.

Every argument is normalised and validated here, in PyTorch 2.13's order and with its messages,
before any allocation or kernel: the kernels in `tinytensor._kernels.pool` run with bounds
checks off and trust what they are given.
"""
import numpy as np

from tinytensor._args import (_pair, _triple, check_tensor, dim_index_error, expand, int64,
                             int_list, is_int, shape_str)
from tinytensor._functions.fractional_pool import FractionalMaxPoolFunction
from tinytensor._functions.pool import (AdaptiveAvgPoolFunction, AdaptiveMaxPoolFunction,
                                        AvgPoolNdFunction, MaxPoolNdFunction, MaxUnpoolFunction,
                                        pool_out_size)
from tinytensor._functions.pool3d import (AdaptiveAvgPool3dFunction, AdaptiveMaxPool3dFunction,
                                          LPRootFunction)
from tinytensor.autograd import is_grad_enabled
from tinytensor.creation import rand
from tinytensor.tensor import Tensor

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "max_unpool2d",
           # issue 11
           "adaptive_avg_pool3d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d",
           "fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]

_NUM = {2: "two", 3: "three"}


def _check_tensor(name, input):
    check_tensor(name, "input", 1, input)


def _check_dtype(kernel, input, allow_int64=True):
    """The kernel's dtype check, which PyTorch runs after every argument check."""
    dt = input.dtype.name
    if dt == "bool" or (dt == "int64" and not allow_int64):
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{'Bool' if dt == 'bool' else 'Long'}'")


# Validated pooling arguments, keyed on the input's shape and dtype and the plain-int
# arguments: values only, never memory a caller can change (see nn/functional/conv.py).
_VALIDATED = {}
_VALIDATED_MAX = 256


def _plain(v):
    if type(v) is int:
        return True
    if type(v) is not tuple:
        return False
    for x in v:                 # (a loop: all() over a list costs twice as much)
        if type(x) is not int:
            return False
    return True


def _remember(key, args):
    if len(_VALIDATED) >= _VALIDATED_MAX:
        _VALIDATED.clear()
    _VALIDATED[key] = args


def _ints(value, name, argname, pos):
    """An int or a sequence of ints as a list (PyTorch's IntArrayRef parsing)."""
    return int_list(name, argname, pos, value)


def _half(v):
    """C++ integer division by 2 (truncates toward zero)."""
    return int(v / 2) if v >= 0 else -((-v) // 2)


def _pool_args(name, nsp, kernel_size, stride, padding, dilation):
    """Parse kernel/stride/padding/dilation of a 2-D or 3-D pool (sizes checked, values not).

    As PyTorch: the argument types are parsed first (TypeError), then the list lengths."""
    num = _NUM[nsp]
    k = _ints(kernel_size, name, "kernel_size", 2)
    s = [] if stride is None else _ints(stride, name, "stride", 3)
    p = _ints(padding, name, "padding", 4)
    d = _ints(dilation, name, "dilation", 5)
    if len(k) not in (1, nsp):
        raise RuntimeError(f"{name}: kernel_size must either be a single int, or a tuple of "
                           f"{num} ints")
    if len(s) not in (0, 1, nsp):
        raise RuntimeError(f"{name}: stride must either be omitted, a single int, or a tuple "
                           f"of {num} ints")
    if len(p) not in (1, nsp):
        raise RuntimeError(f"{name}: padding must either be a single int, or a tuple of "
                           f"{num} ints")
    if len(d) not in (1, nsp):
        raise RuntimeError(f"{name}: dilation must be either a single int, or a tuple of "
                           f"{num} ints")
    _fit_int(k, s, p, d)
    k = expand(k, nsp)
    s = k if not s else expand(s, nsp)
    return k, s, expand(p, nsp), expand(d, nsp)


def _fit_int(*lists):
    """PyTorch's 2-D/3-D pools narrow their arguments to C int (safe_downcast)."""
    for vals in lists:
        for v in vals:
            if not -2**31 <= v < 2**31:
                raise RuntimeError("value cannot be converted to type int without overflow")


def _out_sizes(sizes, k, s, p, d, ceil_mode):
    """pooling_output_shape per dim, with its three checks, in PyTorch's order."""
    out = []
    for n, kk, ss, pp, dd in zip(sizes, k, s, p, d):
        if ss == 0:
            raise RuntimeError("stride should not be zero")
        if pp < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {pp}")
        if pp > _half((kk - 1) * dd + 1):
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
        out.append(pool_out_size(n, kk, ss, pp, dd, ceil_mode))
    return out


def _check2d(input, k, s, p, d, ceil_mode):
    """Output (OH, OW) of a 2-D pool on a 3-D or 4-D input (pool2d_shape_check)."""
    shape = tuple(input.shape)
    oh, ow = _out_sizes(shape[-2:], k, s, p, d, ceil_mode)
    kh, kw = k
    if kh <= 0 or kw <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if s[0] <= 0 or s[1] <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {d[0]} "
                           f"dilationW: {d[1]}")
    ndim = len(shape)
    ok = ndim in (3, 4) and shape[1] != 0 and shape[2] != 0 and (
        (ndim == 3 and shape[0] != 0) or (ndim == 4 and shape[3] != 0))
    if not ok:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{shape_str(shape)}")
    if _half(kw) < p[1] or _half(kh) < p[0]:
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {p[1]}, padH = {p[0]}, kW = {kw}, kH = {kh}")
    if oh < 1 or ow < 1:
        c = shape[-3]
        raise RuntimeError(f"Given input size: ({c}x{shape[-2]}x{shape[-1]}). Calculated output "
                           f"size: ({c}x{oh}x{ow}). Output size is too small")
    return oh, ow


def _check3d(input, k, s, p, d, ceil_mode, fn_name, check_input_size):
    """pool3d_shape_check on a 4-D or 5-D input."""
    shape = tuple(input.shape)
    ot, oh, ow = _out_sizes(shape[-3:], k, s, p, d, ceil_mode)
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kT: {k[0]} "
                           f"kH: {k[1]} kW: {k[2]}")
    if min(s) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dT: {s[0]} dH: {s[1]} "
                           f"dW: {s[2]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationT: {d[0]} "
                           f"dilationH: {d[1]} dilationW: {d[2]}")
    ndim = len(shape)
    for i in range(ndim):
        if ndim == 5 and i == 0:
            continue
        if shape[i] <= 0:
            # PyTorch prints the size (0), not the position, of the empty dimension
            raise RuntimeError(f"{fn_name}: Expected input's non-batch dimensions to have positive "
                               f"length, but input has a shape of {shape_str(shape)} and "
                               f"non-batch dimension {shape[i]} has length zero!")
    it, ih, iw = shape[-3:]
    if check_input_size and (it < k[0] or ih < k[1] or iw < k[2]):
        raise RuntimeError(f"input image (T: {it} H: {ih} W: {iw}) smaller than kernel size "
                           f"(kT: {k[0]} kH: {k[1]} kW: {k[2]})")
    if _half(k[0]) < p[0] or _half(k[2]) < p[2] or _half(k[1]) < p[1]:
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"kT: {k[0]} kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} "
                           f"padH: {p[1]}")
    if ot < 1 or oh < 1 or ow < 1:
        c = shape[-4]
        raise RuntimeError(f"Given input size: ({c}x{it}x{ih}x{iw}). Calculated output size: "
                           f"({c}x{ot}x{oh}x{ow}). Output size is too small")
    return ot, oh, ow


def _one_int(name, value, argname, allow_empty=False):
    vals = [] if value is None else _ints(value, name, argname, 2)
    if allow_empty and not vals:
        return None
    if len(vals) != 1:
        raise RuntimeError(f"{name}() argument '{argname}' should contain one int "
                           f"(got {len(vals)})")
    return vals[0]


def _check_dim_range(name, input, lo, hi):
    if not lo <= input.ndim <= hi:
        raise RuntimeError(f"Expected {lo} to {hi} dimensions, but got {input.ndim}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for {name})")


# ---------------------------------------------------------------------------------------------
# max pooling


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L), as `torch.nn.functional.max_pool1d`.

    Shape: L_out = floor((L + 2p - d(k-1) - 1 [+ s-1 if ceil_mode]) / s) + 1, then the
    ceil_mode drop rule (a last window starting in the right padding is dropped).
    Returns the output, or (output, indices) with int64 flat positions in L.

    >>> F.max_pool1d(tt.tensor([[[1., 5., 3., 4.]]]), 2)
    tensor([[[5., 4.]]])
    """
    _check_tensor("max_pool1d", input)
    if return_indices:
        # PyTorch's max_pool1d_with_indices: the 2-D path with kH = 1, padH = 0
        _check_dim_range("max_pool1d", input, 2, 3)
        k = _one_int("max_pool1d", kernel_size, "kernel_size")
        s = _one_int("max_pool1d", stride, "stride", allow_empty=True)
        s = k if s is None else s
        p = _one_int("max_pool1d", padding, "padding")
        d = _one_int("max_pool1d", dilation, "dilation")
        _fit_int([k, s, p, d])
        x2 = input.unsqueeze(-2)
        _check2d(x2, [1, k], [1, s], [0, p], [1, d], ceil_mode)
        _check_dtype("max_pool2d", input)
        return MaxPoolNdFunction.apply(input, (1, 1, k), (1, 1, s), (0, 0, p), (1, 1, d),
                                       bool(ceil_mode), True, 1)
    shape = tuple(input.shape)
    nd = len(shape)
    k = _ints(kernel_size, "max_pool1d", "kernel_size", 2)
    s = [] if stride is None else _ints(stride, "max_pool1d", "stride", 3)
    p = _ints(padding, "max_pool1d", "padding", 4)
    d = _ints(dilation, "max_pool1d", "dilation", 5)
    if not ((nd == 2 and shape[0] != 0 and shape[1] != 0)
            or (nd == 3 and shape[1] != 0 and shape[2] != 0)):
        raise RuntimeError("max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                           f"batch size for input, but got:{shape_str(shape)}")
    if len(k) != 1:
        raise RuntimeError("max_pool1d() kernel_size must be an int, list of ints or tuple of "
                           f"ints of size 1 but got size {len(k)}")
    if len(s) not in (0, 1):
        raise RuntimeError("max_pool1d() stride must be None, an int, list of ints, or tuple of "
                           f"ints of size 1 but got size {len(s)}")
    if len(p) != 1:
        raise RuntimeError("max_pool1d() padding must be an int, list of ints, or tuple of ints "
                           f"of size 1 but got size {len(p)}")
    if len(d) != 1:
        raise RuntimeError("max_pool1d() dilation must be an int, list of ints, or tuple of ints "
                           f"of size 1 but got size {len(d)}")
    k, p, d = k[0], p[0], d[0]
    s = s[0] if s else k
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > _half(k):
        raise RuntimeError("max_pool1d() padding should be at most half of kernel size, but got "
                           f"padding={p} and kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    o = _out_sizes([shape[-1]], [k], [s], [p], [d], ceil_mode)[0]
    if o <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {o}")
    if input.requires_grad and is_grad_enabled():
        _fit_int([k, s, p, d])           # PyTorch then takes the with-indices (int) path
    _check_dtype("max_pool1d_impl", input, allow_int64=False)
    return MaxPoolNdFunction.apply(input, (1, 1, k), (1, 1, s), (0, 0, p), (1, 1, d),
                                   bool(ceil_mode), False, 1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W), as `torch.nn.functional.max_pool2d`.

    Args:
        kernel_size, stride (default: kernel_size; `[]` too), padding (<= kernel // 2),
        dilation: an int or a pair. ceil_mode: ceil instead of floor in the output size.
        return_indices: also return int64 flat positions h*W + w of the maxima.

    Shape: H_out = floor((H + 2p - d(k-1) - 1 [+ s-1]) / s) + 1 (same for W), then the
    ceil_mode drop rule.
    Raises: RuntimeError with PyTorch's messages for bad sizes, ranks and limits.
    Example: max_pool2d(x of 32x24x24, 3) has shape 32x8x8.

    >>> F.max_pool2d(tt.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    key = None
    if (isinstance(input, Tensor) and _plain(kernel_size) and (stride is None or _plain(stride))
            and _plain(padding) and _plain(dilation) and type(ceil_mode) is bool
            and type(return_indices) is bool):
        key = ("max_pool2d", input._shape, input._dtype, kernel_size, stride, padding, dilation,
               ceil_mode, return_indices)
        args = _VALIDATED.get(key)
        if args is not None:
            return MaxPoolNdFunction.apply(input, *args)
    _check_tensor("max_pool2d", input)
    k, s, p, d = _pool_args("max_pool2d", 2, kernel_size, stride, padding, dilation)
    if input.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    _check2d(input, k, s, p, d, ceil_mode)
    _check_dtype("max_pool2d", input)
    args = ((1, *k), (1, *s), (0, *p), (1, *d), bool(ceil_mode), bool(return_indices), 2)
    if key is not None:
        _remember(key, args)
    return MaxPoolNdFunction.apply(input, *args)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over (N, C, D, H, W) or (C, D, H, W), as `torch.nn.functional.max_pool3d`.

    Indices are flat positions (d*H + h)*W + w. See max_pool2d for the rules.

    >>> F.max_pool3d(tt.ones(1, 1, 2, 4, 4), 2).shape
    tinytensor.Size([1, 1, 1, 2, 2])
    """
    _check_tensor("max_pool3d", input)
    k, s, p, d = _pool_args("max_pool3d", 3, kernel_size, stride, padding, dilation)
    if input.ndim not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    _check3d(input, k, s, p, d, ceil_mode, "max_pool3d_with_indices_out_cpu_template()", False)
    _check_dtype("max_pool3d", input)
    return MaxPoolNdFunction.apply(input, tuple(k), tuple(s), tuple(p), tuple(d),
                                   bool(ceil_mode), bool(return_indices), 3)


# ---------------------------------------------------------------------------------------------
# average pooling


def _divisor(divisor_override):
    if divisor_override is None:
        return None
    if not is_int(divisor_override):
        raise TypeError("avg_pool2d(): argument 'divisor_override' must be int, not "
                        f"{type(divisor_override).__name__}")
    divisor_override = int64(divisor_override)
    if divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    return divisor_override


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling over (N, C, L) or (C, L), as `torch.nn.functional.avg_pool1d`.

    No divisor_override (as PyTorch). Divisor: the window clipped to the padded extent
    (count_include_pad) or to the input; integers truncate toward zero.

    >>> F.avg_pool1d(tt.tensor([[[1., 2., 3., 4.]]]), 2)
    tensor([[[1.5000, 3.5000]]])
    """
    _check_tensor("avg_pool1d", input)
    _check_dim_range("avg_pool1d", input, 2, 3)
    k = _one_int("avg_pool1d", kernel_size, "kernel_size")
    s = _one_int("avg_pool1d", stride, "stride", allow_empty=True)
    s = k if s is None else s
    p = _one_int("avg_pool1d", padding, "padding")
    _fit_int([k, s, p])
    _check2d(input.unsqueeze(-2), [1, k], [1, s], [0, p], [1, 1], ceil_mode)
    _check_dtype("avg_pool2d", input)
    return AvgPoolNdFunction.apply(input, (1, 1, k), (1, 1, s), (0, 0, p), bool(ceil_mode),
                                   bool(count_include_pad), None, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over (N, C, H, W) or (C, H, W), as `torch.nn.functional.avg_pool2d`.

    Args: kernel_size, stride (default kernel_size), padding (<= kernel // 2): int or pair;
    ceil_mode; count_include_pad; divisor_override (non-zero int, negative allowed).
    Shape: as max_pool2d with dilation 1.
    Example: avg_pool2d(ones(1, 1, 4, 4), 2, divisor_override=2) is all 2.

    >>> F.avg_pool2d(tt.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """
    _check_tensor("avg_pool2d", input)
    k, s, p, _ = _pool_args("avg_pool2d", 2, kernel_size, stride, padding, 1)
    dov = _divisor(divisor_override)
    if input.ndim < 3:
        raise dim_index_error(input.ndim, -3)
    _check2d(input, k, s, p, [1, 1], ceil_mode)
    _check_dtype("avg_pool2d", input)
    return AvgPoolNdFunction.apply(input, (1, *k), (1, *s), (0, *p), bool(ceil_mode),
                                   bool(count_include_pad), dov, 2)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling over (N, C, D, H, W) or (C, D, H, W), as PyTorch's avg_pool3d.

    >>> F.avg_pool3d(tt.ones(1, 1, 2, 4, 4), 2).shape
    tinytensor.Size([1, 1, 1, 2, 2])
    """
    _check_tensor("avg_pool3d", input)
    k, s, p, _ = _pool_args("avg_pool3d", 3, kernel_size, stride, padding, 1)
    if input.ndim not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    dov = _divisor(divisor_override)
    _check3d(input, k, s, p, [1, 1, 1], ceil_mode, "avg_pool3d()", True)
    _check_dtype("avg_pool3d_out_frame", input)
    return AvgPoolNdFunction.apply(input, tuple(k), tuple(s), tuple(p), bool(ceil_mode),
                                   bool(count_include_pad), dov, 3)


# ---------------------------------------------------------------------------------------------
# adaptive pooling


def _nonzero_dims(name, shape, dims):
    for i in dims:
        if shape[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {shape_str(shape)} with "
                               f"dimension {i} being empty")


def _adaptive2d(kind, input, sizes, shown):
    """PyTorch's adaptive_{kind}_pool2d checks, in its order, on the (possibly unsqueezed)
    input; `shown` is the shape its messages print."""
    name = f"adaptive_{kind}_pool2d"
    shape = tuple(input.shape)
    nd = len(shape)
    if kind == "avg":
        if any(v < 0 for v in sizes):
            raise RuntimeError(f"{name}: elements of output_size must be greater than or equal "
                               f"to 0 but received {{{', '.join(str(v) for v in sizes)}}}")
        if sizes == [1, 1]:
            # PyTorch's shortcut: input.mean((-1, -2), keepdim=True), with mean's own checks
            if input.dtype.name in ("bool", "int64"):
                raise RuntimeError("mean(): could not infer output dtype. Input dtype must be "
                                   "either a floating point or complex dtype. Got: "
                                   f"{'Bool' if input.dtype.name == 'bool' else 'Long'}")
            if nd < 2:
                raise dim_index_error(nd, -2)
            return
        if nd not in (3, 4):
            raise RuntimeError(f"{name}(): Expected 3D or 4D tensor, but got {shape_str(shape)}")
        _nonzero_dims(name, shape, range(nd - 2, nd))
    else:
        if nd not in (3, 4):
            raise RuntimeError(f"{name}(): Expected 3D or 4D tensor, but got: "
                               f"{shape_str(shape)}")
        _nonzero_dims(name, shape, range(1, nd))
        if len(sizes) != 2:
            raise RuntimeError(f"{name}(): internal error: output_size.size() must be 2")
        neg = [v for v in sizes if v < 0]
        if neg:
            out = list(shown[:-2]) + list(sizes)
            raise RuntimeError(f"Trying to create tensor with negative dimension {neg[0]}: "
                               f"{shape_str(out)}")
    dt = input.dtype.name
    out_numel = int(np.prod(shown[:-2], dtype=np.int64)) * sizes[0] * sizes[1]
    # avg: PyTorch skips the (float-only) kernel, and so its dtype check, on empty tensors
    if dt in ("bool", "int64") and (kind == "max" or (input.numel() > 0 and out_numel > 0)):
        raise NotImplementedError(f'"{name}" not implemented for '
                                  f"'{'Bool' if dt == 'bool' else 'Long'}'")


def _adaptive_2d_entry(kind, input, output_size):
    name = f"adaptive_{kind}_pool2d"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    shape = tuple(input.shape)
    if is_int(output_size):
        sizes = [int(output_size)] * 2
    else:
        sizes = list(output_size)
        # torch.nn.functional's _list_with_default, before the op's own checks
        if len(shape) <= len(sizes):
            raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
        sizes = [shape[len(shape) - len(sizes) + i] if v is None else int(v)
                 for i, v in enumerate(sizes)]
        if len(sizes) != 2 and kind == "avg":
            raise RuntimeError(f"{name}: output_size must be 2")
    _adaptive2d(kind, input, sizes, shape)
    return sizes


def _adaptive_1d_entry(kind, input, output_size):
    name = f"adaptive_{kind}_pool1d"
    check_tensor(name, "input", 1, input)
    _check_dim_range(name, input, 2, 3)
    o = _one_int(name, output_size, "output_size")
    shape = tuple(input.shape)
    if kind == "max":
        _nonzero_dims(name, shape, range(1, len(shape)))
    # then PyTorch runs the 2-D op on the input with a unit height
    shown = shape[:-1] + (1, shape[-1])
    _adaptive2d(kind, input.unsqueeze(-2), [1, o], shown)
    return o


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling of (N, C, L) or (C, L) to length output_size.

    Bin i covers [floor(i*L/o), ceil((i+1)*L/o)).

    >>> F.adaptive_avg_pool1d(tt.tensor([[[1., 2., 3., 4.]]]), 2)
    tensor([[[1.5000, 3.5000]]])
    """
    o = _adaptive_1d_entry("avg", input, output_size)
    return AdaptiveAvgPoolFunction.apply(input, (1, o), 1)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling of (N, C, H, W) or (C, H, W) to output_size (int, pair, None).

    Bin i along a dim of n with o outputs covers [floor(i*n/o), ceil((i+1)*n/o)).

    >>> F.adaptive_avg_pool2d(tt.arange(16.).reshape(1, 1, 4, 4), 1)
    tensor([[[[7.5000]]]])
    """
    sizes = _adaptive_2d_entry("avg", input, output_size)
    return AdaptiveAvgPoolFunction.apply(input, tuple(sizes), 2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, L) or (C, L); indices are flat positions in L.

    >>> F.adaptive_max_pool1d(tt.tensor([[[1., 5., 3., 4.]]]), 2)
    tensor([[[5., 4.]]])
    """
    o = _adaptive_1d_entry("max", input, output_size)
    out, idx = AdaptiveMaxPoolFunction.apply(input, (1, o), 1)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, H, W) or (C, H, W); indices are flat h*W + w.

    Ties go to the first maximum, NaN to the last NaN, as max_pool2d.

    >>> F.adaptive_max_pool2d(tt.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    sizes = _adaptive_2d_entry("max", input, output_size)
    out, idx = AdaptiveMaxPoolFunction.apply(input, tuple(sizes), 2)
    return (out, idx) if return_indices else out


# ---------------------------------------------------------------------------------------------
# unpooling


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: values placed at their flat `indices` in a zero (H_out, W_out) plane.

    Shape: H_out = (H - 1)*stride - 2*padding + kernel (default), or output_size ((H, W) or
    (N, C, H, W)), each within (default - stride, default + stride).
    Raises: ValueError for a bad output_size, RuntimeError for a bad index dtype, shape or range
    (the range is checked by the kernel as it reads each index, in forward and backward).

    >>> x = tt.arange(16.).reshape(1, 1, 4, 4)
    >>> y, i = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(y, i, 2)
    tensor([[[[ 0.,  0.,  0.,  0.],
              [ 0.,  5.,  0.,  7.],
              [ 0.,  0.,  0.,  0.],
              [ 0., 13.,  0., 15.]]]])
    """
    _check_tensor("max_unpool2d", input)
    k = expand(_ints(kernel_size, "max_unpool2d", "kernel_size", 3), 2)
    s = k if stride is None else expand(_ints(stride, "max_unpool2d", "stride", 4), 2)
    p = expand(_ints(padding, "max_unpool2d", "padding", 5), 2)
    shape = tuple(input.shape)
    if input.ndim not in (3, 4):
        raise RuntimeError("Input to max_unpooling2d should be a 3d or 4d Tensor, but got a "
                           f"tensor with {input.ndim} dimensions.")
    default = [(shape[-2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(2)]
    if output_size is None:
        out_hw = default
    else:
        out = [int(v) for v in output_size]
        if len(out) == 4:
            out = out[2:]
        if len(out) != 2:
            raise ValueError("output_size should be a sequence containing 2 or 4 elements, but "
                             f"it has a length of '{len(out)}'")
        for i in range(2):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < out[i] < hi:
                raise ValueError(f'invalid output_size "({out[0]}, {out[1]})" (dim {i} must be '
                                 f"between {lo} and {hi})")
        out_hw = out
    if not isinstance(indices, Tensor):
        raise TypeError("max_unpool2d(): argument 'indices' (position 2) must be Tensor, not "
                        f"{type(indices).__name__}")
    if indices.dtype.name != "int64":
        names = {"float32": "Float", "float64": "Double", "bool": "Bool"}
        raise RuntimeError("elements in indices should be type int64 but got: "
                           f"{names.get(indices.dtype.name, indices.dtype.name)}")
    if tuple(indices.shape) != shape:
        raise RuntimeError("Expected shape of indices to be same as that of the input tensor "
                           f"({shape_str(shape)}) but got indices tensor with shape: "
                           f"{shape_str(indices.shape)}")
    for d in range(1, input.ndim):
        if shape[d] == 0:
            raise RuntimeError("max_unpooling2d_forward_out_cpu(): Expected input to have non-zero "
                               f"size for non-batch dimensions, but got {shape_str(shape)} with "
                               f"dimension {d} being empty.")
    # the indices' range is checked by the kernel, where it reads them (they are user memory)
    return MaxUnpoolFunction.apply(input, indices, tuple(out_hw), 2)


# ---------------------------------------------------------------------------------------------
# 3-D adaptive pooling and power-average pooling (issue 11)


def _adaptive_3d_sizes(name, input, output_size):
    """output_size as three ints: an int is repeated; None in a sequence keeps that input size
    (torch.nn.functional's _list_with_default)."""
    check_tensor(name, "input", 1, input)
    if is_int(output_size):
        return [int64(output_size)] * 3
    sizes = list(output_size)
    shape = tuple(input.shape)
    if len(shape) <= len(sizes):
        raise ValueError(f"Input dimension should be at least {len(sizes) + 1}")
    return [shape[len(shape) - len(sizes) + i] if v is None else int(v)
            for i, v in enumerate(sizes)]


def _float_pool(kernel, input):
    dt = input.dtype.name
    if dt in ("bool", "int64"):
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{'Bool' if dt == 'bool' else 'Long'}'")


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling of (N, C, D, H, W) or (C, D, H, W) to output_size (an int or a
    triple; None keeps that input size). Bin i of o over n covers [floor(i*n/o), ceil((i+1)*n/o)).

    Example:
        >>> F.adaptive_avg_pool3d(tt.ones(1, 2, 4, 4, 4), 1).shape
        tinytensor.Size([1, 2, 1, 1, 1])
    """
    name = "adaptive_avg_pool3d"
    sizes = _adaptive_3d_sizes(name, input, output_size)
    if len(sizes) != 3:
        raise RuntimeError(f"{name}: output_size must be 3")
    shape = tuple(input.shape)
    if sizes == [1, 1, 1]:
        # PyTorch's shortcut: input.mean((-1, -2, -3), keepdim=True), with mean's own checks
        if input.dtype.name in ("bool", "int64"):
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be "
                               "either a floating point or complex dtype. Got: "
                               f"{'Bool' if input.dtype.name == 'bool' else 'Long'}")
        if input.ndim < 3:
            raise dim_index_error(input.ndim, -3)
        return input.mean((-3, -2, -1), keepdim=True)
    if any(v < 0 for v in sizes):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{sizes[0]}, {sizes[1]},{sizes[2]}}}")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}(): Expected 4D or 5D tensor, but got {shape_str(shape)}")
    _nonzero_dims(name, shape, range(1, input.ndim))
    _float_pool("adaptive_avg_pool3d_cpu", input)
    return AdaptiveAvgPool3dFunction.apply(input, tuple(sizes))


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling of (N, C, D, H, W) or (C, D, H, W); indices are flat positions
    (d*H + h)*W + w. Ties go to the first maximum, NaN to the last NaN, as max_pool3d.

    Example:
        >>> out, idx = F.adaptive_max_pool3d(tt.randn(1, 1, 2, 2, 2), 1, return_indices=True)
    """
    name = "adaptive_max_pool3d"
    sizes = _adaptive_3d_sizes(name, input, output_size)
    shape = tuple(input.shape)
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{name}(): Expected 4D or 5D tensor, but got: {shape_str(shape)}")
    _nonzero_dims(name, shape, range(1, input.ndim))
    if len(sizes) != 3:
        raise RuntimeError(f"{name}(): internal error: output_size.size() must be 3")
    neg = [v for v in sizes if v < 0]
    if neg:
        raise RuntimeError(f"Trying to create tensor with negative dimension {neg[0]}: "
                           f"{shape_str(list(shape[:-3]) + sizes)}")
    _float_pool("adaptive_max_pool3d_cpu", input)
    out, idx = AdaptiveMaxPool3dFunction.apply(input, tuple(sizes))
    return (out, idx) if return_indices else out


def _lp_root(out, norm_type, k):
    if norm_type == 0:
        raise ZeroDivisionError("float division by zero")
    return LPRootFunction.apply(out, float(k), float(norm_type))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: (sum over each window of x**p) ** (1/p) over (N, C, L) or (C, L).

    norm_type=inf is max pooling of abs(x); p=1 is sum pooling. The gradient is 0 for a window
    whose sum of powers is 0 (PyTorch's rule).

    Example:
        >>> F.lp_pool1d(tt.tensor([[[3.0, 4.0]]]), 2, 2)
        tensor([[[5.]]])
    """
    check_tensor("lp_pool1d", "input", 1, input)
    if norm_type == float("inf"):
        return max_pool1d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool1d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool1d(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return _lp_root(out, norm_type, kernel_size)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, H, W) or (C, H, W): (sum of x**p per window) ** (1/p).

    Example:
        >>> F.lp_pool2d(tt.ones(1, 1, 2, 2), 2, 2)
        tensor([[[[2.]]]])
    """
    check_tensor("lp_pool2d", "input", 1, input)
    kw, kh = _pair(kernel_size)
    if norm_type == float("inf"):
        return max_pool2d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -max_pool2d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = avg_pool2d(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return _lp_root(out, norm_type, kw * kh)


# ---------------------------------------------------------------------------------------------
# fractional max pooling (issue 11)


def _fractional(nsp, input, kernel_size, output_size, output_ratio, _random_samples):
    """(values, indices) of a fractional max pool, every check in PyTorch 2.13's order: the
    Python wrapper's (sizes from output_ratio, default samples), then the C++ op's."""
    name = f"fractional_max_pool{nsp}d"
    cpp = name if nsp == 2 else name + "_out"         # the 3-D op's messages say so
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    check_tensor(name, "input", 1, input)
    shape = tuple(input.shape)
    ndim = len(shape)
    if output_size is None:
        ratio = output_ratio
        # PyTorch 2.13's 2-D wrapper takes len() of the ratio, so a plain number raises its
        # TypeError ("object of type 'float' has no len()") although the docs allow one; the
        # module passes a pair. Mirrored, as the 3-D wrapper's acceptance of a number is.
        if nsp == 2 and len(ratio) > 2:
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a single "
                             "Int or tuple of Ints.")
        ratio = (_pair if nsp == 2 else _triple)(ratio)
        if len(ratio) < nsp:
            raise IndexError("tuple index out of range")
        if ndim < nsp:
            raise dim_index_error(ndim, -nsp)
        output_size = [int(shape[ndim - nsp + i] * ratio[i]) for i in range(nsp)]
    if _random_samples is None:
        if ndim == 0:
            raise dim_index_error(0, 0)
        if ndim < nsp + 1:
            raise dim_index_error(ndim, -(nsp + 1))
        if input.dtype.name in ("int64", "bool"):
            raise NotImplementedError('"check_uniform_bounds" not implemented for '
                                      f"'{'Bool' if input.dtype.name == 'bool' else 'Long'}'")
        n_batch = 1 if ndim == nsp + 1 else shape[0]
        # tinytensor's own generator (tt.manual_seed), where PyTorch's draws torch.rand
        _random_samples = rand(n_batch, shape[ndim - nsp - 1], nsp, dtype=input.dtype)
    # the C++ op: arguments parsed in order, then its shape checks
    k = _ints(kernel_size, name, "kernel_size", 2)
    if is_int(kernel_size):
        k = k * nsp
    out = _ints(output_size, name, "output_size", 3)
    if is_int(output_size):
        out = out * nsp
    check_tensor(name, "random_samples", 4, _random_samples)
    ints = "Ints" if nsp == 2 else "three Ints"
    if len(k) != nsp:
        raise RuntimeError(f"{name}: kernel_size must either be a single Int or tuple of {ints}")
    if len(out) != nsp:
        raise RuntimeError(f"{name}: output_size must either be a single Int or tuple of {ints}")
    if ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{cpp}(): Expected {nsp + 1}D or {nsp + 2}D tensor, but got: "
                           f"{shape_str(shape)}")
    for i in range(1, ndim):
        if shape[i] <= 0:
            raise RuntimeError(f"{cpp}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{shape_str(shape)} with dimension {i} being "
                               "empty.")
    axes = ("time", "height", "width")[3 - nsp:]
    sp = shape[ndim - nsp:]
    for o, kk, n, axis in zip(out, k, sp, axes):
        # PyTorch's 3-D check is strict (o + k - 1 < n): one window position fewer than 2-D
        if o + kk - 1 > n or (nsp == 3 and o + kk - 1 == n):
            raise RuntimeError(f"{cpp}(): pool {axis} {kk} too large relative to input {axis} "
                               f"{n}")
    lead = shape[:ndim - nsp]
    for o in out:
        if o < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {o}: "
                               f"{shape_str(list(lead) + out)}")
    samples = _random_samples
    if samples.dtype != input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    n_batch = 1 if ndim == nsp + 1 else shape[0]
    if samples.shape[0] < n_batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != lead[-1]:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != nsp:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nsp}; got "
                           f"{samples.shape[2]}.")
    _float_pool(f"{name}_out_frame", input)
    # one (t, h, w) row per plane n * C + c; PyTorch's 2-D samples are (w, h) pairs
    s = np.asarray(samples._numpy()[:n_batch]).reshape(-1, nsp)
    rows = np.zeros((s.shape[0], 3), s.dtype)
    if nsp == 2:
        rows[:, 1], rows[:, 2] = s[:, 1], s[:, 0]
    else:
        rows[:] = s
    kernel = (1, 1, 1)[:3 - nsp] + tuple(k)
    sizes = (1, 1, 1)[:3 - nsp] + tuple(out)
    return FractionalMaxPoolFunction.apply(input, rows, kernel, sizes, nsp, name)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool2d that always returns (output, indices), as
    `torch.nn.functional.fractional_max_pool2d_with_indices`.

    Example:
        >>> out, idx = F.fractional_max_pool2d_with_indices(
        ...     tt.arange(25.).reshape(1, 1, 5, 5), 2, output_size=2,
        ...     _random_samples=tt.full((1, 1, 2), 0.5))
        >>> out
        tensor([[[[ 6.,  9.],
                  [21., 24.]]]])
        >>> idx
        tensor([[[[ 6,  9],
                  [21, 24]]]])
    """
    return _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """2-D fractional max pooling (Graham, arXiv:1412.6071) of (N, C, H, W) or (C, H, W), as
    `torch.nn.functional.fractional_max_pool2d`: the max over kH x kW windows whose starts
    step pseudo-randomly so that the output has the requested size.

    Args:
        kernel_size: k or (kH, kW).
        output_size: (oH, oW) or one int for both; needs oH + kH - 1 <= H (same for W).
        output_ratio: instead of output_size, a pair (rH, rW): oH = int(H * rH). (As in
            PyTorch 2.13, the functional form takes len() of it: a plain number raises
            TypeError; nn.FractionalMaxPool2d accepts one.)
        return_indices: also return int64 flat positions h * W + w of the maxima.
        _random_samples: (N, C, 2) (at least N rows, 1 for unbatched input) of the input's
            dtype, one (u_w, u_h) pair per plane, usually in [0, 1); drawn with tt.rand (so
            tt.manual_seed makes it reproducible) when None.

    Shape: along an axis of n with kernel k and o outputs, alpha = (n - k) / (o - 1) and
    window i < o - 1 starts at int((i + u) * alpha) - int(u * alpha), computed in the input's
    dtype; the last window starts at n - k.

    Raises: ValueError without output_size or output_ratio; RuntimeError with PyTorch's messages
    for bad ranks, sizes and samples.

    Example:
        >>> x = tt.arange(25.).reshape(1, 1, 5, 5)
        >>> F.fractional_max_pool2d(x, 2, output_size=2, _random_samples=tt.full((1, 1, 2), 0.5))
        tensor([[[[ 6.,  9.],
                  [21., 24.]]]])
    """
    out, idx = _fractional(2, input, kernel_size, output_size, output_ratio, _random_samples)
    return (out, idx) if return_indices else out


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool3d that always returns (output, indices), as
    `torch.nn.functional.fractional_max_pool3d_with_indices`.

    Example:
        >>> out, idx = F.fractional_max_pool3d_with_indices(
        ...     tt.arange(27.).reshape(1, 1, 3, 3, 3), 2, output_size=1,
        ...     _random_samples=tt.full((1, 1, 3), 0.5))
        >>> out, idx
        (tensor([[[[[26.]]]]]), tensor([[[[[26]]]]]))
    """
    return _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """3-D fractional max pooling of (N, C, T, H, W) or (C, T, H, W), as
    `torch.nn.functional.fractional_max_pool3d`: fractional_max_pool2d's windows along three
    axes; _random_samples is (N, C, 3) with one (u_t, u_h, u_w) row per plane, and indices are
    flat positions (t * H + h) * W + w.

    Example:
        >>> _ = tt.manual_seed(0)
        >>> F.fractional_max_pool3d(tt.randn(2, 3, 8, 8, 8), 3, output_ratio=0.5).shape
        tinytensor.Size([2, 3, 4, 4, 4])
    """
    out, idx = _fractional(3, input, kernel_size, output_size, output_ratio, _random_samples)
    return (out, idx) if return_indices else out
