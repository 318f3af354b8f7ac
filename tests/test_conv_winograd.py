"""The Winograd F(2x2, 3x3) convolution path (tinytensor/_kernels/conv_winograd.pyx and
c/tt_winograd.inc): against the naive reference (tests/reference_conv.py) under hypothesis, on
every ISA variant this CPU runs, forward and both gradients (the input gradient is the
flipped convolution, which runs Winograd too; the weight gradient its own Winograd-domain
kernel); both kernels with uneven padding and odd output sizes; bits that do not depend on
the thread count, the block size or the partial sums; where the plan uses it; and its
kernels' refusals."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._functions import conv_plan
from tinytensor._kernels import conv_winograd as KW
import reference_conv as ref
from variants import VARIANTS, on_variant

TOL = dict(rtol=1e-4, atol=1e-5)


def arr(t):
    return np.array(t.detach()._numpy())


@st.composite
def cases(draw):
    """3x3 convolutions of float32 planes with stride 1: the shapes Winograd takes, odd and
    even output sizes, padding 0 to 2, channels that do and do not fill a tile."""
    n = draw(st.integers(1, 3))
    c, m = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    pad = draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, 3 - 2 * pad), 9)), draw(st.integers(max(1, 3 - 2 * pad), 36))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bias = rng.uniform(-1, 1, m) if draw(st.booleans()) else None
    return (rng.uniform(-1, 1, (n, c, h, w)), rng.uniform(-1, 1, (m, c, 3, 3)), bias, pad,
            rng.uniform(-1, 1, (n, m, h + 2 * pad - 2, w + 2 * pad - 2)))


def run(x, w, b, pad, go):
    xt = tt.tensor(x.astype(np.float32), requires_grad=True)
    wt = tt.tensor(w.astype(np.float32), requires_grad=True)
    bt = None if b is None else tt.tensor(b.astype(np.float32), requires_grad=True)
    y = F.conv2d(xt, wt, bt, padding=pad)
    y.backward(tt.tensor(go.astype(np.float32)))
    return arr(y), arr(xt.grad), arr(wt.grad), None if bt is None else arr(bt.grad)


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(case=cases())
def test_winograd_matches_reference(variant, case):
    x, w, b, pad, go = case
    p = ((pad, pad), (pad, pad))
    with on_variant(variant), conv_plan.force(forward="winograd", input_grad="flipped",
                                              weight_grad="winograd"):
        plan = conv_plan.plan((x.shape[0], x.shape[1], 1) + x.shape[2:], (w.shape[0],
                              w.shape[1], 1, 3, 3), conv_plan.geometry((1, 1), (pad, pad),
                              (1, 1), (pad, pad)), 1, np.float32, 1)
        assert (plan.forward, plan.weight_grad) == ("winograd", "winograd")
        y, gx, gw, gb = run(x, w, b, pad, go)
    np.testing.assert_allclose(y, ref.conv_forward(x, w, b, (1, 1), p, (1, 1), 1), **TOL)
    rgx, rgw, rgb = ref.conv_backward(x, w, go, (1, 1), p, (1, 1), 1)
    np.testing.assert_allclose(gx, rgx, **TOL)
    np.testing.assert_allclose(gw, rgw, **TOL)
    if b is not None:
        np.testing.assert_allclose(gb, rgb, **TOL)


def scratch(n, c, m, oh, ow, n_threads=2):
    return np.empty((n_threads, KW.scratch_size(n, c, m, oh, ow)), np.float32)


def kernel(x, w, b, pads, n_threads=1):
    """winograd_forward on 4-D float32 arrays, pads (top, bottom, left, right)."""
    top, bottom, left, right = pads
    n, c, h, wd = x.shape
    y = np.full((n, w.shape[0], 1, h + top + bottom - 2, wd + left + right - 2), np.nan,
                np.float32)
    bias = np.zeros(0, np.float32) if b is None else b.astype(np.float32)
    geo = conv_plan.geometry((1, 1), (top, left), (1, 1), (bottom, right))
    KW.winograd_forward(np.ascontiguousarray(x[:, :, None], np.float32),
                        KW.weights(w.astype(np.float32)), bias, b is not None, y,
                        scratch(n, c, w.shape[0], *y.shape[3:], n_threads), geo, n_threads)
    return y[:, :, 0]


def kernel_wgrad(x, gy, pads, n_threads=1):
    """winograd_weight_grad on 4-D float64 arrays (cast to float32), pads as in kernel()."""
    top, bottom, left, right = pads
    gw = np.full((gy.shape[1], x.shape[1], 1, 3, 3), np.nan, np.float32)
    geo = conv_plan.geometry((1, 1), (top, left), (1, 1), (bottom, right))
    KW.winograd_weight_grad(np.ascontiguousarray(x[:, :, None], np.float32),
                            np.ascontiguousarray(gy[:, :, None], np.float32), gw,
                            scratch(x.shape[0], x.shape[1], gy.shape[1], *gy.shape[2:],
                                    n_threads), geo, n_threads)
    return gw[:, :, 0]


@pytest.mark.parametrize("variant", VARIANTS)
@settings(deadline=None)
@given(data=st.data())
def test_kernels_with_uneven_padding(variant, data):
    """Every output written once (y starts as NaN), for different padding on each side; the
    weight gradient of the same convolution."""
    pads = tuple(data.draw(st.integers(0, 3)) for _ in range(4))
    h = data.draw(st.integers(max(1, 3 - pads[0] - pads[1]), 12))
    wd = data.draw(st.integers(max(1, 3 - pads[2] - pads[3]), 45))
    n, c, m = (data.draw(st.integers(1, k)) for k in (3, 9, 9))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, w, b = rng.uniform(-1, 1, (n, c, h, wd)), rng.uniform(-1, 1, (m, c, 3, 3)), None
    if data.draw(st.booleans()):
        b = rng.uniform(-1, 1, m)
    gy = rng.uniform(-1, 1, (n, m, h + pads[0] + pads[1] - 2, wd + pads[2] + pads[3] - 2))
    with on_variant(variant):
        y = kernel(x, w, b, pads)
        gw = kernel_wgrad(x, gy, pads)
    args = ((1, 1), (pads[:2], pads[2:]), (1, 1), 1)
    np.testing.assert_allclose(y, ref.conv_forward(x, w, b, *args), **TOL)
    np.testing.assert_allclose(gw, ref.conv_backward(x, w, gy, *args)[1], **TOL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_bits_do_not_depend_on_threads_or_blocks(variant, monkeypatch):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 24, 13, 30)), rng.standard_normal((20, 24, 3, 3)), None
    gy = rng.standard_normal((5, 20, 13, 30))
    with on_variant(variant):
        one = kernel(x, w, b, (1, 1, 1, 1), 1)
        assert np.array_equal(one, kernel(x, w, b, (1, 1, 1, 1), 2))
        gw = kernel_wgrad(x, gy, (1, 1, 1, 1), 1)
        assert np.array_equal(gw, kernel_wgrad(x, gy, (1, 1, 1, 1), 2))
        monkeypatch.setattr(KW, "BLOCK_FLOATS", 1)          # one tile row per block
        monkeypatch.setattr(KW, "MIN_BLOCK_TILES", 1)
        assert KW.block_rows(24, 20, 15) == 1
        assert np.array_equal(one, kernel(x, w, b, (1, 1, 1, 1), 2))
        # the weight gradient's sums depend on the blocks and parts (fixed by the shapes),
        # not on the threads
        assert KW.weight_grad_parts(35, 24, 20) == KW.MAX_PARTS
        small = kernel_wgrad(x, gy, (1, 1, 1, 1), 1)
        assert np.array_equal(small, kernel_wgrad(x, gy, (1, 1, 1, 1), 2))
        np.testing.assert_allclose(small, gw, rtol=1e-4, atol=1e-3)


def test_plan_uses_winograd_where_it_pays():
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    s4 = conv_plan.plan((32, 64, 1, 56, 56), (64, 64, 1, 3, 3), geo, 1, np.float32, 1)
    assert (s4.forward, s4.input_grad, s4.weight_grad) == ("winograd", "flipped", "winograd")
    # not in float64, not for few channels, not for strides, dilations, groups or 5x5
    assert conv_plan.plan((2, 64, 1, 56, 56), (64, 64, 1, 3, 3), geo, 1, np.float64,
                          1).forward != "winograd"
    assert conv_plan.plan((2, 3, 1, 56, 56), (64, 3, 1, 3, 3), geo, 1, np.float32,
                          1).forward != "winograd"
    for g in (conv_plan.geometry((2, 2), (1, 1), (1, 1), (1, 1)),
              conv_plan.geometry((1, 1), (2, 2), (2, 2), (2, 2))):
        assert conv_plan.plan((2, 64, 1, 56, 56), (64, 64, 1, 3, 3), g, 1, np.float32,
                              1).forward != "winograd"
    assert conv_plan.plan((2, 64, 1, 56, 56), (64, 32, 1, 3, 3), geo, 2, np.float32,
                          1).forward != "winograd"
    assert conv_plan.plan((2, 64, 1, 56, 56), (64, 64, 1, 5, 5),
                          conv_plan.geometry((1, 1), (2, 2), (1, 1), (2, 2)), 1, np.float32,
                          1).forward != "winograd"


def test_kernel_refuses_inconsistent_calls():
    x = np.zeros((1, 4, 1, 6, 6), np.float32)
    u = KW.weights(np.zeros((5, 4, 3, 3), np.float32))
    y = np.zeros((1, 5, 1, 6, 6), np.float32)
    geo = conv_plan.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    sc = scratch(1, 4, 5, 6, 6)
    KW.winograd_forward(x, u, np.zeros(0, np.float32), False, y, sc, geo, 1)  # consistent
    bad = [
        (x, u, np.zeros(0, np.float32), False, np.zeros((1, 5, 1, 6, 5), np.float32), geo),
        (x, KW.weights(np.zeros((5, 3, 3, 3), np.float32)), np.zeros(0, np.float32), False, y,
         geo),
        (x, u, np.zeros(4, np.float32), True, y, geo),
        (x, u, np.zeros(0, np.float32), False, y,
         conv_plan.geometry((1, 2), (1, 1), (1, 1), (1, 1))),
        (np.zeros((1, 0, 1, 6, 6), np.float32), KW.weights(np.zeros((5, 0, 3, 3))),
         np.zeros(0, np.float32), False, y, geo),
    ]
    for args in bad:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW.winograd_forward(*args[:5], sc, args[5], 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW.winograd_forward(x, u, np.zeros(0, np.float32), False, y,
                            np.ascontiguousarray(sc[:, :-1]), geo, 1)
    gw = np.zeros((5, 4, 1, 3, 3), np.float32)
    KW.winograd_weight_grad(x, y, gw, sc, geo, 1)                               # consistent
    for xx, gy, g, ge in [(x, y[:, :4].copy(), gw, geo), (x, y, gw[:, :3].copy(), geo),
                          (x, y, np.zeros((5, 4, 1, 3, 2), np.float32), geo),
                          (x, y, gw, conv_plan.geometry((1, 1), (1, 1), (2, 1), (1, 1)))]:
        with pytest.raises(ValueError, match="inconsistent shapes"):
            KW.winograd_weight_grad(xx, gy, g, sc, ge, 1)
    with pytest.raises(ValueError, match="scratch too small"):
        KW.winograd_weight_grad(x, y, gw, np.ascontiguousarray(sc[:, :-1]), geo, 1)


def test_weight_transform():
    """U = G g G^T (rounded to float32 once), the same for any thread count."""
    G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
    w = np.random.default_rng(2).standard_normal((7, 5, 3, 3)).astype(np.float32)
    want = np.einsum("ia,mcab,jb->ijmc", G, w.astype(np.float64), G).reshape(16, 7, 5)
    u = KW.weights(w)
    np.testing.assert_allclose(u, want, rtol=2e-7, atol=1e-7)
    assert np.array_equal(u, KW.weights(w[:, :, None], 2))
