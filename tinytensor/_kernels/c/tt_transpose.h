/* tt_transpose.h: out-of-place transposes of a strided matrix, float32 and float64.
 *
 * dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols.
 *
 * The tap-by-tap convolutions (conv_taps.pyx) rearrange a layer's weights into one matrix per
 * kernel tap, and its weight gradient back, on every call: DCGAN's generator layer moves 8 MB
 * each way, and element by element (a gather or a scatter of stride 16 floats per element)
 * that took 2.3-2.5 ms a call on one thread, 4-6% of the layer's training step. Here the
 * matrix goes in 4 x 4 blocks (2 x 2 for float64) of one 16-byte vector per row, transposed
 * in registers by two rounds of shuffles, walking the source four rows at a time (four
 * read streams, and at most four lines of one cache set even when rows lie a multiple of
 * 4 KiB apart).
 *
 * The vectors are GCC/Clang vector extensions of 16 bytes, which every 64-bit target
 * has (SSE2, NEON); other compilers get the plain loops. Only data moves: the bits are the
 * source's. */
#ifndef TT_TRANSPOSE_H
#define TT_TRANSPOSE_H

#include <stddef.h>
#include <string.h>

#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define TT_TRANSPOSE_VECTORS 1
#endif
#endif

#ifdef TT_TRANSPOSE_VECTORS
typedef float tt_f4 __attribute__((vector_size(16)));
typedef double tt_d2 __attribute__((vector_size(16)));
#endif

/* The rows [i0, rows) x columns [0, cols) and rows [0, i0) x columns [j0, cols) that the
   blocks did not cover, element by element. */
#define TT_TRANSPOSE_EDGES(i0, j0)                                                      \
    for (ptrdiff_t i = 0; i < rows; i++)                                                \
        for (ptrdiff_t j = i < (i0) ? (j0) : 0; j < cols; j++)                          \
            dst[j * ldd + i] = src[i * lds + j];

static void tt_transpose_f32(const float *src, ptrdiff_t lds, float *dst, ptrdiff_t ldd,
                             ptrdiff_t rows, ptrdiff_t cols)
{
    ptrdiff_t i0 = 0, j0 = 0;
#ifdef TT_TRANSPOSE_VECTORS
    ptrdiff_t rb = rows - rows % 4, cb = cols - cols % 4;
    for (i0 = 0; i0 < rb; i0 += 4)
        for (j0 = 0; j0 < cb; j0 += 4) {
            tt_f4 r0, r1, r2, r3;                                /* rows i0 .. i0 + 3 */
            memcpy(&r0, src + (i0 + 0) * lds + j0, 16);
            memcpy(&r1, src + (i0 + 1) * lds + j0, 16);
            memcpy(&r2, src + (i0 + 2) * lds + j0, 16);
            memcpy(&r3, src + (i0 + 3) * lds + j0, 16);
            tt_f4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5);   /* a0 b0 a1 b1 */
            tt_f4 t1 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);   /* a2 b2 a3 b3 */
            tt_f4 t2 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);   /* c0 d0 c1 d1 */
            tt_f4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);   /* c2 d2 c3 d3 */
            tt_f4 c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);   /* column j0 */
            tt_f4 c1 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
            tt_f4 c2 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
            tt_f4 c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
            memcpy(dst + (j0 + 0) * ldd + i0, &c0, 16);
            memcpy(dst + (j0 + 1) * ldd + i0, &c1, 16);
            memcpy(dst + (j0 + 2) * ldd + i0, &c2, 16);
            memcpy(dst + (j0 + 3) * ldd + i0, &c3, 16);
        }
    i0 = rb;
    j0 = cb;
#endif
    TT_TRANSPOSE_EDGES(i0, j0)
}

static void tt_transpose_f64(const double *src, ptrdiff_t lds, double *dst, ptrdiff_t ldd,
                             ptrdiff_t rows, ptrdiff_t cols)
{
    ptrdiff_t i0 = 0, j0 = 0;
#ifdef TT_TRANSPOSE_VECTORS
    ptrdiff_t rb = rows - rows % 2, cb = cols - cols % 2;
    for (i0 = 0; i0 < rb; i0 += 2)
        for (j0 = 0; j0 < cb; j0 += 2) {
            tt_d2 r0, r1;
            memcpy(&r0, src + i0 * lds + j0, 16);
            memcpy(&r1, src + (i0 + 1) * lds + j0, 16);
            tt_d2 c0 = __builtin_shufflevector(r0, r1, 0, 2);
            tt_d2 c1 = __builtin_shufflevector(r0, r1, 1, 3);
            memcpy(dst + j0 * ldd + i0, &c0, 16);
            memcpy(dst + (j0 + 1) * ldd + i0, &c1, 16);
        }
    i0 = rb;
    j0 = cb;
#endif
    TT_TRANSPOSE_EDGES(i0, j0)
}

#undef TT_TRANSPOSE_EDGES
#endif /* TT_TRANSPOSE_H */
