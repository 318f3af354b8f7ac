/* tt_conv_panel.h: float32 convolution forward as an implicit GEMM, panel by panel.
 *
 * The convolution of one group is the GEMM  Y (M x cols) = Wmat (M x K) @ col (K x cols),
 * M output channels, K = C * KD * KH * KW, one column per output position of every sample
 * (im2col). Instead of writing col to memory and having a GEMM pack it again, each panel of
 * NR = 32 columns is gathered straight from the input into the packed layout the micro-kernel
 * of tt_sgemm.h reads (K x 32, rows of 32 floats), while it is hot in L1/L2; the weights are
 * packed once per call (tt_conv_pack_weights). A panel is the unit of parallel work: every
 * column is computed the same way whichever thread takes its panel, so results do not depend
 * on the thread count.
 *
 * Columns are numbered across the batch: column q is output position q % L of sample q / L
 * (L = OD * OH * OW), so small images share panels (S3's 4 x 4 outputs fill 32 columns with
 * two samples) instead of leaving most of a panel empty.
 *
 * A panel row (one tap of one input channel, 32 columns) is built in two registers, in one of
 * three ways: masked loads, one per run of columns in an output row (wide rows); a gather
 * (strided rows, or many short runs); or, for small planes that never read padding, two
 * loads and a permute per sample ("windows"). tt_conv_backward_input_panel is the adjoint:
 * the input gradient panel by panel, col2im without a col matrix.
 *
 * Only built where tt_sgemm.h's AVX-512 kernels are; conv.pyx checks tt_sgemm_available(). */
#ifndef TT_CONV_PANEL_H
#define TT_CONV_PANEL_H

#include "tt_sgemm.h"
#include "tt_conv_types.h"          /* tt_conv_geo */

/* Rows of the packed weights: M rounded up to whole MR panels. */
static ptrdiff_t tt_conv_rows_padded(ptrdiff_t M)
{
    return (M + TT_SGEMM_MR - 1) / TT_SGEMM_MR * TT_SGEMM_MR;
}

/* A run of a panel's columns that share one sample and one output row (n, od, oh): the
   columns j0 .. j0 + len - 1 of the panel are output positions ow .. ow + len - 1. */
typedef struct {
    int j0, len;
    ptrdiff_t n, od, oh, ow;
} tt_conv_run;

static int tt_conv_runs(tt_conv_run *run, ptrdiff_t q0, int nq, const tt_conv_geo *g)
{
    ptrdiff_t L = g->OD * g->OH * g->OW;
    int count = 0, j = 0;
    while (j < nq) {
        ptrdiff_t q = q0 + j, n = q / L, l = q % L, row = l / g->OW, ow = l % g->OW;
        ptrdiff_t len = g->OW - ow < nq - j ? g->OW - ow : nq - j;
        run[count].j0 = j;
        run[count].len = (int)len;
        run[count].n = n;
        run[count].od = row / g->OH;
        run[count].oh = row % g->OH;
        run[count].ow = ow;
        count++;
        j += (int)len;
    }
    return count;
}

#if TT_SGEMM_X86
#pragma GCC push_options
#pragma GCC target("avx512f,fma")

static inline void tt_copy_run(float *d, const float *s, int n)  /* n <= 32 */
{
    if (n <= 0) return;
    _mm512_mask_storeu_ps(d, tt_lanes(n), _mm512_maskz_loadu_ps(tt_lanes(n), s));
    if (n > 16)
        _mm512_mask_storeu_ps(d + 16, tt_lanes(n - 16),
                              _mm512_maskz_loadu_ps(tt_lanes(n - 16), s + 16));
}

/* The lanes [a, b) of a panel row, as a 32-bit mask (a and b clamped to [0, 32]). */
static inline uint32_t tt_lane_bits(ptrdiff_t a, ptrdiff_t b)
{
    if (a < 0) a = 0;
    if (b > TT_SGEMM_NR) b = TT_SGEMM_NR;
    if (b <= a) return 0;
    return (uint32_t)((((uint64_t)1 << b) - 1) & ~(((uint64_t)1 << a) - 1));
}

/* Lane t of a run reads src[iw + (t - j0) * sw]: this is &src[iw - j0] for sw == 1, an
   address that may lie before src, so it is formed as an integer; only lanes inside the
   input are loaded (masked loads never touch the others). */
static inline const float *tt_lane_base(const float *src, ptrdiff_t offset)
{
    return (const float *)((uintptr_t)src + (uintptr_t)(offset * (ptrdiff_t)sizeof(float)));
}

/* panel (rows r0 .. r1 - 1 of K, x 32) = col[r0:r1, q0 : q0 + nq] of one group: x is sample
   0's first channel of the group, samples xs elements apart; zeros in the padding and in the
   columns past nq. Each row of 32 is built in two registers, one masked load per run and
   half, and stored whole. Callers take K in blocks of KC rows, so the panel block stays in L1
   between being written here and read by the micro-kernel. (The geometry is copied to
   locals: Python's -fno-strict-aliasing would otherwise reload it after every store.) */
static void tt_conv_im2col_panel(float *restrict panel, const float *restrict x, ptrdiff_t xs,
                                 const tt_conv_geo *g, const tt_conv_run *run, int nrun,
                                 ptrdiff_t r0, ptrdiff_t r1)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH, KW = g->KW;
    const ptrdiff_t sw = g->sw, dd = g->dd, dh = g->dh, dw = g->dw;
    const float *src[TT_SGEMM_NR];                  /* per run: its input row, or NULL */
    ptrdiff_t k = r0 % KW, j = r0 / KW % KH, i = r0 / (KW * KH) % KD, c = r0 / (KW * KH * KD);
    float *dst = panel;
    for (ptrdiff_t r = r0; r < r1; dst += TT_SGEMM_NR) {
        if (r == r0 || k == 0) {                    /* a new (c, i, j): find the input rows */
            for (int u = 0; u < nrun; u++) {
                ptrdiff_t id = run[u].od * g->sd - g->pd + i * dd;
                ptrdiff_t ih = run[u].oh * g->sh - g->ph + j * dh;
                src[u] = id < 0 || id >= D || ih < 0 || ih >= H ? NULL
                       : x + run[u].n * xs + ((c * D + id) * H + ih) * W;
                /* The next output row reads sh input rows further down: fetch that part
                   now, while this panel computes. Input rows of all channels are far apart,
                   too many streams for the hardware prefetcher (S4, 32 samples, 1 thread:
                   21.4 -> 13.5 us per panel). Prefetches never fault, so row ends are harmless. */
                if (src[u] && j == KH - 1) {
                    const char *p = (const char *)tt_lane_base(src[u], g->sh * W
                                                               + run[u].ow * sw - g->pw);
                    ptrdiff_t span = (run[u].len - 1) * sw + (KW - 1) * dw + 1;
                    ptrdiff_t bytes = (span < 256 ? span : 256) * (ptrdiff_t)sizeof(float);
                    for (ptrdiff_t b = 0; b < bytes + 63; b += 64)
                        _mm_prefetch(p + b, _MM_HINT_T0);
                }
            }
        }
        __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
        for (int u = 0; u < nrun; u++) {
            if (!src[u]) continue;                      /* a padding row */
            const ptrdiff_t j0 = run[u].j0, len = run[u].len;
            const ptrdiff_t iw = run[u].ow * sw - g->pw + k * dw;  /* what lane j0 reads */
            if (sw == 1) {
                /* lanes j0 + t, 0 <= t < len, with 0 <= iw + t < W */
                ptrdiff_t lo = iw < 0 ? -iw : 0, hi = W - iw;
                if (lo > len) lo = len;
                if (hi > len) hi = len;
                uint32_t bits = tt_lane_bits(j0 + lo, j0 + hi);
                const float *base = tt_lane_base(src[u], iw - j0);
                if (bits & 0xFFFFu)
                    v0 = _mm512_mask_loadu_ps(v0, (__mmask16)bits, base);
                if (bits >> 16)
                    v1 = _mm512_mask_loadu_ps(v1, (__mmask16)(bits >> 16),
                                              tt_lane_base(base, 16));
            } else {
                float tmp[TT_SGEMM_NR] __attribute__((aligned(64)));
                _mm512_store_ps(tmp, v0);
                _mm512_store_ps(tmp + 16, v1);
                ptrdiff_t v = iw;
                for (ptrdiff_t t = j0; t < j0 + len; t++, v += sw)
                    if (v >= 0 && v < W) tmp[t] = src[u][v];
                v0 = _mm512_load_ps(tmp);
                v1 = _mm512_load_ps(tmp + 16);
            }
        }
        _mm512_store_ps(dst, v0);
        _mm512_store_ps(dst + 16, v1);
        r++;
        if (++k == KW) {
            k = 0;
            if (++j == KH) {
                j = 0;
                if (++i == KD) { i = 0; c++; }
            }
        }
    }
}

/* The per-lane part of a panel's input offsets, for tt_conv_gather_panel: lane t reads
   x[base[t] + row offset] when d0[t] + i*dd, h0[t] + j*dh and w0[t] + k*dw are inside the
   input; `live` marks the panel's columns (lanes past nq stay zero). Two halves of 16. */
typedef struct {
    __m512i base[2], d0[2], h0[2], w0[2];
    __mmask16 live[2];
} tt_conv_lanes;

/* 1 when every offset tt_conv_gather_panel forms fits in 32-bit lanes: the samples the panel
   touches, and every start, extent and kernel reach well below 2^31. */
static int tt_conv_gather_fits(const tt_conv_geo *g, ptrdiff_t xs, ptrdiff_t last_sample)
{
    const ptrdiff_t lim = (ptrdiff_t)1 << 24;
    ptrdiff_t v[] = {g->D, g->H, g->W, g->OD * g->sd, g->OH * g->sh, g->OW * g->sw,
                     g->KD * g->dd, g->KH * g->dh, g->KW * g->dw, g->pd, g->ph, g->pw};
    for (size_t a = 0; a < sizeof v / sizeof v[0]; a++)
        if (v[a] < 0 || v[a] >= lim) return 0;
    if (xs > ((ptrdiff_t)1 << 30)) return 0;
    return (last_sample + 1) * xs + g->C * g->D * g->H * g->W < ((ptrdiff_t)1 << 30);
}

static void tt_conv_lanes_init(tt_conv_lanes *ln, const tt_conv_geo *g, ptrdiff_t xs,
                               const tt_conv_run *run, int nrun, int nq)
{
    int32_t base[TT_SGEMM_NR] = {0}, d0[TT_SGEMM_NR] = {0}, h0[TT_SGEMM_NR] = {0};
    int32_t w0[TT_SGEMM_NR] = {0};
    for (int u = 0; u < nrun; u++)
        for (int t = 0; t < run[u].len; t++) {
            int l = run[u].j0 + t;
            d0[l] = (int32_t)(run[u].od * g->sd - g->pd);
            h0[l] = (int32_t)(run[u].oh * g->sh - g->ph);
            w0[l] = (int32_t)((run[u].ow + t) * g->sw - g->pw);
            base[l] = (int32_t)(run[u].n * xs + ((ptrdiff_t)d0[l] * g->H + h0[l]) * g->W + w0[l]);
        }
    for (int h = 0; h < 2; h++) {
        ln->base[h] = _mm512_loadu_si512(base + 16 * h);
        ln->d0[h] = _mm512_loadu_si512(d0 + 16 * h);
        ln->h0[h] = _mm512_loadu_si512(h0 + 16 * h);
        ln->w0[h] = _mm512_loadu_si512(w0 + 16 * h);
        ln->live[h] = tt_lanes(nq - 16 * h);
    }
}

/* As tt_conv_im2col_panel, by gathers: for strided rows (sw > 1) and for panels of many short
   runs (S3's 4-wide output rows: 8 runs a panel), where masked loads cost one per run. */
static void tt_conv_gather_panel(float *restrict panel, const float *restrict x,
                                 const tt_conv_geo *g, const tt_conv_lanes *ln, ptrdiff_t r0,
                                 ptrdiff_t r1)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH, KW = g->KW;
    const ptrdiff_t dd = g->dd, dh = g->dh, dw = g->dw;
    const __m512i vD = _mm512_set1_epi32((int)D), vH = _mm512_set1_epi32((int)H);
    const __m512i vW = _mm512_set1_epi32((int)W);
    ptrdiff_t k = r0 % KW, j = r0 / KW % KH, i = r0 / (KW * KH) % KD, c = r0 / (KW * KH * KD);
    float *dst = panel;
    __mmask16 rows[2];                        /* lanes whose (d, h) is inside, for this (i, j) */
    for (ptrdiff_t r = r0; r < r1; r++, dst += TT_SGEMM_NR) {
        if (r == r0 || k == 0)
            for (int h = 0; h < 2; h++)
                rows[h] = ln->live[h]
                    & _mm512_cmplt_epu32_mask(_mm512_add_epi32(ln->d0[h], _mm512_set1_epi32((int)(i * dd))), vD)
                    & _mm512_cmplt_epu32_mask(_mm512_add_epi32(ln->h0[h], _mm512_set1_epi32((int)(j * dh))), vH);
        const int32_t off = (int32_t)(((c * D + i * dd) * H + j * dh) * W + k * dw);
        for (int h = 0; h < 2; h++) {
            __mmask16 m = rows[h] & _mm512_cmplt_epu32_mask(
                _mm512_add_epi32(ln->w0[h], _mm512_set1_epi32((int)(k * dw))), vW);
            __m512i idx = _mm512_add_epi32(ln->base[h], _mm512_set1_epi32(off));
            _mm512_store_ps(dst + 16 * h,
                            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, x, 4));
        }
        if (++k == KW) {
            k = 0;
            if (++j == KH) {
                j = 0;
                if (++i == KD) { i = 0; c++; }
            }
        }
    }
}

/* Small output planes without padding (LeNet's conv2: 4 x 4 outputs of 8 x 8 inputs): all
   the inputs one tap reads for one sample's columns lie within 32 consecutive floats, so a
   panel row is two loads and a permute per sample instead of a gather (S3 forward: 0.71 ->
   0.57 ms). A window is such a sample's columns in the panel: lanes [j0, j0 + len), reading
   x[n] at start + idx[lane] + the row's offset. */
typedef struct {
    int nwin;
    int j0[TT_SGEMM_NR], len[TT_SGEMM_NR];
    ptrdiff_t start[TT_SGEMM_NR];            /* sample offset + first column's input offset */
    ptrdiff_t span[TT_SGEMM_NR];             /* floats from the first to the last input + 1 */
    __m512i idx[2][TT_SGEMM_NR];             /* per half of the panel row: lane -> float */
} tt_conv_windows;

/* 1 when every tap of every output stays inside the input (no padding is ever read). */
static int tt_conv_interior(const tt_conv_geo *g)
{
    return g->pd == 0 && g->ph == 0 && g->pw == 0
        && (g->OD - 1) * g->sd + (g->KD - 1) * g->dd < g->D
        && (g->OH - 1) * g->sh + (g->KH - 1) * g->dh < g->H
        && (g->OW - 1) * g->sw + (g->KW - 1) * g->dw < g->W;
}

/* The panel's windows, or 0 when a sample's columns span more than 32 floats. */
static int tt_conv_windows_init(tt_conv_windows *wn, const tt_conv_geo *g, ptrdiff_t xs,
                                const tt_conv_run *run, int nrun)
{
    int32_t idx[TT_SGEMM_NR];
    wn->nwin = 0;
    for (int u = 0; u < nrun;) {
        int w = wn->nwin++, end = u;
        ptrdiff_t first = ((run[u].od * g->sd) * g->H + run[u].oh * g->sh) * g->W
                          + run[u].ow * g->sw;
        wn->j0[w] = run[u].j0;
        wn->len[w] = 0;
        wn->start[w] = run[u].n * xs + first;
        for (int t = 0; t < TT_SGEMM_NR; t++) idx[t] = 0;
        for (; end < nrun && run[end].n == run[u].n; end++)
            for (int t = 0; t < run[end].len; t++) {
                ptrdiff_t at = ((run[end].od * g->sd) * g->H + run[end].oh * g->sh) * g->W
                               + (run[end].ow + t) * g->sw - first;
                if (at >= TT_SGEMM_NR) return 0;
                idx[run[end].j0 + t] = (int32_t)at;
                wn->len[w]++;
                wn->span[w] = at + 1;
            }
        for (int h = 0; h < 2; h++) wn->idx[h][w] = _mm512_loadu_si512(idx + 16 * h);
        u = end;
    }
    return 1;
}

static void tt_conv_window_panel(float *restrict panel, const float *restrict x,
                                 const tt_conv_geo *g, const tt_conv_windows *wn,
                                 ptrdiff_t r0, ptrdiff_t r1)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH, KW = g->KW;
    const ptrdiff_t dd = g->dd, dh = g->dh, dw = g->dw;
    ptrdiff_t k = r0 % KW, j = r0 / KW % KH, i = r0 / (KW * KH) % KD, c = r0 / (KW * KH * KD);
    float *dst = panel;
    for (ptrdiff_t r = r0; r < r1; r++, dst += TT_SGEMM_NR) {
        const ptrdiff_t off = ((c * D + i * dd) * H + j * dh) * W + k * dw;
        __m512 v[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (int w = 0; w < wn->nwin; w++) {
            const float *src = x + wn->start[w] + off;
            __m512 lo = _mm512_maskz_loadu_ps(tt_lanes((int)wn->span[w]), src);
            __m512 hi = _mm512_maskz_loadu_ps(tt_lanes((int)wn->span[w] - 16),
                                              tt_lane_base(src, 16));
            uint32_t bits = tt_lane_bits(wn->j0[w], wn->j0[w] + wn->len[w]);
            for (int h = 0; h < 2; h++)
                if ((bits >> (16 * h)) & 0xFFFFu)
                    v[h] = _mm512_mask_mov_ps(v[h], (__mmask16)(bits >> (16 * h)),
                                              _mm512_permutex2var_ps(lo, wn->idx[h][w], hi));
        }
        _mm512_store_ps(dst, v[0]);
        _mm512_store_ps(dst + 16, v[1]);
        if (++k == KW) {
            k = 0;
            if (++j == KH) {
                j = 0;
                if (++i == KD) { i = 0; c++; }
            }
        }
    }
}

/* Columns [q0, q0 + nq) (nq <= 32) of one group: y = bias + wp @ col. wp: the group's packed
   weights (tt_conv_pack_weights), M x K; bias: M values or NULL; y: sample 0's first output
   channel of the group, samples ys elements apart. panel: KC x 32 floats, tile: M rounded up
   to MR, x 32 floats, both 64-byte aligned, the calling thread's own. */
static void tt_conv_forward_panel(const float *x, ptrdiff_t xs, const tt_conv_geo *g,
                                  const float *wp, ptrdiff_t M, const float *bias,
                                  float *y, ptrdiff_t ys, ptrdiff_t q0, int nq,
                                  float *panel, float *tile)
{
    tt_conv_run run[TT_SGEMM_NR];
    ptrdiff_t K = g->C * g->KD * g->KH * g->KW, L = g->OD * g->OH * g->OW;
    ptrdiff_t Mpad = tt_conv_rows_padded(M);
    int nrun = tt_conv_runs(run, q0, nq, g);
    tt_conv_lanes lanes;
    tt_conv_windows windows;
    int gather = (g->sw != 1 || nrun > 2) && tt_conv_gather_fits(g, xs, run[nrun - 1].n);
    int window = gather && tt_conv_interior(g) && tt_conv_windows_init(&windows, g, xs, run,
                                                                       nrun);
    if (gather && !window)
        tt_conv_lanes_init(&lanes, g, xs, run, nrun, nq);
    /* one sample: the panel's columns are contiguous in y; several: via the tile */
    int direct = run[0].n == run[nrun - 1].n;
    float *c = direct ? y + run[0].n * ys + q0 % L : tile;
    ptrdiff_t ldc = direct ? L : TT_SGEMM_NR;
    for (ptrdiff_t pc = 0; pc < K; pc += TT_SGEMM_KC) {
        ptrdiff_t kc = K - pc < TT_SGEMM_KC ? K - pc : TT_SGEMM_KC;
        if (window)
            tt_conv_window_panel(panel, x, g, &windows, pc, pc + kc);
        else if (gather)
            tt_conv_gather_panel(panel, x, g, &lanes, pc, pc + kc);
        else
            tt_conv_im2col_panel(panel, x, xs, g, run, nrun, pc, pc + kc);
        for (ptrdiff_t i0 = 0; i0 < M; i0 += TT_SGEMM_MR) {
            int mr = (int)(M - i0 < TT_SGEMM_MR ? M - i0 : TT_SGEMM_MR);
            tt_sgemm_tile_rows(mr, kc, wp + pc * Mpad + i0 * kc, panel, c + i0 * ldc, ldc, nq,
                               pc > 0, bias ? bias + i0 : NULL);
        }
    }
    if (direct)
        return;
    for (int r = 0; r < nrun; r++) {             /* scatter the tile, run by run */
        const tt_conv_run *u = &run[r];
        if (r > 0 && u->n == run[r - 1].n)
            continue;                            /* same sample: copied with the run before */
        int len = 0;
        for (int s = r; s < nrun && run[s].n == u->n; s++) len += run[s].len;
        ptrdiff_t l = (u->od * g->OH + u->oh) * g->OW + u->ow;
        for (ptrdiff_t o = 0; o < M; o++)
            tt_copy_run(y + u->n * ys + o * L + l, tile + o * TT_SGEMM_NR + u->j0, len);
    }
}

/* The input gradient of one group for the output columns [q0, q0 + nq) (nq <= 32), added
   into gx: gx[c, at tap t from column q] += sum over o of w[o, c, t] * go[o, q]. Per tap,
   the tile (C x 32) = wt_t (C x M) @ go panel (M x 32) by the micro-kernel, then added into
   the input rows the tap reaches (the adjoint of the forward's gather). This is col2im
   without the col matrix: each tap's tile is still in L1 when it is added.
   go: sample 0's first output channel of the group, samples gos apart; wt: the group's
   packed transposed weights, per tap (tt_conv_pack_weights of w[:, :, t]^T, C x M); gx:
   sample 0's first input channel of the group, samples xs apart (the geometry's C is the
   group's input channels, M its output channels). Only one thread may write a sample's gx:
   the caller gives each task whole samples. panel: M x 32 floats; tile: Cpad x 32. */
static void tt_conv_backward_input_panel(const float *go, ptrdiff_t gos, const tt_conv_geo *g,
                                         const float *wt, ptrdiff_t M, float *gx,
                                         ptrdiff_t xs, ptrdiff_t q0, int nq, float *panel,
                                         float *tile)
{
    tt_conv_run run[TT_SGEMM_NR];
    const ptrdiff_t C = g->C, D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH;
    const ptrdiff_t KW = g->KW, sw = g->sw, T = KD * KH * KW, L = g->OD * g->OH * g->OW;
    const ptrdiff_t Cpad = tt_conv_rows_padded(C), cs = D * H * W;
    int nrun = tt_conv_runs(run, q0, nq, g);
    /* Small planes without padding: each sample's columns reach one span of 32 inputs per
       tap, so the tile row is spread over it by one permute (the inverse of the forward's
       windows) and added with two masked adds, not one per output row (S3: 0.64 -> 0.56 ms). */
    tt_conv_windows wn;                         /* idx becomes: input place -> tile lane */
    __mmask16 hit[TT_SGEMM_NR][2];              /* per window: the places some lane reaches */
    int window = tt_conv_interior(g) && nrun > 2 && tt_conv_windows_init(&wn, g, xs, run, nrun);
    for (int w = 0; window && w < wn.nwin; w++) {
        int32_t at[TT_SGEMM_NR], lane_of[TT_SGEMM_NR] = {0};
        uint32_t places = 0;
        for (int h = 0; h < 2; h++) _mm512_storeu_si512(at + 16 * h, wn.idx[h][w]);
        for (int l = wn.j0[w]; l < wn.j0[w] + wn.len[w]; l++) {
            lane_of[at[l]] = l;
            places |= 1u << at[l];
        }
        for (int h = 0; h < 2; h++) {
            wn.idx[h][w] = _mm512_loadu_si512(lane_of + 16 * h);
            hit[w][h] = (__mmask16)(places >> (16 * h));
        }
    }
    /* the go panel: row o holds go[n, o, l] for the panel's columns (a sample's columns are
       consecutive positions l, so one masked load per sample and half) */
    for (ptrdiff_t o = 0; o < M; o++) {
        __m512 v[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (int u = 0; u < nrun; u++) {
            if (u > 0 && run[u].n == run[u - 1].n) continue;
            int len = 0;
            for (int s2 = u; s2 < nrun && run[s2].n == run[u].n; s2++) len += run[s2].len;
            ptrdiff_t l = (run[u].od * g->OH + run[u].oh) * g->OW + run[u].ow;
            uint32_t bits = tt_lane_bits(run[u].j0, run[u].j0 + len);
            const float *base = tt_lane_base(go + run[u].n * gos + o * L + l, -run[u].j0);
            for (int h = 0; h < 2; h++)
                if ((bits >> (16 * h)) & 0xFFFFu)
                    v[h] = _mm512_mask_loadu_ps(v[h], (__mmask16)(bits >> (16 * h)),
                                                tt_lane_base(base, 16 * h));
        }
        _mm512_store_ps(panel + o * TT_SGEMM_NR, v[0]);
        _mm512_store_ps(panel + o * TT_SGEMM_NR + 16, v[1]);
    }
    ptrdiff_t i = 0, j = 0, k = 0;
    for (ptrdiff_t t = 0; t < T; t++) {
        const float *wtt = wt + t * Cpad * M;
        for (ptrdiff_t pc = 0; pc < M; pc += TT_SGEMM_KC) {
            ptrdiff_t kc = M - pc < TT_SGEMM_KC ? M - pc : TT_SGEMM_KC;
            for (ptrdiff_t i0 = 0; i0 < C; i0 += TT_SGEMM_MR) {
                int mr = (int)(C - i0 < TT_SGEMM_MR ? C - i0 : TT_SGEMM_MR);
                tt_sgemm_tile_rows(mr, kc, wtt + pc * Cpad + i0 * kc,
                                   panel + pc * TT_SGEMM_NR, tile + i0 * TT_SGEMM_NR,
                                   TT_SGEMM_NR, TT_SGEMM_NR, pc > 0, NULL);
            }
        }
        if (window) {
            const ptrdiff_t off = ((i * g->dd) * H + j * g->dh) * W + k * g->dw;
            for (int w = 0; w < wn.nwin; w++)
                for (ptrdiff_t c = 0; c < C; c++) {
                    const float *tc = tile + c * TT_SGEMM_NR;
                    __m512 t0 = _mm512_load_ps(tc), t1 = _mm512_load_ps(tc + 16);
                    float *b = gx + wn.start[w] + c * cs + off;
                    for (int h = 0; h < 2; h++) {
                        if (!hit[w][h]) continue;
                        float *bh = (float *)tt_lane_base(b, 16 * h);
                        _mm512_mask_storeu_ps(bh, hit[w][h], _mm512_add_ps(
                            _mm512_maskz_loadu_ps(hit[w][h], bh),
                            _mm512_permutex2var_ps(t0, wn.idx[h][w], t1)));
                    }
                }
        }
        for (int u = 0; !window && u < nrun; u++) {      /* add the tile where t reads */
            ptrdiff_t id = run[u].od * g->sd - g->pd + i * g->dd;
            ptrdiff_t ih = run[u].oh * g->sh - g->ph + j * g->dh;
            if (id < 0 || id >= D || ih < 0 || ih >= H) continue;
            const ptrdiff_t j0 = run[u].j0, len = run[u].len;
            const ptrdiff_t iw = run[u].ow * sw - g->pw + k * g->dw;   /* lane j0's column */
            float *row = gx + run[u].n * xs + (id * H + ih) * W;
            if (sw == 1) {
                ptrdiff_t lo = iw < 0 ? -iw : 0, hi = W - iw;
                if (lo > len) lo = len;
                if (hi > len) hi = len;
                uint32_t bits = tt_lane_bits(j0 + lo, j0 + hi);
                if (!bits) continue;
                const __mmask16 m0 = (__mmask16)bits, m1 = (__mmask16)(bits >> 16);
                for (ptrdiff_t c = 0; c < C; c++) {
                    float *base = (float *)tt_lane_base(row + c * cs, iw - j0);
                    const float *tc = tile + c * TT_SGEMM_NR;
                    if (m0)
                        _mm512_mask_storeu_ps(base, m0, _mm512_add_ps(
                            _mm512_maskz_loadu_ps(m0, base), _mm512_load_ps(tc)));
                    if (m1) {
                        float *b1 = (float *)tt_lane_base(base, 16);
                        _mm512_mask_storeu_ps(b1, m1, _mm512_add_ps(
                            _mm512_maskz_loadu_ps(m1, b1), _mm512_load_ps(tc + 16)));
                    }
                }
            } else if (sw == 2) {
                /* lanes j0 + t go to row[iw + 2t]: each half of 16 lanes is spread over the
                   even places of 32 inputs (a permute) and added with a masked load and store
                   per 16 inputs (S5's input gradient: 0.72 -> 0.30 ms against scalar adds) */
                ptrdiff_t lo = iw < 0 ? (1 - iw) / 2 : 0, hi = W - iw > 0 ? (W - iw + 1) / 2 : 0;
                if (lo > len) lo = len;
                if (hi > len) hi = len;
                uint32_t bits = tt_lane_bits(j0 + lo, j0 + hi);
                const __m512i spread_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1,
                                                           1, 0, 0);
                const __m512i spread_hi = _mm512_add_epi32(spread_lo, _mm512_set1_epi32(8));
                for (int h = 0; h < 2; h++) {
                    uint32_t lanes = (bits >> (16 * h)) & 0xFFFFu, places = 0;
                    if (!lanes) continue;
                    for (int l = 0; l < 16; l++)          /* lane l -> place 2l */
                        places |= ((lanes >> l) & 1u) << (2 * l);
                    const __mmask16 p0 = (__mmask16)places, p1 = (__mmask16)(places >> 16);
                    for (ptrdiff_t c = 0; c < C; c++) {
                        float *b = (float *)tt_lane_base(row + c * cs, iw - 2 * j0 + 32 * h);
                        __m512 tv = _mm512_load_ps(tile + c * TT_SGEMM_NR + 16 * h);
                        if (p0)
                            _mm512_mask_storeu_ps(b, p0, _mm512_add_ps(
                                _mm512_maskz_loadu_ps(p0, b),
                                _mm512_permutexvar_ps(spread_lo, tv)));
                        if (p1) {
                            float *b1 = (float *)tt_lane_base(b, 16);
                            _mm512_mask_storeu_ps(b1, p1, _mm512_add_ps(
                                _mm512_maskz_loadu_ps(p1, b1),
                                _mm512_permutexvar_ps(spread_hi, tv)));
                        }
                    }
                }
            } else {
                for (ptrdiff_t c = 0; c < C; c++) {
                    float *rc = row + c * cs;
                    const float *tc = tile + c * TT_SGEMM_NR + j0;
                    ptrdiff_t v = iw;
                    for (ptrdiff_t l = 0; l < len; l++, v += sw)
                        if (v >= 0 && v < W) rc[v] += tc[l];
                }
            }
        }
        if (++k == KW) {
            k = 0;
            if (++j == KH) { j = 0; i++; }
        }
    }
}

#pragma GCC pop_options
#endif

/* dst = w (M x K, row-major) packed for tt_conv_forward_panel: for each block of KC columns
   pc, at dst + pc * Mpad, the MR-row panels of tt_sgemm_pack_a. dst: Mpad * K floats. */
static void tt_conv_pack_weights(float *dst, const float *w, ptrdiff_t M, ptrdiff_t K)
{
#if TT_SGEMM_X86
    ptrdiff_t Mpad = tt_conv_rows_padded(M);
    for (ptrdiff_t pc = 0; pc < K; pc += TT_SGEMM_KC) {
        ptrdiff_t kc = K - pc < TT_SGEMM_KC ? K - pc : TT_SGEMM_KC;
        tt_sgemm_pack_a(dst + pc * Mpad, w + pc, K, 1, M, kc);
    }
#else
    (void)dst; (void)w; (void)M; (void)K;
#endif
}

#if !TT_SGEMM_X86  /* never called: conv.pyx checks tt_sgemm_available() */
static void tt_conv_forward_panel(const float *x, ptrdiff_t xs, const tt_conv_geo *g,
                                  const float *wp, ptrdiff_t M, const float *bias,
                                  float *y, ptrdiff_t ys, ptrdiff_t q0, int nq,
                                  float *panel, float *tile)
{
    (void)x; (void)xs; (void)g; (void)wp; (void)M; (void)bias; (void)y; (void)ys; (void)q0;
    (void)nq; (void)panel; (void)tile;
}
static void tt_conv_backward_input_panel(const float *go, ptrdiff_t gos, const tt_conv_geo *g,
                                         const float *wt, ptrdiff_t M, float *gx,
                                         ptrdiff_t xs, ptrdiff_t q0, int nq, float *panel,
                                         float *tile)
{
    (void)go; (void)gos; (void)g; (void)wt; (void)M; (void)gx; (void)xs; (void)q0; (void)nq;
    (void)panel; (void)tile;
}
#endif

#endif /* TT_CONV_PANEL_H */
