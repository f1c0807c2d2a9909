/* The chaos allocator, as Jansson's test suite has it: the library's serial parts
 * (every built-in kernel on every type, its parameters, state, map, combine,
 * pack/unpack, finish and JSON; the planner; results) run again and again, the Nth
 * allocation of the library failing in run N, until a run sees no failure.  Each run
 * must end in success or in H5MR_ENOMEM (never a crash, never another status), and
 * must free everything it allocated.
 *
 * Linked with -Wl,--wrap=malloc,... so only the library's own calls are counted and
 * failed (HDF5's and libc's are not).  No MPI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);

static long fail_at = -1; /* the allocation number that fails, -1: none */
static long count;        /* allocations made in this run */
static long live;         /* allocations not yet freed */

static int should_fail(void) { return fail_at >= 0 && ++count == fail_at; }

void *__wrap_malloc(size_t n)
{
    if (should_fail()) return NULL;
    void *p = __real_malloc(n);
    if (p) live++;
    return p;
}
void *__wrap_calloc(size_t n, size_t m)
{
    if (should_fail()) return NULL;
    void *p = __real_calloc(n, m);
    if (p) live++;
    return p;
}
void *__wrap_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    void *q = __real_realloc(p, n);
    if (q && !p) live++;
    return q;
}
void __wrap_free(void *p)
{
    if (p) live--;
    __real_free(p);
}
char *__wrap_strdup(const char *s)
{
    if (should_fail()) return NULL;
    char *p = __real_strdup(s);
    if (p) live++;
    return p;
}

/* One kernel on one small array of type t, the way a job does it (h5mr__apply: two
 * items into two states, packed and unpacked, combined, finished). */
static h5mr_status run_kernel(const h5mr_kernel *k, h5mr_dtype t, const h5mr__kv *kv, size_t nkv)
{
    uint64_t shape[2] = {6, 3};
    h5mr_error err = {0};
    h5mr_ctx ctx = {.kernel = k, .params = kv, .nparams = nkv, .dtype = t, .ndims = 2, .shape = shape, .err = &err};
    unsigned char data[6 * 3 * 8];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    if (h5mr_dtype_is_float(t)) /* tame floats: small values, one NaN */
        for (int i = 0; i < 18; i++) {
            if (t == H5MR_DTYPE_F32)
                ((float *)data)[i] = i == 5 ? (float)NAN : (float)(i % 7) - 2.5f;
            else
                ((double *)data)[i] = i == 5 ? NAN : (double)(i % 7) - 2.5;
        }
    h5mr_result *r = NULL;
    h5mr_status st = h5mr__ctx_setup(&ctx);
    h5mr__apply_opts o = {3, 2, 0}; /* two items into two states, moved as bytes, combined */
    if (st == H5MR_OK) st = h5mr__apply(&ctx, data, &o, &r);
    if (st == H5MR_OK) {
        FILE *f = fopen("/dev/null", "w");
        if (f) st = h5mr_result_write_json(r, f);
        if (f) fclose(f);
    }
    h5mr__result_free(r);
    h5mr__ctx_release(&ctx);
    return st;
}

static h5mr_status run_plan(void)
{
    h5mr__plan p;
    h5mr_error err = {0};
    return h5mr__plan_make(1000, 7, 8, 64, 0, &p, &err);
}

typedef struct job_case {
    const char *kernel;
    h5mr__kv kv[3];
    size_t nkv;
} job_case;

int main(void)
{
    static char axis[] = "axis", zero[] = "0", bins[] = "bins", four[] = "4", k[] = "k", three[] = "3", gt[] = "gt",
                one[] = "1";
    const job_case cases[] = {
        {"sum", {{0}}, 0},
        {"sum", {{axis, zero}}, 1},
        {"stats", {{0}}, 0},
        {"stats", {{axis, zero}}, 1},
        {"minmax", {{0}}, 0},
        {"minmax", {{axis, zero}}, 1},
        {"histogram", {{bins, four}}, 1},
        {"count", {{gt, one}}, 1},
        {"topk", {{k, three}}, 1},
        {"valuecounts", {{0}}, 0},
    };
    int passed = 0, failed = 0;
    long total_runs = 0;
    h5mr_kernel_find("sum"); /* the registry, before counting */
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const h5mr_kernel *kern = h5mr_kernel_find(cases[ci].kernel);
        for (int t = 0; t < H5MR_DTYPE_COUNT; t++) {
            if (!strcmp(cases[ci].kernel, "valuecounts") && h5mr_dtype_is_float((h5mr_dtype)t)) continue;
            int bad = 0;
            long n;
            for (n = 1; n < 10000; n++) {
                fail_at = n;
                count = 0;
                long before = live;
                h5mr_status st = run_kernel(kern, (h5mr_dtype)t, cases[ci].kv, cases[ci].nkv);
                long allocs = count;
                fail_at = -1;
                if (live != before) {
                    fprintf(stderr, "FAIL: %s on %s, allocation %ld failing: %ld allocations not freed\n",
                            cases[ci].kernel, h5mr_dtype_name((h5mr_dtype)t), n, live - before);
                    bad = 1;
                }
                if (st != H5MR_OK && st != H5MR_ENOMEM) {
                    fprintf(stderr, "FAIL: %s on %s, allocation %ld failing: status %s, want ENOMEM\n",
                            cases[ci].kernel, h5mr_dtype_name((h5mr_dtype)t), n, h5mr_status_name(st));
                    bad = 1;
                }
                if (n == 1 && allocs == 0) {
                    fprintf(stderr, "FAIL: %s made no allocation: the wrappers are not in effect\n", cases[ci].kernel);
                    bad = 1;
                    break;
                }
                if (allocs < n) { /* no allocation failed: the run was whole */
                    if (st != H5MR_OK) {
                        fprintf(stderr, "FAIL: %s on %s without failures: %s\n", cases[ci].kernel,
                                h5mr_dtype_name((h5mr_dtype)t), h5mr_status_name(st));
                        bad = 1;
                    }
                    break;
                }
                if (bad) break;
            }
            if (bad)
                failed++;
            else
                passed++;
            total_runs += n;
        }
    }
    /* The planner and results allocate too. */
    for (long n = 1; n < 100; n++) {
        fail_at = n;
        count = 0;
        long before = live;
        h5mr_status st = run_plan();
        long allocs = count;
        fail_at = -1;
        if (live != before || (st != H5MR_OK && st != H5MR_ENOMEM)) {
            fprintf(stderr, "FAIL: the planner with allocation %ld failing\n", n);
            failed++;
            break;
        }
        if (allocs < n) {
            passed++;
            break;
        }
    }
    printf("%ld runs with one allocation failing\n", total_runs);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
