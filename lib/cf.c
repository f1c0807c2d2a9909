/* cf.c: CF conventions, as netCDF readers apply them (xarray's mask_and_scale, cdo,
 * ncra): which stored values are missing (_FillValue, missing_value, valid_min,
 * valid_max, valid_range) and how stored values become values (scale_factor,
 * add_offset).  Read once per file when the input is described; applied in the map
 * step, just before the kernel sees a block, in cache-sized slices. */
#include "h5mr_numeric.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cf_visit {
    const h5mr__dset *d;
    h5mr__cf *cf;
    double fill[H5MR__CF_MAX_MISSING], miss[H5MR__CF_MAX_MISSING];
    int nfill, nmiss;
} cf_visit;

/* Up to max values of a numeric attribute, converted by HDF5 to `memtype` and then
 * widened to double; -1 if it is not numeric. */
static int read_values(hid_t attr, hid_t memtype, h5mr_dtype dt, double *out, int max)
{
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int got = -1;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n >= 1 && n <= 64) {
        union {
            double f[64];
            int64_t i[64];
            uint64_t u[64];
            unsigned char b[64 * 8];
        } buf;
        if (H5Aread(attr, memtype, buf.b) >= 0) {
            got = (int)(n < max ? n : max);
            size_t esize = H5Tget_size(memtype);
            for (int k = 0; k < got; k++) {
                const unsigned char *p = buf.b + (size_t)k * esize;
#define H5MR_CASE(T, W)                                                                                                \
    {                                                                                                                  \
        T v;                                                                                                           \
        memcpy(&v, p, sizeof v);                                                                                       \
        out[k] = (double)v;                                                                                            \
    }
                H5MR_DTYPE_SWITCH(dt, out[k] = NAN;)
#undef H5MR_CASE
            }
        }
    }
    H5Eclear2(H5E_DEFAULT);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    return got;
}

static herr_t cf_attr(hid_t obj, const char *name, const H5A_info_t *info, void *arg)
{
    (void)info;
    cf_visit *v = arg;
    h5mr__cf *cf = v->cf;
    int value = !strcmp(name, "_FillValue") || !strcmp(name, "missing_value") || !strcmp(name, "valid_min") ||
                !strcmp(name, "valid_max") || !strcmp(name, "valid_range");
    int packing = !strcmp(name, "scale_factor") || !strcmp(name, "add_offset");
    if (!value && !packing) return 0;
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    double x[H5MR__CF_MAX_MISSING];
    /* Markers are stored values: read in the variable's own type (as netCDF does);
     * the packing in double. */
    int n = value ? read_values(attr, v->d->memtype, v->d->desc.dtype, x, H5MR__CF_MAX_MISSING)
                  : read_values(attr, H5T_NATIVE_DOUBLE, H5MR_DTYPE_F64, x, 1);
    H5Aclose(attr);
    if (n < 1) return 0;
    if (!strcmp(name, "_FillValue")) {
        v->fill[0] = x[0];
        v->nfill = 1;
    } else if (!strcmp(name, "missing_value")) {
        memcpy(v->miss, x, (size_t)n * sizeof *x);
        v->nmiss = n;
    } else if (!strcmp(name, "valid_min")) {
        cf->has_min = 1, cf->vmin = x[0];
    } else if (!strcmp(name, "valid_max")) {
        cf->has_max = 1, cf->vmax = x[0];
    } else if (!strcmp(name, "valid_range") && n >= 2) {
        cf->has_min = cf->has_max = 1;
        cf->vmin = x[0], cf->vmax = x[1];
    } else if (!strcmp(name, "scale_factor")) {
        cf->has_scale = 1, cf->scale = x[0];
    } else if (!strcmp(name, "add_offset")) {
        cf->has_offset = 1, cf->offset = x[0];
    }
    return 0;
}

static void add_missing(h5mr__cf *cf, double x)
{
    if (isnan(x)) return; /* NaN is missing anyway */
    for (int k = 0; k < cf->nmissing; k++)
        if (cf->missing[k] == x) return;
    if (cf->nmissing < H5MR__CF_MAX_MISSING) cf->missing[cf->nmissing++] = x;
}

void h5mr__cf_read(const h5mr__dset *d, h5mr__cf *cf)
{
    memset(cf, 0, sizeof *cf);
    cf_visit v = {.d = d, .cf = cf};
    hsize_t idx = 0;
    H5Aiterate2(d->dset, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, cf_attr, &v);
    H5Eclear2(H5E_DEFAULT);
    /* valid_range wins over valid_min/valid_max when both are given (CF), which the
     * order of the names (valid_max, valid_min, valid_range) already gives. */
    if (v.nfill) {
        add_missing(cf, v.fill[0]);
        cf->fill = cf->nmissing == 1;
    }
    for (int k = 0; k < v.nmiss; k++)
        add_missing(cf, v.miss[k]);
    cf->integer = !h5mr_dtype_is_float(d->desc.dtype);
    /* scale 1 and offset 0 still make the values floats, as netCDF readers do. */
}

int h5mr__cf_mode(const h5mr__cf *cfs, size_t stride, size_t n, h5mr_dtype stored, h5mr_dtype *kdtype)
{
    int any = 0, packed = 0;
    for (size_t i = 0; i < n; i++) {
        const h5mr__cf *cf = (const h5mr__cf *)((const char *)cfs + i * stride);
        any |= h5mr__cf_any(cf);
        packed |= cf->has_scale || cf->has_offset;
    }
    *kdtype = stored;
    if (!any) return 0;
    if (h5mr_dtype_is_float(stored) && !packed) return 1;
    *kdtype = H5MR_DTYPE_F64;
    return 2;
}

/* ---------------------------------------------------------------- applying */

static inline int cf_missing(const h5mr__cf *cf, double v)
{
    int bad = (cf->has_min && v < cf->vmin) | (cf->has_max && v > cf->vmax);
    for (int k = 0; k < cf->nmissing; k++)
        bad |= v == cf->missing[k];
    return bad;
}

int h5mr__cf_is_missing(const h5mr__cf *cf, double v) { return cf_missing(cf, v); }

void h5mr__cf_mask(const h5mr__cf *cf, h5mr_dtype t, void *data, uint64_t n)
{
    if (!h5mr__cf_any(cf)) return;
    if (t == H5MR_DTYPE_F32) {
        float *x = data;
        for (uint64_t i = 0; i < n; i++)
            if (cf_missing(cf, (double)x[i])) x[i] = NAN;
    } else if (t == H5MR_DTYPE_F64) {
        double *x = data;
        for (uint64_t i = 0; i < n; i++)
            if (cf_missing(cf, x[i])) x[i] = NAN;
    }
}

/* One conversion per stored type; the common cases (no range, one or two markers)
 * have loops of their own that the compiler vectorises. */
#define H5MR_EACH(T, W, ISF, BITS, LO, HI)                                                                             \
    H5MR_HOT static void cf_to_f64_##T(const h5mr__cf *cf, const T *restrict x, double *restrict out, uint64_t n)      \
    {                                                                                                                  \
        double a = cf->has_scale ? cf->scale : 1.0, b = cf->has_offset ? cf->offset : 0.0;                             \
        int packed = cf->has_scale || cf->has_offset;                                                                  \
        if (!cf->has_min && !cf->has_max && cf->nmissing <= 2) {                                                       \
            double m0 = cf->nmissing > 0 ? cf->missing[0] : NAN, m1 = cf->nmissing > 1 ? cf->missing[1] : NAN;         \
            if (packed)                                                                                                \
                for (uint64_t i = 0; i < n; i++) {                                                                     \
                    double v = (double)x[i];                                                                           \
                    out[i] = (v == m0) | (v == m1) ? NAN : v * a + b;                                                  \
                }                                                                                                      \
            else                                                                                                       \
                for (uint64_t i = 0; i < n; i++) {                                                                     \
                    double v = (double)x[i];                                                                           \
                    out[i] = (v == m0) | (v == m1) ? NAN : v;                                                          \
                }                                                                                                      \
            return;                                                                                                    \
        }                                                                                                              \
        for (uint64_t i = 0; i < n; i++) {                                                                             \
            double v = (double)x[i];                                                                                   \
            out[i] = cf_missing(cf, v) ? NAN : packed ? v * a + b : v;                                                 \
        }                                                                                                              \
    }
H5MR_DTYPE_EACH
#undef H5MR_EACH

void h5mr__cf_to_f64(const h5mr__cf *cf, h5mr_dtype t, const void *data, double *out, uint64_t n)
{
#define H5MR_CASE(T, W) cf_to_f64_##T(cf, (const T *)data, out, n);
    H5MR_DTYPE_SWITCH(t, (void)0;)
#undef H5MR_CASE
}

/* ---------------------------------------------------------------- packed integers */

static int cf_same(const h5mr__cf *a, const h5mr__cf *b)
{
    int same = a->nmissing == b->nmissing && a->has_min == b->has_min && a->has_max == b->has_max &&
               a->has_scale == b->has_scale && a->has_offset == b->has_offset;
    for (int k = 0; same && k < a->nmissing; k++)
        same = a->missing[k] == b->missing[k];
    same = same && (!a->has_min || a->vmin == b->vmin) && (!a->has_max || a->vmax == b->vmax);
    return same && (!a->has_scale || a->scale == b->scale) && (!a->has_offset || a->offset == b->offset);
}

int h5mr__cf_packing(const h5mr__cf *cfs, size_t stride, size_t n, h5mr_dtype stored, h5mr_packing *pk, int *norm)
{
    if (n == 0 || h5mr_dtype_is_float(stored) || h5mr_dtype_size(stored) > 4) return 0;
    const h5mr__cf *cf = cfs;
    for (size_t i = 1; i < n; i++)
        if (!cf_same(cf, (const h5mr__cf *)((const char *)cfs + i * stride))) return 0;
    int bits = (int)h5mr_dtype_size(stored) * 8;
    double lo = h5mr_dtype_is_signed(stored) ? -ldexp(1.0, bits - 1) : 0.0;
    double hi = h5mr_dtype_is_signed(stored) ? ldexp(1.0, bits - 1) - 1 : ldexp(1.0, bits) - 1;
    *pk = (h5mr_packing){.packed = cf->has_scale || cf->has_offset,
                         .scale = cf->has_scale ? cf->scale : 1.0,
                         .offset = cf->has_offset ? cf->offset : 0.0};
    /* The stored values that are missing: markers that are integers of the type's
     * range (the fill first), and those past a valid bound. */
    int markers = 0;
    for (int k = 0; k < cf->nmissing; k++) {
        double m = cf->missing[k];
        if (m != floor(m) || m < lo || m > hi) continue; /* no stored value is that */
        if (!markers++) pk->missing = (int64_t)m;
    }
    double below = cf->has_min ? ceil(cf->vmin) - 1 : lo - 1, above = cf->has_max ? floor(cf->vmax) + 1 : hi + 1;
    int ranged = below >= lo || above <= hi;
    if (!markers && ranged) pk->missing = below >= lo ? (int64_t)below : (int64_t)above;
    pk->has_missing = markers || ranged;
    *norm = ranged || markers > 1;
    return 1;
}

/* Integers of 32 bits or less with a valid range and at most two markers (the common
 * case) compare in their own type, branch-free, vectorised: v < vmin is v < ceil(vmin) for
 * an integer v, and a marker no stored value can equal becomes the marker written, so
 * that matching it changes nothing. */
#define H5MR_EACH(T, W, ISF, BITS, LO, HI)                                                                             \
    H5MR_HOT static void cf_normalize_##T(const h5mr__cf *cf, T *x, uint64_t n, T marker)                              \
    {                                                                                                                  \
        double lo = cf->has_min ? ceil(cf->vmin) : (double)(LO), hi = cf->has_max ? floor(cf->vmax) : (double)(HI);    \
        if (!(ISF) && (BITS) <= 32 && cf->nmissing <= 2 && lo <= (double)(HI) && hi >= (double)(LO) && lo <= hi) {    \
            T l = lo < (double)(LO) ? (T)(LO) : (T)lo, h = hi > (double)(HI) ? (T)(HI) : (T)hi, m[2] = {marker, marker}; \
            for (int k = 0; k < cf->nmissing; k++) {                                                                   \
                double v = cf->missing[k];                                                                             \
                if (v == floor(v) && v >= (double)(LO) && v <= (double)(HI)) m[k] = (T)v;                              \
            }                                                                                                          \
            for (uint64_t i = 0; i < n; i++) {                                                                         \
                T v = x[i];                                                                                            \
                int bad = (v < l) | (v > h) | (v == m[0]) | (v == m[1]);                                               \
                x[i] = bad ? marker : v;                                                                               \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                                               \
            if (cf_missing(cf, (double)x[i])) x[i] = marker;                                                           \
    }
H5MR_DTYPE_EACH
#undef H5MR_EACH

void h5mr__cf_normalize(const h5mr__cf *cf, h5mr_dtype t, void *data, uint64_t n, int64_t marker)
{
#define H5MR_CASE(T, W) cf_normalize_##T(cf, (T *)data, n, (T)marker);
    H5MR_DTYPE_SWITCH(t, (void)0;)
#undef H5MR_CASE
}

/* A marker or bound: as an integer for integer data (-32767, not -32767.0). */
static void write_value(FILE *f, const h5mr__cf *cf, double v)
{
    if (cf->integer && v == floor(v) && fabs(v) < 0x1p63)
        fprintf(f, "%lld", (long long)v);
    else
        h5mr_json_write_double(f, v);
}

void h5mr__cf_json(FILE *f, const h5mr__cf *cf)
{
    if (!h5mr__cf_any(cf)) {
        fputs("null", f);
        return;
    }
    const char *sep = "";
    fputc('{', f);
    if (cf->nmissing) {
        fputs("\"fill\": [", f);
        for (int k = 0; k < cf->nmissing; k++) {
            if (k) fputs(", ", f);
            write_value(f, cf, cf->missing[k]);
        }
        fputc(']', f);
        sep = ", ";
    }
    if (cf->has_min) fprintf(f, "%s\"valid_min\": ", sep), write_value(f, cf, cf->vmin), sep = ", ";
    if (cf->has_max) fprintf(f, "%s\"valid_max\": ", sep), write_value(f, cf, cf->vmax), sep = ", ";
    if (cf->has_scale) fprintf(f, "%s\"scale\": ", sep), h5mr_json_write_double(f, cf->scale), sep = ", ";
    if (cf->has_offset) fprintf(f, "%s\"offset\": ", sep), h5mr_json_write_double(f, cf->offset);
    fputc('}', f);
}
