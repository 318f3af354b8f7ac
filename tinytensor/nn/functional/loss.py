"""Losses: cross_entropy, nll_loss, mse_loss, with PyTorch 2.13's checks in its order."""
import warnings

import numpy as np

from tinytensor._args import check_tensor, scalar_name
from tinytensor._functions.elementwise import _check_broadcast
from tinytensor._functions.loss import (BCEFunction, BCEWithLogitsFunction, CrossEntropyFunction,
                                        CrossEntropyProbFunction, HingeEmbeddingFunction,
                                        HuberFunction, KLDivFunction, L1Function, MseLossFunction,
                                        NLLLossFunction, SmoothL1Function, SoftMarginFunction)
from tinytensor.autograd import is_grad_enabled
from tinytensor.nn.functional.activation import logsigmoid
from tinytensor.tensor import float32, promote_types

__all__ = ["cross_entropy", "nll_loss", "mse_loss",
           # issue 11
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "l1_loss",
           "smooth_l1_loss", "huber_loss", "kl_div", "cosine_embedding_loss",
           "margin_ranking_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
           "hinge_embedding_loss"]

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

    >>> logp = F.log_softmax(tt.tensor([[1., 2.], [3., 1.]]), dim=1)
    >>> F.nll_loss(logp, tt.tensor([1, 0]))
    tensor(0.2201)
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

    >>> F.mse_loss(tt.tensor([1., 2.]), tt.tensor([1., 4.]))
    tensor(2.)
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


# ---------------------------------------------------------------------------------------------
# Pointwise losses (issue 11): PyTorch's checks in its order, then one Function whose forward
# computes the loss and its derivatives in one pass (tinytensor._functions.loss).


def _broadcast_warning(input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({_size(target.shape)}) that is different to the "
                      f"input size ({_size(input.shape)}). This will likely lead to incorrect "
                      "results due to broadcasting. Please ensure they have the same size.",
                      stacklevel=3)


_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
             "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
_BOOL_SUB2 = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
              "or `logical_xor()` operator instead.")


def _mean_dtype_error(dtype):
    return RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                        f"floating point or complex dtype. Got: {scalar_name(dtype)}")


def _common(input, target, kernel, keep_input_dtype=False):
    """input and target broadcast to one shape and one floating dtype: the promoted one, or
    with `keep_input_dtype` the input's (PyTorch's huber, soft margin and hinge losses write
    into the input's type).

    Raises PyTorch's broadcast RuntimeError; its cast RuntimeError where the promoted type
    cannot be written into the input's; NotImplementedError for a non-float result."""
    _check_broadcast(input, target)
    dt = promote_types(input.dtype, target.dtype)
    if keep_input_dtype:
        if dt.category > input.dtype.category:
            raise RuntimeError(f"result type {scalar_name(dt)} can't be cast to the desired "
                               f"output type {scalar_name(input)}")
        dt = input.dtype
    if not dt.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(dt)}\'')
    input = input if input.dtype is dt else input.to(dt)
    target = target if target.dtype is dt else target.to(dt)
    shape = tuple(np.broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    if tuple(input.shape) != shape:
        input = input.expand(shape)
    if tuple(target.shape) != shape:
        target = target.expand(shape)
    return input, target


def _weight_for(fn, weight, shape):
    """A broadcastable weight tensor as a NumPy array (its gradient is not computed)."""
    if weight is None:
        return None
    check_tensor(fn, "weight", 3, weight)
    try:
        np.broadcast_shapes(tuple(weight.shape), tuple(shape))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({_mismatch(weight.shape, shape)}) must match "
                           "the size of tensor b at a non-singleton dimension: weight of shape "
                           f"{list(weight.shape)} does not broadcast to {list(shape)}") from None
    return weight.detach()._numpy()


def _mismatch(a, b):
    for i in range(1, min(len(a), len(b)) + 1):
        if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
            return a[-i]
    return a[-1] if len(a) else 0


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1]; each log is clamped to
    >= -100, as PyTorch, so a confident wrong prediction costs 100, not inf.

    Args:
        input: probabilities, any shape. target: the same shape (a different shape is an
            error, PyTorch's deprecation). weight: broadcast to the input's shape.
        reduction: 'none' | 'mean' | 'sum'.

    Raises:
        ValueError: target size differs, or a bad reduction. RuntimeError: input outside
        [0, 1], an integer target. NotImplementedError: an integer input.

    Example:
        >>> F.binary_cross_entropy(tt.tensor([0.5]), tt.tensor([1.0]))
        tensor(0.6931)
    """
    check_tensor("binary_cross_entropy", "input", 1, input)
    check_tensor("binary_cross_entropy", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_size(target.shape)}) that is different to the "
                         f"input size ({_size(input.shape)}) is deprecated. Please ensure they "
                         "have the same size.")
    w = _weight_for("binary_cross_entropy", weight, input.shape)
    _check_reduction(reduction)
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {scalar_name(target)} but expected {scalar_name(input)}")
    if not input.is_floating_point():
        raise NotImplementedError('"binary_cross_entropy" not implemented for '
                                  f"'{scalar_name(input)}'")
    x = input.detach()._numpy()
    if x.size and not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    t = target.detach()._numpy()
    if t.size and not ((t >= 0) & (t <= 1)).all():
        raise RuntimeError("all elements of target should be between 0 and 1")
    return BCEFunction.apply(input, target, w, reduction, input.numel())


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target) in one stable formula:
    (1 - t) x + (1 + (pw - 1) t) (log1p(exp(-abs(x))) + max(-x, 0)).

    Args:
        pos_weight: weight of the positive term, broadcast along the last dim (one per class).

    Example:
        >>> F.binary_cross_entropy_with_logits(tt.tensor([100.0]), tt.tensor([0.0]))
        tensor(100.)
    """
    check_tensor("binary_cross_entropy_with_logits", "input", 1, input)
    check_tensor("binary_cross_entropy_with_logits", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_size(target.shape)}) must be the same as input size "
                         f"({_size(input.shape)})")
    _check_reduction(reduction)
    if not input.is_floating_point():
        raise NotImplementedError(f'"log_sigmoid_cpu" not implemented for '
                                  f"'{scalar_name(input)}'")
    if target.dtype.name == "bool":
        raise RuntimeError(_BOOL_SUB2)
    if not target.is_floating_point():
        raise RuntimeError(f"result type {scalar_name(input)} can't be cast to the desired "
                           f"output type {scalar_name(target)}")
    input, target = _common(input, target, "binary_cross_entropy_with_logits")
    pw = None
    if pos_weight is not None:
        check_tensor("binary_cross_entropy_with_logits", "pos_weight", 7, pos_weight)
        _check_broadcast(pos_weight, input)
        pw = pos_weight.detach()._numpy()
    if weight is not None:
        check_tensor("binary_cross_entropy_with_logits", "weight", 3, weight)
        _check_broadcast(input, weight)
    w = _weight_for("binary_cross_entropy_with_logits", weight, input.shape)
    return BCEWithLogitsFunction.apply(input, target, w, reduction, input.numel(), pw)


def _regression(name, fn, input, target, reduction, denom_weight, *params, weight=None,
                kernel=None, keep_input_dtype=False):
    input, target = _common(input, target, kernel or name, keep_input_dtype)
    w = None
    denom = input.numel()
    if weight is not None:
        check_tensor(name, "weight", 6, weight)
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        w = weight.detach()._numpy()
        if denom_weight:
            denom = float(w.sum())
    return fn.apply(input, target, w, reduction, denom, *params)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error abs(input - target) ('sum' and 'none' as usual). With `weight`
    (the input's shape), 'mean' divides by sum(weight), as PyTorch.

    Example:
        >>> F.l1_loss(tt.tensor([1.0, 2.0]), tt.tensor([2.0, 4.0]))
        tensor(1.5000)
    """
    check_tensor("l1_loss", "input", 1, input)
    check_tensor("l1_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _broadcast_warning(input, target)
    _check_reduction(reduction)
    nb = (input.dtype.name == "bool") + (target.dtype.name == "bool")
    if nb:                              # PyTorch computes input - target first
        raise RuntimeError(_BOOL_SUB2 if nb == 2 else _BOOL_SUB)
    dt = promote_types(input.dtype, target.dtype)
    if not dt.is_floating_point and reduction == "mean":
        raise _mean_dtype_error(dt)
    return _regression("l1_loss", L1Function, input, target, reduction, True, weight=weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where abs(d) < beta, else abs(d) - 0.5 beta (d = input - target).

    Raises:
        RuntimeError: beta < 0.

    >>> F.smooth_l1_loss(tt.tensor([0., 0.]), tt.tensor([0.5, 3.]))
    tensor(1.3125)
    """
    check_tensor("smooth_l1_loss", "input", 1, input)
    check_tensor("smooth_l1_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _broadcast_warning(input, target)
    _check_reduction(reduction)
    beta = float(beta)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _regression("smooth_l1_loss", SmoothL1Function, input, target, reduction, False, beta,
                       kernel="smooth_l1_cpu")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where abs(d) < delta, else delta (abs(d) - 0.5 delta).

    Raises:
        RuntimeError: delta <= 0.

    Example:
        >>> F.huber_loss(tt.tensor([0.0]), tt.tensor([3.0]))
        tensor(2.5000)
    """
    check_tensor("huber_loss", "input", 1, input)
    check_tensor("huber_loss", "target", 2, target)
    _broadcast_warning(input, target)
    _check_reduction(reduction)
    delta = float(delta)
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if input.requires_grad and is_grad_enabled() and target.dtype is not input.dtype:
        # PyTorch's huber backward refuses a target of another dtype; it raises in backward,
        # tinytensor before doing the work
        raise RuntimeError(f"Found dtype {scalar_name(target)} but expected "
                           f"{scalar_name(input)}")
    return _regression("huber_loss", HuberFunction, input, target, reduction, False, delta,
                       weight=weight, kernel="huber_cpu", keep_input_dtype=True)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with `input` as log-probabilities: sum of t (log t - input) (or
    exp(t) (t - input) with log_target). 'batchmean' divides the sum by the batch size (the
    KL definition); 'mean' divides by every element, with PyTorch's warning.

    Example:
        >>> F.kl_div(tt.tensor([[0.0, 0.0]]).log_softmax(1), tt.tensor([[0.5, 0.5]]), reduction="batchmean")
        tensor(0.)
    """
    check_tensor("kl_div", "input", 1, input)
    check_tensor("kl_div", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction != "batchmean":
        _check_reduction(reduction)
    if not (input.is_floating_point() and target.is_floating_point()):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    batch = input.shape[0] if input.ndim else 1        # the input's own batch, as PyTorch
    input, target = _common(input, target, "kl_div")
    if reduction == "batchmean":
        denom = batch
        return KLDivFunction.apply(input, target, None, "mean", denom, bool(log_target))
    return KLDivFunction.apply(input, target, None, reduction, input.numel(), bool(log_target))


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) for targets +-1 (two-class logistic loss).

    >>> F.soft_margin_loss(tt.tensor([0., 0.]), tt.tensor([1., -1.]))
    tensor(0.6931)
    """
    check_tensor("soft_margin_loss", "input", 1, input)
    check_tensor("soft_margin_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.requires_grad and is_grad_enabled():
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect "
                           "to argument 'target'. This input cannot have requires_grad True.")
    # PyTorch negates the target when the input needs a gradient, the input otherwise
    negated = target if input.requires_grad and is_grad_enabled() else input
    if input.dtype.name == "bool" or negated.dtype.name == "bool":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")
    if not input.is_floating_point():
        dt = promote_types(float32, target.dtype)       # the type of -target * input
        raise RuntimeError(f"result type {scalar_name(dt)} can't be cast to the desired output "
                           f"type {scalar_name(input)}")
    _check_broadcast(input, target)
    shape = list(np.broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    if shape != list(input.shape):      # PyTorch writes the loss into the input's shape
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {shape}")
    input, target = _common(input, target, "soft_margin_loss", True)
    return SoftMarginFunction.apply(input, target, None, reduction, input.numel())


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target == 1, max(0, margin - input) where target == -1 (input is a
    distance).

    >>> F.hinge_embedding_loss(tt.tensor([0.3, 2.]), tt.tensor([1., -1.]))
    tensor(0.1500)
    """
    check_tensor("hinge_embedding_loss", "input", 1, input)
    check_tensor("hinge_embedding_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.dtype.name == "bool":
        raise RuntimeError(_BOOL_SUB2)
    if not input.is_floating_point():
        raise _mean_dtype_error(input.dtype)
    input, target = _common(input, target.to(input.dtype), "hinge_embedding_loss", True)
    return HingeEmbeddingFunction.apply(input, target, None, reduction, input.numel(),
                                        float(margin))


def _reduce_loss(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin) for targets +-1 (PyTorch's composite, whose
    gradient autograd derives).

    Raises:
        RuntimeError: inputs of different ranks, or shapes that do not broadcast.

    >>> F.margin_ranking_loss(tt.tensor([1., 2.]), tt.tensor([2., 1.]), tt.tensor([1., 1.]))
    tensor(0.5000)
    """
    for i, (n, v) in enumerate((("input1", input1), ("input2", input2), ("target", target))):
        check_tensor("margin_ranking_loss", n, i + 1, v)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {_size(input1.shape)}, input2: "
                           f"{_size(input2.shape)}, target: {_size(target.shape)} ")
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce_loss(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1;
    rows of (N, D) inputs with an (N,) target, or (D,) inputs with a 0-d target. cos uses
    ``sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))``, as PyTorch's composite.

    >>> F.cosine_embedding_loss(tt.tensor([[1., 0.]]), tt.tensor([[0., 1.]]), tt.tensor([1.]))
    tensor(1.)
    """
    for i, (n, v) in enumerate((("input1", input1), ("input2", input2), ("target", target))):
        check_tensor("cosine_embedding_loss", n, i + 1, v)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    td = target.ndim
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1 and not (input1.ndim == 2 and input2.ndim == 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if td == 0 and not (input1.ndim == 1 and input2.ndim == 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    prod = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + 1e-12
    mag2 = (input2 * input2).sum(td) + 1e-12
    cos = prod / (mag1 * mag2).sqrt()
    zeros = cos * 0
    pos = (1 - cos).where(target == 1, zeros)
    neg = (cos - margin).clamp(min=0).where(target == -1, zeros)
    return _reduce_loss(pos + neg, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per sample, the mean over classes (last dim) of
    -(t log sigmoid(x) + (1 - t) log sigmoid(-x)), weighted per class by `weight`.

    >>> F.multilabel_soft_margin_loss(tt.tensor([[0., 0.]]), tt.tensor([[1., 0.]]))
    tensor(0.6931)
    """
    check_tensor("multilabel_soft_margin_loss", "input", 1, input)
    check_tensor("multilabel_soft_margin_loss", "target", 2, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not valid")
    return _reduce_loss(loss, reduction)
