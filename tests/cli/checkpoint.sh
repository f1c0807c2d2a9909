#!/bin/bash
# tests/cli/checkpoint.sh: --checkpoint, --checkpoint-every, --resume.  A job killed
# (SIGKILL to a rank, SIGTERM to mpirun) at several points, resumed each time at another
# number of ranks, ends with the bits of an uninterrupted run, for every built-in
# kernel; a signal writes the checkpoint of every item done, then stops every rank; a
# checkpoint of another job is refused; a successful run removes it.  The
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
ranks_of() { own_ranks "ck.h5 /"; }
# await_items N: until the ranks have mapped N items (H5MR_TEST_ITEM_LOG=items.log), 30 s at most
await_items() {
    for _ in $(seq 600); do [ "$(cat items.log 2> /dev/null | wc -l)" -ge "$1" ] && return; sleep 0.05; done
}
result() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["result"]))' "$1"; }

# ---------------------------------------------------------------- usage and another job's file
expect_error 2 "--resume needs --checkpoint FILE" run --resume ck.h5 /x
expect_error 2 "--checkpoint-every '0' is not a positive number" run --checkpoint c.ck --checkpoint-every 0 ck.h5 /x
# A job that fails on item 2 keeps the checkpoint of what it folded before.
mpi 1 "$H5MR" run --plugin "$plug" -k fails_on_item --chunk-rows 1 --checkpoint c.ck --checkpoint-every 0.000001 ck.h5 /x \
    > /dev/null 2>&1
expect "a failed job keeps its checkpoint" test -s c.ck
cp c.ck other.ck
expect_error 2 "is of another job (it has 'kernel fails_on_item')" run -k sum --chunk-rows 1 --checkpoint other.ck --resume ck.h5 /x
cp c.ck other.ck
expect_error 2 "is of another job (it has 'items 600 of 1 rows')" run --plugin "$plug" -k fails_on_item --chunk-rows 2 --checkpoint other.ck --resume ck.h5 /x
printf 'h5mr-checkpoint 2\ngarbage' > bad.ck
expect_error 2 "is not an h5mr checkpoint" run -k sum --checkpoint bad.ck --resume ck.h5 /x
expect "a refused resume leaves the file" test -s bad.ck
head -c -1 c.ck > bad.ck # a byte short
expect_error 2 "is not an h5mr checkpoint (or is damaged)" run --plugin "$plug" -k fails_on_item --chunk-rows 1 \
    --checkpoint bad.ck --resume ck.h5 /x
cp c.ck bad.ck
printf 'X' | dd of=bad.ck bs=1 seek=100 conv=notrunc status=none # a byte changed
expect_error 2 "is not an h5mr checkpoint (or is damaged)" run --plugin "$plug" -k fails_on_item --chunk-rows 1 \
    --checkpoint bad.ck --resume ck.h5 /x
# A checkpoint of a job whose rows are in other files (behind an external link, the
# sources of a virtual dataset) is taken while they are unchanged, refused once one of
# them has changed (the input file itself has not).
# other_files WHAT INPUT OTHER LINE: INPUT's /x reads from OTHER; LINE begins the
# fingerprint line that says so.
other_files() {
    local ck=${2%.h5}.ck
    rm -f "$ck"
    mpi 1 "$H5MR" run --plugin "$plug" -k fails_on_item --chunk-rows 1 --checkpoint "$ck" --checkpoint-every 0.000001 \
        "$2" /x > /dev/null 2>&1
    expect "a failed job over $1 keeps its checkpoint" test -s "$ck"
    mpi 1 "$H5MR" run --plugin "$plug" -k fails_on_item --chunk-rows 1 --checkpoint "$ck" --resume "$2" /x > /dev/null 2> err.txt
    expect "... which a resume takes while $3 is unchanged" bash -c '! grep -q "another job" err.txt && grep -q "item 2" err.txt'
    touch -d "2001-01-01" "$3"
    expect_error 2 "is of another job (it has '$4" run --plugin "$plug" -k fails_on_item --chunk-rows 1 --checkpoint "$ck" \
        --resume "$2" /x
}
/usr/bin/python3 -c 'import h5py; h5py.File("xl.h5", "w")["x"] = h5py.ExternalLink("xt.h5", "/x")'
"$H5MR" gen --shape 600x40 --dtype f32 --fill normal --seed 5 xt.h5 /x > /dev/null
other_files "an external link" xl.h5 xt.h5 "file xl.h5 links to a file of size 98048 mtime"
/usr/bin/python3 -c '
import h5py, numpy as np
for i in range(2):
    with h5py.File("vs%d.h5" % i, "w") as f:
        f["x"] = np.arange(300 * 40, dtype="f4").reshape(300, 40) + i
lay = h5py.VirtualLayout(shape=(600, 40), dtype="f4")
for i in range(2):
    lay[300 * i:300 * (i + 1)] = h5py.VirtualSource("vs%d.h5" % i, "x", shape=(300, 40))
with h5py.File("vv.h5", "w") as f:
    f.create_virtual_dataset("x", lay)
'
other_files "a virtual dataset" vv.h5 vs1.h5 "file vv.h5 virtual, its sources"
rm -f fresh.ck
mpi 2 "$H5MR" run -k sum --json --checkpoint fresh.ck --resume ck.h5 /x > fresh.json
expect "--resume without a file starts afresh, and success removes it" test $? -eq 0 -a ! -e fresh.ck

# ---------------------------------------------------------------- a signal: the checkpoint written then
# --checkpoint-every 1000: no checkpoint is due; the one there is the signal's.  SIGTERM
# to one rank, SIGUSR1 to mpirun (it forwards that one to every rank; at SIGTERM it ends
# them itself).  With the dynamic schedule the items saved are all those done (> 0:
# the signal comes after 20 of 150); the job stops within 10 s, exit 1; resumed at 3
# ranks: the same bits.
mpi 2 "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 ck.h5 /x > ref.json
ref=$(result ref.json)
modes=("--schedule dynamic" "--schedule static" "--io scatter" "--io scatter --schedule static" "-n1")
# (the sanitizer pass: the two protocols that stop at a prefix, and one that drops a segment)
[ -n "${H5MR_IN_SANITIZER_BUILD:-}" ] && modes=("--schedule dynamic" "--io scatter --schedule static")
for m in "${modes[@]}"; do
    for how in rank mpirun; do
        np=2 mode=$m
        [ "$m" = -n1 ] && np=1 mode=""
        rm -f st.ck items.log
        H5MR_TEST_DELAY_US=40000 H5MR_TEST_ITEM_LOG=items.log timeout -k 5 60 ${TESTMPIRUN//NP/$np} "$H5MR" run \
            --json --chunk-rows 4 -k stats -p axis=0 --checkpoint st.ck --checkpoint-every 1000 $mode ck.h5 /x \
            > out.json 2> err.txt &
        mp=$!
        await_items 20 # (of 150)
        t0=$(date +%s%N)
        # ($mp is timeout's; mpirun is its child)
        if [ $how = rank ]; then kill -TERM "$(ranks_of | shuf -n 1 --random-source=<(yes))"; else pkill -USR1 -P $mp; fi
        wait $mp
        rc=$? t=$((($(date +%s%N) - t0) / 1000000))
        desc="a signal to $how ($np ranks ${mode:-})"
        sig=SIGTERM
        [ $how = mpirun ] && sig=SIGUSR1
        saved=$(sed -n "s/^h5mr: stopped by $sig; no output written; the progress (\([0-9]*\) of 150 items) is in 'st.ck': --resume takes it up\$/\1/p" err.txt)
        expect "$desc: exit 1 within 10 s ($rc after $t ms), one line saying what was kept: $(head -c 200 err.txt)" \
            test $rc -eq 1 -a $t -lt 10000 -a -n "$saved" -a -s st.ck
        case "$mode" in *static*) ;; *) expect "$desc: the items done are saved ($saved)" test "${saved:-0}" -gt 0 ;; esac
        expect "$desc: no output on stdout" test ! -s out.json
        mpi 3 "$H5MR" run --json --stats --chunk-rows 4 -k stats -p axis=0 --checkpoint st.ck --resume $mode ck.h5 /x \
            > out.json
        expect "$desc: resumed at 3 ranks, the bits of an uninterrupted run" test "$(result out.json)" = "$ref"
        # (what the checkpoint had, and what the ranks read now, add up to the plan)
        expect "$desc: resumed, the JSON says what the checkpoint had ($saved items)" /usr/bin/python3 -c '
import json, sys
d = json.load(open("out.json")); n = int(sys.argv[1]); pr = d["stats"]["per_rank"]
assert d["items"] == 150 and d["bytes"] == 600 * 40 * 4, d
assert (d.get("resumed") == {"items": n, "bytes": n * 4 * 40 * 4}) if n else "resumed" not in d, d
assert sum(r["items"] for r in pr) == 150 - n and sum(r["bytes"] for r in pr) == (150 - n) * 4 * 40 * 4, d' "${saved:-0}"
    done
done
# h5mr run -n 2 (mpirun its child, in a process group of its own): Ctrl-C at a terminal
# and SIGTERM to the command reach every rank as a stop with a checkpoint.
cat > ctrlc.py << 'EOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
log, n = sys.argv[1].split(":")  # Ctrl-C once the log has n items, 30 s at most
for _ in range(600):
    if os.path.exists(log) and sum(1 for _ in open(log)) >= int(n):
        break
    time.sleep(0.05)
os.write(fd, b"\x03")  # Ctrl-C
out = b""
while select.select([fd], [], [], 30)[0]:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
for how in ctrl-c sigterm; do
    rm -f st.ck items.log
    export H5MR_TEST_ITEM_LOG=items.log
    if [ $how = ctrl-c ]; then
        H5MR_TEST_DELAY_US=40000 timeout -k 5 60 /usr/bin/python3 ctrlc.py items.log:20 "$H5MR" run -n 2 --chunk-rows 4 -k stats \
            -p axis=0 --checkpoint st.ck --checkpoint-every 1000 ck.h5 /x > err.txt 2>&1
        rc=$?
        sig=SIGINT
    else
        H5MR_TEST_DELAY_US=40000 "$H5MR" run -n 2 --json --chunk-rows 4 -k stats -p axis=0 --checkpoint st.ck \
            --checkpoint-every 1000 ck.h5 /x > out.json 2> err.txt &
        mp=$!
        await_items 20
        kill -TERM $mp
        wait $mp
        rc=$?
        sig=SIGTERM
    fi
    unset H5MR_TEST_ITEM_LOG
    saved=$(tr '\r' '\n' < err.txt | sed -n "s/.*stopped by $sig; no output written; the progress (\([0-9]*\) of 150 items) is in 'st.ck'.*/\1/p")
    expect "h5mr run -n 2, $how: exit 1 ($rc), the items done saved (${saved:-none}): $(tail -c 200 err.txt)" \
        test $rc -eq 1 -a "${saved:-0}" -gt 0 -a -s st.ck
    mpi 3 "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 --checkpoint st.ck --resume ck.h5 /x > out.json
    expect "h5mr run -n 2, $how: resumed, the bits of an uninterrupted run" test "$(result out.json)" = "$ref"
done

# A state larger than the checkpoint's blocks of 8 MiB (written past the page cache where
# the file system takes O_DIRECT, the last partial block buffered; H5MR_NO_DIRECT=1 all
# buffered): stats -p axis=0 over 50,000 pixels (11 MB), stopped, resumed at 3 ranks.
"$H5MR" gen --shape 24x50000 --dtype f32 --fill normal --seed 9 wide.h5 /w > /dev/null
mpi 2 "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 wide.h5 /w > wref.json
for direct in "" 1; do
    rm -f w.ck items.log
    H5MR_NO_DIRECT=$direct H5MR_TEST_DELAY_US=150000 H5MR_TEST_ITEM_LOG=items.log timeout -k 5 60 ${TESTMPIRUN//NP/2} \
        "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 --checkpoint w.ck --checkpoint-every 1000 wide.h5 /w \
        > out.json 2> err.txt &
    mp=$!
    await_items 2 # (of 6)
    pkill -USR1 -P $mp
    wait $mp
    expect "a large state (${direct:+H5MR_NO_DIRECT=1}): stopped, a checkpoint of $(stat -c %s w.ck 2> /dev/null) bytes" \
        test "$(stat -c %s w.ck 2> /dev/null || echo 0)" -gt $((8 << 20))
    mpi 3 "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 --checkpoint w.ck --resume wide.h5 /w > out.json
    expect "a large state (${direct:+H5MR_NO_DIRECT=1}): resumed at 3 ranks, the bits of an uninterrupted run" \
        test "$(result out.json)" = "$(result wref.json)"
done

# A kernel of two passes (histogram: the range, then the counts) stopped in its second
# pass: the checkpoint has the first pass's final state (none was due before), and the
# resumed job ends with the bits of an uninterrupted one.
mpi 2 "$H5MR" run --json --chunk-rows 4 -k histogram -p bins=7 ck.h5 /x > ref2.json
rm -f st.ck items.log
H5MR_TEST_DELAY_US=20000 H5MR_TEST_ITEM_LOG=items.log timeout -k 5 60 ${TESTMPIRUN//NP/2} "$H5MR" run --json \
    --chunk-rows 4 -k histogram -p bins=7 --checkpoint st.ck --checkpoint-every 1000 ck.h5 /x > out.json 2> err.txt &
mp=$!
await_items 165 # (150 a pass)
kill -TERM "$(ranks_of | head -n 1)"
wait $mp
expect "histogram stopped in pass 2: $(head -c 200 err.txt)" grep -q "items of pass 2 of 2) is in 'st.ck'" err.txt
mpi 3 "$H5MR" run --json --chunk-rows 4 -k histogram -p bins=7 --checkpoint st.ck --resume ck.h5 /x > out.json
expect "histogram stopped in pass 2, resumed at 3 ranks: the bits of an uninterrupted run" \
    test "$(result out.json)" = "$(result ref2.json)"

# Without --checkpoint, SIGUSR1 stops at once like SIGTERM.
H5MR_TEST_DELAY_US=20000 timeout -k 5 60 ${TESTMPIRUN//NP/2} "$H5MR" run --chunk-rows 4 ck.h5 /x > out.json 2> err.txt &
mp=$!
sleep 0.5
pkill -USR1 -P $mp
wait $mp
rc=$?
expect "SIGUSR1 without --checkpoint: exit 1 ($rc), 'stopped by SIGUSR1': $(head -c 200 err.txt)" \
    test $rc -eq 1 -a "$(grep -c '^h5mr: stopped by SIGUSR1; no output written$' err.txt)" = 1

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
            kill -TERM $mp 2> /dev/null # what Slurm does at a time limit
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
chaos -k histogram -p bins=9 ck.h5 /x
chaos -k topk -p k=7 ck.h5 /x
chaos -k stats --by /lab ck.h5 /x
chaos -k minmax --io scatter ck.h5 /x
if [ -z "${H5MR_IN_SANITIZER_BUILD:-}" ]; then # (the sanitizer pass: two passes, variable states, --by, scatter)
    chaos -k sum ck.h5 /x
    chaos -k stats ck.h5 /x
    chaos -k stats -p axis=0 --schedule static ck.h5 /x
    chaos -k count -p gt=0.5 ck.h5 /x
    chaos -k valuecounts ck.h5 /i
    chaos -k corr -p axis=0 --with /y ck.h5 /x
    chaos -k sum -p axis=1 ck.h5 /x
fi

# ---------------------------------------------------------------- h5mr map: the rows written are the progress
# The output is written under .m.h5.partial-h5mr beside m.h5, kept when the job is
# killed or stopped (its rows before the checkpoint's item are on disk), renamed to
# m.h5 when the job ends: m.h5 itself is never partial; resumed at 1-3 ranks, the file
# has the values of an uninterrupted run.
same_dataset() { /usr/bin/python3 -c '
import h5py, numpy as np, sys
a, b = (h5py.File(p, "r")[sys.argv[3]] for p in sys.argv[1:3])
sys.exit(0 if a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a[...], b[...], equal_nan=True) else 1)' "$@"; }
absent_or_same() { [ ! -e m.h5 ] || same_dataset m.h5 mref.h5 "$1"; }
chaos_map() { # DATASET ARGS...: a map job killed up to 3 times, then resumed to the end
    local obj=$1 np mp victim kills=0 rc desc
    shift
    desc="map $*"
    rm -f m.h5 mref.h5 job.ck .m.h5.partial-h5mr
    mpi 2 "$H5MR" map --chunk-rows 4 "$@" ck.h5 /x -o mref.h5 > /dev/null || fail "$desc: the uninterrupted run"
    for attempt in 1 2 3; do
        np=$((attempt % 3 + 1))
        H5MR_TEST_DELAY_US=8000 timeout -k 5 60 ${TESTMPIRUN//NP/$np} "$H5MR" map --chunk-rows 4 --checkpoint job.ck \
            --checkpoint-every 0.05 --resume "$@" ck.h5 /x -o m.h5 > /dev/null 2> err.txt &
        mp=$!
        sleep 0.$((RANDOM % 5 + 3))
        victim=$(ranks_of | shuf -n 1 --random-source=<(yes))
        case $attempt in
        1) [ -n "$victim" ] && kill -9 "$victim" 2> /dev/null ;;
        2) [ -n "$victim" ] && kill -TERM "$victim" 2> /dev/null ;;
        3) pkill -USR1 -P $mp 2> /dev/null ;;
        esac
        wait $mp
        rc=$?
        [ $rc -eq 0 ] && break
        kills=$((kills + 1))
        # (a kill after the job's end leaves m.h5 complete; never partial)
        expect "$desc: interrupted, m.h5 absent or complete" absent_or_same "$obj"
    done
    if [ $rc -ne 0 ]; then
        # (a kill before the job's first checkpoint may come before its output exists)
        [ -e job.ck ] && expect "$desc: the partial output is kept for the resume" test -s .m.h5.partial-h5mr
        mpi 3 "$H5MR" map --chunk-rows 4 --checkpoint job.ck --resume "$@" ck.h5 /x -o m.h5 > /dev/null 2> err.txt ||
            fail "$desc: the last resume: $(head -c 300 err.txt)"
    fi
    expect "$desc: interrupted $kills times, resumed at 1-3 ranks: the values of an uninterrupted run" \
        same_dataset m.h5 mref.h5 "$obj"
    expect "$desc: the checkpoint and the partial output are gone" test ! -e job.ck -a ! -e .m.h5.partial-h5mr
    expect "$desc: no part of the output left" test -z "$(find . -name '.m.h5.*')"
}
chaos_map /x -k anomaly --dtype f32
# Compressed: each rank's compressed chunks (and the rows of bands it holds only partly:
# chunks of 6 rows, items of 4) are in part files of fixed names that a checkpoint
# records; a resumed job, at another number of ranks, joins those with its own.
chaos_map /x -k anomaly --dtype f32 --gzip 4 --chunk 6x40
if [ -z "${H5MR_IN_SANITIZER_BUILD:-}" ]; then
    chaos_map /x -k scale -p a=2 -p b=1
    chaos_map /x -k convert --dtype f64 --chunk 7x40
    chaos_map /x -k scale -p a=3 --shuffle --gzip 1 --chunk 3x7
fi
# A compressed job stopped by a signal keeps its parts; a part the checkpoint names that
# is gone is exit 2 at the resume (not a wrong file at the end), the checkpoint kept.
rm -f job.ck .m.h5.* m.h5 items.log
H5MR_TEST_DELAY_US=20000 H5MR_TEST_ITEM_LOG=items.log timeout -k 5 60 ${TESTMPIRUN//NP/2} "$H5MR" map \
    --chunk-rows 4 -k scale --gzip 4 --chunk 6x40 --checkpoint job.ck --checkpoint-every 1000 ck.h5 /x -o m.h5 \
    > /dev/null 2> err.txt &
mp=$!
await_items 30
pkill -USR1 -P $mp
wait $mp
expect "a stopped compressed map: exit 1, the checkpoint and its parts kept" \
    test $? -eq 1 -a -s job.ck -a -s .m.h5.partial-h5mr.part-0-0 -a -s .m.h5.partial-h5mr.part-0-1 -a ! -e m.h5
mv .m.h5.partial-h5mr.part-0-1 part.saved
expect_error 2 "the part '.*part-0-1' of the checkpoint's output is missing" map --chunk-rows 4 -k scale --gzip 4 \
    --chunk 6x40 --checkpoint job.ck --resume ck.h5 /x -o m.h5
mv part.saved .m.h5.partial-h5mr.part-0-1
# (a part of a session killed before its first checkpoint, at more ranks: no record names it)
echo stale > .m.h5.partial-h5mr.part-1-7
mpi 3 "$H5MR" map --chunk-rows 4 -k scale --gzip 4 --chunk 6x40 --checkpoint job.ck --resume ck.h5 /x -o m.h5 \
    > /dev/null 2> err.txt || fail "the resume of the stopped compressed map: $(head -c 300 err.txt)"
mpi 1 "$H5MR" map --chunk-rows 4 -k scale ck.h5 /x -o mref.h5 --force > /dev/null
expect "the stopped compressed map, resumed: the values of an uninterrupted run" same_dataset m.h5 mref.h5 /x
expect "its parts are gone, and the one no record named" test -z "$(find . -name '.m.h5.*')"
# A partial output that is not this job's is refused (exit 2), and left alone.
rm -f job.ck .m.h5.partial-h5mr m.h5
H5MR_TEST_DELAY_US=8000 timeout -k 5 60 ${TESTMPIRUN//NP/2} "$H5MR" map --chunk-rows 4 --checkpoint job.ck \
    --checkpoint-every 0.05 ck.h5 /x -o m.h5 > /dev/null 2>&1 &
mp=$!
sleep 0.5
kill -9 "$(ranks_of | head -n 1)" 2> /dev/null
wait $mp
"$H5MR" gen --shape 5 --dtype f32 --fill zeros --force .m.h5.partial-h5mr /x > /dev/null
expect_error 2 "is not this job's" map --chunk-rows 4 --checkpoint job.ck --resume ck.h5 /x -o m.h5

# ---------------------------------------------------------------- a full disk (tmpfs)
# A checkpoint that cannot be written ends the job: exit 1 on every rank, one line
# naming the cause; the checkpoint before it as it was (byte for byte), with the parts
# it names; no temporary and no part of the failed session left; with room again, the
# resume from it gives the bits of an uninterrupted run.
mkdir -p small
if mount -t tmpfs -o size=4m tmpfs small 2> /dev/null; then
    trap 'umount "$work/small" 2> /dev/null; rm -rf "$work"' EXIT
    full_disk() { head -c 8M /dev/zero > small/filler 2> /dev/null; }
    # stop COMMAND CHECKPOINT ARGS...: the job, stopped by SIGUSR1 after 30 items
    stop() {
        local cmd=$1 ck=$2
        shift 2
        rm -f items.log
        H5MR_TEST_DELAY_US=20000 H5MR_TEST_ITEM_LOG=items.log timeout -k 5 60 ${TESTMPIRUN//NP/2} "$H5MR" $cmd "$@" \
            --checkpoint-every 1000 > /dev/null 2> err.txt &
        local mp=$!
        await_items 30
        pkill -USR1 -P $mp
        wait $mp
        local rc=$?
        expect "$cmd stopped, for the full disk: exit 1 ($rc): $(head -c 200 err.txt)" test $rc -eq 1 -a -s "$ck"
    }
    one_line() { test "$(grep -c '^h5mr: ' err.txt)" -eq 1 && grep -q "No space left on device" err.txt; }
    for np in 1 3; do
        rm -f small/*
        stop run small/st.ck --json --chunk-rows 4 -k stats -p axis=0 --checkpoint small/st.ck ck.h5 /x
        md5=$(md5sum small/st.ck)
        full_disk
        mpi $np "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 --checkpoint small/st.ck --checkpoint-every 0.000001 \
            --resume ck.h5 /x > out.json 2> err.txt
        rc=$?
        expect "run at $np ranks, its checkpoint on a full disk: exit 1 ($rc), one line: $(head -c 300 err.txt)" \
            test $rc -eq 1 -a ! -s out.json
        expect "run at $np ranks, its checkpoint on a full disk: one line naming the cause" one_line
        expect "run at $np ranks, its checkpoint on a full disk: the one before as it was" test "$md5" = "$(md5sum small/st.ck)"
        expect "run at $np ranks, its checkpoint on a full disk: nothing else left" test "$(ls -A small)" = "filler
st.ck"
        rm small/filler
        mpi $np "$H5MR" run --json --chunk-rows 4 -k stats -p axis=0 --checkpoint small/st.ck --resume ck.h5 /x > out.json
        expect "run at $np ranks, resumed with room again: the bits of an uninterrupted run" test "$(result out.json)" = "$ref"

        # map, compressed: each rank's part files beside the output, on the full disk
        rm -f small/* small/.m.h5.*
        stop map small/m.ck --chunk-rows 4 -k scale --gzip 4 --chunk 6x40 --checkpoint small/m.ck ck.h5 /x -o small/m.h5
        before=$(cd small && md5sum m.ck .m.h5.*)
        full_disk
        mpi $np "$H5MR" map --chunk-rows 4 -k scale --gzip 4 --chunk 6x40 --checkpoint small/m.ck --checkpoint-every 0.000001 \
            --resume ck.h5 /x -o small/m.h5 > /dev/null 2> err.txt
        rc=$?
        expect "map --gzip at $np ranks on a full disk: exit 1 ($rc): $(head -c 300 err.txt)" test $rc -eq 1 -a ! -e small/m.h5
        expect "map --gzip at $np ranks on a full disk: one line naming the cause" one_line
        expect "map --gzip at $np ranks on a full disk: the checkpoint, its output and its parts as they were, nothing else" \
            test "$before" = "$(cd small && md5sum m.ck .m.h5.*)"
        rm small/filler
        mpi $np "$H5MR" map --chunk-rows 4 -k scale --gzip 4 --chunk 6x40 --checkpoint small/m.ck --resume ck.h5 /x \
            -o small/m.h5 > /dev/null 2> err.txt || fail "map --gzip at $np ranks, resumed with room: $(head -c 300 err.txt)"
        mpi 1 "$H5MR" map --chunk-rows 4 -k scale ck.h5 /x -o mref.h5 --force > /dev/null
        expect "map --gzip at $np ranks, resumed with room again: the values of an uninterrupted run" \
            same_dataset small/m.h5 mref.h5 /x
        expect "map --gzip at $np ranks, resumed: only the output left" test "$(ls -A small)" = m.h5
    done
    umount small
else
    echo "no tmpfs could be mounted (not root?): the full-disk cases are not run"
fi
[ -n "${CHECKPOINT_VERBOSE:-}" ] && echo "$passes passed"
finish
