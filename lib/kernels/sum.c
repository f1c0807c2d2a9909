/* sum.c: the `sum` kernel — the sum and count of all non-NaN elements.
 *
 * Integers are summed exactly in 128 bits.  Floats are summed per item in eight TwoSum
 * lanes and each item's lanes are added into an exact accumulator, so the result is the
 * same bits whatever the ranks, the schedule and the order items arrive in.
 *
 * Accuracy: a lane first adds four elements plainly (error at most 3u of their absolute
 * sum, u = 2^-53), then adds that into its compensated (hi, lo) pair, which loses
 * nothing that matters.  So the total is within about 3u·Σ|x| of the exact sum: a few
 * ulps for data of one sign.  A TwoSum per element would make it u·Σ|x| but cost twice
 * the time (bench/RESULTS.md): the loop would no longer keep up with memory. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"
#include "weighted.h"

typedef struct sum_state {
    __int128 isum;
    int64_t count;
    int64_t pad;
    h5mr_xsum fsum;
} sum_state;

/* Types of 32 bits or less: an item (< 2^31 bytes) cannot overflow int64 lanes. */
#define SUM_SMALL_INT(T)                                                                                               \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                                                          \
    {                                                                                                                  \
        int64_t acc[H5MR_LANES] = {0};                                                                                 \
        uint64_t i = 0;                                                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES)                                                                   \
            for (int k = 0; k < H5MR_LANES; k++)                                                                       \
                acc[k] += x[i + k];                                                                                    \
        for (; i < n; i++)                                                                                             \
            acc[0] += x[i];                                                                                            \
        int64_t t = 0;                                                                                                 \
        for (int k = 0; k < H5MR_LANES; k++)                                                                           \
            t += acc[k];                                                                                               \
        s->isum += t;                                                                                                  \
        s->count += (int64_t)n;                                                                                        \
    }

#define SUM_BIG_INT(T)                                                                                                 \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                                                          \
    {                                                                                                                  \
        __int128 acc = 0;                                                                                              \
        for (uint64_t i = 0; i < n; i++)                                                                               \
            acc += x[i];                                                                                               \
        s->isum += acc;                                                                                                \
        s->count += (int64_t)n;                                                                                        \
    }

/* Eight TwoSum lanes (element i in lane i mod 8) over one item, into h[8], l[8].
 * Returns 0 when a lane is not finite: a NaN or an infinity was met (or an overflow). */
#define SUM_LANES_FAST(T)                                                                                              \
    H5MR_HOT static int lanes_fast_##T(const T *x, uint64_t n, double *h, double *l)                                   \
    {                                                                                                                  \
        h5mr_v4d hi0 = {0}, hi1 = {0}, lo0 = {0}, lo1 = {0};                                                           \
        uint64_t i = 0;                                                                                                \
        for (; i + 32 <= n; i += 32) {                                                                                 \
            h5mr_v4d v0 = (h5mr_load4_##T(x + i) + h5mr_load4_##T(x + i + 8)) +                                        \
                          (h5mr_load4_##T(x + i + 16) + h5mr_load4_##T(x + i + 24));                                   \
            h5mr_v4d v1 = (h5mr_load4_##T(x + i + 4) + h5mr_load4_##T(x + i + 12)) +                                   \
                          (h5mr_load4_##T(x + i + 20) + h5mr_load4_##T(x + i + 28));                                   \
            H5MR_TWOSUM_ACC(hi0, lo0, v0);                                                                             \
            H5MR_TWOSUM_ACC(hi1, lo1, v1);                                                                             \
        }                                                                                                              \
        for (; i + 8 <= n; i += 8) {                                                                                   \
            h5mr_v4d v0 = h5mr_load4_##T(x + i), v1 = h5mr_load4_##T(x + i + 4);                                       \
            H5MR_TWOSUM_ACC(hi0, lo0, v0);                                                                             \
            H5MR_TWOSUM_ACC(hi1, lo1, v1);                                                                             \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        for (int k = 0; k < 4; k++) {                                                                                  \
            h[k] = hi0[k], h[k + 4] = hi1[k], l[k] = lo0[k], l[k + 4] = lo1[k];                                        \
            finite &= isfinite(h[k]) && isfinite(h[k + 4]);                                                            \
            finite &= isfinite(l[k]) && isfinite(l[k + 4]);                                                            \
        }                                                                                                              \
        return finite;                                                                                                 \
    }

/* The same lanes skipping NaN, counting the elements that are not NaN. */
#define SUM_LANES_NAN(T)                                                                                               \
    static int64_t lanes_nan_##T(const T *x, uint64_t n, double *h, double *l)                                         \
    {                                                                                                                  \
        h5mr_v2d hi[4] = {{0}}, lo[4] = {{0}};                                                                         \
        h5mr_v2l cnt[4] = {{0}};                                                                                       \
        for (uint64_t i = 0; i + 8 <= n; i += 8) {                                                                     \
            for (int k = 0; k < 4; k++) {                                                                              \
                h5mr_v2d v = h5mr_load2_##T(x + i + 2 * k);                                                            \
                h5mr_v2l m = v == v;                                                                                   \
                v = (h5mr_v2d)((h5mr_v2l)v & m);                                                                       \
                cnt[k] -= m;                                                                                           \
                H5MR_TWOSUM_ACC(hi[k], lo[k], v);                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        int64_t count = 0;                                                                                             \
        for (int k = 0; k < 8; k++) {                                                                                  \
            h[k] = hi[k / 2][k % 2], l[k] = lo[k / 2][k % 2];                                                          \
            count += cnt[k / 2][k % 2];                                                                                \
        }                                                                                                              \
        return count;                                                                                                  \
    }

/* An item of floats: the fast lanes; if they met NaN, the NaN-skipping lanes; if an
 * infinity or an overflow remains, exact addition one element at a time.  Which path
 * an item takes depends on its data alone, so the bits do not depend on the ranks. */
#define SUM_FLOAT(T)                                                                                                   \
    SUM_LANES_FAST(T)                                                                                                  \
    SUM_LANES_NAN(T)                                                                                                   \
    static void sum_##T(const T *x, uint64_t n, sum_state *s)                                                          \
    {                                                                                                                  \
        double h[9], l[9];                                                                                             \
        uint64_t body = n - n % 8, i;                                                                                  \
        int64_t count = (int64_t)body;                                                                                 \
        int finite = lanes_fast_##T(x, body, h, l);                                                                    \
        if (!finite) {                                                                                                 \
            count = lanes_nan_##T(x, body, h, l);                                                                      \
            finite = 1;                                                                                                \
            for (int k = 0; k < 8; k++)                                                                                \
                finite &= isfinite(h[k]) && isfinite(l[k]);                                                            \
        }                                                                                                              \
        h[8] = l[8] = 0;                                                                                               \
        for (i = body; i < n; i++) {                                                                                   \
            double v = (double)x[i];                                                                                   \
            if (v != v) continue;                                                                                      \
            count++;                                                                                                   \
            H5MR_TWOSUM_ACC(h[8], l[8], v);                                                                            \
        }                                                                                                              \
        finite &= isfinite(h[8]) && isfinite(l[8]);                                                                    \
        s->count += count;                                                                                             \
        if (finite) {                                                                                                  \
            for (int k = 0; k < 9; k++) {                                                                              \
                h5mr_xsum_add(&s->fsum, h[k]);                                                                         \
                h5mr_xsum_add(&s->fsum, l[k]);                                                                         \
            }                                                                                                          \
        } else {                                                                                                       \
            for (i = 0; i < n; i++)                                                                                    \
                if (x[i] == x[i]) h5mr_xsum_add(&s->fsum, (double)x[i]);                                               \
        }                                                                                                              \
    }

/* Packed integers (h5mr_ctx_accept_packed): the elements that are not the missing
 * marker m, summed and counted (types of 32 bits or less), in blocks of SUM_BLOCK
 * elements whose sums fit the lanes of SUM_MISS_ACC: 32-bit lanes for 8- and 16-bit
 * types.  Masks, no branches: GCC vectorises it. */
#define SUM_BLOCK 4096
#define SUM_MISS_ACC(T)                                                                                                \
    __typeof__(_Generic((T)0, int8_t                                                                                   \
                        : (int32_t)0, uint8_t                                                                          \
                        : (int32_t)0, int16_t                                                                          \
                        : (int32_t)0, uint16_t                                                                         \
                        : (int32_t)0, default                                                                          \
                        : (int64_t)0))
#define SUM_MISS_INT(T)                                                                                                \
    H5MR_HOT static void sum_miss_##T(const T *x, uint64_t n, T m, sum_state *s)                                       \
    {                                                                                                                  \
        typedef SUM_MISS_ACC(T) acc_t;                                                                                 \
        int64_t sum = 0, cnt = 0;                                                                                      \
        for (uint64_t b = 0; b < n; b += SUM_BLOCK) {                                                                  \
            uint64_t e = n - b < SUM_BLOCK ? n : b + SUM_BLOCK;                                                        \
            acc_t s1 = 0, c1 = 0;                                                                                      \
            for (uint64_t i = b; i < e; i++) {                                                                         \
                acc_t v = (acc_t)x[i], ok = -(acc_t)(x[i] != m); /* all ones or zero */                                \
                s1 += v & ok;                                                                                          \
                c1 -= ok;                                                                                              \
            }                                                                                                          \
            sum += s1, cnt += c1;                                                                                      \
        }                                                                                                              \
        s->isum += sum, s->count += cnt;                                                                               \
    }

/* Per pixel: the same over an item's rows, into the pixel's count and 128-bit sum. */
#define SUM_ROWS_MISS(T)                                                                                               \
    H5MR_HOT static void rows_miss_##T(const T *x, uint64_t rows, uint64_t P, T m, int64_t *restrict acc,              \
                                       int64_t *restrict n)                                                            \
    {                                                                                                                  \
        for (uint64_t r = 0; r < rows; r++) {                                                                          \
            const T *restrict row = x + r * P;                                                                         \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                int64_t ok = -(int64_t)(row[p] != m);                                                                  \
                acc[p] += (int64_t)row[p] & ok;                                                                        \
                n[p] -= ok;                                                                                            \
            }                                                                                                          \
        }                                                                                                              \
    }

/* Integers below 64 bits in 64-bit lanes, 64-bit ones in 128 bits, floats exactly. */
#define SUM_OF_0_8 SUM_SMALL_INT
#define SUM_OF_0_16 SUM_SMALL_INT
#define SUM_OF_0_32 SUM_SMALL_INT
#define SUM_OF_0_64 SUM_BIG_INT
#define SUM_OF_1_32 SUM_FLOAT
#define SUM_OF_1_64 SUM_FLOAT
#define SUM_OF(ISF, BITS) SUM_OF_##ISF##_##BITS
#define SUM_MISS_0(T) SUM_MISS_INT(T) SUM_ROWS_MISS(T)
#define SUM_MISS_1(T)
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) SUM_OF(ISF, BITS)(T) SUM_MISS_##ISF(T)
H5MR_DTYPE_EACH
#undef H5MR_EACH

/* ---------------------------------------------------------------- axis=0
 * Per pixel (element of a row): a count and a sum.  An item's rows are summed per pixel
 * in TwoSum pairs (the loop runs along the row, one pixel per lane), then each pixel's
 * pair goes into its h5mr_rsum (floats) or its 128-bit sum (integers). */

typedef struct sum_config {
    int over_rows;
    int weighted; /* --weights: weighted.c does the sums */
    h5mr__wscratch wsc;
    uint64_t pixels;
    double *hi, *lo, *cnt; /* per-pixel scratch of one item */
    uint64_t *nz;          /* the pixels of an item that have values */
    int64_t *iacc;
    const h5mr_packing *pk; /* packed integers taken as stored, or NULL */
} sum_config;

static void sum_config_free(void *p)
{
    sum_config *c = p;
    h5mr__wscratch_free(&c->wsc);
    free(c->hi), free(c->lo), free(c->cnt), free(c->iacc), free(c->nz);
    free(c);
}

/* Layout of a per-pixel state: int64 count[P], then the sums (h5mr_rsum or __int128). */
static size_t rows_state_size(uint64_t P, int is_float)
{
    return (size_t)P * 8 + (size_t)P * (is_float ? sizeof(h5mr_rsum) : sizeof(__int128)) + 16;
}
static int64_t *rows_count(void *s) { return s; }
static void *rows_sums(void *s, uint64_t P) { return (char *)s + ((P * 8 + 15) & ~(uint64_t)15); }

/* Per pixel over an item's rows.  Where there is no NaN, in blocks of SUM_PIXELS pixels
 * across whole rows (the rows read in order, the block's pairs in L1, GCC vectorises across
 * pixels: 12% faster on f32 than walking four pixels down the rows, which touches a page
 * a row); with NaN, four pixels per vector down the rows (masks GCC does not vectorise). */
/* h5mr_rsum_add of x, skipped where x is ±0, which adds nothing (a masked pixel's pair,
 * most low parts of integral data): the same state, a call fewer. */
#define RSUM_ADD_NZ(s, x)                                                                                              \
    do {                                                                                                               \
        if ((x) != 0.0) h5mr_rsum_add(s, x);                                                                           \
    } while (0)
#define SUM_PIXELS 256
#define SUM_ROWS_FLOAT(T)                                                                                              \
    /* four pixels per vector, the rows of the item one after the other */                                             \
    H5MR_HOT static void rows_pairs_##T(const T *x, uint64_t rows, uint64_t P, double *hi, double *lo, double *cnt)    \
    {                                                                                                                  \
        uint64_t body = P - P % 4;                                                                                     \
        for (uint64_t p = 0; p < body; p += 4) {                                                                       \
            h5mr_v4d H, L, N;                                                                                          \
            memcpy(&H, hi + p, 32), memcpy(&L, lo + p, 32), memcpy(&N, cnt + p, 32);                                   \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                h5mr_v4d v = h5mr_load4_##T(x + r * P + p);                                                            \
                h5mr_v4l ok = v == v;                                                                                  \
                v = (h5mr_v4d)((h5mr_v4l)v & ok);                                                                      \
                N = N + (h5mr_v4d)((h5mr_v4l)(h5mr_v4d){1, 1, 1, 1} & ok);                                             \
                H5MR_TWOSUM_ACC(H, L, v);                                                                              \
            }                                                                                                          \
            memcpy(hi + p, &H, 32), memcpy(lo + p, &L, 32), memcpy(cnt + p, &N, 32);                                   \
        }                                                                                                              \
        for (uint64_t p = body; p < P; p++) {                                                                          \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                double v = (double)x[r * P + p];                                                                       \
                cnt[p] += v == v ? 1.0 : 0.0;                                                                          \
                v = v == v ? v : 0.0;                                                                                  \
                H5MR_TWOSUM_ACC(hi[p], lo[p], v);                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    /* The same where there is no NaN: no masks, no counts.  0 if a pixel's pair is not                                \
     * finite (a NaN, an infinity, an overflow): the item then goes the masked way. */                                 \
    H5MR_HOT static int rows_plain_##T(const T *x, uint64_t rows, uint64_t P, double *hi, double *lo)                  \
    {                                                                                                                  \
        for (uint64_t p0 = 0; p0 < P; p0 += SUM_PIXELS) {                                                              \
            uint64_t w = P - p0 < SUM_PIXELS ? P - p0 : SUM_PIXELS;                                                    \
            double H[SUM_PIXELS] = {0}, L[SUM_PIXELS] = {0};                                                           \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                const T *row = x + r * P + p0;                                                                         \
                for (uint64_t k = 0; k < w; k++)                                                                       \
                    H5MR_TWOSUM_ACC(H[k], L[k], (double)row[k]);                                                       \
            }                                                                                                          \
            memcpy(hi + p0, H, w * 8), memcpy(lo + p0, L, w * 8);                                                      \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        for (uint64_t p = 0; p < P; p++)                                                                               \
            finite &= (hi[p] - hi[p] == 0.0) & (lo[p] - lo[p] == 0.0);                                                 \
        return finite;                                                                                                 \
    }                                                                                                                  \
    static void rows_##T(const T *x, uint64_t rows, sum_config *c, void *state)                                        \
    {                                                                                                                  \
        uint64_t P = c->pixels;                                                                                        \
        int64_t *n = rows_count(state);                                                                                \
        h5mr_rsum *s = rows_sums(state, P);                                                                            \
        int nan_seen = H5MR_NAN_EARLY(x, rows * P);                  /* straight to the masked loop */                 \
        if (!nan_seen && rows_plain_##T(x, rows, P, c->hi, c->lo)) { /* the masked loop's bits, faster */              \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                n[p] += (int64_t)rows;                                                                                 \
                RSUM_ADD_NZ(&s[p], c->hi[p]);                                                                          \
                RSUM_ADD_NZ(&s[p], c->lo[p]);                                                                          \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        memset(c->hi, 0, P * 8), memset(c->lo, 0, P * 8), memset(c->cnt, 0, P * 8);                                    \
        rows_pairs_##T(x, rows, P, c->hi, c->lo, c->cnt);                                                              \
        /* The pixels with values (a mask leaves a pattern no branch predicts: skipping the                            \
         * others one by one cost 3x the adds), listed without branches, then added. */                                \
        uint64_t k = 0;                                                                                                \
        int finite = 1;                                                                                                \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            n[p] += (int64_t)c->cnt[p];                                                                                \
            finite &= (c->hi[p] - c->hi[p] == 0.0) & (c->lo[p] - c->lo[p] == 0.0);                                     \
            c->nz[k] = p;                                                                                              \
            k += (c->hi[p] != 0.0) | (c->lo[p] != 0.0);                                                                \
        }                                                                                                              \
        if (finite) {                                                                                                  \
            for (uint64_t j = 0; j < k; j++) {                                                                         \
                uint64_t p = c->nz[j];                                                                                 \
                RSUM_ADD_NZ(&s[p], c->hi[p]);                                                                          \
                RSUM_ADD_NZ(&s[p], c->lo[p]);                                                                          \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            if (isfinite(c->hi[p]) && isfinite(c->lo[p])) {                                                            \
                RSUM_ADD_NZ(&s[p], c->hi[p]);                                                                          \
                RSUM_ADD_NZ(&s[p], c->lo[p]);                                                                          \
            } else { /* an infinity or an overflow: this pixel one value at a time */                                  \
                for (uint64_t r = 0; r < rows; r++)                                                                    \
                    if (x[r * P + p] == x[r * P + p]) h5mr_rsum_add(&s[p], (double)x[r * P + p]);                      \
            }                                                                                                          \
        }                                                                                                              \
    }

#define SUM_ROWS_INT(T, WIDE)                                                                                          \
    static void rows_##T(const T *x, uint64_t rows, sum_config *c, void *state)                                        \
    {                                                                                                                  \
        uint64_t P = c->pixels;                                                                                        \
        int64_t *n = rows_count(state);                                                                                \
        __int128 *s = rows_sums(state, P);                                                                             \
        if (WIDE) {                                                                                                    \
            for (uint64_t r = 0; r < rows; r++)                                                                        \
                for (uint64_t p = 0; p < P; p++)                                                                       \
                    s[p] += x[r * P + p];                                                                              \
        } else { /* 32 bits or less: an item cannot overflow 64-bit partial sums */                                    \
            int64_t *acc = c->iacc;                                                                                    \
            memset(acc, 0, P * 8);                                                                                     \
            for (uint64_t r = 0; r < rows; r++)                                                                        \
                for (uint64_t p = 0; p < P; p++)                                                                       \
                    acc[p] += x[r * P + p];                                                                            \
            for (uint64_t p = 0; p < P; p++)                                                                           \
                s[p] += acc[p];                                                                                        \
        }                                                                                                              \
        for (uint64_t p = 0; p < P; p++)                                                                               \
            n[p] += (int64_t)rows;                                                                                     \
    }

#define SUM_ROWS_1(T, BITS) SUM_ROWS_FLOAT(T)
#define SUM_ROWS_0(T, BITS) SUM_ROWS_INT(T, (BITS) == 64)
#define H5MR_EACH(T, W, ISF, BITS, LO, HI) SUM_ROWS_##ISF(T, BITS)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static h5mr_status sum_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    sum_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, sum_config_free);
    if (!c) return H5MR_ENOMEM;
    h5mr_status st = h5mr_param_axis(ctx, "sum", &c->over_rows);
    if (st != H5MR_OK) return st;
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_BY);
    h5mr_ctx_accept_input(ctx, H5MR_ROLE_WEIGHTS);
    const uint64_t *shape;
    int nd;
    if ((c->weighted = h5mr_ctx_has_input(ctx, H5MR_ROLE_WEIGHTS))) {
        c->pixels = c->over_rows ? h5mr_trailing(ctx, &shape, &nd) : 0;
        h5mr_ctx_set_state_size(ctx, h5mr__wstate_size(c->pixels));
        return H5MR_OK;
    }
    if ((c->pk = h5mr_ctx_packing(ctx))) h5mr_ctx_accept_packed(ctx); /* exact integer sums, unpacked at finish */
    if (!c->over_rows) {
        h5mr_ctx_set_state_size(ctx, sizeof(sum_state));
        return H5MR_OK;
    }
    uint64_t P = c->pixels = h5mr_trailing(ctx, &shape, &nd);
    uint64_t alloc = P ? P : 1;
    c->hi = malloc(alloc * 8), c->lo = malloc(alloc * 8), c->cnt = malloc(alloc * 8), c->iacc = malloc(alloc * 8);
    c->nz = malloc(alloc * sizeof *c->nz);
    if (!c->hi || !c->lo || !c->cnt || !c->iacc || !c->nz) return H5MR_ENOMEM;
    h5mr_ctx_set_state_size(ctx, rows_state_size(P, h5mr_dtype_is_float(h5mr_ctx_dtype(ctx))));
    return H5MR_OK;
}

static h5mr_status sum_init(h5mr_ctx *ctx, void *state)
{
    const sum_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) h5mr__winit(state, c->pixels);
    return H5MR_OK;
}

static h5mr_status sum_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    sum_config *c = h5mr_ctx_config(ctx);
    if (c->weighted)
        return h5mr__wfold(ctx, state, c->pixels, c->over_rows, b, h5mr_block_input(b, H5MR_ROLE_WEIGHTS), 0, &c->wsc);
    uint64_t n = b->rows * b->row_elems;
    if (c->pk && c->pk->has_missing) {
#define SUM_MISS_CALL_f(T)
#define SUM_MISS_CALL_i(T) SUM_MISS_CALL(T)
#define SUM_MISS_CALL_u(T) SUM_MISS_CALL(T)
#define SUM_MISS_CALL(T)                                                                                               \
    if (c->over_rows) {                                                                                                \
        uint64_t P = c->pixels;                                                                                        \
        __int128 *s = rows_sums(state, P);                                                                             \
        memset(c->iacc, 0, P * 8);                                                                                     \
        rows_miss_##T(b->data, b->rows, P, (T)c->pk->missing, c->iacc, rows_count(state));                             \
        for (uint64_t p = 0; p < P; p++)                                                                               \
            s[p] += c->iacc[p];                                                                                        \
    } else {                                                                                                           \
        sum_miss_##T(b->data, n, (T)c->pk->missing, state);                                                            \
    }
#define H5MR_CASE(T, W) SUM_MISS_CALL_##W(T)
        H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "sum: unsupported type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
#define H5MR_CASE(T, W)                                                                                                \
    if (c->over_rows)                                                                                                  \
        rows_##T(b->data, b->rows, c, state);                                                                          \
    else                                                                                                               \
        sum_##T(b->data, n, state);
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "sum: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status sum_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const sum_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) {
        h5mr__wcombine(into, from, c->pixels, c->over_rows);
        return H5MR_OK;
    }
    if (c->over_rows) {
        uint64_t P = c->pixels;
        int64_t *na = rows_count(into);
        const int64_t *nb = rows_count((void *)from);
        for (uint64_t p = 0; p < P; p++)
            na[p] += nb[p];
        if (h5mr_dtype_is_float(h5mr_ctx_dtype(ctx))) {
            h5mr_rsum *a = rows_sums(into, P);
            const h5mr_rsum *b = rows_sums((void *)from, P);
            for (uint64_t p = 0; p < P; p++)
                h5mr_rsum_merge(&a[p], &b[p]);
        } else {
            __int128 *a = rows_sums(into, P);
            const __int128 *b = rows_sums((void *)from, P);
            for (uint64_t p = 0; p < P; p++)
                a[p] += b[p];
        }
        return H5MR_OK;
    }
    sum_state *a = into;
    const sum_state *b = from;
    a->isum += b->isum;
    a->count += b->count;
    h5mr_xsum_merge(&a->fsum, &b->fsum);
    return H5MR_OK;
}

/* Widened stored integers (CF fill only): the exact integer sums as int64 into out, 0 if one
 * does not fit (then they are reported as doubles). */
static int rows_exact_ints(const h5mr_rsum *s, uint64_t P, int64_t *out)
{
    for (uint64_t p = 0; p < P; p++) {
        double hi, lo;
        h5mr_rsum_round2(&s[p], &hi, &lo);
        __int128 v = (__int128)hi + (__int128)lo;
        if (!(fabs(hi) < 0x1p63) || v < INT64_MIN || v > INT64_MAX) return 0;
        out[p] = (int64_t)v;
    }
    return 1;
}

static h5mr_status rows_finish(h5mr_ctx *ctx, const sum_config *c, void *state, h5mr_result *r)
{
    const uint64_t *shape;
    int nd;
    uint64_t P = h5mr_trailing(ctx, &shape, &nd);
    int is_float = h5mr_dtype_is_float(h5mr_ctx_dtype(ctx)), wide = 0;
    void *sums = malloc(P * 8 + 8);
    if (!sums) return H5MR_ENOMEM;
    if (c->pk && c->pk->packed) { /* the unpacked sums, from the exact integer ones */
        const __int128 *s = rows_sums(state, P);
        const int64_t *n = rows_count(state);
        for (uint64_t p = 0; p < P; p++)
            ((double *)sums)[p] = h5mr_unpack_sum(c->pk->scale, c->pk->offset, s[p], n[p]).hi;
        is_float = 1;
    } else if (is_float && h5mr_ctx_values_integral(ctx) && rows_exact_ints(rows_sums(state, P), P, sums)) {
        is_float = 0;
    } else if (is_float) {
        const h5mr_rsum *s = rows_sums(state, P);
        for (uint64_t p = 0; p < P; p++)
            ((double *)sums)[p] = h5mr_rsum_round(&s[p]);
    } else {
        const __int128 *s = rows_sums(state, P);
        for (uint64_t p = 0; p < P; p++)
            wide |= s[p] < INT64_MIN || s[p] > INT64_MAX;
        for (uint64_t p = 0; p < P; p++) {
            if (wide)
                ((double *)sums)[p] = (double)s[p];
            else
                ((int64_t *)sums)[p] = (int64_t)s[p];
        }
    }
    h5mr_status st =
        h5mr_result_set_array(r, "sum", is_float || wide ? H5MR_FIELD_F64 : H5MR_FIELD_I64, nd, shape, sums, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "count", H5MR_FIELD_I64, nd, shape, rows_count(state), NULL);
    free(sums);
    return st;
}

static h5mr_status sum_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const sum_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) {
        const uint64_t *shape = NULL;
        int nd = 0;
        if (c->over_rows) h5mr_trailing(ctx, &shape, &nd);
        return h5mr__wfinish(state, c->pixels, c->over_rows, 0, nd, shape, r);
    }
    if (c->over_rows) return rows_finish(ctx, c, (void *)state, r);
    const sum_state *s = state;
    h5mr_status st;
    double hi, lo;
    h5mr_xsum_round2(&s->fsum, &hi, &lo);
    if (c->pk && c->pk->packed)
        st = h5mr_result_set_f64(r, "sum", h5mr_unpack_sum(c->pk->scale, c->pk->offset, s->isum, s->count).hi);
    else if (h5mr_dtype_is_float(h5mr_ctx_dtype(ctx)) && h5mr_ctx_values_integral(ctx) && fabs(hi) < 0x1p62)
        st = h5mr_result_set_i64(r, "sum", (int64_t)((__int128)hi + (__int128)lo)); /* widened integers */
    else if (h5mr_dtype_is_float(h5mr_ctx_dtype(ctx)))
        st = h5mr_result_set_f64(r, "sum", h5mr_xsum_round(&s->fsum));
    else if (s->isum >= INT64_MIN && s->isum <= INT64_MAX)
        st = h5mr_result_set_i64(r, "sum", (int64_t)s->isum);
    else
        st = h5mr_result_set_f64(r, "sum", (double)s->isum); /* beyond 2^63: the nearest double */
    if (st == H5MR_OK) st = h5mr_result_set_i64(r, "count", s->count);
    return st;
}

static const h5mr_param_decl sum_params[] = {H5MR_AXIS_PARAM, {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_sum = {
    H5MR_KERNEL_FIELDS("sum", "sum and count of all non-NaN elements (integers exact, floats exactly rounded)", sum),
    .init = sum_init};
