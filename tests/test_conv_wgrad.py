"""The dot-product weight-gradient kernel and its window mode (conv_wgrad.pyx: the running
variant's copy of c/tt_conv_wgrad.inc) against the naive
reference, on the variant chosen at import (.ci/forced_paths runs this file once per variant)
and, fewer cases, on every other variant this CPU runs: random 1-D/2-D/3-D shapes, padding (also wider than the kernel), dilation,
groups, channel counts below and above the tile width (a narrower last channel block),
strides in D and H (the kernel needs W-stride 1), row widths that are not multiples of 16,
small blocks (so lines are split across blocks), float32, and 1 vs 2 threads bitwise."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference_conv as ref
from tinytensor._functions import conv as conv_fn, conv_plan
from tinytensor._kernels import conv as K
from variants import DEFAULT, VARIANTS, on_variant

kw = pytest.importorskip("tinytensor._kernels.conv_wgrad")
pytestmark = pytest.mark.skipif(not kw.available(), reason="no kernel variant in this build")


@st.composite
def cases(draw):
    nsp = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    cg = draw(st.integers(1, 3) | st.integers(4, 13))   # > NR: channel blocks and a rest
    og = draw(st.integers(1, 9))              # 1..6: one tile; 7..9: tiles of 4 + a rest
    n = draw(st.integers(1, 2))
    sizes, ks, stride, pad, dil = [], [], [], [], []
    for a in range(nsp):
        last = a == nsp - 1
        k = draw(st.integers(1, 3))
        d = draw(st.integers(1, 2))
        s = 1 if last else draw(st.integers(1, 2))
        size = draw(st.integers(1, 40 if last else (9 if nsp == 2 else 4)))
        pb = draw(st.integers(0, k * d + 1))
        pe = draw(st.integers(0, k * d + 1))
        if size + pb + pe - d * (k - 1) - 1 < 0:
            size = d * (k - 1) + 1
        sizes.append(size), ks.append(k), stride.append(s), pad.append((pb, pe)), dil.append(d)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, cg * groups) + tuple(sizes)).astype(np.float32)
    w_shape = (og * groups, cg) + tuple(ks)
    out = ref.conv_out_shape(x.shape, w_shape, stride, pad, dil)
    go = rng.standard_normal(out).astype(np.float32)
    return dict(x=x, go=go, w_shape=w_shape, stride=tuple(stride), pad=tuple(pad),
                dil=tuple(dil), groups=groups, nsp=nsp, block=draw(st.integers(1, 8)))


def _kernel(c, n_threads, block):
    nsp = c["nsp"]
    x5, go5 = conv_fn.as_5d(c["x"], nsp), conv_fn.as_5d(c["go"], nsp)
    geo = conv_fn.geometry(c["stride"], tuple(p[0] for p in c["pad"]), c["dil"],
                           tuple(p[1] for p in c["pad"]))
    gw = np.full(conv_fn.as_5d(np.empty(c["w_shape"]), nsp).shape, np.nan, np.float32)
    kw.panel_weight_grad(x5, go5, gw, geo, c["groups"], n_threads, block)
    return gw.reshape(c["w_shape"])


def _reference(c):
    """The reference weight gradient, and the same sum over |x| |go| (the rounding scale)."""
    args = (c["stride"], c["pad"], c["dil"], c["groups"])
    w = np.zeros(c["w_shape"])
    _, want, _ = ref.conv_backward(c["x"].astype(np.float64), w, c["go"].astype(np.float64), *args)
    _, scale, _ = ref.conv_backward(np.abs(c["x"]).astype(np.float64), w,
                                    np.abs(c["go"]).astype(np.float64), *args)
    return want, scale


@given(cases())
def test_weight_grad_matches_reference(c):
    want, scale = _reference(c)
    got = _kernel(c, 1, c["block"])
    assert np.all(np.abs(got - want) <= 1e-5 * scale + 1e-30), np.abs(got - want).max()
    # the default blocks and 2 threads give the same bits whatever the thread count
    one = _kernel(c, 1, 0)                  # 0: the default block
    two = _kernel(c, 2, 0)
    assert one.tobytes() == two.tobytes()
    assert np.all(np.abs(one - want) <= 1e-5 * scale + 1e-30)


def test_large_shape_one_vs_two_threads_bitwise(threads):
    """S4-like plane mode with several blocks per line, through conv_backward."""
    import tinytensor as tt
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 8, 40, 40)).astype(np.float32)
    w = rng.standard_normal((12, 8, 3, 3)).astype(np.float32)
    geo = conv_fn.geometry((1, 1), (1, 1), (1, 1), (1, 1))
    x5, w5 = conv_fn.as_5d(x, 2), conv_fn.as_5d(w, 2)
    go = rng.standard_normal((3, 12, 1, 40, 40)).astype(np.float32)
    res = []
    for n in (1, 2):
        threads(n)
        res.append(conv_fn.conv_backward(x5, w5, go, geo, 1, False, True, False,
                                         tt.get_num_threads())[1])
    assert res[0].tobytes() == res[1].tobytes()
    direct = np.empty_like(w5)
    kw.panel_weight_grad(x5, go, direct, geo, 1, 1)
    assert direct.tobytes() == res[0].tobytes()     # conv_backward used the kernel


def test_rejects_inconsistent_arguments():
    x = np.zeros((2, 4, 1, 6, 20), np.float32)
    go = np.zeros((2, 6, 1, 4, 18), np.float32)
    gw = np.zeros((6, 4, 1, 3, 3), np.float32)
    geo = conv_fn.geometry((1, 1), (0, 0), (1, 1), (0, 0))
    kw.panel_weight_grad(x, go, gw, geo, 1, 1)                     # consistent
    with pytest.raises(ValueError):
        kw.panel_weight_grad(x, go[:, :5], gw, geo, 1, 1)          # O mismatch
    with pytest.raises(ValueError):
        kw.panel_weight_grad(x, go[..., :17].copy(), gw, geo, 1, 1)  # OW mismatch
    with pytest.raises(ValueError):
        kw.panel_weight_grad(x, go, gw, geo, 3, 1)                 # groups
    with pytest.raises(ValueError):
        kw.panel_weight_grad(x, go, gw, conv_fn.geometry((1, 2), (0, 0), (1, 1), (0, 0)), 1, 1)
    with pytest.raises(ValueError):
        kw.panel_weight_grad(x, go, gw, geo, 1, 0)                 # threads


# Window mode (window_weight_grad): small output volumes (around 16 and 32 positions), any
# strides, groups, padding (lane-by-lane loads) or none (runs of 4 or more floats where a
# chunk's positions allow: S3-like planes), 1-D/2-D/3-D, every tile height.
@st.composite
def window_cases(draw):
    nsp = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    c = draw(st.integers(1, 9))              # per group
    o = draw(st.integers(1, 9))              # per group: several tiles of 6 and a rest
    n = draw(st.integers(1, 3))
    padded = draw(st.booleans())
    sizes, ks, stride, pad, dil = [], [], [], [], []
    for a in range(nsp):
        k = draw(st.integers(1, 5))
        d = draw(st.integers(1, 2))
        s = draw(st.integers(1, 2))
        pb = draw(st.integers(0, k * d)) if padded else 0
        pe = draw(st.integers(0, k * d)) if padded else 0
        out = draw(st.integers(1, 40 if nsp == 1 else (8 if nsp == 2 else 4)))
        size = max(1, (out - 1) * s + d * (k - 1) + 1 - pb - pe + draw(st.integers(0, s - 1)))
        if size + pb + pe - d * (k - 1) - 1 < 0:
            size = d * (k - 1) + 1
        sizes.append(size), ks.append(k), stride.append(s), pad.append((pb, pe)), dil.append(d)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((n, c * groups) + tuple(sizes)).astype(np.float32)
    w_shape = (o * groups, c) + tuple(ks)
    out = ref.conv_out_shape(x.shape, w_shape, stride, pad, dil)
    go = rng.standard_normal(out).astype(np.float32)
    return dict(x=x, go=go, w_shape=w_shape, stride=tuple(stride), pad=tuple(pad),
                dil=tuple(dil), groups=groups, nsp=nsp, block=draw(st.integers(1, 4)),
                mr=draw(st.integers(1, 6)))


def _window(c, n_threads, block, mr=4):
    nsp = c["nsp"]
    x5, go5 = conv_fn.as_5d(c["x"], nsp), conv_fn.as_5d(c["go"], nsp)
    geo = conv_fn.geometry(c["stride"], tuple(p[0] for p in c["pad"]), c["dil"],
                           tuple(p[1] for p in c["pad"]))
    gw = np.full(conv_fn.as_5d(np.empty(c["w_shape"]), nsp).shape, np.nan, np.float32)
    kw.window_weight_grad(x5, go5, gw, geo, c["groups"], n_threads, block, mr)
    return gw.reshape(c["w_shape"])


@given(window_cases())
def test_window_weight_grad_matches_reference(c):
    want, scale = _reference(c)
    got = _window(c, 1, c["block"], c["mr"])
    assert np.all(np.abs(got - want) <= 1e-5 * scale + 1e-30), np.abs(got - want).max()
    one = _window(c, 1, 0)
    two = _window(c, 2, 0)
    assert one.tobytes() == two.tobytes()
    assert np.all(np.abs(one - want) <= 1e-5 * scale + 1e-30)


def test_s3_window_one_vs_two_threads_bitwise(threads):
    """S3 (LeNet conv2) through conv_backward: window mode, runs of 4 floats, 1 vs 2 threads."""
    import tinytensor as tt
    rng = np.random.default_rng(2)
    x5 = conv_fn.as_5d(rng.standard_normal((64, 32, 8, 8)).astype(np.float32), 2)
    w5 = conv_fn.as_5d(rng.standard_normal((64, 32, 5, 5)).astype(np.float32), 2)
    geo = conv_fn.geometry((1, 1), (0, 0), (1, 1), (0, 0))
    go = rng.standard_normal((64, 64, 1, 4, 4)).astype(np.float32)
    res = []
    for n in (1, 2):
        threads(n)
        with conv_plan.force(weight_grad="window"):      # (the plan runs Winograd for S3)
            res.append(conv_fn.conv_backward(x5, w5, go, geo, 1, False, True, False,
                                             tt.get_num_threads())[1])
    assert res[0].tobytes() == res[1].tobytes()
    direct = np.empty_like(w5)
    kw.window_weight_grad(x5, go, direct, geo, 1, 1)
    assert direct.tobytes() == res[0].tobytes()     # conv_backward used window mode
    want = np.einsum("nohw,ncjkhw->ocjk", go[:, :, 0].astype(np.float64),
                     np.lib.stride_tricks.sliding_window_view(x5[:, :, 0].astype(np.float64),
                                                              (4, 4), axis=(2, 3)))
    assert np.abs(res[0][:, :, 0] - want).max() <= 1e-4 * np.abs(want).max()


def test_window_rejects_inconsistent_arguments():
    x = np.zeros((2, 4, 1, 6, 6), np.float32)
    go = np.zeros((2, 6, 1, 4, 4), np.float32)
    gw = np.zeros((6, 4, 1, 3, 3), np.float32)
    geo = conv_fn.geometry((1, 1), (0, 0), (1, 1), (0, 0))
    kw.window_weight_grad(x, go, gw, geo, 1, 1)                    # consistent
    kw.window_weight_grad(x, go, gw[:, :2].copy(), geo, 2, 1)      # consistent: 2 groups
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go[:, :5], gw, geo, 1, 1)         # O mismatch
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go[..., :3].copy(), gw, geo, 1, 1)  # OW mismatch
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go, gw[:, :2].copy(), geo, 1, 1)  # C mismatch (groups)
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go[:, :5], gw[:5, :2].copy(), geo, 2, 1)  # O % groups
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go, gw, geo, 0, 1)                # groups
    with pytest.raises(ValueError):
        kw.window_weight_grad(x, go, gw, geo, 1, 0)                # threads
    with pytest.raises(ValueError):                                # huge geometry
        kw.window_weight_grad(x, go, gw, conv_fn.geometry((1, 1), (0, 2 ** 40), (1, 1),
                                                          (0, 2 ** 40)), 1, 1)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != DEFAULT])
@settings(max_examples=15)
@given(c=cases(), wc=window_cases())
def test_other_variants_match_reference(variant, c, wc):
    """Both kernels of every other variant (its vector width: chunks of 16, 8 or 4 positions),
    small blocks and the default, 1 vs 2 threads bitwise."""
    with on_variant(variant):
        for case, run in ((c, _kernel), (wc, _window)):
            want, scale = _reference(case)
            got = run(case, 1, case["block"])
            assert np.all(np.abs(got - want) <= 1e-5 * scale + 1e-30), np.abs(got - want).max()
            one = run(case, 1, 0)
            assert one.tobytes() == run(case, 2, 0).tobytes()
            assert np.all(np.abs(one - want) <= 1e-5 * scale + 1e-30)
