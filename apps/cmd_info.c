/* cmd_info.c: `h5mr info` — a file's datasets, or one dataset's shape, type, storage
 * and the item plan h5mr would use.  Rank 0 only; every rank returns its exit code. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Everything goes to memory first, and to stdout only on success: a failure prints
 * nothing there (nor half a JSON object). */
static FILE *out;

static const char info_usage[] = "Usage: h5mr info [--json] [--chunk-rows N] FILE [DATASET]\n"
                                 "Without DATASET: list the datasets of FILE with their shape and type.\n"
                                 "With DATASET: its shape, type, storage layout, chunk shape, filters, and the plan\n"
                                 "of work items h5mr run would use (for --chunk-rows N if given).\n"
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
        print_dims(in->shape, in->ndims, " x ");
        fprintf(out, " %s, %s\n", h5mr_dtype_name(in->dtype), in->layout);
    } else {
        fprintf(out, "(not readable by h5mr: %s)\n", why);
    }
    l->count++;
    return 0;
}

static void describe_json(const char *file, const char *dset, const h5mr_dataset_info *in)
{
    fputs("{\"file\": ", out);
    h5mr_json_write_string(out, file);
    fputs(", \"dataset\": ", out);
    h5mr_json_write_string(out, dset);
    fputs(", \"shape\": [", out);
    print_dims(in->shape, in->ndims, ", ");
    fprintf(out, "], \"dtype\": \"%s\", \"layout\": \"%s\", \"chunk\": ", h5mr_dtype_name(in->dtype),
            in->layout);
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

static void describe_human(const char *file, const char *dset, const h5mr_dataset_info *in)
{
    char sd[4096], sf[4096];
    fprintf(out, "%s in %s\n  shape    ", cli_safe(dset, sd, sizeof sd), cli_safe(file, sf, sizeof sf));
    print_dims(in->shape, in->ndims, " x ");
    fprintf(out, "\n  type     %s\n  bytes    %" PRIu64 " (%.3g GB)\n  layout   %s", h5mr_dtype_name(in->dtype),
            in->bytes, (double)in->bytes / 1e9, in->chunked ? "chunked, chunks of " : in->layout);
    if (in->chunked) print_dims(in->chunk, in->ndims, " x ");
    fprintf(out, "\n  filters  ");
    if (in->nfilters == 0) fprintf(out, "none");
    for (int i = 0; i < in->nfilters && i < 8; i++)
        fprintf(out, "%s%s", i ? ", " : "", in->filters[i]);
    fprintf(out, "\n  plan     %" PRIu64 " item%s of %" PRIu64 " rows (%.3g MB each)\n", in->items,
            in->items == 1 ? "" : "s", in->chunk_rows, (double)in->item_bytes / 1e6);
}

int cmd_info(cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"chunk-rows", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int json = 0, ch;
    uint64_t chunk_rows = 0;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
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
    if (nargs < 1 || nargs > 2) {
        cli_error(c, "info: %s (usage: h5mr info [--json] FILE [DATASET])",
                  nargs < 1 ? "missing FILE" : "too many arguments");
        return EXIT_USAGE;
    }
    const char *file = argv[optind], *dset = nargs == 2 ? argv[optind + 1] : NULL;
    int code = EXIT_OK;
    if (c->rank == 0) {
        h5mr_error err = {0};
        h5mr_status st;
        char *buf = NULL;
        size_t len = 0;
        if (!(out = open_memstream(&buf, &len))) {
            cli_error(c, "info: out of memory");
            code = EXIT_RUN;
            goto done;
        }
        if (dset) {
            h5mr_dataset_info in;
            st = h5mr_dataset_inspect(file, dset, chunk_rows, &in, &err);
            if (st == H5MR_OK) json ? describe_json(file, dset, &in) : describe_human(file, dset, &in);
        } else {
            list_ctx l = {json, 0};
            if (json) {
                fputs("{\"file\": ", out);
                h5mr_json_write_string(out, file);
                fputs(", \"datasets\": [", out);
            }
            st = h5mr_file_datasets(file, list_one, &l, &err);
            if (json && st == H5MR_OK) fputs("]}\n", out);
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
