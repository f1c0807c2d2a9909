/* read.c: the read step — an item's rows, or its stored chunks, from the open input
 * into a buffer, timed, a failure naming the item. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Where a rank reads and maps an item itself and the dataset is not decoded here, an
 * item larger than this is read and mapped in slices of whole rows: a 32 MiB item of
 * 32 MiB chunks would leave the cache between the read's copy and the kernel (0.88x a
 * hand-written program reading the same chunks, bench/RESULTS.md §6), slices stay in
 * it. */
#define SLICE_BYTES ((uint64_t)4 << 20)

/* The open file of an item's part, checked against the plan: a file replaced between
 * planning and reading (another shape or type) fails here, naming it. */
static h5mr_status part_file(h5mr__run *run, const h5mr__part *p, h5mr__dset **d)
{
    h5mr_error *err = run->ctx->err;
    h5mr_status st = h5mr__files_get(run->files, p->file, d, err);
    if (st != H5MR_OK) return st;
    const h5mr__dset_desc *a = &(*d)->desc, *b = run->desc;
    int same = a->dtype == b->dtype && a->ndims == b->ndims && a->shape[0] == p->file_rows;
    for (int i = 1; same && i < a->ndims; i++)
        same = a->shape[i] == b->shape[i];
    if (!same)
        return h5mr__error_set(err, H5MR_EIO, "'%s' changed since the job was planned (another type or shape)",
                               (*d)->path);
    return H5MR_OK;
}

/* Whole rows of the files, all of each row: what a direct read (h5mr__part.direct) gives. */
static int whole_rows(const h5mr__view *v, const h5mr__dset_desc *desc)
{
    if (v->split != 0 || v->step[0] != 1 || v->ndims != desc->ndims) return 0;
    for (int i = 1; i < v->ndims; i++)
        if (v->start[i] != 0 || v->step[i] != 1 || v->count[i] != desc->shape[i]) return 0;
    return 1;
}

/* A selection with steps (a[::3], a[:, :, ::2]): HDF5 maps such a hyperslab to its
 * chunks element by element (0.08 GB/s on the demo file).  Where the block that covers
 * it is at most COVER_MAX times the selection (reading 64 times the bytes from the page
 * cache still beat HDF5's way: RESULTS §22) and one of its rows at most COVER_ROW_MAX
 * bytes, it is read instead with step 1, COVER_BYTES at a time: every covering row of a
 * group, or, when a step along dimension 0 makes that more than COVER_MAX0 times the
 * selection, one row of the selection each (rows of COVER_ROW_MIN bytes or more;
 * smaller ones are left to HDF5).  The selected elements are then picked out of it
 * here.  Dimension 0 must be the split one.  *done 0: not taken (the caller reads the
 * selection as it is). */
#define COVER_MAX 64
#define COVER_MAX0 8 /* the same along dimension 0, where a read a row is the other way */
#define COVER_BYTES ((uint64_t)4 << 20)
#define COVER_ROW_MAX ((uint64_t)16 << 20)
#define COVER_ROW_MIN ((uint64_t)4 << 10)

/* One covering row's selected elements (dimensions 1.. of count[], steps step[], the
 * covering row's element strides cs[]) from src to dst; es bytes an element. */
static void pick_row(char *dst, const char *src, int nd, const hsize_t *count, const hsize_t *step, const uint64_t *cs,
                     size_t es)
{
    if (nd == 1) { /* a row is one element */
        memcpy(dst, src, es);
        return;
    }
    uint64_t idx[H5MR__MAX_DIMS] = {0}, inner = count[nd - 1], st = step[nd - 1] * es;
    for (;;) {
        uint64_t off = 0;
        for (int i = 1; i < nd - 1; i++)
            off += idx[i] * step[i] * cs[i];
        const char *s = src + off * es;
        switch (es) {
        case 1:
            for (uint64_t k = 0; k < inner; k++)
                dst[k] = s[k * st];
            break;
        case 2:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 2 * k, s + k * st, 2);
            break;
        case 4:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 4 * k, s + k * st, 4);
            break;
        default:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 8 * k, s + k * st, 8);
            break;
        }
        dst += inner * es;
        int i = nd - 2;
        for (; i >= 1; i--) {
            if (++idx[i] < count[i]) break;
            idx[i] = 0;
        }
        if (i < 1) return;
    }
}

static h5mr_status read_covering(h5mr__run *run, h5mr__dset *d, const hsize_t *start, const hsize_t *step,
                                 const hsize_t *count, void *buf, int *done)
{
    *done = 0;
    int nd = d->desc.ndims, stepped = 0;
    size_t es = h5mr_dtype_size(d->desc.dtype);
    hsize_t span[H5MR__MAX_DIMS];
    uint64_t sel_row = es, cover_row = es, cs[H5MR__MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        span[i] = count[i] ? (count[i] - 1) * step[i] + 1 : 0;
        stepped |= step[i] > 1 && count[i] > 1;
        if (i > 0) sel_row *= count[i], cover_row *= span[i];
    }
    if (!stepped || count[0] == 0 || sel_row == 0) return H5MR_OK;
    for (int i = nd - 1; i >= 1; i--)
        cs[i] = i == nd - 1 ? 1 : cs[i + 1] * span[i + 1];
    if (cover_row > COVER_MAX * sel_row || cover_row > COVER_ROW_MAX) return H5MR_OK;
    /* rows of the selection a group covers: all of theirs if dimension 0's step keeps the
     * covering block small, else one at a time */
    uint64_t s0 = count[0] > 1 ? step[0] : 1;
    int along0 = s0 * cover_row <= COVER_MAX0 * sel_row;
    if (!along0 && cover_row < COVER_ROW_MIN) return H5MR_OK; /* a read a row: too small */
    uint64_t k = 1;
    if (along0 && cover_row <= COVER_BYTES) k = (COVER_BYTES / cover_row - 1) / s0 + 1;
    if (k > count[0]) k = count[0];
    uint64_t need = ((k - 1) * (along0 ? s0 : 0) + 1) * cover_row;
    if (need > run->cover_cap) {
        free(run->cover_buf);
        run->cover_cap = 0;
        if (!(run->cover_buf = malloc(need)))
            return h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory reading a selection with steps");
        run->cover_cap = need;
    }
    int whole = 1; /* covering rows that are whole rows of the dataset */
    for (int i = 1; i < nd; i++)
        whole &= start[i] == 0 && span[i] == d->desc.shape[i];
    if (whole) h5mr__dset_whole_chunks(d);
    char *out = buf;
    for (uint64_t r = 0; r < count[0]; r += k) {
        uint64_t m = count[0] - r < k ? count[0] - r : k;
        hsize_t cstart[H5MR__MAX_DIMS], ccount[H5MR__MAX_DIMS];
        for (int i = 1; i < nd; i++)
            cstart[i] = start[i], ccount[i] = span[i];
        cstart[0] = start[0] + r * step[0];
        ccount[0] = (m - 1) * s0 + 1;
        h5mr_status st = h5mr__dset_read_slab(d, cstart, NULL, ccount, run->cover_buf, run->ctx->err);
        if (st != H5MR_OK) return st;
        for (uint64_t j = 0; j < m; j++, out += sel_row)
            pick_row(out, (const char *)run->cover_buf + j * s0 * cover_row, nd, count, step, cs, es);
    }
    *done = 1;
    return H5MR_OK;
}

void h5mr__read_release(h5mr__run *run)
{
    free(run->cover_buf);
    run->cover_buf = NULL;
    run->cover_cap = 0;
}

h5mr_status h5mr__read_rows(h5mr__run *run, uint64_t item, uint64_t first, uint64_t n, void *buf)
{
    double t0 = h5mr__now();
    const h5mr__part *p = h5mr__plan_part(run->plan, item);
    const h5mr__view *v = &run->plan->view;
    h5mr__dset *d = NULL;
    h5mr_status st = H5MR_OK;
    if (p && p->direct >= 0 && whole_rows(v, run->desc)) { /* many small files: no HDF5 open to read one */
        const h5mr__plan *plan = run->plan;
        st = h5mr__files_read_direct(run->files, p, plan->row_elems * plan->elem_size, p->start + (first - p->row0), n,
                                     buf, run->ctx->err);
        run->mine->busy_s += h5mr__now() - t0;
        return st == H5MR_OK ? st : h5mr__name_item(run, item, st);
    }
    st = part_file(run, p, &d);
    if (st == H5MR_OK && whole_rows(v, run->desc)) h5mr__dset_whole_chunks(d);
    if (st == H5MR_OK) {
        /* The selection's hyperslab for rows [first, first + n) of the part. */
        hsize_t start[H5MR__MAX_DIMS], stride[H5MR__MAX_DIMS], count[H5MR__MAX_DIMS];
        for (int i = 0; i < v->ndims; i++) {
            start[i] = v->start[i];
            stride[i] = v->step[i];
            count[i] = v->count[i];
        }
        int L = v->split;
        start[L] = p->start + (first - p->row0) * v->step[L];
        count[L] = n;
        if (L > 0) start[0] = p->at0;
        int done = 0;
        if (L == 0) st = read_covering(run, d, start, stride, count, buf, &done);
        if (st == H5MR_OK && !done) st = h5mr__dset_read_slab(d, start, stride, count, buf, run->ctx->err);
    }
    run->mine->busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : h5mr__name_item(run, item, st);
}

static uint64_t item_capacity(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    return p->raw ? h5mr__raw_capacity(run->desc, p) : p->chunk_rows * p->row_elems * p->elem_size;
}

uint64_t h5mr__read_capacity(const h5mr__run *run)
{
    return item_capacity(run) + h5mr__comp_bytes(run, run->plan->chunk_rows);
}

h5mr_status h5mr__read_item(h5mr__run *run, uint64_t item, void *buf, uint64_t *len)
{
    const h5mr__plan *p = run->plan;
    uint64_t first, n;
    h5mr__plan_item(p, item, &first, &n);
    /* The item's companions first (h5mr__map_msg takes them off), then its rows. */
    uint64_t cb = h5mr__comp_bytes(run, n);
    h5mr_status st = H5MR_OK;
    if (cb > 0) {
        double t0 = h5mr__now();
        st = h5mr__comp_read(run, first, n, buf);
        run->mine->busy_s += h5mr__now() - t0;
        if (st != H5MR_OK) return h5mr__name_item(run, item, st);
    }
    buf = (char *)buf + cb;
    *len = cb + n * p->row_elems * p->elem_size;
    if (!p->raw) return h5mr__read_rows(run, item, first, n, buf);
    double t0 = h5mr__now();
    const h5mr__part *part = h5mr__plan_part(p, item);
    h5mr__dset *d = NULL;
    st = part_file(run, part, &d);
    uint64_t got = 0;
    if (st == H5MR_OK)
        st = h5mr__raw_read(d, p, part->start + (first - part->row0), n, buf, item_capacity(run), &got, run->ctx->err);
    *len = cb + got;
    run->mine->busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : h5mr__name_item(run, item, st);
}

uint64_t h5mr__read_slice_rows(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    uint64_t row = p->row_elems * p->elem_size;
    uint64_t rows = row ? SLICE_BYTES / row : p->chunk_rows;
    if (rows == 0) rows = 1;
    return rows < p->chunk_rows ? rows : p->chunk_rows;
}

uint64_t h5mr__read_run_items(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    /* From the mean item: small when files are small, whatever chunk_rows says. */
    uint64_t item = p->items ? p->rows / p->items * p->row_elems * p->elem_size : 0;
    if (p->raw || item == 0 || item >= SLICE_BYTES / 2 || !run->ctx->joined_items || !h5mr__comp_joinable(run) ||
        h5mr__test_delay_us() > 0) /* slowed items (tests of interrupted jobs): one at a time */
        return 1;
    return SLICE_BYTES / item;
}

uint64_t h5mr__read_local_capacity(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    if (p->raw) return h5mr__read_capacity(run);
    /* A slice of a large item, or a run of small ones (local_run gathers them up to
     * this, and maps a larger one alone). */
    uint64_t slice = h5mr__read_slice_rows(run) * p->row_elems * p->elem_size;
    return h5mr__read_run_items(run) > 1 && slice < SLICE_BYTES ? SLICE_BYTES : slice;
}
