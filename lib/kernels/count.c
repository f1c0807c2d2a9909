/* count.c: the `count` kernel — how many non-NaN elements satisfy every comparison
 * given (gt ge lt le eq ne, compared in double), and how many non-NaN there are.
 * CF-packed integers are taken as stored where unpacking is strictly monotonic: the
 * comparisons become an interval of stored integers (found by bisection on the
 * unpacked values, computed as a netCDF reader computes them), less at most one
 * integer (ne) and the marker of missing values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

typedef struct count_state {
    int64_t count, total;
} count_state;

enum { GT, GE, LT, LE, EQ, NE, NOPS };
static const char *const op_names[NOPS] = {"gt", "ge", "lt", "le", "eq", "ne"};

/* Every combination of the comparisons is an interval, [lo, hi] with either end open,
 * and at most one value left out (ne): the loop then has no branch and no flag, and
 * compares in double exactly as the parameters say. */
typedef struct count_config {
    double lo, hi, ne;
    int lo_open, hi_open, has_ne;
    /* packed integers taken as stored: a <= x <= b (empty: none), x != e (has_e), x != mk */
    int packed, empty, has_e, has_mk;
    int64_t a, b, e, mk;
    /* The same interval for f32 data as comparisons of floats (f32_bounds): 8 lanes a
     * vector instead of 4 doubles, the same elements counted. */
    float flo, fhi, fne;
    int32_t flo_closed, fhi_closed, fany_ne;
} count_config;

#define COUNT_TYPE(T)                                                                                                  \
    H5MR_HOT static void count_##T(const T *restrict x, uint64_t n, const count_config *c, count_state *s)             \
    {                                                                                                                  \
        const double lo = c->lo, hi = c->hi, ne = c->ne;                                                               \
        const int64_t lo_closed = !c->lo_open, hi_closed = !c->hi_open, any_ne = !c->has_ne;                           \
        int64_t hits = 0, total = 0;                                                                                   \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            double v = (double)x[i];                                                                                   \
            total += v == v;                                                                                           \
            /* NaN fails every comparison, so it is never counted */                                                   \
            hits +=                                                                                                    \
                ((v > lo) | ((v == lo) & lo_closed)) & ((v < hi) | ((v == hi) & hi_closed)) & ((v != ne) | any_ne);    \
        }                                                                                                              \
        s->count += hits;                                                                                              \
        s->total += total;                                                                                             \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) COUNT_TYPE(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

/* f32 data compared in float: 16-bit lane masks would not do, int32 lanes count up to
 * 2^31, so a block is counted 2^24 values at a time. */
H5MR_HOT static void count_f32(const float *restrict x, uint64_t n, const count_config *c, count_state *s)
{
    const float lo = c->flo, hi = c->fhi, ne = c->fne;
    const int32_t lo_closed = c->flo_closed, hi_closed = c->fhi_closed, any_ne = c->fany_ne;
    for (uint64_t i0 = 0; i0 < n; i0 += (uint64_t)1 << 24) {
        uint64_t m = n - i0 < ((uint64_t)1 << 24) ? n - i0 : (uint64_t)1 << 24;
        const float *restrict y = x + i0;
        int32_t hits = 0, total = 0;
        for (uint64_t i = 0; i < m; i++) {
            float v = y[i];
            total += v == v;
            hits += ((v > lo) | ((v == lo) & lo_closed)) & ((v < hi) | ((v == hi) & hi_closed)) & ((v != ne) | any_ne);
        }
        s->count += hits;
        s->total += total;
    }
}

/* A double bound as a float one: for a float x, (double)x > lo (>= lo) is x > f (x >= f)
 * where lo is the float f, else x >= the least float above lo; below hi the same way
 * down.  (The conversion of a double beyond the floats' range gives an infinity, which
 * the step back to the range handles.) */
static void f32_bounds(count_config *c)
{
    float lo = (float)c->lo, hi = (float)c->hi;
    c->flo_closed = !c->lo_open, c->fhi_closed = !c->hi_open;
    if ((double)lo != c->lo) {
        if ((double)lo < c->lo) lo = nextafterf(lo, INFINITY);
        c->flo_closed = 1;
    }
    if ((double)hi != c->hi) {
        if ((double)hi > c->hi) hi = nextafterf(hi, -INFINITY);
        c->fhi_closed = 1;
    }
    c->flo = lo, c->fhi = hi;
    /* a value no float equals leaves none out */
    c->fne = (float)c->ne;
    c->fany_ne = !c->has_ne || (double)c->fne != c->ne;
}

/* The stored integers of a packing, in their own type. */
#define COUNT_PK(T)                                                                                                    \
    H5MR_HOT static void count_pk_##T(const T *restrict x, uint64_t n, const count_config *c, count_state *s)          \
    {                                                                                                                  \
        const T a = (T)c->a, b = (T)c->b, e = (T)c->e, mk = (T)c->mk;                                                  \
        const int any_e = !c->has_e, any_mk = !c->has_mk, none = c->empty;                                             \
        int64_t hits = 0, total = 0;                                                                                   \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            T v = x[i];                                                                                                \
            int counts = (v != mk) | any_mk;                                                                           \
            total += counts;                                                                                           \
            hits += (v >= a) & (v <= b) & ((v != e) | any_e) & counts;                                                 \
        }                                                                                                              \
        s->count += none ? 0 : hits;                                                                                   \
        s->total += total;                                                                                             \
    }
COUNT_PK(int8_t)
COUNT_PK(uint8_t)
COUNT_PK(int16_t)
COUNT_PK(uint16_t)
COUNT_PK(int32_t)
COUNT_PK(uint32_t)

/* Whether unpacked value u passes the lower (which 0) or upper (1) bound. */
static int passes(const count_config *c, int which, double u)
{
    return which == 0 ? u > c->lo || (u == c->lo && !c->lo_open) : u < c->hi || (u == c->hi && !c->hi_open);
}

/* The first stored x in [lo, hi] where f goes from false to true (f monotonic), or hi + 1. */
typedef int (*xpred)(const count_config *c, const h5mr_packing *pk, int arg, int64_t x);
static int64_t first_true(const count_config *c, const h5mr_packing *pk, int arg, xpred f, int64_t lo, int64_t hi)
{
    int64_t end = hi + 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (f(c, pk, arg, mid))
            end = mid, hi = mid - 1;
        else
            lo = mid + 1;
    }
    return end;
}
/* arg bit 0: the bound; bit 1: negated (for the predicates that go from true to false) */
static int bound_at(const count_config *c, const h5mr_packing *pk, int arg, int64_t x)
{
    return passes(c, arg & 1, h5mr_unpack(pk, (double)x)) != (arg >> 1);
}
/* arg: 1 with a negative scale */
static int reaches_ne(const count_config *c, const h5mr_packing *pk, int arg, int64_t x)
{
    double u = h5mr_unpack(pk, (double)x);
    return arg ? u <= c->ne : u >= c->ne;
}

/* The comparisons as an interval of stored integers of type t in [tlo, thi]. */
static void to_stored(count_config *c, const h5mr_packing *pk, int64_t tlo, int64_t thi)
{
    int neg = pk->scale < 0;
    /* increasing: lower bound false -> true, upper true -> false; decreasing: reversed */
    int64_t a = first_true(c, pk, neg ? 1 : 0, bound_at, tlo, thi);
    int64_t b = first_true(c, pk, neg ? 0 | 2 : 1 | 2, bound_at, tlo, thi) - 1;
    c->a = a > tlo ? a : tlo, c->b = b < thi ? b : thi;
    c->empty = a > b;
    c->has_e = 0;
    if (c->has_ne) {
        int64_t x = first_true(c, pk, neg, reaches_ne, tlo, thi);
        if (x <= thi && h5mr_unpack(pk, (double)x) == c->ne) c->e = x, c->has_e = 1;
    }
    c->has_mk = pk->has_missing, c->mk = pk->missing;
}

/* Tighten [lo, hi] by one comparison. */
static void bound_lo(count_config *c, double v, int open)
{
    if (v > c->lo || (v == c->lo && open)) c->lo = v, c->lo_open = open;
}
static void bound_hi(count_config *c, double v, int open)
{
    if (v < c->hi || (v == c->hi && open)) c->hi = v, c->hi_open = open;
}

static h5mr_status count_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_BY);
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    count_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, free);
    if (!c) return H5MR_ENOMEM;
    c->lo = -INFINITY, c->hi = INFINITY; /* closed: every number, infinities included */
    for (int k = 0; k < NOPS; k++) {
        if (!h5mr_ctx_param(ctx, op_names[k])) continue;
        double v = 0;
        h5mr_status st = h5mr_ctx_param_f64(ctx, op_names[k], &v);
        if (st != H5MR_OK) return st;
        switch (k) {
        case GT: bound_lo(c, v, 1); break;
        case GE: bound_lo(c, v, 0); break;
        case LT: bound_hi(c, v, 1); break;
        case LE: bound_hi(c, v, 0); break;
        case EQ: bound_lo(c, v, 0), bound_hi(c, v, 0); break;
        default: c->ne = v, c->has_ne = 1; break;
        }
    }
    f32_bounds(c);
    const h5mr_packing *pk = h5mr_ctx_packing(ctx);
    if (pk && h5mr_unpack_monotonic(pk)) {
        h5mr_ctx_accept_packed(ctx);
        int64_t tlo = 0, thi = 0;
#define H5MR_CASE(T, LO, HI) tlo = LO, thi = HI;
        H5MR_PACKED_SWITCH(h5mr_ctx_dtype(ctx),
                           return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "count: a packing of an unexpected stored type");)
#undef H5MR_CASE
        to_stored(c, pk, tlo, thi);
        c->packed = 1;
    }
    h5mr_ctx_set_state_size(ctx, sizeof(count_state));
    return H5MR_OK;
}

static h5mr_status count_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    uint64_t n = b->rows * b->row_elems;
    const count_config *c = h5mr_ctx_config(ctx);
    if (c->packed) {
#define H5MR_CASE(T, LO, HI) count_pk_##T(b->data, n, c, state);
        H5MR_PACKED_SWITCH(b->dtype,
                           return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "count: a packing of an unexpected stored type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
    if (b->dtype == H5MR_DTYPE_F32) {
        count_f32(b->data, n, c, state);
        return H5MR_OK;
    }
#define H5MR_CASE(T, W) count_##T(b->data, n, c, state);
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "count: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status count_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    count_state *a = into;
    const count_state *b = from;
    a->count += b->count;
    a->total += b->total;
    return H5MR_OK;
}

static h5mr_status count_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const count_state *s = state;
    h5mr_status st = h5mr_result_set_i64(r, "count", s->count);
    return st == H5MR_OK ? h5mr_result_set_i64(r, "total", s->total) : st;
}

static const h5mr_param_decl count_params[] = {{"gt", NULL, "count values > this"},
                                               {"ge", NULL, "count values >= this"},
                                               {"lt", NULL, "count values < this"},
                                               {"le", NULL, "count values <= this"},
                                               {"eq", NULL, "count values == this"},
                                               {"ne", NULL, "count values != this (never NaN)"},
                                               {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_count = {
    H5MR_KERNEL_FIELDS("count", "how many non-NaN elements satisfy all the comparisons given, out of how many", count)};
