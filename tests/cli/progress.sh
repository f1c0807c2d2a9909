#!/bin/bash
# --progress and --stats: the progress line on a terminal (a pseudo-terminal made by
# script(1)), as plain lines elsewhere, never on stdout; per-rank figures that add up.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
cd "$TMP" || exit 1
"$H5MR" gen --shape 200000x64 --dtype f64 --chunk 512x64 --gzip 1 d.h5 /x || fail "gen"
"$H5MR" gen --shape 200000x64 --dtype f64 d.h5 /c || fail "gen /c"
have_script=0
command -v script > /dev/null && have_script=1

for np in 1 3; do
    for io in scatter parallel; do
        # A terminal: redrawn in place (carriage returns), ends with the final line.
        if [ $have_script = 1 ]; then
            script -qec "${TESTMPIRUN//NP/$np} $H5MR run -k sum --io $io --chunk-rows 512 d.h5 /x 2>&1 >/dev/null" \
                /dev/null < /dev/null > tty.txt
            rc=$?
            expect "tty, $np ranks, $io: exit 0 ($rc)" test $rc -eq 0
            expect "tty, $np ranks, $io: the line is redrawn with \\r" grep -q $'\r''h5mr: [0-9]*/391 items' tty.txt
            expect "tty, $np ranks, $io: it ends done: $(tr '\r' '\n' < tty.txt | grep done | head -1)" \
                grep -q 'h5mr: 391/391 items, [0-9.]* GB/s, done in' tty.txt
        fi
        # Not a terminal, --progress: plain lines on stderr only; stdout is the JSON alone.
        mpi $np "$H5MR" run -k sum --io $io --json --progress d.h5 /x > out.json 2> err.txt
        expect "--progress, $np ranks, $io: stdout is one JSON object" \
            python3 -c 'import json, sys; json.load(open("out.json"))'
        expect "--progress, $np ranks, $io: final line on stderr" grep -q '^h5mr: [0-9]*/[0-9]* items, .* done in' err.txt
        expect "--progress, $np ranks, $io: no carriage return off a terminal" test "$(tr -cd '\r' < err.txt | wc -c)" -eq 0
        # Off by default when stderr is not a terminal; --no-progress wins on one.
        mpi $np "$H5MR" run -k sum --io $io d.h5 /x > /dev/null 2> err.txt
        expect "no progress by default off a terminal" test ! -s err.txt
    done
done
if [ $have_script = 1 ]; then
    script -qec "${TESTMPIRUN//NP/2} $H5MR run -k sum --no-progress d.h5 /x 2>&1 >/dev/null" /dev/null < /dev/null > tty.txt
    expect "--no-progress on a terminal: nothing" test "$(grep -c 'items' tty.txt)" -eq 0
    # A two-pass kernel says which pass it is in.
    script -qec "${TESTMPIRUN//NP/2} $H5MR run -k histogram --chunk-rows 512 d.h5 /x 2>&1 >/dev/null" /dev/null \
        < /dev/null > tty.txt
    expect "histogram: the pass is shown" grep -q 'pass 2/2' tty.txt
fi

# --stats: per-rank items and bytes add up to the totals, peak memory is reported and
# bounded (a rank holds a few items, not the dataset: 100 MiB here; AddressSanitizer's
# shadow memory and quarantine add their own in the sanitizer build).
rss_max=200
[ -n "${H5MR_IN_SANITIZER_BUILD:-}" ] && rss_max=2048
for np in 1 2 4; do
    for io in scatter parallel; do
        mpi $np "$H5MR" run -k sum --io $io --json --stats --chunk-rows 1024 d.h5 /c > s.json
        expect "--stats, $np ranks, $io: figures add up and are sane" python3 - s.json $np "$rss_max" << 'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
s, n = j["stats"], int(sys.argv[2])
per = s["per_rank"]
assert len(per) == n == j["ranks"], per
assert [p["rank"] for p in per] == list(range(n))
assert sum(p["items"] for p in per) == j["items"] and sum(p["bytes"] for p in per) == j["bytes"], per
assert all(p["busy_s"] >= 0 and p["wait_s"] >= 0 for p in per), per
assert all(0 < p["peak_rss_bytes"] < int(sys.argv[3]) * 2**20 for p in per), per
busy = [p["busy_s"] for p in per if p["items"] > 0]
want = max(busy) / (sum(busy) / len(busy)) - 1 if busy and sum(busy) > 0 else 0
assert s["imbalance"] >= 0 and abs(s["imbalance"] - want) < 1e-9, (s["imbalance"], want)
EOF
    done
done
mpi 2 "$H5MR" run -k sum --stats d.h5 /c > human.txt
expect "--stats in the summary: a row per rank and the imbalance" \
    test "$(grep -cE '^ +[01] +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$' human.txt)" -eq 2 -a \
    "$(grep -c 'imbalance' human.txt)" -eq 1
finish
