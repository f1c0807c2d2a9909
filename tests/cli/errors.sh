#!/bin/bash
# SPEC's error table, each case at 1 and 3 ranks under a timeout: the documented exit
# code on every rank, exactly one "h5mr: " line naming what was wrong, nothing on
# stdout, done within seconds.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
"$top_builddir/tests/tools/make_odd" odd.h5 || fail "make_odd"
"$H5MR" gen --shape 1000x8 --dtype f64 --chunk 100x8 --gzip 1 good.h5 /x || fail "gen"
"$H5MR" gen --shape 10 --dtype i32 good.h5 /ints || fail "gen ints"
printf 'not an HDF5 file\n' > text.h5
head -c 5000 good.h5 > truncated.h5
before=$(md5sum good.h5 odd.h5)
# Layouts are named as HDF5 stores them, and each is read.
for l in compact virtual; do
    expect "info names the $l layout" bash -c '"$0" info odd.h5 /$1 | grep -q "layout   $1" && "$0" info --json odd.h5 /$1 | grep -q "\"layout\": \"$1\""' "$H5MR" $l
    for np in 1 3; do
        mpi $np "$H5MR" run -k sum --json odd.h5 /$l > layout.json
        expect "sum of a $l dataset at $np ranks" grep -q '"sum": 10.0' layout.json
    done
done
expect "info lists an undecodable filter with the reason" bash -c '"$0" info odd.h5 | grep "^/lzf" | grep -q "filter 32000 (lzf)"' "$H5MR"

# ---------------------------------------------------------------- input (3)
expect_error 3 "missing.h5.*No such file" run missing.h5 /x
expect_error 3 "not an HDF5 file" run text.h5 /x
expect_error 3 "truncated" run truncated.h5 /x
expect_error 3 "has no dataset '/nope'" run good.h5 /nope
expect_error 3 "has no dataset '/a/b/c'" run good.h5 /a/b/c
expect_error 3 "is a group" run odd.h5 /group
expect_error 3 "stored with filter 32000 (lzf), which this HDF5 cannot decode: install the plugin for it and set HDF5_PLUGIN_PATH" run odd.h5 /lzf
expect_error 3 "is a named datatype" run odd.h5 /named_type
expect_error 3 "is a scalar" run odd.h5 /scalar
expect_error 3 "null dataspace" run odd.h5 /null
for t in string compound enum array vlen float16; do
    expect_error 3 "/$t.*unsupported type" run odd.h5 /$t
done
expect_error 3 "is a directory" run . /x
# A virtual dataset whose source file is missing (HDF5 would read fill values there);
# sources are found beside the virtual dataset's file, from any working folder.
/usr/bin/python3 -c '
import h5py, numpy as np
with h5py.File("vsrc.h5", "w") as f:
    f["x"] = np.ones((4, 3))
for name, other in (("vmissing.h5", "gone.h5"), ("vok.h5", "vsrc.h5")):
    lay = h5py.VirtualLayout(shape=(8, 3), dtype="f8")
    lay[0:4] = h5py.VirtualSource("vsrc.h5", "x", shape=(4, 3))
    lay[4:8] = h5py.VirtualSource(other, "x", shape=(4, 3))
    with h5py.File(name, "w") as f:
        f.create_virtual_dataset("v", lay, fillvalue=0)
'
expect_error 3 "virtual dataset '/v' in 'vmissing.h5' maps rows of 'gone.h5', which is missing" run vmissing.h5 /v
mkdir -p elsewhere
(cd elsewhere && mpi 1 "$H5MR" run -k sum --json ../vok.h5 /v > ../vok.json)
expect "a virtual dataset's sources beside it, run from another folder" grep -q '"sum": 24.0, "count": 24' vok.json
expect_error 3 "one row of the dataset is 4.29 GB" run odd.h5 /wide_rows
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    # root reads everything: drop to nobody for the unreadable file
    cp good.h5 locked.h5 && chmod 000 locked.h5 && chmod 755 "$TMP"
    if as_nobody "$H5MR" --version > /dev/null 2>&1; then
        as_nobody "$H5MR" run locked.h5 /x > out.txt 2> err.txt
        expect "unreadable file: exit 3, Permission denied" test $? -eq 3 -a "$(grep -c 'locked.h5.*Permission denied' err.txt)" -eq 1
    else
        echo "nobody cannot run $H5MR from here (a private folder above it): unreadable-file case not run"
    fi
else
    cp good.h5 locked.h5 && chmod 000 locked.h5
    expect_error 3 "Permission denied" run locked.h5 /x
fi
# ---------------------------------------------------------------- usage (2)
expect_error 2 "unknown option '--bogus'" run --bogus good.h5 /x
expect_error 2 "unknown command 'frobnicate'" frobnicate
expect_error 2 "unknown kernel 'nope'" run -k nope good.h5 /x
expect_error 2 "no parameter 'nope'" run -k stats -p nope=1 good.h5 /x
expect_error 2 "is not KEY=VALUE" run -p axis good.h5 /x
expect_error 2 "bins=abc is not an integer" run -k histogram -p bins=abc good.h5 /x
expect_error 2 "k=-1" run -k topk -p k=-1 good.h5 /x
expect_error 2 "axis=2" run -k stats -p axis=2 good.h5 /x
expect_error 2 "largest=maybe" run -k topk -p largest=maybe good.h5 /x
expect_error 2 "gt=abc is not a number" run -k count -p gt=abc good.h5 /x
expect_error 2 "chunk-rows '0'" run --chunk-rows 0 good.h5 /x
expect_error 2 "chunk-rows '-5'" run --chunk-rows -5 good.h5 /x
expect_error 2 "chunk-rows 'ten'" run --chunk-rows ten good.h5 /x
expect_error 2 "schedule 'sometimes'" run --schedule sometimes good.h5 /x
expect_error 2 "io 'sideways'" run --io sideways good.h5 /x
expect_error 2 "missing DATASET" run good.h5
expect_error 2 "integer datasets only" run -k valuecounts good.h5 /x
expect_error 2 "chunk-rows 32 makes items of 4.29 GB" run --chunk-rows 32 odd.h5 /big_rows
expect_error 2 "folder .*does not exist" run -o /nonexistent/dir/r.h5 good.h5 /x
expect_error 2 "shape '0xq'" gen --shape 0xq new.h5 /x
expect_error 2 "dtype 'f16'" gen --shape 4 --dtype f16 new.h5 /x
expect_error 2 "already has '/x'" gen --shape 4 good.h5 /x
expect "the inputs were not modified" test "$before" = "$(md5sum good.h5 odd.h5)"
finish
