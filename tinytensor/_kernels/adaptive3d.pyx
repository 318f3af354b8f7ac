# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""3-D adaptive pooling kernels: average forward/backward and max forward.

Contract: `tinytensor.nn.functional.pooling` has validated the ranks and sizes and
`tinytensor._functions.pool` passes C-contiguous (P, D, H, W) planes, P = N * C. Bin i of o
over n covers [floor(i*n/o), ceil((i+1)*n/o)) along each dim, as PyTorch.

Notes:
- One thread owns a plane (prange over P, static), with a fixed order inside the plane, so
  results are bitwise equal for any thread count.
- Max rule, as the 2-D kernels (pool.pyx) and PyTorch: scan the box in (d, h, w) order and take
  v when `(v > best) or isnan(v)`: the first maximum wins ties, the last NaN wins. The max
  backward is pool.max_pool_backward on the flat indices written here.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset

from tinytensor._kernels._pool_common cimport bin_start, bin_end


def _bad(name):
    raise ValueError(name + ": inconsistent shapes (a tinytensor bug)")


def adaptive_avg3d_forward(const floating[:, :, :, ::1] x,   # IN  (P, D, H, W)
                           floating[:, :, :, ::1] y,         # OUT (P, OD, OH, OW)
                           int n_threads):
    """y = mean of x over each bin box."""
    cdef Py_ssize_t P = x.shape[0], D = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, ds, de, hs, he, ws, we
    cdef floating acc
    if y.shape[0] != P or (OD > 0 and OH > 0 and OW > 0 and (D < 1 or H < 1 or W < 1)):
        _bad("adaptive_avg3d_forward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for od in range(OD):
            ds = bin_start(od, D, OD)
            de = bin_end(od, D, OD)
            for oh in range(OH):
                hs = bin_start(oh, H, OH)
                he = bin_end(oh, H, OH)
                for ow in range(OW):
                    ws = bin_start(ow, W, OW)
                    we = bin_end(ow, W, OW)
                    acc = 0
                    for a in range(ds, de):
                        for b in range(hs, he):
                            for c in range(ws, we):
                                acc = acc + x[p, a, b, c]
                    y[p, od, oh, ow] = acc / ((de - ds) * (he - hs) * (we - ws))


def adaptive_avg3d_backward(const floating[:, :, :, ::1] go,  # IN  (P, OD, OH, OW)
                            floating[:, :, :, ::1] gi,        # OUT (P, D, H, W) fully written
                            int n_threads):
    """Spread each bin's gradient evenly over its box (boxes overlap: accumulate)."""
    cdef Py_ssize_t P = gi.shape[0], D = gi.shape[1], H = gi.shape[2], W = gi.shape[3]
    cdef Py_ssize_t OD = go.shape[1], OH = go.shape[2], OW = go.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, ds, de, hs, he, ws, we
    cdef floating g
    if go.shape[0] != P or (OD > 0 and OH > 0 and OW > 0 and (D < 1 or H < 1 or W < 1)):
        _bad("adaptive_avg3d_backward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if D * H * W > 0:
            memset(&gi[p, 0, 0, 0], 0, D * H * W * sizeof(floating))
        for od in range(OD):
            ds = bin_start(od, D, OD)
            de = bin_end(od, D, OD)
            for oh in range(OH):
                hs = bin_start(oh, H, OH)
                he = bin_end(oh, H, OH)
                for ow in range(OW):
                    ws = bin_start(ow, W, OW)
                    we = bin_end(ow, W, OW)
                    g = go[p, od, oh, ow] / ((de - ds) * (he - hs) * (we - ws))
                    for a in range(ds, de):
                        for b in range(hs, he):
                            for c in range(ws, we):
                                gi[p, a, b, c] = gi[p, a, b, c] + g


def adaptive_max3d_forward(const floating[:, :, :, ::1] x,   # IN  (P, D, H, W)
                           floating[:, :, :, ::1] y,         # OUT (P, OD, OH, OW)
                           int64_t[:, :, :, ::1] idx,        # OUT (P, OD, OH, OW) (d*H + h)*W + w
                           int n_threads):
    """Max over each bin box, with the flat position of the winner in its plane."""
    cdef Py_ssize_t P = x.shape[0], D = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, ds, de, hs, he, ws, we, bp
    cdef floating v, best
    if (y.shape[0] != P or idx.shape[0] != P or idx.shape[1] != OD or idx.shape[2] != OH
            or idx.shape[3] != OW
            or (OD > 0 and OH > 0 and OW > 0 and (D < 1 or H < 1 or W < 1))):
        _bad("adaptive_max3d_forward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for od in range(OD):
            ds = bin_start(od, D, OD)
            de = bin_end(od, D, OD)
            for oh in range(OH):
                hs = bin_start(oh, H, OH)
                he = bin_end(oh, H, OH)
                for ow in range(OW):
                    ws = bin_start(ow, W, OW)
                    we = bin_end(ow, W, OW)
                    best = x[p, ds, hs, ws]
                    bp = (ds * H + hs) * W + ws
                    for a in range(ds, de):
                        for b in range(hs, he):
                            for c in range(ws, we):
                                v = x[p, a, b, c]
                                if v > best or v != v:
                                    best = v
                                    bp = (a * H + b) * W + c
                    y[p, od, oh, ow] = best
                    idx[p, od, oh, ow] = bp
