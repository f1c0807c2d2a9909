/* plan.c: every planning decision — dimension 0 cut into work items of whole rows,
 * aligned to storage chunks; whether items travel as stored chunks; the limits; the
 * I/O mode. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t h5mr__item_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    uint64_t quarter = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 4 : H5MR__ITEM_LIMIT_BYTES;
    return quarter < H5MR__ITEM_LIMIT_BYTES ? quarter : H5MR__ITEM_LIMIT_BYTES;
}

h5mr_status h5mr__plan_make(uint64_t rows, uint64_t row_elems, uint64_t elem_size, uint64_t storage_rows,
                            uint64_t requested, h5mr__plan *plan, h5mr_error *err)
{
    unsigned __int128 row_bytes = (unsigned __int128)row_elems * elem_size;
    uint64_t chunk;
    if (requested > 0) {
        chunk = requested;
    } else {
        uint64_t unit = storage_rows > 0 ? storage_rows : 1;
        unsigned __int128 unit_bytes = row_bytes * unit;
        uint64_t k = 1;
        if (unit_bytes == 0)
            k = rows > 0 ? (rows + unit - 1) / unit : 1;
        else if (unit_bytes < H5MR__ITEM_TARGET_BYTES)
            k = (uint64_t)(H5MR__ITEM_TARGET_BYTES / unit_bytes);
        chunk = k * unit;
        if (rows > 0 && chunk > rows) chunk = rows;
    }
    unsigned __int128 item_bytes = row_bytes * (rows > 0 && chunk > rows ? rows : chunk);
    /* An item travels as one MPI message (int count of bytes) and a rank holds a few of
     * them (scatter.c keeps three receives posted): refuse what cannot work, clearly,
     * rather than overflow a count or be killed for memory half-way. */
    uint64_t limit = h5mr__item_limit();
    if (rows > 0 && row_bytes > limit)
        return h5mr__error_set(err, H5MR_EINPUT,
                               "one row of the dataset is %.3g GB, more than an item may be here (%.3g GB: the 2 GiB "
                               "of one MPI message, and a quarter of this machine's memory); h5mr does not split rows",
                               (double)row_bytes / 1e9, (double)limit / 1e9);
    if (rows > 0 && item_bytes > limit) {
        if (requested > 0)
            return h5mr__error_set(err, H5MR_EUSAGE,
                                   "--chunk-rows %llu makes items of %.3g GB, more than an item may be here (%.3g GB: "
                                   "the 2 GiB of one MPI message, and a quarter of this machine's memory); give a "
                                   "smaller --chunk-rows",
                                   (unsigned long long)requested, (double)item_bytes / 1e9, (double)limit / 1e9);
        return h5mr__error_set(err, H5MR_EINPUT,
                               "one storage chunk of the dataset is %.3g GB, more than an item may be here (%.3g GB); "
                               "pass --chunk-rows to cut smaller items",
                               (double)item_bytes / 1e9, (double)limit / 1e9);
    }
    plan->rows = rows;
    plan->row_elems = row_elems;
    plan->elem_size = elem_size;
    plan->chunk_rows = chunk;
    plan->items = rows / chunk + (rows % chunk != 0);
    return H5MR_OK;
}

h5mr_status h5mr__plan_input(const h5mr__dset_desc *desc, uint64_t requested, int tag_ub, h5mr__plan *plan,
                             h5mr_error *err)
{
    memset(plan, 0, sizeof *plan);
    uint64_t row_elems = 1;
    for (int i = 1; i < desc->ndims; i++)
        row_elems *= desc->shape[i];
    uint64_t storage_rows = desc->chunked ? desc->chunk[0] : 0;
    h5mr_status st =
        h5mr__plan_make(desc->shape[0], row_elems, h5mr_dtype_size(desc->dtype), storage_rows, requested, plan, err);
    if (st != H5MR_OK) return st;
    /* Compressed chunks travel as stored and are decoded where they are mapped, when
     * h5mr decodes every filter and an item is whole chunks.  H5MR_RAW_CHUNKS=0 makes
     * rank 0 (or the reading rank) let HDF5 decode them instead. */
    plan->nraw = desc->chunked ? h5mr__raw_filters(desc, plan->raw_filter, &plan->shuffle_size) : 0;
    const char *env = getenv("H5MR_RAW_CHUNKS");
    plan->raw = plan->nraw > 0 && plan->rows > 0 && (plan->chunk_rows % desc->chunk[0] == 0 || plan->items == 1) &&
                !(env && !strcmp(env, "0"));
    /* Item numbers travel in message tags (scatter.c). */
    if (tag_ub > 0 && plan->items > 0 && plan->items - 1 > (uint64_t)(tag_ub - H5MR__TAG_ITEM))
        return h5mr__error_set(err, H5MR_ELIMIT,
                               "%llu items are more than this MPI can number (%d); give a larger --chunk-rows",
                               (unsigned long long)plan->items, tag_ub - H5MR__TAG_ITEM);
    return H5MR_OK;
}

/* Measured on one node (bench/RESULTS.md §5): parallel is as fast or faster for every
 * layout and rank count, since no byte is copied between ranks and every rank decodes;
 * scatter is for a file that lives only where rank 0 runs. */
h5mr_io h5mr__plan_io(h5mr__run *run, h5mr__dset *d)
{
    uint64_t id = 0;
    if (run->rank == 0) id = h5mr__dset_fingerprint(d);
    H5MR__MPI(run, MPI_Bcast(&id, 1, MPI_UINT64_T, 0, run->comm));
    int ok = 1;
    if (run->rank != 0) {
        h5mr_error quiet = {0};
        ok = h5mr__dset_open(run->file, run->dataset, d, &quiet) == H5MR_OK;
        /* The same layout, and the same bytes where the dataset lies: a stale copy of
         * the same size on another node is not the file rank 0 planned. */
        if (ok && (memcmp(&d->desc, run->desc, sizeof d->desc) != 0 || h5mr__dset_fingerprint(d) != id)) ok = 0;
    }
    H5MR__MPI(run, MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, run->comm));
    if (!ok && run->rank != 0) h5mr__dset_close(d);
    return ok ? H5MR_IO_PARALLEL : H5MR_IO_SCATTER;
}
