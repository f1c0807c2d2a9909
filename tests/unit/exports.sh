#!/bin/bash
# libh5mr exports h5mr_* symbols only.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
lib=$(ls "$top_builddir"/lib/.libs/libh5mr.so.* 2>/dev/null | head -n 1)
if [ -z "$lib" ]; then
    echo "no shared libh5mr built: skipped"
    exit 77
fi
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}')
bad=$(printf '%s\n' "$syms" | grep -v '^h5mr_[a-z0-9]' | grep -v '^_' || true)
expect "only h5mr_ symbols exported (found: $bad)" test -z "$bad"
expect "h5mr_job_run is exported" grep -qx h5mr_job_run <<<"$syms"
expect "internal h5mr__ symbols are hidden" test -z "$(printf '%s\n' "$syms" | grep '^h5mr__' || true)"
finish
