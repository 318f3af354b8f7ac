"""Hypothesis strategies for the core: shapes, broadcast pairs, dtypes, values and layouts.

Cases are valid by construction (STYLE.md §4). Shapes stay small: bugs live at edges (size 0
and 1, stride 0, offsets), and the references in tests/reference.py are element-by-element loops.
"""
import numpy as np
from hypothesis import strategies as st

import tinytensor as tt

FLOAT_DTYPES = (tt.float32, tt.float64)
ALL_DTYPES = (tt.float32, tt.float64, tt.int64, tt.bool)

LAYOUTS = ("contiguous", "permuted", "sliced", "offset", "expanded", "transposed")


def dims(min_dims=0, max_dims=4):
    return st.integers(min_dims, max_dims)


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=4):
    """A tuple of sizes, e.g. (3, 1, 2)."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


@st.composite
def broadcast_shapes(draw, min_dims=0, max_dims=4, min_side=1, max_side=4):
    """(shape_a, shape_b) that broadcast: b drops leading dims and sets some sizes to 1 (either
    side), so every rule (missing dim, size-1 stretch, equal) gets exercised."""
    full = draw(shapes(min_dims, max_dims, min_side, max_side))
    sa, sb = list(full), list(full)
    for i in range(len(full)):
        r = draw(st.integers(0, 3))
        if r == 1:
            sa[i] = 1
        elif r == 2:
            sb[i] = 1
    cut_a = draw(st.integers(0, len(full)))
    cut_b = draw(st.integers(0, len(full)))
    if draw(st.booleans()):
        return tuple(sa[cut_a:]), tuple(sb)
    return tuple(sa), tuple(sb[cut_b:])


def dtypes(floating_only=False):
    return st.sampled_from(FLOAT_DTYPES if floating_only else ALL_DTYPES)


def elements(dtype, lo=-10, hi=10):
    """Element strategy for a tinytensor dtype (finite floats exactly representable in float32)."""
    if dtype is tt.bool:
        return st.booleans()
    if dtype is tt.int64:
        return st.integers(lo, hi)
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), allow_nan=False,
                     allow_infinity=False, width=32)


@st.composite
def arrays(draw, shape, dtype, lo=-10, hi=10, repeat=True):
    """A C-contiguous NumPy array of `shape` in `dtype`'s NumPy type.

    With `repeat`, one dim sometimes holds equal slices, so the `expanded` layout (stride 0)
    can represent it.
    """
    shape = tuple(shape)
    n = int(np.prod(shape, dtype=np.int64))
    vals = draw(st.lists(elements(dtype, lo, hi), min_size=n, max_size=n))
    a = np.array(vals, dtype=dtype.np_dtype).reshape(shape)
    if repeat and a.ndim and a.size and draw(st.integers(0, 3)) == 0:
        d = draw(st.integers(0, a.ndim - 1))
        a = np.ascontiguousarray(np.broadcast_to(np.take(a, [0], axis=d), shape))
    return a


def _expanded(a):
    """A stride-0 view with a's values: dims whose slices are all equal are expanded from a
    size-1 dim; size-1 dims get stride 0 too. None when no dim qualifies."""
    const = [d for d in range(a.ndim)
             if a.shape[d] >= 1 and np.array_equal(a, np.broadcast_to(np.take(a, [0], axis=d), a.shape))]
    if not const or a.size == 0:
        return None
    small = a
    for d in const:
        small = np.take(small, [0], axis=d)
    t = tt.tensor(small).expand(*a.shape)
    assert any(t.stride(d) == 0 for d in const) or all(a.shape[d] == 1 for d in const)
    if all(a.shape[d] == 1 for d in const):
        # expanding 1 -> 1 keeps the stride; a size-1 dim may carry any stride, so make it 0
        stride = tuple(0 if d in const else s for d, s in enumerate(t.stride()))
        t = t._as_strided(t.shape, stride, t.storage_offset())
    return t


def to_layout(a, layout, data=None):
    """A tinytensor with the values of the NumPy array `a` laid out as `layout`.

    `data` (hypothesis' st.data()) chooses the permutation, steps and offsets; without it the
    choices are fixed.
    """
    a = np.asarray(a)
    draw = data.draw if data is not None else None
    if layout == "contiguous":
        return tt.tensor(a)
    if layout == "permuted" and a.ndim >= 2:
        # minitorch's trick: fill a tensor laid out in permuted order, then permute back
        perm = draw(st.permutations(range(a.ndim))) if draw else list(reversed(range(a.ndim)))
        inv = list(np.argsort(perm))
        base = tt.tensor(np.ascontiguousarray(a.transpose(perm)))
        return base.permute(*[int(i) for i in inv])
    if layout == "transposed" and a.ndim >= 2:
        i, j = (draw(st.permutations(range(a.ndim)))[:2] if draw else (0, a.ndim - 1))
        base = tt.tensor(np.ascontiguousarray(np.swapaxes(a, i, j)))
        return base.transpose(int(i), int(j))
    if layout == "sliced" and a.ndim >= 1:
        steps = [draw(st.integers(1, 3)) if draw else 2 for _ in range(a.ndim)]
        starts = [draw(st.integers(0, 2)) if draw else 1 for _ in range(a.ndim)]
        big_shape = tuple(st_ + max(s - 1, 0) * k + 1 + 1 for s, k, st_ in zip(a.shape, steps, starts))
        big = np.full(big_shape, 99, dtype=a.dtype)
        sl = tuple(slice(st_, st_ + s * k, k) for s, k, st_ in zip(a.shape, steps, starts))
        big[sl] = a
        return tt.tensor(big)[sl]
    if layout == "offset":
        off = draw(st.integers(1, 5)) if draw else 3
        flat = np.full(a.size + off + 2, 77, dtype=a.dtype)
        flat[off:off + a.size] = a.reshape(-1)
        return tt.tensor(flat)[off:off + a.size].view(*a.shape) if a.ndim else \
            tt.tensor(flat)[off]
    if layout == "expanded":
        t = _expanded(a)
        if t is not None:
            return t
    return tt.tensor(a)


@st.composite
def layouts(draw, a, allowed=LAYOUTS):
    """A tinytensor with `a`'s values and a random layout from `allowed`."""
    layout = draw(st.sampled_from(allowed))
    return to_layout(a, layout, _Drawer(draw))


class _Drawer:
    """Adapter so to_layout can draw through a composite strategy's `draw`."""

    def __init__(self, draw):
        self.draw = draw


@st.composite
def tensors(draw, shape=None, dtype=None, lo=-10, hi=10, min_dims=0, max_dims=4, max_side=4):
    """(numpy array, tinytensor with the same values in a random layout)."""
    if shape is None:
        shape = draw(shapes(min_dims, max_dims, 1, max_side))
    if dtype is None:
        dtype = draw(dtypes())
    a = draw(arrays(shape, dtype, lo, hi))
    return a, draw(layouts(a))
