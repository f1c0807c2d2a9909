/* companion.c: the read step's second half — the companion datasets of a block of
 * rows (--mask, --weights, --by, --with), read where the input's rows are read, CF
 * conventions applied, converted to the type kernels see and laid out against the
 * block's elements (h5mr_rows); and the rule that an element whose companion value
 * is missing is missing itself.
 *
 * A companion stands for a contiguous run of the input's stored dimensions [a, b): all
 * of them, a trailing part (a (Y, X) mask of a (T, Y, X) stack) or a leading part (a
 * (T,) month number).  The input's selection applies to those dimensions.  Against a
 * block of rows (rows cut the split dimension L of the selection), that gives one of
 * four layouts: a value per element (it covers L and everything after: FULL), one row
 * shared by every row (it starts after L: ROW, tiled when it starts further in), a
 * value per row (it ends at L: SCALAR), one value (it ends before L: ONE).  A leading
 * part that ends inside the row is expanded to FULL, each value repeated.
 *
 * Per-row companions are read for each block; a ROW or ONE companion once per file
 * (kept converted).  FILE: companions span the concatenation of the input files; the
 * others are each file's own copy, checked against that file when it is opened. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct h5mr__comp_io {
    h5mr__dset d[H5MR__MAX_COMP];
    uint64_t which[H5MR__MAX_COMP]; /* the input file it is the copy of (own file: 0) */
    h5mr__cf cf[H5MR__MAX_COMP];
    void *cache[H5MR__MAX_COMP]; /* ROW, ONE: the converted values */
    uint64_t cached[H5MR__MAX_COMP];
    void *raw; /* stored values as read */
    uint64_t raw_cap;
    void *conv; /* converted values (8 bytes each) */
    uint64_t conv_cap;
};

static const char *role_option(int role)
{
    switch (role) {
    case H5MR_ROLE_MASK: return "--mask";
    case H5MR_ROLE_WEIGHTS: return "--weights";
    case H5MR_ROLE_BY: return "--by";
    case H5MR_ROLE_WITH: return "--with";
    default: return "the input";
    }
}

static void dims_text(const uint64_t *shape, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    if (n == 0) snprintf(buf, len, "()");
    for (int i = 0; i < n && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", i ? "x" : "", (unsigned long long)shape[i]);
}

static int same_dims(const uint64_t *a, const uint64_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* ---------------------------------------------------------------- planning */

static uint64_t kept_elems(const h5mr__view *v, int from, int to)
{
    uint64_t n = 1;
    for (int d = from; d < to; d++)
        n *= v->count[d];
    return n;
}

static h5mr_status plan_one(h5mr__comp *c, const h5mr__dset_desc *desc, const h5mr__dset_desc *first,
                            const char *first_file, const char *dataset, const h5mr__view *v, int axis0,
                            h5mr_error *err)
{
    const char *file = c->own_file ? c->file : first_file;
    const char *opt = role_option(c->role);
    h5mr__dset d;
    h5mr_status st = h5mr__dset_open(file, c->dataset, &d, err);
    if (st != H5MR_OK) return h5mr__error_wrap(err, st, "%s", opt);
    const h5mr__dset_desc *cd = &d.desc;
    const h5mr__dset_desc *ref = c->own_file ? desc : first;
    int k = cd->ndims, nd = ref->ndims;
    char cs[256], rs[256];
    dims_text(cd->shape, k, cs, sizeof cs);
    dims_text(ref->shape, nd, rs, sizeof rs);
    if (c->role == H5MR_ROLE_BY && h5mr_dtype_is_float(cd->dtype)) {
        st = h5mr__error_set(err, H5MR_EINPUT, "--by '%s' in '%s' is %s: labels must be of an integer type", c->dataset,
                             file, h5mr_dtype_name(cd->dtype));
    } else if (k == nd && same_dims(cd->shape, ref->shape, nd)) {
        c->a = 0, c->b = nd;
    } else if (k < nd && same_dims(cd->shape, ref->shape + (nd - k), k)) {
        c->a = nd - k, c->b = nd;
    } else if (k < nd && same_dims(cd->shape, ref->shape, k)) {
        c->a = 0, c->b = k;
    } else {
        st = h5mr__error_set(err, H5MR_EINPUT,
                             "%s '%s' in '%s' has shape %s, which is neither the shape of '%s' (%s) nor a trailing or "
                             "leading part of it",
                             opt, c->dataset, file, cs, dataset, rs);
    }
    c->stored = cd->dtype;
    c->ndims = k;
    memcpy(c->shape, cd->shape, sizeof c->shape);
    if (st == H5MR_OK && c->own_file && !c->raw_cf) h5mr__cf_read(&d, &c->cf);
    h5mr__dset_close(&d);
    if (st != H5MR_OK) return st;

    int L = v->split;
    c->repeat = c->tile = 1;
    if (c->a <= L && L < c->b) {
        if (c->b == nd) {
            c->layout = H5MR__LAY_FULL;
        } else if (c->b == L + 1) {
            c->layout = H5MR__LAY_SCALAR;
        } else {
            c->layout = H5MR__LAY_FULL;
            c->repeat = kept_elems(v, c->b, nd);
        }
    } else if (c->a > L) {
        c->layout = H5MR__LAY_ROW;
        c->tile = kept_elems(v, c->a, nd);
    } else {
        c->layout = H5MR__LAY_ONE;
    }
    c->dtype = c->role == H5MR_ROLE_MASK ? H5MR_DTYPE_U8 : c->role == H5MR_ROLE_BY ? H5MR_DTYPE_I64 : H5MR_DTYPE_F64;
    if (axis0 && c->role == H5MR_ROLE_BY && c->layout != H5MR__LAY_SCALAR && c->layout != H5MR__LAY_ONE)
        return h5mr__error_set(err, H5MR_EINPUT,
                               "with axis=0, --by must give one label per row: a leading (%llu,) dataset; '%s' has "
                               "shape %s",
                               (unsigned long long)ref->shape[0], c->dataset, cs);
    return H5MR_OK;
}

h5mr_status h5mr__comp_plan(h5mr__comp *c, int n, const h5mr__dset_desc *desc, const h5mr__dset_desc *first,
                            const char *first_file, const char *dataset, const h5mr__view *v, int axis0,
                            h5mr_error *err)
{
    for (int i = 0; i < n; i++) {
        h5mr_status st = plan_one(&c[i], desc, first, first_file, dataset, v, axis0, err);
        if (st != H5MR_OK) return st;
    }
    return H5MR_OK;
}

/* ---------------------------------------------------------------- sizes and views */

static uint64_t elems(const h5mr__run *run, const h5mr__comp *c, uint64_t n)
{
    switch (c->layout) {
    case H5MR__LAY_FULL: return n * run->plan->row_elems;
    case H5MR__LAY_ROW: return run->plan->row_elems;
    case H5MR__LAY_SCALAR: return n;
    default: return 1;
    }
}

static uint64_t round8(uint64_t x) { return (x + 7) & ~(uint64_t)7; }

uint64_t h5mr__comp_bytes(const h5mr__run *run, uint64_t n)
{
    uint64_t b = 0;
    for (int i = 0; i < run->ncomp; i++)
        b += round8(elems(run, &run->comp[i], n) * h5mr_dtype_size(run->comp[i].dtype));
    return b;
}

int h5mr__comp_joinable(const h5mr__run *run)
{
    for (int i = 0; i < run->ncomp; i++)
        if ((run->comp[i].layout == H5MR__LAY_ROW || run->comp[i].layout == H5MR__LAY_ONE) && !run->comp[i].own_file)
            return 0;
    return 1;
}

void h5mr__comp_rows(const h5mr__run *run, const void *block, uint64_t n, uint64_t r, h5mr_rows *rows)
{
    const char *at = block;
    uint64_t E = run->plan->row_elems;
    for (int i = 0; i < run->ncomp; i++) {
        const h5mr__comp *c = &run->comp[i];
        size_t size = h5mr_dtype_size(c->dtype);
        h5mr_rows *o = &rows[i];
        o->role = (h5mr_role)c->role;
        o->dtype = (h5mr_dtype)c->dtype;
        switch (c->layout) {
        case H5MR__LAY_FULL: o->data = at + r * E * size, o->row_stride = E, o->elem_stride = 1; break;
        case H5MR__LAY_ROW: o->data = at, o->row_stride = 0, o->elem_stride = 1; break;
        case H5MR__LAY_SCALAR: o->data = at + r * size, o->row_stride = 1, o->elem_stride = 0; break;
        default: o->data = at, o->row_stride = 0, o->elem_stride = 0; break;
        }
        at += round8(elems(run, c, n) * size);
    }
}

/* ---------------------------------------------------------------- reading */

static h5mr_status room(h5mr__run *run, void **buf, uint64_t *cap, uint64_t bytes)
{
    if (bytes <= *cap) return H5MR_OK;
    free(*buf);
    *cap = 0;
    if (!(*buf = malloc(bytes ? bytes : 1)))
        return h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "cannot allocate %llu bytes for companion values",
                               (unsigned long long)bytes);
    *cap = bytes;
    return H5MR_OK;
}

static h5mr_status io_get(h5mr__run *run, struct h5mr__comp_io **out)
{
    if (!run->cio) {
        struct h5mr__comp_io *io = calloc(1, sizeof *io);
        if (!io) return h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory");
        for (int i = 0; i < H5MR__MAX_COMP; i++) {
            io->d[i] =
                (h5mr__dset){.file = H5I_INVALID_HID, .dset = H5I_INVALID_HID, .space = H5I_INVALID_HID, .fd = -1};
            io->which[i] = io->cached[i] = UINT64_MAX;
        }
        run->cio = io;
    }
    *out = run->cio;
    return H5MR_OK;
}

/* Companion i of the file of part p, open and checked against it. */
static h5mr_status comp_open(h5mr__run *run, struct h5mr__comp_io *io, int i, const h5mr__part *p)
{
    const h5mr__comp *c = &run->comp[i];
    uint64_t fi = c->own_file ? 0 : p->file;
    if (io->which[i] == fi) return H5MR_OK;
    h5mr__dset_close(&io->d[i]);
    io->which[i] = UINT64_MAX;
    h5mr_error *err = run->ctx->err;
    const char *file = c->own_file ? c->file : run->files->in->names[fi];
    h5mr_status st = h5mr__dset_open(file, c->dataset, &io->d[i], err);
    if (st != H5MR_OK) return h5mr__error_wrap(err, st, "%s", role_option(c->role));
    const h5mr__dset_desc *cd = &io->d[i].desc;
    uint64_t want[H5MR__MAX_DIMS];
    for (int d = c->a; d < c->b; d++)
        want[d - c->a] = d == 0 && !c->own_file ? p->file_rows : run->desc->shape[d];
    int ok = cd->ndims == c->b - c->a && same_dims(cd->shape, want, c->b - c->a) &&
             h5mr_dtype_is_float(cd->dtype) == h5mr_dtype_is_float((h5mr_dtype)c->stored);
    if (!ok) {
        char has[256], exp[256];
        dims_text(cd->shape, cd->ndims, has, sizeof has);
        dims_text(want, c->b - c->a, exp, sizeof exp);
        st = h5mr__error_set(err, H5MR_EINPUT, "%s '%s' in '%s' is %s of shape %s there, not %s of shape %s",
                             role_option(c->role), c->dataset, file, h5mr_dtype_name(cd->dtype), has,
                             h5mr_dtype_name((h5mr_dtype)c->stored), exp);
        h5mr__dset_close(&io->d[i]);
        return st;
    }
    io->cf[i] = c->cf;
    if (!c->own_file) {
        memset(&io->cf[i], 0, sizeof io->cf[i]);
        if (!c->raw_cf) h5mr__cf_read(&io->d[i], &io->cf[i]);
    }
    io->which[i] = fi;
    return H5MR_OK;
}

/* Labels: stored integers as i64, missing ones (CF) as H5MR__NO_LABEL. */
#define H5MR_EACH(T, W, ISF, BITS, LO, HI)                                                                             \
    static void labels_##T(const h5mr__cf *cf, const T *x, int64_t *out, uint64_t m)                                   \
    {                                                                                                                  \
        int any = cf->nmissing || cf->has_min || cf->has_max;                                                          \
        for (uint64_t i = 0; i < m; i++) {                                                                             \
            out[i] = (int64_t)x[i];                                                                                    \
            if (any && h5mr__cf_is_missing(cf, (double)x[i])) out[i] = H5MR__NO_LABEL;                                 \
        }                                                                                                              \
    }
H5MR_DTYPE_EACH
#undef H5MR_EACH

/* m stored values of companion i into out, as c->dtype. */
static void convert(const h5mr__comp *c, const h5mr__cf *cf, h5mr_dtype stored, const void *raw, void *out, uint64_t m)
{
    if (c->dtype == H5MR_DTYPE_I64) {
#define H5MR_CASE(T, W) labels_##T(cf, (const T *)raw, out, m);
        H5MR_DTYPE_SWITCH(stored, (void)0;)
#undef H5MR_CASE
        return;
    }
    if (c->dtype == H5MR_DTYPE_F64) {
        h5mr__cf_to_f64(cf, stored, raw, out, m);
        return;
    }
    /* mask: converted in place, front to back (the u8 output never overtakes the f64 input) */
    h5mr__cf_to_f64(cf, stored, raw, out, m);
    const double *v = out;
    uint8_t *u = out;
    for (uint64_t k = 0; k < m; k++) {
        double x = v[k];
        u[k] = !(x == 0.0 || x != x);
    }
}

/* Companion i's values for rows [f, f + n) of part p (n 0 for ROW, ONE: the whole
 * companion) into dst, laid out. */
static h5mr_status read_part(h5mr__run *run, struct h5mr__comp_io *io, int i, const h5mr__part *p, uint64_t f,
                             uint64_t n, void *dst)
{
    const h5mr__comp *c = &run->comp[i];
    const h5mr__view *v = &run->plan->view;
    h5mr_status st = comp_open(run, io, i, p);
    if (st != H5MR_OK) return st;
    int L = v->split, a = c->a, b = c->b;
    hsize_t start[H5MR__MAX_DIMS], stride[H5MR__MAX_DIMS], count[H5MR__MAX_DIMS];
    uint64_t m = 1;
    for (int d = a; d < b; d++) {
        start[d - a] = v->start[d];
        stride[d - a] = v->step[d];
        count[d - a] = v->count[d];
    }
    if (a == 0) {
        uint64_t base = c->own_file ? p->off0 : 0;
        if (L == 0) {
            start[0] = base + p->start + (f - p->row0) * v->step[0];
            count[0] = n;
        } else {
            start[0] = base + p->at0;
            count[0] = 1;
        }
    }
    if (L > 0 && a <= L && L < b) {
        start[L - a] = p->start + (f - p->row0) * v->step[L];
        count[L - a] = n;
    }
    for (int d = 0; d < b - a; d++)
        m *= count[d];
    h5mr_dtype stored = io->d[i].desc.dtype;
    size_t ssize = h5mr_dtype_size(stored);
    if ((st = room(run, &io->raw, &io->raw_cap, m * ssize)) != H5MR_OK) return st;
    if ((st = room(run, &io->conv, &io->conv_cap, m * 8)) != H5MR_OK) return st;
    if (m > 0 && (st = h5mr__dset_read_slab(&io->d[i], start, stride, count, io->raw, run->ctx->err)) != H5MR_OK)
        return h5mr__error_wrap(run->ctx->err, st, "%s '%s'", role_option(c->role), c->dataset);
    convert(c, &io->cf[i], stored, io->raw, io->conv, m);
    size_t size = h5mr_dtype_size(c->dtype);
    uint64_t E = run->plan->row_elems;
    if (c->layout == H5MR__LAY_ROW && c->tile != E) {
        for (uint64_t j = 0; j < E; j += c->tile)
            memcpy((char *)dst + j * size, io->conv, c->tile * size);
    } else if (c->layout == H5MR__LAY_FULL && c->repeat > 1) {
        const char *src = io->conv;
        char *o = dst;
        for (uint64_t k = 0; k < m; k++)
            for (uint64_t r = 0; r < c->repeat; r++, o += size)
                memcpy(o, src + k * size, size);
    } else {
        memcpy(dst, io->conv, m * size);
    }
    return H5MR_OK;
}

h5mr_status h5mr__comp_read(h5mr__run *run, uint64_t first, uint64_t n, void *out)
{
    struct h5mr__comp_io *io = NULL;
    h5mr_status st = io_get(run, &io);
    char *at = out;
    for (int i = 0; i < run->ncomp && st == H5MR_OK; i++) {
        const h5mr__comp *c = &run->comp[i];
        size_t size = h5mr_dtype_size(c->dtype);
        uint64_t bytes = elems(run, c, n) * size;
        if (c->layout == H5MR__LAY_ROW || c->layout == H5MR__LAY_ONE) {
            const h5mr__part *p = h5mr__plan_search(run->plan, first, 1);
            uint64_t fi = c->own_file ? 0 : p->file;
            if (io->cached[i] != fi) {
                free(io->cache[i]);
                io->cached[i] = UINT64_MAX;
                if (!(io->cache[i] = malloc(bytes ? bytes : 1)))
                    st = h5mr__error_set(run->ctx->err, H5MR_ENOMEM, "out of memory for companion values");
                if (st == H5MR_OK) st = read_part(run, io, i, p, 0, 0, io->cache[i]);
                if (st == H5MR_OK) io->cached[i] = fi;
            }
            if (st == H5MR_OK) memcpy(at, io->cache[i], bytes);
        } else {
            uint64_t per = c->layout == H5MR__LAY_FULL ? run->plan->row_elems : 1;
            for (uint64_t done = 0; done < n && st == H5MR_OK;) {
                const h5mr__part *p = h5mr__plan_search(run->plan, first + done, 1);
                uint64_t left = p->row0 + p->rows - (first + done), k = n - done < left ? n - done : left;
                st = read_part(run, io, i, p, first + done, k, at + done * per * size);
                done += k;
            }
        }
        at += round8(bytes);
    }
    return st;
}

void h5mr__comp_release(h5mr__run *run)
{
    struct h5mr__comp_io *io = run->cio;
    if (!io) return;
    for (int i = 0; i < H5MR__MAX_COMP; i++) {
        h5mr__dset_close(&io->d[i]);
        free(io->cache[i]);
    }
    free(io->raw);
    free(io->conv);
    free(io);
    run->cio = NULL;
}

/* ---------------------------------------------------------------- missing companions */

/* x = bad(companion) ? NaN : x, along each row; the companion's value for element j
 * of row r is at r * row_stride + j * elem_stride.  Contiguous companions (a mask of
 * the row, or of every element) take a branch-free loop the compiler vectorises. */
#define APPLY_ONE(T, CT, BAD)                                                                                          \
    static void apply_##T##_##CT(const h5mr_rows *c, T *restrict x, uint64_t n, uint64_t E)                            \
    {                                                                                                                  \
        const T nan = (T)NAN;                                                                                          \
        int same = -1; /* a companion of the row (row_stride 0): whether it has a missing value, found once */         \
        for (uint64_t r = 0; r < n; r++) {                                                                             \
            T *restrict row = x + r * E;                                                                               \
            const CT *restrict m = (const CT *)c->data + c->row_stride * r;                                            \
            if (c->elem_stride == 0) {                                                                                 \
                CT v = m[0];                                                                                           \
                if (BAD(v))                                                                                            \
                    for (uint64_t j = 0; j < E; j++)                                                                   \
                        row[j] = nan;                                                                                  \
                continue;                                                                                              \
            }                                                                                                          \
            /* (written only where one is missing: rows seen in place are then not copied, and                         \
             * a row of weights all given costs one read) */                                                           \
            int any = same;                                                                                            \
            if (any < 0) {                                                                                             \
                any = 0;                                                                                               \
                for (uint64_t j = 0; j < E; j++)                                                                       \
                    any |= BAD(m[j]);                                                                                  \
                if (c->row_stride == 0) same = any;                                                                    \
            }                                                                                                          \
            if (!any) continue;                                                                                        \
            for (uint64_t j = 0; j < E; j++) {                                                                         \
                CT v = m[j];                                                                                           \
                row[j] = BAD(v) ? nan : row[j];                                                                        \
            }                                                                                                          \
        }                                                                                                              \
    }
#define BAD_MASK(v) ((v) == 0)
#define BAD_LABEL(v) ((v) == H5MR__NO_LABEL)
#define BAD_F64(v) ((v) != (v))
#define APPLY(T)                                                                                                       \
    APPLY_ONE(T, uint8_t, BAD_MASK)                                                                                    \
    APPLY_ONE(T, int64_t, BAD_LABEL)                                                                                   \
    APPLY_ONE(T, double, BAD_F64)                                                                                      \
    static void apply_##T(const h5mr_rows *c, T *x, uint64_t n, uint64_t E)                                            \
    {                                                                                                                  \
        if (c->dtype == H5MR_DTYPE_U8)                                                                                 \
            apply_##T##_uint8_t(c, x, n, E);                                                                           \
        else if (c->dtype == H5MR_DTYPE_I64)                                                                           \
            apply_##T##_int64_t(c, x, n, E);                                                                           \
        else                                                                                                           \
            apply_##T##_double(c, x, n, E);                                                                            \
    }
APPLY(float)
APPLY(double)

void h5mr__comp_apply(const h5mr__run *run, const h5mr_rows *rows, h5mr_dtype t, void *x, uint64_t n)
{
    uint64_t E = run->plan->row_elems;
    for (int i = 0; i < run->ncomp; i++) {
        /* A missing label: the --by wrapper (group.c) skips the element itself. */
        if (rows[i].role == H5MR_ROLE_BY) continue;
        if (t == H5MR_DTYPE_F32)
            apply_float(&rows[i], x, n, E);
        else if (t == H5MR_DTYPE_F64)
            apply_double(&rows[i], x, n, E);
    }
}
