/* frac_above: a plugin kernel — for each image of a stack (each index along
 * dimension 0), the fraction of its pixels above a threshold (NaN pixels not counted).
 *   cc -shared -fPIC frac_above.c $(pkg-config --cflags --libs h5mr) -o frac_above.so
 *   mpirun -n 4 h5mr run --plugin ./frac_above.so -k frac_above -p threshold=0.5 FILE DATASET */
#include <h5mr.h>
#include <stdlib.h>

typedef struct {
    double threshold;
    uint64_t images;
} config; /* per job, on every rank */

static h5mr_status setup(h5mr_ctx *ctx)
{
    config *c = calloc(1, sizeof *c);
    if (!c) return H5MR_ENOMEM;
    h5mr_ctx_set_config(ctx, c, free);
    c->images = h5mr_ctx_shape(ctx)[0];
    h5mr_ctx_set_state_size(ctx, 2 * c->images * sizeof(int64_t) + 1); /* above[T], valid[T] */
    return h5mr_ctx_param_f64(ctx, "threshold", &c->threshold);
}

#define COUNT(T)                                                                                                       \
    for (uint64_t r = 0; r < b->rows; r++)                                                                             \
        for (uint64_t p = 0; p < b->row_elems; p++) {                                                                  \
            double v = (double)((const T *)b->data)[r * b->row_elems + p];                                             \
            above[b->first_row + r] += v > c->threshold;                                                               \
            valid[b->first_row + r] += v == v;                                                                         \
        }

static h5mr_status map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const config *c = h5mr_ctx_config(ctx);
    int64_t *above = state, *valid = above + c->images;
    switch (b->dtype) {
    case H5MR_DTYPE_F32: COUNT(float) break;
    case H5MR_DTYPE_F64: COUNT(double) break;
    default: return h5mr_ctx_error(ctx, H5MR_EINPUT, "frac_above: f32 or f64 data only");
    }
    return H5MR_OK;
}

static h5mr_status combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const config *c = h5mr_ctx_config(ctx);
    for (uint64_t i = 0; i < 2 * c->images; i++)
        ((int64_t *)into)[i] += ((const int64_t *)from)[i];
    return H5MR_OK; /* integer counts: exact, so any order gives the same result */
}

static h5mr_status finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const config *c = h5mr_ctx_config(ctx);
    const int64_t *above = state, *valid = above + c->images;
    double *f = malloc(c->images * sizeof *f + 1);
    if (!f) return H5MR_ENOMEM;
    for (uint64_t i = 0; i < c->images; i++)
        f[i] = valid[i] ? (double)above[i] / (double)valid[i] : 0.0 / 0.0;
    h5mr_status st = h5mr_result_set_array(r, "fraction", H5MR_FIELD_F64, 1, &c->images, f, NULL);
    free(f);
    return st;
}

static const h5mr_param_decl params[] = {{"threshold", "0", "count pixels above this"}, {NULL, NULL, NULL}};
static const h5mr_kernel frac_above = {H5MR_KERNEL_ABI,
                                       "frac_above",
                                       "fraction of pixels per image above a threshold",
                                       params,
                                       setup,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       NULL,
                                       map,
                                       combine,
                                       finish,
                                       NULL};

h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err);
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err)
{
    if (host_abi != H5MR_KERNEL_ABI) return H5MR_EINPUT;
    return h5mr_kernel_register(&frac_above, err);
}
