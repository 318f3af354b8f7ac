"""sort / argsort / msort / topk against the naive reference (tests/reference_api.py), plus
their named tuples, gradients, gradcheck and bad input; the NumPy keyword aliases; top-level
softmax / log_softmax; inference_mode."""
import math

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import tinytensor as tt
import strategies as S
from reference_api import sort_backward_ref, sort_ref, topk_ref


@st.composite
def sort_cases(draw, floating_only=False):
    """(array, tensor in a random layout, dim); small integer-valued floats make ties common."""
    dtype = draw(S.dtypes(floating_only))
    shape = draw(S.shapes(0, 3, 1, 5))
    a = draw(S.arrays(shape, dtype, -3, 3))
    t = draw(S.layouts(a))
    dim = draw(st.integers(-max(a.ndim, 1), max(a.ndim, 1) - 1))
    return a, t, dim


def _norm_dim(dim, ndim):
    return 0 if ndim == 0 else dim % ndim


@given(sort_cases(), st.booleans(), st.booleans())
def test_sort_matches_reference(case, descending, stable):
    a, t, dim = case
    values, indices = tt.sort(t, dim, descending, stable=stable)
    rv, ri = sort_ref(a, _norm_dim(dim, a.ndim), descending)
    np.testing.assert_array_equal(values.numpy(), rv)
    np.testing.assert_array_equal(indices.numpy(), ri)
    assert values.dtype is t.dtype and indices.dtype is tt.int64
    np.testing.assert_array_equal(tt.argsort(t, dim, descending, stable=stable).numpy(), ri)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_is_largest_and_ties_keep_order(descending):
    a = np.array([1.0, np.nan, 0.0, 1.0, np.nan, -np.inf, np.inf], np.float32)
    values, indices = tt.tensor(a).sort(descending=descending)
    rv, ri = sort_ref(a, 0, descending)
    np.testing.assert_array_equal(values.numpy(), rv)
    np.testing.assert_array_equal(indices.numpy(), ri)
    expected = [5, 2, 0, 3, 6, 1, 4] if not descending else [1, 4, 6, 0, 3, 2, 5]
    assert indices.tolist() == expected


@given(sort_cases(), st.integers(0, 5), st.booleans())
def test_topk_matches_reference(case, k, largest):
    a, t, dim = case
    d = _norm_dim(dim, a.ndim)
    size = a.shape[d] if a.ndim else 1
    if k > size:
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            tt.topk(t, k, dim, largest)
        return
    values, indices = t.topk(k, dim=dim, largest=largest)
    rv, ri = topk_ref(a, k, d, largest)
    np.testing.assert_array_equal(values.numpy(), rv)
    np.testing.assert_array_equal(indices.numpy(), ri)


@given(sort_cases(floating_only=True), st.sampled_from(["sort", "topk"]), st.data())
def test_sort_and_topk_backward_match_reference(case, op, data):
    a, t, dim = case
    x = t.detach().clone().requires_grad_(True)
    d = _norm_dim(dim, a.ndim)
    if op == "sort":
        values, indices = x.sort(dim, descending=data.draw(st.booleans()))
    else:
        k = data.draw(st.integers(0, a.shape[d] if a.ndim else 1))
        values, indices = x.topk(k, dim, largest=data.draw(st.booleans()))
    g = data.draw(S.arrays(values.shape, t.dtype))
    values.backward(tt.tensor(g))
    expected = sort_backward_ref(g, indices.numpy(), a.shape, d)
    tol = dict(rtol=1e-9, atol=1e-9) if t.dtype is tt.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), expected, **tol)
    assert x.grad.dtype is t.dtype


@pytest.mark.parametrize("fn", [
    lambda x: x.sort(1)[0], lambda x: x.sort(0, descending=True).values,
    lambda x: x.topk(2).values, lambda x: x.topk(1, dim=0, largest=False).values,
    lambda x: tt.msort(x),
])
def test_gradcheck(fn):
    x = (tt.randperm(12).double().view(3, 4) / 3).requires_grad_(True)   # well separated values
    assert tt.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_named_tuples():
    t = tt.tensor([[3.0, 1.0, 2.0]])
    s = t.sort()
    assert type(s) is tt.return_types.sort and s.values is s[0] and s.indices is s[1]
    assert repr(s) == ("tinytensor.return_types.sort(\nvalues=tensor([[1., 2., 3.]]),\n"
                       "indices=tensor([[1, 2, 0]]))")
    k = tt.topk(t, 1)
    assert type(k) is tt.return_types.topk and k.indices.tolist() == [[0]]
    assert type(t.max(1)) is tt.return_types.max
    values, indices = k                            # unpacks as a tuple
    assert values.tolist() == [[3.0]]


def test_zero_dim_and_empty():
    s = tt.tensor(3.0).sort()
    assert s.values.shape == () and s.indices.item() == 0
    k = tt.tensor(3.0).topk(1)
    assert k.values.item() == 3.0 and k.indices.shape == ()
    e = tt.zeros(2, 0).topk(0)
    assert e.values.shape == (2, 0) and e.indices.dtype is tt.int64
    assert tt.argsort(tt.tensor(5.0)).shape == ()


def test_grad_fn_names():
    x = tt.tensor([2.0, 1.0], requires_grad=True)
    assert x.sort()[0].grad_fn.name() == "SortBackward0"
    assert x.topk(1)[0].grad_fn.name() == "TopkBackward0"
    assert x.sort()[1].grad_fn is None


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: tt.topk(tt.ones(3), 4), RuntimeError, "selected index k out of range"),
    (lambda: tt.topk(tt.ones(3), -1), RuntimeError, "selected index k out of range"),
    (lambda: tt.topk(tt.tensor(1.0), 2), RuntimeError, "selected index k out of range"),
    (lambda: tt.topk(tt.ones(3), 1.5), TypeError,
     r"topk\(\): argument 'k' \(position 2\) must be int, not float"),
    (lambda: tt.sort(tt.ones(2, 3), 2), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    (lambda: tt.argsort(tt.ones(2), -2), IndexError, "Dimension out of range"),
    (lambda: tt.sort([3, 1]), TypeError,
     r"sort\(\): argument 'input' \(position 1\) must be Tensor, not list"),
    (lambda: tt.msort(1.0), TypeError, "must be Tensor, not float"),
    (lambda: tt.ones(3).sort(dim=0, axis=0), TypeError,
     "sort\\(\\) got an unexpected keyword argument 'axis'"),
])
def test_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ------------------------------------------------------------------------------ NumPy aliases

def test_numpy_keyword_aliases():
    t = tt.tensor([[3.0, 1.0, 3.0], [2.0, 2.0, 0.0]])
    assert t.argmax(axis=1).tolist() == [0, 0]
    assert t.argmin(axis=0, keepdims=True).tolist() == [[1, 0, 1]]
    assert t.sum(axis=0, keepdims=True).tolist() == [[5.0, 3.0, 3.0]]
    assert tt.sum(t, axis=1).tolist() == [7.0, 4.0]
    assert tt.sum(x=t).item() == 11.0
    assert t.mean(axis=(0, 1)).item() == pytest.approx(11 / 6)
    assert t.max(axis=1).values.tolist() == [3.0, 2.0]
    assert t.amax(axis=0).tolist() == [3.0, 2.0, 3.0]
    assert t.std(axis=1, keepdims=True).shape == (2, 1)
    assert t.all(axis=1).tolist() == [True, False]
    assert t.any(axis=0).tolist() == [True, True, True]
    assert t.unsqueeze(axis=0).shape == (1, 2, 3)
    assert tt.cat([t, t], axis=1).shape == (2, 6)
    assert tt.stack([t, t], axis=1).shape == (2, 2, 3)
    assert t.sort(axis=0).indices.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert tt.topk(t, 1, axis=0).values.tolist() == [[3.0, 2.0, 3.0]]
    assert t.softmax(axis=1).shape == (2, 3)
    with pytest.raises(TypeError, match="sum\\(\\) got an unexpected keyword argument 'axis'"):
        t.sum(dim=0, axis=0)


# ------------------------------------------------------------------------------ softmax

@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
def test_top_level_softmax_is_functional_softmax(dtype):
    x = tt.randn(3, 4, dtype=dtype)
    F = tt.nn.functional
    np.testing.assert_array_equal(tt.softmax(x, 1).numpy(), F.softmax(x, 1).numpy())
    np.testing.assert_array_equal(tt.log_softmax(x, dim=0).numpy(), F.log_softmax(x, 0).numpy())
    np.testing.assert_array_equal(x.softmax(-1).numpy(), F.softmax(x, -1).numpy())
    np.testing.assert_array_equal(x.log_softmax(1, dtype=tt.float64).numpy(),
                                  F.log_softmax(x.double(), 1).numpy())
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.softmax([1.0], 0)


# ------------------------------------------------------------------------------ inference_mode

def test_inference_mode_context_and_decorator():
    x = tt.ones(2, requires_grad=True)
    assert not tt.is_inference_mode_enabled()
    with tt.inference_mode():
        assert tt.is_inference_mode_enabled() and not tt.is_grad_enabled()
        y = x * 2
        with tt.inference_mode(False):
            assert not tt.is_inference_mode_enabled() and tt.is_grad_enabled()
            assert (x * 2).requires_grad
        assert tt.is_inference_mode_enabled()
    assert not y.requires_grad and tt.is_grad_enabled() and not tt.is_inference_mode_enabled()

    @tt.inference_mode()
    def called():
        return x * 2, tt.is_inference_mode_enabled()

    @tt.inference_mode
    def bare():
        return x * 2

    out, flag = called()
    assert flag and not out.requires_grad and not bare().requires_grad
    assert called.__name__ == "called"
    assert not tt.is_inference_mode_enabled()


def test_no_grad_as_bare_decorator():
    x = tt.ones(2, requires_grad=True)

    @tt.no_grad
    def f():
        return x * 2

    assert not f().requires_grad and tt.is_grad_enabled()


def test_inference_mode_restores_after_exception():
    with pytest.raises(ValueError):
        with tt.inference_mode():
            raise ValueError
    assert tt.is_grad_enabled() and not tt.is_inference_mode_enabled()
