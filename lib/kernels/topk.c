/* topk.c: the `topk` kernel — the k largest (or smallest) values and their flat
 * indices, best first, ties broken by the lower index.  The state is a heap of the k
 * best seen, worst on top; "better" is a total order on (value, index), so the result
 * does not depend on the order in which items or states arrive. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

#define TOPK_MAX ((int64_t)1 << 20) /* a result a user can read: ~40 MB of JSON at most */

typedef struct topk_entry {
    h5mr_wide v;
    uint64_t idx;
} topk_entry;

typedef struct topk_state {
    int64_t n;
    topk_entry e[]; /* a heap of n <= k entries, the worst at e[0] */
} topk_state;

typedef struct topk_config {
    int64_t k;
    int largest;            /* of the values compared: the stored ones when packed (a negative scale: the other way) */
    int kind;               /* 0 float, 1 signed, 2 unsigned */
    const h5mr_packing *pk; /* packed integers taken as stored (unpacked at finish), or NULL */
    int64_t mk;             /* pk->has_missing: the marker */
} topk_config;

/* Is a better than b?  Larger (or smaller) value first, then the lower index. */
static inline int better(const topk_config *c, const topk_entry *a, const topk_entry *b)
{
    int gt, eq;
    switch (c->kind) {
    case 0: gt = a->v.f > b->v.f, eq = a->v.f == b->v.f; break;
    case 1: gt = a->v.i > b->v.i, eq = a->v.i == b->v.i; break;
    default: gt = a->v.u > b->v.u, eq = a->v.u == b->v.u; break;
    }
    if (!eq) return c->largest ? gt : !gt;
    return a->idx < b->idx;
}

static void sift_down(const topk_config *c, topk_entry *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(c, &h[w], &h[l])) w = l;
        if (r < n && better(c, &h[w], &h[r])) w = r;
        if (w == i) return;
        topk_entry t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void offer(const topk_config *c, topk_state *s, const topk_entry *x)
{
    if (s->n < c->k) {
        int64_t i = s->n++;
        s->e[i] = *x;
        while (i > 0) { /* sift up: the worse goes to the top */
            int64_t p = (i - 1) / 2;
            if (!better(c, &s->e[p], &s->e[i])) break;
            topk_entry t = s->e[p];
            s->e[p] = s->e[i];
            s->e[i] = t;
            i = p;
        }
    } else if (c->k > 0 && better(c, x, &s->e[0])) {
        s->e[0] = *x;
        sift_down(c, s->e, s->n, 0);
    }
}

/* Once the heap is full, only a value at least as good as its worst can get in: blocks
 * of TOPK_RUN values are first tested against that value, all at once (a loop without
 * branches the compiler vectorises; NaN fails the test), and offered one by one only
 * where one of them passes.  On data in no particular order almost none does. */
#define TOPK_RUN 64
/* Value val at element `at` offered to the heap if OK(val) (not NaN; not the marker). */
#define TOPK_NOT_NAN(v) ((v) == (v))
#define TOPK_NOT_MK(v) ((v) != mk)
#define TOPK_OFFER(F, val, at, OK)                                                                                     \
    do {                                                                                                               \
        if (OK(val)) {                                                                                                 \
            topk_entry e_;                                                                                             \
            e_.v.F = (val);                                                                                            \
            e_.idx = (at);                                                                                             \
            offer(c, s, &e_);                                                                                          \
        }                                                                                                              \
    } while (0)
#define TOPK_TYPE(T, F, NAME, OK)                                                                                      \
    static void NAME(const T *x, uint64_t n, uint64_t base, const topk_config *c, topk_state *s)                       \
    {                                                                                                                  \
        const T mk = (T)c->mk;                                                                                         \
        (void)mk;                                                                                                      \
        uint64_t i = 0;                                                                                                \
        for (; i < n && s->n < c->k; i++)                                                                              \
            TOPK_OFFER(F, x[i], base + i, OK);                                                                         \
        for (; i < n && c->k > 0; i += TOPK_RUN) {                                                                     \
            uint64_t m = n - i < TOPK_RUN ? n - i : TOPK_RUN;                                                          \
            const T *y = x + i;                                                                                        \
            __typeof__(s->e[0].v.F) t = s->e[0].v.F;                                                                   \
            int any = 0;                                                                                               \
            if (c->largest)                                                                                            \
                for (uint64_t j = 0; j < m; j++)                                                                       \
                    any |= y[j] >= t;                                                                                  \
            else                                                                                                       \
                for (uint64_t j = 0; j < m; j++)                                                                       \
                    any |= y[j] <= t;                                                                                  \
            for (uint64_t j = 0; any && j < m; j++)                                                                    \
                TOPK_OFFER(F, y[j], base + i + j, OK);                                                                 \
        }                                                                                                              \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) TOPK_TYPE(T, W, topk_##T, TOPK_NOT_NAN)
H5MR_DTYPE_EACH
#undef H5MR_EACH
TOPK_TYPE(int8_t, i, topk_miss_int8_t, TOPK_NOT_MK)
TOPK_TYPE(uint8_t, u, topk_miss_uint8_t, TOPK_NOT_MK)
TOPK_TYPE(int16_t, i, topk_miss_int16_t, TOPK_NOT_MK)
TOPK_TYPE(uint16_t, u, topk_miss_uint16_t, TOPK_NOT_MK)
TOPK_TYPE(int32_t, i, topk_miss_int32_t, TOPK_NOT_MK)
TOPK_TYPE(uint32_t, u, topk_miss_uint32_t, TOPK_NOT_MK)

static h5mr_status topk_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    topk_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, free);
    if (!c) return H5MR_ENOMEM;
    c->k = 10;
    c->largest = 1;
    h5mr_status st = h5mr_ctx_param_i64(ctx, "k", &c->k);
    if (st == H5MR_OK) st = h5mr_ctx_param_bool(ctx, "largest", &c->largest);
    if (st != H5MR_OK) return st;
    if (c->k < 0 || c->k > TOPK_MAX)
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel topk: k=%lld must be from 0 to %lld", (long long)c->k,
                              (long long)TOPK_MAX);
    const h5mr_packing *pk = h5mr_ctx_packing(ctx);
    if (pk && h5mr_unpack_monotonic(pk)) {
        h5mr_ctx_accept_packed(ctx);
        c->pk = pk;
        c->mk = pk->missing;
        c->largest = c->largest != (pk->scale < 0);
    }
    h5mr_dtype t = h5mr_ctx_dtype(ctx);
    c->kind = h5mr_dtype_is_float(t) ? 0 : h5mr_dtype_is_signed(t) ? 1 : 2;
    h5mr_ctx_set_state_size(ctx, sizeof(topk_state) + (size_t)c->k * sizeof(topk_entry));
    return H5MR_OK;
}

static h5mr_status topk_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const topk_config *c = h5mr_ctx_config(ctx);
    uint64_t n = b->rows * b->row_elems, base = b->first_row * b->row_elems;
    if (c->pk && c->pk->has_missing) {
#define H5MR_CASE(T, LO, HI) topk_miss_##T(b->data, n, base, c, state);
        H5MR_PACKED_SWITCH(b->dtype,
                           return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "topk: a packing of an unexpected stored type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
#define H5MR_CASE(T, W) topk_##T(b->data, n, base, c, state);
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "topk: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status topk_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const topk_config *c = h5mr_ctx_config(ctx);
    const topk_state *b = from;
    for (int64_t i = 0; i < b->n; i++)
        offer(c, into, &b->e[i]);
    return H5MR_OK;
}

static const topk_config *sort_config;
static int by_better(const void *a, const void *b)
{
    return better(sort_config, a, b) ? -1 : better(sort_config, b, a) ? 1 : 0;
}

static h5mr_status topk_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const topk_config *c = h5mr_ctx_config(ctx);
    const topk_state *s = state;
    uint64_t n = (uint64_t)s->n;
    topk_entry *e = malloc(n * sizeof *e + 1);
    int64_t *idx = malloc(n * 8 + 8);
    void *vals = malloc(n * 8 + 8);
    h5mr_status st = H5MR_ENOMEM;
    if (e && idx && vals) {
        memcpy(e, s->e, n * sizeof *e);
        sort_config = c;
        qsort(e, n, sizeof *e, by_better);
        int big = 0;
        for (uint64_t i = 0; c->kind == 2 && i < n; i++)
            big |= e[i].v.u > INT64_MAX;
        /* packed: the values unpacked (as f64 even with a fill value only, as before) */
        h5mr_field_type type = c->kind == 0 || c->pk ? H5MR_FIELD_F64 : big ? H5MR_FIELD_U64 : H5MR_FIELD_I64;
        for (uint64_t i = 0; i < n; i++) {
            idx[i] = (int64_t)e[i].idx;
            if (c->pk)
                ((double *)vals)[i] = h5mr_unpack(c->pk, c->kind == 1 ? (double)e[i].v.i : (double)e[i].v.u);
            else if (c->kind == 0)
                ((double *)vals)[i] = e[i].v.f;
            else if (big)
                ((uint64_t *)vals)[i] = e[i].v.u;
            else
                ((int64_t *)vals)[i] = e[i].v.i;
        }
        st = h5mr_result_set_array(r, "values", type, 1, &n, vals, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "indices", H5MR_FIELD_I64, 1, &n, idx, NULL);
    }
    free(e);
    free(idx);
    free(vals);
    return st;
}

static const h5mr_param_decl topk_params[] = {
    {"k", "10", "how many values"}, {"largest", "true", "true: the largest, false: the smallest"}, {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_topk = {
    H5MR_KERNEL_FIELDS("topk", "the k largest (or smallest) values and their flat indices, best first", topk)};
