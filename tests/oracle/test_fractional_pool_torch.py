"""PyTorch 2.13 as a second oracle for fractional max pooling: given the same _random_samples,
the same values, indices (bitwise: float32 windows round as PyTorch's) and gradients, for
samples inside and far outside [0, 1); the same modules' attributes and reprs; the same error
types and messages."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import tinytensor as tt  # noqa: E402
import tinytensor.nn as nn  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402

FEW = settings(max_examples=min(settings().max_examples, 40))


def both(nsp, a, u, *args, **kw):
    """[(values, indices, input grad)] for tinytensor then torch, as NumPy."""
    res = []
    g = None
    for lib, mod in ((tt, F), (torch, TF)):
        x = lib.tensor(a, requires_grad=True)
        fn = getattr(mod, f"fractional_max_pool{nsp}d")
        y, i = fn(x, *args, return_indices=True, _random_samples=lib.tensor(u), **kw)
        if g is None:
            g = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(a.dtype)
        (y * lib.tensor(g)).sum().backward()
        res.append((y.detach().numpy(), i.numpy(), x.grad.numpy()))
    return res


@st.composite
def cases(draw):
    nsp = draw(st.sampled_from([2, 3]))
    strict = 1 if nsp == 3 else 0
    sp = tuple(draw(st.integers(1 + strict, 12 if nsp == 2 else 6)) for _ in range(nsp))
    k = tuple(draw(st.integers(1, n - strict)) for n in sp)
    out = tuple(draw(st.integers(0, n - kk + 1 - strict)) for n, kk in zip(sp, k))
    lead = draw(st.sampled_from([(2,), (1, 3), (2, 2)]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    samples = draw(st.sampled_from(["unit", "unit", "wide"]))
    return nsp, lead + sp, k, out, dtype, samples


@FEW
@given(case=cases(), seed=st.integers(0, 2 ** 16))
def test_same_as_torch(case, seed):
    nsp, shape, k, out, dtype, samples = case
    rng = np.random.default_rng(seed)
    a = np.round(rng.standard_normal(shape) * 2).astype(dtype)      # ties too
    n = 1 if len(shape) == nsp + 1 else shape[0]
    u = rng.random((n, shape[-nsp - 1], nsp))
    if samples == "wide":                                    # undocumented, but accepted
        u = (u - 0.5) * 10.0 ** rng.integers(0, 12)
    u = u.astype(dtype)
    try:
        (y, i, gi), (ty, ti, tgi) = both(nsp, a, u, k, out)
    except RuntimeError as e:
        # tinytensor refuses samples that put a window outside the input; PyTorch stops at an
        # internal assert there (or reads outside the input)
        assert "outside the input" in str(e)
        return
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_allclose(gi, tgi, rtol=1e-6, atol=1e-6)


def test_ratio_sizes_unbatched_and_empty_windows():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 9, 11)).astype(np.float32)
    u = rng.random((1, 3, 2)).astype(np.float32)
    for (y, i, g), (ty, ti, tg) in [both(2, a, u, 3, output_ratio=(0.5, 0.7))]:
        np.testing.assert_array_equal(y, ty)
        np.testing.assert_array_equal(i, ti)
    a3 = rng.standard_normal((2, 2, 7, 6, 9))
    u3 = rng.random((2, 2, 3))
    res = both(3, a3, u3, 2, output_ratio=0.4)              # the 3-D wrapper takes a number
    for m, t in zip(*res):
        np.testing.assert_array_equal(m, t)
    a0 = np.arange(64.).reshape(1, 1, 8, 8)
    u0 = np.full((1, 1, 2), 0.3)
    for k in (0, -1):                                        # empty windows: -inf at the start
        y, i = F.fractional_max_pool2d(tt.tensor(a0), k, 3, return_indices=True,
                                       _random_samples=tt.tensor(u0))
        ty, ti = TF.fractional_max_pool2d(torch.tensor(a0), k, 3, return_indices=True,
                                          _random_samples=torch.tensor(u0))
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("u", [float("nan"), float("inf"), -float("inf"), 1e9, -1e9, 3e9,
                               1e5, 12345.678, -3.0, 7.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_odd_samples_as_torch(u, dtype):
    """Where PyTorch's C++ converts NaN / inf / out-of-int-range products (x86-64: INT_MIN),
    tinytensor gives the same windows."""
    a = np.arange(64.).reshape(1, 1, 8, 8).astype(dtype)
    s = np.full((1, 1, 2), u, dtype)
    (y, i, _), (ty, ti, _) = both(2, a, s, 2, 4)
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_array_equal(y, ty)


def test_modules_as_torch():
    for args, kw in [((3,), {"output_ratio": 0.5}), ((3,), {"output_size": 2}),
                     (((2, 3),), {"output_size": [4, 5], "return_indices": True}),
                     ((0,), {"output_size": 2})]:
        m, t = nn.FractionalMaxPool2d(*args, **kw), tnn.FractionalMaxPool2d(*args, **kw)
        assert repr(m) == repr(t)
        for name in ("kernel_size", "output_size", "output_ratio", "return_indices"):
            assert getattr(m, name) == getattr(t, name), name
    for args, kw in [((3,), {"output_ratio": (0.5, 0.25, 0.5)}), ((2,), {"output_size": 2})]:
        m, t = nn.FractionalMaxPool3d(*args, **kw), tnn.FractionalMaxPool3d(*args, **kw)
        assert repr(m) == repr(t)
        for name in ("kernel_size", "output_size", "output_ratio", "return_indices"):
            assert getattr(m, name) == getattr(t, name), name
    u = np.random.default_rng(2).random((2, 3, 2)).astype(np.float32)
    m = nn.FractionalMaxPool2d(2, output_size=3, _random_samples=tt.tensor(u))
    t = tnn.FractionalMaxPool2d(2, output_size=3, _random_samples=torch.tensor(u))
    assert list(m.state_dict()) == list(t.state_dict())
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 7)).astype(np.float32)
    np.testing.assert_array_equal(m(tt.tensor(x)).numpy(), t(torch.tensor(x)).numpy())


def _bad_calls(lib, mod, nn_):
    r = lib.randn
    f2, f3 = mod.fractional_max_pool2d, mod.fractional_max_pool3d
    return [
        lambda: nn_.FractionalMaxPool2d(3),
        lambda: nn_.FractionalMaxPool3d(2),
        lambda: nn_.FractionalMaxPool2d(3, 2, 0.5),
        lambda: nn_.FractionalMaxPool2d(3, output_ratio=1),
        lambda: nn_.FractionalMaxPool2d(3, output_ratio=(0.5,)),
        lambda: nn_.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 2)),
        lambda: nn_.FractionalMaxPool3d((1, 0, 1), output_size=2),
        lambda: nn_.FractionalMaxPool3d(-1, output_size=2),
        lambda: f2(r(1, 1, 8, 8), 2),
        lambda: f3(r(1, 1, 8, 8, 8), 2),
        lambda: f2(r(1, 1, 8, 8), 2, output_ratio=(0.5, 0.5, 0.5)),
        lambda: f2(r(1, 1, 8, 8), 2, output_ratio=[0.5]),
        lambda: f2(r(1, 1, 8, 8), 2, output_ratio=0.5),
        lambda: f3(r(1, 1, 8, 8, 8), 2, output_ratio=(0.5, 0.5)),
        lambda: f2(r(8, 8), 2, 3),
        lambda: f2(r(4), 2, output_ratio=(0.5, 0.5)),
        lambda: f3(r(4, 4), 2, output_ratio=0.5),
        lambda: f3(r(4, 4, 4), 2, 2),
        lambda: f2(lib.ones(1, 1, 8, 8, dtype=lib.int64), 2, 3),
        lambda: f2(lib.ones(1, 1, 8, 8, dtype=lib.bool), 2, 3),
        lambda: f2(r(1, 1, 8, 8), 2.5, 3),
        lambda: f2(r(1, 1, 8, 8), None, 3),
        lambda: f2(r(1, 1, 8, 8), 2, 3.5),
        lambda: f2(r(1, 1, 8, 8), 2, 3, _random_samples=[0.5]),
        lambda: f2(r(1, 1, 8, 8), (2, 2, 2), 3),
        lambda: f2(r(1, 1, 8, 8), 2, (3, 3, 3)),
        lambda: f2(r(1, 1, 8, 8), 2, [3]),
        lambda: f3(r(1, 1, 8, 8, 8), (2, 2), 3),
        lambda: f3(r(1, 1, 8, 8, 8), 2, (3, 3)),
        lambda: f2(r(1, 2, 3, 8, 9), 2, 3),
        lambda: f2(r(1, 1, 1, 4, 4), (2, 2, 2), 3),
        lambda: f3(r(6, 7, 8), 2, 3, _random_samples=lib.rand(1, 1, 3)),
        lambda: f3(r(1, 2, 3, 6, 7, 8), 2, 3),
        lambda: f2(r(2, 0, 8, 8), 2, 3),
        lambda: f2(r(3, 0, 8), 2, 3),
        lambda: f3(r(2, 0, 8, 8, 8), 2, 3),
        lambda: f3(r(2, 0, 8, 8), 2, 3),
        lambda: f2(r(2, 3, 8, 9), 2, 8),
        lambda: f2(r(2, 3, 8, 9), 2, (3, 9)),
        lambda: f2(r(2, 3, 8, 8), 9, 1),
        lambda: f3(r(1, 1, 6, 7, 8), 2, (6, 3, 3)),
        lambda: f3(r(1, 1, 6, 7, 8), 2, (3, 7, 3)),
        lambda: f3(r(1, 1, 6, 7, 8), 2, (3, 3, 8)),
        lambda: f3(r(1, 1, 4, 8, 8), 9, (4, 7, 7)),
        lambda: f2(r(2, 3, 8, 8), 2, -1),
        lambda: f3(r(2, 3, 8, 8, 8), 2, (2, -2, 2)),
        lambda: f2(r(1, 1, 4, 4), 2, -1, _random_samples=lib.rand(2)),
        lambda: f2(r(1, 1, 4, 4), 2, 4, _random_samples=lib.rand(2)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(2, 3, 2, dtype=lib.float64)),
        lambda: f2(r(1, 1, 4, 4), 2, 2, _random_samples=lib.rand(2, dtype=lib.float64)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(6, 2)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(2, 3, 2, 1)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(1, 3, 2)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(2, 2, 2)),
        lambda: f2(r(2, 3, 8, 8), 2, 3, _random_samples=lib.rand(2, 3, 3)),
        lambda: f2(r(3, 8, 8), 2, 3, _random_samples=lib.rand(3, 2)),
        lambda: f3(r(2, 3, 8, 8, 8), 2, 3, _random_samples=lib.rand(2, 3, 2)),
        lambda: f3(r(2, 3, 8, 8, 8), 2, 3, _random_samples=lib.rand(1, 3, 3)),
        lambda: f2(lib.ones(1, 1, 8, 8, dtype=lib.int64), 2, 3,
                   _random_samples=lib.zeros(1, 1, 2, dtype=lib.int64)),
        lambda: f3(lib.ones(1, 1, 4, 4, 4, dtype=lib.int64), 2, 2,
                   _random_samples=lib.zeros(1, 1, 3, dtype=lib.int64)),
        lambda: f2(lib.ones(1, 1, 8, 8, dtype=lib.int64), 2, 3,
                   _random_samples=lib.rand(1, 1, 2)),
    ]


@pytest.mark.parametrize("i", range(len(_bad_calls(tt, F, nn))))
def test_errors_as_torch(i):
    def outcome(lib, mod, nn_):
        try:
            _bad_calls(lib, mod, nn_)[i]()
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e).split("\n")[0]
        return None
    mine, theirs = outcome(tt, F, nn), outcome(torch, TF, tnn)
    assert theirs is not None, "torch accepts this call"
    assert mine == theirs
