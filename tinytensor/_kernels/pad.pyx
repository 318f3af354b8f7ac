# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Padding kernels for the non-constant modes (reflect, replicate, circular).

Contract: `tinytensor.nn.functional.padding` has validated the pads (mode limits, sizes) and
`tinytensor._functions.pad` builds one source-index map per padded dim (output position ->
input position) and passes C-contiguous arrays as (P, D, H, W) planes, with unpadded spatial
dims of size 1. Each def entry checks the maps' lengths against the arrays and every map entry
against its input dim (O(OD + OH + OW), negligible), so no index below can leave its array.

The parallel axis is the plane P; the backward accumulates into the source positions in a
fixed order within each plane, so results are bitwise equal for any thread count.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.string cimport memset

ctypedef fused pad_t:
    float
    double
    int64_t


cdef bint _maps_ok(const int64_t[::1] m, Py_ssize_t out_len, Py_ssize_t in_len):
    cdef Py_ssize_t i
    if m.shape[0] != out_len:
        return False
    for i in range(out_len):
        if m[i] < 0 or m[i] >= in_len:
            return False
    return True


def pad_forward(const pad_t[:, :, :, ::1] x,     # IN  (P, D, H, W)
                pad_t[:, :, :, ::1] y,           # OUT (P, OD, OH, OW)
                const int64_t[::1] md,           # IN  (OD,) source depth of each output depth
                const int64_t[::1] mh,           # IN  (OH,)
                const int64_t[::1] mw,           # IN  (OW,)
                int n_threads):
    """y[p, d, h, w] = x[p, md[d], mh[h], mw[w]]."""
    cdef Py_ssize_t P = x.shape[0], OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, d, h, w, sd, sh
    if (y.shape[0] != P or not _maps_ok(md, OD, x.shape[1]) or not _maps_ok(mh, OH, x.shape[2])
            or not _maps_ok(mw, OW, x.shape[3])):
        raise ValueError("pad_forward: inconsistent shapes or maps (a tinytensor bug)")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for d in range(OD):
            sd = md[d]
            for h in range(OH):
                sh = mh[h]
                for w in range(OW):
                    y[p, d, h, w] = x[p, sd, sh, mw[w]]


def pad_backward(const floating[:, :, :, ::1] go,   # IN  (P, OD, OH, OW)
                 floating[:, :, :, ::1] gi,         # OUT (P, D, H, W) fully written
                 const int64_t[::1] md,             # IN  (OD,)
                 const int64_t[::1] mh,             # IN  (OH,)
                 const int64_t[::1] mw,             # IN  (OW,)
                 int n_threads):
    """gi[p, md[d], mh[h], mw[w]] += go[p, d, h, w] over a zeroed plane (sources accumulate)."""
    cdef Py_ssize_t P = gi.shape[0], D = gi.shape[1], H = gi.shape[2], W = gi.shape[3]
    cdef Py_ssize_t OD = go.shape[1], OH = go.shape[2], OW = go.shape[3]
    cdef Py_ssize_t p, d, h, w, sd, sh, sw
    if (go.shape[0] != P or not _maps_ok(md, OD, D) or not _maps_ok(mh, OH, H)
            or not _maps_ok(mw, OW, W)):
        raise ValueError("pad_backward: inconsistent shapes or maps (a tinytensor bug)")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if D * H * W > 0:
            memset(&gi[p, 0, 0, 0], 0, D * H * W * sizeof(floating))
        for d in range(OD):
            sd = md[d]
            for h in range(OH):
                sh = mh[h]
                for w in range(OW):
                    sw = mw[w]
                    gi[p, sd, sh, sw] = gi[p, sd, sh, sw] + go[p, d, h, w]
