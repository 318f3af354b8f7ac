"""batch_norm's fused kernels (_kernels/norm.pyx) against the naive reference
(tests/reference_nn.py batch_norm_any): forward and every gradient, training and eval, with
and without the affine parameters, any input layout, float32 and float64; bitwise the same
for any thread count; empty inputs as PyTorch."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
import reference_nn as ref
import strategies as S

TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-9)}


@st.composite
def cases(draw):
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=3)))
    training = draw(st.booleans())
    if training and n * int(np.prod(spatial)) == 1:
        n += 1
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # an offset mean and a spread scale: the statistics, not just the values, vary
    x = (rng.uniform(-1, 1, (n, c) + spatial) * draw(st.sampled_from([0.1, 1, 10]))
         + draw(st.sampled_from([0, 3, -20]))).astype(dtype)
    affine = draw(st.booleans())
    w = rng.uniform(-2, 2, c).astype(dtype) if affine else None
    b = rng.uniform(-2, 2, c).astype(dtype) if affine else None
    rm = rng.uniform(-1, 1, c).astype(dtype)
    rv = rng.uniform(0.5, 2, c).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    return x, w, b, rm, rv, g, training, draw(S.layouts(x))


def _run(x_t, w, b, rm, rv, g, training, eps=1e-5):
    xl = x_t.detach().requires_grad_()
    wl = None if w is None else tt.tensor(w, requires_grad=True)
    bl = None if b is None else tt.tensor(b, requires_grad=True)
    y = F.batch_norm(xl, tt.tensor(rm), tt.tensor(rv), wl, bl, training=training, eps=eps)
    y.backward(tt.tensor(g))
    return y.detach().numpy(), xl.grad.numpy(), wl, bl


@given(cases())
def test_batch_norm_vs_reference_forward_and_gradients(case):
    x, w, b, rm, rv, g, training, x_t = case
    y, gx, wl, bl = _run(x_t, w, b, rm, rv, g, training)
    ey, edx, edw, edb = ref.batch_norm_any(x, w, b, 1e-5, training, rm, rv, g)
    tol = TOL[x.dtype.type]
    assert y.dtype == x.dtype and gx.dtype == x.dtype
    np.testing.assert_allclose(y, ey, **tol)
    scale = max(1.0, float(np.abs(edx).max()))
    np.testing.assert_allclose(gx, edx, rtol=tol["rtol"], atol=tol["atol"] * scale)
    if w is not None:
        np.testing.assert_allclose(wl.grad.numpy(), edw, rtol=tol["rtol"],
                                   atol=tol["atol"] * x.size)
        np.testing.assert_allclose(bl.grad.numpy(), edb, rtol=tol["rtol"],
                                   atol=tol["atol"] * x.size)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_bits_do_not_depend_on_the_thread_count(training):
    rng = np.random.default_rng(3)
    x = tt.tensor(rng.standard_normal((8, 6, 17, 9)).astype(np.float32))
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal((8, 6, 17, 9)).astype(np.float32)
    rm, rv = np.zeros(6, np.float32), np.ones(6, np.float32)
    old = tt.get_num_threads()
    try:
        got = []
        for n in (1, 2, 3):
            tt.set_num_threads(n)
            y, gx, wl, bl = _run(x, w, b, rm, rv, g, training)
            got.append((y, gx, wl.grad.numpy(), bl.grad.numpy()))
    finally:
        tt.set_num_threads(old)
    for other in got[1:]:
        for a, e in zip(other, got[0]):
            assert np.array_equal(a, e)


def test_batch_norm_of_an_empty_batch_is_empty_and_keeps_the_running_statistics():
    # PyTorch 2.13: an empty output, zero-size input gradient, running statistics unchanged
    rm, rv = tt.zeros(3), tt.ones(3)
    x = tt.empty(0, 3, 4, 4).requires_grad_()
    w = tt.ones(3).requires_grad_()
    y = F.batch_norm(x, rm, rv, w, training=True)
    assert y.shape == (0, 3, 4, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4) and w.grad.tolist() == [0.0, 0.0, 0.0]
    assert rm.tolist() == [0.0, 0.0, 0.0] and rv.tolist() == [1.0, 1.0, 1.0]


def test_batch_norm_refuses_an_input_changed_in_place_before_backward():
    # the input is saved for backward, as PyTorch's
    x = tt.randn(4, 2, 3).requires_grad_()
    h = x * 1
    y = F.batch_norm(h, None, None, training=True)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
