# H5MR_PROG_MPICC: choose the MPI C compiler wrapper as CC (unless CC is set).
# Call it before AC_PROG_CC.
AC_DEFUN([H5MR_PROG_MPICC], [
  AC_BEFORE([$0], [AC_PROG_CC])
  AC_ARG_VAR([MPICC], [MPI C compiler wrapper])
  AS_IF([test -z "$CC"], [
    AC_CHECK_PROGS([MPICC], [mpicc], [])
    AS_IF([test -z "$MPICC"],
      [AC_MSG_ERROR([no MPI C compiler (mpicc) found: install the Debian packages openmpi-bin and libopenmpi-dev])])
    CC="$MPICC"
  ])
  dnl The kernels' inner loops want -O3 (vectorisation); CFLAGS given by the user win.
  AS_IF([test -z "$CFLAGS"], [CFLAGS="-g -O3"])
])

# H5MR_CHECK_MPI: CC compiles and links MPI programs.
AC_DEFUN([H5MR_CHECK_MPI], [
  AC_CHECK_HEADER([mpi.h], [],
    [AC_MSG_ERROR([mpi.h not usable with $CC: install the Debian package libopenmpi-dev])])
  AC_SEARCH_LIBS([MPI_Init], [mpi], [],
    [AC_MSG_ERROR([cannot link MPI_Init: install the Debian package libopenmpi-dev])])
])

# H5MR_CHECK_MPIRUN: the launcher the tests use (TESTMPIRUN with NP in it).
AC_DEFUN([H5MR_CHECK_MPIRUN], [
  AC_ARG_VAR([MPIRUN], [MPI launcher used by the tests])
  AC_PATH_PROGS([MPIRUN], [mpirun mpiexec], [])
  AS_IF([test -z "$MPIRUN"],
    [AC_MSG_ERROR([no mpirun found: install the Debian package openmpi-bin])])
  AC_ARG_VAR([TESTMPIRUN], [command line that runs NP ranks in the tests (NP is replaced)])
  AS_IF([test -z "$TESTMPIRUN"], [TESTMPIRUN="$MPIRUN --oversubscribe -n NP"])
  AC_DEFINE_UNQUOTED([H5MR_MPIRUN], ["$MPIRUN"], [the launcher h5mr run -n N starts its ranks with])
])
