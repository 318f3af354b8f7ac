"""The Winograd convolutions over 6x6 patches, F(4x4, 3x3) and F(2x2, 5x5)
(tinytensor/_kernels/conv_winograd6.pyx and c/tt_winograd6.inc): against the naive reference
(tests/reference_conv.py) under hypothesis, on every ISA variant this CPU runs, forward, input
gradient (the flipped convolution, which runs it too where it applies) and weight gradient;
both kernels with uneven padding on each side and channel counts that do and do not fill a
vector or a GEMM panel, every output written once; bits that do not depend on the thread
count or the block size; where the plan uses them; and the kernels' refusals.

They round more than summing directly (their transforms hold 4, 5, 8, 16 and 1/6; relative
errors ~1e-5 of the largest output in float32), hence the tolerance: relative to the largest
reference value, not to each."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor.nn.functional as F
from tinytensor._functions import conv_plan
from tinytensor._kernels import conv_winograd6 as KW6
import reference_conv as ref
from variants import VARIANTS, on_variant
from winograd_tolerance import check_paths_against_reference, close


@st.composite
def cases(draw):
    """3x3 and 5x5 stride-1 convolutions of float32 planes: padding 0 to r - 1, planes of one
    tile or several (ragged at the end), channels below and above a vector (16 lanes) and a
    GEMM panel (32 output channels on AVX-512)."""
    r = draw(st.sampled_from((3, 5)))
    n = draw(st.integers(1, 2))
    c, m = draw(st.integers(1, 18)), draw(st.integers(1, 34))
    pad = draw(st.integers(0, r - 1))
    h, w = (draw(st.integers(max(1, r - 2 * pad), 10)) for _ in range(2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.uniform(-1, 1, m) if draw(st.booleans()) else None
    return (rng.uniform(-1, 1, (n, c, h, w)), rng.uniform(-1, 1, (m, c, r, r)), bias, pad,
            rng.uniform(-1, 1, (n, m, h + 2 * pad - r + 1, w + 2 * pad - r + 1)))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(case=cases())
@pytest.mark.parametrize("input_grad", ("flipped", "winograd6"))
def test_winograd6_matches_reference(variant, input_grad, case):
    x, w, b, pad, go = case
    with on_variant(variant):
        check_paths_against_reference(F.conv2d, x, w, b, go, pad,
                                      ("winograd6", input_grad, "winograd6"))


def scratch(x, w, out_hw, n_threads):
    work, shared = KW6.scratch_sizes(x.shape[0], x.shape[1], w.shape[0], *out_hw, w.shape[2])
    return np.empty((n_threads, work), np.float32), np.empty(shared, np.float32)


def kernels(x, w, b, gy, pads, n_threads=1):
    """(y, gx, gw) of winograd6_forward, winograd6_input_grad and winograd6_weight_grad on 4-D
    arrays (cast to float32), pads (top, bottom, left, right); y and gw start as NaN, gx as
    zeros (the kernel adds into it)."""
    top, bottom, left, right = pads
    n, c, h, wd = x.shape
    m, r = w.shape[0], w.shape[2]
    y = np.full((n, m, 1, h + top + bottom - r + 1, wd + left + right - r + 1), np.nan,
                np.float32)
    gw = np.full((m, c, 1, r, r), np.nan, np.float32)
    bias = np.zeros(0, np.float32) if b is None else b.astype(np.float32)
    geo = conv_plan.geometry((1, 1), (top, left), (1, 1), (bottom, right))
    x5 = np.ascontiguousarray(x[:, :, None], np.float32)
    KW6.winograd6_forward(x5, np.ascontiguousarray(w[:, :, None], np.float32), bias,
                          b is not None, y, *scratch(x, w, y.shape[3:], n_threads), geo,
                          n_threads)
    gy5 = np.ascontiguousarray(gy[:, :, None], np.float32)
    KW6.winograd6_weight_grad(x5, gy5, gw, *scratch(x, w, y.shape[3:], n_threads), geo,
                              n_threads)
    gx = np.zeros_like(x5)
    wt = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, None], np.float32)
    KW6.winograd6_input_grad(gy5, wt, gx, *scratch(gy, wt[:, :, 0], y.shape[3:], n_threads), geo,
                             n_threads)
    return y[:, :, 0], gx[:, :, 0], gw[:, :, 0]


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(data=st.data())
def test_kernels_with_uneven_padding(variant, data):
    """Every output written once, for different padding on each side."""
    r = data.draw(st.sampled_from((3, 5)))
    pads = tuple(data.draw(st.integers(0, r)) for _ in range(4))
    h = data.draw(st.integers(max(1, r - pads[0] - pads[1]), 10))
    wd = data.draw(st.integers(max(1, r - pads[2] - pads[3]), 10))
    n, c, m = (data.draw(st.integers(1, k)) for k in (2, 18, 34))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, w, b = rng.uniform(-1, 1, (n, c, h, wd)), rng.uniform(-1, 1, (m, c, r, r)), None
    if data.draw(st.booleans()):
        b = rng.uniform(-1, 1, m)
    gy = rng.uniform(-1, 1, (n, m, h + pads[0] + pads[1] - r + 1, wd + pads[2] + pads[3] - r + 1))
    with on_variant(variant):
        y, gx, gw = kernels(x, w, b, gy, pads)
    args = ((1, 1), (pads[:2], pads[2:]), (1, 1), 1)
    close(y, ref.conv_forward(x, w, b, *args))
    rgx, rgw, _ = ref.conv_backward(x, w, gy, *args)
    close(gx, rgx)
    close(gw, rgw)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("r", (3, 5))
def test_bits_do_not_depend_on_threads_or_blocks(variant, r, monkeypatch):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 20, 9, 7)), rng.standard_normal((34, 20, r, r))
    b, gy = rng.standard_normal(34), rng.standard_normal((3, 34, 12 - r, 10 - r))
    with on_variant(variant):
        one = kernels(x, w, b, gy, (1, 1, 1, 1), 1)
        assert all(np.array_equal(a, c) for a, c in zip(one, kernels(x, w, b, gy,
                                                                     (1, 1, 1, 1), 2)))
        # the forward's and the input gradient's bits do not depend on the blocks either; the
        # weight gradient's sums do (a block's products, then the blocks in order: fixed by
        # the shapes)
        monkeypatch.setattr(KW6, "BLOCK_FLOATS", 1)          # one tile per block
        y3, gx3, gw3 = kernels(x, w, b, gy, (1, 1, 1, 1), 2)
        assert np.array_equal(one[0], y3) and np.array_equal(one[1], gx3)
        assert np.array_equal(gw3, kernels(x, w, b, gy, (1, 1, 1, 1), 1)[2])
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    close(one[0], ref.conv_forward(x, w, b, *args))
    rgx, rgw, _ = ref.conv_backward(x, w, gy, *args)
    close(gx3, rgx)
    close(gw3, rgw)


def test_plan_uses_winograd6_on_small_planes():
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    for c, h in ((128, 16), (256, 8), (512, 4)):           # ResNet-18's later stages
        p = conv_plan.plan((32, c, 1, h, h), (c, c, 1, 3, 3), geo, 1, np.float32, 1)
        assert (p.forward, p.input_grad, p.weight_grad) == ("winograd6", "flipped", "winograd6")
    # LeNet's second convolution (S3): the flipped convolution would multiply mostly padding,
    # so the input gradient is the forward's adjoint
    s3 = conv_plan.plan((64, 32, 1, 8, 8), (64, 32, 1, 5, 5),
                        conv_plan.geometry((1, 1), (0, 0), (1, 1), (0, 0)), 1, np.float32, 1)
    assert (s3.forward, s3.input_grad, s3.weight_grad) == ("winograd6",) * 3
    # wider planes keep F(2x2, 3x3); float64, few channels, strides, groups and 7x7 never
    assert conv_plan.plan((32, 64, 1, 32, 32), (64, 64, 1, 3, 3), geo, 1, np.float32,
                          1).forward == "winograd"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 64, 1, 3, 3), geo, 1, np.float64,
                          1).forward != "winograd6"
    assert conv_plan.plan((2, 3, 1, 8, 8), (64, 3, 1, 3, 3), geo, 1, np.float32,
                          1).forward != "winograd6"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 64, 1, 3, 3),
                          conv_plan.geometry((2, 2), (1, 1), (1, 1), (1, 1)), 1, np.float32,
                          1).forward != "winograd6"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 32, 1, 3, 3), geo, 2, np.float32,
                          1).forward != "winograd6"
    assert conv_plan.plan((2, 64, 1, 8, 8), (64, 64, 1, 7, 7),
                          conv_plan.geometry((1, 1), (3, 3), (1, 1), (3, 3)), 1, np.float32,
                          1).forward != "winograd6"


def test_kernels_refuse_inconsistent_calls():
    x = np.zeros((1, 4, 1, 6, 6), np.float32)
    w = np.zeros((5, 4, 1, 3, 3), np.float32)
    y = np.zeros((1, 5, 1, 6, 6), np.float32)
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    wk, sh = scratch(x[:, :, 0], w[:, :, 0], (6, 6), 1)
    none = np.zeros(0, np.float32)
    KW6.winograd6_forward(x, w, none, False, y, wk, sh, geo, 1)           # consistent
    bad = [
        (x, w, none, False, np.zeros((1, 5, 1, 6, 5), np.float32), geo),
        (x, np.zeros((5, 3, 1, 3, 3), np.float32), none, False, y, geo),
        (x, np.zeros((5, 4, 1, 3, 2), np.float32), none, False, y, geo),
        (x, np.zeros((5, 4, 1, 5, 5), np.float32), none, False, y, geo),
        (x, w, np.zeros(4, np.float32), True, y, geo),
        (np.zeros((1, 0, 1, 6, 6), np.float32), np.zeros((5, 0, 1, 3, 3), np.float32), none,
         False, y, geo),
        (x, w, none, False, y, conv_plan.geometry((1, 1), (1, 1), (1, 1), (2, 2))),
    ]
    for args in bad:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW6.winograd6_forward(*args[:5], wk, sh, args[5], 1)
    for g in (conv_plan.geometry((1, 2), (1, 1), (1, 1), (1, 1)),
              conv_plan.geometry((1, 1), (1, 1), (1, 2), (1, 1))):
        with pytest.raises(ValueError, match="not a stride-1"):
            KW6.winograd6_forward(x, w, none, False, y, wk, sh, g, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW6.winograd6_forward(x, w, none, False, y, wk, sh[:-1], geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW6.winograd6_forward(x, w, none, False, y, wk, sh, geo, 2)
    gw = np.zeros((5, 4, 1, 3, 3), np.float32)
    KW6.winograd6_weight_grad(x, y, gw, wk, sh, geo, 1)                    # consistent
    for xx, gy, g in [(x, y[:, :4].copy(), gw), (x, y, gw[:, :3].copy()),
                      (x, y, np.zeros((5, 4, 1, 3, 2), np.float32)),
                      (x, np.zeros((2, 5, 1, 6, 6), np.float32), gw)]:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW6.winograd6_weight_grad(xx, gy, g, wk, sh, geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW6.winograd6_weight_grad(x, y, gw, wk, sh[:-1], geo, 1)
    gx = np.zeros_like(x)
    wt = np.zeros((4, 5, 1, 3, 3), np.float32)
    wk, sh = scratch(y[:, :, 0], wt[:, :, 0], (6, 6), 1)     # (U^T is packed by input channel)
    KW6.winograd6_input_grad(y, wt, gx, wk, sh, geo, 1)                      # consistent
    for gy, t, g in [(y[:, :4].copy(), wt, gx), (y, wt[:3].copy(), gx), (y, w, gx),
                     (y, wt, np.zeros((1, 4, 1, 6, 5), np.float32))]:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW6.winograd6_input_grad(gy, t, g, wk, sh, geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW6.winograd6_input_grad(y, wt, gx, wk, sh[:-1], geo, 1)
    with pytest.raises(ValueError, match="kernels of 3x3 or 5x5"):
        KW6.scratch_sizes(1, 4, 5, 6, 6, 7)
