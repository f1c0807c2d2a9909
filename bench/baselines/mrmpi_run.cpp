/* MR-MPI (Sandia's MapReduce-MPI, Debian libmrmpi-dev) doing what h5mr does: map over
 * items, each map call reading one block of rows with HDF5 and emitting its partial
 * result (a sum, or 256 bin counts over [0, 1)) under one key; collate; reduce adds the
 * partials.  1 MiB pages (memsize 1).  Prints "<seconds> <bytes> <sum or count>" on rank 0.
 * Usage: mpirun -n N mrmpi_run sum|histogram FILE DATASET BLOCK_ROWS
 * C++ (Debian's library has no C interface); bench/install-baselines builds it:
 *   mpicxx -O2 mrmpi_run.cpp $(pkg-config --cflags --libs hdf5-openmpi) -lMapReduceMPI */
#include <hdf5.h>
#include <mpi.h>
#include <mrmpi/keyvalue.h>
#include <mrmpi/mapreduce.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace MAPREDUCE_NS;

typedef struct app {
    int histogram;
    hid_t d, s;
    hsize_t rows, cols, block;
    double *buf;
    double sum;         /* reduce output */
    uint64_t hist[256]; /* reduce output */
} app;

static void map_item(int item, KeyValue *kv, void *ptr)
{
    app *a = (app *)ptr;
    hsize_t start[2] = {(hsize_t)item * a->block, 0}, count[2] = {a->block, a->cols};
    if (start[0] + count[0] > a->rows) count[0] = a->rows - start[0];
    hid_t m = H5Screate_simple(2, count, NULL);
    H5Sselect_hyperslab(a->s, H5S_SELECT_SET, start, NULL, count, NULL);
    H5Dread(a->d, H5T_NATIVE_DOUBLE, m, a->s, H5P_DEFAULT, a->buf);
    H5Sclose(m);
    size_t n = count[0] * count[1];
    char key[1] = {0};
    if (a->histogram) {
        uint64_t h[256] = {0};
        for (size_t i = 0; i < n; i++)
            if (a->buf[i] >= 0 && a->buf[i] < 1) h[(int)(a->buf[i] * 256)]++;
        kv->add(key, 1, (char *)h, sizeof h);
    } else {
        double acc[8] = {0}, s = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += a->buf[i + k];
        for (; i < n; i++)
            acc[0] += a->buf[i];
        for (int k = 0; k < 8; k++)
            s += acc[k];
        kv->add(key, 1, (char *)&s, sizeof s);
    }
}

static void reduce_key(char *key, int keybytes, char *values, int nvalues, int *sizes, KeyValue *kv, void *ptr)
{
    (void)key, (void)keybytes, (void)sizes, (void)kv;
    app *a = (app *)ptr;
    for (int v = 0; v < nvalues; v++) {
        if (a->histogram) {
            uint64_t h[256];
            memcpy(h, values + (size_t)v * sizeof h, sizeof h);
            for (int b = 0; b < 256; b++)
                a->hist[b] += h[b];
        } else {
            double x;
            memcpy(&x, values + (size_t)v * sizeof x, sizeof x);
            a->sum += x;
        }
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 5) {
        if (rank == 0) fprintf(stderr, "usage: mrmpi_run sum|histogram FILE DATASET BLOCK_ROWS\n");
        MPI_Finalize();
        return 2;
    }
    static app a;
    a.histogram = !strcmp(argv[1], "histogram");
    a.block = strtoull(argv[4], NULL, 10);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
    a.d = H5Dopen2(f, argv[3], H5P_DEFAULT);
    a.s = H5Dget_space(a.d);
    hsize_t dims[2] = {0, 1};
    H5Sget_simple_extent_dims(a.s, dims, NULL);
    a.rows = dims[0];
    a.cols = dims[1];
    a.buf = (double *)malloc(a.block * a.cols * sizeof *a.buf);
    MapReduce *mr = new MapReduce(MPI_COMM_WORLD);
    mr->memsize = 1;
    mr->verbosity = 0;
    mr->timer = 0;
    mr->map((int)((a.rows + a.block - 1) / a.block), map_item, &a);
    mr->collate(NULL);
    mr->reduce(reduce_key, &a);
    double total = 0, sum = a.sum;
    if (a.histogram) {
        sum = 0;
        for (int b = 0; b < 256; b++)
            sum += (double)a.hist[b];
    }
    MPI_Reduce(&sum, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    double t = MPI_Wtime() - t0;
    if (rank == 0) printf("%.6f %llu %.17g\n", t, (unsigned long long)(a.rows * a.cols * 8), total);
    delete mr;
    free(a.buf);
    H5Sclose(a.s);
    H5Dclose(a.d);
    H5Fclose(f);
    MPI_Finalize();
    return 0;
}
