/* make_odd FILE: datasets h5mr must refuse, for the error tests: strings, compound,
 * enum, array, variable-length, float16, a scalar, a null dataspace, a group, a
 * named datatype, /lzf (chunks through filter 32000, "lzf", which the reading HDF5 does
 * not have: written here with a stand-in that copies); and good ones: /ok, /u64big (2x3
 * u64 values past 2^63, for exact printing), /compact and /virtual (layouts).
 * make_odd --hold FILE SECONDS: keep FILE open for writing (HDF5 locks it) that long. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void make(hid_t f, const char *name, hid_t type, hid_t space)
{
    hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0)
        H5Dclose(d);
    else
        fprintf(stderr, "make_odd: cannot create %s\n", name);
}

/* The stand-in for lzf when writing: bytes unchanged. */
static size_t copy_filter(unsigned flags, size_t ncd, const unsigned cd[], size_t nbytes, size_t *buf_size, void **buf)
{
    (void)flags, (void)ncd, (void)cd, (void)buf_size, (void)buf;
    return nbytes;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--hold")) {
        hid_t f = H5Fopen(argv[2], H5F_ACC_RDWR, H5P_DEFAULT);
        if (f < 0) return 1;
        printf("holding\n");
        fflush(stdout);
        sleep((unsigned)atoi(argv[3]));
        H5Fclose(f);
        return 0;
    }
    if (argc != 2) return 2;
    hid_t f = H5Fcreate(argv[1], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {4};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t s = H5Tcopy(H5T_C_S1);
    H5Tset_size(s, 8);
    make(f, "/string", s, sp);
    hid_t c = H5Tcreate(H5T_COMPOUND, 16);
    H5Tinsert(c, "a", 0, H5T_NATIVE_DOUBLE);
    H5Tinsert(c, "b", 8, H5T_NATIVE_DOUBLE);
    make(f, "/compound", c, sp);
    hid_t e = H5Tenum_create(H5T_NATIVE_INT);
    int v = 0;
    H5Tenum_insert(e, "zero", &v);
    make(f, "/enum", e, sp);
    hsize_t adims[1] = {3};
    hid_t a = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, adims);
    make(f, "/array", a, sp);
    hid_t vl = H5Tvlen_create(H5T_NATIVE_INT);
    make(f, "/vlen", vl, sp);
    hid_t h = H5Tcopy(H5T_IEEE_F32LE); /* IEEE half precision: 16 bits, 5 exponent, 10 mantissa */
    H5Tset_fields(h, 15, 10, 5, 0, 10);
    H5Tset_precision(h, 16);
    H5Tset_size(h, 2);
    H5Tset_ebias(h, 15);
    make(f, "/float16", h, sp);
    hid_t sc = H5Screate(H5S_SCALAR);
    make(f, "/scalar", H5T_NATIVE_DOUBLE, sc);
    hid_t nul = H5Screate(H5S_NULL);
    make(f, "/null", H5T_NATIVE_DOUBLE, nul);
    hid_t g = H5Gcreate2(f, "/group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    hid_t nt = H5Tcopy(H5T_NATIVE_INT);
    H5Tcommit2(f, "/named_type", nt, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    make(f, "/ok", H5T_NATIVE_DOUBLE, sp);
    /* a chunked dataset through a filter the reader lacks */
    const H5Z_class2_t lzf = {H5Z_CLASS_T_VERS, (H5Z_filter_t)32000, 1, 1, "lzf", NULL, NULL, copy_filter};
    H5Zregister(&lzf);
    hid_t zcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t zchunk[1] = {2};
    H5Pset_chunk(zcpl, 1, zchunk);
    H5Pset_filter(zcpl, (H5Z_filter_t)32000, H5Z_FLAG_MANDATORY, 0, NULL);
    hid_t zd = H5Dcreate2(f, "/lzf", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, zcpl, H5P_DEFAULT);
    double four[4] = {1, 2, 3, 4};
    H5Dwrite(zd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, four);
    H5Dclose(zd);
    H5Pclose(zcpl);
    H5Zunregister((H5Z_filter_t)32000);
    /* the other layouts */
    hid_t ccpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(ccpl, H5D_COMPACT);
    hid_t cd = H5Dcreate2(f, "/compact", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, ccpl, H5P_DEFAULT);
    H5Dwrite(cd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, four);
    H5Dclose(cd);
    H5Pclose(ccpl);
    hid_t vcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t vsrc = H5Screate_simple(1, dims, NULL);
    H5Pset_virtual(vcpl, vsrc, ".", "/compact", vsrc);
    hid_t vd = H5Dcreate2(f, "/virtual", H5T_NATIVE_DOUBLE, vsrc, H5P_DEFAULT, vcpl, H5P_DEFAULT);
    H5Dclose(vd);
    H5Sclose(vsrc);
    H5Pclose(vcpl);
    hsize_t udims[2] = {2, 3};
    hid_t usp = H5Screate_simple(2, udims, NULL);
    const unsigned long long u[6] = {18446744073709551615ULL, 9223372036854775808ULL, 5, 9223372036854775815ULL, 0,
                                     18446744073709551614ULL};
    hid_t ud = H5Dcreate2(f, "/u64big", H5T_NATIVE_UINT64, usp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ud, H5T_NATIVE_ULLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, u);
    H5Dclose(ud);
    H5Sclose(usp);
    /* Large shapes with nothing written (chunks are allocated on write only). */
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t wide[2] = {3, (hsize_t)1 << 29}, wchunk[2] = {1, (hsize_t)1 << 20};
    H5Pset_chunk(dcpl, 2, wchunk);
    hid_t wsp = H5Screate_simple(2, wide, NULL);
    hid_t d = H5Dcreate2(f, "/wide_rows", H5T_NATIVE_DOUBLE, wsp, H5P_DEFAULT, dcpl, H5P_DEFAULT); /* 4 GiB rows */
    H5Dclose(d);
    H5Sclose(wsp);
    hsize_t big[2] = {64, (hsize_t)1 << 24};
    wsp = H5Screate_simple(2, big, NULL);
    d = H5Dcreate2(f, "/big_rows", H5T_NATIVE_DOUBLE, wsp, H5P_DEFAULT, dcpl, H5P_DEFAULT); /* 128 MiB rows */
    H5Dclose(d);
    H5Sclose(wsp);
    H5Pclose(dcpl);
    H5Fclose(f);
    return 0;
}
