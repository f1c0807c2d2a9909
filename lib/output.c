/* output.c: the result as an HDF5 file (--output), written atomically by rank 0. */
#include "internal.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static herr_t set_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, strlen(value) + 1) >= 0 &&
        (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = H5Awrite(a, t, value);
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return rc;
}

static herr_t set_attr(hid_t obj, const char *name, hid_t type, const void *value)
{
    hid_t sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    herr_t rc = -1;
    if (sp >= 0 && (a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0) rc = H5Awrite(a, type, value);
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

/* One field as one dataset; an integer field with nulls becomes float64 with NaN. */
static herr_t write_field(hid_t group, const h5mr_field *f)
{
    hsize_t dims[H5MR__MAX_DIMS];
    for (int d = 0; d < f->ndims; d++)
        dims[d] = f->shape[d];
    hid_t sp = f->ndims ? H5Screate_simple(f->ndims, dims, NULL) : H5Screate(H5S_SCALAR);
    int nulls = 0;
    for (uint64_t i = 0; f->valid && i < f->nelems; i++)
        nulls |= !f->valid[i];
    hid_t type = f->type == H5MR_FIELD_I64 && !nulls ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    const void *data = f->data;
    double *conv = NULL;
    if (f->type == H5MR_FIELD_I64 && nulls) {
        if (!(conv = malloc(f->nelems * sizeof *conv + 8))) {
            H5Sclose(sp);
            return -1;
        }
        for (uint64_t i = 0; i < f->nelems; i++)
            conv[i] = f->valid[i] ? (double)((const int64_t *)f->data)[i] : NAN;
        data = conv;
    }
    herr_t rc = -1;
    hid_t d = sp >= 0 ? H5Dcreate2(group, f->name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (d >= 0) rc = f->nelems ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    free(conv);
    return rc;
}

h5mr_status h5mr__output_check(const char *path, h5mr_error *err)
{
    char *copy = strdup(path);
    if (!copy) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    const char *dir = dirname(copy);
    h5mr_status st = H5MR_OK;
    if (access(dir, W_OK) != 0)
        st = h5mr__error_set(err, H5MR_EUSAGE, "cannot write --output '%s': folder '%s': %s", path, dir,
                             strerror(errno));
    free(copy);
    return st;
}

h5mr_status h5mr__output_write(const char *path, const h5mr_result *r, const h5mr_job_info *in, h5mr_error *err)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    /* A temporary name in the same folder, so the rename cannot cross file systems. */
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        h5mr_status st =
            h5mr__error_set(err, H5MR_EIO, "cannot create a file next to --output '%s': %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    /* mkstemp makes the file private; the result gets the usual permissions. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    close(fd);
    h5mr_status st = H5MR_OK;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), g = H5I_INVALID_HID;
    if (f < 0 || (g = H5Gcreate2(f, "/result", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EIO, "cannot create --output '%s'", path);
        goto out;
    }
    for (size_t i = 0; i < h5mr_result_count(r); i++) {
        if (write_field(g, h5mr_result_field(r, i)) < 0) {
            st = h5mr__hdf5_error(err, H5MR_EIO, "writing field %s to --output '%s'", h5mr_result_field(r, i)->name,
                                  path);
            goto out;
        }
    }
    int ranks = in->ranks;
    if (set_string_attr(g, "kernel", in->kernel) < 0 || set_string_attr(g, "input_file", in->file) < 0 ||
        set_string_attr(g, "input_dataset", in->dataset) < 0 || set_attr(g, "ranks", H5T_NATIVE_INT, &ranks) < 0 ||
        set_attr(g, "elapsed_s", H5T_NATIVE_DOUBLE, &in->elapsed_s) < 0)
        st = h5mr__hdf5_error(err, H5MR_EIO, "writing the attributes of --output '%s'", path);
out:
    if (g >= 0) H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0 && st == H5MR_OK) st = h5mr__hdf5_error(err, H5MR_EIO, "closing --output '%s'", path);
    if (st == H5MR_OK && rename(tmp, path) != 0)
        st = h5mr__error_set(err, H5MR_EIO, "cannot rename the result to --output '%s': %s", path, strerror(errno));
    if (st != H5MR_OK) unlink(tmp);
    free(tmp);
    return st;
}
