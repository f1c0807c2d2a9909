/* valuecounts.c: the `valuecounts` kernel — every distinct value of an integer dataset
 * and how often it occurs, values ascending.  The state is an open-addressing hash map
 * of variable size, packed as (value, count) pairs for the reduction.  Items of 8- and
 * 16-bit types are first counted into a dense table, then folded into the map. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

typedef struct vc_map {
    uint64_t *keys;
    int64_t *counts; /* 0: empty slot */
    uint64_t cap, n; /* cap a power of two, n < cap / 2 */
} vc_map;

typedef struct vc_config {
    int64_t *dense; /* 65536 counters for 8- and 16-bit items */
    int has_mk;     /* CF: a fill value (or missing markers) only, taken as stored: */
    int64_t mk;     /* the one stored value of every missing element, not counted */
} vc_config;

static uint64_t slot_of(uint64_t key, uint64_t cap) { return (key * 0x9e3779b97f4a7c15ULL) >> 7 & (cap - 1); }

static int vc_grow(vc_map *m)
{
    uint64_t cap = m->cap ? 2 * m->cap : 1024;
    uint64_t *keys = malloc(cap * sizeof *keys);
    int64_t *counts = calloc(cap, sizeof *counts);
    if (!keys || !counts) {
        free(keys), free(counts);
        return -1;
    }
    for (uint64_t i = 0; i < m->cap; i++) {
        if (!m->counts[i]) continue;
        uint64_t j = slot_of(m->keys[i], cap);
        while (counts[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        counts[j] = m->counts[i];
    }
    free(m->keys), free(m->counts);
    m->keys = keys, m->counts = counts, m->cap = cap;
    return 0;
}

static int vc_add(vc_map *m, uint64_t key, int64_t count)
{
    if (2 * (m->n + 1) > m->cap && vc_grow(m)) return -1;
    uint64_t j = slot_of(key, m->cap);
    while (m->counts[j] && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->counts[j]) m->keys[j] = key, m->n++;
    m->counts[j] += count;
    return 0;
}

static void *vc_new(h5mr_ctx *ctx) { return calloc(1, sizeof(vc_map)); }

static void vc_free(h5mr_ctx *ctx, void *state)
{
    vc_map *m = state;
    free(m->keys), free(m->counts), free(m);
}

/* Keys are the values widened to 64 bits (signed ones sign-extended). */
#define VC_TYPE(T, DENSE, OFFSET)                                                                                      \
    static int vc_##T(const T *x, uint64_t n, vc_map *m, int64_t *dense, const vc_config *c)                           \
    {                                                                                                                  \
        if (DENSE) {                                                                                                   \
            for (uint64_t i = 0; i < n; i++)                                                                           \
                dense[(int64_t)x[i] + OFFSET]++;                                                                       \
            if (c->has_mk) dense[(int64_t)(T)c->mk + OFFSET] = 0;                                                      \
            for (int64_t v = 0; v < 65536; v++) {                                                                      \
                if (!dense[v]) continue;                                                                               \
                if (vc_add(m, (uint64_t)(int64_t)(v - OFFSET), dense[v])) return -1;                                   \
                dense[v] = 0;                                                                                          \
            }                                                                                                          \
            return 0;                                                                                                  \
        }                                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                                               \
            if (!(c->has_mk && x[i] == (T)c->mk) && vc_add(m, (uint64_t)x[i], 1)) return -1;                           \
        return 0;                                                                                                      \
    }
/* Integers only; 8 and 16 bits through a dense table of 65536 counts. */
#define VC_IF_1(T, BITS, LO)
#define VC_IF_0(T, BITS, LO) VC_TYPE(T, (BITS) <= 16, ((BITS) <= 16 && (LO) < 0 ? 32768 : 0))
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) VC_IF_##ISF(T, BITS, LO)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static void vc_config_free(void *p)
{
    vc_config *c = p;
    free(c->dense);
    free(c);
}

static h5mr_status vc_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    /* CF with a fill value or missing markers only: the stored integers, less the
     * missing ones (scaled values are floats: refused below, as the SPEC says). */
    const h5mr_packing *pk = h5mr_ctx_packing(ctx);
    if (pk && !pk->packed) h5mr_ctx_accept_packed(ctx);
    h5mr_dtype t = h5mr_ctx_dtype(ctx);
    if (h5mr_dtype_is_float(t))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel valuecounts takes integer datasets only; this one is %s",
                              h5mr_dtype_name(t));
    vc_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, vc_config_free);
    if (!c) return H5MR_ENOMEM;
    if (h5mr_dtype_size(t) <= 2 && !(c->dense = calloc(65536, sizeof *c->dense))) return H5MR_ENOMEM;
    if (pk && !pk->packed) c->has_mk = pk->has_missing, c->mk = pk->missing;
    return H5MR_OK;
}

static h5mr_status vc_map_item(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    vc_config *c = h5mr_ctx_config(ctx);
    uint64_t n = b->rows * b->row_elems;
    int rc = 0;
    /* floats never get here: setup refuses them */
#define VC_MAP_i(T) rc = vc_##T(b->data, n, state, c->dense, c);
#define VC_MAP_u(T) rc = vc_##T(b->data, n, state, c->dense, c);
#define VC_MAP_f(T) return h5mr_ctx_error(ctx, H5MR_EUSAGE, "valuecounts: integer datasets only");
#define H5MR_CASE(T, W) VC_MAP_##W(T)
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EUSAGE, "valuecounts: integer datasets only");)
#undef H5MR_CASE
    return rc ? h5mr_ctx_error(ctx, H5MR_ENOMEM, "valuecounts: out of memory for the table of values") : H5MR_OK;
}

static h5mr_status vc_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const vc_map *b = from;
    for (uint64_t i = 0; i < b->cap; i++)
        if (b->counts[i] && vc_add(into, b->keys[i], b->counts[i]))
            return h5mr_ctx_error(ctx, H5MR_ENOMEM, "valuecounts: out of memory for the table of values");
    return H5MR_OK;
}

static h5mr_status vc_pack(h5mr_ctx *ctx, const void *state, void **bytes, size_t *nbytes)
{
    const vc_map *m = state;
    uint64_t *out = malloc(16 * m->n + 8);
    if (!out) return H5MR_ENOMEM;
    uint64_t k = 0;
    for (uint64_t i = 0; i < m->cap; i++) {
        if (!m->counts[i]) continue;
        out[k++] = m->keys[i];
        memcpy(&out[k++], &m->counts[i], 8);
    }
    *bytes = out;
    *nbytes = 16 * m->n;
    return H5MR_OK;
}

static h5mr_status vc_unpack(h5mr_ctx *ctx, void *state, const void *bytes, size_t nbytes)
{
    const uint64_t *in = bytes;
    if (nbytes % 16) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "valuecounts: packed state of %zu bytes", nbytes);
    for (size_t i = 0; i < nbytes / 8; i += 2) {
        int64_t c;
        memcpy(&c, &in[i + 1], 8);
        if (vc_add(state, in[i], c)) return H5MR_ENOMEM;
    }
    return H5MR_OK;
}

typedef struct vc_pair {
    uint64_t key;
    int64_t count;
} vc_pair;

static int by_signed(const void *a, const void *b)
{
    int64_t x = (int64_t)((const vc_pair *)a)->key, y = (int64_t)((const vc_pair *)b)->key;
    return (x > y) - (x < y);
}

static int by_unsigned(const void *a, const void *b)
{
    uint64_t x = ((const vc_pair *)a)->key, y = ((const vc_pair *)b)->key;
    return (x > y) - (x < y);
}

static h5mr_status vc_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const vc_map *m = state;
    int is_signed = h5mr_dtype_is_signed(h5mr_ctx_dtype(ctx));
    uint64_t n = m->n;
    vc_pair *p = malloc(n * sizeof *p + 1);
    int64_t *counts = malloc(n * 8 + 8);
    void *values = malloc(n * 8 + 8);
    h5mr_status st = H5MR_ENOMEM;
    if (p && counts && values) {
        uint64_t k = 0;
        for (uint64_t i = 0; i < m->cap; i++)
            if (m->counts[i]) p[k].key = m->keys[i], p[k++].count = m->counts[i];
        qsort(p, n, sizeof *p, is_signed ? by_signed : by_unsigned);
        int big = !is_signed && n > 0 && p[n - 1].key > INT64_MAX;
        for (uint64_t i = 0; i < n; i++) {
            counts[i] = p[i].count;
            if (big)
                ((uint64_t *)values)[i] = p[i].key;
            else
                ((int64_t *)values)[i] = (int64_t)p[i].key;
        }
        st = h5mr_result_set_array(r, "values", big ? H5MR_FIELD_U64 : H5MR_FIELD_I64, 1, &n, values, NULL);
        if (st == H5MR_OK) st = h5mr_result_set_array(r, "counts", H5MR_FIELD_I64, 1, &n, counts, NULL);
    }
    free(p), free(counts), free(values);
    return st;
}

const h5mr_kernel h5mr__kernel_valuecounts = {
    .abi = H5MR_KERNEL_ABI,
    .name = "valuecounts",
    .description = "each distinct value of an integer dataset and its count, values ascending",
    .params = NULL,
    .setup = vc_setup,
    .state_new = vc_new,
    .state_free = vc_free,
    .pack = vc_pack,
    .unpack = vc_unpack,
    .map = vc_map_item,
    .combine = vc_combine,
    .finish = vc_finish,
};
