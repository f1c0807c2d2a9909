/* Hand-written MPI + HDF5 programs that sum an f64 dataset (or count it into 256 bins
 * over [0, 1)): what a user would write instead of h5mr, for bench/io and bench/compare.
 * Prints "<seconds> <bytes> <sum or count>" on rank 0.
 *
 * Usage: mpirun -n N mpisum MODE FILE DATASET [sum|histogram]
 *   parallel       every rank reads its block of rows (4 MiB reads, HDF5 decodes any
 *                  filter) with the sec2 driver: independent POSIX reads
 *   mpio           the same through parallel HDF5's MPI-IO driver (independent transfers)
 *   mpio-coll      the same with collective transfers (every rank makes the same
 *                  number of H5Dread calls, empty selections at the end)
 *   scatter        rank 0 reads 4 MiB blocks and sends them round-robin to the others,
 *                  which sum them (rank 0 only reads)
 *   zlib-scatter   rank 0 reads the stored chunks (H5Dread_chunk) and sends them
 *                  round-robin; the others inflate them with zlib and sum
 *   zlib-parallel  every rank reads its own stored chunks and inflates them
 * The zlib modes need a dataset whose only filter is deflate and whose chunks span
 * whole rows. */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static double sum8(const double *x, size_t n)
{
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    for (; i < n; i++)
        acc[0] += x[i];
    double s = 0;
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

static int histogram;
static uint64_t counts[256];

/* The kernel: a sum, or a 256-bin histogram over [0, 1) (values outside not counted). */
static double fold(const double *x, size_t n)
{
    if (!histogram) return sum8(x, n);
    for (size_t i = 0; i < n; i++)
        if (x[i] >= 0 && x[i] < 1) counts[(int)(x[i] * 256)]++;
    return 0;
}

static void inflate_into(z_stream *z, const void *in, size_t n, void *out, size_t cap)
{
    inflateReset(z);
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    if (inflate(z, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "mpisum: inflate failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 4 && argc != 5) {
        if (rank == 0) fprintf(stderr, "usage: mpisum MODE FILE DATASET [sum|histogram]\n");
        MPI_Finalize();
        return 2;
    }
    const char *mode = argv[1];
    histogram = argc == 5 && !strcmp(argv[4], "histogram");
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (!strncmp(mode, "mpio", 4)) H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, fapl);
    hid_t d = H5Dopen2(f, argv[3], H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 1}, cdims[2] = {0, 1};
    int nd = H5Sget_simple_extent_ndims(s);
    H5Sget_simple_extent_dims(s, dims, NULL);
    hsize_t cols = nd > 1 ? dims[1] : 1;
    hid_t dcpl = H5Dget_create_plist(d);
    int chunked = H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (chunked) H5Pget_chunk(dcpl, nd, cdims);
    double local = 0;

    if (!strcmp(mode, "zlib-scatter") || !strcmp(mode, "zlib-parallel")) {
        hsize_t crow = cdims[0], nchunks = (dims[0] + crow - 1) / crow;
        size_t cbytes = crow * cols * sizeof(double);
        unsigned char *raw = malloc(cbytes + cbytes / 16 + 1024);
        double *out = malloc(cbytes);
        z_stream z = {0};
        inflateInit(&z);
        if (!strcmp(mode, "zlib-parallel")) {
            for (hsize_t c = (hsize_t)rank; c < nchunks; c += (hsize_t)size) {
                hsize_t off[2] = {c * crow, 0}, nbytes = 0;
                uint32_t mask = 0;
                H5Dget_chunk_storage_size(d, off, &nbytes);
                H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw);
                inflate_into(&z, raw, nbytes, out, cbytes);
                hsize_t rows = dims[0] - off[0] < crow ? dims[0] - off[0] : crow;
                local += fold(out, rows * cols);
            }
        } else if (rank == 0) {
            for (hsize_t c = 0; c < nchunks; c++) {
                hsize_t off[2] = {c * crow, 0}, nbytes = 0;
                uint32_t mask = 0;
                H5Dget_chunk_storage_size(d, off, &nbytes);
                H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw);
                MPI_Send(raw, (int)nbytes, MPI_BYTE, 1 + (int)(c % (hsize_t)(size - 1)), (int)(c % 30000),
                         MPI_COMM_WORLD);
            }
        } else {
            for (hsize_t c = (hsize_t)rank - 1; c < nchunks; c += (hsize_t)(size - 1)) {
                MPI_Status ms;
                int n;
                MPI_Recv(raw, (int)(cbytes + cbytes / 16 + 1024), MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &ms);
                MPI_Get_count(&ms, MPI_BYTE, &n);
                inflate_into(&z, raw, (size_t)n, out, cbytes);
                hsize_t rows = dims[0] - c * crow < crow ? dims[0] - c * crow : crow;
                local += fold(out, rows * cols);
            }
        }
        inflateEnd(&z);
        free(raw);
        free(out);
    } else {
        /* 4 MiB blocks, or whole chunks when chunked. */
        hsize_t per = (4u << 20) / 8 / cols;
        if (per == 0) per = 1;
        if (chunked) per = (per + cdims[0] - 1) / cdims[0] * cdims[0];
        hsize_t nblocks = (dims[0] + per - 1) / per;
        double *buf = malloc(per * cols * sizeof *buf);
        hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (!strcmp(mode, "mpio-coll")) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
        int scatter = !strcmp(mode, "scatter") && size > 1;
        hsize_t lo = 0, hi = nblocks, calls = nblocks;
        if (!scatter) {
            lo = nblocks * (hsize_t)rank / (hsize_t)size;
            hi = nblocks * (hsize_t)(rank + 1) / (hsize_t)size;
            calls = (nblocks + (hsize_t)size - 1) / (hsize_t)size;
        }
        if (!scatter || rank == 0) {
            for (hsize_t k = 0; k < calls; k++) {
                hsize_t b = lo + k;
                hsize_t start[2] = {b * per, 0}, count[2] = {0, cols};
                if (b < hi) count[0] = dims[0] - start[0] < per ? dims[0] - start[0] : per;
                hid_t m = H5Screate_simple(nd, count, NULL);
                if (count[0] > 0) {
                    H5Sselect_hyperslab(s, H5S_SELECT_SET, start, NULL, count, NULL);
                } else {
                    H5Sselect_none(s);
                    H5Sselect_none(m);
                }
                H5Dread(d, H5T_NATIVE_DOUBLE, m, s, dxpl, buf);
                H5Sclose(m);
                if (scatter)
                    MPI_Send(buf, (int)(count[0] * cols * 8), MPI_BYTE, 1 + (int)(b % (hsize_t)(size - 1)), 0,
                             MPI_COMM_WORLD);
                else
                    local += fold(buf, count[0] * cols);
            }
        } else {
            for (hsize_t b = (hsize_t)rank - 1; b < nblocks; b += (hsize_t)(size - 1)) {
                MPI_Status ms;
                int n;
                MPI_Recv(buf, (int)(per * cols * 8), MPI_BYTE, 0, 0, MPI_COMM_WORLD, &ms);
                MPI_Get_count(&ms, MPI_BYTE, &n);
                local += fold(buf, (size_t)n / 8);
            }
        }
        H5Pclose(dxpl);
        free(buf);
    }
    double total = 0;
    MPI_Reduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (histogram) {
        uint64_t all[256];
        MPI_Reduce(counts, all, 256, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        total = 0;
        for (int b = 0; b < 256; b++)
            total += (double)all[b];
    }
    double t = MPI_Wtime() - t0;
    if (rank == 0) printf("%.6f %llu %.17g\n", t, (unsigned long long)(dims[0] * cols * 8), total);
    H5Pclose(dcpl);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    H5Pclose(fapl);
    MPI_Finalize();
    return 0;
}
