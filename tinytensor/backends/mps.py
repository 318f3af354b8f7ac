"""`torch.backends.mps`: no Metal device on a tinytensor CPU build."""


def is_available():
    """False: tinytensor computes on the CPU."""
    return False


def is_built():
    return False
