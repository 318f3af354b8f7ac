"""Every layer forward and backward against float64 references; gradchecks."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor.autograd import gradcheck

import reference_nn as ref

RNG = np.random.default_rng(1234)


def t64(a, grad=True):
    return tt.tensor(np.asarray(a, np.float64), requires_grad=grad)


def npy(t):
    return t.detach().numpy()


# ---------------------------------------------------------------- linear

@given(n=st.integers(1, 4), k=st.integers(1, 5), o=st.integers(1, 4), bias=st.booleans())
def test_linear_vs_reference(n, k, o, bias):
    rng = np.random.default_rng(n * 100 + k * 10 + o)
    x, w, b = rng.standard_normal((n, k)), rng.standard_normal((o, k)), rng.standard_normal(o)
    xt, wt = t64(x), t64(w)
    bt = t64(b) if bias else None
    y = F.linear(xt, wt, bt)
    assert np.allclose(npy(y), ref.linear(x, w, b if bias else None), rtol=1e-9, atol=1e-9)
    g = rng.standard_normal((n, o))
    y.backward(tt.tensor(g))
    assert np.allclose(npy(xt.grad), g @ w, rtol=1e-9, atol=1e-9)
    assert np.allclose(npy(wt.grad), g.T @ x, rtol=1e-9, atol=1e-9)
    if bias:
        assert np.allclose(npy(bt.grad), g.sum(0), rtol=1e-9, atol=1e-9)


def test_linear_gradcheck_and_ranks():
    x, w, b = t64(RNG.standard_normal((2, 3, 4))), t64(RNG.standard_normal((5, 4))), \
        t64(RNG.standard_normal(5))
    assert gradcheck(F.linear, (x, w, b))
    assert F.linear(x, w).shape == (2, 3, 5)
    assert F.linear(t64(np.ones(4)), w, b).shape == (5,)
    with pytest.raises(RuntimeError, match=r"^mat1 and mat2 shapes cannot be multiplied "
                                           r"\(4x3 and 5x2\)$"):
        F.linear(tt.randn(4, 3), tt.randn(2, 5))
    lin = nn.Linear(4, 3)
    assert lin(tt.randn(7, 4)).shape == (7, 3)


def test_linear_module_float32_matches_numpy():
    lin = nn.Linear(6, 3)
    x = RNG.standard_normal((5, 6)).astype(np.float32)
    y = lin(tt.tensor(x))
    assert y.dtype == tt.float32
    expected = x.astype(np.float64) @ npy(lin.weight).T.astype(np.float64) + npy(lin.bias)
    assert np.allclose(npy(y), expected, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- activations

def test_relu_and_leaky_relu():
    x = t64([[-2.0, -0.0, 0.0, 1.5], [3.0, -1.0, 0.5, -0.25]])
    y = F.relu(x)
    assert np.array_equal(npy(y), np.maximum(npy(x), 0))
    y.sum().backward()
    assert np.array_equal(npy(x.grad), (npy(x) > 0).astype(float))    # 0 grad at 0
    x2 = t64(RNG.standard_normal((3, 4)))
    y2 = F.leaky_relu(x2, 0.2)
    a = npy(x2)
    assert np.allclose(npy(y2), np.where(a > 0, a, 0.2 * a))
    assert gradcheck(lambda t: F.leaky_relu(t, 0.2), (x2,))
    assert nn.LeakyReLU(0.1)(tt.tensor([-1.0])).item() == pytest.approx(-0.1)
    assert np.isnan(F.relu(tt.tensor([float("nan")])).item())


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64])
def test_relu_backward_passes_nan_outputs_and_never_makes_nan_of_inf(dtype):
    # PyTorch 2.13 (threshold_backward: 0 where y <= 0, else the gradient):
    # x = [nan, 0, -1, 2], grad = [1, inf, inf, 3] -> x.grad = [1, 0, 0, 3]
    x = tt.tensor([float("nan"), 0.0, -1.0, 2.0], dtype=dtype, requires_grad=True)
    F.relu(x).backward(tt.tensor([1.0, float("inf"), float("inf"), 3.0], dtype=dtype))
    assert x.grad.dtype == dtype and x.grad.tolist() == [1.0, 0.0, 0.0, 3.0]
    big = tt.tensor(RNG.standard_normal((64, 300)), dtype=dtype, requires_grad=True)
    g = tt.tensor(RNG.standard_normal((300, 64)), dtype=dtype).t()    # a strided gradient
    F.relu(big).backward(g)
    assert np.array_equal(npy(big.grad), np.where(npy(big) > 0, npy(g), 0))


def test_relu_inplace_and_module():
    x = tt.tensor([-1.0, 2.0])
    out = nn.ReLU(inplace=True)(x)
    assert out is x and x.tolist() == [0.0, 2.0]


def test_sigmoid_tanh_modules():
    a = RNG.standard_normal((3, 3))
    x = t64(a)
    assert np.allclose(npy(nn.Sigmoid()(x)), 1 / (1 + np.exp(-a)))
    assert np.allclose(npy(nn.Tanh()(x)), np.tanh(a))
    assert np.allclose(npy(F.sigmoid(x)), 1 / (1 + np.exp(-a)))
    assert np.allclose(npy(F.tanh(x)), np.tanh(a))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax_vs_reference(dim):
    a = RNG.standard_normal((4, 5)) * 3
    x = t64(a)
    moved = np.moveaxis(a, dim, -1)
    expect_sm = np.moveaxis(ref.softmax_rows(moved.reshape(-1, moved.shape[-1]))
                            .reshape(moved.shape), -1, dim)
    expect_lsm = np.moveaxis(ref.log_softmax_rows(moved.reshape(-1, moved.shape[-1]))
                             .reshape(moved.shape), -1, dim)
    assert np.allclose(npy(F.softmax(x, dim)), expect_sm, rtol=1e-9, atol=1e-12)
    assert np.allclose(npy(F.log_softmax(x, dim)), expect_lsm, rtol=1e-9, atol=1e-12)
    assert gradcheck(lambda t: F.softmax(t, dim), (t64(a[:3, :4]),))
    assert gradcheck(lambda t: F.log_softmax(t, dim), (t64(a[:3, :4]),))


def test_softmax_stability_and_modules():
    x = tt.tensor([[1000.0, 0.0], [-1000.0, 1000.0]])
    assert np.allclose(npy(F.softmax(x, 1)), [[1, 0], [0, 1]])
    assert np.allclose(npy(F.log_softmax(x, 1)), [[0, -1000], [-2000, 0]])
    assert np.allclose(npy(nn.Softmax(dim=1)(x)).sum(1), 1)
    assert nn.LogSoftmax(dim=1)(x).shape == (2, 2)
    x3 = t64(RNG.standard_normal((2, 3, 2, 2)))
    assert gradcheck(lambda t: F.log_softmax(t, 1), (x3,))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        y = F.softmax(tt.randn(2, 3))
    assert "Implicit dimension choice for softmax" in str(rec[0].message)
    assert np.allclose(npy(y).sum(1), 1)
    with pytest.raises(NotImplementedError, match="softmax_lastdim_kernel_impl.*Long"):
        F.softmax(tt.tensor([[1, 2]]), 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.softmax(tt.randn(4, 3), 2)


# ---------------------------------------------------------------- dropout

def test_dropout():
    tt.manual_seed(0)
    x = tt.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    a = npy(y)
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.01
    assert np.allclose(a[kept], 1 / 0.7)
    y.sum().backward()
    assert np.array_equal(npy(x.grad) != 0, kept)
    assert F.dropout(x, 0.3, training=False) is x
    assert (npy(F.dropout(x, 1.0)) == 0).all()
    tt.manual_seed(3)
    m1 = npy(F.dropout(tt.ones(50), 0.5))
    tt.manual_seed(3)
    assert np.array_equal(m1, npy(F.dropout(tt.ones(50), 0.5)))
    d = nn.Dropout(0.5)
    d.eval()
    z = tt.randn(3)
    assert d(z) is z
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="but got -0.1"):
        F.dropout(z, -0.1)


# ---------------------------------------------------------------- conv modules

def _conv2d_ref(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(n):
        for j in range(o):
            for a in range(oh):
                for bb in range(ow):
                    y[i, j, a, bb] = (xp[i, :, a * stride:a * stride + kh,
                                         bb * stride:bb * stride + kw] * w[j]).sum() + b[j]
    return y


def test_conv2d_module_vs_reference():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    x = RNG.standard_normal((2, 2, 6, 5))
    y = conv(tt.tensor(x))
    expect = _conv2d_ref(x, npy(conv.weight), npy(conv.bias), 2, 1)
    assert np.allclose(npy(y), expect, rtol=1e-9, atol=1e-9)
    assert conv(tt.tensor(x[0])).shape == (3, 3, 3)        # unbatched


@pytest.mark.parametrize("mode,np_mode", [("zeros", "constant"), ("reflect", "reflect"),
                                          ("replicate", "edge"), ("circular", "wrap")])
def test_conv_padding_modes(mode, np_mode):
    conv = nn.Conv2d(1, 1, 3, padding=(1, 2), padding_mode=mode).double()
    x = RNG.standard_normal((1, 1, 5, 6))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    expect = _conv2d_ref(xp, npy(conv.weight), npy(conv.bias), 1, 0)
    assert np.allclose(npy(conv(tt.tensor(x))), expect, rtol=1e-9, atol=1e-9)


def test_conv_same_and_1d_3d():
    conv = nn.Conv2d(1, 1, (2, 4), padding="same", padding_mode="reflect").double()
    x = RNG.standard_normal((1, 1, 5, 6))
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 2)), mode="reflect")
    assert np.allclose(npy(conv(tt.tensor(x))), _conv2d_ref(xp, npy(conv.weight),
                                                            npy(conv.bias), 1, 0))
    c1 = nn.Conv1d(2, 4, 3, padding=1)
    assert c1(tt.randn(3, 2, 7)).shape == (3, 4, 7)
    c3 = nn.Conv3d(2, 4, 3)
    assert c3(tt.randn(1, 2, 4, 5, 6)).shape == (1, 4, 2, 3, 4)
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than "
                                           "once."):
        nn.Conv2d(1, 1, 3, padding=5, padding_mode="circular")(tt.randn(1, 1, 3, 3))
    assert nn.Conv2d(1, 1, 3, padding=3, padding_mode="replicate")(
        tt.randn(1, 1, 2, 2)).shape == (1, 1, 6, 6)


def test_conv_module_backward_reaches_parameters():
    conv = nn.Conv2d(1, 2, 2).double()
    x = t64(RNG.standard_normal((1, 1, 3, 3)))
    assert gradcheck(lambda a, w, b: conv(a), (x, conv.weight, conv.bias))
    conv(x).sum().backward()
    assert conv.weight.grad.shape == conv.weight.shape
    assert np.allclose(npy(conv.bias.grad), 4.0)


# ---------------------------------------------------------------- pooling modules

def test_pool_modules():
    x = tt.arange(1, 26, dtype=tt.float32).view(1, 1, 5, 5)
    assert npy(nn.MaxPool2d(2)(x)).reshape(-1).tolist() == [7, 9, 17, 19]
    assert npy(nn.MaxPool2d(2, ceil_mode=True)(x)).reshape(-1).tolist() == \
        [7, 9, 10, 17, 19, 20, 22, 24, 25]
    out, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(x)
    assert idx.tolist() == [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]]
    y = nn.MaxUnpool2d(3, 2, 1)(out, idx, output_size=(5, 5))
    assert y.shape == (1, 1, 5, 5)
    assert np.allclose(npy(nn.AvgPool2d(2)(x)).reshape(-1), [4, 6, 14, 16])
    assert nn.AvgPool1d(2)(tt.ones(1, 1, 5)).shape == (1, 1, 2)
    assert nn.AvgPool3d(2)(tt.ones(1, 1, 4, 4, 4)).shape == (1, 1, 2, 2, 2)
    assert nn.MaxPool1d(2)(tt.ones(1, 1, 5)).shape == (1, 1, 2)
    assert nn.MaxPool3d(2)(tt.ones(1, 1, 4, 4, 4)).shape == (1, 1, 2, 2, 2)
    assert nn.AdaptiveAvgPool2d((None, 3))(tt.randn(1, 1, 5, 7)).shape == (1, 1, 5, 3)
    assert nn.AdaptiveMaxPool2d(2)(tt.randn(1, 1, 5, 7)).shape == (1, 1, 2, 2)
    v, i = nn.AdaptiveMaxPool2d(2, return_indices=True)(tt.randn(1, 1, 4, 4))
    assert i.dtype == tt.int64


def test_flatten_identity():
    x = tt.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Identity(3, foo=1)(x) is x


# ---------------------------------------------------------------- batchnorm

def test_batchnorm2d_train_vs_reference_and_running_stats():
    bn = nn.BatchNorm2d(3).double()
    with tt.no_grad():
        bn.weight.copy_(tt.tensor([1.0, 2.0, 0.5], dtype=tt.float64))
        bn.bias.copy_(tt.tensor([0.0, -1.0, 0.3], dtype=tt.float64))
    x = RNG.standard_normal((4, 3, 2, 3)) * 2 + 1
    y = bn(tt.tensor(x))
    expect, means, variances = ref.batch_norm_train(x, [1.0, 2.0, 0.5], [0.0, -1.0, 0.3], 1e-5)
    assert np.allclose(npy(y), expect, rtol=1e-9, atol=1e-9)
    m = 4 * 2 * 3
    assert np.allclose(npy(bn.running_mean), 0.1 * means)
    assert np.allclose(npy(bn.running_var), 0.9 + 0.1 * variances * m / (m - 1))
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y2 = bn(tt.tensor(x))
    rm, rv = npy(bn.running_mean), npy(bn.running_var)
    expect2 = (x - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5) \
        * np.array([1, 2, 0.5])[None, :, None, None] + np.array([0, -1, 0.3])[None, :, None, None]
    assert np.allclose(npy(y2), expect2, rtol=1e-9, atol=1e-9)
    assert bn.num_batches_tracked.item() == 1


def test_batchnorm_gradcheck_train_and_eval():
    bn = nn.BatchNorm2d(2).double()
    with tt.no_grad():
        bn.weight.copy_(tt.tensor([1.5, -0.7], dtype=tt.float64))
    x = t64(RNG.standard_normal((3, 2, 2, 2)))

    def f(inp, w, b):
        return F.batch_norm(inp, None, None, w, b, training=True)
    assert gradcheck(f, (x, bn.weight, bn.bias))
    rm = tt.tensor([0.2, -0.1], dtype=tt.float64)
    rv = tt.tensor([1.5, 0.5], dtype=tt.float64)

    def g(inp, w, b):
        return F.batch_norm(inp, rm, rv, w, b, training=False)
    assert gradcheck(g, (x, bn.weight, bn.bias))


def test_batchnorm_options_and_errors():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None
    assert list(bn.state_dict()) == []
    y = bn(tt.randn(4, 2, 3, 3))
    assert abs(float(y.mean())) < 1e-5
    bn.eval()
    bn(tt.randn(4, 2, 3, 3))                # no running stats: batch stats in eval too
    cma = nn.BatchNorm2d(1, momentum=None)
    xs = [RNG.standard_normal((2, 1, 2, 2)) for _ in range(3)]
    for x in xs:
        cma(tt.tensor(x.astype(np.float32)))
    assert np.allclose(npy(cma.running_mean), np.mean([x.mean() for x in xs]), atol=1e-6)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(tt.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(tt.randn(1, 3, 1, 1))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        nn.BatchNorm2d(3)(tt.randn(2, 4, 2, 2))
    assert nn.BatchNorm1d(3)(tt.randn(4, 3)).shape == (4, 3)


# ---------------------------------------------------------------- a whole network

def test_lenet_forward_backward_float64_gradcheck_small():
    tt.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2, 3)).double()
    x = t64(RNG.standard_normal((2, 1, 4, 4)))
    t = tt.tensor([0, 2])

    def loss(inp, w):
        return F.cross_entropy(net(inp), t)
    assert gradcheck(loss, (x, net[0].weight))
    out = F.cross_entropy(net(x), t)
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
