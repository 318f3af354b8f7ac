"""The argument-parsing module (`tinytensor._args`): PyTorch's int, int-tuple and device rules,
and the CPU answers of the device boilerplate (`tt.device`, `tt.cuda`, `tt.backends`)."""
import pickle

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.nn.functional as F
from tinytensor import _args

X = tt.ones(1, 1, 4, 4)
W = tt.ones(1, 1, 2, 2)

# (call, exception type, exact message): PyTorch 2.13's texts, read off a real build
INT_TUPLE_ERRORS = [
    ("pool_float", lambda: F.max_pool2d(X, 2.0), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not float"),
    ("pool_first_float", lambda: F.max_pool2d(X, (2.0, 2)), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, but found element "
     "of type float at pos 0"),
    ("pool_second_float", lambda: F.max_pool2d(X, (2, 2.0)), TypeError,
     "max_pool2d(): argument 'kernel_size' failed to unpack the object at pos 2 with error "
     "\"type must be tuple of ints,but got float\""),
    ("pool_second_none", lambda: F.max_pool2d(X, [2, None]), TypeError,
     "max_pool2d(): argument 'kernel_size' failed to unpack the object at pos 2 with error "
     "\"type must be tuple of ints,but got NoneType\""),
    ("pool_first_bool", lambda: F.max_pool2d(X, (True, 2)), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, but found element "
     "of type bool at pos 0"),
    ("pool_bool", lambda: F.max_pool2d(X, True), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not bool"),
    ("pool_str", lambda: F.max_pool2d(X, "ab"), TypeError,
     "max_pool2d(): argument 'kernel_size' (position 2) must be tuple of ints, not str"),
    ("pool_int_overflow", lambda: F.max_pool2d(X, 2 ** 63), ValueError,
     "Overflow when unpacking long long"),
    ("pool_element_overflow", lambda: F.max_pool2d(X, (2, 2 ** 63)), TypeError,
     "max_pool2d(): argument 'kernel_size' failed to unpack the object at pos 2 with error "
     "\"Overflow when unpacking long long\""),
    ("conv_element_overflow", lambda: F.conv2d(X, W, stride=(2 ** 63, 1)), TypeError,
     "conv2d(): argument 'stride' failed to unpack the object at pos 1 with error "
     "\"Overflow when unpacking long long\""),
    ("avg_second_float", lambda: F.avg_pool2d(X, (2, 2.0)), TypeError,
     "avg_pool2d(): argument 'kernel_size' failed to unpack the object at pos 2 with error "
     "\"type must be tuple of ints,but got float\""),
    ("size_overflow", lambda: tt.zeros(2 ** 63), TypeError,
     "zeros(): argument 'size' failed to unpack the object at pos 1 with error "
     "\"Overflow when unpacking long long\""),
    ("size_second_float", lambda: tt.zeros(2, 2.0), TypeError,
     "zeros(): argument 'size' failed to unpack the object at pos 2 with error "
     "\"type must be tuple of ints,but got float\""),
    ("size_float", lambda: tt.zeros(2.0), TypeError,
     "zeros(): argument 'size' (position 1) must be tuple of ints, not float"),
]


@pytest.mark.parametrize("call, kind, text", [c[1:] for c in INT_TUPLE_ERRORS],
                         ids=[c[0] for c in INT_TUPLE_ERRORS])
def test_int_tuple_errors(call, kind, text):
    with pytest.raises(kind) as info:
        call()
    assert str(info.value) == text


@pytest.mark.parametrize("call, kind, text", [c[1:] for c in INT_TUPLE_ERRORS],
                         ids=[c[0] for c in INT_TUPLE_ERRORS])
def test_int_tuple_errors_match_torch(call, kind, text):
    torch = pytest.importorskip("torch")
    tnn = torch.nn.functional
    shim = {"F": tnn, "tt": torch, "X": torch.ones(1, 1, 4, 4), "W": torch.ones(1, 1, 2, 2)}
    fn = type(call)(call.__code__, {**call.__globals__, **shim})
    with pytest.raises(kind) as info:
        fn()
    assert str(info.value).split("\n")[0].startswith(text.rstrip('"'))


def test_int_tuple_accepts_numpy_ints_and_a_later_bool():
    assert _args.int_list("f", "a", 1, (np.int64(2), 3)) == [2, 3]
    assert _args.int_list("f", "a", 1, tt.tensor(4)) == [4]
    assert _args.int_list("f", "a", 1, (2, True)) == [2, 1]      # PyTorch reads it as 1
    assert F.max_pool2d(X, (2, True)).shape == (1, 1, 2, 4)
    assert tt.zeros(size=(2, 3)).shape == (2, 3)


def test_ntuple_helpers():
    from tinytensor.nn.modules.utils import _ntuple, _pair, _single, _triple
    assert _single(3) == (3,) and _pair(3) == (3, 3) and _triple((1, 2, 3)) == (1, 2, 3)
    assert _pair("ab") == ("ab", "ab") and _ntuple(4)(0) == (0, 0, 0, 0)


def test_device_objects_compare_and_print_as_torch():
    cpu = tt.device("cpu")
    assert repr(cpu) == "device(type='cpu')" and str(cpu) == "cpu"
    assert str(tt.device("cpu", 0)) == "cpu:0" and repr(tt.device("cpu:0")) == \
        "device(type='cpu', index=0)"
    assert cpu == tt.device("cpu") and cpu != tt.device("cpu:0") and cpu != "cpu"
    assert tt.device(cpu) == cpu and hash(cpu) == hash(tt.device("cpu"))
    assert pickle.loads(pickle.dumps(tt.device("cuda:1"))) == tt.device("cuda", 1)
    assert str(tt.device("cuda:1")) == "cuda:1"       # can be built, as in PyTorch
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        tt.device("gpu")
    with pytest.raises(AttributeError):
        cpu.type = "cuda"


def test_tensors_and_modules_live_on_the_cpu():
    t = tt.zeros(2)
    assert t.device == tt.device("cpu") and not t.is_cuda and not t.is_xpu
    assert t.to("cpu") is t and t.to(tt.device("cpu")) is t and t.cpu() is t
    assert t.to("cpu", tt.float64).dtype == tt.float64
    assert t.to(device="cpu", dtype=tt.float64).dtype == tt.float64
    c = t.to("cpu", copy=True)
    assert c is not t and c.tolist() == t.tolist()
    m = nn.Linear(2, 2)
    assert m.to("cpu") is m and m.to(tt.device("cpu"), tt.float64).weight.dtype == tt.float64


NOT_CPU = [
    ("zeros", lambda: tt.zeros(2, device="cuda")),
    ("ones_like", lambda: tt.ones_like(tt.zeros(2), device="cuda")),
    ("tensor", lambda: tt.tensor([1.0], device="cuda:0")),
    ("arange", lambda: tt.arange(3, device=tt.device("cuda"))),
    ("randn", lambda: tt.randn(2, device="mps")),
    ("to_str", lambda: tt.zeros(2).to("cuda")),
    ("to_kw", lambda: tt.zeros(2).to(device="cuda:0")),
    ("to_device", lambda: tt.zeros(2).to(tt.device("cuda"))),
    ("to_index", lambda: tt.zeros(2).to(0)),
    ("tensor_cuda", lambda: tt.zeros(2).cuda()),
    ("module_to", lambda: nn.Linear(2, 2).to("cuda")),
    ("module_cuda", lambda: nn.Linear(2, 2).cuda()),
]


@pytest.mark.parametrize("call", [c[1] for c in NOT_CPU], ids=[c[0] for c in NOT_CPU])
def test_any_other_device_raises_one_clear_error(call):
    with pytest.raises(RuntimeError, match="tinytensor runs on the CPU only"):
        call()


def test_cuda_backends_and_accelerator_answer_honestly():
    assert tt.cuda.is_available() is False and tt.cuda.device_count() == 0
    tt.cuda.manual_seed_all(0)
    tt.cuda.manual_seed(0)
    tt.backends.cudnn.deterministic = True
    tt.backends.cudnn.benchmark = False
    assert tt.backends.cudnn.is_available() is False
    assert tt.backends.mps.is_available() is False
    assert tt.accelerator.is_available() is False
    device = tt.device("cuda" if tt.cuda.is_available() else "cpu")
    assert tt.ones(2).to(device).device == device
