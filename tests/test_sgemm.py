"""The GEMMs behind the conv kernels, of every ISA variant this CPU runs: float32 (the
hand-written AVX-512 one, the portable AVX2 / NEON / generic ones) against NumPy in float64,
and float64 (c/tt_dgemm.inc, every variant) against NumPy in extended precision."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinytensor._kernels import conv as K
from variants import VARIANTS, on_variant


def operand(rng, rows, cols, transposed, dtype=np.float32):
    """A (rows x cols) operand, stored transposed (a strided view) when asked."""
    if transposed:
        return rng.uniform(-1, 1, (cols, rows)).astype(dtype).T
    return rng.uniform(-1, 1, (rows, cols)).astype(dtype)


# sizes around the blocking of every variant: tiles MR x NR of 12 x 32 (AVX-512), 6 x 16
# (AVX2), 6 x 8 (generic), KC = 256, MC = 144, NC = 512
SIZES = st.one_of(st.integers(0, 40), st.sampled_from([143, 144, 145, 255, 256, 257, 513]))


@pytest.mark.parametrize("variant", VARIANTS)
@given(m=SIZES, n=SIZES, k=SIZES, ta=st.booleans(), tb=st.booleans(), acc=st.booleans(),
       threads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_sgemm_matches_numpy(variant, m, n, k, ta, tb, acc, threads, seed):
    rng = np.random.default_rng(seed)
    a, b = operand(rng, m, k, ta), operand(rng, k, n, tb)
    c0 = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    c = c0.copy()
    with on_variant(variant):
        K.variant_sgemm(a, b, c, acc, threads)
    expect = a.astype(np.float64) @ b.astype(np.float64) + (c0 if acc else 0)
    bound = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64) + (np.abs(c0) if acc else 0)
    assert np.all(np.abs(c - expect) <= 1e-6 * bound * max(k, 1) ** 0.5 + 1e-30)


# the float64 GEMM's tiles: 12 x 16 (AVX-512), 6 x 8 (AVX2), 6 x 4 (generic); NC = 256
DSIZES = st.one_of(st.integers(0, 40), st.sampled_from([143, 144, 145, 255, 256, 257, 300]))


@pytest.mark.parametrize("variant", VARIANTS)
@given(m=DSIZES, n=DSIZES, k=DSIZES, ta=st.booleans(), tb=st.booleans(), acc=st.booleans(),
       threads=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_dgemm_matches_numpy(variant, m, n, k, ta, tb, acc, threads, seed):
    rng = np.random.default_rng(seed)
    a, b = operand(rng, m, k, ta, np.float64), operand(rng, k, n, tb, np.float64)
    c0 = rng.uniform(-1, 1, (m, n))
    c = c0.copy()
    with on_variant(variant):
        K.variant_gemm(a, b, c, acc, threads)
    expect = a.astype(np.longdouble) @ b.astype(np.longdouble) + (c0 if acc else 0)
    bound = np.abs(a) @ np.abs(b) + (np.abs(c0) if acc else 0)
    assert np.all(np.abs(c - expect) <= 1e-15 * bound * max(k, 1) ** 0.5 + 1e-300)


@pytest.mark.parametrize("variant", VARIANTS)
def test_dgemm_never_reads_c_without_accumulate(variant):
    a = np.ones((13, 7))
    c = np.full((13, 19), np.nan)
    with on_variant(variant):
        K.variant_gemm(a, np.ones((7, 19)), c, False)
    assert (c == 7).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_sgemm_never_reads_c_without_accumulate(variant):
    a = np.ones((5, 7), np.float32)
    c = np.full((5, 3), np.nan, np.float32)
    with on_variant(variant):
        K.variant_sgemm(a, np.ones((7, 3), np.float32), c, False)
    assert (c == 7).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_sgemm_bits_do_not_depend_on_threads(variant):
    rng = np.random.default_rng(0)
    a, b = operand(rng, 100, 300, False), operand(rng, 300, 70, True)
    out = [np.zeros((100, 70), np.float32) for _ in range(2)]
    with on_variant(variant):
        K.variant_sgemm(a, b, out[0], False, 1)
        K.variant_sgemm(a, b, out[1], False, 2)
    np.testing.assert_array_equal(out[0], out[1])
    a, b = operand(rng, 100, 300, False, np.float64), operand(rng, 300, 70, True, np.float64)
    out = [np.zeros((100, 70)) for _ in range(2)]
    with on_variant(variant):
        K.variant_gemm(a, b, out[0], False, 1)
        K.variant_gemm(a, b, out[1], False, 2)
    np.testing.assert_array_equal(out[0], out[1])


def test_sgemm_checks_shapes():
    with pytest.raises(ValueError, match="shapes"):
        K.variant_sgemm(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32),
                        np.zeros((2, 5), np.float32), False)


def test_use_variant_refuses_an_unknown_one():
    with pytest.raises(ValueError, match="not one of"):
        K.use_variant("sse9")
