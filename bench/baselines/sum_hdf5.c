/* The one-core speed of light: one process reads a dataset with plain HDF5, a block of
 * rows at a time into a memory space shaped like the selection, and sums it (f64 only,
 * eight independent accumulators, so the loop runs at memory speed, not at the latency
 * of one chain of additions).  Prints "<seconds> <bytes> <sum>".
 * Usage: sum_hdf5 FILE DATASET [ROWS_PER_READ] */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sum_hdf5 FILE DATASET [ROWS_PER_READ]\n");
        return 2;
    }
    double t0 = now();
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, argv[2], H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    int nd = H5Sget_simple_extent_ndims(s);
    hsize_t dims[32], start[32] = {0}, count[32];
    H5Sget_simple_extent_dims(s, dims, NULL);
    hsize_t row = 1;
    for (int i = 1; i < nd; i++)
        row *= dims[i];
    hsize_t per = argc > 3 ? strtoull(argv[3], NULL, 10) : ((4u << 20) / 8 + row - 1) / row;
    double *buf = malloc(per * row * sizeof *buf);
    double acc[8] = {0};
    for (hsize_t r = 0; r < dims[0]; r += per) {
        hsize_t n = dims[0] - r < per ? dims[0] - r : per;
        start[0] = r;
        count[0] = n;
        for (int i = 1; i < nd; i++)
            count[i] = dims[i];
        hid_t m = H5Screate_simple(nd, count, NULL);
        H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL);
        H5Dread(d, H5T_NATIVE_DOUBLE, m, s, H5P_DEFAULT, buf);
        H5Sclose(m);
        hsize_t i = 0, len = n * row;
        for (; i + 8 <= len; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += buf[i + k];
        for (; i < len; i++)
            acc[0] += buf[i];
    }
    double sum = 0;
    for (int k = 0; k < 8; k++)
        sum += acc[k];
    double t = now() - t0;
    printf("%.6f %llu %.17g\n", t, (unsigned long long)(dims[0] * row * 8), sum);
    free(buf);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    return 0;
}
