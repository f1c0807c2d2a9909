/* run_args.c: parsing the options of `h5mr run`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "run_args.h"

enum {
    OPT_CHUNK_ROWS = 256,
    OPT_SCHEDULE,
    OPT_IO,
    OPT_PLUGIN,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_STATS,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_FORCE,
    OPT_FILES_FROM,
    OPT_RAW,
    OPT_MASK,
    OPT_WEIGHTS,
    OPT_BY,
    OPT_WITH,
    OPT_DTYPE,
    OPT_CHUNK,
    OPT_GZIP,
    OPT_SHUFFLE,
    OPT_CHECKPOINT,
    OPT_CHECKPOINT_EVERY,
    OPT_RESUME
};

int run_args_ranks(const char *s)
{
    uint64_t v;
    return cli_parse_u64(s, &v) == 0 && v >= 1 && v <= 1000000 ? (int)v : -1;
}

/* "did you mean" for an unknown option: the closest long option, or -p for a
 * kernel parameter written as an option (--bins=4). */
static void unknown_option(const char *cmd, const char *bad, const struct option *longopts, char *msg, size_t len)
{
    char word[64] = "", hint[160] = "";
    const char *w = bad;
    while (*w == '-')
        w++;
    snprintf(word, sizeof word, "%.*s", (int)strcspn(w, "="), w);
    const char *names[32];
    size_t n = 0;
    for (const struct option *o = longopts; o->name && n < 32; o++)
        names[n++] = o->name;
    if (bad[0] == '-' && bad[1] == '-' && word[0]) cli_did_you_mean(hint, sizeof hint, word, names, n, "--");
    if (!hint[0] && strchr(bad, '=')) snprintf(hint, sizeof hint, "; kernel parameters go as -p %s", w);
    snprintf(msg, len, "%s: unknown option '%s'%s (see h5mr %s --help)", cmd, bad, hint, cmd);
}

/* A positive number of seconds (at most 1e9): 0, or -1. */
static int parse_seconds(const char *text, double *out)
{
    char *end = NULL;
    *out = strtod(text, &end);
    return end == text || *end || !(*out > 0) || *out > 1e9 ? -1 : 0;
}

int run_args_parse(int argc, char **argv, run_opts *o, char *msg, size_t len)
{
    static const struct option longopts[] = {{"kernel", required_argument, NULL, 'k'},
                                             {"param", required_argument, NULL, 'p'},
                                             {"chunk-rows", required_argument, NULL, OPT_CHUNK_ROWS},
                                             {"schedule", required_argument, NULL, OPT_SCHEDULE},
                                             {"io", required_argument, NULL, OPT_IO},
                                             {"json", no_argument, NULL, OPT_JSON},
                                             {"stats", no_argument, NULL, OPT_STATS},
                                             {"progress", no_argument, NULL, OPT_PROGRESS},
                                             {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
                                             {"output", required_argument, NULL, 'o'},
                                             {"plugin", required_argument, NULL, OPT_PLUGIN},
                                             {"timeout", required_argument, NULL, OPT_TIMEOUT},
                                             {"force", no_argument, NULL, OPT_FORCE},
                                             {"files-from", required_argument, NULL, OPT_FILES_FROM},
                                             {"raw", no_argument, NULL, OPT_RAW},
                                             {"mask", required_argument, NULL, OPT_MASK},
                                             {"weights", required_argument, NULL, OPT_WEIGHTS},
                                             {"by", required_argument, NULL, OPT_BY},
                                             {"with", required_argument, NULL, OPT_WITH},
                                             {"ranks", required_argument, NULL, 'n'},
                                             {"dtype", required_argument, NULL, OPT_DTYPE},
                                             {"chunk", required_argument, NULL, OPT_CHUNK},
                                             {"gzip", required_argument, NULL, OPT_GZIP},
                                             {"shuffle", no_argument, NULL, OPT_SHUFFLE},
                                             {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
                                             {"checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY},
                                             {"resume", no_argument, NULL, OPT_RESUME},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *cmd = argc > 0 && argv[0] && !strcmp(argv[0], "map") ? "map" : "run";
    opterr = 0;
    optind = 0; /* 0, not 1: GNU getopt starts afresh (needed when called again) */
    int ch;
    while ((ch = getopt_long(argc, argv, "k:p:o:n:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k': o->kernel = optarg; break;
        case 'n':
            if ((o->ranks = run_args_ranks(optarg)) < 0) {
                snprintf(msg, len, "%s: -n '%s' is not a number of ranks (1 or more)", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o': o->output = optarg; break;
        case 'p':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                if (!strchr(optarg, '=') && optind < argc && argv[optind][0] != '-')
                    snprintf(msg, len, "%s: -p '%s' is not KEY=VALUE; did you mean '-p %s=%s'?", cmd, optarg, optarg,
                             argv[optind]);
                else
                    snprintf(msg, len, "%s: -p '%s' is not KEY=VALUE", cmd, optarg);
                return EXIT_USAGE;
            }
            o->params[o->nparams++] = optarg;
            break;
        case OPT_CHUNK_ROWS:
            if (cli_parse_u64(optarg, &o->chunk_rows) || o->chunk_rows == 0) {
                snprintf(msg, len, "%s: --chunk-rows '%s' is not a positive integer", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_SCHEDULE:
            if (h5mr_schedule_parse(optarg, &o->schedule) != H5MR_OK) {
                snprintf(msg, len, "%s: --schedule '%s' is not static or dynamic", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_IO:
            if (h5mr_io_parse(optarg, &o->io) != H5MR_OK) {
                snprintf(msg, len, "%s: --io '%s' is not scatter, parallel or auto", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_TIMEOUT:
            if (parse_seconds(optarg, &o->timeout_s) != 0) {
                snprintf(msg, len, "%s: --timeout '%s' is not a positive number of seconds", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_FORCE: o->force = 1; break;
        case OPT_CHECKPOINT: o->checkpoint = optarg; break;
        case OPT_RESUME: o->resume = 1; break;
        case OPT_CHECKPOINT_EVERY:
            if (parse_seconds(optarg, &o->checkpoint_every) != 0) {
                snprintf(msg, len, "%s: --checkpoint-every '%s' is not a positive number of seconds", cmd, optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_DTYPE: {
            h5mr_dtype t;
            if (h5mr_dtype_parse(optarg, &t) != H5MR_OK) {
                snprintf(msg, len, "%s: --dtype '%s' is not a type (i8 i16 i32 i64 u8 u16 u32 u64 f32 f64)", cmd,
                         optarg);
                return EXIT_USAGE;
            }
            o->store.dtype = (int)t;
            o->store_given = 1;
            break;
        }
        case OPT_CHUNK: {
            int nd = cli_parse_dims(optarg, o->store.chunk, 32);
            int ok = nd > 0;
            for (int d = 0; ok && d < nd; d++)
                ok = o->store.chunk[d] >= 1;
            if (!ok) {
                snprintf(msg, len, "%s: --chunk '%s' is not a chunk shape (24x180x360, or 24,180,360)", cmd, optarg);
                return EXIT_USAGE;
            }
            o->store.chunk_ndims = nd;
            o->store_given = 1;
            break;
        }
        case OPT_GZIP: {
            uint64_t v;
            if (cli_parse_u64(optarg, &v) || v > 9) {
                snprintf(msg, len, "%s: --gzip '%s' is not a level from 0 to 9", cmd, optarg);
                return EXIT_USAGE;
            }
            o->store.gzip = (int)v;
            o->store_given = 1;
            break;
        }
        case OPT_SHUFFLE:
            o->store.shuffle = 1;
            o->store_given = 1;
            break;
        case OPT_RAW: o->raw = 1; break;
        case OPT_MASK: o->mask = optarg; break;
        case OPT_WEIGHTS: o->weights = optarg; break;
        case OPT_BY: o->by = optarg; break;
        case OPT_WITH: o->with = optarg; break;
        case OPT_FILES_FROM:
            if (o->lists) o->lists[o->nlists++] = optarg;
            break;
        case OPT_PLUGIN:
            if (o->plugins) o->plugins[o->nplugins++] = optarg;
            break;
        case OPT_JSON: o->json = 1; break;
        case OPT_STATS: o->stats = 1; break;
        case OPT_PROGRESS: o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case 'h': return -1;
        case ':':
            snprintf(msg, len, "%s: option %s needs a value (see h5mr %s --help)", cmd, cli_bad_option(argv, optopt),
                     cmd);
            return EXIT_USAGE;
        default:
            if (optopt && (optopt == 'k' || optopt == 'p' || optopt == 'o' || optopt == 'n' ||
                           (optopt >= OPT_CHUNK_ROWS && optopt <= OPT_TIMEOUT) || optopt == OPT_FILES_FROM ||
                           optopt == OPT_DTYPE || optopt == OPT_CHUNK || optopt == OPT_GZIP ||
                           optopt == OPT_CHECKPOINT || optopt == OPT_CHECKPOINT_EVERY))
                snprintf(msg, len, "%s: option %s needs a value (see h5mr %s --help)", cmd, argv[optind - 1], cmd);
            else
                unknown_option(cmd, cli_bad_option(argv, optopt), longopts, msg, len);
            return EXIT_USAGE;
        }
    }
    /* GNU getopt moved the operands to the end, so options may come after them too.
     * The last operand is DATASET, the others FILEs. */
    int npos = argc - optind;
    if (npos >= 1) o->dataset = argv[argc - 1];
    for (int i = optind; i < argc - 1; i++) {
        if (!o->file) o->file = argv[i];
        if (o->files) o->files[o->nfiles++] = argv[i];
    }
    return 0;
}
