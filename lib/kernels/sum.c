/* sum.c: the `sum` kernel — the sum and count of all non-NaN elements.
 *
 * Integers are summed exactly in 128 bits.  Floats are summed per item in TwoSum lanes
 * and each item's lanes are added into an exact accumulator, so the result is the
 * same bits whatever the ranks, the schedule and the order items arrive in. */
#include <math.h>
#include <stdint.h>

#include "h5mr.h"
#include "numeric.h"

typedef struct sum_state {
    __int128 isum;
    int64_t count;
    int64_t pad;
    h5mr_xsum fsum;
} sum_state;

/* Types of 32 bits or less: an item (< 2^31 bytes) cannot overflow int64 lanes. */
#define SUM_SMALL_INT(T)                                                               \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                          \
    {                                                                                  \
        int64_t acc[H5MR_LANES] = {0};                                                 \
        uint64_t i = 0;                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES)                                   \
            for (int k = 0; k < H5MR_LANES; k++) acc[k] += x[i + k];                   \
        for (; i < n; i++) acc[0] += x[i];                                             \
        int64_t t = 0;                                                                 \
        for (int k = 0; k < H5MR_LANES; k++) t += acc[k];                              \
        s->isum += t;                                                                  \
        s->count += (int64_t)n;                                                        \
    }

#define SUM_BIG_INT(T)                                                                 \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                          \
    {                                                                                  \
        __int128 acc = 0;                                                              \
        for (uint64_t i = 0; i < n; i++) acc += x[i];                                  \
        s->isum += acc;                                                                \
        s->count += (int64_t)n;                                                        \
    }

#define SUM_FLOAT(T)                                                                   \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                          \
    {                                                                                  \
        double hi[H5MR_LANES] = {0}, lo[H5MR_LANES] = {0};                             \
        int64_t cnt[H5MR_LANES] = {0};                                                 \
        uint64_t i = 0;                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES) {                                 \
            for (int k = 0; k < H5MR_LANES; k++) {                                     \
                double v = (double)x[i + k];                                           \
                int ok = v == v;                                                       \
                v = ok ? v : 0.0;                                                      \
                cnt[k] += ok;                                                          \
                H5MR_TWOSUM_ACC(hi[k], lo[k], v);                                      \
            }                                                                          \
        }                                                                              \
        for (; i < n; i++) {                                                           \
            double v = (double)x[i];                                                   \
            if (v != v) continue;                                                      \
            cnt[0]++;                                                                  \
            H5MR_TWOSUM_ACC(hi[0], lo[0], v);                                          \
        }                                                                              \
        int finite = 1;                                                                \
        for (int k = 0; k < H5MR_LANES; k++) {                                         \
            finite &= isfinite(hi[k]) && isfinite(lo[k]);                              \
            s->count += cnt[k];                                                        \
        }                                                                              \
        if (finite) {                                                                  \
            for (int k = 0; k < H5MR_LANES; k++) {                                     \
                h5mr_xsum_add(&s->fsum, hi[k]);                                        \
                h5mr_xsum_add(&s->fsum, lo[k]);                                        \
            }                                                                          \
        } else {                                                                       \
            /* An infinity or an overflow in the lanes: add one by one, exactly. */    \
            for (i = 0; i < n; i++)                                                    \
                if (x[i] == x[i]) h5mr_xsum_add(&s->fsum, (double)x[i]);               \
        }                                                                              \
    }

SUM_SMALL_INT(int8_t)
SUM_SMALL_INT(int16_t)
SUM_SMALL_INT(int32_t)
SUM_BIG_INT(int64_t)
SUM_SMALL_INT(uint8_t)
SUM_SMALL_INT(uint16_t)
SUM_SMALL_INT(uint32_t)
SUM_BIG_INT(uint64_t)
SUM_FLOAT(float)
SUM_FLOAT(double)

static h5mr_status sum_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_set_state_size(ctx, sizeof(sum_state));
    return H5MR_OK;
}

static h5mr_status sum_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    uint64_t n = b->rows * b->row_elems;
    switch (b->dtype) {
#define X(e, name, ctype, isf, iss)                                                    \
    case H5MR_DTYPE_##e: sum_##ctype(b->data, n, state); break;
        H5MR_DTYPE_TABLE(X)
#undef X
    default: return h5mr_ctx_error(ctx, H5MR_EINPUT, "sum: unsupported type");
    }
    return H5MR_OK;
}

static h5mr_status sum_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    sum_state *a = into;
    const sum_state *b = from;
    a->isum += b->isum;
    a->count += b->count;
    h5mr_xsum_merge(&a->fsum, &b->fsum);
    return H5MR_OK;
}

static h5mr_status sum_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const sum_state *s = state;
    h5mr_status st;
    if (h5mr_dtype_is_float(h5mr_ctx_dtype(ctx)))
        st = h5mr_result_set_f64(r, "sum", h5mr_xsum_round(&s->fsum));
    else if (s->isum >= INT64_MIN && s->isum <= INT64_MAX)
        st = h5mr_result_set_i64(r, "sum", (int64_t)s->isum);
    else
        st = h5mr_result_set_f64(r, "sum", (double)s->isum); /* beyond 2^63: the nearest double */
    if (st == H5MR_OK) st = h5mr_result_set_i64(r, "count", s->count);
    return st;
}

const h5mr_kernel h5mr__kernel_sum = {
    .abi = H5MR_KERNEL_ABI,
    .name = "sum",
    .description = "sum and count of all non-NaN elements (integers exact, floats exactly rounded)",
    .params = NULL,
    .setup = sum_setup,
    .map = sum_map,
    .combine = sum_combine,
    .finish = sum_finish,
};
