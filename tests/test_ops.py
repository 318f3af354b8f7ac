"""Every core op against tests/reference.py: random shapes, broadcasting, dtypes and layouts,
forward and backward; PyTorch's type promotion; float64 gradcheck; 1 vs 2 threads bitwise."""
import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

import tinytensor as tt
import reference as ref
import strategies as S

TOL = {tt.float32: dict(rtol=1e-4, atol=1e-5), tt.float64: dict(rtol=1e-9, atol=1e-9)}


def assert_close(actual, expected, dtype, scale=1.0, exact=False):
    """Compare a tinytensor with a float64 reference array.

    `scale` multiplies float32's atol for results that accumulate many terms (a float32 sum of n
    terms of size up to m carries an absolute error of order n * m * 2**-24): the reference is
    exact, the op is not, and the bound says by how much it may differ. float64 results always
    meet rtol = atol = 1e-9 unscaled (the same sums err by ~1e-13 there).
    """
    assert isinstance(actual, tt.Tensor)
    got = actual.detach().numpy()
    expected = np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if exact or not dtype.is_floating_point:
        np.testing.assert_array_equal(got.astype(np.float64), expected.astype(np.float64))
        return
    tol = TOL[dtype]
    atol = tol["atol"] * (scale if dtype is tt.float32 else 1.0)
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=tol["rtol"], atol=atol,
                               equal_nan=True)


def rand_grad(data, shape, dtype):
    """An upstream gradient of `shape`, as a NumPy array and a tinytensor."""
    g = data.draw(S.arrays(shape, dtype, -3, 3, repeat=False))
    return g, tt.tensor(g)


# ------------------------------------------------------------------------------ promotion

def torch_result_type(a, b):
    """PyTorch's rule, written from c10's ResultTypeState: dimensioned tensors, zero-dim tensors
    and Python scalars (floats as the default dtype) each promote within their own class; then
    combine_categories(dim, combine_categories(zero_dim, scalar))."""
    order = [tt.bool, tt.int64, tt.float32, tt.float64]
    cat = {tt.bool: 0, tt.int64: 1, tt.float32: 2, tt.float64: 2}

    def promote(x, y):
        if x is None:
            return y
        if y is None:
            return x
        return x if order.index(x) >= order.index(y) else y

    def combine(higher, lower):
        if higher is None:
            return lower
        if cat[higher] == 2:
            return higher
        if higher is tt.bool or (lower is not None and cat[lower] == 2):
            return promote(higher, lower)
        return higher

    state = {"dim": None, "zero": None, "wrapped": None}
    for x in (a, b):
        if isinstance(x, tt.Tensor):
            k = "dim" if x.ndim else "zero"
            state[k] = promote(state[k], x.dtype)
        elif isinstance(x, bool):
            state["wrapped"] = promote(state["wrapped"], tt.bool)
        elif isinstance(x, int):
            state["wrapped"] = promote(state["wrapped"], tt.int64)
        else:
            state["wrapped"] = promote(state["wrapped"], tt.float32)
    return combine(state["dim"], combine(state["zero"], state["wrapped"]))


def _operand(kind, dtype):
    if kind == "scalar":
        return {tt.bool: True, tt.int64: 3, tt.float32: 2.5, tt.float64: 2.5}[dtype]
    shape = (2,) if kind == "dim" else ()
    vals = np.ones(shape, dtype=dtype.np_dtype)
    return tt.tensor(vals)


KINDS = ["dim", "zero", "scalar"]


@pytest.mark.parametrize("ka", KINDS)
@pytest.mark.parametrize("kb", KINDS)
@pytest.mark.parametrize("da", S.ALL_DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("db", S.ALL_DTYPES, ids=lambda d: d.name)
def test_promotion_table(ka, kb, da, db):
    if ka == "scalar" and kb == "scalar":
        return
    if ka == "scalar" and da is tt.float64 or kb == "scalar" and db is tt.float64:
        return                               # a Python float is one case (float32 above)
    a, b = _operand(ka, da), _operand(kb, db)
    expected = torch_result_type(a, b)
    assert (a + b).dtype is expected
    assert (b + a).dtype is expected
    assert (a * b).dtype is expected
    if tt.bool not in (da, db):
        assert (a - b).dtype is expected
    else:                                    # PyTorch refuses a bool operand on either side
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with (two bool "
                                               "tensors|a bool tensor) is not supported"):
            a - b
    div = expected if expected.is_floating_point else tt.float32
    assert (a / b).dtype is div
    assert (a == b).dtype is tt.bool


def test_promotion_examples():
    i = tt.tensor([1, 2, 3])
    f = tt.tensor([1.0, 2.0])
    assert (i + 2.5).dtype is tt.float32
    assert (2.5 + i).dtype is tt.float32
    assert (i / i).dtype is tt.float32
    assert (i / 2).dtype is tt.float32
    assert (f + tt.tensor(1.0, dtype=tt.float64)).dtype is tt.float32
    assert (f + tt.tensor([1.0, 1.0], dtype=tt.float64)).dtype is tt.float64
    assert (i + tt.tensor(1.0, dtype=tt.float64)).dtype is tt.float64
    b = tt.tensor([True, False])
    assert (b + b).dtype is tt.bool
    assert (b + b).tolist() == [True, False]
    assert (b * b).dtype is tt.bool
    assert (b + 1).dtype is tt.int64
    assert (b + 1.5).dtype is tt.float32
    assert (i + True).dtype is tt.int64
    assert (f * 2).dtype is tt.float32
    np.testing.assert_array_equal((i + 2.5).numpy(), [3.5, 4.5, 5.5])
    np.testing.assert_array_equal((1 - f).numpy(), [0.0, -1.0])
    np.testing.assert_array_equal((2 ** f).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal((6 / f).numpy(), [6.0, 3.0])


# ------------------------------------------------------------------------------ unary

UNARY_DOMAIN = {"log": (0.1, 10), "sqrt": (0.1, 10), "exp": (-10, 10)}
UNARY_OPS = ["neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sin", "cos"]


@pytest.mark.parametrize("op", UNARY_OPS)
@given(data=st.data())
def test_unary_forward_backward(op, data):
    dtype = data.draw(S.dtypes(floating_only=True))
    lo, hi = UNARY_DOMAIN.get(op, (-10, 10))
    shape = data.draw(S.shapes())
    a = data.draw(S.arrays(shape, dtype, lo, hi))
    if op in ("abs", "relu"):
        assume(not np.any(a == 0))          # the kink: tested separately below
    x = data.draw(S.layouts(a)).requires_grad_()
    y = getattr(x, op)() if op != "neg" else -x
    assert y.dtype is dtype and y.shape == a.shape
    assert_close(y, ref.unary(op, a), dtype)
    g, gt = rand_grad(data, shape, dtype)
    y.backward(gt)
    assert x.grad.shape == x.shape and x.grad.dtype is dtype
    assert_close(x.grad, ref.unary_backward(op, a, g), dtype, scale=10 if op == "exp" else 1)


def test_unary_special_values():
    x = tt.tensor([0.0, -0.0, math.inf, -math.inf, math.nan])
    np.testing.assert_array_equal(x.exp().numpy(), [1, 1, math.inf, 0, math.nan])
    np.testing.assert_array_equal(tt.tensor([0.0, -1.0, math.inf]).log().numpy(),
                                  [-math.inf, math.nan, math.inf])
    np.testing.assert_array_equal(tt.tensor([-1.0, 4.0]).sqrt().numpy(), [math.nan, 2.0])
    np.testing.assert_array_equal(tt.tensor([-math.inf, math.inf]).sigmoid().numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(tt.tensor([-100.0, 100.0]).sigmoid().numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(tt.tensor([math.nan, -1.0, 2.0]).relu().numpy()[1:], [0.0, 2.0])


def test_abs_relu_gradient_at_zero():
    # PyTorch: d|x|/dx = sign(x) = 0 at 0; relu'(0) = 0
    x = tt.tensor([0.0, 1.0, -2.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, -1.0]
    x = tt.tensor([0.0, 1.0, -2.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos"])
def test_unary_on_integers_gives_float32(op):
    y = getattr(tt.tensor([1, 2, 3]), op)()
    assert y.dtype is tt.float32
    assert_close(y, ref.unary(op, np.array([1.0, 2.0, 3.0])), tt.float32)


def test_unary_int_preserving():
    x = tt.tensor([-2, 0, 3])
    assert (-x).dtype is tt.int64 and (-x).tolist() == [2, 0, -3]
    assert x.abs().dtype is tt.int64 and x.abs().tolist() == [2, 0, 3]
    assert x.relu().dtype is tt.int64 and x.relu().tolist() == [0, 0, 3]


# ------------------------------------------------------------------------------ binary

ARITH = ["add", "sub", "mul", "div"]
PYOP = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
        "maximum": lambda a, b: tt.maximum(a, b), "minimum": lambda a, b: tt.minimum(a, b),
        "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


def _no_zeros(a):
    """Keep denominators away from 0: 1/b**2 of a tiny float32 b overflows (PyTorch too)."""
    a = a.copy()
    a[np.abs(a) < 0.25] = 1
    return a


@st.composite
def binary_case(draw, op, dtypes=S.ALL_DTYPES):
    sa, sb = draw(S.broadcast_shapes())
    da, db = draw(st.sampled_from(dtypes)), draw(st.sampled_from(dtypes))
    lo, hi = (0.5, 3) if op == "pow" else (-10, 10)
    a = draw(S.arrays(sa, da, lo, hi))
    b = draw(S.arrays(sb, db, -2 if op == "pow" else lo, 2 if op == "pow" else hi))
    if op == "div":
        b = _no_zeros(b)
    return a, b, da, db


@pytest.mark.parametrize("op", ARITH + ["maximum", "minimum"])
@given(data=st.data())
def test_binary_forward(op, data):
    a, b, da, db = data.draw(binary_case(op))
    x, y = data.draw(S.layouts(a)), data.draw(S.layouts(b))
    expected_dtype = torch_result_type(x, y)
    if op == "sub" and tt.bool in (da, db):
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with (two bool "
                                               "tensors|a bool tensor) is not supported"):
            PYOP[op](x, y)
        return
    if op == "div" and not expected_dtype.is_floating_point:
        expected_dtype = tt.float32
    out = PYOP[op](x, y)
    assert out.dtype is expected_dtype
    if expected_dtype is tt.bool:
        # bool op bool: add is "or", mul is "and", maximum/minimum too; nonzero means True
        expected = ref.binary(op, a, b) != 0
        assert_close(out, expected, tt.bool)
        return
    # the reference sees the operands as the op sees them: cast to the result dtype
    ca, cb = a.astype(expected_dtype.np_dtype), b.astype(expected_dtype.np_dtype)
    assert_close(out, ref.binary(op, ca, cb), expected_dtype)
    # inputs are untouched
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(y.numpy(), b)


@pytest.mark.parametrize("op", ARITH + ["pow", "maximum", "minimum"])
@given(data=st.data())
def test_binary_backward(op, data):
    dtype = data.draw(S.dtypes(floating_only=True))
    a, b, _, _ = data.draw(binary_case(op, dtypes=(dtype,)))
    x = data.draw(S.layouts(a)).requires_grad_()
    y = data.draw(S.layouts(b)).requires_grad_()
    out = PYOP[op](x, y)
    g, gt = rand_grad(data, out.shape, dtype)
    out.backward(gt)
    ga, gb = ref.binary_backward(op, a, b, g)
    # a gradient element sums g.size / input.size terms of size <= 10 * 3
    scale = 30 * max(1, g.size // max(1, min(a.size, b.size)))
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    assert x.grad.dtype is dtype and y.grad.dtype is dtype
    assert_close(x.grad, ga, dtype, scale=scale)
    assert_close(y.grad, gb, dtype, scale=scale)


@pytest.mark.parametrize("op", ARITH + ["pow", "maximum", "minimum"])
@given(data=st.data())
def test_binary_one_side_requires_grad(op, data):
    a, b, _, _ = data.draw(binary_case(op, dtypes=(tt.float64,)))
    x, y = tt.tensor(a), tt.tensor(b).requires_grad_()
    out = PYOP[op](x, y)
    g, gt = rand_grad(data, out.shape, tt.float64)
    out.backward(gt)
    assert x.grad is None
    assert_close(y.grad, ref.binary_backward(op, a, b, g)[1], tt.float64)


@pytest.mark.parametrize("op", ARITH + ["pow"])
@given(data=st.data())
def test_binary_python_scalar(op, data):
    dtype = data.draw(S.dtypes(floating_only=True))
    shape = data.draw(S.shapes())
    lo, hi = (0.5, 3) if op == "pow" else (-10, 10)
    a = data.draw(S.arrays(shape, dtype, lo, hi))
    if op == "div":
        a = _no_zeros(a)
    s = data.draw(st.sampled_from([2, 0.5, -1.5, 3]))
    if op == "div" and s == 0:
        s = 1
    x = data.draw(S.layouts(a)).requires_grad_()
    for left in (False, True):
        x.grad = None
        out = PYOP[op](s, x) if left else PYOP[op](x, s)
        sa = np.array(s, dtype=np.float64)
        exp = ref.binary(op, sa, a) if left else ref.binary(op, a, sa)
        assert out.dtype is dtype
        assert_close(out, exp, dtype)
        g, gt = rand_grad(data, shape, dtype)
        out.backward(gt)
        gx = ref.binary_backward(op, sa, a, g)[1] if left else ref.binary_backward(op, a, sa, g)[0]
        assert_close(x.grad, gx, dtype, scale=10)


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@given(data=st.data())
def test_comparisons(op, data):
    a, b, _, _ = data.draw(binary_case(op))
    x, y = data.draw(S.layouts(a)), data.draw(S.layouts(b))
    out = PYOP[op](x, y)
    assert out.dtype is tt.bool and not out.requires_grad
    assert_close(out, ref.binary(op, a, b) != 0, tt.bool)
    s = 1
    assert_close(PYOP[op](x, s), ref.binary(op, a, np.array(1.0)) != 0, tt.bool)


def test_comparison_with_requires_grad_has_no_graph():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    m = x > 1
    assert m.dtype is tt.bool and m.grad_fn is None and not m.requires_grad


def test_maximum_minimum_ties_split_gradient():
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tt.tensor([1.0, 5.0, 0.0], requires_grad=True)
    tt.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0, 1.0]
    assert y.grad.tolist() == [0.5, 1.0, 0.0]


def test_maximum_propagates_nan():
    x = tt.tensor([math.nan, 1.0])
    y = tt.tensor([0.0, math.nan])
    assert np.isnan(tt.maximum(x, y).numpy()).all()
    assert np.isnan(tt.minimum(x, y).numpy()).all()


def test_int_pow_and_bool_ops():
    i = tt.tensor([1, 2, 3])
    assert (i ** 2).dtype is tt.int64 and (i ** 2).tolist() == [1, 4, 9]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        i ** -1
    b = tt.tensor([True, False, True])
    assert (b & tt.tensor([True, True, False])).tolist() == [True, False, False]
    assert (b | tt.tensor([False, False, False])).tolist() == [True, False, True]
    assert (~b).tolist() == [False, True, False]


@given(data=st.data())
def test_where(data):
    sc, sa = data.draw(S.broadcast_shapes())
    dtype = data.draw(S.dtypes(floating_only=True))
    c = data.draw(S.arrays(sc, tt.bool))
    a = data.draw(S.arrays(sa, dtype))
    b = data.draw(S.arrays(data.draw(st.sampled_from([sa, (), sa[-1:]])), dtype))
    x = data.draw(S.layouts(a)).requires_grad_()
    y = data.draw(S.layouts(b)).requires_grad_()
    out = tt.where(data.draw(S.layouts(c)), x, y)
    expected = ref.where(c, a, b)
    assert_close(out, expected, dtype)
    g, gt = rand_grad(data, expected.shape, dtype)
    out.backward(gt)
    ones = np.ones(expected.shape)
    ga = ref.unbroadcast(ref.where(c, g, 0 * ones), a.shape)
    gb = ref.unbroadcast(ref.where(c, 0 * ones, g), b.shape)
    assert_close(x.grad, ga, dtype, scale=100)
    assert_close(y.grad, gb, dtype, scale=100)


@given(data=st.data())
def test_clamp(data):
    dtype = data.draw(S.dtypes(floating_only=True))
    a = data.draw(S.arrays(data.draw(S.shapes()), dtype))
    lo = data.draw(st.sampled_from([None, -2.0, 0.0, 1.5]))
    hi = data.draw(st.sampled_from([None, 3.0, 5.0]) if lo is not None else st.just(3.0))
    x = data.draw(S.layouts(a)).requires_grad_()
    out = x.clamp(lo, hi)
    assert_close(out, ref.clamp(a, lo, hi), dtype)
    g, gt = rand_grad(data, a.shape, dtype)
    out.backward(gt)
    assert_close(x.grad, ref.clamp_backward(a, lo, hi, g), dtype)


# ------------------------------------------------------------------------------ reductions

@st.composite
def reduce_case(draw, dtypes=S.FLOAT_DTYPES, min_dims=0):
    shape = draw(S.shapes(min_dims=min_dims))
    dtype = draw(st.sampled_from(dtypes))
    a = draw(S.arrays(shape, dtype))
    kind = draw(st.sampled_from(["none", "int", "tuple"]) if shape else st.just("none"))
    if kind == "none":
        dims = None
    elif kind == "int":
        dims = draw(st.integers(-len(shape), len(shape) - 1))
    else:
        chosen = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
        dims = tuple(d - len(shape) if draw(st.booleans()) else d for d in chosen)
    keepdim = draw(st.booleans())
    return a, dims, keepdim


def _call_reduce(x, op, dims, keepdim, correction=1):
    kw = {} if dims is None else {"dim": dims}
    if op in ("var", "std"):
        return getattr(x, op)(keepdim=keepdim, correction=correction, **kw)
    if op in ("amax", "amin"):
        return getattr(x, op)(dim=() if dims is None else dims, keepdim=keepdim)
    return getattr(x, op)(keepdim=keepdim, **kw)


def _n_reduced(shape, dims):
    n = 1
    for d in ref.norm_dims(dims, len(shape)):
        n *= shape[d] if shape else 1
    return max(n, 1)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin"])
@given(data=st.data())
def test_reduction(op, data):
    a, dims, keepdim = data.draw(reduce_case())
    dtype = tt.float32 if a.dtype == np.float32 else tt.float64
    if dims == () and op in ("sum", "mean"):
        dims = None     # PyTorch 2.x: sum(dim=()) reduces everything too; covered below
    x = data.draw(S.layouts(a)).requires_grad_()
    out = _call_reduce(x, op, dims, keepdim)
    expected = ref.reduce(op, a, dims, keepdim)
    n = _n_reduced(a.shape, dims)
    assert out.dtype is dtype
    assert_close(out, expected, dtype, scale=10 * n)
    g, gt = rand_grad(data, expected.shape, dtype)
    out.backward(gt)
    assert_close(x.grad, ref.reduce_backward(op, a, g, dims, keepdim), dtype)


@pytest.mark.parametrize("op", ["var", "std"])
@given(data=st.data())
def test_var_std(op, data):
    a, dims, keepdim = data.draw(reduce_case(min_dims=1))
    if dims == ():
        dims = None
    dtype = tt.float32 if a.dtype == np.float32 else tt.float64
    correction = data.draw(st.sampled_from([0, 1, 2]))
    n = _n_reduced(a.shape, dims)
    x = data.draw(S.layouts(a)).requires_grad_()
    out = _call_reduce(x, op, dims, keepdim, correction)
    expected = ref.reduce(op, a, dims, keepdim, correction)
    assert out.dtype is dtype
    if n - correction <= 0:
        # a division by zero: inf, or NaN where the squared deviations underflow to 0 in the
        # input's precision (float32 [0, 2e-38]: NaN, as PyTorch; the float64 reference: inf)
        assert not np.any(np.isfinite(out.detach().numpy()))
        return
    assert_close(out, expected, dtype, scale=100 * n)
    ok = np.all(np.isfinite(expected)) and np.all(expected > 1e-3)
    if ok:
        g, gt = rand_grad(data, expected.shape, dtype)
        out.backward(gt)
        assert_close(x.grad, ref.reduce_backward(op, a, g, dims, keepdim, correction), dtype,
                     scale=100)


def test_var_unbiased_flag_and_defaults():
    x = tt.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]], dtype=tt.float64)
    a = x.numpy()
    assert_close(x.var(), ref.reduce("var", a), tt.float64)
    assert_close(x.var(unbiased=False), ref.reduce("var", a, correction=0), tt.float64)
    assert_close(x.var(1, unbiased=False), ref.reduce("var", a, 1, correction=0), tt.float64)
    assert_close(x.std(0, keepdim=True), ref.reduce("std", a, 0, True), tt.float64)
    # one element, correction 1: 0/0 = nan, as PyTorch (with a warning there)
    assert np.isnan(tt.tensor([3.0]).var().item())


@pytest.mark.parametrize("kind", ["max", "min"])
@given(data=st.data())
@example(data=None)
def test_argmax_argmin(kind, data):
    if data is None:             # ties: the first occurrence wins
        a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], np.float32)
        dims = [None, 0, 1, -1]
        x = tt.tensor(a)
    else:
        dtype = data.draw(st.sampled_from([tt.float32, tt.float64, tt.int64]))
        shape = data.draw(S.shapes(min_dims=1))
        a = data.draw(S.arrays(shape, dtype, -2, 2))        # narrow range: many ties
        x = data.draw(S.layouts(a))
        dims = [None] + list(range(-a.ndim, a.ndim))
    for d in dims:
        for keepdim in (False, True):
            kw = {} if d is None else {"dim": d}
            out = getattr(x, "arg" + kind)(keepdim=keepdim, **kw)
            assert out.dtype is tt.int64
            assert_close(out, ref.argextreme(kind, a, d, keepdim), tt.int64)


def test_argmax_nan_wins():
    x = tt.tensor([1.0, math.nan, 5.0, math.nan])
    assert x.argmax().item() == 1 and x.argmin().item() == 1


@pytest.mark.parametrize("kind", ["max", "min"])
@given(data=st.data())
def test_max_min_dim(kind, data):
    dtype = data.draw(S.dtypes(floating_only=True))
    shape = data.draw(S.shapes(min_dims=1))
    a = data.draw(S.arrays(shape, dtype, -2, 2))
    d = data.draw(st.integers(-a.ndim, a.ndim - 1))
    keepdim = data.draw(st.booleans())
    x = data.draw(S.layouts(a)).requires_grad_()
    values, idx = getattr(x, kind)(d, keepdim)
    assert_close(values, ref.reduce("a" + kind, a, d, keepdim), dtype)
    assert_close(idx, ref.argextreme(kind, a, d, keepdim), tt.int64)
    assert idx.dtype is tt.int64 and not idx.requires_grad
    g, gt = rand_grad(data, values.shape, dtype)
    values.backward(gt)
    # the gradient goes to the index position only (not split among ties)
    expected = np.zeros(a.shape)
    gk = g if keepdim else np.expand_dims(g, d)
    ik = ref.argextreme(kind, a, d, True)
    for index in ref.indices(ik.shape):
        pos = list(index)
        pos[d % a.ndim] = ik[index]
        expected[tuple(pos)] += gk[index]
    assert_close(x.grad, expected, dtype)
    # max() with no dim: the value, and the gradient split evenly among ties (PyTorch's rule)
    x.grad = None
    m = getattr(x, kind)()
    assert_close(m, ref.reduce("a" + kind, a), dtype)
    m.backward()
    assert_close(x.grad, ref.reduce_backward("a" + kind, a, np.array(1.0)), dtype)


def test_sum_int_bool_and_dtype_arg():
    i = tt.tensor([[1, 2], [3, 4]])
    assert i.sum().dtype is tt.int64 and i.sum().item() == 10
    assert i.sum(0).tolist() == [4, 6]
    b = tt.tensor([True, True, False])
    assert b.sum().dtype is tt.int64 and b.sum().item() == 2
    assert i.sum(dtype=tt.float64).dtype is tt.float64
    assert i.mean(dtype=tt.float32).item() == 2.5
    f = tt.tensor([[1.0, 2.0]])
    assert f.sum(dim=()).shape == () and f.sum(dim=()).item() == 3.0


def test_reduction_of_empty():
    e = tt.zeros(0, 3)
    assert e.sum().item() == 0.0
    assert e.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(e.mean().item())
    assert e.amax(1).shape == (0,)


# ------------------------------------------------------------------------------ matmul

@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["1x1", "1x2", "2x1", "2x2", "batched", "1xb", "bx1"]))
    batch_a, batch_b = draw(S.broadcast_shapes(max_dims=2, max_side=3))
    if kind == "1x1":
        return (k,), (k,)
    if kind == "1x2":
        return (k,), (k, m)
    if kind == "2x1":
        return (n, k), (k,)
    if kind == "2x2":
        return (n, k), (k, m)
    if kind == "1xb":
        return (k,), batch_b + (k, m)
    if kind == "bx1":
        return batch_a + (n, k), (k,)
    return batch_a + (n, k), batch_b + (k, m)


@given(data=st.data())
def test_matmul(data):
    sa, sb = data.draw(matmul_shapes())
    dtype = data.draw(S.dtypes(floating_only=True))
    a, b = data.draw(S.arrays(sa, dtype)), data.draw(S.arrays(sb, dtype))
    x = data.draw(S.layouts(a)).requires_grad_()
    y = data.draw(S.layouts(b)).requires_grad_()
    out = x @ y
    expected = ref.matmul(a, b)
    assert out.dtype is dtype
    assert_close(out, expected, dtype, scale=100)
    g, gt = rand_grad(data, expected.shape, dtype)
    out.backward(gt)
    ga, gb = ref.matmul_backward(a, b, g)
    assert_close(x.grad, ga, dtype, scale=1000)
    assert_close(y.grad, gb, dtype, scale=1000)
    assert_close(tt.matmul(x, y), expected, dtype, scale=100)


def test_matmul_int64():
    a = tt.tensor([[1, 2], [3, 4]])
    assert (a @ a).dtype is tt.int64 and (a @ a).tolist() == [[7, 10], [15, 22]]


# ------------------------------------------------------------------------------ cat / stack

@st.composite
def cat_case(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    d = draw(st.integers(-len(shape), len(shape) - 1))
    k = draw(st.integers(1, 3))
    shapes = []
    for _ in range(k):
        s = list(shape)
        s[d] = draw(st.integers(0, 3))
        shapes.append(tuple(s))
    return shapes, d


@given(data=st.data())
def test_cat(data):
    shapes, d = data.draw(cat_case())
    dtype = data.draw(S.dtypes(floating_only=True))
    arrays = [data.draw(S.arrays(s, dtype)) for s in shapes]
    xs = [data.draw(S.layouts(a)).requires_grad_() for a in arrays]
    out = tt.cat(xs, d)
    expected = ref.cat(arrays, d)
    assert_close(out, expected, dtype, exact=True)
    g, gt = rand_grad(data, expected.shape, dtype)
    out.backward(gt)
    for x, ge in zip(xs, ref.cat_backward(shapes, g, d)):
        assert_close(x.grad if x.grad is not None else tt.zeros(x.shape, dtype=dtype), ge, dtype,
                     exact=True)


@given(data=st.data())
def test_stack(data):
    shape = data.draw(S.shapes(max_dims=3))
    n = data.draw(st.integers(1, 3))
    d = data.draw(st.integers(-len(shape) - 1, len(shape)))
    dtype = data.draw(S.dtypes(floating_only=True))
    arrays = [data.draw(S.arrays(shape, dtype)) for _ in range(n)]
    xs = [data.draw(S.layouts(a)).requires_grad_() for a in arrays]
    out = tt.stack(xs, d)
    expected = ref.stack(arrays, d)
    assert_close(out, expected, dtype, exact=True)
    g, gt = rand_grad(data, expected.shape, dtype)
    out.backward(gt)
    for x, ge in zip(xs, ref.stack_backward(n, g, d)):
        assert_close(x.grad, ge, dtype, exact=True)


def test_cat_promotes_and_mixes():
    out = tt.cat([tt.tensor([1, 2]), tt.tensor([0.5])])
    assert out.dtype is tt.float32 and out.tolist() == [1.0, 2.0, 0.5]


# ------------------------------------------------------------------------------ gradcheck

def _t(shape, seed, lo=-1.0, hi=1.0):
    rng = np.random.default_rng(seed)
    return tt.tensor(rng.uniform(lo, hi, shape), dtype=tt.float64, requires_grad=True)


def _sep(shape, seed):
    """Well-separated values (a shuffled arange): finite differences break near ties."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return tt.tensor(rng.permutation(n).reshape(shape) * 0.37 - 1.0, dtype=tt.float64,
                     requires_grad=True)


GRADCHECK_CASES = {
    "add": (lambda a, b: a + b, lambda: (_t((2, 3), 0), _t((3,), 1))),
    "sub": (lambda a, b: a - b, lambda: (_t((2, 1), 0), _t((1, 3), 1))),
    "mul": (lambda a, b: a * b, lambda: (_t((2, 3), 0), _t((2, 3), 1))),
    "div": (lambda a, b: a / b, lambda: (_t((2, 3), 0), _t((3,), 1, 0.5, 2.0))),
    "pow": (lambda a, b: a ** b, lambda: (_t((2, 3), 0, 0.5, 2.0), _t((2, 3), 1))),
    "pow_scalar": (lambda a: a ** 3, lambda: (_t((2, 3), 0),)),
    "rpow_scalar": (lambda a: 2.0 ** a, lambda: (_t((2, 3), 0),)),
    "rsub_scalar": (lambda a: 1.0 - a, lambda: (_t((3,), 0),)),
    "rdiv_scalar": (lambda a: 1.0 / a, lambda: (_t((3,), 0, 0.5, 2.0),)),
    "neg": (lambda a: -a, lambda: (_t((2, 3), 0),)),
    "exp": (lambda a: a.exp(), lambda: (_t((2, 3), 0),)),
    "log": (lambda a: a.log(), lambda: (_t((2, 3), 0, 0.5, 2.0),)),
    "sqrt": (lambda a: a.sqrt(), lambda: (_t((2, 3), 0, 0.5, 2.0),)),
    "abs": (lambda a: a.abs(), lambda: (_sep((2, 3), 0),)),
    "tanh": (lambda a: a.tanh(), lambda: (_t((2, 3), 0),)),
    "sigmoid": (lambda a: a.sigmoid(), lambda: (_t((2, 3), 0),)),
    "relu": (lambda a: a.relu(), lambda: (_sep((2, 3), 0),)),
    "sin": (lambda a: a.sin(), lambda: (_t((2, 3), 0),)),
    "cos": (lambda a: a.cos(), lambda: (_t((2, 3), 0),)),
    "clamp": (lambda a: a.clamp(-0.5, 0.6), lambda: (_sep((2, 3), 0),)),
    "maximum": (lambda a, b: tt.maximum(a, b), lambda: (_sep((2, 3), 0), _sep((2, 3), 1))),
    "minimum": (lambda a, b: tt.minimum(a, b), lambda: (_sep((2, 3), 0), _sep((3,), 1))),
    "where": (lambda a, b: tt.where(tt.tensor([True, False, True]), a, b),
              lambda: (_t((2, 3), 0), _t((3,), 1))),
    "sum": (lambda a: a.sum(), lambda: (_t((2, 3), 0),)),
    "sum_dim": (lambda a: a.sum((0, 2), keepdim=True), lambda: (_t((2, 3, 2), 0),)),
    "mean": (lambda a: a.mean(1), lambda: (_t((2, 3), 0),)),
    "amax": (lambda a: a.amax(1), lambda: (_sep((2, 3), 0),)),
    "amin": (lambda a: a.amin((0, 1)), lambda: (_sep((2, 3), 0),)),
    "max": (lambda a: a.max(), lambda: (_sep((2, 3), 0),)),
    "max_dim": (lambda a: a.max(0)[0], lambda: (_sep((2, 3), 0),)),
    "min_dim": (lambda a: a.min(1, keepdim=True)[0], lambda: (_sep((2, 3), 0),)),
    "var": (lambda a: a.var(1), lambda: (_t((2, 3), 0),)),
    "var_c0": (lambda a: a.var(correction=0), lambda: (_t((2, 3), 0),)),
    "std": (lambda a: a.std(0, keepdim=True), lambda: (_t((3, 2), 0),)),
    "matmul": (lambda a, b: a @ b, lambda: (_t((2, 3), 0), _t((3, 2), 1))),
    "matmul_batched": (lambda a, b: a @ b, lambda: (_t((2, 1, 2, 3), 0), _t((3, 3, 2), 1))),
    "matmul_vec": (lambda a, b: a @ b, lambda: (_t((3,), 0), _t((2, 3, 2), 1))),
    "matvec": (lambda a, b: a @ b, lambda: (_t((2, 3), 0), _t((3,), 1))),
    "dot": (lambda a, b: a @ b, lambda: (_t((3,), 0), _t((3,), 1))),
    "cat": (lambda a, b: tt.cat([a, b], 1), lambda: (_t((2, 3), 0), _t((2, 1), 1))),
    "stack": (lambda a, b: tt.stack([a, b], -1), lambda: (_t((2, 3), 0), _t((2, 3), 1))),
    "view": (lambda a: a.view(3, 2) * 1.0, lambda: (_t((2, 3), 0),)),
    "reshape_copy": (lambda a: a.t().reshape(6), lambda: (_t((2, 3), 0),)),
    "permute": (lambda a: a.permute(2, 0, 1), lambda: (_t((2, 3, 2), 0),)),
    "transpose": (lambda a: a.transpose(0, 1), lambda: (_t((2, 3), 0),)),
    "expand": (lambda a: a.expand(2, 3, 3), lambda: (_t((3, 1), 0),)),
    "unsqueeze_squeeze": (lambda a: a.unsqueeze(1).squeeze(), lambda: (_t((2, 3), 0),)),
    "flatten": (lambda a: a.flatten(1), lambda: (_t((2, 3, 2), 0),)),
    "index_basic": (lambda a: a[1:, None, ::2], lambda: (_t((3, 4), 0),)),
    "index_int": (lambda a: a[1, -1], lambda: (_t((3, 4), 0),)),
    "index_tensor": (lambda a: a[tt.tensor([0, 2, 0])], lambda: (_t((3, 2), 0),)),
    "index_mask": (lambda a: a[tt.tensor([[True, False], [False, True]])],
                   lambda: (_t((2, 2), 0),)),
    "contiguous": (lambda a: a.t().contiguous(), lambda: (_t((2, 3), 0),)),
    "to_float32_and_back": (lambda a: a.double() * 2, lambda: (_t((2, 3), 0),)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, make = GRADCHECK_CASES[name]
    assert tt.autograd.gradcheck(fn, make(), eps=1e-6, atol=1e-7, rtol=1e-5)


# ------------------------------------------------------------------------------ threads

THREAD_OPS = {
    "add_broadcast": lambda a, b: a + b[0],
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1),
    "exp": lambda a, b: a.exp(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "sum_all": lambda a, b: a.sum(),
    "sum_dim0": lambda a, b: a.sum(0),
    "sum_dim1": lambda a, b: a.sum(1),
    "mean_dim": lambda a, b: a.mean(0),
    "var_dim": lambda a, b: a.var(1),
    "amax": lambda a, b: a.amax(0),
    "argmax": lambda a, b: a.argmax(1),
    "matmul": lambda a, b: a @ b.t(),
    "matmul_batched": lambda a, b: a[:256].reshape(8, 32, 257) @ b[:256].reshape(8, 257, 32),
    "matmul_broadcast": lambda a, b: (a[:256].reshape(2, 1, 128, 257)
                                      @ b[:257, :192].t().reshape(3, 64, 257).transpose(1, 2)),
    "matvec": lambda a, b: a @ b[0],
    "permuted_add": lambda a, b: a.t() + b.t(),
}


@pytest.mark.parametrize("name", sorted(THREAD_OPS))
@pytest.mark.parametrize("dtype", S.FLOAT_DTYPES, ids=lambda d: d.name)
def test_threads_bitwise(name, dtype, threads):
    rng = np.random.default_rng(0)
    a = tt.tensor(rng.standard_normal((300, 257)), dtype=dtype)
    b = tt.tensor(rng.standard_normal((300, 257)), dtype=dtype)
    results = []
    for n in (1, 2):
        threads(n)
        x, y = a.detach().requires_grad_(), b.detach().requires_grad_()
        out = THREAD_OPS[name](x, y)
        if out.dtype.is_floating_point:
            out.sum().backward()
        results.append((out.numpy() if not out.requires_grad else out.detach().numpy().copy(),
                        None if x.grad is None else x.grad.numpy().copy()))
    (o1, g1), (o2, g2) = results
    assert o1.tobytes() == o2.tobytes()
    assert (g1 is None) == (g2 is None)
    if g1 is not None:
        assert g1.tobytes() == g2.tobytes()


def test_reductions_of_zero_dim_over_dim_0_and_minus_1():
    # PyTorch: a 0-d tensor reduced over dim 0 or -1 is itself (var with correction 1: nan)
    for x in (tt.tensor(2.5), tt.tensor(3), tt.tensor(True)):
        for d in (0, -1, (0,), [-1]):
            assert x.sum(d).shape == () and x.sum(d, keepdim=True).shape == ()
            assert x.sum(d).item() == (x.item() if x.is_floating_point() else int(x.item()))
            assert x.amax(d).item() == x.item() and x.amin(d).item() == x.item()
    s = tt.tensor(2.5, requires_grad=True)
    assert s.mean(0).item() == 2.5 and s.std(0, correction=0).item() == 0.0
    assert np.isnan(s.var(-1).item())
    s.sum(0).backward()
    assert s.grad.item() == 1.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        tt.tensor(1.0).sum(1)


def test_integer_pow_with_negative_tensor_exponents():
    # PyTorch's integer pow: base 1 -> 1, base -1 -> +-1, any other base -> 0
    base = tt.tensor([-3, -1, 0, 1, 2, 2, -1])
    exp = tt.tensor([-2, -1, -1, -5, 3, -1, -4])
    assert (base ** exp).tolist() == [0, -1, 0, 1, 8, 0, 1]
    assert (2 ** tt.tensor([-1, 0, 3])).tolist() == [0, 1, 8]
    assert (2 ** tt.tensor([-1, 0, 3])).dtype is tt.int64


@pytest.mark.parametrize("op", ["sum", "amax", "amin"])
@given(data=st.data())
def test_integer_and_bool_reductions(op, data):
    a, dims, keepdim = data.draw(reduce_case(dtypes=(tt.int64, tt.bool)))
    if op == "sum" and dims == ():
        dims = None
    x = data.draw(S.layouts(a))
    out = _call_reduce(x, op, dims, keepdim)
    dtype = tt.int64 if op == "sum" or a.dtype != np.bool_ else tt.bool
    assert out.dtype is dtype                    # sum of bool/int is int64; amax keeps the dtype
    expected = ref.reduce(op, a.astype(np.float64), dims, keepdim)
    assert_close(out, expected if dtype is not tt.bool else expected != 0, dtype)


def test_augmented_assignment_works_in_place():
    """`p -= lr * g` (hand-written SGD steps) changes p itself, as in PyTorch."""
    import tinytensor as tt
    w = tt.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    p = w
    with tt.no_grad():
        w -= 0.5 * w.grad
    assert w is p and w.tolist() == [0.0, 0.0, 0.0]
    x = tt.ones(2)
    y = x
    x += 1
    x *= 3
    x /= 2
    x **= 2
    assert x is y and x.tolist() == [9.0, 9.0]
    import pytest
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
