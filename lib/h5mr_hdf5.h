/* h5mr_hdf5.h: h5mr's element types as HDF5's native types, for programs (and
 * plugins) that use HDF5 too.  Installed beside h5mr.h; generated from the one type
 * table, H5MR_DTYPE_TABLE. */
#ifndef H5MR_HDF5_H
#define H5MR_HDF5_H

#include <hdf5.h>

#include "h5mr.h"

/* The native HDF5 type of t (H5T_NATIVE_FLOAT for F32 ...), H5I_INVALID_HID if none.
 * Not a handle to close. */
static inline hid_t h5mr_dtype_to_hdf5(h5mr_dtype t)
{
    switch (t) {
#define H5MR_X_(e, name, T, isf, iss, bits, W, lo, hi, h5t)                                                            \
    case H5MR_DTYPE_##e: return h5t;
        H5MR_DTYPE_TABLE(H5MR_X_)
#undef H5MR_X_
    default: return H5I_INVALID_HID;
    }
}

#endif
