/* corr.c: the `corr` and `cov` kernels — Pearson correlation and population
 * covariance of the input x with --with y, over everything or per pixel (axis=0: the
 * correlation map of every pixel's series with an index).
 *
 * The state keeps the count and exact Σx, Σy, Σx², Σy², Σxy (products split exactly,
 * TwoSum lanes per block, then h5mr_xsum, or h5mr_rsum per pixel), so states merge
 * exactly and the result depends on the values alone.  The co-moments come from those
 * sums in double-double: n·Σxy − Σx·Σy keeps about 100 bits before the subtraction, as
 * the variance of `stats` does.  Pairs where either value is missing are skipped (the
 * library has made x NaN where y is). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

enum { SX, SY, SXX, SYY, SXY, NSUMS };

typedef struct corr_scalar {
    int64_t n, pad;
    h5mr_xsum s[NSUMS];
} corr_scalar;

typedef struct corr_config {
    int over_rows, is_corr;
    uint64_t pixels;
    double *scratch; /* per pixel: NSUMS TwoSum pairs and a count */
} corr_config;

static void corr_config_free(void *p)
{
    corr_config *c = p;
    free(c->scratch);
    free(c);
}

/* Per-pixel state: int64 n[P], NSUMS arrays of P h5mr_rsum, then the pending pairs
 * (hi[NSUMS][P], lo[NSUMS][P]) of the rows folded since the last flush, and their
 * number.  Blocks (a few MiB: a dozen rows of a large image) fold into the pending
 * pairs; every FLUSH_ROWS rows they go into the exact sums, so the exact sums cost a
 * few additions per pixel per FLUSH_ROWS rows instead of per block. */
#define FLUSH_ROWS 256
static int64_t *px_n(void *s) { return s; }
static h5mr_rsum *px_sum(void *s, uint64_t P, int k)
{
    uintptr_t at = ((uintptr_t)((int64_t *)s + P) + 15) & ~(uintptr_t)15;
    return (h5mr_rsum *)at + (uint64_t)k * P;
}
static double *px_hi(void *s, uint64_t P) { return (double *)(px_sum(s, P, NSUMS)); }
static double *px_lo(void *s, uint64_t P) { return px_hi(s, P) + NSUMS * P; }
static int64_t *px_pending(void *s, uint64_t P) { return (int64_t *)(px_lo(s, P) + NSUMS * P); }
static size_t px_size(uint64_t P) { return (size_t)P * (8 + NSUMS * sizeof(h5mr_rsum) + 2 * NSUMS * 8) + 48; }

/* The pending pairs into the exact sums. */
static void px_flush(void *s, uint64_t P)
{
    double *ph = px_hi(s, P), *pl = px_lo(s, P);
    for (int a = 0; a < NSUMS; a++) {
        h5mr_rsum *r = px_sum(s, P, a);
        for (uint64_t p = 0; p < P; p++) {
            h5mr_rsum_add(&r[p], ph[a * P + p]);
            h5mr_rsum_add(&r[p], pl[a * P + p]);
            ph[a * P + p] = pl[a * P + p] = 0;
        }
    }
    *px_pending(s, P) = 0;
}

/* Fold the pair (v, u) into the pairs h[k], l[k] (k: the sums, hstride apart). */
#define FOLD_PAIR(v, u, h, l, hstride)                                                                                 \
    do {                                                                                                               \
        __typeof__(v) pxx_, exx_, pyy_, eyy_, pxy_, exy_;                                                              \
        H5MR_TWO_PROD(v, v, pxx_, exx_);                                                                               \
        H5MR_TWO_PROD(u, u, pyy_, eyy_);                                                                               \
        H5MR_TWO_PROD(v, u, pxy_, exy_);                                                                               \
        H5MR_TWOSUM_ACC(h[SX * (hstride)], l[SX * (hstride)], v);                                                      \
        H5MR_TWOSUM_ACC(h[SY * (hstride)], l[SY * (hstride)], u);                                                      \
        H5MR_TWOSUM_ACC(h[SXX * (hstride)], l[SXX * (hstride)], pxx_);                                                 \
        l[SXX * (hstride)] += exx_;                                                                                    \
        H5MR_TWOSUM_ACC(h[SYY * (hstride)], l[SYY * (hstride)], pyy_);                                                 \
        l[SYY * (hstride)] += eyy_;                                                                                    \
        H5MR_TWOSUM_ACC(h[SXY * (hstride)], l[SXY * (hstride)], pxy_);                                                 \
        l[SXY * (hstride)] += exy_;                                                                                    \
    } while (0)

#define CORR_TYPE(T)                                                                                                   \
    static void scalar_##T(const h5mr_block *b, const h5mr_rows *y, corr_scalar *s)                                    \
    {                                                                                                                  \
        const T *x = b->data;                                                                                          \
        const double *yd = y->data;                                                                                    \
        double h[8][NSUMS] = {{0}}, l[8][NSUMS] = {{0}};                                                               \
        uint64_t E = b->row_elems, i = 0;                                                                              \
        for (uint64_t r = 0; r < b->rows; r++) {                                                                       \
            const double *yr = yd + r * y->row_stride;                                                                 \
            for (uint64_t j = 0; j < E; j++, i++) {                                                                    \
                double v = (double)x[r * E + j], u = yr[j * y->elem_stride];                                           \
                if (v != v || u != u) continue;                                                                        \
                int k = (int)(i & 7);                                                                                  \
                s->n++;                                                                                                \
                FOLD_PAIR(v, u, h[k], l[k], 1);                                                                        \
            }                                                                                                          \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        for (int k = 0; k < 8; k++)                                                                                    \
            for (int a = 0; a < NSUMS; a++)                                                                            \
                finite &= isfinite(h[k][a]) && isfinite(l[k][a]);                                                      \
        if (finite) {                                                                                                  \
            for (int k = 0; k < 8; k++)                                                                                \
                for (int a = 0; a < NSUMS; a++) {                                                                      \
                    h5mr_xsum_add(&s->s[a], h[k][a]);                                                                  \
                    h5mr_xsum_add(&s->s[a], l[k][a]);                                                                  \
                }                                                                                                      \
            return;                                                                                                    \
        }                                                                                                              \
        for (uint64_t r = 0; r < b->rows; r++) /* infinities or overflow: rounded terms */                             \
            for (uint64_t j = 0; j < E; j++) {                                                                         \
                double v = (double)x[r * E + j], u = yd[r * y->row_stride + j * y->elem_stride];                       \
                if (v != v || u != u) continue;                                                                        \
                double t[NSUMS] = {v, u, v * v, u * u, v * u};                                                         \
                for (int a = 0; a < NSUMS; a++)                                                                        \
                    h5mr_xsum_add(&s->s[a], t[a]);                                                                     \
            }                                                                                                          \
    }                                                                                                                  \
    /* One row into the per-pixel pairs, four pixels per vector, branch-free (a pair with                              \
     * a NaN adds zeros and no count); the last P % 4 pixels one by one, with the same                                 \
     * operations.  ES: y's element stride (0: one value for the row, an index; 1: a                                   \
     * value per pixel). */                                                                                            \
    H5MR_HOT static void row_pairs_##T(const T *restrict x, const double *restrict yr, uint64_t es, uint64_t P,        \
                                       double *restrict h, double *restrict l, double *restrict cnt)                   \
    {                                                                                                                  \
        uint64_t body = P - P % 4;                                                                                     \
        const h5mr_v4d one = {1, 1, 1, 1};                                                                             \
        for (uint64_t p = 0; p < body; p += 4) {                                                                       \
            h5mr_v4d v = h5mr_load4_##T(x + p), u;                                                                     \
            if (es)                                                                                                    \
                memcpy(&u, yr + p, 32);                                                                                \
            else                                                                                                       \
                u = (h5mr_v4d){yr[0], yr[0], yr[0], yr[0]};                                                            \
            h5mr_v4l ok = (v == v) & (u == u);                                                                         \
            v = (h5mr_v4d)((h5mr_v4l)v & ok);                                                                          \
            u = (h5mr_v4d)((h5mr_v4l)u & ok);                                                                          \
            h5mr_v4d c, H[NSUMS], L[NSUMS];                                                                            \
            memcpy(&c, cnt + p, 32);                                                                                   \
            c += (h5mr_v4d)((h5mr_v4l)one & ok);                                                                       \
            memcpy(cnt + p, &c, 32);                                                                                   \
            for (int a = 0; a < NSUMS; a++)                                                                            \
                memcpy(&H[a], h + a * P + p, 32), memcpy(&L[a], l + a * P + p, 32);                                    \
            FOLD_PAIR(v, u, H, L, 1);                                                                                  \
            for (int a = 0; a < NSUMS; a++)                                                                            \
                memcpy(h + a * P + p, &H[a], 32), memcpy(l + a * P + p, &L[a], 32);                                    \
        }                                                                                                              \
        for (uint64_t p = body; p < P; p++) {                                                                          \
            double v = (double)x[p], u = yr[p * es];                                                                   \
            if (v != v || u != u)                                                                                      \
                v = u = 0.0;                                                                                           \
            else                                                                                                       \
                cnt[p] += 1.0;                                                                                         \
            double *hp = h + p, *lp = l + p;                                                                           \
            FOLD_PAIR(v, u, hp, lp, P);                                                                                \
        }                                                                                                              \
    }                                                                                                                  \
    static void rows_##T(const h5mr_block *b, const h5mr_rows *y, uint64_t P, double *sc, void *state)                 \
    {                                                                                                                  \
        const T *x = b->data;                                                                                          \
        const double *yd = y->data;                                                                                    \
        double *h = sc, *l = sc + NSUMS * P, *cnt = sc + 2 * NSUMS * P;                                                \
        memset(sc, 0, (2 * NSUMS + 1) * P * sizeof *sc);                                                               \
        for (uint64_t r = 0; r < b->rows; r++)                                                                         \
            row_pairs_##T(x + r * P, yd + r * y->row_stride, y->elem_stride, P, h, l, cnt);                            \
        int64_t *n = px_n(state);                                                                                      \
        double *ph = px_hi(state, P), *pl = px_lo(state, P);                                                           \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            n[p] += (int64_t)cnt[p];                                                                                   \
            int finite = 1;                                                                                            \
            for (int a = 0; a < NSUMS; a++)                                                                            \
                finite &= isfinite(h[a * P + p]) && isfinite(l[a * P + p]);                                            \
            if (finite) { /* the block's pairs into the pending ones (if they stay finite) */                          \
                double nh[NSUMS], nl[NSUMS];                                                                           \
                for (int a = 0; a < NSUMS; a++) {                                                                      \
                    nh[a] = ph[a * P + p], nl[a] = pl[a * P + p];                                                      \
                    H5MR_TWOSUM_ACC(nh[a], nl[a], h[a * P + p]);                                                       \
                    nl[a] += l[a * P + p];                                                                             \
                    finite &= isfinite(nh[a]) && isfinite(nl[a]);                                                      \
                }                                                                                                      \
                if (finite) {                                                                                          \
                    for (int a = 0; a < NSUMS; a++)                                                                    \
                        ph[a * P + p] = nh[a], pl[a * P + p] = nl[a];                                                  \
                    continue;                                                                                          \
                }                                                                                                      \
                for (int a = 0; a < NSUMS; a++) {                                                                      \
                    h5mr_rsum_add(&px_sum(state, P, a)[p], h[a * P + p]);                                              \
                    h5mr_rsum_add(&px_sum(state, P, a)[p], l[a * P + p]);                                              \
                }                                                                                                      \
                continue;                                                                                              \
            }                                                                                                          \
            for (uint64_t r = 0; r < b->rows; r++) {                                                                   \
                double v = (double)x[r * P + p], u = yd[r * y->row_stride + p * y->elem_stride];                       \
                if (v != v || u != u) continue;                                                                        \
                double t[NSUMS] = {v, u, v * v, u * u, v * u};                                                         \
                for (int a = 0; a < NSUMS; a++)                                                                        \
                    h5mr_rsum_add(&px_sum(state, P, a)[p], t[a]);                                                      \
            }                                                                                                          \
        }                                                                                                              \
        int64_t *pend = px_pending(state, P);                                                                          \
        if ((*pend += (int64_t)b->rows) >= FLUSH_ROWS) px_flush(state, P);                                             \
    }

CORR_TYPE(float)
CORR_TYPE(double)

static h5mr_status setup(h5mr_ctx *ctx, int is_corr)
{
    const char *name = is_corr ? "corr" : "cov";
    h5mr_ctx_allow_joined_items(ctx);
    corr_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, corr_config_free);
    if (!c) return H5MR_ENOMEM;
    c->is_corr = is_corr;
    h5mr_status st = h5mr_param_axis(ctx, name, &c->over_rows);
    if (st != H5MR_OK) return st;
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_WITH);
    if (!h5mr_ctx_has_input(ctx, H5MR_ROLE_WITH))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s needs the second variable: give --with DATASET", name);
    if (!c->over_rows) {
        h5mr_ctx_set_state_size(ctx, sizeof(corr_scalar));
        return H5MR_OK;
    }
    const uint64_t *shape;
    int nd;
    uint64_t P = c->pixels = h5mr_trailing(ctx, &shape, &nd);
    if (!(c->scratch = malloc((2 * NSUMS + 1) * (P ? P : 1) * sizeof *c->scratch))) return H5MR_ENOMEM;
    h5mr_ctx_set_state_size(ctx, px_size(P));
    return H5MR_OK;
}

static h5mr_status corr_setup(h5mr_ctx *ctx) { return setup(ctx, 1); }
static h5mr_status cov_setup(h5mr_ctx *ctx) { return setup(ctx, 0); }

static h5mr_status corr_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    corr_config *c = h5mr_ctx_config(ctx);
    const h5mr_rows *y = h5mr_block_input(b, H5MR_ROLE_WITH);
    if (!y) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "corr: a block without its --with rows");
    if (b->dtype == H5MR_DTYPE_F32) {
        if (c->over_rows)
            rows_float(b, y, c->pixels, c->scratch, state);
        else
            scalar_float(b, y, state);
    } else if (b->dtype == H5MR_DTYPE_F64) {
        if (c->over_rows)
            rows_double(b, y, c->pixels, c->scratch, state);
        else
            scalar_double(b, y, state);
    } else {
        return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "corr: %s values", h5mr_dtype_name(b->dtype));
    }
    return H5MR_OK;
}

static h5mr_status corr_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const corr_config *c = h5mr_ctx_config(ctx);
    if (!c->over_rows) {
        corr_scalar *a = into;
        const corr_scalar *b = from;
        a->n += b->n;
        for (int k = 0; k < NSUMS; k++)
            h5mr_xsum_merge(&a->s[k], &b->s[k]);
        return H5MR_OK;
    }
    uint64_t P = c->pixels;
    int64_t *na = px_n(into);
    const int64_t *nb = px_n((void *)from);
    for (uint64_t p = 0; p < P; p++)
        na[p] += nb[p];
    /* Pending pairs: into's flushed, from's added as they are (from stays as it is). */
    px_flush(into, P);
    const double *fh = px_hi((void *)from, P), *fl = px_lo((void *)from, P);
    for (int k = 0; k < NSUMS; k++) {
        h5mr_rsum *a = px_sum(into, P, k);
        for (uint64_t p = 0; p < P; p++) {
            h5mr_rsum_add(&a[p], fh[k * P + p]);
            h5mr_rsum_add(&a[p], fl[k * P + p]);
        }
    }
    for (int k = 0; k < NSUMS; k++) {
        h5mr_rsum *a = px_sum(into, P, k);
        const h5mr_rsum *b = px_sum((void *)from, P, k);
        for (uint64_t p = 0; p < P; p++)
            h5mr_rsum_merge(&a[p], &b[p]);
    }
    return H5MR_OK;
}

/* From n and the five sums: mean_x, mean_y, cov, corr (NaN where undefined). */
static void figures(int64_t n64, const h5mr_dd *s, double *mx, double *my, double *cov, double *corr)
{
    double n = (double)n64;
    *mx = *my = *cov = *corr = NAN;
    if (n64 == 0) return;
    *mx = h5mr_dd_div(s[SX], n);
    *my = h5mr_dd_div(s[SY], n);
    for (int k = 0; k < NSUMS; k++)
        if (!isfinite(s[k].hi)) return;
    h5mr_dd nd = {n, 0.0};
    h5mr_dd a = h5mr_dd_add(h5mr_dd_mul(nd, s[SXY]), h5mr_dd_neg(h5mr_dd_mul(s[SX], s[SY])));
    *cov = h5mr_dd_div(a, n) / n;
    double vx = h5mr_variance(n, s[SX], s[SXX]), vy = h5mr_variance(n, s[SY], s[SYY]);
    if (vx > 0 && vy > 0) {
        double r = *cov / sqrt(vx) / sqrt(vy);
        *corr = r > 1 ? 1 : r < -1 ? -1 : r;
    }
}

static h5mr_status corr_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const corr_config *c = h5mr_ctx_config(ctx);
    const uint64_t *shape = NULL;
    int nd = 0;
    uint64_t P = c->over_rows ? h5mr_trailing(ctx, &shape, &nd) : 1;
    double *f = malloc(4 * (P ? P : 1) * sizeof *f);
    int64_t *cnt = malloc((P ? P : 1) * sizeof *cnt);
    h5mr_status st = f && cnt ? H5MR_OK : H5MR_ENOMEM;
    double *mx = f, *my = f + P, *cov = f + 2 * P, *cr = f + 3 * P;
    for (uint64_t p = 0; p < P && st == H5MR_OK; p++) {
        h5mr_dd s[NSUMS];
        for (int k = 0; k < NSUMS; k++) {
            if (c->over_rows) {
                h5mr_rsum t = px_sum((void *)state, P, k)[p];
                h5mr_rsum_add(&t, px_hi((void *)state, P)[k * P + p]);
                h5mr_rsum_add(&t, px_lo((void *)state, P)[k * P + p]);
                h5mr_rsum_round2(&t, &s[k].hi, &s[k].lo);
            } else
                h5mr_xsum_round2(&((const corr_scalar *)state)->s[k], &s[k].hi, &s[k].lo);
        }
        cnt[p] = c->over_rows ? px_n((void *)state)[p] : ((const corr_scalar *)state)->n;
        figures(cnt[p], s, &mx[p], &my[p], &cov[p], &cr[p]);
    }
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "count", H5MR_FIELD_I64, nd, shape, cnt, NULL);
    if (st == H5MR_OK && !c->is_corr) st = h5mr_result_set_array(r, "mean_x", H5MR_FIELD_F64, nd, shape, mx, NULL);
    if (st == H5MR_OK && !c->is_corr) st = h5mr_result_set_array(r, "mean_y", H5MR_FIELD_F64, nd, shape, my, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "cov", H5MR_FIELD_F64, nd, shape, cov, NULL);
    if (st == H5MR_OK && c->is_corr) st = h5mr_result_set_array(r, "corr", H5MR_FIELD_F64, nd, shape, cr, NULL);
    free(f);
    free(cnt);
    return st;
}

#define cov_map corr_map
#define cov_combine corr_combine
#define cov_finish corr_finish

static const h5mr_param_decl corr_params[] = {H5MR_AXIS_PARAM, {NULL, NULL, NULL}};
#define cov_params corr_params

const h5mr_kernel h5mr__kernel_corr = {
    H5MR_KERNEL_FIELDS("corr", "Pearson correlation and covariance of the input with --with (pairs both valid)", corr)};
const h5mr_kernel h5mr__kernel_cov = {H5MR_KERNEL_FIELDS(
    "cov", "population covariance (ddof 0) and means of the input and --with (pairs both valid)", cov)};
