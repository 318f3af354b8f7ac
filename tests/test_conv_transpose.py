"""conv_transpose1d/2d/3d and nn.ConvTranspose* against the naive reference
(tests/reference_conv_transpose.py): forward, every gradient, the adjoint identity with conv,
gradcheck, thread-count reproducibility, output_size, construction and the bad calls."""
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import reference_conv_transpose as ref

CT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
DTYPES = {"float32": np.float32, "float64": np.float64}
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-9)}


def arr(t):
    return np.array(t.detach()._numpy())


def leaf(a, dtype="float64"):
    return tt.tensor(np.asarray(a, DTYPES[dtype]), requires_grad=True)


@st.composite
def cases(draw, nsp=2, max_terms=10_000):
    """Valid by construction: output_padding below stride or dilation, outputs of >= 1."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    ks = [draw(st.integers(1, 4)) for _ in range(nsp)]
    stride = [draw(st.integers(1, 3)) for _ in range(nsp)]
    dil = [draw(st.integers(1, 3)) for _ in range(nsp)]
    pad = [draw(st.integers(0, 3)) for _ in range(nsp)]
    opad = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dil)]
    sizes = [draw(st.integers(1, 4)) for _ in range(nsp)]
    outs = [ref.out_len(*a) for a in zip(sizes, ks, stride, pad, opad, dil)]
    assume(min(outs) >= 1)
    n = draw(st.integers(0, 2))
    terms = max(n, 1) * cin * (cout // groups) * int(np.prod(ks)) * int(np.prod(sizes))
    assume(terms <= max_terms)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return dict(x=rng.uniform(-1, 1, (n, cin, *sizes)),
                w=rng.uniform(-1, 1, (cin, cout // groups, *ks)),
                b=rng.uniform(-1, 1, cout) if draw(st.booleans()) else None,
                kw=dict(stride=tuple(stride), padding=tuple(pad), output_padding=tuple(opad),
                        dilation=tuple(dil), groups=groups),
                rng=rng)


def check(case, nsp, dtype):
    x, w = leaf(case["x"], dtype), leaf(case["w"], dtype)
    b = None if case["b"] is None else leaf(case["b"], dtype)
    y = CT[nsp](x, w, b, **case["kw"])
    gy = case["rng"].uniform(-1, 1, y.shape)
    y.backward(tt.tensor(gy.astype(DTYPES[dtype])))
    kw = case["kw"]
    args = (kw["stride"], kw["padding"], kw["output_padding"], kw["dilation"], kw["groups"])
    np.testing.assert_allclose(arr(y), ref.conv_transpose_forward(case["x"], case["w"],
                                                                  case["b"], *args), **TOL[dtype])
    rgx, rgw, rgb = ref.conv_transpose_backward(case["x"], case["w"], gy, *args)
    np.testing.assert_allclose(arr(x.grad), rgx, **TOL[dtype])
    np.testing.assert_allclose(arr(w.grad), rgw, **TOL[dtype])
    if b is not None:
        np.testing.assert_allclose(arr(b.grad), rgb, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=cases(nsp=2))
def test_conv_transpose2d_matches_reference(case, dtype):
    check(case, 2, dtype)


@settings(max_examples=30)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=cases(nsp=1))
def test_conv_transpose1d_matches_reference(case, dtype):
    check(case, 1, dtype)


@settings(max_examples=10)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=cases(nsp=3, max_terms=4_000))
def test_conv_transpose3d_matches_reference(case, dtype):
    check(case, 3, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", [
    ((3, 16, 5, 6), (16, 8, 4, 4), dict(stride=2, padding=1)),              # DCGAN-like
    ((2, 12, 7, 9), (12, 6, 2, 2), dict(stride=2)),                        # U-Net-like
    ((2, 8, 6, 5), (8, 4, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 6, 9, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),              # stride 1: flipped conv
    ((2, 4, 20, 24), (4, 1, 3, 3), dict(groups=4, padding=1)),             # depthwise: direct
])
def test_wider_shapes_on_every_path(xs, ws, kw, dtype):
    """Shapes with enough channels for the convolution's panel and GEMM paths."""
    rng = np.random.default_rng(sum(xs))
    case = dict(x=rng.uniform(-1, 1, xs), w=rng.uniform(-1, 1, ws), b=rng.uniform(-1, 1, ws[1]
                * kw.get("groups", 1)), rng=rng,
                kw=dict(dict(stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                             dilation=(1, 1), groups=1), **{k: (v, v) if k != "groups" else v
                                                            for k, v in kw.items()}))
    check(case, 2, dtype)


@given(case=cases(nsp=2, max_terms=4_000))
def test_adjoint_of_conv(case):
    """<conv_transpose(x, w), y> == <x, conv(y, w)> when output_padding is zero."""
    kw = dict(case["kw"], output_padding=(0, 0))
    assume(min(ref.out_len(s, k, st_, p, 0, d) for s, k, st_, p, d in zip(
        case["x"].shape[2:], case["w"].shape[2:], kw["stride"], kw["padding"],
        kw["dilation"])) >= 1)
    x = tt.tensor(case["x"])
    w = tt.tensor(case["w"])
    yt = F.conv_transpose2d(x, w, **kw)
    y = case["rng"].uniform(-1, 1, yt.shape)
    back = F.conv2d(tt.tensor(y), w, stride=kw["stride"], padding=kw["padding"],
                    dilation=kw["dilation"], groups=kw["groups"])
    assert back.shape == x.shape
    assert np.isclose(float((arr(yt) * y).sum()), float((case["x"] * arr(back)).sum()),
                      rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("nsp,xs,ws,kw", [
    (1, (2, 4, 3), (4, 1, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (2, (1, 2, 3, 2), (2, 3, 2, 3), dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2))),
    (2, (2, 3, 2, 3), (3, 2, 3, 3), dict(dilation=2, output_padding=1)),
    (3, (1, 2, 2, 2, 2), (2, 2, 2, 1, 2), dict(stride=2, output_padding=(1, 0, 1))),
])
def test_gradcheck(nsp, xs, ws, kw):
    rng = np.random.default_rng(sum(xs))
    x, w = leaf(rng.standard_normal(xs)), leaf(rng.standard_normal(ws))
    b = leaf(rng.standard_normal(ws[1] * kw.get("groups", 1)))
    assert tt.autograd.gradcheck(lambda x, w, b: CT[nsp](x, w, b, **kw), (x, w, b))


def test_needs_input_grad_only_what_is_asked():
    rng = np.random.default_rng(5)
    x, w = tt.tensor(rng.standard_normal((2, 3, 4, 4))), leaf(rng.standard_normal((3, 2, 3, 3)))
    F.conv_transpose2d(x, w, stride=2).sum().backward()
    assert x.grad is None and w.grad is not None
    x2, b = leaf(arr(x)), tt.tensor(np.zeros(2))
    F.conv_transpose2d(x2, tt.tensor(arr(w)), b).sum().backward()
    assert x2.grad is not None and b.grad is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", [
    ((8, 64, 6, 6), (64, 32, 4, 4), dict(stride=2, padding=1)),
    ((4, 32, 12, 12), (32, 16, 2, 2), dict(stride=2)),
    ((4, 16, 10, 10), (16, 16, 3, 3), dict(padding=1, output_padding=0)),
])
def test_one_and_two_threads_bitwise_equal(xs, ws, kw, dtype, threads):
    rng = np.random.default_rng(11)
    x0, w0, b0 = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1])
    results = []
    for n in (1, 2):
        threads(n)
        x, w, b = leaf(x0, dtype), leaf(w0, dtype), leaf(b0, dtype)
        y = F.conv_transpose2d(x, w, b, **kw)
        (y * y).sum().backward()
        results.append([arr(t) for t in (y, x.grad, w.grad, b.grad)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_unbatched_zero_batch_and_zero_output_channels():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    y = F.conv_transpose2d(tt.tensor(x), tt.tensor(w), stride=2)
    assert tuple(y.shape) == (2, 9, 11)
    np.testing.assert_allclose(arr(y), arr(F.conv_transpose2d(tt.tensor(x[None]), tt.tensor(w),
                                                              stride=2))[0])
    x0 = leaf(np.zeros((0, 3, 4, 5)))
    w0 = leaf(w)
    y0 = F.conv_transpose2d(x0, w0, stride=2)
    assert tuple(y0.shape) == (0, 2, 9, 11)
    y0.sum().backward()
    assert not arr(w0.grad).any()
    assert tuple(F.conv_transpose1d(tt.zeros(1, 2, 3), tt.zeros(2, 0, 2)).shape) == (1, 0, 4)


def test_module_shapes_repr_and_init():
    m = nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=1, groups=2, bias=False, dilation=2)
    assert repr(m) == ("ConvTranspose2d(4, 4, kernel_size=(3, 3), stride=(2, 2), dilation=(2, 2), "
                       "output_padding=(1, 1), groups=2, bias=False)")
    assert repr(nn.ConvTranspose1d(4, 6, 3)) == "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(1,))"
    up = nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1)
    assert tuple(up.weight.shape) == (8, 6, 4, 4) and tuple(up.bias.shape) == (6,)
    bound = 1 / np.sqrt(6 * 16)
    assert np.abs(arr(up.weight)).max() <= bound and np.abs(arr(up.bias)).max() <= bound
    assert tuple(up(tt.randn(1, 8, 4, 4)).shape) == (1, 6, 8, 8)
    assert tuple(up(tt.randn(1, 8, 4, 4), output_size=(9, 9)).shape) == (1, 6, 9, 9)
    assert tuple(up(tt.randn(8, 4, 4), output_size=(6, 9, 8)).shape) == (6, 9, 8)
    m3 = nn.ConvTranspose3d(2, 3, 2, stride=2)
    assert tuple(m3(tt.randn(1, 2, 2, 3, 1)).shape) == (1, 3, 4, 6, 2)
    m1 = nn.ConvTranspose1d(2, 3, 3, stride=3)
    assert tuple(m1(tt.randn(1, 2, 4), output_size=[12]).shape) == (1, 3, 12)


@pytest.mark.parametrize("make,exc,pattern", [
    (lambda: nn.ConvTranspose2d(4, 2, 3, padding_mode="reflect"), ValueError,
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    (lambda: nn.ConvTranspose2d(4, 2, 3, groups=3), ValueError,
     "in_channels must be divisible by groups"),
    (lambda: nn.ConvTranspose2d(4, 2, 3, groups=0), ValueError,
     "groups must be a positive integer"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2)(tt.randn(1, 4, 3, 3), output_size=(9, 9)),
     ValueError, r"requested an output size of \(9, 9\), but valid sizes range from \[7, 7\] "
                 r"to \[8, 8\]"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2)(tt.randn(1, 4, 3, 3), output_size=(1, 4, 9)),
     ValueError, r"ConvTranspose2D: for 4D input, output_size must have 2 or 4 elements \(got 3\)"),
])
def test_module_errors(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def _z(*s):
    return tt.zeros(*s)


X, W = _z(1, 4, 3, 3), _z(4, 2, 3, 3)


@pytest.mark.parametrize("call,exc,text", [
    (lambda: F.conv_transpose2d(X, W, stride=2, output_padding=2), RuntimeError,
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 "
     "dilation_height: 1 dilation_width: 1"),
    (lambda: F.conv_transpose1d(_z(1, 4, 3), _z(4, 2, 3), stride=2, output_padding=2),
     RuntimeError, "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 0 output_padding_width: 2 stride_height: 1 stride_width: 2"),
    (lambda: F.conv_transpose2d(X, W, padding=5), RuntimeError,
     "Given input size per channel: (3 x 3). Calculated output size per channel: (-5 x -5). "
     "Output size is too small"),
    (lambda: F.conv_transpose1d(_z(1, 4, 3), _z(4, 2, 3), padding=5), RuntimeError,
     "Given input size per channel: (1 x 3). Calculated output size per channel: (1 x -5)."),
    (lambda: F.conv_transpose2d(_z(1, 5, 3, 3), W), RuntimeError,
     "Given transposed=1, weight of size [4, 2, 3, 3], expected input[1, 5, 3, 3] to have 4 "
     "channels, but got 5 channels instead"),
    (lambda: F.conv_transpose2d(X, W, groups=3), RuntimeError,
     "Given groups=3, expected weight to be divisible by 3 at dimension 0"),
    (lambda: F.conv_transpose2d(X, W, bias=_z(3)), RuntimeError,
     "Given transposed=1, weight of size [4, 2, 3, 3], expected bias to be 1-dimensional with "
     "2 elements, but got bias of size [3] instead"),
    (lambda: F.conv_transpose2d(X, W, stride=0), RuntimeError,
     "non-positive stride is not supported"),
    (lambda: F.conv_transpose2d(_z(4, 3), W), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of "
     "size: [4, 3]"),
    (lambda: F.conv_transpose2d(X, W, padding=-1), RuntimeError,
     "negative padding is not supported"),
    (lambda: F.conv_transpose2d(X, W, output_padding=-1), RuntimeError,
     "negative output_padding is not supported"),
    (lambda: F.conv_transpose2d(X, W, dilation=(1, 0)), RuntimeError,
     "dilation should be greater than zero, but got dilation_height: 1, dilation_width: 0"),
    (lambda: F.conv_transpose2d(X, W, stride=(1, 2, 3)), RuntimeError,
     "expected stride to be a single integer value or a list of 2 values"),
    (lambda: F.conv_transpose2d(X, W, stride=1.5), TypeError,
     "conv_transpose2d(): argument 'stride'"),
    (lambda: F.conv_transpose2d(X, W, groups=1.0), TypeError,
     "conv_transpose2d(): argument 'groups'"),
    (lambda: F.conv_transpose2d(1, W), TypeError,
     "conv_transpose2d(): argument 'input' (position 1) must be Tensor, not int"),
    (lambda: F.conv_transpose2d(X, W.double()), RuntimeError,
     "expected scalar type Float but found Double"),
    (lambda: F.conv_transpose2d(_z(1, 4, 0, 3), W), RuntimeError,
     "Only zero batch or zero channel inputs are supported, but got input shape: [1, 4, 0, 3]"),
    (lambda: F.conv_transpose2d(X, _z(4, 2, 0, 3)), RuntimeError,
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 3"),
    (lambda: F.conv_transpose2d(X, _z(4, 2)), RuntimeError,
     "weight should have at least three dimensions"),
    (lambda: F.conv_transpose2d(X, W, groups=0), RuntimeError,
     "non-positive groups is not supported"),
    (lambda: F.conv_transpose2d(X, W, groups=8), RuntimeError,
     "Given groups=8, expected weight to be at least 8 at dimension 0"),
    (lambda: F.conv_transpose2d(X.long(), W.long()), RuntimeError,
     "conv_transpose2d: tinytensor convolutions support float32 and float64"),
])
def test_bad_calls(call, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        call()
