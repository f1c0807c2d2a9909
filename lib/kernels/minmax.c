/* minmax.c: the `minmax` kernel — min, max, argmin, argmax (first occurrence, flat
 * C-order index), or per pixel over dimension 0 with -p axis=0 (indices along it).
 * Values compare in their own type (widened), NaN is skipped, ties go to the lower
 * index in map and in combine alike, so the result does not depend on the order.
 * CF-packed integers are taken as stored (h5mr_ctx_accept_packed) where unpacking is
 * strictly monotonic over the stored type's whole range: then the unpacked min and max
 * are the stored ones unpacked (swapped, with their indices, for a negative scale) and
 * occur exactly where those do, so the first occurrence is the same too. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"

typedef struct mm_scalar {
    int64_t n;
    h5mr_wide min, max;
    uint64_t amin, amax;
} mm_scalar;

/* The scalar state has the layout of a per-pixel state of one pixel (below). */
_Static_assert(sizeof(mm_scalar) == 40, "mm_scalar is five 8-byte fields");

typedef struct mm_config {
    int over_rows;
    uint64_t pixels;
    const h5mr_packing *pk; /* packed integers taken as stored, or NULL */
} mm_config;

/* Per-pixel state: five arrays of `pixels` entries, one after the other. */
#define MM_N(s, P) ((int64_t *)(s))
#define MM_MIN(s, P) ((h5mr_wide *)(s) + (P))
#define MM_MAX(s, P) ((h5mr_wide *)(s) + 2 * (P))
#define MM_AMIN(s, P) ((uint64_t *)(s) + 3 * (P))
#define MM_AMAX(s, P) ((uint64_t *)(s) + 4 * (P))

/* Elements per block of the scalar min/max: 16 KiB of f64, in L1 for the second look. */
#define MM_BLOCK 2048

/* F: the union member for the type; ISF: whether NaN can occur. */
/* OK(v): whether element v counts in the lanes (not NaN: NaN compares false, so the
 * min and max need no check of their own; PICK below);
 * NOT_COUNTED(y, m): how many of the m values at y count not (the markers, counted in
 * a loop of their own, so that the lanes of the min and max stay of the type's width). */
#define MM_NOT_NAN(v) ((v) == (v))
#define MM_NOT_MK(v) ((v) != mk)
#define MM_ANY(v) 1
/* PICK(v, e): v where it counts for a min or max, else e (for a marker, in bit masks:
 * integer lanes the compiler vectorises). */
#define MM_SAME(v, e) (v)
#define MM_UNLESS_MK(v, e) H5MR_PICK_INT(__typeof__(v), (v) != mk, v, e)
#define MM_NONE(y, m) 0
#define MM_MARKERS(y, m)                                                                                               \
    __extension__({                                                                                                    \
        uint32_t c_ = 0;                                                                                               \
        for (uint64_t j_ = 0; j_ < (m); j_++)                                                                          \
            c_ += (y)[j_] == mk;                                                                                       \
        (int64_t) c_;                                                                                                  \
    })
/* The lanes' counts of a block (MM_BLOCK at most) in integers of the type's width: f32's
 * in 64-bit ones took half the loop's instructions widening the masks. */
typedef int32_t mm_cnt8, mm_cnt16, mm_cnt32;
typedef int64_t mm_cnt64;
#define MM_TYPE(T, F, ISF, BITS, LO, HI)                                                                               \
    MM_SCALAR(T, F, LO, HI, scalar_##T, MM_NOT_NAN, MM_SAME, MM_NONE, mm_cnt##BITS, ISF##_##BITS)                      \
    MM_ROWS(T, F, rows_##T, ISF &&, MM_NOT_NAN)                                                                        \
    MM_MERGE(T, F)
/* The stored integers of a packing with a marker of missing values. */
#define MM_MISS(T, F, LO, HI)                                                                                          \
    MM_SCALAR(T, F, LO, HI, scalar_miss_##T, MM_ANY, MM_UNLESS_MK, MM_MARKERS, int32_t, 0_0)                           \
    MM_ROWS(T, F, rows_miss_##T, , MM_NOT_MK)
/* VEC: the type's ISF_BITS.  f32's lanes the compiler leaves scalar (vminss, one element
 * at a time: 3.1 GB/s on the demo file): they are GCC vectors of 8 then, the same picks
 * (the value where it is less, or greater; NaN never), then the same lanes (4.0). */
/* (the scalar lanes below do it all: integers, which the compiler vectorises, and f64,
 * whose scalar vminsd/vmaxsd ran faster than these vectors' compares and blends) */
#define MM_LANES_0_0(T, CNT, HI, LO)
#define MM_LANES_0_8(T, CNT, HI, LO)
#define MM_LANES_0_16(T, CNT, HI, LO)
#define MM_LANES_0_32(T, CNT, HI, LO)
#define MM_LANES_0_64(T, CNT, HI, LO)
#define MM_LANES_1_64(T, CNT, HI, LO)
#define MM_LANES_1_32(T, CNT, HI, LO)                                                                                  \
    {                                                                                                                  \
        typedef T vec_ __attribute__((vector_size(32)));                                                               \
        typedef CNT mask_ __attribute__((vector_size(32)));                                                            \
        enum { L_ = 32 / sizeof(T) };                                                                                  \
        vec_ vn, vx;                                                                                                   \
        mask_ vc;                                                                                                      \
        for (int k = 0; k < L_; k++)                                                                                   \
            vn[k] = HI, vx[k] = LO, vc[k] = 0;                                                                         \
        for (; i + L_ <= m; i += L_) {                                                                                 \
            vec_ v;                                                                                                    \
            memcpy(&v, y + i, sizeof v);                                                                               \
            vc -= v == v;                                                                                              \
            mask_ lt = v < vn;                                                                                         \
            mask_ gt = v > vx;                                                                                         \
            vn = (vec_)(((mask_)v & lt) | ((mask_)vn & ~lt));                                                          \
            vx = (vec_)(((mask_)v & gt) | ((mask_)vx & ~gt));                                                          \
        }                                                                                                              \
        for (int k = 0; k < L_ && k < 8; k++)                                                                          \
            lmn[k] = vn[k], lmx[k] = vx[k], lv[k] = (CNT)vc[k];                                                        \
    }
#define MM_SCALAR(T, F, LO, HI, NAME, OK, PICK, NOT_COUNTED, CNT, VEC)                                                 \
    /* One pass in blocks that stay in L1: each block's min and max (8 lanes, no                                       \
     * branch), remembering the first block that holds the best of each; then the first                                \
     * occurrence is looked for in that block only (a counted value: the best is one). */                              \
    H5MR_HOT static void NAME(const T *x, uint64_t n, uint64_t base, mm_scalar *s, T mk)                               \
    {                                                                                                                  \
        (void)mk;                                                                                                      \
        T mn = HI, mx = LO;                                                                                            \
        int64_t valid = 0;                                                                                             \
        uint64_t bmn = 0, bmx = 0;                                                                                     \
        int seen = 0;                                                                                                  \
        for (uint64_t b0 = 0; b0 < n; b0 += MM_BLOCK) {                                                                \
            uint64_t m = n - b0 < MM_BLOCK ? n - b0 : MM_BLOCK;                                                        \
            const T *y = x + b0;                                                                                       \
            T lmn[8], lmx[8];                                                                                          \
            CNT lv[8] = {0};                                                                                           \
            for (int k = 0; k < 8; k++)                                                                                \
                lmn[k] = HI, lmx[k] = LO;                                                                              \
            uint64_t i = 0;                                                                                            \
            MM_LANES_##VEC(T, CNT, HI, LO) for (; i + 8 <= m; i += 8) for (int k = 0; k < 8; k++)                      \
            {                                                                                                          \
                T v = y[i + (uint64_t)k];                                                                              \
                lv[k] += OK(v);                                                                                        \
                T wn = PICK(v, (T)HI), wx = PICK(v, (T)LO);                                                            \
                lmn[k] = wn < lmn[k] ? wn : lmn[k];                                                                    \
                lmx[k] = wx > lmx[k] ? wx : lmx[k];                                                                    \
            }                                                                                                          \
            for (; i < m; i++) {                                                                                       \
                T v = y[i];                                                                                            \
                lv[0] += OK(v);                                                                                        \
                T wn = PICK(v, (T)HI), wx = PICK(v, (T)LO);                                                            \
                lmn[0] = wn < lmn[0] ? wn : lmn[0];                                                                    \
                lmx[0] = wx > lmx[0] ? wx : lmx[0];                                                                    \
            }                                                                                                          \
            T bn = lmn[0], bx = lmx[0];                                                                                \
            int64_t bv = lv[0];                                                                                        \
            for (int k = 1; k < 8; k++) {                                                                              \
                bn = lmn[k] < bn ? lmn[k] : bn;                                                                        \
                bx = lmx[k] > bx ? lmx[k] : bx;                                                                        \
                bv += lv[k];                                                                                           \
            }                                                                                                          \
            bv -= NOT_COUNTED(y, m);                                                                                   \
            if (bv == 0) continue;                                                                                     \
            if (!seen || bn < mn) mn = bn, bmn = b0;                                                                   \
            if (!seen || bx > mx) mx = bx, bmx = b0;                                                                   \
            seen = 1;                                                                                                  \
            valid += bv;                                                                                               \
        }                                                                                                              \
        if (valid == 0) return;                                                                                        \
        uint64_t imn = bmn, imx = bmx;                                                                                 \
        while (!(x[imn] == mn))                                                                                        \
            imn++;                                                                                                     \
        while (!(x[imx] == mx))                                                                                        \
            imx++;                                                                                                     \
        h5mr_wide wmn, wmx;                                                                                            \
        wmn.F = x[imn];                                                                                                \
        wmx.F = x[imx];                                                                                                \
        imn += base;                                                                                                   \
        imx += base;                                                                                                   \
        if (s->n == 0 || wmn.F < s->min.F || (wmn.F == s->min.F && imn < s->amin)) s->min = wmn, s->amin = imn;        \
        if (s->n == 0 || wmx.F > s->max.F || (wmx.F == s->max.F && imx < s->amax)) s->max = wmx, s->amax = imx;        \
        s->n += valid;                                                                                                 \
    }
/* CHECK: whether an element may not count (a float type's NaN; a marker always). */
#define MM_ROWS(T, F, NAME, CHECK, OK)                                                                                 \
    static void NAME(const T *x, uint64_t rows, uint64_t first, uint64_t P, void *s, T mk)                             \
    {                                                                                                                  \
        (void)mk;                                                                                                      \
        int64_t *cnt = MM_N(s, P);                                                                                     \
        h5mr_wide *mn = MM_MIN(s, P), *mx = MM_MAX(s, P);                                                              \
        uint64_t *amn = MM_AMIN(s, P), *amx = MM_AMAX(s, P);                                                           \
        for (uint64_t r = 0; r < rows; r++) {                                                                          \
            const T *row = x + r * P;                                                                                  \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                T v = row[p];                                                                                          \
                if (CHECK !OK(v)) continue;                                                                            \
                if (cnt[p] == 0 || v < mn[p].F) mn[p].F = v, amn[p] = first + r;                                       \
                if (cnt[p] == 0 || v > mx[p].F) mx[p].F = v, amx[p] = first + r;                                       \
                cnt[p]++;                                                                                              \
            }                                                                                                          \
        }                                                                                                              \
    }
#define MM_MERGE(T, F)                                                                                                 \
    static void merge_##T(void *a, const void *b, uint64_t P)                                                          \
    {                                                                                                                  \
        int64_t *na = MM_N(a, P);                                                                                      \
        const int64_t *nb = MM_N(b, P);                                                                                \
        h5mr_wide *mna = MM_MIN(a, P), *mxa = MM_MAX(a, P);                                                            \
        const h5mr_wide *mnb = MM_MIN(b, P), *mxb = MM_MAX(b, P);                                                      \
        uint64_t *ana = MM_AMIN(a, P), *axa = MM_AMAX(a, P);                                                           \
        const uint64_t *anb = MM_AMIN(b, P), *axb = MM_AMAX(b, P);                                                     \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            if (nb[p] == 0) continue;                                                                                  \
            if (na[p] == 0 || mnb[p].F < mna[p].F || (mnb[p].F == mna[p].F && anb[p] < ana[p]))                        \
                mna[p] = mnb[p], ana[p] = anb[p];                                                                      \
            if (na[p] == 0 || mxb[p].F > mxa[p].F || (mxb[p].F == mxa[p].F && axb[p] < axa[p]))                        \
                mxa[p] = mxb[p], axa[p] = axb[p];                                                                      \
            na[p] += nb[p];                                                                                            \
        }                                                                                                              \
    }

#define H5MR_EACH(T, W, ISF, BITS, LO, HI) MM_TYPE(T, W, ISF, BITS, LO, HI)
H5MR_DTYPE_EACH
#undef H5MR_EACH
MM_MISS(int8_t, i, INT8_MIN, INT8_MAX)
MM_MISS(uint8_t, u, 0, UINT8_MAX)
MM_MISS(int16_t, i, INT16_MIN, INT16_MAX)
MM_MISS(uint16_t, u, 0, UINT16_MAX)
MM_MISS(int32_t, i, INT32_MIN, INT32_MAX)
MM_MISS(uint32_t, u, 0, UINT32_MAX)

static h5mr_status mm_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    mm_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, free);
    if (!c) return H5MR_ENOMEM;
    h5mr_status st = h5mr_param_axis(ctx, "minmax", &c->over_rows);
    if (st != H5MR_OK) return st;
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_BY);
    const uint64_t *shape;
    int nd;
    c->pixels = h5mr_trailing(ctx, &shape, &nd);
    const h5mr_packing *pk = h5mr_ctx_packing(ctx);
    if (pk && h5mr_unpack_monotonic(pk)) {
        h5mr_ctx_accept_packed(ctx);
        c->pk = pk;
    }
    h5mr_ctx_set_state_size(ctx, c->over_rows ? 40 * (c->pixels ? c->pixels : 1) : sizeof(mm_scalar));
    return H5MR_OK;
}

static h5mr_status mm_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    const mm_config *c = h5mr_ctx_config(ctx);
    uint64_t n = b->rows * b->row_elems, base = b->first_row * b->row_elems;
    if (c->pk && c->pk->has_missing) { /* the stored integers of a packing, one marker */
        int64_t mk = c->pk->missing;
#define H5MR_CASE(T, LO, HI)                                                                                           \
    if (c->over_rows)                                                                                                  \
        rows_miss_##T(b->data, b->rows, b->first_row, c->pixels, state, (T)mk);                                        \
    else                                                                                                               \
        scalar_miss_##T(b->data, n, base, state, (T)mk);
        H5MR_PACKED_SWITCH(
            b->dtype, return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "minmax: a packing of an unexpected stored type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
#define H5MR_CASE(T, W)                                                                                                \
    if (c->over_rows)                                                                                                  \
        rows_##T(b->data, b->rows, b->first_row, c->pixels, state, 0);                                                 \
    else                                                                                                               \
        scalar_##T(b->data, n, base, state, 0);                                                                        \
    if (b->first_row == H5MR_ROW_UNKNOWN && !c->over_rows) { /* gathered elements: no positions */                     \
        mm_scalar *s_ = state;                                                                                         \
        s_->amin = s_->amax = UINT64_MAX;                                                                              \
    }
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "minmax: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status mm_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const mm_config *c = h5mr_ctx_config(ctx);
    uint64_t P = c->over_rows ? c->pixels : 1;
#define H5MR_CASE(T, W) merge_##T(into, from, P);
    H5MR_DTYPE_SWITCH(h5mr_ctx_dtype(ctx), )
#undef H5MR_CASE
    return H5MR_OK;
}

/* Values as a result field: I64 for integers (U64 for u64 past INT64_MAX), F64 for
 * floats; an entry with no valid value is null. */
static h5mr_status set_values(h5mr_result *r, const char *name, h5mr_dtype t, int integral, int nd,
                              const uint64_t *shape, const h5mr_wide *v, const int64_t *cnt, uint64_t P)
{
    int is_float = h5mr_dtype_is_float(t), big = 0;
    if (is_float && integral) { /* the stored integers, widened to f64: integers again */
        int fits = 1;
        for (uint64_t p = 0; p < P; p++)
            fits &= !(cnt[p] > 0) || fabs(v[p].f) < 0x1p62;
        if (fits) {
            int64_t *data = malloc(P * 8 + 8);
            uint8_t *valid = malloc(P + 1);
            h5mr_status st = H5MR_ENOMEM;
            if (data && valid) {
                for (uint64_t p = 0; p < P; p++)
                    data[p] = cnt[p] > 0 ? (int64_t)v[p].f : 0, valid[p] = cnt[p] > 0;
                st = h5mr_result_set_array(r, name, H5MR_FIELD_I64, nd, shape, data, valid);
            }
            free(data);
            free(valid);
            return st;
        }
    }
    for (uint64_t p = 0; t == H5MR_DTYPE_U64 && p < P; p++)
        big |= cnt[p] > 0 && v[p].u > INT64_MAX;
    void *data = malloc(P * 8 + 8);
    uint8_t *valid = malloc(P + 1);
    if (!data || !valid) {
        free(data), free(valid);
        return H5MR_ENOMEM;
    }
    for (uint64_t p = 0; p < P; p++) {
        valid[p] = cnt[p] > 0;
        if (is_float)
            ((double *)data)[p] = cnt[p] > 0 ? v[p].f : NAN;
        else if (big)
            ((uint64_t *)data)[p] = cnt[p] > 0 ? v[p].u : 0;
        else
            ((int64_t *)data)[p] = cnt[p] > 0 ? v[p].i : 0;
    }
    h5mr_status st = h5mr_result_set_array(r, name,
                                           is_float ? H5MR_FIELD_F64
                                           : big    ? H5MR_FIELD_U64
                                                    : H5MR_FIELD_I64,
                                           nd, shape, data, is_float ? NULL : valid);
    free(data);
    free(valid);
    return st;
}

static h5mr_status set_index(h5mr_result *r, const char *name, int nd, const uint64_t *shape, const uint64_t *idx,
                             const int64_t *cnt, uint64_t P)
{
    int64_t *data = malloc(P * 8 + 8);
    uint8_t *valid = malloc(P + 1);
    h5mr_status st = H5MR_ENOMEM;
    if (data && valid) {
        for (uint64_t p = 0; p < P; p++)
            data[p] = (int64_t)idx[p], valid[p] = cnt[p] > 0 && idx[p] != UINT64_MAX;
        st = h5mr_result_set_array(r, name, H5MR_FIELD_I64, nd, shape, data, valid);
    }
    free(data);
    free(valid);
    return st;
}

/* Packed: the stored min and max (as `t`) unpacked into doubles, swapped with their
 * indices for a negative scale.  *mn etc. point into the new arrays (or the state's). */
static h5mr_status unpack_extremes(const h5mr_packing *pk, h5mr_dtype t, const void *s, uint64_t P, h5mr_wide **mn,
                                   h5mr_wide **mx, const uint64_t **amn, const uint64_t **amx)
{
    h5mr_wide *a = malloc(2 * P * sizeof *a + 1);
    if (!a) return H5MR_ENOMEM;
    const h5mr_wide *smn = MM_MIN(s, P), *smx = MM_MAX(s, P);
    int neg = pk->scale < 0;
    for (uint64_t p = 0; p < P; p++) {
        double lo = h5mr_dtype_is_signed(t) ? (double)smn[p].i : (double)smn[p].u;
        double hi = h5mr_dtype_is_signed(t) ? (double)smx[p].i : (double)smx[p].u;
        a[p].f = h5mr_unpack(pk, neg ? hi : lo);
        a[P + p].f = h5mr_unpack(pk, neg ? lo : hi);
    }
    *mn = a, *mx = a + P;
    *amn = neg ? MM_AMAX(s, P) : MM_AMIN(s, P);
    *amx = neg ? MM_AMIN(s, P) : MM_AMAX(s, P);
    return H5MR_OK;
}

static h5mr_status mm_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const mm_config *c = h5mr_ctx_config(ctx);
    h5mr_dtype t = h5mr_ctx_dtype(ctx);
    const uint64_t *shape = NULL;
    int nd = 0;
    uint64_t P = c->over_rows ? h5mr_trailing(ctx, &shape, &nd) : 1;
    const void *s = state;
    int integral = h5mr_ctx_values_integral(ctx);
    h5mr_wide *mn = MM_MIN(s, P), *mx = MM_MAX(s, P), *made = NULL;
    const uint64_t *amn = MM_AMIN(s, P), *amx = MM_AMAX(s, P);
    h5mr_status st = H5MR_OK;
    if (c->pk && c->pk->packed) { /* (a fill value only: the stored integers are the values) */
        if ((st = unpack_extremes(c->pk, t, s, P, &mn, &mx, &amn, &amx)) != H5MR_OK) return st;
        made = mn, t = H5MR_DTYPE_F64, integral = 0;
    }
    st = set_values(r, "min", t, integral, nd, shape, mn, MM_N(s, P), P);
    if (st == H5MR_OK) st = set_values(r, "max", t, integral, nd, shape, mx, MM_N(s, P), P);
    if (st == H5MR_OK) st = set_index(r, "argmin", nd, shape, amn, MM_N(s, P), P);
    if (st == H5MR_OK) st = set_index(r, "argmax", nd, shape, amx, MM_N(s, P), P);
    free(made);
    return st;
}

static const h5mr_param_decl mm_params[] = {H5MR_AXIS_PARAM, {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_minmax = {
    H5MR_KERNEL_FIELDS("minmax", "min, max and the index of their first occurrence (NaN skipped)", mm)};
