"""Gradient clipping: rescale (`clip_grad_norm_`) or clamp (`clip_grad_value_`) the `.grad`
of parameters in place, as `torch.nn.utils.clip_grad` does."""
import math
import warnings

import numpy as np

from tinytensor.autograd.grad_mode import no_grad
from tinytensor.tensor import Tensor, _wrap, get_default_dtype

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"]


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(a, p):
    """The p-norm of the flat array `a`, in float64 (PyTorch's CPU reductions also
    accumulate float32 in double): p = inf / -inf is max / min |a|, p = 0 counts non-zeros."""
    x = np.abs(a.astype(np.float64, copy=False)).reshape(-1)
    if p == math.inf:
        return float(x.max()) if x.size else 0.0
    if p == -math.inf:
        return float(x.min()) if x.size else math.inf
    if p == 0:
        return float(np.count_nonzero(x))
    if p == 1:
        return float(x.sum())
    if p == 2:
        return float(np.sqrt(np.dot(x, x)))
    return float(np.sum(x ** p) ** (1.0 / p))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of `parameters` together so that their total norm is at most
    `max_norm`; return the total norm (before clipping) as a 0-d tensor.

    The total norm is the `norm_type`-norm of all gradients seen as one vector. Every gradient
    is multiplied by min(1, max_norm / (total_norm + 1e-6)), as PyTorch does (a non-finite
    total norm then makes the gradients NaN unless `error_if_nonfinite`).

    Args:
        parameters: a tensor or an iterable of tensors; those whose `.grad` is None are skipped.
        max_norm (float): the largest allowed total norm.
        norm_type (float or str): p of the p-norm; 'inf' / float('inf') is the largest |g|.
        error_if_nonfinite (bool): raise RuntimeError instead when the total norm is NaN or inf.
        foreach: accepted for compatibility (one code path serves both).

    Returns:
        Tensor: the total norm, with the gradients' dtype (tensor(0.) when no gradient exists).

    Example:
        >>> p = nn.Parameter(tt.zeros(2)); p.grad = tt.tensor([3., 4.])
        >>> clip_grad_norm_([p], max_norm=1.0)
        tensor(5.)
        >>> p.grad
        tensor([0.6000, 0.8000])
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return _wrap(np.zeros((), get_default_dtype().np_dtype))
    for g in grads:                     # an expanded gradient: refused, as by PyTorch's mul_
        g._refuse_overlap()
    per_grad = [_vector_norm(g.detach()._numpy(), norm_type) for g in grads]
    total = _vector_norm(np.array(per_grad), norm_type)
    dtype = grads[0]._dtype.np_dtype
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    total_t = np.asarray(total, dtype)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        coef = np.minimum(max_norm / (total_t + dtype.type(1e-6)), dtype.type(1.0))
    with no_grad(), np.errstate(invalid="ignore"):      # inf * 0 is NaN, as in PyTorch
        for g in grads:
            g._numpy()[...] *= coef.astype(g._dtype.np_dtype)
            g._bump_version()
    return _wrap(np.array(total_t, dtype))


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated spelling of `clip_grad_norm_` (PyTorch's warning).

    >>> import warnings
    >>> p = nn.Parameter(tt.ones(4))
    >>> p.grad = tt.full((4,), 2.)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter('ignore')
    ...     total = nn.utils.clip_grad_norm([p], 1.0)
    ...
    >>> total
    tensor(4.)
    >>> p.grad
    tensor([0.5000, 0.5000, 0.5000, 0.5000])
    """
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of `parameters` into [-clip_value, clip_value], in place.

    Args:
        parameters: a tensor or an iterable of tensors; those whose `.grad` is None are skipped.
        clip_value (float): the bound.
        foreach: accepted for compatibility.

    Example:
        >>> p = nn.Parameter(tt.zeros(2)); p.grad = tt.tensor([3., -4.])
        >>> clip_grad_value_(p, 1.0); p.grad
        tensor([ 1., -1.])
    """
    clip_value = float(clip_value)
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    for g in grads:                     # an expanded gradient: refused, as by PyTorch's clamp_
        g._refuse_overlap()
    for g in grads:
        a = g._numpy()
        np.clip(a, -clip_value, clip_value, out=a)
        g._bump_version()
    return None
