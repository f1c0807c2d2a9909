#!/bin/bash
# The example program of apps/examples at 1 and 3 ranks, against h5dump + awk.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
"$H5MR" gen --shape 333x4 --dtype f64 --chunk 10x4 --fill ramp "$TMP/r.h5" /x || fail "gen"
# ramp: element i is i, so Σ i² for i < 1332 = (n-1)n(2n-1)/6 with n = 1332
want=$(awk 'BEGIN {n = 1332; printf "%.1f", (n - 1) * n * (2 * n - 1) / 6}')
for np in 1 3; do
    out=$(mpi $np "$top_builddir/apps/examples/sumsq_job" "$TMP/r.h5" /x)
    expect "sumsq_job at $np ranks: $out, want $want" test "$out" = "{\"sumsq\": $want}"
done
"$H5MR" gen --shape 5 --dtype i32 "$TMP/r.h5" /ints
mpi 3 "$top_builddir/apps/examples/sumsq_job" "$TMP/r.h5" /ints 2>"$TMP/err"
expect "sumsq_job refuses i32 on every rank (exit 1)" test $? -eq 1
expect "one message" test "$(grep -c 'sumsq_job: ' "$TMP/err")" -eq 1
finish
