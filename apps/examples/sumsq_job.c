/* A kernel of your own, linked into your own MPI program: the sum of squares of a
 * dataset, run through the job API.  Build against an installed h5mr:
 *     mpicc sumsq_job.c $(pkg-config --cflags --libs h5mr) -o sumsq_job
 * Run:  mpirun -n 4 ./sumsq_job FILE DATASET */
#include <h5mr.h>
#include <stdio.h>

typedef struct {
    double sum;
} sumsq_state; /* flat state: moved between ranks as bytes */

static h5mr_status sumsq_setup(h5mr_ctx *ctx)
{
    if (h5mr_ctx_dtype(ctx) != H5MR_DTYPE_F64)
        return h5mr_ctx_error(ctx, H5MR_EINPUT, "sumsq: this example reads f64 data only");
    h5mr_ctx_set_state_size(ctx, sizeof(sumsq_state));
    return H5MR_OK;
}

static h5mr_status sumsq_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const double *x = b->data;
    sumsq_state *s = state;
    for (uint64_t i = 0; i < b->rows * b->row_elems; i++)
        s->sum += x[i] * x[i];
    return H5MR_OK;
}

static h5mr_status sumsq_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    ((sumsq_state *)into)->sum += ((const sumsq_state *)from)->sum;
    return H5MR_OK;
}

static h5mr_status sumsq_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    return h5mr_result_set_f64(r, "sumsq", ((const sumsq_state *)state)->sum);
}

static const h5mr_kernel sumsq = {
    .abi = H5MR_KERNEL_ABI,
    .name = "sumsq",
    .description = "sum of squares (f64)",
    .setup = sumsq_setup,
    .map = sumsq_map,
    .combine = sumsq_combine,
    .finish = sumsq_finish,
};

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    h5mr_error err = {0};
    h5mr_job *job = NULL;
    if (h5mr_kernel_abi() != H5MR_KERNEL_ABI) { /* built against another h5mr.h than the library run */
        fprintf(stderr, "sumsq_job: libh5mr has kernel ABI %u, this program was built for %u\n", h5mr_kernel_abi(),
                (unsigned)H5MR_KERNEL_ABI);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    h5mr_status st = argc == 3 ? h5mr_kernel_register(&sumsq, &err) : H5MR_EUSAGE;
    if (st == H5MR_OK) st = h5mr_job_create(MPI_COMM_WORLD, &job, &err);
    if (st == H5MR_OK) st = h5mr_job_set_input(job, argv[1], argv[2]);
    if (st == H5MR_OK) st = h5mr_job_set_kernel(job, "sumsq");
    if (st == H5MR_OK) st = h5mr_job_run(job, &err); /* collective: every rank calls it */
    if (rank == 0) {
        if (st == H5MR_OK) {
            h5mr_result_write_json(h5mr_job_result(job), stdout);
            putchar('\n');
        } else {
            fprintf(stderr, "sumsq_job: %s\n", argc == 3 ? err.message : "usage: sumsq_job FILE DATASET");
        }
    }
    h5mr_job_free(job);
    MPI_Finalize();
    return st == H5MR_OK ? 0 : 1;
}
