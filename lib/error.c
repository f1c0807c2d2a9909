/* error.c: status names and messages, error details, and agreeing on one status. */
#include "internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_msg[] = {
#define X(name, msg) msg,
    H5MR_STATUS_TABLE(X)
#undef X
};

static const char *const status_names[] = {
#define X(name, msg) #name,
    H5MR_STATUS_TABLE(X)
#undef X
};

const char *h5mr_strerror(h5mr_status st)
{
    if ((unsigned)st >= H5MR_STATUS_COUNT) return "unknown status";
    return status_msg[st];
}

const char *h5mr_status_name(h5mr_status st)
{
    if ((unsigned)st >= H5MR_STATUS_COUNT) return "UNKNOWN";
    return status_names[st];
}

const char *h5mr_version(void) { return H5MR_VERSION; }
unsigned h5mr_kernel_abi(void) { return H5MR_KERNEL_ABI; }

static void error_vset(h5mr_error *err, h5mr_status st, const char *fmt, va_list ap)
{
    if (!err || (err->status != H5MR_OK && err->message[0])) return; /* the first error wins */
    err->status = st;
    int initialized = 0;
    MPI_Initialized(&initialized);
    int finalized = 0;
    MPI_Finalized(&finalized);
    err->rank = 0;
    if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &err->rank);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
}

h5mr_status h5mr__error_set(h5mr_error *err, h5mr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, st, fmt, ap);
    va_end(ap);
    return st;
}

/* Keep the innermost entry: it says what went wrong ("inflate() failed", "truncated
 * file: eof = ..."), where the outer ones only repeat which API call failed.  Its
 * description is more specific than its minor message ("Unable to initialize object"). */
struct walk_state {
    char desc[160];
    char minor[120];
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    struct walk_state *w = data;
    if (n == 0) {
        char buf[120] = "";
        if (H5Eget_msg(e->min_num, NULL, buf, sizeof buf) < 0) buf[0] = '\0';
        snprintf(w->minor, sizeof w->minor, "%s", buf);
        snprintf(w->desc, sizeof w->desc, "%s", e->desc ? e->desc : "");
    }
    return 0;
}

h5mr_status h5mr__error_wrap(h5mr_error *err, h5mr_status st, const char *fmt, ...)
{
    if (!err) return st;
    char head[384], old[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", err->message[0] ? err->message : h5mr_strerror(st));
    err->status = st;
    if (snprintf(err->message, sizeof err->message, "%s: %s", head, old) >= (int)sizeof err->message)
        err->message[sizeof err->message - 1] = '\0'; /* cut, still one line */
    return st;
}

h5mr_status h5mr__hdf5_error(h5mr_error *err, h5mr_status st, const char *fmt, ...)
{
    struct walk_state w = {"", ""};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &w);
    H5Eclear2(H5E_DEFAULT);
    if (!err) return st;
    char head[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    const char *detail = w.desc[0] ? w.desc : w.minor;
    /* HDF5 1.10 locks a file it opens; "unable to lock file, errno = 11" means a
     * writer holds it. */
    if (strstr(detail, "unable to lock file"))
        detail = "the file is locked: another program has it open for writing (wait for it to finish, or set "
                 "HDF5_USE_FILE_LOCKING=FALSE to read it anyway)";
    if (detail[0]) return h5mr__error_set(err, st, "%s: %s", head, detail);
    return h5mr__error_set(err, st, "%s", head);
}

h5mr_status h5mr__mpi_error(h5mr_error *err, int mpi_rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", mpi_rc);
    return h5mr__error_set(err, H5MR_EMPI, "%s: %s", what, msg);
}

/* H5MR_FAIL_MPI=RANK:N: the Nth call checked on world rank RANK fails. */
static int injected_failure(void)
{
    static int rank = -2;
    static long when = 0, count = 0;
    if (rank == -2) {
        const char *e = getenv("H5MR_FAIL_MPI");
        rank = -1;
        if (e && sscanf(e, "%d:%ld", &rank, &when) != 2) rank = -1;
    }
    if (rank < 0) return 0;
    int me = 0, init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &me);
    return me == rank && ++count == when;
}

h5mr_status h5mr__mpi_note(h5mr_status *first, h5mr_error *err, int rc, const char *call, const char *func)
{
    if (rc == MPI_SUCCESS && !injected_failure()) return H5MR_OK;
    if (rc == MPI_SUCCESS) rc = MPI_ERR_OTHER;
    if (first && *first == H5MR_OK) *first = H5MR_EMPI;
    if (err && err->message[0] == '\0') {
        char msg[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
        h5mr__error_set(err, H5MR_EMPI, "%.*s failed in %s: %s", (int)strcspn(call, "("), call, func, msg);
    }
    return H5MR_EMPI;
}

void h5mr__hdf5_quiet(void)
{
    static int done = 0;
    if (done) return;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    done = 1;
}

h5mr_status h5mr__agree(MPI_Comm comm, h5mr_status st, h5mr_error *err)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int mine = st == H5MR_OK ? INT_MAX : rank;
    int first = INT_MAX;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return h5mr__error_set(err, H5MR_EMPI, "agreeing on a status failed");
    if (first == INT_MAX) return H5MR_OK;
    if (rank == first) {
        err->status = st;
        if (err->message[0] == '\0') snprintf(err->message, sizeof err->message, "%s", h5mr_strerror(st));
    }
    /* The error struct is plain bytes: status, rank and a bounded message. */
    if (MPI_Bcast(err, (int)sizeof *err, MPI_BYTE, first, comm) != MPI_SUCCESS) return H5MR_EMPI;
    err->message[sizeof err->message - 1] = '\0';
    err->rank = first; /* of this communicator, not of MPI_COMM_WORLD */
    return err->status;
}
