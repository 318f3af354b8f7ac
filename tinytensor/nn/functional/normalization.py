"""batch_norm: PyTorch's F.batch_norm."""
import numpy as np

from tinytensor._functions.batchnorm import BatchNormFunction
from tinytensor.tensor import Tensor

__all__ = ["batch_norm"]


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
        ValueError: training with one value per channel.
        RuntimeError: running statistics missing in eval mode, or of the wrong size.
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
    if training and running_mean is not None and running_var is not None:
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
