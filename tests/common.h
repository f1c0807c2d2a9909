/* tests/common.h: what the C tests share — a seeded generator (splitmix64, the one
 * h5mr gen uses), and an element of any type stored or loaded by its dtype (through
 * the library's one type table).  Header-only. */
#ifndef H5MR_TESTS_COMMON_H
#define H5MR_TESTS_COMMON_H

#include <math.h>
#include <stdint.h>

#include "h5mr.h"

/* The next value of the splitmix64 sequence of *state. */
static inline uint64_t test_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Element i of the array d of type t := v (converted as C converts). */
static inline void test_store(h5mr_dtype t, void *d, uint64_t i, long double v)
{
#define H5MR_CASE(T, W) ((T *)d)[i] = (T)v;
    H5MR_DTYPE_SWITCH(t, )
#undef H5MR_CASE
}

/* Element i of the array d of type t. */
static inline long double test_load(h5mr_dtype t, const void *d, uint64_t i)
{
    long double v = NAN;
#define H5MR_CASE(T, W) v = (long double)((const T *)d)[i];
    H5MR_DTYPE_SWITCH(t, )
#undef H5MR_CASE
    return v;
}

#endif
