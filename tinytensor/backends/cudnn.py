"""`torch.backends.cudnn`: no cuDNN on the CPU; the flags scripts set are plain attributes."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: tinytensor has no cuDNN."""
    return False


def version():
    """None, as PyTorch answers without cuDNN."""
    return None
