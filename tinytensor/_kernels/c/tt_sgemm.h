/* tt_sgemm.h: a single-threaded float32 GEMM with an AVX-512 micro-kernel, for conv.pyx.
 *
 * Why our own: OpenBLAS chooses its kernels when it loads, and on this kind of machine
 * (AMD Zen 5 under KVM) the environment pins it to its AVX2 ones (OPENBLAS_CORETYPE=Haswell):
 * 118 GFLOP/s on one core where the CPU does 233 with AVX-512. PyTorch's oneDNN uses AVX-512
 * for its convolutions whatever OpenBLAS does, so on the conv GEMMs we must too. Where the
 * CPU or the compiler has no AVX-512, tt_sgemm_available() is 0 and conv.pyx calls BLAS.
 *
 * C (m x n, row stride ldc) = A B            when accumulate == 0 (C is never read)
 *                           = C + A B        when accumulate == 1
 * with A(i, p) = a[i * rsa + p * csa] and B(p, j) = b[p * rsb + j * csb]: any strides, so a
 * transposed operand is just swapped strides.
 *
 * The structure is the one of Goto's and BLIS's GEMMs (Van Zee & van de Geijn, "BLIS: A
 * Framework for Rapidly Instantiating BLAS Functionality", 2015):
 *
 *   for jc over n in steps of NC:
 *     for pc over k in steps of KC:
 *       pack B[pc:pc+KC, jc:jc+NC] into panels of NR columns    (the block sits in L2)
 *       for ic over m in steps of MC:
 *         pack A[ic:ic+MC, pc:pc+KC] into panels of MR rows     (streams from L2)
 *         for each NR panel of B (KC x NR = 32 KiB, stays in L1):
 *           for each MR panel of A:
 *             micro-kernel: an MR x NR tile of C += panel of A (MR x KC) x panel of B
 *
 * The micro-kernel keeps the MR x NR tile in MR * NR / 16 = 24 zmm registers: for every p
 * it loads two vectors of B and broadcasts MR values of A, 24 FMAs per 14 loads. m and n
 * need not be multiples of MR and NR: rows past m are never computed (one kernel per row
 * count, each fully unrolled) and columns past n are masked off when C is read and written.
 *
 * Results depend only on (m, n, k) and the data, never on the thread that runs the call.
 * The caller gives TT_SGEMM_WORK floats of workspace (per thread) for the packed blocks. */
#ifndef TT_SGEMM_H
#define TT_SGEMM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TT_SGEMM_MR 12
#define TT_SGEMM_NR 32
#define TT_SGEMM_KC 256
#define TT_SGEMM_MC 144            /* 12 panels of MR rows: 144 KiB of A in L2 */
#define TT_SGEMM_NC 512            /* 16 panels of NR columns: 512 KiB of B in L2 */
/* packed A + packed B + slack to align both to 64 bytes */
#define TT_SGEMM_WORK (TT_SGEMM_MC * TT_SGEMM_KC + TT_SGEMM_KC * TT_SGEMM_NC + 32)

/* GCC only: the kernels are compiled for AVX-512 by `#pragma GCC target` inside a build for
   baseline x86-64, which clang does not honour; other compilers get BLAS. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(_MSC_VER)
#define TT_SGEMM_X86 1
#include <immintrin.h>
#else
#define TT_SGEMM_X86 0
#endif

/* 1 when the kernels below may run: compiled for x86-64 and the CPU has AVX-512F. */
static int tt_sgemm_available(void)
{
#if TT_SGEMM_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

#if TT_SGEMM_X86
#pragma GCC push_options
#pragma GCC target("avx512f,fma")

static inline __mmask16 tt_lanes(int n)          /* the first n of 16 lanes (n may be <0) */
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* r[i] = row i of a 16 x 16 block in, column i out (unpack, shuffle, then 128-bit lanes). */
static inline void tt_transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* Pack rows [0, mc) x columns [0, kc) of A (already offset to the block) into panels of MR
   rows; panel r holds A(r*MR + i, p) at [p * MR + i]. Rows of a short last panel are left
   unset: the kernel for that row count never reads them. Whole panels of rows stored
   contiguously (csa == 1) go 16 columns at a time through a transpose, and of columns
   stored contiguously (rsa == 1) a column at a time by one masked load and store: the scalar
   copy cost 15% of the tap-by-tap input gradient (conv_taps.pyx), whose A is a 256 x 512
   weight matrix packed for every chunk of columns. Only data moves: the bits of the GEMM
   do not change. */
#define TT_SGEMM_MR_MASK ((__mmask16)((1u << TT_SGEMM_MR) - 1))   /* MR <= 16 lanes */
static void tt_sgemm_pack_a(float *restrict dst, const float *restrict a, ptrdiff_t rsa,
                            ptrdiff_t csa, ptrdiff_t mc, ptrdiff_t kc)
{
    for (ptrdiff_t i0 = 0; i0 < mc; i0 += TT_SGEMM_MR) {
        ptrdiff_t mr = mc - i0 < TT_SGEMM_MR ? mc - i0 : TT_SGEMM_MR, p0 = 0;
        if (mr == TT_SGEMM_MR && csa == 1) {
            for (; p0 + 16 <= kc; p0 += 16) {
                __m512 r[16];
                for (int i = 0; i < TT_SGEMM_MR; i++)
                    r[i] = _mm512_loadu_ps(a + (i0 + i) * rsa + p0);
                for (int i = TT_SGEMM_MR; i < 16; i++)
                    r[i] = _mm512_setzero_ps();
                tt_transpose16(r);                      /* r[j]: column p0 + j */
                for (int j = 0; j < 16; j++)
                    _mm512_mask_storeu_ps(dst + (p0 + j) * TT_SGEMM_MR, TT_SGEMM_MR_MASK, r[j]);
            }
        } else if (mr == TT_SGEMM_MR && rsa == 1) {
            for (; p0 < kc; p0++)
                _mm512_mask_storeu_ps(dst + p0 * TT_SGEMM_MR, TT_SGEMM_MR_MASK,
                                      _mm512_maskz_loadu_ps(TT_SGEMM_MR_MASK, a + i0 + p0 * csa));
        }
        for (ptrdiff_t i = 0; i < mr; i++) {           /* the rest, element by element */
            const float *src = a + (i0 + i) * rsa;
            float *d = dst + i;
            if (csa == 1)
                for (ptrdiff_t p = p0; p < kc; p++) d[p * TT_SGEMM_MR] = src[p];
            else
                for (ptrdiff_t p = p0; p < kc; p++) d[p * TT_SGEMM_MR] = src[p * csa];
        }
        dst += kc * TT_SGEMM_MR;
    }
}

/* Pack rows [0, kc) x columns [0, nc) of B into panels of NR columns; panel r holds
   B(p, r*NR + j) at [p * NR + j], zeros past nc (so no stray denormal or NaN is ever
   multiplied, even in lanes that are masked off later). */
static void tt_sgemm_pack_b(float *restrict dst, const float *restrict b, ptrdiff_t rsb,
                            ptrdiff_t csb, ptrdiff_t kc, ptrdiff_t nc)
{
    for (ptrdiff_t j0 = 0; j0 < nc; j0 += TT_SGEMM_NR) {
        ptrdiff_t nr = nc - j0 < TT_SGEMM_NR ? nc - j0 : TT_SGEMM_NR;
        if (csb == 1) {                                     /* rows of B are contiguous */
            for (ptrdiff_t p = 0; p < kc; p++) {
                float *d = dst + p * TT_SGEMM_NR;
                memcpy(d, b + p * rsb + j0, (size_t)nr * sizeof(float));
                for (ptrdiff_t j = nr; j < TT_SGEMM_NR; j++) d[j] = 0.0f;
            }
        } else if (rsb == 1) {                              /* a transposed operand */
            /* B's columns are contiguous: 16 x 16 blocks transposed in registers (the conv
               weight gradient's col^T: S2 1.08 -> 0.76 ms against element-wise stores) */
            for (ptrdiff_t p0 = 0; p0 < kc; p0 += 16) {
                int pn = (int)(kc - p0 < 16 ? kc - p0 : 16);
                for (int h = 0; h < 2; h++) {
                    __m512 r[16];
                    for (int i = 0; i < 16; i++) {
                        ptrdiff_t j = 16 * h + i;
                        r[i] = j < nr ? _mm512_maskz_loadu_ps(tt_lanes(pn),
                                                              b + (j0 + j) * csb + p0)
                                      : _mm512_setzero_ps();
                    }
                    tt_transpose16(r);
                    for (int q = 0; q < pn; q++)
                        _mm512_store_ps(dst + (p0 + q) * TT_SGEMM_NR + 16 * h, r[q]);
                }
            }
        } else {                                            /* any other strides */
            for (ptrdiff_t j = 0; j < nr; j++) {
                const float *src = b + (j0 + j) * csb;
                for (ptrdiff_t p = 0; p < kc; p++) dst[p * TT_SGEMM_NR + j] = src[p * rsb];
            }
            for (ptrdiff_t p = 0; p < kc; p++)
                for (ptrdiff_t j = nr; j < TT_SGEMM_NR; j++) dst[p * TT_SGEMM_NR + j] = 0.0f;
        }
        dst += kc * TT_SGEMM_NR;
    }
}

/* The micro-kernel for a tile of MR_ rows (a compile-time constant at every call, so the
   loops over rows unroll and the accumulators live in registers) and nr <= NR columns:
   C tile = (C tile if accumulate, else bias[i] per row i, or 0 when bias is NULL) + A B. */
static inline __attribute__((always_inline)) void
tt_sgemm_tile(const int MR_, ptrdiff_t kc, const float *restrict a, const float *restrict b,
              float *restrict c, ptrdiff_t ldc, int nr, int accumulate, const float *bias)
{
    __m512 c0[TT_SGEMM_MR], c1[TT_SGEMM_MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR_; i++) {
        c0[i] = bias && !accumulate ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
        c1[i] = c0[i];
    }
#pragma GCC unroll 2
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (int i = 0; i < MR_; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
        }
        a += TT_SGEMM_MR;
        b += TT_SGEMM_NR;
    }
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF
                 : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
#pragma GCC unroll 12
    for (int i = 0; i < MR_; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, ci));
            c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, m0, c0[i]);
        _mm512_mask_storeu_ps(ci + 16, m1, c1[i]);
    }
}

static void tt_sgemm_tile_rows(int mr, ptrdiff_t kc, const float *a, const float *b, float *c,
                               ptrdiff_t ldc, int nr, int accumulate, const float *bias)
{
    switch (mr) {
    case 12: tt_sgemm_tile(12, kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 11: tt_sgemm_tile(11, kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 10: tt_sgemm_tile(10, kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 9:  tt_sgemm_tile(9,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 8:  tt_sgemm_tile(8,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 7:  tt_sgemm_tile(7,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 6:  tt_sgemm_tile(6,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 5:  tt_sgemm_tile(5,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 4:  tt_sgemm_tile(4,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 3:  tt_sgemm_tile(3,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    case 2:  tt_sgemm_tile(2,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    default: tt_sgemm_tile(1,  kc, a, b, c, ldc, nr, accumulate, bias); break;
    }
}

static void tt_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                     const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                     int accumulate, float *c, ptrdiff_t ldc, float *work)
{
    float *pa = (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    float *pb = pa + TT_SGEMM_MC * TT_SGEMM_KC;          /* a multiple of 16 floats on */
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {                                        /* A B is zero */
        if (!accumulate)
            for (ptrdiff_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    for (ptrdiff_t jc = 0; jc < n; jc += TT_SGEMM_NC) {
        ptrdiff_t nc = n - jc < TT_SGEMM_NC ? n - jc : TT_SGEMM_NC;
        for (ptrdiff_t pc = 0; pc < k; pc += TT_SGEMM_KC) {
            ptrdiff_t kc = k - pc < TT_SGEMM_KC ? k - pc : TT_SGEMM_KC;
            int acc = accumulate || pc > 0;
            tt_sgemm_pack_b(pb, b + pc * rsb + jc * csb, rsb, csb, kc, nc);
            for (ptrdiff_t ic = 0; ic < m; ic += TT_SGEMM_MC) {
                ptrdiff_t mc = m - ic < TT_SGEMM_MC ? m - ic : TT_SGEMM_MC;
                tt_sgemm_pack_a(pa, a + ic * rsa + pc * csa, rsa, csa, mc, kc);
                for (ptrdiff_t j0 = 0; j0 < nc; j0 += TT_SGEMM_NR) {
                    int nr = (int)(nc - j0 < TT_SGEMM_NR ? nc - j0 : TT_SGEMM_NR);
                    const float *bp = pb + j0 * kc;              /* panel j0 / NR */
                    for (ptrdiff_t i0 = 0; i0 < mc; i0 += TT_SGEMM_MR) {
                        int mr = (int)(mc - i0 < TT_SGEMM_MR ? mc - i0 : TT_SGEMM_MR);
                        tt_sgemm_tile_rows(mr, kc, pa + i0 * kc, bp,
                                           c + (ic + i0) * ldc + jc + j0, ldc, nr, acc,
                                           NULL);
                    }
                }
            }
        }
    }
}

/* tt_sgemm with B packed once by the caller, for all of k: panel r of NR columns at
   bp + r * k * NR holds B(p, r*NR + j) at [p * NR + j], zeros past n, 64-byte aligned (the
   Winograd weights of conv_winograd6.pyx, used by one GEMM each: packing them again here
   would copy them twice). Same sums, in the same order, as tt_sgemm. */
static void tt_sgemm_packed_b(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *bp,
                              int accumulate, float *c, ptrdiff_t ldc, float *work)
{
    float *pa = (float *)(((uintptr_t)work + 63) & ~(uintptr_t)63);
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        if (!accumulate)
            for (ptrdiff_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
        return;
    }
    for (ptrdiff_t pc = 0; pc < k; pc += TT_SGEMM_KC) {
        ptrdiff_t kc = k - pc < TT_SGEMM_KC ? k - pc : TT_SGEMM_KC;
        int acc = accumulate || pc > 0;
        for (ptrdiff_t ic = 0; ic < m; ic += TT_SGEMM_MC) {
            ptrdiff_t mc = m - ic < TT_SGEMM_MC ? m - ic : TT_SGEMM_MC;
            tt_sgemm_pack_a(pa, a + ic * rsa + pc * csa, rsa, csa, mc, kc);
            for (ptrdiff_t j0 = 0; j0 < n; j0 += TT_SGEMM_NR) {
                int nr = (int)(n - j0 < TT_SGEMM_NR ? n - j0 : TT_SGEMM_NR);
                const float *b = bp + j0 * k + pc * TT_SGEMM_NR;
                for (ptrdiff_t i0 = 0; i0 < mc; i0 += TT_SGEMM_MR) {
                    int mr = (int)(mc - i0 < TT_SGEMM_MR ? mc - i0 : TT_SGEMM_MR);
                    tt_sgemm_tile_rows(mr, kc, pa + i0 * kc, b, c + (ic + i0) * ldc + j0, ldc,
                                       nr, acc, NULL);
                }
            }
        }
    }
}

#pragma GCC pop_options
#else  /* no AVX-512 build: never called, since tt_sgemm_available() is 0 */
static void tt_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                     const float *a, ptrdiff_t rsa, ptrdiff_t csa,
                     const float *b, ptrdiff_t rsb, ptrdiff_t csb,
                     int accumulate, float *c, ptrdiff_t ldc, float *work)
{
    (void)m; (void)n; (void)k; (void)a; (void)rsa; (void)csa; (void)b; (void)rsb; (void)csb;
    (void)accumulate; (void)c; (void)ldc; (void)work;
}
static void tt_sgemm_packed_b(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              const float *a, ptrdiff_t rsa, ptrdiff_t csa, const float *bp,
                              int accumulate, float *c, ptrdiff_t ldc, float *work)
{
    (void)m; (void)n; (void)k; (void)a; (void)rsa; (void)csa; (void)bp; (void)accumulate;
    (void)c; (void)ldc; (void)work;
}
#endif

#endif /* TT_SGEMM_H */
