"""Elementwise and sum kernels (tinytensor._kernels.elementwise / reduce) against NumPy.

NumPy is the definition here: the kernels take NumPy arrays with any strides, so each case
builds views (contiguous, permuted, step-sliced, offset, expanded with stride 0, reversed)
and compares with NumPy on contiguous copies of the same views. Arithmetic (+ - * /) must
match bitwise (IEEE operations are exactly rounded); libm functions to a few ulps; sums to
rounding (the kernels sum pairwise or blocked, NumPy sums pairwise differently). Large cases
check that 1 and 2 threads give bitwise equal results on the parallel paths.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from tinytensor._kernels import elementwise as E
from tinytensor._kernels import reduce as R

LAYOUTS = ("contiguous", "permuted", "sliced", "offset", "expanded", "reversed")
NP_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}


def np_unary(op, a):
    with np.errstate(all="ignore"):
        if op == "sigmoid":
            return (1 / (1 + np.exp(-a))).astype(a.dtype)
        if op == "relu":
            return np.maximum(a, a.dtype.type(0))
        return {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs,
                "tanh": np.tanh, "sin": np.sin, "cos": np.cos}[op](a)


def np_unary_backward(op, g, s):
    with np.errstate(all="ignore"):
        r = {"neg": lambda: -g, "exp": lambda: g * s, "log": lambda: g / s,
             "sqrt": lambda: g / (2 * s), "abs": lambda: g * np.sign(s),
             "tanh": lambda: g * (1 - s * s), "sigmoid": lambda: g * s * (1 - s),
             "relu": lambda: np.where(s > 0, g, 0), "sin": lambda: g * np.cos(s),
             "cos": lambda: -g * np.sin(s)}[op]()
    return r.astype(g.dtype)


# --------------------------------------------------------------------------- strategies

@st.composite
def broadcast_pair(draw, max_dims=4, max_side=5):
    full = draw(st.lists(st.integers(0, max_side), min_size=0, max_size=max_dims))
    sa, sb = list(full), list(full)
    for i in range(len(full)):
        r = draw(st.integers(0, 3))
        if r == 1:
            sa[i] = 1
        elif r == 2:
            sb[i] = 1
    ca, cb = draw(st.integers(0, len(full))), draw(st.integers(0, len(full)))
    return (tuple(sa[ca:]), tuple(sb)) if draw(st.booleans()) else (tuple(sa), tuple(sb[cb:]))


def values(rng, shape, dtype, positive=False, special=False):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype == np.int64:
        return rng.integers(-10, 11, shape).astype(np.int64)
    a = rng.uniform(0.01 if positive else -10, 10, shape).astype(dtype)
    if special and a.size:
        flat = a.reshape(-1)
        for v in (np.nan, np.inf, -np.inf, 0.0, -0.0):
            flat[rng.integers(0, a.size)] = v
    return a


def view(a, layout, draw):
    """A view with a's shape in `layout` (values may change: NumPy on the same view is the
    expectation)."""
    if layout == "permuted" and a.ndim >= 2:
        perm = draw(st.permutations(range(a.ndim)))
        base = np.ascontiguousarray(a.transpose(perm))
        return base.transpose(np.argsort(perm))
    if layout == "sliced" and a.ndim >= 1:
        steps = [draw(st.integers(1, 3)) for _ in range(a.ndim)]
        starts = [draw(st.integers(0, 2)) for _ in range(a.ndim)]
        big = np.zeros(tuple(s0 + max(n, 1) * k for n, k, s0 in zip(a.shape, steps, starts)),
                       a.dtype)
        sl = tuple(slice(s0, s0 + n * k, k) for n, k, s0 in zip(a.shape, steps, starts))
        big[sl] = a
        return big[sl]
    if layout == "offset":
        off = draw(st.integers(1, 5))
        flat = np.zeros(a.size + off + 3, a.dtype)
        flat[off:off + a.size] = a.reshape(-1)
        return flat[off:off + a.size].reshape(a.shape)
    if layout == "expanded" and a.ndim >= 1:
        d = draw(st.integers(0, a.ndim - 1))
        return np.broadcast_to(np.take(a, [0] if a.shape[d] else [], axis=d)
                               if a.shape[d] else a, a.shape)
    if layout == "reversed" and a.ndim >= 1:
        return np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])[(slice(None, None, -1),) * a.ndim]
    return a.copy()              # C-contiguous, 0-d stays 0-d


def check_out(r, expected):
    assert r.shape == expected.shape
    assert r.dtype == expected.dtype
    assert r.flags.c_contiguous


# --------------------------------------------------------------------------- binary

@given(shapes=broadcast_pair(), op=st.sampled_from(sorted(NP_BINARY)),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
       la=st.sampled_from(LAYOUTS), lb=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**32 - 1),
       special=st.booleans(), data=st.data())
def test_binary_matches_numpy(shapes, op, dtype, la, lb, seed, special, data):
    if dtype == np.bool_ and op == "sub":
        op = "add"
    rng = np.random.default_rng(seed)
    a = view(values(rng, shapes[0], dtype, special=special), la, data.draw)
    b = view(values(rng, shapes[1], dtype, special=special), lb, data.draw)
    with np.errstate(all="ignore"):
        expected = np.asarray(NP_BINARY[op](a.copy(), b.copy()))
    r = E.binary(op, a, b)
    check_out(r, expected)
    np.testing.assert_array_equal(r, expected)


@pytest.mark.parametrize("op", sorted(NP_BINARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_binary_scalars(op, dtype):
    a = np.arange(-6, 6, dtype=dtype).reshape(3, 4)[:, ::2]
    for x, y in [(a, dtype(3)), (dtype(3), a), (a, 2), (2, a), (dtype(2), dtype(5))]:
        with np.errstate(all="ignore"):
            expected = np.asarray(NP_BINARY[op](x, y))
        r = E.binary(op, x, y)
        check_out(r, expected)
        np.testing.assert_array_equal(r, expected)


def test_binary_mixed_dtypes_promote_as_numpy():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    i = np.arange(3, dtype=np.int64)
    for x, y in [(a, i), (i, 2.5), (a, 0.5), (i > 0, i)]:
        expected = np.asarray(np.multiply(x, y))
        r = E.binary("mul", x, y)
        check_out(r, expected)
        np.testing.assert_array_equal(r, expected)


# --------------------------------------------------------------------------- unary

UNARY = ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sin", "cos")


@given(shape=st.lists(st.integers(0, 6), max_size=4).map(tuple), op=st.sampled_from(UNARY),
       dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(LAYOUTS),
       seed=st.integers(0, 2**32 - 1), special=st.booleans(), data=st.data())
def test_unary_matches_numpy(shape, op, dtype, layout, seed, special, data):
    rng = np.random.default_rng(seed)
    a = view(values(rng, shape, dtype, positive=op in ("log", "sqrt"), special=special),
             layout, data.draw)
    expected = np_unary(op, a.copy())
    r = E.unary(op, a)
    check_out(r, expected)
    tol = 4e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(r, expected, rtol=tol, atol=tol, equal_nan=True)
    if op in ("neg", "abs", "relu"):
        np.testing.assert_array_equal(r, expected)


@given(shape=st.lists(st.integers(0, 6), max_size=4).map(tuple), op=st.sampled_from(UNARY),
       dtype=st.sampled_from([np.float32, np.float64]), lg=st.sampled_from(LAYOUTS),
       ls=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**32 - 1), special=st.booleans(),
       data=st.data())
def test_unary_backward_matches_numpy(shape, op, dtype, lg, ls, seed, special, data):
    rng = np.random.default_rng(seed)
    g = view(values(rng, shape, dtype, special=special), lg, data.draw)
    s = view(values(rng, shape, dtype, special=special), ls, data.draw)
    expected = np_unary_backward(op, g.copy(), s.copy())
    r = E.unary_backward(op, g, s)
    check_out(r, expected)
    tol = 4e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(r, expected, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid"])
def test_unary_full_range(op, dtype):
    """exp/log/tanh/sigmoid are our own branch-free forms: check overflow, underflow to
    subnormals and zero, subnormal inputs, and the branch points, against NumPy."""
    fi = np.finfo(dtype)
    rng = np.random.default_rng(3)
    lim = 110.0 if dtype == np.float32 else 750.0
    if op == "log":
        x = np.concatenate([np.exp(rng.uniform(-80, 80, 20000)), rng.uniform(0, 3, 20000),
                            [fi.tiny, fi.tiny / 3, fi.smallest_subnormal, fi.max, 1, 2, 0.5,
                             np.sqrt(0.5), np.sqrt(2), 1 - fi.eps, 1 + fi.eps, 0, -0.0, -1,
                             np.inf, -np.inf, np.nan]])
    else:
        x = np.concatenate([rng.uniform(-lim, lim, 20000), rng.uniform(-2, 2, 20000),
                            [0, -0.0, 0.625, -0.625, 88.72283935546875, 88.72284, -87.3,
                             -103.97, -104, 709.78, -708.4, -745.1, np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    r, expected = E.unary(op, x), np_unary(op, x)
    tol = 4e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(r, expected, rtol=tol, atol=4 * fi.smallest_subnormal,
                               equal_nan=True)


@pytest.mark.parametrize("op", ["neg", "abs", "relu", "exp"])
def test_unary_integer_inputs_follow_numpy(op):
    a = np.arange(-3, 3, dtype=np.int64)
    expected = np.asarray(np_unary(op, a)).astype(a.dtype)
    np.testing.assert_array_equal(E.unary(op, a), expected)


# --------------------------------------------------------------------------- sum

@st.composite
def sum_case(draw):
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=4)))
    axes = tuple(sorted(draw(st.sets(st.integers(0, max(len(shape) - 1, 0)), max_size=len(shape)))))
    return shape, axes


@given(case=sum_case(), dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       keepdim=st.booleans(), layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**32 - 1),
       data=st.data())
@example(case=((), ()), dtype=np.float64, keepdim=False, layout="contiguous", seed=0,
         data=None)
def test_sum_matches_numpy(case, dtype, keepdim, layout, seed, data):
    shape, axes = case
    rng = np.random.default_rng(seed)
    a = values(rng, shape, dtype)
    if data is not None:
        a = view(a, layout, data.draw)
    expected = np.asarray(np.sum(a.astype(np.float64), axis=axes, keepdims=keepdim))
    r = R.sum(a, axes, keepdim)
    assert r.shape == expected.shape and r.dtype == a.dtype and r.flags.c_contiguous
    if dtype == np.int64:
        np.testing.assert_array_equal(r, expected.astype(np.int64))
    else:
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(r, expected, rtol=tol, atol=tol * 10 * max(a.size, 1))


def test_sum_float32_accuracy_pairwise():
    """2^24 + many ones: a sequential float32 sum stalls at 2^24; pairwise does not."""
    a = np.full(1 << 20, 1.0, np.float32)
    assert R.sum(a, (0,), False) == 1 << 20
    a = np.random.default_rng(0).random(3_000_001).astype(np.float32)
    exact = a.astype(np.float64).sum()
    assert abs(float(R.sum(a, (0,), False)) - exact) / exact < 1e-6


def test_sum_nan_inf():
    a = np.array([[1.0, np.nan, 2.0], [np.inf, 1.0, -1.0]], np.float32)
    np.testing.assert_array_equal(R.sum(a, (1,), False), np.array([np.nan, np.inf], np.float32))
    np.testing.assert_array_equal(R.sum(a, (0,), True), np.array([[np.inf, np.nan, 1.0]], np.float32))


# --------------------------------------------------------------------------- threads

def _big_views():
    rng = np.random.default_rng(1)
    m = rng.standard_normal((300, 257)).astype(np.float32)        # 77k elements: parallel path
    d = rng.standard_normal((40, 33, 61))                          # float64, 80k elements
    return [m, m.T, m[::2, 1:], np.broadcast_to(m[0], (300, 257)), d, d.transpose(2, 0, 1),
            d[:, ::3, :]]


@pytest.mark.parametrize("i", range(7))
def test_threads_bitwise_elementwise(i):
    a = _big_views()[i]
    b = a[..., :1] if i % 2 else a[0]                              # broadcast both ways
    for op in NP_BINARY:
        r1, r2 = E.binary(op, a, b, 1), E.binary(op, a, b, 2)
        assert r1.tobytes() == r2.tobytes()
        np.testing.assert_array_equal(r1, NP_BINARY[op](a, b))
    for op in ("exp", "tanh", "sigmoid", "relu"):
        assert E.unary(op, a, 1).tobytes() == E.unary(op, a, 2).tobytes()
        assert E.unary_backward(op, a, b, 1).tobytes() == E.unary_backward(op, a, b, 2).tobytes()
    x = np.arange(100_000, dtype=np.int64)
    assert np.array_equal(E.binary("mul", x, x[::-1], 2), x * x[::-1])


@pytest.mark.parametrize("i", range(7))
def test_threads_bitwise_sum(i):
    a = _big_views()[i]
    nd = a.ndim
    for axes in [tuple(range(nd)), (0,), (nd - 1,), (0, nd - 1), tuple(range(1, nd))]:
        for keepdim in (False, True):
            r1, r2 = R.sum(a, axes, keepdim, 1), R.sum(a, axes, keepdim, 2)
            assert r1.tobytes() == r2.tobytes(), axes
            tol = 1e-4 if a.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(r1, np.sum(a.astype(np.float64), axis=axes, keepdims=keepdim),
                                       rtol=tol, atol=tol)


def test_threads_bitwise_long_full_sum():
    a = np.random.default_rng(2).standard_normal(1_000_003).astype(np.float32)
    assert R.sum(a, (0,), False, 1).tobytes() == R.sum(a, (0,), False, 2).tobytes()
    assert R.sum(a[::3], (0,), False, 1).tobytes() == R.sum(a[::3], (0,), False, 2).tobytes()


# --------------------------------------------------------------------------- bad calls

def test_bad_calls_raise():
    a, b = np.ones((2, 3), np.float32), np.ones((4,), np.float32)
    with pytest.raises(ValueError, match="do not broadcast"):
        E.binary("add", a, b)
    with pytest.raises(ValueError, match="do not broadcast"):
        E.unary_backward("exp", a, b)
    with pytest.raises(KeyError):
        E.binary("pow", a, a)
    with pytest.raises(TypeError, match="float32 or float64"):
        E.unary_backward("exp", a, a.astype(np.float64))
    with pytest.raises(ValueError, match="sorted, unique"):
        R.sum(a, (1, 0), False)
    with pytest.raises(ValueError, match="sorted, unique"):
        R.sum(a, (2,), False)
    with pytest.raises(TypeError):          # bool - bool: NumPy's error, as PyTorch refuses it
        E.binary("sub", a > 0, a > 0)
