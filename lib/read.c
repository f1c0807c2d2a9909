/* read.c: the read step — an item's rows, or its stored chunks, from the open input
 * into a buffer, timed, a failure naming the item. */
#include "internal.h"

/* Where a rank reads and maps an item itself and the dataset is not decoded here, an
 * item larger than this is read and mapped in slices of whole rows: a 32 MiB item of
 * 32 MiB chunks would leave the cache between the read's copy and the kernel (0.88x a
 * hand-written program reading the same chunks, bench/RESULTS.md §6), slices stay in
 * it. */
#define SLICE_BYTES ((uint64_t)4 << 20)

h5mr_status h5mr__read_rows(h5mr__run *run, uint64_t item, uint64_t first, uint64_t n, void *buf)
{
    double t0 = h5mr__now();
    h5mr_status st = h5mr__dset_read_rows(run->d, first, n, buf, run->ctx->err);
    run->mine->busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : h5mr__name_item(run, item, st);
}

uint64_t h5mr__read_capacity(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    return p->raw ? h5mr__raw_capacity(run->desc, p) : p->chunk_rows * p->row_elems * p->elem_size;
}

h5mr_status h5mr__read_item(h5mr__run *run, uint64_t item, void *buf, uint64_t *len)
{
    const h5mr__plan *p = run->plan;
    uint64_t first, n;
    h5mr__plan_item(p, item, &first, &n);
    *len = n * p->row_elems * p->elem_size;
    if (!p->raw) return h5mr__read_rows(run, item, first, n, buf);
    double t0 = h5mr__now();
    h5mr_status st = h5mr__raw_read(run->d, p, item, buf, h5mr__read_capacity(run), len, run->ctx->err);
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

uint64_t h5mr__read_local_capacity(const h5mr__run *run)
{
    const h5mr__plan *p = run->plan;
    return p->raw ? h5mr__read_capacity(run) : h5mr__read_slice_rows(run) * p->row_elems * p->elem_size;
}
