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


# ---------------------------------------------------------------------------- samplers

import collections  # noqa: E402
import warnings  # noqa: E402

from tinytensor.utils.data import (BatchSampler, ChainDataset, ConcatDataset,  # noqa: E402
                                   IterableDataset, RandomSampler, SequentialSampler, Subset,
                                   SubsetRandomSampler, WeightedRandomSampler, default_convert,
                                   random_split)


def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3] and len(SequentialSampler("ab")) == 2
    s = RandomSampler(range(10), generator=np.random.default_rng(0))
    a, b = list(s), list(s)
    assert sorted(a) == list(range(10)) and a != b and len(s) == 10
    assert list(RandomSampler(range(10), generator=np.random.default_rng(0))) == a
    tt.manual_seed(1)
    c = list(RandomSampler(range(10)))
    tt.manual_seed(1)
    assert list(RandomSampler(range(10))) == c          # the global stream by default
    more = list(RandomSampler(range(4), num_samples=10))
    assert len(more) == 10 and sorted(more[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert len(set(more[8:])) == 2                       # a partial permutation at the end
    rep = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(rep) == 50 and set(rep) == {0, 1, 2}


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(replacement=1), TypeError, "replacement should be a boolean value, but got "
                                     "replacement=1"),
    (dict(num_samples=0), ValueError, "num_samples should be a positive integer value, but got "
                                      "num_samples=0"),
    (dict(num_samples=2.5), ValueError, "num_samples=2.5"),
    (dict(generator=3), TypeError, "numpy.random.Generator"),
])
def test_random_sampler_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        RandomSampler(range(5), **kw)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    s = SubsetRandomSampler([10, 20, 30, 40], generator=np.random.default_rng(2))
    got = list(s)
    assert sorted(got) == [10, 20, 30, 40] and len(s) == 4


def test_weighted_random_sampler():
    s = WeightedRandomSampler([1.0, 0.0, 3.0], num_samples=4000,
                              generator=np.random.default_rng(0))
    counts = np.bincount(list(s), minlength=3)
    assert counts[1] == 0 and 2.6 < counts[2] / counts[0] < 3.4 and len(s) == 4000
    s = WeightedRandomSampler(tt.tensor([1.0, 1.0, 0.0, 5.0]), 3, replacement=False)
    assert sorted(s) == [0, 1, 3]
    firsts = [next(iter(WeightedRandomSampler([1.0, 9.0], 1, replacement=False)))
              for _ in range(400)]
    assert 0.85 < np.mean(firsts) < 0.95            # P(first draw is 1) = 0.9
    assert list(WeightedRandomSampler([0.0, 2.0, 0.0], 3, replacement=False))[0] == 1


@pytest.mark.parametrize("weights, n, kw, exc, msg", [
    ([1.0], 0, {}, ValueError, "num_samples should be a positive integer value"),
    ([1.0], True, {}, ValueError, "num_samples should be a positive integer value"),
    ([1.0], 1, dict(replacement="no"), ValueError, "replacement should be a boolean value"),
    ([[1.0, 2.0]], 1, {}, ValueError, r"weights should be a 1d sequence but given weights have "
                                      r"shape \(1, 2\)"),
])
def test_weighted_random_sampler_construction_errors(weights, n, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        WeightedRandomSampler(weights, n, **kw)


@pytest.mark.parametrize("weights, n, kw, msg", [
    ([1.0, -1.0], 1, {}, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([0.0, 0.0], 1, {}, "sum of probabilities <= 0"),
    ([1.0, float("nan")], 1, {}, "probability tensor contains either `inf`, `nan`"),
    ([1.0, 1.0], 3, dict(replacement=False), "cannot sample n_sample > prob_dist.size"),
])
def test_weighted_random_sampler_bad_weights_at_iteration(weights, n, kw, msg):
    s = WeightedRandomSampler(weights, n, **kw)
    with pytest.raises(RuntimeError, match=msg):
        list(s)


def test_batch_sampler():
    assert list(BatchSampler(range(5), 2, False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, False)) == 3 and len(BatchSampler(range(5), 2, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but "
                                         "got batch_size=0"):
        BatchSampler(range(5), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got "
                                         "drop_last=1"):
        BatchSampler(range(5), 2, 1)


def test_loader_with_sampler_and_batch_sampler():
    ds = TensorDataset(tt.arange(10))
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=3, sampler=range(9, -1, -1))]
    assert got == [[9, 8, 7], [6, 5, 4], [3, 2, 1], [0]]
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=True)
    loader = DataLoader(ds, batch_sampler=bs)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(loader) == 2
    assert [s[0].tolist() for s in DataLoader(ds, batch_size=None)][:2] == [0, 1]


# ---------------------------------------------------------------------------- datasets

def test_random_split_counts_and_fractions():
    ds = TensorDataset(tt.arange(10))
    parts = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    again = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    assert parts[0].indices == again[0].indices
    assert [len(p) for p in random_split(range(11), [0.5, 0.5])] == [6, 5]
    assert [len(p) for p in random_split(range(10), [0.3, 0.3, 0.4])] == [3, 3, 4]
    assert [len(p) for p in random_split(range(5), [0.1, 0.2, 0.7])] == [1, 1, 3]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the "
                                         "input dataset!"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(range(10), [0.5, 1.5, -1.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        random_split(range(10), [12, -2])


def test_subset_and_nested_subsets():
    ds = TensorDataset(tt.arange(10) * 10)
    sub = Subset(Subset(ds, [9, 7, 5, 3]), [1, 3])
    assert len(sub) == 2 and int(sub[0][0]) == 70 and int(sub[1][0]) == 30
    assert [int(s[0]) for s in sub.__getitems__([1, 0])] == [30, 70]
    assert [b[0].tolist() for b in DataLoader(sub, batch_size=2)] == [[70, 30]]


def test_concat_dataset():
    a, b = TensorDataset(tt.arange(3)), TensorDataset(tt.arange(10, 15))
    both = ConcatDataset([a, b])
    assert len(both) == 8 and both.cumulative_sizes == [3, 8]
    assert [int(both[i][0]) for i in range(8)] == [0, 1, 2, 10, 11, 12, 13, 14]
    assert int(both[-1][0]) == 14 and int(both[-8][0]) == 0
    assert len(a + b) == 8
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset "
                                         "length"):
        both[-9]
    with pytest.raises(IndexError):
        both[8]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([a, Count(2)])
    assert [x[0].tolist() for x in DataLoader(both, batch_size=5)] == [[0, 1, 2, 10, 11],
                                                                      [12, 13, 14]]


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_chain_dataset_and_iterable_loader():
    chain = ChainDataset([Count(2), Count(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert list(Count(2) + Count(1)) == [0, 1, 0]
    loader = DataLoader(chain, batch_size=2)
    assert [b.tolist() for b in loader] == [[0, 1], [0, 1], [2]] and len(loader) == 3
    loader = DataLoader(chain, batch_size=2, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 1], [0, 1]] and len(loader) == 2
    assert list(DataLoader(Count(3), batch_size=None)) == [0, 1, 2]


# ---------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")


def test_default_collate_structures():
    out = default_collate([(tt.ones(2), 1, "a"), (tt.zeros(2), 2, "b")])
    assert isinstance(out, list) and out[0].shape == (2, 2) and out[1].tolist() == [1, 2]
    assert out[2] == ("a", "b")              # a column of strings stays a tuple, as PyTorch
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(p) is Point and p.x.dtype == tt.int64 and p.y.dtype == tt.float64
    od = default_collate([collections.OrderedDict(b=1, a=2)] * 2)
    assert type(od) is collections.OrderedDict and list(od) == ["b", "a"]
    nested = default_collate([{"x": [np.float32(1), np.zeros(2)]}] * 3)
    assert nested["x"][0].dtype == tt.float32 and nested["x"][1].shape == (3, 2)
    assert default_collate([1, 2.5]).dtype == tt.float32          # torch.tensor([1, 2.5])
    assert default_collate([b"x", b"y"]) == [b"x", b"y"]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        default_collate([[1, 2], [3]])


@pytest.mark.parametrize("dtype, expect", [
    (np.uint8, tt.int64), (np.int8, tt.int64), (np.int16, tt.int64), (np.int32, tt.int64),
    (np.uint32, tt.int64), (np.int64, tt.int64), (np.float16, tt.float32),
    (np.float32, tt.float32), (np.float64, tt.float64), (np.bool_, tt.bool),
])
def test_default_collate_numpy_dtypes(dtype, expect):
    arrays = [np.arange(6).reshape(2, 3).astype(dtype), np.ones((2, 3), dtype)]
    out = default_collate(arrays)
    assert out.dtype == expect and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays).astype(out.numpy().dtype))
    scalars = default_collate([dtype(1), dtype(0)])
    assert scalars.dtype == expect and scalars.shape == (2,)


@pytest.mark.parametrize("batch", [[np.array(["a"])], [np.array([object()])],
                                   [np.zeros(2, np.complex64)], [None], [object()]])
def test_default_collate_refuses(batch):
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy "
                                        "arrays, numbers, dicts or lists; found"):
        default_collate(batch)


def test_default_convert():
    out = default_convert({"a": np.zeros(3, np.uint8), "b": (np.float32(2), "s"), "c": 5})
    assert out["a"].dtype == tt.int64 and out["b"][0].dtype == tt.float32
    assert out["b"][1] == "s" and isinstance(out["b"], list) and out["c"] == 5
    t = tt.ones(2)
    assert default_convert(t) is t
    assert type(default_convert(Point(np.ones(1), 2))) is Point
    strings = np.array(["x"])
    assert default_convert(strings) is strings


# ---------------------------------------------------------------------------- DataLoader options

@pytest.mark.parametrize("kw, exc, msg", [
    (dict(num_workers=-1), ValueError, "num_workers option should be non-negative; use "
                                       "num_workers=0 to disable multiprocessing."),
    (dict(num_workers=1.5), TypeError, "num_workers must be an int"),
    (dict(timeout=-1), ValueError, "timeout option should be non-negative"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified in "
                                          "multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor option should be "
                                                          "non-negative"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
    (dict(multiprocessing_context="fork"), ValueError, "multiprocessing_context can only be used "
                                                       "with multi-process loading"),
    (dict(num_workers=1, multiprocessing_context="nope"), ValueError,
     "multiprocessing_context option should specify a valid start method in"),
    (dict(num_workers=1, multiprocessing_context=3), TypeError,
     "multiprocessing_context option should be a valid context object"),
    (dict(sampler=[0, 1], shuffle=True), ValueError, "sampler option is mutually exclusive with "
                                                     "shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually "
                                                          "exclusive with batch_size, shuffle, "
                                                          "sampler, and drop_last"),
    (dict(batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler option is mutually"),
    (dict(batch_size=None, drop_last=True), ValueError, "batch_size=None option disables "
                                                        "auto-batching and is mutually exclusive "
                                                        "with drop_last"),
    (dict(drop_last="yes"), ValueError, "drop_last should be a boolean value"),
    (dict(worker_init_fn=3), TypeError, "worker_init_fn must be callable"),
    (dict(generator=0), TypeError, "numpy.random.Generator"),
])
def test_loader_option_errors(kw, exc, msg):
    with pytest.raises(exc, match=msg.replace("(", r"\(").replace(")", r"\)").replace(
            "?", r"\?").replace(".", r"\.").replace("+", r"\+")):
        DataLoader(TensorDataset(*make(4)), **kw)


def test_iterable_dataset_loader_errors():
    for kw, msg in ((dict(shuffle=True), "expected unspecified shuffle option, but got "
                                         "shuffle=True"),
                    (dict(sampler=[0]), "expected unspecified sampler option"),
                    (dict(batch_sampler=[[0]]), "expected unspecified batch_sampler option")):
        with pytest.raises(ValueError, match="DataLoader with IterableDataset: " + msg):
            DataLoader(Count(3), **kw)


def test_loader_attributes_frozen_and_pin_memory_accepted():
    loader = DataLoader(TensorDataset(*make(4)), batch_size=2, pin_memory=True,
                        pin_memory_device="cuda")
    assert [b[1].tolist() for b in loader] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 3
    loader.num_workers = 0                      # not frozen, as PyTorch
    assert loader.collate_fn is default_collate
    assert DataLoader(TensorDataset(*make(4)), batch_size=None).collate_fn is default_convert


def test_mnist_download_flag(tmp_path):
    with pytest.warns(UserWarning, match="tinytensor downloads nothing"):
        ds = MNIST(str(tmp_path / "data"), train=False, download=True)
    assert len(ds) == 1000
    write_mnist(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # files present: no warning
        ds = MNIST(tmp_path, True, None, None, True)   # torchvision's positional order
    assert len(ds) == 6
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        MNIST(tmp_path / "empty", download=False)


def test_distributed_sampler():
    from tinytensor.utils.data.distributed import DistributedSampler
    shares = [DistributedSampler(range(10), 3, r, seed=4) for r in range(3)]
    got = [list(s) for s in shares]
    assert all(len(g) == 4 for g in got) and set(sum(got, [])) == set(range(10))
    assert got == [list(s) for s in shares]                      # same epoch, same order
    for s in shares:
        s.set_epoch(1)
    assert [list(s) for s in shares] != got
    with pytest.raises(RuntimeError, match="pass num_replicas and rank"):
        DistributedSampler(range(10))
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval "
                                         r"\[0, 2\]"):
        DistributedSampler(range(10), 3, 3)


# ---------------------------------------------------------------------------- transforms

from tinytensor.datasets import transforms as T  # noqa: E402


def test_to_tensor():
    hw = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = T.ToTensor()(hw)
    assert out.shape == (1, 3, 4) and out.dtype == tt.float32
    np.testing.assert_allclose(out.numpy()[0], hw / 255.0, rtol=1e-6)
    hwc = np.random.default_rng(0).random((5, 6, 3))
    out = T.ToTensor()(hwc)
    assert out.shape == (3, 5, 6) and out.dtype == tt.float32
    np.testing.assert_allclose(out.numpy(), hwc.transpose(2, 0, 1), rtol=1e-6)
    img = tt.rand(1, 4, 4)
    assert T.ToTensor()(img) is img
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(3)
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 1 dimensions."):
        T.ToTensor()(np.zeros(3))


def test_normalize_and_compose():
    x = tt.rand(2, 3, 4)
    out = T.Normalize((0.5, 0.25), (2.0, 4.0))(x)
    expect = (x.numpy() - np.array([0.5, 0.25], np.float32)[:, None, None]) / \
        np.array([2.0, 4.0], np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), expect, rtol=1e-6)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(x)
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize((0.0,), (1.0,))(tt.zeros(1, 2, 2, dtype=tt.int64))
    with pytest.raises(ValueError, match="Expected tensor to be a tensor image of size"):
        T.Normalize((0.0,), (1.0,))(tt.zeros(2, 2))
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,)), T.Lambda(lambda t: t * 2)])
    assert "ToTensor()" in repr(tf) and "Normalize(mean=(0.1307,), std=(0.3081,))" in repr(tf)
    out = tf(np.zeros((2, 2), np.uint8))
    np.testing.assert_allclose(out.numpy(), np.full((1, 2, 2), -2 * 0.1307 / 0.3081), rtol=1e-6)
    with pytest.raises(TypeError, match="Argument lambd should be callable"):
        T.Lambda(3)


def test_mnist_in_the_official_example_style(tmp_path):
    """torchvision's MNIST idiom, imports changed: transforms, download=True, workers."""
    from tinytensor import datasets
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    with pytest.warns(UserWarning, match="downloads nothing"):
        test_set = datasets.MNIST(str(tmp_path / "data"), train=False, download=True,
                                  transform=tf)
    loader = DataLoader(test_set, batch_size=250, shuffle=False, num_workers=2,
                        pin_memory=True, timeout=60)
    batches = list(loader)
    assert len(batches) == 4 and batches[0][0].shape == (250, 1, 28, 28)
    x = tt.cat([b[0] for b in batches])
    assert abs(x.mean().item()) < 0.1 and 0.9 < x.std().item() < 1.1      # normalized
    assert tt.cat([b[1] for b in batches]).tolist() == test_set.targets.tolist()


def test_stack_dataset():
    from tinytensor.utils.data import StackDataset
    a, b = list(range(3)), ["x", "y", "z"]
    assert StackDataset(a, b)[1] == (1, "y") and len(StackDataset(a, b)) == 3
    assert StackDataset(n=a, s=b)[2] == {"n": 2, "s": "z"}
    loader = DataLoader(StackDataset(n=a, s=b), batch_size=2)
    first = next(iter(loader))
    assert first["n"].tolist() == [0, 1] and first["s"] == ["x", "y"]
    for args, kw, msg in (((a, [1]), {}, "Size mismatch between datasets"),
                          ((), {}, "At least one dataset should be passed"),
                          ((a,), dict(b=b), "but both types are given")):
        with pytest.raises(ValueError, match=msg):
            StackDataset(*args, **kw)


# ---------------------------------------------------------------------------- properties

from hypothesis import given, settings, strategies as st  # noqa: E402


def reference_batches(order, batch_size, drop_last):
    """Batches of `order`, written straight from the definition."""
    out = []
    for start in range(0, len(order), batch_size):
        chunk = list(order[start:start + batch_size])
        if len(chunk) == batch_size or not drop_last:
            out.append(chunk)
    return out


@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_loader_batches_are_the_sampler_order_cut_in_pieces(n, batch_size, drop_last, shuffle,
                                                            seed):
    ds = TensorDataset(tt.arange(n) * 3)
    g = np.random.default_rng(seed)
    if shuffle and n == 0:              # as PyTorch: RandomSampler needs a sample
        with pytest.raises(ValueError, match="num_samples=0"):
            DataLoader(ds, shuffle=True)
        return
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        generator=g)
    got = [b[0].tolist() for b in loader]
    if shuffle:
        g2 = np.random.default_rng(seed)
        g2.integers(0, 1 << 63)                   # the epoch's base seed comes first
        order = g2.permutation(n).tolist()
    else:
        order = list(range(n))
    assert got == [[3 * i for i in b] for b in reference_batches(order, batch_size, drop_last)]
    assert len(loader) == len(got)


@pytest.mark.filterwarnings("ignore:Length of split")     # counts like [0, 1] read as fractions
@given(cuts=st.lists(st.integers(0, 10), min_size=1, max_size=4), seed=st.integers(0, 2**32))
def test_random_split_is_a_partition(cuts, seed):
    total = sum(cuts)
    parts = random_split(range(total), cuts, generator=np.random.default_rng(seed))
    assert [len(p) for p in parts] == cuts
    assert sorted(i for p in parts for i in p.indices) == list(range(total))


@settings(max_examples=8)
@given(n=st.integers(0, 25), batch_size=st.integers(1, 6), drop_last=st.booleans(),
       workers=st.integers(1, 2), prefetch=st.integers(1, 3))
def test_workers_match_single_process_property(n, batch_size, drop_last, workers, prefetch):
    ds = Squares2(n)
    ref = [b.tolist() for b in DataLoader(ds, batch_size=batch_size, drop_last=drop_last)]
    got = [b.tolist() for b in DataLoader(ds, batch_size=batch_size, drop_last=drop_last,
                                          num_workers=workers, prefetch_factor=prefetch,
                                          timeout=30)]
    assert got == ref


class Squares2(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i
