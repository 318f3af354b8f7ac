"""PyTorch 2.13 as an oracle for torch.utils.data's surface: the DataLoader's and samplers'
errors (type and text), default_collate / default_convert, random_split's lengths,
ConcatDataset indexing, and the same batches from a DataLoader given the same index order."""
import collections
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.utils.data as TD  # noqa: E402

import tinytensor as tt  # noqa: E402
import tinytensor.utils.data as D  # noqa: E402


def outcome(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as e:          # noqa: BLE001 (the exception is the result)
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("kw", [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope"),
    dict(num_workers=1, multiprocessing_context=3), dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
    dict(batch_size=0), dict(batch_size=-3), dict(drop_last=1),
])
def test_loader_errors_match(kw):
    def make(lib, data):
        return lambda: data.DataLoader(data.TensorDataset(lib.arange(4)), **kw)
    theirs = outcome(make(torch, TD))
    assert theirs is not None
    assert outcome(make(tt, D)) == theirs


def test_loader_errors_after_init_match():
    for lib, data in ((torch, TD), (tt, D)):
        loader = data.DataLoader(data.TensorDataset(lib.arange(4)), batch_size=2)
        with pytest.raises(ValueError) as info:
            loader.sampler = None
        if lib is torch:
            expected = str(info.value)
    assert str(info.value) == expected


class TorchCount(TD.IterableDataset):
    def __iter__(self):
        return iter(range(3))


class TtCount(D.IterableDataset):
    def __iter__(self):
        return iter(range(3))


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0]),
                                dict(batch_sampler=[[0]])])
def test_iterable_dataset_errors_match(kw):
    theirs = outcome(lambda: TD.DataLoader(TorchCount(), **kw))
    ours = outcome(lambda: D.DataLoader(TtCount(), **kw))
    # the option's repr differs where it is an object of each library; compare the rest
    assert ours[0] == theirs[0] and ours[1].split(" but got")[0] == theirs[1].split(" but got")[0]


@pytest.mark.parametrize("make", [
    lambda m: m.RandomSampler(range(3), replacement=1),
    lambda m: m.RandomSampler(range(3), num_samples=0),
    lambda m: m.RandomSampler(range(3), num_samples=-2),
    lambda m: m.RandomSampler([]),
    lambda m: m.BatchSampler(range(3), 0, False),
    lambda m: m.BatchSampler(range(3), 2.0, False),
    lambda m: m.BatchSampler(range(3), 2, "no"),
    lambda m: m.WeightedRandomSampler([1.0], 0),
    lambda m: m.WeightedRandomSampler([1.0], 1, replacement=0),
    lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 1),
    lambda m: list(m.WeightedRandomSampler([1.0, -1.0], 1)),
    lambda m: list(m.WeightedRandomSampler([0.0, 0.0], 1)),
    lambda m: list(m.WeightedRandomSampler([1.0, 1.0], 3, replacement=False)),
    lambda m: list(m.WeightedRandomSampler([1.0, float("nan")], 1)),
    lambda m: m.ConcatDataset([]),
    lambda m: m.random_split(range(10), [3, 3]),
    lambda m: m.random_split(range(10), [0.5, 1.5, -1.0]),
])
def test_sampler_and_split_errors_match(make):
    theirs = outcome(lambda: make(TD))
    assert theirs is not None
    ours = outcome(lambda: make(D))
    if theirs[0] == "AssertionError":       # PyTorch asserts; we raise a ValueError / TypeError
        assert ours[0] in ("ValueError", "TypeError") and ours[1] == theirs[1]
    else:
        assert ours == theirs


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11, 97])
@pytest.mark.parametrize("fractions", [[0.5, 0.5], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4],
                                       [1.0], [0.0, 1.0], [0.25] * 4, [1 / 3] * 3])
def test_random_split_lengths_match(n, fractions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [len(s) for s in TD.random_split(range(n), fractions)]
        ours = [len(s) for s in D.random_split(range(n), fractions)]
    assert ours == theirs


def test_weighted_sampler_zero_weights_last_without_replacement():
    for m in (TD, D):
        got = list(m.WeightedRandomSampler([1.0, 0.0, 1.0, 0.0], 4, replacement=False))
        assert sorted(got[:2]) == [0, 2] and sorted(got[2:]) == [1, 3]


def test_concat_dataset_indexing_matches():
    parts_t = [list(range(3)), list(range(10, 12)), [], list(range(20, 24))]
    theirs, ours = TD.ConcatDataset(parts_t), D.ConcatDataset(parts_t)
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-len(theirs), len(theirs)):
        assert ours[i] == theirs[i]


def plain(x):
    """A collated structure with tensors as (dtype name, values), for comparison."""
    if isinstance(x, (tt.Tensor, torch.Tensor)):
        name = str(x.dtype).split(".")[-1]
        return ("T", {"uint8": "int64", "int32": "int64", "int16": "int64", "int8": "int64",
                      "float16": "float32"}.get(name, name), x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__, [plain(v) for v in x])
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [plain(v) for v in x])
    return x


Pair = collections.namedtuple("Pair", "a b")


def batches():
    rng = np.random.default_rng(0)
    return [
        [1, 2, 3], [1.5, 2.0], [True, False], [1, 2.5], ["a", "b"], [b"x", b"y"],
        [np.float32(1.5), np.float32(2)], [np.int32(3), np.int32(4)], [np.bool_(True)] * 2,
        [rng.standard_normal((2, 3)) for _ in range(3)],
        [rng.integers(0, 255, (2, 2)).astype(np.uint8) for _ in range(2)],
        [np.ones(3, np.float16), np.zeros(3, np.float16)],
        [(1, "a", 2.0), (2, "b", 3.0)], [[1, 2], [3, 4]], [Pair(1, 2.0), Pair(3, 4.0)],
        [{"x": 1, "y": [1.0, 2.0]}, {"x": 2, "y": [3.0, 4.0]}],
        [collections.OrderedDict(b=1, a=2), collections.OrderedDict(b=3, a=4)],
        [{"img": np.ones((2, 2), np.float32), "meta": {"id": 3, "name": "n"}}] * 2,
    ]


@pytest.mark.parametrize("i", range(len(batches())))
def test_default_collate_matches(i):
    batch = batches()[i]
    theirs = plain(TD.default_collate(batch))
    assert plain(D.default_collate(batch)) == theirs


def test_default_collate_tensors_and_errors_match():
    data = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    theirs = plain(TD.default_collate([torch.from_numpy(r) for r in data]))
    assert plain(D.default_collate([tt.from_numpy(r.copy()) for r in data])) == theirs
    for bad in ([object()], [np.array(["s"])], [[1, 2], [3]]):
        assert outcome(lambda: D.default_collate(bad))[0] == \
            outcome(lambda: TD.default_collate(bad))[0]


@pytest.mark.parametrize("i", range(len(batches())))
def test_default_convert_matches(i):
    sample = batches()[i][0]
    assert plain(D.default_convert(sample)) == plain(TD.default_convert(sample))


class SquaresT(TD.Dataset):
    def __len__(self):
        return 23

    def __getitem__(self, i):
        return np.full(2, i, np.float32), i, {"sq": float(i * i)}


class SquaresD(D.Dataset):
    __len__ = SquaresT.__len__
    __getitem__ = SquaresT.__getitem__


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=5, drop_last=True),
                                dict(batch_size=None), dict(batch_size=3, sampler=[5, 1, 9, 2])])
@pytest.mark.parametrize("workers", [0, 2])
def test_loader_batches_match(kw, workers):
    theirs = [plain(b) for b in TD.DataLoader(SquaresT(), **kw)]
    extra = dict(num_workers=workers, timeout=30) if workers else {}
    assert [plain(b) for b in D.DataLoader(SquaresD(), **kw, **extra)] == theirs
    assert len(D.DataLoader(SquaresD(), **kw)) == len(TD.DataLoader(SquaresT(), **kw))


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (2, 4, False),
                                                    (9, 3, False), (1, 1, True), (7, 2, True)])
def test_distributed_sampler_shares_match_unshuffled(n, replicas, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TS

    from tinytensor.utils.data.distributed import DistributedSampler as DS
    for rank in range(replicas):
        theirs = TS(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        ours = DS(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert outcome(lambda: DS(range(n), replicas, replicas)) == \
        outcome(lambda: TS(range(n), replicas, replicas))


def test_stack_dataset_errors_match():
    for args, kw in (((range(3), range(2)), {}), ((), {}), ((range(3),), dict(b=range(3)))):
        assert outcome(lambda: D.StackDataset(*args, **kw)) == \
            outcome(lambda: TD.StackDataset(*args, **kw))
