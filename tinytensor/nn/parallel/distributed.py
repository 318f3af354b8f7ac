"""`DistributedDataParallel`: importable; constructing it needs a process group, which
tinytensor cannot create yet (the MPI scale-out issue brings it)."""
from tinytensor import distributed
from tinytensor.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Refused until `tinytensor.distributed` has process groups.

    Raises:
        ValueError: PyTorch's text for a missing default process group (always, for now).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, *args, **kwargs):
        super().__init__()
        if not distributed.is_initialized():
            raise ValueError("Default process group has not been initialized, please make sure "
                             "to call init_process_group.")
        raise NotImplementedError("DistributedDataParallel is not implemented by tinytensor")
