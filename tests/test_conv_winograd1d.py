"""The 1-D Winograd convolutions over 10-sample windows, F(8, 3), F(6, 5) and F(4, 7)
(tinytensor/_kernels/conv_winograd1d.pyx and c/tt_winograd1d.inc): against the naive reference
(tests/reference_conv.py) under hypothesis, on every ISA variant this CPU runs, forward, input
gradient (the flipped convolution, which runs it too) and weight gradient; both kernels with
uneven padding, signals of one tile or many blocks, channel counts that do and do not fill a
GEMM panel, every output written once; bits that do not depend on the thread count (nor, for
the forward, on the block size); where the plan uses them; and the kernels' refusals.

Their transforms hold 273/16, 9/4 and 1/315, so they round more than summing directly (relative
errors ~1e-5 of the largest output in float32), hence the tolerance: relative to the largest
reference value, not to each."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor.nn.functional as F
from tinytensor._functions import conv_plan
from tinytensor._kernels import conv_winograd1d as KW1
from variants import VARIANTS, on_variant
from winograd_tolerance import check_paths_against_reference, close


def geo1d(left, right):
    return conv_plan.geometry((1, 1, 1), (0, 0, left), (1, 1, 1), (0, 0, right))


@st.composite
def cases(draw):
    """3-, 5- and 7-tap stride-1 convolutions of float32 signals: padding 0 to r - 1, signals
    of one tile to a few vectors of tiles (ragged at the end), channels below and above a GEMM
    panel (32 output channels on AVX-512)."""
    r = draw(st.sampled_from((3, 5, 7)))
    n = draw(st.integers(1, 2))
    c, m = draw(st.integers(1, 18)), draw(st.integers(1, 34))
    pad = draw(st.integers(0, r - 1))
    length = draw(st.integers(max(1, r - 2 * pad), 90))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.uniform(-1, 1, m) if draw(st.booleans()) else None
    return (rng.uniform(-1, 1, (n, c, length)), rng.uniform(-1, 1, (m, c, r)), bias, pad,
            rng.uniform(-1, 1, (n, m, length + 2 * pad - r + 1)))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(case=cases())
def test_winograd1d_matches_reference(variant, case):
    x, w, b, pad, go = case
    with on_variant(variant):
        check_paths_against_reference(F.conv1d, x, w, b, go, pad,
                                      ("winograd1d", "flipped", "winograd1d"))


def windowed(x, w, b, pads):
    """The convolution as a sum over sliding windows in float64 (the naive reference's plain
    loops take minutes over the long signals below; test_winograd1d_matches_reference holds
    this path to them)."""
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), pads))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2], axis=2)  # n, c, i, j
    y = np.einsum("ncij,ocj->noi", win, np.asarray(w, np.float64))
    return y if b is None else y + np.asarray(b, np.float64)[:, None]


def windowed_weight_grad(x, gy, r, pads):
    """The weight gradient as sums over sliding windows in float64."""
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), pads))
    win = np.lib.stride_tricks.sliding_window_view(xp, r, axis=2)          # n, c, i, j
    return np.einsum("ncij,noi->ocj", win, np.asarray(gy, np.float64))


def scratch(n, c, m, out_len, r, n_threads):
    own, shared = KW1.scratch_sizes(n, c, m, out_len, r)
    return np.empty((n_threads, own), np.float32), np.empty(shared, np.float32)


def kernels(x, w, b, gy, pads, n_threads=1):
    """(y, gw) of winograd1d_forward and winograd1d_weight_grad on 3-D arrays (cast to
    float32), pads (left, right); both start as NaN."""
    left, right = pads
    n, c, length = x.shape
    m, r = w.shape[0], w.shape[2]
    y = np.full((n, m, 1, 1, length + left + right - r + 1), np.nan, np.float32)
    gw = np.full((m, c, 1, 1, r), np.nan, np.float32)
    x5 = np.ascontiguousarray(x[:, :, None, None], np.float32)
    KW1.winograd1d_forward(x5, np.ascontiguousarray(w[:, :, None, None], np.float32),
                           np.zeros(0, np.float32) if b is None else b.astype(np.float32),
                           b is not None, y, *scratch(n, c, m, y.shape[4], r, n_threads),
                           geo1d(left, right), n_threads)
    KW1.winograd1d_weight_grad(x5, np.ascontiguousarray(gy[:, :, None, None], np.float32), gw,
                               *scratch(n, c, m, y.shape[4], r, n_threads), geo1d(left, right),
                               n_threads)
    return y[:, :, 0, 0], gw[:, :, 0, 0]


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(data=st.data())
def test_kernel_with_uneven_padding(variant, data):
    """Every output written once, for different padding on each side and signals of up to
    several blocks."""
    r = data.draw(st.sampled_from((3, 5, 7)))
    pads = (data.draw(st.integers(0, r)), data.draw(st.integers(0, r)))
    length = data.draw(st.integers(max(1, r - sum(pads)), 3000))
    n, c, m = (data.draw(st.integers(1, k)) for k in (2, 18, 34))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, w = rng.uniform(-1, 1, (n, c, length)), rng.uniform(-1, 1, (m, c, r))
    b = rng.uniform(-1, 1, m) if data.draw(st.booleans()) else None
    gy = rng.uniform(-1, 1, (n, m, length + sum(pads) - r + 1))
    with on_variant(variant):
        y, gw = kernels(x, w, b, gy, pads)
    close(y, windowed(x, w, b, pads))
    close(gw, windowed_weight_grad(x, gy, r, pads))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("r", (3, 5, 7))
def test_bits_do_not_depend_on_threads_or_blocks(variant, r, monkeypatch):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 20, 2500)), rng.standard_normal((34, 20, r)), None
    gy = rng.standard_normal((3, 34, 2504 - r))
    with on_variant(variant):
        y, gw = kernels(x, w, b, gy, (2, 1), 1)
        y2, gw2 = kernels(x, w, b, gy, (2, 1), 2)
        assert np.array_equal(y, y2) and np.array_equal(gw, gw2)
        # the forward's bits do not depend on the blocks either; the weight gradient's sums
        # do (a block's products, then the blocks of a part in order: fixed by the shapes)
        monkeypatch.setattr(KW1, "BLOCK_FLOATS", 1)          # one panel of tiles per block
        y3, gw3 = kernels(x, w, b, gy, (2, 1), 2)
        assert np.array_equal(y, y3)
        assert np.array_equal(gw3, kernels(x, w, b, gy, (2, 1), 1)[1])
    close(y, windowed(x, w, b, (2, 1)))
    close(gw3, windowed_weight_grad(x, gy, r, (2, 1)))


def test_plan_uses_winograd1d_for_long_signals():
    s7 = conv_plan.plan((32, 16, 1, 1, 1024), (32, 16, 1, 1, 7), geo1d(3, 3), 1, np.float32, 1)
    assert (s7.forward, s7.input_grad, s7.weight_grad) == ("winograd1d", "flipped", "winograd1d")
    # ... whose flipped input gradient (32 -> 16 channels) runs it too
    assert conv_plan.plan((32, 32, 1, 1, 1024), (16, 32, 1, 1, 7), geo1d(3, 3), 1, np.float32,
                          1).forward == "winograd1d"
    p = conv_plan.plan((8, 64, 1, 1, 256), (64, 64, 1, 1, 5), geo1d(2, 2), 1, np.float32, 1)
    assert (p.forward, p.weight_grad) == ("winograd1d", "winograd1d")
    # not for short signals, few channels, float64, strides, dilation, groups, planes
    never = [((8, 64, 1, 1, 40), (64, 64, 1, 1, 7), geo1d(3, 3), 1, np.float32),
             ((8, 8, 1, 1, 512), (64, 8, 1, 1, 7), geo1d(3, 3), 1, np.float32),
             ((8, 64, 1, 1, 512), (64, 64, 1, 1, 7), geo1d(3, 3), 1, np.float64),
             ((8, 64, 1, 1, 512), (64, 64, 1, 1, 7),
              conv_plan.geometry((1, 1, 2), (0, 0, 3), (1, 1, 1), (0, 0, 3)), 1, np.float32),
             ((8, 64, 1, 1, 512), (64, 64, 1, 1, 7),
              conv_plan.geometry((1, 1, 1), (0, 0, 3), (1, 1, 2), (0, 0, 3)), 1, np.float32),
             ((8, 64, 1, 1, 512), (64, 32, 1, 1, 7), geo1d(3, 3), 2, np.float32),
             ((8, 64, 1, 32, 32), (64, 64, 1, 1, 7),
              conv_plan.geometry((1, 1, 1), (0, 0, 3), (1, 1, 1), (0, 0, 3)), 1, np.float32)]
    for xs, ws, g, groups, dtype in never:
        p = conv_plan.plan(xs, ws, g, groups, dtype, 1)
        assert "winograd1d" not in (p.forward, p.weight_grad)


def test_kernel_refuses_inconsistent_calls():
    x = np.zeros((2, 4, 1, 1, 20), np.float32)
    w = np.zeros((5, 4, 1, 1, 7), np.float32)
    y = np.zeros((2, 5, 1, 1, 20), np.float32)
    geo = geo1d(3, 3)
    wk, sh = scratch(2, 4, 5, 20, 7, 1)
    none = np.zeros(0, np.float32)
    KW1.winograd1d_forward(x, w, none, False, y, wk, sh, geo, 1)           # consistent
    bad = [
        (x, w, none, False, np.zeros((2, 5, 1, 1, 19), np.float32), geo),
        (x, w, none, False, np.zeros((1, 5, 1, 1, 20), np.float32), geo),
        (x, np.zeros((5, 3, 1, 1, 7), np.float32), none, False, y, geo),
        (x, np.zeros((6, 4, 1, 1, 7), np.float32), none, False, y, geo),
        (x, w, np.zeros(4, np.float32), True, y, geo),
        (np.zeros((2, 0, 1, 1, 20), np.float32), np.zeros((5, 0, 1, 1, 7), np.float32), none,
         False, y, geo),
        (np.zeros((2, 4, 1, 2, 20), np.float32), w, none, False, y, geo),
        (x, w, none, False, y, conv_plan.geometry((1, 1, 1), (0, 1, 3), (1, 1, 1), (0, 0, 3))),
        (x, w, none, False, y, geo1d(2, 3)),
    ]
    for args in bad:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW1.winograd1d_forward(*args[:5], wk, sh, args[5], 1)
    for g in (conv_plan.geometry((1, 1, 2), (0, 0, 3), (1, 1, 1), (0, 0, 3)),
              conv_plan.geometry((1, 1, 1), (0, 0, 3), (1, 1, 2), (0, 0, 3))):
        with pytest.raises(ValueError, match="not a stride-1"):
            KW1.winograd1d_forward(x, w, none, False, y, wk, sh, g, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW1.winograd1d_forward(x, w, none, False, y, wk, sh[:-1], geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW1.winograd1d_forward(x, w, none, False, y, wk[:, :-1], sh, geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW1.winograd1d_forward(x, w, none, False, y, wk, sh, geo, 2)
    gw = np.zeros((5, 4, 1, 1, 7), np.float32)
    KW1.winograd1d_weight_grad(x, y, gw, wk, sh, geo, 1)                   # consistent
    for xx, gy, g in [(x, y[:, :4].copy(), gw), (x, y, gw[:, :3].copy()),
                      (x, y, np.zeros((5, 4, 1, 1, 6), np.float32)),
                      (x, np.zeros((1, 5, 1, 1, 20), np.float32), gw),
                      (x, np.zeros((2, 5, 1, 1, 21), np.float32), gw)]:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW1.winograd1d_weight_grad(xx, gy, g, wk, sh, geo, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW1.winograd1d_weight_grad(x, y, gw, wk, sh[:-1], geo, 1)
    with pytest.raises(ValueError, match="kernels of 3, 5 or 7 taps"):
        KW1.scratch_sizes(2, 4, 5, 20, 4)
