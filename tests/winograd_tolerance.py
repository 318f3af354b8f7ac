"""What the tests of the Winograd paths over larger windows (6x6 patches, 10-sample windows)
hold them to: their transforms' larger entries round ~1e-5 of the largest output in float32,
so an error counts relative to the largest reference value, not to each."""
import numpy as np


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def arr(t):
    """A tensor's values as a NumPy array of their own."""
    return np.array(t.detach()._numpy())
