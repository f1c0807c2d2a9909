/* map.c: the map step — decode an item if it travels as stored chunks, then fold it
 * into the kernel's state, timed and counted; a kernel's failure names the item. */
#include "internal.h"

h5mr_status h5mr__map_decoder(const h5mr__run *run, h5mr__decoder **dec)
{
    *dec = NULL;
    return run->plan->raw ? h5mr__decoder_new(run->desc, run->plan, dec, run->ctx->err) : H5MR_OK;
}

h5mr_status h5mr__map_rows(h5mr__run *run, void *state, const void *data, uint64_t item, uint64_t first, uint64_t n)
{
    const h5mr__plan *p = run->plan;
    h5mr_ctx *ctx = run->ctx;
    h5mr_block b = {.data = data,
                    .dtype = run->desc->dtype,
                    .rows = n,
                    .row_elems = p->row_elems,
                    .first_row = first,
                    .item = item};
    double t0 = h5mr__now();
    h5mr_status st = ctx->kernel->map(ctx, state, &b);
    run->mine->busy_s += h5mr__now() - t0;
    run->mine->bytes += n * p->row_elems * p->elem_size;
    if (st != H5MR_OK)
        h5mr__error_wrap(ctx->err, st, "kernel %s failed on item %llu (rows %llu..%llu)", ctx->kernel->name,
                         (unsigned long long)item, (unsigned long long)first, (unsigned long long)(first + n - 1));
    return st;
}

h5mr_status h5mr__map_item(h5mr__run *run, void *state, const void *data, uint64_t item)
{
    uint64_t first, n;
    h5mr__plan_item(run->plan, item, &first, &n);
    run->mine->items++;
    return h5mr__map_rows(run, state, data, item, first, n);
}

h5mr_status h5mr__map_msg(h5mr__run *run, h5mr__decoder *dec, void *state, const void *msg, uint64_t len, uint64_t item)
{
    const void *data = msg;
    if (dec) {
        double t0 = h5mr__now();
        h5mr_status st = h5mr__raw_decode(dec, item, msg, len, &data, run->ctx->err);
        run->mine->busy_s += h5mr__now() - t0;
        if (st != H5MR_OK) return h5mr__name_item(run, item, st);
    }
    return h5mr__map_item(run, state, data, item);
}
