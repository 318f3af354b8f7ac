"""Datasets, samplers and mini-batch loading, as `torch.utils.data`::

    loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)
    for x, y in loader:
        ...

Files:

- dataset.py: Dataset, IterableDataset, TensorDataset, StackDataset, Subset, ConcatDataset,
  ChainDataset, random_split
- sampler.py: the samplers; distributed.py: DistributedSampler
- collate.py: default_collate, default_convert
- dataloader.py: DataLoader and its single- and multi-process iterators
- _worker.py: what runs in a worker process; get_worker_info
- _fetch.py: indices -> batch, the same in the main process and in a worker
- _generator.py: which random stream a draw uses
"""
from tinytensor.utils.data import distributed  # noqa: F401  (torch.utils.data.distributed)
from tinytensor.utils.data._worker import WorkerInfo, get_worker_info
from tinytensor.utils.data.collate import default_collate, default_convert
from tinytensor.utils.data.dataloader import DataLoader
from tinytensor.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,
                                           StackDataset, Subset, TensorDataset, random_split)
from tinytensor.utils.data.sampler import (BatchSampler, RandomSampler, Sampler,
                                           SequentialSampler, SubsetRandomSampler,
                                           WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset", "ConcatDataset",
           "ChainDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info", "WorkerInfo"]
