#!/bin/bash
# tests/cli/python.sh: the Python package (python/h5mr) from the build tree, at 1 and 3
# ranks of mpirun -n N python3, with and without mpi4py, and at one rank without mpirun
# (ranks=2 starts the command).  The command's results, made here, are the reference
# for the built-in kernels called from Python (tests/cli/python.py).
. "$top_srcdir/tests/lib.sh"
if [ -n "${H5MR_IN_SANITIZER_BUILD:-}" ]; then
    # An instrumented libh5mr cannot be loaded into an uninstrumented python3; the C
    # paths under the package (variable states, companions, errors) run there already.
    echo "python: not repeated in the sanitizer build"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export PYTHONPATH=$top_srcdir/python H5MR_LIBRARY=$top_builddir/lib/.libs/libh5mr.so WORKDIR=$work
# Debian's python3 (numpy, h5py, mpi4py), not another on PATH.
py=/usr/bin/python3
$py - << 'PY'
import h5py, numpy as np
rng = np.random.default_rng(20261202)
with h5py.File("py.h5", "w") as f:
    x = rng.normal(size=(503, 12)).astype(np.float32)
    x[3, 4] = x[100, 0] = np.nan
    f["x"] = x
    f["y"] = rng.normal(size=(503, 12)).astype(np.float32)
    f["i"] = rng.integers(-20, 20, size=(503, 12)).astype(np.int16)
    f["w"] = rng.uniform(0, 2, size=12)
    f["m"] = (rng.uniform(size=12) > 0.3).astype(np.uint8)
    f["lab"] = (np.arange(503) % 5).astype(np.int32)
    f.create_dataset("c", data=x, chunks=(40, 12), compression="gzip", shuffle=True)
PY
# TAG, then the job as JSON: kernel, files, dataset, options and parameters of h5mr.run
cat > jobs.txt << 'EOF2'
sum	{"kernel": "sum", "files": ["py.h5"], "dataset": "/x", "opts": {}}
stats	{"kernel": "stats", "files": ["py.h5"], "dataset": "/x", "opts": {"chunk_rows": 7}}
stats-axis0	{"kernel": "stats", "files": ["py.h5"], "dataset": "/x", "opts": {"axis": 0, "chunk_rows": 4}}
stats-axis1	{"kernel": "stats", "files": ["py.h5"], "dataset": "/c", "opts": {"axis": 1}}
minmax	{"kernel": "minmax", "files": ["py.h5"], "dataset": "/x[10:400:3, 2:]", "opts": {}}
histogram	{"kernel": "histogram", "files": ["py.h5"], "dataset": "/x", "opts": {"bins": 9}}
count	{"kernel": "count", "files": ["py.h5"], "dataset": "/i", "opts": {"gt": 3}}
topk	{"kernel": "topk", "files": ["py.h5"], "dataset": "/x", "opts": {"k": 5}}
valuecounts	{"kernel": "valuecounts", "files": ["py.h5"], "dataset": "/i", "opts": {}}
corr	{"kernel": "corr", "files": ["py.h5"], "dataset": "/x", "opts": {"with_": "/y", "axis": 0}}
by	{"kernel": "stats", "files": ["py.h5"], "dataset": "/x", "opts": {"by": "/lab"}}
weights	{"kernel": "sum", "files": ["py.h5"], "dataset": "/x", "opts": {"weights": "/w", "mask": "/m"}}
files	{"kernel": "stats", "files": ["py.h5", "py.h5"], "dataset": "/c", "opts": {"raw": true}}
EOF2
# The command's own results (2 ranks), from the same options.
while IFS=$'\t' read -r tag spec; do
    args=$($py -c '
import json, sys
s = json.loads(sys.argv[1])
a = ["-k", s["kernel"]]
flags = {"chunk_rows": "--chunk-rows", "with_": "--with", "by": "--by", "weights": "--weights", "mask": "--mask"}
for k, v in s["opts"].items():
    if k in flags: a += [flags[k], str(v)]
    elif k == "raw": a += ["--raw"]
    else: a += ["-p", "%s=%s" % (k, v)]
print("\n".join(a + s["files"] + [s["dataset"]]))' "$spec")
    mapfile -t argv <<< "$args"
    mpi 2 "$H5MR" run --json "${argv[@]}" > "ref-$tag.json" < /dev/null || fail "the command: $tag"
done < jobs.txt

for np in 1 3; do
    for m4 in "" 1; do
        H5MR_TEST_MPI4PY=$m4 mpi $np $py "$top_srcdir/tests/cli/python.py" > out.txt 2> err.txt
        rc=$?
        expect "python.py at $np ranks${m4:+ with mpi4py}: exit $rc: $(grep -m 5 -E 'FAIL|Error|rror:' err.txt)" test $rc -eq 0
        expect "python.py at $np ranks${m4:+ with mpi4py}: every rank finished" test "$(grep -o ', 0 failed' out.txt | wc -l)" -eq $np
    done
done
# One rank without mpirun (a singleton; ranks=2 starts the command).
timeout -k 5 300 $py "$top_srcdir/tests/cli/python.py" > out.txt 2> err.txt
expect "python.py without mpirun: exit $?: $(grep -m 5 -E 'FAIL|rror' err.txt)" grep -q ' 0 failed' out.txt

# The notebook-style session of the README, at 2 ranks.
"$H5MR" gen --shape 120x73x144 --dtype f32 --chunk 10x73x144 --fill normal --seed 7 session.h5 /t2m > /dev/null
mpi 2 $py "$top_srcdir/python/examples/session.py" > out.txt 2> err.txt
expect "the README's session: exit $?, its lines once: $(head -c 300 err.txt)" \
    test "$(grep -c -E '^(per-pixel mean|ran on 2 ranks|January histogram|fraction above|UsageError|wrote anomaly.h5)' out.txt)" -eq 6

# make install puts the package where the prefix's python3 finds it, with the library's
# and the command's places (installed into a DESTDIR here).
dest=$work/dest
if make -C "$top_builddir" install DESTDIR="$dest" > install.txt 2>&1; then
    prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
    pydir=$(sed -n 's/^H5MR_PYTHONDIR = //p' "$top_builddir/Makefile")
    pydir=${pydir//'${prefix}'/$prefix}
    libdir=$(sed -n "s/^libdir = '\(.*\)'$/\1/p" "$dest$pydir/h5mr/_config.py")
    expect "make install: the package and its _config.py ($pydir, libdir $libdir)" test -f "$dest$pydir/h5mr/_kernel.py" -a -n "$libdir"
    got=$(cd "$work" && PYTHONPATH=$dest$pydir H5MR_LIBRARY=$dest$libdir/libh5mr.so \
        $py -c 'import h5mr, sys; r = h5mr.run("sum", "py.h5", "/x"); print(h5mr.__file__, r["count"])')
    expect "the installed package runs a job ($got)" test "${got#"$dest$pydir"/h5mr/__init__.py }" = 6034
else
    fail "make install DESTDIR=$dest: $(tail -3 install.txt)"
fi
finish
