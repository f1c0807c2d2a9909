/* xsum.c: an exact accumulator of doubles (a long fixed-point number).
 *
 * Word i holds a signed count of units 2^(32*i + BASE).  A double m * 2^e (m < 2^53)
 * lands in at most three words as 32-bit digits, so a word grows by less than 2^32
 * per addition and may take 2^30 additions before its carries must move up. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define BASE (-1088) /* a multiple of 32 below the weight of the least subnormal, 2^-1074 */
#define NW H5MR_XSUM_WORDS
#define CARRY_EVERY ((int64_t)1 << 30)

static void carry(h5mr_xsum *s)
{
    for (int i = 0; i < NW - 1; i++) {
        int64_t lo = s->w[i] & 0xffffffff;
        int64_t c = (s->w[i] - lo) / ((int64_t)1 << 32); /* exact: floor division */
        s->w[i] = lo;
        s->w[i + 1] += c;
    }
    s->adds = 0;
}

void h5mr_xsum_add(h5mr_xsum *s, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    int neg = (int)(u >> 63);
    int ef = (int)((u >> 52) & 0x7ff);
    uint64_t m = u & (((uint64_t)1 << 52) - 1);
    if (ef == 0x7ff) {
        s->special |= m ? 4 : (neg ? 2 : 1);
        return;
    }
    if (ef == 0 && m == 0) return;
    int e;
    if (ef == 0) {
        e = -1074;
    } else {
        m |= (uint64_t)1 << 52;
        e = ef - 1075;
    }
    int pos = e - BASE;
    int i = pos >> 5;
    unsigned __int128 v = (unsigned __int128)m << (pos & 31);
    int64_t d0 = (int64_t)(v & 0xffffffff);
    int64_t d1 = (int64_t)((v >> 32) & 0xffffffff);
    int64_t d2 = (int64_t)(v >> 64);
    if (neg) {
        s->w[i] -= d0;
        s->w[i + 1] -= d1;
        s->w[i + 2] -= d2;
    } else {
        s->w[i] += d0;
        s->w[i + 1] += d1;
        s->w[i + 2] += d2;
    }
    if (++s->adds >= CARRY_EVERY) carry(s);
}

void h5mr_xsum_merge(h5mr_xsum *into, const h5mr_xsum *from)
{
    h5mr_xsum f = *from;
    carry(&f);
    carry(into);
    for (int i = 0; i < NW; i++)
        into->w[i] += f.w[i];
    into->adds = 2; /* every word grew by less than 2^33 */
    into->special |= from->special;
}

static double special_value(int64_t sp)
{
    if ((sp & 4) || (sp & 3) == 3) return NAN;
    return (sp & 1) ? INFINITY : -INFINITY;
}

double h5mr_xsum_round(const h5mr_xsum *src)
{
    if (src->special) return special_value(src->special);
    h5mr_xsum s = *src;
    carry(&s);
    /* After carrying, words below the top are digits in [0, 2^32); the sign of the
     * whole is the sign of the top word. */
    int neg = s.w[NW - 1] < 0;
    if (neg) {
        for (int i = 0; i < NW; i++)
            s.w[i] = -s.w[i];
        carry(&s);
    }
    int k = NW - 1;
    while (k >= 0 && s.w[k] == 0)
        k--;
    if (k < 0) return 0.0;
    /* Take the top 96 bits (words k, k-1, k-2) and fold the rest into a sticky bit. */
    unsigned __int128 top = 0;
    int sticky = 0;
    for (int j = 0; j < 3; j++) {
        top <<= 32;
        if (k - j >= 0) top |= (uint64_t)s.w[k - j];
    }
    for (int i = k - 3; i >= 0; i--)
        if (s.w[i]) {
            sticky = 1;
            break;
        }
    int lead = 0; /* bits in top */
    for (unsigned __int128 t = top; t; t >>= 1)
        lead++;
    int shift = lead - 64; /* shift top right to get 64 significant bits */
    uint64_t mant;
    if (shift > 0) {
        unsigned __int128 lost = top & (((unsigned __int128)1 << shift) - 1);
        mant = (uint64_t)(top >> shift);
        if (lost) sticky = 1;
    } else {
        mant = (uint64_t)(top << -shift);
    }
    /* The sticky bit below the rounding position makes uint64 → double round correctly
     * (ties are exact only when nothing below was lost). */
    if (sticky) mant |= 1;
    int exp2 = 32 * (k - 2) + BASE + shift;
    double r = ldexp((double)mant, exp2);
    return neg ? -r : r;
}

void h5mr_xsum_round2(const h5mr_xsum *s, double *hi, double *lo)
{
    double h = h5mr_xsum_round(s);
    *hi = h;
    if (!isfinite(h)) {
        *lo = 0.0;
        return;
    }
    h5mr_xsum r = *s;
    h5mr_xsum_add(&r, -h);
    *lo = h5mr_xsum_round(&r);
}
