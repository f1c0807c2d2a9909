/* io.c: opening the input dataset read-only and reading whole rows of it. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static h5mr_status check_file(const char *file, h5mr_error *err)
{
    struct stat st;
    if (stat(file, &st) != 0) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': %s", file, strerror(errno));
    if (S_ISDIR(st.st_mode)) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': it is a directory", file);
    FILE *f = fopen(file, "rb");
    if (!f) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': %s", file, strerror(errno));
    fclose(f);
    htri_t is = H5Fis_hdf5(file);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0) return h5mr__error_set(err, H5MR_EINPUT, "'%s' is not an HDF5 file", file);
    return H5MR_OK;
}

h5mr_status h5mr__dset_open(const char *file, const char *dataset, h5mr__dset *d, h5mr_error *err)
{
    h5mr__hdf5_quiet();
    memset(d, 0, sizeof *d);
    d->file = d->dset = d->space = H5I_INVALID_HID;
    hid_t type = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    h5mr_status st = check_file(file, err);
    if (st != H5MR_OK) return st;

    if ((d->file = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot open HDF5 file '%s'", file);
        goto out;
    }
    /* H5Oexists_by_name fails (rather than saying no) when a group on the path is
     * missing: both mean "no such dataset" here. */
    htri_t exists = strcmp(dataset, "/") == 0 ? 1 : H5Oexists_by_name(d->file, dataset, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    if (exists <= 0) {
        st = h5mr__error_set(err, H5MR_EINPUT, "'%s' has no dataset '%s'", file, dataset);
        goto out;
    }
    H5O_info_t oi;
    if (H5Oget_info_by_name2(d->file, dataset, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot inspect '%s' in '%s'", dataset, file);
        goto out;
    }
    if (oi.type != H5O_TYPE_DATASET) {
        st = h5mr__error_set(err, H5MR_EINPUT, "'%s' in '%s' is a %s, not a dataset", dataset, file,
                             oi.type == H5O_TYPE_GROUP ? "group" : "named datatype");
        goto out;
    }
    if ((d->dset = H5Dopen2(d->file, dataset, H5P_DEFAULT)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot open dataset '%s' in '%s'", dataset, file);
        goto out;
    }
    if ((type = H5Dget_type(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the type of '%s' in '%s'", dataset, file);
        goto out;
    }
    char why[96];
    if (h5mr__dtype_from_hdf5(type, &d->desc.dtype, why, sizeof why) != H5MR_OK) {
        st = h5mr__error_set(err, H5MR_EINPUT,
                             "dataset '%s' in '%s' has an unsupported type (%s); h5mr reads i8..i64, u8..u64, f32, f64",
                             dataset, file, why);
        goto out;
    }
    d->memtype = h5mr__dtype_to_hdf5(d->desc.dtype);
    if ((d->space = H5Dget_space(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the shape of '%s' in '%s'", dataset, file);
        goto out;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(d->space);
    int nd = H5Sget_simple_extent_ndims(d->space);
    if (sc != H5S_SIMPLE || nd < 1) {
        st = h5mr__error_set(err, H5MR_EINPUT, "dataset '%s' in '%s' is %s; h5mr needs a dataset of rank 1 or more",
                             dataset, file, sc == H5S_NULL ? "empty (null dataspace)" : "a scalar");
        goto out;
    }
    hsize_t dims[H5MR__MAX_DIMS];
    H5Sget_simple_extent_dims(d->space, dims, NULL);
    d->desc.ndims = nd;
    for (int i = 0; i < nd; i++)
        d->desc.shape[i] = dims[i];

    if ((dcpl = H5Dget_create_plist(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the storage layout of '%s' in '%s'", dataset, file);
        goto out;
    }
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t cd[H5MR__MAX_DIMS];
        d->desc.chunked = 1;
        H5Pget_chunk(dcpl, nd, cd);
        for (int i = 0; i < nd; i++)
            d->desc.chunk[i] = cd[i];
        d->desc.nfilters = H5Pget_nfilters(dcpl);
        d->desc.nraw = h5mr__raw_filters(dcpl, type, d->memtype, d->desc.raw, &d->desc.shuffle_size);
    }
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (st != H5MR_OK) h5mr__dset_close(d);
    return st;
}

h5mr_status h5mr__dset_read_rows(h5mr__dset *d, uint64_t first, uint64_t n, void *buf, h5mr_error *err)
{
    hsize_t start[H5MR__MAX_DIMS] = {0}, count[H5MR__MAX_DIMS];
    uint64_t elems = n;
    count[0] = n;
    start[0] = first;
    for (int i = 1; i < d->desc.ndims; i++) {
        count[i] = d->desc.shape[i];
        elems *= count[i];
    }
    if (elems == 0) return H5MR_OK;
    /* The memory space has the shape of the selection: a flat one of the same size
     * makes HDF5 take a slow element-by-element path (see NOTES.md). */
    hid_t mem = H5Screate_simple(d->desc.ndims, count, NULL);
    if (mem < 0) return h5mr__hdf5_error(err, H5MR_EIO, "cannot make a memory dataspace");
    h5mr_status st = H5MR_OK;
    if (H5Sselect_hyperslab(d->space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(d->dset, d->memtype, mem, d->space, H5P_DEFAULT, buf) < 0)
        st = h5mr__hdf5_error(err, H5MR_EIO, "reading rows %llu..%llu failed", (unsigned long long)first,
                              (unsigned long long)(first + n - 1));
    H5Sclose(mem);
    return st;
}

void h5mr__dset_close(h5mr__dset *d)
{
    if (d->space >= 0) H5Sclose(d->space);
    if (d->dset >= 0) H5Dclose(d->dset);
    if (d->file >= 0) H5Fclose(d->file);
    d->space = d->dset = d->file = H5I_INVALID_HID;
}
