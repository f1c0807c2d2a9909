/* output.c: the result as an HDF5 file (--output), written atomically by rank 0.
 *
 * The file is built in memory (HDF5's core driver: a result is small) and its image
 * written with atomic.h, so a full disk or a signal can only hit our own write, fsync
 * and rename, each checked, and never leaves HDF5 with a half-closed file. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"

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
    int is_int = f->type == H5MR_FIELD_I64 || f->type == H5MR_FIELD_U64;
    hid_t type = !is_int || nulls            ? H5T_NATIVE_DOUBLE
                 : f->type == H5MR_FIELD_U64 ? H5T_NATIVE_UINT64
                                             : H5T_NATIVE_INT64;
    const void *data = f->data;
    double *conv = NULL;
    if (is_int && nulls) {
        if (!(conv = malloc(f->nelems * sizeof *conv + 8))) {
            H5Sclose(sp);
            return -1;
        }
        for (uint64_t i = 0; i < f->nelems; i++)
            conv[i] = !f->valid[i]                ? NAN
                      : f->type == H5MR_FIELD_U64 ? (double)((const uint64_t *)f->data)[i]
                                                  : (double)((const int64_t *)f->data)[i];
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

void h5mr_temporaries_remove(void) { atomic_remove_temporaries(); }

/* Did h5mr write this file?  It has a group at the root holding h5mr's attributes. */
static int written_by_h5mr(const char *path)
{
    if (H5Fis_hdf5(path) <= 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), g = H5I_INVALID_HID;
    int yes = 0;
    if (f >= 0 && H5Lexists(f, "/result", H5P_DEFAULT) > 0 && (g = H5Gopen2(f, "/result", H5P_DEFAULT)) >= 0)
        yes = H5Aexists(g, "kernel") > 0 && H5Aexists(g, "input_dataset") > 0;
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return yes;
}

h5mr_status h5mr__output_check(const char *path, const char *const *inputs, size_t ninputs, int force, char *resolved,
                               size_t rlen, h5mr_error *err)
{
    if (!path[0]) return h5mr__error_set(err, H5MR_EUSAGE, "--output is an empty name");
    size_t len = strlen(path);
    if (path[len - 1] == '/') return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' names a folder", path);
    /* A link is followed: the file it points to is replaced and the link kept. */
    char target[PATH_MAX];
    struct stat sb, lsb;
    int exists = stat(path, &sb) == 0;
    if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
        if (!exists)
            return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' is a link to nothing; give a file name", path);
        if (!realpath(path, target))
            return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s': %s", path, strerror(errno));
    } else if (len >= sizeof target) {
        return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s': the name is too long", path);
    } else {
        memcpy(target, path, len + 1);
    }
    if (exists && S_ISDIR(sb.st_mode)) return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' is a folder", path);
    if (exists && !S_ISREG(sb.st_mode))
        return h5mr__error_set(
            err, H5MR_EUSAGE, "--output '%s' is not a regular file (a device, pipe or socket); not replacing it", path);
    for (size_t i = 0; exists && i < ninputs; i++) {
        struct stat ib;
        if (inputs[i] && stat(inputs[i], &ib) == 0 && ib.st_dev == sb.st_dev && ib.st_ino == sb.st_ino)
            return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' is the input file '%s'; give another name", path,
                                   inputs[i]);
    }
    char dir[PATH_MAX];
    const char *base;
    int e = atomic_split(target, dir, sizeof dir, &base);
    if (e == ENAMETOOLONG)
        return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s': the name is too long (no room for a temporary name)",
                               path);
    struct stat db;
    if (stat(dir, &db) != 0)
        return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s': folder '%s' %s", path, dir,
                               errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISDIR(db.st_mode))
        return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s': '%s' is not a folder", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return h5mr__error_set(err, H5MR_EUSAGE, "cannot write --output '%s': folder '%s': %s", path, dir,
                               strerror(errno));
    if (exists && !force && !written_by_h5mr(target))
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "--output '%s' exists and was not written by h5mr; not replacing it (--force does)",
                               path);
    if (resolved) snprintf(resolved, rlen, "%s", target);
    return H5MR_OK;
}

/* The result file as an image in memory. */
static h5mr_status build_image(const char *path, const h5mr_result *r, const h5mr_job_info *in, const char *params,
                               void **image, size_t *size, h5mr_error *err)
{
    *image = NULL;
    *size = 0;
    h5mr_status st = H5MR_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID, g = H5I_INVALID_HID;
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 ||
        (f = H5Fcreate("h5mr-result", H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0 ||
        (g = H5Gcreate2(f, "/result", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
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
    uint64_t files = in->files;
    if (set_string_attr(g, "kernel", in->kernel) < 0 || set_string_attr(g, "input_file", in->file) < 0 ||
        set_attr(g, "files", H5T_NATIVE_UINT64, &files) < 0 ||
        (in->selection && set_string_attr(g, "input_selection", in->selection) < 0) ||
        (in->cf && set_string_attr(g, "cf", in->cf) < 0) || set_string_attr(g, "input_dataset", in->dataset) < 0 ||
        set_attr(g, "ranks", H5T_NATIVE_INT, &ranks) < 0 ||
        set_attr(g, "elapsed_s", H5T_NATIVE_DOUBLE, &in->elapsed_s) < 0 ||
        set_string_attr(g, "h5mr_version", h5mr_version()) < 0 || set_string_attr(g, "params", params) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EIO, "writing the attributes of --output '%s'", path);
        goto out;
    }
    H5Gclose(g);
    g = H5I_INVALID_HID;
    ssize_t n;
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0 || (n = H5Fget_file_image(f, NULL, 0)) <= 0) {
        st = h5mr__hdf5_error(err, H5MR_EIO, "building --output '%s'", path);
        goto out;
    }
    if (!(*image = malloc((size_t)n))) {
        st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory for --output '%s' (%zd bytes)", path, n);
        goto out;
    }
    if (H5Fget_file_image(f, *image, (size_t)n) != n) {
        st = h5mr__hdf5_error(err, H5MR_EIO, "building --output '%s'", path);
        goto out;
    }
    *size = (size_t)n;
out:
    if (g >= 0) H5Gclose(g);
    if (f >= 0 && H5Fclose(f) < 0 && st == H5MR_OK)
        st = h5mr__hdf5_error(err, H5MR_EIO, "building --output '%s'", path);
    if (fapl >= 0) H5Pclose(fapl);
    if (st != H5MR_OK) {
        free(*image);
        *image = NULL;
    }
    return st;
}

h5mr_status h5mr__output_write(const char *path, const h5mr_result *r, const h5mr_job_info *in, const char *params,
                               h5mr_error *err)
{
    void *image = NULL;
    size_t size = 0;
    h5mr_status st = build_image(path, r, in, params, &image, &size, err);
    if (st != H5MR_OK) return st;
    atomic_file a;
    const char *what = "";
    int e = atomic_begin(&a, path, 0, &what);
    if (e == 0 && (e = atomic_pwrite(&a, image, size, 0)) != 0) {
        what = "writing it";
        atomic_abort(&a);
    }
    if (e == 0) e = atomic_commit(&a, &what);
    free(image);
    if (e) return h5mr__error_set(err, H5MR_EIO, "cannot write --output '%s': %s: %s", path, what, strerror(e));
    return H5MR_OK;
}
