/* The cost of reproducibility: a `sum` that is not reproducible, run by the same
 * engine.  Each item is summed plainly in eight lanes and states are added as they
 * are combined, so the bits depend on how items are grouped (ranks, schedule).
 * Prints the job's "elapsed_s bytes sum" on rank 0.
 * Usage: mpirun -n N plainsum_job FILE DATASET (f64 data) */
#include <h5mr.h>
#include <stdio.h>

static h5mr_status ps_setup(h5mr_ctx *ctx)
{
    if (h5mr_ctx_dtype(ctx) != H5MR_DTYPE_F64) return h5mr_ctx_error(ctx, H5MR_EINPUT, "plainsum: f64 only");
    h5mr_ctx_set_state_size(ctx, sizeof(double));
    return H5MR_OK;
}

static h5mr_status ps_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const double *x = b->data;
    uint64_t n = b->rows * b->row_elems, i = 0;
    double acc[8] = {0};
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += x[i + k];
    for (; i < n; i++) acc[0] += x[i];
    for (int k = 0; k < 8; k++) *(double *)state += acc[k];
    return H5MR_OK;
}

static h5mr_status ps_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    *(double *)into += *(const double *)from;
    return H5MR_OK;
}

static h5mr_status ps_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    return h5mr_result_set_f64(r, "sum", *(const double *)state);
}

static const h5mr_kernel plainsum = {.abi = H5MR_KERNEL_ABI, .name = "plainsum", .setup = ps_setup,
                                     .map = ps_map, .combine = ps_combine, .finish = ps_finish};

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    h5mr_error err = {0};
    h5mr_job *job = NULL;
    h5mr_status st = argc == 3 ? h5mr_kernel_register(&plainsum, &err) : H5MR_EUSAGE;
    if (st == H5MR_OK) st = h5mr_job_create(MPI_COMM_WORLD, &job, &err);
    if (st == H5MR_OK) st = h5mr_job_set_input(job, argv[1], argv[2]);
    if (st == H5MR_OK) st = h5mr_job_set_kernel(job, "plainsum");
    if (st == H5MR_OK) st = h5mr_job_run(job, &err);
    if (rank == 0) {
        h5mr_job_info in;
        if (st == H5MR_OK && h5mr_job_get_info(job, &in) == H5MR_OK)
            printf("%.6f %llu %.17g\n", in.elapsed_s, (unsigned long long)in.bytes,
                   h5mr_result_field(h5mr_job_result(job), 0) ? ((const double *)h5mr_result_field(h5mr_job_result(job), 0)->data)[0] : 0.0);
        else
            fprintf(stderr, "plainsum_job: %s\n", argc == 3 ? err.message : "usage: plainsum_job FILE DATASET");
    }
    h5mr_job_free(job);
    MPI_Finalize();
    return st == H5MR_OK ? 0 : 1;
}
