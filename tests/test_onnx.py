"""tinytensor.onnx.export: each model exported, checked by onnx.checker and run in ONNX Runtime
at two batch sizes (a dynamic batch axis) gives tinytensor's outputs (float32 tolerance)."""
import importlib.util
import io
import os
import threading

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tinytensor as tt  # noqa: E402
import tinytensor.nn.functional as F  # noqa: E402
import tinytensor.onnx  # noqa: E402,F401
from tinytensor import nn  # noqa: E402
from tinytensor.onnx import UnsupportedOperatorError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Fn(nn.Module):
    """A module running `fn(self, *inputs)`: small test models without a class each."""

    def __init__(self, fn, **children):
        super().__init__()
        self.fn = fn
        for name, m in children.items():
            setattr(self, name, m)

    def forward(self, *xs):
        return self.fn(self, *xs)


def export_bytes(model, inputs, dynamic=True, **kw):
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    names = [f"in{i}" for i in range(len(inputs))]
    axes = {n: [0] for n in names} if dynamic else None
    buf = io.BytesIO()
    tt.onnx.export(model, inputs, buf, input_names=names, dynamic_axes=axes, **kw)
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return buf.getvalue(), names


def check(model, *inputs, batches=(3,), dynamic=True, atol=1e-5, rtol=1e-4, **kw):
    """Export on `inputs`; run the file in ONNX Runtime on them and on inputs with other batch
    sizes (fresh random data of the same shape otherwise); compare with the model's outputs."""
    model.eval()
    data, names = export_bytes(model, inputs, dynamic, **kw)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    runs = [inputs] + ([tuple(tt.randn((b,) + tuple(x.shape[1:]), dtype=x.dtype) for x in inputs)
                        for b in batches] if dynamic else [])
    for xs in runs:
        got = sess.run(None, {n: x.numpy().copy() for n, x in zip(names, xs)})
        with tt.no_grad():
            want = model(*[x.clone() for x in xs])        # (it may write to its inputs)
        want = want if isinstance(want, (tuple, list)) else (want,)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape)
            np.testing.assert_allclose(g, w.numpy(), rtol=rtol, atol=atol)
    return onnx.load_from_string(data)


def ops(proto):
    return [n.op_type for n in proto.graph.node]


# ---------------------------------------------------------------------- whole models

def test_lenet_from_example():
    spec = importlib.util.spec_from_file_location("train_lenet",
                                                  os.path.join(ROOT, "examples", "train_lenet.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tt.manual_seed(0)
    net = mod.Net()
    proto = check(net, tt.randn(2, 1, 28, 28), batches=(1, 5))
    assert ops(proto) == ["Conv", "MaxPool", "Relu", "Conv", "MaxPool", "Relu", "Reshape",
                          "Gemm", "Relu", "Gemm"]
    # parameters are named initializers; the batch axis is symbolic in and out
    assert {"conv1.weight", "fc2.bias"} <= {t.name for t in proto.graph.initializer}
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                  nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.down(x)
        return self.relu(out)


def _trained_bn(model):
    """Non-trivial running statistics and affine parameters in every BatchNorm."""
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            c = m.num_features
            m.running_mean.copy_(tt.tensor(rng.normal(size=c).astype(np.float32)))
            m.running_var.copy_(tt.tensor(rng.uniform(0.5, 2, size=c).astype(np.float32)))
            if m.weight is not None:
                with tt.no_grad():
                    m.weight.copy_(tt.tensor(rng.normal(size=c).astype(np.float32)))
                    m.bias.copy_(tt.tensor(rng.normal(size=c).astype(np.float32)))
    return model


def test_resnet_block_with_batchnorm_inplace_relu_and_residual():
    tt.manual_seed(1)
    net = _trained_bn(nn.Sequential(BasicBlock(3, 8, 2), BasicBlock(8, 8, 1),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)))
    proto = check(net, tt.randn(2, 3, 16, 16), batches=(1, 4))
    assert ops(proto).count("BatchNormalization") == 6
    assert "GlobalAveragePool" in ops(proto) and "Add" in ops(proto)


def test_batchnorm1d_and_3d():
    tt.manual_seed(11)
    check(_trained_bn(nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))), tt.randn(3, 4))
    check(_trained_bn(nn.BatchNorm1d(3)), tt.randn(2, 3, 5))
    check(_trained_bn(nn.Sequential(nn.Conv3d(2, 3, 1), nn.BatchNorm3d(3, affine=False))),
          tt.randn(2, 2, 3, 4, 2))


def test_training_mode_restored_and_dropout_is_identity():
    tt.manual_seed(2)
    net = nn.Sequential(nn.Linear(6, 5), nn.Dropout(0.5), nn.ReLU(), nn.Linear(5, 2))
    net.train()
    buf = io.BytesIO()
    tt.onnx.export(net, tt.randn(4, 6), buf)
    assert net.training and all(m.training for m in net.modules())
    assert "Dropout" not in ops(onnx.load_from_string(buf.getvalue()))
    check(net, tt.randn(4, 6))


# ---------------------------------------------------------------------- convolutions

@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1),
    dict(padding=2, dilation=2, groups=2),
    dict(padding="same", dilation=2),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=1, padding_mode="replicate"),
    dict(padding=2, padding_mode="circular", stride=2),
])
def test_conv1d(kw):
    tt.manual_seed(3)
    check(nn.Conv1d(4, 6, 3, **kw), tt.randn(2, 4, 11))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kw", [
    dict(stride=(2, 1), padding=(1, 2)),
    dict(groups=6, padding=1),                     # depthwise
    dict(padding=(1, 2), padding_mode="reflect"),
    dict(padding=1, padding_mode="replicate", bias=False),
    dict(padding=(2, 1), padding_mode="circular", dilation=(1, 2)),
    dict(padding="same"),
])
def test_conv2d(kw):
    tt.manual_seed(4)
    cin = 6
    check(nn.Conv2d(cin, 6, (3, 2) if kw.get("padding") != "same" else 4, **kw),
          tt.randn(2, cin, 9, 8))


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=1, dilation=(1, 2, 1)),
                                dict(padding=1, padding_mode="circular", groups=2)])
def test_conv3d(kw):
    tt.manual_seed(5)
    check(nn.Conv3d(2, 4, 3, **kw), tt.randn(2, 2, 6, 7, 5))


def test_functional_pad_modes():
    tt.manual_seed(6)
    net = Fn(lambda s, x: F.pad(F.pad(F.pad(x, (1, 2, 0, 1), "reflect"), (2, 1, 1, 1),
                                      "replicate"), (1, 1, 2, 0), "circular"))
    check(net, tt.randn(2, 3, 5, 6))
    check(Fn(lambda s, x: F.pad(x, (2, 1), "reflect") + F.pad(x, (1, 2), "circular")
             - F.pad(x, (3, 0), "replicate")), tt.randn(2, 3, 7))
    check(Fn(lambda s, x: F.pad(x, (1, 2, 3, 0), value=-1.5)), tt.randn(2, 3, 5, 6))


# ---------------------------------------------------------------------- pools

@pytest.mark.parametrize("layer, shape", [
    (nn.MaxPool2d(3, 2, ceil_mode=True), (2, 3, 10, 9)),
    (nn.MaxPool2d((3, 2), (2, 1), padding=1, dilation=(1, 2)), (2, 3, 9, 9)),
    (nn.MaxPool2d(2, ceil_mode=True, padding=1), (2, 3, 7, 8)),
    (nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True), (2, 3, 10, 9)),
    (nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 10, 9)),
    (nn.AvgPool2d(2, padding=1, count_include_pad=False), (2, 3, 7, 6)),
    (nn.AvgPool2d(3, 2, padding=1), (2, 3, 8, 8)),
    (nn.MaxPool1d(3, 2, padding=1, ceil_mode=True), (2, 3, 10)),
    (nn.AvgPool1d(3, 2, padding=1, count_include_pad=False, ceil_mode=True), (2, 3, 10)),
    (nn.MaxPool3d(2, ceil_mode=True), (2, 2, 5, 6, 7)),
    (nn.AvgPool3d((2, 3, 2), padding=1), (2, 2, 5, 6, 7)),
    (nn.AdaptiveAvgPool2d(1), (2, 3, 7, 5)),
    (nn.AdaptiveMaxPool2d(1), (2, 3, 7, 5)),
    (nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 8, 9)),
    (nn.AdaptiveMaxPool2d((4, 2)), (2, 3, 8, 8)),
])
def test_pools(layer, shape):
    check(layer, tt.randn(*shape))


def test_adaptive_pools_1d_and_unbatched():
    check(Fn(lambda s, x: F.adaptive_avg_pool1d(x, 3) + F.adaptive_max_pool1d(x, 3)),
          tt.randn(2, 4, 9))
    check(Fn(lambda s, x: F.max_pool2d(x, 2) * 2), tt.randn(3, 6, 6), dynamic=False)


def test_pool_refusals_name_the_op():
    with pytest.raises(UnsupportedOperatorError, match="AvgPoolNdFunction.*divisor_override"):
        export_bytes(nn.AvgPool2d(2, divisor_override=3), tt.randn(1, 2, 4, 4))
    with pytest.raises(UnsupportedOperatorError, match="AdaptiveAvgPoolFunction.*multiple"):
        export_bytes(nn.AdaptiveAvgPool2d(3), tt.randn(1, 2, 7, 7))
    with pytest.raises(UnsupportedOperatorError, match="MaxPoolNdFunction.*indices"):
        export_bytes(Fn(lambda s, x: F.max_pool2d(x, 2, return_indices=True)),
                     tt.randn(1, 2, 4, 4))


# ---------------------------------------------------------------------- activations, arithmetic

def test_activations_and_unary_ops():
    tt.manual_seed(7)
    acts = [nn.ReLU(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1),
            nn.LogSoftmax(dim=-1)]
    for a in acts:
        check(a, tt.randn(3, 5))
    net = Fn(lambda s, x: x.exp() - x.abs().sqrt() + (x.abs() + 1).log() + x.sin() * x.cos()
             - (-x).relu() + x.clamp(-0.5, 0.7) + x.clamp(min=0.1) + F.leaky_relu(x))
    proto = check(net, tt.randn(3, 4, 5))
    assert {"Exp", "Sqrt", "Log", "Sin", "Cos", "Neg", "Clip", "Abs"} <= set(ops(proto))


@pytest.mark.parametrize("opset", [13, 17, 18])
def test_arithmetic_scalars_broadcasting_cat_matmul_shapes(opset):
    tt.manual_seed(8)
    w = nn.Parameter(tt.randn(5, 4))
    scale = nn.Parameter(tt.randn(4))

    def fn(s, x, y):
        a = (x * 2 + 1 - s.scale) / 3 ** 1 + 2 / (x.abs() + 1) - 1 - x
        b = (x.abs() + 0.5) ** 1.5 + x ** 2 + 2 ** x
        c = tt.cat([a, b * s.scale, y.transpose(1, 2)], dim=1)      # (N, 3+3+4, 4)
        d = c.permute(0, 2, 1).reshape(c.shape[0], -1)              # (N, 40)
        e = d.view(-1, 8, 5) @ s.w                                  # (N, 8, 4)
        f = (e.mean(dim=(1,), keepdim=True) + e.sum(-1).unsqueeze(-1)
             - e.amax(dim=(0, 2), keepdim=True) + e.amin(-1, keepdim=True))
        return F.softmax(f.flatten(1), dim=1), tt.maximum(e, e * 0.5).squeeze()

    net = Fn(fn)
    net.w, net.scale = w, scale
    check(net, tt.randn(2, 3, 4), tt.randn(2, 4, 4), opset_version=opset)


def test_indexing_and_inplace_on_input():
    def fn(s, x):
        y = x[:, 1:, ::2] * 2 + x[..., -1:, None, 0:3].squeeze(2)      # (N, 2, 3) + (N, 1, 3)
        x.mul_(3)                                  # an in-place write to the graph input
        return y.sum(-1) + x[:, -1, 0, None], x

    check(Fn(fn), tt.randn(2, 3, 6))


def test_outputs_that_are_inputs_or_repeated():
    net = Fn(lambda s, x: (x, x.relu(), x.relu() * 1, x))
    proto = check(net, tt.randn(2, 3))
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2", "output_3"]


def test_squeeze_of_batch_one_is_refused_with_dynamic_batch():
    with pytest.raises(UnsupportedOperatorError, match="View.*rank"):
        export_bytes(Fn(lambda s, x: x.squeeze()), tt.randn(1, 3))


def test_export_params_false_makes_parameters_inputs():
    net = nn.Linear(3, 2)
    buf = io.BytesIO()
    tt.onnx.export(net, tt.randn(1, 3), buf, export_params=False)
    proto = onnx.load_from_string(buf.getvalue())
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]
    assert not proto.graph.initializer
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = tt.randn(1, 3)
    got = sess.run(None, {"input": x.numpy(), "weight": net.weight.detach().numpy(),
                          "bias": net.bias.detach().numpy()})[0]
    np.testing.assert_allclose(got, net(x).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [13, 18])
def test_max_dim_var_std(opset):
    def fn(s, x):
        v, i = x.max(dim=1)
        w, j = x.min(-1, keepdim=True)
        return (v.sum(-1) + x.var(dim=(1, 2)) - x.std(-1, correction=0).sum(-1)
                + w.squeeze(-1).sum(-1), i, j)

    check(Fn(fn), tt.randn(2, 5, 4), opset_version=opset)


def test_expand_keeps_dynamic_batch_and_unbatched_conv():
    check(Fn(lambda s, x: x.expand(-1, 3, 4) + x.expand(2, *x.shape)[1]), tt.randn(2, 1, 4))
    with pytest.raises(UnsupportedOperatorError, match="Expand"):
        export_bytes(Fn(lambda s, x: x[0].expand(x.shape[0], 4)), tt.randn(2, 1))
    check(nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()), tt.randn(2, 5, 5),
          dynamic=False)


def test_stack_cast_where_with_constant_condition():
    cond = tt.tensor([True, False, True])

    def fn(s, x):
        y = tt.stack([x, x * 2], dim=1).double()            # (N, 2, 3) float64
        return tt.where(cond, y, -y).float().sum(1)

    check(Fn(fn), tt.randn(2, 3))


def test_linear_on_3d_input_and_matmul():
    tt.manual_seed(9)
    lin = nn.Linear(4, 3)
    check(Fn(lambda s, x: s.lin(x).relu() @ tt.ones(3, 2), lin=lin), tt.randn(2, 5, 4))


def test_float64_model():
    tt.manual_seed(10)
    # (ONNX Runtime's CPU provider has no float64 Conv; Gemm, Relu and Softmax it has)
    net = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Softmax(dim=1)).double()
    check(net, tt.randn(2, 6, dtype=tt.float64), atol=1e-12, rtol=1e-10)


# ---------------------------------------------------------------------- interface

def test_writes_to_path_and_file_object(tmp_path):
    net = nn.Sequential(nn.Linear(3, 2))
    path = tmp_path / "m.onnx"
    assert tt.onnx.export(net, (tt.randn(1, 3),), str(path)) is None
    tt.onnx.export(net, tt.randn(1, 3), path)
    with open(tmp_path / "n.onnx", "wb") as fh:
        tt.onnx.export(net, tt.randn(1, 3), fh, opset_version=18)
    for p in (path, tmp_path / "n.onnx"):
        proto = onnx.load(str(p))
        onnx.checker.check_model(proto)
    assert [o.version for o in proto.opset_import] == [18]
    assert [i.name for i in proto.graph.input] == ["input"]   # Sequential.forward(input)
    assert [o.name for o in proto.graph.output] == ["output"]


def test_static_shapes_without_dynamic_axes():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    data, _ = export_bytes(net, tt.randn(2, 1, 5, 5), dynamic=False)
    proto = onnx.load_from_string(data)
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [2, 1, 5, 5]
    reshape = [n for n in proto.graph.node if n.op_type == "Reshape"][0]
    init = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert init[reshape.input[1]].tolist() == [2, 18]


def test_unsupported_op_names_it():
    net = Fn(lambda s, x: F.unfold(x, 2))
    with pytest.raises(UnsupportedOperatorError, match="UnfoldFunction"):
        export_bytes(net, tt.randn(1, 2, 4, 4))


def test_reshape_with_two_dynamic_dims_is_refused():
    net = Fn(lambda s, x: x.reshape(1, *x.shape))   # (N, 3, W) -> (1, N, 3, W)
    with pytest.raises(UnsupportedOperatorError, match="View"):
        buf = io.BytesIO()
        tt.onnx.export(net, tt.randn(2, 3, 4), buf, input_names=["x"],
                       dynamic_axes={"x": {0: "n", 2: "w"}})


def test_constant_from_input_size_is_refused():
    net = Fn(lambda s, x: x + tt.ones(x.shape[0], 1))
    with pytest.raises(UnsupportedOperatorError, match="Add"):
        export_bytes(net, tt.randn(2, 3))


def test_value_computed_outside_recorded_ops_is_refused():
    # comparisons make bool tensors without a Function: the mask would be frozen
    net = Fn(lambda s, x: x * (x > 0))
    with pytest.raises(UnsupportedOperatorError, match="Mul.*constant"):
        export_bytes(net, tt.randn(2, 3), dynamic=False)


def test_bad_opset():
    with pytest.raises(ValueError, match="opset_version"):
        tt.onnx.export(nn.ReLU(), tt.randn(2), io.BytesIO(), opset_version=9)


def test_ops_of_other_threads_are_not_recorded():
    other = {}

    def fn(s, x):
        t = threading.Thread(target=lambda: other.setdefault("y", tt.randn(3).exp()))
        t.start()
        t.join()
        return x.relu()

    data, _ = export_bytes(Fn(fn), tt.randn(2, 3))
    assert ops(onnx.load_from_string(data)) == ["Relu"]
    assert "y" in other


def test_concurrent_exports_in_two_threads():
    nets = [nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten()),
            nn.Sequential(nn.Linear(4, 3), nn.Tanh())]
    xs = [tt.randn(2, 1, 5, 5), tt.randn(2, 4)]
    results, errors = {}, []

    def run(i):
        try:
            for _ in range(5):
                results[i] = export_bytes(nets[i], xs[i])[0]
        except Exception as e:          # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ops(onnx.load_from_string(results[0])) == ["Conv", "Relu", "Reshape"]
    assert ops(onnx.load_from_string(results[1])) == ["Gemm", "Tanh"]
