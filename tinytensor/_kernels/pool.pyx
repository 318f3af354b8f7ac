# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""Pooling kernels: max, average, adaptive pools and max-unpooling, forward and backward.

Contract: `tinytensor.nn.functional.pooling` has validated every argument (ranks, sizes,
kernel/stride/padding/dilation limits) and the Functions in
`tinytensor._functions.pool` pass C-contiguous NumPy arrays with the spatial dims padded to
three: 1-D pools arrive as (P, 1, 1, L), 2-D as (P, 1, H, W), where P = N * C planes.

Notes:
- The parallel axis is the plane P: one thread owns a plane (its outputs, and in backward its
  gradient plane, which the kernel zeroes itself), with schedule='static' and a fixed order
  inside a plane, so results are bitwise equal for any thread count.
- Each def entry checks O(1) invariants that put every index in range; the per-element index
  into a plane comes from the window arithmetic (max, avg, adaptive) or from indices produced
  by max_pool_forward / adaptive_max_forward. Indices the user holds (max_unpool's, and the
  max pools' with return_indices) stay writable by the user, from NumPy or another thread,
  during the call: the kernels read each once (read_index) and range-check it where they use it.
- Max rule, as PyTorch's CPU kernel: scan the window in row-major order, starting from its
  first in-bounds element (padding is skipped, never filled with -inf), and take v when
  `(v > best) or isnan(v)`: the first maximum wins ties and the last NaN wins.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t, uint16_t, INT64_MIN
from libc.string cimport memset

import numpy as np

from tinytensor._kernels.conv_geometry cimport tt_conv_kernels
from tinytensor._kernels._variant cimport kernels
from tinytensor._kernels import _variant
from tinytensor._kernels._pool_common cimport (pool_out_size, first_tap, end_tap, bin_start,
                                               bin_end, read_index, tt_div_wrap_i64,
                                               tt_add_wrap_i64)

ctypedef fused pool_t:
    float
    double
    int64_t

# Max-pool winners: int64 when the user asked for indices; when only backward needs them,
# uint16 for planes under 2**16 - 1 elements (a position outside the plane, which only a window
# wholly in the padding can have, becomes 0xFFFF, which backward skips), else int32 for planes under 2**31: a quarter / half the memory traffic.
ctypedef fused idx_t:
    uint16_t
    int32_t
    int64_t


def _bad(name):
    raise ValueError(name + ": inconsistent shapes or parameters (a tinytensor bug)")


cdef extern from *:
    """
    /* One window tap over a chunk of float32 outputs (see _max_chunk). Plain C so that it can
       carry restrict and, on x86-64 Linux with GCC, an AVX2 clone picked at load time by the
       CPU (the build itself targets baseline SSE2); elsewhere it is the same loop, unversioned. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define TT_POOL_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define TT_POOL_CLONES
    #endif
    TT_POOL_CLONES
    static void tt_max_tap_f32(const float *__restrict xr, float *__restrict bv,
                               int *__restrict bp, Py_ssize_t n, Py_ssize_t s, int off) {
        for (Py_ssize_t i = 0; i < n; i++) {
            float v = xr[i * s], u = bv[i];
            /* last NaN wins, as PyTorch: (v > best) or isnan(v); m: all ones if taken */
            int m = -(int)((v > u) | (v != v));
            bv[i] = m ? v : u;
            bp[i] = (bp[i] & ~m) | ((off + (int)(i * s)) & m);
        }
    }
    """
    void tt_max_tap_f32(const float* xr, float* bv, int* bp, Py_ssize_t n, Py_ssize_t s,
                        int off) noexcept nogil


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define tt_prefetch(p) __builtin_prefetch((const void *)(p))
    #else
    #define tt_prefetch(p) ((void)0)
    #endif
    """
    void tt_prefetch(const void* p) noexcept nogil


cdef enum:
    PF_AHEAD = 512              # elements ahead that max_pool_backward prefetches
    PF_MIN_L = 2048             # in planes of at least this many outputs


# float32 max-pool rows with column stride 1 or 2 run the running variant's row kernel
# (c/tt_pool_rows.inc, through _variant's table: AVX-512, AVX2, NEON or plain vectors); the
# plain loops of _max_chunk when the build has no variant, or when a test turns this off
cdef bint _VECTOR_ROWS = True


def vector_rows():
    """The variant whose max-pool row kernel runs for float32 (see _variant), or None: the
    plain loops run."""
    return _variant.variant() if _VECTOR_ROWS and kernels() != NULL else None


def _use_vector_rows(bint on):
    """Run float32 max-pool rows by the variant's row kernel (on) or by the plain loops;
    returns the old setting. For tests, which compare both paths."""
    global _VECTOR_ROWS
    old = _VECTOR_ROWS
    _VECTOR_ROWS = on
    return old


cdef enum:
    CHUNK = 64                  # outputs per _max_chunk call (its stack arrays)


cdef inline void _max_chunk(const pool_t* xp, pool_t* y, idx_t* idx, Py_ssize_t n,
                            Py_ssize_t sw, Py_ssize_t start, Py_ssize_t na, Py_ssize_t nb,
                            Py_ssize_t nc, Py_ssize_t ja, Py_ssize_t jb,
                            Py_ssize_t jc) noexcept nogil:
    """Up to CHUNK interior outputs of one row. Output i's window has its first in-bounds tap
    at flat position start + i*sw of plane xp and its taps at + a*ja + b*jb + c*jc.

    The loops run tap-major over the chunk, so each output still sees its taps in row-major
    order, while the loop over outputs is branch-free and vectorizes; the running maxima live
    in local arrays, which the compiler knows alias nothing (Python builds with
    -fno-strict-aliasing, so stores into y/idx would otherwise block vectorization).
    """
    cdef pool_t bv[CHUNK]
    cdef int bp32[CHUNK]          # float32: masks and positions as wide as the values
    cdef int64_t bp64[CHUNK]
    cdef Py_ssize_t i, a, b, c, off
    cdef const pool_t* xr
    cdef pool_t v, u
    cdef int m32
    cdef int64_t m64
    for i in range(n):
        bv[i] = xp[start + i * sw]
        if pool_t is float:
            bp32[i] = <int>(start + i * sw)
        else:
            bp64[i] = start + i * sw
    for a in range(na):
        for b in range(nb):
            for c in range(nc):
                if a == 0 and b == 0 and c == 0:
                    continue
                off = start + a * ja + b * jb + c * jc
                xr = xp + off
                # last NaN wins, as PyTorch: (v > best) or isnan(v); m: all ones if taken
                if pool_t is float:
                    tt_max_tap_f32(xr, bv, bp32, n, sw, <int>off)
                else:
                    for i in range(n):
                        v = xr[i * sw]
                        u = bv[i]
                        m64 = -<int64_t>((v > u) | (v != v))
                        bv[i] = v if m64 else u
                        bp64[i] = (bp64[i] & ~m64) | ((off + i * sw) & m64)
    for i in range(n):
        y[i] = bv[i]
    if idx != NULL:
        for i in range(n):
            if pool_t is float:
                idx[i] = <idx_t>bp32[i]
            else:
                idx[i] = <idx_t>bp64[i]


def max_pool_forward(const pool_t[:, :, :, ::1] x,      # IN  (P, D, H, W)
                     pool_t[:, :, :, ::1] y,            # OUT (P, OD, OH, OW)
                     idx_t[:, :, :, ::1] idx,           # OUT (P, OD, OH, OW) or None
                     Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                     Py_ssize_t dd, Py_ssize_t dh, Py_ssize_t dw,
                     bint ceil_mode, int n_threads):
    """Max pooling; idx gets the winner's flat position (d*H + h)*W + w in the input plane.

    Per output row, the interior outputs (every column tap in bounds) are updated tap by tap
    over the whole row segment, so the loop over outputs vectorizes; each output still sees
    its taps in row-major order, so the result is the sequential scan's. Border outputs take
    the per-element loop. float32 with column stride 1 or 2 runs the interior segment in the
    running variant's row kernel (c/tt_pool_rows.inc; P2's k3 s2 p1 forward on AVX-512: 29 ms
    by the plain loops, 11 ms by the row kernel, 1 thread).
    """
    cdef Py_ssize_t P = x.shape[0], D = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, d0, h0, w0, a0, a1, b0, b1, c0, c1, best_pos
    cdef Py_ssize_t row, ow_lo, ow_hi, n_in, wl, start, q, qq, t, n_skip, pf_at, pf_len
    cdef bint row_ok, use_rows
    cdef const tt_conv_kernels* kt = kernels() if _VECTOR_ROWS else NULL
    cdef int idx_kind = 2 if idx_t is uint16_t else 1 if idx_t is int64_t else 0
    cdef bint has_idx = idx is not None
    cdef pool_t v, best
    if (min(kd, kh, kw, sd, sh, sw, dd, dh, dw) < 1 or min(pd, ph, pw) < 0
            or 2 * pd > dd * (kd - 1) + 1 or 2 * ph > dh * (kh - 1) + 1
            or 2 * pw > dw * (kw - 1) + 1 or y.shape[0] != P
            or OD != pool_out_size(D, kd, sd, pd, dd, ceil_mode)
            or OH != pool_out_size(H, kh, sh, ph, dh, ceil_mode)
            or OW != pool_out_size(W, kw, sw, pw, dw, ceil_mode)
            or (has_idx and (idx.shape[0] != P or idx.shape[1] != OD or idx.shape[2] != OH
                             or idx.shape[3] != OW))):
        _bad("max_pool_forward")
    if idx_t is uint16_t:
        if has_idx and D * H * W >= 65535:
            _bad("max_pool_forward")
    # Interior columns [ow_lo, ow_hi): w0 = ow*sw - pw >= 0 and w0 + (kw-1)*dw < W.
    ow_lo = (pw + sw - 1) // sw
    wl = W - (kw - 1) * dw + pw
    ow_hi = (wl + sw - 1) // sw if wl > 0 else 0
    ow_hi = min(max(ow_hi, ow_lo), OW)
    ow_lo = min(ow_lo, ow_hi)
    n_in = ow_hi - ow_lo
    if pool_t is float:
        if D * H * W >= 2147483647:
            n_in = 0            # _max_chunk keeps float32 positions in int32
    # float32 rows with column stride 1 or 2 take the variant's row kernel
    use_rows = kt != NULL and (sw == 1 or sw == 2)
    pf_len = min(sh, 4) * W
    # pad <= eff // 2 and the drop rule make every window start inside the input or the left
    # padding; with dilation, all its taps can still fall in the padding ([first_tap, end_tap)
    # empty), which is handled apart.
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for od in range(OD):
            d0 = od * sd - pd
            a0 = first_tap(d0, dd)
            a1 = end_tap(d0, kd, dd, D)
            for oh in range(OH):
                h0 = oh * sh - ph
                b0 = first_tap(h0, dh)
                b1 = end_tap(h0, kh, dh, H)
                row_ok = a0 < a1 and b0 < b1
                # border outputs only: interior ones [ow_lo, ow_lo + n_in) come after
                n_skip = n_in if row_ok else 0
                for t in range(OW - n_skip):
                    ow = t if t < ow_lo else t + n_skip
                    w0 = ow * sw - pw
                    c0 = first_tap(w0, dw)
                    c1 = end_tap(w0, kw, dw, W)
                    best_pos = ((d0 + a0 * dd) * H + h0 + b0 * dh) * W + w0 + c0 * dw
                    if not row_ok or c0 >= c1:
                        # Every tap in the padding (dilation can skip over a small input):
                        # PyTorch returns -inf (lowest for integers) and the position of the
                        # first tap past the padding, which lies outside the plane.
                        if pool_t is int64_t:
                            y[p, od, oh, ow] = INT64_MIN
                        else:
                            y[p, od, oh, ow] = -INFINITY
                        if has_idx:
                            # (a flat position past a row's end can still land in the
                            # plane, and then backward adds there, as PyTorch does)
                            if idx_t is uint16_t and (best_pos < 0 or best_pos >= D * H * W):
                                idx[p, od, oh, ow] = 0xFFFF     # >= the plane: skipped
                            else:
                                idx[p, od, oh, ow] = <idx_t>best_pos
                        continue
                    best = x[p, d0 + a0 * dd, h0 + b0 * dh, w0 + c0 * dw]
                    for a in range(a0, a1):
                        for b in range(b0, b1):
                            row = ((d0 + a * dd) * H + h0 + b * dh) * W
                            for c in range(c0, c1):
                                v = x[p, d0 + a * dd, h0 + b * dh, w0 + c * dw]
                                # last NaN wins, as PyTorch: (v > best) or isnan(v)
                                if v > best or v != v:
                                    best = v
                                    best_pos = row + w0 + c * dw
                    y[p, od, oh, ow] = best
                    if has_idx:
                        idx[p, od, oh, ow] = best_pos
                if row_ok and n_in > 0:
                    start = ((d0 + a0 * dd) * H + h0 + b0 * dh) * W + ow_lo * sw - pw
                    if pool_t is float:
                        if use_rows:
                            # prefetch the rows that the window two output rows down adds
                            # (past the plane's end: the next plane's first rows)
                            pf_at = ((d0 + a0 * dd) * H + h0 + (kh - 1) * dh + sh + 1) * W
                            kt.max_row(&x[p, 0, 0, 0], &y[p, od, oh, ow_lo],
                                              <void*>&idx[p, od, oh, ow_lo] if has_idx else NULL,
                                              idx_kind, n_in, sw, start, a1 - a0,
                                              b1 - b0, kw, dd * H * W, dh * W, dw,
                                              &x[p, 0, 0, 0] + pf_at, pf_len)
                            continue
                    for qq in range((n_in + CHUNK - 1) // CHUNK):
                        q = qq * CHUNK
                        _max_chunk(&x[p, 0, 0, 0], &y[p, od, oh, ow_lo + q],
                                   &idx[p, od, oh, ow_lo + q] if has_idx else NULL,
                                   min(CHUNK, n_in - q), sw, start + q * sw,
                                   a1 - a0, b1 - b0, kw, dd * H * W, dh * W, dw)


def max_pool_backward(const floating[:, ::1] go,      # IN  (P, L_out) gradient of the output
                      const idx_t[:, ::1] idx,        # IN  (P, L_out) winners, from a forward
                      floating[:, ::1] gi,            # OUT (P, L_in) fully written
                      int n_threads):
    """Scatter-add go into gi at idx, plane by plane (overlapping windows accumulate).

    idx was produced by max_pool_forward or adaptive_max_forward on a plane of L_in elements;
    entries outside [0, L_in) (windows entirely in the padding) are skipped.
    """
    cdef Py_ssize_t P = go.shape[0], L = go.shape[1], LI = gi.shape[1], p, o, i, q
    if idx.shape[0] != P or idx.shape[1] != L or gi.shape[0] != P:
        _bad("max_pool_backward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if LI > 0:
            memset(&gi[p, 0], 0, LI * sizeof(floating))
        if L < PF_MIN_L:
            for o in range(L):
                # read once: user-held indices (return_indices) may change under us
                i = read_index(&idx[p, o])
                # a window with every tap in the padding has an index outside the plane
                if i >= 0 and i < LI:
                    gi[p, i] = gi[p, i] + go[p, o]
            continue
        for q in range(0, L, 16):
            # big planes: winners and gradients stream from memory, fetch ahead (never faults;
            # past the plane's end it is the next plane's, or nothing). Small planes (P1's
            # 22x22 outputs) ran slower with it.
            tt_prefetch(&idx[p, 0] + q + PF_AHEAD)
            tt_prefetch(&go[p, 0] + q + PF_AHEAD)
            for o in range(q, min(q + 16, L)):
                i = read_index(&idx[p, o])
                if i >= 0 and i < LI:
                    gi[p, i] = gi[p, i] + go[p, o]


def avg_pool_forward(const pool_t[:, :, :, ::1] x,      # IN  (P, D, H, W)
                     pool_t[:, :, :, ::1] y,            # OUT (P, OD, OH, OW)
                     Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                     Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                     Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                     bint ceil_mode, bint count_include_pad, int64_t divisor_override,
                     int n_threads):
    """Average pooling with PyTorch's divisor rule; divisor_override 0 means none.

    Window [start, min(start + k, n + p)) is clipped to the padded extent (its length is the
    count_include_pad divisor), then to the input for the sum. Integers truncate toward zero.
    """
    cdef Py_ssize_t P = x.shape[0], D = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OD = y.shape[1], OH = y.shape[2], OW = y.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, ds, de, hs, he, ws, we, pool_size, div
    cdef Py_ssize_t ds2, de2, hs2, he2, ws2, we2
    cdef pool_t acc
    if (min(kd, kh, kw, sd, sh, sw) < 1 or min(pd, ph, pw) < 0
            or 2 * pd > kd or 2 * ph > kh or 2 * pw > kw or y.shape[0] != P
            or OD != pool_out_size(D, kd, sd, pd, 1, ceil_mode)
            or OH != pool_out_size(H, kh, sh, ph, 1, ceil_mode)
            or OW != pool_out_size(W, kw, sw, pw, 1, ceil_mode)):
        _bad("avg_pool_forward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for od in range(OD):
            ds = od * sd - pd
            de = min(ds + kd, D + pd)
            ds2 = max(ds, 0)
            de2 = min(de, D)
            for oh in range(OH):
                hs = oh * sh - ph
                he = min(hs + kh, H + ph)
                hs2 = max(hs, 0)
                he2 = min(he, H)
                for ow in range(OW):
                    ws = ow * sw - pw
                    we = min(ws + kw, W + pw)
                    ws2 = max(ws, 0)
                    we2 = min(we, W)
                    acc = 0
                    for a in range(ds2, de2):
                        for b in range(hs2, he2):
                            for c in range(ws2, we2):
                                if pool_t is int64_t:      # wraps, as PyTorch
                                    acc = tt_add_wrap_i64(acc, x[p, a, b, c])
                                else:
                                    acc = acc + x[p, a, b, c]
                    if divisor_override != 0:
                        div = divisor_override
                    elif count_include_pad:
                        div = (de - ds) * (he - hs) * (we - ws)
                    else:
                        div = (de2 - ds2) * (he2 - hs2) * (we2 - ws2)
                    if pool_t is int64_t:     # toward zero; INT64_MIN / -1 wraps, never traps
                        y[p, od, oh, ow] = tt_div_wrap_i64(acc, div)
                    else:
                        y[p, od, oh, ow] = acc / div


def avg_pool2d_forward_k2s2(const floating[:, :, ::1] x,  # IN  (P, H, W)
                            floating[:, :, ::1] y,        # OUT (P, H // 2, W // 2)
                            int n_threads):
    """Fast path of avg_pool_forward for kernel 2, stride 2, no padding, floor mode."""
    cdef Py_ssize_t P = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = y.shape[1], OW = y.shape[2], p, oh, ow
    if y.shape[0] != P or OH != H // 2 or OW != W // 2:
        _bad("avg_pool2d_forward_k2s2")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for oh in range(OH):
            for ow in range(OW):
                # the general kernel's summation order, so both paths agree bitwise
                y[p, oh, ow] = (((x[p, 2 * oh, 2 * ow] + x[p, 2 * oh, 2 * ow + 1])
                                 + x[p, 2 * oh + 1, 2 * ow]) + x[p, 2 * oh + 1, 2 * ow + 1]) / 4


def avg_pool2d_backward_k2s2(const floating[:, :, ::1] go,  # IN  (P, H // 2, W // 2)
                             floating[:, :, ::1] gi,        # OUT (P, H, W) fully written
                             int n_threads):
    """Backward of avg_pool2d_forward_k2s2: each input cell gets its one window's go / 4.

    Windows tile the input without overlap, so each cell is written once (no zeroing pass and
    no read-modify-write); an odd last row or column, which no window covers, is zeroed.
    """
    cdef Py_ssize_t P = gi.shape[0], H = gi.shape[1], W = gi.shape[2]
    cdef Py_ssize_t OH = go.shape[1], OW = go.shape[2], p, oh, ow, h
    cdef floating g
    if go.shape[0] != P or OH != H // 2 or OW != W // 2:
        _bad("avg_pool2d_backward_k2s2")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for oh in range(OH):
            for ow in range(OW):
                g = go[p, oh, ow] / 4
                gi[p, 2 * oh, 2 * ow] = g
                gi[p, 2 * oh, 2 * ow + 1] = g
                gi[p, 2 * oh + 1, 2 * ow] = g
                gi[p, 2 * oh + 1, 2 * ow + 1] = g
            if W % 2:
                gi[p, 2 * oh, W - 1] = 0
                gi[p, 2 * oh + 1, W - 1] = 0
        if H % 2:
            memset(&gi[p, H - 1, 0], 0, W * sizeof(floating))


def avg_pool_backward(const floating[:, :, :, ::1] go,  # IN  (P, OD, OH, OW)
                      floating[:, :, :, ::1] gi,        # OUT (P, D, H, W) fully written
                      Py_ssize_t kd, Py_ssize_t kh, Py_ssize_t kw,
                      Py_ssize_t sd, Py_ssize_t sh, Py_ssize_t sw,
                      Py_ssize_t pd, Py_ssize_t ph, Py_ssize_t pw,
                      bint ceil_mode, bint count_include_pad, int64_t divisor_override,
                      int n_threads):
    """Spread go / divisor over each window's in-bounds elements (same divisor rule)."""
    cdef Py_ssize_t P = gi.shape[0], D = gi.shape[1], H = gi.shape[2], W = gi.shape[3]
    cdef Py_ssize_t OD = go.shape[1], OH = go.shape[2], OW = go.shape[3]
    cdef Py_ssize_t p, od, oh, ow, a, b, c, ds, de, hs, he, ws, we, div
    cdef Py_ssize_t ds2, de2, hs2, he2, ws2, we2
    cdef floating g
    if (min(kd, kh, kw, sd, sh, sw) < 1 or min(pd, ph, pw) < 0
            or 2 * pd > kd or 2 * ph > kh or 2 * pw > kw or go.shape[0] != P
            or OD != pool_out_size(D, kd, sd, pd, 1, ceil_mode)
            or OH != pool_out_size(H, kh, sh, ph, 1, ceil_mode)
            or OW != pool_out_size(W, kw, sw, pw, 1, ceil_mode)):
        _bad("avg_pool_backward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if D * H * W > 0:
            memset(&gi[p, 0, 0, 0], 0, D * H * W * sizeof(floating))
        for od in range(OD):
            ds = od * sd - pd
            de = min(ds + kd, D + pd)
            ds2 = max(ds, 0)
            de2 = min(de, D)
            for oh in range(OH):
                hs = oh * sh - ph
                he = min(hs + kh, H + ph)
                hs2 = max(hs, 0)
                he2 = min(he, H)
                for ow in range(OW):
                    ws = ow * sw - pw
                    we = min(ws + kw, W + pw)
                    ws2 = max(ws, 0)
                    we2 = min(we, W)
                    if divisor_override != 0:
                        div = divisor_override
                    elif count_include_pad:
                        div = (de - ds) * (he - hs) * (we - ws)
                    else:
                        div = (de2 - ds2) * (he2 - hs2) * (we2 - ws2)
                    g = go[p, od, oh, ow] / div
                    for a in range(ds2, de2):
                        for b in range(hs2, he2):
                            for c in range(ws2, we2):
                                gi[p, a, b, c] = gi[p, a, b, c] + g


def adaptive_avg_forward(const floating[:, :, ::1] x,   # IN  (P, H, W)
                         floating[:, :, ::1] y,         # OUT (P, OH, OW)
                         int n_threads):
    """Adaptive average pooling, bins [floor(i*n/o), ceil((i+1)*n/o)) (H = OH = 1 for 1-D)."""
    cdef Py_ssize_t P = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = y.shape[1], OW = y.shape[2], p, oh, ow, b, c, hs, he, ws, we
    cdef floating acc
    if y.shape[0] != P or ((OH > 0 and OW > 0) and (H < 1 or W < 1)):
        _bad("adaptive_avg_forward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for oh in range(OH):
            hs = bin_start(oh, H, OH)
            he = bin_end(oh, H, OH)
            for ow in range(OW):
                ws = bin_start(ow, W, OW)
                we = bin_end(ow, W, OW)
                acc = 0
                for b in range(hs, he):
                    for c in range(ws, we):
                        acc = acc + x[p, b, c]
                y[p, oh, ow] = acc / ((he - hs) * (we - ws))


def adaptive_avg_backward(const floating[:, :, ::1] go,  # IN  (P, OH, OW)
                          floating[:, :, ::1] gi,        # OUT (P, H, W) fully written
                          int n_threads):
    """Spread each bin's gradient evenly over the bin."""
    cdef Py_ssize_t P = gi.shape[0], H = gi.shape[1], W = gi.shape[2]
    cdef Py_ssize_t OH = go.shape[1], OW = go.shape[2], p, oh, ow, b, c, hs, he, ws, we
    cdef floating g
    if go.shape[0] != P or ((OH > 0 and OW > 0) and (H < 1 or W < 1)):
        _bad("adaptive_avg_backward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if H * W > 0:
            memset(&gi[p, 0, 0], 0, H * W * sizeof(floating))
        for oh in range(OH):
            hs = bin_start(oh, H, OH)
            he = bin_end(oh, H, OH)
            for ow in range(OW):
                ws = bin_start(ow, W, OW)
                we = bin_end(ow, W, OW)
                g = go[p, oh, ow] / ((he - hs) * (we - ws))
                for b in range(hs, he):
                    for c in range(ws, we):
                        gi[p, b, c] = gi[p, b, c] + g


def adaptive_max_forward(const pool_t[:, :, ::1] x,     # IN  (P, H, W)
                         pool_t[:, :, ::1] y,           # OUT (P, OH, OW)
                         int64_t[:, :, ::1] idx,        # OUT (P, OH, OW), flat h*W + w
                         int n_threads):
    """Adaptive max pooling with the max-pool scan rule (first max wins, last NaN wins)."""
    cdef Py_ssize_t P = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = y.shape[1], OW = y.shape[2], p, oh, ow, b, c, hs, he, ws, we, bp
    cdef pool_t v, best
    if (y.shape[0] != P or idx.shape[0] != P or idx.shape[1] != OH or idx.shape[2] != OW
            or ((OH > 0 and OW > 0) and (H < 1 or W < 1))):
        _bad("adaptive_max_forward")
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for oh in range(OH):
            hs = bin_start(oh, H, OH)
            he = bin_end(oh, H, OH)
            for ow in range(OW):
                ws = bin_start(ow, W, OW)
                we = bin_end(ow, W, OW)
                best = x[p, hs, ws]
                bp = hs * W + ws
                for b in range(hs, he):
                    for c in range(ws, we):
                        v = x[p, b, c]
                        if v > best or v != v:
                            best = v
                            bp = b * W + c
                y[p, oh, ow] = best
                idx[p, oh, ow] = bp


def max_unpool_forward(const floating[:, ::1] x,     # IN  (P, L_in) pooled values
                       const int64_t[:, ::1] idx,    # IN  (P, L_in) user indices, checked here
                       floating[:, ::1] y,           # OUT (P, L_out) fully written
                       int n_threads):
    """y[p, idx[p, i]] = x[p, i] over a zeroed plane, in order (the last write wins).

    Returns None, or an index outside [0, L_out) (the last one found, in flat order): the
    indices are user memory (another thread, or NumPy through from_numpy, may change them at
    any time), so each is read once and range-checked here, where it is used."""
    cdef Py_ssize_t P = x.shape[0], L = x.shape[1], LO = y.shape[1], p, i
    cdef int64_t j
    if idx.shape[0] != P or idx.shape[1] != L or y.shape[0] != P:
        _bad("max_unpool_forward")
    bad = np.zeros(P, np.int8)
    bad_at = np.zeros(P, np.int64)
    cdef signed char[::1] bad_v = bad
    cdef int64_t[::1] bad_at_v = bad_at
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        if LO > 0:
            memset(&y[p, 0], 0, LO * sizeof(floating))
        for i in range(L):
            j = read_index(&idx[p, i])
            if j >= 0 and j < LO:
                y[p, j] = x[p, i]
            else:
                bad_v[p] = 1
                bad_at_v[p] = j
    return _last_bad(bad, bad_at)


def gather_planes(const floating[:, ::1] src,     # IN  (P, L_src)
                  const int64_t[:, ::1] idx,      # IN  (P, L_out) user indices, checked here
                  floating[:, ::1] out,           # OUT (P, L_out)
                  int n_threads):
    """out[p, i] = src[p, idx[p, i]]: the backward of max_unpool.

    Returns None, or an index outside [0, L_src) (the last one found): as max_unpool_forward,
    each index is read once and checked where it is used (the indices saved in forward are
    user memory and may have changed since)."""
    cdef Py_ssize_t P = src.shape[0], LS = src.shape[1], L = out.shape[1], p, i
    cdef int64_t j
    if idx.shape[0] != P or idx.shape[1] != L or out.shape[0] != P:
        _bad("gather_planes")
    bad = np.zeros(P, np.int8)
    bad_at = np.zeros(P, np.int64)
    cdef signed char[::1] bad_v = bad
    cdef int64_t[::1] bad_at_v = bad_at
    for p in prange(P, nogil=True, schedule='static', num_threads=n_threads):
        for i in range(L):
            j = read_index(&idx[p, i])
            if j >= 0 and j < LS:
                out[p, i] = src[p, j]
            else:
                out[p, i] = 0
                bad_v[p] = 1
                bad_at_v[p] = j
    return _last_bad(bad, bad_at)


def _last_bad(bad, bad_at):
    """The bad index of the last plane that had one, or None."""
    hits = np.flatnonzero(bad)
    return int(bad_at[hits[hits.size - 1]]) if hits.size else None
