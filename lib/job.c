/* job.c: a job's settings, and the orchestration of a run: plan (plan.c) → read and
 * send (scatter.c, parallel.c, read.c) → map (map.c) → reduce (reduce.c) → result
 * (the kernel's finish, output.c).  The steps get a narrow h5mr__run, never the job. */
#include "internal.h"

#include <limits.h>
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

static void clear_run(h5mr_job *job)
{
    h5mr__result_free(job->result);
    job->result = NULL;
    free(job->per_rank);
    job->per_rank = NULL;
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
    free(job->output);
    MPI_Comm_free(&job->comm);
    free(job);
}

h5mr_status h5mr_job_set_input(h5mr_job *job, const char *file, const char *dataset)
{
    if (!file || !dataset) return H5MR_EUSAGE;
    char *f = strdup(file), *d = strdup(dataset);
    if (!f || !d) {
        free(f);
        free(d);
        return H5MR_ENOMEM;
    }
    free(job->file);
    free(job->dataset);
    job->file = f;
    job->dataset = d;
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
    char *p = NULL;
    if (path && !(p = strdup(path))) return H5MR_ENOMEM;
    free(job->output);
    job->output = p;
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

/* Rank 0: open the input and cut it into items; the description and plan go to all. */
static h5mr_status plan_on_root(h5mr_job *job, h5mr__dset *d, h5mr_error *err)
{
    /* An output that cannot be written fails now, not after the whole run. */
    h5mr_status st = H5MR_OK;
    if (job->output) {
        const char *inputs[] = {job->file};
        char resolved[PATH_MAX];
        st = h5mr__output_check(job->output, inputs, 1, job->force, resolved, sizeof resolved, err);
        char *r = st == H5MR_OK ? strdup(resolved) : NULL;
        if (st == H5MR_OK && !r) st = h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
        if (r) {
            free(job->output);
            job->output = r;
        }
    }
    if (st == H5MR_OK) st = h5mr__dset_open(job->file, job->dataset, d, err);
    if (st != H5MR_OK) return st;
    job->desc = d->desc;
    int *tag_ub = NULL, flag = 0;
    H5MR__MPI(&job->run, MPI_Comm_get_attr(job->comm, MPI_TAG_UB, &tag_ub, &flag));
    return h5mr__plan_input(&job->desc, job->chunk_rows_req, flag && tag_ub ? *tag_ub : 0, &job->plan, err);
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

/* One pass of the job: read → send → map on every rank (one rank alone, or every rank
 * reading its own items, or rank 0 reading and sending), then the tree reduction. */
static h5mr_status job_fold(void *arg, void *state)
{
    h5mr_job *job = arg;
    /* Items and bytes count the last pass only, so they add up to the plan. */
    job->mine.items = job->mine.bytes = 0;
    h5mr_status st = job->io == H5MR_IO_PARALLEL || job->size == 1 ? h5mr__parallel(&job->run, state)
                                                                   : h5mr__scatter(&job->run, state);
    if ((st = step(job, st, job->ctx.err)) != H5MR_OK) return st;
    return h5mr__reduce(&job->run, state);
}

static h5mr_status job_between(void *arg, void *state)
{
    h5mr_job *job = arg;
    return share_state(job, state, job->ctx.err);
}

static h5mr_status job_agree(void *arg, h5mr_status st)
{
    h5mr_job *job = arg;
    return step(job, st, job->ctx.err);
}

h5mr_status h5mr_job_run(h5mr_job *job, h5mr_error *err)
{
    h5mr_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    clear_run(job);
    job->ctx.err = err;
    h5mr__dset d = {.file = H5I_INVALID_HID, .dset = H5I_INVALID_HID, .space = H5I_INVALID_HID, .fd = -1};
    /* What the steps see of the job. */
    job->run = (h5mr__run){.comm = job->comm,
                           .rank = job->rank,
                           .size = job->size,
                           .one_node = job->one_node,
                           .schedule = job->schedule,
                           .file = job->file,
                           .dataset = job->dataset,
                           .desc = &job->desc,
                           .plan = &job->plan,
                           .d = &d,
                           .ctx = &job->ctx,
                           .mine = &job->mine,
                           .comm_st = H5MR_OK,
                           .progress = job->rank == 0 && job->progress.fn ? &job->progress : NULL};
    void *state = NULL;
    double t0 = 0;
    h5mr_status st = H5MR_OK;

    if (!job->file || !job->dataset)
        st = h5mr__error_set(err, H5MR_EUSAGE, "no input file and dataset given");
    else if (!job->kernel)
        st = h5mr__error_set(err, H5MR_EUSAGE, "no kernel given");
    if ((st = step(job, st, err)) != H5MR_OK) return st;
    job->io = job->io_req == H5MR_IO_PARALLEL ? H5MR_IO_PARALLEL : H5MR_IO_SCATTER;

    if (job->rank == 0) st = plan_on_root(job, &d, err);
    if ((st = step(job, st, err)) != H5MR_OK) goto out;
    H5MR__MPI(&job->run, MPI_Bcast(&job->desc, (int)sizeof job->desc, MPI_BYTE, 0, job->comm));
    H5MR__MPI(&job->run, MPI_Bcast(&job->plan, (int)sizeof job->plan, MPI_BYTE, 0, job->comm));
    job->ran = 1;
    /* Parallel I/O: every rank reads its own items, so every rank opens the input. */
    if (job->io_req == H5MR_IO_AUTO)
        job->io = h5mr__plan_io(&job->run, &d);
    else if (job->io == H5MR_IO_PARALLEL && job->rank != 0 &&
             (st = h5mr__dset_open(job->file, job->dataset, &d, err)) != H5MR_OK) {
        /* Say where: the file may be missing on one node only. */
        char host[256] = "?";
        gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        h5mr__error_wrap(err, st, "rank %d (on %s), reading its own items (--io parallel)", job->rank, host);
    }
    if ((st = step(job, st, err)) != H5MR_OK) goto out;

    job->ctx = (h5mr_ctx){.kernel = job->kernel,
                          .params = job->params,
                          .nparams = job->nparams,
                          .dtype = job->desc.dtype,
                          .ndims = job->desc.ndims,
                          .shape = job->desc.shape,
                          .err = err};
    st = h5mr__ctx_setup(&job->ctx);
    if ((st = step(job, st, err)) != H5MR_OK) goto out;

    t0 = job->progress.t0 = h5mr__now();
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
            st = job->kernel->finish(&job->ctx, state, job->result);
        if (st != H5MR_OK && err->message[0] == '\0')
            h5mr__error_set(err, st, "kernel %s could not finish its result", job->kernel->name);
        job->elapsed_s = h5mr__now() - t0;
        if (st == H5MR_OK && job->output) {
            h5mr_job_info in;
            h5mr_job_get_info(job, &in);
            char *params = params_json(job);
            st = params ? h5mr__output_write(job->output, job->result, &in, params, err)
                        : h5mr__error_set(err, H5MR_ENOMEM, "out of memory");
            free(params);
        }
    }
    if ((st = step(job, st, err)) != H5MR_OK) goto out;

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
    if (st != H5MR_OK && job->rank == 0) {
        h5mr__result_free(job->result);
        job->result = NULL;
    }
    h5mr__state_free(&job->ctx, state);
    h5mr__ctx_release(&job->ctx);
    h5mr__dset_close(&d);
    return st;
}

const h5mr_result *h5mr_job_result(const h5mr_job *job) { return job->rank == 0 ? job->result : NULL; }

h5mr_status h5mr_job_get_info(const h5mr_job *job, h5mr_job_info *info)
{
    if (!job->ran) return H5MR_EUSAGE;
    *info = (h5mr_job_info){
        job->file,       job->dataset,         job->kernel->name,
        job->desc.dtype, job->desc.ndims,      job->desc.shape,
        job->size,       job->schedule,        job->io,
        job->plan.items, job->plan.chunk_rows, job->plan.rows * job->plan.row_elems * job->plan.elem_size,
        job->elapsed_s,  job->per_rank};
    return H5MR_OK;
}

size_t h5mr_job_param_count(const h5mr_job *job) { return job->nparams; }

void h5mr_job_param_at(const h5mr_job *job, size_t i, const char **key, const char **value)
{
    *key = i < job->nparams ? job->params[i].key : NULL;
    *value = i < job->nparams ? job->params[i].value : NULL;
}
