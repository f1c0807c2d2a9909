/* histogram.c: the `histogram` kernel, with numpy.histogram's semantics: `bins` equal
 * bins from min to max (edges as numpy.linspace), half-open but the last closed on the
 * right, values outside the range and NaN not counted.  Without min or max, a first
 * pass finds the data's range (two passes, one job); a constant range is widened to
 * min - 0.5 ... max + 0.5.  Edges are computed in double for every input type.
 * CF-packed integers are taken as stored where unpacking is strictly monotonic: the
 * range from the stored extremes unpacked; the bin of a stored value is its unpacked
 * double's, as bin_of gives it, from a table of every value made once (8- and 16-bit
 * types) or unpacked in the loop (32-bit). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

/* A result a user can read and print: 2^20 bins are ~20 MB of JSON. */
#define BINS_MAX ((int64_t)1 << 20)

typedef struct range_state {
    int64_t n;
    double min, max;
} range_state;

typedef struct hist_config {
    int64_t bins;
    int has_min, has_max;
    double min, max; /* as given */
    double *edges;   /* bins + 1, once known */
    double norm;
    const h5mr_packing *pk; /* packed integers taken as stored, or NULL */
    int64_t tlo, thi;       /* 8/16-bit: the stored type's range; 32-bit: 0, -1 */
    int32_t *lut;           /* 8/16-bit: the bin of each stored value x at x - tlo (bins: none) */
} hist_config;

static void hist_config_free(void *p)
{
    hist_config *c = p;
    free(c->edges);
    free(c->lut);
    free(c);
}

/* numpy: first == last widens by 0.5; edges = linspace(first, last, bins + 1). */
static h5mr_status make_edges(h5mr_ctx *ctx, hist_config *c, double first, double last)
{
    if (!isfinite(first) || !isfinite(last))
        return h5mr_ctx_error(ctx, H5MR_EKERNEL,
                              "kernel histogram: the range [%g, %g] is not finite; give -p min=... -p max=...", first,
                              last);
    if (first == last) first -= 0.5, last += 0.5;
    if (!(c->edges = malloc((size_t)(c->bins + 1) * sizeof *c->edges))) return H5MR_ENOMEM;
    double step = (last - first) / (double)c->bins;
    for (int64_t i = 0; i <= c->bins; i++)
        c->edges[i] = (double)i * step + first;
    c->edges[c->bins] = last;
    c->norm = (double)c->bins / (last - first);
    /* numpy refuses the same: "Too many bins for data range" */
    for (int64_t i = 0; i < c->bins; i++)
        if (!(c->edges[i] < c->edges[i + 1]) || !isfinite(c->norm))
            return h5mr_ctx_error(ctx, H5MR_EUSAGE,
                                  "kernel histogram: %lld bins are too many for the range [%g, %g]: they would not "
                                  "have distinct edges",
                                  (long long)c->bins, first, last);
    h5mr_ctx_set_state_size(ctx, (size_t)c->bins * sizeof(int64_t));
    return H5MR_OK;
}

typedef int32_t h5mr_v4i32 __attribute__((vector_size(16)));

/* Bins up to this many are counted in four 32-bit sub-histograms on the stack (an item
 * holds fewer than 2^31 elements, so a 32-bit count cannot overflow). */
#define SUB_BINS_MAX 2048

/* The bin of v, numpy's way, or -1 outside [first, last] (NaN included). */
static inline int64_t bin_of(double v, const double *e, double first, double last, double norm, int64_t nb)
{
    if (!(v >= first && v <= last)) return -1;
    double t = (v - first) * norm;
    int64_t k = (int64_t)t;
    /* t is within a few ulps (< 1e-12 here: t < 2^31) of v's exact position, and the
     * edges within a few ulps of theirs: away from an integer, k is the bin. */
    double frac = t - (double)k;
    if (frac > 1e-9 && frac < 1 - 1e-9) return k;
    if (k >= nb) k = nb - 1;
    /* as numpy: the product may be off by an ulp next to an edge */
    if (v < e[k])
        k--;
    else if (k != nb - 1 && v >= e[k + 1])
        k++;
    return k;
}

/* A block's range, valid values of it, into the state. */
static inline void range_add(range_state *s, double mn, double mx, int64_t valid)
{
    if (!valid) return;
    if (s->n == 0 || mn < s->min) s->min = mn;
    if (s->n == 0 || mx > s->max) s->max = mx;
    s->n += valid;
}

/* pk: the table of every stored value's bin (the marker in none). */
static h5mr_status make_lut(hist_config *c)
{
    uint64_t n = (uint64_t)(c->thi - c->tlo + 1);
    if (!(c->lut = malloc(n * sizeof *c->lut))) return H5MR_ENOMEM;
    const double *e = c->edges;
    for (uint64_t i = 0; i < n; i++) {
        int64_t x = c->tlo + (int64_t)i;
        int64_t k = bin_of(h5mr_unpack(c->pk, (double)x), e, e[0], e[c->bins], c->norm, c->bins);
        c->lut[i] = k < 0 || (c->pk->has_missing && x == c->pk->missing) ? (int32_t)c->bins : (int32_t)k;
    }
    return H5MR_OK;
}

/* The stored integers of a packing: the range pass (stored min and max, the marker
 * skipped) and the binning by the table. */
#define HIST_PK(T, LO, HI)                                                                                             \
    static void range_pk_##T(const T *x, uint64_t n, range_state *s, const hist_config *c)                             \
    {                                                                                                                  \
        const T mk = (T)c->pk->missing;                                                                                \
        const int any = !c->pk->has_missing;                                                                           \
        T mn = HI, mx = LO;                                                                                            \
        int64_t valid = 0;                                                                                             \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            T v = x[i];                                                                                                \
            int ok = (v != mk) | any;                                                                                  \
            valid += ok;                                                                                               \
            T wn = H5MR_PICK_INT(T, ok, v, HI), wx = H5MR_PICK_INT(T, ok, v, LO);                                      \
            mn = wn < mn ? wn : mn, mx = wx > mx ? wx : mx;                                                            \
        }                                                                                                              \
        range_add(s, mn, mx, valid);                                                                                   \
    }                                                                                                                  \
    static void bin_pk_##T(const T *x, uint64_t n, const hist_config *c, int64_t *counts)                              \
    {                                                                                                                  \
        const int64_t nb = c->bins;                                                                                    \
        if (!c->lut) {                                                                                                 \
            const double *e = c->edges;                                                                                \
            const T mk = (T)c->pk->missing;                                                                            \
            for (uint64_t i = 0; i < n; i++) {                                                                         \
                if (c->pk->has_missing && x[i] == mk) continue;                                                        \
                int64_t k = bin_of(h5mr_unpack(c->pk, (double)x[i]), e, e[0], e[nb], c->norm, nb);                     \
                if (k >= 0) counts[k]++;                                                                               \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        const int32_t *lut = c->lut - c->tlo;                                                                          \
        if (nb > SUB_BINS_MAX) {                                                                                       \
            for (uint64_t i = 0; i < n; i++) {                                                                         \
                int32_t k = lut[x[i]];                                                                                 \
                if (k < nb) counts[k]++;                                                                               \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        uint32_t sub[4][SUB_BINS_MAX + 1];                                                                             \
        for (int j = 0; j < 4; j++)                                                                                    \
            memset(sub[j], 0, (size_t)(nb + 1) * sizeof sub[j][0]);                                                    \
        uint64_t i = 0;                                                                                                \
        for (; i + 4 <= n; i += 4)                                                                                     \
            for (int j = 0; j < 4; j++)                                                                                \
                sub[j][lut[x[i + (uint64_t)j]]]++;                                                                     \
        for (; i < n; i++)                                                                                             \
            sub[0][lut[x[i]]]++;                                                                                       \
        for (int64_t k = 0; k < nb; k++)                                                                               \
            counts[k] += (int64_t)sub[0][k] + sub[1][k] + sub[2][k] + sub[3][k];                                       \
    }
HIST_PK(int8_t, INT8_MIN, INT8_MAX)
HIST_PK(uint8_t, 0, UINT8_MAX)
HIST_PK(int16_t, INT16_MIN, INT16_MAX)
HIST_PK(uint16_t, 0, UINT16_MAX)
HIST_PK(int32_t, INT32_MIN, INT32_MAX)
HIST_PK(uint32_t, 0, UINT32_MAX)

#define HIST_TYPE(T)                                                                                                   \
    static void range_##T(const T *x, uint64_t n, range_state *s)                                                      \
    {                                                                                                                  \
        double mn = INFINITY, mx = -INFINITY;                                                                          \
        int64_t valid = 0;                                                                                             \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            double v = (double)x[i];                                                                                   \
            valid += v == v;                                                                                           \
            mn = v < mn ? v : mn;                                                                                      \
            mx = v > mx ? v : mx;                                                                                      \
        }                                                                                                              \
        range_add(s, mn, mx, valid);                                                                                   \
    }                                                                                                                  \
    H5MR_HOT static void bin_##T(const T *x, uint64_t n, const hist_config *c, int64_t *counts)                        \
    {                                                                                                                  \
        const double *e = c->edges, first = e[0], last = e[c->bins], norm = c->norm;                                   \
        const int64_t nb = c->bins;                                                                                    \
        if (nb > SUB_BINS_MAX) {                                                                                       \
            for (uint64_t i = 0; i < n; i++) {                                                                         \
                int64_t k = bin_of((double)x[i], e, first, last, norm, nb);                                            \
                if (k >= 0) counts[k]++;                                                                               \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        /* Four sub-histograms, one per lane: consecutive values that fall in the same bin                             \
         * no longer wait on each other's increment (store-to-load forwarding). */                                     \
        uint32_t sub[4][SUB_BINS_MAX + 2];                                                                             \
        for (int j = 0; j < 4; j++) /* bins 0..nb-1, and nb, nb + 1 for values outside */                              \
            memset(sub[j], 0, (size_t)(nb + 2) * sizeof sub[j][0]);                                                    \
        uint64_t i = 0;                                                                                                \
        const h5mr_v4d outa = {(double)nb + 0.5, (double)nb + 0.5, (double)nb + 0.5, (double)nb + 0.5},                \
                       outb = outa + 1.0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                                                   \
            /* Eight values at once: in range and away from an edge, the bin is the                                    \
             * truncated product; otherwise all eight take the careful way below. */                                   \
            h5mr_v4d va = h5mr_load4_##T(x + i), ta = (va - first) * norm;                                             \
            h5mr_v4d vb = h5mr_load4_##T(x + i + 4), tb = (vb - first) * norm;                                         \
            /* A lane is unsettled when its value is inside [first, last] and within 1e-9 of                           \
             * an integer (t + 2^52 - 2^52 is the nearest, exactly, for 0 <= t < 2^51); a                              \
             * value outside (NaN too) is settled: it goes to the slot nb, never counted. */                           \
            const h5mr_v4l abs = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};                                         \
            h5mr_v4d da = (h5mr_v4d)((h5mr_v4l)(ta - ((ta + 0x1p52) - 0x1p52)) & abs);                                 \
            h5mr_v4d db = (h5mr_v4d)((h5mr_v4l)(tb - ((tb + 0x1p52) - 0x1p52)) & abs);                                 \
            h5mr_v4l ina = (va >= first) & (va <= last), inb = (vb >= first) & (vb <= last);                           \
            h5mr_v4l bad = (ina & (da <= 1e-9)) | (inb & (db <= 1e-9));                                                \
            bad |= __builtin_shufflevector(bad, bad, 2, 3, 0, 1);                                                      \
            if ((bad[0] | bad[1]) == 0) {                                                                              \
                /* values outside: to slot nb from the first four, nb + 1 from the others (two                         \
                 * counters a lane, not one both wait on, where most values are outside),                              \
                 * chosen before the truncation */                                                                     \
                h5mr_v4i32 ka = __builtin_convertvector(h5mr_v4_select(ina, ta, outa), h5mr_v4i32);                    \
                h5mr_v4i32 kb = __builtin_convertvector(h5mr_v4_select(inb, tb, outb), h5mr_v4i32);                    \
                sub[0][ka[0]]++;                                                                                       \
                sub[1][ka[1]]++;                                                                                       \
                sub[2][ka[2]]++;                                                                                       \
                sub[3][ka[3]]++;                                                                                       \
                sub[0][kb[0]]++;                                                                                       \
                sub[1][kb[1]]++;                                                                                       \
                sub[2][kb[2]]++;                                                                                       \
                sub[3][kb[3]]++;                                                                                       \
                continue;                                                                                              \
            }                                                                                                          \
            for (int j = 0; j < 8; j++) {                                                                              \
                int64_t k = bin_of((double)x[i + (uint64_t)j], e, first, last, norm, nb);                              \
                sub[j & 3][k < 0 ? nb : k]++;                                                                          \
            }                                                                                                          \
        }                                                                                                              \
        for (; i < n; i++) {                                                                                           \
            int64_t k = bin_of((double)x[i], e, first, last, norm, nb);                                                \
            sub[0][k < 0 ? nb : k]++;                                                                                  \
        }                                                                                                              \
        for (int64_t k = 0; k < nb; k++)                                                                               \
            counts[k] += (int64_t)sub[0][k] + sub[1][k] + sub[2][k] + sub[3][k];                                       \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) HIST_TYPE(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status hist_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    hist_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, hist_config_free);
    if (!c) return H5MR_ENOMEM;
    c->bins = 10;
    h5mr_status st = h5mr_ctx_param_i64(ctx, "bins", &c->bins);
    if (st != H5MR_OK) return st;
    if (c->bins < 1 || c->bins > BINS_MAX)
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel histogram: bins=%lld must be from 1 to %lld",
                              (long long)c->bins, (long long)BINS_MAX);
    c->has_min = h5mr_ctx_param(ctx, "min") != NULL;
    c->has_max = h5mr_ctx_param(ctx, "max") != NULL;
    if ((st = h5mr_ctx_param_f64(ctx, "min", &c->min)) != H5MR_OK) return st;
    if ((st = h5mr_ctx_param_f64(ctx, "max", &c->max)) != H5MR_OK) return st;
    if ((c->has_min && !isfinite(c->min)) || (c->has_max && !isfinite(c->max)))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel histogram: %s=%s is not a finite number",
                              c->has_min && !isfinite(c->min) ? "min" : "max",
                              h5mr_ctx_param(ctx, c->has_min && !isfinite(c->min) ? "min" : "max"));
    const h5mr_packing *pk = h5mr_ctx_packing(ctx);
    if (pk && h5mr_unpack_monotonic(pk)) {
        h5mr_ctx_accept_packed(ctx);
        h5mr_dtype t = h5mr_ctx_dtype(ctx);
        c->pk = pk;
        c->tlo = t == H5MR_DTYPE_I8 ? INT8_MIN : t == H5MR_DTYPE_I16 ? INT16_MIN : 0;
        c->thi = t == H5MR_DTYPE_I8    ? INT8_MAX
                 : t == H5MR_DTYPE_U8  ? UINT8_MAX
                 : t == H5MR_DTYPE_I16 ? INT16_MAX
                 : t == H5MR_DTYPE_U16 ? UINT16_MAX
                                       : -1; /* 32-bit: no table */
    }
    if (c->has_min && c->has_max) {
        if (c->min > c->max)
            return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel histogram: min=%g is larger than max=%g", c->min, c->max);
        st = make_edges(ctx, c, c->min, c->max);
        return st == H5MR_OK && c->pk && c->thi >= c->tlo ? make_lut(c) : st;
    }
    /* A first pass finds what is missing from the data. */
    h5mr_ctx_set_passes(ctx, 2);
    h5mr_ctx_set_state_size(ctx, sizeof(range_state));
    return H5MR_OK;
}

static h5mr_status hist_end_pass(h5mr_ctx *ctx, const void *state)
{
    hist_config *c = h5mr_ctx_config(ctx);
    const range_state *s = state;
    /* numpy on no data: the range (0, 1) */
    double lo = s->min, hi = s->max;
    if (c->pk && s->n) { /* the stored extremes unpacked (swapped for a negative scale) */
        lo = h5mr_unpack(c->pk, c->pk->scale < 0 ? s->max : s->min);
        hi = h5mr_unpack(c->pk, c->pk->scale < 0 ? s->min : s->max);
    }
    double first = c->has_min ? c->min : s->n ? lo : 0.0;
    double last = c->has_max ? c->max : s->n ? hi : 1.0;
    if (first > last)
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel histogram: min %g is larger than max %g (%s from the data)",
                              first, last, c->has_min ? "max" : "min");
    h5mr_status st = make_edges(ctx, c, first, last);
    return st == H5MR_OK && c->pk && c->thi >= c->tlo ? make_lut(c) : st;
}

static int last_pass(const h5mr_ctx *ctx) { return ((const hist_config *)h5mr_ctx_config(ctx))->edges != NULL; }

static h5mr_status hist_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const hist_config *c = h5mr_ctx_config(ctx);
    uint64_t n = b->rows * b->row_elems;
    int binning = last_pass(ctx);
    if (c->pk) {
#define H5MR_CASE(T, LO, HI)                                                                                           \
    if (binning)                                                                                                       \
        bin_pk_##T(b->data, n, c, state);                                                                              \
    else                                                                                                               \
        range_pk_##T(b->data, n, state, c);
        H5MR_PACKED_SWITCH(
            b->dtype, return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "histogram: a packing of an unexpected stored type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
#define H5MR_CASE(T, W)                                                                                                \
    if (binning)                                                                                                       \
        bin_##T(b->data, n, c, state);                                                                                 \
    else                                                                                                               \
        range_##T(b->data, n, state);
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "histogram: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status hist_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const hist_config *c = h5mr_ctx_config(ctx);
    if (last_pass(ctx)) {
        int64_t *a = into;
        const int64_t *b = from;
        for (int64_t i = 0; i < c->bins; i++)
            a[i] += b[i];
        return H5MR_OK;
    }
    range_state *a = into;
    const range_state *b = from;
    if (b->n == 0) return H5MR_OK;
    if (a->n == 0 || b->min < a->min) a->min = b->min;
    if (a->n == 0 || b->max > a->max) a->max = b->max;
    a->n += b->n;
    return H5MR_OK;
}

static h5mr_status hist_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const hist_config *c = h5mr_ctx_config(ctx);
    uint64_t nb = (uint64_t)c->bins, ne = nb + 1;
    h5mr_status st = h5mr_result_set_array(r, "counts", H5MR_FIELD_I64, 1, &nb, state, NULL);
    return st == H5MR_OK ? h5mr_result_set_array(r, "edges", H5MR_FIELD_F64, 1, &ne, c->edges, NULL) : st;
}

static const h5mr_param_decl hist_params[] = {{"bins", "10", "number of equal bins"},
                                              {"min", NULL, "left edge (default: the data's minimum)"},
                                              {"max", NULL, "right edge, inclusive (default: the data's maximum)"},
                                              {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_histogram = {
    H5MR_KERNEL_FIELDS(
        "histogram", "counts in equal bins from min to max, as numpy.histogram (range from the data by default)", hist),
    .end_pass = hist_end_pass};
