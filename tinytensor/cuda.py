"""`torch.cuda` as seen from a CPU-only engine: honest answers, so that device boilerplate runs.

>>> import tinytensor as tt
>>> tt.cuda.is_available(), tt.cuda.device_count()
(False, 0)

Seeding calls are accepted and do nothing (PyTorch, too, ignores them without a GPU); any call
that needs a GPU raises RuntimeError.
"""
from tinytensor import _args

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "current_device", "set_device", "synchronize", "empty_cache", "is_initialized"]


def is_available():
    """False: tinytensor has no CUDA devices."""
    return False


def device_count():
    """0: tinytensor has no CUDA devices."""
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Accepted and ignored, as PyTorch does when no GPU is present."""


def manual_seed_all(seed):
    """Accepted and ignored, as PyTorch does when no GPU is present."""


def seed():
    """Accepted and ignored, as PyTorch does when no GPU is present."""


def seed_all():
    """Accepted and ignored, as PyTorch does when no GPU is present."""


def empty_cache():
    """Nothing to free: accepted and ignored, as PyTorch does when CUDA is not initialised."""


def current_device():
    _args.check_device("cuda")


def set_device(device):
    _args.check_device(device if not _args.is_int(device) else "cuda")


def synchronize(device=None):
    _args.check_device("cuda")
