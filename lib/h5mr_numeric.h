/* h5mr_numeric.h: what the built-in kernels are made of, for kernels of your own too
 * (installed; header-only, built on the public API): TwoSum lanes, exact squares,
 * double-double arithmetic, the variance from exact sums, vector loads of every type,
 * the axis parameter and the trailing shape.  A "lane" keeps hi + lo, updated with Knuth's TwoSum, so
 * an item's partial sum carries its rounding errors along exactly enough that adding
 * hi and lo into an h5mr_xsum at the end of the item loses nothing that matters. */
#ifndef H5MR_NUMERIC_H
#define H5MR_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "h5mr.h"

#define H5MR_LANES 8

/* Four doubles as one value (GCC/Clang vector extensions): the loops below are written
 * with them so they vectorise without -ffast-math, keeping IEEE order within a lane. */
/* Two doubles as one value, the width every x86-64 has (SSE2): element i of an item
 * always goes to lane i mod 8, whatever the machine, so results are the same bits. */
typedef double h5mr_v2d __attribute__((vector_size(16)));
typedef int64_t h5mr_v2l __attribute__((vector_size(16)));

/* h5mr_loadN_<ctype>(p), N = 2 or 4: N elements from p (any alignment) as doubles. */
#define H5MR_DEFINE_LOAD(T, N)                                                                                         \
    typedef T h5mr_v##N##_##T __attribute__((vector_size(N * sizeof(T))));                                             \
    static inline h5mr_v##N##d h5mr_load##N##_##T(const T *p)                                                          \
    {                                                                                                                  \
        h5mr_v##N##_##T v;                                                                                             \
        memcpy(&v, p, sizeof v);                                                                                       \
        return __builtin_convertvector(v, h5mr_v##N##d);                                                               \
    }
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) H5MR_DEFINE_LOAD(T, 2)
H5MR_DTYPE_EACH
#undef H5MR_EACH

/* Four doubles as one value, for loops built twice (target_clones: AVX2 and the
 * baseline): lanes 0-3 and 4-7 of two of them are the same lanes as four h5mr_v2d.
 * Static inline only, never passed across an ABI boundary, so GCC's note that 32-byte
 * vectors without AVX change the ABI does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi" /* for the rest of the including file, too */
typedef double h5mr_v4d __attribute__((vector_size(32)));
typedef int64_t h5mr_v4l __attribute__((vector_size(32)));
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) H5MR_DEFINE_LOAD(T, 4)
H5MR_DTYPE_EACH
#undef H5MR_EACH

/* mask ? a : b for four lanes. */
static inline h5mr_v4d h5mr_v4_select(h5mr_v4l mask, h5mr_v4d a, h5mr_v4d b)
{
    return (h5mr_v4d)(((h5mr_v4l)a & mask) | ((h5mr_v4l)b & ~mask));
}

/* Build a hot loop for AVX2 and for plain x86-64, picked at load time (same bits).
 * H5MR_X86_PATHS: where loops of their own for AVX2 + FMA are built (x86-64, GCC, not
 * under AddressSanitizer), with H5MR_FMA_TARGET and H5MR_TWO_PROD_FMA: a*b = p + e
 * exactly, e in one instruction (a*b - p, unrounded), the e of Dekker's product
 * wherever both are exact (the callers keep the cases where Dekker's is not to the
 * portable path). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define H5MR_X86_PATHS 1
#define H5MR_HOT __attribute__((target_clones("avx2", "default")))
#include <immintrin.h>
#define H5MR_FMA_TARGET __attribute__((target("avx2,fma")))
#define H5MR_TWO_PROD_FMA(a, b, p, e)                                                                                  \
    do {                                                                                                               \
        (p) = (a) * (b);                                                                                               \
        (e) = (h5mr_v4d)_mm256_fmsub_pd((__m256d)(a), (__m256d)(b), (__m256d)(p));                                     \
    } while (0)
#else
#define H5MR_X86_PATHS 0
#define H5MR_HOT
#endif

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros). */
static inline h5mr_v2d h5mr_v2_select(h5mr_v2l mask, h5mr_v2d a, h5mr_v2d b)
{
    return (h5mr_v2d)(((h5mr_v2l)a & mask) | ((h5mr_v2l)b & ~mask));
}

/* Whether one of the first 64 of the n values at x is NaN.  A mask or a fill value shows
 * early: such a block goes straight to a loop that skips NaN, not through a fast loop
 * that finds a NaN only at its end and starts again. */
#define H5MR_NAN_EARLY(x, n)                                                                                           \
    __extension__({                                                                                                    \
        int seen_ = 0;                                                                                                 \
        for (uint64_t i_ = 0; i_ < (n) && i_ < 64; i_++)                                                               \
            seen_ |= (x)[i_] != (x)[i_];                                                                               \
        seen_;                                                                                                         \
    })

/* hi + v → hi (rounded) with the rounding error added to lo. */
#define H5MR_TWOSUM_ACC(hi, lo, v)                                                                                     \
    do {                                                                                                               \
        __typeof__(hi) t_ = (hi) + (v);                                                                                \
        __typeof__(hi) b_ = t_ - (hi);                                                                                 \
        (lo) += ((hi) - (t_ - b_)) + ((v)-b_);                                                                         \
        (hi) = t_;                                                                                                     \
    } while (0)

/* Exact square x*x = p + e (Veltkamp/Dekker, no FMA needed).  Valid for |x| < 2^996. */
#define H5MR_EXACT_SQUARE(x, p, e)                                                                                     \
    do {                                                                                                               \
        __typeof__(x) c_ = 134217729.0 * (x);                                                                          \
        __typeof__(x) h_ = c_ - (c_ - (x));                                                                            \
        __typeof__(x) l_ = (x)-h_;                                                                                     \
        (p) = (x) * (x);                                                                                               \
        (e) = ((h_ * h_ - (p)) + 2.0 * h_ * l_) + l_ * l_;                                                             \
    } while (0)

/* Exact product a*b = p + e (Veltkamp/Dekker, no FMA needed), for doubles or vectors
 * of them alike (the temporaries take a's type, at least double).  Valid for |a|, |b|
 * < 2^996. */
#define H5MR_TWO_PROD(a, b, p, e)                                                                                      \
    do {                                                                                                               \
        __typeof__((a) + 0.0) ca_ = 134217729.0 * (a), ah_ = ca_ - (ca_ - (a)), al_ = (a)-ah_;                         \
        __typeof__((a) + 0.0) cb_ = 134217729.0 * (b), bh_ = cb_ - (cb_ - (b)), bl_ = (b)-bh_;                         \
        (p) = (a) * (b);                                                                                               \
        (e) = ((ah_ * bh_ - (p)) + ah_ * bl_ + al_ * bh_) + al_ * bl_;                                                 \
    } while (0)

/* Fold v into Σx (h1 + l1, when WITH_X) and Σx² (h2 + l2; x² split exactly into p + e
 * unless EXACT says v*v is exact already: 8- and 16-bit integers, f32).  Scalars and
 * vectors alike, with the same operations in the same order. */
#define H5MR_FOLD_X_X2(EXACT, WITH_X, v, h1, l1, h2, l2)                                                               \
    H5MR_FOLD_X_X2_SQ(EXACT, WITH_X, v, h1, l1, h2, l2, H5MR_EXACT_SQUARE)
/* The same with the exact square made by SQUARE(x, p, e) (an FMA's, where valid). */
#define H5MR_FOLD_X_X2_SQ(EXACT, WITH_X, v, h1, l1, h2, l2, SQUARE)                                                    \
    do {                                                                                                               \
        __typeof__(v) p_, e_;                                                                                          \
        if (EXACT) {                                                                                                   \
            p_ = (v) * (v);                                                                                            \
            e_ = (__typeof__(v)){0};                                                                                   \
        } else {                                                                                                       \
            SQUARE(v, p_, e_);                                                                                         \
        }                                                                                                              \
        if (WITH_X) H5MR_TWOSUM_ACC(h1, l1, v);                                                                        \
        H5MR_TWOSUM_ACC(h2, l2, p_);                                                                                   \
        (l2) += e_;                                                                                                    \
    } while (0)

/* A double-double number hi + lo, for the few operations of finish(). */
typedef struct h5mr_dd {
    double hi, lo;
} h5mr_dd;

static inline h5mr_dd h5mr_dd_add(h5mr_dd a, h5mr_dd b)
{
    double s = a.hi + b.hi, bb = s - a.hi;
    double e = (a.hi - (s - bb)) + (b.hi - bb) + a.lo + b.lo;
    double hi = s + e;
    return (h5mr_dd){hi, e - (hi - s)};
}

static inline h5mr_dd h5mr_dd_mul(h5mr_dd a, h5mr_dd b)
{
    double p = a.hi * b.hi;
    double e = fma(a.hi, b.hi, -p) + (a.hi * b.lo + a.lo * b.hi);
    double hi = p + e;
    return (h5mr_dd){hi, e - (hi - p)};
}

static inline h5mr_dd h5mr_dd_neg(h5mr_dd a) { return (h5mr_dd){-a.hi, -a.lo}; }

/* (a.hi + a.lo) / d, rounded once more or less. */
static inline double h5mr_dd_div(h5mr_dd a, double d)
{
    double q = a.hi / d;
    double r = fma(-q, d, a.hi) + a.lo;
    return q + r / d;
}

/* The unpacked total a·S + b·n of n stored integers of exact sum S, a value being
 * stored·a + b (h5mr_packing), as a double-double whose hi is that total exactly
 * rounded: the products are split exactly and added in an exact sum. */
static inline h5mr_dd h5mr_unpack_sum(double a, double b, __int128 S, int64_t n)
{
    double sh = (double)S, sl = (double)(S - (__int128)sh), p[6];
    H5MR_TWO_PROD(a, sh, p[0], p[1]);
    H5MR_TWO_PROD(a, sl, p[2], p[3]);
    H5MR_TWO_PROD(b, (double)n, p[4], p[5]);
    h5mr_xsum x;
    memset(&x, 0, sizeof x);
    for (int k = 0; k < 6; k++)
        h5mr_xsum_add(&x, p[k]);
    h5mr_dd r;
    h5mr_xsum_round2(&x, &r.hi, &r.lo);
    return r;
}

/* An unpacked value, rounded as a netCDF reader rounds it: the product, then the sum. */
static inline double h5mr_unpack(const h5mr_packing *pk, double v)
{
    double t = v * pk->scale;
    return t + pk->offset;
}

/* v where ok (0 or 1) holds, else e, for integers of type T, without a branch: the
 * stored integers of a packed variable with its missing marker taken out of a min or
 * a max (e the type's HI for a min, LO for a max). */
#define H5MR_PICK_INT(T, ok, v, e) ((T)(((T)(v) & (T) - (T)(ok)) | ((T)(e) & (T) ~(T) - (T)(ok))))

/* The stored types a packing comes in (h5mr_ctx_accept_packed: integers of <= 32 bits):
 * H5MR_CASE(T, LO, HI) for the block's type, `otherwise` for any other. */
#define H5MR_PACKED_SWITCH(t, otherwise)                                                                               \
    switch (t) {                                                                                                       \
    case H5MR_DTYPE_I8: H5MR_CASE(int8_t, INT8_MIN, INT8_MAX) break;                                                   \
    case H5MR_DTYPE_U8: H5MR_CASE(uint8_t, 0, UINT8_MAX) break;                                                        \
    case H5MR_DTYPE_I16: H5MR_CASE(int16_t, INT16_MIN, INT16_MAX) break;                                               \
    case H5MR_DTYPE_U16: H5MR_CASE(uint16_t, 0, UINT16_MAX) break;                                                     \
    case H5MR_DTYPE_I32: H5MR_CASE(int32_t, INT32_MIN, INT32_MAX) break;                                               \
    case H5MR_DTYPE_U32: H5MR_CASE(uint32_t, 0, UINT32_MAX) break;                                                     \
    default: {                                                                                                         \
        otherwise                                                                                                      \
    } break;                                                                                                           \
    }

/* Whether unpacking (x * scale, rounded, + offset, rounded) is strictly monotonic over
 * the integers of any stored type a packing comes in (|x| <= 2^32): consecutive
 * integers' products differ by |scale|, each rounded by at most 2^-53 of their
 * magnitude, and two values further apart than the spacing of doubles where they lie
 * never round to one; so |scale| > 2^-49 (2^33 |scale| + |offset|) is enough, with
 * the products kept well inside the normal range. */
static inline int h5mr_unpack_monotonic(const h5mr_packing *pk)
{
    double a = fabs(pk->scale), b = fabs(pk->offset);
    return isfinite(a) && isfinite(b) && a >= 0x1p-900 && 0x1p33 * a + b < 0x1p1000 && a > 0x1p-49 * (0x1p33 * a + b);
}

/* -p axis: absent or "none" → 0 (reduce everything), "0" → 1 (over dimension 0). */
static inline h5mr_status h5mr_param_axis(h5mr_ctx *ctx, const char *kernel, int *over_rows)
{
    const char *a = h5mr_ctx_param(ctx, "axis");
    if (!a || !strcmp(a, "none")) {
        *over_rows = 0;
        return H5MR_OK;
    }
    if (!strcmp(a, "0")) {
        *over_rows = 1;
        return H5MR_OK;
    }
    return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s: axis=%s is not supported (give axis=0 or leave it out)", kernel,
                          a);
}

/* The trailing shape (dimensions 1..n-1) and its element count. */
static inline uint64_t h5mr_trailing(const h5mr_ctx *ctx, const uint64_t **shape, int *ndims)
{
    uint64_t n = 1;
    for (int i = 1; i < h5mr_ctx_ndims(ctx); i++)
        n *= h5mr_ctx_shape(ctx)[i];
    *shape = h5mr_ctx_shape(ctx) + 1;
    *ndims = h5mr_ctx_ndims(ctx) - 1;
    return n;
}

/* The population variance from n and exact sums Σx, Σx² given as double-doubles:
 * (n·Σx² − (Σx)²) / n², about 100 bits before the subtraction. */
static inline double h5mr_variance(double n, h5mr_dd s1, h5mr_dd s2)
{
    if (!isfinite(s1.hi) || !isfinite(s2.hi)) return isnan(s1.hi) || isnan(s2.hi) || isinf(s1.hi) ? NAN : INFINITY;
    h5mr_dd nd = {n, 0.0};
    h5mr_dd a = h5mr_dd_add(h5mr_dd_mul(nd, s2), h5mr_dd_neg(h5mr_dd_mul(s1, s1)));
    double var = h5mr_dd_div(a, n) / n;
    return var < 0 ? 0 : var;
}

/* The declaration of the axis parameter, shared by the kernels that take it. */
#define H5MR_AXIS_PARAM                                                                                                \
    {                                                                                                                  \
        "axis", NULL, "none: every element; 0: over dimension 0 (per pixel); 1,...,n-1: within each row (a series)"    \
    }

#endif
