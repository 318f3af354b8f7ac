"""batch_norm, group_norm, layer_norm, instance_norm, local_response_norm: PyTorch's
functional normalisations. group/layer/instance norm run on one fused kernel per direction
(_functions/norm.py over _kernels/norm.pyx)."""
import math

import numpy as np

from tinytensor._args import check_tensor, int_arg, int_list, scalar_name, shape_str
from tinytensor._functions.batchnorm import BatchNormFunction
from tinytensor._functions.norm import GroupNormFunction
from tinytensor.nn.functional.padding import pad
from tinytensor.nn.functional.pooling import avg_pool2d, avg_pool3d
from tinytensor.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm", "instance_norm", "local_response_norm"]


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of `input`, then scale by `weight` and shift by `bias`.

    Args:
        input: ``(N, C, *)`` floating-point tensor.
        running_mean, running_var: (C,) buffers or None. Used in eval mode; updated in place in
            training mode as running = (1 - momentum) * running + momentum * batch_stat, with the
            unbiased batch variance.
        training: use batch statistics (True) or the running ones (False).

    Raises:
        ValueError: training with one value per channel; eps <= 0 in training, < 0 in eval.
        RuntimeError: running statistics missing in eval mode, or of the wrong size.

    >>> x = tt.tensor([[1., 2.], [3., 6.]])
    >>> F.batch_norm(x, tt.zeros(2), tt.ones(2), training=True)
    tensor([[-1.0000, -1.0000],
            [ 1.0000,  1.0000]])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    c = input.shape[1]
    if training:
        size_prods = input.shape[0]
        for s in input.shape[2:]:
            size_prods *= s
        if size_prods == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size torch.Size({list(input.shape)})")
    # PyTorch's checks: a zero or negative eps divides by sqrt(var + eps) <= 0 (NaN, inf)
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    if not input.is_floating_point():
        raise RuntimeError("\"batch_norm\" not implemented for 'Long'")
    mean = invstd = None
    if not training:
        rv = running_var.detach()._numpy().astype(np.float64)
        mean = running_mean.detach()._numpy()
        invstd = 1.0 / np.sqrt(rv + eps)
    stats = {}
    out = BatchNormFunction.apply(input, weight, bias, mean, invstd, bool(training), float(eps),
                                  stats)
    if training and running_mean is not None and running_var is not None and stats:
        m = input.numel() // max(c, 1)
        unbiased = stats['var'] * (m / (m - 1)) if m > 1 else stats['var']
        rm, rv = running_mean.detach()._numpy(), running_var.detach()._numpy()
        rm *= (1.0 - momentum)
        rm += momentum * stats['mean'].astype(rm.dtype)
        rv *= (1.0 - momentum)
        rv += momentum * unbiased.astype(rv.dtype)
        running_mean._bump_version()
        running_var._bump_version()
    return out


# ---------------------------------------------------------------- group, layer, instance norm

_KERNEL_NAMES = {"group_norm": "GroupNormKernelImpl", "layer_norm": "LayerNormKernelImpl",
                 "instance_norm": "batch_norm"}


def _check_float(name, input, *params):
    """PyTorch's dtype messages: integer inputs have no kernel; parameters match the input."""
    if not input.is_floating_point():
        raise NotImplementedError(f"\"{_KERNEL_NAMES[name]}\" not implemented for "
                                  f"'{scalar_name(input)}'")
    for p in params:
        if p is not None and p.dtype != input.dtype:
            raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of "
                               f"{scalar_name(input)}")




def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: the channels of each sample are split into `num_groups` groups,
    each normalised by its own mean and (biased) variance, then scaled and shifted per channel.

    Args:
        input: ``(N, C, *)`` float32 or float64, C divisible by num_groups.
        weight, bias: optional (C,).

    Example:
        >>> y = F.group_norm(tt.randn(16, 256, 28, 28), 32)
        >>> abs(float(y[0, :8].mean())) < 1e-5
        True
    """
    check_tensor("group_norm", "input", 1, input)
    num_groups = int_arg("group_norm", "num_groups", 2, num_groups)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    shape = tuple(input.shape)
    n, c = shape[:2]
    spatial = math.prod(shape[2:])
    # (PyTorch's Python wrapper divides by num_groups first: ZeroDivisionError for 0; the
    # channel check below says what is wrong instead)
    if num_groups > 0 and n * spatial * (c // num_groups) == 1:   # PyTorch's _verify_batch_size
        size = [n * c // num_groups, num_groups] + list(shape[2:])
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {shape_str(shape)} and "
                           f"num_groups={num_groups}")
    for argname, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(f"Expected {argname} to be a vector of size equal to the number "
                               f"of channels in input, but got {argname} of shape "
                               f"{shape_str(t.shape)} and input of shape {shape_str(shape)}")
    _check_float("group_norm", input, weight, bias)
    return GroupNormFunction.apply(input, weight, bias, (n, num_groups, c // num_groups, spatial),
                                   float(eps), None)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the last len(normalized_shape) dims, then an elementwise
    affine transform by weight and bias (each of shape normalized_shape).

    Example:
        >>> y = F.layer_norm(tt.randn(4, 10), (10,))
        >>> abs(float(y[0].mean())) < 1e-6
        True
    """
    check_tensor("layer_norm", "input", 1, input)
    if not isinstance(normalized_shape, (tuple, list)):     # PyTorch: a bare int is refused
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        f"of ints, not {type(normalized_shape).__name__}")
    norm = int_list("layer_norm", "normalized_shape", 2, normalized_shape)
    if not norm:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for argname, t in (("weight", weight), ("bias", bias)):
        if t is not None and list(t.shape) != norm:
            raise RuntimeError(f"Expected {argname} to be of same shape as normalized_shape, but "
                               f"got {argname} of shape {shape_str(t.shape)} and "
                               f"normalized_shape = {shape_str(norm)}")
    shape = tuple(input.shape)
    k = len(norm)
    if input.ndim < k or list(shape[input.ndim - k:]) != norm:
        raise RuntimeError(f"Given normalized_shape={shape_str(norm)}, expected input with shape "
                           f"[*, {', '.join(map(str, norm))}], but got input of size"
                           f"{shape_str(shape)}")
    _check_float("layer_norm", input, weight, bias)
    m = math.prod(norm)
    rows = math.prod(shape[:input.ndim - k])
    return GroupNormFunction.apply(input, weight, bias, (rows, 1, m, 1), float(eps), None)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation: each (sample, channel) plane normalised by its own statistics
    (use_input_stats=True; running statistics, if given, are then updated in place with the
    batch's average), or by running_mean / running_var (use_input_stats=False).

    Example:
        >>> F.instance_norm(tt.randn(2, 3, 8, 8)).shape
        tinytensor.Size([2, 3, 8, 8])
    """
    check_tensor("instance_norm", "input", 1, input)
    shape = tuple(input.shape)
    if use_input_stats and math.prod(shape[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(shape)})")
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    n, c = shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            # PyTorch runs batch_norm on (1, N * C, ...) with the statistics repeated N times
            raise RuntimeError(f"{name} should contain {n * c} elements not {n * t.numel()}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    _check_float("instance_norm", input, weight, bias)
    spatial = math.prod(shape[2:])
    stats = {}
    out = GroupNormFunction.apply(input, weight, bias, (n, c, 1, spatial), float(eps), stats)
    for buf, key in ((running_mean, "mean"), (running_var, "var")):
        if buf is None:
            continue
        batch = stats[key]                        # (N, C) float64
        if key == "var" and spatial > 1:
            batch = batch * (spatial / (spatial - 1))
        a = buf.detach()._numpy()
        a *= (1.0 - momentum)
        a += (momentum * batch.mean(axis=0)).astype(a.dtype)
        buf._bump_version()
    return out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (AlexNet):
    y = x / (k + alpha / size * sum of x^2 over `size` neighbouring channels) ** beta,
    the window zero-padded (size // 2 before, (size - 1) // 2 after), as PyTorch computes it
    (an average pool of x^2 over channels).

    Example:
        >>> F.local_response_norm(tt.ones(1, 4, 2, 2), 2).shape
        tinytensor.Size([1, 4, 2, 2])
    """
    check_tensor("local_response_norm", "input", 1, input)
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input "
                         f"(got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input * input
    if dim == 3:
        div = div.unsqueeze(1)
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = tuple(input.shape)
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = (div * alpha + k) ** beta
    return input / div
