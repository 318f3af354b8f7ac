"""interpolate / Upsample and pixel_shuffle / PixelShuffle against the naive reference
(tests/reference_upsample.py): forward and backward, float32 and float64, gradcheck, the
index rules on known cases, reprs and the bad calls."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import reference_upsample as ref

DTYPES = {"float32": np.float32, "float64": np.float64}
TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def arr(t):
    return np.array(t.detach()._numpy())


@st.composite
def cases(draw):
    nsp = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", LINEAR[nsp]]))
    sp = tuple(draw(st.integers(1, 5)) for _ in range(nsp))
    kw, scales = {}, None
    if draw(st.booleans()):
        out = tuple(draw(st.integers(1, 9)) for _ in range(nsp))
        kw["size"] = out
    else:
        sf = tuple(draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 1 / 3, 2.5, 0.75]))
                   for _ in range(nsp))
        out = tuple(int(n * s) for n, s in zip(sp, sf))
        if min(out) < 1:
            sf = tuple(max(s, 1.0) for s in sf)
            out = tuple(int(n * s) for n, s in zip(sp, sf))
        kw["scale_factor"] = sf
        if draw(st.booleans()):
            kw["recompute_scale_factor"] = True
        else:
            scales = list(sf)
    align = False
    if mode == LINEAR[nsp] and draw(st.booleans()):
        kw["align_corners"] = align = True
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return dict(x=rng.uniform(-1, 1, (n, c) + sp), mode=mode, kw=kw, out=out, scales=scales,
                align=align, gy=rng.uniform(-1, 1, (n, c) + out))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=cases())
def test_interpolate_matches_reference(case, dtype):
    x = tt.tensor(case["x"].astype(DTYPES[dtype]), requires_grad=True)
    y = F.interpolate(x, mode=case["mode"], **case["kw"])
    assert tuple(y.shape) == case["x"].shape[:2] + case["out"]
    y.backward(tt.tensor(case["gy"].astype(DTYPES[dtype])))
    ey, egx = ref.interpolate(case["x"], case["out"], case["mode"], case["scales"],
                              case["align"], case["gy"])
    np.testing.assert_allclose(arr(y), ey, **TOL[dtype])
    np.testing.assert_allclose(arr(x.grad), egx, **TOL[dtype])


@pytest.mark.parametrize("mode,xs,kw", [
    ("linear", (2, 2, 3), dict(size=7)),
    ("bilinear", (1, 2, 3, 4), dict(scale_factor=(1.5, 0.75))),
    ("bilinear", (1, 1, 4, 3), dict(size=(2, 5), align_corners=True)),
    ("trilinear", (1, 1, 2, 3, 2), dict(scale_factor=2)),
    ("nearest", (1, 2, 3, 4), dict(size=(5, 7))),
    ("nearest-exact", (2, 1, 5), dict(scale_factor=0.6)),
])
def test_gradcheck(mode, xs, kw):
    x = tt.tensor(np.random.default_rng(sum(xs)).standard_normal(xs), requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: F.interpolate(x, mode=mode, **kw), (x,))


def test_index_rules_on_known_cases():
    x = tt.arange(5.).reshape(1, 1, 5)
    # legacy nearest: floor(dst * 5 / 3) -> 0, 1, 3; nearest-exact: floor((dst + .5) * 5 / 3)
    assert arr(F.interpolate(x, size=3)).ravel().tolist() == [0, 1, 3]
    assert arr(F.interpolate(x, size=3, mode="nearest-exact")).ravel().tolist() == [0, 2, 4]
    # a given scale_factor defines the coordinates (1 / 0.6), not in / out
    assert arr(F.interpolate(x, scale_factor=0.6)).ravel().tolist() == [0, 1, 3]
    y = F.interpolate(tt.tensor([[[1., 2.]]]), scale_factor=2, mode="linear")
    assert arr(y).ravel().tolist() == [1.0, 1.25, 1.75, 2.0]
    y = F.interpolate(tt.tensor([[[1., 2.]]]), size=4, mode="linear", align_corners=True)
    np.testing.assert_allclose(arr(y).ravel(), [1, 4 / 3, 5 / 3, 2], rtol=1e-6)
    # recompute_scale_factor: size floor(5 * 1.7) = 8 and coordinates from 5 / 8
    a = F.interpolate(x, scale_factor=1.7, mode="linear", recompute_scale_factor=True)
    b = F.interpolate(x, size=8, mode="linear")
    np.testing.assert_array_equal(arr(a), arr(b))


@settings(max_examples=30)
@given(r=st.integers(1, 3), c=st.integers(1, 2), h=st.integers(1, 3), w=st.integers(1, 3),
       batch=st.lists(st.integers(1, 2), max_size=2))
def test_pixel_shuffle_and_unshuffle_match_reference(r, c, h, w, batch):
    rng = np.random.default_rng(r * 100 + c * 10 + h + w)
    x = rng.standard_normal(tuple(batch) + (c * r * r, h, w))
    t = tt.tensor(x, requires_grad=True)
    y = F.pixel_shuffle(t, r)
    np.testing.assert_array_equal(arr(y), ref.pixel_shuffle(x, r))
    g = rng.standard_normal(tuple(y.shape))
    y.backward(tt.tensor(g))
    np.testing.assert_array_equal(arr(t.grad), ref.pixel_unshuffle(g, r))
    np.testing.assert_array_equal(arr(F.pixel_unshuffle(y, r)), x)


def test_modules():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True)) == \
        "Upsample(size=(3, 4), mode='bilinear')"
    assert repr(nn.UpsamplingNearest2d(scale_factor=2)) == \
        "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"
    assert repr(nn.UpsamplingBilinear2d(size=5)) == "UpsamplingBilinear2d(size=5, mode='bilinear')"
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    x = tt.randn(1, 2, 3, 4)
    np.testing.assert_array_equal(arr(nn.UpsamplingBilinear2d(scale_factor=2)(x)),
                                  arr(F.interpolate(x, scale_factor=2, mode="bilinear",
                                                    align_corners=True)))
    assert tuple(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(tt.zeros(1, 8, 3, 3))).shape) == \
        (1, 8, 3, 3)
    with pytest.warns(UserWarning, match="deprecated"):
        F.upsample(x, scale_factor=2)


X = tt.zeros(1, 2, 3, 3)


@pytest.mark.parametrize("call,exc,text", [
    (lambda: F.interpolate(tt.zeros(1, 2, 3), size=0), RuntimeError,
     "Input and output sizes should be greater than 0, but got input (W: 3) and output (W: 0)"),
    (lambda: F.interpolate(X, scale_factor=0.2), RuntimeError,
     "Input and output sizes should be greater than 0, but got input (H: 3, W: 3) output "
     "(H: 0, W: 0)"),
    (lambda: F.interpolate(X, size=(2, -1)), RuntimeError,
     "but got input (H: 3, W: 3) output (H: 2, W: -1)"),
    (lambda: F.interpolate(X, mode="foo", size=2), NotImplementedError,
     "Input Error: Only 3D, 4D and 5D input Tensors supported (got 4D) for the modes: nearest | "
     "linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got foo)"),
    (lambda: F.interpolate(tt.zeros(2, 3), size=2), NotImplementedError,
     "Input Error: Only 3D, 4D and 5D input Tensors supported (got 2D)"),
    (lambda: F.interpolate(X, size=2, mode="linear"), NotImplementedError,
     "Got 4D input, but linear mode needs 3D input"),
    (lambda: F.interpolate(X, size=2, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda: F.interpolate(X, size=2, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda: F.interpolate(X), ValueError, "either size or scale_factor should be defined"),
    (lambda: F.interpolate(X, size=(2, 2, 2)), ValueError,
     "Input and output must have the same number of spatial dimensions, but got input with "
     "spatial dimensions of [3, 3] and output size of (2, 2, 2)"),
    (lambda: F.interpolate(X, scale_factor=(2, 2, 2)), ValueError,
     "Input and scale_factor must have the same number of spatial dimensions"),
    (lambda: F.interpolate(X, size=2, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor is not meaningful with an explicit size."),
    (lambda: F.interpolate(X, size=(2.5, 2)), TypeError, "expected size to be one of int"),
    (lambda: F.interpolate(X.long(), size=2), NotImplementedError,
     "\"upsample_nearest2d\" not implemented for 'Long'"),
    (lambda: F.pixel_shuffle(tt.zeros(2, 3), 2), RuntimeError,
     "pixel_shuffle expects input to have at least 3 dimensions, but got input with 2 "
     "dimension(s)"),
    (lambda: F.pixel_shuffle(tt.zeros(1, 3, 2, 2), 2), RuntimeError,
     "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
     "upscale_factor, but input.size(-3)=3 is not divisible by 4"),
    (lambda: F.pixel_shuffle(tt.zeros(1, 4, 2, 2), 0), RuntimeError,
     "pixel_shuffle expects a positive upscale_factor, but got 0"),
    (lambda: F.pixel_shuffle(tt.zeros(1, 4, 2, 2), 2.0), TypeError,
     "pixel_shuffle(): argument 'upscale_factor' (position 2) must be int, not float"),
    (lambda: F.pixel_unshuffle(tt.zeros(1, 4, 3, 2), 2), RuntimeError,
     "pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=3 "
     "is not divisible by 2"),
    (lambda: F.pixel_unshuffle(tt.zeros(1, 4, 2, 3), 2), RuntimeError,
     "pixel_unshuffle expects width to be divisible by downscale_factor"),
    (lambda: F.pixel_unshuffle(tt.zeros(1, 4, 2, 2), -1), RuntimeError,
     "pixel_unshuffle expects a positive downscale_factor, but got -1"),
])
def test_bad_calls(call, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        call()
