"""Losses: cross_entropy, nll_loss, mse_loss, with PyTorch 2.13's checks in its order."""
import warnings

import numpy as np

from tinytensor._args import check_tensor, scalar_name
from tinytensor._functions.loss import (CrossEntropyFunction, CrossEntropyProbFunction,
                                        MseLossFunction, NLLLossFunction)

__all__ = ["cross_entropy", "nll_loss", "mse_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce flags mapped onto `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _weight_array(weight, n_classes, prefix=""):
    if weight is None:
        return None
    check_tensor("cross_entropy", "weight", 3, weight)
    if weight.ndim != 1 or weight.numel() != n_classes:
        raise RuntimeError(f"{prefix}weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    return weight.detach()._numpy()


def _guard(*tensors):
    """The tensors whose memory a loss Function reads in backward (target, weight): it saves
    them, so that an in-place change after forward makes backward refuse."""
    return tuple(t for t in tensors if t is not None)


def _index_target(input, target, weight, ignore_index):
    """PyTorch's nll_loss_nd checks; returns (target rows (R,) int64, weight array, out_shape)."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim != 1:
        tb = target.shape[0] if target.ndim else 0
        if input.shape[0] != tb:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({tb}).")
    n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if not (input.ndim == 1 and target.ndim == 0) and input.shape[0] != target.shape[0]:
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)}, target: "
                               f"{list(target.shape)})")
        out_shape = tuple(target.shape) if input.ndim == 2 else ()
    elif input.ndim == 4:
        if target.ndim != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {target.ndim}")
        if (input.shape[0], input.shape[2], input.shape[3]) != tuple(target.shape):
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                               f"{list(target.shape)}")
        out_shape = tuple(target.shape)
    else:
        out_shape = (input.shape[0],) + tuple(input.shape[2:])
        if tuple(target.shape) != out_shape:
            raise RuntimeError(f"Expected target size {list(out_shape)}, got "
                               f"{list(target.shape)}")
    w = _weight_array(weight, n_classes)
    if target._dtype.name != "int64":
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{scalar_name(target)}")
    t = target.detach()._numpy().reshape(-1)
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[np.argmax(bad)])} is out of bounds.")
    return np.ascontiguousarray(t, dtype=np.int64), w, out_shape


def _check_float_input(input, kernel):
    if not input.is_floating_point():
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_name(input)}'")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits and targets: nll_loss(log_softmax(input, 1), target).

    Args:
        input: logits (N, C), (C,) or (N, C, d1, ...).
        target: class indices (N,), () or (N, d1, ...) as int64; or class probabilities with
            the input's shape (floating point).
        weight: per-class weights (C,).
        ignore_index: targets with this value count 0 and leave the mean's denominator.
        reduction: 'none' | 'mean' | 'sum'. 'mean' divides by the sum of the targets' weights.
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) * onehot + eps / C.

    Returns:
        the loss: a scalar, or the target's shape for reduction='none'.

    Raises:
        ValueError, RuntimeError, IndexError, NotImplementedError with PyTorch's messages.

    Example:
        >>> F.cross_entropy(tt.tensor([[1000., 0.]]), tt.tensor([1]))
        tensor(1000.)
    """
    check_tensor("cross_entropy", "input", 1, input)
    check_tensor("cross_entropy", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    label_smoothing = float(label_smoothing)
    if tuple(input.shape) == tuple(target.shape):
        if not target.is_floating_point():
            raise RuntimeError("Expected floating point type for target with class "
                               f"probabilities, got {scalar_name(target)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing:g}")
        _check_float_input(input, "log_softmax_lastdim_kernel_impl")
        if input.ndim < 1:
            raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
        n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
        w = _weight_array(weight, n_classes, "cross_entropy: ")
        if target._dtype is not input._dtype:
            target = target.to(input._dtype)
        out_shape = (input.shape[0],) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
        return CrossEntropyProbFunction.apply(input, target, w, reduction,
                                              max(label_smoothing, 0.0), out_shape,
                                              _guard(weight))
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")
    _check_float_input(input, "log_softmax_lastdim_kernel_impl")
    t, w, out_shape = _index_target(input, target, weight, ignore_index)
    return CrossEntropyFunction.apply(input, t, w, ignore_index, reduction,
                                      max(label_smoothing, 0.0), out_shape,
                                      _guard(target, weight))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood: -input[i, target[i]] (weighted), for log-probability inputs.

    Shapes, `ignore_index` and `reduction` as in `cross_entropy` with class-index targets.
    """
    check_tensor("nll_loss", "input", 1, input)
    check_tensor("nll_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    t, w, out_shape = _index_target(input, target, weight, ignore_index)
    if not input.is_floating_point():
        raise NotImplementedError("\"nll_loss_out_frame\" not implemented for "
                                  f"'{scalar_name(input)}'")
    return NLLLossFunction.apply(input, t, w, ignore_index, reduction, out_shape,
                                 _guard(target, weight))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: mean((input - target) ** 2) ('sum' and 'none' as usual).

    A target whose shape differs from the input's broadcasts, with PyTorch's warning.
    """
    check_tensor("mse_loss", "input", 1, input)
    check_tensor("mse_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_size(target.shape)}) that is different to the "
                      f"input size ({_size(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=2)
    _check_reduction(reduction)
    if (weight is None and input.dtype is target.dtype and input.is_floating_point()
            and len(target.shape) <= len(input.shape)
            and _broadcasts_to(tuple(target.shape), tuple(input.shape))):
        return MseLossFunction.apply(input, target, reduction)       # one MseLossBackward0 node
    diff = input - target
    sq = diff * diff
    if weight is not None:
        sq = sq * weight
    if reduction == "none":
        return sq
    return sq.sum() if reduction == "sum" else sq.mean()


def _broadcasts_to(small, big):
    """True when `small` broadcasts to exactly `big` (the fused path's output shape)."""
    return all(s == b or s == 1 for s, b in zip(small[::-1], big[::-1]))


def _size(shape):
    return f"torch.Size({list(shape)})"
