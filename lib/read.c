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
        st = h5mr__dset_read_slab(d, start, stride, count, buf, run->ctx->err);
    }
    run->mine->busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : h5mr__name_item(run, item, st);
}

/* The two ways are timed in turns of WAYS_RUN slices: a first turn read, not counted
 * (the buffer's first touch, HDF5's first lookups: 1.5-3x slower), then WAYS_TURNS
 * turns each, in place then read, the first slice of a turn not counted (the way before
 * leaves the caches as it used them; turns of one slice made every read look slower
 * and the slices in place faster than they run).  Then the faster is kept. */
#define WAYS_RUN 16
#define WAYS_TURNS 2

/* H5MR_TEST_READ_WAY=0 or 1: every slice read, or seen in place where it can be
 * (tests of both ways on files too small to time them); else -1, timed. */
static int test_way(void)
{
    const char *e = getenv("H5MR_TEST_READ_WAY");
    return e && (e[0] == '0' || e[0] == '1') && !e[1] ? e[0] - '0' : -1;
}

h5mr_status h5mr__read_rows_to_map(h5mr__run *run, uint64_t lo, uint64_t hi, uint64_t first, uint64_t n, void *buf,
                                   const void **rows, h5mr__in_place *m)
{
    const h5mr__plan *plan = run->plan;
    const h5mr__part *p = h5mr__plan_part(plan, lo);
    *m = (h5mr__in_place){NULL, 0, 0, h5mr__now(), n * plan->row_elems * plan->elem_size};
    if (run->ways.pass != run->ctx->pass + 1) { /* each pass its own (a histogram's range, then its bins) */
        memset(&run->ways, 0, sizeof run->ways);
        run->ways.pass = run->ctx->pass + 1;
        run->ways.way = test_way();
    }
    int try = run->ways.way == 1 || (run->ways.way < 0 && run->ways.tries / WAYS_RUN % 2 == 1);
    /* Where the map step writes into the rows, masking missing values, the pages it
     * writes are copied (what that costs is in the timing), but a --mask writes NaN into
     * nearly every row: in place, the masked per-pixel mean of bench/companions took
     * 1.06-1.10 s against 0.71-0.78 read; it is not tried. */
    for (int i = 0; i < run->ncomp && try; i++)
        try = run->comp[i].role != H5MR_ROLE_MASK;
    if (try && p && p == h5mr__plan_part(plan, hi - 1) && !plan->raw && whole_rows(&plan->view, run->desc)) {
        h5mr__dset *d = NULL;
        h5mr_status st = H5MR_OK;
        uint64_t at = p->start + (first - p->row0);
        if (p->direct >= 0) { /* (a file of many: not opened with HDF5 to read it) */
            *rows = h5mr__files_rows_in_place(run->files, p, plan->row_elems * plan->elem_size, at, n, m, &st,
                                              run->ctx->err);
        } else if ((st = part_file(run, p, &d)) == H5MR_OK && (*rows = h5mr__dset_rows_in_place(d, at, n, m))) {
            /* (rewritten since it was opened: the pages are the new file's) */
            if ((st = h5mr__dset_check_unchanged(d, run->ctx->err)) != H5MR_OK) h5mr__in_place_release(m);
        }
        if (st != H5MR_OK) return h5mr__name_item(run, lo, st);
        if (m->map) {
            m->way = 1;
            run->mine->busy_s += h5mr__now() - m->t0;
            return H5MR_OK;
        }
    }
    /* Each item's rows among [first, first + n), one after the other. */
    *rows = buf;
    uint64_t row_bytes = plan->row_elems * plan->elem_size;
    h5mr_status st = H5MR_OK;
    for (uint64_t i = lo; i < hi && st == H5MR_OK; i++) {
        uint64_t f, k;
        h5mr__plan_item(plan, i, &f, &k);
        uint64_t from = f > first ? f : first, to = f + k < first + n ? f + k : first + n;
        if (to > from) st = h5mr__read_rows(run, i, from, to - from, (char *)buf + (from - first) * row_bytes);
    }
    return st;
}

void h5mr__read_mapped(h5mr__run *run, h5mr__in_place *m)
{
    h5mr__in_place_release(m);
    if (run->ways.way >= 0) return;
    int w = m->way, t = run->ways.tries++;
    if (t >= WAYS_RUN && t % WAYS_RUN != 0) {
        run->ways.s[w] += h5mr__now() - m->t0;
        run->ways.bytes[w] += m->bytes;
    }
    if (run->ways.tries < WAYS_RUN * (1 + 2 * WAYS_TURNS)) return;
    double s0 = run->ways.s[0], s1 = run->ways.s[1], b0 = (double)run->ways.bytes[0], b1 = (double)run->ways.bytes[1];
    /* (no slice seen in place: read) */
    run->ways.way = b1 > 0 && (b0 == 0 || s1 / b1 < s0 / b0);
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
