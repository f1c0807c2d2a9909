/* utf8.h: is this valid UTF-8?  Header-only (static), shared by the library's JSON and
 * the command's terminal output; never installed. */
#ifndef H5MR_UTF8_H
#define H5MR_UTF8_H

#include <stdint.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if p starts none. */
static inline int h5mr__utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n <= 1) return n;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    uint32_t cp = p[0] & (0x7f >> n);
    for (int i = 1; i < n; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    /* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

#endif
