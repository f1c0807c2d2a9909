/* checkpoint.c: a job's progress kept in a file (--checkpoint), for --resume.
 *
 * A job with a checkpoint runs each pass in segments of items; after each segment the
 * states are reduced to rank 0, which folds them into the pass's state and writes the
 * file: the job's fingerprint, the pass in progress, how many of its items are folded
 * (segments run in item order, so always a prefix), the final state of every earlier
 * pass (to replay their end_pass) and the pass's state so far, all as packed bytes.
 * The built-in kernels combine exactly and in any order, so a resumed job gives the
 * bits of an uninterrupted one, at any number of ranks.
 *
 *     "h5mr-checkpoint 1\n"
 *     u64 fingerprint length, the fingerprint (text)
 *     i32 pass, i32 number of states, u64 items folded of the pass
 *     per state: u64 size, bytes
 *     u64 FNV-1a of everything before
 *
 * The file is replaced atomically each time (atomic.h: an unnamed file renamed into
 * place), so a kill leaves the previous checkpoint or the new one. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

#define MAGIC "h5mr-checkpoint 1\n"

void h5mr__ckpt_clear(h5mr__ckpt *c)
{
    for (int i = 0; i < c->nstates; i++)
        free(c->states[i]);
    free(c->states), free(c->sizes), free(c->fingerprint);
    memset(c, 0, sizeof *c);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* An image of the file in memory. */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

h5mr_status h5mr__ckpt_write(const char *path, const h5mr__ckpt *c, h5mr_error *err)
{
    buf b = {0};
    uint64_t flen = strlen(c->fingerprint), next = c->next;
    int32_t pass = c->pass, ns = c->nstates;
    put(&b, MAGIC, strlen(MAGIC));
    put(&b, &flen, 8);
    put(&b, c->fingerprint, flen);
    put(&b, &pass, 4);
    put(&b, &ns, 4);
    put(&b, &next, 8);
    for (int i = 0; i < c->nstates; i++) {
        uint64_t n = c->sizes[i];
        put(&b, &n, 8);
        put(&b, c->states[i], n);
    }
    uint64_t h = fnv(1469598103934665603ull, b.p, b.n);
    put(&b, &h, 8);
    if (b.oom) {
        free(b.p);
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory writing --checkpoint '%s'", path);
    }
    atomic_file a;
    const char *what = "";
    int e = atomic_begin(&a, path, 0, &what);
    if (e == 0 && (e = atomic_pwrite(&a, b.p, b.n, 0)) != 0) {
        what = "writing it";
        atomic_abort(&a);
    }
    if (e == 0) e = atomic_commit(&a, &what);
    free(b.p);
    if (e) return h5mr__error_set(err, H5MR_EIO, "cannot write --checkpoint '%s': %s: %s", path, what, strerror(e));
    return H5MR_OK;
}

h5mr_status h5mr__ckpt_read(const char *path, const char *fingerprint, h5mr__ckpt *c, int *found, h5mr_error *err)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT) return H5MR_OK; /* nothing to resume: start afresh */
    if (!f) return h5mr__error_set(err, H5MR_EUSAGE, "cannot read --checkpoint '%s': %s", path, strerror(errno));
    buf b = {0};
    unsigned char tmp[1 << 16];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0)
        put(&b, tmp, r);
    fclose(f);
    if (b.oom) {
        free(b.p);
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory reading --checkpoint '%s'", path);
    }
    h5mr_status st = H5MR_OK;
    size_t at = strlen(MAGIC);
    uint64_t flen = 0, h = 0;
#define TAKE(dst, len)                                                                                                 \
    do {                                                                                                               \
        if (st == H5MR_OK && (len) <= b.n && at <= b.n - (len)) {                                                      \
            memcpy((dst), b.p + at, (len));                                                                            \
            at += (len);                                                                                               \
        } else {                                                                                                       \
            st = H5MR_EUSAGE;                                                                                          \
        }                                                                                                              \
    } while (0)
    if (b.n < at + 8 || memcmp(b.p, MAGIC, at) != 0 ||
        (memcpy(&h, b.p + b.n - 8, 8), h != fnv(1469598103934665603ull, b.p, b.n - 8)))
        st = H5MR_EUSAGE;
    TAKE(&flen, 8);
    if (st == H5MR_OK && (flen > b.n || !(c->fingerprint = calloc(flen + 1, 1)))) st = H5MR_EUSAGE;
    TAKE(c->fingerprint, flen);
    int32_t pass = 0, ns = 0;
    TAKE(&pass, 4);
    TAKE(&ns, 4);
    TAKE(&c->next, 8);
    if (st == H5MR_OK && (ns < 1 || ns > 64 || pass != ns - 1)) st = H5MR_EUSAGE;
    if (st == H5MR_OK &&
        (!(c->states = calloc((size_t)ns, sizeof *c->states)) || !(c->sizes = calloc((size_t)ns, sizeof *c->sizes))))
        st = H5MR_ENOMEM;
    for (int i = 0; st == H5MR_OK && i < ns; i++) {
        c->nstates = i + 1;
        TAKE(&c->sizes[i], 8);
        if (st == H5MR_OK && (c->sizes[i] > b.n || !(c->states[i] = malloc(c->sizes[i] ? c->sizes[i] : 1))))
            st = H5MR_EUSAGE;
        TAKE(c->states[i], c->sizes[i]);
    }
#undef TAKE
    c->pass = pass;
    free(b.p);
    if (st == H5MR_ENOMEM) {
        h5mr__ckpt_clear(c);
        return h5mr__error_set(err, st, "out of memory reading --checkpoint '%s'", path);
    }
    if (st != H5MR_OK) {
        h5mr__ckpt_clear(c);
        return h5mr__error_set(err, H5MR_EUSAGE, "--checkpoint '%s' is not an h5mr checkpoint (or is damaged)", path);
    }
    if (strcmp(c->fingerprint, fingerprint) != 0) {
        /* Say what differs: the first line that does. */
        const char *a = c->fingerprint, *b2 = fingerprint;
        while (*a && *a == *b2)
            a++, b2++;
        while (a > c->fingerprint && a[-1] != '\n')
            a--;
        char line[160];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(a, "\n"), a);
        h5mr__ckpt_clear(c);
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "--checkpoint '%s' is of another job (it has '%s'); remove it or give another name",
                               path, line);
    }
    *found = 1;
    return H5MR_OK;
}

void h5mr__ckpt_temporaries_remove(void) { atomic_remove_temporaries(); }
