/* tt_isa.h: the GEMMs (float32 and float64), the float32 convolution kernels and the float32
 * max-pool row kernel (tt_pool_rows.inc, for pool.pyx) of every ISA variant, and the table
 * that picks one.
 *
 * tt_portable.inc (float32) and tt_dgemm.inc (the float64 GEMM) hold the kernels once; here
 * they are compiled once per variant inside a
 * target region (`#pragma GCC target` / `#pragma clang attribute`), so this one translation
 * unit, built with the baseline flags only, holds an AVX-512, an AVX2+FMA and a plain copy
 * (x86-64), or a NEON and a plain copy (aarch64). Which copy runs is chosen once, by the
 * caller (tinytensor/_kernels/_isa.pyx: the CPU's best, or TINYTENSOR_ISA), through
 * tt_conv_kernels_get(name).
 *
 * tt_conv_wgrad.inc (the float32 weight gradient's "dot" and "window" kernels) is compiled
 * the same way, right after tt_portable.inc; every variant runs it, "avx512" included.
 *
 * On AVX-512 the table holds the hand-written AVX-512 kernels of tt_sgemm.h,
 * tt_conv_panel.h and tt_conv_rows.h (gathers, windows and permutes the portable copy has
 * no equivalent of yet); "avx512-portable" is tt_portable.inc compiled for AVX-512, kept to
 * test the portable source at 16 lanes (C kernel tests only: TT_PORTABLE_TWIN below). The max-pool rows are the portable ones
 * in every variant, "avx512" included (faster than the hand-written AVX-512 kernel they
 * replaced: P2's rows 25-30% less time on Zen 5). */
#ifndef TT_ISA_H
#define TT_ISA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "tt_conv_types.h"         /* tt_conv_geo, tt_conv_kernels */
#include "tt_conv_rows.h"          /* the AVX-512 kernels; tt_conv_runs */
#include "tt_cpu.h"
#include "tt_wgrad_common.h"       /* the weight gradient's scalar tables */

/* "avx512-portable", tt_portable.inc compiled for AVX-512 beside the hand-written kernels that
   "avx512" runs: built for the C kernel tests (tests/kernels/test_kernels.c) and wherever the
   hand-written ones are missing, but not into the extension, whose build defines
   TT_NO_PORTABLE_TWIN (setup.py: its GEMM and convolution kernels were a quarter of the
   build's compile time, for a variant nothing chose) */
#if defined(TT_NO_PORTABLE_TWIN) && TT_SGEMM_X86
#define TT_PORTABLE_TWIN 0
#else
#define TT_PORTABLE_TWIN 1
#endif

#define TT_CAT_(a, b) a##b
#define TT_CAT(a, b) TT_CAT_(a, b)
#define TT_STR(x) #x
#if defined(__clang__)
#define TT_TARGET_BEGIN(t) \
    _Pragma(TT_STR(clang attribute push(__attribute__((target(t))), apply_to = function)))
#define TT_TARGET_END _Pragma("clang attribute pop")
#else
#define TT_TARGET_BEGIN(t) _Pragma("GCC push_options") _Pragma(TT_STR(GCC target(t)))
#define TT_TARGET_END _Pragma("GCC pop_options")
#endif

/* the float64 GEMM's workspace: packed A + packed B + slack to align both to 64 bytes */
#define TT_DWORK_OF(DKC_, DMC_, DNC_) ((DMC_) * (DKC_) + (DKC_) * (DNC_) + 16)

#define TT_TABLE(NAME, SFX_, VL_, MR_, NV_, KC_, MC_, NC_, RMR_, DMR_, DNV_, DKC_, DMC_, DNC_) \
    static const tt_conv_kernels TT_CAT(tt_kernels_, SFX_) = {                              \
        NAME, MR_, (NV_) * (VL_), VL_, RMR_, (MC_) * (KC_) + (KC_) * (NC_) + 32,            \
        DMR_, (DNV_) * (VL_) / 2, TT_DWORK_OF(DKC_, DMC_, DNC_),                            \
        TT_CAT(tt_sgemm_, SFX_), TT_CAT(tt_dgemm_, SFX_), TT_CAT(tt_rows_padded_, SFX_),    \
        TT_CAT(tt_pack_weights_, SFX_), TT_CAT(tt_forward_panel_, SFX_),                    \
        TT_CAT(tt_backward_input_panel_, SFX_), TT_CAT(tt_rows_pack_weights_, SFX_),        \
        TT_CAT(tt_rows_forward_piece_, SFX_),                                               \
        TT_WGRAD_TABLE(SFX_, VL_), TT_CAT(tt_wino_input_, SFX_),                             \
        TT_CAT(tt_wino_output_, SFX_), TT_CAT(tt_wino_grad_output_, SFX_),                   \
        TT_CAT(tt_sgemm_packed_b_, SFX_), TT_CAT(tt_wino6_weights_, SFX_),                   \
        TT_CAT(tt_wino6_input_, SFX_), TT_CAT(tt_wino6_output_, SFX_),                       \
        TT_CAT(tt_wino6_grad_output_, SFX_), TT_CAT(tt_wino6_untransform_, SFX_),            \
        TT_CAT(tt_wino6_input_adjoint_, SFX_),                                               \
        TT_CAT(tt_wino1d_input_, SFX_), TT_CAT(tt_wino1d_output_, SFX_),                     \
        TT_CAT(tt_wino1d_grad_output_, SFX_),                                                \
        TT_CAT(tt_max_row_, SFX_)};

/* the weight gradient's kernels of a variant (tt_conv_wgrad.inc) */
#define TT_WGRAD_TABLE(SFX_, VL_) \
    {VL_, TT_CAT(tt_wgrad_nr_, SFX_), TT_CAT(tt_wgrad_task_, SFX_), TT_CAT(tt_wgrad_task_win_, SFX_)}

#if defined(__GNUC__)            /* GCC and Clang: vector extensions (MSVC gets no variant) */
#if defined(__x86_64__)
#include <immintrin.h>

/* AVX-512F: 32 zmm; a 12 x 32 tile is 24 accumulators. */
TT_TARGET_BEGIN("avx512f,fma")
#define SFX avx512p
#define TT_ISA_AVX512 1
#define TT_VL 16
#define TT_MR 12
#define TT_NV 2
#define TT_KC 256
#define TT_MC 144
#define TT_NC 512
#define TT_ROWS_MR 12
#define TT_DMR 12
#define TT_DNV 2
#define TT_DKC 256
#define TT_DMC 144
#define TT_DNC 256
#if TT_PORTABLE_TWIN
#include "tt_portable.inc"
#else
#include "tt_vec.inc"            /* (no twin: only the kernels "avx512" takes from here) */
#endif
#include "tt_conv_wgrad.inc"
#include "tt_dgemm.inc"
#include "tt_winograd.inc"       /* the Winograd transforms (conv_winograd.pyx) */
#include "tt_winograd6.inc"      /* over 6x6 patches (conv_winograd6.pyx) */
#include "tt_winograd1d.inc"     /* 1-D, over 10-sample windows (conv_winograd1d.pyx) */
#include "tt_pool_rows.inc"      /* the max-pool rows (pool.pyx) */
#include "tt_unvariant.inc"
TT_TARGET_END
#if TT_PORTABLE_TWIN
TT_TABLE("avx512-portable", avx512p, 16, 12, 2, 256, 144, 512, 12, 12, 2, 256, 144, 256)
#endif

/* AVX2 + FMA: 16 ymm; a 6 x 16 tile is 12 accumulators, 2 vectors of B, 1 broadcast. */
TT_TARGET_BEGIN("avx2,fma")
#define SFX avx2
#define TT_ISA_AVX2 1
#define TT_VL 8
#define TT_MR 6
#define TT_NV 2
#define TT_KC 256
#define TT_MC 144
#define TT_NC 512
#define TT_ROWS_MR 6
#define TT_DMR 6
#define TT_DNV 2
#define TT_DKC 256
#define TT_DMC 144
#define TT_DNC 256
#include "tt_portable.inc"
#include "tt_conv_wgrad.inc"
#include "tt_dgemm.inc"
#include "tt_winograd.inc"       /* the Winograd transforms (conv_winograd.pyx) */
#include "tt_winograd6.inc"      /* over 6x6 patches (conv_winograd6.pyx) */
#include "tt_winograd1d.inc"     /* 1-D, over 10-sample windows (conv_winograd1d.pyx) */
#include "tt_pool_rows.inc"      /* the max-pool rows (pool.pyx) */
#include "tt_unvariant.inc"
TT_TARGET_END
TT_TABLE("avx2", avx2, 8, 6, 2, 256, 144, 512, 6, 6, 2, 256, 144, 256)
#endif

#if defined(__aarch64__)
/* NEON (always there on aarch64): 32 q registers; 6 x 12 (GCC 12 spills 8 x 12). */
#define SFX neon
#define TT_VL 4
#define TT_MR 6
#define TT_NV 3
#define TT_KC 256
#define TT_MC 144
#define TT_NC 504
#define TT_ROWS_MR 6
#define TT_DMR 6
#define TT_DNV 3
#define TT_DKC 256
#define TT_DMC 144
#define TT_DNC 252
#include "tt_portable.inc"
#include "tt_conv_wgrad.inc"
#include "tt_dgemm.inc"
#include "tt_winograd.inc"       /* the Winograd transforms (conv_winograd.pyx) */
#include "tt_winograd6.inc"      /* over 6x6 patches (conv_winograd6.pyx) */
#include "tt_winograd1d.inc"     /* 1-D, over 10-sample windows (conv_winograd1d.pyx) */
#include "tt_pool_rows.inc"      /* the max-pool rows (pool.pyx) */
#include "tt_unvariant.inc"
TT_TABLE("neon", neon, 4, 6, 3, 256, 144, 504, 6, 6, 3, 256, 144, 252)
#endif

/* generic: the baseline of the build (SSE2 on x86-64, NEON on aarch64, plain C elsewhere):
   vectors of 4 floats, a 6 x 8 tile (12 accumulators of 16 SSE registers). */
#define SFX generic
#define TT_VL 4
#define TT_MR 6
#define TT_NV 2
#define TT_KC 256
#define TT_MC 144
#define TT_NC 512
#define TT_ROWS_MR 4
#define TT_DMR 6
#define TT_DNV 2
#define TT_DKC 256
#define TT_DMC 144
#define TT_DNC 256
#include "tt_portable.inc"
#include "tt_conv_wgrad.inc"
#include "tt_dgemm.inc"
#include "tt_winograd.inc"       /* the Winograd transforms (conv_winograd.pyx) */
#include "tt_winograd6.inc"      /* over 6x6 patches (conv_winograd6.pyx) */
#include "tt_winograd1d.inc"     /* 1-D, over 10-sample windows (conv_winograd1d.pyx) */
#include "tt_pool_rows.inc"      /* the max-pool rows (pool.pyx) */
#include "tt_unvariant.inc"
TT_TABLE("generic", generic, 4, 6, 2, 256, 144, 512, 4, 6, 2, 256, 144, 256)
#endif /* __GNUC__ */

#if TT_SGEMM_X86
static const tt_conv_kernels tt_kernels_avx512 = {
    "avx512", TT_SGEMM_MR, TT_SGEMM_NR, 16, TT_SGEMM_MR, TT_SGEMM_WORK,
    12, 16, TT_DWORK_OF(256, 144, 256),  /* the float64 GEMM: the portable one, for AVX-512 */
    tt_sgemm, tt_dgemm_avx512p, tt_conv_rows_padded,
    tt_conv_pack_weights, tt_conv_forward_panel, tt_conv_backward_input_panel,
    tt_conv_rows_pack_weights, tt_conv_rows_forward_piece,
    TT_WGRAD_TABLE(avx512p, 16),        /* the weight gradient: the portable kernels */
    tt_wino_input_avx512p, tt_wino_output_avx512p,      /* Winograd: the portable ones */
    tt_wino_grad_output_avx512p,
    tt_sgemm_packed_b,                   /* over 6x6 patches: the hand-written GEMM, */
    tt_wino6_weights_avx512p, tt_wino6_input_avx512p,   /* the portable transforms */
    tt_wino6_output_avx512p, tt_wino6_grad_output_avx512p, tt_wino6_untransform_avx512p,
    tt_wino6_input_adjoint_avx512p,
    tt_wino1d_input_avx512p, tt_wino1d_output_avx512p,  /* 1-D Winograd: the portable ones */
    tt_wino1d_grad_output_avx512p,
    tt_max_row_avx512p};                 /* the max-pool rows: the portable ones */
#endif

/* The kernels of a variant this build and this CPU can run (tt_cpu_has), or NULL. */
static const tt_conv_kernels *tt_conv_kernels_get(const char *name)
{
    if (!tt_cpu_has(name))
        return NULL;
#if TT_SGEMM_X86
    if (!strcmp(name, "avx512")) return &tt_kernels_avx512;
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#if TT_PORTABLE_TWIN
    if (!strcmp(name, "avx512-portable")) return &tt_kernels_avx512p;
#endif
    if (!strcmp(name, "avx2")) return &tt_kernels_avx2;
#endif
#if defined(__aarch64__)
    if (!strcmp(name, "neon")) return &tt_kernels_neon;
#endif
#if defined(__GNUC__)
    if (!strcmp(name, "generic")) return &tt_kernels_generic;
#endif
    return NULL;
}

#endif /* TT_ISA_H */
