"""tt.save / tt.load: round trips, the documented .npz layout, and hostile files."""
import io
import json
import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import serialization


def same(a, b):
    assert type(a) is type(b)
    if isinstance(a, tt.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
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


@pytest.mark.parametrize("t", [
    tt.randn(3, 4), tt.tensor(2.5), tt.arange(6).view(2, 3), tt.tensor([True, False]),
    tt.randn(2, 2, dtype=tt.float64), tt.zeros(0, 3), tt.randn(3, requires_grad=True),
    tt.randn(4, 6)[:, ::2].t(),             # a non-contiguous view
])
def test_tensor_round_trip(t, tmp_path):
    tt.save(t, tmp_path / "t.pt")
    same(t, tt.load(tmp_path / "t.pt"))


def test_nested_round_trip(tmp_path):
    obj = {
        "model": OrderedDict([("conv1.weight", tt.randn(2, 1, 3, 3)), ("conv1.bias", tt.zeros(2))]),
        "optimizer": {"state": {0: {"step": tt.tensor(3.0), "exp_avg": tt.ones(2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "foreach": None,
                                        "amsgrad": False, "params": [0, 1]}]},
        "epoch": 7, "loss": float("nan"), "best": float("inf"), "name": "lenet ✓",
        "numpy": np.arange(5, dtype=np.uint8), 1.5: "float key", None: [], True: (),
    }
    tt.save(obj, tmp_path / "ck.npz")
    back = tt.load(tmp_path / "ck.npz")
    same(obj, back)
    assert isinstance(back["model"], OrderedDict) and not isinstance(back["optimizer"],
                                                                      OrderedDict)
    assert list(back["optimizer"]["state"]) == [0]          # int keys stay ints


def test_file_objects_and_exact_path(tmp_path):
    buf = io.BytesIO()
    tt.save({"a": tt.ones(2)}, buf)
    buf.seek(0)
    same({"a": tt.ones(2)}, tt.load(buf))
    tt.save(tt.ones(1), tmp_path / "weights.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.pt"]     # no ".npz" added


def test_numpy_alone_reads_the_file(tmp_path):
    sd = OrderedDict([("fc.weight", tt.randn(3, 2)), ("fc.bias", tt.randn(3))])
    tt.save({"model": sd, "step": 3}, tmp_path / "ck.npz")
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["__tinytensor__", "model.fc.bias", "model.fc.weight"]
        np.testing.assert_array_equal(z["model.fc.weight"], sd["fc.weight"].numpy())
        manifest = json.loads(str(z["__tinytensor__"]))
    assert manifest["format"] == "tinytensor" and manifest["version"] == 1
    root = manifest["root"]
    assert root["type"] == "dict"
    assert root["items"][1] == [{"type": "str", "value": "step"}, {"type": "int", "value": 3}]


def test_colliding_paths_get_distinct_keys(tmp_path):
    obj = {"a.b": tt.ones(1), "a": {"b": tt.zeros(1)}}
    tt.save(obj, tmp_path / "c.npz")
    same(obj, tt.load(tmp_path / "c.npz"))


@pytest.mark.parametrize("bad", [object(), {"f": len}, {(1, 2): tt.ones(1)},
                                 np.array([{}], dtype=object), {"s": {1, 2}}])
def test_unsupported_objects_raise_type_error(bad, tmp_path):
    with pytest.raises(TypeError, match="tt.save"):
        tt.save(bad, tmp_path / "x.npz")


# ---------------------------------------------------------------------------- hostile files

def good_bytes():
    buf = io.BytesIO()
    tt.save({"w": tt.randn(64, 64), "b": tt.randn(64)}, buf)
    return buf.getvalue()


def rewrite(members):
    """A zip archive with the given {name: bytes} members (stored)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def manifest_bytes(root):
    return npy(np.array(json.dumps({"format": "tinytensor", "version": 1, "root": root})))


def load_bytes(data, tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(data)
    return tt.load(path)


@pytest.mark.parametrize("cut", [0, 3, 10, 100, 1000, 5000, -30, -1])
def test_truncated_file(cut, tmp_path):
    data = good_bytes()
    with pytest.raises(RuntimeError, match="tt.load: .*(truncated|not a tinytensor)"):
        load_bytes(data[:cut], tmp_path)


def test_foreign_files(tmp_path):
    with pytest.raises(RuntimeError, match="not a ZIP archive"):
        load_bytes(b"hello world, not a checkpoint", tmp_path)
    with pytest.raises(RuntimeError, match="single .npy"):
        load_bytes(npy(np.ones(3)), tmp_path)
    with pytest.raises(RuntimeError, match="pickle"):
        load_bytes(pickle.dumps({"a": 1}), tmp_path)
    buf = io.BytesIO()
    np.savez(buf, a=np.ones(2))
    with pytest.raises(RuntimeError, match="no __tinytensor__.npy manifest"):
        load_bytes(buf.getvalue(), tmp_path)
    # PyTorch's layout is read (tests/test_torch_format.py): an empty dict here
    assert load_bytes(rewrite({"archive/data.pkl": b"\x80\x02}q\x00.", "archive/version": b"3"}),
                      tmp_path) == {}
    with pytest.raises(RuntimeError, match="'format': 'tinytensor'"):
        load_bytes(rewrite({"__tinytensor__.npy": npy(np.array(json.dumps({"a": 1})))}),
                   tmp_path)
    with pytest.raises(FileNotFoundError):
        tt.load(tmp_path / "missing.npz")


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('executed!')",))


def test_pickled_arrays_are_never_unpickled(tmp_path):
    evil = np.array([Boom()], dtype=object)
    root = {"type": "ndarray", "key": "x", "dtype": "uint8", "shape": [1]}
    with pytest.raises(ValueError, match="object/pickled data is refused"):
        load_bytes(rewrite({"__tinytensor__.npy": manifest_bytes(root), "x.npy": npy(evil)}),
                   tmp_path)
    # a pickled manifest is refused too
    with pytest.raises(ValueError, match="refused"):
        load_bytes(rewrite({"__tinytensor__.npy": npy(np.array([Boom()], dtype=object))}),
                   tmp_path)


@pytest.mark.parametrize("root, members, msg", [
    ({"type": "tensor", "key": "x", "dtype": "float32", "shape": [2], "requires_grad": False},
     {}, "listed but missing"),
    ({"type": "tensor", "key": "x", "dtype": "float32", "shape": [3], "requires_grad": False},
     {"x.npy": np.ones(2, np.float32)}, r"float32\[2\] in the archive but float32\[3\]"),
    ({"type": "tensor", "key": "x", "dtype": "float64", "shape": [2], "requires_grad": False},
     {"x.npy": np.ones(2, np.float32)}, "in the manifest"),
    ({"type": "tensor", "key": "x", "dtype": "uint8", "shape": [2], "requires_grad": False},
     {"x.npy": np.ones(2, np.uint8)}, "has dtype 'uint8'"),
    ({"type": "none"}, {"x.npy": np.ones(2)}, "not described by it"),
    ({"type": "list", "items": [{"type": "int", "value": "3"}]}, {}, "int node"),
    ({"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]}, {},
     "dict key node"),
    ({"type": "exec", "value": "print(1)"}, {}, "unknown node type"),
    ({"type": "list", "items": [{"type": "tensor", "key": "x", "dtype": "float32", "shape": [1]},
                                {"type": "tensor", "key": "x", "dtype": "float32",
                                 "shape": [1]}]},
     {"x.npy": np.ones(1, np.float32)}, "referenced twice"),
])
def test_mismatched_manifest(root, members, msg, tmp_path):
    files = {"__tinytensor__.npy": manifest_bytes(root)}
    files.update({k: npy(v) for k, v in members.items()})
    with pytest.raises(ValueError, match=msg):
        load_bytes(rewrite(files), tmp_path)


def test_header_lies_about_size_before_allocating(tmp_path):
    root = {"type": "tensor", "key": "x", "dtype": "float32", "shape": [1 << 40],
            "requires_grad": False}
    real = npy(np.ones(4, np.float32))
    fake = real.replace(b"'shape': (4,)", b"'shape': (9,)")        # same header length
    with pytest.raises(ValueError, match="describes 36 bytes of data"):
        load_bytes(rewrite({"__tinytensor__.npy": manifest_bytes(root), "x.npy": fake}),
                   tmp_path)


def test_oversized_header(tmp_path):
    big = b"\x93NUMPY\x02\x00" + (200_000).to_bytes(4, "little") + b" " * 200_000
    root = {"type": "tensor", "key": "x", "dtype": "float32", "shape": [1],
            "requires_grad": False}
    with pytest.raises(ValueError, match="malformed header"):
        load_bytes(rewrite({"__tinytensor__.npy": manifest_bytes(root), "x.npy": big}),
                   tmp_path)


def test_corrupted_member_data(tmp_path):
    data = bytearray(good_bytes())
    i = data.find(b"w.npy")
    data[i + 400] ^= 0xFF          # inside the stored array data: the CRC check fails
    with pytest.raises(RuntimeError, match="truncated or corrupted"):
        load_bytes(bytes(data), tmp_path)


def test_map_location():
    buf = io.BytesIO()
    tt.save(tt.ones(1), buf)
    buf.seek(0)
    assert tt.load(buf, map_location="cpu").item() == 1.0
    with pytest.raises(RuntimeError, match="CPU only"):
        tt.load(buf, map_location="cuda")


def test_module_docstring_documents_layout():
    doc = serialization.__doc__
    for word in ("__tinytensor__.npy", "dotted path", "allow_pickle=False", '"type": "tensor"'):
        assert word in doc


def test_parameters_and_module_state_dicts(tmp_path):
    import tinytensor.nn as nn
    p = nn.Parameter(tt.randn(3))
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    tt.save({"p": p, "model": model.state_dict()}, tmp_path / "m.npz")
    back = tt.load(tmp_path / "m.npz")
    assert isinstance(back["p"], nn.Parameter) and back["p"].requires_grad
    assert list(back["model"]) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    fresh = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    fresh.load_state_dict(back["model"])
    x = tt.randn(4, 2)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_compressed_members_are_read_and_impossible_sizes_refused(tmp_path):
    buf = io.BytesIO()
    tt.save({"z": tt.zeros(1000, 100)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        members = {n: src.read(n) for n in src.namelist()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for n, data in members.items():
            z.writestr(n, data)
    back = load_bytes(out.getvalue(), tmp_path)            # a re-compressed checkpoint loads
    assert back["z"].shape == (1000, 100)
    data = bytearray(out.getvalue())
    # claim 4 GiB of uncompressed data for z.npy in the central directory
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"z.npy"))
    data[cd + 24:cd + 28] = (0xFFFFFF00).to_bytes(4, "little")
    with pytest.raises(ValueError, match="more than deflate can produce"):
        load_bytes(bytes(data), tmp_path)
