/* tt_conv_types.h: the types the convolution kernels and their Cython callers share (no code):
 * a group's geometry (tt_conv_geo, declared to Cython in conv_geometry.pxd) and the table of
 * one ISA variant's kernels (tt_conv_kernels, filled in by tt_isa.h), and the weight-gradient
 * kernels' geometry (tt_wgrad_geo). */
#ifndef TT_CONV_TYPES_H
#define TT_CONV_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* The geometry of one group's convolution (3-D; conv1d/2d lead with size-1 dimensions). */
typedef struct {
    ptrdiff_t C, D, H, W;              /* input channels of the group; input extent */
    ptrdiff_t KD, KH, KW;              /* kernel */
    ptrdiff_t OD, OH, OW;              /* output extent */
    ptrdiff_t sd, sh, sw;              /* stride */
    ptrdiff_t pd, ph, pw;              /* padding at the start (the end is implied by O*) */
    ptrdiff_t dd, dh, dw;              /* dilation */
} tt_conv_geo;

/* The geometry of the float32 weight-gradient kernels (tt_wgrad_common.h, tt_conv_wgrad.inc): positions are walked in "lines" of lp positions, chunks of one vector. */
typedef struct {
    ptrdiff_t N, C, D, H, W;           /* input (C: all channels) */
    ptrdiff_t O, Cg, Og;               /* output channels; per group: input and output */
    ptrdiff_t KD, KH, KW;
    ptrdiff_t OD, OH, OW;
    ptrdiff_t sd, sh, pd, ph, pw, dd, dh, dw;  /* (sw must be 1) */
    ptrdiff_t plane;                   /* 1: a line is an (oh, ow) plane; 0: an output row */
    ptrdiff_t lines_per_n;             /* OD (plane) or OD * OH (row) */
    ptrdiff_t lp;                      /* positions per line: OH * OW or OW */
    ptrdiff_t nch;                     /* chunks of vl positions per line: ceil(lp / vl) */
} tt_wgrad_geo;

/* One variant's float32 weight-gradient kernels ("dot" and "window", conv_wgrad.pyx): the
   positions per chunk (the vector width), the taps per tile for tiles of mr output channels,
   and the two tasks (contracts in tt_conv_wgrad.inc: tt_wgrad_task, tt_wgrad_task_win). */
typedef struct {
    int vl;
    int (*nr)(int mr);
    void (*task)(const float *x, const float *go, float *gw, const tt_wgrad_geo *g,
                 const uint16_t *masks, const ptrdiff_t *taps, float *gpk, ptrdiff_t grp,
                 ptrdiff_t o0, int mr, int nr_tile, ptrdiff_t tt0, ptrdiff_t tt1,
                 ptrdiff_t line0, ptrdiff_t nlines, ptrdiff_t ch0, ptrdiff_t ch1);
    void (*task_win)(const float *x, const float *got, float *gwt, const tt_wgrad_geo *g,
                     const uint16_t *masks, const ptrdiff_t *taps, float *gpk, ptrdiff_t C,
                     ptrdiff_t DHW, ptrdiff_t K, ptrdiff_t nch, const int32_t *bidx,
                     const int32_t *toff, const uint16_t *wmask, ptrdiff_t t0, int mr,
                     int nr_tile, ptrdiff_t tt0, ptrdiff_t tt1, ptrdiff_t q0, ptrdiff_t q1);
} tt_wgrad_kernels;

/* What one variant offers the convolution modules (tt_isa.h builds one per variant): its
   float32 tile (mr rows x nr columns), the GEMM workspaces it needs (elements per thread)
   and its entry points (contracts in tt_conv_panel.h and tt_conv_rows.h, with panels of nr
   columns instead of 32; the GEMMs' in tt_portable.inc and tt_dgemm.inc). */
typedef struct {
    const char *name;
    int mr, nr, vl;
    int rows_mr;                        /* rows of a rows_forward_piece tile (its weights come
                                           in panels of rows_mr output channels) */
    ptrdiff_t work;                     /* floats of GEMM workspace (sgemm) */
    int dmr, dnr;                       /* the float64 GEMM's tile */
    ptrdiff_t dwork;                    /* doubles of GEMM workspace (dgemm) */
    void (*sgemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t rsa,
                  ptrdiff_t csa, const float *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate,
                  float *c, ptrdiff_t ldc, float *work);
    void (*dgemm)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t rsa,
                  ptrdiff_t csa, const double *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate,
                  double *c, ptrdiff_t ldc, double *work);
    ptrdiff_t (*rows_padded)(ptrdiff_t M);
    void (*pack_weights)(float *dst, const float *w, ptrdiff_t M, ptrdiff_t K);
    void (*forward_panel)(const float *x, ptrdiff_t xs, const tt_conv_geo *g, const float *wp,
                          ptrdiff_t M, const float *bias, float *y, ptrdiff_t ys, ptrdiff_t q0,
                          int nq, float *panel, float *tile);
    void (*backward_input_panel)(const float *go, ptrdiff_t gos, const tt_conv_geo *g,
                                 const float *wt, ptrdiff_t M, float *gx, ptrdiff_t xs,
                                 ptrdiff_t q0, int nq, float *panel, float *tile);
    void (*rows_pack_weights)(float *dst, const float *w, ptrdiff_t M, ptrdiff_t C,
                              ptrdiff_t T);
    void (*rows_forward_piece)(const float *x, ptrdiff_t xs, const tt_conv_geo *g,
                               const float *wp, ptrdiff_t M, const float *bias, float *y,
                               ptrdiff_t ys, ptrdiff_t n, ptrdiff_t od, ptrdiff_t oh,
                               ptrdiff_t ow0, int nr);
    tt_wgrad_kernels wgrad;             /* the weight gradient's "dot" and "window" kernels */
    /* the Winograd F(2x2, 3x3) transforms (contracts in tt_winograd.inc) */
    void (*wino_input)(float *V, ptrdiff_t ld, ptrdiff_t vs, const float *x, ptrdiff_t C,
                       ptrdiff_t H, ptrdiff_t W, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t TH,
                       ptrdiff_t TW, ptrdiff_t R0, ptrdiff_t R1, float *rowbuf);
    void (*wino_output)(float *y, const float *Mx, ptrdiff_t ld, ptrdiff_t ms, ptrdiff_t M,
                        ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t TH, ptrdiff_t TW, ptrdiff_t R0,
                        ptrdiff_t R1, const float *bias);
    void (*wino_grad_output)(float *Mg, ptrdiff_t ld, ptrdiff_t ms, const float *gy,
                             ptrdiff_t M, ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t TH,
                             ptrdiff_t TW, ptrdiff_t R0, ptrdiff_t R1);
    /* the Winograd convolutions over 6x6 patches, F(4x4, 3x3) and F(2x2, 5x5)
       (conv_winograd6.pyx): a GEMM whose B the caller packed (contract in tt_portable.inc /
       tt_sgemm.h) and the transforms (contracts in tt_winograd6.inc) */
    void (*sgemm_packed_b)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                           ptrdiff_t rsa, ptrdiff_t csa, const float *bp, int accumulate,
                           float *c, ptrdiff_t ldc, float *work);
    void (*wino6_weights)(float *U, ptrdiff_t us, const float *w, ptrdiff_t M, ptrdiff_t C,
                          int r, ptrdiff_t nr, ptrdiff_t o0, ptrdiff_t o1);
    void (*wino6_input)(float *V, ptrdiff_t vs, const float *x, ptrdiff_t C, ptrdiff_t H,
                        ptrdiff_t W, ptrdiff_t ph, ptrdiff_t pw, int m, ptrdiff_t TH,
                        ptrdiff_t TW, ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t tb);
    void (*wino6_output)(float *y, const float *Mx, ptrdiff_t ms, ptrdiff_t M, ptrdiff_t OH,
                         ptrdiff_t OW, int m, ptrdiff_t TH, ptrdiff_t TW, ptrdiff_t t0,
                         ptrdiff_t t1, ptrdiff_t tb, const float *bias);
    void (*wino6_grad_output)(float *Mx, ptrdiff_t ms, const float *gy, ptrdiff_t M,
                              ptrdiff_t OH, ptrdiff_t OW, int m, ptrdiff_t TH, ptrdiff_t TW,
                              ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t tb);
    void (*wino6_untransform)(float *gw, const float *dU, ptrdiff_t us, ptrdiff_t C, int r,
                              ptrdiff_t o0, ptrdiff_t o1);
    void (*wino6_input_adjoint)(float *gx, const float *dV, ptrdiff_t vs, ptrdiff_t C,
                                ptrdiff_t H, ptrdiff_t W, ptrdiff_t ph, ptrdiff_t pw, int m,
                                ptrdiff_t TH, ptrdiff_t TW, ptrdiff_t t0, ptrdiff_t t1,
                                ptrdiff_t tb);
    /* the 1-D Winograd convolutions over 10-sample windows, F(8, 3), F(6, 5) and F(4, 7)
       (contracts in tt_winograd1d.inc; conv_winograd1d.pyx) */
    void (*wino1d_input)(float *V, ptrdiff_t vs, const float *x, ptrdiff_t C, ptrdiff_t L,
                         ptrdiff_t p, int m, ptrdiff_t t0, ptrdiff_t nb, ptrdiff_t nr,
                         float *buf);
    void (*wino1d_output)(float *y, ptrdiff_t OL, const float *Mx, ptrdiff_t ms, ptrdiff_t ld,
                          ptrdiff_t M, int m, ptrdiff_t t0, ptrdiff_t nb, const float *bias);
    void (*wino1d_grad_output)(float *Mx, ptrdiff_t ms, ptrdiff_t ld, const float *gy,
                               ptrdiff_t OL, ptrdiff_t M, int m, ptrdiff_t t0, ptrdiff_t nb);
    /* -- pooling (not convolution): the float32 max-pool row kernel (tt_pool_rows.inc) -- */
    void (*max_row)(const float *xp, float *y, void *idx, int kind, ptrdiff_t n,
                    ptrdiff_t sw, ptrdiff_t start, ptrdiff_t na, ptrdiff_t nb, ptrdiff_t nc,
                    ptrdiff_t ja, ptrdiff_t jb, ptrdiff_t jc, const float *pf,
                    ptrdiff_t pf_len);
} tt_conv_kernels;

#endif /* TT_CONV_TYPES_H */
