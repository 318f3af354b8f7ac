/* tt_wgrad_common.h: the scalar part of the float32 dot-product weight gradient, shared by
 * every variant's kernels (tt_conv_wgrad.inc): the lane-mask and tap tables built once per
 * call, and the final unpermute. How the kernels use them: tt_conv_wgrad.inc's top comment; a
 * "chunk" is one vector of VL positions (16 on AVX-512, 8 on AVX2, 4 on SSE2 and NEON). */
#ifndef TT_WGRAD_COMMON_H
#define TT_WGRAD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "tt_conv_types.h"        /* tt_wgrad_geo */


/* The mask table: masks[ch * (KH * KW + 1) + j * KW + k] holds the lanes (of vl <= 16) of
   chunk ch whose input column (and, in plane mode, row) for tap (j, k) is inside the input
   and whose position is inside the line; the last column of each chunk is 0. Scalar code,
   once per call. */
static void tt_wgrad_masks(uint16_t *masks, const tt_wgrad_geo *g, int vl)
{
    const ptrdiff_t KH = g->KH, KW = g->KW, OW = g->OW, lp = g->lp;
    for (ptrdiff_t ch = 0; ch < g->nch; ch++) {
        masks[ch * (KH * KW + 1) + KH * KW] = 0;
        for (ptrdiff_t j = 0; j < KH; j++)
            for (ptrdiff_t k = 0; k < KW; k++) {
                unsigned m = 0;
                for (int l = 0; l < vl; l++) {
                    ptrdiff_t p = ch * vl + l;
                    if (p >= lp) break;
                    ptrdiff_t oh = p / OW, ow = p % OW;
                    ptrdiff_t iw = ow - g->pw + k * g->dw;
                    int ok = iw >= 0 && iw < g->W;
                    if (g->plane) {
                        ptrdiff_t ih = oh - g->ph + j * g->dh;
                        ok = ok && ih >= 0 && ih < g->H;
                    }
                    if (ok) m |= 1u << l;
                }
                masks[ch * (KH * KW + 1) + j * KW + k] = (uint16_t)m;
            }
    }
}

/* The taps of a group in blocks of nrb channels (nrb = the tile's NR), each block spatial-
   major: tap t of block b = c0 .. c0+cb-1 is (ks = (t - b nrb K) / cb, c = c0 + its rest). So
   a tile of NR consecutive taps is NR consecutive channels at one ks = (i, j, k): one lane
   mask per chunk for the whole tile and x rows a constant stride apart, which frees the
   registers per-tap masks and pointers took; and the K tiles of a block run one after the
   other on the same NR channel rows, which stay in L1 (spatial-major over all channels
   streamed x from L2: S4 41 -> 45 ms on AVX-512). taps[5 t ..] = x offset
   c*D*H*W + i*dd*H*W + j*dh*W + k*dw, depth offset i*dd, row offset j*dh, mask column
   j*KW + k, and the tap's place c*K + (i, j, k) in a row of gW. Once per call, so a tile
   does no division. */
static void tt_wgrad_taps(ptrdiff_t *taps, const tt_wgrad_geo *g, ptrdiff_t nrb)
{
    const ptrdiff_t KHW = g->KH * g->KW, K = g->KD * KHW, HW = g->H * g->W;
    for (ptrdiff_t t = 0; t < g->Cg * K; t++) {
        ptrdiff_t b = t / (nrb * K), c0 = b * nrb;
        ptrdiff_t cb = g->Cg - c0 < nrb ? g->Cg - c0 : nrb, local = t - c0 * K;
        ptrdiff_t c = c0 + local % cb, ks = local / cb, id = ks / KHW, ih = ks / g->KW % g->KH;
        ptrdiff_t iw = ks % g->KW;
        taps[5 * t] = c * g->D * HW + id * g->dd * HW + ih * g->dh * g->W + iw * g->dw;
        taps[5 * t + 1] = id * g->dd;
        taps[5 * t + 2] = ih * g->dh;
        taps[5 * t + 3] = ih * g->KW + iw;
        taps[5 * t + 4] = c * K + ks;
    }
}

/* gw[o, c*K + ks] = gwt[o, t] for every tap t = (c, ks) of tt_wgrad_taps' order. */
static void tt_wgrad_unpermute(float *gw, const float *gwt, const ptrdiff_t *taps,
                               ptrdiff_t O, ptrdiff_t CK)
{
    for (ptrdiff_t o = 0; o < O; o++)
        for (ptrdiff_t t = 0; t < CK; t++) gw[o * CK + taps[5 * t + 4]] = gwt[o * CK + t];
}

/* Tiles of a group: ceil(Cg / nr) channel blocks x K taps (the wrapper's tile count). */
static ptrdiff_t tt_wgrad_tiles(ptrdiff_t Cg, ptrdiff_t K, int nr)
{
    return (Cg + nr - 1) / nr * K;
}

#endif /* TT_WGRAD_COMMON_H */
