/* corrupt_chunk FILE DATASET K: overwrite the middle of stored chunk number K (in the
 * order HDF5 lists them) with garbage, so that inflating it fails.  For fault tests. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: corrupt_chunk FILE DATASET K\n");
        return 2;
    }
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, argv[2], H5P_DEFAULT) : -1;
    hid_t s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t nchunks = 0, offset[32];
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    unsigned mask = 0;
    if (s < 0 || H5Dget_num_chunks(d, s, &nchunks) < 0 || (hsize_t)atoll(argv[3]) >= nchunks ||
        H5Dget_chunk_info(d, s, (hsize_t)atoll(argv[3]), offset, &mask, &addr, &size) < 0) {
        fprintf(stderr, "corrupt_chunk: no chunk %s in %s %s\n", argv[3], argv[1], argv[2]);
        return 1;
    }
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    FILE *fp = fopen(argv[1], "r+b");
    if (!fp || fseek(fp, (long)(addr + size / 4), SEEK_SET) != 0) return 1;
    for (hsize_t i = 0; i < size / 2; i++)
        fputc((int)((i * 2654435761u) >> 13) & 0xff, fp);
    fclose(fp);
    printf("chunk %s at byte %llu, %llu bytes\n", argv[3], (unsigned long long)addr, (unsigned long long)size);
    return 0;
}
