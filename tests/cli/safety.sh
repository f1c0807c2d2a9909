#!/bin/bash
# Nothing lost, no wrong answer with exit 0 (issue "reliability"): each finding tried
# as a hostile user would, at 1 and 3 ranks, under timeouts.
#   -o: the input (also through a link), a device, a folder, a missing folder, a name
#       too long, an existing file h5mr did not write (--force), the mode kept, the
#       disk full, SIGTERM and a lost mpirun while writing: the old file intact or the
#       new one whole, never a temporary left behind.
#   gen: beyond the free space, a disk that fills, kill -9 mid-write.
#   Wrong answers: an injected MPI failure at every call of a run, the input shrunk
#   under a running job, --io auto with a stale copy of another content, u64 values.
#   Hangs and crashes: a kernel that never returns (--timeout), one that segfaults.
#   Messages: one line, escaped names, valid JSON for any name, did-you-mean, lock.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
tools=$top_builddir/tests/tools/.libs
plug=$tools/plugin_failing.so
"$H5MR" gen --shape 2000x50 --chunk 100x50 --seed 4 in.h5 /x || fail "gen"
"$top_builddir/tests/tools/make_odd" odd.h5 || fail "make_odd"
json_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["result"][sys.argv[2]])' "$@"; }
mpi 1 "$H5MR" run -k sum --json in.h5 /x > ref.json || fail "reference run"
ref_sum=$(json_field ref.json sum)

# The ranks of a running job (not mpirun, which has the same words in its command line).
ranks_of() { own_ranks "$1"; }
no_temps() { [ -z "$(find . -name '.*h5mr-*' -print -quit)" ]; }

# ---------------------------------------------------------------- -o refusals
md5_in=$(md5sum in.h5)
ln -s in.h5 link.h5
expect_error 2 "is the input file" run -k sum -o in.h5 in.h5 /x
expect_error 2 "is the input file" run -k sum -o link.h5 in.h5 /x
expect_error 2 "is the input file" run -k sum -o ./in.h5 in.h5 /x
expect "the input is never written" test "$md5_in" = "$(md5sum in.h5)"
expect_error 2 "not a regular file" run -k sum -o /dev/null in.h5 /x
expect "/dev/null is still a device" test -c /dev/null
mkfifo fifo
expect_error 2 "not a regular file" run -k sum -o fifo in.h5 /x
mkdir adir
expect_error 2 "is a folder" run -k sum -o adir in.h5 /x
expect_error 2 "names a folder" run -k sum -o adir/ in.h5 /x
expect_error 2 "folder 'nodir' does not exist" run -k sum -o nodir/out.h5 in.h5 /x
expect_error 2 "name is too long" run -k sum -o "$(printf 'n%.0s' $(seq 250)).h5" in.h5 /x
printf 'precious notes\n' > notes.h5
expect_error 2 "was not written by h5mr" run -k sum -o notes.h5 in.h5 /x
expect "a file h5mr did not write is left alone" grep -q precious notes.h5
"$H5MR" gen --shape 10 other.h5 /y > /dev/null
md5_other=$(md5sum other.h5)
expect_error 2 "was not written by h5mr" run -k sum -o other.h5 in.h5 /x
expect "an HDF5 file h5mr did not write is left alone" test "$md5_other" = "$(md5sum other.h5)"
for np in 1 3; do
    rm -f forced.h5
    printf 'old\n' > forced.h5
    mpi $np "$H5MR" run -k sum -o forced.h5 --force in.h5 /x > /dev/null 2>&1
    expect "--force replaces it at $np ranks" "$H5DUMP" -d /result/sum forced.h5
done
# A file h5mr wrote is replaced without --force, keeping its permissions.
mpi 3 "$H5MR" run -k sum -o res.h5 in.h5 /x > /dev/null || fail "first -o"
chmod 0600 res.h5
mpi 3 "$H5MR" run -k stats -o res.h5 in.h5 /x > /dev/null || fail "second -o"
expect "replaced by the new result" "$H5DUMP" -d /result/mean res.h5
expect "the mode 0600 is kept" test "$(stat -c %a res.h5)" = 600
expect "the version and parameters are attributes" bash -c '"$0" -a /result/h5mr_version res.h5 && "$0" -a /result/params res.h5' "$H5DUMP"
ln -s res.h5 reslink.h5
mpi 1 "$H5MR" run -k sum -o reslink.h5 in.h5 /x > /dev/null || fail "-o through a link"
expect "-o through a link replaces its target, the link stays" bash -c 'test -L reslink.h5 && "$0" -d /result/sum res.h5 > /dev/null' "$H5DUMP"
expect "no temporary file left" no_temps

# ---------------------------------------------------------------- a full disk (tmpfs)
small=$TMP/small
mkdir -p "$small"
if mount -t tmpfs -o size=4m tmpfs "$small" 2> /dev/null; then
    trap 'umount "$small" 2>/dev/null; rm -rf "$TMP"' EXIT
    "$H5MR" gen --shape 1000x10 "$small/g.h5" /a > /dev/null && "$H5MR" gen --shape 1000x10 "$small/g.h5" /b > /dev/null
    md5_g=$(md5sum "$small/g.h5")
    expect_error 2 "free" gen --shape 100000000000x1000 "$small/g.h5" /a8
    expect "gen beyond the free space: the file unchanged" test "$md5_g" = "$(md5sum "$small/g.h5")"
    expect_error 1 "No space left on device" gen --shape 300000x8 --gzip 1 "$small/g.h5" /big
    expect "gen on a full disk: the file unchanged" test "$md5_g" = "$(md5sum "$small/g.h5")"
    expect "gen on a full disk: the other datasets readable" "$H5DUMP" -d /b "$small/g.h5"
    expect_error 1 "No space left on device" gen --shape 300000x8 --gzip 1 "$small/new.h5" /big
    expect "gen on a full disk: no new file" test ! -e "$small/new.h5"
    mpi 1 "$H5MR" run -k stats -p axis=0 -o "$small/r.h5" in.h5 /x > /dev/null || fail "-o on the small disk"
    md5_r=$(md5sum "$small/r.h5")
    cat /dev/zero > "$small/filler" 2> /dev/null
    expect_error 1 "No space left on device" run -k stats -p axis=0 -o "$small/r.h5" in.h5 /x
    expect "-o on a full disk: the old result intact" test "$md5_r" = "$(md5sum "$small/r.h5")"
    expect "-o on a full disk: no temporary left" test -z "$(ls -A "$small" | grep h5mr-)"
    umount "$small"
    trap 'rm -rf "$TMP"' EXIT
else
    echo "no tmpfs could be mounted (not root?): the full-disk cases are not run"
fi

# ---------------------------------------------------------------- gen killed mid-write
"$H5MR" gen --shape 1000x10 k.h5 /a > /dev/null
md5_k=$(md5sum k.h5)
"$H5MR" gen --shape 20000000x16 k.h5 /big > /dev/null 2>&1 &
gp=$!
for _ in $(seq 100); do [ -n "$(find . -name '.k.h5.h5mr-*' -size +1M -print -quit)" ] && break; sleep 0.05; done
kill -9 $gp
wait $gp 2> /dev/null
expect "gen killed -9: the file unchanged" test "$md5_k" = "$(md5sum k.h5)"
"$H5MR" gen --shape 100x10 k.h5 /b > /dev/null || fail "gen after a kill"
expect "gen killed -9: the next gen removes its temporary" test -z "$(ls -A | grep '^\.k\.h5\.h5mr-')"
expect "gen after a kill: old and new datasets" bash -c '"$0" -d /a k.h5 > /dev/null && "$0" -d /b k.h5 > /dev/null' "$H5DUMP"
"$H5MR" gen --shape 20000000x16 k.h5 /big > /dev/null 2> gen_err.txt &
gp=$!
for _ in $(seq 100); do [ -n "$(find . -name '.k.h5.h5mr-*' -size +1M -print -quit)" ] && break; sleep 0.05; done
kill -TERM $gp
wait $gp
expect "gen stopped by SIGTERM: exit 1" test $? -eq 1
expect "gen stopped by SIGTERM: one line" test "$(grep -c '^h5mr: ' gen_err.txt)" -eq 1
expect "gen stopped by SIGTERM: no temporary" test -z "$(ls -A | grep '^\.k\.h5\.h5mr-')"

# ---------------------------------------------------------------- signals and a lost mpirun
# SIGTERM to every rank (what Slurm does at a time limit), then to mpirun (Ctrl-C).
for np in 1 3; do
    for target in ranks mpirun; do
        rm -f sig.h5
        t0=$SECONDS
        timeout -k 5 60 ${TESTMPIRUN//NP/$np} "$H5MR" run --plugin "$plug" -k spins --chunk-rows 10 -o sig.h5 in.h5 /x \
            > /dev/null 2> sig_err.txt &
        mp=$!
        sleep 2
        if [ $target = ranks ]; then
            kill -TERM $(ranks_of "h5mr run --plugin $plug -k spins") 2> /dev/null
        else
            kill -TERM $mp
        fi
        wait $mp
        rc=$?
        expect "SIGTERM to $target at $np ranks: non-zero ($rc), within 10 s" test $rc -ne 0 -a $((SECONDS - t0)) -le 12
        expect "SIGTERM to $target at $np ranks: no output, no temporary" bash -c 'test ! -e sig.h5 && test -z "$(ls -A | grep h5mr-)"'
        [ $target = ranks ] && expect "SIGTERM to the ranks at $np ranks: a line says so" grep -q '^h5mr: stopped by SIGTERM' sig_err.txt
        sleep 0.5
        expect "SIGTERM to $target at $np ranks: no rank left" test -z "$(ranks_of "h5mr run --plugin $plug -k spins")"
    done
done
# SIGKILL of mpirun: the ranks notice their launcher is gone and leave, writing nothing.
rm -f lost.h5
${TESTMPIRUN//NP/3} "$H5MR" run --plugin "$plug" -k spins --chunk-rows 10 -o lost.h5 in.h5 /x > /dev/null 2>&1 &
mp=$!
sleep 2
lost_job=$(tr '\0' '\n' < /proc/"$(ranks_of "h5mr run --plugin $plug -k spins" | head -1)"/environ | sed -n 's/^OMPI_MCA_ess_base_jobid=//p')
kill -9 $mp
wait $mp 2> /dev/null
sleep 2
expect "mpirun killed -9: no rank left running" test -z "$(ranks_of "h5mr run --plugin $plug -k spins")"
expect "mpirun killed -9: no output written" test ! -e lost.h5
expect "mpirun killed -9: the ranks removed their shared-memory segments" \
    test -z "$(ls /dev/shm 2>/dev/null | grep "^vader_segment\..*\.$(printf %x "$lost_job")\.")"
kill_own -9 "h5mr run --plugin $plug -k spins"

# ---------------------------------------------------------------- hangs and crashes
for np in 1 3; do
    t0=$SECONDS
    mpi $np "$H5MR" run --plugin "$plug" -k spins --timeout 2 --chunk-rows 10 in.h5 /x > out.txt 2> err.txt
    rc=$?
    expect "--timeout at $np ranks: exit 1 within seconds" test $rc -eq 1 -a $((SECONDS - t0)) -le 12
    expect "--timeout at $np ranks: one line" test "$(grep -c '^h5mr: .*--timeout' err.txt)" -eq 1
    # (A sanitizer build keeps the sanitizer's own report of a crash.)
    [ -n "${H5MR_IN_SANITIZER_BUILD:-}" ] && continue
    mpi $np "$H5MR" run --plugin "$plug" -k crashes --chunk-rows 10 in.h5 /x > out.txt 2> err.txt
    expect "a crashing kernel at $np ranks: exit 1" test $? -eq 1
    expect "a crashing kernel at $np ranks: an h5mr line names the rank" grep -q '^h5mr: rank [0-9]* crashed with a segmentation fault' err.txt
    expect "a crashing kernel: no Open MPI backtrace" bash -c '! grep -q "Signal code\|\[ 0\]" err.txt'
done
expect_error 2 "timeout 'x' is not a positive number" run --timeout x in.h5 /x

# ---------------------------------------------------------------- wrong answers made impossible
# An MPI failure injected at the Nth checked call of one rank: exit 1 with one line, or
# (N past the last call) the right answer; never another answer, never a hang.
for io in scatter parallel; do
    for victim in 0 2; do
        bad=0
        for n in $(seq 1 4 40); do
            H5MR_FAIL_MPI=$victim:$n mpi 3 -x H5MR_FAIL_MPI "$H5MR" run -k sum --io $io --json in.h5 /x > inj.json 2> inj_err.txt
            rc=$?
            if [ $rc -eq 0 ]; then
                [ "$(json_field inj.json sum)" = "$ref_sum" ] || { bad=1; echo "injected $victim:$n ($io): exit 0, wrong sum"; }
            elif [ $rc -ne 1 ] || [ "$(grep -c '^h5mr: ' inj_err.txt)" -ne 1 ] || ! grep -q 'failed in' inj_err.txt; then
                bad=1
                echo "injected $victim:$n ($io): exit $rc: $(head -c 300 inj_err.txt)"
            fi
        done
        expect "MPI failures injected on rank $victim ($io): exit 1 with one line, or the right sum" test $bad -eq 0
    done
done
# The input shrinks while the job runs (a kernel truncates it at item 0): exit 1 naming
# the file.  Under the static schedule the rank (or, in scatter mode, rank 0) still has
# items to read after item 0 is mapped, so the change is always seen; under the dynamic
# one every read may be done before (then the run is right, and exit 0 is too).
"$H5MR" gen --shape 40000x100 --contiguous shr0.h5 /x > /dev/null
mpi 1 "$H5MR" run -k sum --json shr0.h5 /x > shr_ref.json
for np in 1 3; do
    for io in scatter parallel; do
        for sched in static dynamic; do
            cp shr0.h5 shr.h5
            mpi $np "$H5MR" run --plugin "$plug" -k shrinks -p path=shr.h5 -p size=5000000 --io $io --schedule $sched \
                --chunk-rows 1000 shr.h5 /x > out.txt 2> err.txt
            rc=$?
            if [ $sched = dynamic ] && [ $rc -eq 0 ]; then
                ok
                continue
            fi
            expect "input shrunk mid-run ($np ranks, $io, $sched): exit 1 naming it ($rc)" \
                bash -c "[ $rc -eq 1 ] && grep -q \"'shr.h5' shrank from 32002048 to 5000000 bytes\" err.txt"
        done
    done
    # The same with every slice seen in place in the file's pages (mapped, read in
    # before the kernel sees them): the next slice's pages are past the end, or the
    # size is not the one opened.
    cp shr0.h5 shr.h5
    H5MR_TEST_READ_WAY=1 mpi $np "$H5MR" run --plugin "$plug" -k shrinks -p path=shr.h5 -p size=5000000 --io parallel \
        --schedule static --chunk-rows 1000 shr.h5 /x > out.txt 2> err.txt
    rc=$?
    expect "input shrunk mid-run, rows in place ($np ranks): exit 1 naming it ($rc)" \
        bash -c "[ $rc -eq 1 ] && grep -q \"'shr.h5' shrank from 32002048 to 5000000 bytes\" err.txt"
done
# The same where the rows are in another file, behind an external link: HDF5 reads zeros
# past a file's end, so the file the link points to is watched too (and named).
/usr/bin/python3 -c 'import h5py; h5py.File("xlink.h5", "w")["x"] = h5py.ExternalLink("shr.h5", "/x")'
for np in 1 3; do
    for io in scatter parallel; do
        cp shr0.h5 shr.h5
        mpi $np "$H5MR" run --plugin "$plug" -k shrinks -p path=shr.h5 -p size=5000000 --io $io --schedule static \
            --chunk-rows 1000 xlink.h5 /x > out.txt 2> err.txt
        rc=$?
        expect "the file behind an external link shrunk mid-run ($np ranks, $io): exit 1 naming it ($rc)" \
            bash -c "[ $rc -eq 1 ] && grep -q \"shr.h5' shrank from 32002048 to 5000000 bytes\" err.txt"
    done
done
# --io auto where ranks 1-2 see another file of the same size and layout (a stale copy):
# scatter, and rank 0's file's answer.
mkdir -p a b
"$H5MR" gen --shape 3000x20 --contiguous --seed 1 a/s.h5 /x > /dev/null
"$H5MR" gen --shape 3000x20 --contiguous --seed 2 b/s.h5 /x > /dev/null
expect "the two copies have the same size" test "$(stat -c %s a/s.h5)" = "$(stat -c %s b/s.h5)"
mpi 1 "$H5MR" run -k sum --json a/s.h5 /x > stale_ref.json
(cd a && timeout -k 5 "$TEST_TIMEOUT" mpirun --oversubscribe -n 1 "$H5MR" run -k sum --json s.h5 /x : \
    --wdir "$TMP/b" -n 2 "$H5MR" run -k sum --json s.h5 /x) > stale.json 2> stale_err.txt
expect "--io auto with a stale copy: scatter" grep -q '"io": "scatter"' stale.json
expect "--io auto with a stale copy: rank 0's file's sum" test "$(json_field stale.json sum)" = "$(json_field stale_ref.json sum)"
# u64 past 2^63, exactly.
for np in 1 3; do
    mpi $np "$H5MR" run -k minmax --json odd.h5 /u64big > u.json
    expect "u64 max exact at $np ranks" grep -q '"max": 18446744073709551615,' u.json
    mpi $np "$H5MR" run -k topk -p k=2 --json odd.h5 /u64big > u.json
    expect "u64 topk exact at $np ranks" grep -q '"values": \[18446744073709551615, 18446744073709551614\]' u.json
    mpi $np "$H5MR" run -k valuecounts --json odd.h5 /u64big > u.json
    expect "u64 valuecounts exact at $np ranks" grep -q '9223372036854775815, 18446744073709551614, 18446744073709551615\]' u.json
    mpi $np "$H5MR" run -k stats -p axis=0 --json odd.h5 /u64big > u.json
    expect "u64 per-pixel max exact at $np ranks" grep -q '"max": \[18446744073709551615, 9223372036854775808, 18446744073709551614\]' u.json
done

# ---------------------------------------------------------------- messages
expect_error 2 "min=-inf is not a finite number" run -k histogram -p min=-inf in.h5 /x
expect_error 2 "bins is given twice" run -k histogram -p bins=10 -p bins=20 in.h5 /x
expect_error 2 "bins=28888888 must be from 1 to 1048576" run -k histogram -p bins=28888888 in.h5 /x
expect_error 2 "k=2000000 must be from 0 to 1048576" run -k topk -p k=2000000 in.h5 /x
expect_error 2 "did you mean 'stats'" run -k stat in.h5 /x
expect_error 2 "did you mean '--kernel'" run --kernal sum in.h5 /x
expect_error 2 "parameters go as -p bins=4" run -k histogram --bins=4 in.h5 /x
expect_error 2 "did you mean '-p bins=4'" run -k histogram -p bins 4 in.h5 /x
expect_error 2 "did you mean 'bins'" run -k histogram -p bin=4 in.h5 /x
expect_error 3 "did you mean '/x'" run in.h5 /xx
expect_error 2 "did you mean 'run'" runn in.h5 /x
"$H5MR" info --json missing.h5 > out.txt 2> err.txt
expect "info --json on a missing file: nothing on stdout" test ! -s out.txt
"$H5MR" info --json odd.h5 /nope > out.txt 2> err.txt
expect "info --json on a missing dataset: nothing on stdout" test ! -s out.txt
weird=$'/\e[2Jtitle\x01\xff\xfe'
"$H5MR" gen --shape 10 names.h5 "$weird" > /dev/null || fail "gen a weird name"
"$H5MR" info --json names.h5 > names.json
expect "info --json with a non-UTF-8, control-character name is valid JSON" python3 -c 'import json,sys; json.load(open("names.json"))'
mpi 1 "$H5MR" run -k sum --json names.h5 "$weird" > names.json
expect "run --json with that name is valid JSON" python3 -c 'import json,sys; json.load(open("names.json"))'
mpi 1 "$H5MR" run -k sum names.h5 "$weird" > names.txt
"$H5MR" info names.h5 >> names.txt
mpi 3 "$H5MR" run -k sum names.h5 "${weird}x" 2> names_err.txt
expect "no escape character reaches the terminal" bash -c '! grep -q $'"'"'\e'"'"' names.txt names_err.txt'
expect "the error is one line" test "$(wc -l < names_err.txt | tr -d ' ')" -ge 1 -a "$(grep -c '^h5mr: ' names_err.txt)" -eq 1
cp in.h5 locked.h5
"$top_builddir/tests/tools/make_odd" --hold locked.h5 30 > hold.txt &
hp=$!
for _ in $(seq 100); do grep -q holding hold.txt 2> /dev/null && break; sleep 0.05; done
expect_error 3 "locked: another program has it open for writing" run -k sum locked.h5 /x
kill $hp 2> /dev/null
wait $hp 2> /dev/null
expect "the input file was never modified by h5mr" test "$md5_in" = "$(md5sum in.h5)"
finish
