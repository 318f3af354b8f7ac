"""Fractional max pooling (F.fractional_max_pool2d/3d, nn.FractionalMaxPool2d/3d) against the
naive reference of tests/reference_pool.py: window starts from the samples, forward values and
indices, backward, float32 and float64, batched and unbatched, any layout; gradcheck, threads,
tt.manual_seed, modules and reprs, PyTorch's messages for bad input, and samples that would put
a window outside the input (refused before anything is read)."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.autograd import gradcheck

import reference_pool as ref
from strategies import layouts


@st.composite
def fractional_cases(draw):
    """(nsp, input shape, kernel, output size or None, ratio or None), valid by construction:
    the 2-D op needs o + k - 1 <= n, the 3-D op o + k - 1 < n (PyTorch's checks)."""
    nsp = draw(st.sampled_from([2, 3]))
    strict = 1 if nsp == 3 else 0
    sp = tuple(draw(st.integers(1 + strict, 8 if nsp == 2 else 5)) for _ in range(nsp))
    k = tuple(draw(st.integers(1, n - strict)) for n in sp)
    lead = draw(st.sampled_from([(1,), (2,), (1, 1), (2, 3), (3, 2)]))
    if draw(st.booleans()):
        out = tuple(draw(st.integers(0, n - kk + 1 - strict)) for n, kk in zip(sp, k))
        return nsp, lead + sp, k, out, None
    # a ratio r with int(n * r) + k - 1 within the limit
    ratio = tuple(draw(st.floats(0.01, 0.99)) for _ in sp)
    out = tuple(int(n * r) for n, r in zip(sp, ratio))
    k = tuple(max(1, min(kk, n - o + 1 - strict)) for kk, n, o in zip(k, sp, out))
    if any(o + kk - 1 + strict > n for o, kk, n in zip(out, k, sp)):
        k = (1,) * nsp
        out = tuple(min(o, n - strict) for o, n in zip(out, sp))
        ratio = None
    return nsp, lead + sp, k, out, ratio


def _pool(nsp):
    return F.fractional_max_pool2d if nsp == 2 else F.fractional_max_pool3d


def _samples(rng, lead, nsp, dtype):
    n = 1 if len(lead) == 1 else lead[0]
    return rng.random((n, lead[-1], nsp)).astype(dtype)


@given(case=fractional_cases(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2 ** 16), data=st.data())
def test_forward_and_backward_vs_reference(case, dtype, seed, data):
    nsp, shape, k, out, ratio = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(dtype)
    if data.draw(st.booleans()):
        a = np.round(a)                                    # ties: the first maximum wins
    lead = shape[:len(shape) - nsp]
    u = _samples(rng, lead, nsp, dtype)
    x = data.draw(layouts(a))
    x.requires_grad_(True)
    size = out if ratio is None else None
    y, idx = _pool(nsp)(x, k, size, ratio, True, _random_samples=tt.tensor(u))
    ey, eidx = ref.fractional_max_pool(a, nsp, k, out, u)
    np.testing.assert_array_equal(y.detach().numpy(), ey)
    np.testing.assert_array_equal(idx.numpy(), eidx)
    assert y.dtype == x.dtype and idx.dtype == tt.int64
    g = rng.standard_normal(ey.shape).astype(dtype)
    y.backward(tt.tensor(g))
    eg = ref.max_pool_backward(g, eidx, shape, nsp) if g.size else np.zeros(shape)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), eg, **tol)
    np.testing.assert_allclose(x.grad.numpy().sum(), g.sum(), rtol=1e-4, atol=1e-4)


@given(n=st.integers(1, 40), k=st.integers(1, 40), o=st.integers(1, 40),
       u=st.floats(0, 1, exclude_max=True), dtype=st.sampled_from([np.float32, np.float64]))
@example(n=7, k=2, o=6, u=0.99999994, dtype=np.float32)
def test_window_starts_vs_reference(n, k, o, u, dtype):
    """Each axis's starts, read back from a one-hot input: every start of the reference."""
    if o + k - 1 > n:
        return
    starts = ref.fractional_starts(u, n, o, k, dtype)
    a = -np.arange(n, dtype=dtype).reshape(1, 1, n)       # each window's max is its start
    _, idx = F.fractional_max_pool2d(tt.tensor(a), (1, k), (1, o), return_indices=True,
                                     _random_samples=tt.tensor(np.array([[[u, 0]]], dtype)))
    assert list(idx.numpy()[0, 0]) == starts
    assert all(0 <= s <= n - k for s in starts)


def test_nan_ties_and_empty_windows():
    x = tt.tensor([[[1., float("nan"), 3., 0.], [float("nan"), 2., float("nan"), 1.]]])
    u = tt.full((1, 1, 2), 0.5)
    y, i = F.fractional_max_pool2d(x, (2, 2), (1, 3), return_indices=True, _random_samples=u)
    ey, ei = ref.fractional_max_pool(x.numpy(), 2, (2, 2), (1, 3), u.numpy())
    np.testing.assert_array_equal(y.numpy(), ey)
    np.testing.assert_array_equal(i.numpy(), ei)
    assert i.numpy().tolist() == [[[4, 6, 6]]]             # the last NaN wins
    # k <= 0 (accepted by PyTorch's functional form): empty windows, -inf at the start
    y, i = F.fractional_max_pool2d(tt.tensor([[[2., 3., 3., 1.]]]), (1, 2), (1, 3),
                                   return_indices=True, _random_samples=u)
    assert i.numpy().tolist() == [[[1, 1, 2]]]             # ties: the first maximum wins
    x = tt.arange(64.).reshape(1, 1, 8, 8)
    y, i = F.fractional_max_pool2d(x, 0, 3, return_indices=True,
                                   _random_samples=tt.full((1, 1, 2), 0.3))
    assert np.all(y.numpy() == -np.inf)
    np.testing.assert_array_equal(i.numpy(), [[[[0, 4, 8], [32, 36, 40], [64, 68, 72]]]])
    # a huge negative kernel: empty windows, never looped over (start + k would overflow)
    for k in (-2 ** 63, -2 ** 62, -2 ** 31):
        y = F.fractional_max_pool2d(tt.randn(6, 2, 2, 1), k, 3,
                                    _random_samples=tt.full((6, 2, 2), 0.5))
        assert tuple(y.shape) == (6, 2, 3, 3) and np.all(y.numpy() == -np.inf)
    x.requires_grad_(True)
    with pytest.raises(RuntimeError, match="an index outside the input plane"):
        F.fractional_max_pool2d(x, 0, 3, _random_samples=tt.full((1, 1, 2), 0.3)).sum().backward()


def test_gradcheck_threads_and_unbatched():
    rng = np.random.default_rng(3)
    for nsp, shape, k, out in [(2, (2, 2, 5, 6), (2, 3), (3, 2)), (3, (1, 2, 4, 4, 5), 2, 2),
                               (2, (3, 6, 5), 2, (4, 3)), (3, (2, 5, 4, 4), (2, 1, 2), (3, 3, 2))]:
        a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 3
        lead = shape[:len(shape) - nsp]
        u = tt.tensor(_samples(rng, lead, nsp, np.float64))
        fn = lambda x: _pool(nsp)(x, k, out, _random_samples=u)   # noqa: E731
        assert gradcheck(fn, (tt.tensor(a, requires_grad=True),))
        old = tt.get_num_threads()
        try:
            tt.set_num_threads(1)
            y1 = fn(tt.tensor(a)).numpy()
            tt.set_num_threads(2)
            y2 = fn(tt.tensor(a)).numpy()
        finally:
            tt.set_num_threads(old)
        assert np.array_equal(y1, y2)
        if len(lead) == 1:                                 # unbatched = batch of one
            yb = _pool(nsp)(tt.tensor(a[None]), k, out, _random_samples=u).numpy()
            assert np.array_equal(y1, yb[0])


def test_no_grad_needed_and_indices_not_differentiable():
    x = tt.randn(1, 2, 6, 6)
    y, i = F.fractional_max_pool2d(x, 2, 3, return_indices=True)
    assert y.grad_fn is None and not i.requires_grad
    x.requires_grad_(True)
    y, i = F.fractional_max_pool2d_with_indices(x, 2, 3)
    assert y.grad_fn is not None and not i.requires_grad
    assert y.grad_fn.name() == "FractionalMaxPool2DBackward0"
    # changing the returned indices in place is detected at backward, as for max_pool2d
    i.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_samples_from_tinytensors_generator():
    x = tt.randn(2, 3, 9, 9)
    tt.manual_seed(5)
    a = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True)[1]
    tt.manual_seed(5)
    u = tt.rand(2, 3, 2, dtype=x.dtype)                    # what the call drew
    b = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), return_indices=True,
                                _random_samples=u)[1]
    assert np.array_equal(a.numpy(), b.numpy())
    tt.manual_seed(5)
    m = nn.FractionalMaxPool3d(2, output_size=(2, 3, 3))
    x3 = tt.randn(4, 5, 6, 6, dtype=tt.float64)            # unbatched: samples (1, C, 3)
    tt.manual_seed(6)
    c = m(x3)
    tt.manual_seed(6)
    u3 = tt.rand(1, 4, 3, dtype=tt.float64)
    assert np.array_equal(c.numpy(), F.fractional_max_pool3d(x3, 2, (2, 3, 3),
                                                             _random_samples=u3).numpy())


def test_modules_and_reprs():
    m = nn.FractionalMaxPool2d(3, output_ratio=0.5)
    assert repr(m) == "FractionalMaxPool2d()"
    assert m.kernel_size == (3, 3) and m.output_ratio == (0.5, 0.5) and m.output_size is None
    assert dict(m.state_dict()) == {} and m._random_samples is None
    u = tt.full((1, 2, 2), 0.25)
    m = nn.FractionalMaxPool2d((2, 3), output_size=[3, 2], return_indices=True,
                               _random_samples=u)
    assert m.output_size == (3, 2) and list(m.state_dict()) == ["_random_samples"]
    y, i = m(tt.randn(1, 2, 6, 6))
    assert tuple(y.shape) == (1, 2, 3, 2) and i.dtype == tt.int64
    m3 = nn.FractionalMaxPool3d((1, 2, 2), output_ratio=(0.5, 0.5, 0.5))
    assert repr(m3) == "FractionalMaxPool3d()" and m3.kernel_size == (1, 2, 2)
    assert tuple(m3(tt.randn(2, 6, 6, 6)).shape) == (2, 3, 3, 3)


ERRORS = [
    (lambda: nn.FractionalMaxPool2d(3), ValueError,
     "FractionalMaxPool2d requires specifying either an output size, or a pooling ratio"),
    (lambda: nn.FractionalMaxPool2d(3, 2, 0.5), ValueError,
     "only one of output_size and output_ratio may be specified"),
    (lambda: nn.FractionalMaxPool2d(3, output_ratio=(0.5, 1.0)), ValueError,
     r"output_ratio must be between 0 and 1 \(got \(0.5, 1.0\)\)"),
    (lambda: nn.FractionalMaxPool3d(0, output_size=2), ValueError,
     "kernel_size must be greater than 0, but got 0"),
    (lambda: nn.FractionalMaxPool3d((1, 0, 1), output_size=2), ValueError,
     r"kernel_size must be greater than 0, but got \(1, 0, 1\)"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2), ValueError,
     "fractional_max_pool2d requires specifying either an output_size or an output_ratio"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, output_ratio=(.5, .5, .5)),
     ValueError, "requires output_ratio to either be a single Int or tuple of Ints"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, output_ratio=0.5), TypeError,
     "object of type 'float' has no len()"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, output_ratio=[.5]), IndexError,
     "tuple index out of range"),
    (lambda: F.fractional_max_pool2d([1.0], 2, 3), TypeError,
     r"fractional_max_pool2d\(\): argument 'input' \(position 1\) must be Tensor, not list"),
    (lambda: F.fractional_max_pool2d(tt.randn(8, 8), 2, 3), IndexError,
     r"Dimension out of range \(expected to be in range of \[-2, 1\], but got -3\)"),
    (lambda: F.fractional_max_pool3d(tt.randn(4, 4), 2, output_ratio=0.5), IndexError,
     r"expected to be in range of \[-2, 1\], but got -3"),
    (lambda: F.fractional_max_pool2d(tt.ones(1, 1, 8, 8, dtype=tt.int64), 2, 3),
     NotImplementedError, "\"check_uniform_bounds\" not implemented for 'Long'"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2.5, 3), TypeError,
     r"argument 'kernel_size' \(position 2\) must be tuple of ints, not float"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, 3.5), TypeError,
     r"argument 'output_size' \(position 3\) must be tuple of ints, not float"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, 3, _random_samples=[.5, .5]),
     TypeError, r"argument 'random_samples' \(position 4\) must be Tensor, not list"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), (2, 2, 2), 3), RuntimeError,
     "fractional_max_pool2d: kernel_size must either be a single Int or tuple of Ints"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 8), 2, [3]), RuntimeError,
     "fractional_max_pool2d: output_size must either be a single Int or tuple of Ints"),
    (lambda: F.fractional_max_pool3d(tt.randn(1, 1, 8, 8, 8), (2, 2), 3), RuntimeError,
     "fractional_max_pool3d: kernel_size must either be a single Int or tuple of three Ints"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 2, 3, 8, 9), 2, 3), RuntimeError,
     r"fractional_max_pool2d\(\): Expected 3D or 4D tensor, but got: \[1, 2, 3, 8, 9\]"),
    (lambda: F.fractional_max_pool3d(tt.randn(6, 7, 8), 2, 3, _random_samples=tt.rand(1, 1, 3)),
     RuntimeError, r"fractional_max_pool3d_out\(\): Expected 4D or 5D tensor, but got: "
                   r"\[6, 7, 8\]"),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 0, 8, 8), 2, 3), RuntimeError,
     r"Expected input to have non-zero size for non-batch dimensions, but got\[2, 0, 8, 8\] "
     "with dimension 1 being empty."),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 9), 2, 8), RuntimeError,
     r"fractional_max_pool2d\(\): pool height 2 too large relative to input height 8"),
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 8, 9), 2, (3, 9)), RuntimeError,
     "pool width 2 too large relative to input width 9"),
    (lambda: F.fractional_max_pool3d(tt.randn(1, 1, 6, 8, 8), 1, (6, 2, 2)), RuntimeError,
     r"fractional_max_pool3d_out\(\): pool time 1 too large relative to input time 6"),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 3, 8, 8), 2, -1), RuntimeError,
     r"Trying to create tensor with negative dimension -1: \[2, 3, -1, -1\]"),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 3, 8, 8), 2, 3,
                                     _random_samples=tt.rand(2, 3, 2, dtype=tt.float64)),
     RuntimeError, "Expect _random_samples to have the same dtype as input"),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 3, 8, 8), 2, 3, _random_samples=tt.rand(6, 2)),
     RuntimeError, "Expect _random_samples to have 3 dimensions, got 2"),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 3, 8, 8), 2, 3,
                                     _random_samples=tt.rand(1, 3, 2)),
     RuntimeError, r"Expect _random_samples.size\(0\) no less then input batch size."),
    (lambda: F.fractional_max_pool2d(tt.randn(2, 3, 8, 8), 2, 3,
                                     _random_samples=tt.rand(2, 4, 2)),
     RuntimeError, r"Expect _random_samples.size\(1\) equals to input channel size."),
    (lambda: F.fractional_max_pool3d(tt.randn(2, 3, 8, 8, 8), 2, 3,
                                     _random_samples=tt.rand(2, 3, 2)),
     RuntimeError, r"Expect _random_samples.size\(2\) equals to 3; got 2."),
    (lambda: F.fractional_max_pool2d(tt.ones(1, 1, 8, 8, dtype=tt.int64), 2, 3,
                                     _random_samples=tt.zeros(1, 1, 2, dtype=tt.int64)),
     NotImplementedError, "\"fractional_max_pool2d_out_frame\" not implemented for 'Long'"),
    # samples far outside [0, 1): float32 rounding puts the second window at 4 > 6 - 3
    (lambda: F.fractional_max_pool2d(tt.randn(1, 1, 6, 6), 3, 4,
                                     _random_samples=tt.full((1, 1, 2), 4.1454132e+07)),
     RuntimeError, r"_random_samples\[0, 0\] puts a pooling window outside the input"),
]


@pytest.mark.parametrize("call, exc, pattern", ERRORS)
def test_bad_input_messages(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("u", [float("nan"), float("inf"), -float("inf"), 1e9, -1e9, 3e9, 1e30,
                               -0.5, 1.5])
def test_odd_samples_never_read_outside(u):
    """Samples PyTorch does not document (NaN, inf, huge, outside [0, 1)): a result whose
    windows lie in the input, or the error above -- never a read outside."""
    for dtype in (tt.float32, tt.float64):
        x = tt.arange(64., dtype=dtype).reshape(1, 1, 8, 8)
        try:
            _, i = F.fractional_max_pool2d(x, 2, 4, return_indices=True,
                                           _random_samples=tt.full((1, 1, 2), u, dtype=dtype))
        except RuntimeError as e:
            assert "outside the input" in str(e)
            continue
        assert 0 <= i.numpy().min() and i.numpy().max() < 64
