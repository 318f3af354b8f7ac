"""Losses against float64 references: cross_entropy (ignore_index, label_smoothing, weights,
reductions, K-dim, probabilities), nll_loss, mse_loss; PyTorch's messages for bad targets."""
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

RNG = np.random.default_rng(99)


def t64(a, grad=True):
    return tt.tensor(np.asarray(a, np.float64), requires_grad=grad)


def npy(t):
    return t.detach().numpy()


@given(n=st.integers(1, 5), c=st.integers(2, 5), reduction=st.sampled_from(["mean", "sum"]),
       weighted=st.booleans(), eps=st.sampled_from([0.0, 0.1, 0.5]),
       ignore=st.booleans(), seed=st.integers(0, 1000))
def test_cross_entropy_vs_reference(n, c, reduction, weighted, eps, ignore, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * 3
    t = rng.integers(0, c, n)
    ignore_index = int(t[0]) if ignore else -100
    w = rng.uniform(0.5, 2.0, c) if weighted else None
    xt = t64(x)
    loss = F.cross_entropy(xt, tt.tensor(t), weight=None if w is None else tt.tensor(w),
                           ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    expect = ref.cross_entropy(x, t, w, ignore_index, reduction, eps)
    if np.isnan(expect):
        assert np.isnan(loss.item())
        return
    assert loss.item() == pytest.approx(expect, rel=1e-9, abs=1e-12)
    loss.backward()
    g = ref.cross_entropy_grad(x, t, w, ignore_index, reduction, eps)
    assert np.allclose(npy(xt.grad), g, rtol=1e-9, atol=1e-12)


def test_cross_entropy_reduction_none_and_ignore():
    x = RNG.standard_normal((4, 3))
    t = np.array([0, 2, 1, 2])
    out = F.cross_entropy(t64(x), tt.tensor(t), ignore_index=2, reduction="none")
    assert np.allclose(npy(out), ref.cross_entropy(x, t, None, 2, "none"))
    assert npy(out)[1] == 0 and npy(out)[3] == 0
    mean = F.cross_entropy(t64(x), tt.tensor(t), ignore_index=2)
    assert mean.item() == pytest.approx(npy(out)[[0, 2]].mean())


def test_cross_entropy_all_ignored_and_empty():
    x = tt.randn(4, 3, requires_grad=True)
    t = tt.full((4,), -100, dtype=tt.int64)
    loss = F.cross_entropy(x, t)
    assert math.isnan(loss.item())
    loss.backward()
    assert (npy(x.grad) == 0).all()             # as PyTorch: 0, not nan
    lp = tt.randn(4, 3, requires_grad=True)
    F.nll_loss(lp, t).backward()
    assert (npy(lp.grad) == 0).all()
    assert F.cross_entropy(x, t, reduction="sum").item() == 0
    e = tt.zeros(0, 3)
    assert math.isnan(F.cross_entropy(e, tt.zeros(0, dtype=tt.int64)).item())
    assert F.cross_entropy(e, tt.zeros(0, dtype=tt.int64), reduction="sum").item() == 0


def test_cross_entropy_stable_and_inf():
    assert F.cross_entropy(tt.tensor([[1000.0, 0.0]]), tt.tensor([1])).item() == \
        pytest.approx(1000.0)
    assert math.isnan(F.cross_entropy(tt.tensor([[float("inf"), 0.0]]), tt.tensor([1])).item())


def test_cross_entropy_label_smoothing_rules():
    x = RNG.standard_normal((4, 3))
    t = np.array([0, 1, 2, 1])
    logp = ref.log_softmax_rows(x)
    nll = -logp[np.arange(4), t]
    expect = np.mean(0.9 * nll + 0.1 * (-logp).mean(1))
    assert F.cross_entropy(t64(x), tt.tensor(t), label_smoothing=0.1).item() == \
        pytest.approx(expect, rel=1e-9)
    assert F.cross_entropy(t64(x), tt.tensor(t), label_smoothing=-0.1).item() == \
        pytest.approx(nll.mean(), rel=1e-9)
    with pytest.raises(RuntimeError, match=r"^label_smoothing must be between 0\.0 and 1\.0\. "
                                           r"Got: 1\.5$"):
        F.cross_entropy(t64(x), tt.tensor(t), label_smoothing=1.5)


def test_cross_entropy_weights():
    x = RNG.standard_normal((5, 3))
    t = np.array([0, 1, 2, 1, 1])
    w = np.array([0.2, 1.0, 3.0])
    logp = ref.log_softmax_rows(x)
    l = -logp[np.arange(5), t]
    expect = (w[t] * l).sum() / w[t].sum()
    assert F.cross_entropy(t64(x), tt.tensor(t), weight=tt.tensor(w)).item() == \
        pytest.approx(expect, rel=1e-9)
    crit = nn.CrossEntropyLoss(weight=tt.tensor(w))
    assert crit(t64(x), tt.tensor(t)).item() == pytest.approx(expect, rel=1e-9)


def test_cross_entropy_kdim_and_unbatched():
    x = RNG.standard_normal((2, 3, 4, 5))
    t = RNG.integers(0, 3, (2, 4, 5))
    flat_x = np.moveaxis(x, 1, -1).reshape(-1, 3)
    xt = t64(x)
    out = F.cross_entropy(xt, tt.tensor(t), reduction="none")
    assert out.shape == (2, 4, 5)
    assert np.allclose(npy(out).reshape(-1), ref.cross_entropy(flat_x, t.reshape(-1), None,
                                                               -100, "none"))
    F.cross_entropy(xt, tt.tensor(t)).backward()
    g = ref.cross_entropy_grad(flat_x, t.reshape(-1))
    assert np.allclose(npy(xt.grad), np.moveaxis(g.reshape(2, 4, 5, 3), -1, 1))
    x3 = t64(RNG.standard_normal((2, 3, 2)))
    t3 = tt.tensor([[0, 2], [1, 1]])
    assert gradcheck(lambda a: F.cross_entropy(a, t3, label_smoothing=0.2), (x3,))
    v = RNG.standard_normal(3)
    out1 = F.cross_entropy(t64(v), tt.tensor(1))
    assert out1.shape == () and out1.item() == pytest.approx(-ref.log_softmax_rows(v[None])[0, 1])


def test_cross_entropy_gradcheck_weights_and_none():
    x = t64(RNG.standard_normal((3, 4)))
    t = tt.tensor([3, 0, 1])
    w = tt.tensor([0.5, 1.0, 2.0, 1.5], dtype=tt.float64)
    assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.3), (x,))
    assert gradcheck(lambda a: F.cross_entropy(a, t, reduction="none", ignore_index=0), (x,))


def test_cross_entropy_probability_targets():
    x = RNG.standard_normal((4, 3))
    p = RNG.uniform(size=(4, 3))
    p /= p.sum(1, keepdims=True)
    logp = ref.log_softmax_rows(x)
    expect = -(p * logp).sum(1).mean()
    xt, pt = t64(x), t64(p)
    loss = F.cross_entropy(xt, pt)
    assert loss.item() == pytest.approx(expect, rel=1e-9)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), (xt, pt))
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point "
                                           "target"):
        F.cross_entropy(xt, pt, ignore_index=1)
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class "
                                           "probabilities, got Long"):
        F.cross_entropy(tt.tensor(1.0), tt.tensor(1))


ERRORS = [
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, 2])), ValueError,
     r"^Expected input batch_size \(4\) to match target batch_size \(3\)\.$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0.0, 1, 2, 1])), RuntimeError,
     "^expected target dtype to be Long or Byte, but got Float$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, 2, 1]).bool()), RuntimeError,
     "^expected target dtype to be Long or Byte, but got Bool$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, 2, 1]), reduction="avg"),
     ValueError, "^avg is not a valid value for reduction$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, 3, 1])), IndexError,
     r"^Target 3 is out of bounds\.$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, -1, 1])), IndexError,
     r"^Target -1 is out of bounds\.$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.tensor([0, 1, 2, 1]), weight=tt.ones(2)),
     RuntimeError, r"^weight tensor should be defined either for all 3 classes or no classes "
                   r"but got weight tensor of shape: \[2\]$"),
    (lambda: F.cross_entropy(tt.tensor([[1, 2]]), tt.tensor([0])), NotImplementedError,
     "^\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'$"),
    (lambda: F.cross_entropy(tt.randn(2, 3, 4, 5), tt.zeros(2, 4, 4, dtype=tt.int64)),
     RuntimeError, r"^size mismatch \(got input: \[2, 3, 4, 5\] , target: \[2, 4, 4\]$"),
    (lambda: F.cross_entropy(tt.randn(2, 3, 4), tt.zeros(2, 5, dtype=tt.int64)), RuntimeError,
     r"^Expected target size \[2, 4\], got \[2, 5\]$"),
    (lambda: F.cross_entropy(tt.randn(4, 3), tt.zeros(4, 3, 2, dtype=tt.int64)), RuntimeError,
     "^0D or 1D target tensor expected, multi-target not supported$"),
    (lambda: F.nll_loss(tt.randn(4, 3), tt.tensor([0, 1, 3, 1])), IndexError,
     r"^Target 3 is out of bounds\.$"),
    (lambda: F.nll_loss(tt.randn(4, 3), tt.tensor([0, 1, 2, 1]), reduction="bad"), ValueError,
     "^bad is not a valid value for reduction$"),
    (lambda: F.mse_loss(tt.randn(4, 3), tt.randn(4, 3), reduction="x"), ValueError,
     "^x is not a valid value for reduction$"),
]


@pytest.mark.parametrize("call,exc,pattern", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_loss_errors(call, exc, pattern):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=pattern):
            call()


def test_nll_loss_vs_reference():
    x = RNG.standard_normal((5, 4))
    logp = ref.log_softmax_rows(x)
    t = np.array([0, 3, 1, 1, 2])
    w = np.array([1.0, 0.5, 2.0, 1.5])
    lt = t64(logp)
    out = F.nll_loss(lt, tt.tensor(t), weight=tt.tensor(w), ignore_index=1)
    keep = t != 1
    expect = (w[t] * -logp[np.arange(5), t])[keep].sum() / w[t][keep].sum()
    assert out.item() == pytest.approx(expect, rel=1e-9)
    assert gradcheck(lambda a: F.nll_loss(a, tt.tensor(t), weight=tt.tensor(w)), (lt,))
    composed = F.nll_loss(F.log_softmax(t64(x), 1), tt.tensor(t))
    fused = F.cross_entropy(t64(x), tt.tensor(t))
    assert composed.item() == pytest.approx(fused.item(), rel=1e-12)
    assert nn.NLLLoss(reduction="sum")(lt, tt.tensor(t)).item() == \
        pytest.approx(-logp[np.arange(5), t].sum())


def test_mse_loss():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    at, bt = t64(a), t64(b)
    assert F.mse_loss(at, bt).item() == pytest.approx(((a - b) ** 2).mean())
    assert F.mse_loss(at, bt, reduction="sum").item() == pytest.approx(((a - b) ** 2).sum())
    assert np.allclose(npy(F.mse_loss(at, bt, reduction="none")), (a - b) ** 2)
    assert gradcheck(F.mse_loss, (at, bt))
    assert nn.MSELoss()(at, bt).item() == pytest.approx(((a - b) ** 2).mean())
    with pytest.warns(UserWarning, match="Using a target size"):
        F.mse_loss(at, t64(b[:, :1]))


def test_cross_entropy_float32_module_training_signal():
    crit = nn.CrossEntropyLoss()
    x = tt.randn(8, 10, requires_grad=True)
    t = tt.randint(0, 10, (8,))
    loss = crit(x, t)
    assert loss.dtype == tt.float32
    loss.backward()
    assert np.allclose(npy(x.grad).sum(1), 0, atol=1e-6)
