"""`tinytensor.nn.parallel`: data parallelism across processes (DistributedDataParallel)."""
from tinytensor.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
