# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""float32 convolution weight gradient by dot products ("dot") and its window mode ("window"):
the running ISA variant's kernels (c/tt_conv_wgrad.inc, compiled once per variant into
c/tt_isa.h's table), so use_variant() in _variant switches them with the others. A chunk is
one vector of positions (vector_width(): 16, 8 or 4), and the tables built here use that
width.

Contract as in conv.pyx: the caller (tinytensor/_functions/conv.py) passes C-contiguous
float32 arrays viewed as 3-D spatial (N, C, D, H, W); `panel_weight_grad` re-checks the O(1)
invariants that keep the kernel's indices in range and raises ValueError before any kernel
runs. Work: blocks of output positions in a fixed order; tasks of (group, MR output channels,
a range of NR-tap tiles), split between the threads, each tile owning its gW elements. So the
sum order of every gW element depends on the shapes only, never on the thread count.
"""
import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport uint16_t, int32_t, uint32_t

from tinytensor._kernels.conv_geometry cimport tt_conv_kernels, tt_wgrad_geo
from tinytensor._kernels._variant cimport kernels

cdef extern from "tt_wgrad_common.h" nogil:
    void tt_wgrad_masks(uint16_t* masks, const tt_wgrad_geo* g, int vl)
    void tt_wgrad_taps(Py_ssize_t* taps, const tt_wgrad_geo* g, Py_ssize_t nrb)
    Py_ssize_t tt_wgrad_tiles(Py_ssize_t Cg, Py_ssize_t K, int nr)
    void tt_wgrad_unpermute(float* gw, const float* gwt, const Py_ssize_t* taps, Py_ssize_t O,
                            Py_ssize_t CK)

# Output positions per block of both kernels (64 chunks of 16 on AVX-512; see
# c/tt_conv_wgrad.inc, "Blocks").
BLOCK_POSITIONS = 1024


def available():
    """Whether the running variant (_variant: TINYTENSOR_ISA or the CPU's best) has these
    kernels: every variant does (c/tt_isa.h); a build without any variant has none."""
    return kernels() != NULL


def vector_width():
    """Output positions per vector (a "chunk") of the running variant's kernels (0: none)."""
    return kernels().wgrad.vl if kernels() != NULL else 0


cdef inline float* _aligned64(float* p) noexcept nogil:
    return <float*> ((<size_t> p + 63) & ~(<size_t> 63))


cdef inline Py_ssize_t _out_size(Py_ssize_t n, Py_ssize_t k, Py_ssize_t s, Py_ssize_t p,
                                 Py_ssize_t q, Py_ssize_t d) noexcept nogil:
    return (n + p + q - d * (k - 1) - 1) // s + 1


cdef bint _bad_output(Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t KD, Py_ssize_t KH,
                      Py_ssize_t KW, Py_ssize_t OD, Py_ssize_t OH, Py_ssize_t OW,
                      Py_ssize_t[:, ::1] geo) noexcept:
    """True unless (OD, OH, OW) is the output of this geometry, and at least 1 each."""
    return (OD != _out_size(D, KD, geo[0, 0], geo[1, 0], geo[3, 0], geo[2, 0])
            or OH != _out_size(H, KH, geo[0, 1], geo[1, 1], geo[3, 1], geo[2, 1])
            or OW != _out_size(W, KW, geo[0, 2], geo[1, 2], geo[3, 2], geo[2, 2])
            or min(OD, OH, OW) < 1)


def _check_geometry(name, Py_ssize_t[:, ::1] geo):
    """What both kernels need before anything else: a kernel variant, and a (4, 3) geometry
    of positive strides and dilations and non-negative paddings."""
    cdef Py_ssize_t a
    if kernels() == NULL:
        raise RuntimeError(f"{name}: needs a kernel variant (a tinytensor bug)")
    if geo.shape[0] != 4 or geo.shape[1] != 3:
        raise ValueError(f"{name}: bad geometry (a tinytensor bug)")
    for a in range(3):
        if geo[0, a] < 1 or geo[1, a] < 0 or geo[2, a] < 1 or geo[3, a] < 0:
            raise ValueError(f"{name}: bad geometry (a tinytensor bug)")


def wgrad_mode(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t OH, Py_ssize_t[:, ::1] geo):
    """How the kernel would walk positions: 1 plane mode, 0 row mode, -1 not applicable
    (W-stride != 1). Shapes only."""
    if geo[0, 2] != 1:
        return -1
    return 1 if (geo[0, 1] == 1 and OW == W) else 0


def wgrad_line(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t OH, Py_ssize_t[:, ::1] geo):
    """Positions per line of the kernel (a plane in plane mode, a row in row mode; 0 when it
    does not apply). Shapes only."""
    cdef Py_ssize_t mode = wgrad_mode(W, OW, OH, geo)
    return 0 if mode < 0 else (OH * OW if mode == 1 else OW)


def wgrad_lane_use(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t OH, Py_ssize_t[:, ::1] geo,
                   Py_ssize_t vl):
    """Fraction of the kernel's vector lanes (vl per vector) that hold a position (row mode
    wastes the tail of every row: S3's rows of 4 use a quarter of 16 lanes, half of 8)."""
    cdef Py_ssize_t lp = wgrad_line(W, OW, OH, geo)
    if lp < 1 or vl < 1:
        return 0.0
    return lp / (<double> vl * ((lp + vl - 1) // vl))


def panel_weight_grad(const float[:, :, :, :, ::1] x,     # IN  (N, C, D, H, W)
                      const float[:, :, :, :, ::1] go,    # IN  (N, O, OD, OH, OW)
                      float[:, :, :, :, ::1] gw,          # OUT (O, C // groups, KD, KH, KW)
                      Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads,
                      Py_ssize_t block_chunks=0):
    """gw = the weight gradient (overwritten), by the variant's dot kernel. Needs W-stride 1.
    block_chunks: chunks per block (0: BLOCK_POSITIONS positions)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = gw.shape[0], Cg = gw.shape[1], KD = gw.shape[2], KH = gw.shape[3]
    cdef Py_ssize_t KW = gw.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t a, Og, K, CK, mr_main, nr_tile, otiles, ttiles, ntiles, nlines
    cdef Py_ssize_t nblocks, parts, lines_per_block, b, line0, nl, ch0, ch1, t, grp, rest
    cdef Py_ssize_t ot, o0, tsplit, ntasks, sp, tt0, tt1, tid, pk, th, k0, k1
    cdef float[:, ::1] gpk, gwt
    cdef int mr, nr
    cdef tt_wgrad_geo g
    cdef uint16_t[::1] masks
    cdef Py_ssize_t[::1] taps
    cdef const tt_conv_kernels* kt
    cdef Py_ssize_t vl
    _check_geometry("panel_weight_grad", geo)
    kt = kernels()
    vl = kt.wgrad.vl
    if block_chunks == 0:
        block_chunks = BLOCK_POSITIONS // vl
    if geo[0, 2] != 1:
        raise ValueError("panel_weight_grad: needs W-stride 1 (a tinytensor bug)")
    if (groups < 1 or C != Cg * groups or O % groups or go.shape[0] != N or go.shape[1] != O
            or min(KD, KH, KW) < 1 or n_threads < 1 or block_chunks < 1
            or _bad_output(D, H, W, KD, KH, KW, OD, OH, OW, geo)):
        raise ValueError("panel_weight_grad: inconsistent shapes (a tinytensor bug)")
    gw[...] = 0
    if N == 0 or O == 0 or Cg == 0 or D == 0 or H == 0 or W == 0:
        return                                      # (an empty input: all padding)
    Og = O // groups
    K = KD * KH * KW
    CK = Cg * K
    g.N, g.C, g.D, g.H, g.W = N, C, D, H, W
    g.O, g.Cg, g.Og = O, Cg, Og
    g.KD, g.KH, g.KW, g.OD, g.OH, g.OW = KD, KH, KW, OD, OH, OW
    g.sd, g.sh = geo[0, 0], geo[0, 1]
    g.pd, g.ph, g.pw = geo[1, 0], geo[1, 1], geo[1, 2]
    g.dd, g.dh, g.dw = geo[2, 0], geo[2, 1], geo[2, 2]
    g.plane = 1 if (geo[0, 1] == 1 and OW == W) else 0
    g.lines_per_n = OD if g.plane else OD * OH
    g.lp = OH * OW if g.plane else OW
    g.nch = (g.lp + vl - 1) // vl
    masks = np.empty(g.nch * (KH * KW + 1), dtype=np.uint16)
    tt_wgrad_masks(&masks[0], &g, <int> vl)

    # Tiles: MR output channels (all of a small group at once, else 4 and a remainder tile)
    # x NR channels (fewer in the last block) at one (i, j, k); a channel block's K tiles run
    # in order, so they share its x rows.
    mr_main = Og if Og <= 6 else 4
    nr_tile = kt.wgrad.nr(<int> mr_main)
    taps = np.empty(5 * CK, dtype=np.intp)
    tt_wgrad_taps(&taps[0], &g, nr_tile)
    otiles = (Og + mr_main - 1) // mr_main
    ttiles = tt_wgrad_tiles(Cg, K, <int> nr_tile)
    ntiles = groups * otiles * ttiles
    # Tasks: (group, output tile, a range of tap tiles); go is packed once per task. Ranges
    # only balance the threads: a tile's sums do not depend on its task, so the split may
    # depend on n_threads without changing any bit.
    tsplit = min(ttiles, max(1, (4 * n_threads + groups * otiles - 1) // (groups * otiles)))
    ntasks = groups * otiles * tsplit
    # Blocks: about block_chunks chunks: whole lines, or equal runs of one line.
    nlines = N * g.lines_per_n
    if g.nch >= block_chunks:
        parts = (g.nch + block_chunks - 1) // block_chunks
        lines_per_block = 1
        nblocks = nlines * parts
    else:
        parts = 1
        lines_per_block = block_chunks // g.nch
        nblocks = (nlines + lines_per_block - 1) // lines_per_block
    pk = mr_main * vl * max(block_chunks, (g.nch + parts - 1) // parts) + 16
    gpk = np.empty((n_threads, pk), dtype=np.float32)
    gwt = np.zeros((O, CK), dtype=np.float32)       # gW, each row in the taps' order
    # One parallel region: thread th takes the tasks k0 .. k1-1 and walks all blocks in order
    # with them, so no barrier per block (a region per block cost a scheduler slice per block
    # whenever another process held a core: S2 at 2 threads 0.6 -> 556 ms once).
    with nogil:
        for th in prange(n_threads, schedule='static', num_threads=n_threads):
            tid = threadid()
            k0 = th * ntasks // n_threads
            k1 = (th + 1) * ntasks // n_threads
            for b in range(nblocks):
                if parts > 1:
                    line0 = b // parts
                    nl = 1
                    ch0 = (b % parts) * g.nch // parts
                    ch1 = (b % parts + 1) * g.nch // parts
                else:
                    line0 = b * lines_per_block
                    nl = min(lines_per_block, nlines - line0)
                    ch0 = 0
                    ch1 = g.nch
                for t in range(k0, k1):
                    grp = t // (otiles * tsplit)
                    rest = t % (otiles * tsplit)
                    ot = rest // tsplit
                    sp = rest % tsplit
                    o0 = ot * mr_main
                    mr = <int> min(mr_main, Og - o0)
                    tt0 = sp * ttiles // tsplit
                    tt1 = (sp + 1) * ttiles // tsplit
                    kt.wgrad.task(&x[0, 0, 0, 0, 0], &go[0, 0, 0, 0, 0], &gwt[0, 0], &g,
                                  &masks[0], &taps[0], _aligned64(&gpk[tid, 0]), grp, o0, mr,
                                  <int> nr_tile, tt0, tt1, line0, nl, ch0, ch1)
        tt_wgrad_unpermute(&gw[0, 0, 0, 0, 0], &gwt[0, 0], &taps[0], O, CK)


# Window mode's limits: geometry values small enough that the scalar table code below cannot
# overflow, and D*H*W < 2^31 (the gathers' int32 offsets from a channel's start).
WIN_MAX_GEO = 1 << 20
WIN_MAX_PLANE = (1 << 31) - 1


def win_applies(Py_ssize_t D, Py_ssize_t H, Py_ssize_t W, Py_ssize_t[:, ::1] geo):
    """Whether window_weight_grad accepts these input sizes and geometry (shapes only)."""
    cdef Py_ssize_t a, b
    for a in range(4):
        for b in range(3):
            if geo[a, b] > WIN_MAX_GEO:
                return False
    return max(D, H, W) <= WIN_MAX_GEO and D * H * W <= WIN_MAX_PLANE


def window_weight_grad(const float[:, :, :, :, ::1] x,     # IN  (N, C, D, H, W)
                       const float[:, :, :, :, ::1] go,    # IN  (N, O, OD, OH, OW)
                       float[:, :, :, :, ::1] gw,          # OUT (O, C // groups, KD, KH, KW)
                       Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads,
                       Py_ssize_t block_chunks=0, Py_ssize_t mr_tile=4):
    """gw = the weight gradient (overwritten), any strides and groups, by the variant's
    window kernel: the im2col rows of a task's taps are gathered per block of samples (a
    vector of positions at a time: for small output volumes, L = OD*OH*OW <= a few chunks)
    and dotted with go's rows of the taps' group. The sums' order depends on the shapes, the
    vector width and block_chunks (0: BLOCK_POSITIONS positions) only."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = gw.shape[0], Cg = gw.shape[1], KD = gw.shape[2], KH = gw.shape[3]
    cdef Py_ssize_t KW = gw.shape[4], OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t a, L, K, CK, HW, DHW, nch, ch, l, p, od, oh, ow, i, j, k, ks, bd, bh, bw
    cdef Py_ssize_t mr_main, nr_tile, otiles, ttiles, tsplit, ntasks, nblocks, th, tid
    cdef Py_ssize_t k0, k1, b, line0, nl, t, ot, sp, o0, tt0, tt1, pk, Og, grp
    cdef unsigned int m
    cdef int mr
    cdef tt_wgrad_geo g
    cdef float[:, ::1] gpk, gwo, got
    cdef float[:, :, ::1] gwt
    cdef uint16_t[::1] masks, wmask
    cdef Py_ssize_t[::1] taps
    cdef int32_t[::1] bidx, toff
    cdef float* pgw
    cdef Py_ssize_t u
    cdef const tt_conv_kernels* kt
    cdef Py_ssize_t vl
    _check_geometry("window_weight_grad", geo)
    kt = kernels()
    vl = kt.wgrad.vl
    if block_chunks == 0:
        block_chunks = BLOCK_POSITIONS // vl
    if not win_applies(D, H, W, geo):
        raise ValueError("window_weight_grad: sizes out of range (a tinytensor bug)")
    if (groups < 1 or C != Cg * groups or O % groups or go.shape[0] != N or go.shape[1] != O
            or min(KD, KH, KW) < 1 or n_threads < 1 or block_chunks < 1
            or _bad_output(D, H, W, KD, KH, KW, OD, OH, OW, geo)):
        raise ValueError("window_weight_grad: inconsistent shapes (a tinytensor bug)")
    gw[...] = 0
    if N == 0 or O == 0 or Cg == 0 or D == 0 or H == 0 or W == 0:
        return
    Og = O // groups
    L = OD * OH * OW
    K = KD * KH * KW
    CK = Cg * K
    HW = H * W
    DHW = D * HW
    nch = (L + vl - 1) // vl
    # the window tables (see tt_wgrad_pack_win), vl lanes a chunk
    bidx = np.zeros(nch * vl, dtype=np.int32)
    toff = np.zeros(K, dtype=np.int32)
    wmask = np.zeros(nch * K, dtype=np.uint16)
    for ks in range(K):
        i = ks // (KH * KW)
        j = ks // KW % KH
        k = ks % KW
        toff[ks] = <int32_t> <uint32_t> (i * geo[2, 0] * HW + j * geo[2, 1] * W + k * geo[2, 2])
    for ch in range(nch):
        for ks in range(K):
            i = ks // (KH * KW)
            j = ks // KW % KH
            k = ks % KW
            m = 0
            for l in range(vl):
                p = ch * vl + l
                if p >= L:
                    break
                od = p // (OH * OW)
                oh = p // OW % OH
                ow = p % OW
                bd = od * geo[0, 0] - geo[1, 0] + i * geo[2, 0]
                bh = oh * geo[0, 1] - geo[1, 1] + j * geo[2, 1]
                bw = ow * geo[0, 2] - geo[1, 2] + k * geo[2, 2]
                if 0 <= bd < D and 0 <= bh < H and 0 <= bw < W:
                    m |= 1u << l
            wmask[ch * K + ks] = <uint16_t> m
        for l in range(vl):
            p = ch * vl + l
            if p < L:
                od = p // (OH * OW)
                oh = p // OW % OH
                ow = p % OW
                bidx[ch * vl + l] = <int32_t> <uint32_t> (
                    (od * geo[0, 0] - geo[1, 0]) * HW + (oh * geo[0, 1] - geo[1, 1]) * W
                    + ow * geo[0, 2] - geo[1, 2])
    # go as the kernel's "input": transposed to (O, N, nch * vl) (zero-padded), one plane-mode
    # line of N * nch chunks: each tile then streams its NR go rows sequentially (in go's own
    # layout they are 4 KiB apart per sample for S3, and thrash L1's sets: 0.90 -> 0.64 ms).
    # g describes one group's: its Og channels of go, its CK window rows as "outputs".
    got_arr = np.zeros((O, N, nch * vl), dtype=np.float32)
    got_arr[:, :, :L] = np.asarray(go).reshape(N, O, L).transpose(1, 0, 2)
    got = got_arr.reshape(O, N * nch * vl)
    g.N, g.C, g.D, g.H, g.W = 1, Og, 1, 1, N * nch * vl
    g.O, g.Cg, g.Og = CK, Og, CK
    g.KD, g.KH, g.KW, g.OD, g.OH, g.OW = 1, 1, 1, 1, 1, N * nch * vl
    g.sd, g.sh = 1, 1
    g.pd, g.ph, g.pw = 0, 0, 0
    g.dd, g.dh, g.dw = 1, 1, 1
    g.plane = 1
    g.lines_per_n = 1
    g.lp = N * nch * vl
    g.nch = N * nch
    masks = np.empty(g.nch * 2, dtype=np.uint16)
    tt_wgrad_masks(&masks[0], &g, <int> vl)
    if mr_tile < 1 or mr_tile > 6:
        raise ValueError("window_weight_grad: bad tile (a tinytensor bug)")
    mr_main = mr_tile
    nr_tile = kt.wgrad.nr(<int> mr_main)
    taps = np.empty(5 * Og, dtype=np.intp)
    tt_wgrad_taps(&taps[0], &g, nr_tile)
    otiles = (CK + mr_main - 1) // mr_main
    ttiles = tt_wgrad_tiles(Og, 1, <int> nr_tile)
    ntasks = groups * otiles                        # (group, tile of window rows)
    # blocks: runs of block_chunks chunks (whole samples or not: the sums' order depends on
    # the shapes and block_chunks only)
    nblocks = (g.nch + block_chunks - 1) // block_chunks
    pk = mr_main * vl * block_chunks + 16
    gpk = np.empty((n_threads, pk), dtype=np.float32)
    gwt = np.zeros((groups, CK, Og), dtype=np.float32)  # gW^T of each group, taps' order
    with nogil:
        for th in prange(n_threads, schedule='static', num_threads=n_threads):
            tid = threadid()
            k0 = th * ntasks // n_threads
            k1 = (th + 1) * ntasks // n_threads
            for b in range(nblocks):
                line0 = b * block_chunks
                nl = min(block_chunks, g.nch - line0)
                for t in range(k0, k1):
                    grp = t // otiles
                    o0 = t % otiles * mr_main
                    mr = <int> min(mr_main, CK - o0)
                    # the group's input channels and go rows; C: x's channels per sample
                    kt.wgrad.task_win(&x[0, grp * Cg, 0, 0, 0], &got[grp * Og, 0],
                                      &gwt[grp, 0, 0], &g, &masks[0], &taps[0],
                                      _aligned64(&gpk[tid, 0]), C, DHW, K, nch, &bidx[0],
                                      &toff[0], &wmask[0], o0, mr, <int> nr_tile, 0, ttiles,
                                      line0, line0 + nl)
        # gW[o, t] = gW^T[t, u] for the output channel o = grp * Og + taps[5 u + 4] of the
        # group's kernel tap u
        pgw = &gw[0, 0, 0, 0, 0]
        for grp in range(groups):
            for t in range(CK):
                for u in range(Og):
                    pgw[(grp * Og + taps[5 * u + 4]) * CK + t] = gwt[grp, t, u]
