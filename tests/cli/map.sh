#!/bin/bash
# tests/cli/map.sh: h5mr map against numpy (tests/cli/map.py) at 1-4 ranks, both
# schedules and I/O modes, and -o FILE:/OBJECT; then what a write survives: a full
# disk, kill -9 of a rank and of mpirun mid-write, SIGTERM, with an existing file of
# that name each time (it stays as it was).
. "$top_srcdir/tests/lib.sh"
work=$(mktemp -d)
trap 'umount "$work/small" 2> /dev/null; rm -rf "$work"' EXIT
# Debian's python3 (the one with numpy, h5py and netCDF4), not another on PATH.
[ -n "${MAP_NO_PY:-}" ] || WORKDIR=$work timeout -k 5 1200 /usr/bin/python3 "$top_srcdir/tests/cli/map.py" || fail "map.py"
cd "$work"
no_temps() { test -z "$(ls -A "${1:-.}" | grep h5mr-)"; }

"$H5MR" gen --shape 4000x64 --dtype f64 in.h5 /x > /dev/null
"$H5MR" gen --shape 4000000x2 --dtype f64 --fill normal big.h5 /x > /dev/null # ~2 s at gzip 9

# ---------------------------------------------------------------- a full disk (tmpfs)
mkdir -p small
if mount -t tmpfs -o size=4m tmpfs small 2> /dev/null; then
    mpi 2 "$H5MR" map in.h5 /x -o small/out.h5 > /dev/null || fail "map on the small disk"
    "$H5MR" gen --shape 100x3 small/user.h5 /keep > /dev/null
    md5_o=$(md5sum small/out.h5) md5_u=$(md5sum small/user.h5)
    head -c 1500000 /dev/zero > small/filler
    for opts in "" "--gzip 1" "--chunk 7x5"; do
        for np in 1 3; do
            mpi $np "$H5MR" map $opts -k scale in.h5 /x -o small/out.h5 > /dev/null 2> err.txt
            rc=$?
            expect "map $opts at $np ranks on a full disk: exit 1 ($rc), one line" \
                test $rc -eq 1 -a "$(grep -c '^h5mr: ' err.txt)" -eq 1
            expect "map $opts on a full disk: it says so" grep -q "No space left on device" err.txt
            expect "map $opts on a full disk: the old output intact" test "$md5_o" = "$(md5sum small/out.h5)"
            mpi $np "$H5MR" map $opts in.h5 /x -o small/user.h5:/added > /dev/null 2> err.txt
            expect "map $opts -o FILE:/DATASET on a full disk: exit 1" test $? -eq 1
            expect "map $opts -o FILE:/DATASET on a full disk: the file as it was" \
                test "$md5_u" = "$(md5sum small/user.h5)"
            expect "map $opts on a full disk: no temporary left" no_temps small
        done
    done
    umount small
else
    echo "no tmpfs could be mounted (not root?): the full-disk cases are not run"
fi

# ---------------------------------------------------------------- killed mid-write
mpi 1 "$H5MR" map in.h5 /x -o k.h5 > /dev/null
"$H5MR" gen --shape 10x3 u.h5 /keep > /dev/null
md5_k=$(md5sum k.h5) md5_u=$(md5sum u.h5)
# The ranks themselves (not mpirun, nor a libtool wrapper's shell).
ranks_of() { own_ranks "h5mr map --gzip 9"; }
for target in rank mpirun; do
    for out in k.h5 u.h5:/big; do
        ${TESTMPIRUN//NP/2} "$H5MR" map --gzip 9 --shuffle big.h5 /x -o $out > /dev/null 2>&1 &
        mp=$!
        # until one of its ranks writes a part file (earlier kills left theirs)
        for _ in $(seq 200); do
            found=
            for p in $(ranks_of); do [ -n "$(find . -name ".*.h5mr-$p-*" -size +64k -print -quit)" ] && found=1; done
            [ -n "$found" ] && break
            sleep 0.05
        done
        expect "a rank of the job to kill is found writing" test -n "$found"
        if [ $target = rank ]; then kill -9 $(ranks_of | head -1); else kill -9 $mp; fi
        wait $mp 2> /dev/null
        sleep 1
        kill_own -9 "h5mr map --gzip 9"
        expect "kill -9 of $target during map -o $out: k.h5 as it was" test "$md5_k" = "$(md5sum k.h5)"
        expect "kill -9 of $target during map -o $out: u.h5 as it was" test "$md5_u" = "$(md5sum u.h5)"
    done
done
mpi 2 "$H5MR" map -k scale in.h5 /x -o k.h5 > /dev/null || fail "map after the kills"
mpi 2 "$H5MR" map in.h5 /x -o u.h5:/added > /dev/null || fail "map -o FILE:/DATASET after the kills"
expect "the next writer removes what the killed ones left" no_temps
expect "after the kills: both outputs readable" bash -c 'h5dump -H k.h5 > /dev/null && h5dump -d /keep u.h5 > /dev/null'

# SIGTERM (Slurm's time limit) to mpirun, and to the ranks: stopped within 10 s,
# non-zero, no output, no temporary.  The HDF5 file under construction has a name
# (HDF5 opens files by name), which the ranks' signal handlers remove: mpirun gives
# them its default second before SIGKILL (lib.sh sets 0 for speed elsewhere).
for target in ranks mpirun; do
    rm -f t.h5
    t0=$SECONDS
    OMPI_MCA_odls_base_sigkill_timeout=1 ${TESTMPIRUN//NP/2} "$H5MR" map --gzip 9 --shuffle big.h5 /x -o t.h5 > /dev/null 2> sig.txt &
    mp=$!
    for _ in $(seq 200); do
        found=
        for p in $(ranks_of); do [ -n "$(find . -name ".t.h5.h5mr-$p-*" -print -quit)" ] && found=1; done
        [ -n "$found" ] && break
        sleep 0.05
    done
    if [ $target = ranks ]; then kill -TERM $(ranks_of) 2> /dev/null; else kill -TERM $mp; fi
    wait $mp
    rc=$?
    expect "SIGTERM to $target during map: non-zero ($rc) within 10 s" test $rc -ne 0 -a $((SECONDS - t0)) -le 12
    expect "SIGTERM to $target during map: no output" test ! -e t.h5
    expect "SIGTERM to $target during map: no temporary" no_temps
    [ $target = ranks ] && expect "SIGTERM to the ranks during map: a line says so" grep -q '^h5mr: stopped by SIGTERM' sig.txt
done
finish
