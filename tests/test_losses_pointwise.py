"""The binary, regression, divergence and margin losses (BCE ... MultiLabelSoftMargin) against
float64 references written from the definitions (tests/reference_nn.py): loss and gradients
to input and target in float32 and float64, every reduction, weights, float64 gradcheck,
legacy size_average/reduce, modules, and PyTorch's messages for bad input."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.autograd import gradcheck

import reference_nn as ref
from strategies import shapes

REDUCTIONS = ["none", "mean", "sum"]


def _inputs(name, rng, shape):
    """Inputs in each loss's domain: BCE probabilities away from 0/1, KL targets >= 0,
    hinge/soft margin targets +-1."""
    x = rng.uniform(-3, 3, shape)
    t = rng.uniform(-3, 3, shape)
    if name == "binary_cross_entropy":
        x = rng.uniform(0.02, 0.98, shape)
        t = rng.uniform(0, 1, shape)
    elif name == "binary_cross_entropy_with_logits":
        t = rng.uniform(0, 1, shape)
    elif name == "kl_div":
        t = rng.uniform(0.01, 1, shape)
    elif name in ("soft_margin_loss", "hinge_embedding_loss"):
        t = rng.choice([-1.0, 1.0], shape)
    return x, t


# name -> (extra kwargs for F, matching reference kwargs)
PARAMS = {
    "binary_cross_entropy": ({}, {}),
    "binary_cross_entropy_with_logits": ({}, {}),
    "l1_loss": ({}, {}),
    "smooth_l1_loss": ({"beta": 0.7}, {"beta": 0.7}),
    "huber_loss": ({"delta": 1.3}, {"delta": 1.3}),
    "kl_div": ({}, {}),
    "soft_margin_loss": ({}, {}),
    "hinge_embedding_loss": ({"margin": 0.5}, {"margin": 0.5}),
}


@given(name=st.sampled_from(sorted(PARAMS)), reduction=st.sampled_from(REDUCTIONS),
       dtype=st.sampled_from([np.float32, np.float64]), shape=shapes(1, 3, 1, 4),
       seed=st.integers(0, 2 ** 16))
def test_pointwise_loss_vs_reference(name, reduction, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x, t = _inputs(name, rng, shape)
    x, t = x.astype(dtype), t.astype(dtype)
    kw, rkw = PARAMS[name]
    xt = tt.tensor(x, requires_grad=True)
    tgt = tt.tensor(t, requires_grad=name not in ("hinge_embedding_loss", "soft_margin_loss"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # kl_div's 'mean' warning
        loss = getattr(F, name)(xt, tgt, reduction=reduction, **kw)
    el, edx, edt = ref.pointwise_loss(name, x, t, reduction, **rkw)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)
    assert loss.dtype is xt.dtype
    np.testing.assert_allclose(loss.detach().numpy(), el, **tol)
    g = np.linspace(0.5, 1.5, loss.numel()).reshape(tuple(loss.shape)).astype(dtype)
    loss.backward(tt.tensor(g))
    gs = g if reduction == "none" else float(g)
    np.testing.assert_allclose(xt.grad.numpy(), edx * gs, **tol)
    if tgt.requires_grad:
        np.testing.assert_allclose(tgt.grad.numpy(), edt * gs, **tol)


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_gradcheck(name, reduction):
    rng = np.random.default_rng(7)
    x, t = _inputs(name, rng, (2, 3))
    kw = PARAMS[name][0]
    wrt_t = name not in ("hinge_embedding_loss", "soft_margin_loss")
    xt = tt.tensor(x, requires_grad=True)
    tgt = tt.tensor(t, requires_grad=wrt_t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert gradcheck(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw), (xt, tgt))


def test_bce_weight_and_clamped_logs():
    x = np.array([[0.2, 0.7, 0.5], [0.9, 0.1, 0.4]])
    t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]])
    w = np.array([0.5, 2.0, 1.0])
    xt = tt.tensor(x, requires_grad=True)
    loss = F.binary_cross_entropy(xt, tt.tensor(t), weight=tt.tensor(w))
    el, edx, _ = ref.pointwise_loss("binary_cross_entropy", x, t, "mean", w)
    assert loss.item() == pytest.approx(el, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(xt.grad.numpy(), edx, rtol=1e-12)
    # log(0) is clamped to -100, as PyTorch: a sure wrong answer costs 100
    assert F.binary_cross_entropy(tt.tensor([0.0, 1.0]), tt.tensor([1.0, 0.0])).item() == 100.0
    xe = tt.tensor([0.0, 1.0], requires_grad=True)
    F.binary_cross_entropy(xe, tt.tensor([1.0, 0.0]), reduction="sum").backward()
    assert np.isfinite(xe.grad.numpy()).all()
    assert nn.BCELoss(weight=tt.tensor(w))(xt, tt.tensor(t)).item() == pytest.approx(el)


def test_bce_with_logits_stable_weight_and_pos_weight():
    x = tt.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    t = tt.tensor([0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1000.0, 1000.0, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -0.5], rtol=1e-6)
    rng = np.random.default_rng(3)
    a = rng.uniform(-4, 4, (4, 3))
    b = rng.uniform(0, 1, (4, 3))
    pw = np.array([0.5, 2.0, 3.0])
    w = np.array([[1.0], [0.5], [2.0], [1.5]])
    xt = tt.tensor(a, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(xt, tt.tensor(b), weight=tt.tensor(w),
                                             pos_weight=tt.tensor(pw), reduction="sum")
    per = np.zeros_like(a)
    dx = np.zeros_like(a)
    for i in range(4):
        for j in range(3):
            l, d, _ = ref._bce_logits(a[i, j], b[i, j], pw[j])
            per[i, j], dx[i, j] = w[i, 0] * l, w[i, 0] * d
    assert out.item() == pytest.approx(per.sum(), rel=1e-12)
    out.backward()
    np.testing.assert_allclose(xt.grad.numpy(), dx, rtol=1e-10)
    assert gradcheck(lambda u: F.binary_cross_entropy_with_logits(
        u, tt.tensor(b), pos_weight=tt.tensor(pw)), (tt.tensor(a, requires_grad=True),))
    m = nn.BCEWithLogitsLoss(pos_weight=tt.tensor(pw))
    assert m(tt.tensor(a), tt.tensor(b)).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(tt.tensor(a), tt.tensor(b),
                                           pos_weight=tt.tensor(pw)).item())
    assert "pos_weight" in dict(m.named_buffers())


def test_kl_div_batchmean_log_target_and_warning():
    rng = np.random.default_rng(4)
    x = np.log(rng.dirichlet(np.ones(5), 3))
    t = rng.dirichlet(np.ones(5), 3)
    xt = tt.tensor(x, requires_grad=True)
    loss = F.kl_div(xt, tt.tensor(t), reduction="batchmean")
    el, edx, _ = ref.pointwise_loss("kl_div", x, t, "mean", denom=3)
    assert loss.item() == pytest.approx(el, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(xt.grad.numpy(), edx, rtol=1e-12)
    lt = F.kl_div(tt.tensor(x), tt.tensor(np.log(t)), reduction="batchmean", log_target=True)
    assert lt.item() == pytest.approx(el, rel=1e-10)
    assert F.kl_div(tt.tensor([0.3, -1.0]), tt.tensor([0.0, 0.5]), reduction="sum").item() == \
        pytest.approx(0.5 * math.log(0.5) + 0.5)          # 0 * log 0 counts 0
    with pytest.warns(UserWarning, match="reduction: 'mean' divides the total loss by both"):
        F.kl_div(tt.tensor(x), tt.tensor(t))
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean", log_target=True),
                     (tt.tensor(x, requires_grad=True), tt.tensor(np.log(t), requires_grad=True)))
    assert nn.KLDivLoss(reduction="batchmean")(tt.tensor(x), tt.tensor(t)).item() == \
        pytest.approx(el)


def test_l1_and_huber_weights_and_broadcast_warning():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    t = np.array([[0.0, 0.0], [0.0, 0.0]])
    w = np.array([[1.0, 2.0], [0.5, 0.5]])
    # l1: 'mean' with a weight divides by sum(weight), as PyTorch
    assert F.l1_loss(tt.tensor(x), tt.tensor(t), weight=tt.tensor(w)).item() == \
        pytest.approx((np.abs(x) * w).sum() / w.sum())
    # huber: 'mean' with a weight is the mean of the weighted losses
    el, _, _ = ref.pointwise_loss("huber_loss", x, t, "mean", w)
    assert F.huber_loss(tt.tensor(x), tt.tensor(t), weight=tt.tensor(w)).item() == \
        pytest.approx(el)
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[2\]\)\) that is "
                                         r"different to the input size \(torch.Size\(\[2, 2\]\)\)"):
        out = F.l1_loss(tt.tensor(x), tt.tensor([1.0, 2.0]))
    assert out.item() == pytest.approx(np.abs(x - [1.0, 2.0]).mean())
    # a float64 target promotes a float32 input, as PyTorch
    assert F.l1_loss(tt.ones(2), tt.zeros(2, dtype=tt.float64)).dtype is tt.float64
    assert F.smooth_l1_loss(tt.tensor(x), tt.tensor(t), beta=0.0).item() == \
        pytest.approx(np.abs(x).mean())


def test_legacy_size_average_and_reduce():
    x, t = tt.tensor([0.2, 0.6]), tt.tensor([0.0, 1.0])
    s = F.binary_cross_entropy(x, t, reduction="sum").item()
    assert F.binary_cross_entropy(x, t, size_average=False).item() == pytest.approx(s)
    assert F.l1_loss(x, t, reduce=False).shape == (2,)
    assert nn.L1Loss(size_average=False)(x, t).item() == pytest.approx(0.6)
    assert nn.BCELoss(reduce=False)(x, t).shape == (2,)


def test_cosine_embedding_vs_reference_and_gradcheck():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y = np.array([1, -1, 1, -1])
    for margin in (0.0, 0.3):
        for reduction in REDUCTIONS:
            out = F.cosine_embedding_loss(tt.tensor(a), tt.tensor(b), tt.tensor(y), margin,
                                          reduction=reduction)
            per = ref.cosine_embedding(a, b, y, margin)
            expect = per if reduction == "none" else (per.sum() if reduction == "sum"
                                                      else per.mean())
            np.testing.assert_allclose(out.numpy(), expect, rtol=1e-12)
    assert gradcheck(lambda u, v: F.cosine_embedding_loss(u, v, tt.tensor(y), 0.1),
                     (tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=True)))
    one = F.cosine_embedding_loss(tt.tensor(a[0]), tt.tensor(b[0]), tt.tensor(1))
    assert one.item() == pytest.approx(ref.cosine_embedding(a[:1], b[:1], [1])[0])
    assert nn.CosineEmbeddingLoss(0.3)(tt.tensor(a), tt.tensor(b), tt.tensor(y)).item() == \
        pytest.approx(ref.cosine_embedding(a, b, y, 0.3).mean())
    out32 = F.cosine_embedding_loss(tt.tensor(a.astype(np.float32)),
                                    tt.tensor(b.astype(np.float32)), tt.tensor(y))
    assert out32.dtype is tt.float32


def test_margin_ranking_vs_reference_and_gradcheck():
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    y = rng.choice([-1.0, 1.0], 6)
    out = F.margin_ranking_loss(tt.tensor(a), tt.tensor(b), tt.tensor(y), 0.2, reduction="none")
    np.testing.assert_allclose(out.numpy(), ref.margin_ranking(a, b, y, 0.2), rtol=1e-12)
    assert gradcheck(lambda u, v: F.margin_ranking_loss(u, v, tt.tensor(y), 0.2),
                     (tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=True)))
    assert nn.MarginRankingLoss(0.2)(tt.tensor(a), tt.tensor(b), tt.tensor(y)).item() == \
        pytest.approx(ref.margin_ranking(a, b, y, 0.2).mean())


def test_multilabel_soft_margin_vs_reference_and_gradcheck():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4)) * 3
    t = rng.integers(0, 2, (3, 4)).astype(np.float64)
    w = rng.uniform(0.5, 2, 4)
    for weight in (None, w):
        for reduction in REDUCTIONS:
            out = F.multilabel_soft_margin_loss(tt.tensor(x), tt.tensor(t),
                                                None if weight is None else tt.tensor(weight),
                                                reduction=reduction)
            per = ref.multilabel_soft_margin(x, t, weight)
            expect = per if reduction == "none" else (per.sum() if reduction == "sum"
                                                      else per.mean())
            np.testing.assert_allclose(out.numpy(), expect, rtol=1e-12)
    assert gradcheck(lambda u: F.multilabel_soft_margin_loss(u, tt.tensor(t), tt.tensor(w)),
                     (tt.tensor(x, requires_grad=True),))
    assert nn.MultiLabelSoftMarginLoss(weight=tt.tensor(w))(tt.tensor(x), tt.tensor(t)).item() \
        == pytest.approx(ref.multilabel_soft_margin(x, t, w).mean())


def test_module_reprs_and_options():
    assert [repr(m) for m in (nn.BCELoss(), nn.BCEWithLogitsLoss(), nn.L1Loss(), nn.SmoothL1Loss(),
                              nn.HuberLoss(), nn.KLDivLoss(), nn.CosineEmbeddingLoss(),
                              nn.MarginRankingLoss(), nn.MultiLabelSoftMarginLoss(),
                              nn.SoftMarginLoss(), nn.HingeEmbeddingLoss())] == [
        "BCELoss()", "BCEWithLogitsLoss()", "L1Loss()", "SmoothL1Loss()", "HuberLoss()",
        "KLDivLoss()", "CosineEmbeddingLoss()", "MarginRankingLoss()",
        "MultiLabelSoftMarginLoss()", "SoftMarginLoss()", "HingeEmbeddingLoss()"]
    assert nn.SmoothL1Loss(beta=0.5).beta == 0.5 and nn.HuberLoss(delta=2.0).delta == 2.0
    assert nn.KLDivLoss(log_target=True).log_target is True
    assert nn.HingeEmbeddingLoss().margin == 1.0 and nn.CosineEmbeddingLoss().margin == 0.0
    x, t = tt.tensor([0.5, -1.0]), tt.tensor([1.0, -1.0])
    assert nn.SoftMarginLoss()(x, t).item() == pytest.approx(F.soft_margin_loss(x, t).item())
    assert nn.HingeEmbeddingLoss(0.5)(x, t).item() == pytest.approx(
        F.hinge_embedding_loss(x, t, 0.5).item())
    assert nn.SmoothL1Loss(beta=0.5)(x, t).item() == pytest.approx(
        F.smooth_l1_loss(x, t, beta=0.5).item())
    assert nn.HuberLoss(delta=0.5)(x, t).item() == pytest.approx(
        F.huber_loss(x, t, delta=0.5).item())


def test_empty_inputs():
    e = tt.zeros(0, 3)
    assert math.isnan(F.l1_loss(e, e).item())
    assert F.binary_cross_entropy(e, e, reduction="sum").item() == 0
    assert F.huber_loss(e, e, reduction="none").shape == (0, 3)


BAD = [
    (lambda: F.binary_cross_entropy(tt.rand(2, 3), tt.rand(3)), ValueError,
     r"Using a target size \(torch.Size\(\[3\]\)\) that is different to the input size "
     r"\(torch.Size\(\[2, 3\]\)\) is deprecated. Please ensure they have the same size."),
    (lambda: F.binary_cross_entropy(tt.rand(2) + 1, tt.rand(2)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.binary_cross_entropy(tt.tensor([float("nan")]), tt.ones(1)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda: F.binary_cross_entropy(tt.tensor([1]), tt.tensor([1])), NotImplementedError,
     "\"binary_cross_entropy\" not implemented for 'Long'"),
    (lambda: F.binary_cross_entropy(tt.rand(2), tt.ones(2, dtype=tt.int64)), RuntimeError,
     "Found dtype Long but expected Float"),
    (lambda: F.binary_cross_entropy(tt.rand(2), tt.rand(2), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda: F.binary_cross_entropy_with_logits(tt.rand(2, 3), tt.rand(3)), ValueError,
     r"Target size \(torch.Size\(\[3\]\)\) must be the same as input size \(torch.Size\(\[2, 3\]\)\)"),
    (lambda: F.binary_cross_entropy_with_logits(tt.rand(2, 3), tt.rand(2, 3),
                                                pos_weight=tt.ones(4)), RuntimeError,
     r"The size of tensor a \(4\) must match the size of tensor b \(3\) at non-singleton dimension 1"),
    (lambda: F.binary_cross_entropy_with_logits(tt.tensor([1]), tt.tensor([1])),
     NotImplementedError, "\"log_sigmoid_cpu\" not implemented for 'Long'"),
    (lambda: F.l1_loss(tt.rand(2, 3), tt.rand(4)), RuntimeError,
     r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton dimension 1"),
    (lambda: F.l1_loss(tt.rand(2), tt.rand(2), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda: F.l1_loss(tt.rand(2), tt.rand(2), weight=tt.ones(3)), ValueError,
     "Weights and input must have the same size."),
    (lambda: F.smooth_l1_loss(tt.rand(2), tt.rand(2), beta=-1), RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda: F.huber_loss(tt.rand(2), tt.rand(2), delta=0), RuntimeError,
     "huber_loss does not support non-positive values for delta."),
    (lambda: F.kl_div(tt.rand(2), tt.rand(2), reduction="foo"), ValueError,
     "foo is not a valid value for reduction"),
    (lambda: F.cosine_embedding_loss(tt.rand(2, 3, 4), tt.rand(2, 3, 4), tt.tensor([1, -1])),
     RuntimeError, r"1D target tensor expects 2D input tensors, but found inputs with sizes "
                   r"\[2, 3, 4\] and \[2, 3, 4\]."),
    (lambda: F.cosine_embedding_loss(tt.rand(2, 3), tt.rand(2, 3), tt.ones(2, 1)), RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    (lambda: F.cosine_embedding_loss(tt.rand(2, 3), tt.rand(2, 3), tt.tensor(1)), RuntimeError,
     "0D target tensor expects 1D input tensors"),
    (lambda: F.margin_ranking_loss(tt.rand(3), tt.rand(3, 1), tt.ones(3)), RuntimeError,
     r"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
     r"input1: torch.Size\(\[3\]\), input2: torch.Size\(\[3, 1\]\), target: torch.Size\(\[3\]\)"),
    (lambda: F.multilabel_soft_margin_loss(tt.rand(2, 3), tt.rand(2, 3), reduction="foo"),
     ValueError, "foo is not valid"),
    (lambda: F.soft_margin_loss(tt.rand(2), tt.rand(2, requires_grad=True)), RuntimeError,
     "The function 'soft_margin_loss' is not differentiable with respect to argument 'target'"),
    (lambda: F.soft_margin_loss([1.0], tt.rand(2)), TypeError,
     r"soft_margin_loss\(\): argument 'input' \(position 1\) must be Tensor, not list"),
]


@pytest.mark.parametrize("call,exc,pattern", BAD)
def test_bad_input_messages(call, exc, pattern):
    with pytest.raises(exc, match=pattern), warnings.catch_warnings():
        warnings.simplefilter("ignore")            # the broadcast warning comes first
        call()
