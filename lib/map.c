/* map.c: the map step — decode an item if it travels as stored chunks, then fold it
 * into the kernel's state (a map kernel's last pass: and hand the rows it wrote to the
 * store), timed and counted; a kernel's failure names the item. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

h5mr_status h5mr__map_decoder(const h5mr__run *run, h5mr__decoder **dec)
{
    *dec = NULL;
    return run->plan->raw ? h5mr__decoder_new(run->desc, run->plan, dec, run->ctx->err) : H5MR_OK;
}

/* Values converted per slice of about this many (f64: 8 MiB), in whole rows.  A
 * kernel pays per block (per pixel with axis=0): 1 MiB slices made the per-pixel mean
 * of an i16 (15000, 180, 360) variable 17x slower than --raw, whole items or 8 MiB
 * slices 6x; what remains is the kernels' f64 paths (the exact squares of stats) and
 * the conversion (bench/RESULTS.md §15). */
#define CF_SLICE_ELEMS ((uint64_t)1 << 20)

/* The companions of a block: `comp` holds them for `cn` rows; the block starts at
 * row `r` of those. */
typedef struct comp_at {
    const void *comp;
    uint64_t cn, r;
} comp_at;

static h5mr_status fold(h5mr__run *run, void *state, const void *data, h5mr_dtype t, uint64_t item, uint64_t first,
                        uint64_t n, comp_at c)
{
    h5mr_ctx *ctx = run->ctx;
    h5mr_block b = {
        .data = data, .dtype = t, .rows = n, .row_elems = run->plan->row_elems, .first_row = first, .item = item};
    h5mr_rows rows[H5MR__MAX_COMP];
    if (run->ncomp > 0) {
        /* An element whose companion value is missing is missing (the values are the
         * run's own buffer, float by the plan). */
        h5mr__comp_rows(run, c.comp, c.cn, c.r, rows);
        h5mr__comp_apply(run, rows, t, (void *)data, n);
        b.ninputs = run->ncomp;
        b.inputs = rows;
    }
    /* A map kernel's last pass: its output rows, stored once it has filled them. */
    h5mr_out_rows out;
    void *out_data[H5MR_MAX_OUTPUTS];
    if (run->store && ctx->pass == ctx->passes - 1) {
        uint64_t need = 0;
        for (int i = 0; i < ctx->noutputs; i++)
            need += (n * ctx->out_row_elems[i] * h5mr_dtype_size(ctx->out_dtype[i]) + 63) / 64 * 64;
        if (need > run->out_cap) {
            free(run->out_buf);
            run->out_cap = 0;
            if (!(run->out_buf = malloc(need ? need : 1)))
                return h5mr__error_set(ctx->err, H5MR_ENOMEM, "cannot allocate %llu bytes for output rows",
                                       (unsigned long long)need);
            run->out_cap = need;
        }
        char *at = run->out_buf;
        for (int i = 0; i < ctx->noutputs; i++) {
            out_data[i] = at;
            at += (n * ctx->out_row_elems[i] * h5mr_dtype_size(ctx->out_dtype[i]) + 63) / 64 * 64;
        }
        out = (h5mr_out_rows){ctx->noutputs, out_data, ctx->out_dtype, ctx->out_row_elems};
        b.out = &out;
    }
    h5mr_status st = ctx->kernel->map(ctx, state, &b);
    if (st != H5MR_OK)
        return h5mr__error_wrap(ctx->err, st, "kernel %s failed on item %llu (rows %llu..%llu)", ctx->kernel->name,
                                (unsigned long long)item, (unsigned long long)first,
                                (unsigned long long)(first + n - 1));
    for (int i = 0; b.out && i < ctx->noutputs && st == H5MR_OK; i++)
        if ((st = h5mr__store_rows(run->store, i, first, n, out_data[i])) != H5MR_OK) h5mr__name_item(run, item, st);
    return st;
}

/* Where the mapping rank reads its own rows: their companions, read now. */
static h5mr_status comp_local(h5mr__run *run, uint64_t first, uint64_t n, comp_at *c)
{
    *c = (comp_at){NULL, n, 0};
    if (run->ncomp == 0) return H5MR_OK;
    uint64_t need = h5mr__comp_bytes(run, n);
    if (need > run->comp_cap) {
        free(run->comp_buf);
        run->comp_cap = 0;
        if (!(run->comp_buf = malloc(need)))
            return h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "cannot allocate %llu bytes for companion values",
                                   (unsigned long long)need);
        run->comp_cap = need;
    }
    c->comp = run->comp_buf;
    return h5mr__comp_read(run, first, n, run->comp_buf);
}

/* The run's f64 buffer, with room for `need` values. */
static h5mr_status cf_room(h5mr__run *run, uint64_t need)
{
    if (need <= run->cf_cap) return H5MR_OK;
    free(run->cf_buf);
    run->cf_cap = 0;
    if (!(run->cf_buf = malloc(need * sizeof(double))))
        return h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "cannot allocate %llu bytes to convert values",
                               (unsigned long long)(need * sizeof(double)));
    run->cf_cap = need;
    return H5MR_OK;
}

/* CF rules applied in place (cf_mode 1: float missing values to NaN; 3: packed integers'
 * missing values to the one marker the kernel skips, when there are several). */
static void cf_in_place(const h5mr__plan *p, const h5mr__cf *cf, h5mr_dtype t, void *rows, uint64_t n)
{
    if (p->cf_mode == 1) h5mr__cf_mask(cf, t, rows, n);
    if (p->cf_mode == 3 && p->cf_norm) h5mr__cf_normalize(cf, t, rows, n, p->cf_marker);
}

/* CF conventions, then the kernel: missing values masked in place (float data), set to
 * the one marker in place (packed integers a kernel takes as stored), or every value
 * converted to f64 slice by slice. */
static h5mr_status decode_fold(h5mr__run *run, void *state, const void *data, uint64_t item, uint64_t first, uint64_t n,
                               comp_at c)
{
    const h5mr__plan *p = run->plan;
    const h5mr__part *part = h5mr__plan_part(p, item);
    h5mr_dtype stored = run->desc->dtype;
    if (p->cf_mode == 0 || !part) return fold(run, state, data, stored, item, first, n, c);
    if (p->cf_mode != 2) { /* the buffer is the run's own (read into, received into or decoded into) */
        cf_in_place(p, &part->cf, stored, (void *)data, n * p->row_elems);
        return fold(run, state, data, stored, item, first, n, c);
    }
    uint64_t per = p->row_elems ? CF_SLICE_ELEMS / p->row_elems : n;
    if (per == 0) per = 1;
    if (per > n) per = n;
    h5mr_status st = cf_room(run, per * p->row_elems);
    if (st != H5MR_OK) return st;
    const char *in = data;
    uint64_t row_bytes = p->row_elems * p->elem_size;
    for (uint64_t r = 0; r < n; r += per) {
        uint64_t m = n - r < per ? n - r : per;
        h5mr__cf_to_f64(&part->cf, stored, in + r * row_bytes, run->cf_buf, m * p->row_elems);
        comp_at cr = {c.comp, c.cn, c.r + r};
        if ((st = fold(run, state, run->cf_buf, H5MR_DTYPE_F64, item, first + r, m, cr)) != H5MR_OK) return st;
    }
    return H5MR_OK;
}

long h5mr__test_delay_us(void)
{
    static long us = -1;
    if (us < 0) {
        const char *e = getenv("H5MR_TEST_DELAY_US");
        us = e && atol(e) > 0 ? atol(e) : 0;
    }
    return us;
}

void h5mr__test_delay(uint64_t lo, uint64_t hi)
{
    static int log_fd = -2;
    if (log_fd == -2) {
        const char *e = getenv("H5MR_TEST_ITEM_LOG");
        log_fd = e && *e ? open(e, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    }
    if (log_fd >= 0) {
        char line[48];
        int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)lo, (unsigned long long)hi);
        if (write(log_fd, line, (size_t)n) < 0) log_fd = -1;
    }
    long us = h5mr__test_delay_us();
    if (us > 0 && hi > lo) {
        long t = us * (long)(hi - lo);
        struct timespec ts = {t / 1000000, (t % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

static h5mr_status map_rows(h5mr__run *run, void *state, const void *data, uint64_t item, uint64_t first, uint64_t n,
                            comp_at c)
{
    double t0 = h5mr__now();
    h5mr_status st = decode_fold(run, state, data, item, first, n, c);
    run->mine->busy_s += h5mr__now() - t0;
    run->mine->bytes += n * run->plan->row_elems * run->plan->elem_size;
    return st;
}

h5mr_status h5mr__map_run(h5mr__run *run, void *state, void *data, uint64_t lo, uint64_t hi, uint64_t first, uint64_t n)
{
    h5mr__test_delay(lo, hi);
    const h5mr__plan *p = run->plan;
    double t0 = h5mr__now();
    comp_at c;
    h5mr_status st = comp_local(run, first, n, &c);
    if (st != H5MR_OK) st = h5mr__name_item(run, lo, st);
    const void *values = data;
    h5mr_dtype t = run->desc->dtype;
    if (p->cf_mode != 0) {
        /* Each item's rows with its own file's conventions, into one block. */
        if (p->cf_mode == 2) st = cf_room(run, n * p->row_elems);
        uint64_t at = 0;
        for (uint64_t i = lo; i < hi && st == H5MR_OK; i++) {
            uint64_t f, m;
            h5mr__plan_item(p, i, &f, &m);
            const h5mr__cf *cf = &h5mr__plan_part(p, i)->cf;
            char *rows = (char *)data + at * p->row_elems * p->elem_size;
            if (p->cf_mode == 2)
                h5mr__cf_to_f64(cf, t, rows, (double *)run->cf_buf + at * p->row_elems, m * p->row_elems);
            else
                cf_in_place(p, cf, t, rows, m * p->row_elems);
            at += m;
        }
        if (p->cf_mode == 2) values = run->cf_buf, t = H5MR_DTYPE_F64;
    }
    if (st == H5MR_OK) st = fold(run, state, values, t, lo, first, n, c);
    run->mine->busy_s += h5mr__now() - t0;
    run->mine->bytes += n * p->row_elems * p->elem_size;
    return st;
}

h5mr_status h5mr__map_rows(h5mr__run *run, void *state, const void *data, uint64_t item, uint64_t first, uint64_t n)
{
    comp_at c;
    double t0 = h5mr__now();
    h5mr_status st = comp_local(run, first, n, &c);
    run->mine->busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? map_rows(run, state, data, item, first, n, c) : h5mr__name_item(run, item, st);
}

void h5mr__map_release(h5mr__run *run)
{
    free(run->comp_buf);
    run->comp_buf = NULL;
    run->comp_cap = 0;
    h5mr__comp_release(run);
    free(run->cf_buf);
    run->cf_buf = NULL;
    run->cf_cap = 0;
    free(run->out_buf);
    run->out_buf = NULL;
    run->out_cap = 0;
}

h5mr_status h5mr__map_msg(h5mr__run *run, h5mr__decoder *dec, void *state, const void *msg, uint64_t len, uint64_t item)
{
    /* The item's companions come first in its message (h5mr__read_item). */
    uint64_t first, n;
    h5mr__plan_item(run->plan, item, &first, &n);
    uint64_t cb = h5mr__comp_bytes(run, n);
    comp_at c = {msg, n, 0};
    msg = (const char *)msg + cb;
    len -= cb;
    const void *data = msg;
    if (dec) {
        double t0 = h5mr__now();
        h5mr_status st = h5mr__raw_decode(dec, item, msg, len, &data, run->ctx->err);
        run->mine->busy_s += h5mr__now() - t0;
        if (st != H5MR_OK) return h5mr__name_item(run, item, st);
    }
    run->mine->items++;
    h5mr__test_delay(item, item + 1);
    return map_rows(run, state, data, item, first, n, c);
}
