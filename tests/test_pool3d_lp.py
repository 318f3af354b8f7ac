"""3-D adaptive pools, LP pools and the 1-D/3-D adaptive pool modules against float64
references written from the definitions (tests/reference_nn.py): forward, backward, indices,
ties and NaN, float32 and float64, gradcheck, threads, and PyTorch's messages."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.autograd import gradcheck

import reference_nn as ref
from strategies import layouts


@st.composite
def adaptive3d_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    d, h, w = (draw(st.integers(1, 5)) for _ in range(3))
    od, oh, ow = (draw(st.integers(1, 6)) for _ in range(3))      # up- and down-sampling bins
    assume(n * c * max(d, od) * max(h, oh) * max(w, ow) <= 600)
    return (n, c, d, h, w), (od, oh, ow)


@given(case=adaptive3d_cases(), kind=st.sampled_from(["avg", "max"]),
       dtype=st.sampled_from([np.float32, np.float64]), data=st.data())
def test_adaptive_pool3d_vs_reference(case, kind, dtype, data):
    shape, osize = case
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    a = rng.permutation(np.prod(shape)).reshape(shape).astype(dtype) / 7     # no ties
    x = data.draw(layouts(a))
    x.requires_grad_(True)
    if kind == "avg":
        y = F.adaptive_avg_pool3d(x, osize)
    else:
        y, idx = F.adaptive_max_pool3d(x, osize, return_indices=True)
    ey, eidx = ref.adaptive_pool3d(a.astype(np.float64), osize, kind)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.detach().numpy(), ey, **tol)
    if kind == "max":
        np.testing.assert_array_equal(idx.numpy(), eidx)
    g = rng.standard_normal(ey.shape).astype(dtype)
    y.backward(tt.tensor(g))
    # reference backward: each output's gradient spread over (avg) or sent to (max) its bin
    n, c, d, h, w = shape
    eg = np.zeros(shape)
    bins = [ref._bins(s, o) for s, o in zip((d, h, w), osize)]
    for i0 in range(n):
        for i1 in range(c):
            for i, (d0, d1) in enumerate(bins[0]):
                for j, (h0, h1) in enumerate(bins[1]):
                    for k, (w0, w1) in enumerate(bins[2]):
                        gv = float(g[i0, i1, i, j, k])
                        if kind == "max":
                            flat = eidx[i0, i1, i, j, k]
                            eg[i0, i1, flat // (h * w), (flat // w) % h, flat % w] += gv
                        else:
                            cnt = (d1 - d0) * (h1 - h0) * (w1 - w0)
                            eg[i0, i1, d0:d1, h0:h1, w0:w1] += gv / cnt
    np.testing.assert_allclose(x.grad.numpy(), eg, **tol)


def test_adaptive_max_pool3d_ties_nan_and_unbatched():
    x = tt.ones(1, 1, 2, 2, 2)
    y, idx = F.adaptive_max_pool3d(x, 1, return_indices=True)
    assert idx.item() == 0                                   # first maximum wins
    a = np.zeros((1, 1, 2, 2, 2))
    a[0, 0, 0, 1, 0] = np.nan
    a[0, 0, 1, 0, 1] = np.nan
    y, idx = F.adaptive_max_pool3d(tt.tensor(a), 1, return_indices=True)
    assert math.isnan(y.item()) and idx.item() == 5          # last NaN wins
    u = tt.randn(3, 4, 5, 6)
    np.testing.assert_array_equal(F.adaptive_avg_pool3d(u, (2, 3, 2)).numpy(),
                                  F.adaptive_avg_pool3d(u.unsqueeze(0), (2, 3, 2))[0].numpy())
    assert F.adaptive_max_pool3d(u, (2, None, 3)).shape == (3, 2, 5, 3)
    assert F.adaptive_avg_pool3d(tt.randn(0, 2, 3, 3, 3), 2).shape == (0, 2, 2, 2, 2)
    assert F.adaptive_max_pool3d(tt.randn(2, 2, 3, 3, 3), 0).shape == (2, 2, 0, 0, 0)
    one = F.adaptive_avg_pool3d(u, 1)
    np.testing.assert_allclose(one.numpy(), u.numpy().mean(axis=(1, 2, 3), keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_adaptive_pool3d_gradcheck_and_threads():
    rng = np.random.default_rng(0)
    a = rng.permutation(1 * 2 * 3 * 3 * 4).reshape(1, 2, 3, 3, 4) / 10.0
    for fn in (lambda x: F.adaptive_avg_pool3d(x, (2, 2, 3)),
               lambda x: F.adaptive_max_pool3d(x, (2, 2, 2)),
               lambda x: F.adaptive_avg_pool3d(x, (4, 2, 5))):
        assert gradcheck(fn, (tt.tensor(a, requires_grad=True),))
    big = tt.randn(4, 8, 9, 10, 11)
    old = tt.get_num_threads()
    try:
        tt.set_num_threads(1)
        r1 = F.adaptive_avg_pool3d(big, (4, 3, 5)).numpy(), F.adaptive_max_pool3d(big, 3).numpy()
        tt.set_num_threads(2)
        r2 = F.adaptive_avg_pool3d(big, (4, 3, 5)).numpy(), F.adaptive_max_pool3d(big, 3).numpy()
    finally:
        tt.set_num_threads(old)
    for u, v in zip(r1, r2):
        np.testing.assert_array_equal(u, v)


@given(n=st.integers(1, 2), c=st.integers(1, 2), length=st.integers(1, 9), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.sampled_from([1.0, 2.0, 3.0, 1.5]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 999))
def test_lp_pool1d_vs_reference(n, c, length, k, s, p, dtype, seed):
    assume(length >= k)
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.1, 3, (n, c, length)).astype(dtype)     # positive: any p is real
    x = tt.tensor(a, requires_grad=True)
    y = F.lp_pool1d(x, p, k, s)
    tol = dict(rtol=1e-9) if dtype == np.float64 else dict(rtol=1e-4)
    np.testing.assert_allclose(y.detach().numpy(), ref.lp_pool1d(a, p, k, s), **tol)
    y.sum().backward()
    # d/dx_j of (sum x^p)^(1/p) = x_j^(p-1) * (sum x^p)^(1/p - 1), summed over windows
    eg = np.zeros(a.shape)
    o = (length - k) // s + 1
    for i0 in range(n):
        for i1 in range(c):
            for i in range(o):
                win = a[i0, i1, i * s:i * s + k].astype(np.float64)
                tot = (win ** p).sum()
                eg[i0, i1, i * s:i * s + k] += win ** (p - 1) * tot ** (1 / p - 1)
    np.testing.assert_allclose(x.grad.numpy(), eg, **tol)


def test_lp_pool2d_vs_reference_gradcheck_and_zero_windows():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.1, 2, (1, 2, 4, 5))
    for p, k, s in ((2.0, (2, 3), (2, 2)), (1.5, (3, 2), (1, 2)), (3.0, 2, None)):
        kk = k if isinstance(k, tuple) else (k, k)
        ss = kk if s is None else s
        y = F.lp_pool2d(tt.tensor(a), p, k, s)
        np.testing.assert_allclose(y.numpy(), ref.lp_pool2d(a, p, kk, ss), rtol=1e-10)
        assert gradcheck(lambda x: F.lp_pool2d(x, p, k, s), (tt.tensor(a, requires_grad=True),))
    # a window of zeros gets a zero gradient (PyTorch's rule), not NaN
    x = tt.tensor([[[0.0, 0.0, 3.0, -4.0]]], requires_grad=True)
    y = F.lp_pool1d(x, 2, 2)
    assert y.tolist() == [[[0.0, 5.0]]]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[[0, 0, 0.6, -0.8]]])
    # p = 1 sums signed values; inf is max pooling of |x|
    assert F.lp_pool1d(tt.tensor([[[1.0, -2.0, 3.0, -4.0]]]), 1, 2).tolist() == [[[-1.0, -1.0]]]
    assert F.lp_pool2d(tt.tensor([[[[1.0, -5.0], [2.0, 3.0]]]]), float("inf"), 2).item() == 5.0
    assert F.lp_pool2d(tt.randn(3, 6, 6), 2, 3).shape == (3, 2, 2)
    assert F.lp_pool1d(tt.randn(6, 6), 2, 3).shape == (6, 2)


def test_modules_and_reprs():
    assert repr(nn.AdaptiveAvgPool1d(3)) == "AdaptiveAvgPool1d(output_size=3)"
    assert repr(nn.AdaptiveAvgPool3d((2, None, 3))) == "AdaptiveAvgPool3d(output_size=(2, None, 3))"
    assert repr(nn.AdaptiveMaxPool1d(3, True)) == "AdaptiveMaxPool1d(output_size=3)"
    assert repr(nn.AdaptiveMaxPool3d(2)) == "AdaptiveMaxPool3d(output_size=2)"
    assert repr(nn.LPPool1d(2, 3)) == "LPPool1d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    assert repr(nn.LPPool2d(1.5, (2, 3), 1, True)) == \
        "LPPool2d(norm_type=1.5, kernel_size=(2, 3), stride=1, ceil_mode=True)"
    x = tt.randn(2, 3, 7)
    np.testing.assert_array_equal(nn.AdaptiveAvgPool1d(3)(x).numpy(),
                                  F.adaptive_avg_pool1d(x, 3).numpy())
    out, idx = nn.AdaptiveMaxPool1d(3, return_indices=True)(x)
    assert idx.dtype is tt.int64 and out.shape == (2, 3, 3)
    v = tt.randn(2, 3, 4, 5, 6)
    assert nn.AdaptiveAvgPool3d(1)(v).shape == (2, 3, 1, 1, 1)
    assert len(nn.AdaptiveMaxPool3d(2, True)(v)) == 2
    np.testing.assert_allclose(nn.LPPool2d(2, 2)(tt.ones(1, 1, 4, 4)).numpy(), 2.0)
    np.testing.assert_allclose(nn.LPPool1d(2, 4)(tt.ones(1, 1, 4)).numpy(), 2.0)


BAD = [
    (lambda: F.adaptive_avg_pool3d(tt.randn(2, 3, 4, 5, 6).long(), 2), NotImplementedError,
     "\"adaptive_avg_pool3d_cpu\" not implemented for 'Long'"),
    (lambda: F.adaptive_max_pool3d(tt.ones(2, 3, 4, 5, 6, dtype=tt.int64), 2), NotImplementedError,
     "\"adaptive_max_pool3d_cpu\" not implemented for 'Long'"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(3, 4, 5), 2), RuntimeError,
     r"adaptive_avg_pool3d\(\): Expected 4D or 5D tensor, but got \[3, 4, 5\]"),
    (lambda: F.adaptive_max_pool3d(tt.randn(3, 4, 5), 2), RuntimeError,
     r"adaptive_max_pool3d\(\): Expected 4D or 5D tensor, but got: \[3, 4, 5\]"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(2, 3, 4, 5, 6), -1), RuntimeError,
     r"adaptive_avg_pool3d: elements of output_size must be greater than or equal to 0 but "
     r"received \{-1, -1,-1\}"),
    (lambda: F.adaptive_max_pool3d(tt.randn(2, 3, 4, 5, 6), -1), RuntimeError,
     r"Trying to create tensor with negative dimension -1: \[2, 3, -1, -1, -1\]"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(2, 3, 0, 5, 6), 2), RuntimeError,
     r"adaptive_avg_pool3d\(\): Expected input to have non-zero size for non-batch dimensions, "
     r"but input has sizes \[2, 3, 0, 5, 6\] with dimension 2 being empty"),
    (lambda: F.adaptive_max_pool3d(tt.randn(2, 3, 0, 5, 6), 2), RuntimeError,
     r"adaptive_max_pool3d\(\): Expected input to have non-zero size"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(2, 3, 4, 5, 6), (2, 2)), RuntimeError,
     "adaptive_avg_pool3d: output_size must be 3"),
    (lambda: F.adaptive_max_pool3d(tt.randn(2, 3, 4, 5, 6), (2, 2)), RuntimeError,
     r"adaptive_max_pool3d\(\): internal error: output_size.size\(\) must be 3"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(2, 3, 4, 5, 6).long(), 1), RuntimeError,
     r"mean\(\): could not infer output dtype"),
    (lambda: F.adaptive_avg_pool3d(tt.randn(4, 5), (None, 2, 3)), ValueError,
     "Input dimension should be at least 4"),
    (lambda: F.adaptive_avg_pool3d([1.0], 2), TypeError,
     r"adaptive_avg_pool3d\(\): argument 'input' \(position 1\) must be Tensor, not list"),
    (lambda: F.lp_pool2d(tt.randn(6, 6), 2, 3), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)"),
    (lambda: F.lp_pool1d(tt.randn(6), 2, 3), RuntimeError,
     r"Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' "
     r"\(while checking arguments for avg_pool1d\)"),
    (lambda: F.lp_pool2d(tt.randn(2, 3, 2, 2), 2, 3), RuntimeError,
     r"Given input size: \(3x2x2\). Calculated output size: \(3x0x0\). Output size is too small"),
    (lambda: F.lp_pool2d(tt.randn(2, 3, 6, 6), 2, (3,)), ValueError,
     r"not enough values to unpack \(expected 2, got 1\)"),
]


@pytest.mark.parametrize("call,exc,pattern", BAD)
def test_bad_input_messages(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
