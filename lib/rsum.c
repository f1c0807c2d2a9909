/* rsum.c: a compact sum that gives the same bits in any order (see h5mr_rsum in h5mr.h).
 *
 * A value is cut into 32-bit digits on the same grid as h5mr_xsum (word w holds
 * weight 2^(32w - 1088)).  The sum keeps four words: the highest word any value has
 * reached so far ("top") and the three below, each the exact sum of its digits, with
 * no carry between words.  A digit below the window is dropped.  When a larger value
 * raises top, the lowest words fall out of the window: exactly the digits that would
 * have been dropped had that value come first.  So the final content is the sum, over
 * all values, of their digits in the final window, whatever the order or grouping. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define BASE (-1088)
#define K 4

/* The digits of |x| (d[0] in word w0) and the sign; 0 when x is 0. */
static int digits(double x, int *w0, int64_t d[3], int *neg, int *special)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    *neg = (int)(u >> 63);
    int ef = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & (((uint64_t)1 << 52) - 1);
    if (ef == 0x7ff) {
        *special |= m ? 4 : (*neg ? 2 : 1);
        return 0;
    }
    if (ef == 0 && m == 0) return 0;
    int e = ef == 0 ? -1074 : ef - 1075;
    if (ef) m |= (uint64_t)1 << 52;
    int pos = e - BASE;
    *w0 = pos >> 5;
    unsigned __int128 v = (unsigned __int128)m << (pos & 31);
    d[0] = (int64_t)(v & 0xffffffff);
    d[1] = (int64_t)((v >> 32) & 0xffffffff);
    d[2] = (int64_t)(v >> 64);
    return 1;
}

/* Move the window up so that its top word is `top`. */
static void raise_to(h5mr_rsum *s, int top)
{
    int shift = top - (s->top1 - 1);
    for (int j = K - 1; j >= 0; j--)
        s->bin[j] = j - shift >= 0 ? s->bin[j - shift] : 0;
    s->top1 = top + 1;
}

void h5mr_rsum_add(h5mr_rsum *s, double x)
{
    int w0, neg;
    int64_t d[3];
    if (!digits(x, &w0, d, &neg, &s->special)) return;
    int hw = d[2] ? w0 + 2 : d[1] ? w0 + 1 : w0;
    if (s->top1 == 0)
        s->top1 = hw + 1;
    else if (hw > s->top1 - 1)
        raise_to(s, hw);
    int top = s->top1 - 1;
    for (int k = 0; k < 3; k++) {
        int j = top - (w0 + k);
        if (j >= 0 && j < K) s->bin[j] += neg ? -d[k] : d[k];
    }
}

void h5mr_rsum_merge(h5mr_rsum *into, const h5mr_rsum *from)
{
    into->special |= from->special;
    if (from->top1 == 0) return;
    h5mr_rsum f = *from;
    if (into->top1 == 0) {
        f.special = into->special;
        *into = f;
        return;
    }
    if (f.top1 > into->top1)
        raise_to(into, f.top1 - 1);
    else if (into->top1 > f.top1)
        raise_to(&f, into->top1 - 1);
    for (int j = 0; j < K; j++)
        into->bin[j] += f.bin[j];
}

/* Add v · 2^(32w + BASE) (v any 128-bit integer) into an exact accumulator. */
static void xsum_add_scaled(h5mr_xsum *x, __int128 v, int w)
{
    int neg = v < 0;
    unsigned __int128 a = neg ? -(unsigned __int128)v : (unsigned __int128)v;
    for (int k = 0; a != 0; k++, a >>= 32) {
        uint64_t digit = (uint64_t)(a & 0xffffffff);
        if (digit == 0) continue;
        /* digit · 2^(32(w+k) + BASE) is a double exactly (32 bits, in range). */
        double part = ldexp((double)digit, 32 * (w + k) + BASE);
        h5mr_xsum_add(x, neg ? -part : part);
    }
}

static void to_xsum(const h5mr_rsum *s, h5mr_xsum *x)
{
    memset(x, 0, sizeof *x);
    x->special = s->special;
    int top = s->top1 - 1;
    for (int j = 0; s->top1 && j < K; j++)
        if (s->bin[j]) xsum_add_scaled(x, s->bin[j], top - j);
}

double h5mr_rsum_round(const h5mr_rsum *s)
{
    h5mr_xsum x;
    to_xsum(s, &x);
    return h5mr_xsum_round(&x);
}

void h5mr_rsum_round2(const h5mr_rsum *s, double *hi, double *lo)
{
    h5mr_xsum x;
    to_xsum(s, &x);
    h5mr_xsum_round2(&x, hi, lo);
}
