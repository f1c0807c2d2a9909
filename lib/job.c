/* job.c: a job's settings, and the orchestration of a run: plan (plan.c) → read and
 * send (scatter.c, parallel.c, read.c) → map (map.c) → reduce (reduce.c) → result
 * (the kernel's finish, output.c).  The steps get a narrow h5mr__run, never the job. */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *h5mr_schedule_name(h5mr_schedule s) { return s == H5MR_SCHEDULE_STATIC ? "static" : "dynamic"; }

h5mr_status h5mr_schedule_parse(const char *s, h5mr_schedule *out)
{
    if (s && !strcmp(s, "static"))
        *out = H5MR_SCHEDULE_STATIC;
    else if (s && !strcmp(s, "dynamic"))
        *out = H5MR_SCHEDULE_DYNAMIC;
    else
        return H5MR_EUSAGE;
    return H5MR_OK;
}

const char *h5mr_io_name(h5mr_io io)
{
    return io == H5MR_IO_PARALLEL ? "parallel" : io == H5MR_IO_AUTO ? "auto" : "scatter";
}

h5mr_status h5mr_io_parse(const char *s, h5mr_io *out)
{
    if (s && !strcmp(s, "scatter"))
        *out = H5MR_IO_SCATTER;
    else if (s && !strcmp(s, "parallel"))
        *out = H5MR_IO_PARALLEL;
    else if (s && !strcmp(s, "auto"))
        *out = H5MR_IO_AUTO;
    else
        return H5MR_EUSAGE;
    return H5MR_OK;
}

h5mr_status h5mr_job_create(MPI_Comm comm, h5mr_job **out, h5mr_error *err)
{
    *out = NULL;
    int init = 0;
    MPI_Initialized(&init);
    if (!init) return h5mr__error_set(err, H5MR_EUSAGE, "h5mr_job_create: MPI is not initialised");
    h5mr_job *job = calloc(1, sizeof *job);
    h5mr_status st = job ? H5MR_OK : h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    st = h5mr__agree(comm, st, err ? err : &(h5mr_error){0});
    if (st != H5MR_OK) {
        free(job);
        return st;
    }
    job->comm = MPI_COMM_NULL;
    /* Errors come back as codes on the library's communicator; every one is checked.
     * Every call is made whatever the one before returned (two are collective), and
     * the ranks agree on the outcome at the end. */
    h5mr_status mst = H5MR_OK;
    h5mr__mpi_note(&mst, err, MPI_Comm_dup(comm, &job->comm), "MPI_Comm_dup", __func__);
    h5mr__mpi_note(&mst, err, MPI_Comm_set_errhandler(job->comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
                   __func__);
    h5mr__mpi_note(&mst, err, MPI_Comm_rank(job->comm, &job->rank), "MPI_Comm_rank", __func__);
    h5mr__mpi_note(&mst, err, MPI_Comm_size(job->comm, &job->size), "MPI_Comm_size", __func__);
    /* H5MR_FORCE_NODES=1 makes a job behave as if its ranks were on several nodes (tests). */
    MPI_Comm node = MPI_COMM_NULL;
    int node_size = 0;
    h5mr__mpi_note(&mst, err, MPI_Comm_split_type(job->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node),
                   "MPI_Comm_split_type", __func__);
    if (node != MPI_COMM_NULL) {
        h5mr__mpi_note(&mst, err, MPI_Comm_size(node, &node_size), "MPI_Comm_size", __func__);
        MPI_Comm_free(&node);
    }
    /* Over the caller's communicator: a rank that failed here fails them all. */
    st = h5mr__agree(comm, mst, err ? err : &(h5mr_error){0});
    if (st != H5MR_OK) {
        MPI_Comm_free(&job->comm);
        free(job);
        return st;
    }
    const char *force = getenv("H5MR_FORCE_NODES");
    job->one_node = node_size == job->size && !(force && !strcmp(force, "1"));
    job->kernel = h5mr_kernel_find("stats");
    job->schedule = H5MR_SCHEDULE_DYNAMIC;
    job->io_req = H5MR_IO_AUTO;
    h5mr__hdf5_quiet();
    *out = job;
    return H5MR_OK;
}

static void clear_inputs(h5mr_job *job);

static void clear_run(h5mr_job *job)
{
    h5mr__result_free(job->result);
    job->result = NULL;
    free(job->parts);
    job->parts = NULL;
    job->plan.parts = NULL;
    job->plan.nparts = 0;
    free(job->cf_json);
    job->cf_json = NULL;
    free(job->per_rank);
    job->per_rank = NULL;
    free(job->kparams);
    job->kparams = NULL;
    memset(&job->mine, 0, sizeof job->mine);
    job->ran = 0;
}

void h5mr_job_free(h5mr_job *job)
{
    if (!job) return;
    clear_run(job);
    for (size_t i = 0; i < job->nparams; i++) {
        free(job->params[i].key);
        free(job->params[i].value);
    }
    free(job->params);
    free(job->file);
    free(job->dataset);
    clear_inputs(job);
    free(job->in.dataset);
    free(job->in.selection);
    free(job->output);
    free(job->out_object);
    free(job->ckpt_path);
    h5mr__ckpt_clear(&job->ckpt);
    MPI_Comm_free(&job->comm);
    free(job);
}

static void clear_inputs(h5mr_job *job)
{
    for (size_t i = 0; i < job->in.nargs; i++)
        free(job->in.args[i].name);
    free(job->in.args);
    free(job->in.names_buf);
    free(job->in.names);
    job->in.args = NULL;
    job->in.nargs = 0;
    job->in.names_buf = NULL;
    job->in.names = NULL;
    job->in.nnames = 0;
}

static h5mr_status add_arg(h5mr_job *job, const char *name, int list)
{
    if (!name) return H5MR_EUSAGE;
    h5mr__input_arg *a = realloc(job->in.args, (job->in.nargs + 1) * sizeof *a);
    if (!a) return H5MR_ENOMEM;
    job->in.args = a;
    if (!(a[job->in.nargs].name = strdup(name))) return H5MR_ENOMEM;
    a[job->in.nargs++].list = list;
    if (!job->file && !list && !(job->file = strdup(name))) return H5MR_ENOMEM;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_dataset(h5mr_job *job, const char *dataset)
{
    if (!dataset) return H5MR_EUSAGE;
    char *d = strdup(dataset), *name = NULL, *sel = NULL;
    if (!d || h5mr__sel_split(dataset, &name, &sel) != H5MR_OK) {
        free(d);
        return H5MR_ENOMEM;
    }
    free(job->dataset);
    free(job->in.dataset);
    free(job->in.selection);
    job->dataset = d;
    job->in.given = d;
    job->in.dataset = name;
    job->in.selection = sel;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_input(h5mr_job *job, const char *file, const char *dataset)
{
    if (!file || !dataset) return H5MR_EUSAGE;
    clear_inputs(job);
    free(job->file);
    job->file = NULL;
    h5mr_status st = add_arg(job, file, 0);
    return st == H5MR_OK ? h5mr_job_set_dataset(job, dataset) : st;
}

h5mr_status h5mr_job_add_file(h5mr_job *job, const char *file) { return add_arg(job, file, 0); }

h5mr_status h5mr_job_add_file_list(h5mr_job *job, const char *list) { return add_arg(job, list, 1); }

h5mr_status h5mr_job_set_raw(h5mr_job *job, int raw)
{
    job->raw_cf = raw != 0;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_companion(h5mr_job *job, h5mr_role role, const char *spec)
{
    if (role < H5MR_ROLE_MASK || role > H5MR_ROLE_WITH) return H5MR_EUSAGE;
    int at = job->ncomp;
    for (int i = 0; i < job->ncomp; i++)
        if (job->comp[i].role == (int32_t)role) at = i;
    if (!spec) {
        if (at < job->ncomp) {
            memmove(&job->comp[at], &job->comp[at + 1], (size_t)(job->ncomp - at - 1) * sizeof job->comp[0]);
            job->ncomp--;
        }
        return H5MR_OK;
    }
    h5mr__comp c = {.role = (int32_t)role};
    /* FILE:DATASET splits at the last ":/" (a dataset path from the root), or at a ':'
     * after an existing file; otherwise it is a dataset of the input files. */
    const char *cut = NULL;
    for (const char *q = strstr(spec, ":/"); q; q = strstr(q + 1, ":/"))
        cut = q;
    if (!cut) {
        const char *q = strrchr(spec, ':');
        struct stat sb;
        if (q && q > spec) {
            char f[sizeof c.file];
            snprintf(f, sizeof f, "%.*s", (int)(q - spec), spec);
            if (stat(f, &sb) == 0) cut = q;
        }
    }
    size_t flen = cut ? (size_t)(cut - spec) : 0;
    const char *ds = cut ? cut + 1 : spec;
    if (flen >= sizeof c.file || strlen(ds) >= sizeof c.dataset || !*ds || (cut && flen == 0)) return H5MR_EUSAGE;
    if (cut) {
        memcpy(c.file, spec, flen);
        c.own_file = 1;
    }
    memcpy(c.dataset, ds, strlen(ds) + 1);
    job->comp[at] = c;
    if (at == job->ncomp) job->ncomp++;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_kernel(h5mr_job *job, const char *name)
{
    const h5mr_kernel *k = h5mr_kernel_find(name);
    if (!k) return H5MR_EUSAGE;
    job->kernel = k;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_param(h5mr_job *job, const char *key, const char *value)
{
    if (!key || !key[0] || !value) return H5MR_EUSAGE;
    h5mr__kv *p = realloc(job->params, (job->nparams + 1) * sizeof *p);
    if (!p) return H5MR_ENOMEM;
    job->params = p;
    p[job->nparams].key = strdup(key);
    p[job->nparams].value = strdup(value);
    if (!p[job->nparams].key || !p[job->nparams].value) {
        free(p[job->nparams].key);
        free(p[job->nparams].value);
        return H5MR_ENOMEM;
    }
    job->nparams++;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_chunk_rows(h5mr_job *job, uint64_t rows)
{
    job->chunk_rows_req = rows;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_schedule(h5mr_job *job, h5mr_schedule s)
{
    if (s != H5MR_SCHEDULE_STATIC && s != H5MR_SCHEDULE_DYNAMIC) return H5MR_EUSAGE;
    job->schedule = s;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_io(h5mr_job *job, h5mr_io io)
{
    if (io != H5MR_IO_SCATTER && io != H5MR_IO_PARALLEL && io != H5MR_IO_AUTO) return H5MR_EUSAGE;
    job->io_req = io;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_output(h5mr_job *job, const char *path)
{
    /* FILE:/OBJECT splits at the last ":/". */
    const char *cut = NULL;
    for (const char *q = path ? strstr(path, ":/") : NULL; q; q = strstr(q + 1, ":/"))
        cut = q;
    if (cut && (cut == path || !cut[2])) return H5MR_EUSAGE; /* ":/x" or "f.h5:/" */
    char *p = NULL, *o = NULL;
    if (path && !(p = cut ? strndup(path, (size_t)(cut - path)) : strdup(path))) return H5MR_ENOMEM;
    if (cut && !(o = strdup(cut + 1))) {
        free(p);
        return H5MR_ENOMEM;
    }
    free(job->output);
    free(job->out_object);
    job->output = p;
    job->out_object = o;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_store(h5mr_job *job, const h5mr_store_opts *o)
{
    if (!o) {
        job->store_set = 0;
        return H5MR_OK;
    }
    if (o->gzip < -1 || o->gzip > 9 || o->chunk_ndims < 0 || o->chunk_ndims > H5MR__MAX_DIMS ||
        (o->dtype != -1 && (o->dtype < 0 || o->dtype >= H5MR_DTYPE_COUNT)))
        return H5MR_EUSAGE;
    for (int d = 0; d < o->chunk_ndims; d++)
        if (o->chunk[d] < 1) return H5MR_EUSAGE;
    job->store = *o;
    job->store_set = 1;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_checkpoint(h5mr_job *job, const char *path, double every_s, int resume)
{
    char *p = NULL;
    if (path && (!path[0] || !(p = strdup(path)))) return path[0] ? H5MR_ENOMEM : H5MR_EUSAGE;
    if (every_s != every_s || every_s > 1e9) {
        free(p);
        return H5MR_EUSAGE;
    }
    free(job->ckpt_path);
    job->ckpt_path = p;
    job->ckpt_every = every_s > 0 ? every_s : 30;
    job->ckpt_resume = resume != 0;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_force(h5mr_job *job, int force)
{
    job->force = force != 0;
    return H5MR_OK;
}

h5mr_status h5mr_job_set_progress(h5mr_job *job, h5mr_progress_fn fn, void *arg, double interval_s)
{
    if (interval_s < 0) return H5MR_EUSAGE;
    job->progress.fn = fn;
    job->progress.arg = arg;
    job->progress.every = interval_s;
    return H5MR_OK;
}

/* COLLECTIVE: the end of a step.  A failed MPI call of this rank (H5MR__MPI) counts
 * as its failure; all ranks agree on the first one. */
static h5mr_status step(h5mr_job *job, h5mr_status st, h5mr_error *err)
{
    if (st == H5MR_OK && job->run.comm_st != H5MR_OK) st = job->run.comm_st;
    return h5mr__agree(job->comm, st, err);
}

/* The parameters as a JSON object, for the output's attribute.  Caller frees. */
static char *params_json(const h5mr_job *job)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fputc('{', f);
    for (size_t i = 0; i < job->nparams; i++) {
        if (i) fputs(", ", f);
        h5mr_json_write_string(f, job->params[i].key);
        fputs(": ", f);
        h5mr_json_write_string(f, job->params[i].value);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Rank 0: may the output be written (checked before any data is read)? */
static h5mr_status check_output(h5mr_job *job, h5mr_error *err)
{
    if (!job->output) return H5MR_OK;
    char resolved[PATH_MAX];
    /* The input files and the companions' own files. */
    const char **names = malloc((job->in.nnames + H5MR__MAX_COMP + 1) * sizeof *names);
    if (!names) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < job->in.nnames; i++)
        names[n++] = job->in.names[i];
    for (int i = 0; i < job->ncomp; i++)
        if (job->comp[i].own_file) names[n++] = job->comp[i].file;
    h5mr_status st = h5mr__output_check(job->output, job->out_object, names, n, job->force, resolved, sizeof resolved,
                                        &job->out_exists, &job->out_obj_exists, err);
    free(names);
    char *r = st == H5MR_OK ? strdup(resolved) : NULL;
    if (st == H5MR_OK && !r) st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    if (r) {
        free(job->output);
        job->output = r;
    }
    return st;
}

/* -p axis=SET for a kernel that declares axis.  The kernel itself takes 0 (per pixel)
 * and none; every dimension is none; other sets the library runs the kernel over
 * (job->axes, *wrap set; see h5mr__axes): with the first dimension and a leading run
 * of the others (PIXELS) or a trailing run (CELLS), or without it a trailing run
 * (ROWS) or a leading run (ROWS_PIXELS).  The kernel then sees axis=0 or none.  Other
 * sets, out of range or repeated dimensions: EUSAGE. */
static h5mr_status axis_sets(h5mr_job *job, int *wrap, h5mr_error *err)
{
    *wrap = 0;
    job->ctx.params = job->params;
    job->ctx.nparams = job->nparams;
    const char *a = NULL;
    size_t at = 0;
    for (size_t i = 0; i < job->nparams; i++)
        if (!strcmp(job->params[i].key, "axis")) a = job->params[i].value, at = i;
    int declared = 0;
    for (const h5mr_param_decl *d = job->kernel->params; d && d->key; d++)
        declared |= !strcmp(d->key, "axis");
    if (!a || !declared || !strcmp(a, "none") || !strcmp(a, "0")) return H5MR_OK;
    int nd = job->kndims, seen[H5MR__MAX_DIMS] = {0}, n = 0;
    const uint64_t *d = job->kshape;
    snprintf(job->axis_given, sizeof job->axis_given, "%s", a);
    for (const char *p = a; *p;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ','))
            return h5mr__error_set(err, H5MR_EUSAGE,
                                   "kernel %s: axis=%s is not a list of dimensions (axis=0, axis=1,2, axis=-1)",
                                   job->kernel->name, a);
        if (v < -nd || v >= nd)
            return h5mr__error_set(err, H5MR_EUSAGE,
                                   "kernel %s: axis=%s: dimension %ld is out of range for %d dimensions",
                                   job->kernel->name, a, v, nd);
        if (v < 0) v += nd;
        if (seen[v]++)
            return h5mr__error_set(err, H5MR_EUSAGE, "kernel %s: axis=%s names dimension %ld twice", job->kernel->name,
                                   a, v);
        n++;
        p = *end ? end + 1 : end;
    }
    if (n == 1 && seen[0]) return H5MR_OK; /* the kernel's own axis=0 */
    /* The others (dimensions 1..nd-1) as a run: lo..hi-1 reduced, none before lo or none after. */
    int lo = 1, hi = nd;
    while (lo < nd && !seen[lo])
        lo++;
    while (hi > lo && !seen[hi - 1])
        hi--;
    int run = 1;
    for (int k = lo; k < hi; k++)
        run &= seen[k];
    h5mr__axes *ax = &job->axes;
    memset(ax, 0, sizeof *ax);
    int inner_axis0 = 0, ok = run && hi > lo;
    uint64_t before = 1, inside = 1;
    for (int k = 1; k < lo; k++)
        before *= d[k];
    for (int k = lo; k < hi; k++)
        inside *= d[k];
    if (n == nd) {
        ax->mode = -1;                     /* everything: none */
    } else if (ok && seen[0] && lo == 1) { /* axis=0,1: the kernel per pixel over rows of the rest */
        ax->mode = H5MR__AXES_PIXELS, ax->sub = inside, inner_axis0 = 1;
        ax->inner_ndims = nd - hi + 1;
        ax->inner_shape[0] = d[0] * inside;
        for (int k = hi; k < nd; k++)
            ax->inner_shape[k - hi + 1] = d[k];
    } else if (ok && seen[0] && hi == nd) { /* axis=0,2: a result per cell of the dimensions kept */
        ax->mode = H5MR__AXES_CELLS, ax->sub = before;
        ax->lead_ndims = lo - 1;
        for (int k = 1; k < lo; k++)
            ax->lead[k - 1] = d[k];
    } else if (ok && !seen[0] && hi == nd) { /* axis=2, axis=1,2: a result per sub-row */
        ax->mode = H5MR__AXES_ROWS, ax->sub = before;
        ax->lead_ndims = lo;
        for (int k = 0; k < lo; k++)
            ax->lead[k] = d[k];
    } else if (ok && !seen[0] && lo == 1) { /* axis=1: per row, the kernel per pixel over its sub-rows */
        ax->mode = H5MR__AXES_ROWS_PIXELS, ax->sub = inside, inner_axis0 = 1;
        ax->lead_ndims = 1;
        ax->lead[0] = d[0];
        ax->inner_ndims = nd - hi + 1;
        ax->inner_shape[0] = inside;
        for (int k = hi; k < nd; k++)
            ax->inner_shape[k - hi + 1] = d[k];
    } else {
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "kernel %s: axis=%s is not supported yet: the dimensions reduced besides 0 must be "
                               "consecutive and start at dimension 1 or end at the last",
                               job->kernel->name, a);
    }
    if (ax->mode == H5MR__AXES_ROWS || ax->mode == H5MR__AXES_CELLS) {
        ax->inner_ndims = nd - hi + (hi - lo);
        for (int k = lo; k < nd; k++)
            ax->inner_shape[k - lo] = d[k];
        ax->inner_ndims = nd - lo;
    }
    /* The kernel sees the parameters without axis, and axis=0 where it runs per pixel. */
    free(job->kparams);
    if (!(job->kparams = malloc((job->nparams + 1) * sizeof *job->kparams)))
        return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < job->nparams; i++)
        if (i != at) job->kparams[k++] = job->params[i];
    if (inner_axis0) job->kparams[k++] = (h5mr__kv){(char *)"axis", (char *)"0"};
    job->ctx.params = job->kparams;
    job->ctx.nparams = k;
    *wrap = ax->mode >= 0;
    return H5MR_OK;
}

/* Rank 0: cut the described files into items. */
static h5mr_status plan_on_root(h5mr_job *job, const h5mr__fdesc *files, h5mr_error *err)
{
    int *tag_ub = NULL, flag = 0;
    H5MR__MPI(&job->run, MPI_Comm_get_attr(job->comm, MPI_TAG_UB, &tag_ub, &flag));
    h5mr__plan_req req = {.dataset = job->in.dataset,
                          .sel = &job->sel,
                          .seltext = job->in.selection,
                          .raw_cf = job->raw_cf,
                          .chunk_rows = job->chunk_rows_req,
                          .tag_ub = flag && tag_ub ? *tag_ub : 0,
                          .align_rows =
                              job->writes && job->store_set && job->store.chunk_ndims > 0 ? job->store.chunk[0] : 0};
    job->run.first_desc = files[0].desc;
    h5mr_status st = h5mr__plan_input(files, job->in.nnames, (const char *const *)job->in.names, &req, &job->plan,
                                      &job->parts, &job->desc, err);
    if (st != H5MR_OK) return st;
    if (job->ncomp > 0) {
        int axis0 = 0;
        for (size_t i = 0; i < job->nparams; i++)
            axis0 |= !strcmp(job->params[i].key, "axis") && strcmp(job->params[i].value, "none") != 0;
        for (int i = 0; i < job->ncomp; i++)
            job->comp[i].raw_cf = job->raw_cf;
        st = h5mr__comp_plan(job->comp, job->ncomp, &job->desc, &files[0].desc, job->in.names[0], job->in.dataset,
                             &job->plan.view, axis0, err);
        if (st != H5MR_OK) return st;
        /* A missing companion value makes the element missing (NaN): the values the
         * kernel sees are float. */
        if (job->plan.cf_mode == 0) {
            int f = h5mr_dtype_is_float(job->desc.dtype);
            job->plan.cf_mode = f ? 1 : 2;
            job->plan.kdtype = f ? job->desc.dtype : H5MR_DTYPE_F64;
            job->cf_forced = !f;
        }
    }
    /* What CF applied, for the JSON and the summary: the first file's. */
    const h5mr__cf none = {0};
    const h5mr__cf *cf = job->raw_cf ? &none : job->plan.nparts ? &job->parts[0].cf : &files[0].cf;
    size_t len = 0;
    FILE *f = open_memstream(&job->cf_json, &len);
    if (!f) return h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    h5mr__cf_json(f, cf);
    return fclose(f) == 0 ? H5MR_OK : h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
}

/* The plan, the description and the parts from rank 0 to every rank. */
static h5mr_status share_plan(h5mr_job *job, h5mr_error *err)
{
    h5mr__run *run = &job->run;
    H5MR__MPI(run, MPI_Bcast(&job->desc, (int)sizeof job->desc, MPI_BYTE, 0, job->comm));
    H5MR__MPI(run, MPI_Bcast(&run->first_desc, (int)sizeof run->first_desc, MPI_BYTE, 0, job->comm));
    H5MR__MPI(run, MPI_Bcast(&job->plan, (int)sizeof job->plan, MPI_BYTE, 0, job->comm));
    H5MR__MPI(run, MPI_Bcast(job->comp, (int)sizeof job->comp, MPI_BYTE, 0, job->comm));
    H5MR__MPI(run, MPI_Bcast(&job->cf_forced, 1, MPI_INT, 0, job->comm));
    h5mr_status st = run->comm_st;
    uint64_t bytes = job->plan.nparts * sizeof *job->parts;
    if (st == H5MR_OK && bytes > INT_MAX)
        st = h5mr__error_set(err, H5MR_ELIMIT, "%llu files are more than one job takes here",
                             (unsigned long long)job->plan.nparts);
    if (st == H5MR_OK && job->rank != 0 && !(job->parts = malloc(bytes ? bytes : 1)))
        st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory for the plan");
    if ((st = step(job, st, err)) != H5MR_OK) return st;
    H5MR__MPI(run, MPI_Bcast(job->parts, (int)bytes, MPI_BYTE, 0, job->comm));
    job->plan.parts = job->parts;
    return step(job, H5MR_OK, err);
}

/* Between passes: rank 0's combined state goes to every rank, as packed bytes. */
static h5mr_status share_state(h5mr_job *job, void *state, h5mr_error *err)
{
    void *bytes = NULL;
    size_t n = 0;
    int owned = 0;
    h5mr_status st = H5MR_OK;
    uint64_t size = UINT64_MAX;
    if (job->rank == 0 && h5mr__state_pack(&job->ctx, state, &bytes, &n, &owned) == H5MR_OK) size = n;
    H5MR__MPI(&job->run, MPI_Bcast(&size, 1, MPI_UINT64_T, 0, job->comm));
    if (size == UINT64_MAX)
        return h5mr__error_set(err, H5MR_EKERNEL, "kernel %s could not pack its state", job->kernel->name);
    if (size > (uint64_t)INT_MAX) {
        if (owned) free(bytes);
        return h5mr__error_set(err, H5MR_ELIMIT, "a state of %llu bytes is too large to share between passes",
                               (unsigned long long)size);
    }
    if (job->rank != 0 && !(bytes = malloc(size ? size : 1)))
        st = h5mr__error_set(err, H5MR_ENOMEM, "cannot allocate %llu bytes for a state", (unsigned long long)size);
    /* Every rank has its buffer, or none takes part in the broadcast. */
    if ((st = step(job, st, err)) != H5MR_OK) {
        if (job->rank != 0 || owned) free(bytes);
        return st;
    }
    H5MR__MPI(&job->run, MPI_Bcast(bytes, (int)size, MPI_BYTE, 0, job->comm));
    if (job->rank != 0) {
        st = h5mr__state_unpack(&job->ctx, state, bytes, size);
        free(bytes);
    } else if (owned) {
        free(bytes);
    }
    return st;
}

/* The read → send → map steps over items [lo, hi) of this pass (one rank alone, or
 * every rank reading its own items, or rank 0 reading and sending), folded into each
 * rank's own `state` (not reduced: the caller reduces when it needs the states on rank
 * 0).  *done: hi, or, when a rank was asked to stop (h5mr_request_stop), the end of the
 * prefix [lo, *done) that the states cover (lo when the schedule's items done are no
 * prefix: nothing is to be reduced then); *sig the signal asked with (-1 for none
 * named), 0 when none asked; *due whether rank 0's clock is past `deadline` (a
 * checkpoint is due).  The same on every rank. */
static h5mr_status fold_items(h5mr_job *job, void *state, uint64_t lo, uint64_t hi, double deadline, uint64_t *done,
                              int *sig, int *due)
{
    job->run.lo = lo, job->run.hi = hi, job->run.stop_at = hi;
    h5mr_status st = job->io == H5MR_IO_PARALLEL || job->size == 1 ? h5mr__parallel(&job->run, state)
                                                                   : h5mr__scatter(&job->run, state);
    if ((st = step(job, st, job->ctx.err)) != H5MR_OK) return st;
    /* Whether any rank was asked to stop, where the items done end on all, and rank 0's
     * clock. */
    int asked = h5mr_stop_requested();
    int64_t mine[4] = {(int64_t)job->run.stop_at, asked ? -1 : 0, asked > 0 ? -asked : 0,
                       job->rank == 0 && h5mr__now() >= deadline ? -1 : 0},
            all[4];
    H5MR__MPI(&job->run, MPI_Allreduce(mine, all, 4, MPI_INT64_T, MPI_MIN, job->comm));
    if ((st = step(job, st, job->ctx.err)) != H5MR_OK) return st;
    *done = (uint64_t)all[0];
    *sig = all[1] == 0 ? 0 : all[2] < 0 ? (int)-all[2] : -1;
    *due = all[3] < 0;
    return H5MR_OK;
}

/* Rank 0: whether the final states of the passes before `pass` are kept (they are, but
 * for a bug). */
static h5mr_status passes_kept(h5mr_job *job, int pass)
{
    return job->ckpt.nstates >= pass
               ? H5MR_OK
               : h5mr__error_set(job->ctx.err, H5MR_EINTERNAL,
                                 "a checkpoint of pass %d without the states of the passes before", pass + 1);
}

/* Rank 0: keep `state` as the checkpoint's state of pass `pass`, packed: the state so
 * far of the pass under way, or, at the end of a pass, its final state (which a resumed
 * job replays through end_pass). */
static h5mr_status keep_state(h5mr_job *job, const void *state, int pass)
{
    h5mr__ckpt *c = &job->ckpt;
    int owned = 0;
    void *bytes = NULL;
    size_t n = 0;
    h5mr_status st = passes_kept(job, pass);
    if (st == H5MR_OK) st = h5mr__state_pack(&job->ctx, state, &bytes, &n, &owned);
    if (st != H5MR_OK) return st;
    if (!owned) { /* a flat state's own bytes, which go on changing */
        void *copy = malloc(n ? n : 1);
        if (!copy) return h5mr__error_set(job->ctx.err, H5MR_ENOMEM, "out of memory for a checkpoint");
        bytes = memcpy(copy, bytes, n);
    }
    /* states[0 .. pass-1] are the earlier passes' final states; states[pass] this one's */
    while (c->nstates > pass)
        free(c->states[--c->nstates]);
    void **s2 = realloc(c->states, (size_t)(pass + 1) * sizeof *s2);
    if (s2) c->states = s2;
    uint64_t *z2 = s2 ? realloc(c->sizes, (size_t)(pass + 1) * sizeof *z2) : NULL;
    if (z2) c->sizes = z2;
    if (!z2) {
        free(bytes);
        return h5mr__error_set(job->ctx.err, H5MR_ENOMEM, "out of memory for a checkpoint");
    }
    c->states[pass] = bytes, c->sizes[pass] = n, c->nstates = pass + 1;
    return H5MR_OK;
}

/* Rank 0: the checkpoint of this pass at item `next`, its state `state`, written from
 * the state itself (its own bytes, or packed): not copied, not kept (it goes on
 * changing); the final states of the passes before are those kept. */
static h5mr_status write_checkpoint(h5mr_job *job, const void *state, uint64_t next)
{
    h5mr__ckpt *c = &job->ckpt, view = *c;
    int pass = job->ctx.pass, owned = 0;
    h5mr_status st = passes_kept(job, pass);
    if (st != H5MR_OK) return st;
    void **states = malloc((size_t)(pass + 1) * sizeof *states);
    uint64_t *sizes = malloc((size_t)(pass + 1) * sizeof *sizes);
    void *bytes = NULL;
    size_t n = 0;
    st = states && sizes ? h5mr__state_pack(&job->ctx, state, &bytes, &n, &owned)
                         : h5mr__error_set(job->ctx.err, H5MR_ENOMEM, "out of memory for a checkpoint");
    if (st == H5MR_OK) {
        for (int i = 0; i < pass; i++)
            states[i] = c->states[i], sizes[i] = c->sizes[i];
        states[pass] = bytes, sizes[pass] = n;
        view.states = states, view.sizes = sizes, view.nstates = pass + 1;
        view.pass = pass, view.next = next;
        st = h5mr__ckpt_write(job->ckpt_path, &view, job->ctx.err);
    }
    if (owned) free(bytes);
    free(states), free(sizes);
    return st;
}

/* Every rank: the segment [lo, hi) of this pass folded into the rank's state of the
 * segments since the last reduction, *part (made here when NULL); fold_items' outputs.
 * The static schedule, stopped inside a segment, keeps none of it (its items done are no
 * prefix), so there the segment folds into a state of its own, added to *part on the
 * rank itself when the segment counts. */
static h5mr_status fold_segment(h5mr_job *job, void **part, uint64_t lo, uint64_t hi, double deadline, uint64_t *done,
                                int *sig, int *due)
{
    h5mr_ctx *ctx = &job->ctx;
    h5mr_status st = H5MR_OK;
    void *into = job->schedule == H5MR_SCHEDULE_STATIC ? NULL : *part;
    if (!into && !(into = h5mr__state_new(ctx))) st = h5mr__error_set(ctx->err, H5MR_ENOMEM, "cannot allocate a state");
    if ((st = step(job, st, ctx->err)) == H5MR_OK) st = fold_items(job, into, lo, hi, deadline, done, sig, due);
    if (into != *part) {
        if (st == H5MR_OK && *done > lo && *part) st = ctx->kernel->combine(ctx, *part, into);
        if (st == H5MR_OK && *done > lo && !*part)
            *part = into; /* (the same on every rank: done, lo and part are) */
        else
            h5mr__state_free(ctx, into);
    }
    return step(job, st, ctx->err);
}

/* Every rank: the checkpoint of this pass at item `done`, written by rank 0 from the
 * pass's state.  The rows written are on disk before it counts them; a compressed
 * output's parts are flushed and recorded with it, by every rank. */
static h5mr_status checkpoint_at(h5mr_job *job, const void *state, uint64_t done)
{
    h5mr_ctx *ctx = &job->ctx;
    h5mr_status st = step(job, h5mr__store_sync(job->run.store), ctx->err);
    if (st != H5MR_OK) return st;
    if (h5mr__store_has_parts(job->run.store)) {
        void *parts = NULL;
        uint64_t n = 0;
        if ((st = h5mr__store_checkpoint(&job->run, job->run.store, &parts, &n)) == H5MR_OK && job->rank == 0) {
            free(job->ckpt.parts);
            job->ckpt.parts = parts, job->ckpt.parts_size = n;
        }
    }
    if (st == H5MR_OK && job->rank == 0) {
        st = write_checkpoint(job, state, done);
        job->ckpt_written = h5mr__now();
    }
    if ((st = step(job, st, ctx->err)) != H5MR_OK) return st;
    h5mr__store_recorded(job->run.store);
    return H5MR_OK;
}

#define SEGMENT_S 5.0 /* the longest segment of items between two reductions (s) */

/* Every rank: the job was asked to stop (signal sig, -1 for none named) after the items
 * [0, done) of this pass. */
static h5mr_status stopped(h5mr_job *job, int sig, uint64_t done)
{
    char why[64] = "stopped on request";
    if (sig > 0)
        snprintf(why, sizeof why, "stopped by %s",
                 sig == SIGTERM   ? "SIGTERM"
                 : sig == SIGINT  ? "SIGINT"
                 : sig == SIGHUP  ? "SIGHUP"
                 : sig == SIGUSR1 ? "SIGUSR1"
                                  : "a signal");
    h5mr__stop_clear(); /* asked and answered: a next job of this process runs */
    if (!job->ckpt_path) return h5mr__error_set(job->ctx.err, H5MR_ESTOPPED, "%s; no output written", why);
    char pass[48] = "";
    if (job->ctx.passes > 1) snprintf(pass, sizeof pass, " of pass %d of %d", job->ctx.pass + 1, job->ctx.passes);
    return h5mr__error_set(
        job->ctx.err, H5MR_ESTOPPED,
        "%s; no output written; the progress (%llu of %llu items%s) is in '%s': --resume takes it up", why,
        (unsigned long long)done, (unsigned long long)job->plan.items, pass, job->ckpt_path);
}

/* One pass of the job: read → send → map on every rank (one rank alone, or every rank
 * reading its own items, or rank 0 reading and sending), then the tree reduction.  With
 * a checkpoint, in segments of items of about --checkpoint-every seconds, each reduced
 * into a state of its own that rank 0 folds into the pass's state and records; a
 * resumed job takes up its pass where the checkpoint left it. */
static h5mr_status job_fold(void *arg, void *state)
{
    h5mr_job *job = arg;
    h5mr_ctx *ctx = &job->ctx;
    uint64_t items = job->plan.items, lo = 0, done = 0;
    int sig = 0;
    /* Items and bytes count the last pass only, so they add up to the plan. */
    job->mine.items = job->mine.bytes = 0;
    if (!job->ckpt_path) {
        int due = 0;
        h5mr_status st = fold_items(job, state, 0, items, INFINITY, &done, &sig, &due);
        if (st == H5MR_OK && !(sig && done == 0)) st = h5mr__reduce(&job->run, state);
        return st == H5MR_OK && sig ? stopped(job, sig, done) : st;
    }
    h5mr_status st = H5MR_OK;
    if (job->ckpt_found && ctx->pass <= job->ckpt_pass) {
        /* A pass the checkpoint has: its state so far (rank 0), and where it stopped. */
        if (job->rank == 0)
            st = h5mr__state_unpack(ctx, state, job->ckpt.states[ctx->pass], job->ckpt.sizes[ctx->pass]);
        lo = ctx->pass < job->ckpt_pass ? items : job->ckpt_next;
        if ((st = step(job, st, ctx->err)) != H5MR_OK) return st;
    }
    /* Segments last a quarter of --checkpoint-every, at most SEGMENT_S: how long a rank
     * that was not asked to stop goes on before it learns that another was.  A
     * checkpoint is written after the segment past which the next would end later than
     * --checkpoint-every after the last checkpoint: checkpoints are at most that far
     * apart (and about three quarters of it at least), so a rank killed loses at most
     * one interval of work plus the items in flight.  Between checkpoints each rank's
     * segments go on folding into its own state `part` (items [from, lo)); it is reduced
     * into the pass's state (rank 0) only for a checkpoint, a stop, or the pass's end, so
     * a segment costs one small collective, not a reduction of the states. */
    double target = job->ckpt_every / 4 < SEGMENT_S ? job->ckpt_every / 4 : SEGMENT_S;
    uint64_t seg = items / 1000 > 0 ? items / 1000 : 1, from = lo;
    void *part = NULL;
    while (lo < items && st == H5MR_OK) {
        uint64_t hi = items - lo < seg ? items : lo + seg;
        double t0 = h5mr__now();
        int due = 0;
        st = fold_segment(job, &part, lo, hi, job->ckpt_written + job->ckpt_every - target, &done, &sig, &due);
        if (st != H5MR_OK) break;
        due |= sig != 0; /* (a stop writes the checkpoint of what is done) */
        if ((due || done >= items) && part) {
            st = h5mr__reduce(&job->run, part);
            if (st == H5MR_OK && job->rank == 0 && done > from) st = ctx->kernel->combine(ctx, state, part);
            h5mr__state_free(ctx, part);
            part = NULL;
        }
        if (due || done >= items) from = done;
        if ((st = step(job, st, ctx->err)) != H5MR_OK) break;
        if (due && (st = checkpoint_at(job, state, done)) != H5MR_OK) break;
        if (sig) {
            st = stopped(job, sig, done);
            break;
        }
        /* The next segment: as many items as take `target` seconds at this pace. */
        double dt = h5mr__now() - t0;
        uint64_t next = dt > 0 ? (uint64_t)((double)(hi - lo) * target / dt) : seg * 16;
        if (next > seg * 16) next = seg * 16;
        seg = next > 0 ? next : 1;
        H5MR__MPI(&job->run, MPI_Bcast(&seg, 1, MPI_UINT64_T, 0, job->comm));
        st = step(job, st, ctx->err);
        lo = hi;
    }
    h5mr__state_free(ctx, part);
    return st;
}

static h5mr_status job_between(void *arg, void *state)
{
    h5mr_job *job = arg;
    /* With a checkpoint, the pass's final state is kept for those written later (a
     * resumed job has it already for the passes before the one it resumes). */
    int kept = job->ckpt_found && job->ctx.pass < job->ckpt_pass;
    h5mr_status st = job->ckpt_path && job->rank == 0 && !kept ? keep_state(job, state, job->ctx.pass) : H5MR_OK;
    if ((st = step(job, st, job->ctx.err)) != H5MR_OK) return st;
    return share_state(job, state, job->ctx.err);
}

static h5mr_status job_agree(void *arg, h5mr_status st)
{
    h5mr_job *job = arg;
    return step(job, st, job->ctx.err);
}

/* What identifies a job for its checkpoint: everything its result depends on but the
 * ranks, the schedule and the I/O mode.  Rank 0; NULL if out of memory. */
static const char *out_group(const h5mr_job *job);

static char *fingerprint(const h5mr_job *job)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    fprintf(f, "h5mr %s, kernel ABI %u\nkernel %s\n", h5mr_version(), (unsigned)H5MR_KERNEL_ABI, job->kernel->name);
    for (size_t i = 0; i < job->nparams; i++)
        fprintf(f, "param %s=%s\n", job->params[i].key, job->params[i].value);
    fprintf(f, "dataset %s\nraw %d\n", job->dataset ? job->dataset : job->in.given, job->raw_cf);
    for (int i = 0; i < job->ncomp; i++)
        fprintf(f, "companion %d %s:%s\n", job->comp[i].role, job->comp[i].own_file ? job->comp[i].file : "",
                job->comp[i].dataset);
    for (size_t i = 0; i < job->in.nnames; i++) {
        struct stat sb;
        int ok = stat(job->in.names[i], &sb) == 0;
        fprintf(f, "file %s size %lld mtime %lld.%09ld\n", job->in.names[i], ok ? (long long)sb.st_size : -1LL,
                ok ? (long long)sb.st_mtim.tv_sec : 0LL, ok ? (long)sb.st_mtim.tv_nsec : 0L);
    }
    /* A dataset behind an external link: the file it is in, as it was described. */
    for (uint64_t i = 0; i < job->plan.nparts; i++) {
        const h5mr__part *p = &job->parts[i];
        if (i > 0 && job->parts[i - 1].file == p->file) continue; /* (a file's parts: said once) */
        if (p->link_size0 > 0)
            fprintf(f, "file %s links to a file of size %lld mtime %lld.%09lld\n", job->in.names[p->file],
                    (long long)p->link_size0, (long long)p->link_mtime0_s, (long long)p->link_mtime0_ns);
        if (p->sources_id)
            fprintf(f, "file %s virtual, its sources %016llx\n", job->in.names[p->file],
                    (unsigned long long)p->sources_id);
    }
    fprintf(f, "items %llu of %llu rows\n", (unsigned long long)job->plan.items,
            (unsigned long long)job->plan.chunk_rows);
    if (job->writes) {
        /* What the partial output holds, and where. */
        fprintf(f, "output %s object %s dtype %s\n", job->output, out_group(job) ? out_group(job) : "",
                h5mr_dtype_name(job->out_dtype));
        if (job->store_set && (job->store.gzip >= 0 || job->store.shuffle))
            fprintf(f, "output gzip %d shuffle %d\n", job->store.gzip, job->store.shuffle);
        for (int i = 0; i < job->ctx.noutputs; i++) {
            fprintf(f, "output %d chunk", i);
            for (int k = 0; k < job->ctx.out_ndims[i]; k++)
                fprintf(f, " %llu", (unsigned long long)job->out_chunks[i][k]);
            fputc('\n', f);
        }
    }
    return fclose(f) == 0 ? text : (free(text), NULL);
}

/* COLLECTIVE: a job with --checkpoint: rank 0 reads the checkpoint to resume from (if
 * --resume and it exists: it must be this job's), every rank learns where to start. */
static h5mr_status open_checkpoint(h5mr_job *job, h5mr_error *err)
{
    h5mr_status st = H5MR_OK;
    job->ckpt_found = 0, job->ckpt_pass = 0, job->ckpt_next = 0;
    job->ckpt_written = h5mr__now();
    h5mr__ckpt_clear(&job->ckpt);
    char *fp = st == H5MR_OK && job->rank == 0 ? fingerprint(job) : NULL;
    if (st == H5MR_OK && job->rank == 0 && !fp) st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    if (st == H5MR_OK && job->rank == 0 && job->ckpt_resume)
        st = h5mr__ckpt_read(job->ckpt_path, fp, &job->ckpt, &job->ckpt_found, err);
    if (st == H5MR_OK && job->rank == 0 && job->ckpt_found && job->ckpt.pass >= job->ctx.passes)
        st = h5mr__error_set(err, H5MR_EUSAGE, "--checkpoint '%s' is of another job (pass %d of %d)", job->ckpt_path,
                             job->ckpt.pass + 1, job->ctx.passes);
    if (st == H5MR_OK && job->rank == 0) {
        free(job->ckpt.fingerprint);
        job->ckpt.fingerprint = fp;
        fp = NULL;
        job->ckpt_pass = job->ckpt.pass;
        job->ckpt_next = job->ckpt.next;
    }
    free(fp);
    if ((st = step(job, st, err)) != H5MR_OK) return st;
    uint64_t where[3] = {(uint64_t)job->ckpt_found, (uint64_t)job->ckpt_pass, job->ckpt_next};
    H5MR__MPI(&job->run, MPI_Bcast(where, 3, MPI_UINT64_T, 0, job->comm));
    job->ckpt_found = (int)where[0], job->ckpt_pass = (int)where[1], job->ckpt_next = where[2];
    return step(job, H5MR_OK, err);
}

/* A kernel that writes (a map kernel, or a result that keeps dimension 0 streamed): an
 * output given, types that can hold the values, chunk shapes of the outputs' ranks;
 * a reduction's: no store options.  Every rank alike. */
static h5mr_status map_checks(h5mr_job *job, h5mr_error *err)
{
    const char *k = job->kernel->name;
    const h5mr_ctx *c = &job->ctx;
    job->writes = c->noutputs > 0;
    if (!job->writes)
        return job->store_set ? h5mr__error_set(err, H5MR_EUSAGE,
                                                "kernel %s reduces, it writes no dataset: use h5mr run (map kernels: "
                                                "see h5mr kernels)",
                                                k)
                              : H5MR_OK;
    if (!job->output)
        return h5mr__error_set(err, H5MR_EUSAGE, "kernel %s writes a dataset: give -o FILE[:/DATASET] (h5mr map)", k);
    const h5mr_store_opts *o = &job->store;
    job->out_grouped = c->noutputs > 1 || c->out_name[0][0];
    if (job->out_grouped) {
        if (job->store_set && (o->dtype >= 0 || o->chunk_ndims > 0))
            return h5mr__error_set(err, H5MR_EUSAGE,
                                   "kernel %s writes %d datasets: --dtype and --chunk apply to one (give neither)", k,
                                   c->noutputs);
        /* Chunks of whole items' rows, about 1 MiB each. */
        for (int i = 0; i < c->noutputs; i++) {
            uint64_t row = c->out_row_elems[i] * h5mr_dtype_size(c->out_dtype[i]), per = job->plan.chunk_rows;
            uint64_t items = row > 0 && per > 0 ? ((uint64_t)1 << 20) / (row * per) : 1;
            job->out_chunks[i][0] = per * (items ? items : 1);
            for (int d = 1; d < c->out_ndims[i]; d++)
                job->out_chunks[i][d] = c->out_shape[i][d];
        }
        job->out_dtype = c->out_dtype[0];
        return H5MR_OK;
    }
    job->out_dtype = job->store_set && o->dtype >= 0 ? (h5mr_dtype)o->dtype : c->out_dtype[0];
    if (job->store_set && o->chunk_ndims > 0 && o->chunk_ndims != job->kndims)
        return h5mr__error_set(err, H5MR_EUSAGE, "--chunk has %d dimension%s, the output has %d", o->chunk_ndims,
                               o->chunk_ndims == 1 ? "" : "s", job->kndims);
    /* Missing values are NaN: an integer type cannot store them. */
    int missing = job->ncomp > 0;
    for (uint64_t i = 0; !job->raw_cf && i < job->plan.nparts; i++)
        missing |= job->parts[i].cf.nmissing || job->parts[i].cf.has_min || job->parts[i].cf.has_max;
    if (missing && !h5mr_dtype_is_float(job->out_dtype))
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "--dtype %s cannot store missing values (%s): give --dtype f32 or f64%s",
                               h5mr_dtype_name(job->out_dtype),
                               job->ncomp > 0 ? "a companion dataset makes elements missing"
                                              : "the input's CF attributes mark missing values",
                               job->ncomp > 0 ? "" : ", or --raw for the stored values");
    /* The chunk shape: as given, the input's (of the dimensions kept), or the items'. */
    const h5mr__view *v = &job->plan.view;
    int chunked = job->desc.chunked, k2 = 0;
    for (int d = 0; d < job->desc.ndims; d++)
        chunked &= !v->keep[d] || v->step[d] == 1;
    for (int d = 0; d < job->desc.ndims; d++) {
        if (!v->keep[d]) continue;
        job->out_chunks[0][k2] = job->store_set && o->chunk_ndims > 0 ? o->chunk[k2]
                                 : chunked                            ? job->desc.chunk[d]
                                 : k2 == 0                            ? job->plan.chunk_rows
                                                                      : job->kshape[k2];
        k2++;
    }
    h5mr__store_ds q = {
        .dtype = job->out_dtype, .ndims = job->kndims, .shape = job->kshape, .chunk = job->out_chunks[0]};
    uint64_t cb = h5mr__store_chunk_bytes(&q);
    if (cb >= ((uint64_t)1 << 32))
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "the output's chunks would be %.3g GB; HDF5 takes under 4 GiB (--chunk)",
                               (double)cb / 1e9);
    return H5MR_OK;
}

/* The group of a grouped output: -o FILE:/GROUP's, or /result. */
static const char *out_group(const h5mr_job *job)
{
    return job->out_grouped ? (job->out_object ? job->out_object : "/result") : NULL;
}

/* COLLECTIVE: the output file of a kernel that writes, created (rank 0), ready for rows. */
static h5mr_status open_store(h5mr_job *job, h5mr__store **store, h5mr_error *err)
{
    h5mr_job_info in;
    h5mr_job_get_info(job, &in);
    char *params = params_json(job);
    h5mr_status st = params ? H5MR_OK : h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    if ((st = step(job, st, err)) != H5MR_OK) return st;
    int into = job->out_object && job->out_exists;
    const h5mr_ctx *c = &job->ctx;
    h5mr__store_req req = {.file = job->output,
                           .group = out_group(job),
                           .into_existing = into,
                           .replace = job->out_obj_exists,
                           .mark_root = !into,
                           .nds = c->noutputs,
                           .gzip = job->store_set ? job->store.gzip : -1,
                           .shuffle = job->store_set && job->store.shuffle,
                           .info = &in,
                           .params = params,
                           .kept = job->ckpt_path != NULL,
                           .resume = job->ckpt_found,
                           .parts = job->rank == 0 && job->ckpt_found ? job->ckpt.parts : NULL,
                           .parts_size = job->rank == 0 && job->ckpt_found ? job->ckpt.parts_size : 0};
    for (int i = 0; i < c->noutputs; i++)
        req.ds[i] = (h5mr__store_ds){.object = job->out_grouped  ? c->out_name[i]
                                               : job->out_object ? job->out_object
                                                                 : job->in.dataset,
                                     .ktype = c->out_dtype[i],
                                     .dtype = job->out_grouped ? c->out_dtype[i] : job->out_dtype,
                                     .ndims = c->out_ndims[i],
                                     .shape = c->out_shape[i],
                                     .chunk = job->out_chunks[i]};
    st = h5mr__store_open(&job->run, &req, store);
    free(params);
    return st;
}

h5mr_status h5mr_job_run(h5mr_job *job, h5mr_error *err)
{
    h5mr_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    clear_run(job);
    job->ctx.err = err;
    /* What the steps see of the job. */
    job->run = (h5mr__run){.comm = job->comm,
                           .rank = job->rank,
                           .size = job->size,
                           .one_node = job->one_node,
                           .schedule = job->schedule,
                           .file = job->file,
                           .dataset = job->in.dataset,
                           .desc = &job->desc,
                           .plan = &job->plan,
                           .ctx = &job->ctx,
                           .mine = &job->mine,
                           .comm_st = H5MR_OK,
                           .progress = job->rank == 0 && job->progress.fn ? &job->progress : NULL,
                           .ncomp = job->ncomp,
                           .comp = job->comp};
    job->cf_forced = 0;
    void *state = NULL;
    h5mr__store *store = NULL;
    double t0 = 0;
    h5mr_status st = H5MR_OK;
    h5mr__fdesc *files = NULL;
    int shared = 0;
    h5mr__files_init(&job->files, &job->in);
    job->run.files = &job->files;

    if (job->in.nargs == 0 || !job->in.dataset)
        st = h5mr__error_set(err, H5MR_EUSAGE, "no input file and dataset given");
    else if (!job->kernel)
        st = h5mr__error_set(err, H5MR_EUSAGE, "no kernel given");
    if ((st = step(job, st, err)) != H5MR_OK) return st;
    job->io = job->io_req == H5MR_IO_PARALLEL ? H5MR_IO_PARALLEL : H5MR_IO_SCATTER;
    job->writes = h5mr_kernel_writes(job->kernel); /* for the plan; setup says for sure */
    job->out_bytes = 0;

    /* plan: the names, the output's check, every file described (by all ranks), the
     * items cut (rank 0), the plan for all. */
    if ((st = h5mr__inputs_resolve(&job->run, &job->in)) != H5MR_OK) goto out;
    st = h5mr__sel_parse(job->in.selection, &job->sel, err);
    if (st == H5MR_OK && job->rank == 0) st = check_output(job, err);
    if ((st = step(job, st, err)) != H5MR_OK) goto out;
    if ((st = h5mr__describe(&job->run, &job->files, &files, &shared)) != H5MR_OK) goto out;
    if (job->rank == 0) st = plan_on_root(job, files, err);
    if ((st = step(job, st, err)) != H5MR_OK) goto out;
    if ((st = share_plan(job, err)) != H5MR_OK) goto out;
    job->ran = 1;
    job->kndims = h5mr__view_shape(&job->plan.view, job->kshape);
    /* Parallel I/O: every rank reads its own items, so every rank opens the input. */
    h5mr__dset *first = NULL;
    if (job->io_req == H5MR_IO_AUTO) {
        job->io = h5mr__plan_io(&job->run, files, shared);
    } else if (job->io == H5MR_IO_PARALLEL && job->rank != 0 &&
               (st = h5mr__files_get(&job->files, 0, &first, err)) != H5MR_OK) {
        /* Say where: the file may be missing on one node only. */
        char host[256] = "?";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        h5mr__error_wrap(err, st, "rank %d (on %s), reading its own items (--io parallel)", job->rank, host);
    } else if (job->io == H5MR_IO_SCATTER && job->rank != 0) {
        h5mr__files_close(&job->files);
    }
    free(files);
    files = NULL;
    if ((st = step(job, st, err)) != H5MR_OK) goto out;

    job->ctx = (h5mr_ctx){.kernel = job->kernel,
                          .params = job->params,
                          .nparams = job->nparams,
                          .dtype = job->plan.kdtype,
                          .ndims = job->kndims,
                          .shape = job->kshape,
                          .err = err};
    for (int i = 0; i < job->ncomp; i++)
        job->ctx.inputs |= 1u << (unsigned)job->comp[i].role;
    /* Integers widened to f64 (a companion, or CF missing values without packing). */
    int packed = 0;
    for (uint64_t i = 0; i < job->plan.nparts; i++)
        packed |= job->parts[i].cf.has_scale || job->parts[i].cf.has_offset;
    job->ctx.integral = !h5mr_dtype_is_float(job->desc.dtype) && job->plan.kdtype == H5MR_DTYPE_F64 && !packed;
    int axes = 0;
    st = axis_sets(job, &axes, err);
    if (st == H5MR_OK && axes && (job->ctx.inputs & (1u << H5MR_ROLE_BY)))
        st = h5mr__error_set(err, H5MR_EUSAGE, "--by with axis=%s is not supported yet (give axis=0 or none)",
                             job->axis_given);
    /* A result that keeps dimension 0, with -o: written as it is computed. */
    job->ctx.stream_rows =
        axes && job->output && (job->axes.mode == H5MR__AXES_ROWS || job->axes.mode == H5MR__AXES_ROWS_PIXELS);
    if (st == H5MR_OK && (axes || (job->ctx.inputs & (1u << H5MR_ROLE_BY))))
        st = h5mr__group_wrap(&job->ctx, &job->group_kernel, axes ? &job->axes : NULL);
    /* CF-packed integers the kernel may take as stored (h5mr_ctx_accept_packed). */
    int norm = 0;
    job->ctx.stored = job->desc.dtype;
    job->ctx.offer_packed = st == H5MR_OK && job->plan.cf_mode == 2 && job->ncomp == 0 && !axes &&
                            job->plan.nparts > 0 &&
                            h5mr__cf_packing(&job->parts[0].cf, sizeof *job->parts, job->plan.nparts, job->desc.dtype,
                                             &job->ctx.packing, &norm);
    if (st == H5MR_OK) st = h5mr__ctx_setup(&job->ctx);
    if (st == H5MR_OK && job->ctx.packed) {
        job->plan.cf_mode = 3;
        job->plan.cf_norm = norm;
        job->plan.cf_marker = job->ctx.packing.missing;
        job->plan.kdtype = job->desc.dtype;
    }
    if (st != H5MR_OK && job->plan.cf_mode == 2 && job->cf_forced) {
        char what[sizeof err->message];
        snprintf(what, sizeof what, "%s", err->message);
        err->message[0] = '\0';
        err->status = H5MR_OK;
        h5mr__error_set(err, st, "%s (with a companion dataset the values of '%s' are f64, not the stored integers)",
                        what, job->in.dataset);
    } else if (st != H5MR_OK && job->plan.cf_mode == 2) {
        /* The kernel's message, then why the values are f64 (it replaces the first). */
        char what[sizeof err->message];
        snprintf(what, sizeof what, "%s", err->message);
        err->message[0] = '\0';
        err->status = H5MR_OK;
        h5mr__error_set(err, st, "%s (CF conventions make the values of '%s' f64%s; --raw reads the stored values)",
                        what, job->in.dataset, job->desc.dtype != H5MR_DTYPE_F64 ? ", not the stored integers" : "");
    }
    if ((st = step(job, st, err)) != H5MR_OK) goto out;
    if ((st = step(job, map_checks(job, err), err)) != H5MR_OK) goto out;
    if (job->ckpt_path && (st = open_checkpoint(job, err)) != H5MR_OK) goto out;

    t0 = job->progress.t0 = h5mr__now();
    if (job->writes) {
        if ((st = open_store(job, &store, err)) != H5MR_OK) goto out;
        job->run.store = store;
    }
    job->progress.next = t0 + job->progress.every;
    job->progress.items = job->plan.items;
    job->progress.bytes = job->plan.rows * job->plan.row_elems * job->plan.elem_size;
    job->progress.pass = &job->ctx.pass;
    job->progress.passes = job->ctx.passes;
    h5mr__passes_ops ops = {job_fold, job_between, job_agree, job};
    if ((st = h5mr__passes(&job->ctx, &ops, &state)) != H5MR_OK) goto out;

    if (job->rank == 0) {
        if (!(job->result = h5mr__result_new()))
            st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
        else
            st = job->ctx.kernel->finish(&job->ctx, state, job->result);
        if (st != H5MR_OK && err->message[0] == '\0')
            h5mr__error_set(err, st, "kernel %s could not finish its result", job->kernel->name);
    }
    if (store) {
        /* The output dataset complete on disk and renamed into place.  A checkpoint goes
         * first: killed after the rename, a job must not resume from it into a partial
         * output that is no longer there (killed before, it starts afresh). */
        st = step(job, st, err);
        if (st == H5MR_OK && job->ckpt_path && job->rank == 0) unlink(job->ckpt_path);
        st = h5mr__store_close(&job->run, store, st, out_group(job), &job->out_bytes);
        store = job->run.store = NULL;
    }
    if (job->rank == 0) {
        job->elapsed_s = h5mr__now() - t0;
        if (st == H5MR_OK && job->output && !job->writes) {
            h5mr_job_info in;
            h5mr_job_get_info(job, &in);
            char *params = params_json(job);
            st = params ? h5mr__output_write(job->output, job->out_object, job->out_object && job->out_exists,
                                             job->result, &in, params, err)
                        : h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
            free(params);
        }
    }
    if ((st = step(job, st, err)) != H5MR_OK) goto out;

    if (job->ckpt_path && job->rank == 0) unlink(job->ckpt_path); /* done: nothing to resume */
    h5mr__progress_final(job->run.progress);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) job->mine.peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024;
    if (job->rank == 0 && !(job->per_rank = malloc((size_t)job->size * sizeof *job->per_rank)))
        st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
    if ((st = step(job, st, err)) != H5MR_OK) goto out; /* rank 0 has room, or no rank sends */
    H5MR__MPI(&job->run, MPI_Gather(&job->mine, (int)sizeof job->mine, MPI_BYTE, job->per_rank, (int)sizeof job->mine,
                                    MPI_BYTE, 0, job->comm));
    st = step(job, st, err);
out:
    if (store) h5mr__store_close(&job->run, store, st, NULL, NULL); /* st failed on every rank: removes the file */
    job->run.store = NULL;
    if (st != H5MR_OK && job->rank == 0) {
        h5mr__result_free(job->result);
        job->result = NULL;
    }
    free(files);
    h5mr__state_free(&job->ctx, state);
    h5mr__ctx_release(&job->ctx);
    h5mr__files_close(&job->files);
    h5mr__map_release(&job->run);
    return st;
}

const h5mr_result *h5mr_job_result(const h5mr_job *job) { return job->rank == 0 ? job->result : NULL; }

h5mr_status h5mr_job_get_info(const h5mr_job *job, h5mr_job_info *info)
{
    if (!job->ran) return H5MR_EUSAGE;
    *info = (h5mr_job_info){.file = job->in.nnames ? job->in.names[0] : job->file,
                            .dataset = job->in.dataset,
                            .kernel = job->kernel->name,
                            .dtype = job->desc.dtype,
                            .ndims = job->kndims,
                            .shape = job->kshape,
                            .ranks = job->size,
                            .schedule = job->schedule,
                            .io = job->io,
                            .items = job->plan.items,
                            .chunk_rows = job->plan.chunk_rows,
                            .bytes = job->plan.rows * job->plan.row_elems * job->plan.elem_size,
                            .elapsed_s = job->elapsed_s,
                            .per_rank = job->per_rank,
                            .files = job->in.nnames,
                            .selection = job->in.selection,
                            .cf = job->rank == 0 ? job->cf_json : NULL,
                            .stored_ndims = job->desc.ndims,
                            .stored_shape = job->desc.shape};
    info->output_file = job->output;
    /* (out_group: the group of a reduction's or a grouped map's output) */
    info->output_object = !job->output                       ? NULL
                          : job->writes && !job->out_grouped ? (job->out_object ? job->out_object : job->in.dataset)
                          : job->writes                      ? out_group(job)
                          : job->out_object                  ? job->out_object
                                                             : "/result";
    info->out_grouped = job->out_grouped;
    info->out_count = job->writes ? job->ctx.noutputs : 0;
    info->out_names = job->ctx.out_name;
    info->writes = job->writes;
    info->out_dtype = job->out_dtype;
    info->out_ndims = job->writes ? job->kndims : 0;
    info->out_chunk = job->out_chunks[0];
    info->out_gzip = job->store_set ? job->store.gzip : -1;
    info->out_shuffle = job->store_set && job->store.shuffle;
    info->out_bytes = job->out_bytes;
    if (job->ckpt_found && job->ckpt_pass == job->ctx.passes - 1 && job->ckpt_next > 0) {
        uint64_t first = job->plan.rows, n = 0;
        if (job->ckpt_next < job->plan.items) h5mr__plan_item(&job->plan, job->ckpt_next, &first, &n);
        info->resumed_items = job->ckpt_next;
        info->resumed_bytes = first * job->plan.row_elems * job->plan.elem_size;
    }
    info->ncompanions = job->ncomp;
    for (int i = 0; i < job->ncomp; i++)
        info->companions[i] =
            (h5mr_companion_info){(h5mr_role)job->comp[i].role, job->comp[i].own_file ? job->comp[i].file : info->file,
                                  job->comp[i].dataset, job->comp[i].own_file};
    return H5MR_OK;
}

size_t h5mr_job_param_count(const h5mr_job *job) { return job->nparams; }

void h5mr_job_param_at(const h5mr_job *job, size_t i, const char **key, const char **value)
{
    *key = i < job->nparams ? job->params[i].key : NULL;
    *value = i < job->nparams ? job->params[i].value : NULL;
}
