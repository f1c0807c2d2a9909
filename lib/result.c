/* result.c: named result fields (scalars and shaped arrays) and their JSON form. */
#include "internal.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct field_store {
    h5mr_field f;
    char *name;
    uint64_t *shape;
    void *data;
    uint8_t *valid;
} field_store;

struct h5mr_result {
    field_store *fields;
    size_t n, cap;
};

h5mr_result *h5mr__result_new(void) { return calloc(1, sizeof(h5mr_result)); }

void h5mr__result_free(h5mr_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->fields[i].name);
        free(r->fields[i].shape);
        free(r->fields[i].data);
        free(r->fields[i].valid);
    }
    free(r->fields);
    free(r);
}

h5mr_status h5mr_result_set_array(h5mr_result *r, const char *name, h5mr_field_type type, int ndims,
                                  const uint64_t *shape, const void *data, const uint8_t *valid)
{
    if (!r || !name || ndims < 0 || ndims > H5MR__MAX_DIMS || (ndims > 0 && !shape)) return H5MR_EUSAGE;
    if (h5mr_result_find(r, name)) return H5MR_EUSAGE;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        field_store *f = realloc(r->fields, cap * sizeof *f);
        if (!f) return H5MR_ENOMEM;
        r->fields = f;
        r->cap = cap;
    }
    uint64_t n = 1;
    for (int d = 0; d < ndims; d++)
        n *= shape[d];
    field_store *s = &r->fields[r->n];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    s->shape = calloc((size_t)ndims + 1, sizeof *s->shape);
    s->data = malloc(n ? n * 8 : 1);
    if (valid) s->valid = malloc(n ? n : 1);
    if (!s->name || !s->shape || !s->data || (valid && !s->valid)) {
        free(s->name);
        free(s->shape);
        free(s->data);
        free(s->valid);
        return H5MR_ENOMEM;
    }
    if (ndims) memcpy(s->shape, shape, (size_t)ndims * sizeof *shape);
    if (n) memcpy(s->data, data, n * 8);
    if (valid && n) memcpy(s->valid, valid, n);
    s->f = (h5mr_field){s->name, type, ndims, s->shape, n, s->data, s->valid};
    r->n++;
    return H5MR_OK;
}

h5mr_status h5mr_result_set_i64(h5mr_result *r, const char *name, int64_t v)
{
    return h5mr_result_set_array(r, name, H5MR_FIELD_I64, 0, NULL, &v, NULL);
}

h5mr_status h5mr_result_set_f64(h5mr_result *r, const char *name, double v)
{
    return h5mr_result_set_array(r, name, H5MR_FIELD_F64, 0, NULL, &v, NULL);
}

h5mr_status h5mr_result_set_null(h5mr_result *r, const char *name) { return h5mr_result_set_f64(r, name, NAN); }

size_t h5mr_result_count(const h5mr_result *r) { return r ? r->n : 0; }

const h5mr_field *h5mr_result_field(const h5mr_result *r, size_t i) { return r && i < r->n ? &r->fields[i].f : NULL; }

const h5mr_field *h5mr_result_find(const h5mr_result *r, const char *name)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->fields[i].name, name) == 0) return &r->fields[i].f;
    return NULL;
}

void h5mr_json_write_double(FILE *out, double v)
{
    if (!isfinite(v)) {
        fputs("null", out);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* Keep floats recognisable as floats: 3 → 3.0. */
    if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
    fputs(buf, out);
}

/* Valid JSON for any bytes: control characters and DEL escaped, a byte that is not
 * part of valid UTF-8 written as the code point of that byte (\u00XX). */
void h5mr_json_write_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            int n = h5mr__utf8_len(p);
            if (n == 0) {
                fprintf(out, "\\u%04x", *p);
            } else {
                fwrite(p, 1, (size_t)n, out);
                p += n - 1;
            }
            continue;
        }
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void write_elem(FILE *out, const h5mr_field *f, uint64_t i)
{
    if (f->valid && !f->valid[i]) {
        fputs("null", out);
    } else if (f->type == H5MR_FIELD_I64) {
        fprintf(out, "%" PRId64, ((const int64_t *)f->data)[i]);
    } else if (f->type == H5MR_FIELD_U64) {
        fprintf(out, "%" PRIu64, ((const uint64_t *)f->data)[i]);
    } else {
        h5mr_json_write_double(out, ((const double *)f->data)[i]);
    }
}

/* Nested lists for dimension d, starting at flat element *i. */
static void write_nested(FILE *out, const h5mr_field *f, int d, uint64_t *i)
{
    if (d == f->ndims) {
        write_elem(out, f, (*i)++);
        return;
    }
    fputc('[', out);
    for (uint64_t k = 0; k < f->shape[d]; k++) {
        if (k) fputs(", ", out);
        write_nested(out, f, d + 1, i);
    }
    fputc(']', out);
}

void h5mr_field_write_json(const h5mr_field *f, FILE *out)
{
    uint64_t i = 0;
    write_nested(out, f, 0, &i);
}

h5mr_status h5mr_result_write_json(const h5mr_result *r, FILE *out)
{
    fputc('{', out);
    for (size_t k = 0; r && k < r->n; k++) {
        const h5mr_field *f = &r->fields[k].f;
        if (k) fputs(", ", out);
        h5mr_json_write_string(out, f->name);
        fputs(": ", out);
        uint64_t i = 0;
        write_nested(out, f, 0, &i);
    }
    fputc('}', out);
    return ferror(out) ? H5MR_EIO : H5MR_OK;
}
