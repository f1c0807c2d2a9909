/* select.c: numpy-style selections of a dataset ('/tas[0:744]', '/tas[:, 10:20, ::2]',
 * '/tas[-24:, 5]'), parsed from the dataset argument and resolved against the shape of
 * the concatenated input, as numpy's a[selection] is. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

h5mr_status h5mr__sel_split(const char *arg, char **name, char **sel)
{
    *name = *sel = NULL;
    /* From the last '[' on (an unclosed one too: "/t[1:2" is a malformed selection,
     * not a dataset of that name). */
    size_t len = strlen(arg);
    const char *open = strrchr(arg, '[');
    size_t at = open ? (size_t)(open - arg) : len;
    if (!(*name = strndup(arg, at)) || (open && !(*sel = strdup(open)))) {
        free(*name);
        *name = NULL;
        return H5MR_ENOMEM;
    }
    return H5MR_OK;
}

/* An optional signed integer at *p; *given 0 when there is none. */
static int parse_int(const char **p, int64_t *v, int *given)
{
    while (isspace((unsigned char)**p))
        (*p)++;
    *given = 0;
    if (!**p || **p == ':' || **p == ',' || **p == ']') return 0;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(*p, &end, 10);
    if (end == *p || errno) return -1;
    *p = end;
    *v = x;
    *given = 1;
    while (isspace((unsigned char)**p))
        (*p)++;
    return 0;
}

h5mr_status h5mr__sel_parse(const char *text, h5mr__sel *s, h5mr_error *err)
{
    memset(s, 0, sizeof *s);
    if (!text) return H5MR_OK;
    s->given = 1;
    const char *p = text;
    if (*p++ != '[') return h5mr__error_set(err, H5MR_EUSAGE, "selection '%s' does not start with '['", text);
    for (;;) {
        if (s->n == H5MR__MAX_DIMS)
            return h5mr__error_set(err, H5MR_EUSAGE, "selection '%s' has more than %d entries", text, H5MR__MAX_DIMS);
        h5mr__sel_entry *e = &s->e[s->n];
        int given = 0;
        if (parse_int(&p, &e->start, &given) < 0) goto bad;
        e->has_start = given;
        if (*p == ':') {
            p++;
            if (parse_int(&p, &e->stop, &given) < 0) goto bad;
            e->has_stop = given;
            e->step = 1;
            if (*p == ':') {
                p++;
                if (parse_int(&p, &e->step, &given) < 0) goto bad;
                if (!given) e->step = 1;
            }
            if (e->step < 1)
                return h5mr__error_set(err, H5MR_EUSAGE,
                                       "selection '%s': step %lld in entry %d; h5mr takes steps of 1 or more", text,
                                       (long long)e->step, s->n + 1);
        } else if (e->has_start) {
            e->index = 1;
        } else {
            goto bad; /* an empty entry: '[]', '[,1]' */
        }
        s->n++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ']' && p[1] == '\0') return H5MR_OK;
        goto bad;
    }
bad:
    return h5mr__error_set(err, H5MR_EUSAGE,
                           "selection '%s' is malformed: give start:stop:step or an integer per dimension, "
                           "e.g. '[0:744]' or '[:, 10:20, ::2]'",
                           text);
}

h5mr_status h5mr__sel_resolve(const h5mr__sel *s, int ndims, const uint64_t *shape, h5mr__view *v, h5mr_error *err,
                              const char *text)
{
    memset(v, 0, sizeof *v);
    v->ndims = ndims;
    v->whole = 1;
    if (s->n > ndims)
        return h5mr__error_set(err, H5MR_EUSAGE, "selection '%s' has %d entries; the dataset has %d dimension%s", text,
                               s->n, ndims, ndims == 1 ? "" : "s");
    v->split = -1;
    for (int d = 0; d < ndims; d++) {
        int64_t n = (int64_t)shape[d];
        v->start[d] = 0;
        v->step[d] = 1;
        v->count[d] = shape[d];
        v->keep[d] = 1;
        if (d < s->n) {
            const h5mr__sel_entry *e = &s->e[d];
            if (e->index) {
                int64_t i = e->start < 0 ? e->start + n : e->start;
                if (i < 0 || i >= n)
                    return h5mr__error_set(err, H5MR_EUSAGE,
                                           "selection '%s': index %lld is out of range for dimension %d of size %lld",
                                           text, (long long)e->start, d, (long long)n);
                v->start[d] = (uint64_t)i;
                v->count[d] = 1;
                v->keep[d] = 0;
            } else {
                /* numpy: negative bounds count from the end, then both are clipped. */
                int64_t a = e->has_start ? e->start : 0, b = e->has_stop ? e->stop : n;
                if (a < 0) a += n;
                if (b < 0) b += n;
                a = a < 0 ? 0 : a > n ? n : a;
                b = b < 0 ? 0 : b > n ? n : b;
                v->start[d] = (uint64_t)a;
                v->step[d] = (uint64_t)e->step;
                v->count[d] = b > a ? (uint64_t)((b - a + e->step - 1) / e->step) : 0;
            }
            if (v->start[d] != 0 || v->step[d] != 1 || v->count[d] != shape[d] || !v->keep[d]) v->whole = 0;
        }
        if (v->keep[d] && v->split < 0) v->split = d;
    }
    if (v->split < 0)
        return h5mr__error_set(err, H5MR_EUSAGE,
                               "selection '%s' leaves no dimension (every entry is an integer); h5mr needs an array: "
                               "write one of them as a slice, such as 5:6",
                               text);
    return H5MR_OK;
}

int h5mr__view_shape(const h5mr__view *v, uint64_t *shape)
{
    int k = 0;
    for (int d = 0; d < v->ndims; d++)
        if (v->keep[d]) shape[k++] = v->count[d];
    return k;
}
