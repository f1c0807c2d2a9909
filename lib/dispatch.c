/* dispatch.c: handing work items out in scatter mode.
 *
 * Rank 0 reads items and sends each as one message whose tag is H5MR__TAG_ITEM + the
 * item number; a worker keeps WINDOW receives posted into its own buffers and maps an
 * item straight from the buffer it arrived in.  A worker's stream ends with one STOP
 * message, always the last message rank 0 sends it, so the worker knows when to leave
 * and no message is left unmatched.
 *
 * dynamic: rank 0 first sends WINDOW items to every worker; after each item a worker
 *   sends a REQUEST (carrying a failure flag) and rank 0 answers it with the next item
 *   in the plan, or with STOP when none is left or a rank failed.  Rank 0 reads the
 *   next item ahead, while workers compute, so a request is answered without a read;
 *   when no request is waiting and every worker has items queued, rank 0 maps the item
 *   it read ahead itself instead of idling (with few ranks it reads far faster than a
 *   worker can take items; with many, requests keep it serving).
 * static: worker w gets the contiguous block of items h5mr__plan_block gives it, in
 *   order, with no requests.  Rank 0 sends with MPI_Issend and keeps at most WINDOW
 *   sends open per worker: a synchronous send completes only once the worker has a
 *   receive posted for it, which bounds the memory of both sides without a reply. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define WINDOW 3 /* receive buffers per worker: one mapped while two arrive */
#define POOL_MAX_BYTES ((uint64_t)256 << 20)

typedef struct pool {
    int n;
    void **buf;
    MPI_Request *req; /* MPI_REQUEST_NULL when the buffer is free */
    int *owner;       /* worker the buffer was sent to */
    uint64_t *len;    /* bytes of the message in the buffer */
} pool;

static void pool_free(pool *p)
{
    for (int i = 0; p->buf && i < p->n; i++)
        free(p->buf[i]);
    free(p->buf);
    free(p->req);
    free(p->owner);
    free(p->len);
    memset(p, 0, sizeof *p);
}

static h5mr_status pool_init(pool *p, int n, uint64_t bytes, h5mr_error *err)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->buf = calloc((size_t)n, sizeof *p->buf);
    p->req = malloc((size_t)n * sizeof *p->req);
    p->owner = calloc((size_t)n, sizeof *p->owner);
    p->len = calloc((size_t)n, sizeof *p->len);
    if (!p->buf || !p->req || !p->owner || !p->len) goto nomem;
    for (int i = 0; i < n; i++) {
        p->req[i] = MPI_REQUEST_NULL;
        if (!(p->buf[i] = malloc(bytes ? bytes : 1))) goto nomem;
    }
    return H5MR_OK;
nomem:
    pool_free(p);
    return h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate %d item buffers of %llu bytes", n,
                           (unsigned long long)bytes);
}

/* A free buffer, waiting for a send to complete if all are in use.  *done_owner gets
 * the worker whose send completed (or -1). */
static int pool_take(h5mr_job *job, pool *p, int *done_owner, double *wait_s)
{
    *done_owner = -1;
    for (int i = 0; i < p->n; i++)
        if (p->req[i] == MPI_REQUEST_NULL) return i;
    int idx = MPI_UNDEFINED;
    double t0 = h5mr__now();
    H5MR__MPI(job, MPI_Waitany(p->n, p->req, &idx, MPI_STATUS_IGNORE));
    *wait_s += h5mr__now() - t0;
    if (idx != MPI_UNDEFINED) *done_owner = p->owner[idx];
    return idx;
}

static int tag_of(uint64_t item) { return H5MR__TAG_ITEM + (int)item; }

/* Bytes of one item's message: its rows, or in raw mode its stored chunks. */
static uint64_t msg_capacity(const h5mr_job *job)
{
    return job->plan.raw ? h5mr__raw_capacity(&job->desc, &job->plan)
                         : job->plan.chunk_rows * job->plan.row_elems * job->plan.elem_size;
}

static h5mr_status name_item(h5mr_job *job, uint64_t item, h5mr_status st, h5mr_error *err)
{
    return h5mr__error_wrap(err, st, "'%s' in '%s', item %llu", job->dataset, job->file, (unsigned long long)item);
}

/* The read step for rows [first, first + n) of an item, timed, errors naming the item. */
static h5mr_status read_rows(h5mr_job *job, h5mr__dset *d, uint64_t item, uint64_t first, uint64_t n, void *buf,
                             h5mr_error *err)
{
    double t0 = h5mr__now();
    h5mr_status st = h5mr__dset_read_rows(d, first, n, buf, err);
    job->mine.busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : name_item(job, item, st, err);
}

/* The read step: item's message into buf (capacity msg_capacity), *len its size. */
static h5mr_status read_item(h5mr_job *job, h5mr__dset *d, uint64_t item, void *buf, uint64_t *len, h5mr_error *err)
{
    uint64_t first, n;
    h5mr__plan_item(&job->plan, item, &first, &n);
    *len = n * job->plan.row_elems * job->plan.elem_size;
    if (!job->plan.raw) return read_rows(job, d, item, first, n, buf, err);
    double t0 = h5mr__now();
    h5mr_status st = h5mr__raw_read(d, &job->plan, item, buf, msg_capacity(job), len, err);
    job->mine.busy_s += h5mr__now() - t0;
    return st == H5MR_OK ? st : name_item(job, item, st, err);
}

/* Decode a message if it holds stored chunks (dec is NULL otherwise), then map it. */
static h5mr_status map_msg(h5mr_job *job, h5mr__decoder *dec, void *state, const void *buf, uint64_t len, uint64_t item)
{
    const void *data = buf;
    if (dec) {
        double t0 = h5mr__now();
        h5mr_status st = h5mr__raw_decode(dec, item, buf, len, &data, job->ctx.err);
        job->mine.busy_s += h5mr__now() - t0;
        if (st != H5MR_OK) return name_item(job, item, st, job->ctx.err);
    }
    return h5mr__map_item(job, state, data, item);
}

/* Where a rank reads and maps an item itself (one rank, parallel mode) and the
 * dataset is not decoded here, an item larger than this is read and mapped in slices
 * of whole rows: a 32 MiB item of 32 MiB chunks would leave the cache between the
 * read's copy and the kernel (0.88x a hand-written program reading the same chunks,
 * bench/RESULTS.md §6), slices stay in it. */
#define SLICE_BYTES ((uint64_t)4 << 20)

/* Rows per slice of an uncompressed item: at most chunk_rows (one slice per item). */
static uint64_t slice_rows(const h5mr_job *job)
{
    uint64_t row = job->plan.row_elems * job->plan.elem_size;
    uint64_t rows = row ? SLICE_BYTES / row : job->plan.chunk_rows;
    if (rows == 0) rows = 1;
    return rows < job->plan.chunk_rows ? rows : job->plan.chunk_rows;
}

/* Read and map one item on the rank that reads it: stored chunks as one message,
 * decoded; rows slice by slice (buf holds local_capacity bytes). */
static h5mr_status read_map_local(h5mr_job *job, h5mr__dset *d, h5mr__decoder *dec, void *state, void *buf,
                                  uint64_t item, h5mr_error *err)
{
    uint64_t first, n, len = 0, step = slice_rows(job);
    if (job->plan.raw) {
        h5mr_status st = read_item(job, d, item, buf, &len, err);
        return st == H5MR_OK ? map_msg(job, dec, state, buf, len, item) : st;
    }
    h5mr__plan_item(&job->plan, item, &first, &n);
    job->mine.items++;
    for (uint64_t r = first; r < first + n; r += step) {
        uint64_t m = first + n - r < step ? first + n - r : step;
        h5mr_status st = read_rows(job, d, item, r, m, buf, err);
        if (st == H5MR_OK) st = h5mr__map_rows(job, state, buf, item, r, m);
        if (st != H5MR_OK) return st;
    }
    return H5MR_OK;
}

static uint64_t local_capacity(const h5mr_job *job)
{
    return job->plan.raw ? msg_capacity(job) : slice_rows(job) * job->plan.row_elems * job->plan.elem_size;
}

/* A decoder when items travel as stored chunks, for the ranks that map. */
static h5mr_status decoder_for(h5mr_job *job, h5mr__decoder **dec, h5mr_error *err)
{
    *dec = NULL;
    return job->plan.raw ? h5mr__decoder_new(&job->desc, &job->plan, dec, err) : H5MR_OK;
}

/* One rank: read and map every item in turn. */
static h5mr_status run_alone(h5mr_job *job, h5mr__dset *d, void *state, h5mr_error *err)
{
    uint64_t max_bytes = local_capacity(job);
    void *buf = malloc(max_bytes ? max_bytes : 1);
    if (!buf)
        return h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate an item buffer of %llu bytes",
                               (unsigned long long)max_bytes);
    h5mr__decoder *dec;
    h5mr_status st = decoder_for(job, &dec, err);
    for (uint64_t i = 0; i < job->plan.items && st == H5MR_OK; i++) {
        st = read_map_local(job, d, dec, state, buf, i, err);
        h5mr__progress(job, i + 1);
    }
    h5mr__decoder_free(dec);
    free(buf);
    return st;
}

static void send_stop(h5mr_job *job, int w, MPI_Request *stops)
{
    H5MR__MPI(job, MPI_Isend(NULL, 0, MPI_BYTE, w, H5MR__TAG_STOP, job->comm, &stops[w]));
}

/* Every worker still running has at least WINDOW - 1 items queued. */
static int all_busy(const uint64_t *sent, const uint64_t *answered, const char *stopped, int nw)
{
    for (int w = 1; w <= nw; w++)
        if (!stopped[w] && sent[w] - answered[w] < WINDOW - 1) return 0;
    return 1;
}

static h5mr_status root_dynamic(h5mr_job *job, h5mr__dset *d, void *state, pool *p, MPI_Request *stops,
                                h5mr__decoder *dec, h5mr_error *err)
{
    int nw = job->size - 1;
    uint64_t items = job->plan.items, next = 0;
    uint64_t *sent = calloc((size_t)job->size, sizeof *sent), *answered = calloc((size_t)job->size, sizeof *answered);
    char *stopped = calloc((size_t)job->size, 1);
    if (!sent || !answered || !stopped) {
        free(sent), free(answered), free(stopped);
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory in the dispatcher");
    }
    h5mr_status st = H5MR_OK;
    int failed = 0, owner;
    int ready = -1; /* buffer holding item `next`, read ahead */

    for (int round = 0; round < WINDOW; round++) {
        for (int w = 1; w <= nw; w++) {
            if (failed || next == items) break;
            int b = pool_take(job, p, &owner, &job->mine.wait_s);
            if ((st = read_item(job, d, next, p->buf[b], &p->len[b], err)) != H5MR_OK) {
                failed = 1;
                break;
            }
            p->owner[b] = w;
            H5MR__MPI(job, MPI_Isend(p->buf[b], (int)p->len[b], MPI_BYTE, w, tag_of(next), job->comm, &p->req[b]));
            next++;
            sent[w]++;
        }
    }
    for (int w = 1; w <= nw; w++) {
        if (sent[w] == 0) {
            send_stop(job, w, stops);
            stopped[w] = 1;
        }
    }
    /* Every worker that got items sends one request per item; drain them all. */
    uint64_t pending = 0;
    for (int w = 1; w <= nw; w++)
        pending += sent[w];
    int flag = 0;
    MPI_Request rreq = MPI_REQUEST_NULL;
    if (pending > 0) H5MR__MPI(job, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, job->comm, &rreq));
    while (pending > 0) {
        h5mr__progress(job, next);
        if (!failed && ready < 0 && next < items) {
            ready = pool_take(job, p, &owner, &job->mine.wait_s);
            if ((st = read_item(job, d, next, p->buf[ready], &p->len[ready], err)) != H5MR_OK) {
                failed = 1;
                ready = -1;
            }
        }
        int got = 0;
        MPI_Status ms;
        H5MR__MPI(job, MPI_Test(&rreq, &got, &ms));
        if (!got && !failed && ready >= 0 && all_busy(sent, answered, stopped, nw)) {
            /* No worker is asking and each has items queued: rank 0 would only wait,
             * so it maps the item it read ahead itself. */
            if ((st = map_msg(job, dec, state, p->buf[ready], p->len[ready], next)) != H5MR_OK) failed = 1;
            ready = -1;
            next++;
            continue;
        }
        if (!got) {
            double t0 = h5mr__now();
            H5MR__MPI(job, MPI_Wait(&rreq, &ms));
            job->mine.wait_s += h5mr__now() - t0;
        }
        int w = ms.MPI_SOURCE;
        pending--;
        answered[w]++;
        if (flag) failed = 1;
        if (!stopped[w]) {
            if (!failed && ready >= 0) {
                p->owner[ready] = w;
                H5MR__MPI(job, MPI_Isend(p->buf[ready], (int)p->len[ready], MPI_BYTE, w, tag_of(next), job->comm, &p->req[ready]));
                ready = -1;
                next++;
                sent[w]++;
                pending++;
            } else {
                /* Nothing read ahead means nothing is left or a rank failed. */
                send_stop(job, w, stops);
                stopped[w] = 1;
            }
        }
        if (pending > 0) H5MR__MPI(job, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, job->comm, &rreq));
    }
    /* Items nobody asked for any more (all workers stopped early): rank 0 maps them. */
    while (!failed && next < items) {
        if (ready < 0) {
            ready = pool_take(job, p, &owner, &job->mine.wait_s);
            if ((st = read_item(job, d, next, p->buf[ready], &p->len[ready], err)) != H5MR_OK) break;
        }
        if ((st = map_msg(job, dec, state, p->buf[ready], p->len[ready], next)) != H5MR_OK) break;
        ready = -1;
        next++;
        h5mr__progress(job, next);
    }
    /* A worker still unstopped here had all its requests answered: stop it now. */
    for (int w = 1; w <= nw; w++)
        if (!stopped[w]) send_stop(job, w, stops);
    free(sent);
    free(answered);
    free(stopped);
    return st;
}

static h5mr_status root_static(h5mr_job *job, h5mr__dset *d, pool *p, MPI_Request *stops, h5mr_error *err)
{
    int nw = job->size - 1;
    uint64_t *next = calloc((size_t)job->size, sizeof *next), *hi = calloc((size_t)job->size, sizeof *hi);
    int *open = calloc((size_t)job->size, sizeof *open);
    if (!next || !hi || !open) {
        free(next), free(hi), free(open);
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory in the dispatcher");
    }
    for (int w = 1; w <= nw; w++)
        h5mr__plan_block(&job->plan, w - 1, nw, &next[w], &hi[w]);
    h5mr_status st = H5MR_OK;
    int failed = 0;
    uint64_t handed = 0;
    for (;;) {
        int sent_any = 0, left = 0;
        for (int w = 1; w <= nw && !failed; w++) {
            if (next[w] == hi[w]) continue;
            left = 1;
            if (open[w] >= WINDOW) continue;
            int b = -1;
            for (int i = 0; i < p->n; i++)
                if (p->req[i] == MPI_REQUEST_NULL) {
                    b = i;
                    break;
                }
            if (b < 0) break;
            if ((st = read_item(job, d, next[w], p->buf[b], &p->len[b], err)) != H5MR_OK) {
                failed = 1;
                break;
            }
            p->owner[b] = w;
            H5MR__MPI(job, MPI_Issend(p->buf[b], (int)p->len[b], MPI_BYTE, w, tag_of(next[w]), job->comm, &p->req[b]));
            open[w]++;
            next[w]++;
            sent_any = 1;
            h5mr__progress(job, ++handed);
        }
        if (failed || (!left && !sent_any)) break;
        if (!sent_any) {
            int idx = MPI_UNDEFINED;
            double t0 = h5mr__now();
            H5MR__MPI(job, MPI_Waitany(p->n, p->req, &idx, MPI_STATUS_IGNORE));
            job->mine.wait_s += h5mr__now() - t0;
            if (idx == MPI_UNDEFINED) break;
            open[p->owner[idx]]--;
        }
    }
    for (int w = 1; w <= nw; w++)
        send_stop(job, w, stops);
    free(next);
    free(hi);
    free(open);
    return st;
}

/* A worker's receive buffers, allocated before any item moves. */
typedef struct wbufs {
    void *buf[WINDOW];
    h5mr__decoder *dec;
} wbufs;

static void worker_release(wbufs *wb)
{
    for (int k = 0; k < WINDOW; k++)
        free(wb->buf[k]);
    h5mr__decoder_free(wb->dec);
    memset(wb, 0, sizeof *wb);
}

static h5mr_status worker_prepare(h5mr_job *job, wbufs *wb, h5mr_error *err)
{
    memset(wb, 0, sizeof *wb);
    uint64_t max_bytes = msg_capacity(job);
    h5mr_status st = decoder_for(job, &wb->dec, err);
    for (int k = 0; k < WINDOW && st == H5MR_OK; k++)
        if (!(wb->buf[k] = malloc(max_bytes ? max_bytes : 1)))
            st = h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate an item buffer of %llu bytes",
                                 (unsigned long long)max_bytes);
    return st;
}

static h5mr_status worker(h5mr_job *job, wbufs *wb, void *state, h5mr_error *err)
{
    uint64_t max_bytes = msg_capacity(job);
    MPI_Request req[WINDOW];
    h5mr_status st = H5MR_OK;
    int failed = 0;
    for (int k = 0; k < WINDOW; k++)
        H5MR__MPI(job, MPI_Irecv(wb->buf[k], (int)max_bytes, MPI_BYTE, 0, MPI_ANY_TAG, job->comm, &req[k]));
    int head = 0;
    for (;;) {
        MPI_Status ms;
        double t0 = h5mr__now();
        if (H5MR__MPI(job, MPI_Wait(&req[head], &ms)) != H5MR_OK) failed = 1;
        job->mine.wait_s += h5mr__now() - t0;
        if (ms.MPI_TAG == H5MR__TAG_STOP) break;
        uint64_t item = (uint64_t)(ms.MPI_TAG - H5MR__TAG_ITEM);
        if (ms.MPI_TAG < H5MR__TAG_ITEM || item >= job->plan.items) {
            if (!failed)
                st = h5mr__error_set(err, H5MR_EMPI, "a message with tag %d is no item of this job", ms.MPI_TAG);
            failed = 1;
        }
        if (!failed) {
            int count = 0;
            if (H5MR__MPI(job, MPI_Get_count(&ms, MPI_BYTE, &count)) != H5MR_OK) failed = 1;
            if (!failed) st = map_msg(job, wb->dec, state, wb->buf[head], (uint64_t)count, item);
            if (st != H5MR_OK) failed = 1;
        }
        H5MR__MPI(job, MPI_Irecv(wb->buf[head], (int)max_bytes, MPI_BYTE, 0, MPI_ANY_TAG, job->comm, &req[head]));
        if (job->schedule == H5MR_SCHEDULE_DYNAMIC)
            H5MR__MPI(job, MPI_Send(&failed, 1, MPI_INT, 0, H5MR__TAG_REQUEST, job->comm));
        head = (head + 1) % WINDOW;
    }
    for (int k = 0; k < WINDOW; k++) {
        if (k == head || req[k] == MPI_REQUEST_NULL) continue;
        H5MR__MPI(job, MPI_Cancel(&req[k]));
        H5MR__MPI(job, MPI_Wait(&req[k], MPI_STATUS_IGNORE));
    }
    return st;
}

h5mr_status h5mr__dispatch_scatter(h5mr_job *job, h5mr__dset *d, void *state, h5mr_error *err)
{
    if (job->size == 1) return run_alone(job, d, state, err);
    /* Every rank has its buffers before any item moves, or no item moves: a message is
     * never received into a buffer too small for it. */
    if (job->rank != 0) {
        wbufs wb;
        h5mr_status st = h5mr__agree(job->comm, worker_prepare(job, &wb, err), err);
        if (st == H5MR_OK) st = worker(job, &wb, state, err);
        worker_release(&wb);
        return st;
    }

    int nw = job->size - 1;
    uint64_t max_bytes = msg_capacity(job);
    /* WINDOW items per worker in flight, plus one read ahead, within POOL_MAX_BYTES. */
    uint64_t want = (uint64_t)WINDOW * (uint64_t)nw + 1;
    uint64_t cap = max_bytes ? POOL_MAX_BYTES / max_bytes : want;
    if (cap < 2) cap = 2;
    if (want > cap) want = cap;
    if (want > job->plan.items + 1) want = job->plan.items + 1;
    pool p = {0};
    h5mr__decoder *dec = NULL;
    MPI_Request *stops = malloc((size_t)job->size * sizeof *stops);
    h5mr_status st = stops ? pool_init(&p, (int)want, max_bytes, err)
                           : h5mr__error_set(err, H5MR_ENOMEM, "out of memory in the dispatcher");
    /* Rank 0 maps items too under the dynamic schedule. */
    if (st == H5MR_OK && job->schedule == H5MR_SCHEDULE_DYNAMIC) st = decoder_for(job, &dec, err);
    if ((st = h5mr__agree(job->comm, st, err)) != H5MR_OK) {
        pool_free(&p);
        h5mr__decoder_free(dec);
        free(stops);
        return st;
    }
    for (int w = 0; w < job->size; w++)
        stops[w] = MPI_REQUEST_NULL;
    if (job->schedule == H5MR_SCHEDULE_STATIC)
        st = root_static(job, d, &p, stops, err);
    else
        st = root_dynamic(job, d, state, &p, stops, dec, err);
    double t0 = h5mr__now();
    H5MR__MPI(job, MPI_Waitall(p.n, p.req, MPI_STATUSES_IGNORE));
    H5MR__MPI(job, MPI_Waitall(job->size, stops, MPI_STATUSES_IGNORE));
    job->mine.wait_s += h5mr__now() - t0;
    pool_free(&p);
    h5mr__decoder_free(dec);
    free(stops);
    return st;
}

/* Parallel mode: every rank reads and maps its own items.
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
typedef struct pwork {
    h5mr_job *job;
    h5mr__dset *d;
    void *state, *buf;
    h5mr__decoder *dec;
    h5mr_error *err;
} pwork;

static h5mr_status parallel_item(pwork *w, uint64_t item)
{
    return read_map_local(w->job, w->d, w->dec, w->state, w->buf, item, w->err);
}

static h5mr_status parallel_rma(pwork *w, h5mr_status st)
{
    h5mr_job *job = w->job;
    /* Every rank takes part in creating and freeing the window, even without a buffer. */
    int64_t *counter = NULL;
    MPI_Win win;
    int rc = MPI_Win_allocate(job->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, (int)sizeof(int64_t), MPI_INFO_NULL,
                              job->comm, &counter, &win);
    if (rc != MPI_SUCCESS) return h5mr__mpi_error(w->err, rc, "creating the item counter window");
    if (job->rank == 0) *counter = 0;
    H5MR__MPI(job, MPI_Barrier(job->comm)); /* the counter is zero before anyone takes from it */
    H5MR__MPI(job, MPI_Win_lock_all(0, win));
    const int64_t one = 1, end = (int64_t)job->plan.items;
    while (st == H5MR_OK) {
        int64_t item = 0;
        double t0 = h5mr__now();
        H5MR__MPI(job, MPI_Fetch_and_op(&one, &item, MPI_INT64_T, 0, 0, MPI_SUM, win));
        H5MR__MPI(job, MPI_Win_flush(0, win));
        job->mine.wait_s += h5mr__now() - t0;
        if (item >= end) break;
        h5mr__progress(job, (uint64_t)item);
        st = parallel_item(w, (uint64_t)item);
    }
    if (st != H5MR_OK) {
        int64_t old;
        H5MR__MPI(job, MPI_Fetch_and_op(&end, &old, MPI_INT64_T, 0, 0, MPI_REPLACE, win));
        H5MR__MPI(job, MPI_Win_flush(0, win));
    }
    H5MR__MPI(job, MPI_Win_unlock_all(win));
    H5MR__MPI(job, MPI_Win_free(&win));
    return st;
}

static h5mr_status served_worker(pwork *w, h5mr_status st)
{
    h5mr_job *job = w->job;
    int failed = st != H5MR_OK;
    int64_t item = 0, next = 0;
    MPI_Request req;
    /* One number in hand, one asked for: ask, then keep asking one ahead. */
    H5MR__MPI(job, MPI_Send(&failed, 1, MPI_INT, 0, H5MR__TAG_REQUEST, job->comm));
    H5MR__MPI(job, MPI_Irecv(&next, 1, MPI_INT64_T, 0, H5MR__TAG_NUMBER, job->comm, &req));
    for (;;) {
        double t0 = h5mr__now();
        H5MR__MPI(job, MPI_Wait(&req, MPI_STATUS_IGNORE));
        job->mine.wait_s += h5mr__now() - t0;
        item = next;
        if (item < 0 || (uint64_t)item >= job->plan.items) break; /* the end, or a rank failed */
        H5MR__MPI(job, MPI_Send(&failed, 1, MPI_INT, 0, H5MR__TAG_REQUEST, job->comm));
        H5MR__MPI(job, MPI_Irecv(&next, 1, MPI_INT64_T, 0, H5MR__TAG_NUMBER, job->comm, &req));
        if (!failed && (st = parallel_item(w, (uint64_t)item)) != H5MR_OK) failed = 1;
    }
    return st;
}

static h5mr_status served_root(pwork *w, h5mr_status st)
{
    h5mr_job *job = w->job;
    const int64_t end = (int64_t)job->plan.items;
    int64_t next = 0;
    int stopped = 0, nw = job->size - 1, flag = 0, failed = st != H5MR_OK;
    MPI_Request rreq;
    H5MR__MPI(job, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, job->comm, &rreq));
    while (stopped < nw) {
        int got = 0;
        MPI_Status ms;
        h5mr__progress(job, (uint64_t)next);
        H5MR__MPI(job, MPI_Test(&rreq, &got, &ms));
        if (!got && !failed && next < end) {
            /* Nobody is asking: rank 0 maps an item itself. */
            if ((st = parallel_item(w, (uint64_t)next++)) != H5MR_OK) failed = 1;
            continue;
        }
        if (!got) {
            double t0 = h5mr__now();
            H5MR__MPI(job, MPI_Wait(&rreq, &ms));
            job->mine.wait_s += h5mr__now() - t0;
        }
        if (flag) failed = 1;
        int64_t answer = failed || next >= end ? end : next++;
        if (answer == end) stopped++;
        H5MR__MPI(job, MPI_Send(&answer, 1, MPI_INT64_T, ms.MPI_SOURCE, H5MR__TAG_NUMBER, job->comm));
        /* A stopped worker asks no more (but one that failed may still: its requests
         * are answered with the end until it stops). */
        if (stopped < nw) H5MR__MPI(job, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, job->comm, &rreq));
    }
    while (!failed && next < end) {
        h5mr__progress(job, (uint64_t)next);
        if ((st = parallel_item(w, (uint64_t)next++)) != H5MR_OK) failed = 1;
    }
    return st;
}

h5mr_status h5mr__dispatch_parallel(h5mr_job *job, h5mr__dset *d, void *state, h5mr_error *err)
{
    if (job->size == 1) return run_alone(job, d, state, err); /* both modes are the same */
    uint64_t max_bytes = local_capacity(job);
    pwork w = {job, d, state, malloc(max_bytes ? max_bytes : 1), NULL, err};
    h5mr_status st = w.buf ? decoder_for(job, &w.dec, err)
                           : h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate an item buffer of %llu bytes",
                                             (unsigned long long)max_bytes);
    if (job->schedule == H5MR_SCHEDULE_STATIC) {
        uint64_t lo, hi;
        h5mr__plan_block(&job->plan, job->rank, job->size, &lo, &hi);
        for (uint64_t i = lo; i < hi && st == H5MR_OK; i++) {
            st = parallel_item(&w, i);
            /* Rank 0 sees only its own block: it assumes the others keep pace. */
            h5mr__progress(job, (i + 1 - lo) * (uint64_t)job->size);
        }
    } else if (job->one_node) {
        st = parallel_rma(&w, st);
    } else {
        st = job->rank == 0 ? served_root(&w, st) : served_worker(&w, st);
    }
    h5mr__decoder_free(w.dec);
    free(w.buf);
    return st;
}
