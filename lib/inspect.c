/* inspect.c: describing a dataset and the plan h5mr would use (`h5mr info`). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void describe(const h5mr__dset *d, h5mr_dataset_info *info)
{
    memset(info, 0, sizeof *info);
    info->dtype = d->desc.dtype;
    info->ndims = d->desc.ndims;
    memcpy(info->shape, d->desc.shape, sizeof info->shape);
    info->chunked = d->desc.chunked;
    const char *names[] = {"compact", "contiguous", "chunked", "virtual"};
    snprintf(info->layout, sizeof info->layout, "%s",
             d->desc.layout >= 0 && d->desc.layout < 4 ? names[d->desc.layout] : "unknown");
    memcpy(info->chunk, d->desc.chunk, sizeof info->chunk);
    hid_t dcpl = H5Dget_create_plist(d->dset);
    int nf = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
    info->nfilters = nf;
    for (int i = 0; i < nf && i < 8; i++) {
        unsigned flags = 0, conf = 0;
        size_t nelem = 0;
        char name[32] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelem, NULL, sizeof name, name, &conf);
        if (!name[0]) snprintf(name, sizeof name, "filter %d", (int)id);
        snprintf(info->filters[i], sizeof info->filters[i], "%s", name);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
}

static h5mr_status plan_of(h5mr_dataset_info *info, uint64_t chunk_rows, h5mr_error *err)
{
    uint64_t row = 1;
    for (int i = 1; i < info->ndims; i++)
        row *= info->shape[i];
    h5mr__plan p;
    h5mr_status st = h5mr__plan_make(info->shape[0], row, h5mr_dtype_size(info->dtype),
                                     info->chunked ? info->chunk[0] : 0, chunk_rows, &p, err);
    if (st != H5MR_OK) return st;
    info->chunk_rows = p.chunk_rows;
    info->items = p.items;
    info->item_bytes = p.chunk_rows * p.row_elems * p.elem_size;
    info->bytes = p.rows * p.row_elems * p.elem_size;
    return H5MR_OK;
}

h5mr_status h5mr_dataset_inspect(const char *file, const char *dataset, uint64_t chunk_rows, h5mr_dataset_info *info,
                                 h5mr_error *err)
{
    h5mr__dset d;
    h5mr_status st = h5mr__dset_open(file, dataset, &d, err);
    if (st != H5MR_OK) return st;
    describe(&d, info);
    h5mr__dset_close(&d);
    return plan_of(info, chunk_rows, err);
}

typedef struct visit {
    h5mr_dataset_fn fn;
    void *arg;
    const char *file;
    hid_t fid;
} visit;

/* An open dataset (reached by path, or through a link to `link`) and its plan, to fn;
 * closes it. */
static herr_t report(visit *v, const char *path, h5mr__dset *d, const char *link)
{
    h5mr_dataset_info info;
    h5mr_error e = {0};
    describe(d, &info);
    h5mr__dset_close(d);
    snprintf(info.link, sizeof info.link, "%s", link);
    h5mr_status st = plan_of(&info, 0, &e);
    return v->fn(path, st == H5MR_OK ? &info : NULL, st == H5MR_OK ? NULL : e.message, v->arg) ? 1 : 0;
}

static herr_t visit_cb(hid_t obj, const char *name, const H5O_info_t *oi, void *data)
{
    visit *v = data;
    if (oi->type != H5O_TYPE_DATASET) return 0;
    char path[1024];
    snprintf(path, sizeof path, "/%s", name);
    h5mr__dset d;
    h5mr_error e = {0};
    if (h5mr__dset_open(v->file, path, &d, &e) != H5MR_OK) return v->fn(path, NULL, e.message, v->arg) ? 1 : 0;
    return report(v, path, &d, "");
}

/* Soft and external links, after the objects: where they lead, and what h5mr reads
 * there (a dataset through a link runs as the dataset itself). */
static herr_t link_cb(hid_t group, const char *name, const H5L_info_t *li, void *data)
{
    visit *v = data;
    if (li->type != H5L_TYPE_SOFT && li->type != H5L_TYPE_EXTERNAL) return 0;
    char val[1024] = "", target[1200] = "", path[1024];
    snprintf(path, sizeof path, "/%s", name);
    if (li->u.val_size > sizeof val || H5Lget_val(group, name, val, sizeof val, H5P_DEFAULT) < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    if (li->type == H5L_TYPE_SOFT) {
        snprintf(target, sizeof target, "%s", val);
    } else {
        const char *f = NULL, *o = NULL;
        if (H5Lunpack_elink_val(val, li->u.val_size, NULL, &f, &o) >= 0) snprintf(target, sizeof target, "%s:%s", f, o);
        H5Eclear2(H5E_DEFAULT);
    }
    h5mr__dset d;
    h5mr_error e = {0};
    if (h5mr__dset_open(v->file, path, &d, &e) != H5MR_OK) {
        char why[1500];
        snprintf(why, sizeof why, "a %s link to '%s': %s", li->type == H5L_TYPE_SOFT ? "soft" : "external", target,
                 strstr(e.message, "has no dataset") ? "nothing there" : e.message);
        return v->fn(path, NULL, why, v->arg) ? 1 : 0;
    }
    return report(v, path, &d, target);
}

h5mr_status h5mr_file_datasets(const char *file, h5mr_dataset_fn fn, void *arg, h5mr_error *err)
{
    h5mr__dset d;
    /* Opening "/" checks the file the same way a run does (missing, unreadable, not
     * HDF5), then stops at "it is a group", which is what we want here. */
    h5mr_error e = {0};
    h5mr_status st = h5mr__dset_open(file, "/", &d, &e);
    if (st == H5MR_OK) h5mr__dset_close(&d);
    if (st != H5MR_OK && !strstr(e.message, "is a group")) {
        if (err) *err = e;
        return st;
    }
    visit v = {fn, arg, file, H5I_INVALID_HID};
    if ((v.fid = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return h5mr__hdf5_error(err, H5MR_EINPUT, "cannot open HDF5 file '%s'", file);
    herr_t rc = H5Ovisit2(v.fid, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v, H5O_INFO_BASIC);
    if (rc >= 0) rc = H5Lvisit(v.fid, H5_INDEX_NAME, H5_ITER_INC, link_cb, &v);
    H5Fclose(v.fid);
    if (rc < 0) return h5mr__hdf5_error(err, H5MR_EINPUT, "cannot list the objects of '%s'", file);
    return H5MR_OK;
}

h5mr_status h5mr_files_inspect(const char *const *files, size_t nfiles, const char *dataset, uint64_t chunk_rows,
                               int raw, h5mr_dataset_info *info, h5mr_file_rows_fn fn, void *arg, h5mr_error *err)
{
    h5mr_error local = {0};
    if (!err) err = &local;
    h5mr__inputs in = {0};
    h5mr__sel sel;
    h5mr__files fs;
    h5mr__fdesc *fd = NULL;
    h5mr__part *parts = NULL;
    h5mr__plan plan;
    h5mr__dset_desc desc;
    h5mr_status st = H5MR_OK;
    memset(info, 0, sizeof *info);
    if (!(in.args = calloc(nfiles ? nfiles : 1, sizeof *in.args))) return H5MR_ENOMEM;
    for (size_t i = 0; i < nfiles; i++)
        in.args[in.nargs++].name = (char *)files[i];
    in.given = (char *)dataset;
    if ((st = h5mr__sel_split(dataset, &in.dataset, &in.selection)) != H5MR_OK) goto out;
    if ((st = h5mr__inputs_expand(&in, err)) != H5MR_OK) goto out;
    if ((st = h5mr__sel_parse(in.selection, &sel, err)) != H5MR_OK) goto out;
    h5mr__files_init(&fs, &in);
    if (!(fd = calloc(in.nnames, sizeof *fd))) st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    for (size_t i = 0; st == H5MR_OK && i < in.nnames; i++)
        st = h5mr__describe_file(&fs, i, &fd[i], err);
    /* The first file's storage, as `info FILE DATASET` describes it. */
    h5mr__dset *d = NULL;
    if (st == H5MR_OK && (st = h5mr__files_get(&fs, 0, &d, err)) == H5MR_OK) describe(d, info);
    h5mr__files_close(&fs);
    if (st != H5MR_OK) goto out;
    h5mr__plan_req req = {
        .dataset = in.dataset, .sel = &sel, .seltext = in.selection, .raw_cf = raw, .chunk_rows = chunk_rows};
    if ((st = h5mr__plan_input(fd, in.nnames, (const char *const *)in.names, &req, &plan, &parts, &desc, err)) !=
        H5MR_OK)
        goto out;
    info->ndims = h5mr__view_shape(&plan.view, info->shape);
    info->chunk_rows = plan.chunk_rows;
    info->items = plan.items;
    info->item_bytes = plan.chunk_rows * plan.row_elems * plan.elem_size;
    info->bytes = plan.rows * plan.row_elems * plan.elem_size;
    info->files = in.nnames;
    FILE *f = fmemopen(info->cf, sizeof info->cf - 1, "w");
    if (f) {
        h5mr__cf_json(f, raw ? &(h5mr__cf){0} : plan.nparts ? &parts[0].cf : &fd[0].cf);
        fclose(f);
    }
    for (size_t i = 0; fn && i < in.nnames; i++)
        if (fn(in.names[i], fd[i].desc.shape[0], arg)) break;
out:
    free(parts);
    free(fd);
    free(in.args);
    free(in.dataset);
    free(in.selection);
    free(in.names_buf);
    free(in.names);
    return st;
}
