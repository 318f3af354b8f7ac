"""F.pad vs the naive reference (tests/reference_pool.py): values, gradients, adjoint, layouts,
threads, SEMANTICS edge cases 31-36 and the bad calls."""
import re

import numpy as np
import pytest
from hypothesis import settings, assume, given, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
import reference_pool as ref

# the reference loops are slow: cap the examples (never raise the profile's count)
FEW = settings(max_examples=min(settings().max_examples, 20))

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-9)}


def _t(a, requires_grad=False):
    t = tt.from_numpy(np.ascontiguousarray(a))
    if requires_grad:
        t.requires_grad_()
    return t


def _np(t):
    return np.array(t._numpy())


@st.composite
def pad_cases(draw):
    """Valid calls by construction, each pad drawn on its own (negative = crop)."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    npairs = draw(st.integers(1, 3))
    if mode == "constant":
        ndim = draw(st.integers(max(1, npairs), 4))
        npairs = min(npairs, ndim)
    else:
        ndim = npairs + draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pads = []
    for i in range(npairs):
        n = shape[ndim - 1 - i]
        if mode == "reflect":
            lo, hi = -(n - 1), n - 1
        elif mode == "circular":
            lo, hi = -(n - 1), n
        else:
            lo, hi = -n, 4
        l, r = draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
        out = n + l + r
        if mode == "circular":
            core = n + min(l, 0) + min(r, 0)
            assume(core >= 1 and l <= core and r <= core)
        if mode == "constant":
            assume(n + min(l, 0) >= 0 and out >= 0)
        else:
            assume(out >= 1)
        pads += [l, r]
    return dict(mode=mode, shape=shape, pads=tuple(pads), seed=draw(st.integers(0, 2**32 - 1)),
                value=draw(st.sampled_from([0.0, 1.5, -2.0])))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(case=pad_cases())
def test_pad_matches_reference_forward_backward_and_adjoint(dtype, case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["shape"]).astype(dtype)
    mode, pads = case["mode"], case["pads"]
    value = case["value"] if mode == "constant" else None
    a = _t(x, requires_grad=True)
    y = F.pad(a, pads, mode=mode, value=value)
    expected = ref.pad(x, pads, mode, 0.0 if value is None else value)
    assert y.shape == expected.shape
    np.testing.assert_allclose(_np(y), expected, **TOL[dtype])
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * _t(g)).sum().backward()
    gi = _np(a.grad)
    np.testing.assert_allclose(gi, ref.pad_backward(g, x.shape, pads, mode), **TOL[dtype])
    # adjoint identity of the linear part: <pad0(x), g> == <x, pad^T(g)>
    y0 = _np(F.pad(_t(x), pads, mode=mode))
    np.testing.assert_allclose(np.sum(y0.astype(np.float64) * g), np.sum(x.astype(np.float64) * gi),
                               rtol=1e-4, atol=1e-4)


@FEW
@given(case=pad_cases())
def test_pad_int64_and_layouts(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.integers(-9, 10, case["shape"]).astype(np.int64)
    mode, pads = case["mode"], case["pads"]
    value = 2.5 if mode == "constant" else None                 # cast to 2 on integers
    expected = ref.pad(x, pads, mode, 2 if value else 0)
    np.testing.assert_array_equal(_np(F.pad(_t(x), pads, mode=mode, value=value)), expected)
    xf = x.astype(np.float32)
    perm = list(range(x.ndim))[::-1]
    permuted = tt.from_numpy(np.ascontiguousarray(np.transpose(xf, perm))).permute(*perm)
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), np.float32)
    big[..., ::2] = xf
    sliced = tt.from_numpy(big)[..., ::2]
    want = ref.pad(xf, pads, mode, 2.5 if value else 0.0)
    for t in (permuted, sliced):
        np.testing.assert_array_equal(_np(F.pad(t, pads, mode=mode, value=value)), want)


def test_pad_gradcheck_and_threads(threads):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    for mode, pads in [("reflect", (2, 1, -1, 3)), ("replicate", (3, -1, 2, 2)),
                       ("circular", (1, 4, 2, -1)), ("constant", (1, -2, 0, 3, 1, 1))]:
        a = _t(x, requires_grad=True)
        assert tt.autograd.gradcheck(lambda t: F.pad(t, pads, mode=mode), (a,))
        results = []
        for n in (1, 2):
            threads(n)
            b = _t(x.astype(np.float32), requires_grad=True)
            y = F.pad(b, pads, mode=mode)
            (y * y).sum().backward()
            results.append((_np(y).tobytes(), _np(b.grad).tobytes()))
        assert results[0] == results[1]


def _v(*values, dtype=np.float32):
    return _t(np.array(values, dtype).reshape(1, 1, -1))


def test_pad_edge_cases():
    assert _np(F.pad(_v(1, 2, 3, 4), (-1, 2))).ravel().tolist() == [2, 3, 4, 0, 0]      # 31
    assert F.pad(_v(1, 2, 3, 4), (-2, -2)).shape == (1, 1, 0)
    assert _np(F.pad(_v(1, 2, 3, 4), (3, 3), mode="reflect")).ravel().tolist() == [
        4, 3, 2, 1, 2, 3, 4, 3, 2, 1]                                                   # 32
    assert _np(F.pad(_v(1, 2, 3, 4), (4, 0), mode="circular")).ravel().tolist() == [
        1, 2, 3, 4, 1, 2, 3, 4]                                                         # 33
    assert _np(F.pad(_v(1, 2, 3, 4), (-1, 1), mode="replicate")).ravel().tolist() == [2, 3, 4, 4]
    assert _np(F.pad(_v(1, 2, 3, 4), (-1, 1), mode="circular")).ravel().tolist() == [2, 3, 4, 2]
    assert _np(F.pad(_v(1, 2, 3, 4), (10, 0), mode="replicate")).ravel().tolist() == [1] * 11 + [
        2, 3, 4]
    assert F.pad(tt.randn(2, 3), (1, 1, 1, 1)).shape == (4, 5)
    assert F.pad(tt.randn(2, 3), (1, 2, 3, 4)).shape == (9, 6)
    xi = _t(np.arange(1, 5, dtype=np.int64).reshape(1, 1, 4))
    assert _np(F.pad(xi, (1, 1), value=2.5)).ravel().tolist() == [2, 1, 2, 3, 4, 2]
    for mode, want in [("reflect", [1, 3, 3, 1]), ("replicate", [3, 1, 1, 3]),
                       ("circular", [2, 2, 2, 2])]:                                       # 36
        a = _t(np.array([1.0, 2, 3, 4]).reshape(1, 1, 4), requires_grad=True)
        F.pad(a, (2, 2), mode=mode).sum().backward()
        assert _np(a.grad).ravel().tolist() == want
    a = _t(np.array([1.0, 2, 3, 4]).reshape(1, 1, 4), requires_grad=True)
    F.pad(a, (-1, 1)).sum().backward()
    assert _np(a.grad).ravel().tolist() == [0, 1, 1, 1]


_COMBOS = ("Supported combinations for non-constant padding:\n"
           "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
           "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
           "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")

BAD_CALLS = [
    (lambda: F.pad(tt.randn(1, 1, 4), (1,)), RuntimeError, "Padding length must be divisible by 2"),
    (lambda: F.pad(tt.randn(1, 4), (1, 1, 1, 1, 1, 1)), RuntimeError,
     "Padding length should be less than or equal to two times the input dimension but got "
     "padding length 6 and input of dimension 2"),
    (lambda: F.pad(_v(1, 2, 3, 4), (-3, -2)), RuntimeError, "narrow(): length must be non-negative."),
    (lambda: F.pad(_v(1, 2, 3, 4), (4, 0), mode="reflect"), RuntimeError,
     "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
     "padding (4, 0) at dimension 2 of input [1, 1, 4]"),
    (lambda: F.pad(tt.randn(2, 3, 4, 5), (1, 1, 1, 1, 3, 3), mode="reflect"), RuntimeError,
     "Argument #8: Padding size should be less than the corresponding input dimension, but got: "
     "padding (3, 3) at dimension 1 of input [2, 3, 4, 5]"),
    (lambda: F.pad(_v(1, 2, 3, 4), (5, 0), mode="circular"), RuntimeError,
     "Padding value causes wrapping around more than once."),
    (lambda: F.pad(tt.randn(1, 1, 3, 3), (1, 1), mode="reflect"), NotImplementedError,
     "Padding size 2 is not supported for 4D input tensor.\n" + _COMBOS),
    (lambda: F.pad(tt.randn(4), (1, 1), mode="reflect"), NotImplementedError,
     "Padding size 2 is not supported for 1D input tensor.\n" + _COMBOS),
    (lambda: F.pad(tt.randn(3, 4), (1, 1, 1, 1), mode="replicate"), NotImplementedError,
     "Padding size 4 is not supported for 2D input tensor."),
    (lambda: F.pad(tt.randn(1, 1, 4), (1, 1), mode="reflect", value=1.0), RuntimeError,
     'Padding mode "reflect" doesn\'t take in value argument'),
    (lambda: F.pad(tt.randn(1, 1, 4), (1, 1), mode="foo"), NotImplementedError,
     "Unrecognised padding mode foo"),
    (lambda: F.pad(tt.randn(1, 1, 0), (1, 1), mode="reflect"), RuntimeError,
     "Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and other non-zero "
     "dimensions for input, but got: [1, 1, 0]"),
    (lambda: F.pad(tt.randn(1, 1, 4), (1.5, 1)), TypeError,
     "pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type float "
     "at pos 0"),
    (lambda: F.pad(tt.randn(1, 1, 4), (-6, 1), mode="replicate"), RuntimeError,
     "input (W: 4) is too small. Calculated output W: -1"),
]


@pytest.mark.parametrize("call,exc,message", BAD_CALLS)
def test_bad_pad_calls(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()
