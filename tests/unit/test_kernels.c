/* Unit tests of the kernels of SPEC's table against naive references written here:
 * minmax, histogram, count, topk, valuecounts, -p axis=0, h5mr_rsum.  No MPI. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "../common.h"

uint64_t rnd(void);
h5mr_result *run_kernel_full(const char *name, h5mr_dtype t, const void *data, int ndims, const uint64_t *shape,
                             uint64_t per, int nstates, int reverse, const h5mr__kv *params, size_t nparams);
Suite *kernel_suite(void);

/* n values of type t drawn from a small range (so there are ties), NaN every 9th for
 * floats; the values as long doubles in img (NaN kept). */
static void *make(h5mr_dtype t, uint64_t n, long double *img)
{
    void *d = malloc(n * h5mr_dtype_size(t) + 8);
    for (uint64_t i = 0; i < n; i++) {
        long double v = (long double)(int)(rnd() % 61) - (h5mr_dtype_is_signed(t) ? 30 : 0);
        if (h5mr_dtype_is_float(t)) {
            v = v / 4;
            if (i % 9 == 4) v = NAN;
        }
        img[i] = v;
        test_store(t, d, i, v);
    }
    return d;
}

static const h5mr_field *field(const h5mr_result *r, const char *name)
{
    const h5mr_field *f = h5mr_result_find(r, name);
    ck_assert_msg(f != NULL, "no field %s", name);
    return f;
}

/* Element i of a field as a long double; NaN when null. */
static long double at(const h5mr_field *f, uint64_t i)
{
    if (f->valid && !f->valid[i]) return NAN;
    return f->type == H5MR_FIELD_I64 ? (long double)((const int64_t *)f->data)[i] : ((const double *)f->data)[i];
}

static void expect_eq(const h5mr_field *f, uint64_t i, long double want, long double rel)
{
    long double got = at(f, i);
    if (isnan(want)) {
        ck_assert_msg(isnan(got), "%s[%llu] = %Lg, want null", f->name, (unsigned long long)i, got);
        return;
    }
    ck_assert_msg(fabsl(got - want) <= rel * fabsl(want), "%s[%llu] = %.17Lg, want %.17Lg", f->name,
                  (unsigned long long)i, got, want);
}

/* ---------------------------------------------------------------- minmax */

START_TEST(minmax_every_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t n = 1001, shape[1] = {n};
    long double *img = malloc(n * sizeof *img);
    void *d = make(t, n, img);
    long double mn = INFINITY, mx = -INFINITY;
    uint64_t amn = 0, amx = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(img[i])) continue;
        if (img[i] < mn) mn = img[i], amn = i;
        if (img[i] > mx) mx = img[i], amx = i;
    }
    h5mr_result *r = run_kernel_full("minmax", t, d, 1, shape, 7, 3, 1, NULL, 0);
    expect_eq(field(r, "min"), 0, mn, 0);
    expect_eq(field(r, "max"), 0, mx, 0);
    expect_eq(field(r, "argmin"), 0, amn, 0);
    expect_eq(field(r, "argmax"), 0, amx, 0);
    ck_assert_int_eq(field(r, "argmin")->type, H5MR_FIELD_I64);
    h5mr__result_free(r);
    free(d);
    free(img);
}
END_TEST

START_TEST(minmax_axis0_3d)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t shape[3] = {9, 5, 3}, P = 15, n = 9 * P;
    long double *img = malloc(n * sizeof *img);
    void *d = make(t, n, img);
    h5mr__kv axis = {"axis", "0"};
    h5mr_result *r = run_kernel_full("minmax", t, d, 3, shape, 2, 3, 0, &axis, 1);
    ck_assert_int_eq(field(r, "min")->ndims, 2);
    ck_assert_uint_eq(field(r, "min")->shape[0], 5);
    ck_assert_uint_eq(field(r, "min")->shape[1], 3);
    for (uint64_t p = 0; p < P; p++) {
        long double mn = NAN, mx = NAN;
        long double amn = NAN, amx = NAN;
        for (uint64_t row = 0; row < 9; row++) {
            long double v = img[row * P + p];
            if (isnan(v)) continue;
            if (isnan(mn) || v < mn) mn = v, amn = row;
            if (isnan(mx) || v > mx) mx = v, amx = row;
        }
        expect_eq(field(r, "min"), p, mn, 0);
        expect_eq(field(r, "max"), p, mx, 0);
        expect_eq(field(r, "argmin"), p, amn, 0);
        expect_eq(field(r, "argmax"), p, amx, 0);
    }
    h5mr__result_free(r);
    free(d);
    free(img);
}
END_TEST

/* ---------------------------------------------------------------- sum and stats, axis=0 */

START_TEST(sum_stats_axis0_odd_shapes)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t shapes[2][3] = {{13, 7, 1}, {11, 3, 5}};
    int nds[2] = {2, 3};
    for (int k = 0; k < 2; k++) {
        uint64_t *shape = shapes[k], P = nds[k] == 2 ? shape[1] : shape[1] * shape[2], n = shape[0] * P;
        long double *img = malloc(n * sizeof *img);
        void *d = make(t, n, img);
        h5mr__kv axis = {"axis", "0"};
        h5mr_result *s = run_kernel_full("sum", t, d, nds[k], shape, 4, 2, 1, &axis, 1);
        h5mr_result *st = run_kernel_full("stats", t, d, nds[k], shape, 3, 4, 0, &axis, 1);
        ck_assert_int_eq(field(st, "mean")->ndims, nds[k] - 1);
        for (uint64_t p = 0; p < P; p++) {
            long double sum = 0, mn = NAN, mx = NAN, var = 0;
            int64_t cnt = 0;
            for (uint64_t row = 0; row < shape[0]; row++) {
                long double v = img[row * P + p];
                if (isnan(v)) continue;
                sum += v, cnt++;
                if (isnan(mn) || v < mn) mn = v;
                if (isnan(mx) || v > mx) mx = v;
            }
            long double mean = cnt ? sum / cnt : NAN;
            for (uint64_t row = 0; row < shape[0]; row++)
                if (!isnan(img[row * P + p])) var += (img[row * P + p] - mean) * (img[row * P + p] - mean);
            var = cnt ? var / cnt : NAN;
            expect_eq(field(s, "sum"), p, sum, 1e-15);
            expect_eq(field(s, "count"), p, cnt, 0);
            expect_eq(field(st, "count"), p, cnt, 0);
            expect_eq(field(st, "nan_count"), p, (long double)(shape[0] - cnt), 0);
            expect_eq(field(st, "sum"), p, sum, 1e-15);
            expect_eq(field(st, "mean"), p, mean, 1e-15);
            expect_eq(field(st, "var"), p, var, 1e-12);
            expect_eq(field(st, "min"), p, mn, 0);
            expect_eq(field(st, "max"), p, mx, 0);
        }
        ck_assert_int_eq(field(s, "sum")->type, h5mr_dtype_is_float(t) ? H5MR_FIELD_F64 : H5MR_FIELD_I64);
        h5mr__result_free(s);
        h5mr__result_free(st);
        free(d);
        free(img);
    }
}
END_TEST

START_TEST(axis0_all_nan_pixel_is_null)
{
    double x[6] = {NAN, 1.0, NAN, 3.0, NAN, 5.0}; /* shape 3x2: pixel 0 has no value */
    uint64_t shape[2] = {3, 2};
    h5mr__kv axis = {"axis", "0"};
    h5mr_result *r = run_kernel_full("stats", H5MR_DTYPE_F64, x, 2, shape, 1, 2, 0, &axis, 1);
    expect_eq(field(r, "count"), 0, 0, 0);
    expect_eq(field(r, "sum"), 0, 0, 0);
    expect_eq(field(r, "mean"), 0, NAN, 0);
    expect_eq(field(r, "min"), 0, NAN, 0);
    expect_eq(field(r, "mean"), 1, 3, 0);
    h5mr__result_free(r);
    r = run_kernel_full("minmax", H5MR_DTYPE_F64, x, 2, shape, 1, 2, 0, &axis, 1);
    expect_eq(field(r, "argmin"), 0, NAN, 0);
    expect_eq(field(r, "argmax"), 1, 2, 0);
    h5mr__result_free(r);
}
END_TEST

/* ---------------------------------------------------------------- count */

START_TEST(count_every_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t n = 777, shape[1] = {n};
    long double *img = malloc(n * sizeof *img);
    void *d = make(t, n, img);
    h5mr__kv p[2] = {{"gt", "-5.5"}, {"le", "20"}};
    h5mr_result *r = run_kernel_full("count", t, d, 1, shape, 10, 3, 0, p, 2);
    int64_t want = 0, total = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(img[i])) continue;
        total++;
        want += img[i] > -5.5 && img[i] <= 20;
    }
    expect_eq(field(r, "count"), 0, want, 0);
    expect_eq(field(r, "total"), 0, total, 0);
    h5mr__result_free(r);
    h5mr__kv ne = {"ne", "0"};
    r = run_kernel_full("count", t, d, 1, shape, 10, 2, 1, &ne, 1);
    want = 0;
    for (uint64_t i = 0; i < n; i++)
        want += !isnan(img[i]) && img[i] != 0;
    expect_eq(field(r, "count"), 0, want, 0);
    h5mr__result_free(r);
    /* Every comparison alone and in pairs, at values in the data, between them and
     * infinite: the kernel folds them into one interval, the reference tests each. */
    static const char *const ops[] = {"gt", "ge", "lt", "le", "eq", "ne"};
    static const char *const vals[] = {"-5", "0", "7.25", "15", "-inf", "inf"};
    for (int a = 0; a < 6; a++)
        for (int b = a; b < 6; b++)
            for (int va = 0; va < 6; va++) {
                int vb = (va * 7 + a + 3 * b) % 6;
                h5mr__kv q[2] = {{(char *)ops[a], (char *)vals[va]}, {(char *)ops[b], (char *)vals[vb]}};
                size_t nq = a == b ? 1 : 2;
                r = run_kernel_full("count", t, d, 1, shape, 100, 2, 0, q, nq);
                want = 0;
                for (uint64_t i = 0; i < n; i++) {
                    if (isnan(img[i])) continue;
                    double v = (double)img[i];
                    int ok = 1;
                    for (size_t k = 0; k < nq; k++) {
                        double c = strtod(q[k].value, NULL);
                        const char *o = q[k].key;
                        ok &= !strcmp(o, "gt")   ? v > c
                              : !strcmp(o, "ge") ? v >= c
                              : !strcmp(o, "lt") ? v < c
                              : !strcmp(o, "le") ? v <= c
                              : !strcmp(o, "eq") ? v == c
                                                 : v != c;
                    }
                    want += ok;
                }
                expect_eq(field(r, "count"), 0, want, 0);
                h5mr__result_free(r);
            }
    free(d);
    free(img);
}
END_TEST

/* ---------------------------------------------------------------- topk */

static int largest_first(const void *a, const void *b)
{
    const long double *x = a, *y = b; /* (value, index) pairs */
    if (x[0] != y[0]) return x[0] > y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : 1;
}

static int smallest_first(const void *a, const void *b)
{
    const long double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : 1;
}

START_TEST(topk_every_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t n = 500, shape[1] = {n};
    long double *img = malloc(n * sizeof *img), (*pairs)[2] = malloc(n * sizeof *pairs);
    void *d = make(t, n, img);
    uint64_t valid = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!isnan(img[i])) pairs[valid][0] = img[i], pairs[valid][1] = i, valid++;
    for (int largest = 0; largest < 2; largest++) {
        qsort(pairs, valid, sizeof *pairs, largest ? largest_first : smallest_first);
        const char *ks[] = {"0", "1", "17", "100000"};
        for (int ki = 0; ki < 4; ki++) {
            h5mr__kv p[2] = {{"k", (char *)ks[ki]}, {"largest", largest ? "true" : "false"}};
            h5mr_result *r = run_kernel_full("topk", t, d, 1, shape, 33, 4, ki % 2, p, 2);
            uint64_t k = (uint64_t)atoll(ks[ki]), want = k < valid ? k : valid;
            ck_assert_uint_eq(field(r, "values")->nelems, want);
            ck_assert_uint_eq(field(r, "indices")->nelems, want);
            for (uint64_t i = 0; i < want; i++) {
                expect_eq(field(r, "values"), i, pairs[i][0], 0);
                expect_eq(field(r, "indices"), i, pairs[i][1], 0);
            }
            h5mr__result_free(r);
        }
    }
    free(d);
    free(img);
    free(pairs);
}
END_TEST

/* ---------------------------------------------------------------- valuecounts */

static int by_ld(const void *a, const void *b)
{
    long double x = *(const long double *)a, y = *(const long double *)b;
    return (x > y) - (x < y);
}

START_TEST(valuecounts_every_int_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    if (h5mr_dtype_is_float(t)) return;
    uint64_t n = 999, shape[1] = {n};
    long double *img = malloc(n * sizeof *img);
    void *d = make(t, n, img);
    h5mr_result *r = run_kernel_full("valuecounts", t, d, 1, shape, 50, 3, 1, NULL, 0);
    qsort(img, n, sizeof *img, by_ld);
    uint64_t k = 0;
    for (uint64_t i = 0; i < n; k++) {
        uint64_t j = i;
        while (j < n && img[j] == img[i])
            j++;
        expect_eq(field(r, "values"), k, img[i], 0);
        expect_eq(field(r, "counts"), k, (long double)(j - i), 0);
        i = j;
    }
    ck_assert_uint_eq(field(r, "values")->nelems, k);
    h5mr__result_free(r);
    free(d);
    free(img);
}
END_TEST

START_TEST(valuecounts_a_million_distinct)
{
    uint64_t n = 1500000, shape[1] = {n};
    int64_t *x = malloc(n * sizeof *x);
    /* 1,200,000 distinct values; the last 300,000 repeat the first ones */
    for (uint64_t i = 0; i < n; i++)
        x[i] = (int64_t)((i % 1200000) * 2654435761u % 1000000007u) - 500000000;
    h5mr_result *r = run_kernel_full("valuecounts", H5MR_DTYPE_I64, x, 1, shape, 100000, 5, 0, NULL, 0);
    const h5mr_field *v = field(r, "values"), *c = field(r, "counts");
    ck_assert_uint_eq(v->nelems, 1200000);
    int64_t total = 0;
    for (uint64_t i = 0; i < v->nelems; i++) {
        total += ((const int64_t *)c->data)[i];
        if (i) ck_assert(((const int64_t *)v->data)[i - 1] < ((const int64_t *)v->data)[i]);
    }
    ck_assert_int_eq(total, (int64_t)n);
    h5mr__result_free(r);
    free(x);
}
END_TEST

/* ---------------------------------------------------------------- histogram */

/* Naive: linear scan for the bin, numpy's rule (last bin closed). */
static void naive_hist(const long double *img, uint64_t n, const double *e, int64_t bins, int64_t *counts)
{
    memset(counts, 0, (size_t)bins * sizeof *counts);
    for (uint64_t i = 0; i < n; i++) {
        double v = (double)img[i];
        if (isnan(v) || v < e[0] || v > e[bins]) continue;
        for (int64_t b = 0; b < bins; b++)
            if (v >= e[b] && (v < e[b + 1] || (b == bins - 1 && v <= e[bins]))) {
                counts[b]++;
                break;
            }
    }
}

static void check_hist(h5mr_dtype t, const void *d, const long double *img, uint64_t n, const h5mr__kv *p, size_t np,
                       double want_first, double want_last, int64_t bins)
{
    uint64_t shape[1] = {n};
    h5mr_result *r = run_kernel_full("histogram", t, d, 1, shape, 13, 3, 1, p, np);
    const h5mr_field *e = field(r, "edges"), *c = field(r, "counts");
    ck_assert_uint_eq(c->nelems, (uint64_t)bins);
    ck_assert_uint_eq(e->nelems, (uint64_t)bins + 1);
    const double *edges = e->data;
    ck_assert_msg(edges[0] == want_first && edges[bins] == want_last, "edges %g..%g, want %g..%g", edges[0],
                  edges[bins], want_first, want_last);
    for (int64_t b = 0; b < bins; b++)
        ck_assert(edges[b] == (double)b * ((want_last - want_first) / (double)bins) + want_first || b == bins);
    int64_t *want = malloc((size_t)bins * sizeof *want);
    naive_hist(img, n, edges, bins, want);
    for (int64_t b = 0; b < bins; b++)
        expect_eq(c, (uint64_t)b, want[b], 0);
    free(want);
    h5mr__result_free(r);
}

START_TEST(histogram_every_type)
{
    h5mr_dtype t = (h5mr_dtype)_i;
    uint64_t n = 1234;
    long double *img = malloc(n * sizeof *img);
    void *d = make(t, n, img);
    long double mn = INFINITY, mx = -INFINITY;
    for (uint64_t i = 0; i < n; i++)
        if (!isnan(img[i])) mn = img[i] < mn ? img[i] : mn, mx = img[i] > mx ? img[i] : mx;
    h5mr__kv seven = {"bins", "7"};
    check_hist(t, d, img, n, &seven, 1, (double)mn, (double)mx, 7); /* range from the data: two passes */
    check_hist(t, d, img, n, NULL, 0, (double)mn, (double)mx, 10);
    h5mr__kv range[3] = {{"bins", "4"}, {"min", "2"}, {"max", "10"}}; /* values outside, values on edges */
    check_hist(t, d, img, n, range, 3, 2, 10, 4);
    h5mr__kv only_min[2] = {{"bins", "3"}, {"min", "5"}};
    check_hist(t, d, img, n, only_min, 2, 5, (double)mx, 3);
    free(d);
    free(img);
}
END_TEST

START_TEST(histogram_edges_and_constant_data)
{
    /* values exactly on every edge of 0..4 in 4 bins: the last edge goes in the last bin */
    double x[7] = {0, 1, 2, 3, 4, 4, -0.5};
    long double img[7];
    for (int i = 0; i < 7; i++)
        img[i] = x[i];
    h5mr__kv p[3] = {{"bins", "4"}, {"min", "0"}, {"max", "4"}};
    uint64_t shape[1] = {7};
    h5mr_result *r = run_kernel_full("histogram", H5MR_DTYPE_F64, x, 1, shape, 2, 2, 0, p, 3);
    const int64_t *c = field(r, "counts")->data;
    ck_assert(c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 3);
    h5mr__result_free(r);
    /* constant data: numpy widens to min - 0.5 .. max + 0.5 */
    double k[5] = {3, 3, 3, 3, 3};
    for (int i = 0; i < 5; i++)
        img[i] = k[i];
    h5mr__kv two = {"bins", "2"};
    check_hist(H5MR_DTYPE_F64, k, img, 5, &two, 1, 2.5, 3.5, 2);
    (void)img;
}
END_TEST

/* ---------------------------------------------------------------- parameters */

static h5mr_status setup_with(const char *kernel, h5mr_dtype t, const char *key, const char *value)
{
    static h5mr_error err;
    uint64_t shape[2] = {4, 3};
    h5mr__kv kv = {(char *)key, (char *)value};
    h5mr_ctx ctx = {.kernel = h5mr_kernel_find(kernel),
                    .params = &kv,
                    .nparams = 1,
                    .dtype = t,
                    .ndims = 2,
                    .shape = shape,
                    .err = &err};
    h5mr_status st = h5mr__ctx_setup(&ctx);
    h5mr__ctx_release(&ctx);
    return st;
}

START_TEST(bad_parameters_are_usage_errors)
{
    ck_assert_int_eq(setup_with("histogram", H5MR_DTYPE_F64, "bins", "0"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("histogram", H5MR_DTYPE_F64, "bins", "abc"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("topk", H5MR_DTYPE_F64, "k", "-1"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("topk", H5MR_DTYPE_F64, "largest", "maybe"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("count", H5MR_DTYPE_F64, "gt", "abc"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("stats", H5MR_DTYPE_F64, "axis", "1"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("sum", H5MR_DTYPE_F64, "axis", "2"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("valuecounts", H5MR_DTYPE_F32, "x", "1"), H5MR_EUSAGE);
    ck_assert_int_eq(setup_with("sum", H5MR_DTYPE_F64, "axis", "0"), H5MR_OK);
    ck_assert_int_eq(setup_with("minmax", H5MR_DTYPE_I8, "axis", "none"), H5MR_OK);
    static h5mr_error err;
    uint64_t shape[1] = {4};
    h5mr__kv kv[2] = {{"min", "3"}, {"max", "2"}};
    h5mr_ctx ctx = {.kernel = h5mr_kernel_find("histogram"),
                    .params = kv,
                    .nparams = 2,
                    .dtype = H5MR_DTYPE_F64,
                    .ndims = 1,
                    .shape = shape,
                    .err = &err};
    ck_assert_int_eq(h5mr__ctx_setup(&ctx), H5MR_EUSAGE);
    h5mr__ctx_release(&ctx);
}
END_TEST

/* ---------------------------------------------------------------- rsum */

START_TEST(rsum_order_free_and_accurate)
{
    enum { N = 5000 };
    double *x = malloc(N * sizeof *x);
    for (int i = 0; i < N; i++)
        x[i] = ldexp((double)(rnd() >> 11) * 0x1p-53, (int)(rnd() % 40) - 20);
    h5mr_rsum a;
    h5mr_xsum exact;
    memset(&a, 0, sizeof a);
    memset(&exact, 0, sizeof exact);
    for (int i = 0; i < N; i++)
        h5mr_rsum_add(&a, x[i]), h5mr_xsum_add(&exact, x[i]);
    double ref = h5mr_rsum_round(&a), want = h5mr_xsum_round(&exact);
    ck_assert(fabs(ref - want) <= 0x1p-52 * want); /* within an ulp of the exactly rounded sum */
    for (int trial = 0; trial < 10; trial++) {
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(rnd() % (uint64_t)(i + 1));
            double t = x[i];
            x[i] = x[j], x[j] = t;
        }
        h5mr_rsum total;
        memset(&total, 0, sizeof total);
        int i = 0;
        while (i < N) {
            h5mr_rsum g;
            memset(&g, 0, sizeof g);
            for (int k = 1 + (int)(rnd() % 300); k > 0 && i < N; k--, i++)
                h5mr_rsum_add(&g, x[i]);
            h5mr_rsum_merge(&g, &total);
            total = g;
        }
        double got = h5mr_rsum_round(&total);
        ck_assert(memcmp(&got, &ref, sizeof got) == 0);
    }
    h5mr_rsum c;
    memset(&c, 0, sizeof c);
    h5mr_rsum_add(&c, 1e300), h5mr_rsum_add(&c, -1e300), h5mr_rsum_add(&c, 2.5);
    ck_assert(h5mr_rsum_round(&c) == 2.5 || h5mr_rsum_round(&c) == 0.0); /* 2.5 is 2^-997 of 1e300: may drop */
    memset(&c, 0, sizeof c);
    h5mr_rsum_add(&c, -1.5), h5mr_rsum_add(&c, 0.25);
    ck_assert(h5mr_rsum_round(&c) == -1.25);
    h5mr_rsum_add(&c, INFINITY);
    ck_assert(isinf(h5mr_rsum_round(&c)));
    free(x);
}
END_TEST

Suite *kernel_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, minmax_every_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_loop_test(tc, minmax_axis0_3d, 0, H5MR_DTYPE_COUNT);
    tcase_add_loop_test(tc, sum_stats_axis0_odd_shapes, 0, H5MR_DTYPE_COUNT);
    tcase_add_test(tc, axis0_all_nan_pixel_is_null);
    tcase_add_loop_test(tc, count_every_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_loop_test(tc, topk_every_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_loop_test(tc, valuecounts_every_int_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_test(tc, valuecounts_a_million_distinct);
    tcase_add_loop_test(tc, histogram_every_type, 0, H5MR_DTYPE_COUNT);
    tcase_add_test(tc, histogram_edges_and_constant_data);
    tcase_add_test(tc, bad_parameters_are_usage_errors);
    tcase_add_test(tc, rsum_order_free_and_accurate);
    suite_add_tcase(s, tc);
    return s;
}
