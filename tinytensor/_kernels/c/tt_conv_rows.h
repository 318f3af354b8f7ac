/* tt_conv_rows.h: float32 convolution forward with stride 1 or 2 along W, without im2col.
 *
 * When the stride along W is 1, the 32 outputs y[o, oh, ow0 .. ow0 + 31] of one output row
 * read, for each tap (i, j, k) and input channel c, 32 consecutive inputs
 * x[c, id, ih, ow0 - pw + k*dw .. + 31] (with stride 2, every other one of 64). So the im2col
 * panel of tt_conv_panel.h need not be built: the micro-kernel loads its B vectors straight
 * from the input rows (masked where a lane falls in the padding), and the reduction runs over
 * (tap, channel) with the weights packed in that order. With few output channels (the
 * lecture's 5, conv1d's 32) the im2col copy cost more than the arithmetic; here it is gone.
 *
 * A task is one piece of an output row: up to 32 positions (two zmm per row of the tile) or
 * up to 16 (one zmm, for rows of 16 or fewer), for all M output channels of a group. Rows
 * whose width is not a multiple of the piece waste lanes; conv.py sends rows narrower than
 * 12 positions to the panel path instead.
 *
 * Only built where tt_sgemm.h's AVX-512 kernels are; conv.pyx checks tt_sgemm_available(). */
#ifndef TT_CONV_ROWS_H
#define TT_CONV_ROWS_H

#include "tt_conv_panel.h"

/* Taps handled per pass over the tile; more taps (kernels larger than 64 points) take
   several passes that accumulate in the output. */
#define TT_ROWS_TAPS 64

/* Rows per panel: as many panels as MR-row ones would need, but of even height (16 rows are
   8 + 8, not 12 + 4: a tile of 4 rows keeps too few sums in flight to hide the FMA latency). */
static ptrdiff_t tt_rows_panel_height(ptrdiff_t M)
{
    ptrdiff_t panels = (M + TT_SGEMM_MR - 1) / TT_SGEMM_MR;
    return panels ? (M + panels - 1) / panels : 1;
}

/* dst = w (M x C x T, row-major: T = KD * KH * KW taps) in panels of tt_rows_panel_height(M)
   rows, each holding [tap][channel][MR]: panel r at dst + r * MR * C * T. Rows past a panel's
   height are left unset: the kernel for that row count never reads them. */
static void tt_conv_rows_pack_weights(float *dst, const float *w, ptrdiff_t M, ptrdiff_t C,
                                      ptrdiff_t T)
{
    const ptrdiff_t height = tt_rows_panel_height(M);
    for (ptrdiff_t i0 = 0; i0 < M; i0 += height) {
        ptrdiff_t mr = M - i0 < height ? M - i0 : height;
        for (ptrdiff_t r = 0; r < mr; r++)
            for (ptrdiff_t c = 0; c < C; c++)
                for (ptrdiff_t t = 0; t < T; t++)
                    dst[(t * C + c) * TT_SGEMM_MR + r] = w[((i0 + r) * C + c) * T + t];
        dst += TT_SGEMM_MR * C * T;
    }
}

#if TT_SGEMM_X86
#pragma GCC push_options
#pragma GCC target("avx512f,fma")

/* The taps of one pass: for each, the input offset (from channel 0 of the sample) that lane
   0 reads, the lanes inside the input (two halves of 16) and the tap's index in the
   weights. */
typedef struct {
    ptrdiff_t off[TT_ROWS_TAPS];
    __mmask16 m[4][TT_ROWS_TAPS];       /* stride 1: lanes 0-15, 16-31; 2: inputs 0-15 ... 48-63 */
    ptrdiff_t w[TT_ROWS_TAPS];
    int n;
} tt_rows_taps;

/* Bits [a, b) of 64 (a and b clamped to [0, 64]). */
static inline uint64_t tt_bits64(ptrdiff_t a, ptrdiff_t b)
{
    if (a < 0) a = 0;
    if (b > 64) b = 64;
    if (b <= a) return 0;
    return (b == 64 ? ~(uint64_t)0 : (((uint64_t)1 << b) - 1)) & ~(((uint64_t)1 << a) - 1);
}

/* Tile of MR_ output channels x (16 * NV) positions: C tile = (C tile if accumulate, else
   bias or 0) + sum over the taps and C channels. a: the panel's packed weights; x: the
   sample's channel 0; cs: elements between channels. With stride SW = 2 along W, a vector of
   16 positions reads every other input of 32 consecutive ones: two masked loads and one
   permute (S5: gathers took 0.5 ms). MR_, NV and SW are constants at every call
   (the switch below), so the loops unroll and the accumulators stay in registers; the
   pragmas force that unrolling: without them GCC 12 kept the tile in memory here and the
   kernel ran at 74 instead of 216 GFLOP/s. */
static inline __attribute__((always_inline)) void
tt_rows_tile(const int MR_, const int NV, const int SW, const tt_rows_taps *tp, const float *x,
             ptrdiff_t C,
             ptrdiff_t cs, const float *a, float *c, ptrdiff_t ldc, __mmask16 om0,
             __mmask16 om1, int accumulate, const float *bias)
{
    __m512 c0[TT_SGEMM_MR], c1[TT_SGEMM_MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR_; i++) {
        c0[i] = bias && !accumulate ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
        c1[i] = c0[i];
    }
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                          2, 0);
    for (int t = 0; t < tp->n; t++) {
        const __mmask16 m0 = tp->m[0][t], m1 = tp->m[1][t], m2 = tp->m[2][t], m3 = tp->m[3][t];
        const float *xp = tt_lane_base(x, tp->off[t]);
        const float *ap = a + tp->w[t] * C * TT_SGEMM_MR;
        for (ptrdiff_t ch = 0; ch < C; ch++) {
            __m512 b0, b1 = _mm512_setzero_ps();
            if (SW == 1) {
                b0 = _mm512_maskz_loadu_ps(m0, xp);
                if (NV == 2) b1 = _mm512_maskz_loadu_ps(m1, tt_lane_base(xp, 16));
            } else {
                b0 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, xp), even,
                                            _mm512_maskz_loadu_ps(m1, tt_lane_base(xp, 16)));
                if (NV == 2)
                    b1 = _mm512_permutex2var_ps(
                        _mm512_maskz_loadu_ps(m2, tt_lane_base(xp, 32)), even,
                        _mm512_maskz_loadu_ps(m3, tt_lane_base(xp, 48)));
            }
#pragma GCC unroll 12
            for (int i = 0; i < MR_; i++) {
                __m512 ai = _mm512_set1_ps(ap[i]);
                c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
                if (NV == 2) c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
            }
            xp = tt_lane_base(xp, cs);
            ap += TT_SGEMM_MR;
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR_; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(om0, ci));
            if (NV == 2) c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(om1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, om0, c0[i]);
        if (NV == 2) _mm512_mask_storeu_ps(ci + 16, om1, c1[i]);
    }
}

#define TT_ROWS_CASE(R)                                                                    \
    case R:                                                                                \
        if (sw == 1 && nv == 2) tt_rows_tile(R, 2, 1, tp, x, C, cs, a, c, ldc, om0, om1, acc, bias); \
        else if (sw == 1) tt_rows_tile(R, 1, 1, tp, x, C, cs, a, c, ldc, om0, om1, acc, bias); \
        else if (nv == 2) tt_rows_tile(R, 2, 2, tp, x, C, cs, a, c, ldc, om0, om1, acc, bias); \
        else tt_rows_tile(R, 1, 2, tp, x, C, cs, a, c, ldc, om0, om1, acc, bias);          \
        break;

static void tt_rows_tile_any(int mr, int nv, int sw, const tt_rows_taps *tp, const float *x,
                             ptrdiff_t C, ptrdiff_t cs, const float *a, float *c,
                             ptrdiff_t ldc, __mmask16 om0, __mmask16 om1, int acc,
                             const float *bias)
{
    switch (mr) {
    TT_ROWS_CASE(12) TT_ROWS_CASE(11) TT_ROWS_CASE(10) TT_ROWS_CASE(9) TT_ROWS_CASE(8)
    TT_ROWS_CASE(7) TT_ROWS_CASE(6) TT_ROWS_CASE(5) TT_ROWS_CASE(4) TT_ROWS_CASE(3)
    TT_ROWS_CASE(2)
    default: TT_ROWS_CASE(1)
    }
}

/* Positions ow0 .. ow0 + nr - 1 (nr <= 32) of output row (n, od, oh) of one group, for its
   M output channels: y = bias + conv. x: sample 0's first channel of the group, samples xs
   elements apart; wp: the group's packed weights (tt_conv_rows_pack_weights); bias: M values
   or NULL; y: sample 0's first output channel of the group, samples ys elements apart.
   g->sw must be 1 or 2. */
static void tt_conv_rows_forward_piece(const float *x, ptrdiff_t xs, const tt_conv_geo *g,
                                       const float *wp, ptrdiff_t M, const float *bias,
                                       float *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t od,
                                       ptrdiff_t oh, ptrdiff_t ow0, int nr)
{
    const ptrdiff_t C = g->C, D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH;
    const ptrdiff_t KW = g->KW, T = KD * KH * KW, cs = D * H * W;
    const ptrdiff_t L = g->OD * g->OH * g->OW, dd = g->dd, dh = g->dh, dw = g->dw;
    const ptrdiff_t sw = g->sw, height = tt_rows_panel_height(M);
    const ptrdiff_t id0 = od * g->sd - g->pd, ih0 = oh * g->sh - g->ph, iw0 = ow0 * sw - g->pw;
    const int nv = nr > 16 ? 2 : 1;
    const __mmask16 om0 = tt_lanes(nr), om1 = tt_lanes(nr - 16);
    const float *xn = x + n * xs;
    float *yrow = y + n * ys + (od * g->OH + oh) * g->OW + ow0;
    tt_rows_taps tp;
    int passes = 0;
    ptrdiff_t t = 0;
    /* The next output row reads g->sh input rows further down: fetch them while this row
       computes (the rows of all channels are too many streams for the hardware prefetcher;
       see tt_conv_panel.h). Prefetches never fault. */
    {
        ptrdiff_t id = od * g->sd - g->pd + (KD - 1) * g->dd;
        ptrdiff_t ih = (oh + 1) * g->sh - g->ph + (KH - 1) * g->dh;
        if (id >= 0 && id < D && ih >= 0 && ih < H) {
            ptrdiff_t span = (nr - 1) * sw + 1 + (KW - 1) * g->dw;
            ptrdiff_t bytes = (span < 256 ? span : 256) * (ptrdiff_t)sizeof(float);
            for (ptrdiff_t ch = 0; ch < C; ch++) {
                const char *p = (const char *)tt_lane_base(
                    xn, ch * cs + (id * H + ih) * W + iw0);
                for (ptrdiff_t b = 0; b < bytes + 63; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
            }
        }
    }
    ptrdiff_t i = 0, j = 0, k = -1;                          /* tap t = (i, j, k) */
    while (t < T) {
        /* collect up to TT_ROWS_TAPS taps that touch the input (counters, not divisions:
           this loop is most of the cost of a small convolution such as S1's) */
        tp.n = 0;
        for (; t < T && tp.n < TT_ROWS_TAPS; t++) {
            if (++k == KW) {
                k = 0;
                if (++j == KH) { j = 0; i++; }
            }
            ptrdiff_t id = id0 + i * dd, ih = ih0 + j * dh;
            if (id < 0 || id >= D || ih < 0 || ih >= H) continue;
            ptrdiff_t iw = iw0 + k * dw;                      /* what lane 0 reads */
            /* the inputs iw + s the lanes read (s = lane * sw) that lie inside the row */
            ptrdiff_t lo = iw < 0 ? -iw : 0, hi = W - iw, span = (nr - 1) * sw + 1;
            uint64_t bits = tt_bits64(lo, hi < span ? hi : span);
            if (!bits) continue;
            tp.off[tp.n] = (id * H + ih) * W + iw;
            for (int q = 0; q < 4; q++)
                tp.m[q][tp.n] = (__mmask16)(bits >> (16 * q));
            tp.w[tp.n] = t;
            tp.n++;
        }
        if (tp.n == 0 && passes > 0)
            break;                       /* nothing to add (a first pass always writes) */
        for (ptrdiff_t i0 = 0, r = 0; i0 < M; i0 += height, r++) {
            int mr = (int)(M - i0 < height ? M - i0 : height);
            tt_rows_tile_any(mr, nv, (int)sw, &tp, xn, C, cs, wp + r * TT_SGEMM_MR * C * T,
                             yrow + i0 * L, L, om0, om1, passes > 0, bias ? bias + i0 : NULL);
        }
        passes++;
    }
}

#pragma GCC pop_options
#else  /* never called: conv.pyx checks tt_sgemm_available() */
static void tt_conv_rows_forward_piece(const float *x, ptrdiff_t xs, const tt_conv_geo *g,
                                       const float *wp, ptrdiff_t M, const float *bias,
                                       float *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t od,
                                       ptrdiff_t oh, ptrdiff_t ow0, int nr)
{
    (void)x; (void)xs; (void)g; (void)wp; (void)M; (void)bias; (void)y; (void)ys; (void)n;
    (void)od; (void)oh; (void)ow0; (void)nr;
}
#endif

#endif /* TT_CONV_ROWS_H */
