"""unfold/fold against the naive reference: values, gradients, the adjoint identity, layouts,
threads, and the bad calls."""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
import reference_conv as ref

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}
NP = {"float32": np.float32, "float64": np.float64}


def arr(t):
    return np.array(t.detach()._numpy())


@st.composite
def fold_cases(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    size = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, 4))
                 for kk, dd, pp in zip(k, d, p))
    n, c = draw(st.integers(0, 2)), draw(st.integers(1, 3))
    return dict(n=n, c=c, size=size, k=k, d=d, p=p, s=s, seed=draw(st.integers(0, 2**32 - 1)),
                batched=draw(st.booleans()) or n != 1)


def _kw(case):
    return dict(kernel_size=case["k"], dilation=case["d"], padding=case["p"], stride=case["s"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=fold_cases())
def test_unfold_and_fold_match_reference(case, dtype):
    rng = np.random.default_rng(case["seed"])
    x = rng.uniform(-1, 1, (case["n"], case["c"]) + case["size"])
    args = (case["k"], case["d"], case["p"], case["s"])
    cols = ref.unfold(x, *args)
    xt = tt.tensor(x.astype(NP[dtype]) if case["batched"] else x[0].astype(NP[dtype]),
                   requires_grad=True)
    u = F.unfold(xt, **_kw(case))
    got = arr(u) if case["batched"] else arr(u)[None]
    np.testing.assert_allclose(got, cols, **TOL[dtype])
    g = rng.uniform(-1, 1, cols.shape)
    u.backward(tt.tensor((g if case["batched"] else g[0]).astype(NP[dtype])))
    gx = arr(xt.grad) if case["batched"] else arr(xt.grad)[None]
    np.testing.assert_allclose(gx, ref.fold(g, case["size"], *args), **TOL[dtype])
    # fold: forward is col2im, backward is im2col
    ct = tt.tensor(g.astype(NP[dtype]) if case["batched"] else g[0].astype(NP[dtype]),
                   requires_grad=True)
    f = F.fold(ct, case["size"], **_kw(case))
    got = arr(f) if case["batched"] else arr(f)[None]
    np.testing.assert_allclose(got, ref.fold(g, case["size"], *args), **TOL[dtype])
    f.backward(tt.tensor(x.astype(NP[dtype]) if case["batched"] else x[0].astype(NP[dtype])))
    gc = arr(ct.grad) if case["batched"] else arr(ct.grad)[None]
    np.testing.assert_allclose(gc, cols, **TOL[dtype])


@given(case=fold_cases())
def test_adjoint_identity(case):
    """sum(unfold(x) * c) == sum(x * fold(c)): fold is unfold's adjoint."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"]) + case["size"])
    u = arr(F.unfold(tt.tensor(x), **_kw(case)))
    c = rng.standard_normal(u.shape)
    f = arr(F.fold(tt.tensor(c), case["size"], **_kw(case)))
    assert np.isclose((u * c).sum(), (x * f).sum(), rtol=1e-12, atol=1e-12)


def test_fold_sums_overlaps():
    out = F.fold(tt.ones(1, 4, 4), (3, 3), 2)
    assert arr(out).squeeze().tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    x = tt.tensor(np.arange(12.0).reshape(1, 1, 3, 4))
    u = F.unfold(x, 2)
    assert tuple(u.shape) == (1, 4, 6)
    assert arr(u)[0, :, 0].tolist() == [0, 1, 4, 5]


def test_gradcheck():
    rng = np.random.default_rng(0)
    x = tt.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: F.unfold(x, (2, 3), padding=1, stride=(2, 1)), (x,))
    c = tt.tensor(rng.standard_normal((2, 8, 4)), requires_grad=True)
    assert tt.autograd.gradcheck(lambda c: F.fold(c, (3, 4), 2, dilation=(1, 2)), (c,))


def test_layouts_and_threads(threads):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 7, 6))
    base = tt.tensor(np.ascontiguousarray(a.transpose(2, 0, 3, 1)))
    view = base.permute(1, 3, 0, 2)
    results = []
    for n in (1, 2):
        threads(n)
        results.append((arr(F.unfold(view, 3, padding=1)), arr(F.unfold(tt.tensor(a), 3, padding=1)),
                        arr(F.fold(tt.tensor(rng.standard_normal((3, 36, 42)) * 0 + 1), (7, 6), 3,
                                   padding=1))))
    np.testing.assert_array_equal(results[0][0], results[0][1])
    for r1, r2 in zip(*results):
        np.testing.assert_array_equal(r1, r2)


def test_zero_batch():
    assert tuple(F.unfold(tt.zeros(0, 3, 5, 6), 2).shape) == (0, 12, 20)
    assert tuple(F.fold(tt.zeros(0, 12, 20), (5, 6), 2).shape) == (0, 3, 5, 6)


X = tt.zeros(1, 3, 5, 6)
C = tt.zeros(2, 12, 20)
BAD_CALLS = [
    (lambda: F.unfold(X, 0), RuntimeError,
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 0"),
    (lambda: F.unfold(X, 2, stride=0, dilation=0), RuntimeError,
     "dilation should be greater than zero, but got dilation_height: 0 dilation_width: 0"),
    (lambda: F.unfold(X, 2, stride=0, padding=-1), RuntimeError,
     "padding should be non-negative, but got pad_height: -1 pad_width: -1"),
    (lambda: F.unfold(X, 2, stride=0), RuntimeError,
     "stride should be greater than zero, but got stride_height: 0 stride_width: 0"),
    (lambda: F.unfold(X, 7), RuntimeError,
     "Given input with spatial size (5, 6), kernel_size=(7, 7), dilation=(1, 1), padding=(0, 0), "
     "calculated shape of the array of sliding blocks as (-1, 0), but its components must be at "
     "least one."),
    (lambda: F.unfold(X, (2, 2, 2)), RuntimeError, "It is expected kernel_size equals to 2, but got size 3"),
    (lambda: F.unfold(X, 2, padding=(1, 1, 1), dilation=(1, 1, 1)), RuntimeError,
     "It is expected dilation equals to 2, but got size 3"),
    (lambda: F.unfold(X, 2.0), TypeError,
     "im2col(): argument 'kernel_size' (position 2) must be tuple of ints, but found element of "
     "type float at pos 0"),
    (lambda: F.unfold(tt.zeros(1, 1, 3, 5, 6), 2), RuntimeError,
     "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
     "dimensions for input, but got: [1, 1, 3, 5, 6]"),
    (lambda: F.unfold(tt.zeros(1, 0, 5, 6), 2), RuntimeError, "but got: [1, 0, 5, 6]"),
    (lambda: F.unfold(tt.zeros(4, 5), 2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda: F.unfold([1.0], 2), TypeError, "im2col(): argument 'input' (position 1) must be Tensor"),
    (lambda: F.unfold(tt.zeros(1, 3, 5, 6, dtype=tt.int64), 2), NotImplementedError,
     "\"im2col_out_cpu\" not implemented for 'Long'"),
    (lambda: F.fold(tt.zeros(1, 2, 12, 20), (5, 6), 2), RuntimeError,
     "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
     "dimensions for input, but got: [1, 2, 12, 20]"),
    (lambda: F.fold(tt.zeros(2, 13, 21), (5, 6), 2), RuntimeError,
     "Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
     "input.size(1)=13 and kernel_size=(2, 2)."),
    (lambda: F.fold(tt.zeros(2, 12, 21), (5, 6), 2), RuntimeError,
     "Given output_size=(5, 6), kernel_size=(2, 2), dilation=(1, 1), padding=(0, 0), "
     "stride=(1, 1), expected size of input's dimension 2 to match the calculated number of "
     "sliding blocks 4 * 5 = 20, but got input.size(2)=21."),
    (lambda: F.fold(tt.zeros(2, 12, 20), (0, 6), 2), RuntimeError, "sliding blocks -1 * 5 = -5"),
    (lambda: F.fold(tt.zeros(2, 9, 1), (1, 1), 3), RuntimeError,
     "calculated shape of the array of sliding blocks as (-1, -1), which is too small "
     "(non-positive)"),
    (lambda: F.fold(C, (5, 6), 0), RuntimeError, "kernel size should be greater than zero"),
    (lambda: F.fold(C, (5, 6), 2, stride=0), RuntimeError, "stride should be greater than zero"),
    (lambda: F.fold(C, (5, 5, 5), 2), RuntimeError, "It is expected output_size equals to 2, but got size 3"),
    (lambda: F.fold(C, (5.0, 6), 2), TypeError,
     "col2im(): argument 'output_size' (position 2) must be tuple of ints, but found element of "
     "type float at pos 0"),
    (lambda: F.fold(tt.zeros(1, 12, 0), (5, 6), 2), RuntimeError, "but got: [1, 12, 0]"),
]


@pytest.mark.parametrize("call,exc,message", BAD_CALLS)
def test_bad_calls(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()
