"""The Winograd F(4x4, 3x3) convolution path (tinytensor/_kernels/conv_winograd4.pyx and
c/tt_winograd4.inc): against the naive reference (tests/reference_conv.py) under hypothesis, on
every ISA variant this CPU runs, forward and input gradient (the flipped convolution, which
runs it too); the kernel with uneven padding on each side and channel counts that do and do
not fill a vector or a GEMM panel, every output written once; bits that do not depend on the
thread count or the block size; where the plan uses it; and the kernel's refusals.

F(4x4, 3x3) rounds more than summing directly (its transforms hold 4, 5, 8 and 1/6; relative
errors ~1e-5 of the largest output in float32), hence the tolerance: relative to the largest
reference value, not to each."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._functions import conv_plan
from tinytensor._kernels import conv_winograd4 as KW4
import reference_conv as ref
from variants import VARIANTS, on_variant


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def arr(t):
    return np.array(t.detach()._numpy())


@st.composite
def cases(draw):
    """3x3 stride-1 convolutions of float32 planes: padding 0 to 2, planes of one tile or
    several (ragged at the end), channels below and above a vector (16 lanes) and a GEMM
    panel (32 output channels on AVX-512)."""
    n = draw(st.integers(1, 2))
    c, m = draw(st.integers(1, 18)), draw(st.integers(1, 34))
    pad = draw(st.integers(0, 2))
    h, w = (draw(st.integers(max(1, 3 - 2 * pad), 10)) for _ in range(2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.uniform(-1, 1, m) if draw(st.booleans()) else None
    return (rng.uniform(-1, 1, (n, c, h, w)), rng.uniform(-1, 1, (m, c, 3, 3)), bias, pad,
            rng.uniform(-1, 1, (n, m, h + 2 * pad - 2, w + 2 * pad - 2)))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(case=cases())
def test_winograd4_matches_reference(variant, case):
    x, w, b, pad, go = case
    p = ((pad, pad), (pad, pad))
    with on_variant(variant), conv_plan.force(forward="winograd4", input_grad="flipped"):
        plan = conv_plan.plan((x.shape[0], x.shape[1], 1) + x.shape[2:], (w.shape[0],
                              w.shape[1], 1, 3, 3), conv_plan.geometry((1, 1), (pad, pad),
                              (1, 1), (pad, pad)), 1, np.float32, 1)
        assert plan.forward == "winograd4"
        xt = tt.tensor(x.astype(np.float32), requires_grad=True)
        wt = tt.tensor(w.astype(np.float32))
        bt = None if b is None else tt.tensor(b.astype(np.float32))
        y = F.conv2d(xt, wt, bt, padding=pad)
        y.backward(tt.tensor(go.astype(np.float32)))
    close(arr(y), ref.conv_forward(x, w, b, (1, 1), p, (1, 1), 1))
    close(arr(xt.grad), ref.conv_backward(x, w, go, (1, 1), p, (1, 1), 1)[0])


def kernel(x, w, b, pads, n_threads=1):
    """winograd4_forward on 4-D float32 arrays, pads (top, bottom, left, right); y starts
    as NaN."""
    top, bottom, left, right = pads
    n, c, h, wd = x.shape
    m = w.shape[0]
    y = np.full((n, m, 1, h + top + bottom - 2, wd + left + right - 2), np.nan, np.float32)
    bias = np.zeros(0, np.float32) if b is None else b.astype(np.float32)
    geo = conv_plan.geometry((1, 1), (top, left), (1, 1), (bottom, right))
    work, shared = KW4.scratch_sizes(n, c, m, *y.shape[3:])
    KW4.winograd4_forward(np.ascontiguousarray(x[:, :, None], np.float32),
                          np.ascontiguousarray(w[:, :, None], np.float32), bias, b is not None,
                          y, np.empty((n_threads, work), np.float32),
                          np.empty(shared, np.float32), geo, n_threads)
    return y[:, :, 0]


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(data=st.data())
def test_kernel_with_uneven_padding(variant, data):
    """Every output written once, for different padding on each side."""
    pads = tuple(data.draw(st.integers(0, 3)) for _ in range(4))
    h = data.draw(st.integers(max(1, 3 - pads[0] - pads[1]), 10))
    wd = data.draw(st.integers(max(1, 3 - pads[2] - pads[3]), 10))
    n, c, m = (data.draw(st.integers(1, k)) for k in (2, 18, 34))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, w, b = rng.uniform(-1, 1, (n, c, h, wd)), rng.uniform(-1, 1, (m, c, 3, 3)), None
    if data.draw(st.booleans()):
        b = rng.uniform(-1, 1, m)
    with on_variant(variant):
        y = kernel(x, w, b, pads)
    close(y, ref.conv_forward(x, w, b, (1, 1), (pads[:2], pads[2:]), (1, 1), 1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_bits_do_not_depend_on_threads_or_blocks(variant, monkeypatch):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 20, 9, 7)), rng.standard_normal((34, 20, 3, 3))
    b = rng.standard_normal(34)
    with on_variant(variant):
        one = kernel(x, w, b, (1, 1, 1, 1), 1)
        assert np.array_equal(one, kernel(x, w, b, (1, 1, 1, 1), 2))
        monkeypatch.setattr(KW4, "BLOCK_FLOATS", 1)          # one tile per block
        assert np.array_equal(one, kernel(x, w, b, (1, 1, 1, 1), 2))
    close(one, ref.conv_forward(x, w, b, (1, 1), ((1, 1), (1, 1)), (1, 1), 1))


def test_plan_uses_winograd4_on_small_planes():
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    for c, h in ((128, 16), (256, 8), (512, 4)):           # ResNet-18's later stages
        p = conv_plan.plan((32, c, 1, h, h), (c, c, 1, 3, 3), geo, 1, np.float32, 1)
        assert (p.forward, p.input_grad) == ("winograd4", "flipped")
        assert p.weight_grad != "winograd4"
    # wider planes keep F(2x2, 3x3); float64, few channels, strides and groups never use it
    assert conv_plan.plan((32, 64, 1, 32, 32), (64, 64, 1, 3, 3), geo, 1, np.float32,
                          1).forward == "winograd"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 64, 1, 3, 3), geo, 1, np.float64,
                          1).forward != "winograd4"
    assert conv_plan.plan((2, 3, 1, 8, 8), (64, 3, 1, 3, 3), geo, 1, np.float32,
                          1).forward != "winograd4"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 64, 1, 3, 3),
                          conv_plan.geometry((2, 2), (1, 1), (1, 1), (1, 1)), 1, np.float32,
                          1).forward != "winograd4"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 32, 1, 3, 3), geo, 2, np.float32,
                          1).forward != "winograd4"


def test_kernel_refuses_inconsistent_calls():
    x = np.zeros((1, 4, 1, 6, 6), np.float32)
    w = np.zeros((5, 4, 1, 3, 3), np.float32)
    y = np.zeros((1, 5, 1, 6, 6), np.float32)
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    work, shared = KW4.scratch_sizes(1, 4, 5, 6, 6)
    wk, sh = np.empty((1, work), np.float32), np.empty(shared, np.float32)
    none = np.zeros(0, np.float32)
    KW4.winograd4_forward(x, w, none, False, y, wk, sh, geo, 1)           # consistent
    bad = [
        (x, w, none, False, np.zeros((1, 5, 1, 6, 5), np.float32), geo),
        (x, np.zeros((5, 3, 1, 3, 3), np.float32), none, False, y, geo),
        (x, np.zeros((5, 4, 1, 3, 2), np.float32), none, False, y, geo),
        (x, w, np.zeros(4, np.float32), True, y, geo),
        (np.zeros((1, 0, 1, 6, 6), np.float32), np.zeros((5, 0, 1, 3, 3), np.float32), none,
         False, y, geo),
    ]
    for args in bad:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW4.winograd4_forward(*args[:5], wk, sh, args[5], 1)
    for g in (conv_plan.geometry((1, 2), (1, 1), (1, 1), (1, 1)),
              conv_plan.geometry((1, 1), (1, 1), (1, 2), (1, 1))):
        with pytest.raises(ValueError, match="not a stride-1"):
            KW4.winograd4_forward(x, w, none, False, y, wk, sh, g, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW4.winograd4_forward(x, w, none, False, y, wk, sh[:-1], geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW4.winograd4_forward(x, w, none, False, y, wk, sh, geo, 2)
