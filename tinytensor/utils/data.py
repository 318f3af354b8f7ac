"""Datasets and mini-batch loading, as `torch.utils.data` (single process).

    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)
    for x, y in loader:
        ...

Shuffling draws from the library's one random stream (`tt.manual_seed` makes it repeatable).
A `TensorDataset` is batched with one fancy-index per tensor (no per-sample Python work);
any other dataset is indexed item by item and collated with `default_collate`.
"""
import numbers

import numpy as np

from tinytensor import random as _random
from tinytensor.tensor import Tensor, from_numpy

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "default_collate"]


class Dataset:
    """A map-style dataset: subclasses implement `__getitem__(index)` and `__len__()`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    Args:
        *tensors: tensors (or NumPy arrays) with the same size of dimension 0.

    Raises:
        TypeError: an argument is not a tensor or NumPy array.
        ValueError: no tensors, or the first dimensions differ ("Size mismatch between tensors").
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
        """The samples at `indices` (an int64 array, or a slice), one gather per tensor."""
        out = []
        for t in self.tensors:
            if t.requires_grad:             # keep the graph: index through autograd
                idx = indices if isinstance(indices, slice) else from_numpy(indices)
                out.append(t[idx])
                continue
            a = t._numpy()
            out.append(from_numpy(a[indices].copy() if isinstance(indices, slice)
                                  else a[indices]))
        return out          # a list, as PyTorch's default_collate returns for tuple samples


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def default_collate(batch):
    """Stack a list of samples into a batch, as PyTorch's `default_collate`.

    Tensors are stacked along a new dimension 0, NumPy arrays become stacked tensors, Python
    ints an int64 tensor, floats a float64 tensor, bools a bool tensor; tuples, lists and dicts
    are collated field by field; strings are returned as a list.
    """
    from tinytensor._functions.shape import stack
    from tinytensor.tensor import tensor
    if not batch:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.hasobject or elem.dtype.kind in "SU":
            raise TypeError(f"default_collate: NumPy arrays of dtype {elem.dtype} cannot be "
                            "batched")
        return from_numpy(np.stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return tensor(np.array(batch, dtype=bool))
    if isinstance(elem, numbers.Integral):
        return tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        if any(len(e) != n for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # a list for tuples too, as PyTorch ("backwards compatibility")
        return [default_collate(list(col)) for col in zip(*batch)]
    raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                    f"or lists; found {type(elem).__name__}")


class DataLoader:
    """Iterates over a dataset in mini-batches.

    Args:
        dataset: a map-style dataset (`__getitem__` and `__len__`).
        batch_size (int): samples per batch (default 1).
        shuffle (bool): draw a new permutation at every epoch (from the library RNG).
        drop_last (bool): drop the last batch when it is smaller than `batch_size`.
        collate_fn: how to merge a list of samples (default `default_collate`).

    Raises:
        ValueError: batch_size is not a positive integer.
        TypeError: the dataset has no `__len__` / `__getitem__`.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        >>> for xb, yb in loader: ...
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size <= 0:
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: dataset must define __getitem__ and __len__, got "
                            f"{type(dataset).__name__}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"DataLoader: shuffle must be a bool, got {type(shuffle).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.dataset)
        bs = self.batch_size
        stop = n - n % bs if self.drop_last else n
        order = _random.generator().permutation(n) if self.shuffle else None
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for start in range(0, stop, bs):
            end = min(start + bs, n)
            if order is None:
                if fast:
                    yield self.dataset._batch(slice(start, end))
                    continue
                idx = range(start, end)
            else:
                idx = order[start:end]
                if fast:
                    yield self.dataset._batch(idx)
                    continue
            samples = [self.dataset[int(i)] for i in idx]
            yield (self.collate_fn or default_collate)(samples)
