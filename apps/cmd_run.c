/* cmd_run.c: `h5mr run` — parse, run the job collectively, print on rank 0. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char run_usage[] = "Usage: mpirun -n N h5mr run [OPTIONS] FILE... DATASET, or h5mr run -n N ...\n"
                                "Apply one kernel to every element of DATASET in the HDF5 (or netCDF-4) FILE.\n"
                                "Several FILEs are joined along dimension 0 in the order given (as ncrcat does);\n"
                                "a quoted pattern ('day*.h5') is expanded by h5mr, sorted.  DATASET may carry a\n"
                                "numpy selection: '/tas[0:744]', '/tas[:, 10:20, ::2]', '/tas[-24:, 5]'.\n"
                                "CF conventions are honoured: _FillValue, missing_value and valid_min/max/range\n"
                                "values are skipped as missing, scale_factor/add_offset unpack the values.\n"
                                "Dimension 0 is cut into work items of whole rows; every rank reads its own\n"
                                "items (or rank 0 reads them and sends them on, see --io) and folds them into a\n"
                                "kernel state; a tree reduction combines the states.  Runs with any number of\n"
                                "ranks, 1 included.\n"
                                "\n"
                                "Options:\n"
                                "  -n, --ranks N             outside mpirun: start N ranks on this machine (through\n"
                                "                            mpirun, with settings that start fast on one node);\n"
                                "                            inside mpirun it must equal the number of ranks\n"
                                "  -k, --kernel NAME         kernel to apply (default: stats; see `h5mr kernels`)\n"
                                "  -p, --param KEY=VALUE     kernel parameter, repeatable\n"
                                "      --chunk-rows N        rows per work item (default: a multiple of the\n"
                                "                            dataset's storage chunk rows, about 4 MiB per item)\n"
                                "      --schedule static|dynamic\n"
                                "                            static: contiguous blocks of items per rank;\n"
                                "                            dynamic: ranks pull items as they finish (default)\n"
                                "      --io scatter|parallel|auto\n"
                                "                            scatter: rank 0 reads and sends items;\n"
                                "                            parallel: every rank reads its own items from the\n"
                                "                            file (it must be on a file system all nodes share);\n"
                                "                            auto: parallel when every rank sees the same file,\n"
                                "                            scatter otherwise (default: auto)\n"
                                "      --plugin PATH.so      load user kernels from a shared object, repeatable\n"
                                "  -o, --output FILE         also write the result into the HDF5 file FILE (group\n"
                                "                            /result, one dataset per field; written atomically).\n"
                                "                            Refused up front: an input file, a folder, a device,\n"
                                "                            a missing folder, or an existing file h5mr did not\n"
                                "                            write (unless --force)\n"
                                "      --force               let -o replace an existing file h5mr did not write\n"
                                "      --files-from LIST     read more input file names from LIST, one a line\n"
                                "      --raw                 ignore CF conventions: the stored values as they are\n"
                                "      --mask [FILE:]DS      skip elements where DS is 0, NaN or missing\n"
                                "      --weights [FILE:]DS   weighted sum and stats, weights from DS\n"
                                "      --by [FILE:]DS        one result per distinct integer label of DS (sum,\n"
                                "                            stats, minmax, count): zonal statistics; with\n"
                                "                            -p axis=0 and a (T,) DS, a map per label\n"
                                "      --with [FILE:]DS      the second variable of corr and cov\n"
                                "                            DS: without FILE, each input file's own DS; its shape\n"
                                "                            is the input's, a trailing part (a (Y, X) map of a\n"
                                "                            (T, Y, X) stack) or a leading one (a (T,) series)\n"
                                "      --checkpoint FILE     keep the job's progress in FILE (states and items done,\n"
                                "                            replaced atomically at most --checkpoint-every apart\n"
                                "                            and when told to stop), removed when the job succeeds\n"
                                "      --checkpoint-every S  at most S seconds between checkpoints (default 30)\n"
                                "      --resume              continue the job recorded in --checkpoint FILE, at any\n"
                                "                            number of ranks (start afresh if FILE is absent); the\n"
                                "                            result is the bits of an uninterrupted run; a FILE of\n"
                                "                            another job is exit 2\n"
                                "      --timeout S           stop every rank after S seconds (exit 1), e.g. for a\n"
                                "                            kernel that never returns\n"
                                "      --json                print one JSON object on stdout instead of the summary\n"
                                "      --stats               add per-rank figures (items, bytes, busy and wait\n"
                                "                            seconds, peak memory) and the imbalance\n"
                                "      --progress, --no-progress\n"
                                "                            a progress line on stderr: items done, GB/s, ETA\n"
                                "                            (default: on when stderr is a terminal, where it is\n"
                                "                            redrawn 4 times a second; elsewhere, as under sbatch,\n"
                                "                            --progress prints a line every 5 seconds)\n"
                                "  -h, --help                this text\n"
                                "\n"
                                "Results are bit-for-bit the same for any number of ranks, either schedule and\n"
                                "either I/O mode.  Compressed chunks (deflate, shuffle) are read as stored and\n"
                                "decoded by the rank that maps them; H5MR_RAW_CHUNKS=0 leaves that to HDF5.\n"
                                "Unfiltered rows are read, or seen in place in the page cache, whichever each\n"
                                "rank times faster for the kernel (H5MR_TEST_READ_WAY=0|1 forces one way).\n"
                                "SIGTERM or SIGINT (Slurm's time limit, Ctrl-C) stops every rank with exit 1 and\n"
                                "no output or temporary file; so does the loss of mpirun.  With --checkpoint,\n"
                                "the items done so far are written to it first (within seconds; a second\n"
                                "signal stops at once).\n"
                                "Exit codes: 0 success, 1 failure while running, 2 usage, 3 bad input.\n"
                                "Example: mpirun -n 4 h5mr run -k sum --json data.h5 /temperature\n";

#include "run_args.h"

static const char map_usage[] =
    "Usage: mpirun -n N h5mr map [OPTIONS] FILE... DATASET -o OUT.h5[:/DATASET], or h5mr map -n N ...\n"
    "Write a new dataset of the shape of DATASET (several FILEs joined along dimension 0,\n"
    "a selection, CF conventions and --mask as for h5mr run), element by element, in\n"
    "parallel: every rank transforms the items it reads and writes them itself.\n"
    "\n"
    "Kernels (-k, default convert; see `h5mr kernels`):\n"
    "  convert    the value (CF unpacked unless --raw), stored as --dtype: rechunk,\n"
    "             recompress, unpack (as h5repack, nccopy)\n"
    "  scale      a*x + b (-p a=.. -p b=..)\n"
    "  anomaly    x minus the mean of its pixel over dimension 0 (two passes)\n"
    "  normdiff   (x - y) / (x + y) with y from --with, NaN where x + y = 0 (NDVI)\n"
    "\n"
    "Options (and every option of h5mr run but --json's result, --by and --weights):\n"
    "  -o, --output OUT.h5[:/DATASET]\n"
    "                            where: a new file (the dataset named like the input's),\n"
    "                            or DATASET added to an existing OUT.h5, every other\n"
    "                            object staying as it was.  Written under a temporary\n"
    "                            name and renamed: complete or absent, never partial.\n"
    "                            Refused up front: an input file, a folder, an existing\n"
    "                            file h5mr did not write or an existing DATASET (unless\n"
    "                            --force)\n"
    "      --dtype T             the stored type (default: f64 for computed values; for\n"
    "                            convert, the type of the values read: the stored one,\n"
    "                            or f64 where CF unpacks); a value T cannot hold is an\n"
    "                            error (exit 3), missing values need f32 or f64 (exit 2)\n"
    "      --chunk SHAPE         the output's chunk shape, 24x180x360 (default: the\n"
    "                            input's, or about 4 MiB of rows)\n"
    "      --gzip 0-9            deflate the chunks at this level (on every rank at once)\n"
    "      --shuffle             HDF5's byte shuffle before deflate\n"
    "      --with [FILE:]DS      the second band of normdiff\n"
    "      --mask [FILE:]DS      elements where DS is 0, NaN or missing become NaN\n"
    "      --force               replace an existing OUT.h5 or DATASET h5mr did not write\n"
    "      --checkpoint FILE     keep the progress in FILE, and the rows written in\n"
    "                            .OUT.h5.partial-h5mr beside OUT.h5 (compressed: each\n"
    "                            rank's chunks in .OUT.h5.partial-h5mr.part-*), kept when\n"
    "                            the job is killed or stopped, renamed to OUT.h5 at the\n"
    "                            end; with --resume the job goes on from there\n"
    "      --json                one JSON object on stdout (input, ranks, output) instead\n"
    "                            of the summary\n"
    "  -h, --help                this text\n"
    "\n"
    "Every value is the same bits at any number of ranks, schedule and I/O mode.  The CF\n"
    "attributes of the input are not copied to the output.\n"
    "Exit codes: 0 success, 1 failure while running, 2 usage, 3 bad input.\n"
    "Example: mpirun -n 4 h5mr map -k convert --gzip 4 --shuffle in.nc /t2m -o t2m.h5\n";

static void print_shape(FILE *out, const h5mr_job_info *in, const char *sep)
{
    for (int i = 0; i < in->ndims; i++)
        fprintf(out, "%s%" PRIu64, i ? sep : "", in->shape[i]);
}

static double imbalance(const h5mr_job_info *in)
{
    /* Over the ranks that mapped items (rank 0 may only read and send). */
    double max = 0, sum = 0;
    int n = 0;
    for (int r = 0; r < in->ranks; r++) {
        if (in->per_rank[r].items == 0) continue;
        n++;
        sum += in->per_rank[r].busy_s;
        if (in->per_rank[r].busy_s > max) max = in->per_rank[r].busy_s;
    }
    double mean = n ? sum / n : 0;
    return mean > 0 ? max / mean - 1 : 0;
}

static const char *role_name(h5mr_role r)
{
    return r == H5MR_ROLE_MASK ? "mask" : r == H5MR_ROLE_WEIGHTS ? "weights" : r == H5MR_ROLE_BY ? "by" : "with";
}

static void print_json(const h5mr_job *job, const h5mr_job_info *in, const run_opts *o)
{
    FILE *f = stdout;
    fprintf(f, "{\"h5mr\": \"%s\", \"kernel\": ", h5mr_version());
    h5mr_json_write_string(f, in->kernel);
    fputs(", \"params\": {", f);
    for (size_t i = 0; i < h5mr_job_param_count(job); i++) {
        const char *k, *v;
        h5mr_job_param_at(job, i, &k, &v);
        if (i) fputs(", ", f);
        h5mr_json_write_string(f, k);
        fputs(": ", f);
        h5mr_json_write_string(f, v);
    }
    fputs("}, \"input\": {\"file\": ", f);
    h5mr_json_write_string(f, in->file);
    fprintf(f, ", \"files\": %zu, \"dataset\": ", in->files);
    h5mr_json_write_string(f, in->dataset);
    fputs(", \"selection\": ", f);
    if (in->selection)
        h5mr_json_write_string(f, in->selection);
    else
        fputs("null", f);
    fprintf(f, ", \"cf\": %s", in->cf ? in->cf : "null");
    for (int i = 0; i < in->ncompanions; i++) {
        fprintf(f, ", \"%s\": {\"file\": ", role_name(in->companions[i].role));
        h5mr_json_write_string(f, in->companions[i].file);
        fputs(", \"dataset\": ", f);
        h5mr_json_write_string(f, in->companions[i].dataset);
        fputs("}", f);
    }
    fputs(", \"shape\": [", f);
    print_shape(f, in, ", ");
    fprintf(f, "], \"dtype\": \"%s\"}, ", h5mr_dtype_name(in->dtype));
    fprintf(f, "\"ranks\": %d, \"schedule\": \"%s\", \"io\": \"%s\", ", in->ranks, h5mr_schedule_name(in->schedule),
            h5mr_io_name(in->io));
    fprintf(f,
            "\"items\": %" PRIu64 ", \"chunk_rows\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"elapsed_s\": ", in->items,
            in->chunk_rows, in->bytes);
    h5mr_json_write_double(f, in->elapsed_s);
    if (in->resumed_items)
        fprintf(f, ", \"resumed\": {\"items\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", in->resumed_items,
                in->resumed_bytes);
    if (in->writes && in->out_grouped) {
        fputs(", \"output\": {\"file\": ", f);
        h5mr_json_write_string(f, in->output_file);
        fputs(", \"group\": ", f);
        h5mr_json_write_string(f, in->output_object);
        fputs(", \"datasets\": [", f);
        for (int i = 0; i < in->out_count; i++) {
            if (i) fputs(", ", f);
            h5mr_json_write_string(f, in->out_names[i]);
        }
        fprintf(f, "], \"bytes\": %" PRIu64 "}", in->out_bytes);
    } else if (in->writes) {
        fputs(", \"output\": {\"file\": ", f);
        h5mr_json_write_string(f, in->output_file);
        fputs(", \"dataset\": ", f);
        h5mr_json_write_string(f, in->output_object);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": [", h5mr_dtype_name(in->out_dtype));
        print_shape(f, in, ", ");
        fputs("], \"chunk\": [", f);
        for (int d = 0; d < in->out_ndims; d++)
            fprintf(f, "%s%" PRIu64, d ? ", " : "", in->out_chunk[d]);
        fputs("], \"gzip\": ", f);
        if (in->out_gzip >= 0)
            fprintf(f, "%d", in->out_gzip);
        else
            fputs("null", f);
        fprintf(f, ", \"shuffle\": %s, \"bytes\": %" PRIu64 "}", in->out_shuffle ? "true" : "false", in->out_bytes);
    }
    fputs(", \"result\": ", f);
    h5mr_result_write_json(h5mr_job_result(job), f);
    if (o->stats) {
        fputs(", \"stats\": {\"imbalance\": ", f);
        h5mr_json_write_double(f, imbalance(in));
        fputs(", \"per_rank\": [", f);
        for (int r = 0; r < in->ranks; r++) {
            const h5mr_rank_stats *s = &in->per_rank[r];
            fprintf(f, "%s{\"rank\": %d, \"items\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"busy_s\": ", r ? ", " : "",
                    r, s->items, s->bytes);
            h5mr_json_write_double(f, s->busy_s);
            fputs(", \"wait_s\": ", f);
            h5mr_json_write_double(f, s->wait_s);
            fprintf(f, ", \"peak_rss_bytes\": %" PRIu64 "}", s->peak_rss_bytes);
        }
        fputs("]}", f);
    }
    fputs("}\n", f);
}

static void print_value(const h5mr_field *f)
{
    if (f->ndims > 0 && f->nelems <= 16) {
        h5mr_field_write_json(f, stdout);
    } else if (f->ndims > 0) {
        printf("array of shape ");
        for (int d = 0; d < f->ndims; d++)
            printf("%s%" PRIu64, d ? "x" : "", f->shape[d]);
        printf(" (--json or --output for the values)");
    } else if (f->valid && !f->valid[0]) {
        printf("-");
    } else if (f->type == H5MR_FIELD_I64) {
        printf("%" PRId64, ((const int64_t *)f->data)[0]);
    } else if (f->type == H5MR_FIELD_U64) {
        printf("%" PRIu64, ((const uint64_t *)f->data)[0]);
    } else {
        double v = ((const double *)f->data)[0];
        if (isnan(v))
            printf("-");
        else
            printf("%.17g", v);
    }
}

static void print_human(const h5mr_job *job, const h5mr_job_info *in, const run_opts *o)
{
    double gb = (double)in->bytes / 1e9;
    char sd[4096], sf[4096];
    char sel[4096] = "";
    if (in->selection) cli_safe(in->selection, sel, sizeof sel);
    printf("%s over %s%s in %s", in->kernel, cli_safe(in->dataset, sd, sizeof sd), sel,
           cli_safe(in->file, sf, sizeof sf));
    if (in->files > 1) printf(" and %zu more file%s", in->files - 1, in->files == 2 ? "" : "s");
    printf(": ");
    print_shape(stdout, in, " x ");
    printf(" %s, %.3g GB\n", h5mr_dtype_name(in->dtype), gb);
    if (in->cf && strcmp(in->cf, "null") != 0)
        printf("CF conventions applied: %s (--raw: the stored values)\n", in->cf);
    for (int i = 0; i < in->ncompanions; i++) {
        const h5mr_companion_info *c = &in->companions[i];
        printf("%s %s%s%s\n", role_name(c->role), c->own_file ? cli_safe(c->file, sf, sizeof sf) : "",
               c->own_file ? ":" : "", cli_safe(c->dataset, sd, sizeof sd));
    }
    printf("%d rank%s, %s I/O, %s schedule, %" PRIu64 " item%s of %s%" PRIu64 " rows, %.3f s", in->ranks,
           in->ranks == 1 ? "" : "s", h5mr_io_name(in->io), h5mr_schedule_name(in->schedule), in->items,
           in->items == 1 ? "" : "s", in->files > 1 ? "up to " : "", in->chunk_rows, in->elapsed_s);
    /* (the rate of what this run read: a resumed job's checkpoint had the rest) */
    double read = (double)(in->bytes - in->resumed_bytes) / 1e9;
    if (in->elapsed_s > 0 && read > 0) printf(", %.2f GB/s", read / in->elapsed_s);
    printf("\n");
    if (in->resumed_items)
        printf("resumed: %" PRIu64 " of the %" PRIu64 " items (%.3g GB) were in the checkpoint, %" PRIu64 " read now\n",
               in->resumed_items, in->items, (double)in->resumed_bytes / 1e9, in->items - in->resumed_items);
    if (in->writes && in->out_grouped) {
        printf("wrote %s:%s, one dataset per field as it was computed:", cli_safe(in->output_file, sf, sizeof sf),
               cli_safe(in->output_object, sd, sizeof sd));
        for (int i = 0; i < in->out_count; i++)
            printf("%s %s", i ? "," : "", cli_safe(in->out_names[i], sd, sizeof sd));
        printf(" (%.3g GB)\n", (double)in->out_bytes / 1e9);
    } else if (in->writes) {
        double ob = (double)in->out_bytes / 1e9, raw = 1;
        for (int d = 0; d < in->ndims; d++)
            raw *= (double)in->shape[d];
        raw *= (double)h5mr_dtype_size(in->out_dtype) / 1e9;
        printf("wrote %s:%s, ", cli_safe(in->output_file, sf, sizeof sf), cli_safe(in->output_object, sd, sizeof sd));
        print_shape(stdout, in, " x ");
        printf(" %s in chunks of ", h5mr_dtype_name(in->out_dtype));
        for (int d = 0; d < in->out_ndims; d++)
            printf("%s%" PRIu64, d ? " x " : "", in->out_chunk[d]);
        if (in->out_gzip >= 0 || in->out_shuffle)
            printf(", %s%s%s: %.3g GB stored of %.3g GB", in->out_shuffle ? "shuffle" : "",
                   in->out_shuffle && in->out_gzip >= 0 ? " + " : "", in->out_gzip >= 0 ? "gzip" : "", ob, raw);
        else
            printf(", %.3g GB", ob);
        if (in->out_gzip >= 0) printf(" (level %d)", in->out_gzip);
        printf("\n");
    }
    const h5mr_result *r = h5mr_job_result(job);
    if (h5mr_result_count(r) > 0) printf("\n");
    size_t width = 0;
    for (size_t i = 0; i < h5mr_result_count(r); i++)
        if (strlen(h5mr_result_field(r, i)->name) > width) width = strlen(h5mr_result_field(r, i)->name);
    for (size_t i = 0; i < h5mr_result_count(r); i++) {
        const h5mr_field *f = h5mr_result_field(r, i);
        printf("  %-*s  ", (int)width, f->name);
        print_value(f);
        putchar('\n');
    }
    if (o->stats) {
        printf("\n  rank      items           bytes    busy s    wait s  peak MiB\n");
        for (int k = 0; k < in->ranks; k++) {
            const h5mr_rank_stats *s = &in->per_rank[k];
            printf("  %4d %10" PRIu64 " %15" PRIu64 " %9.3f %9.3f %9.1f\n", k, s->items, s->bytes, s->busy_s, s->wait_s,
                   (double)s->peak_rss_bytes / 1048576.0);
        }
        printf("  imbalance %.3f\n", imbalance(in));
    }
}

/* The progress line.  On a terminal it is redrawn in place; elsewhere (a log file
 * under sbatch) each update is a line of its own. */
typedef struct progress_out {
    int tty;
} progress_out;

/* Is the user looking at a terminal?  Under mpirun a rank's stderr is a pipe to
 * mpirun, which copies it to its own stderr: look at that one too (rank 0 runs on
 * mpirun's node, and mpirun is its parent). */
static int stderr_is_terminal(void)
{
    if (isatty(STDERR_FILENO)) return 1;
    if (!getenv("OMPI_COMM_WORLD_SIZE")) return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/2", (long)getppid());
    int fd = open(path, O_WRONLY | O_NOCTTY);
    if (fd < 0) return 0;
    int tty = isatty(fd);
    close(fd);
    return tty;
}

static void format_eta(char *buf, size_t len, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, len, "?");
    else if (s >= 3600)
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%ds", (int)(s + 0.5));
}

static void show_progress(const h5mr_progress *p, void *arg)
{
    const progress_out *po = arg;
    double passes = p->passes > 0 ? p->passes : 1;
    double frac = p->items_total ? (p->pass + (double)p->items_done / (double)p->items_total) / passes : 1;
    double bytes = (double)p->bytes_total * p->pass + (double)p->bytes_done;
    double gbs = p->elapsed_s > 0 ? bytes / p->elapsed_s / 1e9 : 0;
    char eta[32], pass[32] = "";
    format_eta(eta, sizeof eta, frac > 0 ? p->elapsed_s * (1 - frac) / frac : -1);
    if (p->passes > 1) snprintf(pass, sizeof pass, ", pass %d/%d", p->pass + 1, p->passes);
    char line[256];
    if (p->final)
        snprintf(line, sizeof line, "h5mr: %" PRIu64 "/%" PRIu64 " items%s, %.2f GB/s, done in %.1f s", p->items_done,
                 p->items_total, pass, gbs, p->elapsed_s);
    else
        snprintf(line, sizeof line, "h5mr: %" PRIu64 "/%" PRIu64 " items (%.0f%%)%s, %.2f GB/s, ETA %s", p->items_done,
                 p->items_total, 100 * frac, pass, gbs, eta);
    if (po->tty)
        fprintf(stderr, "\r%s\033[K%s", line, p->final ? "\n" : "");
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

int cmd_run(cli *c, int argc, char **argv)
{
    int map = argc > 0 && !strcmp(argv[0], "map");
    const char *cmd = map ? "map" : "run";
    run_opts o = {.kernel = map ? "convert" : "stats",
                  .schedule = H5MR_SCHEDULE_DYNAMIC,
                  .io = H5MR_IO_AUTO,
                  .progress = -1,
                  .store = {.dtype = -1, .gzip = -1}};
    o.params = calloc((size_t)argc + 1, sizeof *o.params);
    o.plugins = calloc((size_t)argc + 1, sizeof *o.plugins);
    o.files = calloc((size_t)argc + 1, sizeof *o.files);
    o.lists = calloc((size_t)argc + 1, sizeof *o.lists);
    if (!o.params || !o.plugins || !o.files || !o.lists) {
        free(o.params), free(o.plugins), free(o.files), free(o.lists);
        return EXIT_RUN;
    }
    char msg[512] = "";
    int code = run_args_parse(argc, argv, &o, msg, sizeof msg);
    if (code < 0) { /* --help */
        if (c->rank == 0) fputs(map ? map_usage : run_usage, stdout);
        free(o.params);
        free(o.plugins);
        free(o.files);
        free(o.lists);
        return EXIT_OK;
    }
    if (code != 0) cli_error(c, "%s", msg);
    if (code == 0 && o.ranks > 0 && o.ranks != c->size) {
        cli_error(c, "%s: -n %d, but this job has %d rank%s (inside mpirun, -n must match it)", cmd, o.ranks, c->size,
                  c->size == 1 ? "" : "s");
        code = EXIT_USAGE;
    }
    if (code == 0 && !map && o.store_given) {
        cli_error(c, "run: --dtype, --chunk, --gzip and --shuffle are options of h5mr map (which writes a dataset)");
        code = EXIT_USAGE;
    }
    if (code == 0) code = cli_load_plugins(c, o.plugins, o.nplugins);
    if (code == 0 && ((!o.file && o.nlists == 0) || !o.dataset)) {
        cli_error(c, "%s: missing %s (usage: h5mr %s [OPTIONS] FILE... DATASET%s)", cmd,
                  o.dataset ? "DATASET (the last argument)" : "FILE and DATASET", cmd, map ? " -o OUT.h5" : "");
        code = EXIT_USAGE;
    } else if (code == 0 && map && !o.output) {
        cli_error(c, "map: missing -o OUT.h5[:/DATASET], where to write (usage: h5mr map [OPTIONS] FILE... DATASET -o "
                     "OUT.h5)");
        code = EXIT_USAGE;
    } else if (code == 0 && !h5mr_kernel_find(o.kernel)) {
        char names[512] = "";
        for (size_t i = 0; i < h5mr_kernel_count(); i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, h5mr_kernel_at(i)->name, sizeof names - strlen(names) - 1);
        }
        const char *list[256];
        size_t nk = 0;
        for (size_t i = 0; i < h5mr_kernel_count() && nk < 256; i++)
            list[nk++] = h5mr_kernel_at(i)->name;
        char hint[160];
        cli_did_you_mean(hint, sizeof hint, o.kernel, list, nk, "");
        cli_error(c, "%s: unknown kernel '%s'%s (kernels: %s)", cmd, o.kernel, hint, names);
        code = EXIT_USAGE;
    } else if (code == 0 && map != h5mr_kernel_writes(h5mr_kernel_find(o.kernel))) {
        if (map)
            cli_error(c,
                      "map: kernel %s reduces, it writes no dataset: use h5mr run -k %s (map kernels: convert, "
                      "scale, anomaly, normdiff and plugins'; see h5mr kernels)",
                      o.kernel, o.kernel);
        else
            cli_error(c, "run: kernel %s writes a dataset: use h5mr map -k %s ... -o OUT.h5", o.kernel, o.kernel);
        code = EXIT_USAGE;
    }
    if (code != 0) {
        free(o.params);
        free(o.plugins);
        free(o.files);
        free(o.lists);
        return code;
    }

    h5mr_job *job = NULL;
    h5mr_error err = {0};
    h5mr_status st = h5mr_job_create(MPI_COMM_WORLD, &job, &err);
    if (st == H5MR_OK) st = h5mr_job_set_dataset(job, o.dataset);
    for (int i = 0; st == H5MR_OK && i < o.nfiles; i++)
        st = h5mr_job_add_file(job, o.files[i]);
    for (int i = 0; st == H5MR_OK && i < o.nlists; i++)
        st = h5mr_job_add_file_list(job, o.lists[i]);
    if (st == H5MR_OK) st = h5mr_job_set_raw(job, o.raw);
    const struct {
        h5mr_role role;
        const char *spec, *option;
    } comps[] = {{H5MR_ROLE_MASK, o.mask, "--mask"},
                 {H5MR_ROLE_WEIGHTS, o.weights, "--weights"},
                 {H5MR_ROLE_BY, o.by, "--by"},
                 {H5MR_ROLE_WITH, o.with, "--with"}};
    for (size_t i = 0; st == H5MR_OK && i < sizeof comps / sizeof comps[0]; i++)
        if (comps[i].spec && (st = h5mr_job_set_companion(job, comps[i].role, comps[i].spec)) != H5MR_OK)
            snprintf(err.message, sizeof err.message, "%s: %s '%s' is not [FILE:]DATASET", cmd, comps[i].option,
                     comps[i].spec);
    if (st == H5MR_OK) st = h5mr_job_set_kernel(job, o.kernel);
    for (int i = 0; st == H5MR_OK && i < o.nparams; i++) {
        char *eq = strchr(o.params[i], '=');
        *eq = '\0';
        st = h5mr_job_set_param(job, o.params[i], eq + 1);
        *eq = '=';
    }
    if (st == H5MR_OK) st = h5mr_job_set_chunk_rows(job, o.chunk_rows);
    if (st == H5MR_OK) st = h5mr_job_set_schedule(job, o.schedule);
    if (st == H5MR_OK) st = h5mr_job_set_io(job, o.io);
    if (st == H5MR_OK && o.output && (st = h5mr_job_set_output(job, o.output)) != H5MR_OK)
        snprintf(err.message, sizeof err.message, "%s: -o '%s' is not FILE or FILE:/%s", cmd, o.output,
                 map ? "DATASET" : "GROUP");
    if (st == H5MR_OK && map) st = h5mr_job_set_store(job, &o.store);
    if (st == H5MR_OK && (o.checkpoint || o.resume || o.checkpoint_every > 0)) {
        if (!o.checkpoint) {
            snprintf(err.message, sizeof err.message, "%s: %s needs --checkpoint FILE", cmd,
                     o.resume ? "--resume" : "--checkpoint-every");
            st = H5MR_EUSAGE;
        } else {
            st = h5mr_job_set_checkpoint(job, o.checkpoint, o.checkpoint_every, o.resume);
            if (st == H5MR_OK) guard_set_checkpointing();
        }
    }
    if (st == H5MR_OK) st = h5mr_job_set_force(job, o.force);
    guard_set_timeout(o.timeout_s);
    progress_out po = {c->rank == 0 && o.progress != 0 && stderr_is_terminal()};
    if (st == H5MR_OK && c->rank == 0 && (o.progress == 1 || (o.progress == -1 && po.tty)))
        st = h5mr_job_set_progress(job, show_progress, &po, po.tty ? 0.25 : 5.0);
    if (st == H5MR_OK) st = h5mr_job_run(job, &err);
    if (st != H5MR_OK) {
        cli_error(c, "%s", err.message[0] ? err.message : h5mr_strerror(st));
    } else if (c->rank == 0) {
        h5mr_job_info in;
        h5mr_job_get_info(job, &in);
        if (o.json)
            print_json(job, &in, &o);
        else
            print_human(job, &in, &o);
    }
    h5mr_job_free(job);
    free(o.params);
    free(o.plugins);
    free(o.files);
    free(o.lists);
    return cli_exit_code(st);
}
