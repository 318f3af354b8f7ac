"""PyTorch 2.13 as a second oracle for pooling and F.pad: values, indices, gradients, errors."""
import numpy as np
import pytest
from hypothesis import settings, given, strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

# the reference loops are slow: cap the examples (never raise the profile's count)
FEW = settings(max_examples=min(settings().max_examples, 20))

LIBS = ((tt, F), (torch, TF))


def run(fn_name, x, *args, grad=True, **kw):
    """[(outputs as NumPy, input grad or None)] for tinytensor then torch."""
    res = []
    g = None
    for lib, mod in LIBS:
        xs = lib.tensor(x, requires_grad=grad)
        out = getattr(mod, fn_name)(xs, *args, **kw)
        outs = out if isinstance(out, tuple) else (out,)
        arrs = [np.array(o.detach().numpy() if lib is torch else o._numpy()) for o in outs]
        gi = None
        if grad:
            if g is None:
                g = np.random.default_rng(7).standard_normal(arrs[0].shape).astype(x.dtype)
            (outs[0] * lib.tensor(g)).sum().backward()
            gi = np.array(xs.grad.numpy() if lib is torch else xs.grad._numpy())
        res.append((arrs, gi))
    return res


def assert_same(res, exact=False):
    (mine, gm), (theirs, gt) = res
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        if exact or a.dtype == np.int64:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if gm is not None:
        np.testing.assert_allclose(gm, gt, rtol=1e-5, atol=1e-6)


@st.composite
def cases(draw, nsp, dilation=True):
    k = [draw(st.integers(1, 3 if nsp == 3 else 4)) for _ in range(nsp)]
    s = [draw(st.integers(1, 3)) for _ in range(nsp)]
    d = [draw(st.integers(1, 2)) if dilation else 1 for _ in range(nsp)]
    p = [draw(st.integers(0, kk // 2)) for kk in k]
    sizes = [max(kk, dd * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, 4))
             for kk, dd, pp in zip(k, d, p)]
    lead = draw(st.sampled_from([(2, 3), (3,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ties = draw(st.booleans())
    x = rng.integers(-3, 4, lead + tuple(sizes)) if ties else rng.standard_normal(lead + tuple(sizes))
    return x, k, s, p, d, draw(st.booleans())


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(data=st.data())
def test_max_pool_matches_torch(nsp, dtype, data):
    x, k, s, p, d, ceil = data.draw(cases(nsp))
    res = run(f"max_pool{nsp}d", x.astype(dtype), k, s, p, d, ceil, return_indices=True)
    assert_same(res, exact=True)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(data=st.data())
def test_avg_pool_matches_torch(nsp, dtype, data):
    x, k, s, p, _, ceil = data.draw(cases(nsp, dilation=False))
    cip = data.draw(st.booleans())
    kw = {} if nsp == 1 else dict(divisor_override=data.draw(st.sampled_from([None, 2, -3])))
    assert_same(run(f"avg_pool{nsp}d", x.astype(dtype), k, s, p, ceil, cip, **kw))
    xi = x.astype(np.int64)
    assert_same(run(f"avg_pool{nsp}d", xi, k, s, p, ceil, cip, grad=False, **kw))
    if nsp > 1:                                  # max_pool1d refuses int64, as PyTorch's
        assert_same(run(f"max_pool{nsp}d", xi, k, s, p, 1, ceil, grad=False))


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d",
                                  "adaptive_avg_pool1d", "adaptive_max_pool1d"])
@FEW
@given(data=st.data())
def test_adaptive_matches_torch(name, data):
    nsp = int(name[-2])
    sizes = tuple(data.draw(st.integers(1, 9)) for _ in range(nsp))
    out = tuple(data.draw(st.one_of(st.integers(1, 11), st.none())) for _ in range(nsp))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal((2, 3) + sizes)
    arg = out[0] or 3 if nsp == 1 else out
    kw = dict(return_indices=True) if "max" in name else {}
    assert_same(run(name, x, arg, **kw))


@FEW
@given(data=st.data())
def test_max_unpool2d_matches_torch(data):
    x, k, s, p, _, ceil = data.draw(cases(2, dilation=False))
    x = x.astype(np.float64)
    y, i = TF.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    out = [None, tuple(x.shape[-2:])][data.draw(st.integers(0, 1))]
    default = [(y.shape[-2 + j] - 1) * s[j] - 2 * p[j] + k[j] for j in range(2)]
    if out is None and min(default) < 1:
        return           # PyTorch returns an empty plane and fails later, in backward
    res = []
    before = torch.get_num_threads()
    torch.set_num_threads(1)       # PyTorch's bad-index report races between threads
    try:
        _unpool_both(y, i, k, s, p, out, res)
    finally:
        torch.set_num_threads(before)
    if isinstance(res[0], str) or isinstance(res[1], str):
        assert res[0] == res[1]
        return
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])


def _unpool_both(y, i, k, s, p, out, res):
    for lib, mod in LIBS:
        ys = lib.tensor(y.numpy(), requires_grad=True)
        try:
            u = mod.max_unpool2d(ys, lib.tensor(i.numpy()), k, s, p, output_size=out)
        except (ValueError, RuntimeError) as e:
            res.append(f"{type(e).__name__}: {e}")
            continue
        u.sum().backward()
        res.append((np.array(u.detach().numpy() if lib is torch else u._numpy()),
                    np.array(ys.grad.numpy() if lib is torch else ys.grad._numpy())))


@st.composite
def pad_cases(draw):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    npairs = draw(st.integers(1, 3))
    ndim = npairs + draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(npairs, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    pads = tuple(draw(st.integers(-3, 4)) for _ in range(2 * npairs))
    return np.random.default_rng(draw(st.integers(0, 99))).standard_normal(shape), pads, mode


@FEW
@given(case=pad_cases())
def test_pad_matches_torch_values_grads_and_errors(case):
    x, pads, mode = case
    outcomes = []
    for lib, mod in LIBS:
        xs = lib.tensor(x, requires_grad=True)
        try:
            y = mod.pad(xs, pads, mode=mode)
        except Exception as e:                                      # noqa: BLE001
            outcomes.append((type(e), str(e)))
            continue
        (y * y).sum().backward()
        outcomes.append((np.array(y.detach().numpy() if lib is torch else y._numpy()),
                         np.array(xs.grad.numpy() if lib is torch else xs.grad._numpy())))
    mine, theirs = outcomes
    if isinstance(mine[0], type) or isinstance(theirs[0], type):
        if isinstance(mine[0], type) and "single memory location" in mine[1]:
            return       # circular pad wider than its cropped core: PyTorch may not notice
        if isinstance(theirs[0], type) and "overflow" in theirs[1]:
            return       # PyTorch's reflect with a negative output size reports an overflow
        assert mine == theirs
        return
    np.testing.assert_allclose(mine[0], theirs[0])
    if mine[0].size:
        np.testing.assert_allclose(mine[1], theirs[1])


# Each bad call runs on both libraries: same exception type, same message.
R = lambda lib, *s: lib.tensor(np.random.default_rng(0).standard_normal(s).astype(np.float32))  # noqa: E731

BAD = [
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 0),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 0, 1),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), (1, 2, 3)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, (1, 2, 3)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, 2, (1, 1, 1)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, 2, 0, (1, 1, 1)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, -1),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, dilation=0),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, padding=-1),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, padding=2),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2, padding=2, dilation=3),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), (3, 5), padding=(1, 3)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), (5, 3), padding=(3, 2)),
    lambda lib, m: m.max_pool2d(R(lib, 1, 0, 5, 5), 2),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 0, 5), 2),
    lambda lib, m: m.max_pool2d(R(lib, 5, 5), 2),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 1, 5, 5), 2),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 2, 2), 3),
    lambda lib, m: m.max_pool2d(R(lib, 3, 2, 2), 3),
    lambda lib, m: m.max_pool2d(R(lib, 1, 1, 5, 5), 2.0),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), 0, 1),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), 2, -1),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), 2, dilation=0),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), 2, padding=2),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), 2, padding=2, dilation=3),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 2, 2, 2), 3),
    lambda lib, m: m.max_pool3d(R(lib, 1, 5, 5), 2),
    lambda lib, m: m.max_pool3d(R(lib, 1, 0, 5, 5, 5), 2),
    lambda lib, m: m.max_pool3d(R(lib, 1, 1, 5, 5, 5), (1, 2)),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, padding=2),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 0),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, 0),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, padding=-1),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, dilation=0),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 2), 3),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 3, 5), 2),
    lambda lib, m: m.max_pool1d(R(lib, 5), 2),
    lambda lib, m: m.max_pool1d(R(lib, 1, 0, 5), 2),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), (1, 2)),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, (1, 2)),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 2), 3, return_indices=True),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 5), 2, padding=2, return_indices=True),
    lambda lib, m: m.max_pool1d(R(lib, 1, 1, 3, 5), 2, return_indices=True),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), 2, padding=2),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), 0),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), 0, 1),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), 2, -1),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 2, 2), 3),
    lambda lib, m: m.avg_pool2d(R(lib, 5, 5), 2),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 1, 5, 5), 2),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 0, 5, 5), 2),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), 2, divisor_override=0),
    lambda lib, m: m.avg_pool2d(R(lib, 1, 1, 5, 5), (1, 2, 3)),
    lambda lib, m: m.avg_pool1d(R(lib, 1, 1, 3, 5), 2),
    lambda lib, m: m.avg_pool1d(R(lib, 5), 2),
    lambda lib, m: m.avg_pool1d(R(lib, 1, 1, 5), 2, padding=2),
    lambda lib, m: m.avg_pool1d(R(lib, 1, 1, 5), 0),
    lambda lib, m: m.avg_pool1d(R(lib, 1, 1, 2), 3),
    lambda lib, m: m.avg_pool1d(R(lib, 1, 1, 5), (1, 2)),
    lambda lib, m: m.avg_pool3d(R(lib, 1, 1, 5, 5, 5), 2, padding=2),
    lambda lib, m: m.avg_pool3d(R(lib, 1, 1, 2, 2, 2), 3),
    lambda lib, m: m.avg_pool3d(R(lib, 5, 5, 5), 2),
    lambda lib, m: m.avg_pool3d(R(lib, 1, 1, 5, 5, 5), 0, 1),
    lambda lib, m: m.avg_pool3d(R(lib, 1, 0, 5, 5, 5), 2),
    lambda lib, m: m.adaptive_avg_pool2d(R(lib, 1, 1, 5, 7), -1),
    lambda lib, m: m.adaptive_avg_pool2d(R(lib, 1, 1, 5, 7), (1, 2, 3)),
    lambda lib, m: m.adaptive_avg_pool2d(R(lib, 5, 7), 2),
    lambda lib, m: m.adaptive_max_pool2d(R(lib, 5, 7), 2),
    lambda lib, m: m.adaptive_avg_pool2d(R(lib, 1, 1, 0, 7), 2),
]


@pytest.mark.parametrize("i", range(len(BAD)))
def test_bad_calls_match_torch(i):
    outcomes = []
    for lib, mod in LIBS:
        with pytest.raises(Exception) as info:                     # noqa: B017
            BAD[i](lib, mod)
        outcomes.append((type(info.value), str(info.value)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("name", ["adaptive_avg_pool2d", "adaptive_max_pool2d",
                                  "adaptive_avg_pool1d", "adaptive_max_pool1d"])
def test_adaptive_edge_grid_matches_torch(name):
    """Ranks, empty dims, None/zero/negative/1x1 sizes and dtypes: same result or same error."""
    d2 = name.endswith("2d")
    shapes = [(1, 0, 5, 5), (0, 5, 5), (0, 1, 5, 5), (1, 0, 5), (0, 5), (0, 1, 5), (1, 1, 5, 0),
              (5,), (1, 1, 1, 5, 5), (1, 1, 0), (2, 3, 7, 5), (3, 4, 6), (5, 7)]
    sizes = [2, -1, (2, -1) if d2 else (1, 2), 0, (None, 3) if d2 else 3,
             (1, 2, 3) if d2 else -3, (0, 2) if d2 else 1, 1]
    for shape in shapes:
        for o in sizes:
            for dt in ("float32", "int64", "bool"):
                res = []
                for lib, mod in LIBS:
                    xs = lib.tensor(np.arange(int(np.prod(shape))).reshape(shape).astype(dt) % 3)
                    try:
                        y = getattr(mod, name)(xs, o)
                        y = np.array(y.numpy() if lib is torch else y._numpy())
                        res.append(("ok", y.shape, y.dtype.name, y.tolist()))
                    except Exception as e:                          # noqa: BLE001
                        res.append((type(e).__name__, str(e)))
                assert str(res[0]) == str(res[1]), (shape, o, dt)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("fn", ["max", "avg"])
def test_pool_argument_grid_matches_torch(nsp, fn):
    """Shapes (batched, unbatched, empty, too small, wrong rank) x arguments (good and bad) x
    dtypes: the same values or the same exception and message, in PyTorch's check order."""
    name = f"{fn}_pool{nsp}d"
    shapes = [(1, 2) + (5,) * nsp, (2,) + (5,) * nsp, (5,) * nsp, (1, 0) + (5,) * nsp,
              (0, 2) + (5,) * nsp, (1, 1) + (2,) * nsp, (1, 1, 1) + (5,) * nsp,
              (2, 0) + (5,) * (nsp - 1)]
    argsets = [(2,), (3, 1, 1), (2, 2, 1), (0,), (2, 0), (3, 2, 2), (2, None, 1, False, False)]
    if fn == "max":
        argsets += [(2, 1, 0, 2), (2, 1, 0, 0), (2, 1, 1, 2, True), (3, 2, 1, 1, False, True)]
    else:
        argsets += [(2, 1, 0, True)] + ([(2, 1, 0, True, True, 0), (3, 1, 1, True, False, -2)]
                                        if nsp > 1 else [(3, 1, 1, True, False)])
    for shape in shapes:
        for args in argsets:
            for dt in ("float32", "int64", "bool"):
                res = []
                for lib, mod in LIBS:
                    x = (np.arange(int(np.prod(shape))).reshape(shape) % 7).astype(dt)
                    try:
                        y = getattr(mod, name)(lib.tensor(x), *args)
                        y = y[0] if isinstance(y, tuple) else y
                        y = np.array(y.numpy() if lib is torch else y._numpy())
                        res.append(("ok", y.shape, y.dtype.name, np.round(y.astype(float), 5).tolist()))
                    except Exception as e:                          # noqa: BLE001
                        res.append((type(e).__name__, str(e)))
                assert str(res[0]) == str(res[1]), (shape, args, dt)
