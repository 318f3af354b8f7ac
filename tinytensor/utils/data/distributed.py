"""`DistributedSampler`, as `torch.utils.data.distributed`: each of `num_replicas` processes reads
its own share of the dataset.

`num_replicas` and `rank` default to the world size and rank of `tinytensor.distributed`'s
process group (`init_process_group` under `mpirun`); without one, pass them.

    sampler = DistributedSampler(dataset, seed=0)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)            # a new shuffle each epoch, the same on every rank
        for x, y in DataLoader(dataset, batch_size=64, sampler=sampler): ...
"""
import math

import numpy as np

from tinytensor import distributed as dist
from tinytensor.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of replica `rank` out of `num_replicas`: every `num_replicas`-th index of one
    shuffled (or sequential) order, padded by repeating indices so all replicas get the same
    count (or trimmed, with `drop_last`).

    Args:
        dataset: a map-style dataset.
        num_replicas (int): the number of processes (default: the process group's world size).
        rank (int): this process's rank, 0 to num_replicas - 1 (default: the group's rank).
        shuffle (bool): shuffle with the seed `seed + epoch` (default True).
        seed (int): the shuffle seed; it must be the same on every replica.
        drop_last (bool): trim the tail instead of padding, so no index repeats.

    Raises:
        RuntimeError: num_replicas or rank not given, and no process group.
        ValueError: rank outside [0, num_replicas - 1].

    Example:
        >>> [list(DistributedSampler(range(5), 2, r, shuffle=False)) for r in (0, 1)]
        [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError("Requires distributed package to be available: call "
                                   "tinytensor.distributed.init_process_group() (under mpirun) "
                                   "or pass num_replicas and rank")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        elif indices:
            short = self.total_size - len(indices)
            indices += (indices * math.ceil(short / len(indices)))[:short]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use `epoch` in the next shuffle's seed (call it before each epoch, on every rank)."""
        self.epoch = epoch
