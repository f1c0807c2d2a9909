/* suggest.h: "did you mean": the closest of some names to a mistyped one.  Header-only
 * (static), so the library and the command share one copy of the code; never installed. */
#ifndef H5MR_SUGGEST_H
#define H5MR_SUGGEST_H

#include <stddef.h>
#include <string.h>

/* Edit distance (insert, delete, substitute, swap two neighbours), capped at 9. */
static inline int h5mr__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 9;
    int d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb] > 9 ? 9 : d[la][lb];
}

/* The candidate closest to word, or NULL when none is close (at most a third of the
 * word's letters wrong, at least one allowed; a candidate that starts with the word,
 * or that the word starts with, counts as close too). */
static inline const char *h5mr__suggest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    int bestd = 99;
    size_t lw = strlen(word);
    int limit = (int)(lw / 3) > 1 ? (int)(lw / 3) : 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || !strcmp(cands[i], word)) continue;
        int d = h5mr__edit_distance(word, cands[i]);
        size_t lc = strlen(cands[i]);
        if (d > limit && lw >= 3 && lc >= 3 && (!strncmp(cands[i], word, lw) || !strncmp(word, cands[i], lc)))
            d = limit;
        if (d <= limit && d < bestd) {
            best = cands[i];
            bestd = d;
        }
    }
    return best;
}

#endif
