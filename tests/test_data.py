"""TensorDataset / DataLoader batching, the IDX reader on files written here, bundled MNIST."""
import gzip
import struct

import numpy as np
import pytest

import tinytensor as tt
from tinytensor.datasets import MNIST, read_idx
from tinytensor.utils.data import DataLoader, Dataset, TensorDataset, default_collate


# ---------------------------------------------------------------------------- DataLoader

def make(n=10):
    x = tt.arange(n * 2).float().view(n, 2)
    y = tt.arange(n)
    return x, y


@pytest.mark.parametrize("n, bs, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]),
    (3, 5, False, [3]), (3, 5, True, []), (0, 2, False, []),
])
def test_batch_sizes_and_len(n, bs, drop_last, sizes):
    x, y = make(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == sizes
    assert len(loader) == len(sizes)


def test_sequential_batches_are_ordered_copies():
    x, y = make(10)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=3)))
    assert yb.tolist() == [0, 1, 2] and yb.dtype == tt.int64
    assert xb.tolist() == [[0, 1], [2, 3], [4, 5]] and xb.dtype == tt.float32
    xb.zero_()
    assert x[0].tolist() == [0, 1]          # a batch does not alias the dataset


def test_shuffle_is_a_permutation_and_follows_manual_seed():
    x, y = make(23)
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True)
    tt.manual_seed(3)
    a = [yb.tolist() for _, yb in loader]
    b = [yb.tolist() for _, yb in loader]
    tt.manual_seed(3)
    c = [yb.tolist() for _, yb in loader]
    assert a == c and a != b                   # repeatable, and a new order each epoch
    flat = sum(a, [])
    assert sorted(flat) == list(range(23)) and flat != list(range(23))
    for xb, yb in loader:                      # rows stay paired
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())


def test_shuffle_drop_last_drops_the_remainder():
    x, y = make(10)
    tt.manual_seed(0)
    batches = [yb.tolist() for _, yb in DataLoader(TensorDataset(x, y), batch_size=4,
                                                   shuffle=True, drop_last=True)]
    assert [len(b) for b in batches] == [4, 4] and len(set(sum(batches, []))) == 8


def test_tensor_dataset_items_and_errors():
    x, y = make(4)
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[1]
    assert xi.tolist() == [2, 3] and yi.item() == 1
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(x, tt.arange(3))
    with pytest.raises(TypeError, match="must be a Tensor"):
        TensorDataset(x, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    assert len(TensorDataset(np.zeros((3, 2)))) == 3


def test_tensor_requiring_grad_keeps_graph():
    w = tt.randn(6, 2, requires_grad=True)
    (xb,) = next(iter(DataLoader(TensorDataset(w), batch_size=4, shuffle=True)))
    xb.sum().backward()
    assert w.grad.sum().item() == 8.0


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.full((2,), i, np.float32), i * i


def test_generic_dataset_is_collated():
    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    assert xb.shape == (3, 2) and xb.dtype == tt.float32
    assert yb.tolist() == [0, 1, 4] and yb.dtype == tt.int64


def test_default_collate_rules():
    assert default_collate([1.5, 2.0]).dtype == tt.float64
    assert default_collate([True, False]).dtype == tt.bool
    assert default_collate(["a", "b"]) == ["a", "b"]
    out = default_collate([{"x": tt.ones(2), "y": 1}, {"x": tt.zeros(2), "y": 2}])
    assert out["x"].shape == (2, 2) and out["y"].tolist() == [1, 2]
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


@pytest.mark.parametrize("kw, exc", [(dict(batch_size=0), ValueError),
                                     (dict(batch_size=-1), ValueError),
                                     (dict(batch_size=2.0), ValueError),
                                     (dict(shuffle="yes"), TypeError)])
def test_loader_validation(kw, exc):
    with pytest.raises(exc):
        DataLoader(TensorDataset(*make(4)), **kw)
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(3)


# ---------------------------------------------------------------------------- IDX reader

def idx_bytes(array, code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("array, code", [
    (np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4), 0x08),
    (np.array([0, 9, 3], np.uint8), 0x08),
    (np.array([-1, 5], np.int8), 0x09),
    (np.array([[1, -300]], np.int16), 0x0B),
    (np.array([70000, -5], np.int32), 0x0C),
    (np.array([1.5, -2.25], np.float32), 0x0D),
    (np.array([[1e300]], np.float64), 0x0E),
    (np.zeros((0, 28, 28), np.uint8), 0x08),
])
def test_idx_round_trip(array, code, gz, tmp_path):
    data = idx_bytes(array, code)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path)
    assert got.dtype == array.dtype and got.dtype.isnative and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("data, msg", [
    (b"", "too short"),
    (b"\x00\x00\x08", "too short"),
    (b"\x01\x00\x08\x01" + b"\x00" * 8, "bad magic"),
    (b"\x00\x00\x07\x01" + b"\x00" * 8, "bad magic"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x20" + b"\x00" * 8, "32 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated"),
    (GOOD[:-1], "holds 23"),
    (GOOD + b"\x00", "holds 25"),
    (b"\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "holds 0"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_malformed(data, msg, gz, tmp_path):
    path = tmp_path / "bad"
    path.write_bytes(gzip.compress(data) if gz else data)
    if gz:          # no file size to compare with: the reader notices while reading
        msg = {"holds 23": "truncated", "holds 25": "bytes after", "holds 0": "truncated"}.get(
            msg, msg)
    with pytest.raises(ValueError, match=msg):
        read_idx(path)


def test_idx_corrupted_gzip(tmp_path):
    blob = gzip.compress(GOOD * 50)
    (tmp_path / "a").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "a")
    bad = bytearray(blob)
    bad[20] ^= 0xFF
    (tmp_path / "b").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="IDX file"):
        read_idx(tmp_path / "b")


# ---------------------------------------------------------------------------- MNIST

def write_mnist(root, n_train=6, n_test=3, gz=True, images=None):
    rng = np.random.default_rng(0)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        img = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
        lbl = np.arange(n, dtype=np.uint8) % 10
        for name, arr in ((f"{stem}-images-idx3-ubyte", img), (f"{stem}-labels-idx1-ubyte", lbl)):
            data = idx_bytes(arr)
            if gz:
                (root / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (root / name).write_bytes(data)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_root(gz, tmp_path):
    write_mnist(tmp_path, gz=gz)
    train, test = MNIST(tmp_path), MNIST(str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 3
    img, label = train[4]
    assert img.shape == (1, 28, 28) and img.dtype == tt.float32 and label == 4
    np.testing.assert_allclose(img.numpy()[0], train.data[4] / 255.0, rtol=1e-6)
    assert train.targets.dtype == tt.int64 and train.data.dtype == np.uint8


def test_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNIST(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        MNIST(tmp_path / "nope")
    write_mnist(tmp_path, images=np.zeros((6, 28, 27), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 images \[N, 28, 28\]"):
        MNIST(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8))))
    with pytest.raises(ValueError, match="5 images but .* 6 labels"):
        MNIST(tmp_path)
    write_mnist(tmp_path)
    with pytest.raises(IndexError):
        MNIST(tmp_path)[6]


def test_bundled_sample():
    train, test = MNIST(), MNIST(train=False)
    assert len(train) == 4000 and len(test) == 1000
    assert train.data.shape == (4000, 28, 28) and train.data.dtype == np.uint8
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [100] * 10
    img, label = test[0]
    assert img.shape == (1, 28, 28) and 0.0 <= img.numpy().min() and img.numpy().max() <= 1.0
    assert label == int(test.targets[0])
    assert 0.1 < train.data.mean() / 255 < 0.2            # MNIST's mean intensity is ~0.13
