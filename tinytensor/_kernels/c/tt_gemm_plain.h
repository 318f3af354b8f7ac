/* tt_gemm_plain.h: GEMMs in plain C, for a build whose compiler has no GCC/Clang vector
 * extensions (MSVC): there tt_isa.h holds no variant, and the convolutions' GEMMs come here
 * (slowly, but with no BLAS). Same contract as a variant's sgemm/dgemm (tt_isa.h), without
 * the workspace: C (m x n, row stride ldc) = A B, or C + A B when accumulate (C is never read
 * otherwise), A(i, p) = a[i * rsa + p * csa], B(p, j) = b[p * rsb + j * csb]. Each C element
 * is summed over p in order: the result depends on the data only. */
#ifndef TT_GEMM_PLAIN_H
#define TT_GEMM_PLAIN_H

#include <stddef.h>

#define TT_GEMM_PLAIN(T, NAME)                                                                \
    static void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t rsa,       \
                     ptrdiff_t csa, const T *b, ptrdiff_t rsb, ptrdiff_t csb, int accumulate, \
                     T *c, ptrdiff_t ldc)                                                     \
    {                                                                                         \
        for (ptrdiff_t i = 0; i < m; i++) {                                                   \
            T *ci = c + i * ldc;                                                              \
            if (!accumulate)                                                                  \
                for (ptrdiff_t j = 0; j < n; j++) ci[j] = 0;                                  \
            for (ptrdiff_t p = 0; p < k; p++) {                                               \
                const T s = a[i * rsa + p * csa];                                             \
                const T *bp = b + p * rsb;                                                    \
                for (ptrdiff_t j = 0; j < n; j++) ci[j] += s * bp[j * csb];                   \
            }                                                                                 \
        }                                                                                     \
    }

TT_GEMM_PLAIN(float, tt_sgemm_plain)
TT_GEMM_PLAIN(double, tt_dgemm_plain)

#endif /* TT_GEMM_PLAIN_H */
