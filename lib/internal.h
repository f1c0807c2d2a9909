/* internal.h: types shared by the library's modules; never installed. */
#ifndef H5MR_INTERNAL_H
#define H5MR_INTERNAL_H

#include <hdf5.h>
#include <time.h>

#include "h5mr.h"
#include "h5mr_hdf5.h"

#define H5MR__MAX_DIMS 32
#define H5MR__MAX_FILTERS 8

/* ---------------------------------------------------------------- error.c */

h5mr_status h5mr__error_set(h5mr_error *err, h5mr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error already in err (or st's text), with "<context>: " in front: for naming
 * the item or rank a lower layer's failure happened in. */
h5mr_status h5mr__error_wrap(h5mr_error *err, h5mr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like h5mr__error_set, appending ": <what HDF5 said>" from the current HDF5 error stack. */
h5mr_status h5mr__hdf5_error(h5mr_error *err, h5mr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
h5mr_status h5mr__mpi_error(h5mr_error *err, int mpi_rc, const char *what);
/* Every MPI return code of the library is checked here.  MPI_SUCCESS: OK.  Otherwise
 * *first (if still OK) becomes EMPI and err gets "MPI_Xxx failed in FUNC: what MPI
 * said" unless it holds a message already (the first error is the one the user
 * reads).  For tests, H5MR_FAIL_MPI=RANK:N makes the Nth checked call of world rank
 * RANK report a failure (the call itself took place). */
h5mr_status h5mr__mpi_note(h5mr_status *first, h5mr_error *err, int rc, const char *call, const char *func);

/* Silence HDF5's own printing of its error stack (once per process). */
void h5mr__hdf5_quiet(void);

/* COLLECTIVE over comm: every rank passes its local status; all return the status of
 * the lowest failing rank, with its error copied into *err (err must not be NULL). */
h5mr_status h5mr__agree(MPI_Comm comm, h5mr_status st, h5mr_error *err);

/* ---------------------------------------------------------------- plan.c */

/* CF conventions of one file's variable (cf.c): which stored values are missing and
 * how stored values become values.  Missing values are compared as stored values
 * (the attributes read in the variable's own type, then widened). */
#define H5MR__CF_MAX_MISSING 8
typedef struct h5mr__cf {
    int nmissing;                         /* _FillValue (first, if `fill`) and missing_value(s) */
    int fill;                             /* missing[0] is the _FillValue */
    double missing[H5MR__CF_MAX_MISSING]; /* NaN entries are dropped (NaN is missing anyway) */
    int has_min, has_max;                 /* valid_min / valid_max / valid_range */
    double vmin, vmax;
    int has_scale, has_offset; /* scale_factor, add_offset */
    double scale, offset;
    int integer; /* the stored type is an integer one (markers print as integers) */
} h5mr__cf;

static inline int h5mr__cf_any(const h5mr__cf *cf)
{
    return cf->nmissing || cf->has_min || cf->has_max || cf->has_scale || cf->has_offset;
}

/* A selection resolved against the stored shape (select.c): per stored dimension the
 * first index, the step and the number of indices; `keep` is 0 for a dimension given
 * as an integer (dropped, count 1).  Items cut the first kept dimension, `split`. */
typedef struct h5mr__view {
    int ndims; /* of the stored dataset */
    int split;
    int whole; /* no selection: every row and column */
    uint64_t start[H5MR__MAX_DIMS], step[H5MR__MAX_DIMS], count[H5MR__MAX_DIMS];
    uint8_t keep[H5MR__MAX_DIMS];
} h5mr__view;

/* The rows of one file in the selected, concatenated array, and its items.  Rows are
 * along the split dimension; items never span two parts. */
typedef struct h5mr__part {
    uint64_t file;      /* index in the job's list of files */
    uint64_t item0;     /* its first item */
    uint64_t row0;      /* its first row in the selected array */
    uint64_t rows;      /* its rows */
    uint64_t start;     /* the stored index (split dimension) of its first row */
    uint64_t at0;       /* the stored index along dimension 0 when that is an integer index */
    uint64_t file_rows; /* the file's extent of dimension 0 */
    uint64_t off0;      /* the stored index of the file's first row in the concatenation */
    h5mr__cf cf;
    /* Read without HDF5 (a plain pread): the file's h5mr__dset.direct, -1 if not, and its
     * size and modification time when described, checked after each read. */
    int64_t direct, size0, mtime0_s, mtime0_ns;
    /* The dataset behind an external link: the size and time of the file it is in (0). */
    int64_t link_size0, link_mtime0_s, link_mtime0_ns;
    uint64_t sources_id; /* a virtual dataset: its source files' sizes and times, hashed (0) */
} h5mr__part;

/* How the rows of a dataset are cut into work items. */
typedef struct h5mr__plan {
    uint64_t rows;       /* rows of the selected array (all files) along the split dimension */
    uint64_t row_elems;  /* elements per row (product of the trailing selected extents) */
    uint64_t elem_size;  /* bytes per stored element */
    uint64_t chunk_rows; /* rows per item (the last one of a part may have fewer) */
    uint64_t items;      /* the sum over parts of ceil(part rows / chunk_rows) */
    int raw;             /* items travel as stored chunks, decoded where mapped (chunks.c) */
    int nraw;            /* the filters the mapping rank undoes, in pipeline order */
    int raw_filter[H5MR__MAX_FILTERS];
    int shuffle_size;
    /* What is read (select.c, input.c); nparts 0: one part of every row, no selection. */
    h5mr__view view;
    uint64_t nparts;
    const h5mr__part *parts; /* [nparts]: the job's (pointers do not travel) */
    /* CF (cf.c): 0 none; 1 missing values become NaN in place (float data, no scale);
     * 2 every value is converted to f64 (missing as NaN) before the kernel sees it;
     * 3 the stored integers go to a kernel that took them packed (h5mr_ctx_accept_packed),
     *   every missing element set to cf_marker in place if cf_norm (several markers or a
     *   valid range; one fill value needs nothing). */
    int cf_mode;
    int cf_norm;
    int64_t cf_marker;
    h5mr_dtype kdtype; /* the type the kernel sees */
} h5mr__plan;

#define H5MR__ITEM_TARGET_BYTES ((uint64_t)4 << 20)
#define H5MR__ITEM_MIN_BYTES ((uint64_t)256 << 10)
#define H5MR__ITEM_MAX_BYTES ((uint64_t)64 << 20)
/* The largest item MPI can carry in one message of MPI_BYTE. */
#define H5MR__ITEM_LIMIT_BYTES ((uint64_t)2147483647)

/* The largest item allowed: one MPI message (2 GiB - 1) and at most a quarter of the
 * physical memory (a rank holds a few items). */
uint64_t h5mr__item_limit(void);

/* Make a plan.  storage_rows: rows of one storage chunk (0 if contiguous).
 * requested: --chunk-rows (0: automatic).  EUSAGE/ELIMIT with err set. */
h5mr_status h5mr__plan_make(uint64_t rows, uint64_t row_elems, uint64_t elem_size, uint64_t storage_rows,
                            uint64_t requested, h5mr__plan *plan, h5mr_error *err);
/* The last part whose first item (rows 0) or first row (rows 1) is at most v. */
static inline const h5mr__part *h5mr__plan_search(const h5mr__plan *plan, uint64_t v, int rows)
{
    uint64_t lo = 0, hi = plan->nparts;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((rows ? plan->parts[mid].row0 : plan->parts[mid].item0) <= v)
            lo = mid;
        else
            hi = mid;
    }
    return &plan->parts[lo];
}
/* The part an item lies in (NULL when the plan has no parts: one file, every row). */
static inline const h5mr__part *h5mr__plan_part(const h5mr__plan *plan, uint64_t item)
{
    return plan->nparts == 0 ? NULL : h5mr__plan_search(plan, item, 0);
}
/* The rows of an item in the selected array (inline: every step asks, and it decides
 * nothing). */
static inline void h5mr__plan_item(const h5mr__plan *plan, uint64_t item, uint64_t *first_row, uint64_t *nrows)
{
    const h5mr__part *p = h5mr__plan_part(plan, item);
    uint64_t row0 = p ? p->row0 : 0, rows = p ? p->rows : plan->rows, k = p ? item - p->item0 : item;
    uint64_t first = k * plan->chunk_rows;
    uint64_t n = rows - first;
    *first_row = row0 + first;
    *nrows = n < plan->chunk_rows ? n : plan->chunk_rows;
}
static inline uint64_t h5mr__plan_item_bytes(const h5mr__plan *plan, uint64_t item)
{
    uint64_t first, n;
    h5mr__plan_item(plan, item, &first, &n);
    return n * plan->row_elems * plan->elem_size;
}
/* Static schedule: the contiguous block [lo, hi) of worker w of nworkers, of the items
 * [from, to). */
static inline void h5mr__plan_block(uint64_t from, uint64_t to, int w, int nworkers, uint64_t *lo, uint64_t *hi)
{
    *lo = from + (uint64_t)((unsigned __int128)(to - from) * (unsigned)w / (unsigned)nworkers);
    *hi = from + (uint64_t)((unsigned __int128)(to - from) * (unsigned)(w + 1) / (unsigned)nworkers);
}

/* ---------------------------------------------------------------- select.c */

typedef struct h5mr__sel_entry {
    int64_t start, stop, step;
    int has_start, has_stop, index; /* index: an integer, not a slice */
} h5mr__sel_entry;
typedef struct h5mr__sel {
    int given, n;
    h5mr__sel_entry e[H5MR__MAX_DIMS];
} h5mr__sel;

/* "/tas[0:744]" → "/tas" and "[0:744]": the selection is from the last '[' (NULL when
 * there is none).  ENOMEM. */
h5mr_status h5mr__sel_split(const char *arg, char **name, char **sel);
/* Parse a selection ("[...]", NULL: none).  EUSAGE with err set. */
h5mr_status h5mr__sel_parse(const char *text, h5mr__sel *s, h5mr_error *err);
/* Resolve it against a shape (numpy semantics).  EUSAGE: an index out of range, too
 * many entries, no dimension left.  text: the selection, for messages. */
h5mr_status h5mr__sel_resolve(const h5mr__sel *s, int ndims, const uint64_t *shape, h5mr__view *v, h5mr_error *err,
                              const char *text);
/* The selected array's shape (kept dimensions); returns its rank. */
int h5mr__view_shape(const h5mr__view *v, uint64_t *shape);

/* ---------------------------------------------------------------- io.c */

typedef struct h5mr__dset_desc {
    h5mr_dtype dtype;
    int ndims;
    uint64_t shape[H5MR__MAX_DIMS];
    int chunked;
    uint64_t chunk[H5MR__MAX_DIMS];
    /* The filter pipeline as stored (io.c records it; plan.c decides what to do). */
    int nfilters;
    int filter[H5MR__MAX_FILTERS];          /* H5Z filter ids, in pipeline order */
    unsigned filter_cd0[H5MR__MAX_FILTERS]; /* each filter's first client value (shuffle: element size) */
    int native_order;                       /* the stored type is the native one (bytes usable as they are) */
    int layout;                             /* H5D_layout_t: compact, contiguous, chunked, virtual */
} h5mr__dset_desc;

typedef struct h5mr__dset {
    hid_t file;
    hid_t dset;
    hid_t space;
    hid_t memtype;
    h5mr__dset_desc desc;
    const char *path; /* the name it was opened by (the caller's string) */
    const char *name; /* the dataset's, as opened (the caller's string) */
    int fd;           /* HDF5's descriptor of the file, -1 if unknown */
    int data_fd;      /* the descriptor of the file the dataset is in (another behind an external link) */
    int own_file;     /* it is fd's file */
    int64_t size0;    /* size and modification time when opened */
    int64_t mtime0_s, mtime0_ns;
    int64_t data_size0, data_mtime0_s, data_mtime0_ns; /* the same of data_fd's file (not own_file; else 0) */
    uint64_t sources_id; /* a virtual dataset: its source files' sizes and times when opened, hashed */
    int64_t direct;      /* where the rows are, in native order, one after the other (contiguous
                            data, or one unfiltered chunk holding them all): a byte offset, -1 if not */
    int whole_chunks;    /* h5mr__dset_whole_chunks was called */
    void *cover_buf;     /* a slab with steps: its covering block (io.c read_covering) */
    uint64_t cover_cap;
    /* Whole rows read in place (h5mr__dset_rows_in_place): 1 if they lie in the file as
     * the kernel takes them, 0 if not; where contiguous data starts, or the user block
     * a chunk's address counts from, and the chunk last looked up. */
    int in_place;
    uint64_t in_base;
    uint64_t at_chunk, at_chunk_addr; /* at_chunk_addr 0: none yet */
} h5mr__dset;

/* Rows of a dataset seen where they lie in the file: a private mapping of the pages that
 * hold them (h5mr__dset_rows_in_place). */
typedef struct h5mr__in_place {
    void *map;
    size_t len;
    int way;        /* h5mr__read_rows_to_map: the rows were read (0) or are in place (1), */
    double t0;      /* when they were asked for, */
    uint64_t bytes; /* and their bytes */
} h5mr__in_place;

/* Open FILE read-only and DATASET in it, check it is a dataset h5mr can read.
 * EINPUT with err naming the file or dataset.  On failure *d holds no handles. */
h5mr_status h5mr__dset_open(const char *file, const char *dataset, h5mr__dset *d, h5mr_error *err);
/* Read rows [first, first + n) into buf (n * row_elems elements of the native type). */
h5mr_status h5mr__dset_read_rows(h5mr__dset *d, uint64_t first, uint64_t n, void *buf, h5mr_error *err);
/* Read a hyperslab (stride NULL: 1) into buf, laid out C order in its own shape (with
 * steps, through its covering block where that is not too large). */
h5mr_status h5mr__dset_read_slab(h5mr__dset *d, const hsize_t *start, const hsize_t *stride, const hsize_t *count,
                                 void *buf, h5mr_error *err);

/* The dataset is read in whole rows from now on: where its chunks are unfiltered and
 * span every dimension but the first, each chunk is then one block of the caller's
 * buffer, which HDF5 reads into directly once its chunk cache is off (with the cache, a
 * chunk smaller than it is read into the cache and copied).  Best effort: unchanged if
 * that cannot be done. */
void h5mr__dset_whole_chunks(h5mr__dset *d);
/* Rows [first, first + n) of the dataset in place, without the copy out of the page
 * cache: where they lie in the file in native order, one after the other (contiguous
 * data, or unfiltered chunks spanning every dimension but the first, stored in order),
 * the pages that hold them are mapped privately and read in (a write into them copies
 * the page; the file is never written).  The first of them, or NULL where that cannot
 * be done (another layout, byte order or file, a chunk not stored or out of order, a
 * file now shorter): read them.  Release *m once the rows are used. */
const void *h5mr__dset_rows_in_place(h5mr__dset *d, uint64_t first, uint64_t n, h5mr__in_place *m);
/* Bytes [at, at + len) of the file open on fd, of size0 bytes when opened, the same way
 * (NULL: past size0, or the map or read-in failed). */
const void *h5mr__map_bytes(int fd, uint64_t at, uint64_t len, int64_t size0, h5mr__in_place *m);
void h5mr__in_place_release(h5mr__in_place *m);
void h5mr__dset_close(h5mr__dset *d);
/* After a read: is the file still the one opened (size and modification time)?  A
 * file truncated or rewritten under a running job reads as zeros or as another
 * file's data: EIO, naming it, instead of a wrong result. */
h5mr_status h5mr__dset_check_unchanged(const h5mr__dset *d, h5mr_error *err);
/* Something that identifies the file's content where the dataset lies: its size and
 * modification time, its first 4 KiB and 4 KiB at the dataset's first stored bytes
 * (FNV-1a).  Ranks that compute the same value read the same file. */
uint64_t h5mr__dset_fingerprint(const h5mr__dset *d);
/* The h5mr type of an HDF5 datatype; EINPUT (err says why) if unsupported. */
h5mr_status h5mr__dtype_from_hdf5(hid_t type, h5mr_dtype *out, char *why, size_t whylen);

/* ---------------------------------------------------------------- cf.c */

/* The CF attributes of an open dataset. */
void h5mr__cf_read(const h5mr__dset *d, h5mr__cf *cf);
/* What the map step does for these files' CF (n records of `stride` bytes starting
 * with an h5mr__cf) and stored type: 0 nothing, 1 mask in place, 2 convert to f64;
 * *kdtype the type the kernel sees. */
int h5mr__cf_mode(const h5mr__cf *cfs, size_t stride, size_t n, h5mr_dtype stored, h5mr_dtype *kdtype);
/* Is a stored value (widened) missing: a marker, or outside the valid range? */
int h5mr__cf_is_missing(const h5mr__cf *cf, double v);
/* Missing values of float data become NaN, in place. */
void h5mr__cf_mask(const h5mr__cf *cf, h5mr_dtype t, void *data, uint64_t n);
/* Whether the parts' CF rules can go to a kernel as packed integers (see h5mr_packing):
 * 1 with *pk and *norm (missing elements must be set to pk->missing in place) set. */
int h5mr__cf_packing(const h5mr__cf *cfs, size_t stride, size_t n, h5mr_dtype stored, h5mr_packing *pk, int *norm);
/* Every missing stored value of data set to `marker` (cf_mode 3 with cf_norm). */
void h5mr__cf_normalize(const h5mr__cf *cf, h5mr_dtype t, void *data, uint64_t n, int64_t marker);
/* n stored values of type t as f64 values (missing: NaN). */
void h5mr__cf_to_f64(const h5mr__cf *cf, h5mr_dtype t, const void *data, double *out, uint64_t n);
/* The JSON object naming what applies ({"fill": [...], "scale": ..}), or null. */
void h5mr__cf_json(FILE *f, const h5mr__cf *cf);

/* ---------------------------------------------------------------- input.c */

/* The input as given: file names, patterns and --files-from lists, in order; then,
 * after h5mr__inputs_resolve, the names themselves (every rank the same). */
typedef struct h5mr__input_arg {
    char *name;
    int list; /* a --files-from LIST */
} h5mr__input_arg;
typedef struct h5mr__inputs {
    h5mr__input_arg *args;
    size_t nargs;
    char *given;     /* DATASET as given */
    char *dataset;   /* the dataset's path, without the selection */
    char *selection; /* "[...]" as given, or NULL */
    char *names_buf;
    char **names;
    size_t nnames;
} h5mr__inputs;

/* What one file holds (describing it), as it travels to rank 0. */
typedef struct h5mr__fdesc {
    int32_t status; /* h5mr_status of describing it */
    int32_t pad;
    uint64_t fingerprint; /* file 0 only */
    h5mr__dset_desc desc;
    h5mr__cf cf;
    int64_t direct, size0, mtime0_s, mtime0_ns; /* as in h5mr__part */
    int64_t link_size0, link_mtime0_s, link_mtime0_ns;
    uint64_t sources_id;
} h5mr__fdesc;

#define H5MR__OPEN_FILES 4
/* The files a rank has open: at most H5MR__OPEN_FILES, the least recently used closed
 * first (a rank's items come in file order, so it opens each file once). */
typedef struct h5mr__files {
    const h5mr__inputs *in;
    h5mr__dset open[H5MR__OPEN_FILES];
    uint64_t which[H5MR__OPEN_FILES], used[H5MR__OPEN_FILES], tick;
    /* Files read without HDF5 (h5mr__part.direct): plain descriptors, as few. */
    int fd[H5MR__OPEN_FILES];
    uint64_t fd_which[H5MR__OPEN_FILES], fd_used[H5MR__OPEN_FILES];
} h5mr__files;

void h5mr__files_init(h5mr__files *fs, const h5mr__inputs *in);
/* File i, open (opened now if it is not).  EINPUT as h5mr__dset_open. */
h5mr_status h5mr__files_get(h5mr__files *fs, uint64_t i, h5mr__dset **d, h5mr_error *err);
void h5mr__files_close(h5mr__files *fs);
/* Rows [first, first + n) of part p (p->direct >= 0) read with pread, as stored: the
 * file's size and modification time checked against the description's after the read. */
h5mr_status h5mr__files_read_direct(h5mr__files *fs, const h5mr__part *p, uint64_t row_bytes, uint64_t first,
                                    uint64_t n, void *buf, h5mr_error *err);
/* The same rows in place (h5mr__map_bytes), checked the same way; NULL with *st OK
 * where they cannot be (then read them), or with *st the error. */
const void *h5mr__files_rows_in_place(h5mr__files *fs, const h5mr__part *p, uint64_t row_bytes, uint64_t first,
                                      uint64_t n, h5mr__in_place *m, h5mr_status *st, h5mr_error *err);
/* Serially: the names of in (patterns expanded, lists read), and file i's description. */
h5mr_status h5mr__inputs_expand(h5mr__inputs *in, h5mr_error *err);
h5mr_status h5mr__describe_file(h5mr__files *fs, uint64_t i, h5mr__fdesc *out, h5mr_error *err);

/* ---------------------------------------------------------------- companion.c */

/* A companion dataset (--mask, --weights, --by, --with): read alongside the input,
 * element by element, in whichever of these layouts of a block of rows it takes (see
 * h5mr_rows): FULL a value per element (row_stride row_elems), ROW one row's worth
 * for every row (row_stride 0), SCALAR one value per row (elem_stride 0), ONE one
 * value for the whole block. */
#define H5MR__MAX_COMP 4
enum { H5MR__LAY_FULL, H5MR__LAY_ROW, H5MR__LAY_SCALAR, H5MR__LAY_ONE };
typedef struct h5mr__comp {
    int32_t role;     /* h5mr_role */
    int32_t own_file; /* FILE: given: one file; else each input file's own copy */
    char file[1024];  /* FILE as given, or "" */
    char dataset[512];
    /* planned on rank 0, shared: */
    int32_t a, b;   /* the input's stored dimensions it stands for, [a, b) */
    int32_t stored; /* h5mr_dtype as stored (of the first file planned) */
    int32_t dtype;  /* what kernels see: u8 (mask), i64 (by), f64 (weights, with) */
    int32_t layout; /* H5MR__LAY_* */
    int32_t pad;
    uint64_t repeat;                /* FULL from a leading part short of the row: a value covers this many elements */
    uint64_t tile;                  /* ROW from a trailing part shorter than the row: its elements, tiled */
    uint64_t shape[H5MR__MAX_DIMS]; /* as planned (dimension 0: the first file's, or the one file's) */
    int32_t ndims, raw_cf;
    h5mr__cf cf; /* the one file's (own_file) */
} h5mr__comp;

/* The label a missing --by value becomes (the element is then skipped). */
#define H5MR__NO_LABEL INT64_MIN

/* ---------------------------------------------------------------- chunks.c */

/* How many of the dataset's filters (all of them) chunks.c can decode, written to
 * filters[]; 0 if it cannot decode them all or the stored bytes are not native. */
int h5mr__raw_filters(const h5mr__dset_desc *desc, int *filters, int *shuffle_size);
/* Bytes a message of one item may take in raw mode (header, stored chunks or rows). */
uint64_t h5mr__raw_capacity(const h5mr__dset_desc *desc, const h5mr__plan *plan);
/* Read rows [first, first + n) of d's file (an item) as stored chunks (or, failing
 * that, decoded rows) into buf, at most cap bytes; *len gets the message's size. */
h5mr_status h5mr__raw_read(h5mr__dset *d, const h5mr__plan *plan, uint64_t first, uint64_t n, void *buf, uint64_t cap,
                           uint64_t *len, h5mr_error *err);

typedef struct h5mr__decoder h5mr__decoder;
h5mr_status h5mr__decoder_new(const h5mr__dset_desc *desc, const h5mr__plan *plan, h5mr__decoder **out,
                              h5mr_error *err);
void h5mr__decoder_free(h5mr__decoder *dec);
/* The item's rows from a message of h5mr__raw_read: *data points into the message or
 * into the decoder's buffer, valid until the next call. */
h5mr_status h5mr__raw_decode(h5mr__decoder *dec, uint64_t item, const void *msg, uint64_t len, const void **data,
                             h5mr_error *err);

/* ---------------------------------------------------------------- kernel context */

typedef struct h5mr__kv {
    char *key;
    char *value;
} h5mr__kv;

struct h5mr_ctx {
    const h5mr_kernel *kernel;
    const h5mr__kv *params;
    size_t nparams;
    h5mr_dtype dtype;
    int ndims;
    const uint64_t *shape;
    size_t state_size;
    int passes, pass;
    int joined_items;  /* h5mr_ctx_allow_joined_items */
    int integral;      /* h5mr_ctx_values_integral */
    int offer_packed;  /* h5mr_ctx_packing: the job can hand over stored integers */
    int packed;        /* h5mr_ctx_accept_packed was called */
    h5mr_dtype stored; /* the stored type (offer_packed) */
    h5mr_packing packing;
    unsigned inputs;   /* bit 1 << role: the job has a companion of that role */
    unsigned accepted; /* bit 1 << role: the kernel uses it (h5mr_ctx_accept_input) */
    int noutputs;      /* h5mr_ctx_add_output: a map kernel's outputs */
    h5mr_dtype out_dtype[H5MR_MAX_OUTPUTS];
    char out_name[H5MR_MAX_OUTPUTS][64]; /* "" : the job names it */
    int out_ndims[H5MR_MAX_OUTPUTS];
    uint64_t out_shape[H5MR_MAX_OUTPUTS][H5MR__MAX_DIMS];
    uint64_t out_row_elems[H5MR_MAX_OUTPUTS];
    int stream_rows; /* the job writes a result that keeps dimension 0 as it goes (group.c) */
    void *config;
    void (*config_free)(void *);
    h5mr_error *err;
};

/* Validate the given parameter keys against the kernel's declarations, then run its
 * setup().  Local (every rank computes the same). */
h5mr_status h5mr__ctx_setup(h5mr_ctx *ctx);
void h5mr__ctx_release(h5mr_ctx *ctx);

/* A state and the calls on it, flat or variable alike. */
void *h5mr__state_new(h5mr_ctx *ctx);
void h5mr__state_free(h5mr_ctx *ctx, void *state);
h5mr_status h5mr__state_pack(h5mr_ctx *ctx, const void *state, void **bytes, size_t *n, int *owned);
h5mr_status h5mr__state_unpack(h5mr_ctx *ctx, void *state, const void *bytes, size_t n);

/* An axis set a kernel (which reduces everything, or dimension 0 with axis=0) is run
 * over by the library (group.c), cutting each row of the input into `sub` sub-rows:
 *  PIXELS       (0 and a leading run of the others: axis=0,1 of (T, Y, X)): the kernel
 *               with axis=0 over the sub-rows; the result is the kernel's;
 *  ROWS         (a trailing run without 0: axis=2, axis=1,2): the kernel over each
 *               sub-row alone; results stacked, of shape lead;
 *  ROWS_PIXELS  (a leading run without 0: axis=1 of (T, Y, X)): the kernel with axis=0
 *               over each row's sub-rows; results stacked per row;
 *  CELLS        (0 and a trailing run: axis=0,2): sub-row c of every row into result
 *               c; results stacked, of shape lead. */
enum { H5MR__AXES_BY, H5MR__AXES_PIXELS, H5MR__AXES_ROWS, H5MR__AXES_ROWS_PIXELS, H5MR__AXES_CELLS };
typedef struct h5mr__axes {
    int mode;
    uint64_t sub;
    int lead_ndims;
    uint64_t lead[H5MR__MAX_DIMS];
    int inner_ndims; /* the shape the kernel sees */
    uint64_t inner_shape[H5MR__MAX_DIMS];
} h5mr__axes;

/* group.c: --by, or an axis set.  Make ctx run its kernel once per label (axes NULL)
 * or as *axes says: *wrapper (the caller's, kept for the job) becomes ctx's kernel,
 * the original runs inside it. */
h5mr_status h5mr__group_wrap(h5mr_ctx *ctx, h5mr_kernel *wrapper, const h5mr__axes *axes);

/* ---------------------------------------------------------------- apply.c */

/* The passes of a kernel: for each pass a fresh state, fold() folding every item of
 * the pass into it (with whatever combining that takes), then between passes
 * between() (NULL: nothing; a job gives every rank rank 0's state) and end_pass.
 * agree() (NULL: serial) turns each local status into the one every rank returns.  On
 * return *state is the last pass's state (free it), for finish. */
typedef struct h5mr__passes_ops {
    h5mr_status (*fold)(void *arg, void *state);
    h5mr_status (*between)(void *arg, void *state);
    h5mr_status (*agree)(void *arg, h5mr_status st);
    void *arg;
} h5mr__passes_ops;
h5mr_status h5mr__passes(h5mr_ctx *ctx, const h5mr__passes_ops *ops, void **state);

/* Apply a set-up kernel (h5mr__ctx_setup done) to the array data of ctx's shape and
 * type, serially: blocks of rows_per_block rows (0: one block) folded round-robin into
 * nstates states, each packed and unpacked, combined in order (reverse: last first).
 * *out: the result (h5mr__result_free), NULL on failure. */
typedef struct h5mr__apply_opts {
    uint64_t rows_per_block;
    int nstates;
    int reverse;
} h5mr__apply_opts;
h5mr_status h5mr__apply(h5mr_ctx *ctx, const void *data, const h5mr__apply_opts *o, h5mr_result **out);

/* ---------------------------------------------------------------- kernels/builtins.c */

/* The built-in kernels, NULL-terminated (kernels/builtins.c). */
extern const h5mr_kernel *const h5mr__builtins[];

/* ---------------------------------------------------------------- result.c */

h5mr_result *h5mr__result_new(void);
void h5mr__result_free(h5mr_result *r);

/* ---------------------------------------------------------------- output.c */

/* Rank 0, before a run: may --output be written there (the rules of h5mr_job_set_output;
 * object: FILE:/OBJECT's, or NULL; inputs: the files read)?  EUSAGE if not; *resolved
 * gets the file to replace (a link's target), *exists whether it exists, *obj_exists
 * whether OBJECT does in it. */
h5mr_status h5mr__output_check(const char *path, const char *object, const char *const *inputs, size_t ninputs,
                               int force, char *resolved, size_t rlen, int *exists, int *obj_exists, h5mr_error *err);
/* Rank 0, after a run: write the result atomically (params: JSON text): a file of
 * its own with group /result (object NULL), or group `object` in FILE (into_existing:
 * a copy of the existing FILE, the group replacing any object of that name).  EIO
 * with err set. */
h5mr_status h5mr__output_write(const char *path, const char *object, int into_existing, const h5mr_result *r,
                               const h5mr_job_info *in, const char *params, h5mr_error *err);

/* ---------------------------------------------------------------- store.c */

/* The output datasets of a map job (store.c): one, or (a result that keeps dimension
 * 0, streamed) one per field in a group.  Their rows are the input's rows. */
typedef struct h5mr__store h5mr__store;
struct h5mr__run;
#define H5MR__STORE_MAX 16
typedef struct h5mr__store_ds {
    const char *object; /* its path in the file, or name in the group */
    h5mr_dtype ktype;   /* the kernel's output type */
    h5mr_dtype dtype;   /* the stored type */
    int ndims;
    const uint64_t *shape, *chunk;
} h5mr__store_ds;
typedef struct h5mr__store_req {
    const char *file;  /* the output file (a link resolved) */
    const char *group; /* the group holding the datasets (with the attributes), or NULL */
    int into_existing; /* FILE exists: the datasets are added to a copy of it */
    int replace;       /* the object (group or dataset) exists in FILE: it goes first (--force was checked) */
    int mark_root;     /* a file of h5mr's own: its root says so (h5mr_version) */
    int nds;
    h5mr__store_ds ds[H5MR__STORE_MAX];
    int gzip, shuffle;         /* gzip -1: none */
    const h5mr_job_info *info; /* for the attributes */
    const char *params;
    /* A job with a checkpoint: the new file has a fixed name beside FILE
     * (.NAME.partial-h5mr), kept when the job stops or fails; resume: the one there is
     * taken as it is (its rows before the checkpoint's item are written). */
    int kept, resume;
    /* Compressed, resumed: the checkpoint's record of the parts written before (rank 0;
     * NULL: none, and parts of an earlier job of FILE left behind are removed). */
    const void *parts;
    uint64_t parts_size;
} h5mr__store_req;
/* Bytes of one chunk of that dataset (a chunk must stay under HDF5's 4 GiB). */
uint64_t h5mr__store_chunk_bytes(const h5mr__store_ds *d);
/* COLLECTIVE: rank 0 creates the new file (a temporary) with the datasets; every rank
 * gets ready to write its rows.  EIO, ENOMEM with the run's error set. */
h5mr_status h5mr__store_open(struct h5mr__run *run, const h5mr__store_req *req, h5mr__store **out);
/* Rows [first, first + n) of output dataset i (values of its kernel type). */
h5mr_status h5mr__store_rows(h5mr__store *s, int i, uint64_t first, uint64_t n, const void *data);
/* COLLECTIVE, st the status every rank has: finish the file and rename it into place
 * (st OK), or remove it; frees s.  group: req's.  *stored: the stored chunks' bytes
 * (rank 0). */
h5mr_status h5mr__store_close(struct h5mr__run *run, h5mr__store *s, h5mr_status st, const char *group,
                              uint64_t *stored);
void h5mr__store_temporaries_remove(void);
/* stop.c: the request of h5mr_request_stop answered (the job stopped). */
void h5mr__stop_clear(void);
/* Every rank: the rows it wrote are on disk (before a checkpoint counts them). */
h5mr_status h5mr__store_sync(h5mr__store *s);
/* COLLECTIVE, a job with a checkpoint: every row mapped so far on disk in the parts
 * (compressed), and rank 0 gets the record of them a resumed job needs (*parts, malloc'd,
 * *size bytes; NULL when the output is written in place).  EIO, ENOMEM. */
h5mr_status h5mr__store_checkpoint(struct h5mr__run *run, h5mr__store *s, void **parts, uint64_t *size);
/* Whether the output goes to part files (compressed, with a checkpoint): every
 * checkpoint then needs h5mr__store_checkpoint on every rank.  0 for NULL. */
int h5mr__store_has_parts(const h5mr__store *s);
/* Every rank, after a checkpoint with that record was written: this session's parts are
 * named by it, and are kept if the job does not end (else a failed job removes them). */
void h5mr__store_recorded(h5mr__store *s);

/* output.c: the attributes h5mr writes on a result group or a map's dataset (in NULL:
 * only h5mr_version, marking a file of h5mr's own). */
h5mr_status h5mr__output_attrs(hid_t obj, const h5mr_job_info *in, const char *params, int elapsed, h5mr_error *err);

/* ---------------------------------------------------------------- checkpoint.c */

/* What a checkpoint holds (see checkpoint.c). */
typedef struct h5mr__ckpt {
    char *fingerprint; /* the job, as text */
    int pass;          /* the pass in progress */
    uint64_t next;     /* items [0, next) of it are folded */
    int nstates;       /* pass + 1: the final states of the passes before, then this pass's */
    void **states;
    uint64_t *sizes;
    void *parts; /* a compressed output's parts so far (store.c's record), or NULL */
    uint64_t parts_size;
} h5mr__ckpt;
/* Write c to path atomically.  EIO, ENOMEM. */
h5mr_status h5mr__ckpt_write(const char *path, const h5mr__ckpt *c, h5mr_error *err);
/* Read path (absent: *found 0, OK); EUSAGE if it is not a checkpoint or is another
 * job's (its fingerprint differs: the message names the first line that does). */
h5mr_status h5mr__ckpt_read(const char *path, const char *fingerprint, h5mr__ckpt *c, int *found, h5mr_error *err);
void h5mr__ckpt_clear(h5mr__ckpt *c);
void h5mr__ckpt_temporaries_remove(void);
/* Each writer's own temporaries (atomic.h keeps a list per file that includes it);
 * temporaries.c's h5mr_temporaries_remove removes them all. */
void h5mr__output_temporaries_remove(void);

/* ---------------------------------------------------------------- the run */

/* Every MPI tag the library uses. */
enum h5mr__tag {
    H5MR__TAG_REQUEST = 1, /* worker → 0: one int, 0 = ready for more, 1 = failed */
    H5MR__TAG_STOP = 2,    /* 0 → worker: no more items */
    H5MR__TAG_RSIZE = 3,   /* reduction: packed state size */
    H5MR__TAG_RDATA = 4,   /* reduction: packed state bytes */
    H5MR__TAG_NUMBER = 5,  /* 0 → worker: an item number (parallel, dynamic, several nodes) */
    H5MR__TAG_RACK = 6,    /* reduction: the parent has room for the state (int 1) or not (0) */
    H5MR__TAG_ITEM = 16    /* 0 → worker: item i carries tag H5MR__TAG_ITEM + i */
};

static inline double h5mr__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* progress.c: rank 0's progress reports (a callback at most every `every` s). */
typedef struct h5mr__progress {
    h5mr_progress_fn fn;
    void *arg;
    double every, next, t0;
    uint64_t items, bytes; /* of one pass */
    const int *pass;       /* the kernel's current pass (ctx) */
    int passes;
} h5mr__progress;

/* Between items: `done` items of this pass are handed out or mapped.  Cheap unless the
 * interval has passed.  p may be NULL (not rank 0, or no callback). */
void h5mr__progress_tick(h5mr__progress *p, uint64_t done);
/* After a successful run. */
void h5mr__progress_final(h5mr__progress *p);

/* What the steps of one pass share: the narrow view of a job that the read, map,
 * scatter, parallel and reduce steps get (they never see the job itself). */
typedef struct h5mr__run {
    MPI_Comm comm;
    int rank, size;
    int one_node; /* every rank on one node (shared memory) */
    h5mr_schedule schedule;
    const char *file, *dataset;  /* for messages */
    const h5mr__dset_desc *desc; /* the first file's, with the concatenated extent of dimension 0 */
    h5mr__dset_desc first_desc;  /* the first file's as it is */
    const h5mr__plan *plan;
    h5mr__files *files;        /* the input's files, opened where this rank reads */
    void *cf_buf;              /* the map step's f64 values (plan->cf_mode 2) */
    uint64_t cf_cap;           /* its elements */
    void *comp_buf;            /* companions of the rows a rank reads itself */
    uint64_t comp_cap;         /* its bytes */
    h5mr_ctx *ctx;             /* the kernel, its parameters and the run's error (ctx->err) */
    h5mr_rank_stats *mine;     /* this rank's figures */
    h5mr_status comm_st;       /* the first failed MPI call (H5MR__MPI) */
    h5mr__progress *progress;  /* rank 0's, or NULL */
    int ncomp;                 /* companion datasets */
    const h5mr__comp *comp;    /* [ncomp] */
    struct h5mr__comp_io *cio; /* their open files and buffers on this rank (companion.c) */
    uint64_t lo, hi;           /* the items of this pass the protocols hand out: [lo, hi) */
    uint64_t stop_at;          /* hi, or where a protocol stopped at a stop request: [lo,
                                * stop_at) done where the schedule makes that a prefix,
                                * else lo (the items done are not a prefix) */
    h5mr__store *store;        /* a map job's output, in the kernel's last pass; else NULL */
    void *out_buf;             /* the kernel's output rows of a block */
    uint64_t out_cap;          /* its bytes */
    struct {                   /* read.c, rows read or in place: which way is faster */
        int pass;              /* of the kernel, + 1 (0: not started) */
        int tries, way;        /* slices timed; the way kept, -1 while timing both */
        double s[2];           /* seconds and bytes of each way's slices timed */
        uint64_t bytes[2];
    } ways;
} h5mr__run;

/* companion.c, reading the companions of a block of rows: */
/* Rank 0, planning: open each companion (its FILE, or the first input file), check its
 * type and that its shape is the input's, a trailing or a leading part of it (EINPUT
 * naming both shapes), and fix its layout in a block.  desc: the input concatenated
 * (before the selection); first: the first file's own; axis0: the kernel reduces over
 * dimension 0 only (--by must then be a leading (T,) dataset). */
h5mr_status h5mr__comp_plan(h5mr__comp *c, int n, const h5mr__dset_desc *desc, const h5mr__dset_desc *first,
                            const char *first_file, const char *dataset, const h5mr__view *v, int axis0,
                            h5mr_error *err);
/* Bytes the companions of a block of n rows take (each a multiple of 8). */
uint64_t h5mr__comp_bytes(const h5mr__run *run, uint64_t n);
/* The companions of rows [first, first + n) of the selected array, converted (CF
 * applied) and laid out, into out (h5mr__comp_bytes(n)).  The rows may span files
 * unless a companion is a per-file trailing one (h5mr__comp_joinable says). */
h5mr_status h5mr__comp_read(h5mr__run *run, uint64_t first, uint64_t n, void *out);
int h5mr__comp_joinable(const h5mr__run *run);
/* The companions of row r onwards of a block of n rows held at `block`. */
void h5mr__comp_rows(const h5mr__run *run, const void *block, uint64_t n, uint64_t r, h5mr_rows *rows);
/* Elements of x (n rows of float type t) whose companion value is 0 (mask) or NaN
 * (weights, with, mask) become NaN (an element with a missing label, the --by
 * wrapper skips). */
void h5mr__comp_apply(const h5mr__run *run, const h5mr_rows *rows, h5mr_dtype t, void *x, uint64_t n);
void h5mr__comp_release(h5mr__run *run);

/* A call whose failure ends the job once the protocol has run to its end on every
 * rank (so no rank is left waiting for a message); the run's status is then EMPI. */
#define H5MR__MPI(run, call) h5mr__mpi_note(&(run)->comm_st, (run)->ctx->err, (call), #call, __func__)

/* A lower layer's failure, named with the item it happened in (and its file). */
static inline h5mr_status h5mr__name_item(const h5mr__run *run, uint64_t item, h5mr_status st)
{
    const h5mr__part *p = h5mr__plan_part(run->plan, item);
    const char *file = p ? run->files->in->names[p->file] : run->file;
    return h5mr__error_wrap(run->ctx->err, st, "'%s' in '%s', item %llu", run->dataset, file, (unsigned long long)item);
}

/* input.c, the collective steps of reading the input's description: */
/* Rank 0 expands the patterns and reads the lists; every rank gets the names. */
h5mr_status h5mr__inputs_resolve(h5mr__run *run, h5mr__inputs *in);
/* Every rank describes a block of the files; rank 0 gets every file's description in
 * *all (free it; NULL elsewhere), trying again itself any file another rank could not
 * open.  *shared: every rank could open every file of its block. */
h5mr_status h5mr__describe(h5mr__run *run, h5mr__files *fs, h5mr__fdesc **all, int *shared);

/* read.c: the read step. */
/* Rows [first, first + n) of item into buf, timed; a failure names the item. */
h5mr_status h5mr__read_rows(h5mr__run *run, uint64_t item, uint64_t first, uint64_t n, void *buf);
/* Rows [first, first + n) of items [lo, hi) (consecutive rows: a slice of one item, or
 * a run of whole small ones) to map on the rank that reads them, *rows: read into buf
 * item by item, or (all in one file) seen in
 * place in the file's pages (h5mr__dset_rows_in_place) where the file holds them as the
 * kernel takes them, if that is the faster way for this kernel and data here: timed on
 * the first slices of each pass, one way then the other (a light kernel gains the
 * copy's time, 1.5x for a sum; one that computes much per value runs no faster on pages
 * fresh from memory than on the copy's cache-warm buffer; a page the map step writes
 * into, masking missing values, is copied; bench/RESULTS.md §23).  Either way the
 * kernel sees the same rows in the same blocks.  h5mr__read_mapped once mapped. */
h5mr_status h5mr__read_rows_to_map(h5mr__run *run, uint64_t lo, uint64_t hi, uint64_t first, uint64_t n, void *buf,
                                   const void **rows, h5mr__in_place *m);
void h5mr__read_mapped(h5mr__run *run, h5mr__in_place *m);
/* The message of item (its rows, or its stored chunks in raw mode) into buf of
 * h5mr__read_capacity bytes; *len its size. */
h5mr_status h5mr__read_item(h5mr__run *run, uint64_t item, void *buf, uint64_t *len);
uint64_t h5mr__read_capacity(const h5mr__run *run);
/* Rows per slice where a rank reads and maps an item itself (uncompressed data): at
 * most 4 MiB, so the read's copy is still in cache when the kernel runs. */
uint64_t h5mr__read_slice_rows(const h5mr__run *run);
/* Consecutive items a rank that reads its own takes at a time: 1, or as many as make
 * about 4 MiB when items are small (small files); it maps them as few blocks. */
uint64_t h5mr__read_run_items(const h5mr__run *run);
/* The buffer a rank that reads its own items needs. */
uint64_t h5mr__read_local_capacity(const h5mr__run *run);

/* map.c: the map step. */
/* For tests of interrupted jobs, called as items [lo, hi) are mapped: with
 * H5MR_TEST_DELAY_US=N in the environment each takes N µs more (a slow kernel, without
 * one); with H5MR_TEST_ITEM_LOG=FILE each rank appends "lo hi" to FILE (the work
 * done, and redone after a kill, counted by bench/chaos). */
void h5mr__test_delay(uint64_t lo, uint64_t hi);
long h5mr__test_delay_us(void); /* H5MR_TEST_DELAY_US, 0 when unset; items then run one at a time */
/* A decoder when items travel as stored chunks (*dec NULL otherwise). */
h5mr_status h5mr__map_decoder(const h5mr__run *run, h5mr__decoder **dec);
/* Fold rows [first, first + n) of item (data: their elements) into state: timed,
 * bytes counted, a kernel's failure named with the item. */
h5mr_status h5mr__map_rows(h5mr__run *run, void *state, const void *data, uint64_t item, uint64_t first, uint64_t n);
/* The map step's buffers of this run (every rank, at the end). */
void h5mr__map_release(h5mr__run *run);
/* Fold the consecutive items [lo, hi), read one after the other into data (n rows
 * from row `first`), as one block (each item's CF conventions applied to its rows);
 * does not count them. */
h5mr_status h5mr__map_run(h5mr__run *run, void *state, void *data, uint64_t lo, uint64_t hi, uint64_t first,
                          uint64_t n);
/* Decode a message of h5mr__read_item if it holds stored chunks (dec not NULL), then
 * fold it. */
h5mr_status h5mr__map_msg(h5mr__run *run, h5mr__decoder *dec, void *state, const void *msg, uint64_t len,
                          uint64_t item);

/* scatter.c: rank 0 reads every item and sends it; the others map what they get.
 * Both schedules.  Returns this rank's status; every rank leaves it. */
h5mr_status h5mr__scatter(h5mr__run *run, void *state);
/* parallel.c: every rank reads and maps its own items (run->d open on all); one rank
 * alone in either mode. */
h5mr_status h5mr__parallel(h5mr__run *run, void *state);

/* reduce.c: binomial tree of states to rank 0 in rank order.  COLLECTIVE. */
h5mr_status h5mr__reduce(h5mr__run *run, void *state);

/* plan.c, the decisions that need the input: */
typedef struct h5mr__plan_req {
    const char *dataset;  /* for messages */
    const h5mr__sel *sel; /* the selection */
    const char *seltext;  /* as given */
    int raw_cf;           /* --raw: CF conventions ignored */
    uint64_t chunk_rows;  /* --chunk-rows, 0: automatic */
    int tag_ub;           /* the largest MPI tag, 0 if unknown */
    uint64_t align_rows;  /* items a multiple of these rows too (a map's output chunks), 0: none */
} h5mr__plan_req;
/* Rank 0: the plan of the described files — they concatenate (EINPUT naming the first
 * that does not), the selection resolved (EUSAGE), the parts (*parts, the caller's to
 * free), items cut (h5mr__plan_make), whether items travel as stored chunks, the CF
 * mode, and whether MPI can number the items.  *desc: the first file's description
 * with the concatenated extent of dimension 0. */
h5mr_status h5mr__plan_input(const h5mr__fdesc *files, uint64_t nfiles, const char *const *names,
                             const h5mr__plan_req *req, h5mr__plan *plan, h5mr__part **parts, h5mr__dset_desc *desc,
                             h5mr_error *err);
/* COLLECTIVE, --io auto: parallel when every rank opened its share of the files and
 * sees the same first file as rank 0 (first: rank 0's description of it), scatter
 * otherwise; in scatter mode the other ranks close their files. */
h5mr_io h5mr__plan_io(h5mr__run *run, const h5mr__fdesc *first, int shared);

/* ---------------------------------------------------------------- the job */

struct h5mr_job {
    MPI_Comm comm;
    int rank, size;
    int one_node;         /* every rank on one node (shared memory) */
    char *file, *dataset; /* the first FILE argument; DATASET as given (with its selection) */
    h5mr__inputs in;
    h5mr__sel sel;
    int raw_cf; /* --raw */
    const h5mr_kernel *kernel;
    h5mr__kv *params;
    size_t nparams;
    uint64_t chunk_rows_req;
    h5mr_schedule schedule;
    h5mr_io io_req;
    char *output;                   /* -o FILE (a link resolved when the job runs) */
    char *out_object;               /* -o FILE:/OBJECT, or NULL */
    int out_exists, out_obj_exists; /* found by the output's check (rank 0) */
    int force;
    char *ckpt_path; /* --checkpoint */
    double ckpt_every;
    int ckpt_resume;
    h5mr__ckpt ckpt; /* rank 0: what is kept (and, resuming, what was read) */
    int ckpt_found;  /* resuming: the pass and item it starts from */
    int ckpt_pass;
    uint64_t ckpt_next;
    double ckpt_written;   /* rank 0: when it last wrote one */
    h5mr_store_opts store; /* a map kernel's output dataset */
    int store_set;
    int writes;                                            /* the kernel is a map kernel */
    h5mr_dtype out_dtype;                                  /* the last run's stored type */
    int out_grouped;                                       /* several outputs, or named: a group of datasets */
    uint64_t out_chunks[H5MR_MAX_OUTPUTS][H5MR__MAX_DIMS]; /* and chunk shapes */
    uint64_t out_bytes;
    h5mr__comp comp[H5MR__MAX_COMP]; /* companions, in the order given */
    int ncomp;
    int cf_forced;            /* integer values made f64 for the companions */
    h5mr_kernel group_kernel; /* --by, axis per row: the wrapper run in the kernel's place */
    h5mr__kv *kparams;        /* the parameters the kernel sees (an axis set: its own axis, or none) */
    char axis_given[64];
    h5mr__axes axes; /* an axis set the library runs the kernel over */

    /* the last run */
    h5mr__dset_desc desc;
    h5mr__plan plan;
    h5mr__part *parts;
    h5mr__files files;
    int kndims;
    uint64_t kshape[H5MR__MAX_DIMS]; /* the selected array's shape, as the kernel sees it */
    char *cf_json;                   /* rank 0: what CF applied, as JSON ("null": nothing) */
    h5mr_io io;
    h5mr_ctx ctx;
    h5mr__run run;
    h5mr_rank_stats mine;
    h5mr_rank_stats *per_rank;
    double elapsed_s;
    h5mr_result *result;
    int ran;

    h5mr__progress progress; /* rank 0 */
};

#endif /* H5MR_INTERNAL_H */
