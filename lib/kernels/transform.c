/* transform.c: the built-in map kernels of `h5mr map` — each writes one value per
 * element of the input, with the public kernel API only (h5mr_ctx_add_output and the
 * block's output rows), as a plugin's map kernel does:
 *   convert   the value itself (CF unpacked unless --raw); the library stores it as
 *             --dtype: rechunk, recompress, unpack
 *   scale     a·x + b, in double
 *   anomaly   x − the mean of its pixel over dimension 0: a first pass folds every
 *             pixel's exact sum (TwoSum pairs into h5mr_rsum, the same bits in any
 *             order) and count, the second writes the differences
 *   normdiff  (x − y) / (x + y) with y from --with, NaN where x + y = 0 (NDVI) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

/* A map kernel reduces nothing: its state is a placeholder. */
typedef struct none_state {
    uint64_t unused;
} none_state;

static h5mr_status none_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    (void)ctx, (void)into, (void)from;
    return H5MR_OK;
}

static h5mr_status none_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    (void)ctx, (void)state, (void)r;
    return H5MR_OK;
}

static h5mr_status map_setup(h5mr_ctx *ctx, h5mr_dtype out)
{
    h5mr_ctx_allow_joined_items(ctx);
    h5mr_ctx_set_state_size(ctx, sizeof(none_state));
    return h5mr_ctx_add_output(ctx, out) >= 0 ? H5MR_OK : H5MR_EKERNEL;
}

/* ---------------------------------------------------------------- convert */

static const h5mr_param_decl convert_params[] = {{NULL, NULL, NULL}};

static h5mr_status convert_setup(h5mr_ctx *ctx) { return map_setup(ctx, h5mr_ctx_dtype(ctx)); }

static h5mr_status convert_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    (void)ctx, (void)state;
    if (b->out) memcpy(b->out->data[0], b->data, b->rows * b->row_elems * h5mr_dtype_size(b->dtype));
    return H5MR_OK;
}

#define convert_combine none_combine
#define convert_finish none_finish
const h5mr_kernel h5mr__kernel_convert = {H5MR_KERNEL_FIELDS(
    "convert", "write the values (CF unpacked unless --raw) as --dtype: rechunk, recompress, unpack", convert)};

/* ---------------------------------------------------------------- scale */

typedef struct scale_config {
    double a, b;
} scale_config;

static const h5mr_param_decl scale_params[] = {
    {"a", "1", "factor"}, {"b", "0", "offset: each value becomes a*x + b, in double"}, {NULL, NULL, NULL}};

static h5mr_status scale_setup(h5mr_ctx *ctx)
{
    scale_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, free);
    if (!c) return H5MR_ENOMEM;
    h5mr_status st = h5mr_ctx_param_f64(ctx, "a", &c->a);
    if (st == H5MR_OK) st = h5mr_ctx_param_f64(ctx, "b", &c->b);
    return st == H5MR_OK ? map_setup(ctx, H5MR_DTYPE_F64) : st;
}

/* No fused multiply-add (-ffp-contract=off): the product is rounded, then the sum, as
 * numpy computes a * x + b. */
#define SCALE_TYPE(T)                                                                                                  \
    H5MR_HOT static void scale_##T(const T *restrict x, double *restrict out, uint64_t n, double a, double b)          \
    {                                                                                                                  \
        for (uint64_t i = 0; i < n; i++)                                                                               \
            out[i] = a * (double)x[i] + b;                                                                             \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) SCALE_TYPE(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status scale_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    (void)state;
    const scale_config *c = h5mr_ctx_config(ctx);
    if (!b->out) return H5MR_OK;
    uint64_t n = b->rows * b->row_elems;
#define H5MR_CASE(T, W) scale_##T(b->data, b->out->data[0], n, c->a, c->b);
    H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
#undef H5MR_CASE
    return H5MR_OK;
}

#define scale_combine none_combine
#define scale_finish none_finish
const h5mr_kernel h5mr__kernel_scale = {H5MR_KERNEL_FIELDS("scale", "write a*x + b for every value x", scale)};

/* ---------------------------------------------------------------- anomaly */

/* Pass 0: per pixel, an exact sum and a count (the state); then the means (config);
 * pass 1: the differences.  The state, per pixel P of a row: counts, pending TwoSum
 * pairs (hi, lo) that the rows of a block fold into (branch-free, four pixels a
 * vector), and the exact sums (h5mr_rsum) the pairs go into every FLUSH_ROWS rows, as
 * the stats kernel does: the same bits whatever the blocks. */
#define FLUSH_ROWS 256
typedef struct anomaly_view {
    int64_t *count;
    double *hi, *lo;
    int64_t *pend;
    h5mr_rsum *sum;
} anomaly_view;

typedef struct anomaly_config {
    uint64_t pixels;
    double *mean; /* after pass 0 */
} anomaly_config;

static size_t anomaly_size(uint64_t P) { return (size_t)P * (24 + sizeof(h5mr_rsum)) + 32; }

static anomaly_view anomaly_of(void *state, uint64_t P)
{
    anomaly_view v;
    v.count = state;
    v.hi = (double *)(v.count + P);
    v.lo = v.hi + P;
    v.pend = (int64_t *)(v.lo + P);
    v.sum = (h5mr_rsum *)(((uintptr_t)(v.pend + 1) + 15) & ~(uintptr_t)15);
    return v;
}

/* The pending pairs of `from` into the exact sums of `into` (the same state or not). */
static void anomaly_flush(anomaly_view into, anomaly_view from, uint64_t P)
{
    for (uint64_t p = 0; p < P; p++) {
        h5mr_rsum_add(&into.sum[p], from.hi[p]);
        h5mr_rsum_add(&into.sum[p], from.lo[p]);
    }
}

static void anomaly_free(void *p)
{
    anomaly_config *c = p;
    if (c) free(c->mean);
    free(c);
}

static const h5mr_param_decl anomaly_params[] = {{NULL, NULL, NULL}};

static h5mr_status anomaly_setup(h5mr_ctx *ctx)
{
    anomaly_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, anomaly_free);
    if (!c) return H5MR_ENOMEM;
    uint64_t pixels = 1;
    for (int d = 1; d < h5mr_ctx_ndims(ctx); d++)
        pixels *= h5mr_ctx_shape(ctx)[d];
    c->pixels = pixels;
    if (pixels > (SIZE_MAX / 4) / (24 + sizeof(h5mr_rsum)))
        return h5mr_ctx_error(ctx, H5MR_ELIMIT, "kernel anomaly: %llu pixels a row are too many",
                              (unsigned long long)pixels);
    h5mr_status st = map_setup(ctx, H5MR_DTYPE_F64);
    h5mr_ctx_set_state_size(ctx, anomaly_size(pixels));
    h5mr_ctx_set_passes(ctx, 2);
    return st;
}

#define ANOMALY_TYPE(T)                                                                                                \
    H5MR_HOT static void anomaly_sum_##T(const T *restrict x, uint64_t rows, uint64_t P, int64_t *restrict cnt,        \
                                         double *restrict hi, double *restrict lo)                                     \
    {                                                                                                                  \
        for (uint64_t r = 0; r < rows; r++)                                                                            \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                double v = (double)x[r * P + p];                                                                       \
                int ok = v == v;                                                                                       \
                v = ok ? v : 0.0;                                                                                      \
                cnt[p] += ok;                                                                                          \
                H5MR_TWOSUM_ACC(hi[p], lo[p], v);                                                                      \
            }                                                                                                          \
    }                                                                                                                  \
    H5MR_HOT static void anomaly_diff_##T(const T *restrict x, uint64_t rows, uint64_t P, const double *restrict m,    \
                                          double *restrict out)                                                        \
    {                                                                                                                  \
        for (uint64_t r = 0; r < rows; r++)                                                                            \
            for (uint64_t p = 0; p < P; p++)                                                                           \
                out[r * P + p] = (double)x[r * P + p] - m[p];                                                          \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) ANOMALY_TYPE(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status anomaly_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const anomaly_config *c = h5mr_ctx_config(ctx);
    if (h5mr_ctx_pass(ctx) == 0) {
        anomaly_view v = anomaly_of(state, c->pixels);
        /* In runs of rows that keep the pairs within FLUSH_ROWS rows. */
        for (uint64_t r = 0; r < b->rows;) {
            uint64_t m = b->rows - r, room = (uint64_t)(FLUSH_ROWS - *v.pend);
            if (m > room) m = room;
            const char *x = (const char *)b->data + r * c->pixels * h5mr_dtype_size(b->dtype);
#define H5MR_CASE(T, W) anomaly_sum_##T((const T *)x, m, c->pixels, v.count, v.hi, v.lo);
            H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
#undef H5MR_CASE
            r += m;
            if ((*v.pend += (int64_t)m) >= FLUSH_ROWS) {
                anomaly_flush(v, v, c->pixels);
                memset(v.hi, 0, 2 * c->pixels * sizeof(double));
                *v.pend = 0;
            }
        }
    } else if (b->out) {
#define H5MR_CASE(T, W) anomaly_diff_##T(b->data, b->rows, c->pixels, c->mean, b->out->data[0]);
        H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
#undef H5MR_CASE
    }
    return H5MR_OK;
}

static h5mr_status anomaly_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const anomaly_config *c = h5mr_ctx_config(ctx);
    if (h5mr_ctx_pass(ctx) != 0) return H5MR_OK;
    uint64_t P = c->pixels;
    anomaly_view a = anomaly_of(into, P), f = anomaly_of((void *)from, P);
    anomaly_flush(a, f, P);
    for (uint64_t p = 0; p < P; p++) {
        h5mr_rsum_merge(&a.sum[p], &f.sum[p]);
        a.count[p] += f.count[p];
    }
    return H5MR_OK;
}

static h5mr_status anomaly_end_pass(h5mr_ctx *ctx, const void *state)
{
    anomaly_config *c = h5mr_ctx_config(ctx);
    uint64_t P = c->pixels;
    anomaly_view v = anomaly_of((void *)state, P);
    free(c->mean);
    if (!(c->mean = malloc((P ? P : 1) * sizeof *c->mean))) return H5MR_ENOMEM;
    for (uint64_t p = 0; p < P; p++) {
        h5mr_rsum s = v.sum[p]; /* with what is pending (the state stays as it is) */
        h5mr_rsum_add(&s, v.hi[p]);
        h5mr_rsum_add(&s, v.lo[p]);
        c->mean[p] = v.count[p] ? h5mr_rsum_round(&s) / (double)v.count[p] : NAN;
    }
    h5mr_ctx_set_state_size(ctx, sizeof(none_state));
    return H5MR_OK;
}

#define anomaly_finish none_finish
const h5mr_kernel h5mr__kernel_anomaly = {
    H5MR_KERNEL_FIELDS("anomaly", "write x minus the mean of its pixel over dimension 0 (two passes)", anomaly),
    .end_pass = anomaly_end_pass};

/* ---------------------------------------------------------------- normdiff */

static const h5mr_param_decl normdiff_params[] = {{NULL, NULL, NULL}};

static h5mr_status normdiff_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_WITH);
    if (!h5mr_ctx_has_input(ctx, H5MR_ROLE_WITH))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel normdiff needs --with [FILE:]DATASET (the second band y)");
    return map_setup(ctx, H5MR_DTYPE_F64);
}

#define NORMDIFF_TYPE(T)                                                                                               \
    H5MR_HOT static void normdiff_##T(const T *restrict x, const h5mr_rows *y, uint64_t rows, uint64_t E,              \
                                      double *restrict out)                                                            \
    {                                                                                                                  \
        const double *yd = y->data;                                                                                    \
        for (uint64_t r = 0; r < rows; r++) {                                                                          \
            const double *yr = yd + r * y->row_stride;                                                                 \
            for (uint64_t j = 0; j < E; j++) {                                                                         \
                double v = (double)x[r * E + j], u = yr[j * y->elem_stride], s = v + u;                                \
                out[r * E + j] = s == 0 ? NAN : (v - u) / s;                                                           \
            }                                                                                                          \
        }                                                                                                              \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) NORMDIFF_TYPE(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status normdiff_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    (void)ctx, (void)state;
    const h5mr_rows *y = h5mr_block_input(b, H5MR_ROLE_WITH);
    if (!b->out || !y) return H5MR_OK;
#define H5MR_CASE(T, W) normdiff_##T(b->data, y, b->rows, b->row_elems, b->out->data[0]);
    H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
#undef H5MR_CASE
    return H5MR_OK;
}

#define normdiff_combine none_combine
#define normdiff_finish none_finish
const h5mr_kernel h5mr__kernel_normdiff = {
    H5MR_KERNEL_FIELDS("normdiff", "write (x - y) / (x + y) with y from --with, NaN where x + y = 0 (NDVI)", normdiff)};
