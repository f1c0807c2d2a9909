/* libFuzzer target: the option parser of `h5mr run`, kernel parameters (every kernel's
 * setup, then a map, combine and finish on fuzzed data), and the item planner with
 * its invariants.  The first byte picks which.  Built and run by tests/fuzz/run.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/cli.h"
#include "../../apps/run_args.h"
#include "internal.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);                                 \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static uint64_t take64(const uint8_t **d, size_t *n)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | (*n ? **d : 0);
        if (*n) (*d)++, (*n)--;
    }
    return v;
}

/* Split the bytes at NULs into at most max strings (copied, NUL-terminated). */
static int split(const uint8_t *d, size_t n, char **out, int max, char *store)
{
    int k = 0;
    memcpy(store, d, n);
    store[n] = '\0';
    char *p = store, *end = store + n;
    while (p <= end && k < max) {
        out[k++] = p;
        p += strlen(p) + 1;
    }
    return k;
}

static void fuzz_plan(const uint8_t *d, size_t n)
{
    uint64_t rows = take64(&d, &n) % ((uint64_t)1 << 40), row = take64(&d, &n) % ((uint64_t)1 << 32);
    uint64_t es = (uint64_t)1 << (take64(&d, &n) % 4), storage = take64(&d, &n) % ((uint64_t)1 << 20);
    uint64_t req = take64(&d, &n) % 3 == 0 ? 0 : take64(&d, &n) % ((uint64_t)1 << 40);
    h5mr__plan p;
    h5mr_error err = {0};
    h5mr_status st = h5mr__plan_make(rows, row, es, storage, req, &p, &err);
    if (st != H5MR_OK) {
        CHECK(st == H5MR_EUSAGE || st == H5MR_EINPUT);
        CHECK(err.message[0] != '\0');
        return;
    }
    CHECK(p.chunk_rows >= 1);
    CHECK(p.items == rows / p.chunk_rows + (rows % p.chunk_rows != 0));
    if (req) CHECK(p.chunk_rows == req);
    if (!req && storage && rows > p.chunk_rows) CHECK(p.chunk_rows % storage == 0);
    if (rows == 0) return;
    CHECK((unsigned __int128)p.chunk_rows * row * es <= h5mr__item_limit() || p.chunk_rows > rows);
    uint64_t first, k;
    h5mr__plan_item(&p, p.items - 1, &first, &k);
    CHECK(k >= 1 && first + k == rows);
    h5mr__plan_item(&p, 0, &first, &k);
    CHECK(first == 0 && k == (rows < p.chunk_rows ? rows : p.chunk_rows));
    for (int w = 1; w <= 7; w += 3) {
        uint64_t expect = 0, lo, hi;
        for (int i = 0; i < w; i++) {
            h5mr__plan_block(0, p.items, i, w, &lo, &hi);
            CHECK(lo == expect && hi >= lo);
            expect = hi;
        }
        CHECK(expect == p.items);
    }
}

static void fuzz_args(const uint8_t *d, size_t n)
{
    char *store = malloc(n + 1), *argv[34];
    argv[0] = "run";
    int argc = 1 + split(d, n, argv + 1, 32, store);
    char **params = calloc((size_t)argc + 1, sizeof *params);
    run_opts o = {.kernel = "stats", .params = params};
    char msg[512] = "";
    int code = run_args_parse(argc, argv, &o, msg, sizeof msg);
    if (code == 0) {
        CHECK(msg[0] == '\0');
        for (int i = 0; i < o.nparams; i++)
            CHECK(strchr(o.params[i], '=') && o.params[i][0] != '=');
        CHECK(o.schedule == H5MR_SCHEDULE_STATIC || o.schedule == H5MR_SCHEDULE_DYNAMIC);
    } else if (code > 0) {
        CHECK(code == EXIT_USAGE && strncmp(msg, "run: ", 5) == 0);
    }
    free(params);
    free(store);
}

static void fuzz_kernel(const uint8_t *d, size_t n)
{
    if (n < 4) return;
    const h5mr_kernel *k = h5mr_kernel_at(d[0] % h5mr_kernel_count());
    h5mr_dtype t = (h5mr_dtype)(d[1] % H5MR_DTYPE_COUNT);
    int ndims = 1 + d[2] % 3;
    uint64_t shape[3] = {1 + d[3] % 9, 1 + (d[3] >> 4) % 4, 2};
    d += 4, n -= 4;
    /* key=value pairs up to a 0xff byte, data after it */
    size_t cut = 0;
    while (cut < n && d[cut] != 0xff)
        cut++;
    char *store = malloc(cut + 1), *pairs[8];
    int np = cut ? split(d, cut, pairs, 8, store) : 0;
    h5mr__kv kv[8];
    int nkv = 0;
    for (int i = 0; i < np; i++) {
        char *eq = strchr(pairs[i], '=');
        if (!eq || eq == pairs[i]) continue;
        *eq = '\0';
        kv[nkv].key = pairs[i], kv[nkv].value = eq + 1, nkv++;
    }
    h5mr_error err = {0};
    h5mr_ctx ctx = {
        .kernel = k, .params = kv, .nparams = (size_t)nkv, .dtype = t, .ndims = ndims, .shape = shape, .err = &err};
    h5mr_status st = h5mr__ctx_setup(&ctx);
    if (st != H5MR_OK) {
        CHECK(st == H5MR_EUSAGE || st == H5MR_EINPUT || st == H5MR_ENOMEM);
        CHECK(err.message[0] != '\0' || st == H5MR_ENOMEM);
        h5mr__ctx_release(&ctx);
        free(store);
        return;
    }
    uint64_t row = ndims > 1 ? shape[1] * (ndims > 2 ? shape[2] : 1) : 1, elems = shape[0] * row;
    size_t bytes = elems * h5mr_dtype_size(t);
    unsigned char *data = calloc(1, bytes);
    size_t have = n > cut + 1 ? n - cut - 1 : 0;
    memcpy(data, d + cut + (cut < n), have < bytes ? have : bytes);
    /* one block of all rows into two states (one stays the identity), as the tree
     * combines them */
    h5mr__apply_opts o = {0, 2, 0};
    h5mr_result *r = NULL;
    st = h5mr__apply(&ctx, data, &o, &r);
    if (st == H5MR_OK) {
        FILE *f = fopen("/dev/null", "w");
        h5mr_result_write_json(r, f);
        fclose(f);
    } else {
        CHECK(st == H5MR_EUSAGE || st == H5MR_EINPUT || st == H5MR_EKERNEL || st == H5MR_ENOMEM || st == H5MR_ELIMIT);
    }
    h5mr__result_free(r);
    h5mr__ctx_release(&ctx);
    free(data);
    free(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    switch (d[0] % 3) {
    case 0: fuzz_plan(d + 1, n - 1); break;
    case 1: fuzz_args(d + 1, n - 1); break;
    default: fuzz_kernel(d + 1, n - 1); break;
    }
    return 0;
}
