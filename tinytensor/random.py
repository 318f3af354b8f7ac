"""The library's one random stream: every random draw (rand, randn, init, dropout, shuffling)
comes from this generator, so `tt.manual_seed(n)` makes a whole run repeatable."""
import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed):
    """Seed every random draw of tinytensor."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed) % (1 << 64))
    return _generator


def seed():
    global _generator
    _generator = np.random.default_rng()


def generator():
    return _generator


def uniform(a, b, shape, np_dtype):
    return _generator.uniform(a, b, shape).astype(np_dtype, copy=False)


def normal(mean, std, shape, np_dtype):
    return (_generator.standard_normal(shape) * std + mean).astype(np_dtype, copy=False)
