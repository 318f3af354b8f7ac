"""Datasets, as `torch.utils.data`: map-style (`Dataset`) and iterable-style (`IterableDataset`),
and the ways of combining them (`Subset`, `ConcatDataset`, `ChainDataset`, `random_split`).

    train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
"""
import bisect
import itertools
import math
import numbers
import warnings

import numpy as np

from tinytensor.tensor import Tensor, from_numpy
from tinytensor.utils.data._generator import numpy_generator

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset",
           "ConcatDataset", "ChainDataset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses implement `__getitem__(index)` and usually `__len__()`.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self): return 10
        ...     def __getitem__(self, i): return i, i * i
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: subclasses implement `__iter__()`.

    With `num_workers > 0` every worker iterates its own copy; use `get_worker_info()` in
    `__iter__` to give each worker its own share, or each sample comes once per worker.

    Example:
        >>> class Range(IterableDataset):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self):
        ...         info = get_worker_info()
        ...         k, step = (0, 1) if info is None else (info.id, info.num_workers)
        ...         return iter(range(k, self.n, step))
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    Args:
        *tensors: tensors (or NumPy arrays) with the same size of dimension 0.

    Raises:
        TypeError: an argument is not a tensor or NumPy array.
        ValueError: no tensors, or the first dimensions differ ("Size mismatch between tensors").

    Example:
        >>> ds = TensorDataset(tt.randn(100, 3), tt.arange(100))
        >>> x, y = ds[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        out = []
        for i, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = from_numpy(t)
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor, got "
                                f"{type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; every tensor "
                                 "needs a first (sample) dimension")
            out.append(t)
        n = out[0].shape[0]
        if any(t.shape[0] != n for t in out):
            raise ValueError("Size mismatch between tensors: first dimensions are "
                             f"{[t.shape[0] for t in out]}")
        self.tensors = tuple(out)

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _batch(self, indices):
        """The collated batch at `indices` (a list of ints), one gather per tensor.

        Equal to `default_collate([self[i] for i in indices])` without the per-sample work.
        """
        idx = np.asarray(indices, dtype=np.int64)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = int(idx[(idx < -n) | (idx >= n)][0])
            raise IndexError(f"index {bad} is out of bounds for dimension 0 with size {n}")
        out = []
        for t in self.tensors:
            if t.requires_grad:             # keep the graph: index through autograd
                out.append(t[from_numpy(idx)])
            else:
                out.append(from_numpy(t._numpy()[idx]))
        return out          # a list, as PyTorch's default_collate returns for tuple samples


class StackDataset(Dataset):
    """Several datasets of one length side by side: item i is a tuple (positional datasets) or
    a dict (keyword datasets) of their items i.

    Raises:
        ValueError: no datasets, both kinds at once, or different lengths.

    Example:
        >>> images, labels = tt.zeros(4, 1, 2, 2), tt.arange(4)
        >>> pairs = StackDataset(images, labels)             # pairs[0] == (images[0], labels[0])
        >>> named = StackDataset(image=images, label=labels)
        >>> named[3]["label"]
        tensor(3)
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        parts = args or list(kwargs.values())
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args or kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order.

    Example:
        >>> first_ten = Subset(TensorDataset(tt.arange(100)), range(10))
        >>> len(first_ten), first_ten[9]
        (10, (tensor(9),))
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        inner = [self.indices[i] for i in indices]
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """The samples of several map-style datasets, one after the other.

    Args:
        datasets (iterable): the datasets (not iterable-style ones).

    Raises:
        ValueError: no datasets.
        TypeError: one of them is an `IterableDataset`.

    Example:
        >>> train, extra = TensorDataset(tt.zeros(5)), TensorDataset(tt.ones(3))
        >>> both = ConcatDataset([train, extra])      # or train + extra
        >>> len(both) == len(train) + len(extra), both[5]
        (True, (tensor(1.),))
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = n + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        if which == len(self.datasets):
            raise IndexError(f"index {idx} is out of range for ConcatDataset with {n} samples")
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """The samples of several iterable-style datasets, one after the other.

    Example:
        >>> class Range(IterableDataset):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter(range(self.n))
        >>> list(ChainDataset([Range(2), Range(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


def _split_lengths(n, lengths):
    """Integer lengths from `lengths` (counts, or fractions summing to 1), as PyTorch."""
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):        # the remainder, one each, round robin
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=3)
        return counts
    for i, c in enumerate(lengths):
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
            raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                             f"summing to 1; got {c!r} at index {i}")
    if total != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    return [int(c) for c in lengths]


def random_split(dataset, lengths, generator=None):
    """Split a dataset into non-overlapping random subsets of the given lengths.

    Args:
        dataset: a map-style dataset.
        lengths: the subsets' sizes, as counts summing to `len(dataset)` or as fractions
            summing to 1 (each `floor(len * frac)`, the remainder handed out one by one from
            the first subset on).
        generator (numpy.random.Generator, optional): the random stream (default: tinytensor's,
            so `tt.manual_seed` makes the split repeatable).

    Returns:
        A list of ``Subset`` objects.

    Raises:
        ValueError: the lengths do not sum to `len(dataset)` (or 1), or a fraction is outside
            [0, 1].

    Example:
        >>> train, val = random_split(range(20), [0.9, 0.1], generator=np.random.default_rng(0))
        >>> len(train), len(val)
        (18, 2)
    """
    counts = _split_lengths(len(dataset), lengths)
    perm = numpy_generator(generator, "random_split").permutation(sum(counts)).tolist()
    out, offset = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[offset:offset + c]))
        offset += c
    return out
