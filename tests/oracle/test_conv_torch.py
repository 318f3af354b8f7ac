"""PyTorch 2.13 as a second oracle for conv1d/2d/3d: values, gradients, warnings and errors."""
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

NAMES = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


def both(nsp, x, w, b, **kw):
    """(tinytensor output and grads, torch output and grads) for one call."""
    go = np.random.default_rng(0).standard_normal(1)   # replaced below once the shape is known
    res = []
    for lib, mod in ((tt, F), (torch, TF)):
        xs = lib.tensor(x, requires_grad=True)
        ws = lib.tensor(w, requires_grad=True)
        bs = None if b is None else lib.tensor(b, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = getattr(mod, NAMES[nsp])(xs, ws, bs, **kw)
        if go.shape != tuple(y.shape):
            go = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(x.dtype)
        y.backward(lib.tensor(go))
        grads = [t.grad for t in (xs, ws, bs) if t is not None]
        res.append([np.array(t.detach()._numpy() if lib is tt else t.detach().numpy())
                    for t in [y] + grads])
    return res


@settings(max_examples=30)
@given(nsp=st.sampled_from([1, 2, 3]), groups=st.integers(1, 3), cg=st.integers(1, 3),
       og=st.integers(1, 3), data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_matches_torch(nsp, groups, cg, og, data, dtype):
    ks = [data.draw(st.integers(1, 4)) for _ in range(nsp)]
    mode = data.draw(st.sampled_from(["int", "same", "valid"]))
    dil = tuple(data.draw(st.integers(1, 2)) for _ in range(nsp))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp)) if mode != "same" else 1
    padding = (tuple(data.draw(st.integers(0, 2)) for _ in range(nsp)) if mode == "int" else mode)
    sizes = [d * (k - 1) + 1 + data.draw(st.integers(0, 5 if nsp < 3 else 2))
             for d, k in zip(dil, ks)]
    n = data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.standard_normal((n, groups * cg, *sizes)).astype(dtype)
    w = rng.standard_normal((groups * og, cg, *ks)).astype(dtype)
    b = rng.standard_normal(groups * og).astype(dtype) if data.draw(st.booleans()) else None
    mine, theirs = both(nsp, x, w, b, stride=stride, padding=padding, dilation=dil, groups=groups)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for a, e in zip(mine, theirs):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, **tol)


@pytest.mark.parametrize("shape,wshape,kw", [
    ((128, 3, 20, 20), (5, 3, 5, 5), {}),
    ((4, 1, 28, 28), (32, 1, 5, 5), {}),
    ((2, 64, 14, 14), (64, 64, 3, 3), dict(padding=1)),
    ((2, 32, 16, 16), (32, 8, 3, 3), dict(stride=2, padding=2, dilation=2, groups=4)),
    ((2, 16, 14, 14), (16, 1, 3, 3), dict(padding=1, groups=16)),
    ((2, 16, 100), (32, 16, 7), dict(padding=3)),
    ((1, 8, 6, 10, 10), (16, 8, 3, 3, 3), dict(padding=1)),
])
def test_benchmark_shapes_match_torch(shape, wshape, kw):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(wshape).astype(np.float32) * 0.1
    b = rng.standard_normal(wshape[0]).astype(np.float32)
    mine, theirs = both(len(shape) - 2, x, w, b, **kw)
    for a, e in zip(mine, theirs):
        np.testing.assert_allclose(a, e, rtol=2e-4, atol=2e-3)


def _bad_calls():
    r = np.zeros
    x, w = r((1, 3, 10, 10)), r((4, 3, 3, 3))
    calls = [
        ("conv2d", r((1, 5, 10, 10)), w, None, {}),
        ("conv2d", r((5, 10, 10)), w, None, {}),
        ("conv2d", r((1, 3, 2, 2)), w, None, {}),
        ("conv2d", r((1, 3, 4, 4)), w, None, dict(dilation=2)),
        ("conv1d", r((1, 3, 2)), r((4, 3, 3)), None, {}),
        ("conv3d", r((1, 3, 2, 5, 5)), r((4, 3, 3, 3, 3)), None, {}),
        ("conv2d", r((3, 10)), w, None, {}),
        ("conv2d", r((1, 1, 3, 10, 10)), w, None, {}),
        ("conv1d", r((3,)), r((4, 3, 3)), None, {}),
        ("conv3d", r((3, 4, 4)), r((4, 3, 3, 3, 3)), None, {}),
        ("conv2d", x, w, None, dict(padding=-1)),
        ("conv2d", x, w, None, dict(stride=0)),
        ("conv2d", x, w, None, dict(stride=(1, -1))),
        ("conv2d", x, w, None, dict(dilation=0)),
        ("conv2d", x, w, None, dict(dilation=(2, 0))),
        ("conv2d", x, w, None, dict(dilation=-1)),
        ("conv2d", x, w, None, dict(stride=0, padding=-1)),
        ("conv2d", x, w, None, dict(padding=-1, groups=0)),
        ("conv2d", x, w, None, dict(dilation=0, padding=-1)),
        ("conv2d", r((1, 4, 5, 5)), w, None, dict(groups=2)),
        ("conv2d", r((1, 4, 5, 5)), r((3, 2, 3, 3)), None, dict(groups=2)),
        ("conv2d", r((1, 6, 5, 5)), r((2, 2, 3, 3)), None, dict(groups=3)),
        ("conv2d", x, r((0, 3, 3, 3)), None, {}),
        ("conv2d", x, w, r(5), {}),
        ("conv2d", x, w, r((4, 1)), {}),
        ("conv2d", r((1, 3, 2, 2)), w, r(5), {}),
        ("conv2d", x, w, None, dict(padding="same", stride=2)),
        ("conv2d", x, w, None, dict(padding="same", stride=0)),
        ("conv2d", x, w, None, dict(padding="same", dilation=0)),
        ("conv2d", x, w, None, dict(padding="foo")),
        ("conv2d", x, w, None, dict(stride=(1, 1, 1))),
        ("conv2d", x, w, None, dict(padding=(1, 1, 1))),
        ("conv2d", x, w, None, dict(dilation=(1, 1, 1))),
        ("conv2d", x, r((4, 3, 3)), None, {}),
        ("conv2d", x, r((4, 3)), None, {}),
        ("conv2d", x, r((4, 3, 0, 3)), None, {}),
        ("conv1d", r((1, 3, 10)), r((4, 3, 0)), None, {}),
        ("conv3d", r((1, 3, 10, 10, 10)), r((4, 3, 3, 0, 3)), None, {}),
        ("conv2d", r((1, 3, 0, 10)), w, None, dict(padding=2)),
        ("conv2d", r((1, 3, 0, 10)), w, None, {}),
        ("conv2d", r((1, 3, 0, 2)), r((4, 3, 5, 5)), None, dict(padding="same")),
        ("conv2d", r((0, 3, 2, 2)), w, None, {}),
    ]
    dtyped = [
        ("conv2d", x.astype(np.float64), w.astype(np.float32), None, {}),
        ("conv2d", x.astype(np.float32), w.astype(np.float64), None, {}),
        ("conv2d", x.astype(np.float32), w.astype(np.float32), r(4, np.float64), {}),
        ("conv2d", r((1, 5, 10, 10), np.float64), w.astype(np.float32), None, {}),
        ("conv2d", r((1, 3, 2, 2), np.float64), w.astype(np.float32), None, {}),
        ("conv2d", r((3, 10), np.float32), w.astype(np.float32), r(4, np.float64), {}),
    ]
    return [(n, a.astype(np.float32), b_.astype(np.float32),
             None if c is None else c.astype(np.float32), kw) for n, a, b_, c, kw in calls] + dtyped


@pytest.mark.parametrize("name,x,w,b,kw", _bad_calls())
def test_bad_calls_match_torch(name, x, w, b, kw):
    """The same exception type and message as PyTorch, or the same output shape."""
    outcomes = []
    for lib, mod in ((tt, F), (torch, TF)):
        args = [lib.tensor(x), lib.tensor(w), None if b is None else lib.tensor(b)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes.append(("ok", tuple(getattr(mod, name)(*args, **kw).shape)))
        except (RuntimeError, TypeError, ValueError) as e:
            outcomes.append((type(e).__name__, str(e).split("\n")[0]))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("kw", [dict(padding=1.5), dict(stride=True), dict(groups=1.0),
                                dict(stride=None), dict(stride=(1, 1.0))])
def test_type_errors_match_torch_prefix(kw):
    x, w = np.zeros((1, 3, 10, 10), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    msgs = []
    for lib, mod in ((tt, F), (torch, TF)):
        with pytest.raises(TypeError) as info:
            mod.conv2d(lib.tensor(x), lib.tensor(w), **kw)
        msgs.append(str(info.value).split(", but expected")[0])
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("k,d", list(itertools.product([1, 2, 3, 4, 5], [1, 2, 3])))
def test_same_padding_and_warning_match_torch(k, d):
    x = np.random.default_rng(k * 10 + d).standard_normal((1, 2, 9)).astype(np.float64)
    w = np.random.default_rng(k).standard_normal((3, 2, k)).astype(np.float64)
    out = []
    for lib, mod in ((tt, F), (torch, TF)):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            y = mod.conv1d(lib.tensor(x), lib.tensor(w), padding="same", dilation=d)
        out.append((np.array(y._numpy() if lib is tt else y.numpy()),
                    any("even kernel lengths" in str(r.message) for r in rec)))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    # torch warns once per process (TORCH_WARN_ONCE); tinytensor through Python's warnings
    # filters, on every call whose total padding is odd.
    assert out[0][1] == (k % 2 == 0 and d % 2 == 1)
    assert out[0][1] or not out[1][1]


# ---------------------------------------------------------------- unfold / fold

@settings(max_examples=25)
@given(k=st.tuples(st.integers(1, 3), st.integers(1, 3)), d=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       p=st.tuples(st.integers(0, 2), st.integers(0, 2)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       extra=st.tuples(st.integers(0, 4), st.integers(0, 4)), n=st.integers(0, 2),
       c=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_unfold_fold_match_torch(k, d, p, s, extra, n, c, seed):
    size = tuple(max(1, dd * (kk - 1) + 1 - 2 * pp) + e for kk, dd, pp, e in zip(k, d, p, extra))
    x = np.random.default_rng(seed).standard_normal((n, c) + size)
    kw = dict(kernel_size=k, dilation=d, padding=p, stride=s)
    mine = np.array(F.unfold(tt.tensor(x), **kw)._numpy())
    theirs = TF.unfold(torch.tensor(x), **kw).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=0)
    cols = np.random.default_rng(seed + 1).standard_normal(theirs.shape)
    np.testing.assert_allclose(np.array(F.fold(tt.tensor(cols), size, **kw)._numpy()),
                               TF.fold(torch.tensor(cols), size, **kw).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op,shape,args,kw", [
    ("unfold", (1, 3, 5, 6), (0,), dict(stride=0)),
    ("unfold", (1, 3, 5, 6), (2,), dict(stride=0, dilation=0)),
    ("unfold", (1, 3, 5, 6), (2,), dict(stride=0, padding=-1)),
    ("unfold", (1, 3, 5, 6), (7,), {}),
    ("unfold", (1, 3, 5, 6), ((2, 7),), {}),
    ("unfold", (1, 3, 5, 6), ((2, 2, 2),), {}),
    ("unfold", (1, 3, 5, 6), (2,), dict(padding=(1, 1, 1), dilation=(1, 1, 1))),
    ("unfold", (1, 3, 5, 6), ((2,),), {}),
    ("unfold", (1, 1, 3, 5, 6), (2,), {}),
    ("unfold", (1, 0, 5, 6), (2,), {}),
    ("unfold", (1, 3, 0, 6), (2,), dict(padding=1)),
    ("unfold", (0, 3, 5, 6), (7,), {}),
    ("unfold", (4, 5), (2,), {}),
    ("unfold", (5,), (2,), {}),
    ("unfold", (3, 5, 6), (2,), {}),
    ("fold", (2, 12, 20), ((5, 6), 2), {}),
    ("fold", (12, 20), ((5, 6), 2), {}),
    ("fold", (1, 2, 12, 20), ((5, 6), 2), {}),
    ("fold", (12,), ((5, 6), 2), {}),
    ("fold", (2, 13, 21), ((5, 6), 2), {}),
    ("fold", (2, 12, 21), ((5, 6), 2), {}),
    ("fold", (2, 12, 20), ((5, 6), 0), {}),
    ("fold", (2, 12, 20), ((5, 6), 2), dict(stride=0)),
    ("fold", (2, 12, 20), ((5, 6), 2), dict(padding=-1)),
    ("fold", (2, 12, 20), ((0, 6), 2), {}),
    ("fold", (2, 12, 20), ((-1, 6), 2), {}),
    ("fold", (2, 147, 20), ((5, 6), 7), {}),
    ("fold", (2, 12, 16), (5, 2), {}),
    ("fold", (2, 12, 16), ((5, 5, 5), 2), {}),
    ("fold", (0, 12, 20), ((5, 6), 2), {}),
    ("fold", (1, 0, 20), ((5, 6), 2), {}),
    ("fold", (1, 12, 0), ((5, 6), 2), {}),
    ("fold", (2, 9, 1), ((1, 1), 3), {}),
    ("fold", (1, 18, 6), ((4, 5), (2, 3)), dict(stride=(2, 1), padding=1, dilation=(1, 2))),
])
def test_unfold_fold_bad_calls_match_torch(op, shape, args, kw):
    outcomes = []
    for lib, mod in ((tt, F), (torch, TF)):
        try:
            outcomes.append(("ok", tuple(getattr(mod, op)(lib.zeros(*shape), *args, **kw).shape)))
        except (RuntimeError, TypeError, ValueError, IndexError) as e:
            outcomes.append((type(e).__name__, str(e).split("\n")[0]))
    assert outcomes[0] == outcomes[1]
