# H5MR_CHECK_HDF5: parallel HDF5, from pkg-config hdf5-openmpi or the h5pcc wrapper.
AC_DEFUN([H5MR_CHECK_HDF5], [
  PKG_CHECK_MODULES([HDF5], [hdf5-openmpi >= 1.10], [h5mr_hdf5_pc=hdf5-openmpi], [
    AC_PATH_PROG([H5PCC], [h5pcc], [])
    AS_IF([test -z "$H5PCC"],
      [AC_MSG_ERROR([parallel HDF5 not found (pkg-config hdf5-openmpi, h5pcc): install the Debian package libhdf5-openmpi-dev])])
    HDF5_CFLAGS=`$H5PCC -showconfig >/dev/null 2>&1; $H5PCC -show | tr ' ' '\n' | grep '^-I' | tr '\n' ' '`
    HDF5_LIBS=`$H5PCC -show | tr ' ' '\n' | grep -E '^-(L|l|Wl)' | tr '\n' ' '`
    h5mr_hdf5_pc=
  ])
  h5mr_save_CFLAGS=$CFLAGS; h5mr_save_LIBS=$LIBS
  CFLAGS="$CFLAGS $HDF5_CFLAGS"; LIBS="$HDF5_LIBS $LIBS"
  AC_MSG_CHECKING([for parallel HDF5 (H5Pset_fapl_mpio, H5Dread_chunk)])
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <hdf5.h>]],
    [[hid_t p = H5Pcreate(H5P_FILE_ACCESS); H5Pset_fapl_mpio(p, MPI_COMM_WORLD, MPI_INFO_NULL);
      uint32_t f = 0; return (int)H5Dread_chunk(p, p, NULL, &f, NULL);]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no]); AC_MSG_ERROR([HDF5 without MPI support or older than 1.10.2: install the Debian package libhdf5-openmpi-dev])])
  CFLAGS=$h5mr_save_CFLAGS; LIBS=$h5mr_save_LIBS
  AC_SUBST([H5MR_PC_REQUIRES], [$h5mr_hdf5_pc])
  AC_PATH_PROG([H5DUMP], [h5dump], [])
  AS_IF([test -z "$H5DUMP"], [AC_MSG_WARN([h5dump not found (Debian package hdf5-tools): some tests will be skipped])])
])

# H5MR_CHECK_ZLIB: zlib, used to inflate raw stored chunks; and libdeflate, which
# inflates the same zlib streams about twice as fast, used instead when present.
AC_DEFUN([H5MR_CHECK_ZLIB], [
  PKG_CHECK_MODULES([ZLIB], [zlib], [],
    [AC_MSG_ERROR([zlib not found: install the Debian package zlib1g-dev])])
  AC_ARG_WITH([libdeflate],
    [AS_HELP_STRING([--without-libdeflate], [inflate chunks with zlib even when libdeflate is installed])],
    [], [with_libdeflate=check])
  AS_IF([test "x$with_libdeflate" != xno],
    [PKG_CHECK_MODULES([LIBDEFLATE], [libdeflate],
      [AC_DEFINE([H5MR_HAVE_LIBDEFLATE], [1], [Inflate stored chunks with libdeflate])
       ZLIB_CFLAGS="$ZLIB_CFLAGS $LIBDEFLATE_CFLAGS"; ZLIB_LIBS="$ZLIB_LIBS $LIBDEFLATE_LIBS"],
      [AS_IF([test "x$with_libdeflate" = xyes], [AC_MSG_ERROR([libdeflate not found: install libdeflate-dev])])
       AC_MSG_WARN([libdeflate not found (Debian package libdeflate-dev): chunks are inflated with zlib, slower])])])
])

# H5MR_CHECK_CHECK: the Check unit-test framework.
AC_DEFUN([H5MR_CHECK_CHECK], [
  PKG_CHECK_MODULES([CHECK], [check >= 0.10], [],
    [AC_MSG_ERROR([Check not found: install the Debian package check])])
])
