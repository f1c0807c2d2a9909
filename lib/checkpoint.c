/* checkpoint.c: a job's progress kept in a file (--checkpoint), for --resume.
 *
 * A job with a checkpoint runs each pass in segments of items (job.c); when a checkpoint
 * is due the states are reduced to rank 0, which folds them into the pass's state and
 * writes the file: the job's fingerprint, the pass in progress, how many of its items are folded
 * (segments run in item order, so always a prefix), the final state of every earlier
 * pass (to replay their end_pass) and the pass's state so far, all as packed bytes.
 * The built-in kernels combine exactly and in any order, so a resumed job gives the
 * bits of an uninterrupted one, at any number of ranks.
 *
 *     "h5mr-checkpoint 2\n"
 *     u64 fingerprint length, the fingerprint (text)
 *     i32 pass, i32 number of states, u64 items folded of the pass
 *     per state: u64 size, bytes
 *     u64 size, bytes: what a compressed output's parts hold so far (0: none; store.c)
 *     u64 checksum of everything before (hash below: four FNV-style lanes over 64-bit
 *     words, several GB/s, so that a state of a gigabyte is written at disk speed)
 *
 * Written piece by piece from the states themselves (no image of the file in memory).
 *
 * The file is replaced atomically each time (atomic.h: an unnamed file renamed into
 * place), so a kill leaves the previous checkpoint or the new one. */
#define _GNU_SOURCE /* O_DIRECT */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "atomic.h"

#define MAGIC "h5mr-checkpoint 3\n"

void h5mr__ckpt_clear(h5mr__ckpt *c)
{
    for (int i = 0; i < c->nstates; i++)
        free(c->states[i]);
    free(c->states), free(c->sizes), free(c->fingerprint), free(c->parts);
    memset(c, 0, sizeof *c);
}

/* The checksum, fed in pieces of any length: 32-byte blocks into four lanes. */
#define PRIME 1099511628211ull
typedef struct hasher {
    uint64_t h[4], total;
    unsigned char pend[32];
    size_t npend;
} hasher;

static void hash_init(hasher *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 4; i++)
        s->h[i] = 1469598103934665603ull + (uint64_t)i;
}

static void hash_block(hasher *s, const unsigned char *b)
{
    uint64_t w[4];
    memcpy(w, b, 32);
    for (int i = 0; i < 4; i++) {
        s->h[i] = (s->h[i] ^ w[i]) * PRIME;
        s->h[i] ^= s->h[i] >> 32;
    }
}

static void hash_add(hasher *s, const void *p, size_t n)
{
    const unsigned char *b = p;
    s->total += n;
    if (s->npend) {
        size_t k = 32 - s->npend < n ? 32 - s->npend : n;
        memcpy(s->pend + s->npend, b, k);
        s->npend += k, b += k, n -= k;
        if (s->npend < 32) return;
        hash_block(s, s->pend);
        s->npend = 0;
    }
    for (; n >= 32; b += 32, n -= 32)
        hash_block(s, b);
    memcpy(s->pend, b, n);
    s->npend = n;
}

static uint64_t hash_end(hasher *s)
{
    memset(s->pend + s->npend, 0, 32 - s->npend);
    hash_block(s, s->pend);
    uint64_t r = s->total;
    for (int i = 0; i < 4; i++) {
        r = (r ^ s->h[i]) * PRIME;
        r ^= r >> 29;
    }
    return r;
}

/* The file read into memory. */
typedef struct buf {
    unsigned char *p;
    size_t n;
    int oom;
} buf;

/* Piece by piece into an atomic file, hashed as written.  Where the file system takes
 * O_DIRECT, through an aligned block of BLOCK bytes written past the page cache: a
 * large state goes at the disk's speed, steadily (buffered writes into fresh
 * page-cache pages ran at 0.3-1.7 GB/s here, direct ones at 1.8: RESULTS §21); the
 * last partial block is written buffered.  Elsewhere (tmpfs), plain pwrites. */
#define BLOCK (8u << 20)
typedef struct out {
    atomic_file a;
    off_t off; /* written to the file */
    hasher h;
    int e;
    unsigned char *blk; /* NULL: plain pwrites */
    size_t nblk;
} out;

#ifndef O_DIRECT
#define O_DIRECT 0 /* (then out_direct leaves the writes plain) */
#endif
static void out_direct(out *o)
{
    int fl = O_DIRECT ? fcntl(o->a.fd, F_GETFL) : -1;
    if (fl < 0 || posix_memalign((void **)&o->blk, 4096, BLOCK) != 0) {
        o->blk = NULL;
        return;
    }
    if (fcntl(o->a.fd, F_SETFL, fl | O_DIRECT) != 0) {
        free(o->blk);
        o->blk = NULL;
    }
}

/* The block's first n bytes at o->off, O_DIRECT off from here on: 0 or an errno. */
static int put_buffered(out *o, size_t n)
{
    int fl = fcntl(o->a.fd, F_GETFL);
    if (fl < 0 || fcntl(o->a.fd, F_SETFL, fl & ~O_DIRECT) != 0) return errno;
    return atomic_pwrite(&o->a, o->blk, n, o->off);
}

/* n bytes at p into the file, hashed too if `hashed` (in the block, in pieces of PIECE
 * bytes just copied there: the hash reads them from the cache, not from memory). */
#define PIECE (256u << 10)
static void put(out *o, const void *p, size_t n, int hashed)
{
    const unsigned char *b = p;
    while (!o->e && n > 0) {
        if (!o->blk) {
            if (hashed) hash_add(&o->h, b, n);
            o->e = atomic_pwrite(&o->a, b, n, o->off);
            o->off += (off_t)n;
            return;
        }
        size_t k = BLOCK - o->nblk < n ? BLOCK - o->nblk : n;
        k = k < PIECE ? k : PIECE;
        memcpy(o->blk + o->nblk, b, k);
        if (hashed) hash_add(&o->h, o->blk + o->nblk, k);
        o->nblk += k, b += k, n -= k;
        if (o->nblk == BLOCK) {
            o->e = atomic_pwrite(&o->a, o->blk, BLOCK, o->off);
            if (o->e == EINVAL) o->e = put_buffered(o, BLOCK); /* O_DIRECT taken but not this write */
            o->off += BLOCK, o->nblk = 0;
        }
    }
}

static void emit(out *o, const void *p, size_t n) { put(o, p, n, 1); }

/* The partial block, buffered; the block freed. */
static void out_end(out *o)
{
    if (o->blk && !o->e && o->nblk) {
        o->e = put_buffered(o, o->nblk);
        o->off += (off_t)o->nblk;
    }
    free(o->blk);
    o->blk = NULL;
}

h5mr_status h5mr__ckpt_write(const char *path, const h5mr__ckpt *c, h5mr_error *err)
{
    out o = {.off = 0};
    uint64_t flen = strlen(c->fingerprint), next = c->next;
    int32_t pass = c->pass, ns = c->nstates;
    const char *what = "";
    hash_init(&o.h);
    if ((o.e = atomic_begin(&o.a, path, 0, &what)) != 0)
        return h5mr__error_set(err, H5MR_EIO, "cannot write --checkpoint '%s': %s: %s", path, what, strerror(o.e));
    const char *nd = getenv("H5MR_NO_DIRECT"); /* (=1: buffered, to compare) */
    if (!(nd && !strcmp(nd, "1"))) out_direct(&o);
    emit(&o, MAGIC, strlen(MAGIC));
    emit(&o, &flen, 8);
    emit(&o, c->fingerprint, flen);
    emit(&o, &pass, 4);
    emit(&o, &ns, 4);
    emit(&o, &next, 8);
    for (int i = 0; i < c->nstates; i++) {
        uint64_t n = c->sizes[i];
        emit(&o, &n, 8);
        emit(&o, c->states[i], n);
    }
    emit(&o, &c->parts_size, 8);
    if (c->parts_size) emit(&o, c->parts, c->parts_size);
    uint64_t h = hash_end(&o.h);
    put(&o, &h, 8, 0);
    out_end(&o);
    if (o.e) {
        what = "writing it";
        atomic_abort(&o.a);
    } else {
        o.e = atomic_commit(&o.a, &what);
    }
    if (o.e)
        return h5mr__error_set(err, H5MR_EIO, "cannot write --checkpoint '%s': %s: %s (the file is as it was)", path,
                               what, strerror(o.e));
    return H5MR_OK;
}

h5mr_status h5mr__ckpt_read(const char *path, const char *fingerprint, h5mr__ckpt *c, int *found, h5mr_error *err)
{
    memset(c, 0, sizeof *c);
    *found = 0;
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT) return H5MR_OK; /* nothing to resume: start afresh */
    if (!f) return h5mr__error_set(err, H5MR_EUSAGE, "cannot read --checkpoint '%s': %s", path, strerror(errno));
    /* The whole file at once (its size known: no growing copies of a large state). */
    buf b = {0};
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (b.p = malloc((size_t)size + 1)) != NULL)
        b.n = fread(b.p, 1, (size_t)size, f);
    else
        b.oom = 1;
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
    hasher hs;
    hash_init(&hs);
    if (b.n < at + 8 || memcmp(b.p, MAGIC, at) != 0 || (memcpy(&h, b.p + b.n - 8, 8), hash_add(&hs, b.p, b.n - 8), 0) ||
        h != hash_end(&hs))
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
    TAKE(&c->parts_size, 8);
    if (st == H5MR_OK && c->parts_size > 0 && (c->parts_size > b.n || !(c->parts = malloc(c->parts_size))))
        st = H5MR_EUSAGE;
    if (c->parts_size > 0) TAKE(c->parts, c->parts_size);
    if (st == H5MR_OK && at != b.n - 8) st = H5MR_EUSAGE;
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
