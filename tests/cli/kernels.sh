#!/bin/bash
# Every kernel through the command: results byte for byte the same at 1-4 ranks and
# both schedules; --output read back and compared with the JSON; info; kernels;
# parameter errors at 1 and 3 ranks.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
"$H5MR" gen --shape 50x7x5 --dtype f32 --chunk 6x7x5 --fill normal --seed 9 d.h5 /img || fail "gen img"
"$H5MR" gen --shape 3001 --dtype i16 --fill random --seed 4 d.h5 /ints || fail "gen ints"
result() { sed -n 's/.*"result": \(.*\)}$/\1/p'; }

# ---------------------------------------------------------------- reproducibility
for job in "stats -p axis=0 /img" "sum /img" "minmax -p axis=0 /img" "histogram -p bins=20 /img" \
           "topk -p k=7 /img" "count -p gt=0.5 /img" "stats /img" "valuecounts /ints" "sum -p axis=0 /ints"; do
    set -- $job
    dset=${!#}
    args=("${@:1:$#-1}")
    ref=""
    for np in 1 2 3 4; do
        for sched in dynamic static; do
            out=$(mpi $np "$H5MR" run -k "${args[@]}" --schedule $sched --chunk-rows 4 --json d.h5 "$dset" | result)
            if [ -z "$out" ]; then
                fail "$job at $np ranks $sched: no result"
            elif [ -z "$ref" ]; then
                ref=$out
                ok
            else
                expect "$job at $np ranks, $sched: same bytes as 1 rank" test "$out" = "$ref"
            fi
        done
        # parallel I/O: the same bytes again
        out=$(mpi $np "$H5MR" run -k "${args[@]}" --io parallel --chunk-rows 4 --json d.h5 "$dset" | result)
        expect "$job at $np ranks, --io parallel: same bytes as scatter" test "$out" = "$ref"
    done
done

# ---------------------------------------------------------------- every kernel against Python on h5dump's values
if command -v python3 >/dev/null; then
    "$H5DUMP" -m '%.17g' -y -w 0 -d /ints d.h5 | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr -d ' \n' > ints.txt
    for np in 1 3; do
        for job in "minmax" "count -p ge=-7 -p lt=40" "topk -p k=9" "topk -p k=6 -p largest=false" "valuecounts" \
                   "histogram -p bins=7" "histogram -p bins=3 -p min=-20 -p max=20" "stats" "sum"; do
            mpi $np "$H5MR" run -k $job --chunk-rows 100 --json d.h5 /ints > r.json
            expect "$job at $np ranks equals Python's" python3 - "$job" <<'PY'
import json, sys
x = [int(v) for v in open("ints.txt").read().split(",")]
r = json.load(open("r.json"))["result"]
job = sys.argv[1].split()
k, p = job[0], dict(a.split("=") for a in job[2::2])
if k == "minmax":
    assert r == {"min": min(x), "max": max(x), "argmin": x.index(min(x)), "argmax": x.index(max(x))}, r
elif k == "count":
    assert r == {"count": sum(1 for v in x if v >= -7 and v < 40), "total": len(x)}, r
elif k == "topk":
    n, big = int(p["k"]), p.get("largest", "true") == "true"
    best = sorted(range(len(x)), key=lambda i: (-x[i] if big else x[i], i))[:n]
    assert r == {"values": [x[i] for i in best], "indices": best}, r
elif k == "valuecounts":
    vs = sorted(set(x))
    assert r == {"values": vs, "counts": [x.count(v) for v in vs]}, r
elif k == "histogram":
    bins = int(p["bins"])
    lo, hi = float(p.get("min", min(x))), float(p.get("max", max(x)))
    step = (hi - lo) / bins
    edges = [i * step + lo for i in range(bins)] + [hi]
    counts = [0] * bins
    for v in x:
        if lo <= v <= hi:
            counts[next(b for b in range(bins) if v < edges[b + 1] or b == bins - 1)] += 1
    assert r == {"counts": counts, "edges": edges}, (r, counts, edges)
elif k == "stats":
    n, m = len(x), sum(x) / len(x)
    var = sum((v - m) ** 2 for v in x) / n
    assert r["count"] == n and r["sum"] == sum(x) and r["min"] == min(x) and r["max"] == max(x), r
    assert abs(r["mean"] - m) <= 1e-15 * abs(m) and abs(r["var"] - var) <= 1e-13 * var, (r, m, var)
elif k == "sum":
    assert r == {"sum": sum(x), "count": len(x)}, r
PY
        done
    done
fi

# ---------------------------------------------------------------- empty input
"$H5MR" gen --shape 0x5 --dtype f32 d.h5 /empty || fail "gen empty"
"$H5MR" gen --shape 0x5 --dtype u8 d.h5 /empty8 || fail "gen empty u8"
declare -A want_empty=(
    [sum]='{"sum": 0.0, "count": 0}'
    [minmax]='{"min": null, "max": null, "argmin": null, "argmax": null}'
    [count]='{"count": 0, "total": 0}'
    [topk]='{"values": [], "indices": []}'
    [histogram]='{"counts": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "edges": [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.5, 0.6000000000000001, 0.7000000000000001, 0.8, 0.9, 1.0]}'
)
for k in "${!want_empty[@]}"; do
    out=$(mpi 3 "$H5MR" run -k $k --json d.h5 /empty | result)
    expect "$k on an empty dataset: $out" test "$out" = "${want_empty[$k]}"
done
out=$(mpi 2 "$H5MR" run -k valuecounts --json d.h5 /empty8 | result)
expect "valuecounts on an empty dataset: $out" test "$out" = '{"values": [], "counts": []}'
out=$(mpi 2 "$H5MR" run -k stats -p axis=0 --json d.h5 /empty | result)
expect "stats axis=0 on an empty dataset: all null ($out)" test "$out" = '{"count": [0, 0, 0, 0, 0], "nan_count": [0, 0, 0, 0, 0], "sum": [0.0, 0.0, 0.0, 0.0, 0.0], "mean": [null, null, null, null, null], "var": [null, null, null, null, null], "std": [null, null, null, null, null], "min": [null, null, null, null, null], "max": [null, null, null, null, null]}'

# ---------------------------------------------------------------- --output
mpi 3 "$H5MR" run -k stats -p axis=0 -o res.h5 --json d.h5 /img > stats.json || fail "run with --output"
expect "no temporary file left" test -z "$(ls | grep '\.tmp\.')"
if command -v python3 >/dev/null; then
    for f in count nan_count sum mean var std min max; do
        "$H5DUMP" -m '%.17g' -y -w 0 -d /result/$f res.h5 | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr -d ' \n' > $f.txt
        expect "--output /result/$f equals the JSON" python3 -c '
import json, sys
r = json.load(open("stats.json"))["result"][sys.argv[1]]
flat = lambda x: sum((flat(y) for y in x), []) if isinstance(x, list) else [x]
want = [float("nan") if v is None else float(v) for v in flat(r)]
got = [float(v) for v in open(sys.argv[1] + ".txt").read().split(",")]
assert len(got) == len(want) == 35, (len(got), len(want))
assert all((a != a and b != b) or a == b for a, b in zip(got, want)), (got[:3], want[:3])
' $f
    done
fi
expect "--output attributes" bash -c '"$0" -a /result/kernel res.h5 | grep -q "\"stats\"" && "$0" -a /result/ranks res.h5 | grep -q "(0): 3"' "$H5DUMP"
expect "--output shapes: a 7x5 field" bash -c '"$0" -H -d /result/mean res.h5 | grep -q "SIMPLE { ( 7, 5 )"' "$H5DUMP"
mpi 1 "$H5MR" run -k sum -o res.h5 d.h5 /img > /dev/null || fail "replace --output"
expect "--output replaced, scalar field of shape ()" bash -c '"$0" -H -d /result/sum res.h5 | grep -q "SCALAR"' "$H5DUMP"
before=$(md5sum res.h5)
mpi 3 "$H5MR" run -k sum -o res.h5 d.h5 /nope > /dev/null 2>&1
expect "a failed run leaves an existing --output alone" test "$before" = "$(md5sum res.h5)"
mpi 3 "$H5MR" run -k sum -o new.h5 d.h5 /nope > /dev/null 2>&1
expect "a failed run leaves no --output" test ! -e new.h5
expect "and no temporary file" test -z "$(ls | grep '\.tmp\.')"

# ---------------------------------------------------------------- info and kernels
expect "info lists the datasets" bash -c '"$0" info d.h5 | grep -q "^/img .*50 x 7 x 5 f32, chunked"' "$H5MR"
expect "info of a dataset gives the plan" bash -c '"$0" info d.h5 /img | grep -q "plan .*1 item of 50 rows"' "$H5MR"
expect "info --json of a dataset" bash -c '"$0" info --json --chunk-rows 4 d.h5 /img | grep -q "\"chunk\": \[6, 7, 5\].*\"plan\": {\"chunk_rows\": 4, \"items\": 13, \"item_bytes\": 560}"' "$H5MR"
"$H5MR" info d.h5 /nope 2>/dev/null
expect "info of a missing dataset exits 3" test $? -eq 3
n=$("$H5MR" kernels --json | grep -o '"name": "[a-z]*"' | wc -l)
expect "kernels --json lists the 13 built-ins ($n)" test "$n" -eq 13
n=$("$H5MR" kernels --json | grep -o '"command": "map"' | wc -l)
expect "kernels --json: 4 of them map kernels ($n)" test "$n" -eq 4
expect "kernels marks the map kernels" bash -c '"$0" kernels | grep -q "^anomaly .*(h5mr map)"' "$H5MR"
expect "kernels shows parameters and defaults" bash -c '"$0" kernels | grep -q "\-p bins=.*(default: 10)"' "$H5MR"

# ---------------------------------------------------------------- parameter errors
for bad in "histogram -p bins=0" "histogram -p bins=abc" "histogram -p min=3 -p max=1" "topk -p k=-1" \
           "topk -p largest=maybe" "count -p gt=abc" "stats -p axis=7" "sum -p axis=1,1" "minmax -p axis=x" "minmax -p nope=1"; do
    for np in 1 3; do
        mpi $np "$H5MR" run -k $bad d.h5 /img > out.txt 2> err.txt
        rc=$?
        expect "run -k $bad at $np ranks: exit 2 ($rc), one line" test "$rc" -eq 2 -a "$(grep -c '^h5mr: ' err.txt)" -eq 1 -a ! -s out.txt
    done
done
mpi 3 "$H5MR" run -k valuecounts d.h5 /img > /dev/null 2> err.txt
expect "valuecounts on float data: exit 2" test $? -eq 2
expect "valuecounts on float data says so" grep -q "integer datasets only" err.txt

# ---------------------------------------------------------------- topk past its threshold filter
# Many ties at the k-th value, NaN, both orders, blocks longer than the filter's runs of
# 64 values, several ranks: numpy's order (value, then the lower index).
/usr/bin/python3 - <<'PY'
import numpy as np, h5py
rng = np.random.default_rng(3)
a = np.round(rng.normal(0, 2, (5003, 3)) * 2) / 2
a[rng.random(a.shape) < 0.03] = np.nan
with h5py.File("ties.h5", "w") as f:
    f.create_dataset("f4", data=a.astype("f4"), chunks=(37, 3))
    f.create_dataset("i2", data=np.nan_to_num(a * 2).astype("i2"), chunks=(37, 3))
PY
for np in 1 3; do
    for d in f4 i2; do
        for job in "k=50" "k=50 -p largest=false" "k=1" "k=400"; do
            mpi $np "$H5MR" run -k topk -p $job --chunk-rows 37 --json ties.h5 /$d > r.json
            expect "topk -p $job on /$d with ties at $np ranks equals numpy's" /usr/bin/python3 - "$d" "$job" <<'PY'
import json, sys, numpy as np, h5py
x = h5py.File("ties.h5")[sys.argv[1]][:].ravel().astype("f8")
job = sys.argv[2].split()
k, big = int(job[0][2:]), "largest=false" not in job
i = np.flatnonzero(~np.isnan(x))
best = i[np.lexsort((i, -x[i] if big else x[i]))][:k]
r = json.load(open("r.json"))["result"]
assert r["indices"] == best.tolist() and r["values"] == x[best].tolist(), (r, best)
PY
        done
    done
done
# ---------------------------------------------------------------- f64 stats with FMA and without
# The exact square's error by FMA (where the CPU has one) must give the bits of the
# portable Veltkamp/Dekker split (H5MR_NO_FMA=1), on values of every exponent, tiny
# ones and subnormals included (they leave the FMA path), and the numbers numpy gives.
/usr/bin/python3 - <<'PY'
import numpy as np, h5py
rng = np.random.default_rng(21)
with h5py.File("sq.h5", "w") as f:
    f.create_dataset("n", data=rng.normal(3, 1e3, 20011), chunks=(999,))
    # mean^2 >> var: the variance is made of the squares' errors (half of them wrong: 0.99697 for 0.99809)
    f.create_dataset("off", data=1e8 + rng.normal(0, 1, 20011), chunks=(999,))
    f.create_dataset("wide", data=rng.normal(0, 1, 40000) * np.exp2(rng.integers(-600, 600, 40000)), chunks=(2664,))
    f.create_dataset("tiny", data=rng.normal(0, 1, 4000) * 1e-160, chunks=(500,))
    f.create_dataset("sub", data=np.concatenate([rng.normal(0, 1, 3000), [5e-324, -5e-324, 1e-310],
                                                 rng.normal(0, 1, 997) * 1e-160]), chunks=(256,))
PY
for np in 1 3; do
    for d in n off wide tiny sub; do
        a=$(mpi $np "$H5MR" run -k stats --json sq.h5 /$d | result)
        b=$(H5MR_NO_FMA=1 mpi $np -x H5MR_NO_FMA "$H5MR" run -k stats --json sq.h5 /$d | result)
        expect "stats of f64 /$d at $np ranks: the same bits with FMA and without" test -n "$a" -a "$a" = "$b"
    done
done
for d in n off; do
    mpi 2 "$H5MR" run -k stats --json sq.h5 /$d > r.json
    expect "stats of f64 /$d equals numpy's" /usr/bin/python3 - "$d" <<'PY'
import json, sys, numpy as np, h5py
x = h5py.File("sq.h5")[sys.argv[1]][:]; r = json.load(open("r.json"))["result"]
m = np.mean(x.astype(np.longdouble)); v = np.mean((x.astype(np.longdouble) - m) ** 2)
assert r["count"] == x.size and r["min"] == x.min() and r["max"] == x.max(), r
assert abs(r["mean"] - m) <= 1e-15 * abs(m) and abs(r["var"] - v) <= 1e-12 * v, (r, m, v)
PY
done
# ---------------------------------------------------------------- count on f32, compared in double
# f32 data is compared as floats against bounds made floats (the next float up or down
# where a bound is not one): the same elements as comparing each value in double, on
# values next to the bounds, bounds beyond the floats' range, infinities, NaN, -0.
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(5)
b = np.float32(0.1)
near = np.array([np.nextafter(b, np.float32(-1)), b, np.nextafter(b, np.float32(1)), 0.0, -0.0, 1.0, np.inf, -np.inf,
                 np.nan, 3.4028235e38, -3.4028235e38, 1e-45, -1e-45, 0.5, 0.7, 0.7000000000000001], dtype="f4")
x = np.concatenate([np.tile(near, 5), rng.random(1000).astype("f4")])
h5py.File("cnt.h5", "w").create_dataset("x", data=x)
PY
for args in "gt=0.1" "ge=0.1" "lt=0.1" "le=0.1" "eq=0.1" "ne=0.1" "gt=0.10000000149011612" "ge=0.10000000149011612" \
    "le=0.10000000149011612 -p gt=0" "eq=0.10000000149011612" "ne=0.10000000149011612" "gt=1e300" "ge=-1e300" \
    "lt=-1e300" "le=1e300" "gt=3.4028235677973366e38" "lt=-3.4028235677973366e38" "eq=0" "ne=0" "ge=0 -p le=0" \
    "gt=inf" "ge=inf" "lt=-inf" "le=-inf" "gt=1e-46" "lt=-1e-46" "ge=0.2 -p lt=0.7" "gt=0.7 -p lt=0.7000000000000001"; do
    mpi 1 "$H5MR" run -k count -p ${args// -p / -p } --json cnt.h5 /x > r.json 2> err.txt
    expect "count -p $args on f32 counts what double comparisons count" /usr/bin/python3 - $args <<'PY'
import json, sys, numpy as np, h5py
x = h5py.File("cnt.h5")["x"][:].astype(np.float64); r = json.load(open("r.json"))["result"]
ok = ~np.isnan(x)
ops = {"gt": np.greater, "ge": np.greater_equal, "lt": np.less, "le": np.less_equal, "eq": np.equal, "ne": np.not_equal}
for a in sys.argv[1:]:
    if a == "-p": continue
    k, v = a.split("=")
    ok &= ops[k](x, float(v))
assert r == {"count": int(ok.sum()), "total": int((~np.isnan(x)).sum())}, (r, int(ok.sum()))
PY
done
# ---------------------------------------------------------------- stats on small integers, exactly (tests/cli/ints.py)
mkdir -p ints
WORKDIR=$PWD/ints timeout -k 5 600 /usr/bin/python3 "$top_srcdir/tests/cli/ints.py"
expect "stats on 8-, 16- and 32-bit integers equals exact integer arithmetic (tests/cli/ints.py)" test $? -eq 0
finish
