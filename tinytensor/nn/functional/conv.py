"""conv1d, conv2d, conv3d: PyTorch's functional convolutions.

Every argument is normalised and validated here, in PyTorch 2.13's order and with its messages
(SEMANTICS.md section 1), before `ConvNdFunction.apply` runs kernels that trust their inputs.
"""
import warnings

from tinytensor._args import (c_type_name, check_tensor, dtype_name, int64, int_arg, int_list,
                              is_int, scalar_name, type_name)
from tinytensor._functions.conv import ConvNdFunction
from tinytensor._functions.conv_transpose import ConvTransposeNdFunction, transposed_out_size
from tinytensor._tensor import float32, float64
from tinytensor.creation import zeros
from tinytensor.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]

_MAX_PADDING = 2 ** 62 - 1
_ARGS_SIGNATURE = ("(Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
                   "tuple of ints padding = 0, tuple of ints dilation = 1, int groups = 1)\n"
                   " * (Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
                   "str padding = \"valid\", tuple of ints dilation = 1, int groups = 1)")


def _bad_args(name, input, weight, bias, **kw):
    got = [type_name(input), type_name(weight)]
    if bias is not None:
        got.append(type_name(bias))
    got += [f"{k}={type(v).__name__}" for k, v in kw.items()]
    return TypeError(f"{name}() received an invalid combination of arguments - got "
                     f"({', '.join(got)}), but expected one of:\n * {_ARGS_SIGNATURE}")


def _int_list(name, argname, value, nsp, input, weight, bias):
    """An int becomes nsp copies (PyTorch's argument parser); a tuple/list of ints stays."""
    def mismatch(v):
        return _bad_args(name, input, weight, bias, **{argname: v})
    values = int_list(name, argname, None, value, mismatch)
    return values * nsp if is_int(value) else values


def _expand(argname, values, k):
    """PyTorch's expand_param_if_needed: one value broadcasts, else exactly k values."""
    if len(values) == 1:
        return values * k
    if len(values) != k:
        raise RuntimeError(f"expected {argname} to be a single integer value or a list of {k} "
                           f"values to match the convolution dimensions, but got "
                           f"{argname}={list(values)}")
    return list(values)


# Validated geometry, keyed on everything the checks below read: the shapes and dtypes of the
# tensors and the plain-int arguments. Only values go in a key (never memory a caller can
# change, nor a tensor's identity); string padding ('same' may warn) and any argument that is
# not a plain int or tuple of ints take the full path every time.
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


def _conv(name, nsp, input, weight, bias, stride, padding, dilation, groups):
    key = None
    if (isinstance(input, Tensor) and isinstance(weight, Tensor)
            and (bias is None or isinstance(bias, Tensor)) and _plain(stride)
            and _plain(padding) and _plain(dilation) and type(groups) is int):
        key = (name, input._shape, input._dtype, weight._shape, weight._dtype,
               None if bias is None else (bias._shape, bias._dtype),
               stride, padding, dilation, groups)
        hit = _VALIDATED.get(key)
        if hit is not None:
            batched, args = hit
            x = input if batched else input.unsqueeze(0)
            out = ConvNdFunction.apply(x, weight, bias, *args)
            return out if batched else out.squeeze(0)
    return _conv_checked(key, name, nsp, input, weight, bias, stride, padding, dilation, groups)


def _conv_checked(key, name, nsp, input, weight, bias, stride, padding, dilation, groups):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor) or (
            bias is not None and not isinstance(bias, Tensor)):
        raise _bad_args(name, input, weight, bias)
    if not is_int(groups):
        raise _bad_args(name, input, weight, bias, groups=groups)
    groups = int64(groups)
    stride = _int_list(name, "stride", stride, nsp, input, weight, bias)
    dilation = _int_list(name, "dilation", dilation, nsp, input, weight, bias)
    pad_str = None
    if isinstance(padding, str):
        pad_str = padding
    else:
        padding = _int_list(name, "padding", padding, nsp, input, weight, bias)
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({c_type_name(input)}) and bias type "
                           f"({c_type_name(bias)}) should be the same")

    in_shape = tuple(input.shape)
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"Expected {nsp + 1}D (unbatched) or {nsp + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(in_shape)}")
    batched = input.ndim == nsp + 2
    shape = in_shape if batched else (1,) + in_shape   # messages show the batch dim
    if pad_str is not None and pad_str not in ("valid", "same"):
        raise RuntimeError(f"Invalid padding string: '{pad_str}'")
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    w_shape = tuple(weight.shape)
    k = weight.ndim - 2

    if pad_str == "same":
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        if len(stride) not in (1, k):
            raise RuntimeError(f"stride cannot broadcast to {k} dimensions")
        if len(dilation) not in (1, k):
            raise RuntimeError(f"dilation cannot broadcast to {k} dimensions")
        dil = dilation * k if len(dilation) == 1 else dilation
        if len(shape) == k + 2:
            totals = [d * (kk - 1) for d, kk in zip(dil, w_shape[2:])]
            if any(t % 2 for t in totals):
                warnings.warn("Using padding='same' with even kernel lengths and odd dilation may "
                              "require a zero-padded copy of the input be created", UserWarning,
                              stacklevel=3)
            pad_begin = [t // 2 for t in totals]
            pad_end = [t - t // 2 for t in totals]
        else:
            pad_begin = pad_end = [0] * k
    elif pad_str == "valid":
        pad_begin = pad_end = [0] * k
    else:
        pad_begin = pad_end = None

    stride = _expand("stride", stride, k)
    if pad_begin is None:
        pad_begin = pad_end = _expand("padding", padding, k)
    dilation = _expand("dilation", dilation, k)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(p < 0 for p in pad_begin + pad_end):
        raise RuntimeError("negative padding is not supported")
    for i, p in enumerate(pad_end):
        if p > _MAX_PADDING:            # PyTorch's bound; it also keeps kernel sums in int64
            raise RuntimeError(f"Given padding={p} at dimension {i} , expected padding to be at "
                               f"most {_MAX_PADDING}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if any(d == 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {dilation}")
    if len(shape) != k + 2:
        raise RuntimeError(f"Expected {k + 2}-dimensional input for {k + 2}-dimensional weight "
                           f"{list(w_shape)}, but got {len(shape)}-dimensional input of size "
                           f"{list(shape)} instead")
    if w_shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(w_shape)} instead")
    if w_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{list(w_shape)}] instead")
    if shape[1] != w_shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(w_shape)}, expected "
                           f"input{list(shape)} to have {w_shape[1] * groups} channels, but got "
                           f"{shape[1]} channels instead")
    ks = w_shape[2:]
    if any(kk <= 0 for kk in ks):
        if k == 3:
            detail = f": {ks[0]} x {ks[1]} x {ks[2]} (TxHxW)"
        else:
            kh, kw = (1, ks[0]) if k == 1 else ks
            detail = f" kernel_height: {kh} kernel_width: {kw}"
        raise RuntimeError(f"kernel size should be greater than zero, but got{detail}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != w_shape[0]):
        raise RuntimeError(f"Given weight of size {list(w_shape)}, expected bias to be "
                           f"1-dimensional with {w_shape[0]} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    padded = [n + p + q for n, p, q in zip(shape[2:], pad_begin, pad_end)]
    eff = [d * (kk - 1) + 1 for d, kk in zip(dilation, ks)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    if any(n == 0 for n in shape[2:]) and shape[0] != 0 and shape[1] != 0:
        shown = list(shape) if k != 1 else list(shape[:2]) + [1] + list(shape[2:])
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input "
                           f"shape: {shown}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(input)} "
                           f"but found {scalar_name(weight)}")
    if input.dtype not in (float32, float64):
        raise RuntimeError(f"{name}: tinytensor convolutions support float32 and float64 "
                           f"tensors, but got input and weight of type {dtype_name(input)}; "
                           f"convert them with .float() or .double()")

    out_sp = [(p - e) // s + 1 for p, e, s in zip(padded, eff, stride)]
    if shape[1] == 0:
        # PyTorch's quirk (SEMANTICS.md 1.1): zero input channels give zero output channels.
        out = zeros((shape[0], 0) + tuple(out_sp), dtype=input.dtype)
        return out if batched else out.squeeze(0)
    args = (tuple(stride), tuple(pad_begin), tuple(pad_end), tuple(dilation), groups)
    if key is not None:
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.clear()
        _VALIDATED[key] = (batched, args)
    x = input if batched else input.unsqueeze(0)
    out = ConvNdFunction.apply(x, weight, bias, *args)
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) over an input of shape (N, C_in, L) or (C_in, L).

    Args:
        input: (N, C_in, L) or unbatched (C_in, L), float32 or float64.
        weight: (C_out, C_in / groups, kL), the same dtype.
        bias: optional (C_out,).
        stride, padding, dilation: an int or a 1-tuple; padding may be 'valid' or 'same'
            ('same' needs stride 1; an odd total puts the extra zero at the end).
        groups: splits C_in and C_out into this many independent convolutions.

    Shape:
        L_out = (L + 2 * padding - dilation * (kL - 1) - 1) // stride + 1.

    Returns:
        (N, C_out, L_out), or (C_out, L_out) for unbatched input.

    Raises:
        RuntimeError, TypeError: with PyTorch's messages, before any computation.

    Example:
        >>> F.conv1d(tt.tensor([[0., 0, 0, 1, 2, 3, 4, 4, 4, 4]]), tt.tensor([[[-1., 1]]]))
        tensor([[0., 0., 1., 1., 1., 1., 0., 0., 0.]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over an input of shape (N, C_in, H, W) or (C_in, H, W).

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W), float32 or float64, any layout.
        weight: (C_out, C_in / groups, kH, kW), the same dtype.
        bias: optional (C_out,).
        stride, padding, dilation: an int or a tuple of 1 or 2 ints; padding may be 'valid'
            or 'same' ('same' needs stride 1; an odd total puts the extra zero at the end).
        groups: splits C_in and C_out into this many independent convolutions (depthwise when
            groups == C_in).

    Shape:
        H_out = (H + 2 * padding[0] - dilation[0] * (kH - 1) - 1) // stride[0] + 1, W likewise.

    Returns:
        (N, C_out, H_out, W_out), or (C_out, H_out, W_out) for unbatched input.

    Raises:
        RuntimeError, TypeError: with PyTorch's messages, before any computation.

    Example:
        >>> F.conv2d(tt.randn(128, 3, 20, 20), tt.randn(5, 3, 5, 5)).shape
        tinytensor.Size([128, 5, 16, 16])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) over (N, C_in, D, H, W) or (C_in, D, H, W).

    Args:
        input: (N, C_in, D, H, W) or unbatched (C_in, D, H, W), float32 or float64.
        weight: (C_out, C_in / groups, kD, kH, kW), the same dtype.
        bias: optional (C_out,).
        stride, padding, dilation: an int or a tuple of 1 or 3 ints; padding may be 'valid'
            or 'same'.
        groups: splits C_in and C_out into this many independent convolutions.

    Shape:
        D_out = (D + 2 * padding[0] - dilation[0] * (kD - 1) - 1) // stride[0] + 1, H, W likewise.

    Returns:
        (N, C_out, D_out, H_out, W_out), or without N for unbatched input.

    Raises:
        RuntimeError, TypeError: with PyTorch's messages, before any computation.

    Example:
        >>> F.conv3d(tt.randn(4, 8, 16, 32, 32), tt.randn(16, 8, 3, 3, 3), padding=1).shape
        tinytensor.Size([4, 16, 16, 32, 32])
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# ---------------------------------------------------------------- transposed convolutions

_DIM_NAMES = {1: ("height", "width"), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _named(prefix, values, sep):
    """PyTorch's 'stride_height: 1 stride_width: 2' (1-D reads as 2-D with a leading 1)."""
    values = ([1 if prefix != "output_padding" else 0] + list(values)) if len(values) == 1 \
        else list(values)
    names = _DIM_NAMES[len(values)]
    return sep.join(f"{prefix}_{n}: {v}" for n, v in zip(names, values))


def _conv_transpose(name, nsp, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    for pos, argname, v in ((1, "input", input), (2, "weight", weight)):
        check_tensor(name, argname, pos, v)
    if bias is not None:
        check_tensor(name, "bias", 3, bias)
    stride = int_list(name, "stride", 4, stride)
    padding = int_list(name, "padding", 5, padding)
    output_padding = int_list(name, "output_padding", 6, output_padding)
    groups = int_arg(name, "groups", 7, groups)
    dilation = int_list(name, "dilation", 8, dilation)
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({c_type_name(input)}) and bias type "
                           f"({c_type_name(bias)}) should be the same")
    in_shape = tuple(input.shape)
    if input.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"Expected {nsp + 1}D (unbatched) or {nsp + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(in_shape)}")
    batched = input.ndim == nsp + 2
    shape = in_shape if batched else (1,) + in_shape
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    w_shape = tuple(weight.shape)
    k = weight.ndim - 2
    stride = _expand("stride", stride, k)
    padding = _expand("padding", padding, k)
    output_padding = _expand("output_padding", output_padding, k)
    dilation = _expand("dilation", dilation, k)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    for i, p in enumerate(padding):
        if p > _MAX_PADDING:
            raise RuntimeError(f"Given padding={p} at dimension {i} , expected padding to be at "
                               f"most {_MAX_PADDING}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if len(shape) != k + 2:
        raise RuntimeError(f"Expected {k + 2}-dimensional input for {k + 2}-dimensional weight "
                           f"{list(w_shape)}, but got {len(shape)}-dimensional input of size "
                           f"{list(shape)} instead")
    if w_shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(w_shape)} instead")
    if w_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{list(w_shape)}] instead")
    if shape[1] != w_shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(w_shape)}, expected "
                           f"input{list(shape)} to have {w_shape[0]} channels, but got "
                           f"{shape[1]} channels instead")
    c_out = w_shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != c_out):
        raise RuntimeError(f"Given transposed=1, weight of size {list(w_shape)}, expected bias "
                           f"to be 1-dimensional with {c_out} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    if any(n == 0 for n in shape[2:]) and shape[0] != 0 and shape[1] != 0:
        shown = list(shape) if k != 1 else list(shape[:2]) + [1] + list(shape[2:])
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input "
                           f"shape: {shown}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(input)} "
                           f"but found {scalar_name(weight)}")
    ks = w_shape[2:]
    if any(kk <= 0 for kk in ks):
        raise RuntimeError(f"kernel size should be greater than zero, but got "
                           f"{_named('kernel', ks, ' ')}")
    if any(d == 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got "
                           f"{_named('dilation', dilation, ', ')}")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got {_named('output_padding', output_padding, ' ')} "
                           f"{_named('stride', stride, ' ')} {_named('dilation', dilation, ' ')}")
    out_sp = [transposed_out_size(n, kk, s, p, op, d) for n, kk, s, p, op, d in
              zip(shape[2:], ks, stride, padding, output_padding, dilation)]
    if any(o < 1 for o in out_sp):
        sizes = list(shape[2:]) if k != 1 else [1] + list(shape[2:])
        outs = out_sp if k != 1 else [1] + out_sp
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, sizes))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(map(str, outs))}). Output size is too small")
    if input.dtype not in (float32, float64):
        raise RuntimeError(f"{name}: tinytensor convolutions support float32 and float64 "
                           f"tensors, but got input and weight of type {dtype_name(input)}; "
                           f"convert them with .float() or .double()")
    if c_out == 0:
        out = zeros((shape[0], 0) + tuple(out_sp), dtype=input.dtype)
        return out if batched else out.squeeze(0)
    x = input if batched else input.unsqueeze(0)
    out = ConvTransposeNdFunction.apply(x, weight, bias, tuple(stride), tuple(padding),
                                        tuple(output_padding), tuple(dilation), groups)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution ("deconvolution"): the adjoint (input gradient) of conv1d.

    Args:
        input: (N, C_in, L) or unbatched (C_in, L), float32 or float64.
        weight: (C_in, C_out / groups, kL), the same dtype (note: C_in first).
        bias: optional (C_out,).
        stride, padding, output_padding, dilation: an int or a 1-tuple. `padding` trims that
            many positions from each end of the full output; output_padding adds positions at
            the end (it must be smaller than stride or dilation).
        groups: splits C_in and C_out into this many independent convolutions.

    Shape:
        L_out = (L - 1) * stride - 2 * padding + dilation * (kL - 1) + output_padding + 1.

    Raises:
        RuntimeError, TypeError: with PyTorch's messages, before any computation.

    Example:
        >>> F.conv_transpose1d(tt.tensor([[1., 2.]]), tt.tensor([[[1., 10.]]]), stride=2)
        tensor([[ 1., 10.,  2., 20.]])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution: the adjoint (input gradient) of conv2d.

    Args:
        input: (N, C_in, H, W) or unbatched (C_in, H, W), float32 or float64.
        weight: (C_in, C_out / groups, kH, kW), the same dtype.
        bias: optional (C_out,).
        stride, padding, output_padding, dilation: an int or a tuple of 1 or 2 ints.
        groups: splits C_in and C_out into this many independent convolutions.

    Shape:
        H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kH - 1)
        + output_padding[0] + 1, W likewise.

    Raises:
        RuntimeError, TypeError: with PyTorch's messages, before any computation.

    Example:
        >>> F.conv_transpose2d(tt.randn(64, 512, 4, 4), tt.randn(512, 256, 4, 4), stride=2,
        ...                    padding=1).shape
        tinytensor.Size([64, 256, 8, 8])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution over (N, C_in, D, H, W) or (C_in, D, H, W): the adjoint of
    conv3d; weight (C_in, C_out / groups, kD, kH, kW); arguments as conv_transpose2d.

    Example:
        >>> F.conv_transpose3d(tt.randn(1, 4, 2, 2, 2), tt.randn(4, 2, 2, 2, 2), stride=2).shape
        tinytensor.Size([1, 2, 4, 4, 4])
    """
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
