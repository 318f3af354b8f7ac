"""tinytensor.onnx.export of the transposed-convolution, normalisation and upsampling layers:
each in a small model, exported, checked by onnx.checker and run in ONNX Runtime at two batch
sizes (a dynamic batch axis), compared with tinytensor's outputs (float32 tolerance)."""
import importlib.util
import io
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402
import tinytensor.onnx  # noqa: E402,F401
from tinytensor import nn  # noqa: E402

from test_onnx import Fn, check, ops  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _randomise(model, seed=0):
    """Non-trivial affine parameters and running statistics in every norm layer."""
    rng = np.random.default_rng(seed)
    with tt.no_grad():
        for m in model.modules():
            for name in ("weight", "bias"):
                p = getattr(m, name, None)
                if p is not None and isinstance(m, (nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm1d,
                                                    nn.InstanceNorm2d, nn.InstanceNorm3d,
                                                    nn.BatchNorm2d)):
                    p.copy_(tt.tensor(rng.normal(size=tuple(p.shape)).astype(np.float32)))
            for name, lo in (("running_mean", -1.0), ("running_var", 0.5)):
                b = getattr(m, name, None)
                if b is not None:
                    b.copy_(tt.tensor(rng.uniform(lo, 2, size=tuple(b.shape)).astype(np.float32)))
    return model


# ---------------------------------------------------------------------- transposed convolution

@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1), (2, 4, 7)),
    (lambda: nn.ConvTranspose1d(4, 4, 2, stride=3, dilation=2, groups=4, bias=False), (2, 4, 5)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                                dilation=2), (2, 4, 5, 6)),
    (lambda: nn.ConvTranspose2d(4, 6, (3, 2), stride=(3, 2), padding=(0, 1),
                                output_padding=(2, 0), bias=False), (2, 4, 5, 6)),
    (lambda: nn.ConvTranspose3d(2, 4, 3, stride=2, padding=1, output_padding=1), (2, 2, 3, 4, 3)),
])
def test_conv_transpose(layer, shape):
    tt.manual_seed(0)
    proto = check(layer(), tt.randn(*shape))
    assert ops(proto) == ["ConvTranspose"]


def test_conv_transpose_output_padding_beyond_padding_and_unbatched():
    # output_padding > padding: trailing positions no window reaches hold the bias
    tt.manual_seed(1)
    check(nn.ConvTranspose2d(3, 2, 2, stride=3, padding=0, output_padding=2), tt.randn(2, 3, 3, 4))
    m = nn.ConvTranspose1d(3, 2, 3, stride=2)
    check(m, tt.randn(3, 5), dynamic=False)


# ---------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("layer, shape, expect", [
    (lambda: nn.GroupNorm(3, 6), (2, 6, 5, 4), "InstanceNormalization"),
    (lambda: nn.GroupNorm(2, 6, affine=False), (2, 6, 5), "InstanceNormalization"),
    (lambda: nn.GroupNorm(4, 8), (2, 8), "InstanceNormalization"),
    (lambda: nn.GroupNorm(1, 6), (2, 6, 1, 1), "LayerNormalization"),
    (lambda: nn.GroupNorm(6, 6), (2, 6, 4, 3), "InstanceNormalization"),
    (lambda: nn.LayerNorm(8), (2, 5, 8), "LayerNormalization"),
    (lambda: nn.LayerNorm((5, 8)), (2, 5, 8), "LayerNormalization"),
    (lambda: nn.LayerNorm((5, 8), elementwise_affine=False), (2, 5, 8), "LayerNormalization"),
    (lambda: nn.LayerNorm(8, bias=False), (2, 8), "LayerNormalization"),
    (lambda: nn.InstanceNorm1d(4), (2, 4, 9), "InstanceNormalization"),
    (lambda: nn.InstanceNorm2d(4, affine=True), (2, 4, 5, 6), "InstanceNormalization"),
    (lambda: nn.InstanceNorm3d(3, affine=True), (2, 3, 4, 5, 3), "InstanceNormalization"),
    (lambda: nn.InstanceNorm2d(3, track_running_stats=True), (2, 3, 4, 5), "BatchNormalization"),
    (lambda: nn.InstanceNorm3d(3, affine=True, track_running_stats=True), (2, 3, 3, 4, 2),
     "BatchNormalization"),
])
def test_norm_layers(layer, shape, expect):
    tt.manual_seed(2)
    m = _randomise(layer())
    proto = check(m, tt.randn(*shape) * 3 + 1)
    assert expect in ops(proto)


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.LayerNorm((5, 8)), (2, 5, 8)),
    (lambda: nn.LayerNorm(8, elementwise_affine=False), (2, 3, 8)),
    (lambda: nn.GroupNorm(1, 6), (2, 6, 1, 1)),
])
def test_layer_norm_below_opset_17_is_decomposed(layer, shape):
    tt.manual_seed(3)
    proto = check(_randomise(layer()), tt.randn(*shape), opset_version=13)
    assert "LayerNormalization" not in ops(proto)


@pytest.mark.parametrize("size, shape", [(3, (2, 6, 5, 4)), (2, (2, 6, 5)), (5, (2, 7, 3, 2, 2))])
def test_local_response_norm(size, shape):
    # built from ops that convert (square, pad, average pool over channels, pow, div)
    tt.manual_seed(4)
    check(nn.LocalResponseNorm(size, alpha=0.1, beta=0.6, k=1.5), tt.randn(*shape) * 2)


# ---------------------------------------------------------------------- upsampling

@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("nearest-exact", None),
                                                  ("bilinear", True), ("bilinear", False)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(scale_factor=3), dict(size=(7, 5)),
                                dict(size=(3, 2)), dict(scale_factor=(2.5, 1.5))])
def test_interpolate_is_resize(mode, align_corners, kw):
    tt.manual_seed(5)
    m = Fn(lambda s, x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw))
    proto = check(m, tt.randn(2, 3, 4, 6))
    assert ops(proto)[-1] == "Resize"


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("nearest-exact", None),
                                                  ("linear", True), ("linear", False)])
def test_interpolate_1d_and_scale_not_in_over_out(mode, align_corners):
    # 1 / 2.5 is not 3 / 7: no Resize from the sizes reproduces PyTorch's plan, so the recorded
    # indices (and weights) are gathered
    tt.manual_seed(6)
    for kw, resize in ((dict(scale_factor=2), True), (dict(size=9), True),
                       (dict(scale_factor=2.5), None)):
        m = Fn(lambda s, x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw))
        proto = check(m, tt.randn(2, 3, 3))
        if resize:
            assert "Resize" in ops(proto)
        elif mode == "linear" and not align_corners:       # (align_corners ignores scale)
            assert "Gather" in ops(proto) and "Resize" not in ops(proto)


def test_interpolate_over_a_dynamic_spatial_axis_is_refused():
    m = Fn(lambda s, x: F.interpolate(x, scale_factor=2))
    with pytest.raises(tt.onnx.UnsupportedOperatorError, match="UpsampleFunction.*dynamic spatial"):
        tt.onnx.export(m, tt.randn(2, 3, 4, 4), io.BytesIO(), input_names=["x"],
                       dynamic_axes={"x": [0, 2]})


def test_interpolate_3d_and_upsample_modules():
    tt.manual_seed(7)
    check(Fn(lambda s, x: F.interpolate(x, size=(3, 5, 7), mode="trilinear",
                                        align_corners=True)), tt.randn(2, 3, 2, 3, 4))
    check(nn.Upsample(scale_factor=2), tt.randn(2, 2, 2, 3, 2))
    check(nn.Upsample(scale_factor=2, mode="bilinear"), tt.randn(2, 2, 3, 3))
    check(nn.UpsamplingBilinear2d(size=(5, 4)), tt.randn(2, 2, 3, 3))


def test_pixel_shuffle_and_unshuffle():
    tt.manual_seed(8)
    check(nn.PixelShuffle(2), tt.randn(2, 8, 3, 4))
    check(nn.PixelUnshuffle(2), tt.randn(2, 2, 4, 6))
    check(nn.Sequential(nn.PixelUnshuffle(3), nn.PixelShuffle(3)), tt.randn(2, 1, 6, 9))


# ---------------------------------------------------------------------- a whole model

def test_autoencoder_from_example():
    spec = importlib.util.spec_from_file_location(
        "train_autoencoder", os.path.join(ROOT, "examples", "train_autoencoder.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tt.manual_seed(9)
    net = _randomise(mod.AutoEncoder())
    proto = check(net, tt.rand(2, 1, 28, 28), batches=(1, 5))
    assert ops(proto).count("ConvTranspose") == 3
    assert ops(proto).count("BatchNormalization") == 2


def test_upsampling_decoder_with_norms():
    tt.manual_seed(10)
    net = _randomise(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(8, 8, 3, padding=1), nn.InstanceNorm2d(8, affine=True), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(8, 4, 1), nn.PixelShuffle(2),
        nn.LayerNorm(32)))
    check(net, tt.randn(2, 3, 4, 4), batches=(1, 3))


# ---------------------------------------------------------------------- activations

@pytest.mark.parametrize("layer", [
    lambda: nn.ReLU6(), lambda: nn.Hardtanh(-0.5, 2.0), lambda: nn.Threshold(0.3, -2.0),
    lambda: nn.ELU(), lambda: nn.ELU(0.5), lambda: nn.CELU(0.7), lambda: nn.SELU(),
    lambda: nn.GELU(), lambda: nn.GELU(approximate="tanh"), lambda: nn.SiLU(), lambda: nn.Mish(),
    lambda: nn.Hardswish(), lambda: nn.Hardsigmoid(), lambda: nn.Softplus(),
    lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: nn.Softsign(), lambda: nn.LogSigmoid(),
    lambda: nn.Tanhshrink(), lambda: nn.Softshrink(0.7), lambda: nn.Hardshrink(0.7),
    lambda: nn.PReLU(), lambda: nn.PReLU(4, init=0.1),
])
@pytest.mark.parametrize("opset", [13, 17, 20])
def test_activations(layer, opset):
    tt.manual_seed(11)
    m = layer()
    if isinstance(m, nn.PReLU):
        with tt.no_grad():
            m.weight.copy_(tt.rand(*m.weight.shape) * 0.5 - 0.25)
    x = tt.randn(2, 4, 3, 5) * 5
    x[0, 0, 0, :] = tt.tensor([-120.0, -40.0, 0.0, 40.0, 120.0])   # far tails: no overflow
    check(m, x, opset_version=opset)


def test_inplace_activations_in_a_model():
    tt.manual_seed(12)
    net = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU6(inplace=True), nn.Conv2d(4, 4, 1),
                        nn.Hardswish(inplace=True), nn.Conv2d(4, 4, 1), nn.ELU(inplace=True),
                        nn.Conv2d(4, 4, 1), nn.SiLU(inplace=True), nn.Flatten(),
                        nn.Linear(16, 3))
    check(net, tt.randn(2, 2, 4, 4))


# ---------------------------------------------------------------------- 3-D adaptive and LP pools

@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.AdaptiveAvgPool3d((2, 1, 3)), (2, 3, 4, 5, 6)),
    (lambda: nn.AdaptiveMaxPool3d(2), (2, 3, 4, 6, 2)),
    (lambda: nn.AdaptiveAvgPool3d(1), (2, 3, 4, 5, 6)),
    (lambda: nn.LPPool2d(2, 2), (2, 3, 6, 5)),
    (lambda: nn.LPPool1d(3, 3, stride=2), (2, 3, 9)),
])
def test_adaptive_3d_and_lp_pools(layer, shape):
    tt.manual_seed(13)
    x = tt.randn(*shape)
    check(layer(), x.abs() + 0.1 if "LP" in type(layer()).__name__ else x)


def test_float64_norms_and_interpolate():
    # ONNX Runtime has no float64 InstanceNormalization or Resize (nor ConvTranspose): float64
    # norms are written as reductions, float64 interpolation as Gathers
    tt.manual_seed(14)
    for m, shape in ((nn.LayerNorm(4), (2, 3, 4)),
                     (nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 4)),
                     (nn.GroupNorm(3, 6), (2, 6, 4, 4)),
                     (nn.Upsample(scale_factor=2), (2, 3, 2, 3)),
                     (nn.Upsample(size=5, mode="bilinear"), (2, 3, 2, 3))):
        proto = check(_randomise(m).double(), tt.randn(*shape, dtype=tt.float64))
        assert not {"InstanceNormalization", "Resize"} & set(ops(proto))
    check(nn.LayerNorm(4).double(), tt.randn(2, 4, dtype=tt.float64), opset_version=13)
