#!/bin/bash
# tests/cli/checkpoint.sh: --checkpoint, --checkpoint-every, --resume.  A job killed
# (SIGKILL to a rank, SIGTERM to mpirun) at several points, resumed each time at another
# number of ranks, ends with the bits of an uninterrupted run, for every built-in
# kernel; a checkpoint of another job is refused; a successful run removes it.  The
# kill times come from a fixed seed; whatever they are, the result must be the same.
. "$top_srcdir/tests/lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
RANDOM=20261202
plug=$top_builddir/tests/tools/.libs/plugin_failing.so

"$H5MR" gen --shape 600x40 --dtype f32 --fill normal --seed 5 ck.h5 /x > /dev/null
"$H5MR" gen --shape 600x40 --dtype f32 --fill normal --seed 6 ck.h5 /y > /dev/null
"$H5MR" gen --shape 600x40 --dtype i16 --fill random --seed 7 ck.h5 /i > /dev/null
"$H5MR" gen --shape 600 --dtype i32 --fill ramp ck.h5 /lab > /dev/null

# The ranks of this test's jobs only (not mpirun, not a libtool wrapper, not any other h5mr).
ranks_of() {
    local p
    for p in $(pgrep -f "ck.h5 /"); do
        case "$(cat /proc/$p/comm 2> /dev/null)" in mpirun | orterun | timeout | bash | sh) ;; *) echo "$p" ;; esac
    done
}
result() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["result"]))' "$1"; }

# ---------------------------------------------------------------- usage and another job's file
expect_error 2 "--resume needs --checkpoint FILE" run --resume ck.h5 /x
expect_error 2 "--checkpoint-every '0' is not a positive number" run --checkpoint c.ck --checkpoint-every 0 ck.h5 /x
expect_error 2 "h5mr map does not take it yet" map --checkpoint c.ck ck.h5 /x -o m.h5
# A job that fails on item 2 keeps the checkpoint of what it folded before.
mpi 1 "$H5MR" run --plugin "$plug" -k fails_on_item --chunk-rows 1 --checkpoint c.ck --checkpoint-every 0.000001 ck.h5 /x \
    > /dev/null 2>&1
expect "a failed job keeps its checkpoint" test -s c.ck
cp c.ck other.ck
expect_error 2 "is of another job (it has 'kernel fails_on_item')" run -k sum --chunk-rows 1 --checkpoint other.ck --resume ck.h5 /x
cp c.ck other.ck
expect_error 2 "is of another job (it has 'items 600 of 1 rows')" run --plugin "$plug" -k fails_on_item --chunk-rows 2 --checkpoint other.ck --resume ck.h5 /x
printf 'h5mr-checkpoint 1\ngarbage' > bad.ck
expect_error 2 "is not an h5mr checkpoint" run -k sum --checkpoint bad.ck --resume ck.h5 /x
expect "a refused resume leaves the file" test -s bad.ck
rm -f fresh.ck
mpi 2 "$H5MR" run -k sum --json --checkpoint fresh.ck --resume ck.h5 /x > fresh.json
expect "--resume without a file starts afresh, and success removes it" test $? -eq 0 -a ! -e fresh.ck

# ---------------------------------------------------------------- killed, resumed, the same bits
chaos() { # ARGS...: the job, killed up to 3 times at 1-3 ranks, then resumed to the end
    local ref got rc np mp victim desc="$*"
    mpi 2 "$H5MR" run --json --chunk-rows 4 "$@" > ref.json || fail "$desc: the uninterrupted run"
    ref=$(result ref.json)
    rm -f job.ck
    local kills=0
    for attempt in 1 2 3; do
        np=$((attempt % 3 + 1))
        H5MR_TEST_DELAY_US=8000 timeout -k 5 60 ${TESTMPIRUN//NP/$np} "$H5MR" run --json --chunk-rows 4 \
            --checkpoint job.ck --checkpoint-every 0.05 --resume "$@" > out.json 2> err.txt &
        mp=$!
        sleep 0.$((RANDOM % 5 + 2))
        if [ $attempt = 3 ]; then
            kill -TERM $mp # what Slurm does at a time limit
        else
            victim=$(ranks_of | shuf -n 1 --random-source=<(yes))
            [ -n "$victim" ] && kill -9 "$victim" 2> /dev/null
        fi
        wait $mp
        rc=$?
        [ $rc -ne 0 ] && kills=$((kills + 1))
        [ $rc -eq 0 ] && break
    done
    if [ $rc -ne 0 ]; then
        mpi 3 "$H5MR" run --json --chunk-rows 4 --checkpoint job.ck --resume "$@" > out.json 2> err.txt ||
            fail "$desc: the last resume: $(head -c 300 err.txt)"
    fi
    got=$(result out.json)
    [ -n "${CHECKPOINT_VERBOSE:-}" ] && echo "$desc: interrupted $kills times"
    expect "$desc: interrupted $kills times, resumed at 1-3 ranks: the bits of an uninterrupted run" test "$got" = "$ref"
    expect "$desc: the checkpoint is removed at the end" test ! -e job.ck
}
chaos -k sum ck.h5 /x
chaos -k stats ck.h5 /x
chaos -k stats -p axis=0 --schedule static ck.h5 /x
chaos -k minmax --io scatter ck.h5 /x
chaos -k histogram -p bins=9 ck.h5 /x
chaos -k count -p gt=0.5 ck.h5 /x
chaos -k topk -p k=7 ck.h5 /x
chaos -k valuecounts ck.h5 /i
chaos -k corr -p axis=0 --with /y ck.h5 /x
chaos -k stats --by /lab ck.h5 /x
chaos -k sum -p axis=1 ck.h5 /x
[ -n "${CHECKPOINT_VERBOSE:-}" ] && echo "$passes passed"
finish
