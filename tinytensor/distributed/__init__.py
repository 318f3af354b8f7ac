"""`torch.distributed`, as far as a single-process CPU script touches it.

tinytensor has no process groups yet (they come with the MPI scale-out issue), so
`is_available()` is False, as in a PyTorch build without distributed support, and
`is_initialized()` is False. Scripts guarded by these checks run single-process unchanged:

    if dist.is_available() and dist.is_initialized():
        world_size = dist.get_world_size()
"""

__all__ = ["is_available", "is_initialized", "get_rank", "get_world_size", "init_process_group"]


def is_available():
    """False: this build of tinytensor has no distributed backend."""
    return False


def is_initialized():
    """False: no default process group exists."""
    return False


def _not_initialized():
    return ValueError("Default process group has not been initialized, please make sure to call "
                      "init_process_group.")


def get_rank(group=None):
    """PyTorch's error without a process group (tinytensor cannot create one yet)."""
    raise _not_initialized()


def get_world_size(group=None):
    """PyTorch's error without a process group (tinytensor cannot create one yet)."""
    raise _not_initialized()


def init_process_group(*args, **kwargs):
    """Refused: distributed training is not implemented in tinytensor yet."""
    raise RuntimeError("tinytensor.distributed: distributed training is not available in this "
                       "build (is_available() is False); run the script in a single process")
