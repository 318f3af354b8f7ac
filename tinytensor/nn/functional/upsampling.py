"""interpolate, upsample, upsample_nearest, upsample_bilinear, pixel_shuffle, pixel_unshuffle:
PyTorch's functional upsampling, with its argument rules, size computations and messages."""
import math
import numbers
import warnings

from tinytensor._args import check_tensor, int_arg, is_int, scalar_name
from tinytensor._functions.upsample import UpsampleFunction, axis_plan

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_MODES = {"nearest": None, "nearest-exact": None, "linear": 3, "bilinear": 4, "trilinear": 5}
_ALL_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_LINEAR_NAMES = {3: "linear", 4: "bilinear", 5: "trilinear"}
_DIM_LETTERS = {1: "W", 2: "HW", 3: "DHW"}


def _sizes_message(in_sp, out_sp):
    letters = _DIM_LETTERS[len(in_sp)]
    i = ", ".join(f"{c}: {n}" for c, n in zip(letters, in_sp))
    o = ", ".join(f"{c}: {n}" for c, n in zip(letters, out_sp))
    joint = " and output" if len(in_sp) == 1 else " output"
    return (f"Input and output sizes should be greater than 0, but got input ({i}){joint} "
            f"({o})")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize ``(N, C, *spatial)`` input to `size`, or by `scale_factor`, with PyTorch's rules.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W), float32 or float64.
        size: the output's spatial size (int or one int per spatial dim).
        scale_factor: multiplier(s) for the spatial size; ``output = floor(input * scale)``.
        mode: 'nearest' (PyTorch's legacy index ``floor(dst * in / out)``), 'nearest-exact'
            (``floor((dst + 0.5) * in / out)``), 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D).
        align_corners: linear modes only: corner pixels' centres aligned (True) or half-pixel
            coordinates (False, the default).
        recompute_scale_factor: with scale_factor, compute the sizes and interpolate as if
            `size` had been given (the coordinates then use in / out, not 1 / scale_factor).

    Returns:
        ``(N, C, *out)``, the input's dtype.

    Example:
        >>> F.interpolate(tt.tensor([[[1., 2.]]]), scale_factor=2, mode="linear")
        tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    check_tensor("interpolate", "input", 1, input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    scale_factors = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    elif size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and output size "
                    f"of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                    "and output size in (o1, o2, ...,oK) format.")
            if not all(is_int(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] "
                                f"or Tuple[int, int, int], but got size with types "
                                f"{[type(x) for x in size]}")
            output_size = [int(x) for x in size]
        else:
            output_size = [size for _ in range(dim)]
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {list(input.shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. Please provide input tensor in (N, "
                    "C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = [float(s) for s in scale_factor]
        else:
            scale_factors = [float(scale_factor) for _ in range(dim)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor:
        output_size = [math.floor(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if antialias:
        raise ValueError("tinytensor: antialias=True is not supported (bilinear/bicubic "
                         "antialiasing is not implemented)")
    if mode not in _MODES or not 3 <= input.dim() <= 5:
        if mode in ("linear", "bilinear", "trilinear") and 3 <= input.dim() <= 5:
            pass
        else:
            raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                      f"(got {input.dim()}D) for the modes: {_ALL_MODES} "
                                      f"(got {mode})")
    need = _MODES[mode]
    if need is not None and input.dim() != need:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {need}D "
                                  f"input")
    in_sp = list(input.shape[2:])
    if output_size is None:
        output_size = [int(n * s) for n, s in zip(in_sp, scale_factors)]   # C++: truncation
    else:
        output_size = [int_arg("interpolate", "size", 2, s) for s in output_size]
    if any(n <= 0 for n in in_sp) or any(o <= 0 for o in output_size):
        raise RuntimeError(_sizes_message(in_sp, output_size))
    if not input.is_floating_point():
        kind = "nearest" if mode in ("nearest", "nearest-exact") else _LINEAR_NAMES[input.dim()]
        exact = "_exact" if mode == "nearest-exact" else ""
        raise NotImplementedError(f"\"upsample_{kind}{exact}{dim}d\" not implemented for "
                                  f"'{scalar_name(input)}'")
    np_dtype = input._numpy().dtype.type
    plans = tuple(axis_plan(mode, n, o, None if scale_factors is None else scale_factors[k],
                            align_corners, np_dtype)
                  for k, (n, o) in enumerate(zip(in_sp, output_size)))
    return UpsampleFunction.apply(input, plans)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch warns the same way).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter('ignore')
    ...     y = F.upsample(tt.tensor([[[1., 2.]]]), scale_factor=2)
    ...
    >>> y
    tensor([[[1., 1., 2., 2.]]])
    """
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest').

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter('ignore')
    ...     y = F.upsample_nearest(tt.tensor([[[1., 2.]]]), scale_factor=2)
    ...
    >>> y
    tensor([[[1., 1., 2., 2.]]])
    """
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True).

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter('ignore')
    ...     y = F.upsample_bilinear(tt.ones(1, 1, 2, 2), scale_factor=2)
    ...
    >>> y.shape
    tinytensor.Size([1, 1, 4, 4])
    """
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input, upscale_factor):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): sub-pixel convolution's rearrangement.

    Example:
        >>> F.pixel_shuffle(tt.arange(8.).reshape(1, 4, 1, 2), 2)
        tensor([[[[0., 2., 1., 3.],
                  [4., 6., 5., 7.]]]])
    """
    check_tensor("pixel_shuffle", "input", 1, input)
    r = int_arg("pixel_shuffle", "upscale_factor", 2, upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    nb = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    perm = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return x.permute(*perm).reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W): the inverse of pixel_shuffle.

    Example:
        >>> F.pixel_unshuffle(tt.zeros(1, 1, 4, 6), 2).shape
        tinytensor.Size([1, 4, 2, 3])
    """
    check_tensor("pixel_unshuffle", "input", 1, input)
    r = int_arg("pixel_unshuffle", "downscale_factor", 2, downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, "
                           f"but input.size(-2)={h} is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={w} is not divisible by {r}")
    nb = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    perm = list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3]
    return x.permute(*perm).reshape(*batch, c * r * r, h // r, w // r)
