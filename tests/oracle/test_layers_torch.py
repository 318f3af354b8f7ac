"""PyTorch 2.13 as the oracle for the activations, dropout variants, losses and pools of
issue 11: reprs, outputs and gradients (input, target, PReLU weight) in float32 and float64,
warnings, and the error type and text of bad calls."""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import tinytensor as tt  # noqa: E402
import tinytensor.nn as nn  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

CONSTRUCTORS = [
    "ReLU6()", "ReLU6(True)", "ELU()", "ELU(0.5, True)", "CELU(2.0)", "SELU()", "SELU(True)",
    "GELU()", "GELU('tanh')", "SiLU()", "SiLU(inplace=True)", "Mish()", "Hardswish(True)",
    "Hardsigmoid()", "Hardtanh()", "Hardtanh(-2, 3, True)", "Hardtanh(min_val=-0.5)",
    "Softplus()", "Softplus(2, 10)", "Softsign()", "PReLU()", "PReLU(3, 0.1)", "LogSigmoid()",
    "Threshold(0.1, 20)", "Threshold(0.1, 20.0, True)", "Tanhshrink()", "Softshrink()",
    "Softshrink(1)", "Hardshrink(0.3)", "Identity()", "Dropout1d()", "Dropout2d(0.2, True)",
    "Dropout3d()", "AlphaDropout()", "FeatureAlphaDropout(0.1)", "BCELoss()",
    "BCEWithLogitsLoss()", "L1Loss()", "SmoothL1Loss(beta=0.5)", "HuberLoss(delta=2.0)",
    "KLDivLoss(reduction='batchmean')", "CosineEmbeddingLoss(0.5)", "MarginRankingLoss()",
    "MultiLabelSoftMarginLoss()", "SoftMarginLoss()", "HingeEmbeddingLoss(2.0)",
    "AdaptiveAvgPool1d(3)", "AdaptiveAvgPool3d((2, None, 3))", "AdaptiveMaxPool1d(3, True)",
    "AdaptiveMaxPool3d(2)", "LPPool1d(2, 3)", "LPPool2d(1.5, (2, 3), 1, True)",
]


@pytest.mark.parametrize("expr", CONSTRUCTORS)
def test_reprs_match(expr):
    assert repr(eval("nn." + expr)) == repr(eval("tnn." + expr))


ACTS = [("relu6", {}), ("elu", {"alpha": 0.7}), ("celu", {"alpha": 1.5}), ("selu", {}),
        ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}),
        ("hardswish", {}), ("hardsigmoid", {}), ("hardtanh", {"min_val": -2.0, "max_val": 1.5}),
        ("softplus", {"beta": 2.0, "threshold": 5.0}), ("softsign", {}), ("logsigmoid", {}),
        ("threshold", {"threshold": 0.5, "value": -2.0}), ("tanhshrink", {}),
        ("softshrink", {"lambd": 0.7}), ("hardshrink", {"lambd": 0.7})]


def _values(dtype):
    rng = np.random.default_rng(11)
    a = np.concatenate([rng.uniform(-8, 8, 200), [-100, -30, -3, -0.7, 0, 0.7, 3, 6, 30, 100,
                                                   -90, 90]])
    return a.astype(dtype)


@pytest.mark.parametrize("name,kw", ACTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_match_torch(name, kw, dtype):
    a = _values(dtype)
    x = tt.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    y = getattr(F, name)(x, **kw)
    ty = getattr(TF, name)(tx, **kw)
    g = np.linspace(-1, 1, a.size).astype(dtype)
    y.backward(tt.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    if name == "hardsigmoid":
        tol = dict(rtol=1e-7)          # PyTorch's backward uses 1/6 rounded to float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)


def test_prelu_matches_torch():
    rng = np.random.default_rng(12)
    for shape, nw in (((2, 3, 4, 5), 3), ((4, 3), 1), ((7,), 1)):
        a = rng.standard_normal(shape).astype(np.float32)
        w = rng.uniform(0, 0.5, nw).astype(np.float32)
        x, wt = tt.tensor(a, requires_grad=True), tt.tensor(w, requires_grad=True)
        tx, tw = torch.tensor(a, requires_grad=True), torch.tensor(w, requires_grad=True)
        F.prelu(x, wt).pow(2).sum().backward()
        TF.prelu(tx, tw).pow(2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(wt.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-5)


def _pair(name, rng, shape, dtype):
    x = rng.uniform(-3, 3, shape)
    t = rng.uniform(-3, 3, shape)
    if name == "binary_cross_entropy":
        x = rng.uniform(0, 1, shape)
        x.flat[0] = 0.0                  # the clamped logs
        t = rng.uniform(0, 1, shape)
    elif name == "binary_cross_entropy_with_logits":
        x = x * 30
        t = rng.uniform(0, 1, shape)
    elif name == "kl_div":
        t = rng.uniform(0, 1, shape)
        t.flat[0] = 0.0                  # 0 log 0
    elif name in ("soft_margin_loss", "hinge_embedding_loss"):
        t = rng.choice([-1.0, 1.0], shape)
    return x.astype(dtype), t.astype(dtype)


LOSSES = [("binary_cross_entropy", {}), ("binary_cross_entropy_with_logits", {}),
          ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}), ("smooth_l1_loss", {"beta": 0.0}),
          ("huber_loss", {"delta": 0.7}), ("kl_div", {}), ("kl_div", {"log_target": True}),
          ("soft_margin_loss", {}), ("hinge_embedding_loss", {"margin": 0.5})]


@pytest.mark.parametrize("name,kw", LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_losses_match_torch(name, kw, reduction, dtype):
    if reduction == "batchmean" and name != "kl_div":
        return
    rng = np.random.default_rng(13)
    a, b = _pair(name, rng, (4, 5), dtype)
    grad_t = name not in ("hinge_embedding_loss", "soft_margin_loss")
    x, t = tt.tensor(a, requires_grad=True), tt.tensor(b, requires_grad=grad_t)
    tx, tt_ = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=grad_t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(F, name)(x, t, reduction=reduction, **kw)
        ty = getattr(TF, name)(tx, tt_, reduction=reduction, **kw)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    if name == "binary_cross_entropy":
        tol = dict(tol, rtol=1e-5)     # the x = 0 element: -t / 1e-12, rounded in another order
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)
    if grad_t and not (name == "kl_div" and not kw):     # d/dt of 0 log 0 is -inf in both
        np.testing.assert_allclose(t.grad.numpy(), tt_.grad.numpy(), **tol)


def test_weighted_and_composite_losses_match_torch():
    rng = np.random.default_rng(14)
    a = rng.uniform(0.01, 0.99, (4, 3))
    b = rng.uniform(0, 1, (4, 3))
    w = rng.uniform(0.5, 2, 3)
    pw = rng.uniform(0.5, 3, 3)
    cases = [
        (lambda m, X, T, W, P: m.binary_cross_entropy(X, T, weight=W), True),
        (lambda m, X, T, W, P: m.binary_cross_entropy_with_logits(X, T, weight=W, pos_weight=P),
         True),
        (lambda m, X, T, W, P: m.multilabel_soft_margin_loss(X, T, weight=W), False),
        (lambda m, X, T, W, P: m.multilabel_soft_margin_loss(X, T, reduction="none"), False),
        (lambda m, X, T, W, P: m.l1_loss(X, T, weight=T), False),
        (lambda m, X, T, W, P: m.huber_loss(X, T, weight=T, delta=0.1), False),
    ]
    for fn, _ in cases:
        x = tt.tensor(a, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        y = fn(F, x, tt.tensor(b), tt.tensor(w), tt.tensor(pw))
        ty = fn(TF, tx, torch.tensor(b), torch.tensor(w), torch.tensor(pw))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    a1, a2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    y = np.array([1, -1, 1, -1, 1])
    x1, x2 = tt.tensor(a1, requires_grad=True), tt.tensor(a2, requires_grad=True)
    t1, t2 = torch.tensor(a1, requires_grad=True), torch.tensor(a2, requires_grad=True)
    for m in (0.0, 0.3):
        out = F.cosine_embedding_loss(x1, x2, tt.tensor(y), m)
        tout = TF.cosine_embedding_loss(t1, t2, torch.tensor(y), m)
        assert out.item() == pytest.approx(tout.item(), rel=1e-12)
        out.backward()
        tout.backward()
    np.testing.assert_allclose(x1.grad.numpy(), t1.grad.numpy(), rtol=1e-10)
    r1, r2, ry = rng.standard_normal(6), rng.standard_normal(6), rng.choice([-1.0, 1.0], 6)
    assert F.margin_ranking_loss(tt.tensor(r1), tt.tensor(r2), tt.tensor(ry), 0.2).item() == \
        pytest.approx(TF.margin_ranking_loss(torch.tensor(r1), torch.tensor(r2),
                                             torch.tensor(ry), 0.2).item())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_pool3d_and_lp_pool_match_torch(dtype):
    rng = np.random.default_rng(15)
    a = rng.standard_normal((2, 3, 5, 7, 6)).astype(dtype)
    for osize in ((2, 3, 4), (5, 7, 6), (7, 2, 9), 1, (None, 3, None)):
        for kind in ("avg", "max"):
            x, tx = tt.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
            if kind == "avg":
                y, ty = F.adaptive_avg_pool3d(x, osize), TF.adaptive_avg_pool3d(tx, osize)
            else:
                y, i = F.adaptive_max_pool3d(x, osize, True)
                ty, ti = TF.adaptive_max_pool3d(tx, osize, True)
                np.testing.assert_array_equal(i.numpy(), ti.numpy())
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                       atol=1e-6)
            g = rng.standard_normal(tuple(ty.shape)).astype(dtype)
            y.backward(tt.tensor(g))
            ty.backward(torch.tensor(g))
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    b = np.abs(rng.standard_normal((2, 3, 7, 8))).astype(dtype)
    b[0, 0, :2, :2] = 0                                # a window of zeros
    for p, k, s, ceil in ((2, 2, None, False), (1.5, (2, 3), 1, False), (3, 3, 2, True),
                          (float("inf"), 2, None, False)):
        x, tx = tt.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
        y = F.lp_pool2d(x, p, k, s, ceil)
        ty = TF.lp_pool2d(tx, p, k, s, ceil)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
        y1 = F.lp_pool1d(tt.tensor(b[0]), p, 3)
        np.testing.assert_allclose(y1.numpy(), TF.lp_pool1d(torch.tensor(b[0]), p, 3).numpy(),
                                   rtol=1e-5)


def test_alpha_dropout_constants_match_torch():
    """With p == 1 nothing is random: every element goes to the same affine value."""
    a = np.random.default_rng(16).standard_normal((3, 4, 5))
    for fn in ("alpha_dropout", "feature_alpha_dropout"):
        y = getattr(F, fn)(tt.tensor(a), 1.0, training=True)
        ty = getattr(TF, fn)(torch.tensor(a), 1.0, training=True)
        np.testing.assert_allclose(y.numpy(), ty.numpy())


def _outcome(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            err = None
        except Exception as e:  # noqa: BLE001
            err = (type(e).__name__, str(e))
    return err, [str(x.message) for x in w]


BAD = [
    "F.elu(L([1, 2]))", "F.gelu(X(2), approximate='x')", "F.softshrink(X(2), -1.0)",
    "F.hardtanh(X(2), 2.0, 1.0)", "F.celu(X(2), 0.0)", "F.relu6(L([True]))",
    "F.prelu(X(3), X(3))", "F.prelu(X(2, 2), X(2, 1))", "F.dropout1d(X(3))",
    "F.dropout2d(X(2, 3, 4))", "F.dropout3d(X(2, 3, 4))", "F.dropout2d(X(3, 3, 3, 3, 3))",
    "F.feature_alpha_dropout(X(3), 0.5, True)",
    "F.binary_cross_entropy(X(2, 3), X(3))", "F.binary_cross_entropy(X(2) + 1, X(2))",
    "F.binary_cross_entropy(L([1]), L([1]))", "F.binary_cross_entropy_with_logits(X(2, 3), X(3))",
    "F.l1_loss(X(2, 3), X(3))", "F.l1_loss(X(2, 3), X(4))", "F.huber_loss(X(2, 3), X(3))",
    "F.smooth_l1_loss(X(2), X(2), beta=-1.0)", "F.huber_loss(X(2), X(2), delta=0.0)",
    "F.kl_div(X(2, 3), X(2, 3))", "F.kl_div(X(2), X(2), reduction='foo')",
    "F.cosine_embedding_loss(X(2, 3, 4), X(2, 3, 4), L([1, -1]))",
    "F.margin_ranking_loss(X(3), X(3, 1), X(3))",
    "F.multilabel_soft_margin_loss(X(2, 3), X(2, 3), reduction='foo')",
    "F.adaptive_avg_pool3d(X(3, 4, 5), 2)", "F.adaptive_max_pool3d(X(3, 4, 5), 2)",
    "F.adaptive_avg_pool3d(X(2, 3, 4, 5, 6), -1)", "F.adaptive_max_pool3d(X(2, 3, 4, 5, 6), -1)",
    "F.adaptive_avg_pool3d(X(2, 3, 0, 5, 6), 2)", "F.adaptive_max_pool3d(X(2, 3, 4, 5, 6), (2, 2))",
    "F.adaptive_avg_pool3d(X(2, 3, 4, 5, 6), (2, 2))",
    "F.lp_pool2d(X(6, 6), 2, 3)", "F.lp_pool1d(X(6), 2, 3)", "F.lp_pool2d(X(2, 3, 2, 2), 2, 3)",
]


@pytest.mark.parametrize("expr", BAD)
def test_bad_calls_match_torch(expr):
    ours = _outcome(lambda: eval(expr, {"F": F, "X": lambda *s: tt.ones(*s) * 0.5,
                                        "L": tt.tensor}))
    theirs = _outcome(lambda: eval(expr, {"F": TF, "X": lambda *s: torch.ones(*s) * 0.5,
                                          "L": torch.tensor}))
    assert (ours[0] is None) == (theirs[0] is None), (ours, theirs)
    if ours[0] is not None:
        assert ours[0][0] == theirs[0][0], (ours, theirs)
        assert ours[0][1] == theirs[0][1].replace("torch.", "torch."), (ours, theirs)
    assert ours[1] == theirs[1]
