/* clip: a plugin map kernel — writes every value limited to [lo, hi] (numpy's np.clip),
 * a dataset of the input's shape, with h5mr map.
 *   cc -shared -fPIC clip.c $(pkg-config --cflags --libs h5mr) -o clip.so
 *   mpirun -n 4 h5mr map --plugin ./clip.so -k clip -p lo=0 -p hi=1 FILE DATASET -o OUT.h5
 * setup declares the output (its type: f64); in the last pass map fills
 * block->out->data[0], one value per element in the block's layout, and the library
 * converts (--dtype), chunks, compresses and writes it on the rank that mapped it.
 * NaN (a missing value) stays NaN. */
#include <h5mr.h>
#include <math.h>
#include <stdlib.h>

typedef struct {
    double lo, hi;
} config;

static const h5mr_param_decl params[] = {
    {"lo", "-inf", "lower bound"}, {"hi", "inf", "upper bound"}, {NULL, NULL, NULL}};

static h5mr_status setup(h5mr_ctx *ctx)
{
    config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, NULL);
    if (!c) return H5MR_ENOMEM;
    h5mr_status st = h5mr_ctx_param_f64(ctx, "lo", &c->lo);
    if (st == H5MR_OK) st = h5mr_ctx_param_f64(ctx, "hi", &c->hi);
    if (st == H5MR_OK && c->lo > c->hi) return h5mr_ctx_error(ctx, H5MR_EUSAGE, "clip: lo > hi");
    h5mr_ctx_set_state_size(ctx, 8); /* a map kernel reduces nothing */
    h5mr_ctx_allow_joined_items(ctx);
    return st == H5MR_OK && h5mr_ctx_add_output(ctx, H5MR_DTYPE_F64) < 0 ? H5MR_EKERNEL : st;
}

#define H5MR_EACH(T, W, IS_FLOAT, BITS, LOWEST, HIGHEST)                                                               \
    static void clip_##T(const T *x, double *out, uint64_t n, const config *c)                                         \
    {                                                                                                                  \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            double v = (double)x[i];                                                                                   \
            out[i] = v < c->lo ? c->lo : v > c->hi ? c->hi : v;                                                        \
        }                                                                                                              \
    }
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    (void)state;
    if (!b->out) return H5MR_OK; /* not the pass that writes (a one-pass kernel always is) */
    const config *c = h5mr_ctx_config(ctx);
#define H5MR_CASE(T, W) clip_##T(b->data, b->out->data[0], b->rows * b->row_elems, c);
    H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status combine(h5mr_ctx *ctx, void *into, const void *from)
{
    (void)ctx, (void)into, (void)from;
    return H5MR_OK;
}

static h5mr_status finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    (void)ctx, (void)state, (void)r;
    return H5MR_OK;
}

static const h5mr_kernel clip = {.abi = H5MR_KERNEL_ABI,
                                 .name = "clip",
                                 .description = "write every value limited to [lo, hi], as np.clip",
                                 .params = params,
                                 .setup = setup,
                                 .map = map,
                                 .combine = combine,
                                 .finish = finish};

h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err);
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err)
{
    if (host_abi != H5MR_KERNEL_ABI) return H5MR_EINPUT;
    return h5mr_kernel_register(&clip, err);
}
