#!/bin/bash
# I/O modes from the command line: --io auto picks parallel where every rank sees the
# input and scatter where only rank 0 does (a rank started in another folder, where the
# file is missing or is another file of the same name); stored chunks decoded by the
# mapping ranks give the same bits as HDF5's own decoding (H5MR_RAW_CHUNKS=0), at 1-4
# ranks, both modes, both schedules, more ranks than items.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
mkdir a b c
"$H5MR" gen --shape 300x7x5 --dtype f32 --fill normal --seed 3 a/d.h5 /x || fail "gen a"
"$H5MR" gen --shape 300x7x5 --dtype f32 --fill normal --seed 4 c/d.h5 /x || fail "gen c"
"$H5MR" gen --shape 300x7x5 --dtype f32 --fill normal --seed 3 --chunk 16x7x5 --gzip 4 --shuffle a/d.h5 /z ||
    fail "gen a/z"
"$H5MR" gen --shape 5x3 --dtype i64 --fill ramp --chunk 64x3 --gzip 1 a/d.h5 /tiny || fail "gen tiny"

field() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(j[sys.argv[1]])' "$1"; }
result() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["result"], sort_keys=True))'; }
mpirun_bin=${TESTMPIRUN%% *}

# auto on one host: every rank opens the file, so parallel.
for np in 1 3; do
    io=$(mpi $np "$H5MR" run -k sum --json a/d.h5 /x --io auto | field io)
    expect "auto at $np ranks picks parallel ($io)" test "$io" = parallel
done
want=$(mpi 1 "$H5MR" run -k stats -p axis=0 --json a/d.h5 /x | result)

# auto where ranks 1 and 2 run in b/ (no d.h5 there) or c/ (another d.h5): scatter,
# and the result is a/d.h5's.
for other in b c; do
    out=$(timeout -k 5 "$TEST_TIMEOUT" "$mpirun_bin" --oversubscribe -n 1 --wdir "$TMP/a" "$H5MR" run -k stats -p axis=0 \
        --io auto --json d.h5 /x : -n 2 --wdir "$TMP/$other" "$H5MR" run -k stats -p axis=0 --io auto --json d.h5 /x)
    expect "auto, file only on rank 0 (other ranks in $other/): scatter" test "$(echo "$out" | field io)" = scatter
    expect "auto, file only on rank 0 (other ranks in $other/): rank 0's data" test "$(echo "$out" | result)" = "$want"
done
# --io parallel there is an input error on every rank, not a hang.
timeout -k 5 "$TEST_TIMEOUT" "$mpirun_bin" -q --oversubscribe -n 1 --wdir "$TMP/a" "$H5MR" run --io parallel d.h5 /x : \
    -n 2 --wdir "$TMP/b" "$H5MR" run --io parallel d.h5 /x > out.txt 2> err.txt
rc=$?
expect "--io parallel, file missing on ranks 1-2: exit 3 ($rc)" test $rc -eq 3
expect "--io parallel, file missing on ranks 1-2: one line naming the file" \
    test "$(grep -c "^h5mr: .*d.h5" err.txt)" -eq 1

# Decoded by the mapping ranks or by HDF5 (H5MR_RAW_CHUNKS=0): the same bits, and the
# same as the contiguous copy of the data.
ref=$(mpi 1 "$H5MR" run -k stats -p axis=0 --json a/d.h5 /x | result)
k=0
for np in 1 2 3 4; do
    for io in scatter parallel; do
        for sched in dynamic static; do
            rows=$(echo 16 48 300 | cut -d' ' -f$((k % 3 + 1)))
            k=$((k + 1))
            got=$(mpi $np "$H5MR" run -k stats -p axis=0 --io $io --schedule $sched --chunk-rows $rows --json a/d.h5 /z |
                result)
            expect "gzip+shuffle, $np ranks, $io, $sched, rows=$rows: as contiguous" test "$got" = "$ref"
        done
    done
done
for kernel in "topk -p k=7" "histogram -p bins=13"; do
    ref=$(mpi 1 "$H5MR" run -k $kernel --json a/d.h5 /x | result)
    for io in scatter parallel; do
        for raw in 1 0; do
            got=$(H5MR_RAW_CHUNKS=$raw mpi 3 "$H5MR" run -k $kernel --io $io --json a/d.h5 /z | result)
            expect "$kernel, gzip+shuffle, 3 ranks, $io, raw chunks $raw: as contiguous" test "$got" = "$ref"
        done
    done
done

# Items larger than 4 MiB from an uncompressed dataset are read and mapped in slices
# where a rank reads its own (parallel mode, one rank): the same bits as whole items.
"$H5MR" gen --shape 45000x64 --dtype f64 --chunk 20000x64 --fill normal a/d.h5 /big || fail "gen big"
for kernel in "stats -p axis=0" "topk -p k=9" "histogram -p bins=33" "minmax"; do
    ref=$(mpi 2 "$H5MR" run -k $kernel --io scatter --schedule static --json a/d.h5 /big | result)
    for np in 1 2 3; do
        got=$(mpi $np "$H5MR" run -k $kernel --io parallel --json a/d.h5 /big | result)
        expect "$kernel, 10 MiB items sliced, $np ranks: as whole items" test "$got" = "$ref"
    done
done

# More ranks than items (one item: a chunk taller than the dataset), decoded by workers.
for io in scatter parallel; do
    got=$(mpi 4 "$H5MR" run -k sum --io $io --json a/d.h5 /tiny | python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["sum"])')
    expect "one item, 4 ranks, $io: sum of 0..14 ($got)" test "$got" = 105
done
finish
