/* chunks.c: the read step for compressed datasets — items travel as the stored chunks,
 * still compressed, and the rank that maps an item decodes it.
 *
 * Rank 0 (scatter) or each rank (parallel) reads the chunks of an item with
 * H5Dread_chunk, without HDF5's filters, into one message:
 *
 *     header   {u32 kind, u32 nchunks, u64 0, u64 first row in the file,
 *               u64 the file's rows}                            32 bytes
 *     entries  nchunks x {u64 size, u32 filter mask, u32 0}  16 bytes each
 *     data     the stored chunks, one after the other
 *
 * The chunks of an item are the row bands of the item (chunk_rows is a multiple of the
 * chunk's rows), each cut into the grid of the trailing dimensions, in row-major order,
 * so a message needs no coordinates.  kind PLAIN instead carries the decoded rows after
 * the header: rank 0 sends that when a chunk of the item was never written (HDF5 knows
 * its fill value) or the stored chunks do not fit the message.
 *
 * Decoding inflates (zlib) and unshuffles a chunk into a scratch buffer, or straight
 * into the item when the chunk covers whole rows of it, then copies the part inside
 * the dataset's extent into place.  Only deflate and shuffle are decoded here: a
 * dataset with any other filter is read through HDF5 (h5mr__raw_filters says no).
 * Inflating uses libdeflate where configure found it (the same zlib streams, checksum
 * checked, about twice zlib's speed: bench/RESULTS.md §5), zlib otherwise. */
#include "config.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#ifdef H5MR_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

enum { KIND_PLAIN = 0, KIND_RAW = 1 };
#define HEADER_BYTES 32
#define ENTRY_BYTES 16

typedef struct entry {
    uint64_t size;
    uint32_t mask;
    uint32_t zero;
} entry;

/* ------------------------------------------------------------- which datasets */

int h5mr__raw_filters(const h5mr__dset_desc *desc, int *filters, int *shuffle_size)
{
    int n = desc->nfilters;
    if (n < 1 || n > H5MR__MAX_FILTERS) return 0;
    /* Stored bytes are used as they are: the file type must be the native one. */
    if (!desc->native_order) return 0;
    int seen_deflate = 0, seen_shuffle = 0;
    for (int i = 0; i < n; i++) {
        int id = desc->filter[i];
        if (id == H5Z_FILTER_DEFLATE && !seen_deflate) {
            seen_deflate = 1;
        } else if (id == H5Z_FILTER_SHUFFLE && !seen_shuffle && !seen_deflate) {
            /* HDF5 stores the element size in the first value. */
            seen_shuffle = 1;
            *shuffle_size = desc->filter_cd0[i] ? (int)desc->filter_cd0[i] : (int)h5mr_dtype_size(desc->dtype);
        } else {
            return 0;
        }
        filters[i] = id;
    }
    return n;
}

/* ------------------------------------------------------------- geometry */

/* Chunks per row band: the grid of the trailing dimensions. */
static uint64_t band_chunks(const h5mr__dset_desc *desc)
{
    uint64_t g = 1;
    for (int i = 1; i < desc->ndims; i++)
        g *= (desc->shape[i] + desc->chunk[i] - 1) / desc->chunk[i];
    return g;
}

static uint64_t chunk_bytes(const h5mr__dset_desc *desc)
{
    uint64_t b = h5mr_dtype_size(desc->dtype);
    for (int i = 0; i < desc->ndims; i++)
        b *= desc->chunk[i];
    return b;
}

/* The chunks of n rows from a chunk boundary. */
static uint64_t item_chunks(const h5mr__dset_desc *desc, uint64_t n)
{
    return (n + desc->chunk[0] - 1) / desc->chunk[0] * band_chunks(desc);
}

/* The coordinates of chunk k of an item whose first row is `first`. */
static void chunk_offset(const h5mr__dset_desc *desc, uint64_t first, uint64_t k, hsize_t *off)
{
    uint64_t g = band_chunks(desc);
    off[0] = first + k / g * desc->chunk[0];
    uint64_t rest = k % g;
    for (int i = desc->ndims - 1; i >= 1; i--) {
        uint64_t across = (desc->shape[i] + desc->chunk[i] - 1) / desc->chunk[i];
        off[i] = rest % across * desc->chunk[i];
        rest /= across;
    }
}

uint64_t h5mr__raw_capacity(const h5mr__dset_desc *desc, const h5mr__plan *plan)
{
    uint64_t item_bytes = plan->chunk_rows * plan->row_elems * plan->elem_size;
    uint64_t nchunks = plan->items > 0 ? item_chunks(desc, plan->chunk_rows) : 0;
    /* Room for the decoded rows (a PLAIN message) or the stored chunks with a little to
     * spare: a chunk that does not compress is stored about as large as it is. */
    uint64_t stored = nchunks * chunk_bytes(desc);
    uint64_t raw = nchunks * ENTRY_BYTES + stored + stored / 64 + 4096;
    uint64_t plain = item_bytes;
    uint64_t cap = HEADER_BYTES + (raw > plain ? raw : plain);
    return cap < H5MR__ITEM_LIMIT_BYTES ? cap : H5MR__ITEM_LIMIT_BYTES;
}

/* ------------------------------------------------------------- reading */

h5mr_status h5mr__raw_read(h5mr__dset *d, const h5mr__plan *plan, uint64_t first, uint64_t n, void *buf, uint64_t cap,
                           uint64_t *len, h5mr_error *err)
{
    const h5mr__dset_desc *desc = &d->desc;
    uint64_t nchunks = item_chunks(desc, n);
    unsigned char *out = buf;
    entry *ent = (entry *)(out + HEADER_BYTES);
    uint64_t at = HEADER_BYTES + nchunks * ENTRY_BYTES;
    int raw = at <= cap;
    hsize_t off[H5MR__MAX_DIMS];
    for (uint64_t k = 0; raw && k < nchunks; k++) {
        hsize_t size = 0;
        chunk_offset(desc, first, k, off);
        if (H5Dget_chunk_storage_size(d->dset, off, &size) < 0 || size == 0 || at + size > cap) {
            /* Never written (its fill value is HDF5's to know) or too large: plain. */
            H5Eclear2(H5E_DEFAULT);
            raw = 0;
            break;
        }
        uint32_t mask = 0;
        if (H5Dread_chunk(d->dset, H5P_DEFAULT, off, &mask, out + at) < 0)
            return h5mr__hdf5_error(err, H5MR_EIO, "reading the stored chunk at row %llu failed",
                                    (unsigned long long)off[0]);
        ent[k] = (entry){size, mask, 0};
        at += size;
    }
    uint64_t head[4] = {(uint64_t)(raw ? KIND_RAW : KIND_PLAIN) | (uint64_t)(raw ? nchunks : 0) << 32, 0, first,
                        desc->shape[0]};
    if (!raw) {
        uint64_t bytes = n * plan->row_elems * plan->elem_size;
        h5mr_status st = h5mr__dset_read_rows(d, first, n, out + HEADER_BYTES, err);
        if (st != H5MR_OK) return st;
        at = HEADER_BYTES + bytes;
    }
    memcpy(out, head, sizeof head);
    *len = at;
    return raw ? h5mr__dset_check_unchanged(d, err) : H5MR_OK;
}

/* ------------------------------------------------------------- decoding */

struct h5mr__decoder {
    const h5mr__dset_desc *desc;
    const h5mr__plan *plan;
    int nfilters, filters[H5MR__MAX_FILTERS], shuffle_size;
    uint64_t chunk_bytes;
    unsigned char *scratch[2];
    unsigned char *item; /* decoded rows of one item */
#ifdef H5MR_HAVE_LIBDEFLATE
    struct libdeflate_decompressor *ld;
#else
    z_stream z;
    int z_ready;
#endif
};

void h5mr__decoder_free(h5mr__decoder *dec)
{
    if (!dec) return;
#ifdef H5MR_HAVE_LIBDEFLATE
    if (dec->ld) libdeflate_free_decompressor(dec->ld);
#else
    if (dec->z_ready) inflateEnd(&dec->z);
#endif
    free(dec->scratch[0]);
    free(dec->scratch[1]);
    free(dec->item);
    free(dec);
}

h5mr_status h5mr__decoder_new(const h5mr__dset_desc *desc, const h5mr__plan *plan, h5mr__decoder **out, h5mr_error *err)
{
    h5mr__decoder *dec = calloc(1, sizeof *dec);
    uint64_t item_bytes = plan->chunk_rows * plan->row_elems * plan->elem_size;
    if (dec) {
        dec->desc = desc;
        dec->plan = plan;
        dec->nfilters = plan->nraw;
        memcpy(dec->filters, plan->raw_filter, sizeof dec->filters);
        dec->shuffle_size = plan->shuffle_size;
        dec->chunk_bytes = chunk_bytes(desc);
        dec->scratch[0] = malloc(dec->chunk_bytes ? dec->chunk_bytes : 1);
        dec->scratch[1] = malloc(dec->chunk_bytes ? dec->chunk_bytes : 1);
        dec->item = malloc(item_bytes ? item_bytes : 1);
    }
#ifdef H5MR_HAVE_LIBDEFLATE
    int inflater = dec && (dec->ld = libdeflate_alloc_decompressor()) != NULL;
#else
    int inflater = dec && (dec->z_ready = inflateInit(&dec->z) == Z_OK);
#endif
    if (!dec || !dec->scratch[0] || !dec->scratch[1] || !dec->item || !inflater) {
        h5mr__decoder_free(dec);
        *out = NULL;
        return h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate the buffers to decode chunks of %llu bytes",
                               (unsigned long long)chunk_bytes(desc));
    }
    *out = dec;
    return H5MR_OK;
}

static h5mr_status inflate_chunk(h5mr__decoder *dec, const unsigned char *in, uint64_t size, unsigned char *out,
                                 h5mr_error *err)
{
#ifdef H5MR_HAVE_LIBDEFLATE
    size_t got = 0;
    enum libdeflate_result r = libdeflate_zlib_decompress(dec->ld, in, size, out, dec->chunk_bytes, &got);
    if (r == LIBDEFLATE_SUCCESS && got == dec->chunk_bytes) return H5MR_OK;
    return h5mr__error_set(err, H5MR_EIO, "does not inflate (libdeflate: %s)",
                           r == LIBDEFLATE_BAD_DATA             ? "invalid or corrupt data"
                           : r == LIBDEFLATE_INSUFFICIENT_SPACE ? "more data than the chunk holds"
                                                                : "less data than the chunk holds");
#else
    z_stream *z = &dec->z;
    inflateReset(z);
    z->next_in = (unsigned char *)in;
    z->next_out = out;
    z->avail_out = (uInt)dec->chunk_bytes;
    uint64_t left = size;
    int rc;
    /* avail_in is 32 bits: feed a large chunk in pieces. */
    do {
        uInt step = left > 0x40000000u ? 0x40000000u : (uInt)left;
        z->avail_in = step;
        left -= step;
        rc = inflate(z, left ? Z_NO_FLUSH : Z_FINISH);
    } while (rc == Z_OK && left > 0);
    if (rc != Z_STREAM_END || z->total_out != dec->chunk_bytes)
        return h5mr__error_set(err, H5MR_EIO, "does not inflate (zlib: %s)",
                               z->msg               ? z->msg
                               : rc == Z_STREAM_END ? "wrong size"
                                                    : "truncated data");
    return H5MR_OK;
#endif
}

/* HDF5's shuffle stores byte j of every element together; leftover bytes at the end
 * (a size not a multiple of the element size) are stored as they are. */
static void unshuffle(const unsigned char *in, unsigned char *out, uint64_t bytes, int size)
{
    uint64_t n = bytes / (uint64_t)size;
    if (size == 8) {
        for (uint64_t i = 0; i < n; i++)
            for (int j = 0; j < 8; j++)
                out[i * 8 + (uint64_t)j] = in[(uint64_t)j * n + i];
    } else if (size == 4) {
        for (uint64_t i = 0; i < n; i++)
            for (int j = 0; j < 4; j++)
                out[i * 4 + (uint64_t)j] = in[(uint64_t)j * n + i];
    } else {
        for (uint64_t i = 0; i < n; i++)
            for (int j = 0; j < size; j++)
                out[i * (uint64_t)size + (uint64_t)j] = in[(uint64_t)j * n + i];
    }
    memcpy(out + n * (uint64_t)size, in + n * (uint64_t)size, bytes - n * (uint64_t)size);
}

/* Copy the part of a decoded chunk at `off` that lies inside the dataset into the
 * item's rows, which start at row `first`. */
static void place(const h5mr__decoder *dec, const unsigned char *chunk, const hsize_t *off, uint64_t first,
                  uint64_t file_rows, unsigned char *item)
{
    const h5mr__dset_desc *desc = dec->desc;
    int nd = desc->ndims;
    uint64_t esize = h5mr_dtype_size(desc->dtype);
    uint64_t ext[H5MR__MAX_DIMS], idx[H5MR__MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        uint64_t room = (i == 0 ? file_rows : desc->shape[i]) - off[i];
        ext[i] = desc->chunk[i] < room ? desc->chunk[i] : room;
    }
    uint64_t run = ext[nd - 1] * esize;
    for (;;) {
        /* Offsets of element idx (last index 0) in the chunk and in the item. */
        uint64_t c = 0, m = 0;
        for (int i = 0; i < nd; i++) {
            c = c * desc->chunk[i] + idx[i];
            m = m * desc->shape[i] + (i == 0 ? off[0] - first : off[i]) + idx[i];
        }
        memcpy(item + m * esize, chunk + c * esize, run);
        int i = nd - 2;
        while (i >= 0 && ++idx[i] == ext[i])
            idx[i--] = 0;
        if (i < 0) break;
    }
}

h5mr_status h5mr__raw_decode(h5mr__decoder *dec, uint64_t item, const void *msg, uint64_t len, const void **data,
                             h5mr_error *err)
{
    const unsigned char *in = msg;
    uint64_t head[4];
    if (len < HEADER_BYTES)
        return h5mr__error_set(err, H5MR_EIO, "a message of %llu bytes is no item", (unsigned long long)len);
    memcpy(head, in, sizeof head);
    if ((head[0] & 0xffffffffu) == KIND_PLAIN) {
        *data = in + HEADER_BYTES;
        return H5MR_OK;
    }
    const h5mr__dset_desc *desc = dec->desc;
    uint64_t row, n, first = head[2], file_rows = head[3];
    h5mr__plan_item(dec->plan, item, &row, &n);
    (void)row; /* the item's rows in the selected array; the file's are in the message */
    uint64_t nchunks = head[0] >> 32, at = HEADER_BYTES + nchunks * ENTRY_BYTES;
    uint64_t row_bytes = dec->plan->row_elems * dec->plan->elem_size;
    /* A chunk covers whole rows of the item when it spans every trailing dimension. */
    int spans = band_chunks(desc) == 1;
    for (int i = 1; i < desc->ndims; i++)
        spans = spans && desc->chunk[i] == desc->shape[i];
    hsize_t off[H5MR__MAX_DIMS];
    for (uint64_t k = 0; k < nchunks; k++) {
        entry e;
        memcpy(&e, in + HEADER_BYTES + k * ENTRY_BYTES, sizeof e);
        if (at + e.size > len) return h5mr__error_set(err, H5MR_EIO, "an item message is truncated");
        chunk_offset(desc, first, k, off);
        /* Straight into the item when the whole chunk lands inside it. */
        int direct = spans && off[0] + desc->chunk[0] <= first + n;
        unsigned char *target = direct ? dec->item + (off[0] - first) * row_bytes : NULL;
        const unsigned char *cur = in + at;
        uint64_t cur_size = e.size;
        int s = 0;
        for (int f = dec->nfilters - 1; f >= 0; f--) {
            if (e.mask & (1u << f)) continue; /* this filter was skipped for this chunk */
            int last = 1;
            for (int g = f - 1; g >= 0; g--)
                if (!(e.mask & (1u << g))) last = 0;
            unsigned char *out = last && target ? target : dec->scratch[s];
            if (dec->filters[f] == H5Z_FILTER_DEFLATE) {
                h5mr_status st = inflate_chunk(dec, cur, cur_size, out, err);
                if (st != H5MR_OK) {
                    char what[sizeof err->message];
                    snprintf(what, sizeof what, "%s", err->message);
                    err->status = H5MR_OK; /* this message replaces inflate's, which it contains */
                    err->message[0] = '\0';
                    return h5mr__error_set(err, st, "the stored chunk of rows %llu..%llu %s",
                                           (unsigned long long)off[0],
                                           (unsigned long long)(off[0] + desc->chunk[0] - 1), what);
                }
            } else {
                if (cur_size != dec->chunk_bytes)
                    return h5mr__error_set(err, H5MR_EIO, "chunk at row %llu: %llu stored bytes, %llu expected",
                                           (unsigned long long)off[0], (unsigned long long)cur_size,
                                           (unsigned long long)dec->chunk_bytes);
                unshuffle(cur, out, dec->chunk_bytes, dec->shuffle_size);
            }
            cur = out;
            cur_size = dec->chunk_bytes;
            s ^= 1;
        }
        if (cur_size != dec->chunk_bytes)
            return h5mr__error_set(err, H5MR_EIO, "chunk at row %llu: %llu stored bytes, %llu expected",
                                   (unsigned long long)off[0], (unsigned long long)cur_size,
                                   (unsigned long long)dec->chunk_bytes);
        if (cur != target) place(dec, cur, off, first, file_rows, dec->item);
        at += e.size;
    }
    *data = dec->item;
    return H5MR_OK;
}
