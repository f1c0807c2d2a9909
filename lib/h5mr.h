/* h5mr.h: the one public header of libh5mr, map-reduce over HDF5 datasets with MPI.
 *
 * A job applies one kernel to one dataset of rank >= 1.  Dimension 0 is split into
 * work items of whole rows; every item is folded ("mapped") into a kernel state;
 * the states of all ranks are combined by a binomial tree; rank 0 turns the final
 * state into result fields.
 *
 * Conventions:
 *  - Calls marked COLLECTIVE must be made by every rank of the job's communicator,
 *    in the same order, and return the same status on every rank.
 *  - The library never prints and never exits.  A failing call returns a status and,
 *    where it takes an h5mr_error *, fills it (the pointer may be NULL).
 *  - Strings passed in are copied; pointers handed out stay owned by the library.
 */
#ifndef H5MR_H
#define H5MR_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "h5mr_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the kernel interface below; a plugin built against another one is refused
 * (a plugin of ABI 1 too: rebuild it against this header; its source needs no change).
 * h5mr_kernel_abi() is the library's own at run time: a program embedding h5mr checks
 * h5mr_kernel_abi() == H5MR_KERNEL_ABI.
 * ABI 2 (this one): h5mr_block carries the job's companion inputs and the kernel's
 * output rows (see h5mr_block_input), the type table has its per-type columns. */
#define H5MR_KERNEL_ABI 2
unsigned h5mr_kernel_abi(void);

/* The version string of the library this program runs with (H5MR_VERSION is the
 * version it was compiled against). */
const char *h5mr_version(void);

/* ---------------------------------------------------------------- statuses */

/* X(name, message): every status, in one table. */
#define H5MR_STATUS_TABLE(X)                                                                                           \
    X(OK, "success")                                                                                                   \
    X(EUSAGE, "invalid usage")                                                                                         \
    X(EINPUT, "invalid input")                                                                                         \
    X(EIO, "I/O error")                                                                                                \
    X(ENOMEM, "out of memory")                                                                                         \
    X(EMPI, "MPI error")                                                                                               \
    X(EKERNEL, "kernel error")                                                                                         \
    X(ELIMIT, "size limit exceeded")                                                                                   \
    X(EINTERNAL, "internal error")                                                                                     \
    X(ESTOPPED, "stopped on request")

typedef enum h5mr_status {
#define H5MR_X_(name, msg) H5MR_##name,
    H5MR_STATUS_TABLE(H5MR_X_)
#undef H5MR_X_
        H5MR_STATUS_COUNT
} h5mr_status;

const char *h5mr_strerror(h5mr_status st);    /* "invalid usage" */
const char *h5mr_status_name(h5mr_status st); /* "EUSAGE" */

/* Details of a failure.  `message` is one line without the "h5mr: " prefix, saying
 * what was wrong and with what; `rank` is the rank of the job's communicator that saw
 * the failure first.  The first failure is kept: a later one never overwrites the
 * message the user will read (zero the struct to reuse it). */
typedef struct h5mr_error {
    h5mr_status status;
    int rank;
    char message[512];
} h5mr_error;

/* ---------------------------------------------------------------- data types */

/* X(ENUM, name, C type, IS_FLOAT, IS_SIGNED, BITS, W, LOWEST, HIGHEST, HDF5 type):
 * every element type, in one table, which every per-type switch and instantiation of
 * h5mr (and of a plugin) is generated from.  W is the h5mr_wide member a value
 * widens to (f, i or u).  LOWEST/HIGHEST need <stdint.h> and <math.h> (INFINITY), the
 * HDF5 type <hdf5.h>: a column is expanded only where it is used. */
#define H5MR_DTYPE_TABLE(X)                                                                                            \
    X(I8, "i8", int8_t, 0, 1, 8, i, INT8_MIN, INT8_MAX, H5T_NATIVE_INT8)                                               \
    X(I16, "i16", int16_t, 0, 1, 16, i, INT16_MIN, INT16_MAX, H5T_NATIVE_INT16)                                        \
    X(I32, "i32", int32_t, 0, 1, 32, i, INT32_MIN, INT32_MAX, H5T_NATIVE_INT32)                                        \
    X(I64, "i64", int64_t, 0, 1, 64, i, INT64_MIN, INT64_MAX, H5T_NATIVE_INT64)                                        \
    X(U8, "u8", uint8_t, 0, 0, 8, u, 0, UINT8_MAX, H5T_NATIVE_UINT8)                                                   \
    X(U16, "u16", uint16_t, 0, 0, 16, u, 0, UINT16_MAX, H5T_NATIVE_UINT16)                                             \
    X(U32, "u32", uint32_t, 0, 0, 32, u, 0, UINT32_MAX, H5T_NATIVE_UINT32)                                             \
    X(U64, "u64", uint64_t, 0, 0, 64, u, 0, UINT64_MAX, H5T_NATIVE_UINT64)                                             \
    X(F32, "f32", float, 1, 1, 32, f, -INFINITY, INFINITY, H5T_NATIVE_FLOAT)                                           \
    X(F64, "f64", double, 1, 1, 64, f, -INFINITY, INFINITY, H5T_NATIVE_DOUBLE)

typedef enum h5mr_dtype {
#define H5MR_X_(e, ...) H5MR_DTYPE_##e,
    H5MR_DTYPE_TABLE(H5MR_X_)
#undef H5MR_X_
        H5MR_DTYPE_COUNT
} h5mr_dtype;

/* An element of any type, widened: f for floats, i for signed, u for unsigned. */
typedef union h5mr_wide {
    double f;
    int64_t i;
    uint64_t u;
} h5mr_wide;

/* Code for each type, picked at run time.  Define H5MR_CASE(T, W) as the code for C
 * type T (W: its h5mr_wide member), then
 *     H5MR_DTYPE_SWITCH(b->dtype, return H5MR_EINPUT;)
 * runs it for the type given; the second argument is the code for any other value. */
#define H5MR_DTYPE_CASE_(e, name, T, isf, iss, bits, W, lo, hi, h5t)                                                   \
    case H5MR_DTYPE_##e: {                                                                                             \
        H5MR_CASE(T, W)                                                                                                \
    } break;
#define H5MR_DTYPE_SWITCH(t, otherwise)                                                                                \
    switch (t) {                                                                                                       \
        H5MR_DTYPE_TABLE(H5MR_DTYPE_CASE_)                                                                             \
    default: {                                                                                                         \
        otherwise                                                                                                      \
    } break;                                                                                                           \
    }
/* Definitions for each type, at compile time.  Define H5MR_EACH(T, W, IS_FLOAT, BITS,
 * LOWEST, HIGHEST), then H5MR_DTYPE_EACH instantiates it once per type. */
#define H5MR_DTYPE_EACH_(e, name, T, isf, iss, bits, W, lo, hi, h5t) H5MR_EACH(T, W, isf, bits, lo, hi)
#define H5MR_DTYPE_EACH H5MR_DTYPE_TABLE(H5MR_DTYPE_EACH_)

const char *h5mr_dtype_name(h5mr_dtype t); /* "f32" */
size_t h5mr_dtype_size(h5mr_dtype t);      /* 4 */
int h5mr_dtype_is_float(h5mr_dtype t);
int h5mr_dtype_is_signed(h5mr_dtype t);
h5mr_status h5mr_dtype_parse(const char *name, h5mr_dtype *out); /* EUSAGE if unknown */

/* ---------------------------------------------------------------- exact sums */

/* An exact accumulator of doubles: adding is exact, so the rounded total does not
 * depend on the order of additions or on how they were grouped.  This is what makes
 * the built-in float sums bit-reproducible whatever the number of ranks.  It is a
 * plain value (no pointers): copy it, send it as bytes, zero it to clear it. */
#define H5MR_XSUM_WORDS 70
typedef struct h5mr_xsum {
    int64_t w[H5MR_XSUM_WORDS]; /* w[i] holds bits at weight 2^(32*i - 1088), with carry room */
    int64_t adds;               /* additions since the last carry propagation */
    int64_t special;            /* bit 0: +inf seen, bit 1: -inf seen, bit 2: NaN seen */
} h5mr_xsum;

void h5mr_xsum_add(h5mr_xsum *s, double x);
void h5mr_xsum_merge(h5mr_xsum *into, const h5mr_xsum *from);
double h5mr_xsum_round(const h5mr_xsum *s); /* the exactly rounded total */
/* The total as hi + lo with hi = round(total) and lo = round(total - hi). */
void h5mr_xsum_round2(const h5mr_xsum *s, double *hi, double *lo);

/* A compact sum that is the same bits in any order: the exact sum of every value's
 * binary digits from 96 bits below the largest value's leading 32-bit word upwards
 * (digits below are dropped, the same ones whatever the order).  Error below
 * n·2^-96·max|x|; 80 bytes, so one per pixel of an image is affordable.  A plain value:
 * zero it to clear it, copy it, send it as bytes. */
typedef struct h5mr_rsum {
    __int128 bin[4]; /* bin[j]: digits of word top - j, summed exactly */
    int32_t top1;    /* top word + 1; 0 while empty */
    int32_t special; /* as in h5mr_xsum */
} h5mr_rsum;

void h5mr_rsum_add(h5mr_rsum *s, double x);
void h5mr_rsum_merge(h5mr_rsum *into, const h5mr_rsum *from);
double h5mr_rsum_round(const h5mr_rsum *s);
void h5mr_rsum_round2(const h5mr_rsum *s, double *hi, double *lo); /* as h5mr_xsum_round2 */

/* ---------------------------------------------------------------- results */

/* I64: int64_t[]; F64: double[]; U64: uint64_t[] (integer values of u64 data past
 * INT64_MAX, printed exactly). */
typedef enum h5mr_field_type { H5MR_FIELD_I64, H5MR_FIELD_F64, H5MR_FIELD_U64 } h5mr_field_type;

/* One named result field: a scalar (ndims 0) or an array of `shape`.  A float that is
 * NaN stands for "undefined" (JSON null); an integer element whose `valid` byte is 0
 * does too (valid NULL: all valid). */
typedef struct h5mr_field {
    const char *name;
    h5mr_field_type type;
    int ndims;
    const uint64_t *shape;
    uint64_t nelems;
    const void *data; /* int64_t[], double[] or uint64_t[], by type */
    const uint8_t *valid;
} h5mr_field;

typedef struct h5mr_result h5mr_result;

/* Add a field; data is copied.  Used by a kernel's finish(). */
h5mr_status h5mr_result_set_i64(h5mr_result *r, const char *name, int64_t v);
h5mr_status h5mr_result_set_f64(h5mr_result *r, const char *name, double v);
h5mr_status h5mr_result_set_null(h5mr_result *r, const char *name);
h5mr_status h5mr_result_set_array(h5mr_result *r, const char *name, h5mr_field_type type, int ndims,
                                  const uint64_t *shape, const void *data, const uint8_t *valid);

size_t h5mr_result_count(const h5mr_result *r);
const h5mr_field *h5mr_result_field(const h5mr_result *r, size_t i);        /* NULL past end */
const h5mr_field *h5mr_result_find(const h5mr_result *r, const char *name); /* NULL if none */

/* Write the fields as one JSON object ({"sum": 3, "mean": 1.5, ...}).  Floats are
 * printed in the shortest form that reads back to the same double; non-finite → null. */
h5mr_status h5mr_result_write_json(const h5mr_result *r, FILE *out);
/* Write one field's value as JSON (a number, null, or nested lists). */
void h5mr_field_write_json(const h5mr_field *f, FILE *out);
/* Write one double as JSON (shortest round-trip form, null if not finite). */
void h5mr_json_write_double(FILE *out, double v);
/* Write a string as a JSON string literal with escapes. */
void h5mr_json_write_string(FILE *out, const char *s);

/* ---------------------------------------------------------------- kernels */

/* What a kernel sees of the job: its parameters, the input's type and shape, its own
 * configuration, and a place to report an error. */
typedef struct h5mr_ctx h5mr_ctx;

/* One parameter a kernel accepts.  default_value NULL: no default (optional). */
typedef struct h5mr_param_decl {
    const char *key;
    const char *default_value;
    const char *help;
} h5mr_param_decl;

/* The fields of a kernel definition whose parts have the usual names PREFIX_params,
 * PREFIX_setup, PREFIX_map, PREFIX_combine and PREFIX_finish, as the built-ins' do:
 *     const h5mr_kernel k = {H5MR_KERNEL_FIELDS("count", "how many elements ...", count)};
 * optional callbacks follow as designated initializers (, .init = stats_init). */
#define H5MR_KERNEL_FIELDS(NAME, DESCRIPTION, PREFIX)                                                                  \
    .abi = H5MR_KERNEL_ABI, .name = (NAME), .description = (DESCRIPTION), .params = PREFIX##_params,                   \
    .setup = PREFIX##_setup, .map = PREFIX##_map, .combine = PREFIX##_combine, .finish = PREFIX##_finish

/* ABI 2: what an input of a job is.  A job has one input (the dataset it runs over)
 * and may have companion datasets aligned with it element by element. */
typedef enum h5mr_role {
    H5MR_ROLE_INPUT,   /* the dataset the job runs over (h5mr_block.data) */
    H5MR_ROLE_MASK,    /* --mask: an element is used where this is not 0, NaN or missing */
    H5MR_ROLE_WEIGHTS, /* --weights */
    H5MR_ROLE_BY,      /* --by: an integer label per element */
    H5MR_ROLE_WITH     /* --with: a second variable (corr, cov, normdiff) */
} h5mr_role;

/* ABI 2: one input's rows in a block, already broadcast to the input's rows: element
 * j of row r of the block is data[r * row_stride + j * elem_stride] (in elements of
 * dtype).  A companion of the input's full shape has row_stride = row_elems and
 * elem_stride = 1; a trailing one (a (Y, X) mask of a (T, Y, X) stack) row_stride 0;
 * a leading one (a (T,) label) elem_stride 0. */
typedef struct h5mr_rows {
    h5mr_role role;
    h5mr_dtype dtype;
    const void *data;
    uint64_t row_stride, elem_stride;
} h5mr_rows;

/* ABI 2: the rows a map kernel writes for a block, one buffer per output dataset it
 * declared, each `rows` x `row_elems` elements of the declared type, laid out as the
 * block's own rows; the library stores them (h5mr map). */
typedef struct h5mr_out_rows {
    int noutputs;
    void *const *data;
    const h5mr_dtype *dtype;
    const uint64_t *row_elems; /* values per row of each (the block's row_elems, or an output's own) */
} h5mr_out_rows;

/* A block of work item `item` as handed to map(): `rows` whole rows of `row_elems`
 * elements each, C order, starting at row `first_row` of the (selected, concatenated)
 * array the job runs on.  An item comes in one block, or in several consecutive
 * blocks of about 4 MiB (in row order, one map call each) when it is larger and read
 * from an uncompressed dataset, so that the rows a kernel reads are still in cache.
 * Small consecutive items (of small files) come together in one block of about 4 MiB
 * if the kernel allows it (h5mr_ctx_allow_joined_items); `item` is then the first.  `dtype` is the type of the values:
 * the stored type, or f64 when CF conventions unpack them (missing values are NaN).  The data is only valid during the
 * call.
 *
 * ABI 2 adds the job's companion inputs (--mask, --weights, --by, --with): `inputs`
 * holds the rows of each, aligned with the block's rows and already broadcast (see
 * h5mr_rows), converted to the type a kernel of that role expects: a mask as u8 (1:
 * use), labels as i64, weights and a second variable as f64.  The library has already
 * made missing every element whose companion value is missing (mask 0 or NaN, weight
 * or second variable NaN): such elements arrive as NaN, so a kernel that skips NaN
 * skips them (an element whose label is missing never reaches a kernel run per label), and with companions the values
 * are always float (integer data comes as f64).  `out` holds a map kernel's output rows (h5mr_ctx_add_output) in its
 * last pass, NULL otherwise: the kernel writes one value per element of the block, laid out as the block. first_row
 * is H5MR_ROW_UNKNOWN when the block's elements were gathered from many places (the elements of one label of --by, a
 * label per element): a kernel that reports positions reports none for them. */
#define H5MR_ROW_UNKNOWN UINT64_MAX
typedef struct h5mr_block {
    const void *data;
    h5mr_dtype dtype;
    uint64_t rows;
    uint64_t row_elems;
    uint64_t first_row;
    uint64_t item;
    /* ABI 2 */
    int ninputs;              /* companions besides the input */
    const h5mr_rows *inputs;  /* [ninputs] */
    const h5mr_out_rows *out; /* a map kernel's output rows, or NULL */
} h5mr_block;

/* ABI 2: the rows of the companion of that role in this block, or NULL if the job has
 * none (the input itself for H5MR_ROLE_INPUT). */
static inline const h5mr_rows *h5mr_block_input(const h5mr_block *b, h5mr_role role)
{
    for (int i = 0; i < b->ninputs; i++)
        if (b->inputs[i].role == role) return &b->inputs[i];
    return NULL;
}

/* A kernel.  Callbacks are called on every rank unless said otherwise.
 *
 * States come in two kinds.  A flat state is `state_size` bytes (set by setup() with
 * h5mr_ctx_set_state_size) that the library allocates zeroed, calls init() on, and
 * moves between ranks as its raw bytes.  A variable state is made by state_new() and
 * freed by state_free(), and travels as the bytes pack() appends and unpack() reads.
 *
 * combine(into, from) folds `from` into `into`.  It must be associative; the library
 * combines states in a fixed order (rank order, which is item order for the static
 * schedule), but under the dynamic schedule a rank's items are not contiguous, so a
 * kernel whose result must not depend on the schedule makes combine commutative too
 * (every built-in does: see h5mr_xsum). */
typedef struct h5mr_kernel {
    unsigned abi; /* H5MR_KERNEL_ABI */
    const char *name;
    const char *description;       /* one line */
    const h5mr_param_decl *params; /* array ended by an entry with key NULL; may be NULL */

    /* Validate parameters against the input, compute configuration
     * (h5mr_ctx_set_config), set the state size.  Optional.  Return EUSAGE for a bad
     * parameter, EINPUT for an input the kernel cannot take, with h5mr_ctx_error. */
    h5mr_status (*setup)(h5mr_ctx *ctx);

    /* Flat states: make the zeroed state the identity of combine.  Optional. */
    h5mr_status (*init)(h5mr_ctx *ctx, void *state);

    /* Variable states (all four or none). */
    void *(*state_new)(h5mr_ctx *ctx);
    void (*state_free)(h5mr_ctx *ctx, void *state);
    h5mr_status (*pack)(h5mr_ctx *ctx, const void *state, void **bytes, size_t *nbytes);
    h5mr_status (*unpack)(h5mr_ctx *ctx, void *state, const void *bytes, size_t nbytes);

    /* Fold one block of rows (see h5mr_block) into the state.  Required. */
    h5mr_status (*map)(h5mr_ctx *ctx, void *state, const h5mr_block *block);
    /* Fold `from` into `into`.  Required. */
    h5mr_status (*combine)(h5mr_ctx *ctx, void *into, const void *from);
    /* Rank 0 only: turn the final state into result fields.  Required. */
    h5mr_status (*finish)(h5mr_ctx *ctx, const void *state, h5mr_result *result);

    /* Kernels of several passes over the data (setup calls h5mr_ctx_set_passes):
     * called on every rank after each pass but the last, with that pass's combined
     * state (the same bytes on every rank), to prepare the next pass: configuration
     * and, if it changes, the state size.  The next pass starts from fresh states. */
    h5mr_status (*end_pass)(h5mr_ctx *ctx, const void *state);
} h5mr_kernel;

/* The value given for `key` with -p, else the declared default, else NULL. */
const char *h5mr_ctx_param(const h5mr_ctx *ctx, const char *key);
/* Parse a parameter: OK with *out set; OK and *out untouched when the parameter is
 * absent with no default; EUSAGE (and the error set) when it does not parse. */
h5mr_status h5mr_ctx_param_i64(h5mr_ctx *ctx, const char *key, int64_t *out);
h5mr_status h5mr_ctx_param_f64(h5mr_ctx *ctx, const char *key, double *out);
h5mr_status h5mr_ctx_param_bool(h5mr_ctx *ctx, const char *key, int *out);

h5mr_dtype h5mr_ctx_dtype(const h5mr_ctx *ctx);
/* 1 when the values are f64 only because the library widened the stored integers (a
 * companion dataset or a fill value makes missing elements NaN), not unpacked: every
 * valid value is an integer, and a kernel reports sums, minima and maxima as integers
 * (the built-ins do), as it would for the stored type. */
int h5mr_ctx_values_integral(const h5mr_ctx *ctx);
int h5mr_ctx_ndims(const h5mr_ctx *ctx);
/* ABI 2: CF-packed integers taken as stored.  A job's values are f64 when CF conventions
 * unpack stored integers (scale_factor, add_offset) or mark some of them missing
 * (_FillValue, missing_value, valid_min/valid_max/valid_range).  When every file of the
 * job packs its values the same way, the stored type has at most 32 bits and the job
 * has no companion dataset and no axis set, h5mr_ctx_packing() (from setup) says how
 * they unpack; a kernel that calls h5mr_ctx_accept_packed() then gets the stored
 * integers (h5mr_ctx_dtype() returns the stored type from then on; call it first), in
 * which every missing element holds the one stored value `missing`, and unpacks its
 * results itself: a value is stored * scale + offset.  The built-in sum and stats take
 * them so (exact integer sums, scaled at finish), and minmax, count, topk and
 * histogram where unpacking is strictly monotonic (the stored extremes unpacked; the
 * comparisons as an interval of stored integers; the stored order; a bin per stored
 * value).  NULL otherwise: the values come as
 * f64 with missing elements NaN. */
typedef struct h5mr_packing {
    int packed;           /* scale_factor or add_offset given: the values are floats */
    double scale, offset; /* 1 and 0 unless packed */
    int has_missing;      /* some stored values are missing */
    int64_t missing;      /* the stored value every missing element holds */
} h5mr_packing;
const h5mr_packing *h5mr_ctx_packing(const h5mr_ctx *ctx);
void h5mr_ctx_accept_packed(h5mr_ctx *ctx);
const uint64_t *h5mr_ctx_shape(const h5mr_ctx *ctx);

void h5mr_ctx_set_state_size(h5mr_ctx *ctx, size_t nbytes);
/* From setup: this kernel does not look at h5mr_block.item, so the library may hand
 * it several small consecutive items (of small files) joined in one block of about
 * 4 MiB, paying the kernel's cost per block once for them all.  Without this call
 * every block is rows of one item (the built-ins all call it). */
void h5mr_ctx_allow_joined_items(h5mr_ctx *ctx);
/* Companion inputs.  From setup: does the job have one of that role, and this kernel
 * uses it.  A job with --weights, --with or --by for a kernel that did not accept that
 * role is refused (EUSAGE), so no companion is silently ignored; --mask needs nothing
 * (the library applies it).  Accepting H5MR_ROLE_BY says the kernel's result means
 * something per label: the library then runs it once per label (see h5mr_block). */
int h5mr_ctx_has_input(const h5mr_ctx *ctx, h5mr_role role);
void h5mr_ctx_accept_input(h5mr_ctx *ctx, h5mr_role role);
/* ABI 2, map kernels (h5mr map): from setup, this kernel writes a dataset of the
 * input's shape, one value of type `dtype` per element, in its last pass: map() fills
 * block->out->data[i] (rows x row_elems values, the block's layout) for output i, in
 * the order declared, and the library stores them (converted to the type the job
 * stores, h5mr_store_opts.dtype).  A float output value that is NaN is a missing
 * value.  Returns the output's index, or -1 (more than H5MR_MAX_OUTPUTS).  A job of a
 * kernel that declares outputs needs an output (h5mr_job_set_output); a job of one that
 * declares none must not set h5mr_job_set_store. */
#define H5MR_MAX_OUTPUTS 16
int h5mr_ctx_add_output(h5mr_ctx *ctx, h5mr_dtype dtype);
/* An output of its own shape whose rows are the input's rows (shape[0] is the input's
 * dimension 0; a row has the product of shape[1..] values): a feature per row, a
 * result per time step.  `name` names its dataset (in the output's group).  A kernel
 * with several outputs, or named ones, writes a group (-o FILE[:/GROUP], default
 * /result) of one dataset per output.  -1 if no room or a bad shape. */
int h5mr_ctx_add_output_rows(h5mr_ctx *ctx, h5mr_dtype dtype, const char *name, int ndims, const uint64_t *shape);
/* Passes over the data (default 1; more needs end_pass).  Call from setup. */
void h5mr_ctx_set_passes(h5mr_ctx *ctx, int passes);
int h5mr_ctx_pass(const h5mr_ctx *ctx); /* 0-based number of the current pass */
/* Kernel-private configuration, freed with free_fn (may be NULL) when the job ends. */
void h5mr_ctx_set_config(h5mr_ctx *ctx, void *config, void (*free_fn)(void *));
/* The usual setup: a zeroed configuration of `size` bytes set as ctx's (free_fn frees
 * it, NULL: free()).  NULL if out of memory. */
void *h5mr_ctx_config_alloc(h5mr_ctx *ctx, size_t size, void (*free_fn)(void *));
void *h5mr_ctx_config(const h5mr_ctx *ctx);

/* Record an error message (printf-style) and return `st`, for `return h5mr_ctx_error(...)`. */
h5mr_status h5mr_ctx_error(h5mr_ctx *ctx, h5mr_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Register a kernel for this process.  `k` must stay valid (static storage).
 * EUSAGE: a kernel of that name exists, or required callbacks are missing;
 * EINPUT: the ABI differs.  Not collective, but every rank must register the same set. */
h5mr_status h5mr_kernel_register(const h5mr_kernel *k, h5mr_error *err);
const h5mr_kernel *h5mr_kernel_find(const char *name);
size_t h5mr_kernel_count(void);
const h5mr_kernel *h5mr_kernel_at(size_t i); /* in registration order, built-ins first */
/* Does k write a dataset (a map kernel: its setup declares an output) rather than
 * reduce?  Found by running its setup on a one-element f64 input with every companion
 * role present. */
int h5mr_kernel_writes(const h5mr_kernel *k);

/* ---------------------------------------------------------------- plugins */

/* A plugin is a shared object with one entry point of this name and type, which
 * registers its kernels with h5mr_kernel_register.  host_abi is H5MR_KERNEL_ABI of
 * the loading h5mr; a plugin built for another one should return EINPUT. */
#define H5MR_PLUGIN_ENTRY "h5mr_plugin_init"
typedef h5mr_status (*h5mr_plugin_init_fn)(unsigned host_abi, h5mr_error *err);

/* Load the plugin at PATH and run its entry point.  Not collective: every rank of a
 * job loads the same plugins.  EUSAGE with err set: no such file, not a shared object,
 * no entry point, an ABI other than H5MR_KERNEL_ABI, a kernel name already taken. */
h5mr_status h5mr_plugin_load(const char *path, h5mr_error *err);

/* ---------------------------------------------------------------- inspecting input */

/* What h5mr sees of a dataset, and the plan it would use.  Not collective. */
typedef struct h5mr_dataset_info {
    h5mr_dtype dtype;
    int ndims;
    uint64_t shape[32];
    int chunked;        /* 0: contiguous, compact or virtual (see layout) */
    uint64_t chunk[32]; /* storage chunk shape when chunked */
    int nfilters;
    char filters[8][32]; /* filter names, in pipeline order (first 8) */
    uint64_t chunk_rows; /* the plan: rows per item */
    uint64_t items;      /* number of items */
    uint64_t item_bytes; /* bytes of a full item */
    uint64_t bytes;      /* bytes of the whole dataset */
    char layout[16];     /* as HDF5 stores it: "contiguous", "chunked", "compact", "virtual" */
    /* h5mr_files_inspect: */
    uint64_t files; /* the number of files (patterns expanded) */
    char cf[256];   /* what CF conventions apply, as a JSON object, or "null" */
    /* h5mr_file_datasets: for a soft or external link, where it leads ("/a",
     * "other.h5:/x"); "" for the dataset itself. */
    char link[256];
} h5mr_dataset_info;

/* Describe DATASET of FILE and the plan for `chunk_rows` (0: automatic).  EINPUT
 * (file, dataset, type) or ELIMIT (the plan) with err set. */
h5mr_status h5mr_dataset_inspect(const char *file, const char *dataset, uint64_t chunk_rows, h5mr_dataset_info *info,
                                 h5mr_error *err);

/* Describe DATASET (which may carry a selection) over several files, concatenated
 * along dimension 0 as a job would read them (patterns expanded): the selected shape,
 * the first file's storage, the plan, what CF applies (raw: none), and fn (may be
 * NULL) called with each file and its rows; fn returns non-zero to stop.  EINPUT
 * (files that do not concatenate, ...), EUSAGE (the selection), ELIMIT. */
typedef int (*h5mr_file_rows_fn)(const char *file, uint64_t rows, void *arg);
h5mr_status h5mr_files_inspect(const char *const *files, size_t nfiles, const char *dataset, uint64_t chunk_rows,
                               int raw, h5mr_dataset_info *info, h5mr_file_rows_fn fn, void *arg, h5mr_error *err);

/* Call fn for every dataset in FILE (path from the root), then for every soft or
 * external link (info->link says where it leads).  `info` is NULL for a dataset or
 * link h5mr cannot read, with `why` saying why (a dangling link: where it pointed).
 * fn returns non-zero to stop.  EINPUT if the file cannot be opened. */
typedef int (*h5mr_dataset_fn)(const char *path, const h5mr_dataset_info *info, const char *why, void *arg);
h5mr_status h5mr_file_datasets(const char *file, h5mr_dataset_fn fn, void *arg, h5mr_error *err);

/* ---------------------------------------------------------------- jobs */

typedef enum h5mr_schedule { H5MR_SCHEDULE_DYNAMIC, H5MR_SCHEDULE_STATIC } h5mr_schedule;
typedef enum h5mr_io { H5MR_IO_SCATTER, H5MR_IO_PARALLEL, H5MR_IO_AUTO } h5mr_io;

const char *h5mr_schedule_name(h5mr_schedule s);
h5mr_status h5mr_schedule_parse(const char *s, h5mr_schedule *out);
const char *h5mr_io_name(h5mr_io io);
h5mr_status h5mr_io_parse(const char *s, h5mr_io *out);

typedef struct h5mr_job h5mr_job;

/* COLLECTIVE.  Make a job on a duplicate of `comm` (library traffic never meets the
 * caller's).  MPI must be initialised.  *out is NULL on failure. */
h5mr_status h5mr_job_create(MPI_Comm comm, h5mr_job **out, h5mr_error *err);
/* COLLECTIVE (frees the duplicated communicator).  NULL is fine. */
void h5mr_job_free(h5mr_job *job);

/* Settings: local calls, but every rank must make the same ones before run.
 * EUSAGE for a bad value, ENOMEM. */
/* The input: FILE (the first of the files) and DATASET, which may carry a numpy-style
 * selection ("/tas[0:744, ::2]": start:stop:step or an integer per dimension, numpy's
 * semantics; the job runs on exactly a[selection]).  Replaces any files added before.
 * A FILE that names no file but has *, ? or [ is a pattern, expanded (sorted) by rank
 * 0 when the job runs. */
h5mr_status h5mr_job_set_input(h5mr_job *job, const char *file, const char *dataset);
/* More files, concatenated along dimension 0 in the order added (as ncrcat does): every
 * file's dataset must have the same type and trailing dimensions.  A pattern as above. */
h5mr_status h5mr_job_add_file(h5mr_job *job, const char *file);
/* A file of file names, one a line (blank lines ignored), read by rank 0 at run time. */
h5mr_status h5mr_job_add_file_list(h5mr_job *job, const char *list);
/* Only the dataset (and selection), keeping the files. */
h5mr_status h5mr_job_set_dataset(h5mr_job *job, const char *dataset);
/* raw 1: ignore CF conventions (the stored values as they are).  By default a value
 * equal to the variable's _FillValue or a missing_value, or outside valid_min,
 * valid_max or valid_range, is missing (skipped like NaN), and scale_factor and
 * add_offset unpack values (stored x scale + offset, in double; the kernel then sees
 * f64 values). */
h5mr_status h5mr_job_set_raw(h5mr_job *job, int raw);
/* A companion dataset of the input, of the given role (--mask, --weights, --by,
 * --with): "[FILE:]DATASET" (split at the last ":/"); without FILE it is each input
 * file's own dataset of that name, concatenated like the input.  Its shape must be the
 * input's (before any selection), a trailing part of it (shape[k:]) or a leading part
 * (shape[:k]): checked in that order when the job runs (EINPUT naming both shapes);
 * the input's selection applies to its dimensions, CF conventions apply as to the
 * input.  An element whose companion value is missing (or 0 for a mask) is missing.
 * NULL removes the companion of that role.  EUSAGE for an empty name. */
h5mr_status h5mr_job_set_companion(h5mr_job *job, h5mr_role role, const char *spec);
h5mr_status h5mr_job_set_kernel(h5mr_job *job, const char *name);
h5mr_status h5mr_job_set_param(h5mr_job *job, const char *key, const char *value);
h5mr_status h5mr_job_set_chunk_rows(h5mr_job *job, uint64_t rows); /* 0: automatic */
h5mr_status h5mr_job_set_schedule(h5mr_job *job, h5mr_schedule s);
/* SCATTER: rank 0 reads every item and sends it.  PARALLEL: every rank opens the file
 * and reads its own items (the file must be on a file system every rank sees).  AUTO
 * (the default): PARALLEL when every rank opens the same file (same size, same dataset
 * layout), SCATTER otherwise.  Results are the same bits in every mode. */
h5mr_status h5mr_job_set_io(h5mr_job *job, h5mr_io io);
/* Also write the result into the HDF5 file PATH (NULL: none): a group /result with one
 * dataset per field (shape () for scalars, nulls stored as NaN) and attributes kernel,
 * input_file, input_dataset, ranks, elapsed_s, h5mr_version, params (JSON text).
 * Rank 0 writes it as an unnamed (or private temporary) file in the same folder,
 * flushes it and its folder to disk and renames it into place at the end, so a failed
 * or killed run leaves no file and an existing file of that name is only replaced by
 * a complete one, keeping its permissions.  Checked before any data is read (EUSAGE):
 * PATH must not be the input file (links followed), a folder, a device or other
 * non-regular file, in a missing or unwritable folder, or too long for a temporary
 * name; an existing PATH is replaced only if h5mr wrote it, unless force is set. */
h5mr_status h5mr_job_set_output(h5mr_job *job, const char *path);
/* PATH of h5mr_job_set_output may be FILE:/OBJECT (split at the last ":/"): OBJECT (a
 * group for a reduction, the dataset of a map kernel) is added to FILE, an existing
 * HDF5 file, every other object of it staying as it was; an existing OBJECT is
 * replaced only with force.  The new file is built under a temporary name from a copy
 * of FILE and renamed over it, so a failed or killed run leaves FILE as it was.
 *
 * How a map kernel's output dataset is stored.  Every rank converts, chunks and
 * compresses the rows it maps and writes them (uncompressed: straight into the chunks
 * of the output file, allocated up front; compressed: into a part file of its own,
 * which rank 0 copies into the output file at the end, chunk by chunk). */
typedef struct h5mr_store_opts {
    int dtype;          /* h5mr_dtype stored, or -1: the kernel's output type */
    int chunk_ndims;    /* 0: the input's chunk shape (its kept dimensions), or ~4 MiB of rows */
    uint64_t chunk[32]; /* the chunk shape (each >= 1; clipped to the dataset's shape) */
    int gzip;           /* -1: no compression; 0-9: deflate level */
    int shuffle;        /* HDF5's shuffle filter before deflate */
} h5mr_store_opts;
/* EUSAGE for a bad value (chunk of the wrong rank is found when the job runs). */
h5mr_status h5mr_job_set_store(h5mr_job *job, const h5mr_store_opts *o);
h5mr_status h5mr_job_set_force(h5mr_job *job, int force);

/* Keep the job's progress in the file PATH (NULL: none): each pass runs in segments of
 * items (5 s at most), after each of which the states are reduced; every every_s
 * seconds (<= 0: 30), and when the job is told to stop (h5mr_request_stop), rank 0
 * replaces PATH atomically with the states and the items they cover.  resume:
 * continue from PATH if it exists (at any number of ranks, either schedule and I/O
 * mode; the result is the bits of an uninterrupted run for kernels that combine
 * exactly, as the built-ins do); a PATH of another job (other files,
 * sizes, modification times, dataset, selection, companions, kernel, parameters or
 * item plan) is EUSAGE.  PATH is removed after a successful run.  A job that writes (a
 * map kernel, a streamed result) writes its output under the fixed name
 * .NAME.partial-h5mr beside it, its rows flushed before each checkpoint, kept when the
 * job stops or fails, renamed into place at the end; not with compression yet
 * (EUSAGE). */
h5mr_status h5mr_job_set_checkpoint(h5mr_job *job, const char *path, double every_s, int resume);

/* Ask the running job of this process to stop (a signal handler's call: it only sets a
 * flag, async-signal-safe; signum names the cause in the message, 0 for none).  Every
 * rank stops taking items; the items done form a prefix of the plan where the schedule
 * gives one (dynamic), else the segment under way is dropped; with a checkpoint, the
 * states of the items done are written to it first.  h5mr_job_run then returns
 * H5MR_ESTOPPED on every rank, whichever rank was asked.  h5mr_stop_requested: the
 * signal number asked with (or -1 for signum 0), 0 when none. */
void h5mr_request_stop(int signum);
int h5mr_stop_requested(void);

/* Remove the temporary files this process is writing (an --output under a private
 * temporary name where the file system has no unnamed files).  Async-signal-safe:
 * for a SIGTERM or SIGINT handler, before the process exits. */
void h5mr_temporaries_remove(void);

/* How far a run is, as rank 0 knows it: items handed out (scatter), taken from the
 * shared counter (parallel, dynamic) or rank 0's share of its block times the ranks
 * (parallel, static) — an estimate of the items done, exact at the end. */
typedef struct h5mr_progress {
    uint64_t items_done, items_total; /* of this pass */
    uint64_t bytes_done, bytes_total; /* of this pass */
    int pass, passes;                 /* a kernel may read the data more than once */
    double elapsed_s;                 /* since the first read */
    int final;                        /* 1 on the last call, when the result is ready */
} h5mr_progress;
typedef void (*h5mr_progress_fn)(const h5mr_progress *p, void *arg);
/* Local, rank 0 only matters: during h5mr_job_run rank 0 calls fn at most every
 * interval_s seconds (between items; never from another thread), and once with
 * final = 1 after a successful run.  fn NULL: no calls (the default). */
h5mr_status h5mr_job_set_progress(h5mr_job *job, h5mr_progress_fn fn, void *arg, double interval_s);

/* COLLECTIVE.  Run the job.  The same status on every rank; on failure `err` holds
 * the first failure's message on every rank.  Statuses: EUSAGE (kernel or parameter),
 * EINPUT (file, dataset, type), EIO, ENOMEM, EMPI, EKERNEL, ELIMIT. */
h5mr_status h5mr_job_run(h5mr_job *job, h5mr_error *err);

/* After a successful run: the result on rank 0 (NULL on other ranks). */
const h5mr_result *h5mr_job_result(const h5mr_job *job);

/* Per-rank figures of the last run. */
typedef struct h5mr_rank_stats {
    uint64_t items;
    uint64_t bytes;
    double busy_s;           /* reading and mapping */
    double wait_s;           /* waiting for data or for other ranks */
    uint64_t peak_rss_bytes; /* the process's peak resident memory at the end of the run */
} h5mr_rank_stats;

/* A companion of the last run: its file (the first input file when it is each input
 * file's own), dataset, and whether it came from a FILE of its own. */
typedef struct h5mr_companion_info {
    h5mr_role role;
    const char *file;
    const char *dataset;
    int own_file;
} h5mr_companion_info;

/* What the last run did; valid on every rank after a run that got past planning. */
typedef struct h5mr_job_info {
    const char *file;
    const char *dataset;
    const char *kernel;
    h5mr_dtype dtype;
    int ndims;
    const uint64_t *shape;
    int ranks;
    h5mr_schedule schedule;
    h5mr_io io; /* the mode used (never AUTO after a run) */
    uint64_t items;
    uint64_t chunk_rows;
    uint64_t bytes;
    double elapsed_s;
    const h5mr_rank_stats *per_rank; /* rank 0 only: `ranks` entries; NULL elsewhere */
    /* ndims and shape above are those of the selected, concatenated array (what the
     * kernel sees); dtype is the stored type. */
    size_t files;          /* the number of files (patterns and lists expanded) */
    const char *selection; /* "[...]" as given, or NULL */
    const char *cf;        /* rank 0: what CF conventions applied, as a JSON object, or "null" */
    int stored_ndims;      /* the concatenated stored dataset, before the selection */
    const uint64_t *stored_shape;
    int ncompanions; /* --mask, --weights, --by, --with, in the order given */
    h5mr_companion_info companions[4];
    /* The output (h5mr_job_set_output), or NULL: its file, the object in it (the group
     * of a reduction, the dataset of a map kernel); for a map kernel what was stored. */
    const char *output_file, *output_object;
    int writes;           /* a map kernel's job */
    h5mr_dtype out_dtype; /* the stored type */
    int out_ndims;
    const uint64_t *out_chunk;
    int out_gzip, out_shuffle;
    uint64_t out_bytes; /* bytes of the stored chunks (compressed) */
    /* A kernel that wrote several datasets (or a result that keeps dimension 0, written
     * as it was computed: -o with axis=1,2): they are in group output_object, named: */
    int out_grouped;
    int out_count;
    const char (*out_names)[64];
    /* A job resumed from a checkpoint: of items and bytes (the last pass's), those the
     * checkpoint had already folded; per_rank adds up to the rest.  0 otherwise. */
    uint64_t resumed_items, resumed_bytes;
} h5mr_job_info;

h5mr_status h5mr_job_get_info(const h5mr_job *job, h5mr_job_info *info);

/* Given parameters, in the order set (for echoing). */
size_t h5mr_job_param_count(const h5mr_job *job);
void h5mr_job_param_at(const h5mr_job *job, size_t i, const char **key, const char **value);

#ifdef __cplusplus
}
#endif
#endif /* H5MR_H */
