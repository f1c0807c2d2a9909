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
    /* One implicit part of every row (plan_input adds the parts of the files). */
    plan->nparts = 0;
    plan->parts = NULL;
    plan->rows = rows;
    plan->row_elems = row_elems;
    plan->elem_size = elem_size;
    plan->chunk_rows = chunk;
    plan->items = rows / chunk + (rows % chunk != 0);
    return H5MR_OK;
}

static void shape_text(const h5mr__dset_desc *d, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->ndims && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", i ? "x" : "", (unsigned long long)d->shape[i]);
}

/* Every file's dataset joins the first's along dimension 0. */
static h5mr_status concatenate(const h5mr__fdesc *f, uint64_t n, const char *const *names, const char *dataset,
                               h5mr__dset_desc *out, h5mr_error *err)
{
    *out = f[0].desc;
    for (uint64_t i = 1; i < n; i++) {
        const h5mr__dset_desc *a = &f[0].desc, *b = &f[i].desc;
        if (b->dtype != a->dtype)
            return h5mr__error_set(
                err, H5MR_EINPUT, "'%s' does not concatenate with '%s': dataset '%s' is %s there, %s in the first file",
                names[i], names[0], dataset, h5mr_dtype_name(b->dtype), h5mr_dtype_name(a->dtype));
        int same = b->ndims == a->ndims;
        for (int d = 1; same && d < a->ndims; d++)
            same = b->shape[d] == a->shape[d];
        if (!same) {
            char sa[256], sb[256];
            shape_text(a, sa, sizeof sa);
            shape_text(b, sb, sizeof sb);
            return h5mr__error_set(err, H5MR_EINPUT,
                                   "'%s' does not concatenate with '%s': dataset '%s' has shape %s there, %s in the "
                                   "first file (files are joined along dimension 0: the other dimensions must match)",
                                   names[i], names[0], dataset, sb, sa);
        }
        if (out->shape[0] + b->shape[0] < out->shape[0])
            return h5mr__error_set(err, H5MR_ELIMIT, "the files hold more than 2^64 rows");
        out->shape[0] += b->shape[0];
    }
    return H5MR_OK;
}

/* The parts: the rows of each file in the selected array. */
static h5mr_status make_parts(const h5mr__fdesc *f, uint64_t n, const h5mr__view *v, int raw_cf, h5mr__part **parts,
                              uint64_t *nparts, h5mr_error *err)
{
    h5mr__part *p = calloc(n ? n : 1, sizeof *p);
    if (!p) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory planning %llu files", (unsigned long long)n);
    uint64_t k = 0, off = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = f[i].desc.shape[0];
        h5mr__part q = {.file = i,
                        .file_rows = r,
                        .off0 = off,
                        .direct = f[i].direct,
                        .size0 = f[i].size0,
                        .mtime0_s = f[i].mtime0_s,
                        .mtime0_ns = f[i].mtime0_ns,
                        .link_size0 = f[i].link_size0,
                        .link_mtime0_s = f[i].link_mtime0_s,
                        .link_mtime0_ns = f[i].link_mtime0_ns,
                        .sources_id = f[i].sources_id};
        if (!raw_cf) q.cf = f[i].cf;
        if (v->split == 0) {
            /* Selected indices s + j*t (0 <= j < c) that fall in [off, off + r). */
            uint64_t s = v->start[0], t = v->step[0], c = v->count[0];
            uint64_t jlo = off > s ? (off - s + t - 1) / t : 0;
            uint64_t jhi = off + r > s ? (off + r - s + t - 1) / t : 0;
            if (jhi > c) jhi = c;
            if (jhi > jlo) {
                q.row0 = jlo;
                q.rows = jhi - jlo;
                q.start = s + jlo * t - off;
                p[k++] = q;
            }
        } else if (v->start[0] >= off && v->start[0] < off + r && v->count[v->split] > 0) {
            q.rows = v->count[v->split];
            q.start = v->start[v->split];
            q.at0 = v->start[0] - off;
            p[k++] = q;
        }
        off += r;
    }
    *parts = p;
    *nparts = k;
    return H5MR_OK;
}

h5mr_status h5mr__plan_input(const h5mr__fdesc *files, uint64_t nfiles, const char *const *names,
                             const h5mr__plan_req *req, h5mr__plan *plan, h5mr__part **parts, h5mr__dset_desc *desc,
                             h5mr_error *err)
{
    memset(plan, 0, sizeof *plan);
    *parts = NULL;
    h5mr_status st = concatenate(files, nfiles, names, req->dataset, desc, err);
    if (st != H5MR_OK) return st;
    h5mr__view *v = &plan->view;
    if ((st = h5mr__sel_resolve(req->sel, desc->ndims, desc->shape, v, err, req->seltext)) != H5MR_OK) return st;
    int L = v->split;
    uint64_t row_elems = 1;
    for (int i = L + 1; i < desc->ndims; i++)
        row_elems *= v->count[i];
    uint64_t storage_rows = desc->chunked && v->step[L] == 1 ? desc->chunk[L] : 0;
    if (req->align_rows > 0) {
        /* Items whole chunks of the input and of the output, where that is not huge. */
        uint64_t a = storage_rows ? storage_rows : 1, b = req->align_rows, g = a, h = b;
        while (h) {
            uint64_t t = g % h;
            g = h, h = t;
        }
        unsigned __int128 lcm = (unsigned __int128)(a / g) * b;
        unsigned __int128 bytes = lcm * row_elems * h5mr_dtype_size(desc->dtype);
        storage_rows = bytes <= H5MR__ITEM_MAX_BYTES ? (uint64_t)lcm : req->align_rows;
    }
    uint64_t rows = v->count[L];
    if ((st = h5mr__plan_make(rows, row_elems, h5mr_dtype_size(desc->dtype), storage_rows, req->chunk_rows, plan,
                              err)) != H5MR_OK)
        return st;
    h5mr__part *p = NULL;
    if ((st = make_parts(files, nfiles, v, req->raw_cf, &p, &plan->nparts, err)) != H5MR_OK) return st;
    uint64_t items = 0;
    for (uint64_t k = 0; k < plan->nparts; k++) {
        p[k].item0 = items;
        items += (p[k].rows + plan->chunk_rows - 1) / plan->chunk_rows;
    }
    plan->items = items;
    plan->parts = p;
    *parts = p;
    plan->cf_mode = h5mr__cf_mode(&p[0].cf, sizeof *p, plan->nparts, desc->dtype, &plan->kdtype);

    /* Compressed chunks travel as stored and are decoded where they are mapped, when
     * h5mr decodes every filter, an item is whole chunks of one file and every file
     * stores the dataset alike.  H5MR_RAW_CHUNKS=0 makes rank 0 (or the reading rank)
     * let HDF5 decode them instead. */
    plan->nraw = desc->chunked ? h5mr__raw_filters(desc, plan->raw_filter, &plan->shuffle_size) : 0;
    int raw = plan->nraw > 0 && plan->rows > 0 && L == 0 && v->step[0] == 1 &&
              (plan->chunk_rows % desc->chunk[0] == 0 || plan->items == plan->nparts);
    for (int d = 1; raw && d < desc->ndims; d++)
        raw = v->start[d] == 0 && v->step[d] == 1 && v->count[d] == desc->shape[d] && v->keep[d];
    for (uint64_t k = 0; raw && k < plan->nparts; k++) {
        h5mr__dset_desc a = files[0].desc, b = files[p[k].file].desc;
        a.shape[0] = b.shape[0] = 0;
        raw = p[k].start % desc->chunk[0] == 0 && memcmp(&a, &b, sizeof a) == 0;
    }
    const char *env = getenv("H5MR_RAW_CHUNKS");
    plan->raw = raw && !(env && !strcmp(env, "0"));
    /* Item numbers travel in message tags (scatter.c). */
    if (req->tag_ub > 0 && plan->items > 0 && plan->items - 1 > (uint64_t)(req->tag_ub - H5MR__TAG_ITEM))
        return h5mr__error_set(err, H5MR_ELIMIT,
                               "%llu items are more than this MPI can number (%d); give a larger --chunk-rows",
                               (unsigned long long)plan->items, req->tag_ub - H5MR__TAG_ITEM);
    return H5MR_OK;
}

/* Measured on one node (bench/RESULTS.md §5): parallel is as fast or faster for every
 * layout and rank count, since no byte is copied between ranks and every rank decodes;
 * scatter is for files that live only where rank 0 runs.  Every rank described its
 * share of the files (*shared); here each also opens the first and compares it with
 * rank 0's (description and fingerprint). */
h5mr_io h5mr__plan_io(h5mr__run *run, const h5mr__fdesc *first, int shared)
{
    uint64_t id = first ? first->fingerprint : 0;
    H5MR__MPI(run, MPI_Bcast(&id, 1, MPI_UINT64_T, 0, run->comm));
    int ok = shared;
    if (run->rank != 0 && ok) {
        h5mr_error quiet = {0};
        h5mr__dset *d = NULL;
        ok = h5mr__files_get(run->files, 0, &d, &quiet) == H5MR_OK;
        /* The same layout, and the same bytes where the dataset lies: a stale copy of
         * the same size on another node is not the file rank 0 planned. */
        if (ok && (memcmp(&d->desc, &run->first_desc, sizeof d->desc) != 0 || h5mr__dset_fingerprint(d) != id)) ok = 0;
    }
    H5MR__MPI(run, MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, run->comm));
    if (!ok && run->rank != 0) h5mr__files_close(run->files);
    return ok ? H5MR_IO_PARALLEL : H5MR_IO_SCATTER;
}
