"""Fetchers: turn what the index sampler yields into one collated batch, the same way in the
main process (`num_workers=0`) and in a worker process."""
import itertools

from tinytensor.utils.data.collate import default_collate
from tinytensor.utils.data.dataset import IterableDataset, TensorDataset


class _InfiniteConstantSampler:
    """An IterableDataset's sampler: None forever (the dataset decides when it ends)."""

    def __iter__(self):
        return itertools.repeat(None)


class MapFetcher:
    """index -> dataset[index], or a list of indices -> collate_fn([dataset[i] ...])."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        # A TensorDataset batch is one gather per tensor, with no per-sample Python work.
        self.gather = (auto_collation and type(dataset) is TensorDataset
                       and collate_fn is default_collate)

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.gather:
            return self.dataset._batch(index)
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableFetcher:
    """Pulls `len(index)` samples (auto-collation) or one sample from the dataset's iterator;
    StopIteration once it is exhausted (or the last batch is short and drop_last is set)."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(dataset, auto_collation, collate_fn, drop_last):
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)
