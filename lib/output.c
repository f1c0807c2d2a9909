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

/* A UTF-8 variable-length string, as h5py and netCDF-4 write them. */
static herr_t set_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR), a = H5I_INVALID_HID;
    herr_t rc = -1;
    if (t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0 &&
        (a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0)
        rc = H5Awrite(a, t, &value);
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

void h5mr__output_temporaries_remove(void) { atomic_remove_temporaries(); }

h5mr_status h5mr__output_attrs(hid_t obj, const h5mr_job_info *in, const char *params, int elapsed, h5mr_error *err)
{
    if (!in)
        return set_string_attr(obj, "h5mr_version", h5mr_version()) < 0
                   ? h5mr__hdf5_error(err, H5MR_EIO, "writing the attributes of the output")
                   : H5MR_OK;
    int ranks = in->ranks;
    uint64_t files = in->files;
    if (set_string_attr(obj, "kernel", in->kernel) < 0 || set_string_attr(obj, "input_file", in->file) < 0 ||
        set_attr(obj, "files", H5T_NATIVE_UINT64, &files) < 0 ||
        (in->selection && set_string_attr(obj, "input_selection", in->selection) < 0) ||
        (in->cf && set_string_attr(obj, "cf", in->cf) < 0) || set_string_attr(obj, "input_dataset", in->dataset) < 0 ||
        set_attr(obj, "ranks", H5T_NATIVE_INT, &ranks) < 0 ||
        (elapsed && set_attr(obj, "elapsed_s", H5T_NATIVE_DOUBLE, &in->elapsed_s) < 0) ||
        set_string_attr(obj, "h5mr_version", h5mr_version()) < 0 || set_string_attr(obj, "params", params) < 0)
        return h5mr__hdf5_error(err, H5MR_EIO, "writing the attributes of the output");
    return H5MR_OK;
}

/* Did h5mr write this file?  It has a group at the root holding h5mr's attributes (a
 * result), or its root says so (a map's output). */
static int written_by_h5mr(const char *path)
{
    if (H5Fis_hdf5(path) <= 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), g = H5I_INVALID_HID;
    int yes = 0;
    if (f >= 0 && H5Aexists(f, "h5mr_version") > 0)
        yes = 1;
    else if (f >= 0 && H5Lexists(f, "/result", H5P_DEFAULT) > 0 && (g = H5Gopen2(f, "/result", H5P_DEFAULT)) >= 0)
        yes = H5Aexists(g, "kernel") > 0 && H5Aexists(g, "input_dataset") > 0;
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return yes;
}

/* Does OBJECT exist in FILE (every step of its path)?  -1: FILE cannot be opened. */
static int object_exists(const char *path, const char *object)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    int yes = 1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", object);
    for (char *q = buf + 1; yes && q;) {
        q = strchr(q, '/');
        if (q) *q = '\0';
        yes = H5Lexists(f, buf, H5P_DEFAULT) > 0;
        if (q) *q++ = '/';
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return yes;
}

h5mr_status h5mr__output_check(const char *path, const char *object, const char *const *inputs, size_t ninputs,
                               int force, char *resolved, size_t rlen, int *exists_out, int *obj_exists,
                               h5mr_error *err)
{
    *exists_out = *obj_exists = 0;
    if (object && (object[0] != '/' || !object[1] || strlen(object) >= 1024 || object[strlen(object) - 1] == '/'))
        return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s:%s': '%s' is not a path in the file (/GROUP, /DATASET)",
                               path, object, object);
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
    if (exists && object) {
        /* The file stays; the object is added to it, or replaced with --force. */
        if (access(target, R_OK) != 0 || H5Fis_hdf5(target) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return h5mr__error_set(
                err, H5MR_EUSAGE, "--output '%s' is not an HDF5 file h5mr can read; cannot add %s to it", path, object);
        }
        int e2 = object_exists(target, object);
        if (e2 < 0)
            return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' cannot be opened as HDF5; cannot add %s to it",
                                   path, object);
        if (e2 && !force)
            return h5mr__error_set(err, H5MR_EUSAGE, "--output '%s' has %s already; not replacing it (--force does)",
                                   path, object);
        *obj_exists = e2;
    } else if (exists && !force && !written_by_h5mr(target)) {
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "--output '%s' exists and was not written by h5mr; not replacing it (--force does, or "
                               "FILE:/NAME adds to it)",
                               path);
    }
    *exists_out = exists;
    if (resolved) snprintf(resolved, rlen, "%s", target);
    return H5MR_OK;
}

/* The result file as an image in memory. */
/* The result's fields and attributes in group g. */
static h5mr_status fill_group(hid_t g, const char *path, const h5mr_result *r, const h5mr_job_info *in,
                              const char *params, h5mr_error *err)
{
    for (size_t i = 0; i < h5mr_result_count(r); i++)
        if (write_field(g, h5mr_result_field(r, i)) < 0)
            return h5mr__hdf5_error(err, H5MR_EIO, "writing field %s to --output '%s'", h5mr_result_field(r, i)->name,
                                    path);
    return h5mr__output_attrs(g, in, params, 1, err);
}

static h5mr_status build_image(const char *path, const char *group, const h5mr_result *r, const h5mr_job_info *in,
                               const char *params, void **image, size_t *size, h5mr_error *err)
{
    *image = NULL;
    *size = 0;
    h5mr_status st = H5MR_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = H5I_INVALID_HID, g = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    if (fapl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 ||
        (f = H5Fcreate("h5mr-result", H5F_ACC_TRUNC, H5P_DEFAULT, fapl)) < 0 ||
        (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        (g = H5Gcreate2(f, group, lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EIO, "cannot create --output '%s'", path);
        goto out;
    }
    if (strcmp(group, "/result") != 0 && (st = h5mr__output_attrs(f, NULL, NULL, 0, err)) != H5MR_OK) goto out;
    if ((st = fill_group(g, path, r, in, params, err)) != H5MR_OK) goto out;
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
    if (lcpl >= 0) H5Pclose(lcpl);
    if (f >= 0 && H5Fclose(f) < 0 && st == H5MR_OK)
        st = h5mr__hdf5_error(err, H5MR_EIO, "building --output '%s'", path);
    if (fapl >= 0) H5Pclose(fapl);
    if (st != H5MR_OK) {
        free(*image);
        *image = NULL;
    }
    return st;
}

/* Group `object` added to a copy of the existing file at path (any object of that
 * name removed first: --force was checked), the copy renamed over it. */
static h5mr_status write_into(const char *path, const char *object, const h5mr_result *r, const h5mr_job_info *in,
                              const char *params, h5mr_error *err)
{
    atomic_file a;
    const char *what = "";
    int e = atomic_begin(&a, path, 1, &what);
    if (e == 0 && (e = atomic_copy_existing(&a, path)) != 0) {
        what = "copying it";
        atomic_abort(&a);
    }
    if (e) return h5mr__error_set(err, H5MR_EIO, "cannot write --output '%s': %s: %s", path, what, strerror(e));
    h5mr_status st = H5MR_OK;
    hid_t f = H5Fopen(a.path, H5F_ACC_RDWR, H5P_DEFAULT), lcpl = H5Pcreate(H5P_LINK_CREATE), g = H5I_INVALID_HID;
    if (f < 0 || lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 ||
        (H5Lexists(f, object, H5P_DEFAULT) > 0 && H5Ldelete(f, object, H5P_DEFAULT) < 0) ||
        (g = H5Gcreate2(f, object, lcpl, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        st = h5mr__hdf5_error(err, H5MR_EIO, "cannot add %s to --output '%s'", object, path);
    else
        st = fill_group(g, path, r, in, params, err);
    if (g >= 0) H5Gclose(g);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (f >= 0 && H5Fclose(f) < 0 && st == H5MR_OK) st = h5mr__hdf5_error(err, H5MR_EIO, "writing --output '%s'", path);
    if (st != H5MR_OK) {
        atomic_abort(&a);
        return st;
    }
    if ((e = atomic_commit(&a, &what)) != 0)
        return h5mr__error_set(err, H5MR_EIO, "cannot write --output '%s': %s: %s", path, what, strerror(e));
    return H5MR_OK;
}

h5mr_status h5mr__output_write(const char *path, const char *object, int into_existing, const h5mr_result *r,
                               const h5mr_job_info *in, const char *params, h5mr_error *err)
{
    if (into_existing) return write_into(path, object, r, in, params, err);
    void *image = NULL;
    size_t size = 0;
    h5mr_status st = build_image(path, object ? object : "/result", r, in, params, &image, &size, err);
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
