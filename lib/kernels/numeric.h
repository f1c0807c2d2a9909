/* numeric.h: error-free transformations shared by the built-in kernels (header-only,
 * built on the public API).  A "lane" keeps hi + lo, updated with Knuth's TwoSum, so
 * an item's partial sum carries its rounding errors along exactly enough that adding
 * hi and lo into an h5mr_xsum at the end of the item loses nothing that matters. */
#ifndef H5MR_KERNELS_NUMERIC_H
#define H5MR_KERNELS_NUMERIC_H

#include <math.h>

#include "h5mr.h"

#define H5MR_LANES 8

/* hi + v → hi (rounded) with the rounding error added to lo. */
#define H5MR_TWOSUM_ACC(hi, lo, v)                                                     \
    do {                                                                               \
        double t_ = (hi) + (v);                                                        \
        double b_ = t_ - (hi);                                                         \
        (lo) += ((hi) - (t_ - b_)) + ((v)-b_);                                         \
        (hi) = t_;                                                                     \
    } while (0)

/* Exact square x*x = p + e (Veltkamp/Dekker, no FMA needed).  Valid for |x| < 2^996. */
#define H5MR_EXACT_SQUARE(x, p, e)                                                     \
    do {                                                                               \
        double c_ = 134217729.0 * (x);                                                 \
        double h_ = c_ - (c_ - (x));                                                   \
        double l_ = (x)-h_;                                                            \
        (p) = (x) * (x);                                                               \
        (e) = ((h_ * h_ - (p)) + 2.0 * h_ * l_) + l_ * l_;                             \
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

#endif
