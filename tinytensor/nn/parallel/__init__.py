"""`torch.nn.parallel` for CPU scripts.

`DataParallel` behaves as PyTorch's does on a machine without GPUs: it wraps the module and
calls it unchanged (state_dict keys gain the `module.` prefix, as in PyTorch).
`DistributedDataParallel` trains one replica per MPI process (see `tinytensor.distributed`).
"""
from tinytensor.nn.parallel.data_parallel import DataParallel
from tinytensor.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
