/* reduce.c: combining the ranks' states along a binomial tree to rank 0.
 *
 * At step `mask` a rank with that bit set sends its state to rank - mask and is done;
 * a rank without it receives from rank + mask, whose states cover the ranks just
 * after its own, and folds them in after its own: states are combined in rank order.
 * A state travels as a size (uint64), the parent's answer (1: it has a buffer of that
 * size, 0: it could not allocate one) and, on 1, its packed bytes; the size UINT64_MAX
 * says "this subtree failed", so a parent never waits for bytes that will not come. */
#include "internal.h"

#include <stdlib.h>

#define PIECE ((uint64_t)1 << 30) /* bytes per message: int counts stay far from 2^31 */

static void send_bytes(h5mr__run *run, const void *p, uint64_t n, int to, MPI_Comm comm)
{
    const char *c = p;
    for (uint64_t off = 0; off < n; off += PIECE) {
        uint64_t k = n - off < PIECE ? n - off : PIECE;
        H5MR__MPI(run, MPI_Send(c + off, (int)k, MPI_BYTE, to, H5MR__TAG_RDATA, comm));
    }
}

static void recv_bytes(h5mr__run *run, void *p, uint64_t n, int from, MPI_Comm comm)
{
    char *c = p;
    for (uint64_t off = 0; off < n; off += PIECE) {
        uint64_t k = n - off < PIECE ? n - off : PIECE;
        H5MR__MPI(run, MPI_Recv(c + off, (int)k, MPI_BYTE, from, H5MR__TAG_RDATA, comm, MPI_STATUS_IGNORE));
    }
}

h5mr_status h5mr__reduce(h5mr__run *run, void *state)
{
    h5mr_ctx *ctx = run->ctx;
    h5mr_error *err = ctx->err;
    h5mr_status st = H5MR_OK;
    int rank = run->rank, size = run->size;
    double t0 = h5mr__now();
    for (int mask = 1; mask < size; mask <<= 1) {
        if (rank & mask) {
            void *bytes = NULL;
            size_t n = 0;
            int owned = 0;
            uint64_t hdr = UINT64_MAX;
            if (st == H5MR_OK) st = h5mr__state_pack(ctx, state, &bytes, &n, &owned);
            if (st == H5MR_OK) hdr = n;
            H5MR__MPI(run, MPI_Send(&hdr, 1, MPI_UINT64_T, rank - mask, H5MR__TAG_RSIZE, run->comm));
            /* The parent says whether it has room for the bytes (it never receives a
             * message into a smaller buffer). */
            int go = 0;
            if (hdr != UINT64_MAX)
                H5MR__MPI(run, MPI_Recv(&go, 1, MPI_INT, rank - mask, H5MR__TAG_RACK, run->comm, MPI_STATUS_IGNORE));
            if (go) send_bytes(run, bytes, hdr, rank - mask, run->comm);
            if (owned) free(bytes);
            break;
        }
        if (rank + mask >= size) continue;
        uint64_t hdr = 0;
        H5MR__MPI(run, MPI_Recv(&hdr, 1, MPI_UINT64_T, rank + mask, H5MR__TAG_RSIZE, run->comm, MPI_STATUS_IGNORE));
        if (hdr == UINT64_MAX) {
            /* The child failed; its own error reaches everyone at the next agreement. */
            if (st == H5MR_OK)
                st = h5mr__error_set(err, H5MR_EINTERNAL, "a rank below %d failed in the reduction", rank);
            continue;
        }
        void *bytes = malloc(hdr ? hdr : 1);
        void *other = NULL;
        int go = bytes != NULL;
        H5MR__MPI(run, MPI_Send(&go, 1, MPI_INT, rank + mask, H5MR__TAG_RACK, run->comm));
        if (!bytes) {
            if (st == H5MR_OK)
                st = h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate %llu bytes for a state",
                                     (unsigned long long)hdr);
            continue;
        }
        recv_bytes(run, bytes, hdr, rank + mask, run->comm);
        if (st == H5MR_OK && !(other = h5mr__state_new(ctx)))
            st = h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate a kernel state");
        if (st == H5MR_OK) st = h5mr__state_unpack(ctx, other, bytes, hdr);
        if (st == H5MR_OK) st = ctx->kernel->combine(ctx, state, other);
        h5mr__state_free(ctx, other);
        free(bytes);
    }
    run->mine->wait_s += h5mr__now() - t0;
    return st;
}
