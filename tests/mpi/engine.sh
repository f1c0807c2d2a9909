#!/bin/bash
# The engine at 1, 2, 3 and 4 ranks: test_engine checks every job against its own
# reference; here the result digests of all rank counts must be the same bits.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
scratch
# The sanitizer pass (tests/sanitizers.sh) runs the same code at two rank counts.
nps="1 2 3 4" served="2 3"
[ -n "${H5MR_IN_SANITIZER_BUILD:-}" ] && nps="1 3" served="3"
for np in $nps; do
    if mpi "$np" "$top_builddir/tests/mpi/test_engine" "$TMP" > "$TMP/digest.$np"; then
        ok
    else
        fail "test_engine at $np ranks (exit $?)"
    fi
done
for np in ${nps#1 }; do
    expect "results at $np ranks are the same bits as at 1 rank" cmp -s "$TMP/digest.1" "$TMP/digest.$np"
done
# As if the ranks were on several nodes: parallel I/O hands out item numbers by messages
# instead of a shared-memory counter.
for np in $served; do
    if H5MR_FORCE_NODES=1 mpi "$np" -x H5MR_FORCE_NODES "$top_builddir/tests/mpi/test_engine" "$TMP" > "$TMP/served.$np"; then
        ok
    else
        fail "test_engine at $np ranks, several-node dispatch (exit $?)"
    fi
    expect "several-node dispatch at $np ranks: the same bits as at 1 rank" cmp -s "$TMP/digest.1" "$TMP/served.$np"
done
expect "digests are not empty" test "$(wc -l < "$TMP/digest.1")" -ge 80
finish
