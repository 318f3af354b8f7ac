"""conv1d/2d/3d against the naive reference (tests/reference_conv.py): forward, every gradient,
layouts, the adjoint identity, gradcheck, thread-count reproducibility, and the bad calls."""
import contextlib
import re
import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor._functions import conv as conv_fn, conv_plan
from tinytensor._kernels import conv as K
import reference_conv as ref
from variants import DEFAULT, VARIANTS, on_variant

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
DTYPES = {"float32": (np.float32, tt.float32), "float64": (np.float64, tt.float64)}
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-9)}


def arr(t):
    return np.array(t.detach()._numpy())


def leaf(a, dtype="float64"):
    return tt.tensor(np.asarray(a, DTYPES[dtype][0]), requires_grad=True)


@st.composite
def conv_cases(draw, nsp=2, max_terms=12_000):
    """Valid by construction (channels = groups x channels per group); every spatial dim draws
    its own kernel, stride, padding and dilation."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    ks = [draw(st.integers(1, 4)) for _ in range(nsp)]
    mode = draw(st.sampled_from(["int", "int", "int", "same", "valid"]))
    dil = [draw(st.integers(1, 3)) for _ in range(nsp)]
    if mode == "same":
        stride = [1] * nsp
        pad = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for d, k in zip(dil, ks)]
        padding = "same"
    else:
        stride = [draw(st.integers(1, 3)) for _ in range(nsp)]
        p = [draw(st.integers(0, 3)) if mode == "int" else 0 for _ in range(nsp)]
        pad = [(q, q) for q in p]
        padding = tuple(p) if mode == "int" else "valid"
    sizes = [max(1, d * (k - 1) + 1 - a - b) + draw(st.integers(0, 4))
             for d, k, (a, b) in zip(dil, ks, pad)]
    n = draw(st.integers(0, 2) if draw(st.booleans()) else st.just(1))
    terms = max(n, 1) * cout * (cin // groups) * int(np.prod(ks)) * int(np.prod(
        [ref._out_len(s, k, st_, a, b, d) for s, k, st_, (a, b), d in
         zip(sizes, ks, stride, pad, dil)]))
    assume(terms <= max_terms)
    bias = draw(st.booleans())
    batched = draw(st.booleans()) or n != 1
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, cin, *sizes))
    w = rng.uniform(-1, 1, (cout, cin // groups, *ks))
    b = rng.uniform(-1, 1, cout) if bias else None
    return dict(x=x, w=w, b=b, stride=tuple(stride), padding=padding, pad=pad,
                dilation=tuple(dil), groups=groups, batched=batched, seed=seed)


def run(case, nsp, dtype, grads=True):
    """(y, gx, gw, gb) from tinytensor for the case, with a random grad_output."""
    x = leaf(case["x"] if case["batched"] else case["x"][0], dtype)
    w = leaf(case["w"], dtype)
    b = None if case["b"] is None else leaf(case["b"], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = CONV[nsp](x, w, b, stride=case["stride"], padding=case["padding"],
                      dilation=case["dilation"], groups=case["groups"])
    go = np.random.default_rng(case["seed"] + 1).uniform(-1, 1, y.shape)
    if not grads:
        return arr(y), go, None, None, None
    y.backward(tt.tensor(go.astype(DTYPES[dtype][0])))
    gx = arr(x.grad) if case["batched"] else arr(x.grad)[None]
    return (arr(y) if case["batched"] else arr(y)[None], go if case["batched"] else go[None],
            gx, arr(w.grad), None if b is None else arr(b.grad))


def check_against_reference(case, nsp, dtype):
    y, go, gx, gw, gb = run(case, nsp, dtype)
    args = (case["stride"], case["pad"], case["dilation"], case["groups"])
    np.testing.assert_allclose(y, ref.conv_forward(case["x"], case["w"], case["b"], *args),
                               **TOL[dtype])
    rgx, rgw, rgb = ref.conv_backward(case["x"], case["w"], go, *args)
    np.testing.assert_allclose(gx, rgx, **TOL[dtype])
    np.testing.assert_allclose(gw, rgw, **TOL[dtype])
    if gb is not None:
        np.testing.assert_allclose(gb, rgb, **TOL[dtype])


# ---------------------------------------------------------------- the lecture's examples

def test_lecture_edge_detector():
    x = tt.tensor([[0., 0, 0, 1, 2, 3, 4, 4, 4, 4]])
    y = F.conv1d(x, tt.tensor([[[-1., 1]]]))
    assert arr(y).tolist() == [[0, 0, 1, 1, 1, 1, 0, 0, 0]]


def test_lecture_running_sum():
    x = tt.tensor([[0, 0, 1, 1, 0, 0.1, 0.2, 1, 1, 1, 0]], dtype=tt.float64)
    y = F.conv1d(x, tt.tensor([[[1., 1]]], dtype=tt.float64))
    np.testing.assert_allclose(arr(y), [[0, 1, 2, 1, 0.1, 0.3, 1.2, 2, 2, 1]], rtol=0, atol=1e-15)


def test_lecture_conv2d_shape_and_values():
    x = tt.randn(128, 3, 20, 20)
    w = tt.randn(5, 3, 5, 5)
    y = F.conv2d(x, w)
    assert tuple(y.shape) == (128, 5, 16, 16)
    one = ref.conv_forward(arr(x)[:1], arr(w), None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    np.testing.assert_allclose(arr(y)[:1], one, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- properties vs the reference

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=conv_cases(nsp=2))
def test_conv2d_matches_reference(case, dtype):
    check_against_reference(case, 2, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=conv_cases(nsp=1))
def test_conv1d_matches_reference(case, dtype):
    check_against_reference(case, 1, dtype)


@settings(max_examples=10)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=conv_cases(nsp=3, max_terms=6_000))
def test_conv3d_matches_reference(case, dtype):
    check_against_reference(case, 3, dtype)


@given(groups=st.integers(1, 4), mult=st.integers(1, 5), kh=st.integers(1, 4),
       kw=st.integers(1, 4), sh=st.integers(1, 2), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2**32 - 1))
def test_depthwise_and_channel_multiplier(groups, mult, kh, kw, sh, sw, ph, pw, seed):
    """groups == in_channels (the direct kernels) with 1..5 outputs per group."""
    rng = np.random.default_rng(seed)
    h, w_ = kh + rng.integers(0, 4), kw + rng.integers(0, 4)
    case = dict(x=rng.uniform(-1, 1, (2, groups, h, w_)),
                w=rng.uniform(-1, 1, (groups * mult, 1, kh, kw)), b=rng.uniform(-1, 1, groups * mult),
                stride=(sh, sw), padding=(ph, pw), pad=((ph, ph), (pw, pw)), dilation=(1, 1),
                groups=groups, batched=True, seed=seed)
    check_against_reference(case, 2, "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=conv_cases(nsp=2, max_terms=6_000))
def test_blocks_and_single_sample_chunks(case, dtype):
    """Force the blocked GEMM path that large images take (one sample per chunk, col blocks
    of a few output positions that start and end inside rows), on cases the reference can
    check."""
    for columns in (1, 3):
        with conv_plan.force(forward="gemm", input_grad="gemm", weight_grad="gemm",
                             chunk_columns=columns, col_block_bytes=1):
            check_against_reference(case, 2, dtype)


@settings(max_examples=10)
@given(case=conv_cases(nsp=3, max_terms=6_000))
def test_blocks_conv3d(case):
    with conv_plan.force(chunk_columns=5, col_block_bytes=1):
        check_against_reference(case, 3, "float64")


def test_blocks_inside_a_long_row():
    """conv1d over a long signal: blocks split the one output row (bounded scratch)."""
    rng = np.random.default_rng(9)
    case = dict(x=rng.uniform(-1, 1, (1, 3, 41)), w=rng.uniform(-1, 1, (4, 3, 5)),
                b=rng.uniform(-1, 1, 4), stride=(2,), padding=(3,), pad=((3, 3),),
                dilation=(2,), groups=1, batched=True, seed=2)
    geo = conv_plan.geometry((2,), (3,), (2,), (3,))
    with conv_plan.force(forward="gemm", chunk_columns=4, col_block_bytes=1):
        p = conv_fn.plan((1, 3, 1, 1, 41), (4, 3, 1, 1, 5), geo, 1, np.float64)
        assert (p.forward, p.chunk, p.block) == ("gemm", 1, 4)
        check_against_reference(case, 1, "float64")


@pytest.mark.parametrize("variant", VARIANTS)
def test_float64_gemm_path_on_every_variant(variant):
    """float64 convolutions run our own double GEMM (no BLAS) of every variant: same values
    as the reference, and the same bits for 1 and 2 threads."""
    rng = np.random.default_rng(4)
    case = dict(x=rng.uniform(-1, 1, (3, 4, 6, 7)), w=rng.uniform(-1, 1, (6, 2, 3, 2)),
                b=rng.uniform(-1, 1, 6), stride=(1, 2), padding=(1, 1), pad=((1, 1), (1, 1)),
                dilation=(1, 1), groups=2, batched=True, seed=5)
    with on_variant(variant):
        check_against_reference(case, 2, "float64")
        with conv_plan.force(chunk_columns=4, col_block_bytes=1):
            check_against_reference(case, 2, "float64")


def test_batch_larger_than_a_chunk():
    """Many small samples share one GEMM (the chunked path; 71 = 35 + 35 + a 1-sample tail)."""
    rng = np.random.default_rng(0)
    case = dict(x=rng.uniform(-1, 1, (71, 3, 4, 5)), w=rng.uniform(-1, 1, (4, 3, 2, 3)),
                b=rng.uniform(-1, 1, 4), stride=(1, 1), padding=(1, 0), pad=((1, 1), (0, 0)),
                dilation=(1, 1), groups=1, batched=True, seed=1)
    check_against_reference(case, 2, "float64")


# ---------------------------------------------------------------- the float32 paths

# Each float32 path of the convolution plan (tinytensor/_functions/conv_plan.py), forced: the
# panels forward and col2im-by-panels input gradient with the GEMM weight gradient; rows (no
# im2col) forward, the flipped convolution and the dot-product weight gradient (where the
# W-stride is 1); window mode; and the im2col + GEMM path of every gradient. Each on every ISA
# variant this CPU runs (tests/variants.py): the tap-by-tap path only on the default one (it
# has no per-variant code of its own). Where a forced path cannot run (rows for a W-stride of
# 3), the plan makes its own choice.
PATHS = {
    "panels": dict(forward="panels", input_grad="panels", weight_grad="gemm"),
    "rows": dict(forward="rows", input_grad="flipped", weight_grad="dot"),
    "window": dict(weight_grad="window"),
    "gemm": dict(forward="gemm", input_grad="gemm", weight_grad="gemm"),
    "taps": dict(forward="taps", input_grad="taps", weight_grad="taps"),
}
PATH_VARIANTS = [p if v == DEFAULT else f"{p}@{v}" for v in VARIANTS for p in PATHS
                 if v == DEFAULT or p in ("panels", "rows", "window", "gemm")]


def on_path(path, check):
    """Run check() with the named path forced in the convolution plan, on the kernels of
    variant v when the name is "path@v"."""
    path, _, variant = path.partition("@")
    with on_variant(variant or DEFAULT), conv_plan.force(**PATHS[path]):
        return check()


@pytest.mark.parametrize("path", PATH_VARIANTS)
@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_every_float32_path_matches_reference(path, nsp, data):
    case = data.draw(conv_cases(nsp=nsp, max_terms=6_000 if nsp == 3 else 12_000))
    on_path(path, lambda: check_against_reference(case, nsp, "float32"))


@pytest.mark.parametrize("path", PATH_VARIANTS)
@pytest.mark.parametrize("shape,kw", [
    # wide rows: panels of one or two runs (masked loads), padding on both sides
    (((2, 3, 9, 40), (4, 3, 3, 5)), dict(padding=(1, 2), dilation=(1, 2))),
    # one sample, several row pieces, a kernel of more than 64 taps (two passes of rows)
    (((1, 2, 12, 50), (3, 2, 9, 9)), dict(padding=4)),
    # LeNet's conv2 in small: 4 x 4 output planes, two samples a panel (windows, no gathers)
    (((3, 4, 8, 8), (5, 4, 5, 5)), dict()),
    # W-stride 2: rows read every other input (two loads and a permute), padding both sides
    (((2, 3, 9, 45), (4, 3, 3, 4)), dict(stride=(1, 2), padding=(1, 3), dilation=(1, 2))),
    # strided rows (gathers), groups, output rows that straddle panels
    (((3, 4, 11, 37), (6, 2, 3, 3)), dict(stride=(2, 3), padding=1, groups=2)),
    # many output channels (several micro-kernel row panels) and 300 > KC input columns
    (((1, 20, 3, 20), (30, 20, 3, 5)), dict(padding=(0, 2))),
])
def test_float32_paths_on_wide_rows(path, shape, kw):
    rng = np.random.default_rng(3)
    xs, ws = shape
    pad = kw.get("padding", 0)
    pad = (pad, pad) if isinstance(pad, int) else pad
    case = dict(x=rng.uniform(-1, 1, xs), w=rng.uniform(-1, 1, ws), b=rng.uniform(-1, 1, ws[0]),
                stride=kw.get("stride", (1, 1)), padding=pad, pad=[(p, p) for p in pad],
                dilation=kw.get("dilation", (1, 1)), groups=kw.get("groups", 1),
                batched=True, seed=7)
    on_path(path, lambda: check_against_reference(case, 2, "float32"))


# ---------------------------------------------------------------- the tap-by-tap paths

@contextlib.contextmanager
def taps_columns(n):
    """conv_plan.TAPS_COLUMNS (the tap-by-tap paths' chunks: about that many output
    positions) set to n inside the block."""
    before = conv_plan.TAPS_COLUMNS
    conv_plan.TAPS_COLUMNS = n
    try:
        yield
    finally:
        conv_plan.TAPS_COLUMNS = before


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("nsp", [1, 2, 3])
@given(data=st.data())
def test_taps_paths_match_reference(nsp, dtype, data):
    """Forward, input and weight gradients tap by tap (conv_taps.pyx) in both dtypes, with
    chunks of one sample, of a few, and the default (several chunks per weight-gradient sum,
    taps with an empty box: padding or dilation past the input)."""
    case = data.draw(conv_cases(nsp=nsp, max_terms=6_000 if nsp == 3 else 12_000))
    columns = data.draw(st.sampled_from([1, 7, conv_plan.TAPS_COLUMNS]))
    with taps_columns(columns), conv_plan.force(forward="taps", input_grad="taps",
                                                weight_grad="taps"):
        check_against_reference(case, nsp, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,kw", [
    ((40, 32, 8, 8), (32, 32, 4, 4), dict(stride=2, padding=1)),     # DCGAN's, in small
    ((12, 36, 5, 5), (48, 12, 3, 3), dict(padding=1, groups=3)),     # groups, stride 1
    ((6, 32, 7, 9), (40, 32, 3, 2), dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2))),
])
def test_taps_paths_one_and_two_threads_bitwise_equal(xs, ws, kw, dtype, threads):
    """Several chunks and blocks of taps: the same bits for 1 and 2 threads, and the values of
    the im2col + GEMM path (too many terms for the reference)."""
    rng = np.random.default_rng(12)
    x0, w0, b0 = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])

    def grads(n, path):
        threads(n)
        x, w, b = leaf(x0, dtype), leaf(w0, dtype), leaf(b0, dtype)
        with taps_columns(40), conv_plan.force(forward=path, input_grad=path,
                                               weight_grad=path):
            y = F.conv2d(x, w, b, **kw)
            (y * y).sum().backward()
        return [arr(t) for t in (y, x.grad, w.grad, b.grad)]

    one, two, gemm = grads(1, "taps"), grads(2, "taps"), grads(2, "gemm")
    for a, b, c in zip(one, two, gemm):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-4 if dtype == "float32" else 1e-10,
                                   atol=1e-4 * np.abs(c).max())


# ---------------------------------------------------------------- layouts

def _layouts(a, rng):
    """Tensors with a's values in other layouts: permuted, sliced with a step and an offset."""
    perm = tuple(rng.permutation(a.ndim))
    inv = tuple(np.argsort(perm))
    yield "contiguous", tt.tensor(a)
    yield "permuted", tt.tensor(np.ascontiguousarray(a.transpose(perm))).permute(*inv)
    big = np.zeros(tuple(2 * s + 1 for s in a.shape), a.dtype)
    big[tuple(slice(1, None, 2) for _ in a.shape)] = a
    yield "strided", tt.tensor(big)[tuple(slice(1, None, 2) for _ in a.shape)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=conv_cases(nsp=2, max_terms=4_000))
def test_layouts_give_the_same_values(case, dtype):
    rng = np.random.default_rng(case["seed"])
    npt = DTYPES[dtype][0]
    x, w = case["x"].astype(npt), case["w"].astype(npt)
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
              groups=case["groups"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expect = arr(F.conv2d(tt.tensor(x), tt.tensor(w), **kw))
        for (nx, tx), (nw, tw) in zip(_layouts(x, rng), _layouts(w, rng)):
            np.testing.assert_array_equal(arr(F.conv2d(tx, tw, **kw)), expect, err_msg=nx + nw)


def test_expanded_input_and_gradients_through_views():
    rng = np.random.default_rng(3)
    row = rng.standard_normal((1, 2, 6, 5))
    w = rng.standard_normal((3, 2, 3, 2))
    x_exp = tt.tensor(row).expand(4, 2, 6, 5)
    y = F.conv2d(x_exp, tt.tensor(w), padding=1)
    y_ref = F.conv2d(tt.tensor(np.repeat(row, 4, axis=0)), tt.tensor(w), padding=1)
    np.testing.assert_array_equal(arr(y), arr(y_ref))
    # gradient through a permuted (channels-last-like) view lands on the base correctly
    a = rng.standard_normal((2, 3, 5, 4))
    base = tt.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1)), requires_grad=True)
    wt = leaf(rng.standard_normal((2, 3, 2, 2)))
    F.conv2d(base.permute(0, 3, 1, 2), wt).sum().backward()
    xc = leaf(a)
    wc = leaf(arr(wt))
    F.conv2d(xc, wc).sum().backward()
    np.testing.assert_allclose(arr(base.grad).transpose(0, 3, 1, 2), arr(xc.grad), rtol=1e-12)
    np.testing.assert_allclose(arr(wt.grad), arr(wc.grad), rtol=1e-12)


# ---------------------------------------------------------------- identities and gradcheck

@given(case=conv_cases(nsp=2, max_terms=4_000))
def test_adjoint_identity(case):
    """sum(conv(x, w) * g) == sum(x * grad_x) == sum(w * grad_w): a linear op and its adjoints."""
    case = dict(case, b=None)
    y, go, gx, gw, _ = run(case, 2, "float64")
    lhs = float((y * go).sum())
    x = case["x"] if case["batched"] else case["x"]
    assert np.isclose(lhs, float((x * gx).sum()), rtol=1e-10, atol=1e-10)
    assert np.isclose(lhs, float((case["w"] * gw).sum()), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("nsp,xs,ws,kw", [
    (1, (2, 4, 7), (4, 2, 3), dict(stride=2, padding=1, groups=2)),
    (1, (3, 6), (2, 3, 4), dict(padding="same", dilation=1)),
    (2, (2, 2, 5, 6), (3, 2, 2, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))),
    (2, (1, 3, 5, 4), (6, 1, 3, 2), dict(groups=3, padding=1)),
    (2, (2, 2, 4, 4), (2, 2, 2, 2), dict(padding="same")),
    (3, (1, 2, 3, 4, 3), (2, 2, 2, 2, 2), dict(padding=(1, 0, 1), stride=(1, 2, 1))),
])
def test_gradcheck(nsp, xs, ws, kw):
    rng = np.random.default_rng(len(xs) + sum(xs))
    x, w, b = leaf(rng.standard_normal(xs)), leaf(rng.standard_normal(ws)), leaf(rng.standard_normal(ws[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert tt.autograd.gradcheck(lambda x, w, b: CONV[nsp](x, w, b, **kw), (x, w, b))


def test_needs_input_grad_only_what_is_asked():
    rng = np.random.default_rng(5)
    x = tt.tensor(rng.standard_normal((2, 3, 6, 6)))
    w = leaf(rng.standard_normal((4, 3, 3, 3)))
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None
    x2 = leaf(arr(x))
    w2 = tt.tensor(arr(w))
    b2 = tt.tensor(np.zeros(4))
    F.conv2d(x2, w2, b2).sum().backward()
    assert x2.grad is not None and w2.grad is None and b2.grad is None
    w3 = leaf(arr(w))
    F.conv2d(x2.detach(), w3, b2).sum().backward()
    np.testing.assert_allclose(arr(w3.grad), arr(w.grad), rtol=1e-12)


def test_uncovered_positions_get_zero_grad():
    x = leaf(np.arange(7.0).reshape(1, 1, 7))
    F.conv1d(x, tt.tensor(np.ones((1, 1, 2))), stride=3).sum().backward()
    assert arr(x.grad).ravel().tolist() == [1, 1, 0, 1, 1, 0, 0]


# ---------------------------------------------------------------- threads

@pytest.mark.parametrize("xs,ws,kw", [
    ((4, 8, 20, 20), (16, 4, 3, 3), dict(groups=2, padding=1)),   # GEMM path
    ((70, 3, 8, 9), (8, 3, 2, 3), dict(stride=(1, 1))),           # chunked GEMM
    ((4, 12, 30, 30), (24, 1, 3, 3), dict(groups=12, padding=1)), # fused depthwise backward
    ((4, 2, 48, 48), (4, 1, 3, 3), dict(groups=2, padding=1)),    # direct, separate backward
    ((4, 8, 200), (16, 8, 5), dict(padding=2)),                   # 1-D
    ((8, 8, 33, 33), (16, 8, 3, 3), dict(stride=2, padding=1)),   # float32: gathers, col2im panels
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_and_two_threads_bitwise_equal(xs, ws, kw, dtype, threads):
    rng = np.random.default_rng(11)
    x0, w0 = rng.standard_normal(xs), rng.standard_normal(ws)
    y_shape = tuple(CONV[len(xs) - 2](tt.zeros(*xs), tt.zeros(*ws), **kw).shape)
    assert conv_plan._threads_for(2, y_shape, ws) == 2, "too small to run on two threads"
    b0 = rng.standard_normal(ws[0])
    results = []
    for n in (1, 2):
        threads(n)
        x, w, b = leaf(x0, dtype), leaf(w0, dtype), leaf(b0, dtype)
        y = CONV[len(xs) - 2](x, w, b, **kw)
        (y * y).sum().backward()
        results.append([arr(t) for t in (y, x.grad, w.grad, b.grad)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- special shapes

def test_zero_batch():
    x = leaf(np.zeros((0, 3, 10, 10)))
    w = leaf(np.ones((4, 3, 3, 3)))
    y = F.conv2d(x, w, leaf(np.ones(4)))
    assert tuple(y.shape) == (0, 4, 8, 8)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 10, 10)
    assert not arr(w.grad).any()


def test_zero_input_channels_follows_pytorch():
    y = F.conv2d(tt.zeros(1, 0, 10, 10), tt.zeros(4, 0, 3, 3), tt.zeros(4))
    assert tuple(y.shape) == (1, 0, 8, 8)


def test_unbatched():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 10, 10)), rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(tt.tensor(x), tt.tensor(w))
    assert tuple(y.shape) == (4, 8, 8)
    np.testing.assert_allclose(arr(y), arr(F.conv2d(tt.tensor(x[None]), tt.tensor(w)))[0])
    assert tuple(F.conv1d(tt.randn(3, 10), tt.randn(4, 3, 3)).shape) == (4, 8)
    assert tuple(F.conv3d(tt.randn(3, 4, 5, 6), tt.randn(2, 3, 2, 2, 2)).shape) == (2, 3, 4, 5)


def test_same_padding_puts_the_odd_pixel_at_the_end():
    x = tt.tensor(np.arange(1.0, 8.0).reshape(1, 1, 7))
    onehot = tt.tensor(np.array([1.0, 0, 0, 0]).reshape(1, 1, 4))
    with pytest.warns(UserWarning, match="even kernel lengths and odd dilation"):
        y = F.conv1d(x, onehot, padding="same")
    assert arr(y).ravel().tolist() == [0, 1, 2, 3, 4, 5, 6]
    rng = np.random.default_rng(4)
    xa, wa = rng.standard_normal((1, 2, 6, 7)), rng.standard_normal((3, 2, 2, 4))
    with pytest.warns(UserWarning):
        y = F.conv2d(tt.tensor(xa), tt.tensor(wa), padding="same")
    padded = np.pad(xa, ((0, 0), (0, 0), (0, 1), (1, 2)))
    np.testing.assert_allclose(arr(y), ref.conv_forward(padded, wa, None, (1, 1),
                                                       ((0, 0), (0, 0)), (1, 1), 1), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.conv1d(tt.tensor(xa[:, :, 0]), tt.tensor(wa[:, :, 0, :3]), padding="same",
                     dilation=2)                      # odd kernel: no warning
    assert tuple(y.shape) == (1, 3, 7)
    assert tuple(F.conv2d(tt.randn(1, 3, 2, 2), tt.randn(4, 3, 5, 5),
                          padding="same").shape) == (1, 4, 2, 2)


def test_valid_is_zero_padding():
    x, w = tt.randn(1, 3, 10, 10), tt.randn(4, 3, 3, 3)
    np.testing.assert_array_equal(arr(F.conv2d(x, w, padding="valid")), arr(F.conv2d(x, w)))


def test_shapes_from_semantics():
    x, w = tt.randn(1, 3, 10, 10), tt.randn(4, 3, 3, 3)
    assert tuple(F.conv2d(x, w, stride=2, padding=1).shape) == (1, 4, 5, 5)
    assert tuple(F.conv2d(x, w, stride=3, padding=1, dilation=2).shape) == (1, 4, 3, 3)
    assert tuple(F.conv2d(tt.randn(1, 3, 2, 2), w, padding=1).shape) == (1, 4, 2, 2)
    assert tuple(F.conv2d(tt.randn(1, 4, 5, 5), tt.randn(6, 2, 3, 3), groups=2).shape) == (1, 6, 3, 3)
    assert tuple(F.conv2d(x, w, padding=(1,)).shape) == (1, 4, 10, 10)
    assert tuple(F.conv2d(x, w, padding=5).shape) == (1, 4, 18, 18)


# ---------------------------------------------------------------- bad calls

def _x(*s, dtype=tt.float32):
    return tt.zeros(*s, dtype=dtype)


X, W = _x(1, 3, 10, 10), _x(4, 3, 3, 3)
BAD_CALLS = [
    (lambda: F.conv2d(_x(1, 5, 10, 10), W), RuntimeError,
     "Given groups=1, weight of size [4, 3, 3, 3], expected input[1, 5, 10, 10] to have 3 "
     "channels, but got 5 channels instead"),
    (lambda: F.conv2d(_x(5, 10, 10), W), RuntimeError,
     "expected input[1, 5, 10, 10] to have 3 channels"),
    (lambda: F.conv2d(_x(1, 3, 2, 2), W), RuntimeError,
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size "
     "can't be greater than actual input size"),
    (lambda: F.conv2d(_x(1, 3, 4, 4), W, dilation=2), RuntimeError, "Kernel size: (5 x 5)"),
    (lambda: F.conv1d(_x(1, 3, 2), _x(4, 3, 3)), RuntimeError,
     "Calculated padded input size per channel: (2). Kernel size: (3)."),
    (lambda: F.conv3d(_x(1, 3, 2, 5, 5), _x(4, 3, 3, 3, 3)), RuntimeError,
     "Calculated padded input size per channel: (2 x 5 x 5). Kernel size: (3 x 3 x 3)."),
    (lambda: F.conv2d(_x(3, 10), W), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [3, 10]"),
    (lambda: F.conv2d(_x(1, 1, 3, 10, 10), W), RuntimeError,
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
     "[1, 1, 3, 10, 10]"),
    (lambda: F.conv1d(_x(3), _x(4, 3, 3)), RuntimeError,
     "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [3]"),
    (lambda: F.conv3d(_x(3, 4, 4), _x(4, 3, 3, 3, 3)), RuntimeError,
     "Expected 4D (unbatched) or 5D (batched) input to conv3d"),
    (lambda: F.conv2d(X, W, padding=-1), RuntimeError, "negative padding is not supported"),
    (lambda: F.conv2d(X, W, stride=0), RuntimeError, "non-positive stride is not supported"),
    (lambda: F.conv2d(X, W, stride=(1, -1)), RuntimeError, "non-positive stride is not supported"),
    (lambda: F.conv2d(X, W, dilation=0), RuntimeError,
     "dilation should be greater than zero, but got [0, 0]"),
    (lambda: F.conv2d(X, W, dilation=-1), RuntimeError, "dilation should be greater than zero"),
    (lambda: F.conv2d(X, W, stride=0, padding=-1), RuntimeError, "negative padding"),
    (lambda: F.conv2d(X, W, padding=-1, groups=0), RuntimeError,
     "non-positive groups is not supported"),
    (lambda: F.conv2d(_x(1, 4, 5, 5), W, groups=2), RuntimeError,
     "Given groups=2, weight of size [4, 3, 3, 3], expected input[1, 4, 5, 5] to have 6 "
     "channels, but got 4 channels instead"),
    (lambda: F.conv2d(_x(1, 4, 5, 5), _x(3, 2, 3, 3), groups=2), RuntimeError,
     "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of "
     "size [[3, 2, 3, 3]] instead"),
    (lambda: F.conv2d(X, _x(0, 3, 3, 3)), RuntimeError,
     "Given groups=1, expected weight to be at least 1 at dimension 0, but got weight of size "
     "[0, 3, 3, 3] instead"),
    (lambda: F.conv2d(X, W, _x(5)), RuntimeError,
     "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, "
     "but got bias of size [5] instead"),
    (lambda: F.conv2d(X, W, _x(4, 1)), RuntimeError, "but got bias of size [4, 1] instead"),
    (lambda: F.conv2d(X, W, padding="same", stride=2), RuntimeError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(X, W, padding="foo"), RuntimeError, "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(X, W, stride=(1, 1, 1)), RuntimeError,
     "expected stride to be a single integer value or a list of 2 values to match the "
     "convolution dimensions, but got stride=[1, 1, 1]"),
    (lambda: F.conv2d(X, W, padding=(1, 1, 1)), RuntimeError,
     "expected padding to be a single integer value or a list of 2 values"),
    (lambda: F.conv2d(X, _x(4, 3, 3)), RuntimeError,
     "expected stride to be a single integer value or a list of 1 values to match the "
     "convolution dimensions, but got stride=[1, 1]"),
    (lambda: F.conv2d(X, _x(4, 3)), RuntimeError, "weight should have at least three dimensions"),
    (lambda: F.conv2d(_x(1, 3, 10, 10, dtype=tt.float64), W), RuntimeError,
     "expected scalar type Double but found Float"),
    (lambda: F.conv2d(X, _x(4, 3, 3, 3, dtype=tt.float64)), RuntimeError,
     "expected scalar type Float but found Double"),
    (lambda: F.conv2d(X, W, _x(4, dtype=tt.float64)), RuntimeError,
     "Input type (float) and bias type (double) should be the same"),
    (lambda: F.conv2d(X, _x(4, 3, 0, 3)), RuntimeError,
     "kernel size should be greater than zero, but got kernel_height: 0 kernel_width: 3"),
    (lambda: F.conv2d(_x(1, 3, 0, 10), W, padding=2), RuntimeError,
     "Only zero batch or zero channel inputs are supported, but got input shape: [1, 3, 0, 10]"),
    (lambda: F.conv2d(_x(1, 3, 5, 5, dtype=tt.int64), _x(4, 3, 3, 3, dtype=tt.int64)),
     RuntimeError, "tinytensor convolutions support float32 and float64"),
    (lambda: F.conv2d(X, W, padding=1.5), TypeError,
     "conv2d() received an invalid combination of arguments - got (Tensor, Tensor, padding=float)"),
    (lambda: F.conv2d(X, W, stride=True), TypeError, "got (Tensor, Tensor, stride=bool)"),
    (lambda: F.conv2d(X, W, groups=1.0), TypeError, "got (Tensor, Tensor, groups=float)"),
    (lambda: F.conv2d([1.0], W), TypeError,
     "conv2d() received an invalid combination of arguments - got (list, Tensor)"),
    (lambda: F.conv2d(X, W, stride=(1, 1.0)), TypeError,
     "argument 'stride' failed to unpack the object at pos 2"),
    (lambda: F.conv2d(X, W, stride=2 ** 63), ValueError, "Overflow when unpacking long long"),
    (lambda: F.conv2d(X, W, groups=2 ** 63), ValueError, "Overflow when unpacking long long"),
    (lambda: F.conv2d(X, W, padding=2 ** 62), RuntimeError,
     "Given padding=4611686018427387904 at dimension 0 , expected padding to be at most "
     "4611686018427387903"),
    (lambda: F.conv2d(X, W, dilation=2 ** 62), RuntimeError,
     "Kernel size: (9223372036854775809 x 9223372036854775809)"),
]


def test_huge_strides_and_paddings_stay_in_range():
    """Values near 2**63 must not overflow the kernels' index arithmetic."""
    x = tt.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    y = F.conv2d(x, tt.ones(1, 1, 1, 1, dtype=tt.float64), stride=2 ** 63 - 1)
    assert arr(y).ravel().tolist() == [0.0]
    y = F.conv2d(x, tt.ones(1, 1, 2, 2, dtype=tt.float64), stride=(2 ** 63 - 1, 1), padding=1)
    assert tuple(y.shape) == (1, 1, 1, 4)
    assert arr(y).ravel().tolist() == [0.0, 1.0, 3.0, 2.0]
    y = F.conv1d(tt.tensor(np.ones((1, 1, 4))), tt.ones(1, 1, 3, dtype=tt.float64),
                 stride=2 ** 62, padding=2)
    assert arr(y).ravel().tolist() == [1.0]


@pytest.mark.parametrize("path", PATH_VARIANTS)
def test_huge_strides_and_paddings_float32(path):
    """The float32 paths too (32-bit gather offsets must give way to 64-bit arithmetic)."""
    x = tt.tensor(np.arange(9.0, dtype=np.float32).reshape(1, 1, 3, 3), requires_grad=True)

    def check():
        y = F.conv2d(x, tt.ones(1, 1, 2, 2), stride=(2 ** 63 - 1, 1), padding=1)
        assert arr(y).ravel().tolist() == [0.0, 1.0, 3.0, 2.0]
        y.sum().backward()
        assert arr(x.grad).ravel().tolist() == [2.0] * 3 + [0.0] * 6
        x.grad = None
        y = F.conv1d(tt.ones(1, 1, 4), tt.ones(1, 1, 3), stride=2 ** 62, padding=2)
        assert arr(y).ravel().tolist() == [1.0]

    on_path(path, check)


@pytest.mark.parametrize("call,exc,message", BAD_CALLS)
def test_bad_calls(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()


@pytest.mark.skipif(not K.own_sgemm(), reason="no kernel variant in this build")
def test_avx512_kernels_check_their_invariants():
    """The panel, rows and input-gradient-panel entries refuse inconsistent shapes and
    scratch before any kernel runs."""
    x = np.zeros((1, 2, 1, 5, 5), np.float32)
    w = np.zeros((3, 2, 1, 3, 3), np.float32)
    geo = np.array([[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]], np.intp)
    bias = np.zeros(3, np.float32)
    bad_y = np.zeros((1, 3, 1, 4, 3), np.float32)            # should be (1, 3, 1, 3, 3)
    packed, size = K.panel_sizes(2, 3, 9, 1)
    wpack, scratch = np.zeros(packed, np.float32), np.zeros((1, size), np.float32)
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.panel_forward(x, w, bias, True, bad_y, wpack, scratch, geo, 1, 1)
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.panel_forward(x, w, bias, True, np.zeros((1, 3, 1, 3, 3), np.float32), wpack,
                        np.zeros((1, 10), np.float32), geo, 1, 1)          # scratch too small
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.rows_forward(x, w, bias, True, bad_y, wpack, geo, 1, 1)
    wt = np.zeros((1, 9, 2, 3), np.float32)
    packed, size = K.panel_backward_input_sizes(2, 3, 9, 1)
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.panel_backward_input(bad_y, wt, np.zeros_like(x), np.zeros(packed, np.float32),
                               np.zeros((1, size), np.float32), geo, 1, 3, 3, 1)


def test_kernels_check_their_invariants():
    """A caller bug (inconsistent shapes) raises instead of touching memory out of range."""
    x = np.zeros((1, 2, 1, 5, 5), np.float32)
    w = np.zeros((3, 2, 1, 3, 3), np.float32)
    geo = np.array([[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]], np.intp)
    bad_y = np.zeros((1, 3, 1, 4, 3), np.float32)           # should be (1, 3, 1, 3, 3)
    scratch = np.zeros((1, 1000), np.float32)
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.gemm_forward(x, w, np.zeros(3, np.float32), True, bad_y, scratch, geo, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.gemm_forward(x, w, np.zeros(3, np.float32), True, np.zeros((1, 3, 1, 3, 3), np.float32),
                       np.zeros((1, 10), np.float32), geo, 1, 1, 3, 1)   # scratch too small
    with pytest.raises(ValueError, match="a tinytensor bug"):
        K.direct_forward(x, w, np.zeros(3, np.float32), True,
                         np.zeros((1, 3, 1, 3, 3), np.float32), geo, 1, 1)   # Cg != 1
