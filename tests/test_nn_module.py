"""Module system: registration, names, state_dict, strict loading, train/eval, repr, init."""
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


# ---------------------------------------------------------------- registration and traversal

def test_registration_and_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias", "fc.weight", "fc.bias"]
    assert [n for n, _ in net.named_children()] == ["features", "fc"]
    assert [n for n, _ in net.named_modules()] == ["", "features", "features.0",
                                                   "features.1", "fc"]
    assert len(list(net.parameters())) == 4
    assert len(list(net.modules())) == 5
    assert isinstance(net.fc.weight, nn.Parameter)
    assert type(net.fc.weight).__name__ == "Parameter"


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules()] == ["", "0"]


def test_setattr_moves_between_kinds_and_rejects_bad_values():
    m = nn.Module()
    m.w = nn.Parameter(tt.ones(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError, match="cannot assign 'tinytensor.Tensor' as parameter 'w'"):
        m.w = tt.ones(2)
    m.w = None
    assert m.w is None
    m.register_buffer("b", tt.zeros(1))
    with pytest.raises(TypeError, match="as buffer 'b'"):
        m.b = 3
    with pytest.raises(KeyError, match="attribute 'b' already exists"):
        m.register_parameter("b", nn.Parameter(tt.ones(1)))
    with pytest.raises(KeyError, match=r'buffer name can.*contain "\."'):
        m.register_buffer("a.b", tt.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope
    del m.b
    assert "b" not in m._buffers


def test_assign_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="cannot assign module before Module.__init__"):
        Bad()


def test_buffers_and_persistence():
    m = nn.Module()
    m.scale = nn.Parameter(tt.ones(1))
    m.register_buffer("running", tt.zeros(2))
    m.register_buffer("tmp", tt.zeros(3), persistent=False)
    m.features = nn.Sequential(nn.Linear(1, 1))
    assert list(m.state_dict()) == ["scale", "running", "features.0.weight", "features.0.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "tmp"]
    assert [n for n, _ in m.named_parameters()] == ["scale", "features.0.weight",
                                                    "features.0.bias"]


# ---------------------------------------------------------------- state_dict

def test_state_dict_keys_nested_sequential():
    # SEMANTICS edge case 78: parameterless modules are skipped but keep their index
    seq = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Sequential(nn.Conv2d(32, 64, 3), nn.ReLU()), nn.Flatten(),
                        nn.Linear(64, 10))
    sd = seq.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["0.weight", "0.bias", "3.0.weight", "3.0.bias", "5.weight", "5.bias"]
    assert all(not v.requires_grad for v in sd.values())
    # detached aliases share the parameters' storage
    assert np.shares_memory(sd["0.weight"].numpy(), seq[0].weight.detach().numpy())


def test_ordered_dict_names_and_batchnorm_buffers():
    seq = nn.Sequential(OrderedDict([("conv1", nn.Conv2d(1, 2, 3)), ("bn", nn.BatchNorm2d(2))]))
    assert list(seq.state_dict()) == ["conv1.weight", "conv1.bias", "bn.weight", "bn.bias",
                                      "bn.running_mean", "bn.running_var",
                                      "bn.num_batches_tracked"]
    assert seq.state_dict()["bn.num_batches_tracked"].dtype == tt.int64


def test_load_state_dict_round_trip_tensors_and_numpy():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
    c = Net()
    res = c.load_state_dict({k: v.numpy().astype(np.float64) for k, v in a.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    assert c.fc.weight.dtype == tt.float32
    assert np.allclose(c.fc.weight.detach().numpy(), a.fc.weight.detach().numpy())
    assert c.fc.weight.requires_grad


def test_load_state_dict_strict_errors():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict({"weight": sd["weight"]})
    assert str(e.value) == ('Error(s) in loading state_dict for Linear:\n\t'
                            'Missing key(s) in state_dict: "bias". ')
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict({**sd, "extra": tt.ones(1)})
    assert str(e.value) == ('Error(s) in loading state_dict for Linear:\n\t'
                            'Unexpected key(s) in state_dict: "extra". ')
    with pytest.raises(RuntimeError) as e:
        lin.load_state_dict({"weight": tt.ones(3, 2), "bias": sd["bias"]})
    assert str(e.value) == ("Error(s) in loading state_dict for Linear:\n\tsize mismatch for "
                            "weight: copying a param with shape torch.Size([3, 2]) from "
                            "checkpoint, the shape in current model is torch.Size([2, 2]).")
    res = lin.load_state_dict({"weight": sd["weight"], "extra": 1.0}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["extra"]
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        lin.load_state_dict([1, 2])


def test_incompatible_keys_repr():
    lin = nn.Linear(2, 2)
    res = lin.load_state_dict({"weight": lin.weight.detach()}, strict=False)
    assert repr(res) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])"


# ---------------------------------------------------------------- modes, grads, apply

def test_train_eval_recursive():
    net = Net()
    assert net.training and net.features[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_and_apply():
    net = Net()
    net(tt.randn(2, 1, 5, 5)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Conv2d", "ReLU", "Sequential", "Linear", "Net"]


def test_double_converts_params_not_counters():
    seq = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm2d(2)).double()
    assert seq[0].weight.dtype == tt.float64 and isinstance(seq[0].weight, nn.Parameter)
    assert seq[1].running_mean.dtype == tt.float64
    assert seq[1].num_batches_tracked.dtype == tt.int64


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, args, out: calls.append(tuple(out.shape)))
    lin(tt.ones(3, 2))
    h.remove()
    lin(tt.ones(3, 2))
    assert calls == [(3, 2)]


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


# ---------------------------------------------------------------- containers

def test_sequential_indexing():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3
    assert isinstance(seq[-1], nn.Linear) and seq[-1] is seq[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and list(sub._modules) == ["1", "2"]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    with pytest.raises(IndexError, match="index 7 is out of range"):
        seq[7]
    assert seq(tt.ones(4, 2)).shape == (4, 1)


def test_module_list():
    ml = nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Linear(1, 1)])
    assert len(ml) == 3 and isinstance(ml[2], nn.Linear)
    ml.append(nn.Tanh())
    assert [n for n, _ in ml.named_parameters()] == ["2.weight", "2.bias"]
    assert isinstance(ml[1:], nn.ModuleList)


# ---------------------------------------------------------------- repr (SEMANTICS §9)

REPRS = [
    (lambda: nn.Conv2d(1, 32, 5), "Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1))"),
    (lambda: nn.Conv2d(1, 32, 5, bias=False),
     "Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1), bias=False)"),
    (lambda: nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False),
     "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
     "bias=False)"),
    (lambda: nn.Conv2d(4, 8, 3, padding=1, groups=2, padding_mode="circular"),
     "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, "
     "padding_mode=circular)"),
    (lambda: nn.Conv2d(1, 1, 3, padding="same"),
     "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=same)"),
    (lambda: nn.Conv1d(4, 8, 3), "Conv1d(4, 8, kernel_size=(3,), stride=(1,))"),
    (lambda: nn.Conv3d(4, 8, 3, padding=1),
     "Conv3d(4, 8, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1))"),
    (lambda: nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                              "ceil_mode=False)"),
    (lambda: nn.MaxPool2d((2, 3)), "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0, "
                                   "dilation=1, ceil_mode=False)"),
    (lambda: nn.MaxPool2d((2, 3), stride=1, padding=1, ceil_mode=True, return_indices=True),
     "MaxPool2d(kernel_size=(2, 3), stride=1, padding=1, dilation=1, ceil_mode=True)"),
    (lambda: nn.AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: nn.AvgPool2d(2, ceil_mode=True, divisor_override=3),
     "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: nn.AvgPool1d(2), "AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))"),
    (lambda: nn.AdaptiveAvgPool2d((None, 7)), "AdaptiveAvgPool2d(output_size=(None, 7))"),
    (lambda: nn.AdaptiveMaxPool2d(3), "AdaptiveMaxPool2d(output_size=3)"),
    (lambda: nn.MaxUnpool2d(2), "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), "
                                "padding=(0, 0))"),
    (lambda: nn.Linear(10, 5), "Linear(in_features=10, out_features=5, bias=True)"),
    (lambda: nn.ReLU(), "ReLU()"),
    (lambda: nn.ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda: nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
    (lambda: nn.Softmax(dim=1), "Softmax(dim=1)"),
    (lambda: nn.LogSoftmax(dim=-1), "LogSoftmax(dim=-1)"),
    (lambda: nn.Tanh(), "Tanh()"),
    (lambda: nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (lambda: nn.Dropout(), "Dropout(p=0.5, inplace=False)"),
    (lambda: nn.Identity(), "Identity()"),
    (lambda: nn.BatchNorm2d(16), "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, "
                                 "bias=True, track_running_stats=True)"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=3), "CrossEntropyLoss()"),
    (lambda: nn.MSELoss(), "MSELoss()"),
    (lambda: nn.Sequential(), "Sequential()"),
]


@pytest.mark.parametrize("make,expected", REPRS, ids=[r[1][:30] for r in REPRS])
def test_repr_exact(make, expected):
    assert repr(make()) == expected


def test_repr_nested_containers():
    seq = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Sequential(nn.Conv2d(32, 64, 3), nn.ReLU()), nn.Flatten(),
                        nn.Linear(64, 10))
    assert repr(seq) == """Sequential(
  (0): Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1))
  (1): ReLU()
  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (3): Sequential(
    (0): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1))
    (1): ReLU()
  )
  (4): Flatten(start_dim=1, end_dim=-1)
  (5): Linear(in_features=64, out_features=10, bias=True)
)"""
    assert repr(nn.Sequential(nn.ReLU(), nn.ReLU())) == \
        "Sequential(\n  (0): ReLU()\n  (1): ReLU()\n)"
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU()])) == "ModuleList(\n  (0-1): 2 x ReLU()\n)"
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == \
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)"

    class E(nn.Module):
        pass
    assert repr(E()) == "E()"
    assert repr(Net()).startswith("Net(\n  (features): Sequential(\n    (0): Conv2d(")
    assert repr(Net()).endswith("  (fc): Linear(in_features=2, out_features=3, bias=True)\n)")


def test_parameter_repr_and_sharing():
    t = tt.ones(2)
    p = nn.Parameter(t)
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert p.requires_grad and p.is_leaf
    assert np.shares_memory(p.detach().numpy(), t.numpy())
    assert not nn.Parameter(tt.ones(1), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)


# ---------------------------------------------------------------- conv construction rules

def test_conv_construction_errors():
    with pytest.raises(ValueError, match="^in_channels must be divisible by groups$"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="^out_channels must be divisible by groups$"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="^groups must be a positive integer$"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="^padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"^Invalid padding string 'foo', should be one of \{"):
        nn.Conv2d(3, 4, 3, padding="foo")
    with pytest.raises(ValueError, match=r"^padding_mode must be one of \{.*\}, but got "
                                         r"padding_mode='bad'$"):
        nn.Conv2d(3, 4, 3, padding_mode="bad")
    # no validation of kernel / padding values at construction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # zero-element weight: init warns
        nn.Conv2d(3, 4, 0)
    nn.Conv2d(3, 4, 3, padding=-1)
    assert nn.Conv2d(3, 4, (3,)).kernel_size == (3,)


def test_conv_shapes_and_padding_split():
    c = nn.Conv2d(4, 6, (3, 5), groups=2)
    assert c.weight.shape == (6, 2, 3, 5) and c.bias.shape == (6,)
    c = nn.Conv2d(1, 1, (2, 4), padding="same")
    assert list(c._reversed_padding_repeated_twice) == [1, 2, 0, 1]
    assert c.padding == "same"
    assert tuple(nn.Conv2d(1, 1, 3, padding=(1, 2))._reversed_padding_repeated_twice) == \
        (2, 2, 1, 1)


# ---------------------------------------------------------------- initialisation (§8)

def test_conv_init_matches_uniform_draws_in_order():
    tt.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    tt.manual_seed(0)
    b = 1 / math.sqrt(27)
    w = tt.empty(4, 3, 3, 3).uniform_(-b, b)
    bias = tt.empty(4).uniform_(-b, b)
    assert np.array_equal(conv.weight.detach().numpy(), w.numpy())
    assert np.array_equal(conv.bias.detach().numpy(), bias.numpy())


def test_init_bounds():
    tt.manual_seed(1)
    for m, fan_in in ((nn.Linear(5, 300), 5), (nn.Conv2d(6, 42, 3, groups=3), 18),
                      (nn.Conv1d(2, 50, 4), 8)):
        bound = 1 / math.sqrt(fan_in)
        for p in (m.weight, m.bias):
            a = p.detach().numpy()
            assert a.dtype == np.float32 and p.requires_grad
            assert np.abs(a).max() <= bound
            assert np.abs(a).max() > 0.8 * bound         # the range is used


def test_init_functions():
    tt.manual_seed(2)
    w = tt.empty(200, 100)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / 300)
    assert np.abs(w.numpy()).max() <= a and np.abs(w.numpy()).max() > 0.9 * a
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 200)) < 0.01
    nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.005
    nn.init.constant_(w, 0.5)
    assert (w.numpy() == 0.5).all()
    nn.init.zeros_(w)
    nn.init.ones_(w)
    assert (w.numpy() == 1).all()
    assert nn.init._calculate_fan_in_and_fan_out(tt.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.kaiming_uniform_(tt.empty(3))
    with pytest.raises(ValueError, match="Mode fan_x not supported"):
        nn.init.kaiming_uniform_(w, mode="fan_x")
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        nn.init.calculate_gain("foo")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        nn.Linear(0, 3)
    assert any("Initializing zero-element tensors is a no-op" in str(r.message) for r in rec)
    # init runs under no_grad, on parameters too
    p = nn.Parameter(tt.empty(3, 3))
    nn.init.uniform_(p, -1, 1)
    assert p.requires_grad and p.grad_fn is None


def test_init_is_repeatable_with_seed():
    tt.manual_seed(5)
    a = Net()
    tt.manual_seed(5)
    b = Net()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())


def test_deepcopy_and_pickle_keep_parameters():
    import copy
    import pickle
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert repr(clone) == repr(net)
        assert type(clone[0].weight).__name__ == "Parameter" and clone[0].weight.requires_grad
        assert clone[0].weight is not net[0].weight
        assert np.array_equal(clone[0].weight.detach().numpy(), net[0].weight.detach().numpy())
        assert list(clone.state_dict()) == list(net.state_dict())


def test_module_dict():
    d = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3)})
    d["act"] = nn.ReLU()
    d.update([("fc", nn.Linear(2, 2))])
    assert list(d) == ["conv", "act", "fc"] and len(d) == 3 and "act" in d
    assert list(d.state_dict()) == ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    assert isinstance(d.pop("act"), nn.ReLU) and list(d.keys()) == ["conv", "fc"]
