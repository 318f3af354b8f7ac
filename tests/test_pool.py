"""Pooling: kernels vs the naive references in tests/reference_pool.py, edge cases, errors."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn.functional as F
import reference_pool as ref
from variants import VARIANTS, on_variant

# the reference loops are slow: cap the examples (never raise the profile's count)
FEW = settings(max_examples=min(settings().max_examples, 20))

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-9)}
MAX_FN = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_FN = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _t(a, requires_grad=False):
    t = tt.from_numpy(np.ascontiguousarray(a))
    if requires_grad:
        t.requires_grad_()
    return t


def _np(t):
    return np.array(t._numpy())


@st.composite
def pool_cases(draw, nsp, dilation=True, input_ge_kernel=False):
    """Valid pooling calls by construction: pad <= k // 2, input at least the effective window
    minus the padding (so at least one output; avg_pool3d wants input >= kernel); every pair
    drawn independently."""
    kmax, extra = (3, 2) if nsp == 3 else (4, 4)
    k = [draw(st.integers(1, kmax)) for _ in range(nsp)]
    s = [draw(st.integers(1, 3)) for _ in range(nsp)]
    d = [draw(st.integers(1, 2 if nsp == 3 else 3)) if dilation else 1 for _ in range(nsp)]
    p = [draw(st.integers(0, kk // 2)) for kk in k]
    sizes = [max(1, kk if input_ge_kernel else 1, dd * (kk - 1) + 1 - 2 * pp)
             + draw(st.integers(0, extra)) for kk, dd, pp in zip(k, d, p)]
    lead = draw(st.sampled_from([(1, 1), (2, 3), (3,), (1, 2)]))    # (3,): unbatched
    return dict(shape=lead + tuple(sizes), k=k, s=s, p=p, d=d, ceil=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)), ties=draw(st.booleans()))


def _data(case, dtype):
    rng = np.random.default_rng(case["seed"])
    if case["ties"] or dtype == np.int64:
        return rng.integers(-3, 4, case["shape"]).astype(dtype)    # many ties
    return rng.standard_normal(case["shape"]).astype(dtype)


def _max_args(case):
    nsp = len(case["k"])
    return dict(kernel_size=tuple(case["k"]), stride=tuple(case["s"]), padding=tuple(case["p"]),
                dilation=tuple(case["d"]), ceil_mode=case["ceil"]) if nsp > 1 else dict(
        kernel_size=case["k"][0], stride=case["s"][0], padding=case["p"][0],
        dilation=case["d"][0], ceil_mode=case["ceil"])


# ---------------------------------------------------------------------------------------------
# max pooling


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@FEW
@given(data=st.data())
def test_max_pool_forward_matches_reference(nsp, dtype, data):
    case = data.draw(pool_cases(nsp))
    x = _data(case, dtype)
    out, idx = MAX_FN[nsp](_t(x), return_indices=True, **_max_args(case))
    rv, ri = ref.max_pool(x, nsp, case["k"], case["s"], case["p"], case["d"], case["ceil"])
    assert out.shape == rv.shape and out.dtype == _t(x).dtype
    np.testing.assert_array_equal(_np(out), rv)
    np.testing.assert_array_equal(_np(idx), ri)
    # indices pick the outputs out of each input plane (the check SEMANTICS 3.4 uses)
    lead = x.shape[:x.ndim - nsp]
    flat = x.reshape(lead + (-1,))
    ix = _np(idx).reshape(lead + (-1,))
    lowest = np.iinfo(dtype).min if dtype == np.int64 else -np.inf
    inside = rv.reshape(ix.shape) != lowest           # not a window all in the padding
    picked = np.take_along_axis(flat, np.where(inside, ix, 0), -1)
    np.testing.assert_array_equal(picked[inside], rv.reshape(ix.shape)[inside])
    if nsp == 1 and dtype == np.int64:
        with pytest.raises(NotImplementedError, match="max_pool1d_impl"):   # as PyTorch
            MAX_FN[nsp](_t(x), **_max_args(case))
        return
    plain = MAX_FN[nsp](_t(x), **_max_args(case))                  # no indices path
    np.testing.assert_array_equal(_np(plain), rv)


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(data=st.data())
def test_max_pool_backward_matches_reference(nsp, dtype, data):
    case = data.draw(pool_cases(nsp))
    x = _data(case, dtype)
    a = _t(x, requires_grad=True)
    out = MAX_FN[nsp](a, **_max_args(case))
    g = np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(dtype)
    (out * _t(g)).sum().backward()
    rv, ri = ref.max_pool(x, nsp, case["k"], case["s"], case["p"], case["d"], case["ceil"])
    expected = ref.max_pool_backward(g, ri, x.shape, nsp)
    np.testing.assert_allclose(_np(a.grad), expected, **TOL[dtype])
    # every output's gradient lands on exactly one input: the sum is conserved (a window lying
    # entirely in the padding has, as in PyTorch, an index that may fall outside the plane,
    # and then passes no gradient)
    live = (ri >= 0) & (ri < np.prod(x.shape[x.ndim - nsp:]))
    np.testing.assert_allclose(_np(a.grad).sum(dtype=np.float64), g[live].sum(dtype=np.float64),
                               rtol=1e-5, atol=1e-4)


def test_max_pool2d_gradcheck():
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 7 * 6).astype(np.float64).reshape(1, 2, 7, 6)   # no near-ties
    a = _t(x, requires_grad=True)
    assert tt.autograd.gradcheck(lambda t: F.max_pool2d(t, (3, 2), (2, 1), (1, 1), (1, 2), True),
                                 (a,))
    assert tt.autograd.gradcheck(lambda t: F.max_pool1d(t.flatten(2), 3, 2, 1), (a,))


# ---------------------------------------------------------------------------------------------
# average pooling


def _avg_args(case, dov):
    nsp = len(case["k"])
    if nsp == 1:
        args = dict(kernel_size=case["k"][0], stride=case["s"][0], padding=case["p"][0])
    else:
        args = dict(kernel_size=tuple(case["k"]), stride=tuple(case["s"]),
                    padding=tuple(case["p"]), divisor_override=dov)
    return dict(args, ceil_mode=case["ceil"], count_include_pad=case["cip"])


@pytest.mark.parametrize("nsp", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@FEW
@given(data=st.data())
def test_avg_pool_forward_backward_match_reference(nsp, dtype, data):
    case = data.draw(pool_cases(nsp, dilation=False, input_ge_kernel=nsp == 3))
    case["cip"] = data.draw(st.booleans())
    dov = None if nsp == 1 else data.draw(st.sampled_from([None, None, 1, 3, -2]))
    x = _data(case, dtype)
    a = _t(x, requires_grad=dtype != np.int64)
    out = AVG_FN[nsp](a, **_avg_args(case, dov))
    expected = ref.avg_pool(x, nsp, case["k"], case["s"], case["p"], case["ceil"], case["cip"],
                            dov)
    assert out.shape == expected.shape
    if dtype == np.int64:
        np.testing.assert_array_equal(_np(out), expected)
        return
    np.testing.assert_allclose(_np(out), expected, **TOL[dtype])
    g = np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(dtype)
    (out * _t(g)).sum().backward()
    eg = ref.avg_pool_backward(g, x.shape, nsp, case["k"], case["s"], case["p"], case["ceil"],
                               case["cip"], dov)
    np.testing.assert_allclose(_np(a.grad), eg, **TOL[dtype])


def test_avg_pool2d_gradcheck():
    x = np.random.default_rng(1).standard_normal((1, 1, 6, 5))
    a = _t(x, requires_grad=True)
    assert tt.autograd.gradcheck(lambda t: F.avg_pool2d(t, (3, 2), (2, 2), (1, 1), True, False),
                                 (a,))
    assert tt.autograd.gradcheck(lambda t: F.avg_pool2d(t, 2, divisor_override=3), (a,))


def test_avg_pool2d_fast_path_equals_general():
    x = np.random.default_rng(2).standard_normal((3, 4, 8, 6)).astype(np.float32)
    fast = _np(F.avg_pool2d(_t(x), 2))
    general = _np(F.avg_pool2d(_t(x), 2, count_include_pad=False, ceil_mode=True))
    np.testing.assert_array_equal(fast, general)
    np.testing.assert_allclose(fast, ref.avg_pool(x, 2, [2, 2], [2, 2], [0, 0], False, True, None),
                               **TOL[np.float32])


# ---------------------------------------------------------------------------------------------
# layouts and threads


def _layouts(x):
    """The same values as tensors with different strides: contiguous, permuted, sliced, expanded."""
    yield "contiguous", _t(x)
    perm = list(range(x.ndim))[::-1]
    stored = np.ascontiguousarray(np.transpose(x, perm))
    yield "permuted", tt.from_numpy(stored).permute(*perm)          # reversed twice
    big = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
    big[..., 1::2] = x
    yield "sliced", tt.from_numpy(big)[..., 1::2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(case=pool_cases(2))
def test_layouts_give_the_same_values(dtype, case):
    x = _data(case, dtype)
    expected = _np(F.max_pool2d(_t(x), **_max_args(case)))
    exp_avg = _np(F.avg_pool2d(_t(x), tuple(case["k"]), tuple(case["s"]), tuple(case["p"]),
                               case["ceil"]))
    for name, t in _layouts(x):
        assert t.shape == x.shape, name
        np.testing.assert_array_equal(_np(F.max_pool2d(t, **_max_args(case))), expected, name)
        np.testing.assert_array_equal(
            _np(F.avg_pool2d(t, tuple(case["k"]), tuple(case["s"]), tuple(case["p"]),
                             case["ceil"])), exp_avg, name)
    # expanded (stride 0 along the batch): every batch entry equals the single source plane
    one = x[:1] if x.ndim == 4 else x[None]
    e = tt.from_numpy(np.ascontiguousarray(one)).expand(3, *one.shape[1:])
    single = _np(F.max_pool2d(_t(one), **_max_args(case)))
    np.testing.assert_array_equal(_np(F.max_pool2d(e, **_max_args(case))),
                                  np.broadcast_to(single, (3,) + single.shape[1:]))


def test_one_and_two_threads_bitwise_equal(threads):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 17, 13)).astype(np.float32)
    calls = [lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
             lambda t: F.max_pool3d(t[None], (2, 3, 2), 1, (1, 1, 0), ceil_mode=True),
             lambda t: F.avg_pool2d(t, (3, 2), (2, 1), 1, True, False),
             lambda t: F.avg_pool2d(t, 2),
             lambda t: F.adaptive_avg_pool2d(t, (4, 5)),
             lambda t: F.adaptive_max_pool2d(t, (6, 4), return_indices=True)]
    for call in calls:
        results = []
        for n in (1, 2):
            threads(n)
            a = _t(x, requires_grad=True)
            out = call(a)
            out = out if isinstance(out, tuple) else (out,)
            (out[0] * out[0]).sum().backward()
            results.append([_np(o) for o in out] + [_np(a.grad)])
        for r1, r2 in zip(*results):
            assert r1.tobytes() == r2.tobytes()


# ---------------------------------------------------------------------------------------------
# adaptive pools and unpooling


@pytest.mark.parametrize("nsp", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@FEW
@given(data=st.data())
def test_adaptive_pools_match_reference(nsp, dtype, data):
    sizes = tuple(data.draw(st.integers(1, 9)) for _ in range(nsp))
    outs = tuple(data.draw(st.integers(1, 11)) for _ in range(nsp))       # o > n included
    lead = data.draw(st.sampled_from([(2, 3), (3,)]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = (rng.integers(-3, 4, lead + sizes) if data.draw(st.booleans())
         else rng.standard_normal(lead + sizes)).astype(dtype)
    avg_fn = F.adaptive_avg_pool1d if nsp == 1 else F.adaptive_avg_pool2d
    max_fn = F.adaptive_max_pool1d if nsp == 1 else F.adaptive_max_pool2d
    o_arg = outs[0] if nsp == 1 else outs
    a = _t(x, requires_grad=True)
    y = avg_fn(a, o_arg)
    np.testing.assert_allclose(_np(y), ref.adaptive_pool(x, nsp, outs, "avg"), **TOL[dtype])
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * _t(g)).sum().backward()
    np.testing.assert_allclose(_np(a.grad), ref.adaptive_avg_backward(g, x.shape, nsp),
                               **TOL[dtype])
    b = _t(x, requires_grad=True)
    v, i = max_fn(b, o_arg, return_indices=True)
    rv, ri = ref.adaptive_pool(x, nsp, outs, "max")
    np.testing.assert_array_equal(_np(v), rv)
    np.testing.assert_array_equal(_np(i), ri)
    (v * _t(g)).sum().backward()
    np.testing.assert_allclose(_np(b.grad), ref.max_pool_backward(g, ri, x.shape, nsp),
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=pool_cases(2, dilation=False))
def test_max_unpool2d_inverts_max_pool2d(dtype, case):
    x = _data(case, dtype)
    args = dict(kernel_size=tuple(case["k"]), stride=tuple(case["s"]), padding=tuple(case["p"]))
    y, i = F.max_pool2d(_t(x), return_indices=True, ceil_mode=case["ceil"], **args)
    out_hw = x.shape[-2:]
    a = _t(_np(y), requires_grad=True)
    try:
        u = F.max_unpool2d(a, i, output_size=out_hw, **args)
    except ValueError:                       # out_hw outside (default - s, default + s)
        return
    np.testing.assert_array_equal(_np(u), ref.max_unpool(_np(y), _np(i), out_hw))
    g = np.random.default_rng(case["seed"]).standard_normal(u.shape).astype(dtype)
    (u * _t(g)).sum().backward()
    # the adjoint of a scatter is the gather at the same indices
    expected = np.take_along_axis(g.reshape(g.shape[:-2] + (-1,)),
                                  _np(i).reshape(_np(i).shape[:-2] + (-1,)), -1)
    np.testing.assert_array_equal(_np(a.grad), expected.reshape(y.shape))


# ---------------------------------------------------------------------------------------------
# SEMANTICS edge cases 37-70 and the lecture's example


def _ar(n, shape, dtype=np.float32):
    return _t(np.arange(1, n + 1, dtype=dtype).reshape(shape))


def test_empty_batch_forward_and_backward():
    for fn, shape in [(F.max_pool2d, (0, 3, 5, 5)), (F.max_pool3d, (0, 2, 4, 4, 4)),
                      (F.max_pool1d, (0, 3, 5)), (F.avg_pool2d, (0, 3, 5, 5)),
                      (F.adaptive_avg_pool2d, (0, 3, 5, 5)), (F.adaptive_max_pool2d, (0, 3, 5, 5))]:
        x = tt.randn(*shape).requires_grad_()
        y = fn(x, 2)
        assert y.shape[0] == 0
        y.sum().backward()
        assert x.grad.shape == x.shape


def test_lecture_example_shape():
    assert F.max_pool2d(tt.randn(32, 24, 24), 3).shape == (32, 8, 8)


def test_max_pool_edge_cases():
    x = _ar(25, (1, 1, 5, 5))
    assert _np(F.max_pool2d(x, 2)).ravel().tolist() == [7, 9, 17, 19]                     # 37
    assert _np(F.max_pool2d(x, 2, ceil_mode=True)).ravel().tolist() == [7, 9, 10, 17, 19, 20,
                                                                         22, 24, 25]
    np.testing.assert_array_equal(_np(F.max_pool2d(x, 2, stride=[])), _np(F.max_pool2d(x, 2)))
    assert F.max_pool2d(x, 2, padding=1).shape == (1, 1, 3, 3)                            # 39
    v, i = F.max_pool1d(_ar(5, (1, 1, 5)), 2, 2, 1, ceil_mode=True, return_indices=True)  # 43
    assert _np(v).ravel().tolist() == [1, 3, 5] and _np(i).ravel().tolist() == [0, 2, 4]
    v, i = F.max_pool1d(_ar(6, (1, 1, 6)), 2, 2, 1, ceil_mode=True, return_indices=True)
    assert _np(v).ravel().tolist() == [1, 3, 5, 6] and _np(i).ravel().tolist() == [0, 2, 4, 5]
    assert F.max_pool1d(_ar(4, (1, 1, 4)), 1, 2, 0, ceil_mode=True).shape == (1, 1, 2)    # 44
    v, i = F.max_pool1d(_ar(5, (1, 1, 5)), 3, 2, ceil_mode=True, return_indices=True)     # 45
    assert _np(v).ravel().tolist() == [3, 5] and _np(i).ravel().tolist() == [2, 4]
    _, i = F.max_pool2d(x, 3, 2, 1, return_indices=True)                                  # 46
    assert _np(i).ravel().tolist() == [6, 8, 9, 16, 18, 19, 21, 23, 24]
    a = _t(np.ones((1, 1, 2, 2), np.float32), requires_grad=True)                        # 47
    v, i = F.max_pool2d(a, 2, return_indices=True)
    v.sum().backward()
    assert _np(i).ravel().tolist() == [0] and _np(a.grad).ravel().tolist() == [1, 0, 0, 0]
    _, i = F.max_pool1d(_t(np.full((1, 1, 4), 3.0)), 2, 1, return_indices=True)         # 48
    assert _np(i).ravel().tolist() == [0, 1, 2]
    assert _np(F.max_pool2d(x, 2, dilation=2)).ravel().tolist() == [13, 15, 23, 25]       # 57
    xi = _t(np.arange(25, dtype=np.int64).reshape(1, 1, 5, 5))                           # 56
    yi = F.max_pool2d(xi, 2)
    assert yi.dtype == tt.int64 and _np(yi).ravel().tolist() == [6, 8, 16, 18]
    assert F.max_pool2d(tt.randn(2, 5, 5), 2).shape == (2, 2, 2)                         # 54


def test_max_pool_nan_and_negative_infinity():
    nan = float("nan")
    a = _t(np.array([nan, 1, nan, 3], np.float32).reshape(1, 1, 2, 2), requires_grad=True)
    v, i = F.max_pool2d(a, 2, return_indices=True)                                        # 49
    v.sum().backward()
    assert np.isnan(_np(v)).all() and _np(i).ravel().tolist() == [2]
    assert _np(a.grad).ravel().tolist() == [0, 0, 1, 0]
    b = _t(np.array([1, 2, 3, nan], np.float32).reshape(1, 1, 2, 2))                     # 50
    assert np.isnan(_np(F.max_pool2d(b, 2))).all()
    big = _t(np.array([nan] + [5.0] * 17 + [nan] + [1.0] * 6).reshape(1, 1, 5, 5))       # wide rows
    v, i = F.max_pool2d(big, 5, return_indices=True)
    assert np.isnan(_np(v)).all() and _np(i).ravel().tolist() == [18]
    c = _t(-np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3))                      # 51
    v, i = F.max_pool2d(c, 3, 1, 1, return_indices=True)
    assert _np(v).ravel().tolist() == [-1, -1, -2, -1, -1, -2, -4, -4, -5]
    assert _np(i).ravel().tolist() == [0, 0, 1, 0, 0, 1, 3, 3, 4]
    d = _t(np.full((1, 1, 2, 2), -np.inf, np.float32), requires_grad=True)               # 52
    F.max_pool2d(d, 2, 1, 1).sum().backward()
    assert _np(d.grad).ravel().tolist() == [4, 2, 2, 1]
    e = np.zeros((1, 1, 3, 3), np.float32)                                                # 53
    e[0, 0, 1, 1] = 5
    e = _t(e, requires_grad=True)
    F.max_pool2d(e, 2, 1).sum().backward()
    assert _np(e.grad)[0, 0, 1, 1] == 4


def test_avg_pool_edge_cases():
    ones = lambda *s: _t(np.ones(s, np.float32))                                        # noqa: E731
    y = _np(F.avg_pool2d(ones(1, 1, 6, 6), 3, 2, 1, ceil_mode=True))                     # 58
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 3, 3] == 0.25 and y[0, 0, 3, 1] == 0.5 and y[0, 0, 2, 3] == 0.5
    assert y[0, 0, 1, 1] == 1
    assert (_np(F.avg_pool2d(ones(1, 1, 6, 6), 3, 2, 1, True, False)) == 1).all()
    assert _np(F.avg_pool1d(ones(1, 1, 5), 2, 2, 0, ceil_mode=True)).ravel().tolist() == [1] * 3
    assert _np(F.avg_pool2d(ones(1, 1, 1, 1), 3, 1, 1)).item() == pytest.approx(1 / 9)  # 60
    assert _np(F.avg_pool2d(ones(1, 1, 1, 1), 3, 1, 1, count_include_pad=False)).item() == 1
    assert (_np(F.avg_pool2d(ones(1, 1, 4, 4), 2, divisor_override=2)) == 2).all()       # 61
    assert (_np(F.avg_pool2d(ones(1, 1, 4, 4), 2, divisor_override=-1)) == -4).all()
    xi = _t(np.array([[[[-1, -2], [-2, -2]]]], np.int64))                                # 63
    assert _np(F.avg_pool2d(xi, 2)).ravel().tolist() == [-1]
    xi = _t(np.array([[[[7, 0], [0, 0]]], [[[-7, 0], [0, 0]]]], np.int64))               # 7/4, -7/4
    assert _np(F.avg_pool2d(xi, 2)).ravel().tolist() == [1, -1]
    a = _t(np.ones((1, 1, 5)), requires_grad=True)                                       # 4: grads
    F.avg_pool1d(a, 3, 2, 1, ceil_mode=True).sum().backward()
    np.testing.assert_allclose(_np(a.grad).ravel(), [1 / 3, 2 / 3, 1 / 3, 2 / 3, 1 / 3])
    a = _t(np.ones((1, 1, 5)), requires_grad=True)
    F.avg_pool1d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False).sum().backward()
    np.testing.assert_allclose(_np(a.grad).ravel(), [.5, 5 / 6, 1 / 3, 5 / 6, .5])


def test_adaptive_and_unpool_edge_cases():
    x = _ar(7, (1, 1, 7))                                                                 # 65
    assert _np(F.adaptive_avg_pool1d(x, 4)).ravel().tolist() == [1.5, 3, 5, 6.5]
    v, i = F.adaptive_max_pool1d(x, 4, return_indices=True)
    assert _np(v).ravel().tolist() == [2, 4, 6, 7] and _np(i).ravel().tolist() == [1, 3, 5, 6]
    assert F.adaptive_avg_pool2d(tt.randn(1, 1, 5, 7), (None, 3)).shape == (1, 1, 5, 3)  # 66
    assert F.adaptive_avg_pool2d(tt.randn(1, 1, 5, 7), 0).shape == (1, 1, 0, 0)
    x3 = _ar(3, (1, 1, 3))                                                                # 67
    assert _np(F.adaptive_avg_pool1d(x3, 5)).ravel().tolist() == [1, 1.5, 2, 2.5, 3]
    y, i = F.max_pool2d(_ar(16, (1, 1, 4, 4)), 2, return_indices=True)                   # 68
    u = _np(F.max_unpool2d(y, i, 2))
    expected = np.zeros(16, np.float32)
    expected[[5, 7, 13, 15]] = [6, 8, 14, 16]
    np.testing.assert_array_equal(u.ravel(), expected)
    assert F.max_unpool2d(y, i, 2, output_size=(1, 1, 5, 5)).shape == (1, 1, 5, 5)
    u = F.max_unpool2d(_t(np.array([[[[1.0, 2.0]]]])), _t(np.zeros((1, 1, 1, 2), np.int64)), (1, 2),
                       output_size=(1, 4))                                                # 70
    assert _np(u).ravel().tolist() == [2, 0, 0, 0]


# ---------------------------------------------------------------------------------------------
# bad calls: exception type and PyTorch's message (SEMANTICS 3, 4, 5, 6)


def _x(*shape, dtype=np.float32):
    return _t(np.random.default_rng(0).standard_normal(shape).astype(dtype))


_Y, _I = None, None


def _pooled():
    global _Y, _I
    if _Y is None:
        _Y, _I = F.max_pool2d(_ar(16, (1, 1, 4, 4)), 2, return_indices=True)
    return _Y, _I


BAD_CALLS = [
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     "dilation=1"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, padding=2, dilation=3), RuntimeError,
     "pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, "
     "kW = 2, kH = 2"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), (3, 5), padding=(1, 3)), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=3, kernel_size=5"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, padding=-1), RuntimeError,
     "pad must be non-negative, but got pad: -1"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 0), RuntimeError, "stride should not be zero"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 0, stride=1), RuntimeError,
     "kernel size should be greater than zero, but got kH: 0 kW: 0"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, -1), RuntimeError,
     "stride should be greater than zero, but got dH: -1 dW: -1"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2, dilation=0), RuntimeError,
     "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    (lambda: F.max_pool2d(_x(1, 1, 2, 2), 3), RuntimeError,
     r"Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"),
    (lambda: F.max_pool2d(_x(5, 5), 2), RuntimeError,
     "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda: F.max_pool2d(_x(1, 0, 5, 5), 2), RuntimeError,
     "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
     "got:[1, 0, 5, 5]"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), (1, 2, 3)), RuntimeError,
     "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (lambda: F.max_pool2d(_x(1, 1, 5, 5), 2.0), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not float"),
    (lambda: F.max_pool2d(_x(1, 1, 4, 4).to(tt.bool), 2), NotImplementedError,
     "\"max_pool2d\" not implemented for 'Bool'"),
    (lambda: F.max_pool3d(_x(1, 1, 2, 2, 2), 3), RuntimeError,
     "Given input size: (1x2x2x2). Calculated output size: (1x0x0x0). Output size is too small"),
    (lambda: F.max_pool3d(_x(1, 5, 5), 2), RuntimeError,
     "non-empty 4D or 5D (batch mode) tensor expected for input"),
    (lambda: F.max_pool1d(_x(1, 1, 3, 5), 2), RuntimeError,
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input,"
     " but got:[1, 1, 3, 5]"),
    (lambda: F.max_pool1d(_x(1, 1, 5), 2, padding=2), RuntimeError,
     "max_pool1d() padding should be at most half of kernel size, but got padding=2 and "
     "kernel_size=2"),
    (lambda: F.max_pool1d(_x(1, 1, 5), 0), RuntimeError,
     "max_pool1d() kernel_size must be greater than zero, but got 0"),
    (lambda: F.max_pool1d(_x(1, 1, 2), 3), RuntimeError,
     "max_pool1d() Invalid computed output size: 0"),
    (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=0), RuntimeError,
     "divisor must be not zero"),
    (lambda: F.avg_pool1d(_x(1, 1, 4), 2, divisor_override=1), TypeError, "divisor_override"),
    (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, dilation=2), TypeError, "dilation"),
    (lambda: F.avg_pool2d(_x(5, 5), 2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
    (lambda: F.avg_pool1d(_x(1, 1, 3, 5), 2), RuntimeError,
     "Expected 2 to 3 dimensions, but got 4-dimensional tensor for argument #1 'self' (while "
     "checking arguments for avg_pool1d)"),
    (lambda: F.avg_pool2d(_x(1, 1, 5, 5), 2, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size"),
    (lambda: F.adaptive_avg_pool2d(_x(1, 1, 5, 7), -1), RuntimeError,
     "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
     "received {-1, -1}"),
    (lambda: F.adaptive_avg_pool2d(_x(1, 1, 5, 7), (1, 2, 3)), RuntimeError,
     "adaptive_avg_pool2d: output_size must be 2"),
    (lambda: F.adaptive_avg_pool2d(_x(5, 7), 2), RuntimeError,
     "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [5, 7]"),
    (lambda: F.adaptive_max_pool2d(_x(5, 7), 2), RuntimeError,
     "adaptive_max_pool2d(): Expected 3D or 4D tensor, but got: [5, 7]"),
    (lambda: F.adaptive_avg_pool2d(_x(1, 1, 0, 7), 2), RuntimeError,
     "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but "
     "input has sizes [1, 1, 0, 7] with dimension 2 being empty"),
    (lambda: F.max_unpool2d(*_pooled(), 2, output_size=(6, 6)), ValueError,
     'invalid output_size "(6, 6)" (dim 0 must be between 2 and 6)'),
    (lambda: F.max_unpool2d(*_pooled(), 2, output_size=(1, 2, 3)), ValueError,
     "output_size should be a sequence containing 2 or 4 elements, but it has a length of '3'"),
    (lambda: F.max_unpool2d(*_pooled(), 2, output_size=(3, 3)), RuntimeError,
     "Found an invalid max index: 15 (output volumes are of size 3x3)"),
    (lambda: F.max_unpool2d(_pooled()[0], _pooled()[1] - 100, 2), RuntimeError,
     "Found an invalid max index: -85"),
    (lambda: F.max_unpool2d(_pooled()[0], _pooled()[1].to(tt.float32), 2), RuntimeError,
     "elements in indices should be type int64 but got: Float"),
    (lambda: F.max_unpool2d(_pooled()[0], _pooled()[1][..., :1], 2), RuntimeError,
     "Expected shape of indices to be same as that of the input tensor ([1, 1, 2, 2]) but got "
     "indices tensor with shape: [1, 1, 2, 1]"),
]


@pytest.mark.parametrize("call,exc,message", BAD_CALLS)
def test_bad_calls_raise_pytorch_errors(call, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        call()


def test_recycled_scratch_never_overwrites_live_gradients(monkeypatch):
    from tinytensor._functions import _memory
    monkeypatch.setattr(_memory, "_REUSE_MIN_BYTES", 0)        # recycle even tiny buffers
    monkeypatch.setattr(_memory, "_reuse", {})
    rng = np.random.default_rng(5)
    x1 = _t(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    (g1,) = tt.autograd.grad(F.max_pool2d(x1, 2).sum(), (x1,))
    (a1,) = tt.autograd.grad(F.avg_pool2d(x1, 3, 1, 1).sum(), (x1,))
    kept_g, kept_a = _np(g1).copy(), _np(a1).copy()
    for _ in range(3):                                          # same shapes: same cache keys
        x2 = _t(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
        F.max_pool2d(x2, 2).sum().backward()
        F.avg_pool2d(x2, 3, 1, 1).sum().backward()
        y = F.max_pool2d(x2 * 2, 2)                             # graph alive: winners in use
        z = F.max_pool2d(x2 * 3, 2)
        (y.sum() + z.sum()).backward()
        np.testing.assert_array_equal(_np(x2.grad), ref.max_pool_backward(
            np.full((2, 3, 3, 3), 6.0), ref.max_pool(_np(x2), 2, [2, 2], [2, 2], [0, 0], [1, 1],
                                                     False)[1], x2.shape, 2)
            + ref.avg_pool_backward(np.ones((2, 3, 6, 6)), x2.shape, 2, [3, 3], [1, 1], [1, 1],
                                    False, True, None))
    np.testing.assert_array_equal(_np(g1), kept_g)
    np.testing.assert_array_equal(_np(a1), kept_a)


@st.composite
def row_cases(draw):
    """float32 max pools whose rows take the row kernel: column stride 1 or 2, rows from a
    few outputs to several groups of vectors wide (AVX-512: 48 outputs a group), 1-3 spatial
    dims, dilation and padding."""
    nsp = draw(st.integers(1, 3))
    k = [draw(st.integers(1, 2 if i < nsp - 1 else 4)) for i in range(nsp)]
    s = [draw(st.integers(1, 2)) for _ in range(nsp)]
    d = [draw(st.integers(1, 2)) for _ in range(nsp)]
    p = [draw(st.integers(0, kk // 2)) for kk in k]
    sizes = [max(1, dd * (kk - 1) + 1 - 2 * pp) + draw(st.integers(0, 3))
             for kk, dd, pp in zip(k, d, p)]
    sizes[-1] += draw(st.sampled_from([0, 5, 20, 60, 110]))
    return dict(shape=(2,) + tuple(sizes), k=k, s=s, p=p, d=d, ceil=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)), ties=draw(st.booleans()))


@pytest.mark.parametrize("variant", VARIANTS)
@FEW
@given(case=row_cases())
def test_max_pool_rows_on_every_variant(variant, case):
    """The variant's row kernel against the naive reference, through the kernel entry with
    every winner kind (int64, int32, uint16, none) and through the API, forward and backward:
    ties, NaNs of either sign, -inf and signed zeros in the data, windows partly in the padding."""
    from tinytensor._kernels import pool as kp
    nsp = len(case["k"])
    x = _data(case, np.float32)
    rng = np.random.default_rng(case["seed"] + 2)
    special = np.array([np.nan, -np.nan, -np.inf, 0.0, -0.0], np.float32)
    hit = rng.random(x.shape) < 0.08
    x[hit] = rng.choice(special, hit.sum())
    rv, ri = ref.max_pool(x, nsp, case["k"], case["s"], case["p"], case["d"], case["ceil"])
    pad3 = lambda v, fill: [fill] * (3 - nsp) + list(v)
    geo = [*pad3(case["k"], 1), *pad3(case["s"], 1), *pad3(case["p"], 0), *pad3(case["d"], 1)]
    x4 = x.reshape((x.shape[0],) + (1,) * (3 - nsp) + x.shape[1:])
    y4 = np.empty((x.shape[0],) + (1,) * (3 - nsp) + rv.shape[1:], np.float32)
    plane = x[0].size
    with on_variant(variant):
        assert kp.vector_rows() == variant
        for dt in (np.int64, np.int32, np.uint16, None):
            idx = None if dt is None else np.full(y4.shape, 7, dt)
            y4[...] = 1
            kp.max_pool_forward(x4, y4, idx, *geo, case["ceil"], 2)
            np.testing.assert_array_equal(y4.reshape(rv.shape).view(np.int32),
                                          rv.view(np.int32))        # bit for bit
            if dt is not None:
                got = idx.reshape(-1).astype(np.int64)
                want = ri.reshape(-1)
                if dt is np.uint16:     # a window all in the padding: 0xFFFF when outside
                    want = np.where((want < 0) | (want >= plane), 0xFFFF, want)
                np.testing.assert_array_equal(got, want)
        xt = _t(x, requires_grad=True)
        out, oi = MAX_FN[nsp](xt, return_indices=True, **_max_args(case))
        g = np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(np.float32)
        (out * _t(g)).sum().backward()
        np.testing.assert_array_equal(_np(oi), ri)
        np.testing.assert_allclose(_np(xt.grad), ref.max_pool_backward(g, ri, x.shape, nsp),
                                   **TOL[np.float32])
        xt.grad = None
        (MAX_FN[nsp](xt, **_max_args(case)) * _t(g)).sum().backward()     # uint16 winners
        np.testing.assert_allclose(_np(xt.grad), ref.max_pool_backward(g, ri, x.shape, nsp),
                                   **TOL[np.float32])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("width", [5, 37, 150])
def test_max_pool_vector_rows_match_plain_loops(variant, stride, width):
    """float32 rows with column stride 1 or 2 take the variant's row kernel
    (c/tt_pool_rows.inc): same values and winners as the plain loops, ties, NaNs, row tails
    and int64/uint16 winners included."""
    from tinytensor._kernels import pool as kp
    rng = np.random.default_rng(width * 10 + stride)
    x = rng.integers(-3, 4, (2, 3, 9, width)).astype(np.float32)    # many ties
    x[rng.random(x.shape) < 0.03] = np.nan
    x[0, 1] = rng.standard_normal((9, width))
    args = dict(kernel_size=(3, 3), stride=(2, stride), padding=(1, 1))
    outs = []
    with on_variant(variant):
        for on in (True, False):
            old = kp._use_vector_rows(on)
            try:
                xt = _t(x, requires_grad=True)
                y, i = F.max_pool2d(xt, return_indices=True, **args)
                y2 = F.max_pool2d(xt, **args)                    # uint16 winners, for backward
                (y2 * 3).sum().backward()
                outs.append((_np(y), _np(i), _np(y2), _np(xt.grad)))
            finally:
                kp._use_vector_rows(old)
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)
    rv, ri = ref.max_pool(x, 2, [3, 3], [2, stride], [1, 1], [1, 1], False)
    np.testing.assert_array_equal(outs[0][0], rv)
    np.testing.assert_array_equal(outs[0][1], ri)


def test_leaf_grad_takes_recycled_scratch_without_copy(monkeypatch):
    """A big input gradient becomes the leaf's .grad without a copy; the scratch cache hands
    that memory out again only once .grad lets go of it."""
    from tinytensor._functions import _memory
    monkeypatch.setattr(_memory, "_REUSE_MIN_BYTES", 0)
    monkeypatch.setattr(_memory, "_reuse", {})
    x = _t(np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32), True)
    F.max_pool2d(x, 3, 2, 1).sum().backward()
    g1 = x.grad
    assert any(np.shares_memory(g1._numpy(), a) for a in _memory._reuse.values())
    kept = _np(g1).copy()
    x.grad = None
    F.max_pool2d(x * 2, 3, 2, 1).sum().backward()               # g1 still held: fresh memory
    assert not np.shares_memory(g1._numpy(), x.grad._numpy())
    np.testing.assert_array_equal(_np(g1), kept)
