/* scatter.c: the scatter protocol — rank 0 reads every item and sends it, the other
 * ranks map what they get.
 *
 * Rank 0 reads items and sends each as one message whose tag is H5MR__TAG_ITEM + the
 * item number; a worker keeps WINDOW receives posted into its own buffers and maps an
 * item straight from the buffer it arrived in.  A worker's stream ends with one STOP
 * message, always the last message rank 0 sends it, so the worker knows when to leave
 * and no message is left unmatched.
 *
 * dynamic: rank 0 first sends WINDOW items to every worker; after each item a worker
 *   sends a REQUEST (carrying a flag: it failed, or it was asked to stop) and rank 0
 *   answers it with the next item in the plan, or with STOP when none is left or a
 *   rank failed.  Rank 0 reads the
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
static int pool_take(h5mr__run *run, pool *p, int *done_owner, double *wait_s)
{
    *done_owner = -1;
    for (int i = 0; i < p->n; i++)
        if (p->req[i] == MPI_REQUEST_NULL) return i;
    int idx = MPI_UNDEFINED;
    double t0 = h5mr__now();
    H5MR__MPI(run, MPI_Waitany(p->n, p->req, &idx, MPI_STATUS_IGNORE));
    *wait_s += h5mr__now() - t0;
    if (idx != MPI_UNDEFINED) *done_owner = p->owner[idx];
    return idx;
}

static int tag_of(uint64_t item) { return H5MR__TAG_ITEM + (int)item; }

static void send_stop(h5mr__run *run, int w, MPI_Request *stops)
{
    H5MR__MPI(run, MPI_Isend(NULL, 0, MPI_BYTE, w, H5MR__TAG_STOP, run->comm, &stops[w]));
}

/* Every worker still running has at least WINDOW - 1 items queued. */
static int all_busy(const uint64_t *sent, const uint64_t *answered, const char *stopped, int nw)
{
    for (int w = 1; w <= nw; w++)
        if (!stopped[w] && sent[w] - answered[w] < WINDOW - 1) return 0;
    return 1;
}

static h5mr_status root_dynamic(h5mr__run *run, void *state, pool *p, MPI_Request *stops, h5mr__decoder *dec,
                                h5mr_error *err)
{
    int nw = run->size - 1;
    uint64_t items = run->hi, next = run->lo;
    uint64_t *sent = calloc((size_t)run->size, sizeof *sent), *answered = calloc((size_t)run->size, sizeof *answered);
    char *stopped = calloc((size_t)run->size, 1);
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
            int b = pool_take(run, p, &owner, &run->mine->wait_s);
            if ((st = h5mr__read_item(run, next, p->buf[b], &p->len[b])) != H5MR_OK) {
                failed = 1;
                break;
            }
            p->owner[b] = w;
            H5MR__MPI(run, MPI_Isend(p->buf[b], (int)p->len[b], MPI_BYTE, w, tag_of(next), run->comm, &p->req[b]));
            next++;
            sent[w]++;
        }
    }
    for (int w = 1; w <= nw; w++) {
        if (sent[w] == 0) {
            send_stop(run, w, stops);
            stopped[w] = 1;
        }
    }
    /* Every worker that got items sends one request per item; drain them all. */
    uint64_t pending = 0;
    for (int w = 1; w <= nw; w++)
        pending += sent[w];
    int flag = 0;
    MPI_Request rreq = MPI_REQUEST_NULL;
    if (pending > 0) H5MR__MPI(run, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, run->comm, &rreq));
    while (pending > 0) {
        h5mr__progress_tick(run->progress, next);
        if (items > next && h5mr_stop_requested()) {
            /* Asked to stop: no item is handed out any more; every one handed out is
             * mapped, so [lo, next) are done.  What was read ahead is dropped. */
            items = run->stop_at = next;
            ready = -1;
        }
        if (!failed && ready < 0 && next < items) {
            ready = pool_take(run, p, &owner, &run->mine->wait_s);
            if ((st = h5mr__read_item(run, next, p->buf[ready], &p->len[ready])) != H5MR_OK) {
                failed = 1;
                ready = -1;
            }
        }
        int got = 0;
        MPI_Status ms;
        H5MR__MPI(run, MPI_Test(&rreq, &got, &ms));
        if (!got && !failed && ready >= 0 && all_busy(sent, answered, stopped, nw)) {
            /* No worker is asking and each has items queued: rank 0 would only wait,
             * so it maps the item it read ahead itself. */
            if ((st = h5mr__map_msg(run, dec, state, p->buf[ready], p->len[ready], next)) != H5MR_OK) failed = 1;
            ready = -1;
            next++;
            continue;
        }
        if (!got) {
            double t0 = h5mr__now();
            H5MR__MPI(run, MPI_Wait(&rreq, &ms));
            run->mine->wait_s += h5mr__now() - t0;
        }
        int w = ms.MPI_SOURCE;
        pending--;
        answered[w]++;
        if (flag == 2 && items > next) items = run->stop_at = next, ready = -1; /* as above */
        if (flag == 1) failed = 1;
        if (!stopped[w]) {
            if (!failed && ready >= 0) {
                p->owner[ready] = w;
                H5MR__MPI(run, MPI_Isend(p->buf[ready], (int)p->len[ready], MPI_BYTE, w, tag_of(next), run->comm,
                                         &p->req[ready]));
                ready = -1;
                next++;
                sent[w]++;
                pending++;
            } else {
                /* Nothing read ahead means nothing is left or a rank failed. */
                send_stop(run, w, stops);
                stopped[w] = 1;
            }
        }
        if (pending > 0)
            H5MR__MPI(run, MPI_Irecv(&flag, 1, MPI_INT, MPI_ANY_SOURCE, H5MR__TAG_REQUEST, run->comm, &rreq));
    }
    /* Items nobody asked for any more (all workers stopped early): rank 0 maps them. */
    while (!failed && next < items) {
        if (ready < 0) {
            ready = pool_take(run, p, &owner, &run->mine->wait_s);
            if ((st = h5mr__read_item(run, next, p->buf[ready], &p->len[ready])) != H5MR_OK) break;
        }
        if ((st = h5mr__map_msg(run, dec, state, p->buf[ready], p->len[ready], next)) != H5MR_OK) break;
        ready = -1;
        next++;
        h5mr__progress_tick(run->progress, next);
    }
    /* A worker still unstopped here had all its requests answered: stop it now. */
    for (int w = 1; w <= nw; w++)
        if (!stopped[w]) send_stop(run, w, stops);
    free(sent);
    free(answered);
    free(stopped);
    return st;
}

static h5mr_status root_static(h5mr__run *run, pool *p, MPI_Request *stops, h5mr_error *err)
{
    int nw = run->size - 1;
    uint64_t *next = calloc((size_t)run->size, sizeof *next), *hi = calloc((size_t)run->size, sizeof *hi);
    int *open = calloc((size_t)run->size, sizeof *open);
    if (!next || !hi || !open) {
        free(next), free(hi), free(open);
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory in the dispatcher");
    }
    for (int w = 1; w <= nw; w++)
        h5mr__plan_block(run->lo, run->hi, w - 1, nw, &next[w], &hi[w]);
    h5mr_status st = H5MR_OK;
    int failed = 0;
    uint64_t handed = 0;
    for (;;) {
        int sent_any = 0, left = 0;
        if (h5mr_stop_requested()) {
            run->stop_at = run->lo; /* blocks of every worker: not a prefix */
            break;
        }
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
            if ((st = h5mr__read_item(run, next[w], p->buf[b], &p->len[b])) != H5MR_OK) {
                failed = 1;
                break;
            }
            p->owner[b] = w;
            H5MR__MPI(run, MPI_Issend(p->buf[b], (int)p->len[b], MPI_BYTE, w, tag_of(next[w]), run->comm, &p->req[b]));
            open[w]++;
            next[w]++;
            sent_any = 1;
            h5mr__progress_tick(run->progress, run->lo + ++handed);
        }
        if (failed || (!left && !sent_any)) break;
        if (!sent_any) {
            int idx = MPI_UNDEFINED;
            double t0 = h5mr__now();
            H5MR__MPI(run, MPI_Waitany(p->n, p->req, &idx, MPI_STATUS_IGNORE));
            run->mine->wait_s += h5mr__now() - t0;
            if (idx == MPI_UNDEFINED) break;
            open[p->owner[idx]]--;
        }
    }
    for (int w = 1; w <= nw; w++)
        send_stop(run, w, stops);
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

static h5mr_status worker_prepare(h5mr__run *run, wbufs *wb)
{
    memset(wb, 0, sizeof *wb);
    uint64_t max_bytes = h5mr__read_capacity(run);
    h5mr_status st = h5mr__map_decoder(run, &wb->dec);
    for (int k = 0; k < WINDOW && st == H5MR_OK; k++)
        if (!(wb->buf[k] = malloc(max_bytes ? max_bytes : 1)))
            st = h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "cannot allocate an item buffer of %llu bytes",
                                 (unsigned long long)max_bytes);
    return st;
}

static h5mr_status worker(h5mr__run *run, wbufs *wb, void *state, h5mr_error *err)
{
    uint64_t max_bytes = h5mr__read_capacity(run);
    MPI_Request req[WINDOW];
    h5mr_status st = H5MR_OK;
    int failed = 0;
    for (int k = 0; k < WINDOW; k++)
        H5MR__MPI(run, MPI_Irecv(wb->buf[k], (int)max_bytes, MPI_BYTE, 0, MPI_ANY_TAG, run->comm, &req[k]));
    int head = 0;
    for (;;) {
        MPI_Status ms;
        double t0 = h5mr__now();
        if (H5MR__MPI(run, MPI_Wait(&req[head], &ms)) != H5MR_OK) failed = 1;
        run->mine->wait_s += h5mr__now() - t0;
        if (ms.MPI_TAG == H5MR__TAG_STOP) break;
        uint64_t item = (uint64_t)(ms.MPI_TAG - H5MR__TAG_ITEM);
        if (ms.MPI_TAG < H5MR__TAG_ITEM || item >= run->plan->items) {
            if (!failed)
                st = h5mr__error_set(err, H5MR_EMPI, "a message with tag %d is no item of this job", ms.MPI_TAG);
            failed = 1;
        }
        if (!failed) {
            int count = 0;
            if (H5MR__MPI(run, MPI_Get_count(&ms, MPI_BYTE, &count)) != H5MR_OK) failed = 1;
            if (!failed) st = h5mr__map_msg(run, wb->dec, state, wb->buf[head], (uint64_t)count, item);
            if (st != H5MR_OK) failed = 1;
        }
        H5MR__MPI(run, MPI_Irecv(wb->buf[head], (int)max_bytes, MPI_BYTE, 0, MPI_ANY_TAG, run->comm, &req[head]));
        if (run->schedule == H5MR_SCHEDULE_DYNAMIC) {
            /* 1: this rank failed; 2: it was asked to stop (rank 0 hands out no more) */
            int flag = failed ? 1 : h5mr_stop_requested() ? 2 : 0;
            H5MR__MPI(run, MPI_Send(&flag, 1, MPI_INT, 0, H5MR__TAG_REQUEST, run->comm));
        }
        head = (head + 1) % WINDOW;
    }
    for (int k = 0; k < WINDOW; k++) {
        if (k == head || req[k] == MPI_REQUEST_NULL) continue;
        H5MR__MPI(run, MPI_Cancel(&req[k]));
        H5MR__MPI(run, MPI_Wait(&req[k], MPI_STATUS_IGNORE));
    }
    return st;
}

h5mr_status h5mr__scatter(h5mr__run *run, void *state)
{
    h5mr_error *err = run->ctx->err;
    /* Every rank has its buffers before any item moves, or no item moves: a message is
     * never received into a buffer too small for it. */
    if (run->rank != 0) {
        wbufs wb;
        h5mr_status st = h5mr__agree(run->comm, worker_prepare(run, &wb), run->ctx->err);
        if (st == H5MR_OK) st = worker(run, &wb, state, err);
        worker_release(&wb);
        return st;
    }

    int nw = run->size - 1;
    uint64_t max_bytes = h5mr__read_capacity(run);
    /* WINDOW items per worker in flight, plus one read ahead, within POOL_MAX_BYTES. */
    uint64_t want = (uint64_t)WINDOW * (uint64_t)nw + 1;
    uint64_t cap = max_bytes ? POOL_MAX_BYTES / max_bytes : want;
    if (cap < 2) cap = 2;
    if (want > cap) want = cap;
    if (want > run->hi - run->lo + 1) want = run->hi - run->lo + 1;
    pool p = {0};
    h5mr__decoder *dec = NULL;
    MPI_Request *stops = malloc((size_t)run->size * sizeof *stops);
    h5mr_status st = stops ? pool_init(&p, (int)want, max_bytes, err)
                           : h5mr__error_set(err, H5MR_ENOMEM, "out of memory in the dispatcher");
    /* Rank 0 maps items too under the dynamic schedule. */
    if (st == H5MR_OK && run->schedule == H5MR_SCHEDULE_DYNAMIC) st = h5mr__map_decoder(run, &dec);
    if ((st = h5mr__agree(run->comm, st, run->ctx->err)) != H5MR_OK) {
        pool_free(&p);
        h5mr__decoder_free(dec);
        free(stops);
        return st;
    }
    for (int w = 0; w < run->size; w++)
        stops[w] = MPI_REQUEST_NULL;
    if (run->schedule == H5MR_SCHEDULE_STATIC)
        st = root_static(run, &p, stops, err);
    else
        st = root_dynamic(run, state, &p, stops, dec, err);
    double t0 = h5mr__now();
    H5MR__MPI(run, MPI_Waitall(p.n, p.req, MPI_STATUSES_IGNORE));
    H5MR__MPI(run, MPI_Waitall(run->size, stops, MPI_STATUSES_IGNORE));
    run->mine->wait_s += h5mr__now() - t0;
    pool_free(&p);
    h5mr__decoder_free(dec);
    free(stops);
    return st;
}
