"""`torch.accelerator`: tinytensor has none, so scripts fall back to the CPU.

>>> import tinytensor as tt
>>> tt.accelerator.is_available()
False
"""

__all__ = ["is_available", "device_count", "current_accelerator"]


def is_available():
    """False: tinytensor computes on the CPU."""
    return False


def device_count():
    return 0


def current_accelerator(check_available=False):
    """None: there is no accelerator."""
    return None
