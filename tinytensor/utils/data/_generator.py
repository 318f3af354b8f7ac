"""Which random stream a sampler, `random_split` or a DataLoader draws from.

One place decides it: `generator=None` means tinytensor's own stream (`tt.manual_seed` makes it
repeatable), read at draw time because `manual_seed` replaces it; otherwise the caller's
`numpy.random.Generator`. (tinytensor has no `Generator` class of its own yet: this is where one
plugs in.)
"""
import numpy as np

from tinytensor import random as _random


def numpy_generator(generator, owner="generator"):
    """The `numpy.random.Generator` to draw from for `generator` (None: tinytensor's stream)."""
    if generator is None:
        return _random.generator()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{owner}: generator must be a numpy.random.Generator or None, got "
                    f"{type(generator).__name__}")


def check_generator(generator, owner):
    """Refuse a bad `generator` at construction rather than at the first draw."""
    if generator is not None:
        numpy_generator(generator, owner)
    return generator


def draw_seed(generator=None):
    """A seed in [0, 2**63), as PyTorch's `torch.empty((), dtype=torch.int64).random_()`."""
    return int(numpy_generator(generator).integers(0, 1 << 63))
