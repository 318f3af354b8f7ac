"""`DataParallel` on the CPU: a transparent wrapper, as PyTorch's is without CUDA."""
from tinytensor import _args
from tinytensor.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Wrap `module`; `forward` calls it unchanged.

    PyTorch splits the batch across GPUs; with none available (always, for tinytensor) it
    keeps the module as it is and sets `device_ids` to []. The wrapped module is
    `self.module`, so a saved state_dict has keys `module.<name>`, as PyTorch's.

    Args:
        module: the module to wrap.
        device_ids, output_device: accepted and ignored, as PyTorch ignores them without GPUs
            (device objects other than the CPU raise the usual device error).
        dim: the scatter dimension (unused on the CPU).

    Example:
        >>> model = nn.DataParallel(nn.Linear(2, 3))
        >>> model(tt.ones(4, 2)).shape
        tinytensor.Size([4, 3])
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        for d in list(device_ids or []) + ([output_device] if output_device is not None else []):
            if not _args.is_int(d):
                _args.check_device(d)
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
