/* rmsd: a plugin kernel that reads a companion — the root-mean-square difference of
 * the input x and the dataset given with --with (a forecast and its analysis, two
 * model runs), over the pairs where both are valid.
 *   cc -shared -fPIC rmsd.c $(pkg-config --cflags --libs h5mr) -o rmsd.so
 *   mpirun -n 4 h5mr run --plugin ./rmsd.so -k rmsd FILE DATASET --with OTHER
 * The library hands the --with rows in block->inputs, aligned with the block's rows and
 * broadcast (a trailing or leading companion has a stride of 0), as f64; x arrives as
 * float, NaN where either value is missing. */
#include <h5mr.h>
#include <math.h>
#include <string.h>

typedef struct {
    int64_t n;
    h5mr_xsum sq;
} state; /* exact Σ(x-y)²: any order, the same bits */

static h5mr_status setup(h5mr_ctx *ctx)
{
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_WITH);
    if (!h5mr_ctx_has_input(ctx, H5MR_ROLE_WITH)) return h5mr_ctx_error(ctx, H5MR_EUSAGE, "rmsd needs --with");
    h5mr_ctx_set_state_size(ctx, sizeof(state));
    return H5MR_OK;
}

#define FOLD(T)                                                                                                        \
    for (uint64_t r = 0; r < b->rows; r++)                                                                             \
        for (uint64_t j = 0; j < b->row_elems; j++) {                                                                  \
            double x = (double)((const T *)b->data)[r * b->row_elems + j];                                             \
            double d = x - yv[r * y->row_stride + j * y->elem_stride];                                                 \
            if (d == d) s->n++, h5mr_xsum_add(&s->sq, d *d);                                                           \
        }

static h5mr_status map(h5mr_ctx *ctx, void *st, const h5mr_block *b)
{
    state *s = st;
    const h5mr_rows *y = h5mr_block_input(b, H5MR_ROLE_WITH);
    const double *yv = y->data;
    switch (b->dtype) {
    case H5MR_DTYPE_F32: FOLD(float) break;
    case H5MR_DTYPE_F64: FOLD(double) break;
    default: return h5mr_ctx_error(ctx, H5MR_EINPUT, "rmsd: float values expected");
    }
    return H5MR_OK;
}

static h5mr_status combine(h5mr_ctx *ctx, void *into, const void *from)
{
    (void)ctx;
    state *a = into;
    const state *f = from;
    a->n += f->n;
    h5mr_xsum_merge(&a->sq, &f->sq);
    return H5MR_OK;
}

static h5mr_status finish(h5mr_ctx *ctx, const void *st, h5mr_result *r)
{
    (void)ctx;
    const state *s = st;
    h5mr_status rc = h5mr_result_set_i64(r, "count", s->n);
    if (rc == H5MR_OK) rc = h5mr_result_set_f64(r, "rmsd", s->n ? sqrt(h5mr_xsum_round(&s->sq) / (double)s->n) : NAN);
    return rc;
}

static const h5mr_kernel rmsd = {H5MR_KERNEL_ABI,
                                 "rmsd",
                                 "root-mean-square difference of the input and --with",
                                 NULL,
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
    return h5mr_kernel_register(&rmsd, err);
}
