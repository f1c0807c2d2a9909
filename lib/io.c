/* io.c: opening the input dataset read-only and reading whole rows of it. */
#include "internal.h"
#include "suggest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static h5mr_status check_file(const char *file, h5mr_error *err)
{
    struct stat st;
    if (stat(file, &st) != 0) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': %s", file, strerror(errno));
    if (S_ISDIR(st.st_mode)) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': it is a directory", file);
    FILE *f = fopen(file, "rb");
    if (!f) return h5mr__error_set(err, H5MR_EINPUT, "cannot open '%s': %s", file, strerror(errno));
    fclose(f);
    htri_t is = H5Fis_hdf5(file);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0) return h5mr__error_set(err, H5MR_EINPUT, "'%s' is not an HDF5 file", file);
    return H5MR_OK;
}

/* The datasets of a file, for "did you mean" (the first 4096). */
typedef struct names {
    char *v[4096];
    size_t n;
} names;

static herr_t collect(hid_t obj, const char *name, const H5O_info_t *info, void *arg)
{
    names *nm = arg;
    if (info->type == H5O_TYPE_DATASET && nm->n < 4096) {
        size_t len = strlen(name);
        char *p = malloc(len + 2);
        if (p) {
            p[0] = '/';
            memcpy(p + 1, name, len + 1);
            nm->v[nm->n++] = p;
        }
    }
    (void)obj;
    return nm->n < 4096 ? 0 : 1;
}

/* " (did you mean '/x'?)" for a missing dataset, or "". */
static void near_dataset(hid_t file, const char *dataset, char *buf, size_t len)
{
    buf[0] = '\0';
    names *nm = calloc(1, sizeof *nm);
    if (!nm) return;
    H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect, nm, H5O_INFO_BASIC);
    H5Eclear2(H5E_DEFAULT);
    const char *want = dataset[0] == '/' ? dataset : NULL;
    char slashed[1024];
    if (!want) {
        snprintf(slashed, sizeof slashed, "/%s", dataset);
        want = slashed;
    }
    const char *near = h5mr__suggest(want, (const char *const *)nm->v, nm->n);
    if (near)
        snprintf(buf, len, "; did you mean '%s'?", near);
    else if (nm->n > 0 && nm->n <= 8) {
        size_t at = (size_t)snprintf(buf, len, " (it has");
        for (size_t i = 0; i < nm->n && at < len; i++)
            at += (size_t)snprintf(buf + at, len - at, "%s %s", i ? "," : "", nm->v[i]);
        if (at < len) snprintf(buf + at, len - at, ")");
    } else if (nm->n == 0) {
        snprintf(buf, len, " (it has no datasets)");
    }
    for (size_t i = 0; i < nm->n; i++)
        free(nm->v[i]);
    free(nm);
}

/* HDF5's descriptor of the file the dataset is stored in: d->fd, or behind an external
 * link another file's (its bytes are not at its addresses in d->fd's); -1 if unknown. */
static int data_fd(const h5mr__dset *d)
{
    hid_t f = H5Iget_file_id(d->dset);
    int *fdp = NULL, fd = f >= 0 && H5Fget_vfd_handle(f, H5P_DEFAULT, (void **)&fdp) >= 0 && fdp ? *fdp : -1;
    if (f >= 0) H5Fclose(f); /* (the file stays open while the dataset is) */
    H5Eclear2(H5E_DEFAULT);
    return fd;
}

/* The user block's size: a chunk's address counts from the superblock, after it.  0 if
 * that cannot be read. */
static int user_block(const h5mr__dset *d, hsize_t *ub)
{
    hid_t fcpl = H5Fget_create_plist(d->file);
    int ok = fcpl >= 0 && H5Pget_userblock(fcpl, ub) >= 0;
    if (fcpl >= 0) H5Pclose(fcpl);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* Where the dataset's rows lie in the file, one after the other in native order, if they
 * do: contiguous data, or a single unfiltered chunk as wide as the dataset (the shape of
 * a file a day or a granule); -1 otherwise.  A job over many such files reads them with
 * pread, without opening each one with HDF5 a second time (h5mr__files_read_direct). */
static int64_t direct_offset(const h5mr__dset *d, hid_t type)
{
    const h5mr__dset_desc *x = &d->desc;
    uint64_t bytes = h5mr_dtype_size(x->dtype);
    for (int i = 0; i < x->ndims; i++)
        bytes *= x->shape[i];
    if (!d->own_file || bytes == 0 || H5Tequal(type, d->memtype) <= 0) return -1;
    haddr_t addr = HADDR_UNDEF;
    hsize_t stored = 0;
    if (x->layout == H5D_CONTIGUOUS) {
        addr = H5Dget_offset(d->dset);
        stored = H5Dget_storage_size(d->dset);
    } else if (x->layout == H5D_CHUNKED && x->nfilters == 0 && x->chunk[0] >= x->shape[0]) {
        for (int i = 1; i < x->ndims; i++)
            if (x->chunk[i] != x->shape[i]) return -1;
        hsize_t nchunks = 0, off[H5MR__MAX_DIMS];
        unsigned mask = 0;
        if (H5Dget_num_chunks(d->dset, d->space, &nchunks) < 0 || nchunks != 1 ||
            H5Dget_chunk_info(d->dset, d->space, 0, off, &mask, &addr, &stored) < 0)
            addr = HADDR_UNDEF;
        /* (H5Dget_offset's counts from the start of the file, a chunk's does not) */
        hsize_t ub = 0;
        if (!user_block(d, &ub)) addr = HADDR_UNDEF;
        if (addr != HADDR_UNDEF) addr += ub;
    }
    H5Eclear2(H5E_DEFAULT);
    if (addr == HADDR_UNDEF || stored < bytes || (int64_t)(addr + bytes) > d->size0) return -1;
    return (int64_t)addr;
}

/* Can whole rows be read in place (h5mr__dset_rows_in_place)?  Sets d->in_base. */
static int in_place_layout(h5mr__dset *d, hid_t type)
{
    const h5mr__dset_desc *x = &d->desc;
    if (!d->own_file || H5Tequal(type, d->memtype) <= 0) return 0;
    if (x->layout == H5D_CONTIGUOUS) {
        /* (external storage has no offset) */
        haddr_t off = H5Dget_offset(d->dset);
        H5Eclear2(H5E_DEFAULT);
        d->in_base = off;
        return off != HADDR_UNDEF;
    }
    if (x->layout != H5D_CHUNKED || x->nfilters != 0) return 0;
    for (int i = 1; i < x->ndims; i++)
        if (x->chunk[i] != x->shape[i]) return 0;
    hsize_t ub = 0;
    int ok = user_block(d, &ub);
    d->in_base = ub;
    return ok;
}

/* Whether `name`, a virtual dataset's source file, is found where HDF5 looks for it:
 * as given (absolute, or from the working folder), in the folders of HDF5_VDS_PREFIX
 * ("${ORIGIN}": the virtual dataset's file's folder), and in that folder (by its last
 * component too, as HDF5 tries an absolute name that is not found). */
static int source_found(const char *vfile, const char *name, char *found, size_t size, struct stat *sb)
{
    const char *slash = strrchr(vfile, '/'), *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    const char *rel = name[0] == '/' ? base : name;
    int dlen = slash ? (int)(slash - vfile) : 1;
    const char *dir = slash ? vfile : ".";
    int n = snprintf(found, size, "%s", name);
    if (n > 0 && (size_t)n < size && stat(found, sb) == 0) return 1;
    for (const char *p = getenv("HDF5_VDS_PREFIX"); p && *p;) {
        int k = (int)strcspn(p, ":");
        if (k >= 9 && !strncmp(p, "${ORIGIN}", 9))
            n = snprintf(found, size, "%.*s%.*s/%s", dlen, dir, k - 9, p + 9, rel);
        else
            n = snprintf(found, size, "%.*s/%s", k, p, rel);
        if (n > 0 && (size_t)n < size && stat(found, sb) == 0) return 1;
        p += k + (p[k] == ':');
    }
    n = snprintf(found, size, "%.*s/%s", dlen, dir, rel);
    return n > 0 && (size_t)n < size && stat(found, sb) == 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

/* A virtual dataset reads fill values where a source file is missing (HDF5's rule): a
 * job would run on them and say nothing.  Every source file must be there; their
 * sizes and times go into d->sources_id (a checkpoint's fingerprint holds it). */
static h5mr_status virtual_sources(hid_t dcpl, const char *file, const char *dataset, h5mr__dset *d, h5mr_error *err)
{
    size_t n = 0;
    if (H5Pget_virtual_count(dcpl, &n) < 0) n = 0;
    H5Eclear2(H5E_DEFAULT);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        char name[4096], found[8192];
        ssize_t len = H5Pget_virtual_filename(dcpl, i, name, sizeof name);
        H5Eclear2(H5E_DEFAULT);
        /* ("." is this file; a name with % is a pattern of an unlimited mapping) */
        if (len <= 0 || (size_t)len >= sizeof name || !strcmp(name, ".") || strchr(name, '%')) continue;
        struct stat sb;
        if (!source_found(file, name, found, sizeof found, &sb))
            return h5mr__error_set(err, H5MR_EINPUT,
                                   "virtual dataset '%s' in '%s' maps rows of '%s', which is missing (HDF5 would "
                                   "read them as fill values)",
                                   dataset, file, name);
        int64_t meta[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, (int64_t)sb.st_mtim.tv_nsec};
        h = fnv(fnv(h, found, strlen(found)), meta, sizeof meta);
    }
    d->sources_id = n ? h | 1 : 0;
    return H5MR_OK;
}

h5mr_status h5mr__dset_open(const char *file, const char *dataset, h5mr__dset *d, h5mr_error *err)
{
    h5mr__hdf5_quiet();
    memset(d, 0, sizeof *d);
    d->file = d->dset = d->space = H5I_INVALID_HID;
    d->fd = d->data_fd = -1;
    d->direct = -1;
    d->path = file;
    d->name = dataset;
    hid_t type = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    h5mr_status st = H5MR_OK;

    /* Open first, ask why only when that fails: a job over 10,000 files pays for one
     * open each (H5Fis_hdf5 would read every file's superblock a second time). */
    if ((d->file = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        /* What HDF5 said first (a lock, ...): check_file clears its error stack. */
        h5mr_error said = {0}, why = {0};
        h5mr__hdf5_error(&said, H5MR_EINPUT, "cannot open HDF5 file '%s'", file);
        st = check_file(file, &why);
        st = h5mr__error_set(err, st != H5MR_OK ? st : H5MR_EINPUT, "%s", st != H5MR_OK ? why.message : said.message);
        goto out;
    }
    int *fdp = NULL;
    struct stat sb;
    if (H5Fget_vfd_handle(d->file, H5P_DEFAULT, (void **)&fdp) >= 0 && fdp && fstat(*fdp, &sb) == 0) {
        d->fd = *fdp;
        d->size0 = (int64_t)sb.st_size;
        d->mtime0_s = (int64_t)sb.st_mtim.tv_sec;
        d->mtime0_ns = (int64_t)sb.st_mtim.tv_nsec;
    }
    H5Eclear2(H5E_DEFAULT);
    /* Open first, ask why only when that fails (one path lookup per file, not three). */
    d->dset = strcmp(dataset, "/") == 0 ? H5I_INVALID_HID : H5Dopen2(d->file, dataset, H5P_DEFAULT);
    if (d->dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        /* H5Oexists_by_name fails (rather than saying no) when a group on the path is
         * missing: both mean "no such dataset" here. */
        htri_t exists = strcmp(dataset, "/") == 0 ? 1 : H5Oexists_by_name(d->file, dataset, H5P_DEFAULT);
        H5Eclear2(H5E_DEFAULT);
        if (exists <= 0) {
            char hint[512];
            near_dataset(d->file, dataset, hint, sizeof hint);
            st = h5mr__error_set(err, H5MR_EINPUT, "'%s' has no dataset '%s'%s", file, dataset, hint);
            goto out;
        }
        H5O_info_t oi;
        if (H5Oget_info_by_name2(d->file, dataset, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
            st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot inspect '%s' in '%s'", dataset, file);
            goto out;
        }
        if (oi.type != H5O_TYPE_DATASET) {
            st = h5mr__error_set(err, H5MR_EINPUT, "'%s' in '%s' is a %s, not a dataset", dataset, file,
                                 oi.type == H5O_TYPE_GROUP ? "group" : "named datatype");
            goto out;
        }
        if ((d->dset = H5Dopen2(d->file, dataset, H5P_DEFAULT)) < 0) {
            st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot open dataset '%s' in '%s'", dataset, file);
            goto out;
        }
    }
    d->data_fd = data_fd(d);
    d->own_file = d->fd >= 0 && d->data_fd == d->fd;
    /* Behind an external link the rows are in the other file: it is watched too (HDF5
     * reads zeros past a file's end, not an error). */
    if (!d->own_file && d->data_fd >= 0 && fstat(d->data_fd, &sb) == 0) {
        d->data_size0 = (int64_t)sb.st_size;
        d->data_mtime0_s = (int64_t)sb.st_mtim.tv_sec;
        d->data_mtime0_ns = (int64_t)sb.st_mtim.tv_nsec;
    } else if (!d->own_file) {
        d->data_fd = -1; /* (unknown, or not to be watched) */
    }
    if ((type = H5Dget_type(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the type of '%s' in '%s'", dataset, file);
        goto out;
    }
    char why[96];
    if (h5mr__dtype_from_hdf5(type, &d->desc.dtype, why, sizeof why) != H5MR_OK) {
        st = h5mr__error_set(err, H5MR_EINPUT,
                             "dataset '%s' in '%s' has an unsupported type (%s); h5mr reads i8..i64, u8..u64, f32, f64",
                             dataset, file, why);
        goto out;
    }
    d->memtype = h5mr_dtype_to_hdf5(d->desc.dtype);
    if ((d->space = H5Dget_space(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the shape of '%s' in '%s'", dataset, file);
        goto out;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(d->space);
    int nd = H5Sget_simple_extent_ndims(d->space);
    if (sc != H5S_SIMPLE || nd < 1) {
        st = h5mr__error_set(err, H5MR_EINPUT, "dataset '%s' in '%s' is %s; h5mr needs a dataset of rank 1 or more",
                             dataset, file, sc == H5S_NULL ? "empty (null dataspace)" : "a scalar");
        goto out;
    }
    hsize_t dims[H5MR__MAX_DIMS];
    H5Sget_simple_extent_dims(d->space, dims, NULL);
    d->desc.ndims = nd;
    for (int i = 0; i < nd; i++)
        d->desc.shape[i] = dims[i];

    if ((dcpl = H5Dget_create_plist(d->dset)) < 0) {
        st = h5mr__hdf5_error(err, H5MR_EINPUT, "cannot read the storage layout of '%s' in '%s'", dataset, file);
        goto out;
    }
    d->desc.layout = (int)H5Pget_layout(dcpl);
    if (d->desc.layout == H5D_CHUNKED) {
        hsize_t cd[H5MR__MAX_DIMS];
        d->desc.chunked = 1;
        H5Pget_chunk(dcpl, nd, cd);
        for (int i = 0; i < nd; i++)
            d->desc.chunk[i] = cd[i];
        int nf = H5Pget_nfilters(dcpl);
        d->desc.nfilters = nf;
        d->desc.native_order = H5Tequal(type, d->memtype) > 0;
        for (int i = 0; i < nf && i < H5MR__MAX_FILTERS; i++) {
            unsigned flags, values[8] = {0};
            size_t nvalues = 8;
            char name[64] = "";
            d->desc.filter[i] =
                (int)H5Pget_filter2(dcpl, (unsigned)i, &flags, &nvalues, values, sizeof name, name, NULL);
            d->desc.filter_cd0[i] = nvalues > 0 ? values[0] : 0;
            /* A filter this HDF5 has no code for (a missing plugin: lzf, blosc, zstd ...)
             * would fail at the first chunk read: refuse it now, saying which. */
            if (H5Zfilter_avail((H5Z_filter_t)d->desc.filter[i]) > 0) continue;
            H5Eclear2(H5E_DEFAULT);
            st = h5mr__error_set(err, H5MR_EINPUT,
                                 "dataset '%s' in '%s' is stored with filter %d (%s), which this HDF5 cannot decode: "
                                 "install the plugin for it and set HDF5_PLUGIN_PATH to its folder",
                                 dataset, file, d->desc.filter[i], name[0] ? name : "unnamed");
            goto out;
        }
    } else if (d->desc.layout == H5D_CONTIGUOUS && d->own_file) {
        /* Contiguous data past the end of the file would read as zeros. */
        haddr_t off = H5Dget_offset(d->dset);
        hsize_t stored = H5Dget_storage_size(d->dset);
        H5Eclear2(H5E_DEFAULT);
        if (off != HADDR_UNDEF && stored > 0 && (int64_t)(off + stored) > d->size0) {
            st = h5mr__error_set(err, H5MR_EINPUT,
                                 "'%s' is truncated: dataset '%s' ends at byte %llu, the file has %lld bytes", file,
                                 dataset, (unsigned long long)(off + stored), (long long)d->size0);
            goto out;
        }
    }
    if (d->desc.layout == H5D_VIRTUAL && (st = virtual_sources(dcpl, file, dataset, d, err)) != H5MR_OK) goto out;
    if (st == H5MR_OK) d->direct = direct_offset(d, type);
    if (st == H5MR_OK) d->in_place = in_place_layout(d, type);
out:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (type >= 0) H5Tclose(type);
    if (st != H5MR_OK) h5mr__dset_close(d);
    return st;
}

void h5mr__dset_whole_chunks(h5mr__dset *d)
{
    const h5mr__dset_desc *x = &d->desc;
    if (d->whole_chunks) return;
    d->whole_chunks = 1;
    int spans = x->chunked && x->nfilters == 0 && d->dset >= 0;
    for (int i = 1; spans && i < x->ndims; i++)
        spans = x->chunk[i] == x->shape[i];
    if (!spans) return;
    hid_t dapl = d->name ? H5Pcreate(H5P_DATASET_ACCESS) : H5I_INVALID_HID;
    if (dapl < 0 || H5Pset_chunk_cache(dapl, 0, 0, H5D_CHUNK_CACHE_W0_DEFAULT) < 0) {
        if (dapl >= 0) H5Pclose(dapl);
        return;
    }
    /* (closed first: HDF5 shares one chunk cache between the opens of a dataset, made
     * with the first open's settings) */
    H5Dclose(d->dset);
    /* (by the name it was opened by: the same links lead to the same dataset) */
    if ((d->dset = H5Dopen2(d->file, d->name, dapl)) < 0) d->dset = H5Dopen2(d->file, d->name, H5P_DEFAULT);
    H5Pclose(dapl);
    H5Eclear2(H5E_DEFAULT);
}

/* The file offset of chunk c's first byte (c along dimension 0), 0 if it has none
 * (never written: HDF5 reads it as fill values) or is not stored whole and as it is. */
static uint64_t chunk_at(h5mr__dset *d, uint64_t c, uint64_t bytes)
{
    if (d->at_chunk_addr != 0 && d->at_chunk == c) return d->at_chunk_addr;
    hsize_t off[H5MR__MAX_DIMS] = {0};
    off[0] = c * d->desc.chunk[0];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(d->dset, off, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF || mask != 0 ||
        size < bytes) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    d->at_chunk = c;
    d->at_chunk_addr = d->in_base + addr;
    return d->at_chunk_addr;
}

const void *h5mr__dset_rows_in_place(h5mr__dset *d, uint64_t first, uint64_t n, h5mr__in_place *m)
{
    const h5mr__dset_desc *x = &d->desc;
    m->map = NULL;
    m->len = 0;
    if (!d->in_place || n == 0 || first + n > x->shape[0]) return NULL;
    uint64_t row = h5mr_dtype_size(x->dtype);
    for (int i = 1; i < x->ndims; i++)
        row *= x->shape[i];
    uint64_t at = d->in_base + first * row;
    if (x->layout != H5D_CONTIGUOUS) {
        /* The rows' chunks, one after the other in the file (as written in order). */
        uint64_t rows = x->chunk[0], bytes = rows * row, c = first / rows, last = (first + n - 1) / rows;
        uint64_t c_at = chunk_at(d, c, bytes);
        if (c_at == 0) return NULL;
        at = c_at + (first - c * rows) * row;
        for (uint64_t k = c + 1; k <= last; k++)
            if (chunk_at(d, k, bytes) != c_at + (k - c) * bytes) return NULL;
    }
    return h5mr__map_bytes(d->fd, at, n * row, d->size0, m);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 (older headers); an older kernel says EINVAL */
#endif

const void *h5mr__map_bytes(int fd, uint64_t at, uint64_t len, int64_t size0, h5mr__in_place *m)
{
    m->map = NULL;
    m->len = 0;
    if (fd < 0 || len == 0 || (int64_t)(at + len) > size0) return NULL;
    static uint64_t page = 0;
    if (page == 0) page = sysconf(_SC_PAGESIZE) > 0 ? (uint64_t)sysconf(_SC_PAGESIZE) : 4096;
    uint64_t from = at / page * page, span = at + len - from;
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)from);
    if (p == MAP_FAILED) return NULL;
    /* Read in now: past the end of a file cut short since, that fails here (then the
     * rows are read, and that fails naming the file), not with a bus error in the
     * kernel; a file cut short while the kernel reads the pages still gives one (the
     * command: "rank N crashed with a bus error", exit 1).  A kernel without
     * MADV_POPULATE_READ (Linux < 5.14): not read in place. */
    if (madvise(p, span, MADV_POPULATE_READ) != 0) {
        munmap(p, span);
        return NULL;
    }
    m->map = p;
    m->len = span;
    return (const char *)p + (at - from);
}

void h5mr__in_place_release(h5mr__in_place *m)
{
    if (m->map) munmap(m->map, m->len);
    m->map = NULL;
    m->len = 0;
}

/* The hyperslab as HDF5 reads it. */
static h5mr_status read_hyperslab(h5mr__dset *d, const hsize_t *start, const hsize_t *stride, const hsize_t *count,
                                  void *buf, h5mr_error *err)
{
    uint64_t elems = 1;
    for (int i = 0; i < d->desc.ndims; i++)
        elems *= count[i];
    if (elems == 0) return H5MR_OK;
    /* The memory space has the shape of the selection: a flat one of the same size
     * makes HDF5 take a slow element-by-element path (see NOTES.md). */
    hid_t mem = H5Screate_simple(d->desc.ndims, count, NULL);
    if (mem < 0) return h5mr__hdf5_error(err, H5MR_EIO, "cannot make a memory dataspace");
    h5mr_status st = H5MR_OK;
    if (H5Sselect_hyperslab(d->space, H5S_SELECT_SET, start, stride, count, NULL) < 0 ||
        H5Dread(d->dset, d->memtype, mem, d->space, H5P_DEFAULT, buf) < 0)
        st = h5mr__hdf5_error(err, H5MR_EIO, "reading '%s' failed", d->path);
    H5Sclose(mem);
    return st == H5MR_OK ? h5mr__dset_check_unchanged(d, err) : st;
}

/* A selection with steps (a[::3], a[:, :, ::2]): HDF5 maps such a hyperslab to its
 * chunks element by element (0.08 GB/s on the demo file).  Where the block that covers
 * it is at most COVER_MAX times the selection (reading 64 times the bytes from the page
 * cache still beat HDF5's way: RESULTS §22) and one of its rows at most COVER_ROW_MAX
 * bytes, it is read instead with step 1, COVER_BYTES at a time: every covering row of a
 * group, or, when a step along dimension 0 makes that more than COVER_MAX0 times the
 * selection, one row of the selection each (rows of COVER_ROW_MIN bytes or more;
 * smaller ones are left to HDF5).  The selected elements are then picked out of it
 * here.  Dimension 0 of the slab is the one read in groups.  *done 0: not taken (the
 * slab is read as it is). */
#define COVER_MAX 64
#define COVER_MAX0 8 /* the same along dimension 0, where a read a row is the other way */
#define COVER_BYTES ((uint64_t)4 << 20)
#define COVER_ROW_MAX ((uint64_t)16 << 20)
#define COVER_ROW_MIN ((uint64_t)4 << 10)

/* One covering row's selected elements (dimensions 1.. of count[], steps step[], the
 * covering row's element strides cs[]) from src to dst; es bytes an element. */
static void pick_row(char *dst, const char *src, int nd, const hsize_t *count, const hsize_t *step, const uint64_t *cs,
                     size_t es)
{
    if (nd == 1) { /* a row is one element */
        memcpy(dst, src, es);
        return;
    }
    uint64_t idx[H5MR__MAX_DIMS] = {0}, inner = count[nd - 1], st = step[nd - 1] * es;
    for (;;) {
        uint64_t off = 0;
        for (int i = 1; i < nd - 1; i++)
            off += idx[i] * step[i] * cs[i];
        const char *s = src + off * es;
        switch (es) {
        case 1:
            for (uint64_t k = 0; k < inner; k++)
                dst[k] = s[k * st];
            break;
        case 2:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 2 * k, s + k * st, 2);
            break;
        case 4:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 4 * k, s + k * st, 4);
            break;
        default:
            for (uint64_t k = 0; k < inner; k++)
                memcpy(dst + 8 * k, s + k * st, 8);
            break;
        }
        dst += inner * es;
        int i = nd - 2;
        for (; i >= 1; i--) {
            if (++idx[i] < count[i]) break;
            idx[i] = 0;
        }
        if (i < 1) return;
    }
}

static h5mr_status read_covering(h5mr__dset *d, const hsize_t *start, const hsize_t *step, const hsize_t *count,
                                 void *buf, int *done, h5mr_error *err)
{
    *done = 0;
    int nd = d->desc.ndims, stepped = 0;
    size_t es = h5mr_dtype_size(d->desc.dtype);
    hsize_t span[H5MR__MAX_DIMS];
    uint64_t sel_row = es, cover_row = es, cs[H5MR__MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        span[i] = count[i] ? (count[i] - 1) * step[i] + 1 : 0;
        stepped |= step[i] > 1 && count[i] > 1;
        if (i > 0) sel_row *= count[i], cover_row *= span[i];
    }
    if (!stepped || count[0] == 0 || sel_row == 0) return H5MR_OK;
    for (int i = nd - 1; i >= 1; i--)
        cs[i] = i == nd - 1 ? 1 : cs[i + 1] * span[i + 1];
    if (cover_row > COVER_MAX * sel_row || cover_row > COVER_ROW_MAX) return H5MR_OK;
    /* rows of the selection a group covers: all of theirs if dimension 0's step keeps the
     * covering block small, else one at a time */
    uint64_t s0 = count[0] > 1 ? step[0] : 1;
    int along0 = s0 * cover_row <= COVER_MAX0 * sel_row;
    if (!along0 && cover_row < COVER_ROW_MIN) return H5MR_OK; /* a read a row: too small */
    uint64_t k = 1;
    if (along0 && cover_row <= COVER_BYTES) k = (COVER_BYTES / cover_row - 1) / s0 + 1;
    if (k > count[0]) k = count[0];
    uint64_t need = ((k - 1) * (along0 ? s0 : 0) + 1) * cover_row;
    if (need > d->cover_cap) {
        free(d->cover_buf);
        d->cover_cap = 0;
        if (!(d->cover_buf = malloc(need)))
            return h5mr__error_set(err, H5MR_ENOMEM, "out of memory reading a selection with steps");
        d->cover_cap = need;
    }
    int whole = 1; /* covering rows that are whole rows of the dataset */
    for (int i = 1; i < nd; i++)
        whole &= start[i] == 0 && span[i] == d->desc.shape[i];
    if (whole) h5mr__dset_whole_chunks(d);
    char *out = buf;
    for (uint64_t r = 0; r < count[0]; r += k) {
        uint64_t m = count[0] - r < k ? count[0] - r : k;
        hsize_t cstart[H5MR__MAX_DIMS], ccount[H5MR__MAX_DIMS];
        for (int i = 1; i < nd; i++)
            cstart[i] = start[i], ccount[i] = span[i];
        cstart[0] = start[0] + r * step[0];
        ccount[0] = (m - 1) * s0 + 1;
        h5mr_status st = read_hyperslab(d, cstart, NULL, ccount, d->cover_buf, err);
        if (st != H5MR_OK) return st;
        for (uint64_t j = 0; j < m; j++, out += sel_row)
            pick_row(out, (const char *)d->cover_buf + j * s0 * cover_row, nd, count, step, cs, es);
    }
    *done = 1;
    return H5MR_OK;
}

h5mr_status h5mr__dset_read_slab(h5mr__dset *d, const hsize_t *start, const hsize_t *stride, const hsize_t *count,
                                 void *buf, h5mr_error *err)
{
    int done = 0;
    h5mr_status st = stride ? read_covering(d, start, stride, count, buf, &done, err) : H5MR_OK;
    return st != H5MR_OK || done ? st : read_hyperslab(d, start, stride, count, buf, err);
}

h5mr_status h5mr__dset_read_rows(h5mr__dset *d, uint64_t first, uint64_t n, void *buf, h5mr_error *err)
{
    hsize_t start[H5MR__MAX_DIMS] = {0}, count[H5MR__MAX_DIMS];
    count[0] = n;
    start[0] = first;
    for (int i = 1; i < d->desc.ndims; i++)
        count[i] = d->desc.shape[i];
    return h5mr__dset_read_slab(d, start, NULL, count, buf, err);
}

/* Whether the file open on fd has changed since it was of size0 bytes, modified at
 * mtime0: 0 no (or unknown), 1 modified, 2 shrank (to *now bytes). */
static int file_changed(int fd, int64_t size0, int64_t mtime0_s, int64_t mtime0_ns, int64_t *now)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) return 0;
    *now = (int64_t)sb.st_size;
    if (*now < size0) return 2;
    return *now != size0 || (int64_t)sb.st_mtim.tv_sec != mtime0_s || (int64_t)sb.st_mtim.tv_nsec != mtime0_ns;
}

static h5mr_status changed_error(int how, const char *name, int64_t size0, int64_t now, h5mr_error *err)
{
    if (how == 2)
        return h5mr__error_set(err, H5MR_EIO, "'%s' shrank from %lld to %lld bytes while it was read", name,
                               (long long)size0, (long long)now);
    return h5mr__error_set(err, H5MR_EIO, "'%s' was modified while it was read", name);
}

h5mr_status h5mr__dset_check_unchanged(const h5mr__dset *d, h5mr_error *err)
{
    int64_t now = 0;
    int how = file_changed(d->fd, d->size0, d->mtime0_s, d->mtime0_ns, &now);
    if (how) return changed_error(how, d->path, d->size0, now, err);
    if (d->own_file || d->data_fd < 0) return H5MR_OK;
    if (!(how = file_changed(d->data_fd, d->data_size0, d->data_mtime0_s, d->data_mtime0_ns, &now))) return H5MR_OK;
    char name[1024] = "";
    hid_t f = H5Iget_file_id(d->dset);
    if (f < 0 || H5Fget_name(f, name, sizeof name) < 0) snprintf(name, sizeof name, "the external link's file");
    if (f >= 0) H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return changed_error(how, name, d->data_size0, now, err);
}

uint64_t h5mr__dset_fingerprint(const h5mr__dset *d)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int64_t meta[3] = {d->size0, d->mtime0_s, d->mtime0_ns};
    h = fnv(h, meta, sizeof meta);
    if (!d->own_file && d->data_fd >= 0) { /* (the file an external link points to) */
        int64_t dm[3] = {d->data_size0, d->data_mtime0_s, d->data_mtime0_ns};
        h = fnv(h, dm, sizeof dm);
    }
    if (d->sources_id) h = fnv(h, &d->sources_id, sizeof d->sources_id); /* (a virtual dataset's) */
    if (d->fd < 0) return h;
    char buf[4096];
    ssize_t n = pread(d->fd, buf, sizeof buf, 0);
    if (n > 0) h = fnv(h, buf, (size_t)n);
    int fd = d->data_fd; /* (behind an external link, the other file's bytes) */
    /* The first stored bytes of the dataset: contiguous data, or its first chunk. */
    haddr_t addr = H5Dget_offset(d->dset);
    if (addr == HADDR_UNDEF && d->desc.chunked) {
        hsize_t off[H5MR__MAX_DIMS];
        unsigned mask = 0;
        haddr_t a = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info(d->dset, d->space, 0, off, &mask, &a, &size) >= 0) addr = a;
    }
    H5Eclear2(H5E_DEFAULT);
    if (addr != HADDR_UNDEF) {
        h = fnv(h, &addr, sizeof addr);
        if (fd >= 0 && (n = pread(fd, buf, sizeof buf, (off_t)addr)) > 0) h = fnv(h, buf, (size_t)n);
    }
    return h;
}

void h5mr__dset_close(h5mr__dset *d)
{
    if (d->space >= 0) H5Sclose(d->space);
    if (d->dset >= 0) H5Dclose(d->dset);
    if (d->file >= 0) H5Fclose(d->file);
    d->space = d->dset = d->file = H5I_INVALID_HID;
    d->fd = d->data_fd = -1;
    free(d->cover_buf);
    d->cover_buf = NULL;
    d->cover_cap = 0;
}
