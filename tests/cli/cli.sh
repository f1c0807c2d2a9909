#!/bin/bash
# The h5mr command: gen, run (human and JSON), kernels, help, and the usage and input
# errors of SPEC at 1 and 3 ranks.  References come from h5dump and awk, not from h5mr.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1

# ---------------------------------------------------------------- help and version
expect "--version" test "$("$H5MR" --version)" = "h5mr $(sed -n 's/^AC_INIT(\[h5mr\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")"
for sub in "" run gen info kernels; do
    out=$("$H5MR" $sub --help) && ok || fail "h5mr $sub --help exits 0"
    expect "h5mr $sub --help prints a usage line" grep -q '^Usage: ' <<<"$out"
done
expect "run --help lists every option" bash -c '"$0" run --help | grep -q -- --chunk-rows && "$0" run --help | grep -q -- --schedule && "$0" run --help | grep -q -- --json' "$H5MR"
expect "kernels lists sum and stats" bash -c '"$0" kernels | grep -q "^sum " && "$0" kernels | grep -q "^stats "' "$H5MR"
expect "kernels --json" bash -c '"$0" kernels --json | grep -q "\"name\": \"stats\""' "$H5MR"

# ---------------------------------------------------------------- gen
"$H5MR" gen --shape 1001x3 --dtype i32 --chunk 100x3 --fill random --seed 5 d.h5 /grid/ints || fail "gen i32"
"$H5MR" gen --shape 500x4 --dtype f64 --gzip 3 --fill normal d.h5 /floats || fail "gen f64 gzip"
"$H5MR" gen --shape 17 --dtype u8 --fill ramp d.h5 /ramp || fail "gen ramp"
"$H5MR" gen --shape 0x5 --dtype f32 d.h5 /empty || fail "gen empty"
expect "gen with the same seed gives the same data" bash -c '
    "$0" gen --shape 1001x3 --dtype i32 --chunk 100x3 --seed 5 e.h5 /x &&
    cmp -s <("$1" -d /grid/ints -y -w 0 d.h5 | sed 1,/DATA/d) <("$1" -d /x -y -w 0 e.h5 | sed 1,/DATA/d)' "$H5MR" "$H5DUMP"
expect "gen with another seed gives other data" bash -c '
    "$0" gen --shape 1001x3 --dtype i32 --seed 6 e.h5 /y &&
    ! cmp -s <("$1" -d /grid/ints -y -w 0 d.h5 | sed 1,/DATA/d) <("$1" -d /y -y -w 0 e.h5 | sed 1,/DATA/d)' "$H5MR" "$H5DUMP"
expect "gen stores the chunk shape asked for" bash -c '"$0" -p -H -d /grid/ints d.h5 | grep -q "CHUNKED ( 100, 3 )"' "$H5DUMP"
expect "gen ramp is the element index" bash -c '"$0" -d /ramp -y -w 0 d.h5 | grep -q "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16"' "$H5DUMP"
before=$(md5sum d.h5)
"$H5MR" gen --shape 3 d.h5 /floats 2>err.txt
expect "gen refuses an existing dataset (exit 2)" test $? -eq 2
expect "gen leaves the file as it was" test "$before" = "$(md5sum d.h5)"
"$H5MR" gen --shape 3 --force d.h5 /floats || fail "gen --force"
"$H5MR" gen --shape 500x4 --dtype f64 --gzip 3 --fill normal --force d.h5 /floats || fail "gen --force again"

# ---------------------------------------------------------------- run against h5dump + awk
# values of a dataset, one per line
values() { "$H5DUMP" -m '%.17g' -d "$1" -y -w 0 -o "$TMP/v.txt" d.h5 >/dev/null && tr ',' '\n' <"$TMP/v.txt" | awk 'NF {print $1}'; }
# field NAME from a one-line JSON object (numbers and null only)
field() { sed -n "s/.*\"result\": {.*\"$1\": \([^,}]*\).*/\1/p"; }

want_sum=$(values /grid/ints | awk '{s += $1} END {printf "%d", s}')
want_n=$(values /grid/ints | wc -l)
for np in 1 3; do
    for sched in static dynamic; do
        out=$(mpi $np "$H5MR" run -k sum --schedule $sched --chunk-rows 7 --json d.h5 /grid/ints) || fail "run sum $np ranks $sched"
        expect "sum of i32 at $np ranks, $sched ($out)" test "$(field sum <<<"$out")" = "$want_sum"
        expect "count at $np ranks" test "$(field count <<<"$out")" = "$want_n"
        expect "JSON envelope at $np ranks" grep -q "^{\"h5mr\": \"[0-9.]*\", \"kernel\": \"sum\", \"params\": {}, \"input\": {\"file\": \"d.h5\", \"files\": 1, \"dataset\": \"/grid/ints\", \"selection\": null, \"cf\": null, \"shape\": \[1001, 3\], \"dtype\": \"i32\"}, \"ranks\": $np, \"schedule\": \"$sched\", \"io\": \"parallel\", \"items\": 143, \"chunk_rows\": 7, \"bytes\": 12012, \"elapsed_s\": " <<<"$out"
    done
done
if command -v python3 >/dev/null; then
    out=$(mpi 3 "$H5MR" run -k stats --stats --json d.h5 /floats)
    expect "stats JSON parses, per-rank figures add up" python3 -c '
import json, sys
j = json.loads(sys.argv[1])
r, s = j["result"], j["stats"]
assert sum(p["items"] for p in s["per_rank"]) == j["items"]
assert sum(p["bytes"] for p in s["per_rank"]) == j["bytes"] == 500 * 4 * 8
assert len(s["per_rank"]) == 3 and j["ranks"] == 3
assert r["count"] == 2000 and r["nan_count"] == 0
' "$out"
    ref=$(values /floats | awk '{s += $1; q += $1 * $1; n++; if (n == 1 || $1 < mn) mn = $1; if (n == 1 || $1 > mx) mx = $1}
        END {m = s / n; printf "%.17g %.17g %.17g %.17g", m, q / n - m * m, mn, mx}')
    expect "stats of f64 agree with awk ($ref)" python3 -c '
import json, sys
r = json.loads(sys.argv[1])["result"]
m, v, mn, mx = map(float, sys.argv[2].split())
assert abs(r["mean"] - m) <= 1e-9 and abs(r["var"] - v) <= 1e-9 * v, (r, m, v)
assert abs(r["min"] - mn) <= 1e-12 * abs(mn) and abs(r["max"] - mx) <= 1e-12 * abs(mx)
assert abs(r["std"] ** 2 - r["var"]) <= 1e-12 * r["var"]
' "$out" "$ref"
fi
out=$(mpi 3 "$H5MR" run -k stats --json d.h5 /empty)
expect "empty dataset: count 0 and nulls ($out)" grep -q '"result": {"count": 0, "nan_count": 0, "sum": 0.0, "mean": null, "var": null, "std": null, "min": null, "max": null}' <<<"$out"
out=$(mpi 2 "$H5MR" run -k sum d.h5 /ramp)
expect "human summary of sum over 0..16 ($out)" grep -Eq '^  sum +136$' <<<"$out"
expect "human summary names the input" grep -q '^sum over /ramp in d.h5: 17 u8' <<<"$out"

# ---------------------------------------------------------------- errors, at 1 and 3 ranks
printf 'not hdf5\n' > text.txt
"$H5MR" gen --shape 2 d.h5 /g/x >/dev/null
# error CODE ARGS...: exit CODE on every rank, one "h5mr: " line on stderr, nothing on stdout
error() {
    local code=$1
    shift
    for np in 1 3; do
        mpi $np "$H5MR" "$@" >out.txt 2>err.txt
        local rc=$?
        local lines
        lines=$(grep -c '^h5mr: ' err.txt)
        if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && [ ! -s out.txt ]; then
            ok
        else
            fail "h5mr $* at $np ranks: exit $rc (want $code), $lines h5mr lines: $(head -c 300 err.txt)"
        fi
    done
    # alone, stderr holds that one line and nothing else
    "$H5MR" "$@" >/dev/null 2>err.txt
    expect "h5mr $*: exactly one line on stderr" test "$(wc -l <err.txt)" -eq 1
}
error 3 run missing.h5 /x
error 3 run text.txt /x
error 3 run d.h5 /nope
error 3 run d.h5 /g
error 2 run -k nope d.h5 /ramp
error 2 run -p axis d.h5 /ramp
error 2 run -p nope=1 d.h5 /ramp
error 2 run --chunk-rows 0 d.h5 /ramp
error 2 run --chunk-rows -3 d.h5 /ramp
error 2 run --chunk-rows abc d.h5 /ramp
error 2 run --schedule sometimes d.h5 /ramp
error 2 run --io sideways d.h5 /ramp
error 2 run --bogus d.h5 /ramp
error 2 run d.h5
error 2 frobnicate
error 2 gen --shape 0xq x.h5 /x
error 2 gen --shape 4 --dtype f16 x.h5 /x
expect "a message names the file" grep -q "missing.h5" <(mpi 1 "$H5MR" run missing.h5 /x 2>&1)
# run -n N outside mpirun starts N ranks itself, with the same result as mpirun -n N.
"$H5MR" run -n 3 -k sum --json d.h5 /ramp > n3.json 2> n3.err
expect "run -n 3 runs 3 ranks" grep -q '"ranks": 3,' n3.json
mpi 3 "$H5MR" run -k sum --json d.h5 /ramp > m3.json
expect "run -n 3: the result of mpirun -n 3" test "$(grep -o '"result.*' n3.json)" = "$(grep -o '"result.*' m3.json)"
"$H5MR" run -n 2 -k sum d.h5 /nope > /dev/null 2> n2.err
expect "run -n 2 on a bad dataset: exit 3" test $? -eq 3
expect "run -n 2 on a bad dataset: one line" test "$(wc -l < n2.err)" -eq 1
error 2 run -n 0 d.h5 /ramp
mpi 2 "$H5MR" run -n 3 d.h5 /ramp > /dev/null 2> nm.err
rc=$?
expect "inside mpirun, -n must match it (exit 2, one line)" bash -c "[ $rc -eq 2 ] && grep -q '^h5mr: run: -n 3, but this job has 2 ranks' nm.err"
# info, gen and kernels outside mpirun never start MPI (it costs 0.1-0.3 s): with an MPI
# setting that makes MPI_Init fail they still work, and run does not.
expect "info starts no MPI" env OMPI_MCA_pml=bogus "$H5MR" info d.h5 /ramp
expect "kernels starts no MPI" env OMPI_MCA_pml=bogus "$H5MR" kernels
expect "gen starts no MPI" env OMPI_MCA_pml=bogus "$H5MR" gen --shape 4 nompi.h5 /x
expect "run does need MPI (the check above can fail)" bash -c '! env OMPI_MCA_pml=bogus "$0" run d.h5 /ramp > /dev/null 2>&1' "$H5MR"
finish
