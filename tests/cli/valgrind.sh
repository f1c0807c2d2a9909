#!/bin/bash
# A small run of each kind under valgrind memcheck: no invalid access, no leak of
# ours (Open MPI's own start-up leaks are suppressed: tests/valgrind.supp), at 1 and
# 2 ranks, and an error path.  Skipped in a sanitizer build and without valgrind.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
if ! command -v valgrind >/dev/null; then
    echo "valgrind not installed: skipped"
    exit 77
fi
if ldd "$top_builddir/lib/.libs/libh5mr.so" 2>/dev/null | grep -q libasan; then
    echo "sanitizer build: valgrind skipped"
    exit 77
fi
scratch
cd "$TMP" || exit 1
"$H5MR" gen --shape 300x8 --dtype f64 --chunk 32x8 --gzip 1 v.h5 /x || fail "gen"
"$H5MR" gen --shape 300x8 --dtype i32 v.h5 /i || fail "gen i32"
# companions: a weight per column, a label per element, a label per row, a second variable
"$H5MR" gen --shape 8 --dtype f64 --fill random v.h5 /w || fail "gen /w"
"$H5MR" gen --shape 300x8 --dtype i16 v.h5 /lab || fail "gen /lab"
"$H5MR" gen --shape 300 --dtype u8 v.h5 /row || fail "gen /row"
"$H5MR" gen --shape 300x8 --dtype f64 --fill normal v.h5 /y || fail "gen /y"
supp=()
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && supp+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
vg() {
    "$top_builddir/libtool" --mode=execute valgrind -q --num-callers=50 --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect "${supp[@]}" --suppressions="$top_srcdir/tests/valgrind.supp" "$@"
}
for job in "stats /x" "stats -p axis=0 /x" "histogram /x" "topk -p k=5 /x" "minmax /x" "valuecounts /i" \
    "stats --mask /w /i" "stats --weights /w /x" "sum --by /lab /x" "stats -p axis=0 --by /row /x" \
    "minmax -p axis=1 /x" "corr -p axis=0 --with /y /x"; do
    set -- $job
    vg "$H5MR" run -k "${@:1:$#-1}" --chunk-rows 50 -o out.h5 v.h5 "${!#}" > /dev/null 2> vg.txt
    rc=$?
    expect "valgrind, 1 rank, $job: clean (exit $rc) $(grep -v hwloc vg.txt | head -c 400)" test "$rc" -eq 0
done
# map jobs: uncompressed and compressed chunks, partial bands (--chunk-rows 7 across
# chunks of 10 rows), two passes, a series written with -o
for job in "convert /x" "scale --gzip 1 --shuffle --chunk 10x3 /x" "anomaly --dtype f32 --chunk 10x8 /x" \
    "normdiff --with /y --gzip 2 /x"; do
    set -- $job
    rm -f mout.h5
    vg "$H5MR" map -k "${@:1:$#-1}" --chunk-rows 7 -o mout.h5 v.h5 "${!#}" > /dev/null 2> vg.txt
    rc=$?
    expect "valgrind, 1 rank, map $job: clean (exit $rc) $(grep -v hwloc vg.txt | head -c 400)" test "$rc" -eq 0
done
vg "$H5MR" run -k stats -p axis=1 --chunk-rows 7 -o series.h5 v.h5 /x > /dev/null 2> vg.txt
expect "valgrind, a series written with -o: clean (exit $?) $(grep -v hwloc vg.txt | head -c 400)" test $? -eq 0
for sched in dynamic static; do
    TESTMPIRUN="${TESTMPIRUN}" mpi 2 "$top_builddir/libtool" --mode=execute valgrind -q --num-callers=50 \
        --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "${supp[@]}" \
        --suppressions="$top_srcdir/tests/valgrind.supp" "$H5MR" run -k stats --schedule $sched --chunk-rows 7 v.h5 /x \
        --by /lab --weights /w --io scatter \
        > /dev/null 2> vg.txt
    rc=$?
    expect "valgrind, 2 ranks, $sched: clean (exit $rc) $(grep -v hwloc vg.txt | head -c 400)" test "$rc" -eq 0
done
vg "$H5MR" run v.h5 /nope > /dev/null 2> vg.txt
expect "valgrind, an error path: exit 3, not 99" test $? -eq 3
vg "$H5MR" info v.h5 > /dev/null 2> vg.txt
expect "valgrind, info: clean" test $? -eq 0
finish
