"""Samplers, as `torch.utils.data`: which indices a DataLoader reads, and in which batches.

Random samplers draw from tinytensor's stream (`tt.manual_seed`) or from the
`numpy.random.Generator` they are given; PyTorch's semantics and errors, our own random numbers
(the same seed does not give PyTorch's index sequence).

    sampler = WeightedRandomSampler(weights, num_samples=len(weights))
    loader = DataLoader(dataset, batch_size=64, sampler=sampler)
"""
import numbers

import numpy as np

from tinytensor.tensor import Tensor
from tinytensor.utils.data._generator import check_generator, numpy_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


class Sampler:
    """Base class: subclasses implement `__iter__` (indices) and, if they can, `__len__`.

    >>> class Evens(tt.utils.data.Sampler):
    ...     def __iter__(self):
    ...         return iter(range(0, 6, 2))
    ...     def __len__(self):
    ...         return 3
    ...
    >>> list(Evens())
    [0, 2, 4]
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1.

    Example:
        >>> list(SequentialSampler(range(3)))
        [0, 1, 2]
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices, or `num_samples` draws with replacement.

    Args:
        data_source: the dataset (only its length is used).
        replacement (bool): draw with replacement (default False).
        num_samples (int, optional): how many indices per epoch (default `len(data_source)`);
            without replacement, more than `len` repeats whole permutations.
        generator (numpy.random.Generator, optional): default tinytensor's stream.

    Raises:
        TypeError: replacement is not a bool.
        ValueError: num_samples is not a positive integer.

    Example:
        >>> sorted(RandomSampler(range(4))) == [0, 1, 2, 3]
        True
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = check_generator(generator, "RandomSampler")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = numpy_generator(self.generator)
        if n == 0:
            return
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        rest = self.num_samples % n
        if rest:
            yield from rng.permutation(n)[:rest].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order each epoch.

    Example:
        >>> sorted(SubsetRandomSampler([5, 7, 9]))
        [5, 7, 9]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = check_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        for i in numpy_generator(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices 0..len(weights)-1 drawn with probabilities proportional to `weights`.

    Args:
        weights (sequence): non-negative weights, one per index (need not sum to 1).
        num_samples (int): how many indices per epoch.
        replacement (bool): draw with replacement (default True); without it, each index
            comes at most once (indices of weight 0 come only after all the others).
        generator (numpy.random.Generator, optional): default tinytensor's stream.

    Raises:
        ValueError: num_samples is not a positive integer; the weights are not 1-D.
        ValueError: replacement is not a bool (TypeError in RandomSampler, as PyTorch).
        RuntimeError (when iterated, as torch.multinomial): a negative, infinite or NaN weight,
            weights summing to 0, or num_samples > len(weights) without replacement.

    Example:
        >>> counts = np.bincount(list(WeightedRandomSampler([0.1, 0.9], 1000)), minlength=2)
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = weights._numpy() if isinstance(weights, Tensor) else weights
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = check_generator(generator, "WeightedRandomSampler")

    def _probabilities(self):
        w = self.weights
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        total = w.sum()
        if total <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > w.size:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        return w / total

    def __iter__(self):
        p = self._probabilities()
        rng = numpy_generator(self.generator)
        if self.replacement:
            yield from rng.choice(p.size, size=self.num_samples, p=p).tolist()
            return
        # Without replacement, as torch.multinomial: order by p / Exp(1) (Efraimidis-Spirakis),
        # so zero weights come last instead of being an error.
        keys = p / rng.exponential(size=p.size)
        yield from np.argsort(-keys, kind="stable")[:self.num_samples].tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size`.

    Args:
        sampler (Sampler or iterable): where the indices come from.
        batch_size (int): indices per batch.
        drop_last (bool): drop the last batch when it is smaller than `batch_size`.

    Raises:
        ValueError: batch_size is not a positive integer, or drop_last not a bool.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
