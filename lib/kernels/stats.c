/* stats.c: the `stats` kernel — count, nan_count, sum, mean, var (ddof 0), std, min, max.
 *
 * The state keeps exact sums of x and of x² (integers: x in 128 bits; every type: x²
 * split exactly into p + e, in TwoSum lanes per item, then into an h5mr_xsum), so
 * combining is exact and the result does not depend on how items were grouped.  The
 * variance comes from those exact sums in double-double: n·Σx² − (Σx)², which keeps
 * about 100 bits before the subtraction and so stays accurate when mean² ≫ variance. */
#include <math.h>
#include <stdint.h>

#include "h5mr.h"
#include "numeric.h"

typedef struct stats_state {
    __int128 isum;
    __int128 imin, imax;
    int64_t count, nan_count;
    double fmin, fmax;
    h5mr_xsum s1; /* floats: Σx */
    h5mr_xsum s2; /* Σx², every type */
} stats_state;

/* Σx² and the count of one item into lanes, then into the exact sum. */
#define SQUARES(T, exact)                                                                                              \
    static void squares_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1)                                     \
    {                                                                                                                  \
        double h1[H5MR_LANES] = {0}, l1[H5MR_LANES] = {0};                                                             \
        double h2[H5MR_LANES] = {0}, l2[H5MR_LANES] = {0};                                                             \
        double mn[H5MR_LANES], mx[H5MR_LANES];                                                                         \
        int64_t cnt[H5MR_LANES] = {0};                                                                                 \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            mn[k] = INFINITY;                                                                                          \
            mx[k] = -INFINITY;                                                                                         \
        }                                                                                                              \
        uint64_t i = 0;                                                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES) {                                                                 \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                double v = (double)x[i + k];                                                                           \
                int ok = v == v;                                                                                       \
                mn[k] = v < mn[k] ? v : mn[k];                                                                         \
                mx[k] = v > mx[k] ? v : mx[k];                                                                         \
                v = ok ? v : 0.0;                                                                                      \
                cnt[k] += ok;                                                                                          \
                double p, e;                                                                                           \
                if (exact) {                                                                                           \
                    p = v * v;                                                                                         \
                    e = 0.0;                                                                                           \
                } else {                                                                                               \
                    H5MR_EXACT_SQUARE(v, p, e);                                                                        \
                }                                                                                                      \
                H5MR_TWOSUM_ACC(h1[k], l1[k], v);                                                                      \
                H5MR_TWOSUM_ACC(h2[k], l2[k], p);                                                                      \
                l2[k] += e;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
        for (; i < n; i++) {                                                                                           \
            double v = (double)x[i], p, e;                                                                             \
            if (v != v) continue;                                                                                      \
            mn[0] = v < mn[0] ? v : mn[0];                                                                             \
            mx[0] = v > mx[0] ? v : mx[0];                                                                             \
            cnt[0]++;                                                                                                  \
            if (exact) {                                                                                               \
                p = v * v;                                                                                             \
                e = 0.0;                                                                                               \
            } else {                                                                                                   \
                H5MR_EXACT_SQUARE(v, p, e);                                                                            \
            }                                                                                                          \
            H5MR_TWOSUM_ACC(h1[0], l1[0], v);                                                                          \
            H5MR_TWOSUM_ACC(h2[0], l2[0], p);                                                                          \
            l2[0] += e;                                                                                                \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        int64_t c = 0;                                                                                                 \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            finite &= isfinite(h1[k]) && isfinite(l1[k]) && isfinite(h2[k]) && isfinite(l2[k]);                        \
            c += cnt[k];                                                                                               \
            s->fmin = mn[k] < s->fmin ? mn[k] : s->fmin;                                                               \
            s->fmax = mx[k] > s->fmax ? mx[k] : s->fmax;                                                               \
        }                                                                                                              \
        s->count += c;                                                                                                 \
        s->nan_count += (int64_t)n - c;                                                                                \
        if (finite) {                                                                                                  \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                if (s1) {                                                                                              \
                    h5mr_xsum_add(s1, h1[k]);                                                                          \
                    h5mr_xsum_add(s1, l1[k]);                                                                          \
                }                                                                                                      \
                h5mr_xsum_add(&s->s2, h2[k]);                                                                          \
                h5mr_xsum_add(&s->s2, l2[k]);                                                                          \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        /* Infinities, or squares beyond the double range: one by one.  x² of a                                       \
         * huge finite x is +inf here, as numpy's float64 variance would be. */                                        \
        for (i = 0; i < n; i++) {                                                                                      \
            double v = (double)x[i], p, e = 0.0;                                                                       \
            if (v != v) continue;                                                                                      \
            if (s1) h5mr_xsum_add(s1, v);                                                                              \
            if (fabs(v) < 0x1p996) {                                                                                   \
                H5MR_EXACT_SQUARE(v, p, e);                                                                            \
            } else {                                                                                                   \
                p = v * v;                                                                                             \
            }                                                                                                          \
            h5mr_xsum_add(&s->s2, p);                                                                                  \
            h5mr_xsum_add(&s->s2, e);                                                                                  \
        }                                                                                                              \
    }

/* The fast path of one item: eight lanes (element i in lane i mod 8) of TwoSum for Σx
 * and for Σx² (x² split exactly into p + e), and min/max, with no NaN test.  Returns 0
 * when a lane is not finite (a NaN, an infinity, an overflow): the item then takes the
 * careful path above.  With exact = 1 the squares need no split (small types). */
#define FAST(T, exact)                                                                                                 \
    H5MR_HOT static int fast_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1)                                \
    {                                                                                                                  \
        h5mr_v4d h1[2] = {{0}}, l1[2] = {{0}}, h2[2] = {{0}}, l2[2] = {{0}};                                           \
        h5mr_v4d mn[2], mx[2];                                                                                         \
        for (int k = 0; k < 2; k++)                                                                                    \
            mn[k] = mx[k] = h5mr_load4_##T(x);                                                                         \
        for (uint64_t i = 0; i + 8 <= n; i += 8) {                                                                     \
            for (int k = 0; k < 2; k++) {                                                                              \
                h5mr_v4d v = h5mr_load4_##T(x + i + 4 * k), p, e;                                                      \
                mn[k] = h5mr_v4_select(v < mn[k], v, mn[k]);                                                           \
                mx[k] = h5mr_v4_select(v > mx[k], v, mx[k]);                                                           \
                if (exact) {                                                                                           \
                    p = v * v;                                                                                         \
                    e = (h5mr_v4d){0};                                                                                 \
                } else {                                                                                               \
                    H5MR_EXACT_SQUARE(v, p, e);                                                                        \
                }                                                                                                      \
                H5MR_TWOSUM_ACC(h1[k], l1[k], v);                                                                      \
                H5MR_TWOSUM_ACC(h2[k], l2[k], p);                                                                      \
                l2[k] += e;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
        for (int k = 0; k < 8; k++)                                                                                    \
            if (!isfinite(h1[k / 4][k % 4]) || !isfinite(l1[k / 4][k % 4]) || !isfinite(h2[k / 4][k % 4]) ||           \
                !isfinite(l2[k / 4][k % 4]))                                                                           \
                return 0;                                                                                              \
        for (int k = 0; k < 8; k++) {                                                                                  \
            double a = mn[k / 4][k % 4], b = mx[k / 4][k % 4];                                                         \
            s->fmin = a < s->fmin ? a : s->fmin;                                                                       \
            s->fmax = b > s->fmax ? b : s->fmax;                                                                       \
            if (s1) {                                                                                                  \
                h5mr_xsum_add(s1, h1[k / 4][k % 4]);                                                                   \
                h5mr_xsum_add(s1, l1[k / 4][k % 4]);                                                                   \
            }                                                                                                          \
            h5mr_xsum_add(&s->s2, h2[k / 4][k % 4]);                                                                   \
            h5mr_xsum_add(&s->s2, l2[k / 4][k % 4]);                                                                   \
        }                                                                                                              \
        s->count += (int64_t)n;                                                                                        \
        return 1;                                                                                                      \
    }

/* One item: the fast path over whole groups of eight, the careful one otherwise. */
#define ITEM(T)                                                                                                        \
    static void item_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1)                                        \
    {                                                                                                                  \
        uint64_t body = n - n % 8;                                                                                     \
        if (body > 0 && fast_##T(x, body, s, s1)) {                                                                    \
            squares_##T(x + body, n - body, s, s1);                                                                    \
            return;                                                                                                    \
        }                                                                                                              \
        squares_##T(x, n, s, s1);                                                                                      \
    }

/* Integer types also sum x exactly and track exact min/max. */
#define INTS(T, ACC)                                                                                                   \
    static void ints_##T(const T *x, uint64_t n, stats_state *s)                                                       \
    {                                                                                                                  \
        ACC acc[H5MR_LANES] = {0};                                                                                     \
        T mn[H5MR_LANES], mx[H5MR_LANES];                                                                              \
        if (n == 0) return;                                                                                            \
        for (int k = 0; k < H5MR_LANES; k++)                                                                           \
            mn[k] = mx[k] = x[0];                                                                                      \
        uint64_t i = 0;                                                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES)                                                                   \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                T v = x[i + k];                                                                                        \
                acc[k] += v;                                                                                           \
                mn[k] = v < mn[k] ? v : mn[k];                                                                         \
                mx[k] = v > mx[k] ? v : mx[k];                                                                         \
            }                                                                                                          \
        for (; i < n; i++) {                                                                                           \
            acc[0] += x[i];                                                                                            \
            mn[0] = x[i] < mn[0] ? x[i] : mn[0];                                                                       \
            mx[0] = x[i] > mx[0] ? x[i] : mx[0];                                                                       \
        }                                                                                                              \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            s->isum += acc[k];                                                                                         \
            if (mn[k] < s->imin) s->imin = mn[k];                                                                      \
            if (mx[k] > s->imax) s->imax = mx[k];                                                                      \
        }                                                                                                              \
        item_##T(x, n, s, NULL);                                                                                       \
    }

SQUARES(int8_t, 1)
SQUARES(int16_t, 1)
SQUARES(int32_t, 0)
SQUARES(int64_t, 0)
SQUARES(uint8_t, 1)
SQUARES(uint16_t, 1)
SQUARES(uint32_t, 0)
SQUARES(uint64_t, 0)
SQUARES(float, 1)
SQUARES(double, 0)
FAST(int8_t, 1)
FAST(int16_t, 1)
FAST(int32_t, 0)
FAST(int64_t, 0)
FAST(uint8_t, 1)
FAST(uint16_t, 1)
FAST(uint32_t, 0)
FAST(uint64_t, 0)
FAST(float, 1)
FAST(double, 0)
ITEM(int8_t)
ITEM(int16_t)
ITEM(int32_t)
ITEM(int64_t)
ITEM(uint8_t)
ITEM(uint16_t)
ITEM(uint32_t)
ITEM(uint64_t)
ITEM(float)
ITEM(double)
INTS(int8_t, int64_t)
INTS(int16_t, int64_t)
INTS(int32_t, int64_t)
INTS(int64_t, __int128)
INTS(uint8_t, int64_t)
INTS(uint16_t, int64_t)
INTS(uint32_t, int64_t)
INTS(uint64_t, __int128)

static h5mr_status stats_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_set_state_size(ctx, sizeof(stats_state));
    return H5MR_OK;
}

static h5mr_status stats_init(h5mr_ctx *ctx, void *state)
{
    stats_state *s = state;
    s->fmin = INFINITY;
    s->fmax = -INFINITY;
    s->imin = ((__int128)1) << 100;
    s->imax = -s->imin;
    return H5MR_OK;
}

static h5mr_status stats_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    uint64_t n = b->rows * b->row_elems;
    stats_state *s = state;
    switch (b->dtype) {
    case H5MR_DTYPE_I8: ints_int8_t(b->data, n, s); break;
    case H5MR_DTYPE_I16: ints_int16_t(b->data, n, s); break;
    case H5MR_DTYPE_I32: ints_int32_t(b->data, n, s); break;
    case H5MR_DTYPE_I64: ints_int64_t(b->data, n, s); break;
    case H5MR_DTYPE_U8: ints_uint8_t(b->data, n, s); break;
    case H5MR_DTYPE_U16: ints_uint16_t(b->data, n, s); break;
    case H5MR_DTYPE_U32: ints_uint32_t(b->data, n, s); break;
    case H5MR_DTYPE_U64: ints_uint64_t(b->data, n, s); break;
    case H5MR_DTYPE_F32: item_float(b->data, n, s, &s->s1); break;
    case H5MR_DTYPE_F64: item_double(b->data, n, s, &s->s1); break;
    default: return h5mr_ctx_error(ctx, H5MR_EINPUT, "stats: unsupported type");
    }
    return H5MR_OK;
}

static h5mr_status stats_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    stats_state *a = into;
    const stats_state *b = from;
    a->isum += b->isum;
    if (b->imin < a->imin) a->imin = b->imin;
    if (b->imax > a->imax) a->imax = b->imax;
    a->count += b->count;
    a->nan_count += b->nan_count;
    a->fmin = b->fmin < a->fmin ? b->fmin : a->fmin;
    a->fmax = b->fmax > a->fmax ? b->fmax : a->fmax;
    h5mr_xsum_merge(&a->s1, &b->s1);
    h5mr_xsum_merge(&a->s2, &b->s2);
    return H5MR_OK;
}

static h5mr_status set_int(h5mr_result *r, const char *name, __int128 v)
{
    if (v >= INT64_MIN && v <= INT64_MAX) return h5mr_result_set_i64(r, name, (int64_t)v);
    return h5mr_result_set_f64(r, name, (double)v);
}

static h5mr_status stats_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const stats_state *s = state;
    int is_float = h5mr_dtype_is_float(h5mr_ctx_dtype(ctx));
    double n = (double)s->count;
    h5mr_dd s1;
    if (is_float) {
        h5mr_xsum_round2(&s->s1, &s1.hi, &s1.lo);
    } else {
        s1.hi = (double)s->isum;
        s1.lo = (double)(s->isum - (__int128)s1.hi);
    }
    h5mr_dd s2;
    h5mr_xsum_round2(&s->s2, &s2.hi, &s2.lo);

    h5mr_status st = h5mr_result_set_i64(r, "count", s->count);
    if (st == H5MR_OK) st = h5mr_result_set_i64(r, "nan_count", s->nan_count);
    if (st == H5MR_OK) st = is_float ? h5mr_result_set_f64(r, "sum", s1.hi) : set_int(r, "sum", s->isum);
    if (st != H5MR_OK) return st;
    if (s->count == 0) {
        const char *undefined[] = {"mean", "var", "std", "min", "max"};
        for (int i = 0; i < 5 && st == H5MR_OK; i++)
            st = h5mr_result_set_null(r, undefined[i]);
        return st;
    }
    double mean = h5mr_dd_div(s1, n);
    double var;
    if (!isfinite(s1.hi) || !isfinite(s2.hi)) {
        var = isnan(s1.hi) || isnan(s2.hi) || isinf(s1.hi) ? NAN : INFINITY;
    } else {
        /* (n·Σx² − (Σx)²) / n² */
        h5mr_dd nd = {n, 0.0};
        h5mr_dd a = h5mr_dd_add(h5mr_dd_mul(nd, s2), h5mr_dd_neg(h5mr_dd_mul(s1, s1)));
        var = h5mr_dd_div(a, n) / n;
        if (var < 0) var = 0;
    }
    st = h5mr_result_set_f64(r, "mean", mean);
    if (st == H5MR_OK) st = h5mr_result_set_f64(r, "var", var);
    if (st == H5MR_OK) st = h5mr_result_set_f64(r, "std", sqrt(var));
    if (is_float) {
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "min", s->fmin);
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "max", s->fmax);
    } else {
        if (st == H5MR_OK) st = set_int(r, "min", s->imin);
        if (st == H5MR_OK) st = set_int(r, "max", s->imax);
    }
    return st;
}

const h5mr_kernel h5mr__kernel_stats = {
    .abi = H5MR_KERNEL_ABI,
    .name = "stats",
    .description = "count, nan_count, sum, mean, var (ddof 0), std, min, max of non-NaN elements",
    .params = NULL,
    .setup = stats_setup,
    .init = stats_init,
    .map = stats_map,
    .combine = stats_combine,
    .finish = stats_finish,
};
