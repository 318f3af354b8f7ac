"""The library's one random stream: every random draw (rand, randn, init, dropout, shuffling)
comes from this generator, so `tt.manual_seed(n)` makes a whole run repeatable."""
import numpy as np

# Made on first use: numpy.random costs ~5 ms of `import tinytensor`, and most imports draw
# nothing. manual_seed and seed replace it.
_generator = None


def manual_seed(seed):
    """Seed every random draw of tinytensor (rand, randn, init, dropout, shuffling), as
    ``torch.manual_seed``; returns the new generator.

    >>> _ = tt.manual_seed(0)
    >>> a = tt.rand(2)
    >>> _ = tt.manual_seed(0)
    >>> bool((tt.rand(2) == a).all())
    True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed) % (1 << 64))
    return _generator


def seed():
    """Seed tinytensor's generator from the operating system's entropy (``torch.seed``).

    >>> from tinytensor import random
    >>> random.seed()
    """
    global _generator
    _generator = np.random.default_rng()


def generator():
    """The library's NumPy generator, which every random draw uses (seeded by
    ``manual_seed``).

    >>> from tinytensor import random
    >>> _ = tt.manual_seed(0)
    >>> int(random.generator().integers(0, 10))
    8
    """
    global _generator
    g = _generator
    if g is None:
        g = _generator = np.random.default_rng()
    return g


def uniform(a, b, shape, np_dtype):
    """An array of ``shape`` and NumPy dtype ``np_dtype`` drawn uniformly from ``[a, b)``.

    >>> from tinytensor import random
    >>> random.uniform(0., 1., (2,), np.float32).dtype
    dtype('float32')
    """
    return generator().uniform(a, b, shape).astype(np_dtype, copy=False)


def normal(mean, std, shape, np_dtype):
    """An array of ``shape`` and NumPy dtype ``np_dtype`` drawn from N(mean, std**2).

    >>> from tinytensor import random
    >>> random.normal(0., 1., (2, 3), np.float64).shape
    (2, 3)
    """
    return (generator().standard_normal(shape) * std + mean).astype(np_dtype, copy=False)
