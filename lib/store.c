/* store.c: the write step of a map job — the output rows of every rank stored into one
 * chunked HDF5 dataset, in parallel, in a file that appears complete or not at all.
 *
 * Rank 0 creates the new file under a private temporary name in the output's folder
 * (atomic.h; a copy of the existing file when the dataset is added to one), with the
 * dataset and its attributes, and closes it.  Then every rank writes the rows it maps:
 *
 *  - uncompressed: the chunks were allocated when the dataset was created (HDF5 wrote
 *    none of them: fill time never) and rank 0 shared their addresses; each rank
 *    converts its rows to the stored type, cuts them into the chunks' pieces and
 *    pwrite()s those straight into the file.  No byte goes through another rank, and
 *    two ranks never write the same byte (a chunk's rows are disjoint ranges of it).
 *  - compressed (--gzip, --shuffle): a chunk is compressed as a whole, so each rank
 *    compresses the chunks whose rows it holds — compression runs on every rank at
 *    once — and appends them to a part file of its own (beside the output, a private
 *    temporary too), recording where.  Rows of a chunk that a rank holds only partly
 *    (a block ending inside a band of chunk rows) wait in a few band buffers for the
 *    rest; what is still partial at the end goes to the part file as plain rows.  At the
 *    end rank 0 gathers the records and copies every compressed chunk into the output
 *    with H5Dwrite_chunk, assembling and compressing the few partial bands itself.
 *
 * Then rank 0 flushes the file to disk and renames it into place (atomic_commit), and
 * every rank removes its part file.  A failure anywhere (a full disk, a value that does
 * not fit the stored type) leaves the target as it was; a signal removes the
 * temporaries (h5mr_temporaries_remove), and after kill -9 the next writer of that
 * name does.  Deflate is libdeflate's where configure found it (a standard zlib stream,
 * about 3x zlib's speed at level 4: bench/RESULTS.md §18), zlib's otherwise. */
#define _GNU_SOURCE /* fallocate, sync_file_range */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef H5MR_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include "atomic.h"

void h5mr__store_temporaries_remove(void) { atomic_remove_temporaries(); }

/* What a part file holds: a compressed chunk, or plain rows of a partial band. */
enum { REC_CHUNK = 0, REC_ROWS = 1 };
typedef struct rec {
    uint64_t kind;
    uint64_t index; /* REC_CHUNK: the chunk (band * grid + g); REC_ROWS: the first row */
    uint64_t off, size;
    uint64_t nrows; /* REC_ROWS */
    uint32_t ds;    /* the dataset */
    uint32_t rank;  /* filled in by rank 0 */
} rec;

#define NPEND 4

/* A band of chunk rows held partly: its rows, which are there, and how many. */
typedef struct pend {
    int64_t band; /* -1: free */
    uint64_t filled, age;
    uint8_t *have;
    unsigned char *buf;
} pend;

/* One dataset of the output: its geometry, and what a rank holds of it. */
typedef struct sds {
    int ndims;
    uint64_t shape[H5MR__MAX_DIMS], chunk[H5MR__MAX_DIMS];
    h5mr_dtype ktype, dtype;
    char object[1024]; /* the dataset's path in the file */
    uint64_t esize, row_elems, rows;
    uint64_t c0, nbands, grid, cgrid[H5MR__MAX_DIMS], crow_elems, chunk_bytes;
    int whole_rows; /* a chunk spans whole rows (grid 1): a band is the chunk */
    int empty;
    uint64_t *addr; /* uncompressed: every chunk's address */
    pend pend[NPEND];
    uint64_t tick;
    unsigned char *conv, *gather, *shuf;
    uint64_t conv_cap;
} sds;

struct h5mr__store {
    int rank, size;
    h5mr_error *err;
    int nds;
    sds ds[H5MR__STORE_MAX];
    int gzip, shuffle;
    /* the new file */
    atomic_file a; /* rank 0 */
    int kept;      /* a checkpointed job's: the new file stays when the job does not end */
    char tmp[PATH_MAX];
    int fd;
    /* compressed: this rank's part file and what it holds */
    char part[PATH_MAX];
    int part_fd, part_slot;
    uint64_t part_off;
    rec *recs;
    uint64_t nrecs, caprecs;
    /* A job with a checkpoint (kept): the part files have fixed names of the job's
     * session `gen` and outlive a stop (part_keep), since a checkpoint names them; rank 0
     * also holds what the parts of the sessions before hold (resumed). */
    int ckpt; /* every rank: the job has a checkpoint */
    uint64_t gen;
    int part_keep;
    int recorded;    /* a checkpoint names this session's parts */
    char *old_names; /* nold names of PATH_MAX bytes */
    uint64_t nold, nold_recs;
    rec *old_recs; /* .rank: the file among old_names */
    /* scratch */
    unsigned char *comp;
    uint64_t comp_cap;
#ifdef H5MR_HAVE_LIBDEFLATE
    struct libdeflate_compressor *ld;
#endif
    uint64_t stored_bytes; /* rank 0, at the end */
};

static h5mr_status sys_error(h5mr__store *s, int e, const char *what, const char *name)
{
    return h5mr__error_set(s->err, H5MR_EIO, "cannot write the output: %s '%s': %s", what, name, strerror(e));
}

/* An HDF5 call on the output failed: a full disk said plainly, else what HDF5 says. */
static h5mr_status hdf5_fail(h5mr__store *s, const char *what)
{
    int e = errno;
    if (e == ENOSPC || e == EDQUOT) {
        H5Eclear2(H5E_DEFAULT);
        return h5mr__error_set(s->err, H5MR_EIO, "cannot write the output '%s': %s: %s", s->a.target, what,
                               strerror(e));
    }
    if (getenv("H5MR_DEBUG_HDF5")) H5Eprint2(H5E_DEFAULT, stderr);
    return h5mr__hdf5_error(s->err, H5MR_EIO, "cannot write the output '%s': %s", s->a.target, what);
}

/* Close an HDF5 file of the output that is being given up.  Its blocks are released
 * first, so that HDF5's last flush of metadata (a few KiB) finds room even on a full
 * disk: a file HDF5 could not close stays in its tables and crashes the process when
 * MPI_Finalize shuts HDF5 down. */
static void close_abandoned(hid_t f, int fd)
{
    if (f < 0) return;
    for (int i = 0; i < 3; i++) {
        if (fd >= 0 && ftruncate(fd, 0) != 0) break;
        if (H5Fclose(f) >= 0) break;
    }
    H5Eclear2(H5E_DEFAULT);
}

/* Close the output's HDF5 file f (may be invalid): normally if all went well (st OK),
 * else given up. */
static h5mr_status close_file(h5mr__store *s, hid_t f, h5mr_status st)
{
    if (st != H5MR_OK) {
        close_abandoned(f, s->a.fd);
    } else if (f >= 0 && H5Fclose(f) < 0) {
        st = hdf5_fail(s, "closing it");
        close_abandoned(f, s->a.fd);
    }
    return st;
}

/* ---------------------------------------------------------------- conversion */

/* Values of the kernel's type as the stored type.  Floats narrow as numpy's astype
 * does (rounded); a value an integer type cannot hold (NaN, infinite, out of range)
 * is refused, not wrapped.  Through double (or a 64-bit integer between integer
 * types), a slice at a time. */
#define CONV_SLICE 8192
static int is_signed_int(h5mr_dtype t) { return !h5mr_dtype_is_float(t) && h5mr_dtype_is_signed(t); }

static h5mr_status convert_values(h5mr__store *s, const sds *d, const void *in, void *out, uint64_t n,
                                  uint64_t first_row)
{
    h5mr_dtype src = d->ktype, dst = d->dtype;
    int fsrc = h5mr_dtype_is_float(src), fdst = h5mr_dtype_is_float(dst);
    if ((src == H5MR_DTYPE_I64 || src == H5MR_DTYPE_U64) && dst == H5MR_DTYPE_F32) {
        /* Directly: through double would round twice. */
        float *o = out;
        for (uint64_t i = 0; i < n; i++)
            o[i] = src == H5MR_DTYPE_I64 ? (float)((const int64_t *)in)[i] : (float)((const uint64_t *)in)[i];
        return H5MR_OK;
    }
    union {
        double f[CONV_SLICE];
        int64_t i[CONV_SLICE];
        uint64_t u[CONV_SLICE];
    } w;
    int wide_float = fsrc || fdst, wide_signed = !wide_float && is_signed_int(src);
    size_t isz = h5mr_dtype_size(src), osz = h5mr_dtype_size(dst);
    for (uint64_t at = 0; at < n; at += CONV_SLICE) {
        uint64_t m = n - at < CONV_SLICE ? n - at : CONV_SLICE;
        const char *ip = (const char *)in + at * isz;
        char *op = (char *)out + at * osz;
        if (wide_float) {
#define H5MR_CASE(T, W)                                                                                                \
    for (uint64_t i = 0; i < m; i++)                                                                                   \
        w.f[i] = (double)((const T *)ip)[i];
            H5MR_DTYPE_SWITCH(src, return H5MR_EINTERNAL;)
#undef H5MR_CASE
        } else if (wide_signed) {
#define H5MR_CASE(T, W)                                                                                                \
    for (uint64_t i = 0; i < m; i++)                                                                                   \
        w.i[i] = (int64_t)((const T *)ip)[i];
            H5MR_DTYPE_SWITCH(src, return H5MR_EINTERNAL;)
#undef H5MR_CASE
        } else {
#define H5MR_CASE(T, W)                                                                                                \
    for (uint64_t i = 0; i < m; i++)                                                                                   \
        w.u[i] = (uint64_t)((const T *)ip)[i];
            H5MR_DTYPE_SWITCH(src, return H5MR_EINTERNAL;)
#undef H5MR_CASE
        }
        uint64_t bad = UINT64_MAX;
        if (fdst) {
            if (dst == H5MR_DTYPE_F32)
                for (uint64_t i = 0; i < m; i++)
                    ((float *)op)[i] = (float)w.f[i];
            else
                memcpy(op, w.f, m * sizeof(double));
        } else if (wide_float) {
            /* Truncated toward zero, as astype; what truncates into the type's range
             * fits (the bounds are exact doubles). */
#define F2I(T, FITS)                                                                                                   \
    for (uint64_t i = 0; i < m; i++) {                                                                                 \
        double v = w.f[i];                                                                                             \
        if (!(FITS)) {                                                                                                 \
            bad = i;                                                                                                   \
            break;                                                                                                     \
        }                                                                                                              \
        ((T *)op)[i] = (T)v;                                                                                           \
    }                                                                                                                  \
    break;
            switch (dst) {
            case H5MR_DTYPE_I8: F2I(int8_t, v > INT8_MIN - 1.0 && v < INT8_MAX + 1.0)
            case H5MR_DTYPE_I16: F2I(int16_t, v > INT16_MIN - 1.0 && v < INT16_MAX + 1.0)
            case H5MR_DTYPE_I32: F2I(int32_t, v > INT32_MIN - 1.0 && v < INT32_MAX + 1.0)
            case H5MR_DTYPE_I64: F2I(int64_t, v >= -0x1p63 && v < 0x1p63)
            case H5MR_DTYPE_U8: F2I(uint8_t, v > -1.0 && v < UINT8_MAX + 1.0)
            case H5MR_DTYPE_U16: F2I(uint16_t, v > -1.0 && v < UINT16_MAX + 1.0)
            case H5MR_DTYPE_U32: F2I(uint32_t, v > -1.0 && v < UINT32_MAX + 1.0)
            case H5MR_DTYPE_U64: F2I(uint64_t, v > -1.0 && v < 0x1p64)
            default: return H5MR_EINTERNAL;
            }
#undef F2I
            if (bad != UINT64_MAX) {
                uint64_t e = at + bad, r = d->row_elems ? e / d->row_elems : 0;
                return h5mr__error_set(
                    s->err, H5MR_EINPUT, "the value %.17g at row %llu cannot be stored as %s (--dtype): %s", w.f[bad],
                    (unsigned long long)(first_row + r), h5mr_dtype_name(dst),
                    isnan(w.f[bad]) ? "a missing value (NaN) has no integer form" : "it is out of the type's range");
            }
        } else {
            /* Integer to integer: in range of the destination, or refused. */
            int64_t lo = 0;
            uint64_t hi = 0;
            switch (dst) {
            case H5MR_DTYPE_I8: lo = INT8_MIN, hi = INT8_MAX; break;
            case H5MR_DTYPE_I16: lo = INT16_MIN, hi = INT16_MAX; break;
            case H5MR_DTYPE_I32: lo = INT32_MIN, hi = INT32_MAX; break;
            case H5MR_DTYPE_I64: lo = INT64_MIN, hi = INT64_MAX; break;
            case H5MR_DTYPE_U8: hi = UINT8_MAX; break;
            case H5MR_DTYPE_U16: hi = UINT16_MAX; break;
            case H5MR_DTYPE_U32: hi = UINT32_MAX; break;
            default: hi = UINT64_MAX; break;
            }
            for (uint64_t i = 0; i < m && bad == UINT64_MAX; i++) {
                int ok = wide_signed ? w.i[i] >= lo && (w.i[i] < 0 || (uint64_t)w.i[i] <= hi) : w.u[i] <= hi;
                if (!ok) bad = i;
            }
            if (bad != UINT64_MAX) {
                uint64_t e = at + bad, r = d->row_elems ? e / d->row_elems : 0;
                char v[32];
                if (wide_signed)
                    snprintf(v, sizeof v, "%lld", (long long)w.i[bad]);
                else
                    snprintf(v, sizeof v, "%llu", (unsigned long long)w.u[bad]);
                return h5mr__error_set(s->err, H5MR_EINPUT,
                                       "the value %s at row %llu cannot be stored as %s (--dtype): it is out of the "
                                       "type's range",
                                       v, (unsigned long long)(first_row + r), h5mr_dtype_name(dst));
            }
#define H5MR_CASE(T, W)                                                                                                \
    for (uint64_t i = 0; i < m; i++)                                                                                   \
        ((T *)op)[i] = wide_signed ? (T)w.i[i] : (T)w.u[i];
            H5MR_DTYPE_SWITCH(dst, return H5MR_EINTERNAL;)
#undef H5MR_CASE
        }
    }
    return H5MR_OK;
}

/* ---------------------------------------------------------------- chunks */

/* The parts in chunk g of the trailing grid of rows r0 .. r0 + nr - 1 of a band (at
 * `rows`, laid out as the dataset's rows), into `out` as the chunk's rows r0.. (of
 * crow_elems values each, edges zero). */
static void gather_chunk(const sds *q, const unsigned char *rows, uint64_t r0, uint64_t nr, uint64_t g,
                         unsigned char *out)
{
    const uint64_t es = q->esize;
    if (q->whole_rows) {
        memcpy(out + r0 * q->crow_elems * es, rows, nr * q->row_elems * es);
        return;
    }
    /* The chunk's corner in the trailing dimensions, and its extent inside the data. */
    uint64_t corner[H5MR__MAX_DIMS], ext[H5MR__MAX_DIMS], rem = g;
    int k = q->ndims - 1;
    for (int d = k; d >= 1; d--) {
        uint64_t j = rem % q->cgrid[d];
        rem /= q->cgrid[d];
        corner[d] = j * q->chunk[d];
        ext[d] = q->shape[d] - corner[d] < q->chunk[d] ? q->shape[d] - corner[d] : q->chunk[d];
    }
    int edge = 0;
    for (int d = 1; d <= k; d++)
        edge |= ext[d] != q->chunk[d];
    for (uint64_t r = r0; r < r0 + nr; r++) {
        unsigned char *o = out + r * q->crow_elems * es;
        if (edge) memset(o, 0, q->crow_elems * es);
        const unsigned char *in = rows + (r - r0) * q->row_elems * es;
        /* Lines along the last dimension: an odometer over dimensions 1..k-1. */
        uint64_t idx[H5MR__MAX_DIMS] = {0};
        for (;;) {
            uint64_t src = 0, dst = 0;
            for (int d = 1; d <= k; d++) {
                uint64_t i = d < k ? idx[d] : 0;
                src = src * q->shape[d] + corner[d] + i;
                dst = dst * q->chunk[d] + i;
            }
            memcpy(o + dst * es, in + src * es, ext[k] * es);
            int d = k - 1;
            while (d >= 1 && ++idx[d] == ext[d])
                idx[d--] = 0;
            if (d < 1) break;
        }
    }
}

/* HDF5's shuffle: byte j of every element together. */
static void shuffle_bytes(const unsigned char *in, unsigned char *out, uint64_t bytes, uint64_t size)
{
    uint64_t n = bytes / size;
    for (uint64_t j = 0; j < size; j++)
        for (uint64_t i = 0; i < n; i++)
            out[j * n + i] = in[i * size + j];
    memcpy(out + n * size, in + n * size, bytes - n * size);
}

/* A whole chunk, compressed into s->comp; *len its size. */
static h5mr_status compress_chunk(h5mr__store *s, const sds *d, const unsigned char *chunk, uint64_t *len)
{
    const unsigned char *src = chunk;
    if (s->shuffle && d->esize > 1) {
        shuffle_bytes(chunk, d->shuf, d->chunk_bytes, d->esize);
        src = d->shuf;
    }
    if (s->gzip < 0) {
        memcpy(s->comp, src, d->chunk_bytes);
        *len = d->chunk_bytes;
        return H5MR_OK;
    }
#ifdef H5MR_HAVE_LIBDEFLATE
    if (s->ld) {
        size_t n = libdeflate_zlib_compress(s->ld, src, d->chunk_bytes, s->comp, s->comp_cap);
        if (n == 0) return h5mr__error_set(s->err, H5MR_EINTERNAL, "compressing a chunk of the output failed");
        *len = n;
        return H5MR_OK;
    }
#endif
    uLongf n = (uLongf)s->comp_cap;
    if (compress2(s->comp, &n, src, (uLong)d->chunk_bytes, s->gzip) != Z_OK)
        return h5mr__error_set(s->err, H5MR_EINTERNAL, "compressing a chunk of the output failed");
    *len = n;
    return H5MR_OK;
}

static h5mr_status add_rec(h5mr__store *s, rec r)
{
    if (s->nrecs == s->caprecs) {
        uint64_t cap = s->caprecs ? 2 * s->caprecs : 256;
        rec *p = realloc(s->recs, cap * sizeof *p);
        if (!p) return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for the output's chunk records");
        s->recs = p, s->caprecs = cap;
    }
    s->recs[s->nrecs++] = r;
    return H5MR_OK;
}

static h5mr_status part_append(h5mr__store *s, const void *buf, uint64_t len, rec r)
{
    int e = 0;
    const char *p = buf;
    uint64_t left = len, off = s->part_off;
    while (left > 0 && !e) {
        ssize_t w = pwrite(s->part_fd, p, left, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            e = w < 0 ? errno : EIO;
        else
            p += w, left -= (uint64_t)w, off += (uint64_t)w;
    }
    if (e) return sys_error(s, e, "its part file", s->part);
    r.off = s->part_off, r.size = len;
    s->part_off += len;
    return add_rec(s, r);
}

/* A compressed chunk to the output, on rank 0 at the end. */
static h5mr_status write_chunk(h5mr__store *s, const sds *q, hid_t dset, uint64_t index, const void *buf, uint64_t len)
{
    hsize_t off[H5MR__MAX_DIMS];
    uint64_t band = index / q->grid, rem = index % q->grid;
    off[0] = band * q->c0;
    for (int d = q->ndims - 1; d >= 1; d--) {
        off[d] = (rem % q->cgrid[d]) * q->chunk[d];
        rem /= q->cgrid[d];
    }
    if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, off, (size_t)len, buf) < 0) return hdf5_fail(s, "writing a chunk");
    /* Writeback started as it goes (see put_rows), every 64 MiB. */
    if ((s->stored_bytes + len) >> 26 != s->stored_bytes >> 26)
        (void)sync_file_range(s->a.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    s->stored_bytes += len;
    return H5MR_OK;
}

/* Every chunk of band `band`, whose rows (all of them, nb) are at `rows`: compressed to
 * this rank's part file, or (dset >= 0, rank 0 at the end) straight into the output. */
static h5mr_status emit_band(h5mr__store *s, sds *d, uint64_t band, const unsigned char *rows, uint64_t nb, hid_t dset)
{
    for (uint64_t g = 0; g < d->grid; g++) {
        const unsigned char *chunk = rows;
        if (!d->whole_rows || nb < d->c0) {
            if (nb < d->c0) memset(d->gather, 0, d->chunk_bytes);
            gather_chunk(d, rows, 0, nb, g, d->gather);
            chunk = d->gather;
        }
        uint64_t len = 0;
        h5mr_status st = compress_chunk(s, d, chunk, &len);
        if (st == H5MR_OK)
            st = dset >= 0 ? write_chunk(s, d, dset, band * d->grid + g, s->comp, len)
                           : part_append(s, s->comp, len,
                                         (rec){REC_CHUNK, band * d->grid + g, 0, 0, 0, (uint32_t)(d - s->ds), 0});
        if (st != H5MR_OK) return st;
    }
    return H5MR_OK;
}

static uint64_t band_rows(const sds *d, uint64_t band)
{
    uint64_t lo = band * d->c0;
    return d->rows - lo < d->c0 ? d->rows - lo : d->c0;
}

/* Runs of the rows a pending band holds, to the part file as plain rows. */
static h5mr_status spill(h5mr__store *s, sds *d, pend *p)
{
    uint64_t nb = band_rows(d, (uint64_t)p->band), rb = d->row_elems * d->esize;
    h5mr_status st = H5MR_OK;
    for (uint64_t r = 0; r < nb && st == H5MR_OK;) {
        if (!p->have[r]) {
            r++;
            continue;
        }
        uint64_t e = r;
        while (e < nb && p->have[e])
            e++;
        st = part_append(s, p->buf + r * rb, (e - r) * rb,
                         (rec){REC_ROWS, (uint64_t)p->band * d->c0 + r, 0, 0, e - r, (uint32_t)(d - s->ds), 0});
        r = e;
    }
    p->band = -1;
    return st;
}

/* Every band held partly, to the part file. */
static h5mr_status spill_all(h5mr__store *s)
{
    h5mr_status st = H5MR_OK;
    for (int k = 0; k < s->nds; k++)
        for (int i = 0; st == H5MR_OK && i < NPEND; i++)
            if (s->ds[k].pend[i].band >= 0) st = spill(s, &s->ds[k], &s->ds[k].pend[i]);
    return st;
}

/* Rows [lo, hi) of band `band` (data: those rows) when the block does not hold all of
 * the band: into its pending buffer; the band goes out once complete. */
static h5mr_status hold(h5mr__store *s, sds *d, uint64_t band, uint64_t lo, uint64_t hi, const unsigned char *data)
{
    pend *p = NULL, *oldest = &d->pend[0];
    for (int i = 0; i < NPEND; i++) {
        if (d->pend[i].band == (int64_t)band) p = &d->pend[i];
        if (d->pend[i].age < oldest->age || (oldest->band >= 0 && d->pend[i].band < 0)) oldest = &d->pend[i];
    }
    uint64_t rb = d->row_elems * d->esize, nb = band_rows(d, band);
    if (!p) {
        p = oldest;
        if (p->band >= 0) {
            h5mr_status st = spill(s, d, p);
            if (st != H5MR_OK) return st;
        }
        if (!p->buf && (!(p->buf = malloc(d->c0 * rb)) || !(p->have = malloc(d->c0))))
            return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for a band of the output");
        p->band = (int64_t)band;
        p->filled = 0;
        memset(p->have, 0, d->c0);
    }
    p->age = ++d->tick;
    uint64_t b0 = band * d->c0;
    memcpy(p->buf + (lo - b0) * rb, data, (hi - lo) * rb);
    for (uint64_t r = lo; r < hi; r++)
        if (!p->have[r - b0]) p->have[r - b0] = 1, p->filled++;
    if (p->filled < nb) return H5MR_OK;
    p->band = -1;
    return emit_band(s, d, band, p->buf, nb, H5I_INVALID_HID);
}

/* Uncompressed: rows [lo, hi) of band `band` into their chunks' bytes in the file. */
static h5mr_status put_rows(h5mr__store *s, sds *d, uint64_t band, uint64_t lo, uint64_t hi, const unsigned char *data)
{
    uint64_t b0 = band * d->c0, nr = hi - lo, cr = d->crow_elems * d->esize;
    for (uint64_t g = 0; g < d->grid; g++) {
        const unsigned char *src = data;
        if (!d->whole_rows) {
            gather_chunk(d, data, lo - b0, nr, g, d->gather);
            src = d->gather + (lo - b0) * cr;
        }
        uint64_t off = d->addr[band * d->grid + g] + (lo - b0) * cr, left = nr * cr, off0 = off, len = left;
        while (left > 0) {
            ssize_t w = pwrite(s->fd, src, left, (off_t)off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return sys_error(s, w < 0 ? errno : EIO, "writing", s->tmp);
            src += w, left -= (uint64_t)w, off += (uint64_t)w;
        }
        /* The disk starts writing it now, while the rank computes the next rows: the
         * flush before the rename then has little left to wait for. */
        (void)sync_file_range(s->fd, (off_t)off0, (off_t)len, SYNC_FILE_RANGE_WRITE);
    }
    return H5MR_OK;
}

h5mr_status h5mr__store_rows(h5mr__store *s, int i, uint64_t first, uint64_t n, const void *data)
{
    sds *d = &s->ds[i];
    if (d->empty || n == 0) return H5MR_OK;
    const unsigned char *rows = data;
    if (d->ktype != d->dtype) {
        uint64_t need = n * d->row_elems * d->esize;
        if (need > d->conv_cap) {
            free(d->conv);
            d->conv_cap = 0;
            if (!(d->conv = malloc(need)))
                return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory converting output rows (%llu bytes)",
                                       (unsigned long long)need);
            d->conv_cap = need;
        }
        h5mr_status st = convert_values(s, d, data, d->conv, n * d->row_elems, first);
        if (st != H5MR_OK) return st;
        rows = d->conv;
    }
    uint64_t rb = d->row_elems * d->esize;
    for (uint64_t r = first; r < first + n;) {
        uint64_t band = r / d->c0, b0 = band * d->c0, b1 = b0 + band_rows(d, band);
        uint64_t hi = first + n < b1 ? first + n : b1;
        const unsigned char *at = rows + (r - first) * rb;
        h5mr_status st;
        if (d->addr)
            st = put_rows(s, d, band, r, hi, at);
        else if (r == b0 && hi == b1)
            st = emit_band(s, d, band, at, hi - r, H5I_INVALID_HID);
        else
            st = hold(s, d, band, r, hi, at);
        if (st != H5MR_OK) return st;
        r = hi;
    }
    return H5MR_OK;
}

/* ---------------------------------------------------------------- open and close */

static void geometry(sds *d, const h5mr__store_ds *q)
{
    memset(d, 0, sizeof *d);
    snprintf(d->object, sizeof d->object, "%s", q->object);
    d->ndims = q->ndims;
    d->ktype = q->ktype, d->dtype = q->dtype;
    d->esize = h5mr_dtype_size(q->dtype);
    d->rows = q->shape[0];
    d->row_elems = 1;
    d->grid = 1, d->crow_elems = 1;
    d->whole_rows = 1;
    for (int k = 0; k < d->ndims; k++) {
        d->shape[k] = q->shape[k];
        d->empty |= d->shape[k] == 0;
        uint64_t c = q->chunk[k] < 1 ? 1 : q->chunk[k];
        d->chunk[k] = d->shape[k] > 0 && c > d->shape[k] ? d->shape[k] : c;
        if (k == 0) continue;
        d->row_elems *= d->shape[k];
        d->cgrid[k] = d->shape[k] ? (d->shape[k] + d->chunk[k] - 1) / d->chunk[k] : 0;
        d->grid *= d->cgrid[k];
        d->crow_elems *= d->chunk[k];
        d->whole_rows &= d->chunk[k] == d->shape[k];
    }
    d->c0 = d->chunk[0];
    d->nbands = d->c0 ? (d->rows + d->c0 - 1) / d->c0 : 0;
    d->chunk_bytes = d->c0 * d->crow_elems * d->esize;
    for (int i = 0; i < NPEND; i++)
        d->pend[i].band = -1;
}

uint64_t h5mr__store_chunk_bytes(const h5mr__store_ds *q)
{
    sds d;
    geometry(&d, q);
    return d.chunk_bytes;
}

/* Rank 0: one dataset in f (or group g), with h5mr's attributes unless in a group;
 * uncompressed, every chunk's address. */
/* Uncompressed: every chunk's address (allocated when the dataset was made). */
static h5mr_status locate_chunks(h5mr__store *s, sds *d, hid_t ds, const char *file)
{
    uint64_t n = d->nbands * d->grid;
    if (!(d->addr = malloc((n ? n : 1) * sizeof *d->addr)))
        return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for %llu chunk addresses", (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        hsize_t off[H5MR__MAX_DIMS], size = 0;
        haddr_t addr = HADDR_UNDEF;
        unsigned mask = 0;
        uint64_t rem = i % d->grid;
        off[0] = (i / d->grid) * d->c0;
        for (int k = d->ndims - 1; k >= 1; k--) {
            off[k] = (rem % d->cgrid[k]) * d->chunk[k];
            rem /= d->cgrid[k];
        }
        if (H5Dget_chunk_info_by_coord(ds, off, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF ||
            size != d->chunk_bytes)
            return h5mr__hdf5_error(s->err, H5MR_EIO, "cannot locate chunk %llu of the output '%s'",
                                    (unsigned long long)i, file);
        d->addr[i] = (uint64_t)addr;
    }
    return H5MR_OK;
}

/* Rank 0, resuming: the datasets of the partial output, as this job makes them. */
static h5mr_status open_partial(h5mr__store *s, const h5mr__store_req *req)
{
    h5mr_status st = H5MR_OK;
    hid_t f = H5Fopen(s->tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t g = f >= 0 && req->group ? H5Gopen2(f, req->group, H5P_DEFAULT) : f;
    if (f < 0 || g < 0) st = hdf5_fail(s, "opening the partial output");
    for (int i = 0; st == H5MR_OK && i < s->nds; i++) {
        sds *d = &s->ds[i];
        hid_t ds = H5Dopen2(g, d->object, H5P_DEFAULT), sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID,
              t = ds >= 0 ? H5Dget_type(ds) : H5I_INVALID_HID, dcpl = ds >= 0 ? H5Dget_create_plist(ds) : -1;
        hsize_t dims[H5MR__MAX_DIMS], cdims[H5MR__MAX_DIMS];
        int same = sp >= 0 && t >= 0 && dcpl >= 0 && H5Sget_simple_extent_ndims(sp) == d->ndims &&
                   H5Sget_simple_extent_dims(sp, dims, NULL) >= 0 && H5Tequal(t, h5mr_dtype_to_hdf5(d->dtype)) > 0 &&
                   (d->empty || H5Pget_chunk(dcpl, d->ndims, cdims) == d->ndims);
        for (int k = 0; same && k < d->ndims; k++)
            same = dims[k] == d->shape[k] && (d->empty || cdims[k] == d->chunk[k]);
        if (!same)
            st = h5mr__error_set(s->err, H5MR_EUSAGE,
                                 "the partial output '%s' of the checkpoint is not this job's ('%s' differs): remove "
                                 "it and the checkpoint to start afresh",
                                 s->tmp, d->object);
        else if (!d->empty && s->gzip < 0 && !s->shuffle)
            st = locate_chunks(s, d, ds, req->file);
        if (dcpl >= 0) H5Pclose(dcpl);
        if (t >= 0) H5Tclose(t);
        if (sp >= 0) H5Sclose(sp);
        if (ds >= 0) H5Dclose(ds);
    }
    if (g >= 0 && g != f) H5Gclose(g);
    /* Closed as it was opened, whatever was found (a file of another job stays intact). */
    if (f >= 0 && H5Fclose(f) < 0 && st == H5MR_OK) st = hdf5_fail(s, "closing the partial output");
    return st;
}

static h5mr_status create_dataset(h5mr__store *s, sds *d, hid_t where, int in_group, const h5mr__store_req *req)
{
    h5mr_status st = H5MR_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE), sp = H5I_INVALID_HID,
          ds = H5I_INVALID_HID;
    hsize_t dims[H5MR__MAX_DIMS], cdims[H5MR__MAX_DIMS];
    for (int k = 0; k < d->ndims; k++)
        dims[k] = d->shape[k], cdims[k] = d->chunk[k];
    int filtered = s->gzip >= 0 || s->shuffle;
    errno = 0;
    if (lcpl < 0 || dcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        (sp = H5Screate_simple(d->ndims, dims, NULL)) < 0 || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0 ||
        (!d->empty && H5Pset_chunk(dcpl, d->ndims, cdims) < 0) ||
        (!d->empty && s->shuffle && H5Pset_shuffle(dcpl) < 0) ||
        (!d->empty && s->gzip >= 0 && H5Pset_deflate(dcpl, (unsigned)s->gzip) < 0) ||
        (!d->empty && !filtered && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0) ||
        (ds = H5Dcreate2(where, d->object, h5mr_dtype_to_hdf5(d->dtype), sp, lcpl, dcpl, H5P_DEFAULT)) < 0) {
        st = hdf5_fail(s, d->object);
    } else if (!in_group && (st = h5mr__output_attrs(ds, req->info, req->params, 0, s->err)) != H5MR_OK) {
    } else if (!d->empty && !filtered) {
        st = locate_chunks(s, d, ds, req->file);
    }
    if (ds >= 0 && H5Dclose(ds) < 0 && st == H5MR_OK) st = hdf5_fail(s, "closing its dataset");
    if (sp >= 0) H5Sclose(sp);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    return st;
}

/* Rank 0: the new file with its datasets (in req->group, if given). */
static h5mr_status create_file(h5mr__store *s, const h5mr__store_req *req)
{
    const char *what = "";
    int e, existed = 0;
    if (req->kept) {
        const char *base = strrchr(req->file, '/');
        char name[NAME_MAX + 1];
        base = base ? base + 1 : req->file;
        e = snprintf(name, sizeof name, ".%s.partial-h5mr", base) >= (int)sizeof name
                ? ENAMETOOLONG
                : atomic_begin_kept(&s->a, req->file, name, req->resume, &existed, &what);
        s->kept = e == 0;
    } else {
        e = atomic_begin(&s->a, req->file, 1, &what);
    }
    if (e)
        return h5mr__error_set(s->err, H5MR_EIO, "cannot write the output '%s': %s: %s", req->file, what, strerror(e));
    snprintf(s->tmp, sizeof s->tmp, "%s", s->a.path);
    if (existed) {
        h5mr_status st = open_partial(s, req);
        if (st != H5MR_OK) atomic_keep(&s->a);
        return st;
    }
    if (req->into_existing) {
        /* A copy of the file to add to. */
        if ((e = atomic_copy_existing(&s->a, req->file)) != 0) {
            atomic_abort(&s->a);
            return h5mr__error_set(s->err, H5MR_EIO, "cannot write the output '%s': copying it: %s", req->file,
                                   strerror(e));
        }
    }
    h5mr_status st = H5MR_OK;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), g = H5I_INVALID_HID;
    errno = 0; /* (every HDF5 call clears HDF5's error stack: the failing one is checked first) */
    hid_t f = req->into_existing ? H5Fopen(s->tmp, H5F_ACC_RDWR, H5P_DEFAULT)
                                 : H5Fcreate(s->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const char *obj = req->group ? req->group : s->ds[0].object;
    if (f < 0)
        st = hdf5_fail(s, req->into_existing ? "opening its copy" : "creating it");
    else if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
             (req->replace && H5Lexists(f, obj, H5P_DEFAULT) > 0 && H5Ldelete(f, obj, H5P_DEFAULT) < 0) ||
             (req->group && (g = H5Gcreate2(f, req->group, lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0))
        st = hdf5_fail(s, obj);
    else if (g >= 0)
        st = h5mr__output_attrs(g, req->info, req->params, 0, s->err);
    if (st == H5MR_OK && req->mark_root) st = h5mr__output_attrs(f, NULL, NULL, 0, s->err);
    for (int i = 0; st == H5MR_OK && i < s->nds; i++)
        st = create_dataset(s, &s->ds[i], g >= 0 ? g : f, g >= 0, req);
    if (g >= 0 && H5Gclose(g) < 0 && st == H5MR_OK) st = hdf5_fail(s, req->group);
    if (lcpl >= 0) H5Pclose(lcpl);
    /* Every block the file will take, reserved now (uncompressed: the chunks, which the
     * ranks then write without a full disk half-way; and the metadata HDF5 writes when
     * it closes the file, so that closing cannot fail for room). */
    hsize_t size = 0;
    if (st == H5MR_OK && f >= 0 && H5Fget_filesize(f, &size) >= 0) {
        int e2 = fallocate(s->a.fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)(size + ((hsize_t)64 << 10))) == 0 ? 0 : errno;
        if (e2 == ENOSPC || e2 == EDQUOT)
            st = h5mr__error_set(s->err, H5MR_EIO, "cannot write the output '%s' (%.3g MB%s): %s", req->file,
                                 (double)size / 1e6, s->gzip >= 0 || s->shuffle ? " before compressed chunks" : "",
                                 strerror(e2));
    }
    st = close_file(s, f, st);
    if (st != H5MR_OK) atomic_abort(&s->a);
    return st;
}

/* This rank's part file, beside the output: a private temporary of the output's name;
 * for a job with a checkpoint, .NAME.partial-h5mr.part-GEN-RANK, which a signal and
 * atomic_remove_stale leave (the checkpoint may name it). */
static h5mr_status open_part(h5mr__store *s, const char *target, int kept)
{
    char dir[PATH_MAX];
    const char *base;
    int e = atomic_split(target, dir, sizeof dir, &base), n = 0;
    if (!e && kept)
        n = snprintf(s->part, sizeof s->part, "%s/.%s.partial-h5mr.part-%llu-%d", dir, base, (unsigned long long)s->gen,
                     s->rank);
    else if (!e)
        n = snprintf(s->part, sizeof s->part, "%s/.%s.h5mr-%ld-XXXXXX", dir, base, (long)getpid());
    if (!e && n >= (int)sizeof s->part) e = ENAMETOOLONG;
    if (!e && kept) {
        s->part_fd = open(s->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        e = s->part_fd < 0 ? errno : 0;
    } else if (!e) {
        sigset_t old;
        atomic_block(&old);
        s->part_fd = mkstemp(s->part);
        e = s->part_fd < 0 ? errno : 0;
        if (!e) s->part_slot = atomic_register(s->part);
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (!e) fcntl(s->part_fd, F_SETFD, FD_CLOEXEC);
    }
    if (e) {
        s->part[0] = '\0';
        return sys_error(s, e, "a part file in the folder of", target);
    }
    return H5MR_OK;
}

/* Rank 0, a job with a checkpoint: what the parts of the sessions before hold (the
 * checkpoint's record, h5mr__store_checkpoint's format), or, starting afresh, no part
 * of an earlier job of this output left behind. */
/* Every part of a job with a checkpoint of this output (.NAME.partial-h5mr.part-*). */
static void remove_parts(const char *file)
{
    char dir[PATH_MAX], prefix[NAME_MAX + 1];
    const char *base;
    int e = atomic_split(file, dir, sizeof dir, &base);
    int np = e ? -1 : snprintf(prefix, sizeof prefix, ".%s.partial-h5mr.part-", base);
    DIR *dp = np > 0 && np < (int)sizeof prefix ? opendir(dir) : NULL;
    struct dirent *de;
    while (dp && (de = readdir(dp)) != NULL) {
        char path[PATH_MAX];
        if (strncmp(de->d_name, prefix, (size_t)np) == 0 &&
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
            unlink(path);
    }
    if (dp) closedir(dp);
}

static h5mr_status take_parts(h5mr__store *s, const h5mr__store_req *req)
{
    if (!req->parts) {
        remove_parts(req->file);
        return H5MR_OK;
    }
    const unsigned char *p = req->parts;
    uint64_t n = req->parts_size, at = 0, v[3] = {0};
    int bad = n < sizeof v;
    if (!bad) memcpy(v, p, sizeof v), at = sizeof v;
    s->gen = v[0] + 1, s->nold = v[1], s->nold_recs = v[2];
    bad |= s->nold > n / PATH_MAX || s->nold_recs > n / sizeof(rec) ||
           n - at != s->nold * PATH_MAX + s->nold_recs * sizeof(rec);
    if (!bad &&
        (!(s->old_names = malloc(s->nold * PATH_MAX + 1)) || !(s->old_recs = malloc(s->nold_recs * sizeof(rec) + 1))))
        return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
    if (!bad) {
        memcpy(s->old_names, p + at, s->nold * PATH_MAX);
        memcpy(s->old_recs, p + at + s->nold * PATH_MAX, s->nold_recs * sizeof(rec));
    }
    /* Every part there, as long as its records say. */
    for (uint64_t i = 0; !bad && i < s->nold_recs; i++) {
        rec *r = &s->old_recs[i];
        bad = r->rank >= s->nold || r->ds >= (uint32_t)s->nds || (r->kind != REC_CHUNK && r->kind != REC_ROWS);
        const sds *d = bad ? NULL : &s->ds[r->ds];
        bad = bad || d->empty ||
              (r->kind == REC_CHUNK ? r->index >= d->nbands * d->grid
                                    : r->index >= d->rows || r->nrows > d->rows - r->index ||
                                          r->size != r->nrows * d->row_elems * d->esize);
    }
    if (bad) return h5mr__error_set(s->err, H5MR_EUSAGE, "the checkpoint's record of the output's parts is damaged");
    for (uint64_t f = 0; f < s->nold; f++) {
        char *name = s->old_names + f * PATH_MAX;
        name[PATH_MAX - 1] = '\0';
        uint64_t end = 0;
        for (uint64_t i = 0; i < s->nold_recs; i++)
            if (s->old_recs[i].rank == f && s->old_recs[i].off + s->old_recs[i].size > end)
                end = s->old_recs[i].off + s->old_recs[i].size;
        struct stat sb;
        if (end > 0 && (stat(name, &sb) != 0 || (uint64_t)sb.st_size < end))
            return h5mr__error_set(s->err, H5MR_EUSAGE,
                                   "the part '%s' of the checkpoint's output is %s: remove the checkpoint to start "
                                   "afresh",
                                   name, stat(name, &sb) != 0 ? "missing" : "shorter than it was");
    }
    return H5MR_OK;
}

static void release(h5mr__store *s)
{
    if (s->fd >= 0 && (s->rank != 0 || s->fd != s->a.fd)) close(s->fd);
    if (s->part_fd >= 0) close(s->part_fd);
    if (s->part[0] && !s->part_keep) unlink(s->part);
    atomic_unregister(s->part_slot);
    for (int k = 0; k < s->nds; k++) {
        sds *d = &s->ds[k];
        for (int i = 0; i < NPEND; i++)
            free(d->pend[i].buf), free(d->pend[i].have);
        free(d->addr), free(d->conv), free(d->gather), free(d->shuf);
    }
#ifdef H5MR_HAVE_LIBDEFLATE
    if (s->ld) libdeflate_free_compressor(s->ld);
#endif
    free(s->recs), free(s->comp);
    free(s->old_names), free(s->old_recs);
    free(s);
}

static h5mr_status agree(h5mr__run *run, h5mr_status st)
{
    if (st == H5MR_OK && run->comm_st != H5MR_OK) st = run->comm_st;
    return h5mr__agree(run->comm, st, run->ctx->err);
}

h5mr_status h5mr__store_open(h5mr__run *run, const h5mr__store_req *req, h5mr__store **out)
{
    *out = NULL;
    h5mr__store *s = calloc(1, sizeof *s);
    h5mr_status st = s ? H5MR_OK : h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory");
    if (st == H5MR_OK && (req->nds < 1 || req->nds > H5MR__STORE_MAX))
        st = h5mr__error_set(run->ctx->err, H5MR_ELIMIT, "%d output datasets are more than one job writes (%d)",
                             req->nds, H5MR__STORE_MAX);
    if (s) {
        s->rank = run->rank, s->size = run->size, s->err = run->ctx->err;
        s->fd = s->part_fd = s->a.fd = s->a.dirfd = -1;
        s->part_slot = s->a.slot = -1;
        s->gzip = req->gzip, s->shuffle = req->shuffle;
        s->ckpt = req->kept;
        s->nds = st == H5MR_OK ? req->nds : 0;
        for (int i = 0; i < s->nds; i++)
            geometry(&s->ds[i], &req->ds[i]);
    }
    int filtered = req->gzip >= 0 || req->shuffle;
    if (st == H5MR_OK && s->rank == 0 && filtered && req->kept) st = take_parts(s, req);
    if (st == H5MR_OK && s->rank == 0) st = create_file(s, req);
    if ((st = agree(run, st)) != H5MR_OK) {
        if (s) release(s);
        return st;
    }
    H5MR__MPI(run, MPI_Bcast(&s->gen, 1, MPI_UINT64_T, 0, run->comm));
    /* Where every rank writes: the new file's name, and the chunks' addresses. */
    H5MR__MPI(run, MPI_Bcast(s->tmp, (int)sizeof s->tmp, MPI_CHAR, 0, run->comm));
    int any = 0;
    uint64_t maxchunk = 0;
    for (int i = 0; i < s->nds; i++) {
        sds *d = &s->ds[i];
        any |= !d->empty;
        if (!d->empty && d->chunk_bytes > maxchunk) maxchunk = d->chunk_bytes;
        uint64_t nchunks = d->empty || filtered ? 0 : d->nbands * d->grid;
        if (nchunks > 0 && s->rank != 0 && !(d->addr = malloc(nchunks * sizeof *d->addr)))
            st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for %llu chunk addresses",
                                 (unsigned long long)nchunks);
        if ((st = agree(run, st)) != H5MR_OK) break;
        for (uint64_t at = 0; at < nchunks; at += (uint64_t)1 << 26) {
            uint64_t m = nchunks - at < (uint64_t)1 << 26 ? nchunks - at : (uint64_t)1 << 26;
            H5MR__MPI(run, MPI_Bcast(d->addr + at, (int)m, MPI_UINT64_T, 0, run->comm));
        }
        if (!d->empty && (!d->whole_rows || filtered) && !(d->gather = malloc(d->chunk_bytes ? d->chunk_bytes : 1)))
            st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for a chunk of the output");
        if (st == H5MR_OK && !d->empty && s->shuffle && !(d->shuf = malloc(d->chunk_bytes + 1)))
            st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for a chunk of the output");
    }
    if (st == H5MR_OK && any) {
        if (!filtered) {
            s->fd = s->rank == 0 ? s->a.fd : open(s->tmp, O_WRONLY | O_CLOEXEC);
            if (s->fd < 0) st = sys_error(s, errno, "opening", s->tmp);
        } else {
            st = open_part(s, req->file, req->kept);
        }
        if (st == H5MR_OK && filtered) {
            s->comp_cap = compressBound((uLong)maxchunk) + 64;
#ifdef H5MR_HAVE_LIBDEFLATE
            if (s->gzip >= 0) {
                /* libdeflate's levels run 0-12; zlib's 0-9 mean the same up to 9 */
                s->ld = libdeflate_alloc_compressor(s->gzip);
                if (s->ld) s->comp_cap = libdeflate_zlib_compress_bound(s->ld, maxchunk) + 64;
            }
#endif
            if (!(s->comp = malloc(s->comp_cap)))
                st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for compressing the output");
        }
    }
    if ((st = agree(run, st)) != H5MR_OK) {
        if (s->rank == 0 && s->kept) atomic_keep(&s->a);
        if (s->rank == 0 && !s->kept) atomic_abort(&s->a);
        release(s);
        return st;
    }
    *out = s;
    return H5MR_OK;
}

/* Rank 0: the records of every part file (all, total; .rank: the file among nfiles
 * names), then every compressed chunk and partial band into the output.  A resumed job
 * may hold a chunk twice, or a band both whole and in rows (items after its
 * checkpoint's done before a stop, and done again): the same bytes, taken once. */
static h5mr_status join(h5mr__store *s, rec *all, uint64_t total, uint64_t nfiles, const char *names, const char *group)
{
    h5mr_status st = H5MR_OK;
    int *fds = malloc((nfiles ? nfiles : 1) * sizeof *fds);
    uint64_t *seen[H5MR__STORE_MAX] = {NULL};
    hid_t dsets[H5MR__STORE_MAX];
    for (int i = 0; i < H5MR__STORE_MAX; i++)
        dsets[i] = H5I_INVALID_HID;
    if (!fds) return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
    for (uint64_t r = 0; r < nfiles; r++)
        fds[r] = -1;
    for (uint64_t i = 0; i < total && st == H5MR_OK; i++) {
        uint32_t r = all[i].rank;
        if (fds[r] < 0 && (fds[r] = open(names + (size_t)r * PATH_MAX, O_RDONLY | O_CLOEXEC)) < 0)
            st = sys_error(s, errno, "reading the part file", names + (size_t)r * PATH_MAX);
    }
    /* Which chunks are written, a bit each. */
    for (int i = 0; i < s->nds && st == H5MR_OK; i++)
        if (!(seen[i] = calloc((s->ds[i].nbands * s->ds[i].grid + 63) / 64 + 1, sizeof **seen)))
            st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
#define SEEN(ds, c) ((seen[ds][(c) >> 6] >> ((c)&63)) & 1)
    hid_t f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    if (st == H5MR_OK && (f = H5Fopen(s->tmp, H5F_ACC_RDWR, H5P_DEFAULT)) < 0) st = hdf5_fail(s, "reopening it");
    if (st == H5MR_OK && group && (g = H5Gopen2(f, group, H5P_DEFAULT)) < 0) st = hdf5_fail(s, "reopening it");
    for (int i = 0; i < s->nds && st == H5MR_OK; i++)
        if (!s->ds[i].empty && (dsets[i] = H5Dopen2(g >= 0 ? g : f, s->ds[i].object, H5P_DEFAULT)) < 0)
            st = hdf5_fail(s, "reopening it");
    uint64_t cap = 0, bcap = 0;
    unsigned char *buf = NULL, *band = NULL;
    uint8_t *have = NULL;
    /* Compressed chunks first, in each part file's order (sequential reads). */
    for (uint64_t i = 0; i < total && st == H5MR_OK; i++) {
        rec *c = &all[i];
        if (c->kind != REC_CHUNK || SEEN(c->ds, c->index)) continue;
        seen[c->ds][c->index >> 6] |= (uint64_t)1 << (c->index & 63);
        if (c->size > cap) {
            free(buf);
            cap = c->size;
            if (!(buf = malloc(cap))) st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
        }
        if (st == H5MR_OK && pread(fds[c->rank], buf, c->size, (off_t)c->off) != (ssize_t)c->size)
            st = sys_error(s, errno ? errno : EIO, "reading the part file", names + (size_t)c->rank * PATH_MAX);
        if (st == H5MR_OK) st = write_chunk(s, &s->ds[c->ds], dsets[c->ds], c->index, buf, c->size);
    }
    /* Then the partial bands: their rows from wherever they are, compressed here. */
    for (uint64_t i = 0; i < total && st == H5MR_OK; i++) {
        if (all[i].kind != REC_ROWS) continue;
        sds *d = &s->ds[all[i].ds];
        uint64_t rb = d->row_elems * d->esize, b = all[i].index / d->c0, nb = band_rows(d, b), got = 0;
        if (SEEN(all[i].ds, b * d->grid)) { /* written whole */
            all[i].kind = UINT64_MAX;
            continue;
        }
        if (d->c0 * rb > bcap || d->c0 > bcap) {
            free(band), free(have);
            bcap = d->c0 * rb > d->c0 ? d->c0 * rb : d->c0;
            band = malloc(bcap), have = malloc(bcap);
            if (!band || !have) {
                st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for a band of the output");
                break;
            }
        }
        memset(have, 0, d->c0);
        for (uint64_t j = i; j < total && st == H5MR_OK; j++) {
            rec *c = &all[j];
            if (c->kind != REC_ROWS || c->ds != all[i].ds || c->index / d->c0 != b) continue;
            uint64_t at = c->index - b * d->c0;
            if (pread(fds[c->rank], band + at * rb, c->size, (off_t)c->off) != (ssize_t)c->size)
                st = sys_error(s, errno ? errno : EIO, "reading the part file", names + (size_t)c->rank * PATH_MAX);
            for (uint64_t k = at; k < at + c->nrows; k++)
                if (!have[k]) have[k] = 1, got++;
            if (j != i) c->kind = UINT64_MAX; /* used */
        }
        all[i].kind = UINT64_MAX;
        if (st == H5MR_OK && got != nb)
            st = h5mr__error_set(s->err, H5MR_EINTERNAL, "band %llu of the output has %llu of its %llu rows",
                                 (unsigned long long)b, (unsigned long long)got, (unsigned long long)nb);
        if (st == H5MR_OK) st = emit_band(s, d, b, band, nb, dsets[all[i].ds]);
    }
#undef SEEN
    free(buf), free(band), free(have);
    for (int i = 0; i < s->nds; i++) {
        free(seen[i]);
        if (dsets[i] >= 0 && H5Dclose(dsets[i]) < 0 && st == H5MR_OK) st = hdf5_fail(s, "closing its dataset");
    }
    if (g >= 0 && H5Gclose(g) < 0 && st == H5MR_OK) st = hdf5_fail(s, "closing its group");
    st = close_file(s, f, st);
    for (uint64_t r = 0; r < nfiles; r++)
        if (fds[r] >= 0) close(fds[r]);
    free(fds);
    return st;
}

h5mr_status h5mr__store_sync(h5mr__store *s)
{
    if (s && s->fd >= 0 && fdatasync(s->fd) != 0) return sys_error(s, errno, "flushing", s->tmp);
    return H5MR_OK;
}

/* COLLECTIVE (filtered): rank 0 learns every rank's records and part file: *all (each
 * record's .rank its file, 0..size-1), *names (size names of PATH_MAX), *total. */
static h5mr_status gather_recs(h5mr__run *run, h5mr__store *s, rec **all, char **names, uint64_t *total)
{
    h5mr_status st = H5MR_OK;
    uint64_t *counts = NULL;
    int *rc = NULL, *displ = NULL;
    *all = NULL, *names = NULL, *total = 0;
    if (s->rank == 0 &&
        (!(counts = calloc((size_t)s->size, sizeof *counts)) || !(*names = calloc((size_t)s->size, PATH_MAX))))
        st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
    if ((st = agree(run, st)) == H5MR_OK) {
        H5MR__MPI(run, MPI_Gather(&s->nrecs, 1, MPI_UINT64_T, counts, 1, MPI_UINT64_T, 0, run->comm));
        H5MR__MPI(run, MPI_Gather(s->part, PATH_MAX, MPI_CHAR, *names, PATH_MAX, MPI_CHAR, 0, run->comm));
        if (s->rank == 0) {
            for (int r = 0; r < s->size; r++)
                *total += counts[r];
            rc = malloc((size_t)s->size * sizeof *rc), displ = malloc((size_t)s->size * sizeof *displ);
            *all = malloc((*total ? *total : 1) * sizeof **all);
            if (!rc || !displ || !*all)
                st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
            else if (*total * sizeof **all > INT_MAX)
                st = h5mr__error_set(s->err, H5MR_ELIMIT, "%llu chunks are more than one output takes here",
                                     (unsigned long long)*total);
            for (int r = 0, at = 0; st == H5MR_OK && r < s->size; r++) {
                rc[r] = (int)(counts[r] * sizeof **all);
                displ[r] = at;
                at += rc[r];
            }
        }
        if ((st = agree(run, st)) == H5MR_OK)
            H5MR__MPI(run, MPI_Gatherv(s->recs, (int)(s->nrecs * sizeof *s->recs), MPI_BYTE, *all, rc, displ, MPI_BYTE,
                                       0, run->comm));
        if (st == H5MR_OK && s->rank == 0)
            for (int r = 0, at = 0; r < s->size; r++)
                for (uint64_t k = 0; k < counts[r]; k++)
                    (*all)[at++].rank = (uint32_t)r;
        st = agree(run, st);
    }
    free(rc), free(displ), free(counts);
    if (st != H5MR_OK) {
        free(*all), free(*names);
        *all = NULL, *names = NULL, *total = 0;
    }
    return st;
}

/* Rank 0: the parts of the sessions before ahead of this session's (all, names, total
 * as gather_recs gives them): the files renumbered, *nfiles of them. */
static h5mr_status with_old(h5mr__store *s, rec **all, char **names, uint64_t *total, uint64_t *nfiles)
{
    *nfiles = (uint64_t)s->size;
    if (s->nold == 0) return H5MR_OK;
    rec *a = malloc((s->nold_recs + *total + 1) * sizeof *a);
    char *n = malloc((s->nold + (uint64_t)s->size) * PATH_MAX);
    if (!a || !n) {
        free(a), free(n);
        return h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory");
    }
    memcpy(a, s->old_recs, s->nold_recs * sizeof *a);
    for (uint64_t i = 0; i < *total; i++) {
        a[s->nold_recs + i] = (*all)[i];
        a[s->nold_recs + i].rank += (uint32_t)s->nold;
    }
    memcpy(n, s->old_names, s->nold * PATH_MAX);
    memcpy(n + s->nold * PATH_MAX, *names, (size_t)s->size * PATH_MAX);
    free(*all), free(*names);
    *all = a, *names = n, *total += s->nold_recs, *nfiles += s->nold;
    return H5MR_OK;
}

h5mr_status h5mr__store_checkpoint(h5mr__run *run, h5mr__store *s, void **parts, uint64_t *size)
{
    *parts = NULL, *size = 0;
    if (!h5mr__store_has_parts(s)) return H5MR_OK;
    h5mr_status st = H5MR_OK;
    /* Every row mapped so far in a part: the bands held partly too, as plain rows. */
    st = spill_all(s);
    if (st == H5MR_OK && s->part_fd >= 0 && fdatasync(s->part_fd) != 0) st = sys_error(s, errno, "flushing", s->part);
    if ((st = agree(run, st)) != H5MR_OK) return st;
    rec *all = NULL;
    char *names = NULL;
    uint64_t total = 0, nfiles = 0;
    if ((st = gather_recs(run, s, &all, &names, &total)) != H5MR_OK) return st;
    if (s->rank == 0 && (st = with_old(s, &all, &names, &total, &nfiles)) == H5MR_OK) {
        uint64_t head[3] = {s->gen, nfiles, total}, n = sizeof head + nfiles * PATH_MAX + total * sizeof *all;
        unsigned char *p = malloc(n);
        if (!p) {
            st = h5mr__error_set(s->err, H5MR_ENOMEM, "out of memory for a checkpoint");
        } else {
            memcpy(p, head, sizeof head);
            memcpy(p + sizeof head, names, nfiles * PATH_MAX);
            memcpy(p + sizeof head + nfiles * PATH_MAX, all, total * sizeof *all);
            *parts = p, *size = n;
        }
    }
    free(all), free(names);
    return st;
}

int h5mr__store_has_parts(const h5mr__store *s) { return s && s->ckpt && (s->gzip >= 0 || s->shuffle); }

void h5mr__store_recorded(h5mr__store *s)
{
    if (s) s->recorded = 1;
}

h5mr_status h5mr__store_close(h5mr__run *run, h5mr__store *s, h5mr_status st, const char *group, uint64_t *stored)
{
    if (!s) return st;
    int filtered = s->gzip >= 0 || s->shuffle, any = 0;
    /* What is still partial goes to the part file. */
    for (int k = 0; k < s->nds; k++)
        any |= !s->ds[k].empty;
    if (st == H5MR_OK) st = spill_all(s);
    /* Every rank's writes are on disk before rank 0 renames the file. */
    if (st == H5MR_OK && s->fd >= 0 && s->rank != 0 && fdatasync(s->fd) != 0)
        st = sys_error(s, errno, "flushing", s->tmp);
    st = agree(run, st);
    rec *all = NULL;
    char *names = NULL;
    if (st == H5MR_OK && filtered && any) {
        uint64_t total = 0, nfiles = 0;
        st = gather_recs(run, s, &all, &names, &total);
        if (st == H5MR_OK && s->rank == 0) st = with_old(s, &all, &names, &total, &nfiles);
        if (st == H5MR_OK && s->rank == 0) st = join(s, all, total, nfiles, names, group);
        st = agree(run, st);
    }
    if (s->rank == 0 && st == H5MR_OK && !filtered)
        for (int k = 0; k < s->nds; k++)
            s->stored_bytes += s->ds[k].empty ? 0 : s->ds[k].nbands * s->ds[k].grid * s->ds[k].chunk_bytes;
    if (s->rank == 0) {
        struct stat sb;
        /* Blocks reserved past the end are given back. */
        if (st == H5MR_OK && fstat(s->a.fd, &sb) == 0 && ftruncate(s->a.fd, sb.st_size) != 0)
            st = sys_error(s, errno, "finishing", s->a.target);
        if (s->fd == s->a.fd) s->fd = -1; /* closed by the commit or the abort */
        if (st == H5MR_OK) {
            const char *what = "";
            int e = atomic_commit(&s->a, &what);
            if (e)
                st = h5mr__error_set(s->err, H5MR_EIO, "cannot write the output '%s': %s: %s", s->a.target, what,
                                     strerror(e));
        } else if (s->kept) {
            atomic_keep(&s->a); /* the rows written so far: the checkpoint's */
        } else {
            atomic_abort(&s->a);
        }
    }
    if (stored) *stored = s->stored_bytes;
    free(all), free(names);
    st = agree(run, st);
    /* A job with a checkpoint keeps this session's parts when it does not end and a
     * checkpoint names them; when it ends, they go, the sessions' before too. */
    s->part_keep = s->ckpt && st != H5MR_OK && s->recorded;
    if (s->rank == 0 && st == H5MR_OK && s->ckpt && filtered) /* (and those of sessions killed before a checkpoint) */
        remove_parts(s->a.target);
    release(s);
    return st;
}
