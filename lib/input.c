/* input.c: the files of a job — the names (patterns expanded, lists read) on rank 0
 * for every rank, each file described once by one rank (the ranks share the work, so
 * rank 0 never opens thousands of files one after another while the others wait), and
 * the few files a rank keeps open while it reads its items. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- names */

typedef struct namebuf {
    char *buf;
    size_t len, cap, n;
} namebuf;

static int add_name(namebuf *nb, const char *s, size_t len)
{
    if (nb->len + len + 1 > nb->cap) {
        size_t cap = nb->cap ? nb->cap * 2 : 4096;
        while (cap < nb->len + len + 1)
            cap *= 2;
        char *p = realloc(nb->buf, cap);
        if (!p) return -1;
        nb->buf = p;
        nb->cap = cap;
    }
    memcpy(nb->buf + nb->len, s, len);
    nb->buf[nb->len + len] = '\0';
    nb->len += len + 1;
    nb->n++;
    return 0;
}

static int is_pattern(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* Rank 0: the names, in order.  A name that is no file but has *, ? or [ is a
 * pattern, expanded sorted; a LIST adds its lines (blank ones ignored). */
static h5mr_status resolve(const h5mr__inputs *in, namebuf *nb, h5mr_error *err)
{
    for (size_t i = 0; i < in->nargs; i++) {
        const char *a = in->args[i].name;
        struct stat sb;
        if (in->args[i].list) {
            FILE *f = fopen(a, "r");
            if (!f) return h5mr__error_set(err, H5MR_EINPUT, "--files-from: cannot open '%s': %s", a, strerror(errno));
            char *line = NULL;
            size_t cap = 0;
            ssize_t len;
            int bad = 0;
            while ((len = getline(&line, &cap, f)) >= 0) {
                while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                    line[--len] = '\0';
                size_t lead = strspn(line, " \t");
                if ((size_t)len == lead) continue;
                if (add_name(nb, line, (size_t)len) < 0) bad = 1;
            }
            int rerr = ferror(f);
            free(line);
            fclose(f);
            if (rerr) return h5mr__error_set(err, H5MR_EINPUT, "--files-from: cannot read '%s'", a);
            if (bad) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory for the file names");
            continue;
        }
        if (stat(a, &sb) == 0 || !is_pattern(a)) {
            if (add_name(nb, a, strlen(a)) < 0) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
            continue;
        }
        glob_t g;
        int rc = glob(a, GLOB_ERR, NULL, &g);
        if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
            if (rc == 0) globfree(&g);
            return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': no such file, and as a pattern it matches none",
                                   a);
        }
        if (rc != 0) return h5mr__error_set(err, H5MR_EINPUT, "cannot expand the pattern '%s'", a);
        int bad = 0;
        for (size_t k = 0; k < g.gl_pathc && !bad; k++)
            bad = add_name(nb, g.gl_pathv[k], strlen(g.gl_pathv[k])) < 0;
        globfree(&g);
        if (bad) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory for the file names");
    }
    if (nb->n == 0) return h5mr__error_set(err, H5MR_EUSAGE, "no input files (the --files-from list is empty)");
    return H5MR_OK;
}

/* Does the first file have a dataset named exactly as given, brackets and all?  Then
 * that is the dataset, not a selection of another one. */
static int literal_name(const h5mr__inputs *in, const char *first)
{
    if (!in->selection || !in->given) return 0;
    h5mr__hdf5_quiet();
    hid_t f = H5Fopen(first, H5F_ACC_RDONLY, H5P_DEFAULT);
    int yes = 0;
    if (f >= 0) {
        yes = H5Lexists(f, in->given, H5P_DEFAULT) > 0;
        H5Fclose(f);
    }
    H5Eclear2(H5E_DEFAULT);
    return yes;
}

static h5mr_status take_literal(h5mr__inputs *in)
{
    char *d = strdup(in->given);
    if (!d) return H5MR_ENOMEM;
    free(in->dataset);
    free(in->selection);
    in->dataset = d;
    in->selection = NULL;
    return H5MR_OK;
}

/* The names in nb as an array (pointers into nb's buffer, which in takes over). */
static h5mr_status set_names(h5mr__inputs *in, namebuf *nb, uint64_t len)
{
    size_t n = 0;
    for (uint64_t i = 0; i < len; i++)
        n += nb->buf[i] == '\0';
    char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) return H5MR_ENOMEM;
    for (size_t i = 0, at = 0; i < n; i++) {
        names[i] = nb->buf + at;
        at += strlen(names[i]) + 1;
    }
    free(in->names_buf);
    free(in->names);
    in->names_buf = nb->buf;
    in->names = names;
    in->nnames = n;
    nb->buf = NULL;
    return H5MR_OK;
}

h5mr_status h5mr__inputs_expand(h5mr__inputs *in, h5mr_error *err)
{
    namebuf nb = {0};
    h5mr_status st = resolve(in, &nb, err);
    if (st == H5MR_OK && set_names(in, &nb, nb.len) != H5MR_OK)
        st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory for the file names");
    free(nb.buf);
    if (st == H5MR_OK && literal_name(in, in->names[0]) && take_literal(in) != H5MR_OK)
        st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    return st;
}

h5mr_status h5mr__inputs_resolve(h5mr__run *run, h5mr__inputs *in)
{
    namebuf nb = {0};
    h5mr_status st = run->rank == 0 ? resolve(in, &nb, run->ctx->err) : H5MR_OK;
    uint64_t len[2] = {nb.len, st == H5MR_OK && run->rank == 0 && literal_name(in, nb.buf)};
    if ((st = h5mr__agree(run->comm, st, run->ctx->err)) != H5MR_OK) {
        free(nb.buf);
        return st;
    }
    H5MR__MPI(run, MPI_Bcast(len, 2, MPI_UINT64_T, 0, run->comm));
    if (len[1] && take_literal(in) != H5MR_OK) st = h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory");
    if (run->rank != 0 && !(nb.buf = malloc(len[0] ? len[0] : 1)))
        st = h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory for the file names");
    if (len[0] > INT_MAX) st = h5mr__error_set(run->ctx->err, H5MR_ELIMIT, "the file names take more than 2 GB");
    if ((st = h5mr__agree(run->comm, st, run->ctx->err)) == H5MR_OK)
        H5MR__MPI(run, MPI_Bcast(nb.buf, (int)len[0], MPI_CHAR, 0, run->comm));
    if (st == H5MR_OK) st = run->comm_st;
    if (st == H5MR_OK && set_names(in, &nb, len[0]) != H5MR_OK)
        st = h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory for the file names");
    free(nb.buf);
    return h5mr__agree(run->comm, st, run->ctx->err);
}

/* ---------------------------------------------------------------- open files */

void h5mr__files_init(h5mr__files *fs, const h5mr__inputs *in)
{
    memset(fs, 0, sizeof *fs);
    fs->in = in;
    for (int k = 0; k < H5MR__OPEN_FILES; k++) {
        fs->open[k] =
            (h5mr__dset){.file = H5I_INVALID_HID, .dset = H5I_INVALID_HID, .space = H5I_INVALID_HID, .fd = -1};
        fs->which[k] = UINT64_MAX;
        fs->fd[k] = -1;
        fs->fd_which[k] = UINT64_MAX;
    }
}

/* The slot holding file i (1), or the least recently used one for it (0): few files stay
 * open (descriptor limits); a rank's items come in file order. */
static int lru(uint64_t *which, uint64_t *used, uint64_t *tick, uint64_t i, int *slot)
{
    *slot = 0;
    for (int k = 0; k < H5MR__OPEN_FILES; k++) {
        if (which[k] == i) {
            used[k] = ++*tick;
            *slot = k;
            return 1;
        }
        if (used[k] < used[*slot]) *slot = k;
    }
    which[*slot] = UINT64_MAX;
    return 0;
}

h5mr_status h5mr__files_get(h5mr__files *fs, uint64_t i, h5mr__dset **d, h5mr_error *err)
{
    int slot;
    if (lru(fs->which, fs->used, &fs->tick, i, &slot)) {
        *d = &fs->open[slot];
        return H5MR_OK;
    }
    h5mr__dset_close(&fs->open[slot]);
    h5mr_status st = h5mr__dset_open(fs->in->names[i], fs->in->dataset, &fs->open[slot], err);
    if (st != H5MR_OK) return st;
    fs->which[slot] = i;
    fs->used[slot] = ++fs->tick;
    *d = &fs->open[slot];
    return H5MR_OK;
}

void h5mr__files_close(h5mr__files *fs)
{
    for (int k = 0; k < H5MR__OPEN_FILES; k++) {
        h5mr__dset_close(&fs->open[k]);
        fs->which[k] = UINT64_MAX;
        fs->used[k] = 0;
        if (fs->fd[k] >= 0) close(fs->fd[k]);
        fs->fd[k] = -1;
        fs->fd_which[k] = UINT64_MAX;
        fs->fd_used[k] = 0;
    }
}

/* File i's plain descriptor (read-only), opened now if it is not open. */
static h5mr_status files_fd(h5mr__files *fs, uint64_t i, int *fd, h5mr_error *err)
{
    int slot;
    if (!lru(fs->fd_which, fs->fd_used, &fs->tick, i, &slot)) {
        if (fs->fd[slot] >= 0) close(fs->fd[slot]);
        if ((fs->fd[slot] = open(fs->in->names[i], O_RDONLY | O_CLOEXEC)) < 0)
            return h5mr__error_set(err, H5MR_EIO, "cannot open '%s' to read it: %s", fs->in->names[i], strerror(errno));
        fs->fd_which[slot] = i;
        fs->fd_used[slot] = ++fs->tick;
    }
    *fd = fs->fd[slot];
    return H5MR_OK;
}

/* After a direct read (short: it ended early): is the file still the one described? */
static h5mr_status unchanged(int fd, const h5mr__part *p, const char *name, int short_read, h5mr_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) return h5mr__error_set(err, H5MR_EIO, "cannot stat '%s': %s", name, strerror(errno));
    if ((int64_t)sb.st_size < p->size0)
        return h5mr__error_set(err, H5MR_EIO, "'%s' shrank from %lld to %lld bytes while it was read", name,
                               (long long)p->size0, (long long)sb.st_size);
    if ((int64_t)sb.st_size != p->size0 || (int64_t)sb.st_mtim.tv_sec != p->mtime0_s ||
        (int64_t)sb.st_mtim.tv_nsec != p->mtime0_ns || short_read)
        return h5mr__error_set(err, H5MR_EIO, "'%s' was modified while it was read", name);
    return H5MR_OK;
}

h5mr_status h5mr__files_read_direct(h5mr__files *fs, const h5mr__part *p, uint64_t row_bytes, uint64_t first,
                                    uint64_t n, void *buf, h5mr_error *err)
{
    int fd = -1;
    h5mr_status st = files_fd(fs, p->file, &fd, err);
    if (st != H5MR_OK) return st;
    const char *name = fs->in->names[p->file];
    uint64_t len = n * row_bytes, done = 0;
    off_t at = (off_t)(p->direct + (int64_t)(first * row_bytes));
    while (done < len) {
        ssize_t got = pread(fd, (char *)buf + done, len - done, at + (off_t)done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return h5mr__error_set(err, H5MR_EIO, "reading '%s' failed: %s", name, strerror(errno));
        if (got == 0) break; /* the end of the file: it shrank (said below) */
        done += (uint64_t)got;
    }
    return unchanged(fd, p, name, done < len, err);
}

const void *h5mr__files_rows_in_place(h5mr__files *fs, const h5mr__part *p, uint64_t row_bytes, uint64_t first,
                                      uint64_t n, h5mr__in_place *m, h5mr_status *st, h5mr_error *err)
{
    int fd = -1;
    m->map = NULL;
    m->len = 0;
    if ((*st = files_fd(fs, p->file, &fd, err)) != H5MR_OK) return NULL;
    const void *at = h5mr__map_bytes(fd, (uint64_t)p->direct + first * row_bytes, n * row_bytes, p->size0, m);
    /* (rewritten since it was opened: the pages are the new file's) */
    if (at && (*st = unchanged(fd, p, fs->in->names[p->file], 0, err)) != H5MR_OK) h5mr__in_place_release(m);
    return *st == H5MR_OK ? at : NULL;
}

/* ---------------------------------------------------------------- describing */

/* The files rank r describes: a contiguous block (rank 0 first: one file is rank 0's). */
static void share(uint64_t n, int r, int size, uint64_t *lo, uint64_t *hi)
{
    *lo = (uint64_t)(((unsigned __int128)n * (unsigned)r + (unsigned)size - 1) / (unsigned)size);
    *hi = (uint64_t)(((unsigned __int128)n * (unsigned)(r + 1) + (unsigned)size - 1) / (unsigned)size);
}

h5mr_status h5mr__describe_file(h5mr__files *fs, uint64_t i, h5mr__fdesc *out, h5mr_error *err)
{
    h5mr__dset *d;
    memset(out, 0, sizeof *out);
    h5mr_status st = h5mr__files_get(fs, i, &d, err);
    out->status = (int32_t)st;
    if (st != H5MR_OK) return st;
    out->desc = d->desc;
    out->fingerprint = i == 0 ? h5mr__dset_fingerprint(d) : 0;
    out->direct = d->direct;
    out->size0 = d->size0, out->mtime0_s = d->mtime0_s, out->mtime0_ns = d->mtime0_ns;
    out->link_size0 = d->data_size0, out->link_mtime0_s = d->data_mtime0_s, out->link_mtime0_ns = d->data_mtime0_ns;
    out->sources_id = d->sources_id;
    h5mr__cf_read(d, &out->cf);
    return H5MR_OK;
}

h5mr_status h5mr__describe(h5mr__run *run, h5mr__files *fs, h5mr__fdesc **all, int *shared)
{
    h5mr_error *err = run->ctx->err;
    uint64_t n = fs->in->nnames, lo, hi;
    *all = NULL;
    *shared = 1;
    share(n, run->rank, run->size, &lo, &hi);
    h5mr__fdesc *mine = malloc((hi - lo ? hi - lo : 1) * sizeof *mine);
    int *counts = NULL, *displs = NULL;
    h5mr_status st = mine ? H5MR_OK : h5mr__error_set(err, H5MR_ENOMEM, "out of memory describing the files");
    if (run->rank == 0) {
        *all = malloc((n ? n : 1) * sizeof **all);
        counts = malloc((size_t)run->size * sizeof *counts);
        displs = malloc((size_t)run->size * sizeof *displs);
        if (!*all || !counts || !displs) st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory describing the files");
        if (n * sizeof **all > INT_MAX)
            st =
                h5mr__error_set(err, H5MR_ELIMIT, "%llu files are more than one job takes here", (unsigned long long)n);
    }
    if ((st = h5mr__agree(run->comm, st, err)) != H5MR_OK) goto out;
    /* A file this rank cannot describe is rank 0's to try again (it may exist only
     * where rank 0 runs); rank 0's own failure is the answer. */
    for (uint64_t i = lo; i < hi && st == H5MR_OK; i++) {
        h5mr_error quiet = {0};
        if (h5mr__describe_file(fs, i, &mine[i - lo], run->rank == 0 ? err : &quiet) != H5MR_OK) {
            *shared = 0;
            if (run->rank == 0) st = mine[i - lo].status;
        }
    }
    if (run->rank == 0)
        for (int r = 0; r < run->size; r++) {
            uint64_t a, b;
            share(n, r, run->size, &a, &b);
            counts[r] = (int)((b - a) * sizeof **all);
            displs[r] = (int)(a * sizeof **all);
        }
    H5MR__MPI(run, MPI_Gatherv(mine, (int)((hi - lo) * sizeof *mine), MPI_BYTE, *all, counts, displs, MPI_BYTE, 0,
                               run->comm));
    if (st == H5MR_OK) st = run->comm_st;
    for (uint64_t i = 0; run->rank == 0 && st == H5MR_OK && i < n; i++)
        if ((*all)[i].status != H5MR_OK) st = h5mr__describe_file(fs, i, &(*all)[i], err);
    int ok = *shared;
    H5MR__MPI(run, MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, run->comm));
    *shared = ok;
    st = h5mr__agree(run->comm, st, err);
out:
    free(mine);
    free(counts);
    free(displs);
    if (st != H5MR_OK && run->rank == 0) {
        free(*all);
        *all = NULL;
    }
    return st;
}
