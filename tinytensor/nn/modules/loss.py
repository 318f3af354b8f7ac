"""Loss modules: CrossEntropyLoss, NLLLoss, MSELoss, and the binary, regression, divergence
and margin losses (BCELoss ... MultiLabelSoftMarginLoss)."""
from tinytensor.nn import functional as F
from tinytensor.nn.functional.loss import _legacy_reduction
from tinytensor.nn.modules.module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss",
           # issue 11
           "BCELoss", "BCEWithLogitsLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
           "SoftMarginLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
           "MultiLabelSoftMarginLoss"]


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """`F.cross_entropy` as a module (weight is a buffer). repr: `CrossEntropyLoss()`.

    >>> nn.CrossEntropyLoss()(tt.tensor([[2., 0.], [0., 2.]]), tt.tensor([0, 1]))
    tensor(0.1269)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """`F.nll_loss` as a module.

    >>> nn.NLLLoss()(tt.tensor([[-0.1, -2.4]]), tt.tensor([0]))
    tensor(0.1000)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """`F.mse_loss` as a module.

    >>> nn.MSELoss()(tt.tensor([1., 2.]), tt.tensor([1., 4.]))
    tensor(2.)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


# ---------------------------------------------------------------------------------------------
# issue 11: binary, regression, divergence and margin losses. Each stores its options and
# calls the functional form; weights are buffers (they follow .to() and state_dict).


class BCELoss(_WeightedLoss):
    """`F.binary_cross_entropy` as a module (probabilities in, logs clamped to >= -100).

    Example:
        >>> nn.BCELoss()(tt.tensor([0.5]), tt.tensor([1.0]))
        tensor(0.6931)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """`F.binary_cross_entropy_with_logits` as a module; weight and pos_weight are buffers.

    >>> nn.BCEWithLogitsLoss()(tt.tensor([0., 0.]), tt.tensor([1., 0.]))
    tensor(0.6931)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class L1Loss(_Loss):
    """`F.l1_loss` as a module (mean absolute error).

    >>> nn.L1Loss()(tt.tensor([1., 2.]), tt.tensor([2., 4.]))
    tensor(1.5000)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """`F.smooth_l1_loss` as a module.

    >>> nn.SmoothL1Loss()(tt.tensor([0., 0.]), tt.tensor([0.5, 3.]))
    tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """`F.huber_loss` as a module.

    >>> nn.HuberLoss(delta=1.)(tt.tensor([0., 0.]), tt.tensor([0.5, 3.]))
    tensor(1.3125)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """`F.kl_div` as a module (input: log-probabilities; use reduction='batchmean').

    >>> nn.KLDivLoss(reduction='batchmean')(tt.tensor([[-0.6931, -0.6931]]), tt.tensor([[0.5, 0.5]]))
    tensor(-4.7207e-05)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class SoftMarginLoss(_Loss):
    """`F.soft_margin_loss` as a module.

    >>> nn.SoftMarginLoss()(tt.tensor([0., 0.]), tt.tensor([1., -1.]))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """`F.hinge_embedding_loss` as a module.

    >>> nn.HingeEmbeddingLoss()(tt.tensor([0.3, 2.]), tt.tensor([1., -1.]))
    tensor(0.1500)
    """

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """`F.cosine_embedding_loss` as a module: forward(input1, input2, target).

    >>> nn.CosineEmbeddingLoss()(tt.tensor([[1., 0.]]), tt.tensor([[0., 1.]]), tt.tensor([1.]))
    tensor(1.)
    """

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(CosineEmbeddingLoss):
    """`F.margin_ranking_loss` as a module: forward(input1, input2, target).

    >>> nn.MarginRankingLoss()(tt.tensor([1., 2.]), tt.tensor([2., 1.]), tt.tensor([1., 1.]))
    tensor(0.5000)
    """

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """`F.multilabel_soft_margin_loss` as a module.

    >>> nn.MultiLabelSoftMarginLoss()(tt.tensor([[0., 0.]]), tt.tensor([[1., 0.]]))
    tensor(0.6931)
    """

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)
