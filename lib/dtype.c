/* dtype.c: the element types h5mr reads, their names and HDF5 counterparts. */
#include "internal.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
    int is_float, is_signed;
} dtypes[] = {
#define X(e, name, ctype, isf, iss, ...) {name, sizeof(ctype), isf, iss},
    H5MR_DTYPE_TABLE(X)
#undef X
};

const char *h5mr_dtype_name(h5mr_dtype t) { return (unsigned)t < H5MR_DTYPE_COUNT ? dtypes[t].name : "?"; }
size_t h5mr_dtype_size(h5mr_dtype t) { return (unsigned)t < H5MR_DTYPE_COUNT ? dtypes[t].size : 0; }
int h5mr_dtype_is_float(h5mr_dtype t) { return (unsigned)t < H5MR_DTYPE_COUNT && dtypes[t].is_float; }
int h5mr_dtype_is_signed(h5mr_dtype t) { return (unsigned)t < H5MR_DTYPE_COUNT && dtypes[t].is_signed; }

h5mr_status h5mr_dtype_parse(const char *name, h5mr_dtype *out)
{
    for (int t = 0; t < H5MR_DTYPE_COUNT; t++) {
        if (name && strcmp(name, dtypes[t].name) == 0) {
            *out = (h5mr_dtype)t;
            return H5MR_OK;
        }
    }
    return H5MR_EUSAGE;
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    case H5T_TIME: return "time";
    default: return "unknown";
    }
}

h5mr_status h5mr__dtype_from_hdf5(hid_t type, h5mr_dtype *out, char *why, size_t whylen)
{
    H5T_class_t c = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (c == H5T_INTEGER) {
        int is_signed = H5Tget_sign(type) == H5T_SGN_2;
        switch (size) {
        case 1: *out = is_signed ? H5MR_DTYPE_I8 : H5MR_DTYPE_U8; return H5MR_OK;
        case 2: *out = is_signed ? H5MR_DTYPE_I16 : H5MR_DTYPE_U16; return H5MR_OK;
        case 4: *out = is_signed ? H5MR_DTYPE_I32 : H5MR_DTYPE_U32; return H5MR_OK;
        case 8: *out = is_signed ? H5MR_DTYPE_I64 : H5MR_DTYPE_U64; return H5MR_OK;
        default: snprintf(why, whylen, "%zu-byte integers", size); return H5MR_EINPUT;
        }
    }
    if (c == H5T_FLOAT) {
        /* Only IEEE binary32/binary64 layouts: a 4-byte type with another mantissa
         * width (or float16 stored in 2 bytes) is refused rather than converted. */
        size_t spos, epos, esize, mpos, msize;
        if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) >= 0) {
            if (size == 4 && esize == 8 && msize == 23) {
                *out = H5MR_DTYPE_F32;
                return H5MR_OK;
            }
            if (size == 8 && esize == 11 && msize == 52) {
                *out = H5MR_DTYPE_F64;
                return H5MR_OK;
            }
        }
        snprintf(why, whylen, "%zu-byte floats%s", size, size == 2 ? " (float16)" : "");
        return H5MR_EINPUT;
    }
    snprintf(why, whylen, "%s type", class_name(c));
    return H5MR_EINPUT;
}
