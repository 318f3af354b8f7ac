"""tt.load on hostile files: never executes anything, never allocates more than the file
describes, and every damaged file gives a clear RuntimeError or ValueError.

tests/test_serialization.py covers the named cases (foreign formats, a header that lies, an
oversized header, a corrupted member); this file sweeps: every truncation point, random byte
damage, pickles with side effects, allocation bounds measured with tracemalloc, zip bombs,
deeply nested manifests, and checkpoints whose shapes do not fit the model they are loaded into.
"""
import io
import json
import os
import pickle
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn as nn

CLEAR = (RuntimeError, ValueError)


def _good():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    buf = io.BytesIO()
    tt.save({"model": model.state_dict(), "step": 7, "name": "lenet", "lr": [0.1, float("nan")]},
            buf)
    return buf.getvalue()


GOOD = _good()


def _npy(a):
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


def _manifest(root):
    return _npy(np.array(json.dumps({"format": "tinytensor", "version": 1, "root": root})))


def _zip(files, compression=zipfile.ZIP_STORED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return b.getvalue()


def _load(data):
    return tt.load(io.BytesIO(data))


def test_every_truncation_point_is_refused_clearly():
    step = max(1, len(GOOD) // 400)
    for cut in list(range(0, len(GOOD), step)) + list(range(len(GOOD) - 64, len(GOOD))):
        with pytest.raises(CLEAR, match="tt.load"):
            _load(GOOD[:cut])


def test_random_byte_damage_never_escapes_as_another_error():
    """400 single-byte and burst corruptions: the file loads or raises RuntimeError/ValueError."""
    rng = np.random.default_rng(5)
    loaded = refused = 0
    for i in range(400):
        data = bytearray(GOOD)
        n = 1 if i % 2 else int(rng.integers(2, 32))
        at = int(rng.integers(0, len(data) - n))
        data[at:at + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        try:
            obj = _load(bytes(data))
        except CLEAR as e:
            assert str(e).startswith("tt.load"), str(e)
            refused += 1
        else:
            loaded += 1      # damage in slack bytes (zip comments, padding) can be harmless
            assert set(obj) == {"model", "step", "name", "lr"}
    assert refused > 200


class _SideEffect:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickles_never_run(tmp_path):
    marker = tmp_path / "ran"
    evil = pickle.dumps(_SideEffect(str(marker)))
    legacy_head = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) +
                   pickle.dumps(1001, protocol=2) + pickle.dumps({}, protocol=2))
    attempts = [
        evil,                                                             # a bare pickle
        legacy_head + evil,                                               # torch's legacy layout
        _zip({"archive/data.pkl": evil, "archive/version": b"3"}),       # torch.save layout
        _zip({"__tinytensor__.npy": evil}),                              # pickle as manifest
        _zip({"__tinytensor__.npy": _npy(np.array([_SideEffect(str(marker))], dtype=object))}),
        _zip({"__tinytensor__.npy": _manifest({"type": "ndarray", "key": "x", "dtype": "uint8",
                                               "shape": [1]}),
              "x.npy": _npy(np.array([_SideEffect(str(marker))], dtype=object))}),
    ]
    for data in attempts:
        with pytest.raises(CLEAR):
            _load(data)
    assert not marker.exists()
    with pytest.raises(CLEAR):          # weights_only=False changes nothing
        tt.load(io.BytesIO(evil), weights_only=False)
    assert not marker.exists()


def _peak_while(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            fn()
        except CLEAR:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", [[1 << 40], [1 << 31, 1 << 31], [3, 1 << 62], [0, 1 << 62]])
def test_header_claims_do_not_allocate(shape):
    """A header claiming a huge array in a small member is refused before any allocation."""
    root = {"type": "tensor", "key": "x", "dtype": "float32", "shape": shape,
            "requires_grad": False}
    real = _npy(np.ones(4, np.float32))
    head = ("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }"
            % "".join(f"{s}, " for s in shape))
    fake = b"\x93NUMPY\x01\x00" + len(head.ljust(118) + "\n").to_bytes(2, "little") + \
        (head.ljust(118) + "\n").encode() + real[128:]
    data = _zip({"__tinytensor__.npy": _manifest(root), "x.npy": fake})
    with pytest.raises(ValueError, match="describes .* bytes of data|inconsistent manifest"):
        _load(data)
    assert _peak_while(lambda: _load(data)) < (1 << 20)


def test_zip_size_field_lies_do_not_allocate():
    """The ZIP directory claims a member far larger than the deflate stream can produce."""
    arr = np.zeros(1 << 16, np.float32)
    member = _npy(arr)
    root = {"type": "tensor", "key": "x", "dtype": "float32", "shape": [1 << 16],
            "requires_grad": False}
    data = bytearray(_zip({"__tinytensor__.npy": _manifest(root), "x.npy": member},
                          zipfile.ZIP_DEFLATED))
    # patch the central directory's uncompressed size of x.npy to 1 TB (header says so too)
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = zf.getinfo("x.npy")
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"x.npy"))
    data[cd + 24:cd + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    assert info.file_size == len(member)
    peak = _peak_while(lambda: _load(bytes(data)))
    with pytest.raises(CLEAR):
        _load(bytes(data))
    assert peak < (8 << 20)


@pytest.mark.parametrize("format", ["tinytensor", "torch"])
def test_honest_large_member_allocates_once(format):
    """Loading a 16 MB tensor allocates about 16 MB (one buffer), not a multiple of it."""
    buf = io.BytesIO()
    tt.save(tt.zeros(4 << 20), buf, format=format)
    data = buf.getvalue()
    peak = _peak_while(lambda: _load(data))
    assert peak < 1.5 * (16 << 20)


def test_torch_format_saving_copies_no_storage():
    """tt.save(format="torch") streams each storage into the archive in 1 MB pieces."""
    t = tt.zeros(4 << 20)
    peak = _peak_while(lambda: tt.save({"w": t, "v": t[1:]}, io.BytesIO(), format="torch"))
    assert peak < 1.5 * (16 << 20)      # the BytesIO itself holds 16 MB; no copy of the data


def test_deflate_bomb_bounded_by_ratio():
    """A small compressed member may only expand within what deflate can really produce."""
    n = 64 << 20                                             # 64 MB of zeros, ~64 KB deflated
    root = {"type": "ndarray", "key": "x", "dtype": "uint8", "shape": [n]}
    data = _zip({"__tinytensor__.npy": _manifest(root),
                 "x.npy": _npy(np.zeros(n, np.uint8))}, zipfile.ZIP_DEFLATED)
    assert len(data) < (1 << 20)
    out = _load(data)                                        # honest: deflate does this
    assert out.shape == (n,) and not out.any()
    del out


def test_deeply_nested_manifest():
    n = 5000                          # deeper than tt.load's nesting limit, within json's
    root = '{"type": "list", "items": [' * n + '{"type": "none"}' + "]}" * n
    text = '{"format": "tinytensor", "version": 1, "root": %s}' % root
    with pytest.raises(CLEAR):
        _load(_zip({"__tinytensor__.npy": _npy(np.array(text))}))
    deep = "[" * 200_000 + "]" * 200_000                    # beyond json's recursion limit
    text = '{"format": "tinytensor", "version": 1, "root": %s}' % deep
    with pytest.raises(CLEAR):
        _load(_zip({"__tinytensor__.npy": _npy(np.array(text))}))


def test_member_names_are_only_looked_up_never_extracted(tmp_path):
    root = {"type": "tensor", "key": "../../evil", "dtype": "float32", "shape": [1],
            "requires_grad": False}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        out = _load(_zip({"__tinytensor__.npy": _manifest(root),
                          "../../evil.npy": _npy(np.ones(1, np.float32))}))
        assert out.tolist() == [1.0]
        assert os.listdir(tmp_path) == []
    finally:
        os.chdir(cwd)


def test_wrong_dtype_and_shape_in_members():
    base = {"type": "tensor", "key": "x", "dtype": "float32", "shape": [2, 2],
            "requires_grad": False}
    cases = [
        _npy(np.ones(4, np.float32)),                       # shape differs from the manifest
        _npy(np.ones((2, 2), np.float64)),                  # dtype differs
        _npy(np.ones((2, 2), ">f4")),                       # big-endian float32: converted
        _npy(np.asfortranarray(np.arange(4, dtype=np.float32).reshape(2, 2))),
        _npy(np.array(["ab", "cd"])),                       # strings where numbers belong
        _npy(np.ones((2, 2), np.complex64)),
    ]
    outcomes = []
    for member in cases:
        try:
            out = _load(_zip({"__tinytensor__.npy": _manifest(base), "x.npy": member}))
            outcomes.append(out.tolist())
        except ValueError as e:
            outcomes.append(str(e).split(":")[0])
    assert outcomes[0] == outcomes[1] == outcomes[4] == outcomes[5] == "tt.load"
    assert outcomes[2] == [[1.0, 1.0], [1.0, 1.0]]
    assert outcomes[3] == [[0.0, 1.0], [2.0, 3.0]]


def test_checkpoint_with_wrong_shapes_refused_by_load_state_dict(tmp_path):
    path = tmp_path / "m.pt"
    tt.save(nn.Linear(4, 3).state_dict(), path)
    model = nn.Linear(3, 3)
    before = model.weight.detach().clone()
    with pytest.raises(RuntimeError, match="size mismatch for weight: copying a param with shape "
                                           r"torch.Size\(\[3, 4\]\)"):
        model.load_state_dict(tt.load(path))
    assert np.array_equal(model.weight.detach().numpy(), before.numpy())   # left untouched
    sd = tt.load(path)
    sd["bias"] = "not a tensor"
    with pytest.raises((RuntimeError, TypeError)):
        nn.Linear(4, 3).load_state_dict(sd)


def test_good_file_still_loads():
    out = _load(GOOD)
    assert out["step"] == 7 and out["name"] == "lenet" and np.isnan(out["lr"][1])
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    model.load_state_dict(out["model"])
