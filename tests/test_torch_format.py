"""PyTorch's checkpoint format: tt.save(format="torch") / tt.load of torch.save files.

Without torch: round trips through the format, the format switch, hand-built hostile pickles
(never executed) and corrupted archives (clear errors, no huge allocations). With torch 2.13
(skipped when it is absent): files torch.save writes load in tinytensor (state dicts, optimizer
and scheduler state, views, dtypes, the legacy format, other pickle protocols) and tinytensor's
files open with torch.load(weights_only=True).
"""
import copyreg
import io
import math
import os
import pathlib
import pickle
import struct
import tracemalloc
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinytensor as tt
import tinytensor.nn as nn
import tinytensor.optim as optim
from strategies import LAYOUTS, arrays, dtypes, shapes, to_layout

CLEAR = (RuntimeError, ValueError)
try:                                   # the hypothesis test also checks torch.load when present
    import torch as TORCH
except ImportError:
    TORCH = None


def same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tt.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def saved(obj, **kw):
    buf = io.BytesIO()
    tt.save(obj, buf, format="torch", **kw)
    return buf.getvalue()


def load(data, **kw):
    return tt.load(io.BytesIO(data), **kw)


# ------------------------------------------------------------------- round trips, no torch

def checkpoint():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8, 3))
    return {
        "model": model.state_dict(),
        "optimizer": {"state": {0: {"step": tt.tensor(3.0), "exp_avg": tt.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "foreach": None,
                                        "amsgrad": False, "params": [0, 1]}]},
        "scheduler": {"step_size": 30, "gamma": 0.1, "base_lrs": [0.1], "last_epoch": 4,
                      "_last_lr": [0.1]},
        "epoch": 7, "best_acc": 91.25, "loss": float("nan"), "inf": float("-inf"),
        "name": "lenet ✓", "history": [[1, 2.5], (3, None), []], "big": 2 ** 70,
        "neg": -(2 ** 40), "small": -3, "flag": True, 1.5: "float key", None: (),
        ("a", 1): "tuple key", "shape": tt.Size([2, 3]), "dtype": tt.float64,
        "scalars": [tt.tensor(2.5), tt.tensor(7), tt.tensor(True)],
        "empty": [tt.zeros(0, 3), tt.zeros(0, dtype=tt.int64)],
        "mixed": [tt.randn(2, 2, dtype=tt.float64), tt.arange(5), tt.tensor([True, False])],
        "grad": tt.randn(3, requires_grad=True),
        "param": nn.Parameter(tt.randn(2)), "frozen": nn.Parameter(tt.randn(2),
                                                                   requires_grad=False),
        "strided": [tt.randn(4, 6)[:, ::2].t(), tt.randn(3, 4).permute(1, 0)[1:],
                    tt.randn(1, 3).expand(4, 3)],
    }


def test_nested_checkpoint_round_trip():
    obj = checkpoint()
    back = load(saved(obj))
    same(obj, back)
    assert isinstance(back["model"], OrderedDict) and type(back["optimizer"]) is dict
    assert list(back["optimizer"]["state"]) == [0]              # int keys stay ints
    assert type(back["param"]) is nn.Parameter and back["param"].requires_grad
    assert not back["frozen"].requires_grad
    assert back["strided"][2].stride() == (0, 1)                 # an expanded view stays one
    assert not back["strided"][0].is_contiguous()


@given(st.data(), shapes(0, 4, 0, 4), dtypes(), st.sampled_from(LAYOUTS))
def test_every_layout_round_trips(data, shape, dtype, layout):
    """Values, shape, strides and offset survive tt -> torch format -> tt (and torch.load when
    torch is installed), for every layout the core makes."""
    a = data.draw(arrays(shape, dtype))
    t = to_layout(a, layout, data)
    blob = saved({"t": t})
    back = load(blob)["t"]
    assert back.dtype is t.dtype and back.shape == t.shape and back.stride() == t.stride()
    assert back.storage_offset() == t.storage_offset()
    np.testing.assert_array_equal(back.numpy(), a)
    if TORCH is not None:
        theirs = TORCH.load(io.BytesIO(blob), weights_only=True)["t"]
        assert tuple(theirs.stride()) == t.stride()
        np.testing.assert_array_equal(theirs.numpy(), a)


def test_views_sharing_a_storage_come_back_sharing_it():
    base = tt.arange(12.0)
    obj = {"base": base, "row": base.view(3, 4)[1], "col": base.view(3, 4)[:, 2],
           "again": base}
    back = load(saved(obj))
    assert back["again"] is back["base"]                          # one object, memoized
    assert back["row"].storage_offset() == 4 and back["col"].stride() == (4,)
    back["base"][6] = 100.0
    assert back["row"].tolist() == [4.0, 5.0, 100.0, 7.0]
    assert back["col"].tolist() == [2.0, 100.0, 10.0]


def test_model_and_optimizer_resume_in_torch_format(tmp_path):
    tt.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = tt.randn(5, 4), tt.randn(5, 2)
    for _ in range(2):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    path = tmp_path / "checkpoint.pth.tar"
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}, path)
    ck = tt.load(path)
    model2 = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model2.load_state_dict(ck["model"])
    opt2 = optim.SGD(model2.parameters(), lr=0.5, momentum=0.0)
    opt2.load_state_dict(ck["optimizer"])
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        ((m(x) - y) ** 2).mean().backward()
        o.step()
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_format_switch(tmp_path):
    sd = {"w": tt.ones(2)}
    for name in ("a.pt", "b.pth", "c.pth.tar", "d.ckpt", "E.PT"):
        tt.save(sd, tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as z:
            assert "archive/data.pkl" in z.namelist(), name
        same(sd, tt.load(str(tmp_path / name)))
    for name in ("a.npz", "b.bin", "c"):
        tt.save(sd, tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as z:
            assert "__tinytensor__.npy" in z.namelist(), name
    tt.save(sd, tmp_path / "forced.npz", format="torch")
    tt.save(sd, tmp_path / "forced.pt", format="tinytensor")
    with zipfile.ZipFile(tmp_path / "forced.npz") as z:
        assert "archive/data.pkl" in z.namelist()
    with zipfile.ZipFile(tmp_path / "forced.pt") as z:
        assert "__tinytensor__.npy" in z.namelist()
    tt.save(sd, os.fsencode(tmp_path / "bytes.pt"))                 # bytes paths too
    same(sd, tt.load(os.fsencode(tmp_path / "bytes.pt")))
    buf = io.BytesIO()
    tt.save(sd, buf)                                                 # file objects: tinytensor
    assert b"__tinytensor__" in buf.getvalue()
    with open(tmp_path / "fileobj", "wb") as f:
        tt.save(sd, f, format="torch")
    with open(tmp_path / "fileobj", "rb") as f:
        same(sd, tt.load(f))
    with pytest.raises(ValueError, match="format must be 'tinytensor', 'torch' or None"):
        tt.save(sd, buf, format="pickle")


def test_storages_are_aligned_and_records_present():
    data = saved({"a": tt.ones(3), "b": tt.zeros(5, dtype=tt.float64)})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert names[0] == "archive/data.pkl" and "archive/version" in names
        assert z.read("archive/byteorder") == b"little"
        for info in z.infolist():
            start = info.header_offset + 30 + len(info.filename) + len(info.extra)
            assert start % 64 == 0                   # what torch.load(mmap=True) expects
            assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"


def test_save_refusals():
    with pytest.raises(TypeError, match="NumPy arrays.*tt.from_numpy"):
        saved({"a": np.ones(2)})
    with pytest.raises(TypeError, match="cannot save an object of type object at x.1"):
        saved({"x": [1, object()]})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nested more than"):
        saved(loop)
    with pytest.raises(ValueError, match="pickle_module"):
        tt.save({}, io.BytesIO(), pickle_module=object())
    with pytest.raises(ValueError, match="legacy"):
        tt.save({}, io.BytesIO(), _use_new_zipfile_serialization=False)
    tt.save({}, io.BytesIO(), pickle_module=pickle, pickle_protocol=4)    # accepted


def test_load_arguments():
    data = saved({"a": tt.ones(2)})
    for ml in (None, "cpu", {"cuda:0": "cpu"}, lambda storage, loc: storage):
        assert load(data, map_location=ml)["a"].tolist() == [1.0, 1.0]
    for ml, exc in (("cuda", RuntimeError), ("cuda:1", RuntimeError),
                    ({"cpu": "cuda:0"}, RuntimeError), (3, TypeError)):
        with pytest.raises(exc, match="tt.load: map_location"):
            load(data, map_location=ml)
    with pytest.raises(RuntimeError, match="must return the storage"):
        load(data, map_location=lambda storage, loc: None)
    with pytest.raises(ValueError, match="pickle_module"):
        load(data, pickle_module=pickle)
    with pytest.raises(TypeError, match="unexpected keyword argument 'fix_imports'"):
        load(data, fix_imports=True)
    assert load(data, weights_only=False, mmap=True)["a"].tolist() == [1.0, 1.0]


def test_cuda_locations_need_map_location():
    data = bytearray(saved({"a": tt.ones(2)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        pkl = z.read("archive/data.pkl")
    cpu = b"X\x03\x00\x00\x00cpu"
    assert pkl.count(cpu) == 1
    files = {"archive/data.pkl": pkl.replace(cpu, b"X\x06\x00\x00\x00cuda:0"),
             "archive/data/0": np.ones(2, np.float32).tobytes(), "archive/version": b"3\n"}
    data = _zip(files)
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        load(data)
    assert load(data, map_location="cpu")["a"].tolist() == [1.0, 1.0]
    assert load(data, map_location={"cuda:0": "cpu"})["a"].tolist() == [1.0, 1.0]


def test_big_endian_files_are_swapped():
    files = _members(saved({"a": tt.arange(4.0), "b": tt.arange(3)}))
    files["archive/byteorder"] = b"big"
    for key, dt in (("0", "<f4"), ("1", "<i8")):
        a = np.frombuffer(files[f"archive/data/{key}"], dt)
        files[f"archive/data/{key}"] = a.astype(a.dtype.newbyteorder(">")).tobytes()
    out = load(_zip(files))
    assert out["a"].tolist() == [0.0, 1.0, 2.0, 3.0] and out["b"].tolist() == [0, 1, 2]


# ------------------------------------------------------------------- hand-built pickles

def _zip(files, compression=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return b.getvalue()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _s(text):
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _i(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2 ** 31 <= v < 2 ** 31:
        return b"J" + struct.pack("<i", v)
    n = (v.bit_length() >> 3) + 1
    return b"\x8a" + bytes([n]) + v.to_bytes(n, "little", signed=True)


def _tuple(values):
    return b"(" + b"".join(_i(v) if type(v) is int else v for v in values) + b"t"


def _tensor_pkl(numel, offset, size, stride, key="0", storage=b"FloatStorage",
                requires_grad=False):
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(("
            + _s("storage") + b"ctorch\n" + storage + b"\n" + _s(key) + _s("cpu") + _i(numel)
            + b"tQ" + _i(offset) + _tuple(size) + _tuple(stride)
            + (b"\x88" if requires_grad else b"\x89")
            + b"ccollections\nOrderedDict\n)RtR.")


def _torch_file(pkl, storages=None):
    files = {"archive/data.pkl": pkl, "archive/byteorder": b"little"}
    for key, data in (storages or {}).items():
        files[f"archive/data/{key}"] = data
    files["archive/version"] = b"3\n"
    return _zip(files)


LEGACY_HEADER = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
                 + pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2))


def test_hand_built_tensor_loads():
    pkl = _tensor_pkl(6, 1, (2, 2), (3, 1))
    out = load(_torch_file(pkl, {"0": np.arange(6, dtype=np.float32).tobytes()}))
    assert out.tolist() == [[1.0, 2.0], [4.0, 5.0]] and out.stride() == (3, 1)


def test_python2_strings_follow_encoding():
    data = _torch_file(b"\x80\x02(U\x03abcU\x02\xe9\xe9l.")
    with pytest.raises(RuntimeError, match="encoding='latin1'"):
        load(data)
    assert load(data, encoding="latin1") == ["abc", "\xe9\xe9"]
    assert load(data, encoding="bytes") == [b"abc", b"\xe9\xe9"]
    with pytest.raises(ValueError, match="encoding="):
        load(data, encoding="rot13")


def _hostile(cmd):
    """(description, data.pkl bytes, text the error must contain (the global it names) or
    None)."""
    return [
        ("GLOBAL+REDUCE", b"\x80\x02cos\nsystem\n" + _s(cmd) + b"\x85R.", "os.system"),
        ("posix", b"\x80\x02cposix\nsystem\n" + _s(cmd) + b"\x85R.", "posix.system"),
        ("eval", b"\x80\x02c__builtin__\neval\n" + _s(f"__import__('os').system({cmd!r})")
         + b"\x85R.", "builtins.eval"),
        ("getattr", b"\x80\x02cbuiltins\ngetattr\n" + _s("x") + b"\x85R.", "builtins.getattr"),
        ("torch.load", b"\x80\x02ctorch\nload\n" + _s("x") + b"\x85R.", "torch.load"),
        ("tinytensor", b"\x80\x02ctinytensor.serialization\nload\n" + _s("x") + b"\x85R.",
         "tinytensor.serialization.load"),
        ("STACK_GLOBAL", b"\x80\x04" + _s("os") + _s("system") + b"\x93" + _s(cmd) + b"\x85R.",
         "os.system"),
        ("INST", b"(" + _s(cmd) + b"ios\nsystem\n.", "os.system"),
        ("OBJ", b"(cos\nsystem\n" + _s(cmd) + b"o.", "os.system"),
        ("OBJ allowed class", b"(ccollections\nOrderedDict\no.", None),
        ("NEWOBJ", b"\x80\x02cos\nsystem\n" + _s(cmd) + b"\x85\x81.", "os.system"),
        ("NEWOBJ not a class", b"\x80\x02ctorch\nSize\n)\x81.", None),
        ("NEWOBJ_EX", b"\x80\x04ccollections\nOrderedDict\n)}\x92.", None),
        ("EXT1", b"\x80\x02\x82\xf1" + _s(cmd) + b"\x85R.", "os.system"),
        ("BUILD on a list", b"\x80\x02]}" + _s("append") + b"K\x01sb.", "BUILD may only"),
        ("REDUCE on a storage type", b"\x80\x02ctorch\nFloatStorage\n)R.", None),
        ("REDUCE on a dtype", b"\x80\x02ctorch\nfloat32\n)R.", None),
        ("APPEND to a dict", b"\x80\x02}K\x01a.", None),
        ("SETITEM on a list", b"\x80\x02]K\x01K\x02s.", None),
        ("persistent id", b"\x80\x02" + _s("module") + _s(cmd) + b"\x86Q.", None),
        ("text PERSID", b"P" + cmd.encode() + b"\n.", None),
        ("out-of-band buffer", b"\x80\x05\x97.", None),
        ("BUILD on a tensor", _tensor_pkl(2, 0, (2,), (1,))[:-1] + b"K\x01K\x02\x86N\x86b.",
         "tensor state must be a dict"),
        ("BUILD sets grad", _tensor_pkl(2, 0, (2,), (1,))[:-1] + b"}" + _s("grad") + b"Nsb.",
         "refusing to set attribute 'grad'"),
        ("rebuild_from_type calls os", b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n"
         b"(ctorch\nSize\nctorch\nTensor\n)}tR.", None),
    ]


@pytest.mark.parametrize("layout", ["zip", "legacy", "bare"])
def test_hostile_pickles_never_run(layout, tmp_path):
    marker = tmp_path / "ran"
    cases = _hostile(f"touch {marker}")
    copyreg.add_extension("os", "system", 0xF1)     # for EXT1: read to name it, never used
    try:
        for what, pkl, name in cases:
            data = {"zip": lambda: _torch_file(pkl, {"0": bytes(8)}),
                    "legacy": lambda: LEGACY_HEADER + pkl,
                    "bare": lambda: pkl}[layout]()
            for weights_only in (True, False):
                with pytest.raises(RuntimeError, match="tt.load") as info:
                    load(data, weights_only=weights_only)
                if layout != "bare":
                    assert isinstance(info.value, pickle.UnpicklingError), what
                    assert name is None or name in str(info.value), (what, str(info.value))
    finally:
        copyreg.remove_extension("os", "system", 0xF1)
    assert not marker.exists()


def test_python_pickles_of_objects_are_refused(tmp_path):
    """Pickles Python itself writes for arbitrary objects, at every protocol."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for proto in range(0, pickle.HIGHEST_PROTOCOL + 1):
        pkl = pickle.dumps({"x": [Evil()]}, protocol=proto)
        for data in (_torch_file(pkl), LEGACY_HEADER + pkl):
            with pytest.raises(RuntimeError, match="tt.load"):
                load(data)
    assert not marker.exists()


# ------------------------------------------------------------------- corrupted files

@pytest.mark.parametrize("pkl, storage, match", [
    (_tensor_pkl(4, 0, (5,), (1,)), 16, "address element 4, but the storage holds 4"),
    (_tensor_pkl(4, 4, (1,), (1,)), 16, "address element 4"),
    (_tensor_pkl(4, 0, (3,), (2,)), 16, "address element 4"),
    (_tensor_pkl(4, 0, (2, 2), (2, 1, 1)), 16, "differ in length"),
    (_tensor_pkl(4, 0, (2,), (-1,)), 16, r"int in \[0, 2\*\*62\)"),
    (_tensor_pkl(4, -1, (2,), (1,)), 16, r"int in \[0, 2\*\*62\)"),
    (_tensor_pkl(4, 0, (2 ** 62,), (1,)), 16, r"int in \[0, 2\*\*62\)"),
    (_tensor_pkl(4, 0, (2 ** 40, 2 ** 40), (2 ** 40, 1)), 16, "address element"),
    (_tensor_pkl(4, 0, (b"\x88",), (1,)), 16, r"int in \[0, 2\*\*62\)"),
    (_tensor_pkl(4, 0, (b"G?\xf0\x00\x00\x00\x00\x00\x00",), (1,)), 16, "int in"),
    (_tensor_pkl(2 ** 40, 0, (2,), (1,)), 16, "holds 16 bytes, but the pickle describes"),
    (_tensor_pkl(5, 0, (2,), (1,)), 16, "holds 16 bytes"),
    (_tensor_pkl(4, 0, (2,), (1,), key="7"), 16, "missing from the archive"),
    (_tensor_pkl(4, 0, (2,), (1,), storage=b"FooStorage"), 16, "GLOBAL torch.FooStorage"),
    (_tensor_pkl(2, 0, (2,), (1,), storage=b"ComplexFloatStorage"), 16,
     "dtype torch.complex64, which tinytensor does not support"),
    (_tensor_pkl(2, 0, (2,), (1,), storage=b"LongStorage", requires_grad=True), 16,
     "cannot require gradients"),
    (_tensor_pkl(4, 0, (2,), (1,))[:-10], 16, "truncated"),
    (b"\x80\x02X\xff\xff\xff\x7f" + b"a" * 100 + b".", 0, "truncated"),
    (b"\x80\x02\x8b\xff\xff\xff\x7f.", 0, "integer"),
    (b"\x80\x02\x8b\xff\xff\xff\xff.", 0, "negative length"),
    (b"\x80\x02K\x01K\x02.", 0, "malformed stack"),
    (b"\x80\x02t.", 0, "no MARK"),
    (b"\x80\x02h\x05.", 0, "memo entry 5"),
    (b"\x80\x02R.", 0, "stack is empty"),
    (b"\x80\x02\xff.", 0, "unsupported pickle opcode"),
    (b"\x80\x02", 0, "truncated"),
])
def test_corrupted_torch_files(pkl, storage, match):
    with pytest.raises(RuntimeError, match=match):
        load(_torch_file(pkl, {"0": bytes(storage)}))


def test_claimed_sizes_do_not_allocate():
    cases = [
        _torch_file(_tensor_pkl(2 ** 40, 0, (2,), (1,)), {"0": bytes(16)}),
        _torch_file(b"\x80\x02X\xff\xff\xff\xff" + b"a" * 100 + b"."),
        _torch_file(b"\x80\x02\x8b\x00\x00\x01\x00" + b"a" * 100 + b"."),
        LEGACY_HEADER + _tensor_pkl(2 ** 40, 0, (2,), (1,))[:-1] + b"\x80\x02]X\x01\x00\x00\x000a.",
    ]
    for data in cases:
        tracemalloc.start()
        try:
            with pytest.raises(RuntimeError):
                load(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < (4 << 20)


def test_deflated_storage_lies_are_refused():
    data = bytearray(_zip({"archive/data.pkl": _tensor_pkl(1 << 16, 0, (2,), (1,)),
                           "archive/data/0": bytes(1 << 18)}, zipfile.ZIP_DEFLATED))
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"archive/data/0"))
    data[cd + 24:cd + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    with pytest.raises(RuntimeError, match="more than deflate can produce|holds"):
        load(bytes(data))


GOOD = saved(checkpoint())


def test_every_truncation_point_is_refused_clearly():
    step = max(1, len(GOOD) // 300)
    for cut in list(range(0, len(GOOD), step)) + list(range(len(GOOD) - 40, len(GOOD))):
        with pytest.raises(CLEAR, match="tt.load"):
            load(GOOD[:cut])


def test_random_byte_damage_gives_clear_errors():
    rng = np.random.default_rng(7)
    refused = 0
    for i in range(300):
        data = bytearray(GOOD)
        n = 1 if i % 2 else int(rng.integers(2, 24))
        at = int(rng.integers(0, len(data) - n))
        data[at:at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        try:
            load(bytes(data))
        except CLEAR as e:
            assert str(e).startswith("tt.load"), str(e)
            refused += 1
    assert refused > 150


def test_damaged_pickles_give_clear_errors():
    """Damage inside data.pkl, rezipped so the CRC is valid: the unpickler itself must cope."""
    files = _members(GOOD)
    pkl = files["archive/data.pkl"]
    rng = np.random.default_rng(3)
    for i in range(300):
        p = bytearray(pkl)
        at = int(rng.integers(2, len(p)))
        p[at] = int(rng.integers(0, 256))
        files["archive/data.pkl"] = bytes(p)
        try:
            load(_zip(files))
        except CLEAR:
            pass


def test_damaged_storage_bytes_fail_the_crc_check():
    data = bytearray(saved({"w": tt.arange(64.0)}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("archive/data/0")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    assert bytes(data[start:start + 8]) == np.arange(2, dtype=np.float32).tobytes()
    data[start + 5] ^= 0x40
    with pytest.raises(RuntimeError, match="archive/data/0' is corrupted: its CRC-32"):
        load(bytes(data))


def test_foreign_archives():
    with pytest.raises(RuntimeError, match="TorchScript"):
        load(_zip({"m/data.pkl": b"\x80\x02}.", "m/constants.pkl": b"", "m/version": b"3"}))
    with pytest.raises(RuntimeError, match="unknown byteorder"):
        load(_zip({"a/data.pkl": b"\x80\x02}.", "a/byteorder": b"middle"}))
    with pytest.raises(RuntimeError, match="expected one '<folder>/data.pkl'"):
        load(_zip({"a/b/data.pkl": b"\x80\x02}.", "c/data.pkl": b"\x80\x02}."}))
    tar = bytearray(1024)
    tar[257:262] = b"ustar"
    tar[:4] = b"file"
    with pytest.raises(RuntimeError, match="tar archive"):
        load(bytes(tar))


# ------------------------------------------------------------------- with torch 2.13

def _torch():
    return pytest.importorskip("torch")


def _torch_saved(obj, **kw):
    torch = _torch()
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def _as_numpy(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _check_against_torch(t_obj, tt_obj):
    torch = _torch()
    if isinstance(t_obj, torch.Tensor):
        assert isinstance(tt_obj, tt.Tensor)
        assert tuple(t_obj.shape) == tuple(tt_obj.shape)
        assert t_obj.requires_grad == tt_obj.requires_grad
        assert isinstance(t_obj, torch.nn.Parameter) == isinstance(tt_obj, nn.Parameter)
        np.testing.assert_array_equal(t_obj.detach().float().numpy() if t_obj.dtype in
                                      (torch.float16, torch.bfloat16) else
                                      t_obj.detach().numpy(), _as_numpy(tt_obj))
    elif isinstance(t_obj, torch.Size):
        assert type(tt_obj) is tt.Size and tuple(t_obj) == tuple(tt_obj)
    elif isinstance(t_obj, torch.dtype):
        assert str(t_obj) == "torch." + str(tt_obj).split(".")[1]
    elif isinstance(t_obj, dict):
        assert type(t_obj) is type(tt_obj) and list(t_obj) == list(tt_obj)
        for k in t_obj:
            _check_against_torch(t_obj[k], tt_obj[k])
    elif isinstance(t_obj, (list, tuple)):
        assert type(t_obj) is type(tt_obj) and len(t_obj) == len(tt_obj)
        for a, b in zip(t_obj, tt_obj):
            _check_against_torch(a, b)
    elif isinstance(t_obj, float) and math.isnan(t_obj):
        assert math.isnan(tt_obj)
    else:
        assert t_obj == tt_obj


def _torch_convnet(torch):
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(36, 5))


def _tt_convnet():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(36, 5))


def test_torch_convnet_state_dict_loads_and_matches():
    torch = _torch()
    torch.manual_seed(0)
    net = _torch_convnet(torch)
    x = torch.randn(2, 1, 8, 8)
    net.train()
    net(x)                                        # running stats move off their defaults
    net.eval()
    sd = tt.load(io.BytesIO(_torch_saved(net.state_dict())))
    _check_against_torch(net.state_dict(), sd)
    assert sd._metadata["1"]["version"] == 2       # state_dict's own attribute survives
    model = _tt_convnet()
    model.load_state_dict(sd)
    model.eval()
    np.testing.assert_allclose(model(tt.tensor(x.numpy())).detach().numpy(),
                               net(x).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make_opt", [
    lambda o, p: o.SGD(p, lr=0.1, momentum=0.9),
    lambda o, p: o.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda o, p: o.Adam(p, lr=0.01),
    lambda o, p: o.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-2, amsgrad=True),
])
def test_torch_training_checkpoint_resumes_in_tinytensor(make_opt, tmp_path):
    """torch trains two steps and saves model + optimizer + scheduler + bookkeeping; tinytensor
    loads it and takes the third step to the same parameters torch reaches."""
    torch = _torch()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = make_opt(torch.optim, net.parameters())
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    x, y = torch.randn(6, 4), torch.randn(6, 2)
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
        sched.step()
    ck = {"epoch": 2, "arch": "mlp", "state_dict": net.state_dict(),
          "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "best_acc1": 0.25,
          "history": [[0.5, 0.4], (1, None)]}
    torch.save(ck, tmp_path / "checkpoint.pth.tar")
    back = tt.load(tmp_path / "checkpoint.pth.tar", map_location="cpu")
    _check_against_torch(ck, back)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model.load_state_dict(back["state_dict"])
    opt2 = make_opt(optim, model.parameters())
    opt2.load_state_dict(back["optimizer"])
    for p in opt2.param_groups:
        p["lr"] = back["scheduler"]["_last_lr"][0]
    opt.zero_grad()
    torch.nn.functional.mse_loss(net(x), y).backward()
    opt.step()
    opt2.zero_grad()
    ((model(tt.tensor(x.numpy())) - tt.tensor(y.numpy())) ** 2).mean().backward()
    opt2.step()
    for p, q in zip(net.parameters(), model.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_whole_pickled_torch_model_is_refused_with_a_hint():
    torch = _torch()
    data = _torch_saved(torch.nn.Linear(2, 2))
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL torch\.nn\.modules\.linear\.Linear "
                                                     r".*save model\.state_dict\(\) instead"):
        tt.load(io.BytesIO(data))


def test_torch_views_layouts_and_dtypes():
    torch = _torch()
    torch.manual_seed(0)
    base = torch.arange(24.0)
    obj = {
        "base": base, "view": base[4:16].view(3, 4), "t": base.view(4, 6).t(),
        "step": base[1::3], "expand": torch.randn(1, 3).expand(4, 3),
        "scalar": torch.tensor(1.5), "int0d": torch.tensor(7), "empty": torch.zeros(0, 3),
        "empty_i": torch.zeros(2, 0, dtype=torch.int64), "f64": torch.randn(2, dtype=torch.float64),
        "bool": torch.tensor([True, False, True]), "rg": torch.randn(2, requires_grad=True),
        "param": torch.nn.Parameter(torch.randn(3)),
        "frozen": torch.nn.Parameter(torch.randn(3), requires_grad=False),
        "same": None,
    }
    obj["same"] = obj["base"]
    back = tt.load(io.BytesIO(_torch_saved(obj)))
    _check_against_torch(obj, back)
    assert back["same"] is back["base"]
    assert back["t"].stride() == (1, 6) and back["step"].stride() == (3,)
    assert back["expand"].stride() == (0, 1)
    back["base"][5] = -1.0                                     # one storage, as in torch
    assert back["view"][0, 1].item() == -1.0 and back["t"][5, 0].item() == -1.0
    assert back["step"][1].item() == 4.0
    back["base"][4] = -2.0
    assert back["step"][1].item() == -2.0


def test_torch_dtypes_converted_or_refused():
    torch = _torch()
    converted = {
        torch.float16: tt.float32, torch.bfloat16: tt.float32, torch.int32: tt.int64,
        torch.int16: tt.int64, torch.int8: tt.int64, torch.uint8: tt.int64,
        torch.uint16: tt.int64, torch.uint32: tt.int64,
    }
    values = [-3.5, 0.0, 1.25, 100.0]
    for dt, want in converted.items():
        src = torch.tensor([v for v in values if dt.is_floating_point or v == int(v)])
        src = src.abs() if str(dt).startswith("torch.uint") else src
        t = src.to(dt)
        both = {"x": t, "v": t[1:]}
        back = tt.load(io.BytesIO(_torch_saved(both)))
        assert back["x"].dtype is want, dt
        np.testing.assert_array_equal(back["x"].numpy(), t.to(torch.float64).numpy())
        back["x"][1] = 9                                     # converted once: still shared
        assert back["v"][0].item() == 9
    for dt in (torch.complex64, torch.complex128, torch.uint64):
        with pytest.raises(RuntimeError, match=f"{str(dt)}.*not support"):
            tt.load(io.BytesIO(_torch_saved({"x": torch.zeros(2, dtype=dt)})))
    back = tt.load(io.BytesIO(_torch_saved({"d": torch.float16, "f": torch.float32,
                                            "s": torch.Size([2, 3]),
                                            "dev": torch.device("cpu"), "b": b"\x00\xff",
                                            "set": {1, 2}, "c": 1 + 2j})))
    assert back["f"] is tt.float32 and repr(back["d"]) == "torch.float16"
    assert back["s"] == (2, 3) and type(back["s"]) is tt.Size
    assert str(back["dev"]) == "cpu" and back["b"] == b"\x00\xff" and back["set"] == {1, 2}
    assert back["c"] == 1 + 2j


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_torch_pickle_protocols_and_legacy_format(protocol):
    torch = _torch()
    torch.manual_seed(0)
    base = torch.randn(6)
    obj = {"sd": _torch_convnet(torch).state_dict(), "v": [base, base[2:4]], "n": [1, 2.5, "x"],
           "p": torch.nn.Parameter(torch.ones(2))}
    for legacy in (False, True):
        data = _torch_saved(obj, pickle_protocol=protocol,
                            _use_new_zipfile_serialization=not legacy)
        back = tt.load(io.BytesIO(data))
        _check_against_torch(obj, back)
        back["v"][0][3] = 42.0
        assert back["v"][1][1].item() == 42.0


def test_torch_files_written_without_crcs():
    torch = _torch()
    torch.serialization.set_crc32_options(False)
    try:
        data = _torch_saved({"a": torch.arange(5.0)})
    finally:
        torch.serialization.set_crc32_options(True)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert all(i.CRC == 0 for i in z.infolist())
    assert tt.load(io.BytesIO(data))["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_legacy_format_damage_gives_clear_errors():
    torch = _torch()
    data = _torch_saved({"a": torch.arange(10.0), "b": [1, 2]},
                        _use_new_zipfile_serialization=False)
    for cut in range(0, len(data), 7):
        with pytest.raises(CLEAR, match="tt.load"):
            tt.load(io.BytesIO(data[:cut]))
    rng = np.random.default_rng(11)
    for _ in range(200):
        d = bytearray(data)
        d[int(rng.integers(0, len(d)))] = int(rng.integers(0, 256))
        try:
            tt.load(io.BytesIO(bytes(d)))
        except CLEAR:
            pass


def test_tinytensor_files_open_in_torch_weights_only(tmp_path):
    torch = _torch()
    tt.manual_seed(0)
    model = _tt_convnet()
    model.train()
    model(tt.randn(2, 1, 8, 8))
    model.eval()
    obj = checkpoint()
    obj.pop(("a", 1))                  # torch.load's weights-only reader has tuple keys too,
    obj["model"] = model.state_dict()  # but the comparison below walks str/int keys
    obj["views"] = [tt.arange(6.0), None]
    obj["views"][1] = obj["views"][0][2:].view(2, 2)
    path = tmp_path / "from_tinytensor.pt"
    tt.save(obj, path)
    back = torch.load(path, weights_only=True)
    _check_against_torch(back, obj)
    assert isinstance(back["param"], torch.nn.Parameter) and back["param"].requires_grad
    assert back["shape"] == torch.Size([2, 3]) and back["dtype"] is torch.float64
    assert back["strided"][2].stride() == (0, 1)
    back["views"][0][3] = 50.0
    assert back["views"][1][0, 1].item() == 50.0              # sharing survives in torch
    net = _torch_convnet(torch)
    net.load_state_dict(back["model"])
    net.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(net(torch.from_numpy(x)).detach().numpy(),
                               model(tt.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    mm = torch.load(path, weights_only=True, mmap=True)
    np.testing.assert_array_equal(mm["model"]["0.weight"].numpy(),
                                  model.state_dict()["0.weight"].numpy())


def test_tinytensor_optimizer_state_resumes_in_torch(tmp_path):
    torch = _torch()
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = tt.randn(6, 4), tt.randn(6, 2)
    for _ in range(2):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.pth")
    ck = torch.load(tmp_path / "c.pth", weights_only=True)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    net.load_state_dict(ck["model"])
    topt = torch.optim.Adam(net.parameters(), lr=0.01)
    topt.load_state_dict(ck["optimizer"])
    for o, m, xx, yy in ((opt, model, x, y), (topt, net, torch.from_numpy(x.numpy()),
                                               torch.from_numpy(y.numpy()))):
        o.zero_grad()
        ((m(xx) - yy) ** 2).mean().backward()
        o.step()
    for p, q in zip(model.parameters(), net.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_path_likes_and_file_objects_both_ways(tmp_path):
    torch = _torch()
    sd = {"w": torch.randn(3)}
    torch.save(sd, tmp_path / "t.pt")
    with open(tmp_path / "t.pt", "rb") as f:
        _check_against_torch(sd, tt.load(f))
    _check_against_torch(sd, tt.load(pathlib.Path(tmp_path / "t.pt")))
    buf = io.BytesIO()
    tt.save({"w": tt.ones(2)}, buf, format="torch")
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["w"].tolist() == [1.0, 1.0]
