/* MPI test of the engine through the public job API, run under mpirun at 1-4 ranks.
 *
 * Rank 0 writes datasets of every type and several odd shapes and storage layouts;
 * every job (sum and stats × both schedules × chunk rows 1, 3 and automatic) is
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
    int gzip;
    int fill; /* 0 random, 1 with NaNs, 2 all NaN, 3 huge int64 */
} dcase;

static hid_t native(h5mr_dtype t)
{
    hid_t m[] = {H5T_NATIVE_INT8,   H5T_NATIVE_INT16,  H5T_NATIVE_INT32,  H5T_NATIVE_INT64, H5T_NATIVE_UINT8,
                 H5T_NATIVE_UINT16, H5T_NATIVE_UINT32, H5T_NATIVE_UINT64, H5T_NATIVE_FLOAT, H5T_NATIVE_DOUBLE};
    return m[t];
}

static uint64_t nelems(const dcase *c)
{
    uint64_t n = 1;
    for (int i = 0; i < c->ndims; i++)
        n *= c->shape[i];
    return n;
}

static uint64_t seed = 7;
static uint64_t rnd(void)
{
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void write_case(hid_t file, const dcase *c)
{
    uint64_t n = nelems(c);
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
        switch (c->t) {
#define X(e, name, ctype, isf, iss)                                                                                    \
    case H5MR_DTYPE_##e: ((ctype *)buf)[i] = (ctype)v; break;
            H5MR_DTYPE_TABLE(X)
#undef X
        default: break;
        }
        if (c->fill == 3) ((int64_t *)buf)[i] = (int64_t)(rnd() >> 8) - ((int64_t)1 << 55); /* exact sums near 2^61 */
    }
    hsize_t maxdims[3];
    memcpy(maxdims, c->shape, sizeof maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (c->chunk[0]) {
        maxdims[0] = H5S_UNLIMITED;
        H5Pset_chunk(dcpl, c->ndims, c->chunk);
        if (c->gzip) {
            H5Pset_shuffle(dcpl);
            H5Pset_deflate(dcpl, 3);
        }
    }
    hid_t space = H5Screate_simple(c->ndims, c->shape, maxdims);
    hid_t d = H5Dcreate2(file, c->name, native(c->t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (n) H5Dwrite(d, native(c->t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(d);
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
    if (n) H5Dread(d, native(c->t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Dclose(d);
    long double *x = malloc((n + 1) * sizeof *x);
    for (uint64_t i = 0; i < n; i++) {
        switch (c->t) {
#define X(e, name, ctype, isf, iss)                                                                                    \
    case H5MR_DTYPE_##e: x[i] = (long double)((ctype *)buf)[i]; break;
            H5MR_DTYPE_TABLE(X)
#undef X
        default: break;
        }
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
                    uint64_t chunk_rows)
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
        {"/i8_2d", H5MR_DTYPE_I8, 2, {37, 5}, {4, 5}, 1, 0},
        {"/i16_1d", H5MR_DTYPE_I16, 1, {1000}, {64}, 0, 0},
        {"/i32_3d", H5MR_DTYPE_I32, 3, {23, 4, 3}, {0}, 0, 0},
        {"/i64_2d", H5MR_DTYPE_I64, 2, {41, 3}, {5, 3}, 0, 0},
        {"/i64_huge", H5MR_DTYPE_I64, 1, {50}, {0}, 0, 3},
        {"/u8_fewer_rows_than_ranks", H5MR_DTYPE_U8, 2, {2, 3}, {0}, 0, 0},
        {"/u16_3d_gzip", H5MR_DTYPE_U16, 3, {23, 4, 3}, {5, 4, 3}, 1, 0},
        {"/u32_1d", H5MR_DTYPE_U32, 1, {999}, {0}, 0, 0},
        {"/u64_2d", H5MR_DTYPE_U64, 2, {17, 2}, {3, 2}, 0, 0},
        {"/f32_nan_2d", H5MR_DTYPE_F32, 2, {29, 6}, {7, 6}, 1, 1},
        {"/f64_3d", H5MR_DTYPE_F64, 3, {31, 3, 2}, {0}, 0, 0},
        {"/f64_one_row", H5MR_DTYPE_F64, 2, {1, 7}, {0}, 0, 0},
        {"/f64_empty", H5MR_DTYPE_F64, 2, {0, 3}, {0}, 0, 0},
        {"/f64_all_nan", H5MR_DTYPE_F64, 1, {10}, {4}, 0, 2},
        {"/i16_one_row_1d", H5MR_DTYPE_I16, 1, {1}, {0}, 0, 0},
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
    uint64_t chunks[] = {1, 3, 0};
    int jobs = 0;
    for (size_t i = 0; i < ncases; i++)
        for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++)
            for (int ci = 0; ci < 3; ci++)
                if (strcmp(kernels[k], "valuecounts") || !h5mr_dtype_is_float(cases[i].t))
                    jobs += run_four(path, &cases[i], &refs[i], kernels[k], k < 2, chunks[ci]);

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
