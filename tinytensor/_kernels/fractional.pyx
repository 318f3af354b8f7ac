# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Fractional max pooling (Graham, arXiv:1412.6071) forward: 2-D and 3-D in one kernel.

Contract: `tinytensor.nn.functional.pooling` has validated ranks, sizes and dtypes, and
`tinytensor._functions.fractional_pool` passes C-contiguous (P, D, H, W) planes (a 2-D pool has
D = 1, kd = 1), one row of samples (t, h, w) per plane in the input's dtype (a private copy the
user cannot change), and a scratch array for the window starts. The backward is
pool.max_pool_backward on the flat (d*H + h)*W + w indices written here.

Window starts, as PyTorch's generate_intervals, computed in the input's own dtype (float32
rounding decides where a float32 window starts): with alpha = (n - k) / (o - 1),
    start(i) = int((i + u) * alpha) - int(u * alpha)   for i < o - 1,   start(o - 1) = n - k,
`int` truncating to a C int. The samples are user data: NaN, +-inf or values whose product leaves
the int range convert as x86-64 converts them (to INT_MIN: PyTorch's x86 results), and every
start is checked against its axis before anything is read (`bad plane` returned, not raised
from inside the loops).

Notes:
- One thread owns a plane (prange over P, static), with a fixed order inside the plane, so
  results are bitwise equal for any thread count.
- Max rule, as PyTorch's kernel: best starts at -inf with the window's first position, then
  takes v when `(v > best) or isnan(v)`: the first maximum wins ties, the last NaN wins. An
  empty window (k <= 0, which PyTorch's functional form accepts) gives -inf at that position;
  such windows are never looped over (start + k may overflow for a huge negative k).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t, uint32_t, INT32_MIN


cdef inline int32_t trunc_int(floating v) noexcept nogil:
    """static_cast<int>(v) as x86-64 does it: NaN and out-of-range values give INT_MIN."""
    if v != v or v >= 2147483648.0 or v <= -2147483649.0:
        return INT32_MIN
    return <int32_t>v


cdef inline int64_t window_start(floating u, Py_ssize_t i, Py_ssize_t n, Py_ssize_t o,
                                 Py_ssize_t k) noexcept nogil:
    """Start of window i of o along an axis of n with kernel k (see the module notes)."""
    cdef floating alpha, a, b
    # n - k in unsigned arithmetic: a huge negative k (accepted: empty windows) must not
    # overflow; PyTorch keeps starts in a C int, so they wrap as its do
    cdef Py_ssize_t span = <Py_ssize_t>(<size_t>n - <size_t>k)
    if i == o - 1:
        return <int32_t>(<uint32_t>span)
    alpha = <floating>span / <floating>(o - 1)
    a = (<floating>i + u) * alpha          # rounded to the dtype before the cast, as PyTorch
    b = u * alpha
    # C int subtraction (wraps, as PyTorch's does on x86-64 for INT_MIN operands)
    return <int32_t>(<uint32_t>trunc_int(a) - <uint32_t>trunc_int(b))


def fractional_max_forward(const floating[:, :, :, ::1] x,      # IN  (P, D, H, W)
                           const floating[:, ::1] samples,      # IN  (P, 3) (t, h, w) samples
                           floating[:, :, :, ::1] y,            # OUT (P, OD, OH, OW)
                           int64_t[:, :, :, ::1] idx,           # OUT (P, OD, OH, OW) flat winners
                           int64_t[:, ::1] starts,              # SCRATCH (P, OD + OH + OW)
                           Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw, int n_threads):
    """Max over each pseudo-random window; returns -1, or the first plane whose samples put a
    window outside the input (nothing is computed then)."""
    cdef Py_ssize_t P = x.shape[0], D = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, i, od, oh, ow, a, b, c, ds, hs, ws, bp
    cdef int64_t s
    cdef floating v, best
    cdef Py_ssize_t bad = -1
    cdef bint empty = kd <= 0 or kh <= 0 or kw <= 0     # no reads at all (PyTorch: -inf)
    if (y.shape[0] != P or samples.shape[0] != P or samples.shape[1] != 3
            or idx.shape[0] != P or idx.shape[1] != OD or idx.shape[2] != OH
            or idx.shape[3] != OW or starts.shape[0] != P or starts.shape[1] != OD + OH + OW
            or min(OD, OH, OW) < 0):
        raise ValueError("fractional_max_forward: inconsistent shapes (a tinytensor bug)")
    with nogil:
        # every start, checked where the loops below will read from it
        for p in range(P):
            for i in range(OD):
                s = window_start(samples[p, 0], i, D, OD, kd)
                if kd > 0 and (s < 0 or s + kd > D):
                    bad = p
                starts[p, i] = s
            for i in range(OH):
                s = window_start(samples[p, 1], i, H, OH, kh)
                if kh > 0 and (s < 0 or s + kh > H):
                    bad = p
                starts[p, OD + i] = s
            for i in range(OW):
                s = window_start(samples[p, 2], i, W, OW, kw)
                if kw > 0 and (s < 0 or s + kw > W):
                    bad = p
                starts[p, OD + OH + i] = s
            if bad >= 0:
                break
    if bad >= 0:
        return bad
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for od in range(OD):
            ds = starts[p, od]
            for oh in range(OH):
                hs = starts[p, OD + oh]
                for ow in range(OW):
                    ws = starts[p, OD + OH + ow]
                    best = -INFINITY
                    bp = (ds * H + hs) * W + ws
                    if empty:
                        y[p, od, oh, ow] = best
                        idx[p, od, oh, ow] = bp
                        continue
                    for a in range(ds, ds + kd):
                        for b in range(hs, hs + kh):
                            for c in range(ws, ws + kw):
                                v = x[p, a, b, c]
                                if v > best or v != v:
                                    best = v
                                    bp = (a * H + b) * W + c
                    y[p, od, oh, ow] = best
                    idx[p, od, oh, ow] = bp
    return -1
