# H5MR_ENABLE_SANITIZERS: --enable-sanitizers builds everything with ASan+UBSan.
AC_DEFUN([H5MR_ENABLE_SANITIZERS], [
  AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers], [build with AddressSanitizer and UndefinedBehaviorSanitizer])],
    [], [enable_sanitizers=no])
  H5MR_SANITIZE_CFLAGS=
  AS_IF([test "x$enable_sanitizers" = "xyes"], [
    H5MR_SANITIZE_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  ])
  AC_SUBST([H5MR_SANITIZE_CFLAGS])
  AM_CONDITIONAL([H5MR_SANITIZERS], [test "x$enable_sanitizers" = "xyes"])
])

# H5MR_WARNINGS: the warning set every file is clean with.
AC_DEFUN([H5MR_WARNINGS], [
  AC_ARG_ENABLE([werror],
    [AS_HELP_STRING([--disable-werror], [do not turn warnings into errors])],
    [], [enable_werror=yes])
  H5MR_WARN_CFLAGS="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"
  AS_IF([test "x$enable_werror" = "xyes"], [H5MR_WARN_CFLAGS="$H5MR_WARN_CFLAGS -Werror"])
  AC_SUBST([H5MR_WARN_CFLAGS])
])
