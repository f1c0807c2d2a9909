/* stats.c: the `stats` kernel — count, nan_count, sum, mean, var (ddof 0), std, min, max.
 *
 * The state keeps exact sums of x and of x² (integers: x in 128 bits; every type: x²
 * split exactly into p + e, in TwoSum lanes per item, then into an h5mr_xsum), so
 * combining is exact and the result does not depend on how items were grouped.  The
 * variance comes from those exact sums in double-double: n·Σx² − (Σx)², which keeps
 * about 100 bits before the subtraction and so stays accurate when mean² ≫ variance. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5mr.h"
#include "h5mr_numeric.h"
#include "weighted.h"

typedef struct stats_state {
    __int128 isum;
    __int128 imin, imax;
    int64_t count, nan_count;
    double fmin, fmax;
    h5mr_xsum s1; /* floats: Σx */
    h5mr_xsum s2; /* Σx², every type */
} stats_state;

/* Σx² and the count of one item into lanes, then into the exact sum. */
#define SQUARES(T, exact)                                                                                              \
    static void squares_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1, double M)                           \
    {                                                                                                                  \
        double h1[H5MR_LANES] = {0}, l1[H5MR_LANES] = {0};                                                             \
        double h2[H5MR_LANES] = {0}, l2[H5MR_LANES] = {0};                                                             \
        double mn[H5MR_LANES], mx[H5MR_LANES];                                                                         \
        int64_t cnt[H5MR_LANES] = {0};                                                                                 \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            mn[k] = INFINITY;                                                                                          \
            mx[k] = -INFINITY;                                                                                         \
        }                                                                                                              \
        uint64_t i = 0;                                                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES) {                                                                 \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                double v = (double)x[i + k];                                                                           \
                int ok = (v == v) & (v != M);                                                                          \
                mn[k] = ok && v < mn[k] ? v : mn[k];                                                                   \
                mx[k] = ok && v > mx[k] ? v : mx[k];                                                                   \
                v = ok ? v : 0.0;                                                                                      \
                cnt[k] += ok;                                                                                          \
                H5MR_FOLD_X_X2(exact, 1, v, h1[k], l1[k], h2[k], l2[k]);                                               \
            }                                                                                                          \
        }                                                                                                              \
        for (; i < n; i++) {                                                                                           \
            double v = (double)x[i];                                                                                   \
            if (v != v || v == M) continue;                                                                            \
            mn[0] = v < mn[0] ? v : mn[0];                                                                             \
            mx[0] = v > mx[0] ? v : mx[0];                                                                             \
            cnt[0]++;                                                                                                  \
            H5MR_FOLD_X_X2(exact, 1, v, h1[0], l1[0], h2[0], l2[0]);                                                   \
        }                                                                                                              \
        int finite = 1;                                                                                                \
        int64_t c = 0;                                                                                                 \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            finite &= isfinite(h1[k]) && isfinite(l1[k]) && isfinite(h2[k]) && isfinite(l2[k]);                        \
            c += cnt[k];                                                                                               \
            s->fmin = mn[k] < s->fmin ? mn[k] : s->fmin;                                                               \
            s->fmax = mx[k] > s->fmax ? mx[k] : s->fmax;                                                               \
        }                                                                                                              \
        s->count += c;                                                                                                 \
        s->nan_count += (int64_t)n - c;                                                                                \
        if (finite) {                                                                                                  \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                if (s1) {                                                                                              \
                    h5mr_xsum_add(s1, h1[k]);                                                                          \
                    h5mr_xsum_add(s1, l1[k]);                                                                          \
                }                                                                                                      \
                h5mr_xsum_add(&s->s2, h2[k]);                                                                          \
                h5mr_xsum_add(&s->s2, l2[k]);                                                                          \
            }                                                                                                          \
            return;                                                                                                    \
        }                                                                                                              \
        /* Infinities, or squares beyond the double range: one by one.  x² of a                                       \
         * huge finite x is +inf here, as numpy's float64 variance would be. */                                        \
        for (i = 0; i < n; i++) {                                                                                      \
            double v = (double)x[i], p, e = 0.0;                                                                       \
            if (v != v || v == M) continue;                                                                            \
            if (s1) h5mr_xsum_add(s1, v);                                                                              \
            if (fabs(v) < 0x1p996) {                                                                                   \
                H5MR_EXACT_SQUARE(v, p, e);                                                                            \
            } else {                                                                                                   \
                p = v * v;                                                                                             \
            }                                                                                                          \
            h5mr_xsum_add(&s->s2, p);                                                                                  \
            h5mr_xsum_add(&s->s2, e);                                                                                  \
        }                                                                                                              \
    }

/* The fast path of one item: eight lanes (element i in lane i mod 8) of TwoSum for Σx
 * and for Σx² (x² split exactly into p + e), and min/max, with no NaN test.  Returns 0
 * when a lane is not finite (a NaN, an infinity, an overflow): the item then takes the
 * careful path above.  With exact = 1 the squares need no split (small types). */
#define FAST(T, exact) FAST_SQ(T, exact, fast, H5MR_HOT, H5MR_EXACT_SQUARE, 0, FAST_MIN, FAST_MAX)
/* v < m ? v : m and v > m ? v : m (m where equal or unordered), as vminpd/vmaxpd do. */
#define FAST_MIN(v, m) h5mr_v4_select((v) < (m), v, m)
#define FAST_MAX(v, m) h5mr_v4_select((v) > (m), v, m)
/* GUARD: whether a value is in (0, 2^-400) in magnitude, from the least of the bit
 * patterns of |v| less one (0 becomes all ones, a NaN, which the min passes over). */
#define FAST_SQ(T, exact, NAME, ATTR, SQUARE, GUARD, MIN, MAX)                                                         \
    ATTR static int NAME##_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1)                                  \
    {                                                                                                                  \
        const h5mr_v4l mag = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX}, one = {1, 1, 1, 1};                         \
        h5mr_v4d least = {INFINITY, INFINITY, INFINITY, INFINITY};                                                     \
        h5mr_v4d h1[2] = {{0}}, l1[2] = {{0}}, h2[2] = {{0}}, l2[2] = {{0}};                                           \
        h5mr_v4d mn[2], mx[2];                                                                                         \
        for (int k = 0; k < 2; k++)                                                                                    \
            mn[k] = mx[k] = h5mr_load4_##T(x);                                                                         \
        for (uint64_t i = 0; i + 8 <= n; i += 8) {                                                                     \
            for (int k = 0; k < 2; k++) {                                                                              \
                h5mr_v4d v = h5mr_load4_##T(x + i + 4 * k);                                                            \
                mn[k] = MIN(v, mn[k]);                                                                                 \
                mx[k] = MAX(v, mx[k]);                                                                                 \
                if (GUARD) least = MIN((h5mr_v4d)(((h5mr_v4l)v & mag) - one), least);                                  \
                H5MR_FOLD_X_X2_SQ(exact, 1, v, h1[k], l1[k], h2[k], l2[k], SQUARE);                                    \
            }                                                                                                          \
        }                                                                                                              \
        const double limw = 0x1.fffffffffffffp-401; /* the pattern of 2^-400 less one */                               \
        if (GUARD && ((least[0] < limw) | (least[1] < limw) | (least[2] < limw) | (least[3] < limw))) return 0;        \
        for (int k = 0; k < 8; k++)                                                                                    \
            if (!isfinite(h1[k / 4][k % 4]) || !isfinite(l1[k / 4][k % 4]) || !isfinite(h2[k / 4][k % 4]) ||           \
                !isfinite(l2[k / 4][k % 4]))                                                                           \
                return 0;                                                                                              \
        for (int k = 0; k < 8; k++) {                                                                                  \
            double a = mn[k / 4][k % 4], b = mx[k / 4][k % 4];                                                         \
            s->fmin = a < s->fmin ? a : s->fmin;                                                                       \
            s->fmax = b > s->fmax ? b : s->fmax;                                                                       \
            if (s1) {                                                                                                  \
                h5mr_xsum_add(s1, h1[k / 4][k % 4]);                                                                   \
                h5mr_xsum_add(s1, l1[k / 4][k % 4]);                                                                   \
            }                                                                                                          \
            h5mr_xsum_add(&s->s2, h2[k / 4][k % 4]);                                                                   \
            h5mr_xsum_add(&s->s2, l2[k / 4][k % 4]);                                                                   \
        }                                                                                                              \
        s->count += (int64_t)n;                                                                                        \
        return 1;                                                                                                      \
    }

/* The fast path with NaN skipped (a mask, CF missing values, gaps): the same lanes,
 * NaN lanes adding zero and not counted.  Returns 0 when a lane is not finite. */
#define FAST_NAN(T, exact)                                                                                             \
    FAST_NAN_OF(T, exact, fast_nan, (v == v) & (v != M), h5mr_v4_select(ok & (v < mn[k]), v, mn[k]),                   \
                h5mr_v4_select(ok & (v > mx[k]), v, mx[k]))                                                            \
    FAST_NAN_OF(T, exact, fast_nan0, v == v, FAST_MIN(v, mn[k]), FAST_MAX(v, mx[k]))
/* NAME_T with M a marker (CF) or NaN; NAME0_T: NaN only (a mask, gaps), where the
 * min and max of the fast path pass over NaN as they are (the same picks). */
#define FAST_NAN_OF(T, exact, NAME, OK, MN, MX)                                                                        \
    __attribute__((unused))                                                                                            \
    H5MR_HOT static int NAME##_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1, double M)                    \
    {                                                                                                                  \
        (void)M;                                                                                                       \
        h5mr_v4d h1[2] = {{0}}, l1[2] = {{0}}, h2[2] = {{0}}, l2[2] = {{0}};                                           \
        h5mr_v4l cnt[2] = {{0}}; /* minus the count: a true lane of ok is -1 */                                        \
        h5mr_v4d mn[2], mx[2];                                                                                         \
        for (int k = 0; k < 2; k++)                                                                                    \
            mn[k] = (h5mr_v4d){INFINITY, INFINITY, INFINITY, INFINITY}, mx[k] = -mn[k];                                \
        for (uint64_t i = 0; i + 8 <= n; i += 8) {                                                                     \
            for (int k = 0; k < 2; k++) {                                                                              \
                h5mr_v4d v = h5mr_load4_##T(x + i + 4 * k);                                                            \
                h5mr_v4l ok = OK;                                                                                      \
                mn[k] = MN;                                                                                            \
                mx[k] = MX;                                                                                            \
                v = (h5mr_v4d)((h5mr_v4l)v & ok);                                                                      \
                cnt[k] += ok;                                                                                          \
                H5MR_FOLD_X_X2(exact, 1, v, h1[k], l1[k], h2[k], l2[k]);                                               \
            }                                                                                                          \
        }                                                                                                              \
        for (int k = 0; k < 8; k++)                                                                                    \
            if (!isfinite(h1[k / 4][k % 4]) || !isfinite(l1[k / 4][k % 4]) || !isfinite(h2[k / 4][k % 4]) ||           \
                !isfinite(l2[k / 4][k % 4]))                                                                           \
                return 0;                                                                                              \
        int64_t c = 0;                                                                                                 \
        for (int k = 0; k < 8; k++) {                                                                                  \
            double a = mn[k / 4][k % 4], b = mx[k / 4][k % 4];                                                         \
            s->fmin = a < s->fmin ? a : s->fmin;                                                                       \
            s->fmax = b > s->fmax ? b : s->fmax;                                                                       \
            c -= cnt[k / 4][k % 4];                                                                                    \
            if (s1) {                                                                                                  \
                h5mr_xsum_add(s1, h1[k / 4][k % 4]);                                                                   \
                h5mr_xsum_add(s1, l1[k / 4][k % 4]);                                                                   \
            }                                                                                                          \
            h5mr_xsum_add(&s->s2, h2[k / 4][k % 4]);                                                                   \
            h5mr_xsum_add(&s->s2, l2[k / 4][k % 4]);                                                                   \
        }                                                                                                              \
        s->count += c;                                                                                                 \
        s->nan_count += (int64_t)n - c;                                                                                \
        return 1;                                                                                                      \
    }

/* One item: the fast path over whole groups of eight (NaN-skipping if it met NaN), the
 * careful one otherwise (infinities, overflow). */
#define ITEM(T)                                                                                                        \
    __attribute__((unused)) static void item_##T(const T *x, uint64_t n, stats_state *s, h5mr_xsum *s1)                \
    {                                                                                                                  \
        uint64_t body = n - n % 8;                                                                                     \
        /* Both fast paths give the same bits on data without NaN: NaN early on (a mask)                               \
         * goes straight to the one that skips them. */                                                                \
        int nan_seen = H5MR_NAN_EARLY(x, body);                                                                        \
        if (body > 0 && ((!nan_seen && FAST_OF(T)(x, body, s, s1)) || fast_nan0_##T(x, body, s, s1, NAN))) {           \
            squares_##T(x + body, n - body, s, s1, NAN);                                                               \
            return;                                                                                                    \
        }                                                                                                              \
        squares_##T(x, n, s, s1, NAN);                                                                                 \
    }

/* Integer types also sum x exactly and track exact min/max: the elements x[i] for which
 * KEEP(x[i]) holds, in H5MR_LANES lanes of ACC. */
#define INTS_FOLD(T, ACC, LO, HI, KEEP)                                                                                \
    do {                                                                                                               \
        ACC acc[H5MR_LANES] = {0};                                                                                     \
        T mn[H5MR_LANES], mx[H5MR_LANES];                                                                              \
        for (int k = 0; k < H5MR_LANES; k++)                                                                           \
            mn[k] = HI, mx[k] = LO;                                                                                    \
        uint64_t i = 0;                                                                                                \
        for (; i + H5MR_LANES <= n; i += H5MR_LANES)                                                                   \
            for (int k = 0; k < H5MR_LANES; k++) {                                                                     \
                T v = x[i + k];                                                                                        \
                int ok = KEEP(v);                                                                                      \
                acc[k] += ok ? v : 0;                                                                                  \
                T lo = ok ? v : HI, hi = ok ? v : LO; /* branch-free: vectorised */                                    \
                mn[k] = lo < mn[k] ? lo : mn[k];                                                                       \
                mx[k] = hi > mx[k] ? hi : mx[k];                                                                       \
            }                                                                                                          \
        for (; i < n; i++) {                                                                                           \
            T v = x[i];                                                                                                \
            if (!KEEP(v)) continue;                                                                                    \
            acc[0] += v;                                                                                               \
            mn[0] = v < mn[0] ? v : mn[0];                                                                             \
            mx[0] = v > mx[0] ? v : mx[0];                                                                             \
        }                                                                                                              \
        for (int k = 0; k < H5MR_LANES; k++) {                                                                         \
            s->isum += acc[k];                                                                                         \
            if (mn[k] < s->imin) s->imin = mn[k];                                                                      \
            if (mx[k] > s->imax) s->imax = mx[k];                                                                      \
        }                                                                                                              \
    } while (0)
#define INTS_ALL(v) 1
#define INTS_NOT_M(v) ((v) != m)

#define INTS(T, ACC, LO, HI)                                                                                           \
    static void ints_##T(const T *x, uint64_t n, stats_state *s)                                                       \
    {                                                                                                                  \
        if (n == 0) return;                                                                                            \
        INTS_FOLD(T, ACC, LO, HI, INTS_ALL);                                                                           \
        item_##T(x, n, s, NULL);                                                                                       \
    }

/* Packed integers (h5mr_ctx_accept_packed): the same, the elements equal to the missing
 * marker m left out (and counted in nan_count), Σx² in the NaN-skipping lanes. */
#define INTS_MISS(T, ACC, LO, HI)                                                                                      \
    static void ints_miss_##T(const T *x, uint64_t n, T m, stats_state *s)                                             \
    {                                                                                                                  \
        INTS_FOLD(T, ACC, LO, HI, INTS_NOT_M);                                                                         \
        uint64_t body = n - n % 8;                                                                                     \
        if (body > 0 && fast_nan_##T(x, body, s, NULL, (double)m))                                                     \
            squares_##T(x + body, n - body, s, NULL, (double)m);                                                       \
        else                                                                                                           \
            squares_##T(x, n, s, NULL, (double)m);                                                                     \
    }

/* 8- and 16-bit integers: everything in 32-bit integer lanes in one pass, x² too (|x|² <
 * 2^32), in blocks of SMALL_BLOCK elements (sums of x fit in 32 bits), Σx² in 64 bits, added
 * exactly to the exact sum at the end: the state the double lanes give, at the speed of the
 * bytes.  Written so that GCC vectorises it: masks, no branches.  KEEP as in INTS_FOLD. */
#define SMALL_BLOCK 4096
#define SMALL_FOLD(T, LO, HI, KEEP, SFX)                                                                               \
    H5MR_HOT static void small##SFX##_##T(const T *x, uint64_t n, T m, stats_state *s)                                 \
    {                                                                                                                  \
        (void)m;                                                                                                       \
        int64_t sum = 0, cnt = 0;                                                                                      \
        int32_t mn = HI, mx = LO;                                                                                      \
        for (uint64_t b = 0; b < n; b += SMALL_BLOCK) {                                                                \
            uint64_t e = n - b < SMALL_BLOCK ? n : b + SMALL_BLOCK;                                                    \
            int32_t s32 = 0, c32 = 0;                                                                                  \
            uint64_t q = 0; /* < 2^12 * 2^32 */                                                                        \
            for (uint64_t i = b; i < e; i++) {                                                                         \
                int32_t v = x[i];                                                                                      \
                int32_t ok = -(int32_t)(KEEP(v)); /* all ones or zero */                                               \
                int32_t w = v & ok;                                                                                    \
                uint32_t a = (uint32_t)(w < 0 ? -w : w);                                                               \
                s32 += w;                                                                                              \
                q += a * a;                                                                                            \
                c32 -= ok;                                                                                             \
                int32_t lo = w | ((HI) & ~ok), hi = w | ((LO) & ~ok);                                                  \
                mn = lo < mn ? lo : mn;                                                                                \
                mx = hi > mx ? hi : mx;                                                                                \
            }                                                                                                          \
            sum += s32;                                                                                                \
            cnt += c32;                                                                                                \
            h5mr_xsum_add(&s->s2, (double)q); /* exact: q < 2^44 */                                                    \
        }                                                                                                              \
        s->isum += sum;                                                                                                \
        if (mn < s->imin) s->imin = mn;                                                                                \
        if (mx > s->imax) s->imax = mx;                                                                                \
        s->count += cnt;                                                                                               \
        s->nan_count += (int64_t)n - cnt;                                                                              \
    }

#define SMALL(T, ACC, LO, HI)                                                                                          \
    SMALL_FOLD(T, LO, HI, INTS_ALL, )                                                                                  \
    SMALL_FOLD(T, LO, HI, INTS_NOT_M, _miss)                                                                           \
    static void ints_item_##T(const T *x, uint64_t n, int miss, T m, stats_state *s)                                   \
    {                                                                                                                  \
        if (miss)                                                                                                      \
            small_miss_##T(x, n, m, s);                                                                                \
        else                                                                                                           \
            small_##T(x, n, m, s);                                                                                     \
    }
#define WIDE(T, ACC, LO, HI)                                                                                           \
    INTS(T, ACC, LO, HI)                                                                                               \
    INTS_MISS(T, ACC, LO, HI)                                                                                          \
    static void ints_item_##T(const T *x, uint64_t n, int miss, T m, stats_state *s)                                   \
    {                                                                                                                  \
        if (miss)                                                                                                      \
            ints_miss_##T(x, n, m, s);                                                                                 \
        else                                                                                                           \
            ints_##T(x, n, s);                                                                                         \
    }
#define INTS_KIND_8 SMALL
#define INTS_KIND_16 SMALL
#define INTS_KIND_32 WIDE
#define INTS_KIND_64 WIDE

/* f64 with FMA: the exact square's error is one instruction (x*x - p, unrounded), the
 * same e as Dekker's wherever both are exact: a block with a value below 2^-400 in
 * magnitude (where the parts of Dekker's product could fall under the normal range)
 * is left to the portable path. */
#if H5MR_X86_PATHS
#define SQUARE_FMA(x, p, e) H5MR_TWO_PROD_FMA(x, x, p, e)
#define FMA_MIN(v, m) ((h5mr_v4d)_mm256_min_pd((__m256d)(v), (__m256d)(m)))
#define FMA_MAX(v, m) ((h5mr_v4d)_mm256_max_pd((__m256d)(v), (__m256d)(m)))
FAST_SQ(double, 0, fast_fma, H5MR_FMA_TARGET, SQUARE_FMA, 1, FMA_MIN, FMA_MAX)
#else
#define fast_fma_double fast_double
#endif
/* The fast path of a type: FMA's for f64 where the CPU has it (fast_f64, below). */
static int fast_f64(const double *x, uint64_t n, stats_state *s, h5mr_xsum *s1);
#define FAST_OF(T) _Generic((T)0, double : fast_f64, default : fast_##T)

/* v*v is exact for 8- and 16-bit integers and for f32 (in double). */
#define SQUARE_EXACT(ISF, BITS) ((ISF) ? (BITS) == 32 : (BITS) <= 16)
/* Integer sums: 64-bit lanes, 128 for 64-bit types; floats have none. */
#define INTS_ACC_8 int64_t
#define INTS_ACC_16 int64_t
#define INTS_ACC_32 int64_t
#define INTS_ACC_64 __int128
#define INTS_IF_1(T, BITS, LO, HI)
#define INTS_IF_0(T, BITS, LO, HI) INTS_KIND_##BITS(T, INTS_ACC_##BITS, LO, HI)
#define H5MR_EACH(T, W, ISF, BITS, LO, HI)                                                                             \
    SQUARES(T, SQUARE_EXACT(ISF, BITS))                                                                                \
    FAST(T, SQUARE_EXACT(ISF, BITS))                                                                                   \
    FAST_NAN(T, SQUARE_EXACT(ISF, BITS))                                                                               \
    ITEM(T)                                                                                                            \
    INTS_IF_##ISF(T, BITS, LO, HI)
H5MR_DTYPE_EACH
#undef H5MR_EACH

static int fast_f64(const double *x, uint64_t n, stats_state *s, h5mr_xsum *s1)
{
    return h5mr__have_fma() ? fast_fma_double(x, n, s, s1) : fast_double(x, n, s, s1);
}

/* ---------------------------------------------------------------- axis=0
 * Per pixel: n, nan_count, min, max (widened), exact Σx² (h5mr_rsum) and Σx (h5mr_rsum
 * for floats, 128 bits for integers).  An item's rows are folded per pixel in TwoSum
 * pairs along the row (one pixel per lane), then each pixel's pairs go into its sums. */

typedef struct stats_config {
    int over_rows;
    int weighted; /* --weights: weighted.c does the sums */
    h5mr__wscratch wsc;
    uint64_t pixels;
    double *h1, *l1, *h2, *l2, *cnt; /* per-pixel scratch of one item */
    h5mr_wide *mn, *mx;
    int64_t *iacc;
    const h5mr_packing *pk; /* packed integers taken as stored, or NULL */
} stats_config;

static void stats_config_free(void *p)
{
    stats_config *c = p;
    h5mr__wscratch_free(&c->wsc);
    free(c->h1), free(c->l1), free(c->h2), free(c->l2), free(c->cnt), free(c->mn), free(c->mx), free(c->iacc);
    free(c);
}

/* The arrays of a per-pixel state, one after the other.  Blocks (a few MiB: a dozen
 * rows of a large image, one row for a --by label per row) fold their TwoSum pairs into
 * pending pairs (ph, pl), which go into the exact sums every FLUSH_ROWS rows: the exact
 * sums then cost a few additions per pixel per FLUSH_ROWS rows, not per block. */
#define FLUSH_ROWS 256
#define STATS_PIXELS 128 /* pixels of a block in pairs_plain_T: 4 KiB of pairs */
typedef struct rows_view {
    int64_t *n, *nan;
    h5mr_wide *mn, *mx;
    double *ph1, *pl1, *ph2, *pl2; /* pending Σx (floats) and Σx² */
    int64_t *pend;                 /* rows pending */
    h5mr_rsum *s2;
    void *s1; /* h5mr_rsum[] or __int128[] */
} rows_view;

static size_t rows_size(uint64_t P, int is_float)
{
    return (size_t)P * (64 + sizeof(h5mr_rsum) + (is_float ? sizeof(h5mr_rsum) : sizeof(__int128))) + 32;
}

static rows_view rows_of(void *state, uint64_t P)
{
    rows_view v;
    v.n = state;
    v.nan = v.n + P;
    v.mn = (h5mr_wide *)(v.nan + P);
    v.mx = v.mn + P;
    v.ph1 = (double *)(v.mx + P);
    v.pl1 = v.ph1 + P;
    v.ph2 = v.pl1 + P;
    v.pl2 = v.ph2 + P;
    v.pend = (int64_t *)(v.pl2 + P);
    v.s2 = (h5mr_rsum *)(((uintptr_t)(v.pend + 1) + 15) & ~(uintptr_t)15);
    v.s1 = v.s2 + P;
    return v;
}

/* The pending pairs into the exact sums. */
static void rows_flush(rows_view s, uint64_t P, int is_float)
{
    for (uint64_t p = 0; p < P; p++) {
        if (is_float) {
            h5mr_rsum_add((h5mr_rsum *)s.s1 + p, s.ph1[p]);
            h5mr_rsum_add((h5mr_rsum *)s.s1 + p, s.pl1[p]);
        }
        h5mr_rsum_add(&s.s2[p], s.ph2[p]);
        h5mr_rsum_add(&s.s2[p], s.pl2[p]);
        s.ph1[p] = s.pl1[p] = s.ph2[p] = s.pl2[p] = 0;
    }
    *s.pend = 0;
}

/* Per pixel over an item's rows, 8- and 16-bit integers: Σx, Σx² (exact, < 2^47 for
 * SMALL_ROWS_MAX rows), the count, min and max in integer lanes, SMALL_PIXELS pixels at a
 * time across whole rows (vectorised across pixels); the same numbers the double lanes give
 * (their sums are exact integers below 2^53: l2 stays 0). */
#define SMALL_ROWS_MAX (UINT64_C(1) << 15) /* 65535 * 2^15 < 2^31 */
#define SMALL_PIXELS 256
#define SMALL_ROWS_DEF(T, SFX, MISS, LO, HI)                                                                           \
    H5MR_HOT static void small_rows_##T##SFX(const T *x, uint64_t rows, uint64_t P, stats_config *c, T m)              \
    {                                                                                                                  \
        (void)m;                                                                                                       \
        T *mnT = (T *)c->mn, *mxT = (T *)c->mx;                                                                        \
        for (uint64_t p0 = 0; p0 < P; p0 += SMALL_PIXELS) {                                                            \
            uint64_t w_ = P - p0 < SMALL_PIXELS ? P - p0 : SMALL_PIXELS;                                               \
            int32_t s1[SMALL_PIXELS], cn[SMALL_PIXELS], lo_[SMALL_PIXELS], hi_[SMALL_PIXELS];                          \
            uint64_t q[SMALL_PIXELS];                                                                                  \
            for (int k = 0; k < SMALL_PIXELS; k++)                                                                     \
                s1[k] = 0, cn[k] = 0, q[k] = 0, lo_[k] = HI, hi_[k] = LO;                                              \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                const T *row = x + r * P + p0;                                                                         \
                for (uint64_t k = 0; k < w_; k++) {                                                                    \
                    int32_t v = row[k];                                                                                \
                    int32_t ok = MISS ? -(int32_t)(v != m) : -1; /* all ones or zero */                                \
                    int32_t w = v & ok;                                                                                \
                    uint32_t a = (uint32_t)(w < 0 ? -w : w);                                                           \
                    s1[k] += w;                                                                                        \
                    q[k] += a * a;                                                                                     \
                    cn[k] -= ok;                                                                                       \
                    int32_t l = w | ((HI) & ~ok), h = w | ((LO) & ~ok);                                                \
                    lo_[k] = l < lo_[k] ? l : lo_[k];                                                                  \
                    hi_[k] = h > hi_[k] ? h : hi_[k];                                                                  \
                }                                                                                                      \
            }                                                                                                          \
            for (uint64_t k = 0; k < w_; k++) {                                                                        \
                c->iacc[p0 + k] = s1[k], c->h2[p0 + k] = (double)q[k], c->cnt[p0 + k] = cn[k];                         \
                mnT[p0 + k] = (T)lo_[k], mxT[p0 + k] = (T)hi_[k];                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }
#define ROWS_SMALL_8(F, ...) (F(__VA_ARGS__), 1)
#define ROWS_SMALL_16(F, ...) (F(__VA_ARGS__), 1)
#define ROWS_SMALL_32(F, ...) 0
#define ROWS_SMALL_64(F, ...) 0
#define SMALL_ROWS_KIND_8(T, LO, HI) SMALL_ROWS_DEF(T, , 0, LO, HI) SMALL_ROWS_DEF(T, _miss, 1, LO, HI)
#define SMALL_ROWS_KIND_16(T, LO, HI) SMALL_ROWS_DEF(T, , 0, LO, HI) SMALL_ROWS_DEF(T, _miss, 1, LO, HI)
#define SMALL_ROWS_KIND_32(T, LO, HI)
#define SMALL_ROWS_KIND_64(T, LO, HI)

/* Σx and Σx² per pixel where there is no NaN and no marker: no masks, no counts,
 * STATS_PIXELS pixels at a time across whole rows (read in order, vectorised across
 * pixels).  0 if a pixel's pairs are not finite (a NaN, an infinity, an overflow), or,
 * with GUARD, a value is below 2^-400 in magnitude (SQUARE's error may then differ from
 * Dekker's): then the masked way. */
#define PAIRS_PLAIN(NAME, T, ATTR, EXACT, ISF, SQUARE, GUARD)                                                          \
    ATTR static int NAME(const T *x, uint64_t rows, uint64_t P, stats_config *c)                                       \
    {                                                                                                                  \
        int tiny = 0;                                                                                                  \
        for (uint64_t p0 = 0; p0 < P; p0 += STATS_PIXELS) {                                                            \
            uint64_t w = P - p0 < STATS_PIXELS ? P - p0 : STATS_PIXELS;                                                \
            double h1[STATS_PIXELS] = {0}, l1[STATS_PIXELS] = {0}, h2[STATS_PIXELS] = {0}, l2[STATS_PIXELS] = {0};     \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                const T *row = x + r * P + p0;                                                                         \
                for (uint64_t k = 0; k < w; k++) {                                                                     \
                    double v = (double)row[k];                                                                         \
                    if (GUARD) tiny |= (fabs(v) < 0x1p-400) & (v != 0);                                                \
                    H5MR_FOLD_X_X2_SQ(EXACT, ISF, v, h1[k], l1[k], h2[k], l2[k], SQUARE);                              \
                }                                                                                                      \
            }                                                                                                          \
            memcpy(c->h1 + p0, h1, w * 8), memcpy(c->l1 + p0, l1, w * 8);                                              \
            memcpy(c->h2 + p0, h2, w * 8), memcpy(c->l2 + p0, l2, w * 8);                                              \
        }                                                                                                              \
        int finite = !tiny;                                                                                            \
        for (uint64_t p = 0; p < P; p++)                                                                               \
            finite &= (c->h1[p] - c->h1[p] == 0.0) & (c->l1[p] - c->l1[p] == 0.0) & (c->h2[p] - c->h2[p] == 0.0) &     \
                      (c->l2[p] - c->l2[p] == 0.0);                                                                    \
        return finite;                                                                                                 \
    }

/* The plain pairs of a type: FMA's exact squares for f64 where the CPU has them. */
static int pairs_plain_f64(const double *x, uint64_t rows, uint64_t P, stats_config *c);
#define PLAIN_OF(T, SFX) _Generic((T)0, double : pairs_plain_f64, default : pairs_plain_##T##SFX)

#define STATS_ROWS(T, SFX, MISS, F, ISF, EXACT, LO, HI, WIDE, BITS)                                                    \
    /* min and max of the item per pixel, in the element type (a loop of its own: it                                   \
     * vectorises alone, not beside the sums) */                                                                       \
    H5MR_HOT static void minmax_##T##SFX(const T *x, uint64_t rows, uint64_t P, T *restrict mn, T *restrict mx, T m)   \
    {                                                                                                                  \
        for (uint64_t r = 0; r < rows; r++) {                                                                          \
            const T *restrict row = x + r * P;                                                                         \
            for (uint64_t p = 0; p < P; p++) {                                                                         \
                T t = row[p];                                                                                          \
                int ok = !MISS || t != m;                                                                              \
                mn[p] = ok && t < mn[p] ? t : mn[p];                                                                   \
                mx[p] = ok && t > mx[p] ? t : mx[p];                                                                   \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    PAIRS_PLAIN(pairs_plain_##T##SFX, T, H5MR_HOT, EXACT, ISF, H5MR_EXACT_SQUARE, 0)                                   \
    /* Σx and Σx² per pixel in TwoSum pairs, four pixels per vector */                                              \
    H5MR_HOT static void pairs_##T##SFX(const T *x, uint64_t rows, uint64_t P, stats_config *c, T m)                   \
    {                                                                                                                  \
        double *h1 = c->h1, *l1 = c->l1, *h2 = c->h2, *l2 = c->l2, *cnt = c->cnt;                                      \
        uint64_t body = P - P % 4;                                                                                     \
        for (uint64_t p = 0; p < body; p += 4) {                                                                       \
            h5mr_v4d H1, L1, H2, L2, N;                                                                                \
            memcpy(&H1, h1 + p, 32), memcpy(&L1, l1 + p, 32), memcpy(&H2, h2 + p, 32), memcpy(&L2, l2 + p, 32);        \
            memcpy(&N, cnt + p, 32);                                                                                   \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                h5mr_v4d v = h5mr_load4_##T(x + r * P + p);                                                            \
                h5mr_v4l ok = v == v;                                                                                  \
                if (MISS) ok &= v != (double)m;                                                                        \
                v = (h5mr_v4d)((h5mr_v4l)v & ok);                                                                      \
                N = N + (h5mr_v4d)((h5mr_v4l)(h5mr_v4d){1, 1, 1, 1} & ok);                                             \
                H5MR_FOLD_X_X2(EXACT, ISF, v, H1, L1, H2, L2);                                                         \
            }                                                                                                          \
            memcpy(h1 + p, &H1, 32), memcpy(l1 + p, &L1, 32), memcpy(h2 + p, &H2, 32), memcpy(l2 + p, &L2, 32);        \
            memcpy(cnt + p, &N, 32);                                                                                   \
        }                                                                                                              \
        for (uint64_t p = body; p < P; p++) {                                                                          \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                double v = (double)x[r * P + p];                                                                       \
                int ok = v == v && (!MISS || v != (double)m);                                                          \
                cnt[p] += ok ? 1.0 : 0.0;                                                                              \
                v = ok ? v : 0.0;                                                                                      \
                H5MR_FOLD_X_X2(EXACT, ISF, v, h1[p], l1[p], h2[p], l2[p]);                                             \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    static void rows_##T##SFX(const T *x, uint64_t rows, stats_config *c, void *state, T m)                            \
    {                                                                                                                  \
        uint64_t P = c->pixels;                                                                                        \
        rows_view s = rows_of(state, P);                                                                               \
        memset(c->h1, 0, P * 8), memset(c->l1, 0, P * 8), memset(c->h2, 0, P * 8), memset(c->l2, 0, P * 8);            \
        memset(c->cnt, 0, P * 8);                                                                                      \
        T *mnT = (T *)c->mn, *mxT = (T *)c->mx;                                                                        \
        for (uint64_t p = 0; p < P; p++)                                                                               \
            mnT[p] = HI, mxT[p] = LO;                                                                                  \
        if (rows <= SMALL_ROWS_MAX && ROWS_SMALL_##BITS(small_rows_##T##SFX, x, rows, P, c, m)) {                      \
            for (uint64_t p = 0; p < P; p++) /* the 8- and 16-bit integers' one pass */                                \
                ((__int128 *)s.s1)[p] += c->iacc[p];                                                                   \
        } else {                                                                                                       \
            minmax_##T##SFX(x, rows, P, mnT, mxT, m);                                                                  \
            int nan_seen = MISS || H5MR_NAN_EARLY(x, rows * P); /* straight to the masked loop */                      \
            if (!nan_seen && PLAIN_OF(T, SFX)(x, rows, P, c)) { /* the masked loop's bits, faster */                   \
                for (uint64_t p = 0; p < P; p++)                                                                       \
                    c->cnt[p] = (double)rows;                                                                          \
            } else {                                                                                                   \
                memset(c->h1, 0, P * 8), memset(c->l1, 0, P * 8), memset(c->h2, 0, P * 8), memset(c->l2, 0, P * 8);    \
                pairs_##T##SFX(x, rows, P, c, m);                                                                      \
            }                                                                                                          \
            if (!ISF) { /* Σx exactly */                                                                              \
                __int128 *s1 = s.s1;                                                                                   \
                if (WIDE) {                                                                                            \
                    for (uint64_t r = 0; r < rows; r++)                                                                \
                        for (uint64_t p = 0; p < P; p++)                                                               \
                            s1[p] += !MISS || x[r * P + p] != m ? x[r * P + p] : 0;                                    \
                } else {                                                                                               \
                    memset(c->iacc, 0, P * 8);                                                                         \
                    for (uint64_t r = 0; r < rows; r++)                                                                \
                        for (uint64_t p = 0; p < P; p++)                                                               \
                            c->iacc[p] += !MISS || x[r * P + p] != m ? x[r * P + p] : 0;                               \
                    for (uint64_t p = 0; p < P; p++)                                                                   \
                        s1[p] += c->iacc[p];                                                                           \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (uint64_t p = 0; p < P; p++) {                                                                             \
            int64_t k = (int64_t)c->cnt[p];                                                                            \
            if (k > 0) {                                                                                               \
                if (s.n[p] == 0 || mnT[p] < s.mn[p].F) s.mn[p].F = mnT[p];                                             \
                if (s.n[p] == 0 || mxT[p] > s.mx[p].F) s.mx[p].F = mxT[p];                                             \
            }                                                                                                          \
            s.n[p] += k;                                                                                               \
            s.nan[p] += (int64_t)rows - k;                                                                             \
            int ok = isfinite(c->h2[p]) && isfinite(c->l2[p]) && (!ISF || (isfinite(c->h1[p]) && isfinite(c->l1[p]))); \
            if (ok) { /* into the pending pairs, if they stay finite; else straight into the sums */                   \
                double a1 = s.ph1[p], b1 = s.pl1[p], a2 = s.ph2[p], b2 = s.pl2[p];                                     \
                if (ISF) {                                                                                             \
                    H5MR_TWOSUM_ACC(a1, b1, c->h1[p]);                                                                 \
                    b1 += c->l1[p];                                                                                    \
                }                                                                                                      \
                H5MR_TWOSUM_ACC(a2, b2, c->h2[p]);                                                                     \
                b2 += c->l2[p];                                                                                        \
                if (isfinite(a1) && isfinite(b1) && isfinite(a2) && isfinite(b2)) {                                    \
                    s.ph1[p] = a1, s.pl1[p] = b1, s.ph2[p] = a2, s.pl2[p] = b2;                                        \
                    continue;                                                                                          \
                }                                                                                                      \
                if (ISF) {                                                                                             \
                    h5mr_rsum_add((h5mr_rsum *)s.s1 + p, c->h1[p]);                                                    \
                    h5mr_rsum_add((h5mr_rsum *)s.s1 + p, c->l1[p]);                                                    \
                }                                                                                                      \
                h5mr_rsum_add(&s.s2[p], c->h2[p]);                                                                     \
                h5mr_rsum_add(&s.s2[p], c->l2[p]);                                                                     \
                continue;                                                                                              \
            }                                                                                                          \
            /* an infinity or a square past the double range: this pixel value by value */                             \
            for (uint64_t r = 0; r < rows; r++) {                                                                      \
                double v = (double)x[r * P + p], sq, e = 0.0;                                                          \
                if (v != v || (MISS && v == (double)m)) continue;                                                      \
                if (ISF) h5mr_rsum_add((h5mr_rsum *)s.s1 + p, v);                                                      \
                if (fabs(v) < 0x1p996) {                                                                               \
                    H5MR_EXACT_SQUARE(v, sq, e);                                                                       \
                } else {                                                                                               \
                    sq = v * v;                                                                                        \
                }                                                                                                      \
                h5mr_rsum_add(&s.s2[p], sq);                                                                           \
                h5mr_rsum_add(&s.s2[p], e);                                                                            \
            }                                                                                                          \
        }                                                                                                              \
        if ((*s.pend += (int64_t)rows) >= FLUSH_ROWS) rows_flush(s, P, ISF);                                           \
    }

#define H5MR_EACH(T, W, ISF, BITS, LO, HI)                                                                             \
    SMALL_ROWS_KIND_##BITS(T, LO, HI)                                                                                  \
        STATS_ROWS(T, , 0, W, ISF, SQUARE_EXACT(ISF, BITS), LO, HI, !(ISF) && (BITS) == 64, BITS)                      \
            STATS_ROWS(T, _miss, 1, W, ISF, SQUARE_EXACT(ISF, BITS), LO, HI, !(ISF) && (BITS) == 64, BITS)
H5MR_DTYPE_EACH
#undef H5MR_EACH

#if H5MR_X86_PATHS
#define SQUARE_FMA_1(x, p, e) ((p) = (x) * (x), (e) = fma(x, x, -(p)))
PAIRS_PLAIN(pairs_plain_fma_double, double, H5MR_FMA_TARGET, 0, 1, SQUARE_FMA_1, 1)
#endif
static int pairs_plain_f64(const double *x, uint64_t rows, uint64_t P, stats_config *c)
{
#if H5MR_X86_PATHS
    if (h5mr__have_fma()) return pairs_plain_fma_double(x, rows, P, c);
#endif
    return pairs_plain_double(x, rows, P, c);
}

static void rows_combine(void *into, const void *from, uint64_t P, h5mr_dtype t)
{
    rows_view a = rows_of(into, P), b = rows_of((void *)from, P);
    int is_float = h5mr_dtype_is_float(t), is_signed = h5mr_dtype_is_signed(t);
    /* Pending pairs: into's flushed, from's added as they are (from stays as it is). */
    rows_flush(a, P, is_float);
    for (uint64_t p = 0; p < P; p++) {
        if (is_float) {
            h5mr_rsum_add((h5mr_rsum *)a.s1 + p, b.ph1[p]);
            h5mr_rsum_add((h5mr_rsum *)a.s1 + p, b.pl1[p]);
        }
        h5mr_rsum_add(&a.s2[p], b.ph2[p]);
        h5mr_rsum_add(&a.s2[p], b.pl2[p]);
    }
    for (uint64_t p = 0; p < P; p++) {
        if (b.n[p] > 0) {
            int lo, hi;
            if (is_float)
                lo = b.mn[p].f<a.mn[p].f, hi = b.mx[p].f> a.mx[p].f;
            else if (is_signed)
                lo = b.mn[p].i<a.mn[p].i, hi = b.mx[p].i> a.mx[p].i;
            else
                lo = b.mn[p].u<a.mn[p].u, hi = b.mx[p].u> a.mx[p].u;
            if (a.n[p] == 0 || lo) a.mn[p] = b.mn[p];
            if (a.n[p] == 0 || hi) a.mx[p] = b.mx[p];
        }
        a.n[p] += b.n[p];
        a.nan[p] += b.nan[p];
        h5mr_rsum_merge(&a.s2[p], &b.s2[p]);
        if (is_float)
            h5mr_rsum_merge((h5mr_rsum *)a.s1 + p, (const h5mr_rsum *)b.s1 + p);
        else
            ((__int128 *)a.s1)[p] += ((const __int128 *)b.s1)[p];
    }
}

/* Packed integers (h5mr_ctx_accept_packed): the results of the values from the exact
 * sums of the stored ones, a value being stored·scale + offset: the sum exactly
 * rounded, the variance scale² times the stored values', min and max unpacked as a
 * netCDF reader unpacks them (swapped when scale < 0). */
typedef struct unpacked {
    double sum, mean, var, min, max;
} unpacked;

static unpacked unpack_moments(const h5mr_packing *pk, __int128 isum, int64_t n, h5mr_dd s2, double mn, double mx)
{
    h5mr_dd t = h5mr_unpack_sum(pk->scale, pk->offset, isum, n);
    unpacked u = {t.hi, NAN, NAN, NAN, NAN};
    if (n == 0) return u;
    u.mean = h5mr_dd_div(t, (double)n);
    double hi = (double)isum, a2, e;
    double vs = h5mr_variance((double)n, (h5mr_dd){hi, (double)(isum - (__int128)hi)}, s2);
    H5MR_TWO_PROD(pk->scale, pk->scale, a2, e);
    u.var = vs * a2 + vs * e;
    double lo = h5mr_unpack(pk, mn), up = h5mr_unpack(pk, mx);
    u.min = pk->scale >= 0 ? lo : up;
    u.max = pk->scale >= 0 ? up : lo;
    return u;
}

static h5mr_status rows_finish(h5mr_ctx *ctx, void *state, h5mr_result *r)
{
    const stats_config *c = h5mr_ctx_config(ctx);
    const uint64_t *shape;
    int nd;
    uint64_t P = h5mr_trailing(ctx, &shape, &nd);
    h5mr_dtype t = h5mr_ctx_dtype(ctx);
    int is_float = h5mr_dtype_is_float(t), is_signed = h5mr_dtype_is_signed(t), wide = 0, big = 0;
    rows_view s = rows_of(state, P);
    double *sum = malloc(P * 8 + 8), *mean = malloc(P * 8 + 8), *var = malloc(P * 8 + 8), *sd = malloc(P * 8 + 8);
    double *fmn = malloc(P * 8 + 8), *fmx = malloc(P * 8 + 8);
    int64_t *isum = malloc(P * 8 + 8), *imn = malloc(P * 8 + 8), *imx = malloc(P * 8 + 8);
    uint8_t *valid = malloc(P + 1);
    h5mr_status st = H5MR_ENOMEM;
    if (!sum || !mean || !var || !sd || !fmn || !fmx || !isum || !imn || !imx || !valid) goto out;
    for (uint64_t p = 0; p < P; p++) {
        h5mr_dd s1, s2;
        /* the exact sums with the pending pairs (the state stays as it is) */
        h5mr_rsum t1 = is_float ? ((h5mr_rsum *)s.s1)[p] : (h5mr_rsum){0}, t2 = s.s2[p];
        h5mr_rsum_add(&t1, s.ph1[p]), h5mr_rsum_add(&t1, s.pl1[p]);
        h5mr_rsum_add(&t2, s.ph2[p]), h5mr_rsum_add(&t2, s.pl2[p]);
        if (is_float) {
            h5mr_rsum_round2(&t1, &s1.hi, &s1.lo);
        } else {
            __int128 v = ((__int128 *)s.s1)[p];
            s1.hi = (double)v;
            s1.lo = (double)(v - (__int128)s1.hi);
            wide |= v < INT64_MIN || v > INT64_MAX;
            isum[p] = (int64_t)v;
            big |= !is_signed && s.n[p] > 0 && s.mx[p].u > INT64_MAX;
        }
        h5mr_rsum_round2(&t2, &s2.hi, &s2.lo);
        double n = (double)s.n[p];
        valid[p] = s.n[p] > 0;
        sum[p] = s1.hi;
        mean[p] = valid[p] ? h5mr_dd_div(s1, n) : NAN;
        var[p] = valid[p] ? h5mr_variance(n, s1, s2) : NAN;
        sd[p] = sqrt(var[p]);
        if (is_float) {
            fmn[p] = valid[p] ? s.mn[p].f : NAN;
            fmx[p] = valid[p] ? s.mx[p].f : NAN;
        } else if (is_signed) {
            imn[p] = s.mn[p].i, imx[p] = s.mx[p].i;
            fmn[p] = valid[p] ? (double)s.mn[p].i : NAN, fmx[p] = valid[p] ? (double)s.mx[p].i : NAN;
        } else {
            imn[p] = (int64_t)s.mn[p].u, imx[p] = (int64_t)s.mx[p].u;
            fmn[p] = valid[p] ? (double)s.mn[p].u : NAN, fmx[p] = valid[p] ? (double)s.mx[p].u : NAN;
        }
        if (c->pk && c->pk->packed) {
            unpacked u = unpack_moments(c->pk, ((__int128 *)s.s1)[p], s.n[p], s2, fmn[p], fmx[p]);
            sum[p] = u.sum, mean[p] = u.mean, var[p] = u.var, sd[p] = sqrt(u.var), fmn[p] = u.min, fmx[p] = u.max;
        }
    }
    if (c->pk && c->pk->packed) is_float = 1, wide = 0, big = 0;
    if (is_float && h5mr_ctx_values_integral(ctx)) {
        /* The stored integers widened to f64 (a companion, a fill value): integer sums,
         * minima and maxima, as for the stored type. */
        int fits = 1;
        for (uint64_t p = 0; p < P; p++)
            fits &= !valid[p] || (fabs(sum[p]) < 0x1p52 && fabs(fmn[p]) < 0x1p62 && fabs(fmx[p]) < 0x1p62);
        if (fits) {
            for (uint64_t p = 0; p < P; p++) {
                isum[p] = (int64_t)sum[p];
                imn[p] = valid[p] ? (int64_t)fmn[p] : 0, imx[p] = valid[p] ? (int64_t)fmx[p] : 0;
            }
            is_float = 0, wide = 0, big = 0;
        }
    }
    int fsum = is_float || wide;
    st = h5mr_result_set_array(r, "count", H5MR_FIELD_I64, nd, shape, s.n, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "nan_count", H5MR_FIELD_I64, nd, shape, s.nan, NULL);
    if (st == H5MR_OK)
        st = h5mr_result_set_array(r, "sum", fsum ? H5MR_FIELD_F64 : H5MR_FIELD_I64, nd, shape,
                                   fsum ? (void *)sum : isum, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "mean", H5MR_FIELD_F64, nd, shape, mean, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "var", H5MR_FIELD_F64, nd, shape, var, NULL);
    if (st == H5MR_OK) st = h5mr_result_set_array(r, "std", H5MR_FIELD_F64, nd, shape, sd, NULL);
    /* u64 past INT64_MAX: imn/imx hold the same 8 bytes, read as uint64_t. */
    h5mr_field_type mmt = is_float ? H5MR_FIELD_F64 : big ? H5MR_FIELD_U64 : H5MR_FIELD_I64;
    if (st == H5MR_OK)
        st = h5mr_result_set_array(r, "min", mmt, nd, shape, is_float ? (void *)fmn : imn, is_float ? NULL : valid);
    if (st == H5MR_OK)
        st = h5mr_result_set_array(r, "max", mmt, nd, shape, is_float ? (void *)fmx : imx, is_float ? NULL : valid);
out:
    free(sum), free(mean), free(var), free(sd), free(fmn), free(fmx), free(isum), free(imn), free(imx), free(valid);
    return st;
}

static h5mr_status stats_setup(h5mr_ctx *ctx)
{
    h5mr_ctx_allow_joined_items(ctx); /* blocks are rows; which item they came from does not matter */
    stats_config *c = h5mr_ctx_config_alloc(ctx, sizeof *c, stats_config_free);
    if (!c) return H5MR_ENOMEM;
    h5mr_status st = h5mr_param_axis(ctx, "stats", &c->over_rows);
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
        h5mr_ctx_set_state_size(ctx, sizeof(stats_state));
        return H5MR_OK;
    }
    uint64_t P = c->pixels = h5mr_trailing(ctx, &shape, &nd), m = (P ? P : 1) * 8;
    c->h1 = malloc(m), c->l1 = malloc(m), c->h2 = malloc(m), c->l2 = malloc(m), c->cnt = malloc(m);
    c->mn = malloc(m), c->mx = malloc(m), c->iacc = malloc(m);
    if (!c->h1 || !c->l1 || !c->h2 || !c->l2 || !c->cnt || !c->mn || !c->mx || !c->iacc) return H5MR_ENOMEM;
    h5mr_ctx_set_state_size(ctx, rows_size(P, h5mr_dtype_is_float(h5mr_ctx_dtype(ctx))));
    return H5MR_OK;
}

static h5mr_status stats_init(h5mr_ctx *ctx, void *state)
{
    const stats_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) {
        h5mr__winit(state, c->pixels);
        return H5MR_OK;
    }
    if (c->over_rows) return H5MR_OK; /* zero counts: min and max are unset */
    stats_state *s = state;
    s->fmin = INFINITY;
    s->fmax = -INFINITY;
    s->imin = ((__int128)1) << 100;
    s->imax = -s->imin;
    return H5MR_OK;
}

static h5mr_status stats_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    uint64_t n = b->rows * b->row_elems;
    stats_state *s = state;
    stats_config *c = h5mr_ctx_config(ctx);
    if (c->weighted)
        return h5mr__wfold(ctx, state, c->pixels, c->over_rows, b, h5mr_block_input(b, H5MR_ROLE_WEIGHTS), 1, &c->wsc);
    int miss = c->pk && c->pk->has_missing; /* packed integers with a missing marker */
    if (c->over_rows) {
#define H5MR_CASE(T, W)                                                                                                \
    if (miss)                                                                                                          \
        rows_##T##_miss(b->data, b->rows, c, state, (T)c->pk->missing);                                                \
    else                                                                                                               \
        rows_##T(b->data, b->rows, c, state, (T)0);
        H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "stats: unsupported type");)
#undef H5MR_CASE
        return H5MR_OK;
    }
    /* integers: exact sums in integer lanes; floats: TwoSum lanes into the exact sum */
#define STATS_ITEM_i(T) STATS_ITEM_INT(T)
#define STATS_ITEM_u(T) STATS_ITEM_INT(T)
#define STATS_ITEM_INT(T) ints_item_##T(b->data, n, miss, miss ? (T)c->pk->missing : (T)0, s);
#define STATS_ITEM_f(T) item_##T(b->data, n, s, &s->s1);
#define H5MR_CASE(T, W) STATS_ITEM_##W(T)
    H5MR_DTYPE_SWITCH(b->dtype, return h5mr_ctx_error(ctx, H5MR_EINPUT, "stats: unsupported type");)
#undef H5MR_CASE
    return H5MR_OK;
}

static h5mr_status stats_combine(h5mr_ctx *ctx, void *into, const void *from)
{
    const stats_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) {
        h5mr__wcombine(into, from, c->pixels, c->over_rows);
        return H5MR_OK;
    }
    if (c->over_rows) {
        rows_combine(into, from, c->pixels, h5mr_ctx_dtype(ctx));
        return H5MR_OK;
    }
    stats_state *a = into;
    const stats_state *b = from;
    a->isum += b->isum;
    if (b->imin < a->imin) a->imin = b->imin;
    if (b->imax > a->imax) a->imax = b->imax;
    a->count += b->count;
    a->nan_count += b->nan_count;
    a->fmin = b->fmin < a->fmin ? b->fmin : a->fmin;
    a->fmax = b->fmax > a->fmax ? b->fmax : a->fmax;
    h5mr_xsum_merge(&a->s1, &b->s1);
    h5mr_xsum_merge(&a->s2, &b->s2);
    return H5MR_OK;
}

static h5mr_status set_int(h5mr_result *r, const char *name, __int128 v)
{
    if (v >= INT64_MIN && v <= INT64_MAX) return h5mr_result_set_i64(r, name, (int64_t)v);
    if (v >= 0 && v <= (__int128)UINT64_MAX) {
        uint64_t u = (uint64_t)v;
        return h5mr_result_set_array(r, name, H5MR_FIELD_U64, 0, NULL, &u, NULL);
    }
    return h5mr_result_set_f64(r, name, (double)v);
}

static h5mr_status stats_finish(h5mr_ctx *ctx, const void *state, h5mr_result *r)
{
    const stats_config *c = h5mr_ctx_config(ctx);
    if (c->weighted) {
        const uint64_t *shape = NULL;
        int nd = 0;
        if (c->over_rows) h5mr_trailing(ctx, &shape, &nd);
        return h5mr__wfinish(state, c->pixels, c->over_rows, 1, nd, shape, r);
    }
    if (c->over_rows) return rows_finish(ctx, (void *)state, r);
    const stats_state *s = state;
    int is_float = h5mr_dtype_is_float(h5mr_ctx_dtype(ctx));
    double n = (double)s->count;
    h5mr_dd s1;
    if (is_float) {
        h5mr_xsum_round2(&s->s1, &s1.hi, &s1.lo);
    } else {
        s1.hi = (double)s->isum;
        s1.lo = (double)(s->isum - (__int128)s1.hi);
    }
    h5mr_dd s2;
    h5mr_xsum_round2(&s->s2, &s2.hi, &s2.lo);

    h5mr_status st = h5mr_result_set_i64(r, "count", s->count);
    if (st == H5MR_OK) st = h5mr_result_set_i64(r, "nan_count", s->nan_count);
    if (c->pk && c->pk->packed) {
        unpacked u = unpack_moments(c->pk, s->isum, s->count, s2, (double)s->imin, (double)s->imax);
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "sum", u.sum);
        const char *name[] = {"mean", "var", "std", "min", "max"};
        double v[] = {u.mean, u.var, sqrt(u.var), u.min, u.max};
        for (int i = 0; i < 5 && st == H5MR_OK; i++)
            st = s->count ? h5mr_result_set_f64(r, name[i], v[i]) : h5mr_result_set_null(r, name[i]);
        return st;
    }
    /* The stored integers widened to f64 (a companion, a fill value): integer results. */
    int integral = is_float && h5mr_ctx_values_integral(ctx) && fabs(s1.hi) < 0x1p62 && fabs(s->fmin) < 0x1p62 &&
                   fabs(s->fmax) < 0x1p62;
    if (st == H5MR_OK)
        st = integral   ? set_int(r, "sum", (__int128)s1.hi + (__int128)s1.lo)
             : is_float ? h5mr_result_set_f64(r, "sum", s1.hi)
                        : set_int(r, "sum", s->isum);
    if (st != H5MR_OK) return st;
    if (s->count == 0) {
        const char *undefined[] = {"mean", "var", "std", "min", "max"};
        for (int i = 0; i < 5 && st == H5MR_OK; i++)
            st = h5mr_result_set_null(r, undefined[i]);
        return st;
    }
    double mean = h5mr_dd_div(s1, n);
    double var = h5mr_variance(n, s1, s2);
    st = h5mr_result_set_f64(r, "mean", mean);
    if (st == H5MR_OK) st = h5mr_result_set_f64(r, "var", var);
    if (st == H5MR_OK) st = h5mr_result_set_f64(r, "std", sqrt(var));
    if (integral) {
        if (st == H5MR_OK) st = set_int(r, "min", (__int128)s->fmin);
        if (st == H5MR_OK) st = set_int(r, "max", (__int128)s->fmax);
    } else if (is_float) {
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "min", s->fmin);
        if (st == H5MR_OK) st = h5mr_result_set_f64(r, "max", s->fmax);
    } else {
        if (st == H5MR_OK) st = set_int(r, "min", s->imin);
        if (st == H5MR_OK) st = set_int(r, "max", s->imax);
    }
    return st;
}

static const h5mr_param_decl stats_params[] = {H5MR_AXIS_PARAM, {NULL, NULL, NULL}};

const h5mr_kernel h5mr__kernel_stats = {
    H5MR_KERNEL_FIELDS("stats", "count, nan_count, sum, mean, var (ddof 0), std, min, max of non-NaN elements", stats),
    .init = stats_init};
