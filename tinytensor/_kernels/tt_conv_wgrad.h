/* tt_conv_wgrad.h: float32 convolution weight gradient by dot products over output positions.
 *
 *   gW[o, c, i, j, k] = sum_{n, od, oh, ow} go[n, o, od, oh, ow]
 *                       * x[n, c, od*sd - pd + i*dd, oh*sh - ph + j*dh, ow*sw - pw + k*dw]
 *
 * The reduction runs over output positions, the contiguous dimension of go and (for W-stride
 * 1) of x too. So a tile of MR output channels x NR taps t = (c, i, j, k) keeps MR * NR zmm
 * accumulators; for every 16 consecutive output positions it loads MR vectors of go and NR
 * vectors of x (each from the input shifted by its tap: contiguous, masked at the padding)
 * and does MR * NR FMAs. No im2col: the GEMM path writes and re-reads a col matrix nine
 * times the size of x for a 3 x 3 kernel, and that traffic, not the FMAs, is what limited it
 * (S4: 57 ms for 7.4 GFLOP; 33.3 - 34.5 ms here, 1 thread). Only a task's MR go rows are copied
 * (tt_wgrad_pack_go), so that the inner loop addresses them with one pointer.
 *
 * Taps are ordered in blocks of NR channels, (i, j, k)-major inside a block (tt_wgrad_taps),
 * and every tile is the NR channels of one block at one (i, j, k) (the last block may be
 * narrower): the tile's taps share one lane mask per chunk and their x rows are one channel
 * stride apart (tt_wgrad_uniform). The K tiles of a channel block
 * follow each other and reuse its x rows from L1.
 *
 * Lines. Positions are walked in "lines" of lp positions whose x offsets are linear:
 *  - plane mode (sh == 1, OW == W: 'same'-width stride-1 convolutions, conv1d, S4, S7, S8):
 *    a line is a whole (oh, ow) plane of one (n, od); position p = oh * OW + ow reads
 *    x[base + p], since the input row stride W equals the output row stride. The lanes whose
 *    column or row falls in the padding are masked off. Planes are 16-aligned runs with no
 *    wasted lanes except the last chunk's (S4: 3136 = 196 * 16, where rows of 56 would waste
 *    1/8 of the lanes).
 *  - row mode (any other sw == 1 case): a line is one output row of OW positions.
 * The masks depend only on the chunk and on (j, k) (and the line for the rows/depths that
 * fall in the padding), so they are tabulated once per call (tt_wgrad_masks) as 16-bit lane
 * masks; a tap whose input plane (or row, in row mode) is padding gets mask 0 on that line,
 * and masked loads never touch memory in masked-off lanes, so nothing is read outside x/go.
 * x addresses that may lie before x are formed as integers, as tt_lane_base does.
 *
 * Blocks. The caller walks "blocks" of about TT_WGRAD_BLOCK_CHUNKS chunks (whole lines, or a
 * run of chunks of one long line) and, for each block, runs every tile over it: the block's
 * go and x (all channels) stay in L2, a task's packed MR go rows stay in L1 while it runs
 * its tap tiles. A tile sums its block in registers, reduces the MR * NR vectors with a
 * shuffle tree (tt_wgrad_reduce8: ~3 ops per sum instead of ~8 for one horizontal sum each)
 * and adds the sums into gW (kept in tap order, unpermuted at the end). Every gW element
 * belongs to one tile, and blocks run in a fixed order, so the sum order depends only on the
 * shapes: the bits are the same for any thread count (tasks of a block are the parallel
 * work, and how tiles are grouped into tasks does not change any tile's sums).
 *
 * These are the AVX-512 intrinsics, the "avx512" variant's wgrad kernels (c/tt_isa.h); every
 * other variant runs the same algorithm written once with vector extensions,
 * c/tt_conv_wgrad.inc (which says how it differs). Only built where tt_sgemm.h's AVX-512
 * kernels are (TT_SGEMM_X86). */
#ifndef TT_CONV_WGRAD_H
#define TT_CONV_WGRAD_H

#include "tt_sgemm.h"
#include "tt_wgrad_common.h"     /* tt_wgrad_geo, the mask and tap tables */

/* Chunks of 16 positions per block (at most; a long line is split evenly: S4's planes of 196
   chunks into 4 x 49): MR = 4 packed go rows of 49 chunks are 12.5 KiB and a uniform tile's
   6 x rows 19 KiB of L1; the block's go and x of S4 (128 channels) 400 KiB of L2. A tile's
   reduction (~100 ops) is then ~5% of its 49 * 12 FMA cycles. 28 -> 41.3 ms, 40 .. 80 flat
   at 37.5 - 38 on S4 (measured before the last tiling change; the default split is 4 x 49). */
#define TT_WGRAD_BLOCK_CHUNKS 64
#define TT_WGRAD_MRMAX 6
#define TT_WGRAD_NRMAX 8

#if TT_SGEMM_X86
#pragma GCC push_options
#pragma GCC target("avx512f,fma")

static inline __mmask16 tt_wgrad_lanes(ptrdiff_t n)  /* the first n of 16 lanes */
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Lanes 0..7 of the result hold the horizontal sums of a..h. A tree of 128/256-bit block
   shuffles: 16 -> 8 partials for pairs, 8 -> 4 for quadruples, then within 128-bit blocks. */
static inline __attribute__((always_inline)) __m512
tt_wgrad_reduce8(__m512 a, __m512 b, __m512 c, __m512 d, __m512 e, __m512 f, __m512 g,
                 __m512 h)
{
    /* per pair: 256-bit halves added -> [x(8 partials), y(8 partials)] */
    __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 ef = _mm512_add_ps(_mm512_shuffle_f32x4(e, f, 0x44), _mm512_shuffle_f32x4(e, f, 0xEE));
    __m512 gh = _mm512_add_ps(_mm512_shuffle_f32x4(g, h, 0x44), _mm512_shuffle_f32x4(g, h, 0xEE));
    /* 128-bit blocks: [a, b, c, d] (4 partials each), [e, f, g, h] */
    __m512 q0 = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88),
                              _mm512_shuffle_f32x4(ab, cd, 0xDD));
    __m512 q1 = _mm512_add_ps(_mm512_shuffle_f32x4(ef, gh, 0x88),
                              _mm512_shuffle_f32x4(ef, gh, 0xDD));
    /* block m: [X0+X2, Y0+Y2, X1+X3, Y1+Y3] with X of q0 and Y of q1 */
    __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(q0, q1), _mm512_unpackhi_ps(q0, q1));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
    /* block m lanes 0, 1 = sums of (a, e), (b, f), (c, g), (d, h) for m = 0..3 */
    const __m512i idx = _mm512_set_epi32(15, 14, 11, 10, 7, 6, 3, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_ps(idx, v);
}

/* The go rows o0 .. o0+mr-1 of group grp over a block, packed as [line][chunk][row][16]
   floats (zeros past the line's end): the tiles then read them with one pointer and constant
   offsets, and aligned. With go read in place, each row needs its own pointer (the row
   stride is not a compile-time constant) and the inner loop ran out of registers: S4 50 ms
   in place, ~35 packed. The copy is MR rows per block for a task of many tap tiles. */
static void tt_wgrad_pack_go(float *restrict dst, const float *restrict go,
                             const tt_wgrad_geo *g, ptrdiff_t grp, ptrdiff_t o0, int mr,
                             ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0, ptrdiff_t ch1)
{
    const ptrdiff_t O = g->O, Og = g->Og, OH = g->OH, OW = g->OW, plane = g->plane;
    const ptrdiff_t lpn = g->lines_per_n, lp = g->lp, L = g->OD * OH * OW;
    ptrdiff_t n = line0 / lpn, li = line0 % lpn;
    for (ptrdiff_t line = 0; line < nlines; line++) {
        ptrdiff_t od = plane ? li : li / OH, oh = plane ? 0 : li % OH;
        const float *src = go + n * O * L + (grp * Og + o0) * L + od * OH * OW + oh * OW;
        for (ptrdiff_t ch = ch0; ch < ch1; ch++) {
            __mmask16 m = tt_wgrad_lanes(lp - ch * 16);
            for (int r = 0; r < mr; r++)
                _mm512_store_ps(dst + r * 16, _mm512_maskz_loadu_ps(m, src + r * L + ch * 16));
            dst += mr * 16;
        }
        if (++li == lpn) {
            li = 0;
            n++;
        }
    }
}

/* gwt rows (row stride CK, taps in tt_wgrad_taps order) += the sums of the tile's
   accumulators: NR_ contiguous floats per row, one masked vector add (gW's own order would
   need a scalar add per sum, ~2 ms of S4). tt_wgrad_unpermute puts them in gW order. */
static inline __attribute__((always_inline)) void
tt_wgrad_store(const int MR_, const int NR_, __m512 acc[TT_WGRAD_MRMAX][TT_WGRAD_NRMAX],
               float *gwt, ptrdiff_t CK)
{
    const __m512 z = _mm512_setzero_ps();
    const __mmask16 keep = (__mmask16)((1u << NR_) - 1u);
#pragma GCC unroll 8
    for (int r = 0; r < MR_; r++) {
        __m512 s = tt_wgrad_reduce8(
            acc[r][0], NR_ > 1 ? acc[r][1 % NR_] : z, NR_ > 2 ? acc[r][2 % NR_] : z,
            NR_ > 3 ? acc[r][3 % NR_] : z, NR_ > 4 ? acc[r][4 % NR_] : z,
            NR_ > 5 ? acc[r][5 % NR_] : z, NR_ > 6 ? acc[r][6 % NR_] : z,
            NR_ > 7 ? acc[r][7 % NR_] : z);
        float *dst = gwt + r * CK;
        _mm512_mask_storeu_ps(dst, keep, _mm512_add_ps(_mm512_maskz_loadu_ps(keep, dst), s));
    }
}

/* One tile over one block: gw rows o0 .. o0+MR_-1 (of group grp) x the NR_ taps t0 ..
   t0+NR_-1, which are NR_ consecutive channels at one (i, j, k) (tt_wgrad_taps' order), over
   lines line0 .. line0+nlines-1 (numbered across the batch), chunks ch0 .. ch1-1 of each,
   with go packed by tt_wgrad_pack_go in gpk. The taps share their lane mask and validity,
   and their x rows are D*H*W apart: one mask, one pointer and a stride, where taps of mixed
   (i, j, k) needed one mask index and one pointer each and spilled (S4 41 -> 37.5 ms; with
   every tile of this kind, 33.3). The mask table has KH*KW + 1 columns, the last one 0: on a
   line where the taps' input plane (or row) is padding, the tile skips the line. */
static inline __attribute__((always_inline)) void
tt_wgrad_uniform(const int MR_, const int NR_, const float *x, const float *gpk, float *gw,
                 const tt_wgrad_geo *g, const uint16_t *masks, const ptrdiff_t *taps,
                 ptrdiff_t grp, ptrdiff_t o0, ptrdiff_t t0, ptrdiff_t line0, ptrdiff_t nlines,
                 ptrdiff_t ch0, ptrdiff_t ch1)
{
    const ptrdiff_t C = g->C, D = g->D, H = g->H, W = g->W, Cg = g->Cg, Og = g->Og;
    const ptrdiff_t OH = g->OH;
    const ptrdiff_t sd = g->sd, sh = g->sh, pd = g->pd, ph = g->ph, pw = g->pw;
    const ptrdiff_t plane = g->plane, lpn = g->lines_per_n;
    const ptrdiff_t KHW1 = g->KH * g->KW + 1, K = g->KD * g->KH * g->KW, HW = H * W;
    const ptrdiff_t DHW = D * HW, CK = Cg * K;
    const ptrdiff_t *tp = taps + 5 * t0;
    const ptrdiff_t tapoff = grp * Cg * DHW + tp[0], tapd = tp[1], taph = tp[2], tapm = tp[3];
    const uintptr_t cs = (uintptr_t)(DHW * (ptrdiff_t)sizeof(float));   /* channel stride */

    __m512 acc[TT_WGRAD_MRMAX][TT_WGRAD_NRMAX];
#pragma GCC unroll 8
    for (int r = 0; r < MR_; r++)
#pragma GCC unroll 8
        for (int u = 0; u < NR_; u++) acc[r][u] = _mm512_setzero_ps();

    const float *gp = gpk;
    ptrdiff_t n = line0 / lpn, li = line0 % lpn;
    for (ptrdiff_t line = 0; line < nlines; line++) {
        ptrdiff_t od = plane ? li : li / OH, oh = plane ? 0 : li % OH;
        ptrdiff_t d0 = od * sd - pd, h0 = oh * sh - ph;
        ptrdiff_t d = d0 + tapd, h = h0 + taph;
        if (d < 0 || d >= D || (!plane && (h < 0 || h >= H))) {   /* padding: go unread */
            gp += MR_ * 16 * (ch1 - ch0);
        } else {
            uintptr_t xb = (uintptr_t)x + (uintptr_t)((n * C * DHW + d0 * HW + h0 * W - pw
                                                      + tapoff + ch0 * 16)
                                                     * (ptrdiff_t)sizeof(float));
            const uint16_t *mp = masks + ch0 * KHW1 + tapm;
            for (ptrdiff_t ch = ch0; ch < ch1; ch++) {
                __m512 gv[TT_WGRAD_MRMAX];
#pragma GCC unroll 8
                for (int r = 0; r < MR_; r++) gv[r] = _mm512_load_ps(gp + r * 16);
                const __mmask16 m = (__mmask16)*mp;
#pragma GCC unroll 8
                for (int u = 0; u < NR_; u++) {
                    __m512 xv = _mm512_maskz_loadu_ps(m, (const float *)(xb + u * cs));
#pragma GCC unroll 8
                    for (int r = 0; r < MR_; r++)
                        acc[r][u] = _mm512_fmadd_ps(gv[r], xv, acc[r][u]);
                }
                gp += MR_ * 16;
                xb += 16 * sizeof(float);
                mp += KHW1;
            }
        }
        if (++li == lpn) {
            li = 0;
            n++;
        }
    }
    tt_wgrad_store(MR_, NR_, acc, gw + (grp * Og + o0) * CK + t0, CK);
}

/* Tile shapes: nr_main = TT_WGRAD_NR(mr_main) taps per tile; 24 accumulators (20 for 5 x 4)
   plus MR go vectors and one x vector fit the 32 zmm registers. */
static int tt_wgrad_nr(int mr)
{
    return mr <= 3 ? 8 : mr == 4 ? 6 : 4;
}

/* (In the functions below, gw is gW with each row's taps in tt_wgrad_taps' order; the
   caller unpermutes it at the end with tt_wgrad_unpermute.)
   A task: the tap tiles tt0 .. tt1-1 (tt_wgrad_tiles) of the output rows o0 .. o0+mr-1
   over one block. go is packed once into gpk (per-thread scratch, 64-byte aligned, mr *
   16 * chunks floats), then each tile runs with the compile-time shape (mr, nr_tile). */
static inline __attribute__((always_inline)) void
tt_wgrad_task_shape(const int MR_, const int NR_, const float *x, const float *gpk, float *gw,
                    const tt_wgrad_geo *g, const uint16_t *masks, const ptrdiff_t *taps,
                    ptrdiff_t grp, ptrdiff_t o0, ptrdiff_t tt0, ptrdiff_t tt1,
                    ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0, ptrdiff_t ch1)
{
    const ptrdiff_t K = g->KD * g->KH * g->KW, Cg = g->Cg;
    for (ptrdiff_t tt = tt0; tt < tt1; tt++) {
        /* tile tt: channel block tt / K (NR_ channels, fewer in the last), tap ks = tt % K */
        ptrdiff_t c0 = tt / K * NR_, ks = tt % K;
        int cb = (int)(Cg - c0 < NR_ ? Cg - c0 : NR_);
        ptrdiff_t t0 = c0 * K + ks * cb;
        if (cb == NR_) {
            tt_wgrad_uniform(MR_, NR_, x, gpk, gw, g, masks, taps, grp, o0, t0, line0, nlines,
                             ch0, ch1);
            continue;
        }
        /* the last block's narrower tiles (compile-time widths below NR_) */
#define TT_WGRAD_NARROW(N_) \
        if (N_ < NR_ && cb == N_) \
            tt_wgrad_uniform(MR_, N_ < NR_ ? N_ : 1, x, gpk, gw, g, masks, taps, grp, o0, t0, \
                             line0, nlines, ch0, ch1);
        TT_WGRAD_NARROW(1) TT_WGRAD_NARROW(2) TT_WGRAD_NARROW(3) TT_WGRAD_NARROW(4)
        TT_WGRAD_NARROW(5) TT_WGRAD_NARROW(6) TT_WGRAD_NARROW(7)
#undef TT_WGRAD_NARROW
    }
}

/* One function per tile shape: inlined into one dispatcher, the 13 shapes made a function
   whose register allocation spilled the inner loops (S4 41.5 ms vs 37 for the shape alone). */
#define TT_WGRAD_SHAPE(M_, N_) \
    static __attribute__((noinline)) void tt_wgrad_task_##M_##x##N_( \
        const float *x, const float *gpk, float *gw, const tt_wgrad_geo *g, \
        const uint16_t *masks, const ptrdiff_t *taps, ptrdiff_t grp, ptrdiff_t o0, \
        ptrdiff_t tt0, ptrdiff_t tt1, ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0, \
        ptrdiff_t ch1) \
    { \
        tt_wgrad_task_shape(M_, N_, x, gpk, gw, g, masks, taps, grp, o0, tt0, tt1, line0, \
                            nlines, ch0, ch1); \
    }
TT_WGRAD_SHAPE(1, 8) TT_WGRAD_SHAPE(2, 8) TT_WGRAD_SHAPE(3, 8)
TT_WGRAD_SHAPE(1, 6) TT_WGRAD_SHAPE(2, 6) TT_WGRAD_SHAPE(3, 6) TT_WGRAD_SHAPE(4, 6)
TT_WGRAD_SHAPE(1, 4) TT_WGRAD_SHAPE(2, 4) TT_WGRAD_SHAPE(3, 4) TT_WGRAD_SHAPE(4, 4)
TT_WGRAD_SHAPE(5, 4) TT_WGRAD_SHAPE(6, 4)
#undef TT_WGRAD_SHAPE

static void tt_wgrad_run(const float *x, float *gw, const tt_wgrad_geo *g,
                         const uint16_t *masks, const ptrdiff_t *taps, const float *gpk,
                         ptrdiff_t grp, ptrdiff_t o0, int mr, int nr_tile, ptrdiff_t tt0,
                         ptrdiff_t tt1, ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0,
                         ptrdiff_t ch1)
{
#define TT_WGRAD_CASE(M_, N_) \
    if (mr == M_ && nr_tile == N_) { \
        tt_wgrad_task_##M_##x##N_(x, gpk, gw, g, masks, taps, grp, o0, tt0, tt1, line0, \
                                  nlines, ch0, ch1); \
        return; \
    }
    TT_WGRAD_CASE(1, 8) TT_WGRAD_CASE(2, 8) TT_WGRAD_CASE(3, 8)
    TT_WGRAD_CASE(1, 6) TT_WGRAD_CASE(2, 6) TT_WGRAD_CASE(3, 6) TT_WGRAD_CASE(4, 6)
    TT_WGRAD_CASE(1, 4) TT_WGRAD_CASE(2, 4) TT_WGRAD_CASE(3, 4) TT_WGRAD_CASE(4, 4)
    TT_WGRAD_CASE(5, 4) TT_WGRAD_CASE(6, 4)
#undef TT_WGRAD_CASE
}

static void tt_wgrad_task(const float *x, const float *go, float *gw, const tt_wgrad_geo *g,
                          const uint16_t *masks, const ptrdiff_t *taps, float *gpk,
                          ptrdiff_t grp, ptrdiff_t o0, int mr, int nr_tile, ptrdiff_t tt0,
                          ptrdiff_t tt1, ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0,
                          ptrdiff_t ch1)
{
    tt_wgrad_pack_go(gpk, go, g, grp, o0, mr, line0, nlines, ch0, ch1);
    tt_wgrad_run(x, gw, g, masks, taps, gpk, grp, o0, mr, nr_tile, tt0, tt1, line0, nlines,
                 ch0, ch1);
}

/* Window mode (small output volumes, groups == 1: S3's 4 x 4 planes). The roles swap: the
   "output rows" are the taps t = c*K + ks of x (the im2col rows, built here), the "taps" are
   the output channels of go, transposed by the wrapper to (O, N, nch * 16) (zero past each
   sample's L = OD*OH*OW positions) and viewed as one plane-mode line of N * nch chunks with
   one channel per output channel: gW^T[t, o] = sum_{n, p} win[n, t, p] * go[n, o, p]. A task
   builds its MR window rows over a block of chunks once (packed as tt_wgrad_pack_go would:
   [chunk][row][16]), then runs its tiles of output channels, which stream their go rows
   sequentially. No im2col buffer, and every lane holds a position when L is a multiple of
   16. Window rows are built by gathers (any strides and padding) or, when no lane is
   padding and a chunk's positions lie within 32 floats of a channel, by two masked loads
   and a permute (perm, below).
   bidx[ch * 16 + l]: the input offset (mod 2^32) of position ch*16 + l without its tap;
   toff[ks]: the tap's offset (mod 2^32); wmask[ch * K + ks]: the lanes whose position
   exists and whose input element for tap ks is inside the input (no padding). The wrapper
   checks D*H*W < 2^31, so every valid lane's offset from its channel's start is exact in
   int32 (wrapping sums of the mod-2^32 parts). Masked-off lanes are never read. */
static void tt_wgrad_pack_win(float *restrict dst, const float *restrict x, ptrdiff_t C,
                              ptrdiff_t DHW, ptrdiff_t K, ptrdiff_t nch, const int32_t *bidx,
                              const int32_t *toff, const uint16_t *wmask, ptrdiff_t t0, int mr,
                              const int32_t *perm, ptrdiff_t q0, ptrdiff_t q1)
{
    for (ptrdiff_t q = q0; q < q1; q++) {   /* chunk q: sample q / nch, its chunk q % nch */
        const ptrdiff_t ch = q % nch;
        const float *xn = x + q / nch * C * DHW;
        if (perm) {
            /* no padding and the chunk's positions within 32 consecutive floats of a channel
               (S3: rows j..j+3 of an 8-wide plane): two masked loads of exactly the needed
               floats and one two-source permute per window, far cheaper than a gather here
               (S3 1.1 -> 0.75 ms). perm[ch * 20 ..]: 16 lane indices (0..31), the start
               (mod 2^32) and the two 16-bit load masks. */
            const int32_t *pc = perm + ch * 20;
            const __m512i pi = _mm512_loadu_si512((const void *)pc);
            const __mmask16 ml = (__mmask16)pc[17], mh = (__mmask16)pc[18];
            for (int r = 0; r < mr; r++) {
                ptrdiff_t t = t0 + r, c = t / K, ks = t % K;
                const float *src = xn + c * DHW + (ptrdiff_t)(int32_t)((uint32_t)pc[16]
                                                                    + (uint32_t)toff[ks]);
                __m512 lo = _mm512_maskz_loadu_ps(ml, src);
                __m512 hi = _mm512_maskz_loadu_ps(mh, src + 16);
                _mm512_store_ps(dst + r * 16, _mm512_permutex2var_ps(lo, pi, hi));
            }
        } else {
            const __m512i bi = _mm512_loadu_si512((const void *)(bidx + ch * 16));
            for (int r = 0; r < mr; r++) {
                ptrdiff_t t = t0 + r, c = t / K, ks = t % K;
                __mmask16 m = (__mmask16)wmask[ch * K + ks];
                __m512i idx = _mm512_add_epi32(bi, _mm512_set1_epi32(toff[ks]));
                __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx,
                                                    xn + c * DHW, 4);
                _mm512_store_ps(dst + r * 16, v);
            }
        }
        dst += mr * 16;
    }
}

/* got: go transposed to (O, N, nch * 16), zero past each sample's L positions, viewed by g
   as one line of N * nch chunks and O channels; the block is its chunks q0 .. q1-1. */
static void tt_wgrad_task_win(const float *x, const float *got, float *gwt,
                              const tt_wgrad_geo *g, const uint16_t *masks,
                              const ptrdiff_t *taps, float *gpk, ptrdiff_t C, ptrdiff_t DHW,
                              ptrdiff_t K, ptrdiff_t nch, const int32_t *bidx,
                              const int32_t *toff, const uint16_t *wmask, const int32_t *perm,
                              ptrdiff_t t0, int mr, int nr_tile, ptrdiff_t tt0, ptrdiff_t tt1,
                              ptrdiff_t q0, ptrdiff_t q1)
{
    tt_wgrad_pack_win(gpk, x, C, DHW, K, nch, bidx, toff, wmask, t0, mr, perm, q0, q1);
    tt_wgrad_run(got, gwt, g, masks, taps, gpk, 0, t0, mr, nr_tile, tt0, tt1, 0, 1, q0, q1);
}

#pragma GCC pop_options
#endif /* TT_SGEMM_X86 */

#endif /* TT_CONV_WGRAD_H */
