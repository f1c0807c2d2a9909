/* weighted.c: what `sum` and `stats` do with --weights — Σw, Σw·x and (stats) Σw·x²
 * with the count, nan_count, min and max of the elements used, over everything or per
 * pixel (axis=0).
 *
 * Products are split exactly (Dekker: w·x = p + e, p·x = q + f, plus e·x rounded), then
 * summed like the unweighted sums: TwoSum lanes per block, folded into an exact
 * accumulator (h5mr_xsum; h5mr_rsum per pixel), so the result does not depend on how
 * the rows were grouped.  The weighted variance Σw(x − m)²/Σw comes from those sums in
 * double-double, (W·Σwx² − (Σwx)²)/W², which stays accurate when m² ≫ variance.  The
 * library has made missing (NaN) every element whose weight is NaN or missing; a
 * negative weight is an error. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"
#include "weighted.h"

/* The state per pixel: six arrays of P, then three of h5mr_rsum. */
typedef struct wrows {
    int64_t *n, *nan;
    double *mn, *mx;
    h5mr_rsum *w, *wx, *wxx;
} wrows;

static wrows wrows_of(void *s, uint64_t P)
{
    char *c = s;
    wrows r;
    r.n = (int64_t *)c;
    r.nan = r.n + P;
    r.mn = (double *)(r.nan + P);
    r.mx = r.mn + P;
    uintptr_t at = (uintptr_t)(r.mx + P);
    at = (at + 15) & ~(uintptr_t)15;
    r.w = (h5mr_rsum *)at;
    r.wx = r.w + P;
    r.wxx = r.wx + P;
    return r;
}

size_t h5mr__wstate_size(uint64_t P)
{
    if (P == 0) return sizeof(h5mr__wstate);
    return (size_t)P * (4 * 8 + 3 * sizeof(h5mr_rsum)) + 32;
}

void h5mr__winit(void *state, uint64_t P)
{
    if (P == 0) {
        h5mr__wstate *s = state;
        s->mn = INFINITY;
        s->mx = -INFINITY;
        return;
    }
    wrows r = wrows_of(state, P);
    for (uint64_t p = 0; p < P; p++)
        r.mn[p] = INFINITY, r.mx[p] = -INFINITY;
}

void h5mr__wscratch_free(h5mr__wscratch *s)
{
    free(s->buf);
    s->buf = NULL;
    s->P = 0;
}

static h5mr_status negative(h5mr_ctx *ctx, const h5mr_block *b, uint64_t r, uint64_t j, double w)
{
    if (b->first_row == H5MR_ROW_UNKNOWN) return h5mr_ctx_error(ctx, H5MR_EKERNEL, "negative weight %g", w);
    return h5mr_ctx_error(ctx, H5MR_EKERNEL, "negative weight %g at row %llu, element %llu of the row", w,
                          (unsigned long long)(b->first_row + r), (unsigned long long)j);
}

/* Everything into one state: 8 lanes (element i of the block in lane i mod 8). */
#define WSCALAR(T)                                                                                                     \
    static h5mr_status scalar_##T(h5mr_ctx *ctx, h5mr__wstate *s, const h5mr_block *b, const h5mr_rows *w, int sq)     \
    {                                                                                                                  \
        const T *x = b->data;                                                                                          \
        const double *wd = w->data;                                                                                    \
        double h[3][8] = {{0}}, l[3][8] = {{0}};                                                                       \
        uint64_t E = b->row_elems, i = 0;                                                                              \
        for (uint64_t r = 0; r < b->rows; r++) {                                                                       \
            const double *wr = wd + r * w->row_stride;                                                                 \
            for (uint64_t j = 0; j < E; j++, i++) {                                                                    \
                double v = (double)x[r * E + j], wt = wr[j * w->elem_stride];                                          \
                if (v != v) {                                                                                          \
                    s->nan++;                                                                                          \
                    continue;                                                                                          \
                }                                                                                                      \
                if (wt < 0) return negative(ctx, b, r, j, wt);                                                         \
                int k = (int)(i & 7);                                                                                  \
                s->n++;                                                                                                \
                s->mn = v < s->mn ? v : s->mn;                                                                         \
                s->mx = v > s->mx ? v : s->mx;                                                                         \
                double p, e;                                                                                           \
                H5MR_TWO_PROD(wt, v, p, e);                                                                            \
                H5MR_TWOSUM_ACC(h[0][k], l[0][k], wt);                                                                 \
                H5MR_TWOSUM_ACC(h[1][k], l[1][k], p);                                                                  \
                l[1][k] += e;                                                                                          \
                if (sq) {                                                                                              \
                    double q, f;                                                                                       \
                    H5MR_TWO_PROD(p, v, q, f);                                                                         \
                    H5MR_TWOSUM_ACC(h[2][k], l[2][k], q);                                                              \
                    l[2][k] += f + e * v;                                                                              \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        for (int a = 0; a < 3; a++)                                                                                    \
            for (int k = 0; k < 8; k++)                                                                                \
                finite &= isfinite(h[a][k]) && isfinite(l[a][k]);                                                      \
        if (finite) {                                                                                                  \
            h5mr_xsum *acc[3] = {&s->w, &s->wx, &s->wxx};                                                              \
            for (int a = 0; a < 3; a++)                                                                                \
                for (int k = 0; k < 8; k++) {                                                                          \
                    h5mr_xsum_add(acc[a], h[a][k]);                                                                    \
                    h5mr_xsum_add(acc[a], l[a][k]);                                                                    \
                }                                                                                                      \
            return H5MR_OK;                                                                                            \
        }                                                                                                              \
        /* Infinities or overflow: one term at a time, as rounded products. */                                         \
        for (uint64_t r = 0; r < b->rows; r++)                                                                         \
            for (uint64_t j = 0; j < E; j++) {                                                                         \
                double v = (double)x[r * E + j], wt = wd[r * w->row_stride + j * w->elem_stride];                      \
                if (v != v) continue;                                                                                  \
                h5mr_xsum_add(&s->w, wt);                                                                              \
                h5mr_xsum_add(&s->wx, wt *v);                                                                          \
                if (sq) h5mr_xsum_add(&s->wxx, wt *v *v);                                                              \
            }                                                                                                          \
        return H5MR_OK;                                                                                                \
    }

/* Per pixel: a TwoSum pair per pixel and sum, over the block's rows. */
#define WROWS(T)                                                                                                       \
    static h5mr_status rows_##T(h5mr_ctx *ctx, void *state, uint64_t P, const h5mr_block *b, const h5mr_rows *w,       \
                                int sq, double *sc)                                                                    \
    {                                                                                                                  \
        const T *x = b->data;                                                                                          \
        const double *wd = w->data;                                                                                    \
        wrows s = wrows_of(state, P);                                                                                  \
        double *h0 = sc, *l0 = sc + P, *h1 = sc + 2 * P, *l1 = sc + 3 * P, *h2 = sc + 4 * P, *l2 = sc + 5 * P;         \
        memset(sc, 0, 6 * P * sizeof *sc);                                                                             \
        for (uint64_t r = 0; r < b->rows; r++) {                                                                       \
            const double *wr = wd + r * w->row_stride;                                                                 \
            const T *xr = x + r * P;                                                                                   \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                double v = (double)xr[p], wt = wr[p * w->elem_stride];                                                 \
                if (v != v) {                                                                                          \
                    s.nan[p]++;                                                                                        \
                    continue;                                                                                          \
                }                                                                                                      \
                if (wt < 0) return negative(ctx, b, r, p, wt);                                                         \
                s.n[p]++;                                                                                              \
                s.mn[p] = v < s.mn[p] ? v : s.mn[p];                                                                   \
                s.mx[p] = v > s.mx[p] ? v : s.mx[p];                                                                   \
                double pr, e;                                                                                          \
                H5MR_TWO_PROD(wt, v, pr, e);                                                                           \
                H5MR_TWOSUM_ACC(h0[p], l0[p], wt);                                                                     \
                H5MR_TWOSUM_ACC(h1[p], l1[p], pr);                                                                     \
                l1[p] += e;                                                                                            \
                if (sq) {                                                                                              \
                    double q, f;                                                                                       \
                    H5MR_TWO_PROD(pr, v, q, f);                                                                        \
                    H5MR_TWOSUM_ACC(h2[p], l2[p], q);                                                                  \
                    l2[p] += f + e * v;                                                                                \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            if (isfinite(h0[p]) && isfinite(l0[p]) && isfinite(h1[p]) && isfinite(l1[p]) && isfinite(h2[p]) &&         \
                isfinite(l2[p])) {                                                                                     \
                h5mr_rsum_add(&s.w[p], h0[p]), h5mr_rsum_add(&s.w[p], l0[p]);                                          \
                h5mr_rsum_add(&s.wx[p], h1[p]), h5mr_rsum_add(&s.wx[p], l1[p]);                                        \
                if (sq) h5mr_rsum_add(&s.wxx[p], h2[p]), h5mr_rsum_add(&s.wxx[p], l2[p]);                              \
                continue;                                                                                              \
            }                                                                                                          \
            for (uint64_t r = 0; r < b->rows; r++) {                                                                   \
                double v = (double)x[r * P + p], wt = wd[r * w->row_stride + p * w->elem_stride];                      \
                if (v != v) continue;                                                                                  \
                h5mr_rsum_add(&s.w[p], wt);                                                                            \
                h5mr_rsum_add(&s.wx[p], wt *v);                                                                        \
                if (sq) h5mr_rsum_add(&s.wxx[p], wt *v *v);                                                            \
            }                                                                                                          \
        }                                                                                                              \
        return H5MR_OK;                                                                                                \
    }

WSCALAR(float)
WSCALAR(double)
WROWS(float)
WROWS(double)

/* The fast path of a block: per row, eight elements at a time in two vectors of four
 * lanes (weights loaded alongside, or broadcast when the row has one), branch-free (a
 * NaN adds zeros and no count); the row's last E % 8 elements into lane 0 one by one.
 * Returns 0, having changed nothing, when a sum is not finite or a weight is
 * negative: the block then takes the path above, which reports it. */
#define WFOLD(wv, v, H, L, SQ, TP)                                                                                     \
    do {                                                                                                               \
        __typeof__(v) p_, e_;                                                                                          \
        TP(wv, v, p_, e_);                                                                                             \
        H5MR_TWOSUM_ACC(H[0], L[0], wv);                                                                               \
        H5MR_TWOSUM_ACC(H[1], L[1], p_);                                                                               \
        L[1] += e_;                                                                                                    \
        if (SQ) {                                                                                                      \
            __typeof__(v) q_, f_;                                                                                      \
            TP(p_, v, q_, f_);                                                                                         \
            H5MR_TWOSUM_ACC(H[2], L[2], q_);                                                                           \
            L[2] += f_ + e_ * v;                                                                                       \
        }                                                                                                              \
    } while (0)
#define WFAST(T, NAME, ATTR, TPV, MIN, MAX)                                                                            \
    ATTR static int NAME##_##T(h5mr__wstate *s, const h5mr_block *b, const h5mr_rows *w, int sq)                       \
    {                                                                                                                  \
        const T *x = b->data;                                                                                          \
        const double *wd = w->data;                                                                                    \
        uint64_t E = b->row_elems, body = E - E % 8, es = w->elem_stride;                                              \
        const h5mr_v4d one = {1, 1, 1, 1}, zero = {0, 0, 0, 0}, inf = {INFINITY, INFINITY, INFINITY, INFINITY};        \
        h5mr_v4d H[2][3], L[2][3], cnt[2], mn[2], mx[2];                                                               \
        h5mr_v4d wlow = {0, 0, 0, 0}; /* the least weight of a valid element, if below 0 */                            \
        for (int k = 0; k < 2; k++) {                                                                                  \
            for (int a = 0; a < 3; a++)                                                                                \
                H[k][a] = L[k][a] = zero;                                                                              \
            cnt[k] = zero, mn[k] = inf, mx[k] = -inf;                                                                  \
        }                                                                                                              \
        double th[3] = {0}, tl[3] = {0}, tmn = INFINITY, tmx = -INFINITY;                                              \
        int64_t tn = 0;                                                                                                \
        int tneg = 0;                                                                                                  \
        for (uint64_t r = 0; r < b->rows; r++) {                                                                       \
            const T *xr = x + r * E;                                                                                   \
            const double *wr = wd + r * w->row_stride;                                                                 \
            for (uint64_t j = 0; j < body; j += 8) {                                                                   \
                for (int k = 0; k < 2; k++) {                                                                          \
                    h5mr_v4d v = h5mr_load4_##T(xr + j + 4 * k), wv;                                                   \
                    if (es)                                                                                            \
                        memcpy(&wv, wr + j + 4 * k, 32);                                                               \
                    else                                                                                               \
                        wv = (h5mr_v4d){wr[0], wr[0], wr[0], wr[0]};                                                   \
                    h5mr_v4l ok = v == v;                                                                              \
                    mn[k] = MIN(v, mn[k]);                                                                             \
                    mx[k] = MAX(v, mx[k]);                                                                             \
                    v = (h5mr_v4d)((h5mr_v4l)v & ok);                                                                  \
                    wv = (h5mr_v4d)((h5mr_v4l)wv & ok);                                                                \
                    wlow = MIN(wv, wlow);                                                                              \
                    cnt[k] += (h5mr_v4d)((h5mr_v4l)one & ok);                                                          \
                    WFOLD(wv, v, H[k], L[k], sq, TPV);                                                                 \
                }                                                                                                      \
            }                                                                                                          \
            for (uint64_t j = body; j < E; j++) {                                                                      \
                double v = (double)xr[j], wt = wr[j * es];                                                             \
                if (v != v) continue;                                                                                  \
                tneg |= wt < 0;                                                                                        \
                tn++;                                                                                                  \
                tmn = v < tmn ? v : tmn;                                                                               \
                tmx = v > tmx ? v : tmx;                                                                               \
                WFOLD(wt, v, th, tl, sq, H5MR_TWO_PROD);                                                               \
            }                                                                                                          \
        }                                                                                                              \
        int bad = tneg;                                                                                                \
        for (int q = 0; q < 4; q++)                                                                                    \
            bad |= wlow[q] < 0;                                                                                        \
        for (int a = 0; a < 3; a++) {                                                                                  \
            bad |= !isfinite(th[a]) || !isfinite(tl[a]);                                                               \
            for (int k = 0; k < 2; k++)                                                                                \
                for (int q = 0; q < 4; q++)                                                                            \
                    bad |= !isfinite(H[k][a][q]) || !isfinite(L[k][a][q]);                                             \
        }                                                                                                              \
        if (bad) return 0;                                                                                             \
        h5mr_xsum *acc[3] = {&s->w, &s->wx, &s->wxx};                                                                  \
        int64_t n = tn;                                                                                                \
        for (int k = 0; k < 2; k++)                                                                                    \
            for (int q = 0; q < 4; q++) {                                                                              \
                n += (int64_t)cnt[k][q];                                                                               \
                s->mn = mn[k][q] < s->mn ? mn[k][q] : s->mn;                                                           \
                s->mx = mx[k][q] > s->mx ? mx[k][q] : s->mx;                                                           \
                for (int a = 0; a < 3; a++) {                                                                          \
                    h5mr_xsum_add(acc[a], H[k][a][q]);                                                                 \
                    h5mr_xsum_add(acc[a], L[k][a][q]);                                                                 \
                }                                                                                                      \
            }                                                                                                          \
        for (int a = 0; a < 3; a++) {                                                                                  \
            h5mr_xsum_add(acc[a], th[a]);                                                                              \
            h5mr_xsum_add(acc[a], tl[a]);                                                                              \
        }                                                                                                              \
        s->mn = tmn < s->mn ? tmn : s->mn;                                                                             \
        s->mx = tmx > s->mx ? tmx : s->mx;                                                                             \
        s->n += n;                                                                                                     \
        s->nan += (int64_t)(b->rows * E) - n;                                                                          \
        return 1;                                                                                                      \
    }
/* v < m ? v : m and v > m ? v : m (m where equal or unordered), as vminpd/vmaxpd do */
#define WMIN(v, m) h5mr_v4_select((v) < (m), v, m)
#define WMAX(v, m) h5mr_v4_select((v) > (m), v, m)
WFAST(float, fast, H5MR_HOT, H5MR_TWO_PROD, WMIN, WMAX)
WFAST(double, fast, H5MR_HOT, H5MR_TWO_PROD, WMIN, WMAX)

/* With FMA the exact product's error is one instruction (a*b - p, unrounded): the
 * same e as Dekker's, so the same bits, at a fraction of the cost. */
#if H5MR_X86_PATHS
#define WMIN_FMA(v, m) ((h5mr_v4d)_mm256_min_pd((__m256d)(v), (__m256d)(m)))
#define WMAX_FMA(v, m) ((h5mr_v4d)_mm256_max_pd((__m256d)(v), (__m256d)(m)))
WFAST(float, fast_fma, H5MR_FMA_TARGET, H5MR_TWO_PROD_FMA, WMIN_FMA, WMAX_FMA)
WFAST(double, fast_fma, H5MR_FMA_TARGET, H5MR_TWO_PROD_FMA, WMIN_FMA, WMAX_FMA)
int h5mr__have_fma(void)
{
    static int known = -1;
    if (known < 0) {
        /* H5MR_NO_FMA=1: the portable path (tests compare the two, bit for bit). */
        const char *off = getenv("H5MR_NO_FMA");
        known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !(off && !strcmp(off, "1"));
    }
    return known;
}
#else
#define fast_fma_float fast_float
#define fast_fma_double fast_double
int h5mr__have_fma(void) { return 0; }
#endif

h5mr_status h5mr__wfold(h5mr_ctx *ctx, void *state, uint64_t P, int over_rows, const h5mr_block *b, const h5mr_rows *w,
                        int squares, h5mr__wscratch *sc)
{
    if (b->dtype != H5MR_DTYPE_F32 && b->dtype != H5MR_DTYPE_F64)
        return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "weighted sums of %s values", h5mr_dtype_name(b->dtype));
    if (!over_rows) {
        if (b->dtype == H5MR_DTYPE_F32)
            return (h5mr__have_fma() ? fast_fma_float(state, b, w, squares) : fast_float(state, b, w, squares))
                       ? H5MR_OK
                       : scalar_float(ctx, state, b, w, squares);
        return (h5mr__have_fma() ? fast_fma_double(state, b, w, squares) : fast_double(state, b, w, squares))
                   ? H5MR_OK
                   : scalar_double(ctx, state, b, w, squares);
    }
    if (sc->P != P) {
        h5mr__wscratch_free(sc);
        if (!(sc->buf = malloc(6 * (P ? P : 1) * sizeof *sc->buf))) return H5MR_ENOMEM;
        sc->P = P;
    }
    if (b->dtype == H5MR_DTYPE_F32) return rows_float(ctx, state, P, b, w, squares, sc->buf);
    return rows_double(ctx, state, P, b, w, squares, sc->buf);
}

void h5mr__wcombine(void *into, const void *from, uint64_t P, int over_rows)
{
    if (!over_rows) {
        h5mr__wstate *a = into;
        const h5mr__wstate *b = from;
        a->n += b->n, a->nan += b->nan;
        a->mn = b->mn < a->mn ? b->mn : a->mn;
        a->mx = b->mx > a->mx ? b->mx : a->mx;
        h5mr_xsum_merge(&a->w, &b->w);
        h5mr_xsum_merge(&a->wx, &b->wx);
        h5mr_xsum_merge(&a->wxx, &b->wxx);
        return;
    }
    wrows a = wrows_of(into, P), b = wrows_of((void *)from, P);
    for (uint64_t p = 0; p < P; p++) {
        a.n[p] += b.n[p], a.nan[p] += b.nan[p];
        a.mn[p] = b.mn[p] < a.mn[p] ? b.mn[p] : a.mn[p];
        a.mx[p] = b.mx[p] > a.mx[p] ? b.mx[p] : a.mx[p];
        h5mr_rsum_merge(&a.w[p], &b.w[p]);
        h5mr_rsum_merge(&a.wx[p], &b.wx[p]);
        h5mr_rsum_merge(&a.wxx[p], &b.wxx[p]);
    }
}

/* One pixel's (or the scalar's) figures. */
static void figures(int64_t n, h5mr_dd W, h5mr_dd S1, h5mr_dd S2, double *mean, double *var)
{
    if (n == 0 || !(W.hi > 0)) {
        *mean = *var = NAN;
        return;
    }
    *mean = h5mr_dd_div(S1, W.hi + W.lo) /* W rounded once */;
    if (!isfinite(S1.hi) || !isfinite(S2.hi)) {
        *var = NAN;
        return;
    }
    h5mr_dd a = h5mr_dd_add(h5mr_dd_mul(W, S2), h5mr_dd_neg(h5mr_dd_mul(S1, S1)));
    double w = W.hi + W.lo;
    double v = h5mr_dd_div(a, w) / w;
    *var = v < 0 ? 0 : v;
}

h5mr_status h5mr__wfinish(const void *state, uint64_t P, int over_rows, int stats, int nd, const uint64_t *shape,
                          h5mr_result *r)
{
    h5mr_status st;
    if (!over_rows) {
        const h5mr__wstate *s = state;
        h5mr_dd W, S1, S2;
        h5mr_xsum_round2(&s->w, &W.hi, &W.lo);
        h5mr_xsum_round2(&s->wx, &S1.hi, &S1.lo);
        h5mr_xsum_round2(&s->wxx, &S2.hi, &S2.lo);
        double mean, var;
        figures(s->n, W, S1, S2, &mean, &var);
        st = h5mr_result_set_i64(r, "count", s->n);
        if (st == H5MR_OK && stats) st = h5mr_result_set_i64(r, "nan_count", s->nan);
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "sum", S1.hi);
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "weight", W.hi);
        if (st == H5MR_OK && stats) {
            st = h5mr_result_set_f64(r, "mean", mean);
            if (st == H5MR_OK) st = h5mr_result_set_f64(r, "var", var);
            if (st == H5MR_OK) st = h5mr_result_set_f64(r, "std", sqrt(var));
            if (st == H5MR_OK) st = h5mr_result_set_f64(r, "min", s->n ? s->mn : NAN);
            if (st == H5MR_OK) st = h5mr_result_set_f64(r, "max", s->n ? s->mx : NAN);
        }
        return st;
    }
    wrows s = wrows_of((void *)state, P);
    double *f = malloc(7 * (P ? P : 1) * sizeof *f);
    if (!f) return H5MR_ENOMEM;
    double *sum = f, *wt = f + P, *mean = f + 2 * P, *var = f + 3 * P, *sd = f + 4 * P, *mn = f + 5 * P,
           *mx = f + 6 * P;
    for (uint64_t p = 0; p < P; p++) {
        h5mr_dd W, S1, S2;
        h5mr_rsum_round2(&s.w[p], &W.hi, &W.lo);
        h5mr_rsum_round2(&s.wx[p], &S1.hi, &S1.lo);
        h5mr_rsum_round2(&s.wxx[p], &S2.hi, &S2.lo);
        figures(s.n[p], W, S1, S2, &mean[p], &var[p]);
        sum[p] = S1.hi, wt[p] = W.hi, sd[p] = sqrt(var[p]);
        mn[p] = s.n[p] ? s.mn[p] : NAN, mx[p] = s.n[p] ? s.mx[p] : NAN;
    }
    st = h5mr_result_set_array(r, "count", H5MR_FIELD_I64, nd, shape, s.n, NULL);
    if (st == H5MR_OK && stats) st = h5mr_result_set_array(r, "nan_count", H5MR_FIELD_I64, nd, shape, s.nan, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "sum", H5MR_FIELD_F64, nd, shape, sum, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "weight", H5MR_FIELD_F64, nd, shape, wt, NULL);
    if (st == H5MR_OK && stats) {
        st = h5mr_result_set_array(r, "mean", H5MR_FIELD_F64, nd, shape, mean, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "var", H5MR_FIELD_F64, nd, shape, var, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "std", H5MR_FIELD_F64, nd, shape, sd, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "min", H5MR_FIELD_F64, nd, shape, mn, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "max", H5MR_FIELD_F64, nd, shape, mx, NULL);
    }
    free(f);
    return st;
}
