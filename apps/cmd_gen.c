/* cmd_gen.c: `h5mr gen` — write a synthetic dataset, streaming, in slabs of rows.
 * Every element is a function of (seed, flat index) alone, so the data does not depend
 * on the slab size and a file of any size takes a few MiB of memory to write. */
#include <errno.h>
#include <getopt.h>
#include <hdf5.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "atomic.h"
#include "cli.h"
#include "h5mr_hdf5.h"

static const char gen_usage[] =
    "Usage: h5mr gen [OPTIONS] FILE DATASET\n"
    "Write a synthetic dataset DATASET into FILE (created if missing).\n"
    "\n"
    "Options:\n"
    "  --shape AxBx...      extents, dimension 0 first (required), e.g. 8760x73x144\n"
    "  --dtype T            i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 (default f64)\n"
    "  --chunk AxBx...      stored chunk shape, exactly (default: contiguous)\n"
    "  --contiguous         contiguous storage (the default without --chunk/--gzip)\n"
    "  --gzip 0-9           deflate level; without --chunk a chunk of ~1 MiB of rows\n"
    "  --shuffle            HDF5's byte shuffle before deflate (chunked storage)\n"
    "  --fill KIND          random: uniform, floats in [0,1), integers in the type's\n"
    "                         range clipped to [-1000, 1000];\n"
    "                       normal: centred on 0, sd 1 (integers: sd 100, rounded);\n"
    "                       ramp: the C-order element index (scaled to fit small types);\n"
    "                       zeros (default random)\n"
    "  --seed N             seed of random and normal (default 1): same seed, same data\n"
    "  --force              replace DATASET if it exists (otherwise an error)\n"
    "  -h, --help           this text\n"
    "\n"
    "Example: h5mr gen --shape 8760x73x144 --dtype f32 --chunk 24x73x144 --fill normal t.h5 /temperature\n";

enum { FILL_RANDOM, FILL_NORMAL, FILL_RAMP, FILL_ZEROS };
enum { OPT_SHAPE = 256, OPT_DTYPE, OPT_CHUNK, OPT_CONTIG, OPT_GZIP, OPT_SHUFFLE, OPT_FILL, OPT_SEED, OPT_FORCE };

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t seed, uint64_t i) { return (double)(mix(seed ^ mix(i)) >> 11) * 0x1p-53; }

static double normal(uint64_t seed, uint64_t i)
{
    double u1 = uniform(seed, 2 * i), u2 = uniform(seed, 2 * i + 1);
    return sqrt(-2.0 * log1p(-u1)) * cos(6.283185307179586 * u2);
}

typedef struct gen_spec {
    h5mr_dtype dtype;
    int fill;
    uint64_t seed, total;
} gen_spec;

static void type_range(h5mr_dtype t, double *lo, double *hi)
{
    int bits = (int)h5mr_dtype_size(t) * 8;
    if (h5mr_dtype_is_signed(t)) {
        *lo = -ldexp(1.0, bits - 1);
        *hi = ldexp(1.0, bits - 1) - 1;
    } else {
        *lo = 0;
        *hi = ldexp(1.0, bits) - 1;
    }
}

/* The value of element i, as a double that the type holds exactly (floats: rounded). */
static double value_at(const gen_spec *g, uint64_t i)
{
    int is_float = h5mr_dtype_is_float(g->dtype);
    double lo, hi;
    type_range(g->dtype, &lo, &hi);
    switch (g->fill) {
    case FILL_ZEROS: return 0.0;
    case FILL_RAMP:
        if (is_float || (double)(g->total - 1) <= hi) return (double)i;
        return floor((double)i * (hi / (double)(g->total - 1)));
    case FILL_NORMAL: {
        double z = normal(g->seed, i);
        if (is_float) return z;
        double v = nearbyint(z * 100.0);
        return v < lo ? lo : v > hi ? hi : v;
    }
    default: {
        double u = uniform(g->seed, i);
        if (is_float) return u;
        double a = lo < -1000 ? -1000 : lo, b = hi > 1000 ? 1000 : hi;
        if (h5mr_dtype_size(g->dtype) == 1) a = lo, b = hi;
        return a + floor(u * (b - a + 1));
    }
    }
}

static void fill(const gen_spec *g, uint64_t first, uint64_t n, void *buf)
{
#define H5MR_CASE(T, W)                                                                                                \
    for (uint64_t k = 0; k < n; k++)                                                                                   \
        ((T *)buf)[k] = (T)value_at(g, first + k);
    H5MR_DTYPE_SWITCH(g->dtype, )
#undef H5MR_CASE
}

typedef struct gen_opts {
    uint64_t shape[32], chunk[32];
    int ndims, nchunk, contiguous, gzip, shuffle, force;
    gen_spec g;
    const char *file, *dataset;
} gen_opts;

static int parse(cli *c, int argc, char **argv, gen_opts *o)
{
    static const struct option longopts[] = {{"shape", required_argument, NULL, OPT_SHAPE},
                                             {"dtype", required_argument, NULL, OPT_DTYPE},
                                             {"chunk", required_argument, NULL, OPT_CHUNK},
                                             {"contiguous", no_argument, NULL, OPT_CONTIG},
                                             {"gzip", required_argument, NULL, OPT_GZIP},
                                             {"shuffle", no_argument, NULL, OPT_SHUFFLE},
                                             {"fill", required_argument, NULL, OPT_FILL},
                                             {"seed", required_argument, NULL, OPT_SEED},
                                             {"force", no_argument, NULL, OPT_FORCE},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 1;
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case OPT_SHAPE:
            if ((o->ndims = cli_parse_dims(optarg, o->shape, 32)) < 0) {
                cli_error(c, "gen: --shape '%s' is not extents like 1000x64", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_CHUNK:
            if ((o->nchunk = cli_parse_dims(optarg, o->chunk, 32)) < 0) {
                cli_error(c, "gen: --chunk '%s' is not a chunk shape like 4096x64", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_DTYPE:
            if (h5mr_dtype_parse(optarg, &o->g.dtype) != H5MR_OK) {
                cli_error(c, "gen: --dtype '%s' is not one of i8 i16 i32 i64 u8 u16 u32 u64 f32 f64", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_CONTIG: o->contiguous = 1; break;
        case OPT_SHUFFLE: o->shuffle = 1; break;
        case OPT_GZIP:
            if (cli_parse_u64(optarg, &v) || v > 9) {
                cli_error(c, "gen: --gzip '%s' is not a level from 0 to 9", optarg);
                return EXIT_USAGE;
            }
            o->gzip = (int)v;
            break;
        case OPT_FILL:
            if (!strcmp(optarg, "random"))
                o->g.fill = FILL_RANDOM;
            else if (!strcmp(optarg, "normal"))
                o->g.fill = FILL_NORMAL;
            else if (!strcmp(optarg, "ramp"))
                o->g.fill = FILL_RAMP;
            else if (!strcmp(optarg, "zeros"))
                o->g.fill = FILL_ZEROS;
            else {
                cli_error(c, "gen: --fill '%s' is not random, normal, ramp or zeros", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_SEED:
            if (cli_parse_u64(optarg, &o->g.seed)) {
                cli_error(c, "gen: --seed '%s' is not a non-negative integer", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_FORCE: o->force = 1; break;
        case 'h':
            if (c->rank == 0) fputs(gen_usage, stdout);
            return -1;
        default:
            if (optopt >= OPT_SHAPE)
                cli_error(c, "gen: option %s needs a value (see h5mr gen --help)", argv[optind - 1]);
            else
                cli_error(c, "gen: unknown option '%s' (see h5mr gen --help)", cli_bad_option(argv, optopt));
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        cli_error(c, "gen: %s (usage: h5mr gen --shape AxB [OPTIONS] FILE DATASET)",
                  argc - optind < 2 ? "missing FILE or DATASET" : "too many arguments");
        return EXIT_USAGE;
    }
    o->file = argv[optind];
    o->dataset = argv[optind + 1];
    if (o->ndims <= 0) {
        cli_error(c, "gen: --shape is required (e.g. --shape 1000000x64)");
        return EXIT_USAGE;
    }
    if (o->contiguous && (o->nchunk > 0 || o->gzip > 0 || o->shuffle)) {
        cli_error(c, "gen: --contiguous cannot go with --chunk, --gzip or --shuffle");
        return EXIT_USAGE;
    }
    if (o->nchunk > 0) {
        if (o->nchunk != o->ndims) {
            cli_error(c, "gen: --chunk has %d extents but --shape has %d", o->nchunk, o->ndims);
            return EXIT_USAGE;
        }
        for (int i = 0; i < o->ndims; i++) {
            if (o->chunk[i] == 0 || (i > 0 && o->chunk[i] > o->shape[i] && o->shape[i] > 0)) {
                cli_error(c, "gen: --chunk extent %d is %" PRIu64 ", it must be 1 to %" PRIu64, i, o->chunk[i],
                          o->shape[i]);
                return EXIT_USAGE;
            }
        }
    }
    return 0;
}

/* What the innermost HDF5 error says, with the system's reason where it has one
 * ("No space left on device"). */
typedef struct cause {
    char text[256];
    int errnum;
} cause;

static herr_t cause_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    cause *c = data;
    const char *d = e->desc ? e->desc : "";
    const char *p = strstr(d, "errno = ");
    if (p && !c->errnum) c->errnum = atoi(p + 8);
    if (n == 0) snprintf(c->text, sizeof c->text, "%.*s", (int)strcspn(d, ","), d);
    return 0;
}

static const char *hdf5_cause(char *buf, size_t len)
{
    cause c = {"", 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, cause_cb, &c);
    H5Eclear2(H5E_DEFAULT);
    if (c.errnum)
        snprintf(buf, len, "%s", strerror(c.errnum));
    else
        snprintf(buf, len, "%s", c.text[0] ? c.text : "HDF5 error");
    return buf;
}

static void gen_cleanup(void) { atomic_remove_temporaries(); }

/* Does FILE (an HDF5 file) have DATASET?  -1 if it cannot be read. */
static int has_dataset(const char *file, const char *dataset)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    htri_t e = H5Lexists(f, dataset, H5P_DEFAULT);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

/* The dataset is written into a new file (a copy of FILE when FILE exists), which
 * replaces FILE only once complete and on disk (atomic.h): a failure, a full disk or
 * kill -9 leaves FILE as it was, and no partial dataset anywhere. */
static int write_dataset(cli *c, gen_opts *o)
{
    int code = EXIT_RUN;
    hid_t file = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, lcpl = H5I_INVALID_HID;
    hid_t dset = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    void *buf = NULL;
    char why[256];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct stat sb;
    int exists = stat(o->file, &sb) == 0;
    if (exists) {
        if (!S_ISREG(sb.st_mode) || H5Fis_hdf5(o->file) <= 0) {
            cli_error(c, "gen: '%s' exists and is not an HDF5 file; not touching it", o->file);
            return EXIT_INPUT;
        }
        int has = has_dataset(o->file, o->dataset);
        if (has < 0) {
            cli_error(c, "gen: cannot read '%s': %s", o->file, hdf5_cause(why, sizeof why));
            return EXIT_INPUT;
        }
        if (has && !o->force) {
            cli_error(c, "gen: '%s' already has '%s' (use --force to replace it)", o->file, o->dataset);
            return EXIT_USAGE;
        }
    }
    hsize_t dims[32], maxdims[32], cdims[32];
    uint64_t row_elems = 1;
    for (int i = 0; i < o->ndims; i++) {
        dims[i] = maxdims[i] = o->shape[i];
        if (i) row_elems *= o->shape[i];
    }
    o->g.total = o->shape[0] * row_elems;
    uint64_t row_bytes = row_elems * h5mr_dtype_size(o->g.dtype);
    int chunked = o->nchunk > 0 || o->gzip > 0 || o->shuffle;
    /* Room for the data (compressed data: unknown, not counted) and for the copy. */
    if (o->shape[0] && row_bytes > UINT64_MAX / o->shape[0]) {
        cli_error(c, "gen: --shape of %s is more bytes than a file can hold", o->dataset);
        return EXIT_USAGE;
    }
    double need = (o->gzip > 0 ? 0.0 : (double)o->shape[0] * (double)row_bytes) + (exists ? (double)sb.st_size : 0.0);
    char dir[PATH_MAX];
    const char *base;
    if (atomic_split(o->file, dir, sizeof dir, &base) == 0) {
        struct statvfs fs;
        if (statvfs(dir, &fs) == 0 && need > (double)fs.f_bavail * (double)fs.f_frsize) {
            cli_error(c, "gen: '%s' would need %.3g GB%s, but its file system has %.3g GB free", o->file, need / 1e9,
                      exists ? " (the data and a copy of the file)" : "",
                      (double)fs.f_bavail * (double)fs.f_frsize / 1e9);
            return EXIT_USAGE;
        }
    }
    char left[PATH_MAX + 32];
    snprintf(left, sizeof left, exists ? "'%s' is unchanged" : "no file written", o->file);
    atomic_file a;
    const char *what = "";
    int e = atomic_begin(&a, o->file, 1, &what);
    if (e == 0 && exists && (e = atomic_copy_from(&a, o->file)) != 0) {
        what = "copying it";
        atomic_abort(&a);
    }
    if (e != 0) {
        cli_error(c, "gen: cannot write '%s': %s: %s", o->file, what, strerror(e));
        return e == ENOENT || e == EACCES || e == ENOTDIR || e == ENAMETOOLONG ? EXIT_INPUT : EXIT_RUN;
    }
    guard_add_cleanup(gen_cleanup);
    file = exists ? H5Fopen(a.path, H5F_ACC_RDWR, H5P_DEFAULT)
                  : H5Fcreate(a.path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        cli_error(c, "gen: cannot write '%s': %s", o->file, hdf5_cause(why, sizeof why));
        goto out;
    }
    /* HDF5 opens by name: it must have opened the file we created and hold. */
    int *hfd = NULL;
    struct stat mine, theirs;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&hfd) < 0 || !hfd || fstat(*hfd, &theirs) != 0 ||
        fstat(a.fd, &mine) != 0 || mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) {
        cli_error(c, "gen: the temporary file next to '%s' was replaced while it was opened; not writing", o->file);
        goto out;
    }
    if (exists && H5Lexists(file, o->dataset, H5P_DEFAULT) > 0 && H5Ldelete(file, o->dataset, H5P_DEFAULT) < 0) {
        cli_error(c, "gen: cannot replace '%s' in '%s': %s", o->dataset, o->file, hdf5_cause(why, sizeof why));
        goto out;
    }
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        if (o->nchunk > 0) {
            for (int i = 0; i < o->ndims; i++)
                cdims[i] = o->chunk[i];
        } else {
            uint64_t rows = row_bytes ? ((uint64_t)1 << 20) / row_bytes : 1;
            cdims[0] = rows ? rows : 1;
            for (int i = 1; i < o->ndims; i++)
                cdims[i] = o->shape[i] ? o->shape[i] : 1;
        }
        /* Dimension 0 may grow, so a chunk may be taller than the dataset. */
        maxdims[0] = H5S_UNLIMITED;
        H5Pset_chunk(dcpl, o->ndims, cdims);
        if (o->shuffle) H5Pset_shuffle(dcpl);
        if (o->gzip > 0) H5Pset_deflate(dcpl, (unsigned)o->gzip);
    }
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    space = H5Screate_simple(o->ndims, dims, maxdims);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    dset = H5Dcreate2(file, o->dataset, h5mr_dtype_to_hdf5(o->g.dtype), space, lcpl, dcpl, H5P_DEFAULT);
    if (dset < 0) {
        cli_error(c, "gen: cannot create dataset '%s' in '%s': %s", o->dataset, o->file, hdf5_cause(why, sizeof why));
        goto out;
    }
    /* Slabs of about 8 MiB, a whole number of chunk rows. */
    uint64_t slab = row_bytes ? ((uint64_t)8 << 20) / row_bytes : o->shape[0];
    if (slab == 0) slab = 1;
    if (chunked && slab > cdims[0]) slab -= slab % cdims[0];
    if (o->shape[0] > 0 && slab > o->shape[0]) slab = o->shape[0];
    buf = malloc(slab * row_bytes > 0 ? slab * row_bytes : 1);
    if (!buf) {
        cli_error(c, "gen: out of memory");
        goto out;
    }
    for (uint64_t r = 0; r < o->shape[0] && row_bytes > 0; r += slab) {
        uint64_t n = o->shape[0] - r < slab ? o->shape[0] - r : slab;
        hsize_t start[32] = {0}, count[32];
        start[0] = r;
        count[0] = n;
        for (int i = 1; i < o->ndims; i++)
            count[i] = dims[i];
        fill(&o->g, r * row_elems, n * row_elems, buf);
        mem = H5Screate_simple(o->ndims, count, NULL);
        if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
            H5Dwrite(dset, h5mr_dtype_to_hdf5(o->g.dtype), mem, space, H5P_DEFAULT, buf) < 0) {
            cli_error(c, "gen: writing rows %" PRIu64 "..%" PRIu64 " of '%s' failed: %s; %s", r, r + n - 1, o->file,
                      hdf5_cause(why, sizeof why), left);
            goto out;
        }
        H5Sclose(mem);
        mem = H5I_INVALID_HID;
    }
    code = EXIT_OK;
out:
    free(buf);
    if (mem >= 0) H5Sclose(mem);
    if (dset >= 0 && H5Dclose(dset) < 0 && code == EXIT_OK) {
        cli_error(c, "gen: writing '%s' failed: %s; %s", o->file, hdf5_cause(why, sizeof why), left);
        code = EXIT_RUN;
    }
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (file >= 0 && H5Fclose(file) < 0) {
        if (code == EXIT_OK)
            cli_error(c, "gen: writing '%s' failed: %s; %s", o->file, hdf5_cause(why, sizeof why), left);
        code = EXIT_RUN;
        /* A file HDF5 could not close stays open in it and would be flushed again at
         * exit, into a file that is gone: end its life here. */
        H5close();
    }
    if (code == EXIT_OK && (e = atomic_commit(&a, &what)) != 0) {
        cli_error(c, "gen: cannot write '%s': %s: %s; %s", o->file, what, strerror(e), left);
        code = EXIT_RUN;
    } else if (code != EXIT_OK) {
        atomic_abort(&a);
    }
    return code;
}

int cmd_gen(cli *c, int argc, char **argv)
{
    gen_opts o = {.g = {.dtype = H5MR_DTYPE_F64, .fill = FILL_RANDOM, .seed = 1}};
    int code = parse(c, argc, argv, &o);
    if (code < 0) return EXIT_OK;
    /* Only rank 0 writes; the others learn how it went. */
    if (code == 0 && c->rank == 0) code = write_dataset(c, &o);
    cli_share_code(c, &code);
    return code;
}
