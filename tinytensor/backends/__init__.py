"""`torch.backends` flags that CPU training scripts set: accepted, and honest about the CPU.

>>> import tinytensor as tt
>>> tt.backends.cudnn.benchmark = True      # scripts set it; nothing changes on the CPU
>>> tt.backends.mps.is_available()
False

tinytensor's kernels are deterministic already: results are bitwise identical for any
thread count, so `cudnn.deterministic` has nothing to switch.
"""
from tinytensor.backends import cudnn, mps  # noqa: F401

__all__ = ["cudnn", "mps"]
