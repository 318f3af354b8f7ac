"""group_norm, layer_norm, instance_norm, local_response_norm and their modules against the
naive reference (tests/reference_norm.py): forward, every gradient, gradcheck, thread-count
reproducibility, running statistics, reprs and the bad calls."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import reference_norm as ref

DTYPES = {"float32": np.float32, "float64": np.float64}
TOL = {"float32": dict(rtol=1e-4, atol=1e-4), "float64": dict(rtol=1e-9, atol=1e-9)}


def arr(t):
    return np.array(t.detach()._numpy())


def leaf(a, dtype="float64"):
    return tt.tensor(np.asarray(a, DTYPES[dtype]), requires_grad=True)


@st.composite
def group_cases(draw):
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=2)))
    n = draw(st.integers(1, 3))
    if n * (c // groups) * int(np.prod(spatial)) == 1:
        n += 1
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # an offset mean and a spread scale: the statistics, not just the values, vary
    x = rng.uniform(-1, 1, (n, c) + spatial) * draw(st.sampled_from([0.1, 1, 10])) \
        + draw(st.sampled_from([0, 3, -50]))
    affine = draw(st.sampled_from(["both", "weight", "none"]))
    w = rng.uniform(-2, 2, c) if affine != "none" else None
    b = rng.uniform(-2, 2, c) if affine == "both" else None
    return dict(x=x, groups=groups, w=w, b=b, gy=rng.uniform(-1, 1, x.shape),
                eps=draw(st.sampled_from([1e-5, 1e-3, 0.5])))


def _run(fn, case, dtype, *args, **kw):
    x = leaf(case["x"], dtype)
    w = None if case["w"] is None else leaf(case["w"], dtype)
    b = None if case["b"] is None else leaf(case["b"], dtype)
    y = fn(x, *args, weight=w, bias=b, eps=case["eps"], **kw)
    y.backward(tt.tensor(case["gy"].astype(DTYPES[dtype])))
    return arr(y), arr(x.grad), None if w is None else arr(w.grad), None if b is None else arr(b.grad)


def _compare(mine, expect, dtype, x, groups, w, eps):
    """float32 errors scale with |x| / std (the mean's rounding) and with rstd * |w| (the
    gradient's terms, which cancel to nearly 0 in a constant group): widen by both."""
    g = x.reshape(groups, -1) if groups else x
    rstd = 1.0 / np.sqrt(g.var(axis=1).min() + eps)
    wmax = 1.0 if w is None else max(1.0, float(np.abs(w).max()))
    scale = 1.0 if dtype == "float64" else max(
        1.0, float(np.abs(x).max() / (x.std() + 1e-12)), rstd * wmax)
    tol = {k: v * scale for k, v in TOL[dtype].items()}
    for a, e in zip(mine, expect):
        if e is not None:
            np.testing.assert_allclose(a, e, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=group_cases())
def test_group_norm_matches_reference(case, dtype):
    mine = _run(F.group_norm, case, dtype, case["groups"])
    expect = ref.group_norm(case["x"], case["groups"], case["w"], case["b"], case["eps"],
                            case["gy"])
    x = case["x"]
    _compare(mine, expect, dtype, x, x.shape[0] * case["groups"], case["w"], case["eps"])


@settings(max_examples=50)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(case=group_cases())
def test_instance_norm_matches_reference(case, dtype):
    if int(np.prod(case["x"].shape[2:])) == 1:       # one value per plane: PyTorch refuses
        case["x"] = np.stack([case["x"], 1 - 0.5 * case["x"]], axis=-1)
        case["gy"] = np.stack([case["gy"], -case["gy"]], axis=-1)
    mine = _run(F.instance_norm, case, dtype)
    expect = ref.instance_norm(case["x"], case["w"], case["b"], case["eps"], case["gy"])
    x = case["x"]
    _compare(mine, expect, dtype, x, x.shape[0] * x.shape[1], case["w"], case["eps"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
def test_layer_norm_matches_reference(data, dtype):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    k = data.draw(st.integers(1, len(shape)))
    norm = shape[len(shape) - k:]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.uniform(-1, 1, shape) * 3 + data.draw(st.sampled_from([0, 5]))
    affine = data.draw(st.sampled_from(["both", "weight", "none"]))
    case = dict(x=x, w=rng.uniform(-2, 2, norm) if affine != "none" else None,
                b=rng.uniform(-2, 2, norm) if affine == "both" else None,
                gy=rng.uniform(-1, 1, shape), eps=1e-5)
    mine = _run(F.layer_norm, case, dtype, norm)
    expect = ref.layer_norm(x, norm, case["w"], case["b"], 1e-5, case["gy"])
    _compare(mine, expect, dtype, x, x.size // int(np.prod(norm)), case["w"], 1e-5)


@settings(max_examples=30)
@given(data=st.data())
def test_local_response_norm_matches_reference(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=3, max_size=5)))
    size = data.draw(st.integers(1, 5))
    x = np.random.default_rng(data.draw(st.integers(0, 2**31))).uniform(-3, 3, shape)
    y = F.local_response_norm(tt.tensor(x), size, alpha=0.5, beta=0.75, k=1.5)
    np.testing.assert_allclose(arr(y), ref.local_response_norm(x, size, 0.5, 0.75, 1.5),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn,args,xs,ps", [
    (F.group_norm, (2,), (2, 4, 3), (4,)),
    (F.group_norm, (1,), (3, 2, 2, 2), (2,)),
    (F.instance_norm, (), (2, 3, 4), (3,)),
    (F.layer_norm, ((2, 3),), (3, 2, 3), (2, 3)),
])
def test_gradcheck(fn, args, xs, ps):
    rng = np.random.default_rng(sum(xs))
    x, w, b = leaf(rng.standard_normal(xs)), leaf(rng.standard_normal(ps)), leaf(rng.standard_normal(ps))
    assert tt.autograd.gradcheck(lambda x, w, b: fn(x, *args, weight=w, bias=b), (x, w, b))


def test_gradcheck_local_response_norm():
    x = leaf(np.random.default_rng(1).standard_normal((2, 5, 3)))
    assert tt.autograd.gradcheck(lambda x: F.local_response_norm(x, 3, alpha=0.3), (x,))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make,xs", [
    (lambda: nn.GroupNorm(8, 64), (4, 64, 20, 20)),
    (lambda: nn.LayerNorm(100), (8, 70, 100)),
    (lambda: nn.InstanceNorm2d(16, affine=True), (4, 16, 24, 24)),
])
def test_one_and_two_threads_bitwise_equal(make, xs, dtype, threads):
    rng = np.random.default_rng(4)
    x0, g0 = rng.standard_normal(xs), rng.standard_normal(xs)
    results = []
    for n in (1, 2):
        threads(n)
        m = make().to(tt.float64 if dtype == "float64" else tt.float32)
        x = leaf(x0, dtype)
        y = m(x)
        y.backward(tt.tensor(g0.astype(DTYPES[dtype])))
        results.append([arr(y), arr(x.grad)] + [arr(p.grad) for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_needs_input_grad_only_what_is_asked():
    x = tt.randn(2, 4, 5)
    w = tt.ones(4, requires_grad=True)
    F.group_norm(x, 2, w, tt.zeros(4)).sum().backward()
    assert x.grad is None and w.grad is not None


def test_instance_norm_running_statistics_and_eval():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)) * 2 + 1
    m = nn.InstanceNorm2d(3, track_running_stats=True, momentum=0.5).double()
    m(tt.tensor(x))
    per = x.reshape(4, 3, -1)
    np.testing.assert_allclose(arr(m.running_mean), 0.5 * per.mean(axis=2).mean(axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(arr(m.running_var),
                               0.5 + 0.5 * per.var(axis=2, ddof=1).mean(axis=0), rtol=1e-12)
    m.eval()
    y = arr(m(tt.tensor(x)))
    expect = (x - arr(m.running_mean)[:, None, None]) / np.sqrt(arr(m.running_var)[:, None, None]
                                                                 + 1e-5)
    np.testing.assert_allclose(y, expect, rtol=1e-10, atol=1e-12)
    assert set(m.state_dict()) == {"running_mean", "running_var", "num_batches_tracked"}


def test_instance_norm_unbatched_and_warnings():
    x = tt.randn(3, 6, 6)
    y = nn.InstanceNorm2d(3)(x)
    np.testing.assert_allclose(arr(y), arr(nn.InstanceNorm2d(3)(x.unsqueeze(0)))[0])
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(4)(tt.randn(2, 3, 4, 4))


def test_reprs_and_parameters():
    assert repr(nn.GroupNorm(32, 256)) == "GroupNorm(32, 256, eps=1e-05, affine=True, bias=True)"
    assert repr(nn.GroupNorm(2, 4, affine=False)) == \
        "GroupNorm(2, 4, eps=1e-05, affine=False, bias=False)"
    assert repr(nn.LayerNorm(10)) == "LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.LayerNorm((3, 4), elementwise_affine=False)) == \
        "LayerNorm((3, 4), eps=1e-05, elementwise_affine=False, bias=False)"
    assert repr(nn.InstanceNorm2d(3)) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, "
                                          "affine=False, bias=False, track_running_stats=False)")
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"
    ln = nn.LayerNorm(5, bias=False)
    assert [k for k, _ in ln.named_parameters()] == ["weight"]
    gn = nn.GroupNorm(2, 4)
    assert arr(gn.weight).tolist() == [1] * 4 and arr(gn.bias).tolist() == [0] * 4


X = tt.zeros(2, 6, 3)


@pytest.mark.parametrize("call,exc,text", [
    (lambda: F.group_norm(X, 4), RuntimeError,
     "Expected number of channels in input to be divisible by num_groups, but got input of "
     "shape [2, 6, 3] and num_groups=4"),
    (lambda: F.group_norm(X, 3, tt.zeros(5)), RuntimeError,
     "Expected weight to be a vector of size equal to the number of channels in input, but got "
     "weight of shape [5] and input of shape [2, 6, 3]"),
    (lambda: F.group_norm(tt.zeros(6), 3), RuntimeError,
     "Expected at least 2 dimensions for input tensor but received 1"),
    (lambda: F.group_norm(tt.zeros(1, 6), 6), ValueError,
     "Expected more than 1 value per channel when training, got input size [1, 6]"),
    (lambda: F.group_norm(X.long(), 3), NotImplementedError,
     "\"GroupNormKernelImpl\" not implemented for 'Long'"),
    (lambda: F.group_norm(X, 3, tt.zeros(6, dtype=tt.float64)), RuntimeError,
     "mixed dtype (CPU): expect parameter to have scalar type of Float"),
    (lambda: F.group_norm(X, 1.5), TypeError, "group_norm(): argument 'num_groups'"),
    (lambda: nn.GroupNorm(4, 6), ValueError, "num_channels (6) must be divisible by num_groups (4)"),
    (lambda: F.layer_norm(tt.zeros(2, 3), (4,)), RuntimeError,
     "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]"),
    (lambda: F.layer_norm(tt.zeros(2, 3), (2, 3), tt.zeros(3)), RuntimeError,
     "Expected weight to be of same shape as normalized_shape, but got weight of shape [3] and "
     "normalized_shape = [2, 3]"),
    (lambda: F.layer_norm(tt.zeros(2, 3), 3.0), TypeError,
     "layer_norm(): argument 'normalized_shape' (position 2) must be tuple of ints, not float"),
    (lambda: F.layer_norm(tt.zeros(2, 3), ()), RuntimeError,
     "Expected normalized_shape to be at least 1-dimensional"),
    (lambda: F.instance_norm(tt.zeros(2, 3, 1)), ValueError,
     "Expected more than 1 spatial element when training, got input size torch.Size([2, 3, 1])"),
    (lambda: F.instance_norm(tt.zeros(2, 3, 4), tt.zeros(2), tt.ones(3)), RuntimeError,
     "running_mean should contain 6 elements not 4"),
    (lambda: F.instance_norm(tt.zeros(2, 3, 4), use_input_stats=False), RuntimeError,
     "Expected running_mean and running_var to be defined when use_input_stats is false"),
    (lambda: nn.InstanceNorm2d(3, affine=True)(tt.zeros(2, 4, 4, 4)), ValueError,
     "expected input's size at dim=1 to match num_features (3), but got: 4."),
    (lambda: nn.InstanceNorm1d(3)(tt.zeros(2, 3, 4, 4)), ValueError,
     "expected 2D or 3D input (got 4D input)"),
    (lambda: F.local_response_norm(tt.zeros(2, 3), 2), ValueError,
     "Expected 3D or higher dimensionality"),
    (lambda: F.group_norm(3, 3), TypeError,
     "group_norm(): argument 'input' (position 1) must be Tensor, not int"),
])
def test_bad_calls(call, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        call()
