/* MPI test of the engine through the public job API, run under mpirun at 1-4 ranks.
 *
 * Rank 0 writes datasets of every type and several odd shapes and storage layouts;
 * every job (sum and stats × both schedules × chunk rows 1, 3, 24 and automatic) is
 * compared with a reference that rank 0 computes from a plain serial read.  Both
 * schedules must give the same bits; a digest of every result goes to stdout so the
 * calling script can check that other rank counts give the same bits too.  Failures
 * are counted on rank 0 and agreed before exit: no rank asserts alone. */
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5mr.h"
#include "h5mr_hdf5.h"
#include "../common.h"

static int rank, nranks, failures;
static h5mr_io io_mode = H5MR_IO_SCATTER; /* for run() */

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            failures++;                                                                                                \
            fprintf(stderr, "FAIL (%d ranks) %s:%d: ", nranks, __FILE__, __LINE__);                                    \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
        }                                                                                                              \
    } while (0)

typedef struct dcase {
    const char *name;
    h5mr_dtype t;
    int ndims;
    hsize_t shape[3];
    hsize_t chunk[3]; /* chunk[0] == 0: contiguous */
    int filter;       /* enum filter */
    int fill;         /* 0 random, 1 with NaNs, 2 all NaN, 3 huge int64, 4 every third chunk unwritten */
    const char *twin; /* a case with the same data in another layout: same results, bit for bit */
} dcase;

/* Storage filters: those h5mr decodes on the mapping rank (shuffle, deflate), and
 * pipelines it must leave to HDF5 (fletcher32, a big-endian type, ...). */
enum filter { F_NONE, F_SHUF_GZIP, F_GZIP, F_SHUF, F_FLETCHER, F_BIG_ENDIAN, F_SKIPPED, F_SCALEOFFSET };

static uint64_t nelems(const dcase *c)
{
    uint64_t n = 1;
    for (int i = 0; i < c->ndims; i++)
        n *= c->shape[i];
    return n;
}

static uint64_t seed = 7;
static uint64_t rnd(void) { return test_splitmix(&seed); }

/* The first chunk written again with deflate marked as skipped in its filter mask:
 * stored shuffled but not compressed, as HDF5 does when an optional filter fails. */
static void write_skipped_chunk(hid_t d, const dcase *c, const unsigned char *buf)
{
    size_t es = h5mr_dtype_size(c->t), n = 1;
    for (int i = 0; i < c->ndims; i++)
        n *= c->chunk[i];
    unsigned char *chunk = calloc(n, es), *shuf = calloc(n, es);
    /* Element (r, j...) of the chunk at the origin; its trailing extent may be smaller. */
    for (size_t e = 0; e < n; e++) {
        size_t rest = e, pos = 0, mul = 1;
        int inside = 1;
        for (int i = c->ndims - 1; i >= 0; i--) {
            size_t k = rest % c->chunk[i];
            rest /= c->chunk[i];
            if (k >= c->shape[i]) inside = 0;
            pos += k * mul;
            mul *= c->shape[i];
        }
        if (inside) memcpy(chunk + e * es, buf + pos * es, es);
    }
    for (size_t e = 0; e < n; e++)
        for (size_t b = 0; b < es; b++)
            shuf[b * n + e] = chunk[e * es + b];
    hsize_t off[3] = {0, 0, 0};
    if (H5Dwrite_chunk(d, H5P_DEFAULT, 2u /* filter 1, deflate, skipped */, off, n * es, shuf) < 0)
        fprintf(stderr, "test_engine: H5Dwrite_chunk failed\n");
    free(chunk);
    free(shuf);
}

static uint64_t name_seed(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void write_case(hid_t file, const dcase *c)
{
    uint64_t n = nelems(c);
    seed = name_seed(c->twin ? c->twin : c->name);
    size_t es = h5mr_dtype_size(c->t);
    unsigned char *buf = malloc(n * es + 1);
    for (uint64_t i = 0; i < n; i++) {
        double v;
        if (h5mr_dtype_is_float(c->t)) {
            v = ldexp((double)(rnd() >> 11) * 0x1p-53 - 0.3, (int)(rnd() % 20) - 5);
            if ((c->fill == 1 && i % 5 == 2) || c->fill == 2) v = NAN;
        } else {
            v = (double)(rnd() % 200) - (h5mr_dtype_is_signed(c->t) ? 100 : 0);
        }
        test_store(c->t, buf, i, v);
        if (c->fill == 3) ((int64_t *)buf)[i] = (int64_t)(rnd() >> 8) - ((int64_t)1 << 55); /* exact sums near 2^61 */
    }
    hsize_t maxdims[3];
    memcpy(maxdims, c->shape, sizeof maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ftype = H5Tcopy(h5mr_dtype_to_hdf5(c->t));
    if (c->chunk[0]) {
        maxdims[0] = H5S_UNLIMITED;
        H5Pset_chunk(dcpl, c->ndims, c->chunk);
        if (c->filter == F_SHUF_GZIP || c->filter == F_SHUF || c->filter == F_FLETCHER || c->filter == F_SKIPPED)
            H5Pset_shuffle(dcpl);
        if (c->filter != F_NONE && c->filter != F_SHUF && c->filter != F_SCALEOFFSET) H5Pset_deflate(dcpl, 3);
        if (c->filter == F_FLETCHER) H5Pset_fletcher32(dcpl);
        if (c->filter == F_SCALEOFFSET) H5Pset_scaleoffset(dcpl, H5Z_SO_INT, H5Z_SO_INT_MINBITS_DEFAULT);
        if (c->filter == F_BIG_ENDIAN) H5Tset_order(ftype, H5T_ORDER_BE);
    }
    hid_t space = H5Screate_simple(c->ndims, c->shape, maxdims);
    hid_t d = H5Dcreate2(file, c->name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (n && c->fill == 4) {
        /* Whole chunks of rows, every third left unwritten (read as the fill value 0). */
        hsize_t start[3] = {0}, count[3];
        memcpy(count, c->shape, sizeof count);
        hid_t fs = H5Dget_space(d);
        H5Sselect_none(fs);
        for (hsize_t r = 0; r < c->shape[0]; r += c->chunk[0]) {
            start[0] = r;
            count[0] = c->shape[0] - r < c->chunk[0] ? c->shape[0] - r : c->chunk[0];
            if (r / c->chunk[0] % 3 != 1) H5Sselect_hyperslab(fs, H5S_SELECT_OR, start, NULL, count, NULL);
        }
        hid_t ms = H5Scopy(fs);
        H5Dwrite(d, h5mr_dtype_to_hdf5(c->t), ms, fs, H5P_DEFAULT, buf);
        H5Sclose(ms);
        H5Sclose(fs);
    } else if (n) {
        H5Dwrite(d, h5mr_dtype_to_hdf5(c->t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    }
    if (n && c->filter == F_SKIPPED) write_skipped_chunk(d, c, buf);
    H5Dclose(d);
    H5Tclose(ftype);
    H5Sclose(space);
    H5Pclose(dcpl);
    free(buf);
}

typedef struct ref {
    __int128 isum;
    long double sum, mean, var, min, max;
    int64_t count, nan_count;
} ref;

static ref reference(hid_t file, const dcase *c)
{
    uint64_t n = nelems(c);
    size_t es = h5mr_dtype_size(c->t);
    unsigned char *buf = malloc(n * es + 1);
    hid_t d = H5Dopen2(file, c->name, H5P_DEFAULT);
    if (n) H5Dread(d, h5mr_dtype_to_hdf5(c->t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(d);
    long double *x = malloc((n + 1) * sizeof *x);
    for (uint64_t i = 0; i < n; i++) {
        x[i] = test_load(c->t, buf, i);
    }
    ref r = {0, 0, 0, 0, INFINITY, -INFINITY, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            r.nan_count++;
            continue;
        }
        if (c->t == H5MR_DTYPE_I64)
            r.isum += ((int64_t *)buf)[i];
        else if (!h5mr_dtype_is_float(c->t))
            r.isum += (__int128)x[i];
        r.sum += x[i];
        r.count++;
        if (x[i] < r.min) r.min = x[i];
        if (x[i] > r.max) r.max = x[i];
    }
    if (r.count) {
        r.mean = r.sum / r.count;
        for (uint64_t i = 0; i < n; i++)
            if (!isnan(x[i])) r.var += (x[i] - r.mean) * (x[i] - r.mean);
        r.var /= r.count;
    }
    free(x);
    free(buf);
    return r;
}

static const h5mr_field *field(const h5mr_result *r, const char *name)
{
    const h5mr_field *f = h5mr_result_find(r, name);
    CHECK(f && f->ndims == 0, "no scalar field %s", name);
    return f;
}

static long double num(const h5mr_field *f)
{
    if (!f) return NAN;
    return f->type == H5MR_FIELD_I64 ? (long double)((const int64_t *)f->data)[0] : ((const double *)f->data)[0];
}

static void close_to(const h5mr_result *r, const char *name, long double want, double rel, const char *ctx)
{
    long double got = num(field(r, name));
    if (isnan(want)) {
        CHECK(isnan(got), "%s: %s = %.17Lg, want null", ctx, name, got);
        return;
    }
    CHECK(fabsl(got - want) <= rel * fabsl(want) + 1e-290L, "%s: %s = %.17Lg, want %.17Lg", ctx, name, got, want);
}

static void check_result(const h5mr_result *r, const dcase *c, const ref *w, const char *kernel, const char *ctx)
{
    int is_float = h5mr_dtype_is_float(c->t);
    long double sum = is_float ? w->sum : (long double)w->isum;
    const h5mr_field *f = field(r, "count");
    CHECK(f && f->type == H5MR_FIELD_I64 && num(f) == w->count, "%s: count %.0Lf want %" PRId64, ctx, num(f), w->count);
    f = field(r, "sum");
    if (!is_float) {
        CHECK(f && f->type == H5MR_FIELD_I64, "%s: integer sum not printed as an integer", ctx);
        CHECK(f && ((const int64_t *)f->data)[0] == (int64_t)w->isum, "%s: sum %.0Lf want %.0Lf", ctx, num(f), sum);
    } else {
        close_to(r, "sum", sum, 1e-14, ctx);
    }
    if (strcmp(kernel, "stats") != 0) return;
    f = field(r, "nan_count");
    CHECK(num(f) == w->nan_count, "%s: nan_count %.0Lf want %" PRId64, ctx, num(f), w->nan_count);
    if (w->count == 0) {
        const char *nul[] = {"mean", "var", "std", "min", "max"};
        for (int i = 0; i < 5; i++)
            close_to(r, nul[i], NAN, 0, ctx);
        return;
    }
    close_to(r, "mean", w->mean, 1e-14, ctx);
    close_to(r, "var", w->var, 1e-12, ctx);
    close_to(r, "std", sqrtl(w->var), 1e-12, ctx);
    close_to(r, "min", w->min, 0, ctx);
    close_to(r, "max", w->max, 0, ctx);
}

/* A digest of every field: its name, shape and the FNV-1a hash of its bytes. */
static void digest(const h5mr_result *r, char *out, size_t len)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < h5mr_result_count(r) && k + 64 < len; i++) {
        const h5mr_field *f = h5mr_result_field(r, i);
        uint64_t h = 1469598103934665603ULL;
        const unsigned char *b = f->data;
        for (uint64_t j = 0; j < f->nelems * 8; j++)
            h = (h ^ b[j]) * 1099511628211ULL;
        for (uint64_t j = 0; f->valid && j < f->nelems; j++)
            h = (h ^ f->valid[j]) * 1099511628211ULL;
        k += (size_t)snprintf(out + k, len - k, " %s[%" PRIu64 "]=%016" PRIx64, f->name, f->nelems, h);
    }
}

static h5mr_status run(const char *file, const char *dset, const char *kernel, h5mr_schedule s, uint64_t chunk_rows,
                       h5mr_job **jobp, h5mr_error *err)
{
    h5mr_status st = h5mr_job_create(MPI_COMM_WORLD, jobp, err);
    if (st != H5MR_OK) return st;
    h5mr_job_set_input(*jobp, file, dset);
    /* "kernel key=value key=value": the kernel and its parameters */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", kernel);
    char *save = NULL, *tok = strtok_r(buf, " ", &save);
    h5mr_job_set_kernel(*jobp, tok);
    while ((tok = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        h5mr_job_set_param(*jobp, tok, eq + 1);
    }
    h5mr_job_set_schedule(*jobp, s);
    h5mr_job_set_io(*jobp, io_mode);
    h5mr_job_set_chunk_rows(*jobp, chunk_rows);
    return h5mr_job_run(*jobp, err);
}

/* The same status on every rank, and the given one. */
static void check_agreed(h5mr_status st, h5mr_status want, const char *what)
{
    int mn = st, mx = st;
    MPI_Allreduce(MPI_IN_PLACE, &mn, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &mx, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) CHECK(mn == mx && mn == (int)want, "%s: statuses %d..%d, want %d", what, mn, mx, (int)want);
}

/* One job under both schedules and both I/O modes: the same status everywhere, the
 * same bits each time; checked against the reference when `check` is set.  Prints the
 * digest for engine.sh.  Returns the number of jobs run. */
static int run_four(const char *path, const dcase *c, const ref *want, const char *kernel, int check,
                    uint64_t chunk_rows, char *out, size_t outlen)
{
    char dig[4][4096];
    for (int s = 0; s < 4; s++) {
        h5mr_schedule sched = s & 1 ? H5MR_SCHEDULE_STATIC : H5MR_SCHEDULE_DYNAMIC;
        io_mode = s & 2 ? H5MR_IO_PARALLEL : H5MR_IO_SCATTER;
        h5mr_job *job = NULL;
        h5mr_error err = {0};
        h5mr_status st = run(path, c->name, kernel, sched, chunk_rows, &job, &err);
        char ctx[256];
        snprintf(ctx, sizeof ctx, "%s %s %s %s chunk_rows=%" PRIu64, c->name, kernel, h5mr_schedule_name(sched),
                 h5mr_io_name(io_mode), chunk_rows);
        check_agreed(st, H5MR_OK, ctx);
        dig[s][0] = '\0';
        if (rank == 0 && st == H5MR_OK) {
            h5mr_job_info in;
            h5mr_job_get_info(job, &in);
            uint64_t items = 0, bytes = 0;
            for (int r = 0; r < in.ranks; r++) {
                items += in.per_rank[r].items;
                bytes += in.per_rank[r].bytes;
            }
            CHECK(items == in.items && bytes == in.bytes, "%s: per-rank items/bytes do not add up", ctx);
            uint64_t want_items = chunk_rows ? (c->shape[0] + chunk_rows - 1) / chunk_rows : in.items;
            CHECK(in.items == want_items, "%s: %" PRIu64 " items, want %" PRIu64, ctx, in.items, want_items);
            if (check) check_result(h5mr_job_result(job), c, want, kernel, ctx);
            digest(h5mr_job_result(job), dig[s], sizeof dig[s]);
        } else if (rank == 0) {
            fprintf(stderr, "%s: %s\n", ctx, err.message);
        }
        h5mr_job_free(job);
    }
    if (rank == 0) {
        for (int s = 1; s < 4; s++)
            CHECK(strcmp(dig[0], dig[s]) == 0, "%s %s chunk_rows=%" PRIu64 ": schedule/io %d differs:\n%s\n%s", c->name,
                  kernel, chunk_rows, s, dig[0], dig[s]);
        printf("%s %s %" PRIu64 "%s\n", c->name, kernel, chunk_rows, dig[0]);
        snprintf(out, outlen, "%s", dig[0]);
    }
    return 4;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/engine-%d.h5", dir, nranks);

    static const dcase cases[] = {
        {"/i8_2d", H5MR_DTYPE_I8, 2, {37, 5}, {4, 5}, 1, 0, NULL},
        {"/i16_1d", H5MR_DTYPE_I16, 1, {1000}, {64}, 0, 0, NULL},
        {"/i32_3d", H5MR_DTYPE_I32, 3, {23, 4, 3}, {0}, 0, 0, NULL},
        {"/i64_2d", H5MR_DTYPE_I64, 2, {41, 3}, {5, 3}, 0, 0, NULL},
        {"/i64_huge", H5MR_DTYPE_I64, 1, {50}, {0}, 0, 3, NULL},
        {"/u8_fewer_rows_than_ranks", H5MR_DTYPE_U8, 2, {2, 3}, {0}, 0, 0, NULL},
        {"/u16_3d_gzip", H5MR_DTYPE_U16, 3, {23, 4, 3}, {5, 4, 3}, 1, 0, NULL},
        {"/u32_1d", H5MR_DTYPE_U32, 1, {999}, {0}, 0, 0, NULL},
        {"/u64_2d", H5MR_DTYPE_U64, 2, {17, 2}, {3, 2}, 0, 0, NULL},
        {"/f32_nan_2d", H5MR_DTYPE_F32, 2, {29, 6}, {7, 6}, 1, 1, NULL},
        {"/f64_3d", H5MR_DTYPE_F64, 3, {31, 3, 2}, {0}, 0, 0, NULL},
        {"/f64_one_row", H5MR_DTYPE_F64, 2, {1, 7}, {0}, 0, 0, NULL},
        {"/f64_empty", H5MR_DTYPE_F64, 2, {0, 3}, {0}, 0, 0, NULL},
        {"/f64_all_nan", H5MR_DTYPE_F64, 1, {10}, {4}, 0, 2, NULL},
        {"/i16_one_row_1d", H5MR_DTYPE_I16, 1, {1}, {0}, 0, 0, NULL},
        /* Compressed layouts: decoded by the mapping rank (raw chunks) or, for filters
         * h5mr does not decode, by HDF5; a twin must give its contiguous twin's bits. */
        {"/f64_3d_shuffle_gzip", H5MR_DTYPE_F64, 3, {31, 3, 2}, {8, 3, 2}, F_SHUF_GZIP, 0, "/f64_3d"},
        {"/f64_3d_grid_gzip", H5MR_DTYPE_F64, 3, {31, 3, 2}, {4, 2, 1}, F_GZIP, 0, "/f64_3d"},
        {"/f64_3d_shuffle", H5MR_DTYPE_F64, 3, {31, 3, 2}, {8, 3, 2}, F_SHUF, 0, "/f64_3d"},
        {"/f64_3d_fletcher32", H5MR_DTYPE_F64, 3, {31, 3, 2}, {8, 3, 2}, F_FLETCHER, 0, "/f64_3d"},
        {"/f64_3d_big_endian", H5MR_DTYPE_F64, 3, {31, 3, 2}, {8, 3, 2}, F_BIG_ENDIAN, 0, "/f64_3d"},
        {"/f64_3d_deflate_skipped", H5MR_DTYPE_F64, 3, {31, 3, 2}, {8, 3, 2}, F_SKIPPED, 0, "/f64_3d"},
        {"/i32_3d_gzip", H5MR_DTYPE_I32, 3, {23, 4, 3}, {6, 3, 2}, F_SHUF_GZIP, 0, "/i32_3d"},
        {"/i32_3d_scaleoffset", H5MR_DTYPE_I32, 3, {23, 4, 3}, {6, 4, 3}, F_SCALEOFFSET, 0, "/i32_3d"},
        {"/u32_1d_gzip", H5MR_DTYPE_U32, 1, {999}, {12}, F_GZIP, 0, "/u32_1d"},
        {"/u32_sparse_gzip", H5MR_DTYPE_U32, 1, {999}, {10}, F_GZIP, 4, NULL},
        {"/f32_nan_row_chunks", H5MR_DTYPE_F32, 2, {29, 6}, {1, 6}, F_SHUF_GZIP, 1, "/f32_nan_2d"},
        {"/i16_tall_chunk", H5MR_DTYPE_I16, 1, {5}, {64}, F_SHUF_GZIP, 0, NULL},
    };
    size_t ncases = sizeof cases / sizeof *cases;
    ref *refs = calloc(ncases, sizeof *refs);
    if (rank == 0) {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        for (size_t i = 0; i < ncases; i++)
            write_case(f, &cases[i]);
        H5Fclose(f);
        f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        for (size_t i = 0; i < ncases; i++)
            refs[i] = reference(f, &cases[i]);
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);

    /* sum and stats are checked against the reference; every other kernel's values are
     * checked in tests/unit.  Each job runs under both schedules and both I/O modes,
     * which must give the same bits, and engine.sh checks the same at every rank count. */
    const char *kernels[] = {"sum",
                             "stats",
                             "minmax",
                             "minmax axis=0",
                             "sum axis=0",
                             "stats axis=0",
                             "histogram bins=16",
                             "histogram bins=5 min=-1 max=3",
                             "count gt=0 le=50",
                             "topk k=5",
                             "topk k=4 largest=false",
                             "valuecounts"};
    uint64_t chunks[] = {1, 3, 24, 0}; /* 24: whole storage chunks of the compressed cases */
    enum { NK = sizeof kernels / sizeof *kernels, DIG = 4096 };
    char *digs = calloc(ncases * NK * 4, DIG);
    int jobs = 0;
    for (size_t i = 0; i < ncases; i++)
        for (size_t k = 0; k < NK; k++)
            for (int ci = 0; ci < 4; ci++)
                if (strcmp(kernels[k], "valuecounts") || !h5mr_dtype_is_float(cases[i].t))
                    jobs += run_four(path, &cases[i], &refs[i], kernels[k], k < 2, chunks[ci],
                                     digs + ((i * NK + k) * 4 + (size_t)ci) * DIG, DIG);
    /* Same data in another layout: the same bits.  The automatic chunk_rows follows the
     * storage chunks, so only the fixed ones compare across layouts. */
    for (size_t i = 0; rank == 0 && i < ncases; i++) {
        size_t t = 0;
        while (cases[i].twin && t < ncases && strcmp(cases[t].name, cases[i].twin))
            t++;
        if (!cases[i].twin) continue;
        CHECK(t < ncases, "%s: no twin %s", cases[i].name, cases[i].twin);
        for (size_t k = 0; t < ncases && k < NK; k++)
            for (int ci = 0; ci < 3; ci++) {
                const char *a = digs + ((i * NK + k) * 4 + (size_t)ci) * DIG;
                const char *b = digs + ((t * NK + k) * 4 + (size_t)ci) * DIG;
                CHECK(!strcmp(a, b), "%s %s chunk_rows=%" PRIu64 " differs from its twin %s:\n%s\n%s", cases[i].name,
                      kernels[k], chunks[ci], cases[t].name, a, b);
            }
    }
    free(digs);

    /* Errors reach every rank with one status. */
    h5mr_job *job = NULL;
    h5mr_error err = {0};
    h5mr_status st = run("/nonexistent/x.h5", "/a", "sum", H5MR_SCHEDULE_DYNAMIC, 0, &job, &err);
    check_agreed(st, H5MR_EINPUT, "missing file");
    if (rank == 0) CHECK(strstr(err.message, "/nonexistent/x.h5") != NULL, "message names the file: %s", err.message);
    h5mr_job_free(job);
    st = run(path, "/no/such", "stats", H5MR_SCHEDULE_STATIC, 0, &job, &err);
    check_agreed(st, H5MR_EINPUT, "missing dataset");
    h5mr_job_free(job);
    st = h5mr_job_create(MPI_COMM_WORLD, &job, &err);
    h5mr_job_set_input(job, path, "/f64_3d");
    h5mr_job_set_param(job, "nope", "1");
    st = h5mr_job_run(job, &err);
    check_agreed(st, H5MR_EUSAGE, "unknown parameter");
    h5mr_job_free(job);

    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        fprintf(stderr, "test_engine: %d ranks, %d jobs, %d failures\n", nranks, jobs, failures);
        unlink(path);
    }
    free(refs);
    MPI_Finalize();
    return failures ? 1 : 0;
}
