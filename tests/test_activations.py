"""Pointwise activations (ReLU6 ... PReLU), channel and alpha dropout, against float64
references written from the definitions (tests/reference_nn.py): forward and backward in
float32 and float64 on every layout, float64 gradcheck, in-place forms, modules' reprs, and
PyTorch's messages for bad input."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.autograd import gradcheck

import reference_nn as ref
from strategies import arrays, layouts, shapes

# name -> (call with its arguments, reference name, reference kwargs)
CASES = {
    "relu6": (lambda x: F.relu6(x), "relu6", {}),
    "hardtanh": (lambda x: F.hardtanh(x, -2.0, 3.5), "hardtanh", {"min_val": -2.0, "max_val": 3.5}),
    "threshold": (lambda x: F.threshold(x, 0.5, -3.0), "threshold",
                  {"threshold": 0.5, "value": -3.0}),
    "elu": (lambda x: F.elu(x, 0.7), "elu", {"alpha": 0.7}),
    "celu": (lambda x: F.celu(x, 1.5), "celu", {"alpha": 1.5}),
    "selu": (lambda x: F.selu(x), "selu", {}),
    "gelu": (lambda x: F.gelu(x), "gelu", {}),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), "gelu_tanh", {}),
    "silu": (lambda x: F.silu(x), "silu", {}),
    "mish": (lambda x: F.mish(x), "mish", {}),
    "hardswish": (lambda x: F.hardswish(x), "hardswish", {}),
    "hardsigmoid": (lambda x: F.hardsigmoid(x), "hardsigmoid", {}),
    "softplus": (lambda x: F.softplus(x, 2.0, 6.0), "softplus", {"beta": 2.0, "threshold": 6.0}),
    "softsign": (lambda x: F.softsign(x), "softsign", {}),
    "logsigmoid": (lambda x: F.logsigmoid(x), "logsigmoid", {}),
    "tanhshrink": (lambda x: F.tanhshrink(x), "tanhshrink", {}),
    "softshrink": (lambda x: F.softshrink(x, 0.75), "softshrink", {"lambd": 0.75}),
    "hardshrink": (lambda x: F.hardshrink(x, 0.75), "hardshrink", {"lambd": 0.75}),
}
NAMES = sorted(CASES)


def _check(name, a, x, dtype):
    call, rname, kw = CASES[name]
    x.requires_grad_(True)
    y = call(x)
    g = np.linspace(-1.5, 2.0, max(a.size, 1))[:a.size].reshape(a.shape)
    y.backward(tt.tensor(g.astype(a.dtype)))
    ey, ed = ref.activation(rname, a, **kw)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype is tt.float64 else dict(rtol=1e-4, atol=1e-5)
    assert y.dtype is dtype and tuple(y.shape) == a.shape
    np.testing.assert_allclose(y.detach().numpy(), ey, **tol)
    np.testing.assert_allclose(x.grad.numpy(), g * ed, **tol)


@given(name=st.sampled_from(NAMES), dtype=st.sampled_from([tt.float32, tt.float64]),
       shape=shapes(0, 3, 1, 5), data=st.data())
def test_activation_forward_backward_vs_reference(name, dtype, shape, data):
    a = data.draw(arrays(shape, dtype, lo=-8, hi=8))
    x = data.draw(layouts(a))
    _check(name, a, x, dtype)


@pytest.mark.parametrize("name", NAMES)
def test_activation_kinks_and_extremes(name):
    """Kinks (0, +-3, +-lambd, the bounds) and large magnitudes, where branches meet."""
    vals = [-100.0, -30.0, -6.0, -3.0, -2.0, -0.75, -0.5, 0.0, 0.5, 0.75, 2.0, 3.0, 3.5, 6.0,
            30.0, 100.0]
    for dtype, npt in ((tt.float64, np.float64), (tt.float32, np.float32)):
        a = np.array(vals, npt)
        _check(name, a, tt.tensor(a), dtype)


@pytest.mark.parametrize("name", NAMES)
def test_activation_gradcheck(name):
    call = CASES[name][0]
    rng = np.random.default_rng(3)
    a = rng.uniform(-4, 4, (3, 4))
    # keep finite differences away from the kinks
    kinks = np.array([0.0, -3.0, 3.0, 0.5, -0.75, 0.75, -2.0, 3.5, 6.0])
    a = np.where(np.min(np.abs(a[..., None] - kinks), axis=-1) < 1e-3, a + 0.01, a)
    x = tt.tensor(a, requires_grad=True)
    assert gradcheck(call, (x,))


def test_activation_nan_and_empty():
    for name in NAMES:
        call = CASES[name][0]
        assert call(tt.zeros(0, 3)).shape == (0, 3)
        y = call(tt.tensor([float("nan")]))
        if name not in ("threshold",):
            assert math.isnan(y.item()), name


@pytest.mark.parametrize("fn,kw", [(F.relu6, {}), (F.elu, {}), (F.celu, {"alpha": 2.0}),
                                   (F.selu, {}), (F.silu, {}), (F.mish, {}), (F.hardswish, {}),
                                   (F.hardsigmoid, {}), (F.hardtanh, {}),
                                   (F.threshold, {"threshold": 0.1, "value": 2.0}),
                                   (F.leaky_relu, {})])
def test_inplace_matches_out_of_place_and_backward(fn, kw):
    rng = np.random.default_rng(0)
    a = rng.uniform(-5, 5, (2, 5))
    x1 = tt.tensor(a, requires_grad=True)
    x2 = tt.tensor(a, requires_grad=True)
    y1 = fn(x1 * 1, **kw)
    h = x2 * 1
    y2 = fn(h, inplace=True, **kw)
    assert y2 is h
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    (y1 * y1).sum().backward()
    (y2 * y2).sum().backward()
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-12)


def test_trailing_underscore_forms():
    a = np.array([-2.0, 0.5, 3.0])
    for fn, ref_fn in ((F.elu_, F.elu), (F.celu_, F.celu), (F.selu_, F.selu),
                       (F.hardtanh_, F.hardtanh), (F.leaky_relu_, F.leaky_relu)):
        x = tt.tensor(a)
        out = fn(x)
        assert out is x
        np.testing.assert_array_equal(x.numpy(), ref_fn(tt.tensor(a)).numpy())
    x = tt.tensor(a)
    assert F.threshold_(x, 1.0, 0.0) is x and x.tolist() == [0.0, 0.0, 3.0]


def test_integer_inputs_follow_pytorch():
    i = tt.tensor([-3, 1, 8])
    assert F.relu6(i).tolist() == [0, 1, 6] and F.relu6(i).dtype is tt.int64
    assert F.hardtanh(i).tolist() == [-1, 1, 1]
    assert F.threshold(i, 1.5, 7).tolist() == [7, 7, 8]
    assert F.softsign(i).dtype is tt.float32
    assert F.tanhshrink(i).dtype is tt.float32


def test_prelu_vs_reference_and_gradcheck():
    rng = np.random.default_rng(5)
    for shape, nw in (((2, 3, 4), 3), ((2, 3), 1), ((5,), 1), ((2, 3, 2, 2), 3), ((), 1)):
        a = rng.uniform(-3, 3, shape)
        w = rng.uniform(0.1, 0.5, nw)
        x = tt.tensor(a, requires_grad=True)
        wt = tt.tensor(w, requires_grad=True)
        y = F.prelu(x, wt)
        y.sum().backward()
        ey, edx, edw = ref.prelu(a, w)
        np.testing.assert_allclose(y.detach().numpy(), ey, rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), edx, rtol=1e-12)
        np.testing.assert_allclose(wt.grad.numpy(), edw, rtol=1e-12, atol=1e-12)
        assert gradcheck(F.prelu, (tt.tensor(a + 0.01, requires_grad=True),
                                   tt.tensor(w, requires_grad=True)))
    a32 = rng.uniform(-3, 3, (2, 3, 4)).astype(np.float32)
    m = nn.PReLU(3)
    m(tt.tensor(a32)).sum().backward()
    assert m.weight.grad.dtype is tt.float32
    np.testing.assert_allclose(m.weight.grad.numpy(), ref.prelu(a32, [0.25] * 3)[2], rtol=1e-5)


def test_module_reprs_match_pytorch():
    cases = [(nn.ReLU6(), "ReLU6()"), (nn.ReLU6(True), "ReLU6(inplace=True)"),
             (nn.ELU(), "ELU(alpha=1.0)"), (nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
             (nn.CELU(), "CELU(alpha=1.0)"), (nn.SELU(), "SELU()"),
             (nn.SELU(True), "SELU(inplace=True)"), (nn.GELU(), "GELU(approximate='none')"),
             (nn.GELU("tanh"), "GELU(approximate='tanh')"), (nn.SiLU(), "SiLU()"),
             (nn.SiLU(True), "SiLU(inplace=True)"), (nn.Mish(True), "Mish(inplace=True)"),
             (nn.Hardswish(True), "Hardswish()"), (nn.Hardsigmoid(), "Hardsigmoid()"),
             (nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
             (nn.Hardtanh(-2, 3, True), "Hardtanh(min_val=-2, max_val=3, inplace=True)"),
             (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"), (nn.Softsign(), "Softsign()"),
             (nn.PReLU(), "PReLU(num_parameters=1)"), (nn.PReLU(3, 0.1), "PReLU(num_parameters=3)"),
             (nn.LogSigmoid(), "LogSigmoid()"),
             (nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
             (nn.Threshold(0.1, 20, True), "Threshold(threshold=0.1, value=20, inplace=True)"),
             (nn.Tanhshrink(), "Tanhshrink()"), (nn.Softshrink(), "Softshrink(0.5)"),
             (nn.Hardshrink(0.3), "Hardshrink(0.3)"), (nn.Identity(), "Identity()"),
             (nn.Dropout1d(), "Dropout1d(p=0.5, inplace=False)"),
             (nn.Dropout2d(0.2, True), "Dropout2d(p=0.2, inplace=True)"),
             (nn.Dropout3d(), "Dropout3d(p=0.5, inplace=False)"),
             (nn.AlphaDropout(), "AlphaDropout(p=0.5, inplace=False)"),
             (nn.FeatureAlphaDropout(0.1), "FeatureAlphaDropout(p=0.1, inplace=False)")]
    for m, text in cases:
        assert repr(m) == text
    assert [n for n, _ in nn.PReLU(3).named_parameters()] == ["weight"]
    assert nn.PReLU(2, 0.1).weight.tolist() == pytest.approx([0.1, 0.1])
    assert nn.PReLU(dtype=tt.float64).weight.dtype is tt.float64


def test_modules_call_their_functions():
    rng = np.random.default_rng(1)
    x = tt.tensor(rng.uniform(-4, 4, (2, 3)))
    pairs = [(nn.ReLU6(), F.relu6(x)), (nn.ELU(0.5), F.elu(x, 0.5)), (nn.CELU(2.0), F.celu(x, 2.0)),
             (nn.SELU(), F.selu(x)), (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
             (nn.SiLU(), F.silu(x)), (nn.Mish(), F.mish(x)), (nn.Hardswish(), F.hardswish(x)),
             (nn.Hardsigmoid(), F.hardsigmoid(x)), (nn.Hardtanh(-2, 2), F.hardtanh(x, -2, 2)),
             (nn.Softplus(2, 5), F.softplus(x, 2, 5)), (nn.Softsign(), F.softsign(x)),
             (nn.LogSigmoid(), F.logsigmoid(x)), (nn.Threshold(0.5, 9), F.threshold(x, 0.5, 9)),
             (nn.Tanhshrink(), F.tanhshrink(x)), (nn.Softshrink(1.0), F.softshrink(x, 1.0)),
             (nn.Hardshrink(1.0), F.hardshrink(x, 1.0))]
    for m, expect in pairs:
        np.testing.assert_array_equal(m(x).numpy(), expect.numpy())


BAD = [
    (lambda: F.elu(tt.tensor([1, 2])), NotImplementedError, "\"elu_cpu\" not implemented for 'Long'"),
    (lambda: F.selu(tt.tensor([True])), NotImplementedError, "\"elu_cpu\" not implemented for 'Bool'"),
    (lambda: F.gelu(tt.tensor([1])), NotImplementedError, "\"GeluKernelImpl\" not implemented for 'Long'"),
    (lambda: F.gelu(tt.ones(2), approximate="foo"), RuntimeError,
     "approximate argument must be either none or tanh."),
    (lambda: F.silu(tt.tensor([1])), NotImplementedError, "\"silu_cpu\" not implemented"),
    (lambda: F.mish(tt.tensor([1])), NotImplementedError, "\"mish_cpu\" not implemented"),
    (lambda: F.hardswish(tt.tensor([1])), NotImplementedError, "\"hardswish_cpu\""),
    (lambda: F.hardsigmoid(tt.tensor([1])), NotImplementedError, "\"hardsigmoid_cpu\""),
    (lambda: F.softplus(tt.tensor([1])), NotImplementedError, "\"softplus_cpu\" not implemented for 'Long'"),
    (lambda: F.logsigmoid(tt.tensor([1])), NotImplementedError, "\"log_sigmoid_cpu\""),
    (lambda: F.hardshrink(tt.tensor([1])), NotImplementedError, "\"hardshrink_cpu\""),
    (lambda: F.softshrink(tt.tensor([1])), NotImplementedError, "\"softshrink_check\""),
    (lambda: F.softshrink(tt.ones(2), -1), RuntimeError,
     r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float, but found -1"),
    (lambda: F.relu6(tt.tensor([True])), RuntimeError, "Bool inputs not supported for hardtanh"),
    (lambda: F.hardtanh(tt.ones(2), 2, 1), ValueError, "min_val cannot be greater than max_val"),
    (lambda: nn.Hardtanh(2, 1), AssertionError, r"max_val \(1\) must be greater than min_val \(2\)"),
    (lambda: F.threshold(tt.tensor([True]), 0.5, 1.0), NotImplementedError, "\"threshold_cpu\""),
    (lambda: F.celu(tt.ones(2), 0.0), RuntimeError, "ZeroDivisionError: alpha cannot be 0 for CELU"),
    (lambda: F.elu(tt.ones(2), "a"), TypeError, "elu\\(\\): argument 'alpha' \\(position 2\\) must be Number, not str"),
    (lambda: F.elu([1.0]), TypeError, "elu\\(\\): argument 'input' \\(position 1\\) must be Tensor, not list"),
    (lambda: F.softsign(tt.tensor([True])), NotImplementedError, "\"abs_cpu\""),
    (lambda: F.tanhshrink(tt.tensor([True])), RuntimeError, "Subtraction, the `-` operator"),
    (lambda: F.prelu(tt.tensor(1.0), tt.tensor([1.0, 2.0])), RuntimeError, "Not allow zero-dim input tensor."),
    (lambda: F.prelu(tt.ones(2, 2), tt.ones(2, 1)), RuntimeError,
     r"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"),
    (lambda: F.prelu(tt.ones(3), tt.ones(3)), RuntimeError,
     "Mismatch of parameter numbers and input channel size. Found parameter numbers = 3 and channel size = 1."),
    (lambda: F.prelu(tt.ones(3), tt.ones(1, dtype=tt.float64)), RuntimeError,
     "prelu: Type promoting not supported. Got Float and Double"),
    (lambda: F.dropout1d(tt.ones(3)), RuntimeError,
     "dropout1d: Expected 2D or 3D input, but received a 1D input. Note that dropout1d"),
    (lambda: F.dropout2d(tt.ones(2, 2), 1.5), ValueError,
     "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.alpha_dropout(tt.ones(2), -0.1), ValueError, "dropout probability has to be"),
    (lambda: nn.Dropout3d(2), ValueError, "dropout probability has to be between 0 and 1, but got 2"),
    (lambda: F.feature_alpha_dropout(tt.ones(3), 0.5, True), RuntimeError,
     "Feature dropout requires at least 2 dimensions in the input"),
]


@pytest.mark.parametrize("call,exc,pattern", BAD)
def test_bad_input_messages(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------------------------------------
# dropout variants


def test_channel_dropout_zeroes_whole_channels_and_scales():
    tt.manual_seed(0)
    for fn, shape in ((F.dropout1d, (4, 6, 5)), (F.dropout1d, (6, 5)), (F.dropout2d, (4, 6, 3, 3)),
                      (F.dropout3d, (4, 6, 2, 2, 2)), (F.dropout3d, (6, 2, 2, 2))):
        x = tt.ones(*shape, dtype=tt.float64, requires_grad=True)
        y = fn(x, 0.4)
        a = y.detach().numpy()
        lead = 1 if len(shape) in (2, 4) and fn is not F.dropout2d else 2
        planes = a.reshape(int(np.prod(shape[:lead])), -1)
        for row in planes:               # each channel all dropped or all kept (scaled)
            assert set(np.unique(row)) <= {0.0, 1 / 0.6}
            assert len(np.unique(row)) == 1
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), a)      # gradient is the mask
    x = tt.ones(2, 3, 4, 4, 4)
    assert F.dropout3d(x, 0.5, training=False) is x
    assert (F.dropout2d(tt.ones(2, 3, 4, 4), 1.0) == 0).all()


def test_channel_dropout_rate():
    tt.manual_seed(1)
    y = F.dropout2d(tt.ones(200, 50, 1, 1), 0.3)
    kept = (y.numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.02


def test_dropout2d_and_3d_rank_warnings():
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d and assuming"):
        F.dropout2d(tt.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d, which is deprecated"):
        F.dropout2d(tt.ones(2, 3))
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is deprecated"):
        F.dropout3d(tt.ones(2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(tt.ones(2, 3, 4, 4))
        F.dropout3d(tt.ones(2, 3, 4, 4))


def test_alpha_dropout_keeps_mean_and_variance():
    tt.manual_seed(2)
    x = tt.randn(200_000, dtype=tt.float64)
    y = F.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    # dropped elements all take one value: a * (-alpha') + b
    a = 1 / math.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    b = 1.7580993408473766 * a * 0.2
    assert np.isclose(y, -1.7580993408473766 * a + b).mean() == pytest.approx(0.2, abs=0.01)
    assert F.alpha_dropout(x, 0.2) is x                      # training defaults to False
    xg = tt.randn(3, 4, 5, dtype=tt.float64, requires_grad=True)
    tt.manual_seed(3)
    y = F.feature_alpha_dropout(xg, 0.5, training=True)
    y.sum().backward()
    g = xg.grad.numpy().reshape(12, 5)
    for row in g:                                            # one draw per (N, C)
        assert len(np.unique(row)) == 1
    assert len(np.unique(g)) == 2
    m = nn.AlphaDropout(0.5)
    m.eval()
    assert m(xg) is xg


def test_dropout_modules_follow_training_flag():
    tt.manual_seed(4)
    for m, x in ((nn.Dropout1d(), tt.ones(2, 3, 4)), (nn.Dropout2d(), tt.ones(2, 3, 4, 4)),
                 (nn.Dropout3d(), tt.ones(2, 3, 2, 2, 2)), (nn.AlphaDropout(), tt.ones(2, 3)),
                 (nn.FeatureAlphaDropout(), tt.ones(2, 3, 4))):
        m.eval()
        assert m(x) is x
        m.train()
        out = m(x)
        assert out.shape == x.shape and not np.array_equal(out.numpy(), x.numpy())


def test_number_arguments_parse_as_pytorch():
    """_args.number_arg: reals, bools and 0-d tensors are Numbers; a 1-element tensor is not."""
    x = tt.tensor([-1.0, 2.0])
    np.testing.assert_allclose(F.elu(x, True).numpy(), F.elu(x, 1.0).numpy())
    np.testing.assert_allclose(F.elu(x, tt.tensor(0.5)).numpy(), F.elu(x, 0.5).numpy())
    np.testing.assert_allclose(F.elu(x, np.float32(0.5)).numpy(), F.elu(x, 0.5).numpy())
    with pytest.raises(TypeError, match=r"elu\(\): argument 'alpha' \(position 2\) must be "
                                        r"Number, not Tensor"):
        F.elu(x, tt.tensor([0.5]))


def _ulps(npt, got, ref):
    """|got - ref| in units in the last place of ref rounded to npt (subnormal spacing at 0)."""
    refr = np.asarray(ref, np.float64).astype(npt)
    spacing = np.maximum(np.spacing(np.abs(refr)).astype(np.float64),
                         np.finfo(npt).smallest_subnormal)
    return np.abs(got.astype(np.float64) - refr.astype(np.float64)) / spacing


@pytest.mark.parametrize("npt", [np.float32, np.float64])
def test_own_erf_within_two_ulps_of_math_erf(npt):
    """The vectorised erf GELU runs on (tinytensor/_kernels/activation.pyx), against math.erf
    on a dense grid through both of its pieces and the clamp, the tails, subnormals and
    the special values; any thread count gives the same bits."""
    from tinytensor._kernels import activation as kernels
    fi = np.finfo(npt)
    x = np.concatenate([
        np.linspace(-7, 7, 200_001), np.geomspace(fi.smallest_subnormal, 1e-3, 3000),
        -np.geomspace(fi.smallest_subnormal, 1e-3, 3000), np.geomspace(1e-3, fi.max / 16, 3000),
        np.nextafter(npt(1), npt(0)) * np.array([1, -1]), [1, -1, 4, -4, 6, -6],
        [0.0, -0.0, fi.tiny, -fi.tiny, fi.max, -fi.max, np.inf, -np.inf]]).astype(npt)
    y = np.empty_like(x)
    kernels.erf(x, y, 1)
    assert np.max(_ulps(npt, y, [math.erf(float(v)) for v in x])) <= 2
    assert np.array_equal(np.signbit(y), np.signbit(x))          # odd, -0.0 included
    assert np.array_equal(y[-2:], [1, -1])
    y2 = np.empty_like(x)
    kernels.erf(x, y2, 2)
    assert np.array_equal(y, y2)
    nan = np.array([np.nan, -np.nan], npt)
    kernels.erf(nan, nan, 1)
    assert np.isnan(nan).all()


@pytest.mark.parametrize("npt", [np.float32, np.float64])
def test_exact_gelu_matches_the_erf_formula_everywhere(npt, threads):
    """Exact GELU forward and backward against PyTorch's formulas evaluated with math.erf in
    float64 (tails, infinities and NaN included), and bitwise equal for 1 and 2 threads."""
    x = np.concatenate([np.linspace(-12, 12, 100_001), [-40, -20, 20, 40, 1e30, -1e30,
                                                        np.inf, -np.inf, np.nan, 0.0, -0.0]])
    x = x.astype(npt)
    xd = x.astype(np.float64)
    with np.errstate(all="ignore"):
        cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in xd])
        ey = xd * cdf
        ed = cdf + xd * np.exp(-0.5 * xd * xd) / math.sqrt(2 * math.pi)
    # 1 + erf(x / sqrt 2) cancels for negative x in the dtype (in PyTorch too): an absolute
    # error of about eps in Phi, so eps |x| in y
    eps = np.finfo(npt).eps
    fin = np.isfinite(xd)
    ys, gs = [], []
    for n in (1, 2):
        threads(n)
        t = tt.tensor(x, requires_grad=True)
        y = F.gelu(t)
        y.backward(tt.ones_like(y))
        ys.append(y.detach().numpy())
        gs.append(t.grad.numpy())
    with np.errstate(all="ignore"):
        assert np.all(np.abs(ys[0][fin] - ey[fin]) <= 4 * eps * (np.abs(ey[fin]) + np.abs(xd[fin])))
        assert np.all(np.abs(gs[0][fin] - ed[fin]) <= 4 * eps * (np.abs(ed[fin]) + 1))
    np.testing.assert_array_equal(ys[0][~fin], ey[~fin].astype(npt))
    np.testing.assert_array_equal(gs[0][~fin], ed[~fin].astype(npt))
    assert np.array_equal(ys[0], ys[1], equal_nan=True)
    assert np.array_equal(gs[0], gs[1], equal_nan=True)


def _np_reference(name, x):
    """(y, dy/dx) by NumPy in float64 (longdouble where float64 would cancel)."""
    xl = x.astype(np.longdouble)
    with np.errstate(all="ignore"):
        sig = 1 / (1 + np.exp(-xl))
        if name == "elu":
            return np.where(xl > 0, xl, 0.7 * np.expm1(xl)), np.where(xl > 0, 1, 0.7 * np.exp(xl))
        if name == "silu":
            return xl * sig, sig * (1 + xl * (1 - sig))
        if name == "mish":
            sp = np.logaddexp(np.longdouble(0), xl)
            t = np.tanh(sp)
            return xl * t, t + xl * sig * (1 - t * t)
        if name == "softplus":
            z = 2 * xl
            y = np.where(z > 6, xl, np.logaddexp(np.longdouble(0), z) / 2)
            return y, np.where(z > 6, 1, 1 / (1 + np.exp(-z)))
        if name == "logsigmoid":
            return -np.logaddexp(np.longdouble(0), -xl), 1 / (1 + np.exp(xl))
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["elu", "silu", "mish", "softplus", "logsigmoid"])
@pytest.mark.parametrize("npt", [np.float32, np.float64])
def test_activation_kernels_accurate_on_a_dense_grid(name, npt, threads):
    """The vectorised kernels' own exp/expm1/log1p (tinytensor/_kernels/activation.pyx) over
    the whole range: a dense grid, under- and overflow, infinities and NaN; the same bits for
    1 and 2 threads."""
    call = {"elu": lambda t: F.elu(t, 0.7), "silu": F.silu, "mish": F.mish,
            "softplus": lambda t: F.softplus(t, 2.0, 6.0), "logsigmoid": F.logsigmoid}[name]
    x = np.concatenate([np.linspace(-120, 120, 60_001), np.geomspace(1e-30, 1e3, 2000),
                        -np.geomspace(1e-30, 1e3, 2000), [1e30, -1e30, 0.0, -0.0]]).astype(npt)
    runs = []
    for n in (1, 2):
        threads(n)
        t = tt.tensor(x, requires_grad=True)
        y = call(t)
        y.backward(tt.ones_like(y))
        runs.append((y.detach().numpy(), t.grad.numpy()))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))
    ey, ed = _np_reference(name, x)
    eps = np.finfo(npt).eps
    # within a few ulps, but silu' and mish' (sigmoid (1 + x (1 - sigmoid)) and the like, in
    # PyTorch too) cancel near their zero at x = -1.2 and carry x times the rounding of
    # sigmoid: for them the error is relative to 1 + |x|; exp(-x)
    # overflowing at the very edge may flush a result below 1e-30 (float64 1e-290) to 0
    floor = 1e-30 if npt is np.float32 else 1e-290
    terms = 1 + np.abs(x.astype(np.float64)) if name in ("silu", "mish") else 0
    for got, want, cancel in zip(runs[0], (ey, ed), (0, terms)):
        want = want.astype(np.float64)
        err = np.abs(got.astype(np.float64) - want)
        ok = err <= 8 * eps * (np.abs(want) + cancel) + floor
        assert np.all(ok), (name, x[~ok][:5], got[~ok][:5], want[~ok][:5])
    special = np.array([np.inf, -np.inf, np.nan], npt)
    got = call(tt.tensor(special)).numpy()
    with np.errstate(all="ignore"):
        want = _np_reference(name, special)[0].astype(npt)
    np.testing.assert_array_equal(got, want)
