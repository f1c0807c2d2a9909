#!/bin/bash
# h5mr across hosts: three network namespaces joined by a bridge, each with its own
# hostname, Open MPI over TCP between them (tests/cluster/netns-cluster).  Jobs at 3
# and 6 ranks, both I/O modes, both schedules, must give the bits of the same job on
# one host; a host whose link is cut mid-run ends the job non-zero in bounded time
# without an --output file.  Skips (77) where namespaces cannot be made.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
here=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cluster
nc=$here/netns-cluster
if [ -n "${H5MR_IN_SANITIZER_BUILD:-}" ]; then
    echo "cluster: not repeated in the sanitizer build (engine.sh covers the several-node dispatch there)"
    exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "cluster: not root, cannot make network namespaces: skipped"
    exit 77
fi
if ! command -v ip > /dev/null || ! ip netns add "h5mrprobe$$" 2> /dev/null; then
    echo "cluster: 'ip netns' is not available here (iproute2 missing or no CAP_SYS_ADMIN): skipped"
    exit 77
fi
ip netns del "h5mrprobe$$"
id=h5mr$$
scratch
trap '"$nc" down $id; rm -rf "$TMP"' EXIT
"$nc" up $id || { fail "setting up the namespaces"; finish; exit 1; }
cd "$TMP" || exit 1
# The input lives where every "host" sees it, as on a shared file system.
"$H5MR" gen --shape 20000x9x7 --dtype f32 --chunk 100x9x7 --gzip 2 --shuffle --fill normal d.h5 /g || fail "gen"
"$H5MR" gen --shape 30011x16 --dtype i32 --fill random d.h5 /c || fail "gen"

result() { python3 -c 'import json, sys; j = json.load(sys.stdin); print(j["io"], json.dumps(j["result"], sort_keys=True))'; }
cmp_result() { # want got: the same result fields (the mode may differ)
    [ "${1#* }" = "${2#* }" ]
}
for job in "/g stats -p axis=0" "/g histogram -p bins=64" "/c topk -p k=20"; do
    ds=${job%% *} kernel=${job#* }
    want=$(mpi 2 "$H5MR" run -k $kernel --json d.h5 $ds | result)
    for np in 3 6; do
        for io in scatter parallel; do
            for sched in dynamic static; do
                got=$(timeout -k 5 "$TEST_TIMEOUT" "$nc" mpirun $id -n $np "$H5MR" run -k $kernel --io $io \
                    --schedule $sched --json "$TMP/d.h5" $ds 2> err.txt | result)
                expect "$ds $kernel, $np ranks on 3 hosts, $io, $sched: the bits of one host$(head -c 300 err.txt)" \
                    cmp_result "$want" "$got"
                expect "$ds $kernel, $np ranks on 3 hosts, $io: ran in $io mode" test "${got%% *}" = "$io"
            done
        done
    done
done
# auto across hosts that share the file: parallel.
got=$(timeout -k 5 "$TEST_TIMEOUT" "$nc" mpirun $id -n 3 "$H5MR" run -k sum --json "$TMP/d.h5" /c | result)
expect "auto on 3 hosts sharing the file: parallel ($got)" test "${got%% *}" = parallel
# Every rank really ran on its own host: hostnames as the ranks see them.
names=$(timeout -k 5 "$TEST_TIMEOUT" "$nc" mpirun $id -n 6 hostname | sort | uniq -c | awk '{print $2 "x" $1}' | xargs)
expect "6 ranks on node1..3, 2 each ($names)" test "$names" = "node1x2 node2x2 node3x2"

# A host lost mid-run: node3's link goes down while a long job runs (topk with a large
# k on small items keeps every rank busy for many seconds).
"$H5MR" gen --shape 400000x64 --dtype f64 --fill random big.h5 /x || fail "gen big"
for io in scatter parallel; do
    rm -f out.h5
    t0=$SECONDS
    timeout -k 5 120 "$nc" mpirun $id -n 6 "$H5MR" run -k topk -p k=2000000 --chunk-rows 20 --io $io \
        -o "$TMP/out.h5" "$TMP/big.h5" /x > out.txt 2> err.txt &
    job=$!
    sleep 4
    "$nc" cut $id 3
    wait $job
    rc=$?
    expect "node3 cut, $io: the job ends non-zero ($rc)" test $rc -ne 0 -a $rc -ne 124 -a $rc -ne 137
    expect "node3 cut, $io: within 90 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 90
    expect "node3 cut, $io: no --output" test ! -e out.h5 -a -z "$(ls | grep '\.tmp\.')"
    # The next job needs node3 back: rebuild the cluster.
    "$nc" down $id
    "$nc" up $id || fail "setting up the namespaces again"
done
finish
