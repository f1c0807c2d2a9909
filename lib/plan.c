/* plan.c: cutting dimension 0 into work items of whole rows, aligned to storage chunks. */
#include "internal.h"

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
     * them (dispatch.c keeps three receives posted): refuse what cannot work, clearly,
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

void h5mr__plan_item(const h5mr__plan *plan, uint64_t item, uint64_t *first_row, uint64_t *nrows)
{
    uint64_t first = item * plan->chunk_rows;
    uint64_t n = plan->rows - first;
    *first_row = first;
    *nrows = n < plan->chunk_rows ? n : plan->chunk_rows;
}

uint64_t h5mr__plan_item_bytes(const h5mr__plan *plan, uint64_t item)
{
    uint64_t first, n;
    h5mr__plan_item(plan, item, &first, &n);
    return n * plan->row_elems * plan->elem_size;
}

void h5mr__plan_block(const h5mr__plan *plan, int w, int nworkers, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)((unsigned __int128)plan->items * (unsigned)w / (unsigned)nworkers);
    *hi = (uint64_t)((unsigned __int128)plan->items * (unsigned)(w + 1) / (unsigned)nworkers);
}
