# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Reduction kernels over strided inputs: sum over any set of axes, with keepdim.

Contract: tinytensor._functions.reduce has validated and normalised the axes (`_dims`: sorted,
unique, in range) and chosen the accumulation dtype; `sum` re-checks the axes in O(ndim) and
raises on a bad call, so it never reads out of range.

Notes:
- The input is a NumPy array viewing tensor memory with any strides (permuted, step-sliced,
  offset, expanded with stride 0, negative), read through the buffer protocol, never copied.
  The output is a fresh C-contiguous array from `np.empty`.
- The kept axes are merged where the input allows; the reduced axes are ordered by decreasing
  stride and merged, so the innermost reduced loop is the most contiguous one.
- Summation order is a function of the shape and strides only, never of the thread count,
  so results are bitwise identical for any number of threads:
  * a row of the reduced space is summed pairwise: blocks of PW_BLOCK elements with W
    independent accumulators (vectorizable), blocks combined as a balanced binary tree, as
    NumPy's pairwise sum (error O(log n) instead of O(n)); rows are added in order.
  * when the innermost input dimension is a kept one ("column" mode, e.g. sum over dim 0 of a
    C-contiguous matrix), blocks of CB outputs accumulate the reduced rows in order, four
    rows per step: out[j] += (r0[j] + r1[j]) + (r2[j] + r3[j]).
  * a single output (full reduction) is cut into fixed blocks of BLOCK elements; the blocks'
    partial sums are computed in parallel and then summed pairwise on one thread.
- Accumulation stays in the input's dtype (float32 sums in float32, as PyTorch and NumPy), and
  int64 sums wrap. Threads: partitions are disjoint sets of outputs (or of partial sums);
  less than PARALLEL_MIN input elements run on the calling thread.
"""
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_RECORDS_RO, PyBUF_RECORDS
from cython.parallel cimport prange
from libc.stdint cimport int64_t

import numpy as np

from tinytensor._threads import get_num_threads

ctypedef fused sum_t:
    float
    double
    int64_t

cdef enum:
    MAXDIM = 64
    PARALLEL_MIN = 32768     # input elements below which one thread does everything
    PW_BLOCK = 4096          # pairwise-sum leaf: W accumulators x 128 (float32) or 256 adds each
    BLOCK = 16384            # full reductions: elements per partial sum (fixed, not per thread)
    CB = 512                 # column mode: outputs per work item

cdef inline Py_ssize_t iabs(Py_ssize_t v) noexcept nogil:
    return -v if v < 0 else v


cdef object _F32 = np.dtype(np.float32)
cdef object _F64 = np.dtype(np.float64)
cdef object _I64 = np.dtype(np.int64)


cdef struct Red:
    int nk                          # kept dimensions (output is C-contiguous over kshape)
    int nr                          # reduced dimensions (>= 1; a single element if none)
    Py_ssize_t kshape[MAXDIM]
    Py_ssize_t ks[MAXDIM]           # input strides (elements) of the kept dimensions
    Py_ssize_t rshape[MAXDIM]
    Py_ssize_t rs[MAXDIM]           # input strides of the reduced dimensions
    Py_ssize_t n_out                # product of kshape
    Py_ssize_t n_red                # product of rshape


# ---------------------------------------------------------------------------------------------
# row sums

cdef inline sum_t _leaf(const sum_t* x, Py_ssize_t n, Py_ssize_t s) noexcept nogil:
    """Sum of n <= PW_BLOCK elements x[0], x[s], ...: W interleaved accumulators, then a tree."""
    cdef sum_t acc[32]
    cdef Py_ssize_t i, k, m
    cdef int w = 32 if sum_t is float else 16
    cdef sum_t r
    if n < w:
        r = 0
        for i in range(n):
            r = r + x[i * s]
        return r
    for k in range(w):
        acc[k] = x[k * s]
    m = n - n % w
    i = w
    if s == 1:
        while i < m:
            for k in range(w):
                acc[k] = acc[k] + x[i + k]
            i = i + w
    else:
        while i < m:
            for k in range(w):
                acc[k] = acc[k] + x[(i + k) * s]
            i = i + w
    k = w // 2
    while k > 0:
        for i in range(k):
            acc[i] = acc[i] + acc[i + k]
        k = k // 2
    r = acc[0]
    for i in range(m, n):
        r = r + x[i * s]
    return r


cdef sum_t _pairwise(const sum_t* x, Py_ssize_t n, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t h
    if n <= PW_BLOCK:
        return _leaf(x, n, s)
    h = (n // 2 + PW_BLOCK - 1) // PW_BLOCK * PW_BLOCK      # left half: whole leaves
    return _pairwise(x, h, s) + _pairwise(x + h * s, n - h, s)


cdef sum_t _reduce_all(const sum_t* x, const Red* r) noexcept nogil:
    """Sum of the whole reduced space starting at x: inner rows pairwise, rows in order."""
    cdef Py_ssize_t idx[MAXDIM]
    cdef int last = r.nr - 1, d
    cdef Py_ssize_t L = r.rshape[last], s = r.rs[last], off = 0
    cdef sum_t total
    if last == 0:
        return _pairwise(x, L, s)
    for d in range(last):
        idx[d] = 0
    total = 0
    while True:
        total = total + _pairwise(x + off, L, s)
        d = last - 1
        while d >= 0:
            idx[d] = idx[d] + 1
            off = off + r.rs[d]
            if idx[d] < r.rshape[d]:
                break
            off = off - r.rshape[d] * r.rs[d]
            idx[d] = 0
            d = d - 1
        if d < 0:
            return total


cdef inline Py_ssize_t _offset(Py_ssize_t j, const Py_ssize_t* shape, const Py_ssize_t* strides,
                               int nd) noexcept nogil:
    """Input offset of the C-order multi-index j over `shape`."""
    cdef Py_ssize_t off = 0
    cdef int d = nd - 1
    while d >= 0:
        off = off + (j % shape[d]) * strides[d]
        j = j // shape[d]
        d = d - 1
    return off


# ---------------------------------------------------------------------------------------------
# the three modes

cdef void _rows(const sum_t* x, sum_t* out, const Red* r, Py_ssize_t start,
                Py_ssize_t stop) noexcept nogil:
    """Outputs [start, stop): the input offset follows the kept index as an odometer (one
    division per range, not per output: many short rows are common, e.g. (N, 10).sum(1))."""
    cdef Py_ssize_t idx[MAXDIM]
    cdef Py_ssize_t j, rem = start, off = 0
    cdef int d = r.nk - 1
    while d >= 0:
        idx[d] = rem % r.kshape[d]
        rem = rem // r.kshape[d]
        off = off + idx[d] * r.ks[d]
        d = d - 1
    for j in range(start, stop):
        out[j] = _reduce_all(x + off, r)
        d = r.nk - 1
        while d >= 0:
            idx[d] = idx[d] + 1
            off = off + r.ks[d]
            if idx[d] < r.kshape[d]:
                break
            off = off - r.kshape[d] * r.ks[d]
            idx[d] = 0
            d = d - 1


cdef inline void _col_add4(sum_t* o, const sum_t* a, const sum_t* b, const sum_t* c,
                           const sum_t* d, Py_ssize_t w, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(w):
        o[j] = o[j] + ((a[j * s] + b[j * s]) + (c[j * s] + d[j * s]))


cdef inline void _col_add1(sum_t* o, const sum_t* a, Py_ssize_t w, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(w):
        o[j] = o[j] + a[j * s]


cdef void _col_item(const sum_t* x, sum_t* out, const Red* r, Py_ssize_t item,
                    Py_ssize_t ncb) noexcept nogil:
    """Outputs [cb*CB, cb*CB + w) of kept-outer index ko: rows of the reduced space in order."""
    cdef Py_ssize_t idx[MAXDIM]
    cdef int lk = r.nk - 1, last = r.nr - 1, d
    cdef Py_ssize_t Lk = r.kshape[lk], sk = r.ks[lk]
    cdef Py_ssize_t ko = item // ncb, cb = item % ncb, w, i, R, rs, off
    cdef const sum_t* base
    cdef sum_t* o
    w = Lk - cb * CB
    if w > CB:
        w = CB
    o = out + ko * Lk + cb * CB
    base = x + _offset(ko, r.kshape, r.ks, lk) + cb * CB * sk
    for i in range(w):
        o[i] = 0
    if last == 0:
        R = r.rshape[0]
        rs = r.rs[0]
        i = 0
        if sk == 1:
            while i + 4 <= R:
                _col_add4(o, base + i * rs, base + (i + 1) * rs, base + (i + 2) * rs,
                          base + (i + 3) * rs, w, 1)
                i = i + 4
            while i < R:
                _col_add1(o, base + i * rs, w, 1)
                i = i + 1
        else:
            while i + 4 <= R:
                _col_add4(o, base + i * rs, base + (i + 1) * rs, base + (i + 2) * rs,
                          base + (i + 3) * rs, w, sk)
                i = i + 4
            while i < R:
                _col_add1(o, base + i * rs, w, sk)
                i = i + 1
        return
    for d in range(r.nr):
        idx[d] = 0
    off = 0
    while True:
        if sk == 1:
            _col_add1(o, base + off, w, 1)
        else:
            _col_add1(o, base + off, w, sk)
        d = last
        while d >= 0:
            idx[d] = idx[d] + 1
            off = off + r.rs[d]
            if idx[d] < r.rshape[d]:
                break
            off = off - r.rshape[d] * r.rs[d]
            idx[d] = 0
            d = d - 1
        if d < 0:
            return


cdef sum_t _block(const sum_t* x, const Red* r, Py_ssize_t item, Py_ssize_t nblk) noexcept nogil:
    """Partial sum `item` of a full reduction: block `item % nblk` of reduced row `item // nblk`."""
    cdef int last = r.nr - 1
    cdef Py_ssize_t L = r.rshape[last], s = r.rs[last], b = item % nblk, n
    n = L - b * BLOCK
    if n > BLOCK:
        n = BLOCK
    return _pairwise(x + _offset(item // nblk, r.rshape, r.rs, last) + b * BLOCK * s, n, s)


cdef void _run(const sum_t* x, sum_t* out, sum_t* partial, const Red* r, int col,
               Py_ssize_t n_items, Py_ssize_t nb, int nt) noexcept nogil:
    cdef Py_ssize_t t, chunk, s, e, k
    if r.nk == 0:                                   # one output, from n_items partial sums
        if n_items == 1:
            out[0] = _reduce_all(x, r)
            return
        if nt <= 1:
            for k in range(n_items):
                partial[k] = _block(x, r, k, nb)
        else:
            for k in prange(n_items, schedule='static', num_threads=nt):
                partial[k] = _block(x, r, k, nb)
        out[0] = _pairwise(<const sum_t*> partial, n_items, 1)
    elif col:
        if nt <= 1:
            for k in range(n_items):
                _col_item(x, out, r, k, nb)
        else:
            for k in prange(n_items, schedule='static', num_threads=nt):
                _col_item(x, out, r, k, nb)
    else:
        if nt <= 1:
            _rows(x, out, r, 0, r.n_out)
        else:
            chunk = (r.n_out + nt - 1) // nt
            for t in prange(nt, schedule='static', num_threads=nt):
                s = t * chunk
                e = s + chunk
                if e > r.n_out:
                    e = r.n_out
                if s < e:
                    _rows(x, out, r, s, e)


# ---------------------------------------------------------------------------------------------
# Python entry point

cdef int _setup(Red* r, Py_buffer* b, tuple axes) except -1:
    cdef bint red[MAXDIM]
    cdef Py_ssize_t order[MAXDIM]
    cdef int d, k, i, j, prev = -1, ax
    cdef Py_ssize_t n, st, tmp
    cdef Py_ssize_t shp[MAXDIM]
    cdef Py_ssize_t sts[MAXDIM]
    if b.ndim > MAXDIM:
        raise ValueError(f"sum kernel: more than {MAXDIM} dimensions")
    for d in range(b.ndim):
        red[d] = False
    for a in axes:
        ax = a
        if ax <= prev or ax >= b.ndim:
            raise ValueError(f"sum kernel: axes {axes} must be sorted, unique and below "
                             f"{b.ndim} (a tinytensor bug: callers normalise them)")
        red[ax] = True
        prev = ax
    r.nk = 0
    r.nr = 0
    r.n_out = 1
    r.n_red = 1
    for d in range(b.ndim):
        n = b.shape[d]
        if b.strides[d] % b.itemsize:
            raise ValueError("sum kernel: misaligned strides (a tinytensor bug)")
        st = b.strides[d] // b.itemsize
        if red[d]:
            r.n_red = r.n_red * n
            if n != 1:
                r.rshape[r.nr] = n
                r.rs[r.nr] = st
                r.nr = r.nr + 1
        else:
            r.n_out = r.n_out * n
            if n == 1:
                continue
            k = r.nk
            if k > 0 and r.ks[k - 1] == st * n:          # merge with the previous kept dim
                r.kshape[k - 1] = r.kshape[k - 1] * n
                r.ks[k - 1] = st
            else:
                r.kshape[k] = n
                r.ks[k] = st
                r.nk = k + 1
    # reduced dims: decreasing |stride| (stable), then merge where contiguous
    for i in range(r.nr):
        order[i] = i
    for i in range(1, r.nr):
        j = i
        while j > 0 and iabs(r.rs[order[j - 1]]) < iabs(r.rs[order[j]]):
            tmp = order[j]
            order[j] = order[j - 1]
            order[j - 1] = tmp
            j = j - 1
    for i in range(r.nr):
        shp[i] = r.rshape[order[i]]
        sts[i] = r.rs[order[i]]
    k = 0
    for i in range(r.nr):
        if k > 0 and r.rs[k - 1] == sts[i] * shp[i]:
            r.rshape[k - 1] = r.rshape[k - 1] * shp[i]
            r.rs[k - 1] = sts[i]
        else:
            r.rshape[k] = shp[i]
            r.rs[k] = sts[i]
            k = k + 1
    if k == 0:                                          # nothing to add: one element each
        r.rshape[0] = 1
        r.rs[0] = 0
        k = 1
    r.nr = k
    return 0


def sum(a, axes, keepdim, n_threads=None):
    """Sum of ndarray `a` (any strides) over `axes` (sorted unique ints), a fresh C-contiguous
    array; keepdim keeps the reduced axes with size 1. n_threads: threads for large work
    (default tinytensor.get_num_threads())."""
    cdef Py_buffer b, bo
    cdef Red r
    cdef int col = 0, nt = 1
    cdef Py_ssize_t n_items = 1, nb = 1, L
    axes = tuple(axes)
    shape = a.shape
    if keepdim:
        out_shape = tuple([1 if d in axes else n for d, n in enumerate(shape)])
    else:
        out_shape = tuple([n for d, n in enumerate(shape) if d not in axes])
    dt = a.dtype
    if dt == _F32:
        dt = _F32
    elif dt == _F64:
        dt = _F64
    elif dt == _I64:
        dt = _I64
    else:
        # bool and narrower integers: callers convert to int64 first; NumPy defines the rest
        return np.asarray(np.sum(a, axis=axes, keepdims=keepdim), order="C")
    PyObject_GetBuffer(a, &b, PyBUF_RECORDS_RO)
    try:
        _setup(&r, &b, axes)
        if r.n_out == 0 or r.n_red == 0:
            return np.zeros(out_shape, dt)
        out = np.empty(out_shape, dt)
        partial = None
        if r.nk == 0:
            L = r.rshape[r.nr - 1]
            nb = (L + BLOCK - 1) // BLOCK
            n_items = (r.n_red // L) * nb
            if n_items > 1:
                partial = np.empty(n_items, dt)
        elif r.nr >= 1 and iabs(r.ks[r.nk - 1]) < iabs(r.rs[r.nr - 1]):
            col = 1
            nb = (r.kshape[r.nk - 1] + CB - 1) // CB
            n_items = (r.n_out // r.kshape[r.nk - 1]) * nb
        if r.n_out * r.n_red >= PARALLEL_MIN:
            if n_threads is None:
                n_threads = get_num_threads()
            nt = n_threads
        PyObject_GetBuffer(out, &bo, PyBUF_RECORDS)
        try:
            if bo.len != r.n_out * b.itemsize:
                raise ValueError("sum kernel: inconsistent output (a tinytensor bug)")
            if dt is _F32:
                _dispatch(<const float*> b.buf, <float*> bo.buf, partial, &r, col, n_items, nb, nt)
            elif dt is _F64:
                _dispatch(<const double*> b.buf, <double*> bo.buf, partial, &r, col, n_items, nb, nt)
            else:
                _dispatch(<const int64_t*> b.buf, <int64_t*> bo.buf, partial, &r, col, n_items,
                          nb, nt)
        finally:
            PyBuffer_Release(&bo)
    finally:
        PyBuffer_Release(&b)
    return out


cdef int _dispatch(const sum_t* x, sum_t* out, object partial, const Red* r, int col,
                   Py_ssize_t n_items, Py_ssize_t nb, int nt) except -1:
    cdef Py_buffer bp
    cdef sum_t* p = NULL
    if partial is not None:
        PyObject_GetBuffer(partial, &bp, PyBUF_RECORDS)
        p = <sum_t*> bp.buf
        if bp.len != n_items * sizeof(sum_t):
            PyBuffer_Release(&bp)
            raise ValueError("sum kernel: inconsistent scratch (a tinytensor bug)")
    try:
        with nogil:
            _run(x, out, p, r, col, n_items, nb, nt)
    finally:
        if partial is not None:
            PyBuffer_Release(&bp)
    return 0
