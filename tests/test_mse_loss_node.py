"""mse_loss as one MseLossBackward0 node (tinytensor/_functions/loss.py MseLossFunction):
forward and both gradients against a loop reference, float32 and float64, broadcast targets,
gradcheck."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
import strategies as S
from reference import indices, source_index


def mse_ref(a, b, reduction, g):
    """(loss, d loss / d a, d loss / d b) with b broadcast to a's shape, from the definition."""
    n = a.size
    vals = np.zeros(a.shape)
    ga, gb = np.zeros(a.shape), np.zeros(b.shape)
    total = 0.0
    for idx in indices(a.shape):
        j = source_index(idx, b.shape)
        d = float(a[idx]) - float(b[j])
        vals[idx] = d * d
        total += d * d
        up = float(g[idx]) if reduction == "none" else float(g) / (n if reduction == "mean" else 1)
        ga[idx] = 2 * d * up
        gb[j] += -2 * d * up
    loss = vals if reduction == "none" else (total / n if reduction == "mean" else total)
    return loss, ga, gb


@st.composite
def mse_cases(draw):
    dtype = draw(st.sampled_from([tt.float32, tt.float64]))
    shape = draw(S.shapes(0, 3, 1, 4))
    cut = draw(st.integers(0, len(shape)))
    tshape = tuple(1 if draw(st.booleans()) else s for s in shape[cut:])   # broadcasts to shape
    a = draw(S.arrays(shape, dtype))
    b = draw(S.arrays(tshape, dtype))
    return dtype, a, b


@given(mse_cases(), st.sampled_from(["mean", "sum", "none"]), st.booleans(), st.data())
def test_mse_matches_reference(case, reduction, target_grad, data):
    dtype, a, b = case
    x = tt.tensor(a, requires_grad=True)
    y = tt.tensor(b, requires_grad=target_grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # the broadcast-target warning
        loss = F.mse_loss(x, y, reduction=reduction)
    g = data.draw(S.arrays(loss.shape, dtype))
    loss.backward(tt.tensor(g))
    ref, ga, gb = mse_ref(a, b, reduction, g)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype is tt.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(loss.detach().numpy(), ref, **tol)
    np.testing.assert_allclose(x.grad.numpy(), ga, **tol)
    assert loss.dtype is dtype and loss.grad_fn.name() == "MseLossBackward0"
    if target_grad:
        np.testing.assert_allclose(y.grad.numpy(), gb, **tol)
    else:
        assert y.grad is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_gradcheck(reduction):
    x = tt.randn(3, 4, dtype=tt.float64, requires_grad=True)
    y = tt.randn(1, 4, dtype=tt.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert tt.autograd.gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, y))


def test_mse_other_dtypes_keep_the_composed_path():
    a, b = tt.tensor([1.0, 2.0]), tt.tensor([0.0, 0.0], dtype=tt.float64)
    assert F.mse_loss(a, b).dtype is tt.float64                # promotion as before
    assert F.mse_loss(tt.zeros(0, requires_grad=True), tt.zeros(0)).isnan().item()
