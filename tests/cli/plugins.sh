#!/bin/bash
# Kernels of one's own: the example plugin (apps/examples/frac_above.c) at 1 and 3
# ranks against Python; `kernels --plugin`; every way loading can fail, and a kernel's
# own error at run time, at 1 and 3 ranks; the plugin built against an installed h5mr
# with pkg-config (make install into a scratch prefix; --define-prefix because the
# prefix there is not the configured one).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
frac=$top_builddir/apps/examples/.libs/frac_above.so
tools=$top_builddir/tests/tools/.libs
"$H5MR" gen --shape 23x4x5 --dtype f32 --chunk 3x4x5 --fill normal --seed 3 d.h5 /img || fail "gen"
for np in 1 3; do
    mpi $np "$H5MR" run --plugin "$frac" -k frac_above -p threshold=0.25 --chunk-rows 2 --json d.h5 /img > r.json ||
        fail "frac_above at $np ranks"
    if command -v python3 >/dev/null; then
        "$H5DUMP" -m '%.9g' -y -w 0 -d /img d.h5 | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr -d ' \n' > img.txt
        expect "frac_above at $np ranks equals Python's" python3 -c '
import json
x = [float(v) for v in open("img.txt").read().split(",")]
want = [sum(1 for v in x[i * 20:(i + 1) * 20] if v > 0.25) / 20 for i in range(23)]
got = json.load(open("r.json"))["result"]["fraction"]
assert got == want, (got, want)'
    fi
done
# The example that reads a companion (--with), against numpy, at 1 and 3 ranks, a
# trailing (Y, X) companion broadcast over the stack too.
rmsd=$top_builddir/apps/examples/.libs/rmsd.so
if /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
    /usr/bin/python3 -c '
import h5py, numpy as np
r = np.random.default_rng(4)
with h5py.File("pair.h5", "w") as f:
    a = r.normal(0, 1, (23, 4, 5)); a[2, 1, 1] = np.nan
    b = a + r.normal(0, 0.1, a.shape); b[7, 0, 0] = np.nan
    f["a"], f["b"], f["clim"] = a, b, r.normal(0, 1, (4, 5))'
    for np in 1 3; do
        for with in /b /clim; do
            mpi $np "$H5MR" run --plugin "$rmsd" -k rmsd --chunk-rows 4 --json pair.h5 /a --with $with > rm.json ||
                fail "rmsd --with $with at $np ranks"
            expect "rmsd --with $with at $np ranks equals numpy" /usr/bin/python3 -c '
import h5py, json, numpy as np, sys
f = h5py.File("pair.h5"); a = f["a"][:]; b = np.broadcast_to(f[sys.argv[1]][:], a.shape)
d = (a - b)[~np.isnan(a - b)]
r = json.load(open("rm.json"))["result"]
assert r["count"] == d.size and abs(r["rmsd"] - np.sqrt((d * d).mean())) < 1e-14, (r, d.size)' $with
        done
    done
fi
expect_error 2 "rmsd needs --with" run --plugin "$rmsd" -k rmsd d.h5 /img
# The example map kernel (h5mr map: a dataset written), against np.clip.
clip=$top_builddir/apps/examples/.libs/clip.so
if /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
    for np in 1 3; do
        rm -f clipped.h5
        mpi $np "$H5MR" map --plugin "$clip" -k clip -p lo=-0.5 -p hi=1 --chunk-rows 4 pair.h5 /a -o clipped.h5 \
            > /dev/null || fail "map -k clip at $np ranks"
        expect "map -k clip at $np ranks equals np.clip, NaN kept" /usr/bin/python3 -c '
import h5py, numpy as np
a = h5py.File("pair.h5")["a"][:]; o = h5py.File("clipped.h5")["a"][:]
assert o.dtype == np.float64 and o.tobytes() == np.clip(a, -0.5, 1).tobytes()'
    done
fi
expect "kernels --plugin marks clip as a map kernel" bash -c '"$0" kernels --plugin "$1" | grep -q "^clip .*(h5mr map)"' "$H5MR" "$clip"
expect_error 2 "clip: lo > hi" map --plugin "$clip" -k clip -p lo=2 -p hi=1 d.h5 /img -o c.h5
expect_error 2 "writes a dataset: use h5mr map" run --plugin "$clip" -k clip d.h5 /img
expect "kernels --plugin lists frac_above" bash -c '"$0" kernels --plugin "$1" | grep -q "^frac_above "' "$H5MR" "$frac"

printf 'not a shared object\n' > fake.so
expect_error 2 "cannot load plugin 'missing.so': No such file" run --plugin missing.so -k sum d.h5 /img
expect_error 2 "cannot load plugin 'fake.so'" run --plugin fake.so -k sum d.h5 /img
expect_error 2 "has no entry point h5mr_plugin_init" run --plugin "$tools/plugin_no_entry.so" -k sum d.h5 /img
expect_error 2 "built for kernel ABI" run --plugin "$tools/plugin_bad_abi.so" -k sum d.h5 /img
expect_error 2 "built for kernel ABI 1, this h5mr has ABI 2; rebuild it" run --plugin "$tools/plugin_old_abi.so" -k sum d.h5 /img
expect_error 2 "already registered" run --plugin "$frac" --plugin "$frac" -k frac_above d.h5 /img
expect_error 2 "unknown kernel 'frac_above'" run -k frac_above d.h5 /img
expect_error 1 "kernel fails_on_item failed on item 2 (rows 2..2): fails_on_item: refusing item 2" \
    run --plugin "$tools/plugin_failing.so" -k fails_on_item --chunk-rows 1 d.h5 /img
"$H5MR" gen --shape 4x2 --dtype i16 d.h5 /ints && expect_error 3 "frac_above: f32 or f64 data only" run --plugin "$frac" -k frac_above d.h5 /ints

# Built against an installed h5mr, as a user would.
if make -C "$top_builddir" install prefix="$TMP/prefix" > install.log 2>&1; then
    ok
    export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    expect "installed: headers, library, command, h5mr.pc, man page" test -f prefix/include/h5mr.h \
        -a -f prefix/include/h5mr_hdf5.h -a -f prefix/include/h5mr_numeric.h \
        -a -f prefix/lib/libh5mr.so -a -x prefix/bin/h5mr -a -f prefix/lib/pkgconfig/h5mr.pc \
        -a -f prefix/share/man/man1/h5mr.1
    # shellcheck disable=SC2046
    if mpicc -shared -fPIC "$top_srcdir/apps/examples/frac_above.c" $(pkg-config --define-prefix --cflags --libs h5mr) \
        -o user_frac.so 2> cc.log; then
        out=$(LD_LIBRARY_PATH="$TMP/prefix/lib" mpi 2 prefix/bin/h5mr run --plugin ./user_frac.so -k frac_above \
            -p threshold=0.25 --json d.h5 /img | sed -n 's/.*"result": \(.*\)}$/\1/p')
        expect "the plugin built with pkg-config runs under the installed h5mr" \
            test "$out" = "$(sed -n 's/.*"result": \(.*\)}$/\1/p' r.json)"
    else
        cat cc.log
        fail "building the example plugin with pkg-config"
    fi
else
    tail -20 install.log
    fail "make install into a scratch prefix"
fi
finish
