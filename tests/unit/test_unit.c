/* Unit tests of the serial parts: planner, exact sums, packing, the sum and stats
 * kernels against naive references, JSON numbers.  No MPI_Init: Check may fork. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "internal.h"

/* ---------------------------------------------------------------- planner */

START_TEST(plan_aligned_default)
{
    h5mr__plan p;
    h5mr_error err = {0};
    /* rows of 8 bytes stored in chunks of 100 rows: items are whole chunks, ~4 MiB. */
    ck_assert_int_eq(h5mr__plan_make(10000000, 1, 8, 100, 0, &p, &err), H5MR_OK);
    ck_assert_uint_eq(p.chunk_rows % 100, 0);
    uint64_t bytes = p.chunk_rows * 8;
    ck_assert(bytes >= H5MR__ITEM_MIN_BYTES && bytes <= H5MR__ITEM_MAX_BYTES);
    ck_assert_uint_eq(p.items, (10000000 + p.chunk_rows - 1) / p.chunk_rows);
}
END_TEST

START_TEST(plan_small_dataset_is_one_item)
{
    h5mr__plan p;
    ck_assert_int_eq(h5mr__plan_make(1000, 7, 4, 64, 0, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.chunk_rows, 1000);
    ck_assert_uint_eq(p.items, 1);
}
END_TEST

START_TEST(plan_huge_chunks_stay_aligned)
{
    h5mr__plan p;
    /* one storage chunk of 16 rows of 8 MiB is over the target: one chunk per item */
    ck_assert_int_eq(h5mr__plan_make(100, 1 << 20, 8, 16, 0, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.chunk_rows, 16);
    ck_assert_uint_eq(p.items, 7);
}
END_TEST

START_TEST(plan_requested_and_remainder)
{
    h5mr__plan p;
    ck_assert_int_eq(h5mr__plan_make(10, 3, 8, 0, 3, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.items, 4);
    uint64_t first, n, total = 0;
    for (uint64_t i = 0; i < p.items; i++) {
        h5mr__plan_item(&p, i, &first, &n);
        ck_assert_uint_eq(first, total);
        total += n;
    }
    ck_assert_uint_eq(total, 10);
    h5mr__plan_item(&p, 3, &first, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(h5mr__plan_item_bytes(&p, 3), 24);
}
END_TEST

START_TEST(sel_resolves_as_numpy)
{
    h5mr__sel s;
    h5mr__view v;
    uint64_t shape[3] = {100, 7, 9}, out[3];
    ck_assert_int_eq(h5mr__sel_parse("[-24:, 5]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "[-24:, 5]"), H5MR_OK);
    ck_assert_uint_eq(v.start[0], 76);
    ck_assert_uint_eq(v.count[0], 24);
    ck_assert_uint_eq(v.start[1], 5);
    ck_assert_int_eq(v.keep[1], 0);
    ck_assert_int_eq(v.split, 0);
    ck_assert_int_eq(h5mr__view_shape(&v, out), 2);
    ck_assert_uint_eq(out[1], 9);
    /* stop past the end is clipped, a step rounds up the count: len(range(3, 100, 7)) */
    ck_assert_int_eq(h5mr__sel_parse("[3:1000:7, ::4]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_OK);
    ck_assert_uint_eq(v.count[0], 14);
    ck_assert_uint_eq(v.count[1], 2);
    ck_assert_uint_eq(v.count[2], 9);
    /* an integer first: items cut the next kept dimension */
    ck_assert_int_eq(h5mr__sel_parse("[-1, 2:5]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_OK);
    ck_assert_int_eq(v.split, 1);
    ck_assert_uint_eq(v.start[0], 99);
    /* empty slices are fine, bad ones are usage errors */
    ck_assert_int_eq(h5mr__sel_parse("[50:10]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_OK);
    ck_assert_uint_eq(v.count[0], 0);
    const char *bad[] = {"[", "[]", "[1:2", "[a]", "[::0]", "[1,,2]", "[1:2:3:4]", "[1]x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(h5mr__sel_parse(bad[i], &s, NULL), H5MR_EUSAGE);
    ck_assert_int_eq(h5mr__sel_parse("[100]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_EUSAGE);
    ck_assert_int_eq(h5mr__sel_parse("[1, 2, 3]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_EUSAGE);
    ck_assert_int_eq(h5mr__sel_parse("[1, 2, 3, 4]", &s, NULL), H5MR_OK);
    ck_assert_int_eq(h5mr__sel_resolve(&s, 3, shape, &v, NULL, "x"), H5MR_EUSAGE);
    char *name, *text;
    ck_assert_int_eq(h5mr__sel_split("/g/tas[0:744]", &name, &text), H5MR_OK);
    ck_assert_str_eq(name, "/g/tas");
    ck_assert_str_eq(text, "[0:744]");
    free(name), free(text);
    ck_assert_int_eq(h5mr__sel_split("/tas", &name, &text), H5MR_OK);
    ck_assert_ptr_null(text);
    free(name);
}
END_TEST

START_TEST(plan_parts_never_span_files)
{
    /* three files of 10, 0 and 5 rows, 4 rows per item: items 3 + 0 + 2 */
    h5mr__part parts[2] = {{.file = 0, .item0 = 0, .row0 = 0, .rows = 10},
                           {.file = 2, .item0 = 3, .row0 = 10, .rows = 5}};
    h5mr__plan p;
    ck_assert_int_eq(h5mr__plan_make(15, 1, 8, 0, 4, &p, NULL), H5MR_OK);
    p.parts = parts;
    p.nparts = 2;
    p.items = 5;
    uint64_t first, n, want_first[] = {0, 4, 8, 10, 14}, want_n[] = {4, 4, 2, 4, 1};
    for (uint64_t i = 0; i < 5; i++) {
        h5mr__plan_item(&p, i, &first, &n);
        ck_assert_uint_eq(first, want_first[i]);
        ck_assert_uint_eq(n, want_n[i]);
        ck_assert_uint_eq(h5mr__plan_part(&p, i)->file, i < 3 ? 0 : 2);
    }
}
END_TEST

START_TEST(cf_masks_and_unpacks)
{
    h5mr__cf cf = {
        .nmissing = 1, .missing = {-32767}, .has_scale = 1, .scale = 0.01, .has_offset = 1, .offset = 273.15};
    int16_t x[4] = {0, -32767, 100, -100};
    double out[4];
    h5mr__cf_to_f64(&cf, H5MR_DTYPE_I16, x, out, 4);
    ck_assert(out[0] == 273.15);
    ck_assert(isnan(out[1]));
    ck_assert(out[2] == 100 * 0.01 + 273.15);
    ck_assert(out[3] == -100 * 0.01 + 273.15);
    h5mr__cf range = {.has_min = 1, .vmin = 0, .has_max = 1, .vmax = 10, .nmissing = 3, .missing = {-1, -2, -3}};
    float f[6] = {-0.5f, 0, 10, 10.5f, -2, 5};
    h5mr__cf_mask(&range, H5MR_DTYPE_F32, f, 6);
    ck_assert(isnan(f[0]) && f[1] == 0 && f[2] == 10 && isnan(f[3]) && isnan(f[4]) && f[5] == 5);
    h5mr_dtype k;
    ck_assert_int_eq(h5mr__cf_mode(&range, sizeof range, 1, H5MR_DTYPE_F32, &k), 1);
    ck_assert_int_eq(k, H5MR_DTYPE_F32);
    ck_assert_int_eq(h5mr__cf_mode(&cf, sizeof cf, 1, H5MR_DTYPE_F32, &k), 2);
    ck_assert_int_eq(k, H5MR_DTYPE_F64);
    h5mr__cf none = {0};
    ck_assert_int_eq(h5mr__cf_mode(&none, sizeof none, 1, H5MR_DTYPE_I16, &k), 0);
    ck_assert_int_eq(k, H5MR_DTYPE_I16);
}
END_TEST

START_TEST(plan_empty_and_zero_width)
{
    h5mr__plan p;
    ck_assert_int_eq(h5mr__plan_make(0, 5, 8, 0, 0, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.items, 0);
    ck_assert_uint_ge(p.chunk_rows, 1);
    ck_assert_int_eq(h5mr__plan_make(0, 5, 8, 0, 7, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.items, 0);
    /* rows of zero elements: rows exist, no bytes */
    ck_assert_int_eq(h5mr__plan_make(12, 0, 8, 0, 0, &p, NULL), H5MR_OK);
    ck_assert_uint_eq(p.items, 1);
    ck_assert_uint_eq(p.chunk_rows, 12);
}
END_TEST

START_TEST(plan_refuses_items_over_2gib)
{
    h5mr__plan p;
    h5mr_error err = {0};
    ck_assert_int_eq(h5mr__plan_make(1000, 1 << 20, 8, 0, 300, &p, &err), H5MR_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "--chunk-rows 300"));
    ck_assert_int_eq(h5mr__plan_make(1000, 1 << 28, 8, 0, 0, &p, &err), H5MR_EINPUT);
}
END_TEST

START_TEST(plan_blocks_cover_items_once)
{
    h5mr__plan p;
    for (uint64_t items = 0; items < 40; items++) {
        ck_assert_int_eq(h5mr__plan_make(items, 1, 1, 0, 1, &p, NULL), H5MR_OK);
        for (int nw = 1; nw <= 7; nw++) {
            uint64_t expect = 0;
            for (int w = 0; w < nw; w++) {
                uint64_t lo, hi;
                h5mr__plan_block(0, p.items, w, nw, &lo, &hi);
                ck_assert_uint_eq(lo, expect);
                ck_assert_uint_ge(hi, lo);
                ck_assert_uint_le(hi - lo, items / nw + 1);
                expect = hi;
            }
            ck_assert_uint_eq(expect, items);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- exact sums */

static uint64_t rng_state = 42;
uint64_t rnd(void);
uint64_t rnd(void) { return test_splitmix(&rng_state); }

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

START_TEST(xsum_exact_on_fixed_point_values)
{
    /* x = k·2^-20 with |k| < 2^40: the exact total is (Σk)·2^-20, and Σk fits in 128
     * bits, whose conversion to double rounds correctly: an independent reference. */
    for (int trial = 0; trial < 50; trial++) {
        h5mr_xsum s = {0};
        __int128 k_total = 0;
        int n = 1 + (int)(rnd() % 5000);
        for (int i = 0; i < n; i++) {
            int64_t k = (int64_t)(rnd() % ((uint64_t)1 << 41)) - ((int64_t)1 << 40);
            k_total += k;
            h5mr_xsum_add(&s, ldexp((double)k, -20));
        }
        ck_assert(same_bits(h5mr_xsum_round(&s), ldexp((double)k_total, -20)));
    }
}
END_TEST

START_TEST(xsum_cancellation_and_range)
{
    h5mr_xsum s = {0};
    h5mr_xsum_add(&s, 1e300);
    h5mr_xsum_add(&s, 1.0);
    h5mr_xsum_add(&s, -1e300);
    ck_assert(same_bits(h5mr_xsum_round(&s), 1.0));

    h5mr_xsum t = {0};
    h5mr_xsum_add(&t, 0x1p-1074);
    h5mr_xsum_add(&t, 0x1p-1074);
    h5mr_xsum_add(&t, 0x1p-1073);
    ck_assert(same_bits(h5mr_xsum_round(&t), 0x1p-1072));

    /* 1 + 2^-53 + 2^-53: naive summation gives 1, the exact sum is 1 + 2^-52 */
    h5mr_xsum u = {0};
    h5mr_xsum_add(&u, 1.0);
    h5mr_xsum_add(&u, 0x1p-53);
    h5mr_xsum_add(&u, 0x1p-53);
    ck_assert(same_bits(h5mr_xsum_round(&u), 1.0 + 0x1p-52));

    /* ties round to even: 1 + 2^-53 exactly is halfway between 1 and 1 + 2^-52 */
    h5mr_xsum v = {0};
    h5mr_xsum_add(&v, 1.0);
    h5mr_xsum_add(&v, 0x1p-53);
    ck_assert(same_bits(h5mr_xsum_round(&v), 1.0));
    h5mr_xsum_add(&v, 0x1p-100);
    ck_assert(same_bits(h5mr_xsum_round(&v), 1.0 + 0x1p-52));

    h5mr_xsum w = {0};
    h5mr_xsum_add(&w, -3.5);
    h5mr_xsum_add(&w, 1.25);
    ck_assert(same_bits(h5mr_xsum_round(&w), -2.25));

    h5mr_xsum big = {0};
    h5mr_xsum_add(&big, 1.7e308);
    h5mr_xsum_add(&big, 1.7e308);
    ck_assert(isinf(h5mr_xsum_round(&big)) && h5mr_xsum_round(&big) > 0);
    h5mr_xsum_add(&big, -1.7e308);
    ck_assert(same_bits(h5mr_xsum_round(&big), 1.7e308));

    h5mr_xsum sp = {0};
    h5mr_xsum_add(&sp, INFINITY);
    ck_assert(isinf(h5mr_xsum_round(&sp)));
    h5mr_xsum_add(&sp, -INFINITY);
    ck_assert(isnan(h5mr_xsum_round(&sp)));

    h5mr_xsum z = {0};
    ck_assert(same_bits(h5mr_xsum_round(&z), 0.0));
}
END_TEST

START_TEST(xsum_order_and_grouping_do_not_matter)
{
    enum { N = 3000 };
    double *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++) {
        double m = (double)(rnd() >> 11) * 0x1p-53 - 0.5;
        x[i] = ldexp(m, (int)(rnd() % 200) - 100);
    }
    h5mr_xsum a = {0};
    for (int i = 0; i < N; i++)
        h5mr_xsum_add(&a, x[i]);
    double ref = h5mr_xsum_round(&a);
    for (int trial = 0; trial < 10; trial++) {
        /* shuffle, cut into random groups, merge the groups in reverse */
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(rnd() % (uint64_t)(i + 1));
            double t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
        h5mr_xsum total = {0};
        int i = 0;
        while (i < N) {
            int len = 1 + (int)(rnd() % 400);
            h5mr_xsum g = {0};
            for (int k = 0; k < len && i < N; k++, i++)
                h5mr_xsum_add(&g, x[i]);
            h5mr_xsum_merge(&g, &total);
            total = g;
        }
        ck_assert(same_bits(h5mr_xsum_round(&total), ref));
    }
    double hi, lo;
    h5mr_xsum_round2(&a, &hi, &lo);
    ck_assert(same_bits(hi, ref));
    ck_assert(fabs(lo) <= fabs(hi) * 0x1p-53);
    free(x);
}
END_TEST

/* ---------------------------------------------------------------- kernels */

/* Run kernel `name` as the engine would, without MPI: over data of type t and the given
 * shape, items of `per` rows mapped into `nstates` states round-robin, every state
 * moved through pack/unpack, combined in the given order; passes as the kernel asks. */
h5mr_result *run_kernel_full(const char *name, h5mr_dtype t, const void *data, int ndims, const uint64_t *shape,
                             uint64_t per, int nstates, int reverse, const h5mr__kv *params, size_t nparams);
h5mr_result *run_kernel_full(const char *name, h5mr_dtype t, const void *data, int ndims, const uint64_t *shape,
                             uint64_t per, int nstates, int reverse, const h5mr__kv *params, size_t nparams)
{
    static h5mr_error err;
    h5mr_ctx ctx = {.kernel = h5mr_kernel_find(name),
                    .params = params,
                    .nparams = nparams,
                    .dtype = t,
                    .ndims = ndims,
                    .shape = shape,
                    .err = &err};
    ck_assert_ptr_nonnull(ctx.kernel);
    ck_assert_msg(h5mr__ctx_setup(&ctx) == H5MR_OK, "setup: %s", err.message);
    h5mr__apply_opts o = {per, nstates, reverse};
    h5mr_result *r = NULL;
    ck_assert_msg(h5mr__apply(&ctx, data, &o, &r) == H5MR_OK, "apply: %s", err.message);
    h5mr__ctx_release(&ctx);
    return r;
}

static h5mr_result *run_kernel(const char *name, h5mr_dtype t, const void *data, uint64_t n, uint64_t per, int nstates,
                               int reverse)
{
    uint64_t shape[1] = {n};
    return run_kernel_full(name, t, data, 1, shape, per, nstates, reverse, NULL, 0);
}

static double fval(const h5mr_result *r, const char *name)
{
    const h5mr_field *f = h5mr_result_find(r, name);
    ck_assert_msg(f != NULL, "no field %s", name);
    ck_assert_int_eq(f->ndims, 0);
    return f->type == H5MR_FIELD_I64 ? (double)((const int64_t *)f->data)[0] : ((const double *)f->data)[0];
}

static int64_t ival(const h5mr_result *r, const char *name)
{
    const h5mr_field *f = h5mr_result_find(r, name);
    ck_assert_msg(f != NULL && f->type == H5MR_FIELD_I64, "field %s is not an integer", name);
    return ((const int64_t *)f->data)[0];
}

static void assert_close(double got, long double want, double rel, const char *what)
{
    long double tol = rel * fabsl(want) + 1e-300L;
    ck_assert_msg(fabsl((long double)got - want) <= tol, "%s: got %.17g want %.17Lg", what, got, want);
}

/* Naive references in long double, two passes for the variance. */
typedef struct ref {
    long double sum, mean, var;
    double min, max;
    int64_t count, nan_count;
} ref;

static ref reference(const double *x, uint64_t n)
{
    ref r = {0, 0, 0, INFINITY, -INFINITY, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            r.nan_count++;
            continue;
        }
        r.sum += x[i];
        r.count++;
        if (x[i] < r.min) r.min = x[i];
        if (x[i] > r.max) r.max = x[i];
    }
    if (r.count == 0) return r;
    r.mean = r.sum / r.count;
    for (uint64_t i = 0; i < n; i++)
        if (!isnan(x[i])) r.var += (x[i] - r.mean) * (x[i] - r.mean);
    r.var /= r.count;
    return r;
}

/* Data of type t (values a double holds exactly) and its double image. */
static void *make_data(h5mr_dtype t, uint64_t n, double *img, int with_nan)
{
    void *d = malloc(n * h5mr_dtype_size(t) + 1);
    for (uint64_t i = 0; i < n; i++) {
        double v;
        if (h5mr_dtype_is_float(t)) {
            v = 1000.0 + ((double)(rnd() >> 11) * 0x1p-53 - 0.5) * 7.0;
            if (t == H5MR_DTYPE_F32) v = (float)v;
            if (with_nan && i % 7 == 3) v = NAN;
        } else {
            int64_t lo = h5mr_dtype_is_signed(t) ? -100 : 0;
            v = (double)(lo + (int64_t)(rnd() % 200));
        }
        img[i] = v;
        test_store(t, d, i, v);
    }
    return d;
}

START_TEST(kernels_match_reference_every_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t sizes[] = {0, 1, 7, 1000, 4099};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        uint64_t n = sizes[si];
        double *img = malloc((n + 1) * sizeof *img);
        void *d = make_data(t, n, img, 1);
        ref want = reference(img, n);
        h5mr_result *s = run_kernel("sum", t, d, n, 13, 3, 0);
        h5mr_result *st = run_kernel("stats", t, d, n, 100, 4, 1);
        ck_assert_int_eq(ival(s, "count"), want.count);
        ck_assert_int_eq(ival(st, "count"), want.count);
        ck_assert_int_eq(ival(st, "nan_count"), want.nan_count);
        if (h5mr_dtype_is_float(t)) {
            assert_close(fval(s, "sum"), want.sum, 1e-15, "sum");
            assert_close(fval(st, "sum"), want.sum, 1e-15, "stats sum");
        } else {
            ck_assert_int_eq(ival(s, "sum"), (int64_t)want.sum);
            ck_assert_int_eq(ival(st, "sum"), (int64_t)want.sum);
        }
        if (want.count == 0) {
            ck_assert(isnan(fval(st, "mean")) && isnan(fval(st, "var")) && isnan(fval(st, "min")));
        } else {
            assert_close(fval(st, "mean"), want.mean, 1e-15, "mean");
            assert_close(fval(st, "var"), want.var, 1e-12, "var");
            assert_close(fval(st, "std"), sqrtl(want.var), 1e-12, "std");
            ck_assert(fval(st, "min") == want.min && fval(st, "max") == want.max);
        }
        h5mr__result_free(s);
        h5mr__result_free(st);
        free(d);
        free(img);
    }
}
END_TEST

START_TEST(kernels_same_bits_whatever_the_grouping)
{
    uint64_t n = 20000;
    double *img = malloc(n * sizeof *img);
    double *d = make_data(H5MR_DTYPE_F64, n, img, 0);
    for (uint64_t i = 0; i < n; i++)
        d[i] = ldexp(d[i], (int)(i % 60) - 30); /* wide range */
    h5mr_result *a = run_kernel("stats", H5MR_DTYPE_F64, d, n, 256, 1, 0);
    for (int nstates = 2; nstates <= 8; nstates++) {
        h5mr_result *b = run_kernel("stats", H5MR_DTYPE_F64, d, n, 256, nstates, nstates % 2);
        for (size_t i = 0; i < h5mr_result_count(a); i++) {
            const h5mr_field *fa = h5mr_result_field(a, i);
            ck_assert(same_bits(fval(a, fa->name), fval(b, fa->name)));
        }
        h5mr__result_free(b);
    }
    h5mr__result_free(a);
    free(d);
    free(img);
}
END_TEST

START_TEST(stats_variance_survives_a_large_mean)
{
    /* mean 1e9, spread ±0.5: var·n ≪ mean²·n, where Σx² − (Σx)²/n in double fails */
    uint64_t n = 10001;
    double *x = malloc(n * sizeof *x);
    for (uint64_t i = 0; i < n; i++)
        x[i] = 1e9 + ((double)i / (double)(n - 1) - 0.5);
    ref want = reference(x, n);
    h5mr_result *r = run_kernel("stats", H5MR_DTYPE_F64, x, n, 1000, 3, 0);
    assert_close(fval(r, "var"), want.var, 1e-6, "var with a large mean");
    h5mr__result_free(r);
    free(x);
}
END_TEST

START_TEST(int64_sums_are_exact)
{
    int64_t x[5] = {INT64_MAX / 2, INT64_MAX / 2, -(INT64_MAX / 2), 3, -5};
    h5mr_result *r = run_kernel("sum", H5MR_DTYPE_I64, x, 5, 2, 2, 0);
    ck_assert_int_eq(ival(r, "sum"), INT64_MAX / 2 - 2);
    h5mr__result_free(r);
    uint64_t u[3] = {UINT64_MAX, 1, 0};
    r = run_kernel("stats", H5MR_DTYPE_U64, u, 3, 1, 3, 0);
    /* a sum of 2^64 fits no 64-bit integer: the nearest double; the max is exact */
    ck_assert(fval(r, "sum") == 0x1p64);
    const h5mr_field *mx = h5mr_result_find(r, "max");
    ck_assert(mx != NULL && mx->type == H5MR_FIELD_U64 && ((const uint64_t *)mx->data)[0] == UINT64_MAX);
    h5mr__result_free(r);
}
END_TEST

START_TEST(infinities_and_all_nan)
{
    double x[4] = {1.0, INFINITY, NAN, 2.0};
    h5mr_result *r = run_kernel("stats", H5MR_DTYPE_F64, x, 4, 2, 2, 0);
    ck_assert(isinf(fval(r, "sum")));
    ck_assert_int_eq(ival(r, "count"), 3);
    ck_assert(fval(r, "max") == INFINITY);
    h5mr__result_free(r);
    double y[3] = {NAN, NAN, NAN};
    r = run_kernel("stats", H5MR_DTYPE_F64, y, 3, 1, 2, 0);
    ck_assert_int_eq(ival(r, "count"), 0);
    ck_assert_int_eq(ival(r, "nan_count"), 3);
    ck_assert(fval(r, "sum") == 0.0 && isnan(fval(r, "mean")) && isnan(fval(r, "max")));
    h5mr__result_free(r);
}
END_TEST

START_TEST(unknown_parameter_is_usage)
{
    h5mr_error err = {0};
    h5mr__kv kv = {"bins", "3"};
    uint64_t shape[1] = {1};
    h5mr_ctx ctx = {.kernel = h5mr_kernel_find("sum"),
                    .params = &kv,
                    .nparams = 1,
                    .dtype = H5MR_DTYPE_F64,
                    .ndims = 1,
                    .shape = shape,
                    .err = &err};
    ck_assert_int_eq(h5mr__ctx_setup(&ctx), H5MR_EUSAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "'bins'"));
}
END_TEST

START_TEST(registry_refuses_bad_kernels)
{
    h5mr_error err = {0};
    static const h5mr_kernel dup = {.abi = H5MR_KERNEL_ABI, .name = "sum"};
    static h5mr_kernel other_abi = {.abi = H5MR_KERNEL_ABI + 1, .name = "x_abi"};
    ck_assert_int_eq(h5mr_kernel_register(&dup, &err), H5MR_EUSAGE); /* no map, or a duplicate */
    /* the first error is kept: a second call into the same struct does not overwrite it */
    ck_assert_int_eq(h5mr_kernel_register(&other_abi, &err), H5MR_EINPUT);
    ck_assert_ptr_null(strstr(err.message, "ABI"));
    err = (h5mr_error){0};
    ck_assert_int_eq(h5mr_kernel_register(&other_abi, &err), H5MR_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "ABI"));
    ck_assert_uint_ge(h5mr_kernel_count(), 2);
    ck_assert_str_eq(h5mr_kernel_at(0)->name, "sum");
}
END_TEST

/* ---------------------------------------------------------------- JSON numbers */

START_TEST(json_doubles_round_trip)
{
    for (int i = 0; i < 2000; i++) {
        uint64_t bits = rnd();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        h5mr_json_write_double(f, v);
        fclose(f);
        ck_assert(same_bits(strtod(buf, NULL), v));
        free(buf);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    h5mr_json_write_double(f, NAN);
    fputc(' ', f);
    h5mr_json_write_double(f, 3.0);
    fputc(' ', f);
    h5mr_json_write_double(f, 0.1);
    fclose(f);
    ck_assert_str_eq(buf, "null 3.0 0.1");
    free(buf);
}
END_TEST

Suite *kernel_suite(void);

static Suite *suite(void)
{
    Suite *s = suite_create("h5mr");
    TCase *tp = tcase_create("plan");
    tcase_add_test(tp, plan_aligned_default);
    tcase_add_test(tp, plan_small_dataset_is_one_item);
    tcase_add_test(tp, plan_huge_chunks_stay_aligned);
    tcase_add_test(tp, plan_requested_and_remainder);
    tcase_add_test(tp, plan_empty_and_zero_width);
    tcase_add_test(tp, plan_refuses_items_over_2gib);
    tcase_add_test(tp, plan_blocks_cover_items_once);
    tcase_add_test(tp, plan_parts_never_span_files);
    tcase_add_test(tp, sel_resolves_as_numpy);
    tcase_add_test(tp, cf_masks_and_unpacks);
    suite_add_tcase(s, tp);
    TCase *tx = tcase_create("xsum");
    tcase_add_test(tx, xsum_exact_on_fixed_point_values);
    tcase_add_test(tx, xsum_cancellation_and_range);
    tcase_add_test(tx, xsum_order_and_grouping_do_not_matter);
    suite_add_tcase(s, tx);
    TCase *tk = tcase_create("kernels");
    tcase_add_loop_test(tk, kernels_match_reference_every_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_test(tk, kernels_same_bits_whatever_the_grouping);
    tcase_add_test(tk, stats_variance_survives_a_large_mean);
    tcase_add_test(tk, int64_sums_are_exact);
    tcase_add_test(tk, infinities_and_all_nan);
    tcase_add_test(tk, unknown_parameter_is_usage);
    tcase_add_test(tk, registry_refuses_bad_kernels);
    suite_add_tcase(s, tk);
    TCase *tj = tcase_create("json");
    tcase_add_test(tj, json_doubles_round_trip);
    suite_add_tcase(s, tj);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_add_suite(sr, kernel_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
