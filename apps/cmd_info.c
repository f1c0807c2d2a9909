/* cmd_info.c: `h5mr info` — a file's datasets, or one dataset's shape, type, storage
 * and the item plan h5mr would use.  Rank 0 only; every rank returns its exit code. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Everything goes to memory first, and to stdout only on success: a failure prints
 * nothing there (nor half a JSON object). */
static FILE *out;

static const char info_usage[] = "Usage: h5mr info [--json] [--chunk-rows N] [--raw] FILE... [DATASET]\n"
                                 "Without DATASET: list the datasets of each FILE with their shape and type.\n"
                                 "With DATASET: its shape, type, storage layout, chunk shape, filters, the CF\n"
                                 "conventions that apply, and the plan of work items h5mr run would use (for\n"
                                 "--chunk-rows N if given).  With several FILEs (or a quoted pattern) it\n"
                                 "describes their concatenation along dimension 0 and the rows of each file;\n"
                                 "DATASET may carry a selection ('/tas[0:744]'), as for h5mr run.\n"
                                 "  --raw             ignore CF conventions, as h5mr run --raw\n"
                                 "  --json            one JSON object on stdout\n"
                                 "  --chunk-rows N    the plan for N rows per item instead of the automatic one\n"
                                 "  -h, --help        this text\n";

static void print_dims(const uint64_t *d, int n, const char *sep)
{
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%" PRIu64, i ? sep : "", d[i]);
}

typedef struct list_ctx {
    int json, count;
} list_ctx;

static int list_one(const char *path, const h5mr_dataset_info *in, const char *why, void *arg)
{
    list_ctx *l = arg;
    if (l->json) {
        fputs(l->count++ ? ", {\"dataset\": " : "{\"dataset\": ", out);
        h5mr_json_write_string(out, path);
        if (in) {
            if (in->link[0]) {
                fputs(", \"link\": ", out);
                h5mr_json_write_string(out, in->link);
            }
            fputs(", \"shape\": [", out);
            print_dims(in->shape, in->ndims, ", ");
            fprintf(out, "], \"dtype\": \"%s\"}", h5mr_dtype_name(in->dtype));
        } else {
            fputs(", \"unsupported\": ", out);
            h5mr_json_write_string(out, why);
            fputc('}', out);
        }
        return 0;
    }
    char safe[4096];
    fprintf(out, "%-32s ", cli_safe(path, safe, sizeof safe));
    if (in) {
        if (in->link[0]) fprintf(out, "-> %s: ", cli_safe(in->link, safe, sizeof safe));
        print_dims(in->shape, in->ndims, " x ");
        fprintf(out, " %s, %s\n", h5mr_dtype_name(in->dtype), in->layout);
    } else {
        fprintf(out, "(not readable by h5mr: %s)\n", why);
    }
    l->count++;
    return 0;
}

/* The rows of each file, collected while the files are described. */
typedef struct rows_list {
    char *buf;
    size_t len;
    FILE *f;
    int json, n;
    char first[4096]; /* the first file (a pattern expanded) */
} rows_list;

static int add_rows(const char *file, uint64_t rows, void *arg)
{
    rows_list *r = arg;
    if (r->n == 0) snprintf(r->first, sizeof r->first, "%s", file);
    if (r->json) {
        fputs(r->n++ ? ", {\"file\": " : "{\"file\": ", r->f);
        h5mr_json_write_string(r->f, file);
        fprintf(r->f, ", \"rows\": %" PRIu64 "}", rows);
    } else {
        /* A terminal's worth: the first 10 files, then how many more. */
        char safe[4096];
        if (r->n < 10) fprintf(r->f, "    %10" PRIu64 "  %s\n", rows, cli_safe(file, safe, sizeof safe));
        r->n++;
    }
    return 0;
}

static void describe_json(const char *file, const char *dset, const h5mr_dataset_info *in, const char *rows)
{
    fputs("{\"file\": ", out);
    h5mr_json_write_string(out, file);
    fprintf(out, ", \"files\": %" PRIu64 ", \"rows_per_file\": [%s], \"dataset\": ", in->files, rows);
    h5mr_json_write_string(out, dset);
    fprintf(out, ", \"cf\": %s", in->cf);
    fputs(", \"shape\": [", out);
    print_dims(in->shape, in->ndims, ", ");
    fprintf(out, "], \"dtype\": \"%s\", \"layout\": \"%s\", \"chunk\": ", h5mr_dtype_name(in->dtype), in->layout);
    if (in->chunked) {
        fputc('[', out);
        print_dims(in->chunk, in->ndims, ", ");
        fputc(']', out);
    } else {
        fputs("null", out);
    }
    fputs(", \"filters\": [", out);
    for (int i = 0; i < in->nfilters && i < 8; i++) {
        if (i) fputs(", ", out);
        h5mr_json_write_string(out, in->filters[i]);
    }
    fprintf(out,
            "], \"bytes\": %" PRIu64 ", \"plan\": {\"chunk_rows\": %" PRIu64 ", \"items\": %" PRIu64
            ", \"item_bytes\": %" PRIu64 "}}\n",
            in->bytes, in->chunk_rows, in->items, in->item_bytes);
}

static void describe_human(const char *file, const char *dset, const h5mr_dataset_info *in, const char *rows)
{
    char sd[4096], sf[4096];
    fprintf(out, "%s in %s", cli_safe(dset, sd, sizeof sd), cli_safe(file, sf, sizeof sf));
    if (in->files > 1)
        fprintf(out, " and %" PRIu64 " more file%s, joined along dimension 0\n  files    rows of each:\n%s",
                in->files - 1, in->files == 2 ? "" : "s", rows);
    else
        fputc('\n', out);
    fprintf(out, "  shape    ");
    print_dims(in->shape, in->ndims, " x ");
    fprintf(out, "\n  type     %s\n  bytes    %" PRIu64 " (%.3g GB)\n  layout   %s", h5mr_dtype_name(in->dtype),
            in->bytes, (double)in->bytes / 1e9, in->chunked ? "chunked, chunks of " : in->layout);
    if (in->chunked) print_dims(in->chunk, in->ndims, " x ");
    fprintf(out, "\n  filters  ");
    if (in->nfilters == 0) fprintf(out, "none");
    for (int i = 0; i < in->nfilters && i < 8; i++)
        fprintf(out, "%s%s", i ? ", " : "", in->filters[i]);
    if (strcmp(in->cf, "null") != 0) fprintf(out, "\n  CF       %s (run --raw to ignore)", in->cf);
    fprintf(out, "\n  plan     %" PRIu64 " item%s of %" PRIu64 " rows (%.3g MB each)\n", in->items,
            in->items == 1 ? "" : "s", in->chunk_rows, (double)in->item_bytes / 1e6);
}

int cmd_info(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"chunk-rows", required_argument, NULL, 'c'},
                                             {"raw", no_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int json = 0, raw = 0, ch;
    uint64_t chunk_rows = 0;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'r': raw = 1; break;
        case 'c':
            if (cli_parse_u64(optarg, &chunk_rows) || chunk_rows == 0) {
                cli_error(c, "info: --chunk-rows '%s' is not a positive integer", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            if (c->rank == 0) fputs(info_usage, stdout);
            return EXIT_OK;
        default:
            if (optopt == 'c')
                cli_error(c, "info: option --chunk-rows needs a value");
            else
                cli_error(c, "info: unknown option '%s' (see h5mr info --help)", cli_bad_option(argv, optopt));
            return EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    if (nargs < 1) {
        cli_error(c, "info: missing FILE (usage: h5mr info [--json] FILE... [DATASET])");
        return EXIT_USAGE;
    }
    /* The last argument is DATASET unless it names a file (or there is only one). */
    struct stat sb;
    const char *last = argv[argc - 1];
    const char *dset = nargs >= 2 && stat(last, &sb) != 0 ? last : NULL;
    int nfiles = dset ? nargs - 1 : nargs;
    const char *const *files = (const char *const *)argv + optind;
    int code = EXIT_OK;
    if (c->rank == 0) {
        h5mr_error err = {0};
        h5mr_status st = H5MR_OK;
        char *buf = NULL;
        size_t len = 0;
        if (!(out = open_memstream(&buf, &len))) {
            cli_error(c, "info: out of memory");
            code = EXIT_RUN;
            goto done;
        }
        if (dset) {
            h5mr_dataset_info in;
            rows_list rl = {.json = json};
            if (!(rl.f = open_memstream(&rl.buf, &rl.len))) st = H5MR_ENOMEM;
            if (st == H5MR_OK)
                st = h5mr_files_inspect(files, (size_t)nfiles, dset, chunk_rows, raw, &in, add_rows, &rl, &err);
            if (rl.f && !json && rl.n > 10) fprintf(rl.f, "    ... and %d more (--json lists them all)\n", rl.n - 10);
            if (rl.f) fclose(rl.f);
            if (st == H5MR_OK)
                json ? describe_json(rl.first, dset, &in, rl.buf) : describe_human(rl.first, dset, &in, rl.buf);
            free(rl.buf);
        } else {
            if (json && nfiles > 1) fputs("{\"files\": [", out);
            for (int i = 0; i < nfiles && st == H5MR_OK; i++) {
                list_ctx l = {json, 0};
                if (json) {
                    fputs(i ? ", {\"file\": " : "{\"file\": ", out);
                    h5mr_json_write_string(out, files[i]);
                    fputs(", \"datasets\": [", out);
                } else if (nfiles > 1) {
                    char safe[4096];
                    fprintf(out, "%s%s:\n", i ? "\n" : "", cli_safe(files[i], safe, sizeof safe));
                }
                st = h5mr_file_datasets(files[i], list_one, &l, &err);
                if (json && st == H5MR_OK) fputs(nfiles > 1 ? "]}" : "]}\n", out);
            }
            if (json && nfiles > 1 && st == H5MR_OK) fputs("]}\n", out);
        }
        fclose(out);
        if (st == H5MR_OK)
            fwrite(buf, 1, len, stdout);
        else
            cli_error(c, "%s", err.message);
        free(buf);
        code = cli_exit_code(st);
    }
done:
    cli_share_code(c, &code);
    return code;
}
