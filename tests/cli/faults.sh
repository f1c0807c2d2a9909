#!/bin/bash
# Faults while running: a corrupted compressed chunk in the middle of a dataset, and a
# rank killed with SIGKILL mid-run.  Every rank ends non-zero within bounded time, no
# --output file is left, the input is never modified.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
"$H5MR" gen --shape 100000x16 --dtype f64 --chunk 1000x16 --gzip 3 bad.h5 /g || fail "gen"
"$top_builddir/tests/tools/corrupt_chunk" bad.h5 /g 50 > /dev/null || fail "corrupt_chunk"
sum_before=$(md5sum bad.h5)
for np in 1 3; do
    for mode in "dynamic scatter" "static scatter" "dynamic parallel" "static parallel"; do
        set -- $mode
        sched=$1 io=$2
        t0=$SECONDS
        mpi $np "$H5MR" run -k sum --schedule $sched --io $io --chunk-rows 1000 -o out.h5 bad.h5 /g > out.txt 2> err.txt
        rc=$?
        expect "corrupted chunk at $np ranks, $sched, $io: exit 1 ($rc)" test "$rc" -eq 1
        expect "one message naming item 50: $(head -c 200 err.txt)" test "$(grep -Ec "^h5mr: .*item 50: .*rows 50000\.\.50999 (failed|does not inflate)" err.txt)" -eq 1
        expect "ends within seconds ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 20
        expect "no --output left" test ! -e out.h5 -a -z "$(ls -a | grep 'h5mr-')"
    done
done
# The same in parallel mode with item numbers handed out by messages (several nodes).
for sched in dynamic static; do
    H5MR_FORCE_NODES=1 mpi 3 -x H5MR_FORCE_NODES "$H5MR" run -k sum --schedule $sched --io parallel --chunk-rows 1000 \
        bad.h5 /g > out.txt 2> err.txt
    rc=$?
    expect "corrupted chunk, several-node dispatch, $sched: exit 1 ($rc)" test "$rc" -eq 1
    expect "corrupted chunk, several-node dispatch, $sched: item 50 named" \
        test "$(grep -Ec "^h5mr: .*item 50: " err.txt)" -eq 1
done
expect "the input is unchanged" test "$sum_before" = "$(md5sum bad.h5)"

# A rank killed mid-run (topk with a large k, every item slowed by 1 ms: 20,000 items,
# 10 s whatever the reads cost; k=2000000, above topk's limit, had made it a usage
# error that ended the job before the kill, unless the kill came first): the job must
# end, non-zero, without the output.
"$H5MR" gen --shape 400000x64 --dtype f64 --fill random big.h5 /x || fail "gen big"
sum_before=$(md5sum big.h5)
for victim in 1 0; do
    t0=$SECONDS
    H5MR_TEST_DELAY_US=1000 mpi 3 "$H5MR" run -k topk -p k=1000000 --chunk-rows 20 -o out.h5 big.h5 /x > out.txt \
        2> err.txt &
    launcher=$!
    pid=""
    for _ in $(seq 100); do
        for p in $(own_ranks "h5mr run -k topk -p k=1000000 --chunk-rows 20 -o out.h5 big.h5"); do
            if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim"; then pid=$p; fi
        done
        [ -n "$pid" ] && break
        sleep 0.1
    done
    sleep 0.5
    if [ -n "$pid" ]; then
        kill -9 "$pid"
        wait "$launcher"
        rc=$?
        expect "rank $victim killed: the job ends non-zero ($rc)" test "$rc" -ne 0
        expect "rank $victim killed: within 30 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 30
        expect "rank $victim killed: no --output" test ! -e out.h5
    else
        wait "$launcher"
        fail "could not find rank $victim to kill (the job ended first?)"
    fi
    kill_own -9 "big.h5 /x"
    rm -f out.h5.tmp.*
done
expect "the input is unchanged" test "$sum_before" = "$(md5sum big.h5)"
finish
