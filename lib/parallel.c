/* parallel.c: the parallel protocol — every rank reads and maps its own items; and
 * one rank alone, which reads and maps every item in turn (both modes are that then).
 *
 * static: rank r takes block r of the plan.
 * dynamic, all ranks on one node: an item counter in an MPI window on rank 0; every
 *   rank, rank 0 included, takes the next number with an atomic fetch-and-add, so fast
 *   ranks take more and no rank waits for a reply from a busy rank 0 (shared-memory
 *   RMA needs no progress from the target).  A rank that fails moves the counter past
 *   the end, which stops the others at their next item.
 * dynamic, several nodes: rank 0 hands out item numbers over point-to-point messages
 *   (Open MPI has no one-sided transport over plain TCP here, and passive-target RMA
 *   across nodes would need rank 0's progress anyway).  A worker keeps one number
 *   asked for ahead while it maps; rank 0 answers between its own items.
 * Each rank reads into one buffer, mapped in place (or decoded from it). */
#include "internal.h"

#include <stdlib.h>

typedef struct local {
    h5mr__run *run;
    void *state, *buf;
    h5mr__decoder *dec;
} local;

/* Read and map one item on the rank that reads it: stored chunks as one message,
 * decoded; rows slice by slice. */
static h5mr_status local_item(local *w, uint64_t item);

/* Whole items [lo, hi), rows [first, first + n), read or seen in place, then mapped
 * as one block. */
static h5mr_status read_map(local *w, uint64_t lo, uint64_t hi, uint64_t first, uint64_t n)
{
    const void *rows = NULL;
    h5mr__in_place in;
    h5mr_status st = h5mr__read_rows_to_map(w->run, lo, hi, first, n, w->buf, &rows, &in);
    /* (rows in place are a private mapping: the map step may write into them) */
    if (st == H5MR_OK) st = h5mr__map_run(w->run, w->state, (void *)rows, lo, hi, first, n);
    h5mr__read_mapped(w->run, &in);
    return st;
}

/* Items [lo, hi) (consecutive, so their rows are consecutive rows of the selected
 * array, across files too): one after the other into one block, mapped as one, so a
 * kernel's cost per block (per pixel, with axis=0) is paid once per run, not once per
 * tiny item of a tiny file. */
static h5mr_status local_run(local *w, uint64_t lo, uint64_t hi)
{
    h5mr__run *run = w->run;
    const h5mr__plan *p = run->plan;
    uint64_t row_bytes = p->row_elems * p->elem_size, cap = h5mr__read_local_capacity(run);
    uint64_t first, n, at = 0, first0 = 0, from = lo;
    h5mr_status st = H5MR_OK;
    for (uint64_t i = lo; i < hi && st == H5MR_OK; i++) {
        h5mr__plan_item(p, i, &first, &n);
        if (hi - lo == 1 || n * row_bytes > cap / 2) {
            /* A large item alone (in slices), after what is gathered. */
            if (at > 0) st = read_map(w, from, i, first0, at);
            at = 0;
            if (st == H5MR_OK) st = local_item(w, i);
            from = i + 1;
            continue;
        }
        if ((at + n) * row_bytes > cap) {
            st = read_map(w, from, i, first0, at);
            at = 0;
            from = i;
        }
        if (at == 0) first0 = first;
        at += n;
        run->mine->items++;
    }
    if (st == H5MR_OK && at > 0) st = read_map(w, from, hi, first0, at);
    return st;
}

static h5mr_status local_item(local *w, uint64_t item)
{
    h5mr__run *run = w->run;
    uint64_t first, n, len = 0, step = h5mr__read_slice_rows(run);
    if (run->plan->raw) {
        h5mr_status st = h5mr__read_item(run, item, w->buf, &len);
        return st == H5MR_OK ? h5mr__map_msg(run, w->dec, w->state, w->buf, len, item) : st;
    }
    h5mr__plan_item(run->plan, item, &first, &n);
    run->mine->items++;
    h5mr__test_delay(item, item + 1);
    for (uint64_t r = first; r < first + n; r += step) {
        uint64_t m = first + n - r < step ? first + n - r : step;
        const void *rows = NULL;
        h5mr__in_place in;
        h5mr_status st = h5mr__read_rows_to_map(run, item, item + 1, r, m, w->buf, &rows, &in);
        if (st == H5MR_OK) st = h5mr__map_rows(run, w->state, rows, item, r, m);
        h5mr__read_mapped(run, &in);
        if (st != H5MR_OK) return st;
    }
    return H5MR_OK;
}

static h5mr_status by_rma(local *w, h5mr_status st)
{
    h5mr__run *run = w->run;
    /* Every rank takes part in creating and freeing the window, even without a buffer. */
    int64_t *counter = NULL;
    MPI_Win win;
    int rc = MPI_Win_allocate(run->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, (int)sizeof(int64_t), MPI_INFO_NULL,
                              run->comm, &counter, &win);
    if (rc != MPI_SUCCESS) return h5mr__mpi_error(run->ctx->err, rc, "creating the item counter window");
    if (run->rank == 0) *counter = (int64_t)run->lo;
    H5MR__MPI(run, MPI_Barrier(run->comm)); /* the counter is zero before anyone takes from it */
    H5MR__MPI(run, MPI_Win_lock_all(0, win));
    const int64_t k = (int64_t)h5mr__read_run_items(run), end = (int64_t)run->hi;
    while (st == H5MR_OK) {
        int64_t item = 0;
        double t0 = h5mr__now();
        if (h5mr_stop_requested()) {
            /* Asked to stop: the counter goes past the end, and every item below its
             * old value was taken by a rank that finishes it, so [lo, old) are done. */
            H5MR__MPI(run, MPI_Fetch_and_op(&end, &item, MPI_INT64_T, 0, 0, MPI_REPLACE, win));
            H5MR__MPI(run, MPI_Win_flush(0, win));
            if (item < end) run->stop_at = (uint64_t)item;
            break;
        }
        H5MR__MPI(run, MPI_Fetch_and_op(&k, &item, MPI_INT64_T, 0, 0, MPI_SUM, win));
        H5MR__MPI(run, MPI_Win_flush(0, win));
        run->mine->wait_s += h5mr__now() - t0;
        if (item >= end) break;
        h5mr__progress_tick(run->progress, (uint64_t)item);
        st = local_run(w, (uint64_t)item, (uint64_t)(item + k < end ? item + k : end));
    }
    if (st != H5MR_OK) {
        int64_t old;
        H5MR__MPI(run, MPI_Fetch_and_op(&end, &old, MPI_INT64_T, 0, 0, MPI_REPLACE, win));
        H5MR__MPI(run, MPI_Win_flush(0, win));
    }
    H5MR__MPI(run, MPI_Win_unlock_all(win));
    H5MR__MPI(run, MPI_Win_free(&win));
    return st;
}

static h5mr_status served_worker(local *w, h5mr_status st)
{
    h5mr__run *run = w->run;
    int failed = st != H5MR_OK;
    int64_t item = 0, next = 0;
    MPI_Request req;
    /* One number in hand, one asked for: ask, then keep asking one ahead. */
    H5MR__MPI(run, MPI_Send(&failed, 1, MPI_INT, 0, H5MR__TAG_REQUEST, run->comm));
    H5MR__MPI(run, MPI_Irecv(&next, 1, MPI_INT64_T, 0, H5MR__TAG_NUMBER, run->comm, &req));
    for (;;) {
        double t0 = h5mr__now();
        H5MR__MPI(run, MPI_Wait(&req, MPI_STATUS_IGNORE));
        run->mine->wait_s += h5mr__now() - t0;
        item = next;
        if (item < 0 || (uint64_t)item >= run->hi) break; /* the end, or a rank failed */
        H5MR__MPI(run, MPI_Send(&failed, 1, MPI_INT, 0, H5MR__TAG_REQUEST, run->comm));
        H5MR__MPI(run, MPI_Irecv(&next, 1, MPI_INT64_T, 0, H5MR__TAG_NUMBER, run->comm, &req));
        uint64_t k = h5mr__read_run_items(run), hi = (uint64_t)item + k < run->hi ? (uint64_t)item + k : run->hi;
        if (!failed && h5mr_stop_requested()) failed = 1, run->stop_at = run->lo; /* the others stop too */
        if (!failed && (st = local_run(w, (uint64_t)item, hi)) != H5MR_OK) failed = 1;
    }
    return st;
}

static h5mr_status served_root(local *w, h5mr_status st)
{
    h5mr__run *run = w->run;
    const int64_t end = (int64_t)run->hi, k = (int64_t)h5mr__read_run_items(run);
    int64_t next = (int64_t)run->lo;
    int stopped = 0, nw = run->size - 1, flag = 0, failed = st != H5MR_OK;
    MPI_Request rreq;
    H5MR__MPI(run, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, run->comm, &rreq));
    while (stopped < nw) {
        int got = 0;
        MPI_Status ms;
        h5mr__progress_tick(run->progress, (uint64_t)next);
        if (!failed && h5mr_stop_requested()) failed = 1, run->stop_at = run->lo;
        H5MR__MPI(run, MPI_Test(&rreq, &got, &ms));
        if (!got && !failed && next < end) {
            /* Nobody is asking: rank 0 maps a run itself. */
            int64_t hi = next + k < end ? next + k : end;
            if ((st = local_run(w, (uint64_t)next, (uint64_t)hi)) != H5MR_OK) failed = 1;
            next = hi;
            continue;
        }
        if (!got) {
            double t0 = h5mr__now();
            H5MR__MPI(run, MPI_Wait(&rreq, &ms));
            run->mine->wait_s += h5mr__now() - t0;
        }
        if (flag) failed = 1;
        int64_t answer = failed || next >= end ? end : next;
        if (answer != end) next = next + k < end ? next + k : end;
        if (answer == end) stopped++;
        H5MR__MPI(run, MPI_Send(&answer, 1, MPI_INT64_T, ms.MPI_SOURCE, H5MR__TAG_NUMBER, run->comm));
        /* A stopped worker asks no more (but one that failed may still: its requests
         * are answered with the end until it stops). */
        if (stopped < nw)
            H5MR__MPI(run, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, run->comm, &rreq));
    }
    while (!failed && next < end) {
        h5mr__progress_tick(run->progress, (uint64_t)next);
        int64_t hi = next + k < end ? next + k : end;
        if ((st = local_run(w, (uint64_t)next, (uint64_t)hi)) != H5MR_OK) failed = 1;
        next = hi;
    }
    return st;
}

h5mr_status h5mr__parallel(h5mr__run *run, void *state)
{
    uint64_t max_bytes = h5mr__read_local_capacity(run);
    local w = {run, state, malloc(max_bytes ? max_bytes : 1), NULL};
    h5mr_status st = w.buf ? h5mr__map_decoder(run, &w.dec)
                           : h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "cannot allocate an item buffer of %llu bytes",
                                             (unsigned long long)max_bytes);
    uint64_t k = h5mr__read_run_items(run);
    if (run->size == 1) {
        for (uint64_t i = run->lo; i < run->hi && st == H5MR_OK; i += k) {
            uint64_t hi = i + k < run->hi ? i + k : run->hi;
            if (h5mr_stop_requested()) {
                run->stop_at = i; /* one rank: what it did is a prefix */
                break;
            }
            st = local_run(&w, i, hi);
            h5mr__progress_tick(run->progress, hi);
        }
    } else if (run->schedule == H5MR_SCHEDULE_STATIC) {
        uint64_t lo, end;
        h5mr__plan_block(run->lo, run->hi, run->rank, run->size, &lo, &end);
        for (uint64_t i = lo; i < end && st == H5MR_OK; i += k) {
            uint64_t hi = i + k < end ? i + k : end;
            if (h5mr_stop_requested()) {
                run->stop_at = run->lo; /* blocks of every rank: not a prefix */
                break;
            }
            st = local_run(&w, i, hi);
            /* Rank 0 sees only its own block: it assumes the others keep pace. */
            h5mr__progress_tick(run->progress, run->lo + (hi - lo) * (uint64_t)run->size);
        }
    } else if (run->one_node) {
        st = by_rma(&w, st);
    } else {
        st = run->rank == 0 ? served_root(&w, st) : served_worker(&w, st);
    }
    h5mr__decoder_free(w.dec);
    free(w.buf);
    return st;
}
