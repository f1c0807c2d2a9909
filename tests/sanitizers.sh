#!/bin/bash
# The whole test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (./configure --enable-sanitizers) in a scratch build tree.  Under mpirun, leak
# detection is off (Open MPI's components leak at exit, NOTES.md); the unit tests,
# which never start MPI, run with it on.  Set H5MR_SKIP_SANITIZERS=1 to skip.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
if [ -n "${H5MR_SKIP_SANITIZERS:-}" ] || [ -n "${H5MR_IN_SANITIZER_BUILD:-}" ]; then
    echo "sanitizer pass skipped"
    exit 77
fi
scratch
cd "$TMP" || exit 1
# A copy of the distributed sources (the source tree may be configured in place).
if ! make -C "$top_builddir" distdir distdir="$TMP/src" > distdir.log 2>&1; then
    tail -20 distdir.log
    fail "make distdir"
    finish
    exit
fi
cd src || exit 1
if ! ./configure -q --enable-sanitizers > configure.log 2>&1; then
    cat configure.log
    fail "configure --enable-sanitizers"
    finish
    exit
fi
if ! make -j"$(nproc)" > build.log 2>&1; then
    tail -30 build.log
    fail "sanitizer build"
    finish
    exit
fi
expect "the build is instrumented" bash -c 'nm lib/.libs/libh5mr.so | grep -q __asan_report'
if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 CK_FORK=no make -s tests/unit/test_unit > /dev/null 2>&1 &&
    ASAN_OPTIONS=detect_leaks=1 CK_FORK=no ./tests/unit/test_unit > unit.log 2>&1; then
    ok
else
    tail -30 unit.log
    fail "unit tests with ASan, UBSan and leak detection"
fi
# A fresh make: variables given to the make running this test must not leak in.
unset MAKEFLAGS MFLAGS MAKELEVEL TESTS
export H5MR_IN_SANITIZER_BUILD=1 ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if make -k check > check.log 2>&1; then
    ok
else
    grep -E '^(FAIL|ERROR)' check.log
    for f in $(grep -lE '^FAIL|ERROR' tests/*/*.log 2>/dev/null); do
        echo "== $f"
        tail -40 "$f"
    done
    fail "make check in the sanitizer build"
fi
expect "no sanitizer report anywhere" test -z "$(grep -lE 'runtime error|AddressSanitizer' tests/*/*.log tests/*.log 2>/dev/null)"
grep -E '^# (PASS|FAIL|SKIP)' check.log
finish
