/* apply.c: the passes of a kernel — once for a job across ranks (job.c gives the fold
 * that reads, maps and reduces), once serially over an array in memory (h5mr__apply,
 * what the unit tests, the fuzzer and the chaos test run kernels with). */
#include "internal.h"

#include <stdlib.h>

static h5mr_status agreed(const h5mr__passes_ops *ops, h5mr_status st)
{
    return ops->agree ? ops->agree(ops->arg, st) : st;
}

h5mr_status h5mr__passes(h5mr_ctx *ctx, const h5mr__passes_ops *ops, void **state)
{
    h5mr_status st = H5MR_OK;
    *state = NULL;
    for (ctx->pass = 0; ctx->pass < ctx->passes; ctx->pass++) {
        h5mr__state_free(ctx, *state);
        if (!(*state = h5mr__state_new(ctx)))
            st = h5mr__error_set(ctx->err, H5MR_ENOMEM, "cannot allocate the state of kernel %s", ctx->kernel->name);
        if ((st = agreed(ops, st)) != H5MR_OK) break;
        if ((st = agreed(ops, ops->fold(ops->arg, *state))) != H5MR_OK) break;
        if (ctx->pass + 1 < ctx->passes) {
            if (ops->between) st = ops->between(ops->arg, *state);
            if (st == H5MR_OK) st = ctx->kernel->end_pass(ctx, *state);
            if ((st = agreed(ops, st)) != H5MR_OK) break;
        }
    }
    ctx->pass = ctx->passes - 1;
    return st;
}

/* ---------------------------------------------------------------- serially */

typedef struct serial {
    h5mr_ctx *ctx;
    const void *data;
    uint64_t rows, row_elems;
    const h5mr__apply_opts *o;
} serial;

/* Blocks of rows_per_block rows, round-robin into nstates states; each state packed
 * and unpacked (as the reduction moves it), then combined into the pass's state in
 * order, or in reverse. */
static h5mr_status serial_fold(void *arg, void *state)
{
    serial *s = arg;
    h5mr_ctx *ctx = s->ctx;
    int n = s->o->nstates > 0 ? s->o->nstates : 1;
    uint64_t per = s->o->rows_per_block > 0 ? s->o->rows_per_block : (s->rows > 0 ? s->rows : 1);
    size_t esize = h5mr_dtype_size(ctx->dtype);
    void **st = calloc((size_t)n, sizeof *st);
    h5mr_status rc = st ? H5MR_OK : H5MR_ENOMEM;
    for (int k = 0; k < n && rc == H5MR_OK; k++)
        if (!(st[k] = h5mr__state_new(ctx))) rc = H5MR_ENOMEM;
    uint64_t item = 0;
    for (uint64_t off = 0; off < s->rows && rc == H5MR_OK; off += per, item++) {
        uint64_t k = s->rows - off < per ? s->rows - off : per;
        h5mr_block b = {.data = (const char *)s->data + off * s->row_elems * esize,
                        .dtype = ctx->dtype,
                        .rows = k,
                        .row_elems = s->row_elems,
                        .first_row = off,
                        .item = item};
        rc = ctx->kernel->map(ctx, st[item % (uint64_t)n], &b);
    }
    for (int k = 0; k < n && rc == H5MR_OK; k++) {
        void *bytes = NULL, *copy = NULL;
        size_t nb = 0;
        int owned = 0;
        int at = s->o->reverse ? n - 1 - k : k;
        rc = h5mr__state_pack(ctx, st[at], &bytes, &nb, &owned);
        if (rc == H5MR_OK && !(copy = h5mr__state_new(ctx))) rc = H5MR_ENOMEM;
        if (rc == H5MR_OK) rc = h5mr__state_unpack(ctx, copy, bytes, nb);
        if (rc == H5MR_OK) rc = ctx->kernel->combine(ctx, state, copy);
        if (owned) free(bytes);
        h5mr__state_free(ctx, copy);
    }
    for (int k = 0; st && k < n; k++)
        h5mr__state_free(ctx, st[k]);
    free(st);
    if (rc == H5MR_ENOMEM && ctx->err && ctx->err->message[0] == '\0')
        h5mr__error_set(ctx->err, rc, "kernel %s: out of memory", ctx->kernel->name);
    return rc;
}

h5mr_status h5mr__apply(h5mr_ctx *ctx, const void *data, const h5mr__apply_opts *o, h5mr_result **out)
{
    *out = NULL;
    serial s = {ctx, data, ctx->ndims > 0 ? ctx->shape[0] : 0, 1, o};
    for (int d = 1; d < ctx->ndims; d++)
        s.row_elems *= ctx->shape[d];
    h5mr__passes_ops ops = {serial_fold, NULL, NULL, &s};
    void *state = NULL;
    h5mr_status st = h5mr__passes(ctx, &ops, &state);
    h5mr_result *r = NULL;
    if (st == H5MR_OK && !(r = h5mr__result_new())) st = H5MR_ENOMEM;
    if (st == H5MR_OK) st = ctx->kernel->finish(ctx, state, r);
    h5mr__state_free(ctx, state);
    if (st != H5MR_OK) {
        h5mr__result_free(r);
        return st;
    }
    *out = r;
    return H5MR_OK;
}
