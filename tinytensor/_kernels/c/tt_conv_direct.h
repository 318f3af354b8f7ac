/* tt_conv_direct.h: the depthwise convolution kernels (one input channel per group), float
 * and double, used by conv.pyx's direct_forward and direct_backward.
 *
 * Plain C so that on x86-64 Linux with GCC they carry an AVX2+FMA clone picked at load time by
 * the CPU (the build targets baseline SSE2); elsewhere the same loops, unversioned. They trust
 * their arguments: direct_forward/direct_backward check the shapes first. */
#ifndef TT_CONV_DIRECT_H
#define TT_CONV_DIRECT_H

#include <stddef.h>
#include "tt_conv_types.h"          /* tt_conv_geo */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TT_CONV_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define TT_CONV_CLONES
#endif
static inline ptrdiff_t tt_conv_hi(ptrdiff_t off, ptrdiff_t s, ptrdiff_t n,
                                    ptrdiff_t out) {
    ptrdiff_t b = n - off > 0 ? (n - off - 1) / s + 1 : 0;   /* s may be ~2**63 */
    return b < out ? b : out;
}
static inline ptrdiff_t tt_conv_lo(ptrdiff_t off, ptrdiff_t s, ptrdiff_t n,
                                    ptrdiff_t out) {
    ptrdiff_t b = tt_conv_hi(off, s, n, out), a = off < 0 ? (-off - 1) / s + 1 : 0;
    return a < b ? a : b;
}
#define TT_DW_DEFINE(T, SUF)                                                              \
/* y = bias + sum over taps of w[tap] * shifted x, for one (n, o) plane */               \
TT_CONV_CLONES static void tt_dw_fwd_##SUF(                                              \
        T *__restrict y, const T *__restrict x, const T *__restrict w, T bias,           \
        const tt_conv_geo *g) {                                                             \
    const ptrdiff_t D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH, KW = g->KW;       \
    const ptrdiff_t OD = g->OD, OH = g->OH, OW = g->OW, sd = g->sd, sh = g->sh;             \
    const ptrdiff_t sw = g->sw, pd = g->pd, ph = g->ph, pw = g->pw, dd = g->dd;             \
    const ptrdiff_t dh = g->dh, dw = g->dw;                                                 \
    for (ptrdiff_t l = 0; l < OD * OH * OW; l++) y[l] = bias;                           \
    for (ptrdiff_t i = 0; i < KD; i++)                                                  \
    for (ptrdiff_t j = 0; j < KH; j++)                                                  \
    for (ptrdiff_t k = 0; k < KW; k++) {                                                \
        T wv = w[(i * KH + j) * KW + k];                                                 \
        ptrdiff_t off = k * dw - pw;                                                    \
        ptrdiff_t lo = tt_conv_lo(off, sw, W, OW), hi = tt_conv_hi(off, sw, W, OW);     \
        for (ptrdiff_t od = 0; od < OD; od++) {                                         \
            ptrdiff_t d = od * sd - pd + i * dd;                                        \
            if (d < 0 || d >= D) continue;                                               \
            for (ptrdiff_t oh = 0; oh < OH; oh++) {                                     \
                ptrdiff_t h = oh * sh - ph + j * dh;                                    \
                if (h < 0 || h >= H) continue;                                           \
                T *yr = y + (od * OH + oh) * OW;                                         \
                const T *xr = x + (d * H + h) * W + off;                                 \
                if (sw == 1) for (ptrdiff_t q = lo; q < hi; q++) yr[q] += wv * xr[q];   \
                else for (ptrdiff_t q = lo; q < hi; q++) yr[q] += wv * xr[q * sw];      \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
/* For one (n, o) plane of grad_output: gx plane += w[tap] * go shifted back; rows +=   \
   go * shifted x per tap (K rows of OW) and go itself (row K), summed by the caller */ \
TT_CONV_CLONES static void tt_dw_bwd_##SUF(                                              \
        const T *__restrict go, const T *__restrict x, const T *__restrict w,            \
        T *__restrict gx, T *__restrict rows, int need_gx, int need_gw, int need_gb,     \
        const tt_conv_geo *g) {                                                             \
    const ptrdiff_t D = g->D, H = g->H, W = g->W, KD = g->KD, KH = g->KH, KW = g->KW;       \
    const ptrdiff_t OD = g->OD, OH = g->OH, OW = g->OW, sd = g->sd, sh = g->sh;             \
    const ptrdiff_t sw = g->sw, pd = g->pd, ph = g->ph, pw = g->pw, dd = g->dd;             \
    const ptrdiff_t dh = g->dh, dw = g->dw;                                                 \
    ptrdiff_t K = KD * KH * KW;                                                         \
    if (need_gb) {                                                                       \
        T *row = rows + K * OW;                                                          \
        for (ptrdiff_t r = 0; r < OD * OH; r++)                                         \
            for (ptrdiff_t q = 0; q < OW; q++) row[q] += go[r * OW + q];                \
    }                                                                                    \
    for (ptrdiff_t i = 0; i < KD; i++)                                                  \
    for (ptrdiff_t j = 0; j < KH; j++)                                                  \
    for (ptrdiff_t k = 0; k < KW; k++) {                                                \
        T wv = w[(i * KH + j) * KW + k];                                                 \
        T *row = rows + ((i * KH + j) * KW + k) * OW;                                    \
        ptrdiff_t off = k * dw - pw;                                                    \
        ptrdiff_t lo = tt_conv_lo(off, sw, W, OW), hi = tt_conv_hi(off, sw, W, OW);     \
        for (ptrdiff_t od = 0; od < OD; od++) {                                         \
            ptrdiff_t d = od * sd - pd + i * dd;                                        \
            if (d < 0 || d >= D) continue;                                               \
            for (ptrdiff_t oh = 0; oh < OH; oh++) {                                     \
                ptrdiff_t h = oh * sh - ph + j * dh;                                    \
                if (h < 0 || h >= H) continue;                                           \
                const T *gr = go + (od * OH + oh) * OW;                                  \
                ptrdiff_t base = (d * H + h) * W + off;                                 \
                if (need_gx) {                                                           \
                    T *xg = gx + base;                                                   \
                    if (sw == 1) for (ptrdiff_t q = lo; q < hi; q++) xg[q] += wv * gr[q]; \
                    else for (ptrdiff_t q = lo; q < hi; q++) xg[q * sw] += wv * gr[q];  \
                }                                                                        \
                if (need_gw) {                                                           \
                    const T *xr = x + base;                                              \
                    if (sw == 1) for (ptrdiff_t q = lo; q < hi; q++) row[q] += gr[q] * xr[q]; \
                    else for (ptrdiff_t q = lo; q < hi; q++) row[q] += gr[q] * xr[q * sw]; \
                }                                                                        \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
}
TT_DW_DEFINE(float, f32)
TT_DW_DEFINE(double, f64)

#endif /* TT_CONV_DIRECT_H */
