/* group.c: --by — one result per distinct label, for any kernel that accepts it.
 *
 * The job runs a wrapper kernel made of the user's kernel: its state maps each label
 * seen to a state of the inner kernel (an open-addressing hash of labels to slots, so
 * a million sparse labels cost a million states and nothing per absent label); map
 * splits each block by label and hands every label's part to the inner kernel's map;
 * combine merges label by label; finish runs the inner finish per label, in ascending
 * label order, and stacks the fields under a leading dimension, with `keys` first.
 *
 * A label per row (a (T,) month number: the companion's elem_stride is 0) splits the
 * block into runs of rows, which the inner kernel sees as ordinary blocks (positions
 * intact: axis=0 gives one per-pixel map per label, a monthly climatology).  A label
 * per element (a (Y, X) region map) gathers each label's elements into one row of its
 * own, first_row H5MR_ROW_UNKNOWN: the inner kernel gets the values (and weights) of
 * that label, not their positions.  Inner states combine exactly, so the result is the
 * same whatever the blocks are. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gstate {
    uint64_t n, cap; /* slots used, and room for */
    int64_t *keys;   /* [cap] the label of each slot */
    void **st;       /* [cap] the inner state of each slot */
    uint64_t tcap;   /* hash table size (a power of 2), entries slot + 1 (0: empty) */
    uint64_t *table;
    uint64_t id; /* this state's number in the job (1, 2, ...): the slot cache's key */
} gstate;

typedef struct gconfig {
    h5mr_ctx inner;
    int per_row; /* an axis set (ax), not --by */
    h5mr__axes ax;
    int stream; /* ROWS, ROWS_PIXELS with an output: each row's results written as it is done */
    /* scratch for gathering (one block at a time) */
    uint64_t *slot_of; /* per element (or per row element) */
    uint64_t slot_cap;
    uint64_t *count, *offset; /* per slot */
    uint64_t count_cap;
    uint64_t *touched;
    uint32_t *pix; /* a row of labels for every row: the row's elements label by label */
    uint64_t *cur; /* a cursor per slot */
    uint64_t pix_cap, cur_cap;
    /* a row of labels for every row, as the last block had it (most jobs: one (Y, X) map
       for the whole job): slot_of holds their slots in state cache_id */
    int64_t *cache_lab;
    uint64_t cache_n, cache_cap, cache_id, next_id;
    void *vals;
    double *wts;
    uint64_t vals_cap, wts_cap;
} gconfig;

static void gconfig_free(void *p)
{
    gconfig *c = p;
    if (!c) return;
    h5mr__ctx_release(&c->inner);
    free(c->slot_of);
    free(c->pix);
    free(c->cur);
    free(c->cache_lab);
    free(c->count);
    free(c->offset);
    free(c->touched);
    free(c->vals);
    free(c->wts);
    free(c);
}

static uint64_t hash64(int64_t k)
{
    uint64_t x = (uint64_t)k;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static void *gstate_new(h5mr_ctx *ctx)
{
    gconfig *c = h5mr_ctx_config(ctx);
    gstate *g = calloc(1, sizeof(gstate));
    if (g && c) g->id = ++c->next_id;
    return g;
}

static void gstate_free(h5mr_ctx *ctx, void *p)
{
    gconfig *c = h5mr_ctx_config(ctx);
    gstate *g = p;
    if (!g) return;
    for (uint64_t i = 0; i < g->n; i++)
        h5mr__state_free(&c->inner, g->st[i]);
    free(g->keys);
    free(g->st);
    free(g->table);
    free(g);
}

static int table_grow(gstate *g)
{
    uint64_t cap = g->tcap ? 2 * g->tcap : 64;
    uint64_t *t = calloc(cap, sizeof *t);
    if (!t) return 0;
    for (uint64_t i = 0; i < g->n; i++) {
        uint64_t h = hash64(g->keys[i]) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = i + 1;
    }
    free(g->table);
    g->table = t;
    g->tcap = cap;
    return 1;
}

/* The slot of label k, or UINT64_MAX. */
static uint64_t find_slot(const gstate *g, int64_t k)
{
    if (!g->tcap) return UINT64_MAX;
    for (uint64_t h = hash64(k) & (g->tcap - 1); g->table[h]; h = (h + 1) & (g->tcap - 1))
        if (g->keys[g->table[h] - 1] == k) return g->table[h] - 1;
    return UINT64_MAX;
}

/* The slot of label k, made if new (a fresh inner state); UINT64_MAX if out of memory. */
static uint64_t slot_of(h5mr_ctx *ctx, gstate *g, int64_t k)
{
    if (g->tcap) {
        uint64_t h = hash64(k) & (g->tcap - 1);
        for (; g->table[h]; h = (h + 1) & (g->tcap - 1))
            if (g->keys[g->table[h] - 1] == k) return g->table[h] - 1;
    }
    gconfig *c = h5mr_ctx_config(ctx);
    if (2 * (g->n + 1) > g->tcap && !table_grow(g)) return UINT64_MAX;
    if (g->n == g->cap) {
        uint64_t cap = g->cap ? 2 * g->cap : 16;
        int64_t *keys = realloc(g->keys, cap * sizeof *keys);
        if (!keys) return UINT64_MAX;
        g->keys = keys;
        void **st = realloc(g->st, cap * sizeof *st);
        if (!st) return UINT64_MAX;
        g->st = st;
        g->cap = cap;
    }
    void *s = h5mr__state_new(&c->inner);
    if (!s) return UINT64_MAX;
    uint64_t i = g->n++;
    g->keys[i] = k;
    g->st[i] = s;
    uint64_t h = hash64(k) & (g->tcap - 1);
    while (g->table[h])
        h = (h + 1) & (g->tcap - 1);
    g->table[h] = i + 1;
    return i;
}

static h5mr_status oom(h5mr_ctx *ctx);

/* A result that keeps dimension 0, written as it is computed: one output per field of
 * the kernel's result (its names, types and shapes from the result of an empty state),
 * of shape (lead..., the field's shape); an integer field that can be null is f64. */
static h5mr_status stream_setup(h5mr_ctx *ctx, gconfig *c)
{
    void *empty = h5mr__state_new(&c->inner);
    h5mr_result *proto = h5mr__result_new();
    h5mr_status st = empty && proto ? c->inner.kernel->finish(&c->inner, empty, proto) : H5MR_ENOMEM;
    for (size_t i = 0; st == H5MR_OK && i < h5mr_result_count(proto); i++) {
        const h5mr_field *f = h5mr_result_field(proto, i);
        uint64_t shape[H5MR__MAX_DIMS];
        int nd = c->ax.lead_ndims + f->ndims, nulls = 0;
        for (uint64_t e = 0; f->valid && e < f->nelems; e++)
            nulls |= !f->valid[e];
        h5mr_dtype t = f->type == H5MR_FIELD_F64 || nulls ? H5MR_DTYPE_F64
                       : f->type == H5MR_FIELD_U64        ? H5MR_DTYPE_U64
                                                          : H5MR_DTYPE_I64;
        if (nd > H5MR__MAX_DIMS) st = H5MR_ELIMIT;
        for (int d = 0; st == H5MR_OK && d < nd; d++)
            shape[d] = d < c->ax.lead_ndims ? c->ax.lead[d] : f->shape[d - c->ax.lead_ndims];
        if (st == H5MR_OK && h5mr_ctx_add_output_rows(ctx, t, f->name, nd, shape) < 0)
            st = h5mr_ctx_error(ctx, H5MR_ELIMIT, "kernel %s: %zu result fields are more than -o writes as a series",
                                c->inner.kernel->name, h5mr_result_count(proto));
    }
    h5mr__state_free(&c->inner, empty);
    h5mr__result_free(proto);
    if (st == H5MR_ENOMEM) return oom(ctx);
    c->stream = st == H5MR_OK;
    return st;
}

static h5mr_status g_setup(h5mr_ctx *ctx)
{
    gconfig *c = h5mr_ctx_config(ctx);
    h5mr_status st = h5mr__ctx_setup(&c->inner);
    if (st != H5MR_OK) return st;
    if (!c->per_row && !(c->inner.accepted & (1u << H5MR_ROLE_BY)))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s does not take --by (sum, stats, minmax and count do)",
                              c->inner.kernel->name);
    if (c->inner.passes > 1)
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s reads the data %d times and cannot take --by",
                              c->inner.kernel->name, c->inner.passes);
    ctx->accepted = c->inner.accepted;
    ctx->joined_items = c->inner.joined_items;
    if (ctx->stream_rows && c->per_row && (c->ax.mode == H5MR__AXES_ROWS || c->ax.mode == H5MR__AXES_ROWS_PIXELS))
        return stream_setup(ctx, c);
    return H5MR_OK;
}

static h5mr_status oom(h5mr_ctx *ctx) { return h5mr_ctx_error(ctx, H5MR_ENOMEM, "--by: out of memory"); }

static int grow(void **p, uint64_t *cap, uint64_t need, size_t size)
{
    if (need <= *cap) return 1;
    uint64_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q) return 0;
    *p = q;
    *cap = n;
    return 1;
}

/* The inner block of a part of b: its rows, or gathered values of one label. */
static h5mr_status inner_map(h5mr_ctx *ctx, gconfig *c, void *state, const h5mr_block *b, const h5mr_rows *w)
{
    h5mr_block ib = *b;
    ib.ninputs = w ? 1 : 0;
    ib.inputs = w;
    return c->inner.kernel->map(&c->inner, state, &ib);
}

/* A label per row: runs of rows of one label. */
static h5mr_status map_rows(h5mr_ctx *ctx, gconfig *c, gstate *g, const h5mr_block *b, const h5mr_rows *lab,
                            const h5mr_rows *w)
{
    const int64_t *L = lab->data;
    size_t vsize = h5mr_dtype_size(b->dtype);
    for (uint64_t r0 = 0; r0 < b->rows;) {
        int64_t k = L[r0 * lab->row_stride];
        uint64_t r1 = r0 + 1;
        while (r1 < b->rows && L[r1 * lab->row_stride] == k)
            r1++;
        if (k != H5MR__NO_LABEL) {
            uint64_t s = slot_of(ctx, g, k);
            if (s == UINT64_MAX) return oom(ctx);
            h5mr_block sb = *b;
            sb.data = (const char *)b->data + r0 * b->row_elems * vsize;
            sb.rows = r1 - r0;
            sb.first_row = b->first_row + r0;
            h5mr_rows ws;
            if (w) {
                ws = *w;
                ws.data = (const double *)w->data + r0 * w->row_stride;
            }
            h5mr_status st = inner_map(ctx, c, g->st[s], &sb, w ? &ws : NULL);
            if (st != H5MR_OK) return st;
        }
        r0 = r1;
    }
    return H5MR_OK;
}

/* A label per element: each label's values (and weights) gathered, in order. */
static h5mr_status map_elems(h5mr_ctx *ctx, gconfig *c, gstate *g, const h5mr_block *b, const h5mr_rows *lab,
                             const h5mr_rows *w)
{
    uint64_t E = b->row_elems, N = b->rows * E;
    int per_row = lab->row_stride == 0;      /* one row of labels for every row */
    int sorted = per_row && E <= UINT32_MAX; /* ... gathered label by label (pix) */
    uint64_t nl = per_row ? E : N;
    if (!grow((void **)&c->slot_of, &c->slot_cap, nl, sizeof *c->slot_of)) return oom(ctx);
    const int64_t *L = lab->data;
    int64_t last = H5MR__NO_LABEL;
    uint64_t last_slot = UINT64_MAX;
    int cached =
        per_row && g->id && c->cache_id == g->id && c->cache_n == nl && !memcmp(c->cache_lab, L, nl * sizeof *L);
    c->cache_id = 0;
    for (uint64_t i = 0; i < nl && !cached; i++) {
        int64_t k = L[i];
        if (k == H5MR__NO_LABEL) {
            c->slot_of[i] = UINT64_MAX;
            continue;
        }
        if (k != last || last_slot == UINT64_MAX) {
            last_slot = slot_of(ctx, g, k);
            if (last_slot == UINT64_MAX) return oom(ctx);
            last = k;
        }
        c->slot_of[i] = last_slot;
    }
    if (per_row && grow((void **)&c->cache_lab, &c->cache_cap, nl, sizeof *L)) {
        if (!cached) memcpy(c->cache_lab, L, nl * sizeof *L);
        c->cache_n = nl, c->cache_id = g->id; /* slots are never taken from a state: they hold */
    }
    if (g->n > c->count_cap) {
        uint64_t n = c->count_cap ? 2 * c->count_cap : 1024;
        while (n < g->n)
            n *= 2;
        uint64_t *cn = realloc(c->count, n * sizeof *cn);
        if (!cn) return oom(ctx);
        memset(cn + c->count_cap, 0, (n - c->count_cap) * sizeof *cn);
        c->count = cn;
        uint64_t *o = realloc(c->offset, n * sizeof *o);
        if (!o) return oom(ctx);
        c->offset = o;
        uint64_t *t = realloc(c->touched, n * sizeof *t);
        if (!t) return oom(ctx);
        c->touched = t;
        c->count_cap = n;
    }
    uint64_t ntouched = 0;
    for (uint64_t i = 0; i < nl; i++) {
        uint64_t s = c->slot_of[i];
        if (s == UINT64_MAX) continue;
        if (c->count[s] == 0) c->touched[ntouched++] = s;
        c->count[s] += per_row ? b->rows : 1;
    }
    size_t vsize = h5mr_dtype_size(b->dtype);
    uint64_t at = 0;
    for (uint64_t t = 0; t < ntouched; t++) {
        uint64_t s = c->touched[t];
        c->offset[s] = at;
        at += c->count[s];
    }
    if (!grow(&c->vals, &c->vals_cap, at, 8)) return oom(ctx);
    if (w && !grow((void **)&c->wts, &c->wts_cap, at, 8)) return oom(ctx);
    /* Gather, in element order within each label (row by row).  With one row of labels
     * for every row, the row's elements are sorted by label once for the block (pix:
     * label by label, ascending), and each label's part of a row is copied as one run:
     * writes in sequence, reads from a group of rows that stays in cache, rather than
     * a store per element to wherever its label's run has got to. */
    const char *x = b->data;
    char *v = c->vals;
    const double *wd = w ? w->data : NULL;
    if (sorted) {
        if (!grow((void **)&c->pix, &c->pix_cap, E, sizeof *c->pix) ||
            !grow((void **)&c->cur, &c->cur_cap, c->count_cap, sizeof *c->cur))
            return oom(ctx);
        for (uint64_t t = 0; t < ntouched; t++) { /* where each label's pixels start in pix */
            uint64_t s = c->touched[t];
            c->cur[s] = c->offset[s] / b->rows;
        }
        for (uint64_t j = 0; j < E; j++)
            if (c->slot_of[j] != UINT64_MAX) c->pix[c->cur[c->slot_of[j]]++] = (uint32_t)j;
    }
    /* rows of a group: what stays in a core's cache while the labels take their parts */
    uint64_t group = sorted ? (uint64_t)1 + (64 * 1024) / (E * vsize + (w ? E * 8 : 0) + 1) : 0;
#define GATHER(T)                                                                                                      \
    if (sorted)                                                                                                        \
        for (uint64_t r0 = 0; r0 < b->rows; r0 += group) {                                                             \
            uint64_t r1 = r0 + group < b->rows ? r0 + group : b->rows;                                                 \
            for (uint64_t t = 0; t < ntouched; t++) {                                                                  \
                uint64_t s = c->touched[t], m = c->count[s] / b->rows, o = c->offset[s];                               \
                const uint32_t *pj = c->pix + o / b->rows;                                                             \
                for (uint64_t r = r0; r < r1; r++) {                                                                   \
                    const T *xr = (const T *)x + r * E;                                                                \
                    T *vv = (T *)v + o + r * m;                                                                        \
                    for (uint64_t i = 0; i < m; i++)                                                                   \
                        vv[i] = xr[pj[i]];                                                                             \
                    if (w)                                                                                             \
                        for (uint64_t i = 0; i < m; i++)                                                               \
                            c->wts[o + r * m + i] = wd[r * w->row_stride + pj[i] * w->elem_stride];                    \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    else                                                                                                               \
        for (uint64_t r = 0; r < b->rows; r++) {                                                                       \
            const uint64_t *sl = c->slot_of + (per_row ? 0 : r * E);                                                   \
            const T *xr = (const T *)x + r * E;                                                                        \
            T *vv = (T *)v;                                                                                            \
            for (uint64_t j = 0; j < E; j++) {                                                                         \
                uint64_t s = sl[j];                                                                                    \
                if (s == UINT64_MAX) continue;                                                                         \
                uint64_t o = c->offset[s]++;                                                                           \
                vv[o] = xr[j];                                                                                         \
                if (w) c->wts[o] = wd[r * w->row_stride + j * w->elem_stride];                                         \
            }                                                                                                          \
        }
    if (vsize == 4) {
        GATHER(uint32_t)
    } else if (vsize == 8) {
        GATHER(uint64_t)
    } else if (vsize == 2) {
        GATHER(uint16_t)
    } else {
        GATHER(uint8_t)
    }
#undef GATHER
    if (sorted) /* each label's end, as the running offsets leave it */
        for (uint64_t t = 0; t < ntouched; t++)
            c->offset[c->touched[t]] += c->count[c->touched[t]];
    h5mr_status st = H5MR_OK;
    for (uint64_t t = 0; t < ntouched; t++) {
        uint64_t s = c->touched[t], n = c->count[s], o = c->offset[s] - n;
        c->count[s] = 0;
        if (st != H5MR_OK) continue;
        h5mr_block sb = *b;
        sb.data = v + o * vsize;
        sb.rows = 1;
        sb.row_elems = n;
        sb.first_row = H5MR_ROW_UNKNOWN;
        h5mr_rows ws = {H5MR_ROLE_WEIGHTS, H5MR_DTYPE_F64, w ? c->wts + o : NULL, n, 1};
        st = inner_map(ctx, c, g->st[s], &sb, w ? &ws : NULL);
    }
    return st;
}

/* An axis set: each row cut into ax.sub sub-rows of E / sub elements, handed to the
 * kernel as ax.mode says, the companions sliced alike (element j of sub-row c of row
 * r: at r * row_stride + (c * E' + j) * elem_stride). */
/* Sub-row k of row r of b (all its sub-rows: `whole`) as a block of its own, with its
 * companions' rows (in: room for 8). */
static h5mr_block sub_block(const gconfig *c, const h5mr_block *b, uint64_t r, uint64_t k, int whole, h5mr_rows *in)
{
    const h5mr__axes *ax = &c->ax;
    uint64_t C = ax->sub ? ax->sub : 1, E = b->row_elems / C, row = b->first_row + r;
    int n = b->ninputs < 8 ? b->ninputs : 8;
    for (int i = 0; i < n; i++) {
        const h5mr_rows *o = &b->inputs[i];
        in[i] = *o;
        in[i].data = (const char *)o->data + (r * o->row_stride + k * E * o->elem_stride) * h5mr_dtype_size(o->dtype);
        in[i].row_stride = E * o->elem_stride; /* sub-row to sub-row within the row */
    }
    h5mr_block rb = *b;
    rb.data = (const char *)b->data + (r * b->row_elems + k * E) * h5mr_dtype_size(b->dtype);
    rb.rows = whole ? C : 1;
    rb.row_elems = E;
    /* Positions within the reduced dimensions: PIXELS the sub-row's index (rows and
     * the leading run); CELLS the row's (its elements follow: row * E' + j). */
    rb.first_row = ax->mode == H5MR__AXES_PIXELS ? row * C : ax->mode == H5MR__AXES_CELLS ? row : 0;
    rb.ninputs = n;
    rb.inputs = in;
    rb.out = NULL;
    return rb;
}

/* Streaming: the result of each sub-row (or row) of b, computed now and written into
 * the block's output rows, field by field. */
static h5mr_status stream_rows(h5mr_ctx *ctx, gconfig *c, const h5mr_block *b)
{
    const h5mr__axes *ax = &c->ax;
    int whole = ax->mode == H5MR__AXES_ROWS_PIXELS;
    uint64_t C = ax->sub ? ax->sub : 1, cells = whole ? 1 : C;
    h5mr_rows in[8];
    h5mr_status st = H5MR_OK;
    for (uint64_t r = 0; r < b->rows && st == H5MR_OK; r++)
        for (uint64_t k = 0; k < cells && st == H5MR_OK; k++) {
            void *state = h5mr__state_new(&c->inner);
            h5mr_result *res = h5mr__result_new();
            if (!state || !res) st = oom(ctx);
            h5mr_block rb = sub_block(c, b, r, k, whole, in);
            if (st == H5MR_OK) st = c->inner.kernel->map(&c->inner, state, &rb);
            if (st == H5MR_OK) st = c->inner.kernel->finish(&c->inner, state, res);
            for (int i = 0; st == H5MR_OK && i < b->out->noutputs; i++) {
                const h5mr_field *f = h5mr_result_find(res, ctx->out_name[i]);
                uint64_t per = b->out->row_elems[i] / cells, at = r * b->out->row_elems[i] + k * per;
                if (!f || f->nelems != per) {
                    st = h5mr_ctx_error(ctx, H5MR_EKERNEL, "kernel %s: field %s changed shape between rows",
                                        c->inner.kernel->name, ctx->out_name[i]);
                    break;
                }
                for (uint64_t e = 0; e < per && st == H5MR_OK; e++) {
                    int ok = !f->valid || f->valid[e];
                    if (b->out->dtype[i] == H5MR_DTYPE_F64) {
                        double v = !ok                         ? NAN
                                   : f->type == H5MR_FIELD_F64 ? ((const double *)f->data)[e]
                                   : f->type == H5MR_FIELD_I64 ? (double)((const int64_t *)f->data)[e]
                                                               : (double)((const uint64_t *)f->data)[e];
                        ((double *)b->out->data[i])[at + e] = v;
                    } else if (!ok || f->type == H5MR_FIELD_F64) {
                        st = h5mr_ctx_error(ctx, H5MR_EKERNEL, "kernel %s: integer field %s is null in row %llu",
                                            c->inner.kernel->name, ctx->out_name[i],
                                            (unsigned long long)(b->first_row + r));
                    } else {
                        ((int64_t *)b->out->data[i])[at + e] = ((const int64_t *)f->data)[e]; /* u64 alike */
                    }
                }
            }
            h5mr__state_free(&c->inner, state);
            h5mr__result_free(res);
        }
    return st;
}

static h5mr_status map_axes(h5mr_ctx *ctx, gconfig *c, gstate *g, const h5mr_block *b)
{
    const h5mr__axes *ax = &c->ax;
    uint64_t C = ax->sub ? ax->sub : 1;
    h5mr_rows in[8];
    int whole = ax->mode == H5MR__AXES_PIXELS || ax->mode == H5MR__AXES_ROWS_PIXELS; /* a row's sub-rows at once */
    for (uint64_t r = 0; r < b->rows; r++) {
        uint64_t row = b->first_row + r;
        for (uint64_t k = 0; k < (whole ? 1 : C); k++) {
            int64_t key = ax->mode == H5MR__AXES_PIXELS        ? 0
                          : ax->mode == H5MR__AXES_ROWS_PIXELS ? (int64_t)row
                          : ax->mode == H5MR__AXES_ROWS        ? (int64_t)(row * C + k)
                                                               : (int64_t)k;
            uint64_t s = slot_of(ctx, g, key);
            if (s == UINT64_MAX) return oom(ctx);
            h5mr_block rb = sub_block(c, b, r, k, whole, in);
            h5mr_status st = c->inner.kernel->map(&c->inner, g->st[s], &rb);
            if (st != H5MR_OK) return st;
        }
    }
    return H5MR_OK;
}

static h5mr_status g_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    gconfig *c = h5mr_ctx_config(ctx);
    if (c->stream) return b->out ? stream_rows(ctx, c, b) : H5MR_OK;
    if (c->per_row) return map_axes(ctx, c, state, b);
    const h5mr_rows *lab = h5mr_block_input(b, H5MR_ROLE_BY), *w = h5mr_block_input(b, H5MR_ROLE_WEIGHTS);
    if (!lab) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "--by: a block without its labels");
    if (b->rows == 0 || b->row_elems == 0) return H5MR_OK;
    if (lab->elem_stride == 0) return map_rows(ctx, c, state, b, lab, w);
    return map_elems(ctx, c, state, b, lab, w);
}

static h5mr_status g_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    gconfig *c = h5mr_ctx_config(ctx);
    gstate *a = into;
    const gstate *f = from;
    for (uint64_t i = 0; i < f->n; i++) {
        uint64_t s = slot_of(ctx, a, f->keys[i]);
        if (s == UINT64_MAX) return oom(ctx);
        h5mr_status st = c->inner.kernel->combine(&c->inner, a->st[s], f->st[i]);
        if (st != H5MR_OK) return st;
    }
    return H5MR_OK;
}

/* Packed: the number of labels, the labels, then each inner state as its size and bytes. */
static h5mr_status g_pack(h5mr_ctx *ctx, const void *state, void **bytes, size_t *nbytes)
{
    gconfig *c = h5mr_ctx_config(ctx);
    const gstate *g = state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return oom(ctx);
    h5mr_status st = H5MR_OK;
    uint64_t n = g->n;
    fwrite(&n, sizeof n, 1, f);
    if (n) fwrite(g->keys, sizeof *g->keys, n, f);
    for (uint64_t i = 0; i < n && st == H5MR_OK; i++) {
        void *b = NULL;
        size_t m = 0;
        int owned = 0;
        st = h5mr__state_pack(&c->inner, g->st[i], &b, &m, &owned);
        if (st != H5MR_OK) break;
        uint64_t m64 = m;
        fwrite(&m64, sizeof m64, 1, f);
        fwrite(b, 1, m, f);
        if (owned) free(b);
    }
    if (fclose(f) != 0 && st == H5MR_OK) st = oom(ctx);
    if (st != H5MR_OK) {
        free(buf);
        return st;
    }
    *bytes = buf;
    *nbytes = len;
    return H5MR_OK;
}

static h5mr_status g_unpack(h5mr_ctx *ctx, void *state, const void *bytes, size_t nbytes)
{
    gconfig *c = h5mr_ctx_config(ctx);
    gstate *g = state;
    const char *p = bytes, *end = p + nbytes;
    uint64_t n;
    if (nbytes < sizeof n) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "--by: a truncated state");
    memcpy(&n, p, sizeof n);
    p += sizeof n;
    if ((uint64_t)(end - p) / sizeof(int64_t) < n)
        return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "--by: a truncated state");
    const char *keys = p;
    p += n * sizeof(int64_t);
    for (uint64_t i = 0; i < n; i++) {
        int64_t k;
        uint64_t m;
        memcpy(&k, keys + i * sizeof k, sizeof k);
        if ((size_t)(end - p) < sizeof m) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "--by: a truncated state");
        memcpy(&m, p, sizeof m);
        p += sizeof m;
        if ((uint64_t)(end - p) < m) return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "--by: a truncated state");
        uint64_t s = slot_of(ctx, g, k);
        if (s == UINT64_MAX) return oom(ctx);
        h5mr_status st = h5mr__state_unpack(&c->inner, g->st[s], p, m);
        if (st != H5MR_OK) return st;
        p += m;
    }
    return H5MR_OK;
}

static const gstate *sort_g;
static int by_key(const void *a, const void *b)
{
    int64_t x = sort_g->keys[*(const uint64_t *)a], y = sort_g->keys[*(const uint64_t *)b];
    return (x > y) - (x < y);
}

/* Field `name` of every label's result, stacked: (K, shape...). */
static h5mr_status stack(h5mr_result *out, h5mr_result *const *rs, uint64_t K, int nlead, const uint64_t *lead,
                         const h5mr_field *proto)
{
    h5mr_field_type type = proto->type;
    /* An integer field that is null for some labels comes back as an f64 NaN there. */
    for (uint64_t k = 0; k < K; k++) {
        const h5mr_field *f = h5mr_result_find(rs[k], proto->name);
        if (f && f->type != H5MR_FIELD_F64) type = f->type;
    }
    uint64_t per = proto->nelems;
    uint64_t shape[2 * H5MR__MAX_DIMS];
    if (proto->ndims + nlead > H5MR__MAX_DIMS) return H5MR_ELIMIT;
    for (int d = 0; d < nlead; d++)
        shape[d] = lead[d];
    for (int d = 0; d < proto->ndims; d++)
        shape[nlead + d] = proto->shape[d];
    void *data = malloc(K * per * 8 + 8);
    uint8_t *valid = malloc(K * per + 1);
    if (!data || !valid) {
        free(data), free(valid);
        return H5MR_ENOMEM;
    }
    int any_invalid = 0;
    for (uint64_t k = 0; k < K; k++) {
        const h5mr_field *f = h5mr_result_find(rs[k], proto->name);
        for (uint64_t e = 0; e < per; e++) {
            uint64_t at = k * per + e;
            int ok = f && f->nelems == per && (!f->valid || f->valid[e]);
            if (type == H5MR_FIELD_F64) {
                double v = NAN;
                if (ok)
                    v = f->type == H5MR_FIELD_F64   ? ((const double *)f->data)[e]
                        : f->type == H5MR_FIELD_I64 ? (double)((const int64_t *)f->data)[e]
                                                    : (double)((const uint64_t *)f->data)[e];
                ((double *)data)[at] = v;
                valid[at] = 1;
            } else {
                if (ok && f->type == H5MR_FIELD_F64) ok = 0; /* a null where others are integers */
                int64_t v = ok ? ((const int64_t *)f->data)[e] : 0;
                ((int64_t *)data)[at] = v;
                valid[at] = (uint8_t)ok;
                any_invalid |= !ok;
            }
        }
    }
    h5mr_status st = h5mr_result_set_array(out, proto->name, type, proto->ndims + nlead, shape, data,
                                           type != H5MR_FIELD_F64 && any_invalid ? valid : NULL);
    free(data);
    free(valid);
    return st;
}

static h5mr_status g_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    gconfig *c = h5mr_ctx_config(ctx);
    const gstate *g = state;
    if (c->stream) return H5MR_OK;                       /* written as it went */
    if (c->per_row && c->ax.mode == H5MR__AXES_PIXELS) { /* one state: the kernel's own result */
        uint64_t slot = find_slot(g, 0);
        void *empty = slot == UINT64_MAX ? h5mr__state_new(&c->inner) : NULL;
        if (slot == UINT64_MAX && !empty) return oom(ctx);
        h5mr_status st = c->inner.kernel->finish(&c->inner, empty ? empty : g->st[slot], r);
        h5mr__state_free(&c->inner, empty);
        return st;
    }
    uint64_t K = g->n;
    if (c->per_row)
        for (int d = 0; d < c->ax.lead_ndims; d++)
            K = (d ? K : 1) * c->ax.lead[d];
    uint64_t *order = malloc((K ? K : 1) * sizeof *order);
    h5mr_result **rs = calloc(K ? K : 1, sizeof *rs);
    h5mr_result *proto = h5mr__result_new();
    int64_t *keys = malloc((K ? K : 1) * sizeof *keys);
    void *empty = NULL;
    h5mr_status st = order && rs && proto && keys ? H5MR_OK : oom(ctx);
    for (uint64_t i = 0; i < K && st == H5MR_OK; i++)
        order[i] = i;
    sort_g = g;
    if (st == H5MR_OK && K && !c->per_row) qsort(order, K, sizeof *order, by_key);
    /* An empty state: the fields' names and shapes (every label has them), and the
     * result of a row no block reached (a row of no elements). */
    if (st == H5MR_OK && !(empty = h5mr__state_new(&c->inner))) st = oom(ctx);
    for (uint64_t i = 0; i < K && st == H5MR_OK; i++) {
        const void *s = empty;
        if (c->per_row) {
            uint64_t slot = find_slot(g, (int64_t)i);
            if (slot != UINT64_MAX) s = g->st[slot];
        } else {
            keys[i] = g->keys[order[i]];
            s = g->st[order[i]];
        }
        if (!(rs[i] = h5mr__result_new())) st = oom(ctx);
        if (st == H5MR_OK) st = c->inner.kernel->finish(&c->inner, s, rs[i]);
    }
    if (st == H5MR_OK) st = c->inner.kernel->finish(&c->inner, empty, proto);
    uint64_t kshape[1] = {K};
    if (st == H5MR_OK && !c->per_row) st = h5mr_result_set_array(r, "keys", H5MR_FIELD_I64, 1, kshape, keys, NULL);
    int nlead = c->per_row ? c->ax.lead_ndims : 1;
    const uint64_t *lead = c->per_row ? c->ax.lead : kshape;
    for (size_t f = 0; st == H5MR_OK && f < h5mr_result_count(proto); f++)
        st = stack(r, rs, K, nlead, lead, h5mr_result_field(proto, f));
    for (uint64_t i = 0; rs && i < K; i++)
        h5mr__result_free(rs[i]);
    h5mr__state_free(&c->inner, empty);
    h5mr__result_free(proto);
    free(rs);
    free(order);
    free(keys);
    return st;
}

h5mr_status h5mr__group_wrap(h5mr_ctx *ctx, h5mr_kernel *wrapper, const h5mr__axes *axes)
{
    gconfig *c = calloc(1, sizeof *c);
    if (!c) return h5mr_ctx_error(ctx, H5MR_ENOMEM, "out of memory");
    c->inner = *ctx;
    c->inner.config = NULL;
    c->inner.config_free = NULL;
    if ((c->per_row = axes != NULL)) {
        c->ax = *axes;
        c->inner.ndims = c->ax.inner_ndims;
        c->inner.shape = c->ax.inner_shape;
    }
    *wrapper = (h5mr_kernel){.abi = H5MR_KERNEL_ABI,
                             .name = ctx->kernel->name,
                             .description = ctx->kernel->description,
                             .setup = g_setup,
                             .state_new = gstate_new,
                             .state_free = gstate_free,
                             .pack = g_pack,
                             .unpack = g_unpack,
                             .map = g_map,
                             .combine = g_combine,
                             .finish = g_finish};
    ctx->kernel = wrapper;
    ctx->params = NULL;
    ctx->nparams = 0;
    h5mr_ctx_set_config(ctx, c, gconfig_free);
    return H5MR_OK;
}
