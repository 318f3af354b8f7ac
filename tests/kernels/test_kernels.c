/* test_kernels.c: every micro-kernel of every variant this CPU runs, against scalar
 * references: the GEMMs of float32 and float64 (strides, transposes, accumulate, sizes around
 * the blocking), the convolution forward by panels and by rows, the input gradient by
 * panels, the weight gradient by dot products and by windows (driven as conv_wgrad.pyx
 * drives them: its tables, blocks and tiles), the Winograd transforms F(2x2, 3x3),
 * F(4x4, 3x3) and F(2x2, 5x5) (with a plain GEMM or the variant's GEMMs between), the max-pool
 * rows (c/tt_pool_rows.inc: bit for bit, with guard pages around every array, so a read or write past either end
 * faults).
 *
 * For NEON on an x86 machine (.ci/run does this):
 *   aarch64-linux-gnu-gcc -O2 -I tinytensor/_kernels -I tinytensor/_kernels/c \
 *       tests/kernels/test_kernels.c -o test_kernels -lm
 *   qemu-aarch64-static -L /usr/aarch64-linux-gnu ./test_kernels
 * Natively: cc -O2 (same flags) and ./test_kernels [variant ...]. Exit status 0 = all passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "tt_isa.h"

static unsigned long long rng_state = 88172645463325252ull;
static double uniform(void)                  /* in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}
static long irand(long lo, long hi) { return lo + (long)((uniform() + 1.0) * 0.5 * (hi - lo + 1)) % (hi - lo + 1); }
static float *randoms(long n) { float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p); for (long i = 0; i < n; i++) p[i] = (float)uniform(); return p; }

/* 64-byte aligned (the AVX-512 kernels store panels aligned, as conv.pyx's scratch is) */
static float *amalloc(long n) { return aligned_alloc(64, ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64); }

static int failures = 0;
static void check(const char *what, const char *variant, const float *got, const double *want,
                  const double *bound, long n)
{
    for (long i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= 1e-5 * bound[i] + 1e-6)) {
            printf("FAIL %s %s: [%ld] %.9g != %.9g\n", variant, what, i, got[i], want[i]);
            failures++;
            return;
        }
}

static void test_sgemm(const tt_conv_kernels *kt)
{
    static const long sizes[] = {0, 1, 2, 5, 7, 13, 16, 17, 33, 143, 145, 257, 300};
    float *work = malloc((size_t)kt->work * sizeof(float));
    for (int rep = 0; rep < 60; rep++) {
        long m = sizes[irand(0, 12)], n = sizes[irand(0, 12)], k = sizes[irand(0, 12)];
        int ta = irand(0, 1), tb = irand(0, 1), acc = irand(0, 1);
        float *a = randoms(m * k), *b = randoms(k * n), *c = randoms(m * n);
        double *want = malloc((size_t)(m * n + 1) * sizeof(double)), *bound = malloc((size_t)(m * n + 1) * sizeof(double));
        long rsa = ta ? 1 : k, csa = ta ? m : 1, rsb = tb ? 1 : k ? n : 1, csb = tb ? k : 1;
        if (!tb) rsb = n;
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) {
                double s = acc ? c[i * n + j] : 0, t = acc ? fabs(c[i * n + j]) : 0;
                for (long p = 0; p < k; p++) {
                    s += (double)a[i * rsa + p * csa] * b[p * rsb + j * csb];
                    t += fabs((double)a[i * rsa + p * csa] * b[p * rsb + j * csb]);
                }
                want[i * n + j] = s;
                bound[i * n + j] = t;
            }
        kt->sgemm(m, n, k, a, rsa, csa, b, rsb, csb, acc, c, n, work);
        check("sgemm", kt->name, c, want, bound, m * n);
        free(a); free(b); free(c); free(want); free(bound);
    }
    free(work);
}

static double *drandoms(long n) { double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p); for (long i = 0; i < n; i++) p[i] = uniform(); return p; }

static void test_dgemm(const tt_conv_kernels *kt)
{
    static const long sizes[] = {0, 1, 2, 5, 7, 13, 16, 17, 33, 143, 145, 257, 300};
    double *work = malloc((size_t)kt->dwork * sizeof(double));
    for (int rep = 0; rep < 60; rep++) {
        long m = sizes[irand(0, 12)], n = sizes[irand(0, 12)], k = sizes[irand(0, 12)];
        int ta = irand(0, 1), tb = irand(0, 1), acc = irand(0, 1);
        long ldc = n + irand(0, 3);                /* C's rows may be longer than n */
        double *a = drandoms(m * k), *b = drandoms(k * n), *c = drandoms(m * ldc);
        double *want = malloc((size_t)(m * ldc + 1) * sizeof(double)), *bound = malloc((size_t)(m * ldc + 1) * sizeof(double));
        long rsa = ta ? 1 : k, csa = ta ? m : 1, rsb = tb ? 1 : n, csb = tb ? k : 1;
        for (long i = 0; i < m; i++)
            for (long j = 0; j < ldc; j++) {
                long double s = c[i * ldc + j], t = fabs(c[i * ldc + j]);
                if (j < n) {                       /* columns past n must stay untouched */
                    s = acc ? s : 0;
                    t = acc ? t : 0;
                    for (long p = 0; p < k; p++) {
                        s += (long double)a[i * rsa + p * csa] * b[p * rsb + j * csb];
                        t += fabsl((long double)a[i * rsa + p * csa] * b[p * rsb + j * csb]);
                    }
                }
                want[i * ldc + j] = (double)s;
                bound[i * ldc + j] = (double)t;
            }
        kt->dgemm(m, n, k, a, rsa, csa, b, rsb, csb, acc, c, ldc, work);
        for (long i = 0; i < m * ldc; i++)
            if (!(fabs(c[i] - want[i]) <= 1e-14 * bound[i] + 1e-300)) {
                printf("FAIL %s dgemm (%ld x %ld x %ld, ta %d tb %d acc %d): [%ld] %.17g != %.17g\n",
                       kt->name, m, n, k, ta, tb, acc, i, c[i], want[i]);
                failures++;
                break;
            }
        free(a); free(b); free(c); free(want); free(bound);
    }
    free(work);
}

/* A random convolution (one group): x (N, C, D, H, W), w (M, C, KD, KH, KW). */
typedef struct { long N, M; tt_conv_geo g; } conv_case;

static long out_size(long n, long k, long s, long p, long q, long d) { return (n + p + q - d * (k - 1) - 1) / s + 1; }

static conv_case random_case(int rows)
{
    conv_case cs;
    tt_conv_geo *g = &cs.g;
    do {
        int dims3 = irand(0, 3) == 0;
        cs.N = irand(1, 3);
        cs.M = irand(1, 20);
        g->C = irand(1, 9);
        g->D = dims3 ? irand(1, 5) : 1;
        g->H = irand(1, 9);
        g->W = irand(1, 40);
        g->KD = dims3 ? irand(1, 3) : 1;
        g->KH = irand(1, 3);
        g->KW = irand(1, 4);
        g->sd = dims3 ? irand(1, 2) : 1;
        g->sh = irand(1, 2);
        g->sw = rows ? irand(1, 2) : irand(1, 3);
        g->dd = dims3 ? irand(1, 2) : 1;
        g->dh = irand(1, 2);
        g->dw = irand(1, 2);
        g->pd = dims3 ? irand(0, 1) : 0;
        g->ph = irand(0, 2);
        g->pw = irand(0, 2);
        g->OD = out_size(g->D, g->KD, g->sd, g->pd, g->pd, g->dd);
        g->OH = out_size(g->H, g->KH, g->sh, g->ph, g->ph, g->dh);
        g->OW = out_size(g->W, g->KW, g->sw, g->pw, irand(0, 2), g->dw);
    } while (g->OD < 1 || g->OH < 1 || g->OW < 1);
    return cs;
}

/* The offset in x (N, C, D, H, W) that output (od, oh, ow) of sample n reads through tap
   (i, j, k) of channel c, or -1 where that is padding. */
static long x_at(const tt_conv_geo *g, long n, long c, long od, long oh, long ow, long i, long j, long k)
{
    long id = od * g->sd - g->pd + i * g->dd, ih = oh * g->sh - g->ph + j * g->dh;
    long iw = ow * g->sw - g->pw + k * g->dw;
    if (id < 0 || id >= g->D || ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) return -1;
    return (((n * g->C + c) * g->D + id) * g->H + ih) * g->W + iw;
}

/* y[n, o, l] (+)= sum w x by loops; bound = the same with absolute values. */
static void conv_reference(const conv_case *cs, const float *x, const float *w, const float *bias,
                           double *y, double *bound)
{
    const tt_conv_geo *g = &cs->g;
    long L = g->OD * g->OH * g->OW, K = g->C * g->KD * g->KH * g->KW;
    for (long n = 0; n < cs->N; n++)
        for (long o = 0; o < cs->M; o++)
            for (long od = 0; od < g->OD; od++)
                for (long oh = 0; oh < g->OH; oh++)
                    for (long ow = 0; ow < g->OW; ow++) {
                        double s = bias ? bias[o] : 0, t = bias ? fabs(bias[o]) : 0;
                        for (long c = 0; c < g->C; c++)
                            for (long i = 0; i < g->KD; i++)
                                for (long j = 0; j < g->KH; j++)
                                    for (long k = 0; k < g->KW; k++) {
                                        long at = x_at(g, n, c, od, oh, ow, i, j, k);
                                        if (at < 0) continue;
                                        double p = (double)w[o * K + ((c * g->KD + i) * g->KH + j) * g->KW + k] * x[at];
                                        s += p;
                                        t += fabs(p);
                                    }
                        long at = (n * cs->M + o) * L + (od * g->OH + oh) * g->OW + ow;
                        y[at] = s;
                        bound[at] = t;
                    }
}

static void test_forward(const tt_conv_kernels *kt, int rows)
{
    for (int rep = 0; rep < 150; rep++) {
        conv_case cs = random_case(rows);
        const tt_conv_geo *g = &cs.g;
        long L = g->OD * g->OH * g->OW, T = g->KD * g->KH * g->KW, K = g->C * T;
        long xs = g->C * g->D * g->H * g->W, ys = cs.M * L, mpad = kt->rows_padded(cs.M);
        long rpad = (cs.M + kt->rows_mr - 1) / kt->rows_mr * kt->rows_mr;
        if (rows) mpad = rpad;
        float *x = randoms(cs.N * xs), *w = randoms(cs.M * K), *bias = irand(0, 1) ? randoms(cs.M) : NULL;
        float *y = randoms(cs.N * ys), *wp = malloc((size_t)(mpad * K) * sizeof(float));
        double *want = malloc((size_t)(cs.N * ys) * sizeof(double)), *bound = malloc((size_t)(cs.N * ys) * sizeof(double));
        conv_reference(&cs, x, w, bias, want, bound);
        if (rows) {
            kt->rows_pack_weights(wp, w, cs.M, g->C, T);
            for (long n = 0; n < cs.N; n++)
                for (long od = 0; od < g->OD; od++)
                    for (long oh = 0; oh < g->OH; oh++)
                        for (long ow0 = 0; ow0 < g->OW; ow0 += kt->nr)
                            kt->rows_forward_piece(x, xs, g, wp, cs.M, bias, y, ys, n, od, oh, ow0,
                                                   (int)(g->OW - ow0 < kt->nr ? g->OW - ow0 : kt->nr));
        } else {
            float *scratch = amalloc((K + mpad) * kt->nr);
            kt->pack_weights(wp, w, cs.M, K);
            for (long q0 = 0; q0 < cs.N * L; q0 += kt->nr)
                kt->forward_panel(x, xs, g, wp, cs.M, bias, y, ys, q0,
                                  (int)(cs.N * L - q0 < kt->nr ? cs.N * L - q0 : kt->nr), scratch,
                                  scratch + K * kt->nr);
            free(scratch);
        }
        check(rows ? "rows_forward_piece" : "forward_panel", kt->name, y, want, bound, cs.N * ys);
        free(x); free(w); free(bias); free(y); free(wp); free(want); free(bound);
    }
}

static void test_backward_input(const tt_conv_kernels *kt)
{
    for (int rep = 0; rep < 150; rep++) {
        conv_case cs = random_case(0);
        const tt_conv_geo *g = &cs.g;
        long L = g->OD * g->OH * g->OW, T = g->KD * g->KH * g->KW, K = g->C * T;
        long xs = g->C * g->D * g->H * g->W, ys = cs.M * L, cpad = kt->rows_padded(g->C);
        float *go = randoms(cs.N * ys), *w = randoms(cs.M * K), *gx = calloc((size_t)(cs.N * xs + 1), sizeof(float));
        float *wt = malloc((size_t)(cs.M * K) * sizeof(float)), *wp = malloc((size_t)(T * cpad * cs.M) * sizeof(float));
        double *want = calloc((size_t)(cs.N * xs + 1), sizeof(double)), *bound = calloc((size_t)(cs.N * xs + 1), sizeof(double));
        for (long n = 0; n < cs.N; n++)           /* the adjoint of conv_reference, by loops */
            for (long o = 0; o < cs.M; o++)
                for (long od = 0; od < g->OD; od++)
                    for (long oh = 0; oh < g->OH; oh++)
                        for (long ow = 0; ow < g->OW; ow++)
                            for (long c = 0; c < g->C; c++)
                                for (long t = 0; t < T; t++) {
                                    long at = x_at(g, n, c, od, oh, ow, t / (g->KH * g->KW), t / g->KW % g->KH, t % g->KW);
                                    if (at < 0) continue;
                                    double p = (double)w[(o * g->C + c) * T + t] * go[(n * cs.M + o) * L + (od * g->OH + oh) * g->OW + ow];
                                    want[at] += p;
                                    bound[at] += fabs(p);
                                }
        for (long t = 0; t < T; t++) {           /* w^T per tap (C x M), packed */
            for (long c = 0; c < g->C; c++)
                for (long o = 0; o < cs.M; o++) wt[t * g->C * cs.M + c * cs.M + o] = w[(o * g->C + c) * T + t];
            kt->pack_weights(wp + t * cpad * cs.M, wt + t * g->C * cs.M, g->C, cs.M);
        }
        float *scratch = amalloc((cs.M + cpad) * kt->nr);
        for (long q0 = 0; q0 < cs.N * L; q0 += kt->nr)
            kt->backward_input_panel(go, ys, g, wp, cs.M, gx, xs, q0,
                                     (int)(cs.N * L - q0 < kt->nr ? cs.N * L - q0 : kt->nr),
                                     scratch, scratch + cs.M * kt->nr);
        check("backward_input_panel", kt->name, gx, want, bound, cs.N * xs);
        free(go); free(w); free(gx); free(wt); free(wp); free(want); free(bound); free(scratch);
    }
}

/* ------------------------------------------------------------------- max-pool rows */

/* `bytes` of memory between two inaccessible pages, ending at the second (at_end) or starting
   right after the first: a kernel that reads or writes past that end faults. */
typedef struct { char *map; size_t len; } guard_map;
static void *guarded(size_t bytes, int at_end, guard_map *g)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE), data = (bytes + ps - 1) / ps * ps;
    g->len = data + 2 * ps;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) { perror("mmap"); exit(2); }
    mprotect(g->map, ps, PROT_NONE);
    mprotect(g->map + ps + data, ps, PROT_NONE);
    return at_end ? g->map + ps + data - bytes : g->map + ps;
}
static void unguard(guard_map *g) { munmap(g->map, g->len); }

static float pool_value(void)                /* ties, NaNs (of many payloads and signs), ±0, -inf */
{
    long r = irand(0, 99);
    if (r < 6) {
        uint32_t bits = 0x7fc00000u | (uint32_t)irand(0, 0x3fffff) | (irand(0, 1) ? 0x80000000u : 0);
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    if (r < 9) return -INFINITY;
    if (r < 14) return irand(0, 1) ? 0.0f : -0.0f;
    if (r < 60) return (float)irand(-3, 3);
    return (float)uniform();
}

/* One row of interior outputs of a random 3-D window (the plane's first or last window rows,
   so the taps touch the plane's first or last element), for every winner kind, against the
   scan by loops: values bit for bit, winners equal. */
static void test_max_row(const tt_conv_kernels *kt)
{
    for (int rep = 0; rep < 600; rep++) {
        long sw = irand(1, 2), kd = irand(1, 2), kh = irand(1, 3), kw = irand(1, 4);
        long dd = irand(1, 2), dh = irand(1, 2), dw = irand(1, 3);
        long n = irand(0, 2) == 0 ? irand(0, 2 * kt->vl + 1) : irand(0, 200);
        long ed = (kd - 1) * dd + 1, eh = (kh - 1) * dh + 1, span = (n > 0 ? (n - 1) * sw : 0) + (kw - 1) * dw + 1;
        long D = ed + irand(0, 1), H = eh + irand(0, 2), W = span + irand(0, 3), P = D * H * W;
        int at_end = irand(0, 1);
        long d0 = at_end ? D - ed : 0, h0 = at_end ? H - eh : 0, w0 = at_end ? W - span : 0;
        long start = (d0 * H + h0) * W + w0;
        guard_map gx, gy, gi;
        float *x = guarded((size_t)P * 4, at_end, &gx);
        for (long i = 0; i < P; i++) x[i] = pool_value();
        float *want = malloc((size_t)(n + 1) * 4);
        long *wpos = malloc((size_t)(n + 1) * sizeof(long));
        for (long i = 0; i < n; i++) {               /* row-major; (v > best) or isnan(v) */
            long pos = start + i * sw;
            float best = x[pos];
            for (long a = 0; a < kd; a++)
                for (long b = 0; b < kh; b++)
                    for (long c = 0; c < kw; c++) {
                        long at = start + i * sw + (a * dd * H + b * dh) * W + c * dw;
                        if (x[at] > best || isnan(x[at])) { best = x[at]; pos = at; }
                    }
            want[i] = best;
            wpos[i] = pos;
        }
        for (int kind = -1; kind <= 2; kind++) {      /* -1: no winners */
            if (kind == 2 && P >= 65535) continue;
            size_t isz = kind == 0 ? 4 : kind == 1 ? 8 : 2;
            float *y = guarded((size_t)n * 4, at_end, &gy);
            void *idx = kind < 0 ? NULL : guarded((size_t)n * isz, !at_end, &gi);
            kt->max_row(x, y, idx, kind < 0 ? 0 : kind, n, sw, start, kd, kh, kw, dd * H * W,
                        dh * W, dw, x, P);
            for (long i = 0; i < n; i++) {
                long got = kind == 0 ? ((int32_t *)idx)[i] : kind == 1 ? (long)((int64_t *)idx)[i]
                         : kind == 2 ? ((uint16_t *)idx)[i] : wpos[i];
                if (memcmp(&y[i], &want[i], 4) || got != wpos[i]) {
                    printf("FAIL %s max_row (n %ld sw %ld k %ldx%ldx%ld d %ldx%ldx%ld plane %ldx%ldx%ld "
                           "kind %d): [%ld] %g at %ld != %g at %ld\n", kt->name, n, sw, kd, kh, kw,
                           dd, dh, dw, D, H, W, kind, i, y[i], got, want[i], wpos[i]);
                    failures++;
                    break;
                }
            }
            unguard(&gy);
            if (idx) unguard(&gi);
        }
        unguard(&gx);
        free(want); free(wpos);
    }
}

/* gw[o, c, t] = sum over samples and positions of go * x, by loops; bound: the same of |.|. */
static void wgrad_reference(const conv_case *cs, const float *x, const float *go, double *want,
                            double *bound)
{
    const tt_conv_geo *g = &cs->g;
    long L = g->OD * g->OH * g->OW, T = g->KD * g->KH * g->KW, K = g->C * T;
    for (long i = 0; i < cs->M * K; i++) want[i] = bound[i] = 0;
    for (long n = 0; n < cs->N; n++)
        for (long o = 0; o < cs->M; o++)
            for (long c = 0; c < g->C; c++)
                for (long t = 0; t < T; t++) {
                    long i = t / (g->KH * g->KW), j = t / g->KW % g->KH, k = t % g->KW;
                    double s = 0, a = 0;
                    for (long od = 0; od < g->OD; od++)
                        for (long oh = 0; oh < g->OH; oh++)
                            for (long ow = 0; ow < g->OW; ow++) {
                                long at = x_at(g, n, c, od, oh, ow, i, j, k);
                                if (at < 0) continue;
                                double p = (double)go[(n * cs->M + o) * L + (od * g->OH + oh) * g->OW + ow] * x[at];
                                s += p;
                                a += fabs(p);
                            }
                    want[o * K + c * T + t] += s;
                    bound[o * K + c * T + t] += a;
                }
}

/* The dot kernel (W-stride 1, one group), driven as conv_wgrad.pyx's panel_weight_grad. */
static void test_wgrad_dot(const tt_conv_kernels *kt)
{
    const int vl = kt->wgrad.vl;
    for (int rep = 0; rep < 150; rep++) {
        conv_case cs;
        tt_conv_geo *g = &cs.g;
        do {
            cs = random_case(0);
            g->sw = 1;
            g->OW = out_size(g->W, g->KW, 1, g->pw, irand(0, 2), g->dw);
        } while (g->OW < 1);
        long L = g->OD * g->OH * g->OW, T = g->KD * g->KH * g->KW, K = g->C * T, M = cs.M;
        float *x = randoms(cs.N * g->C * g->D * g->H * g->W), *go = randoms(cs.N * M * L);
        double *want = malloc((size_t)(M * K) * sizeof(double)), *bound = malloc((size_t)(M * K) * sizeof(double));
        wgrad_reference(&cs, x, go, want, bound);
        tt_wgrad_geo w = {cs.N, g->C, g->D, g->H, g->W, M, g->C, M, g->KD, g->KH, g->KW,
                          g->OD, g->OH, g->OW, g->sd, g->sh, g->pd, g->ph, g->pw, g->dd, g->dh,
                          g->dw, 0, 0, 0, 0};
        w.plane = g->sh == 1 && g->OW == g->W;
        w.lines_per_n = w.plane ? g->OD : g->OD * g->OH;
        w.lp = w.plane ? g->OH * g->OW : g->OW;
        w.nch = (w.lp + vl - 1) / vl;
        uint16_t *masks = malloc((size_t)(w.nch * (g->KH * g->KW + 1)) * sizeof(uint16_t));
        tt_wgrad_masks(masks, &w, vl);
        int mr_main = M <= 6 ? (int)M : 4, nr = kt->wgrad.nr(mr_main);
        ptrdiff_t *taps = malloc((size_t)(5 * K) * sizeof(ptrdiff_t));
        tt_wgrad_taps(taps, &w, nr);
        long ttiles = tt_wgrad_tiles(g->C, T, nr), block = irand(1, 8), nlines = cs.N * w.lines_per_n;
        long parts = w.nch >= block ? (w.nch + block - 1) / block : 1;
        long per = parts > 1 ? 1 : block / w.nch, nblocks = parts > 1 ? nlines * parts : (nlines + per - 1) / per;
        float *gpk = amalloc(mr_main * vl * (block > w.nch ? block : w.nch) + 16);
        float *gwt = calloc((size_t)(M * K), sizeof(float)), *gw = malloc((size_t)(M * K) * sizeof(float));
        for (long b = 0; b < nblocks; b++) {
            long line0 = parts > 1 ? b / parts : b * per, nl = parts > 1 ? 1 : (nlines - line0 < per ? nlines - line0 : per);
            long ch0 = parts > 1 ? (b % parts) * w.nch / parts : 0, ch1 = parts > 1 ? (b % parts + 1) * w.nch / parts : w.nch;
            for (long o0 = 0; o0 < M; o0 += mr_main)
                kt->wgrad.task(x, go, gwt, &w, masks, taps, gpk, 0, o0,
                               (int)(M - o0 < mr_main ? M - o0 : mr_main), nr, 0, ttiles, line0,
                               nl, ch0, ch1);
        }
        tt_wgrad_unpermute(gw, gwt, taps, M, K);
        check("wgrad dot", kt->name, gw, want, bound, M * K);
        free(x); free(go); free(want); free(bound); free(masks); free(taps); free(gpk); free(gwt); free(gw);
    }
}

/* The window kernel (any strides, one group), driven as conv_wgrad.pyx's window_weight_grad. */
static void test_wgrad_window(const tt_conv_kernels *kt)
{
    const int vl = kt->wgrad.vl;
    for (int rep = 0; rep < 150; rep++) {
        conv_case cs = random_case(0);
        const tt_conv_geo *g = &cs.g;
        long L = g->OD * g->OH * g->OW, T = g->KD * g->KH * g->KW, K = g->C * T, M = cs.M;
        long HW = g->H * g->W, DHW = g->D * HW, nch = (L + vl - 1) / vl;
        float *x = randoms(cs.N * g->C * DHW), *go = randoms(cs.N * M * L);
        double *want = malloc((size_t)(M * K) * sizeof(double)), *bound = malloc((size_t)(M * K) * sizeof(double));
        wgrad_reference(&cs, x, go, want, bound);
        int32_t *bidx = calloc((size_t)(nch * vl), sizeof(int32_t)), *toff = calloc((size_t)T, sizeof(int32_t));
        uint16_t *wmask = calloc((size_t)(nch * T), sizeof(uint16_t));
        for (long t = 0; t < T; t++) {
            long i = t / (g->KH * g->KW), j = t / g->KW % g->KH, k = t % g->KW;
            toff[t] = (int32_t)(uint32_t)(i * g->dd * HW + j * g->dh * g->W + k * g->dw);
            for (long ch = 0; ch < nch; ch++)
                for (int l = 0; l < vl && ch * vl + l < L; l++) {
                    long p = ch * vl + l, od = p / (g->OH * g->OW), oh = p / g->OW % g->OH, ow = p % g->OW;
                    long id = od * g->sd - g->pd + i * g->dd, ih = oh * g->sh - g->ph + j * g->dh;
                    long iw = ow * g->sw - g->pw + k * g->dw;
                    if (id >= 0 && id < g->D && ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)
                        wmask[ch * T + t] |= (uint16_t)(1u << l);
                    bidx[p] = (int32_t)(uint32_t)((od * g->sd - g->pd) * HW + (oh * g->sh - g->ph) * g->W
                                                  + ow * g->sw - g->pw);
                }
        }
        long len = cs.N * nch * vl;                /* go transposed to (M, N, nch * vl) */
        float *got = calloc((size_t)(M * len), sizeof(float));
        for (long n = 0; n < cs.N; n++)
            for (long o = 0; o < M; o++)
                for (long p = 0; p < L; p++) got[o * len + n * nch * vl + p] = go[(n * M + o) * L + p];
        tt_wgrad_geo w = {1, M, 1, 1, len, K, M, K, 1, 1, 1, 1, 1, len, 1, 1, 0, 0, 0, 1, 1, 1,
                          1, 1, len, cs.N * nch};
        uint16_t *masks = malloc((size_t)(w.nch * 2) * sizeof(uint16_t));
        tt_wgrad_masks(masks, &w, vl);
        int mr_main = irand(1, 6), nr = kt->wgrad.nr(mr_main);
        ptrdiff_t *taps = malloc((size_t)(5 * M) * sizeof(ptrdiff_t));
        tt_wgrad_taps(taps, &w, nr);
        long ttiles = tt_wgrad_tiles(M, 1, nr), block = irand(1, 8);
        float *gpk = amalloc(mr_main * vl * block + 16);
        float *gwt = calloc((size_t)(K * M), sizeof(float)), *gw = malloc((size_t)(M * K) * sizeof(float));
        for (long q0 = 0; q0 < w.nch; q0 += block)
            for (long t0 = 0; t0 < K; t0 += mr_main)
                kt->wgrad.task_win(x, got, gwt, &w, masks, taps, gpk, g->C, DHW, T, nch, bidx,
                                   toff, wmask, t0, (int)(K - t0 < mr_main ? K - t0 : mr_main),
                                   nr, 0, ttiles, q0, w.nch - q0 < block ? w.nch : q0 + block);
        for (long t = 0; t < K; t++)
            for (long u = 0; u < M; u++) gw[taps[5 * u + 4] * K + t] = gwt[t * M + u];
        check("wgrad window", kt->name, gw, want, bound, M * K);
        free(x); free(go); free(want); free(bound); free(bidx); free(toff); free(wmask); free(got);
        free(masks); free(taps); free(gpk); free(gwt); free(gw);
    }
}

/* The plain sums of an r x r stride-1 convolution of x (N, C, H, W) padded by pt rows above
   and pl columns left, for the Winograd tests: want (N, M, OH, OW) = bias (if not NULL) +
   the products, and, when gy is not NULL, gwant (M, C, r, r) and gxwant (N, C, H, W) = the
   weight and input gradients for the output gradient gy; the bounds: slack times the sums of
   the products' magnitudes (the transforms' rounding grows with them) plus 1e-3 per
   product. */
static void winograd_reference(const float *x, const float *w, const float *bias,
                               const float *gy, long N, long C, long M, long H, long W, int r,
                               long pt, long pl, long OH, long OW, double slack, double *want,
                               double *bound, double *gwant, double *gbound, double *gxwant,
                               double *gxbound)
{
    for (long n = 0; n < N; n++)
        for (long o = 0; o < M; o++)
            for (long oh = 0; oh < OH; oh++)
                for (long ow = 0; ow < OW; ow++) {
                    long q = ((n * M + o) * OH + oh) * OW + ow;
                    want[q] = bias ? bias[o] : 0;
                    bound[q] = fabs(want[q]);
                    for (long c = 0; c < C; c++)
                        for (long a = 0; a < r; a++)
                            for (long b = 0; b < r; b++) {
                                long ih = oh - pt + a, iw = ow - pl + b;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                long k = (o * C + c) * r * r + a * r + b;
                                double xv = x[((n * C + c) * H + ih) * W + iw];
                                want[q] += xv * w[k];
                                bound[q] += slack * fabs(xv * w[k]) + 1e-3;
                                if (!gy) continue;
                                long i = ((n * C + c) * H + ih) * W + iw;
                                gwant[k] += xv * gy[q];
                                gbound[k] += slack * fabs(xv * gy[q]) + 1e-3;
                                gxwant[i] += w[k] * gy[q];
                                gxbound[i] += slack * fabs(w[k] * gy[q]) + 1e-3;
                            }
                }
}

/* The Winograd transforms (tt_winograd.inc), driven as conv_winograd.pyx's winograd_forward
   with a plain GEMM in between: a 3x3 stride-1 convolution against the plain sums, uneven
   padding, odd output sizes, blocks of a few tile rows; every output written (y starts NaN). */
static void test_winograd(const tt_conv_kernels *kt)
{
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    const int vl = kt->vl;
    for (int rep = 0; rep < 100; rep++) {
        long N = irand(1, 3), C = irand(1, 9), M = irand(1, 9);
        long pt = irand(0, 2), pb = irand(0, 2), pl = irand(0, 2), pr = irand(0, 2);
        long H = irand(3 - pt - pb > 1 ? 3 - pt - pb : 1, 10), W = irand(3 - pl - pr > 1 ? 3 - pl - pr : 1, 40);
        long OH = H + pt + pb - 2, OW = W + pl + pr - 2, TH = (OH + 1) / 2, TW = (OW + 1) / 2;
        long TWp = (TW + vl - 1) / vl * vl, rows = N * TH, rb = irand(1, 3), ld = rb * TW + vl;
        float *x = randoms(N * C * H * W), *w = randoms(M * C * 9), *bias = randoms(M);
        float *u = malloc((size_t)(16 * M * C) * sizeof(float));
        for (long m = 0; m < M; m++)
            for (long c = 0; c < C; c++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++) {
                        double s = 0;
                        for (int a = 0; a < 3; a++)
                            for (int b = 0; b < 3; b++) s += G[i][a] * w[(m * C + c) * 9 + a * 3 + b] * G[j][b];
                        u[((i * 4 + j) * M + m) * C + c] = (float)s;
                    }
        float *V = amalloc(16 * C * ld), *Mx = amalloc(16 * M * ld), *rowbuf = amalloc(4 * (2 * TWp + 2));
        float *y = malloc((size_t)(N * M * OH * OW) * sizeof(float));
        for (long i = 0; i < N * M * OH * OW; i++) y[i] = NAN;
        for (long R0 = 0; R0 < rows; R0 += rb) {
            long R1 = R0 + rb < rows ? R0 + rb : rows, T = (R1 - R0) * TW;
            kt->wino_input(V, ld, C * ld, x, C, H, W, pt, pl, TH, TW, R0, R1, rowbuf);
            for (int k = 0; k < 16; k++)
                for (long m = 0; m < M; m++)
                    for (long t = 0; t < T; t++) {
                        double s = 0;
                        for (long c = 0; c < C; c++) s += (double)u[(k * M + m) * C + c] * V[k * C * ld + c * ld + t];
                        Mx[k * M * ld + m * ld + t] = (float)s;
                    }
            kt->wino_output(y, Mx, ld, M * ld, M, OH, OW, TH, TW, R0, R1, rep % 2 ? bias : NULL);
        }
        double *want = calloc((size_t)(N * M * OH * OW), sizeof(double)), *bound = calloc((size_t)(N * M * OH * OW), sizeof(double));
        winograd_reference(x, w, rep % 2 ? bias : NULL, NULL, N, C, M, H, W, 3, pt, pl, OH, OW, 4,
                           want, bound, NULL, NULL, NULL, NULL);
        check("winograd", kt->name, y, want, bound, N * M * OH * OW);
        /* the weight gradient: dU_k = sum over tiles of Mg_k V_k^T (Mg: wino_grad_output of
           gy), gw = G^T dU G, against sum gy * x */
        float *gy = randoms(N * M * OH * OW), *gw = malloc((size_t)(M * C * 9) * sizeof(float));
        double *du = calloc((size_t)(16 * M * C), sizeof(double));
        double *gwant = calloc((size_t)(M * C * 9), sizeof(double)), *gbound = calloc((size_t)(M * C * 9), sizeof(double));
        for (long R0 = 0; R0 < rows; R0 += rb) {
            long R1 = R0 + rb < rows ? R0 + rb : rows, T = (R1 - R0) * TW;
            kt->wino_input(V, ld, C * ld, x, C, H, W, pt, pl, TH, TW, R0, R1, rowbuf);
            kt->wino_grad_output(Mx, ld, M * ld, gy, M, OH, OW, TH, TW, R0, R1);
            for (int k = 0; k < 16; k++)
                for (long m = 0; m < M; m++)
                    for (long c = 0; c < C; c++)
                        for (long t = 0; t < T; t++)
                            du[(k * M + m) * C + c] += (double)Mx[k * M * ld + m * ld + t] * V[k * C * ld + c * ld + t];
        }
        for (long m = 0; m < M; m++)
            for (long c = 0; c < C; c++)
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) {
                        double s = 0;
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) s += G[i][a] * du[((i * 4 + j) * M + m) * C + c] * G[j][b];
                        gw[(m * C + c) * 9 + a * 3 + b] = (float)s;
                    }
        double *gxwant = calloc((size_t)(N * C * H * W), sizeof(double)), *gxbound = calloc((size_t)(N * C * H * W), sizeof(double));
        winograd_reference(x, w, NULL, gy, N, C, M, H, W, 3, pt, pl, OH, OW, 4, want, bound,
                           gwant, gbound, gxwant, gxbound);
        free(gxwant); free(gxbound);
        check("winograd weight gradient", kt->name, gw, gwant, gbound, M * C * 9);
        free(gy); free(gw); free(du); free(gwant); free(gbound);
        free(x); free(w); free(bias); free(u); free(V); free(Mx); free(rowbuf); free(y); free(want); free(bound);
    }
}

/* The convolutions over 6x6 patches (tt_winograd6.inc), F(4x4, 3x3) and F(2x2, 5x5), driven
   as conv_winograd6.pyx drives them: the weight transform packed for the variant's GEMM tile,
   blocks of a few tiles, the input transform, 36 GEMMs by sgemm_packed_b and the output
   transform; the weight gradient by the output transform's adjoint, 36 GEMMs summed over the
   blocks and the untransform; the input gradient by the forward's adjoint. Against the plain
   sums, uneven padding, channels around a vector and a panel; every output written (y starts
   NaN). */
static void test_winograd6(const tt_conv_kernels *kt)
{
    float *work = malloc((size_t)kt->work * sizeof(float));
    for (int rep = 0; rep < 60; rep++) {
        int r = rep % 4 < 2 ? 3 : 5, m = 7 - r;
        long N = irand(1, 2), C = irand(1, 20), M = irand(1, 40), lo = r - 1;
        long pt = irand(0, lo), pb = irand(0, lo), pl = irand(0, lo), pr = irand(0, lo);
        long H = irand(r - pt - pb > 1 ? r - pt - pb : 1, 11), W = irand(r - pl - pr > 1 ? r - pl - pr : 1, 11);
        long OH = H + pt + pb - r + 1, OW = W + pl + pr - r + 1, TH = (OH + m - 1) / m, TW = (OW + m - 1) / m;
        long T = N * TH * TW, tb = irand(1, 5), nr = kt->nr, Mp = (M + nr - 1) / nr * nr;
        long us = (Mp * C + 15) / 16 * 16 + 16, vs = tb * C + 3, ms = tb * M + 5, rr = r * r;
        float *x = randoms(N * C * H * W), *w = randoms(M * C * rr), *bias = randoms(M);
        float *gy = randoms(N * M * OH * OW), *gw = malloc((size_t)(M * C * rr) * sizeof(float));
        float *U = amalloc(36 * us), *V = amalloc(36 * vs), *Mx = amalloc(36 * ms);
        float *y = malloc((size_t)(N * M * OH * OW) * sizeof(float));
        for (long i = 0; i < N * M * OH * OW; i++) y[i] = NAN;
        for (long p = 0; p < Mp / nr; p++)
            kt->wino6_weights(U, us, w, M, C, r, nr, p * nr, (p + 1) * nr);
        for (long t0 = 0; t0 < T; t0 += tb) {
            long t1 = t0 + tb < T ? t0 + tb : T;
            kt->wino6_input(V, vs, x, C, H, W, pt, pl, m, TH, TW, t0, t1, t0);
            for (int k = 0; k < 36; k++)
                kt->sgemm_packed_b(t1 - t0, M, C, V + k * vs, C, 1, U + k * us, 0, Mx + k * ms, M, work);
            kt->wino6_output(y, Mx, ms, M, OH, OW, m, TH, TW, t0, t1, t0, rep % 2 ? bias : NULL);
        }
        for (long t0 = 0; t0 < T; t0 += tb) {     /* the weight gradient, dU in U's place */
            long t1 = t0 + tb < T ? t0 + tb : T;
            kt->wino6_input(V, vs, x, C, H, W, pt, pl, m, TH, TW, t0, t1, t0);
            kt->wino6_grad_output(Mx, ms, gy, M, OH, OW, m, TH, TW, t0, t1, t0);
            for (int k = 0; k < 36; k++)
                kt->sgemm(M, C, t1 - t0, Mx + k * ms, 1, M, V + k * vs, C, 1, t0 > 0, U + k * us, C, work);
        }
        kt->wino6_untransform(gw, U, us, C, r, 0, M);
        double *want = calloc((size_t)(N * M * OH * OW), sizeof(double)), *bound = calloc((size_t)(N * M * OH * OW), sizeof(double));
        double *gwant = calloc((size_t)(M * C * rr), sizeof(double)), *gbound = calloc((size_t)(M * C * rr), sizeof(double));
        double *gxwant = calloc((size_t)(N * C * H * W), sizeof(double)), *gxbound = calloc((size_t)(N * C * H * W), sizeof(double));
        winograd_reference(x, w, rep % 2 ? bias : NULL, gy, N, C, M, H, W, r, pt, pl, OH, OW, 50,
                           want, bound, gwant, gbound, gxwant, gxbound);
        /* the input gradient by the adjoint: U^T packed from the weights with the channels
           swapped (in U's place again), dM = A dY A^T (in V's), dV_k = dM_k U^T_k (in Mx's),
           then each tile's B dV B^T added into gx */
        float *wt = malloc((size_t)(M * C * rr) * sizeof(float)), *gx = calloc((size_t)(N * C * H * W), sizeof(float));
        long Cp = (C + nr - 1) / nr * nr, ut = (Cp * M + 15) / 16 * 16 + 16, vs2 = tb * M + 3, ms2 = tb * C + 5;
        float *Ut = amalloc(36 * ut), *dM = amalloc(36 * vs2), *dV = amalloc(36 * ms2);
        for (long o = 0; o < M; o++)
            for (long c = 0; c < C; c++)
                for (long q = 0; q < rr; q++) wt[(c * M + o) * rr + q] = w[(o * C + c) * rr + q];
        for (long p = 0; p < Cp / nr; p++)
            kt->wino6_weights(Ut, ut, wt, C, M, r, nr, p * nr, (p + 1) * nr);
        for (long t0 = 0; t0 < T; t0 += tb) {
            long t1 = t0 + tb < T ? t0 + tb : T;
            kt->wino6_grad_output(dM, vs2, gy, M, OH, OW, m, TH, TW, t0, t1, t0);
            for (int k = 0; k < 36; k++)
                kt->sgemm_packed_b(t1 - t0, C, M, dM + k * vs2, M, 1, Ut + k * ut, 0, dV + k * ms2, C, work);
            kt->wino6_input_adjoint(gx, dV, ms2, C, H, W, pt, pl, m, TH, TW, t0, t1, t0);
        }
        check("winograd6 input gradient", kt->name, gx, gxwant, gxbound, N * C * H * W);
        free(wt); free(gx); free(Ut); free(dM); free(dV); free(gxwant); free(gxbound);
        /* a tap that never meets the input has a zero gradient, which the transforms' sums
           give as rounding residue: bounds at least a twentieth of the largest */
        double gmax = 0;
        for (long i = 0; i < M * C * rr; i++) gmax = gbound[i] > gmax ? gbound[i] : gmax;
        for (long i = 0; i < M * C * rr; i++) gbound[i] = gbound[i] > gmax / 20 ? gbound[i] : gmax / 20;
        check("winograd6", kt->name, y, want, bound, N * M * OH * OW);
        check("winograd6 weight gradient", kt->name, gw, gwant, gbound, M * C * rr);
        free(x); free(w); free(bias); free(gy); free(gw); free(U); free(V); free(Mx); free(y);
        free(want); free(bound); free(gwant); free(gbound);
    }
    free(work);
}

/* The 1-D transforms (tt_winograd1d.inc), driven as conv_winograd1d.pyx's winograd1d_forward
   (weights transformed here, in double) with the variant's packed-B GEMM between them: 3-, 5-
   and 7-tap convolutions against the plain sums, uneven padding, signals of one tile to a few
   blocks of a few panels; every output written (y starts NaN); and the weight gradient. */
static void test_winograd1d(const tt_conv_kernels *kt)
{
    static const double pts[9] = {0, 1, -1, 2, -2, 0.5, -0.5, 1.5, -1.5};
    static const double scale[9] = {4.0 / 9, 8.0 / 45, 8.0 / 45, 2.0 / 315, 2.0 / 315, -16.0 / 45,
                                    -16.0 / 45, -16.0 / 315, -16.0 / 315};
    float *work = malloc((size_t)kt->work * sizeof(float));
    for (int rep = 0; rep < 60; rep++) {
        int r = 3 + 2 * (rep % 3), m = 11 - r;
        long N = irand(1, 2), C = irand(1, 20), M = irand(1, 40), nr = kt->nr;
        long pl = irand(0, r), pr = irand(0, r), L = irand(r - pl - pr > 1 ? r - pl - pr : 1, 400);
        long OL = L + pl + pr - r + 1, TL = (OL + m - 1) / m, nb = nr * irand(1, 3);
        long us = M * C, vs = C * nb + 16, ld = nb + 5, ms = M * ld + 7;
        float *x = randoms(N * C * L), *w = randoms(M * C * r), *bias = randoms(M);
        float *U = malloc((size_t)(10 * us) * sizeof(float)), *V = amalloc(10 * vs), *Mx = amalloc(10 * ms);
        float *buf = malloc((size_t)(m * (nb + 4)) * sizeof(float));
        float *y = malloc((size_t)(N * M * OL) * sizeof(float));
        for (long i = 0; i < N * M * OL; i++) y[i] = NAN;
        for (int k = 0; k < 10; k++)
            for (long q = 0; q < M * C; q++) {
                double u = 0;
                for (int j = 0; j < r; j++)
                    u += (k == 9 ? (j == r - 1) : scale[k] * pow(pts[k], j)) * w[q * r + j];
                U[k * us + q] = (float)u;
            }
        for (long n = 0; n < N; n++)
            for (long t0 = 0; t0 < TL; t0 += nb) {
                long cnt = TL - t0 < nb ? TL - t0 : nb, np_ = (cnt + nr - 1) / nr * nr;
                kt->wino1d_input(V, vs, x + n * C * L, C, L, pl, m, t0, cnt, nr, buf);
                for (int k = 0; k < 10; k++)
                    kt->sgemm_packed_b(M, np_, C, U + k * us, C, 1, V + k * vs, 0, Mx + k * ms, ld, work);
                kt->wino1d_output(y + n * M * OL, OL, Mx, ms, ld, M, m, t0, cnt, rep % 2 ? bias : NULL);
            }
        double *want = calloc((size_t)(N * M * OL), sizeof(double)), *bound = calloc((size_t)(N * M * OL), sizeof(double));
        for (long n = 0; n < N; n++)
            for (long o = 0; o < M; o++)
                for (long i = 0; i < OL; i++) {
                    long q = (n * M + o) * OL + i;
                    want[q] = rep % 2 ? bias[o] : 0;
                    bound[q] = fabs(want[q]);
                    for (long c = 0; c < C; c++) {
                        double wmax = 0;
                        for (int j = 0; j < r; j++) {
                            long s = i - pl + j;
                            wmax = fmax(wmax, fabs(w[(o * C + c) * r + j]));
                            if (s < 0 || s >= L) continue;
                            want[q] += (double)x[(n * C + c) * L + s] * w[(o * C + c) * r + j];
                        }
                        /* the transforms mix the 10 samples under the output's tile: each
                           one's products can round into it, reached or not */
                        for (long s = i / m * m - pl; s < i / m * m - pl + 10; s++)
                            if (s >= 0 && s < L) bound[q] += 50 * fabs(x[(n * C + c) * L + s]) * wmax;
                    }
                    bound[q] += 1e-3;
                }
        check("winograd1d forward", kt->name, y, want, bound, N * M * OL);
        /* the weight gradient: V plain row-major (panels nb wide), A dy in Mx's place,
           dU_k (in U's place) += Mx_k V_k^T, block after block, then gw = G^T dU */
        float *gy = randoms(N * M * OL), *gw = malloc((size_t)(M * C * r) * sizeof(float));
        double *gwant = calloc((size_t)(M * C * r), sizeof(double)), *gbound = calloc((size_t)(M * C * r), sizeof(double));
        int first = 1;
        for (long n = 0; n < N; n++)
            for (long t0 = 0; t0 < TL; t0 += nb, first = 0) {
                long cnt = TL - t0 < nb ? TL - t0 : nb;
                kt->wino1d_input(V, vs, x + n * C * L, C, L, pl, m, t0, cnt, nb, buf);
                kt->wino1d_grad_output(Mx, ms, ld, gy + n * M * OL, OL, M, m, t0, cnt);
                for (int k = 0; k < 10; k++)
                    kt->sgemm(M, C, cnt, Mx + k * ms, ld, 1, V + k * vs, 1, nb, !first, U + k * us, C, work);
            }
        double gmax = 0;
        for (long q = 0; q < M * C; q++)
            for (int j = 0; j < r; j++) {
                double g = 0;
                for (int k = 0; k < 10; k++)
                    g += (k == 9 ? (j == r - 1) : scale[k] * pow(pts[k], j)) * U[k * us + q];
                gw[q * r + j] = (float)g;
            }
        for (long n = 0; n < N; n++)
            for (long o = 0; o < M; o++)
                for (long c = 0; c < C; c++)
                    for (int j = 0; j < r; j++)
                        for (long i = 0; i < OL; i++) {
                            long s = i - pl + j;
                            if (s < 0 || s >= L) continue;
                            double t = (double)x[(n * C + c) * L + s] * gy[(n * M + o) * OL + i];
                            gwant[(o * C + c) * r + j] += t;
                            gbound[(o * C + c) * r + j] += 50 * fabs(t);
                        }
        /* a tap that never meets the input has a zero gradient, which the transforms' sums
           give as rounding residue: bounds at least a twentieth of the largest */
        for (long q = 0; q < M * C * r; q++) gmax = fmax(gmax, gbound[q]);
        for (long q = 0; q < M * C * r; q++) gbound[q] = fmax(gbound[q], gmax / 20) + 1e-3;
        check("winograd1d weight gradient", kt->name, gw, gwant, gbound, M * C * r);
        free(gy); free(gw); free(gwant); free(gbound);
        free(x); free(w); free(bias); free(U); free(V); free(Mx); free(buf); free(y); free(want); free(bound);
    }
    free(work);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);      /* lines out before any crash (a guard page hit) */
    static const char *all[] = {"avx512", "avx512-portable", "avx2", "neon", "generic"};
    const char **names = argc > 1 ? (const char **)argv + 1 : all;
    int count = argc > 1 ? argc - 1 : 5, ran = 0;
    for (int v = 0; v < count; v++) {
        const tt_conv_kernels *kt = tt_conv_kernels_get(names[v]);
        if (!kt) {
            printf("skip %s: not in this build or not on this CPU\n", names[v]);
            continue;
        }
        int before = failures;
        test_sgemm(kt);
        test_dgemm(kt);
        test_forward(kt, 0);
        test_forward(kt, 1);
        test_backward_input(kt);
        test_wgrad_dot(kt);
        test_wgrad_window(kt);
        test_max_row(kt);
        test_winograd(kt);
        test_winograd6(kt);
        test_winograd1d(kt);
        printf("%s %s (float32 tile %d x %d, float64 GEMM tile %d x %d, weight gradient %d lanes)\n",
               failures == before ? "ok  " : "FAIL", kt->name, kt->mr, kt->nr, kt->dmr, kt->dnr,
               kt->wgrad.vl);
        ran++;
    }
    if (!ran) { printf("no variant ran\n"); return 1; }
    return failures != 0;
}
