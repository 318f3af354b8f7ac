# cython: language_level=3, wraparound=False, cdivision=True
# boundscheck, initializedcheck: set by setup.py (TINYTENSOR_CYTHON_DEBUG=1 turns them on)
"""float32 convolution weight gradient by the dot-product kernel of tt_conv_wgrad.h.

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

cdef extern from "tt_sgemm.h" nogil:
    int tt_sgemm_available()

cdef extern from "tt_conv_wgrad.h" nogil:
    enum: TT_WGRAD_BLOCK_CHUNKS
    ctypedef struct tt_wgrad_geo:
        Py_ssize_t N, C, D, H, W, O, Cg, Og, KD, KH, KW, OD, OH, OW
        Py_ssize_t sd, sh, pd, ph, pw, dd, dh, dw, plane, lines_per_n, lp, nch
    void tt_wgrad_masks(uint16_t* masks, const tt_wgrad_geo* g)
    void tt_wgrad_taps(Py_ssize_t* taps, const tt_wgrad_geo* g, Py_ssize_t nrb)
    int tt_wgrad_nr(int mr)
    Py_ssize_t tt_wgrad_tiles(Py_ssize_t Cg, Py_ssize_t K, int nr)
    void tt_wgrad_unpermute(float* gw, const float* gwt, const Py_ssize_t* taps, Py_ssize_t O,
                            Py_ssize_t CK)
    void tt_wgrad_task(const float* x, const float* go, float* gw, const tt_wgrad_geo* g,
                       const uint16_t* masks, const Py_ssize_t* taps, float* gpk,
                       Py_ssize_t grp, Py_ssize_t o0, int mr, int nr_tile, Py_ssize_t tt0,
                       Py_ssize_t tt1, Py_ssize_t line0, Py_ssize_t nlines, Py_ssize_t ch0,
                       Py_ssize_t ch1)
    void tt_wgrad_task_win(const float* x, const float* got, float* gwt, const tt_wgrad_geo* g,
                           const uint16_t* masks, const Py_ssize_t* taps, float* gpk,
                           Py_ssize_t C, Py_ssize_t DHW, Py_ssize_t K, Py_ssize_t nch,
                           const int32_t* bidx, const int32_t* toff, const uint16_t* wmask,
                           const int32_t* perm, Py_ssize_t t0, int mr, int nr_tile,
                           Py_ssize_t tt0, Py_ssize_t tt1, Py_ssize_t q0, Py_ssize_t q1)

from tinytensor._kernels import _isa

# These kernels are AVX-512 only (tt_conv_wgrad.h); they run when AVX-512 is the variant
# chosen at import (_isa), and use_avx512(False) turns them off (for tests of other variants).
cdef bint _available = tt_sgemm_available() and _isa.selected() == "avx512"


def use_avx512(bint on):
    """Run these kernels (when the CPU has AVX-512) or not; returns the old setting."""
    global _available
    old = _available
    _available = on and tt_sgemm_available()
    return old


def available():
    return bool(_available)


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
    """What both kernels need before anything else: AVX-512, and a (4, 3) geometry of
    positive strides and dilations and non-negative paddings."""
    cdef Py_ssize_t a
    if not _available:
        raise RuntimeError(f"{name}: needs AVX-512 (tt_sgemm_available); a tinytensor bug")
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


def wgrad_lane_use(Py_ssize_t W, Py_ssize_t OW, Py_ssize_t OH, Py_ssize_t[:, ::1] geo):
    """Fraction of the kernel's vector lanes that hold a position (row mode wastes the tail
    of every row: S3's rows of 4 use a quarter)."""
    cdef Py_ssize_t lp, mode = wgrad_mode(W, OW, OH, geo)
    if mode < 0:
        return 0.0
    lp = OH * OW if mode == 1 else OW
    return lp / (16.0 * ((lp + 15) // 16))


def panel_weight_grad(const float[:, :, :, :, ::1] x,     # IN  (N, C, D, H, W)
                      const float[:, :, :, :, ::1] go,    # IN  (N, O, OD, OH, OW)
                      float[:, :, :, :, ::1] gw,          # OUT (O, C // groups, KD, KH, KW)
                      Py_ssize_t[:, ::1] geo, Py_ssize_t groups, int n_threads,
                      Py_ssize_t block_chunks=TT_WGRAD_BLOCK_CHUNKS):
    """gw = the weight gradient (overwritten), by tt_conv_wgrad.h. Needs W-stride 1."""
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
    _check_geometry("panel_weight_grad", geo)
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
    g.nch = (g.lp + 15) // 16
    masks = np.empty(g.nch * (KH * KW + 1), dtype=np.uint16)
    tt_wgrad_masks(&masks[0], &g)

    # Tiles: MR output channels (all of a small group at once, else 4 and a remainder tile)
    # x NR channels (fewer in the last block) at one (i, j, k); a channel block's K tiles run
    # in order, so they share its x rows.
    mr_main = Og if Og <= 6 else 4
    nr_tile = tt_wgrad_nr(<int> mr_main)
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
    pk = mr_main * 16 * max(block_chunks, (g.nch + parts - 1) // parts) + 16
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
                    tt_wgrad_task(&x[0, 0, 0, 0, 0], &go[0, 0, 0, 0, 0], &gwt[0, 0], &g,
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
                       float[:, :, :, :, ::1] gw,          # OUT (O, C, KD, KH, KW)
                       Py_ssize_t[:, ::1] geo, int n_threads,
                       Py_ssize_t block_chunks=64, bint use_perm=True,
                       Py_ssize_t mr_tile=4):
    """gw = the weight gradient (overwritten), groups == 1, any strides, by tt_conv_wgrad.h's
    window mode: the im2col rows of a task's taps are gathered per block of samples (16
    positions a vector: for small output volumes, L = OD*OH*OW <= a few chunks) and dotted
    with go's rows. The sums' order depends on the shapes and block_chunks only."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], D = x.shape[2], H = x.shape[3], W = x.shape[4]
    cdef Py_ssize_t O = gw.shape[0], KD = gw.shape[2], KH = gw.shape[3], KW = gw.shape[4]
    cdef Py_ssize_t OD = go.shape[2], OH = go.shape[3], OW = go.shape[4]
    cdef Py_ssize_t a, L, K, CK, HW, DHW, nch, ch, l, p, od, oh, ow, i, j, k, ks, bd, bh, bw
    cdef Py_ssize_t mr_main, nr_tile, otiles, ttiles, tsplit, ntasks, nblocks, th, tid
    cdef Py_ssize_t k0, k1, b, line0, nl, t, ot, sp, o0, tt0, tt1, pk
    cdef unsigned int m
    cdef int mr
    cdef tt_wgrad_geo g
    cdef float[:, ::1] gpk, gwt, gwo, got
    cdef uint16_t[::1] masks, wmask
    cdef Py_ssize_t[::1] taps
    cdef int32_t[::1] bidx, toff, perm
    cdef const int32_t* pperm = NULL
    cdef float* pgw
    cdef Py_ssize_t u
    cdef Py_ssize_t bmin, bmax
    _check_geometry("window_weight_grad", geo)
    if not win_applies(D, H, W, geo):
        raise ValueError("window_weight_grad: sizes out of range (a tinytensor bug)")
    if (gw.shape[1] != C or go.shape[0] != N or go.shape[1] != O
            or min(KD, KH, KW) < 1 or n_threads < 1 or block_chunks < 1
            or _bad_output(D, H, W, KD, KH, KW, OD, OH, OW, geo)):
        raise ValueError("window_weight_grad: inconsistent shapes (a tinytensor bug)")
    gw[...] = 0
    if N == 0 or O == 0 or C == 0 or D == 0 or H == 0 or W == 0:
        return
    L = OD * OH * OW
    K = KD * KH * KW
    CK = C * K
    HW = H * W
    DHW = D * HW
    nch = (L + 15) // 16
    # the window tables (see tt_wgrad_pack_win)
    bidx = np.zeros(nch * 16, dtype=np.int32)
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
            for l in range(16):
                p = ch * 16 + l
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
        for l in range(16):
            p = ch * 16 + l
            if p < L:
                od = p // (OH * OW)
                oh = p // OW % OH
                ow = p % OW
                bidx[ch * 16 + l] = <int32_t> <uint32_t> (
                    (od * geo[0, 0] - geo[1, 0]) * HW + (oh * geo[0, 1] - geo[1, 1]) * W
                    + ow * geo[0, 2] - geo[1, 2])
    # permute mode (tt_wgrad_pack_win): every tap of every position inside the input (no
    # lane masked by padding), each chunk's positions within 32 floats
    perm = np.zeros(nch * 20, dtype=np.int32)
    if use_perm:
        pperm = &perm[0]
        for ch in range(nch):
            m = (1u << min(16, L - ch * 16)) - 1u
            for ks in range(K):
                if wmask[ch * K + ks] != m:
                    pperm = NULL
    if pperm != NULL:
        for ch in range(nch):
            bmin = DHW
            bmax = -1
            for l in range(min(16, L - ch * 16)):
                p = ch * 16 + l
                od = p // (OH * OW)
                oh = p // OW % OH
                ow = p % OW
                a = od * geo[0, 0] * HW + oh * geo[0, 1] * W + ow * geo[0, 2]
                bmin = min(bmin, a)
                bmax = max(bmax, a)
            if bmax - bmin >= 32:
                pperm = NULL
                break
            m = 0
            for l in range(min(16, L - ch * 16)):
                p = ch * 16 + l
                od = p // (OH * OW)
                oh = p // OW % OH
                ow = p % OW
                a = od * geo[0, 0] * HW + oh * geo[0, 1] * W + ow * geo[0, 2] - bmin
                perm[ch * 20 + l] = <int32_t> a
                m |= 1u << a if a < 16 else 0
                if a >= 16:
                    perm[ch * 20 + 18] |= 1 << (a - 16)
            perm[ch * 20 + 16] = <int32_t> bmin
            perm[ch * 20 + 17] = <int32_t> m
    # go as the kernel's "input": transposed to (O, N, nch * 16) (zero-padded), one plane-mode
    # line of N * nch chunks: each tile then streams its NR go rows sequentially (in go's own
    # layout they are 4 KiB apart per sample for S3, and thrash L1's sets: 0.90 -> 0.64 ms)
    got_arr = np.zeros((O, N, nch * 16), dtype=np.float32)
    got_arr[:, :, :L] = np.asarray(go).reshape(N, O, L).transpose(1, 0, 2)
    got = got_arr.reshape(O, N * nch * 16)
    g.N, g.C, g.D, g.H, g.W = 1, O, 1, 1, N * nch * 16
    g.O, g.Cg, g.Og = CK, O, CK
    g.KD, g.KH, g.KW, g.OD, g.OH, g.OW = 1, 1, 1, 1, 1, N * nch * 16
    g.sd, g.sh = 1, 1
    g.pd, g.ph, g.pw = 0, 0, 0
    g.dd, g.dh, g.dw = 1, 1, 1
    g.plane = 1
    g.lines_per_n = 1
    g.lp = N * nch * 16
    g.nch = N * nch
    masks = np.empty(g.nch * 2, dtype=np.uint16)
    tt_wgrad_masks(&masks[0], &g)
    if mr_tile < 1 or mr_tile > 6:
        raise ValueError("window_weight_grad: bad tile (a tinytensor bug)")
    mr_main = mr_tile
    nr_tile = tt_wgrad_nr(<int> mr_main)
    taps = np.empty(5 * O, dtype=np.intp)
    tt_wgrad_taps(&taps[0], &g, nr_tile)
    otiles = (CK + mr_main - 1) // mr_main
    ttiles = tt_wgrad_tiles(O, 1, <int> nr_tile)
    ntasks = otiles
    # blocks: runs of block_chunks chunks (whole samples or not: the sums' order depends on
    # the shapes and block_chunks only)
    nblocks = (g.nch + block_chunks - 1) // block_chunks
    pk = mr_main * 16 * block_chunks + 16
    gpk = np.empty((n_threads, pk), dtype=np.float32)
    gwt = np.zeros((CK, O), dtype=np.float32)      # gW^T, each row in the taps' order
    with nogil:
        for th in prange(n_threads, schedule='static', num_threads=n_threads):
            tid = threadid()
            k0 = th * ntasks // n_threads
            k1 = (th + 1) * ntasks // n_threads
            for b in range(nblocks):
                line0 = b * block_chunks
                nl = min(block_chunks, g.nch - line0)
                for t in range(k0, k1):
                    o0 = t * mr_main
                    mr = <int> min(mr_main, CK - o0)
                    tt_wgrad_task_win(&x[0, 0, 0, 0, 0], &got[0, 0], &gwt[0, 0], &g,
                                      &masks[0], &taps[0], _aligned64(&gpk[tid, 0]), C, DHW,
                                      K, nch, &bidx[0], &toff[0], &wmask[0], pperm, o0, mr,
                                      <int> nr_tile, 0, ttiles, line0, line0 + nl)
        # gW[o, t] = gW^T[t, u] for the output channel o = taps[5 u + 4] of kernel tap u
        pgw = &gw[0, 0, 0, 0, 0]
        for t in range(CK):
            for u in range(O):
                pgw[taps[5 * u + 4] * CK + t] = gwt[t, u]
