"""nn.init's erfinv (trunc_normal_ maps uniform draws through it): float64 accuracy against
math.erf (always) and scipy.special.erfinv (when installed), and its edge values."""
import math

import numpy as np
import pytest

from tinytensor.nn.init import _erfinv

ULP = np.finfo(np.float64).eps


def test_inverts_math_erf():
    """erfinv(erf(x)) = x where erf is well conditioned (|x| <= 3: erf' >= 2e-4 relative to
    erf's rounding); beyond, x from 1 - erf(x) in the tails."""
    x = np.concatenate([np.linspace(-3, 3, 20001), [1e-300, -1e-20, 1e-8, 0.1]])
    y = np.array([math.erf(v) for v in x])
    got = _erfinv(y)
    # the rounding of erf(x) itself moves x by |dy| / erf'(x) = ulp(y) / (2/sqrt(pi) e^-x^2)
    slack = np.abs(y) * ULP / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    assert np.all(np.abs(got - x) <= 4 * ULP * np.abs(x) + 2 * slack)


def test_tails_use_complementary_digits():
    x = np.array([3.5, 4.0, 5.0, 5.5, 5.9])
    y = np.array([1.0 - math.erfc(v) for v in x])          # exact representable points
    x_back = _erfinv(y)
    assert np.all(np.abs(np.array([1.0 - math.erfc(v) for v in x_back]) - y) == 0)


def test_edge_values():
    got = _erfinv(np.array([-1.0, 1.0, 0.0, -0.0, 1.5, -2.0, np.nan]))
    assert got[0] == -np.inf and got[1] == np.inf
    assert got[2] == 0 and not np.signbit(got[2]) and got[3] == 0 and np.signbit(got[3])
    assert np.isnan(got[4:]).all()


def test_against_scipy():
    special = pytest.importorskip("scipy.special")
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.uniform(-1, 1, 200_000), 1 - 10.0 ** -rng.uniform(0, 16, 20_000),
                        -(1 - 10.0 ** -rng.uniform(0, 16, 20_000)),
                        rng.uniform(-1e-6, 1e-6, 2_000), 10.0 ** -rng.uniform(8, 300, 2_000)])
    want = special.erfinv(y)
    # AS 241 is within 3 ulp of the exact value, scipy within 2: at most 5 apart
    assert np.all(np.abs(_erfinv(y) - want) <= 5 * ULP * np.abs(want))
