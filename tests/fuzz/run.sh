#!/bin/bash
# Build tests/fuzz/fuzz_h5mr.c with clang's libFuzzer (+ ASan, UBSan).
#
# make check (no FUZZ_SECONDS): deterministic.  Every input of tests/fuzz/corpus is
# replayed once, then FUZZ_RUNS (default 4000) mutations from a fixed seed: the same
# binary does the same runs every time, so this test cannot fail by chance.
# make fuzz (FUZZ_SECONDS=N): exploratory, a random seed for N seconds; failing inputs
# are kept in FUZZ_ARTIFACTS (the scratch folder, printed) to add to the corpus.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
if ! command -v clang >/dev/null; then
    echo "clang not installed: skipped"
    exit 77
fi
scratch
if [ -n "${FUZZ_ARTIFACTS:-}" ]; then trap - EXIT; fi
cd "$TMP" || exit 1
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' > probe.c
if ! clang -fsanitize=fuzzer probe.c -o probe 2>/dev/null; then
    echo "clang has no libFuzzer here (Debian package libclang-rt-14-dev): skipped"
    exit 77
fi
s=$top_srcdir
srcs=("$s"/lib/*.c "$s"/lib/kernels/*.c "$s"/apps/cli.c "$s"/apps/run_args.c "$s"/tests/fuzz/fuzz_h5mr.c)
# shellcheck disable=SC2086
if ! clang -g -O1 -std=gnu11 -ffp-contract=off -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$s"/lib -I"$top_builddir"/lib -I"$top_builddir" -I"$s"/apps $HDF5_CFLAGS "${srcs[@]}" $HDF5_LIBS ${ZLIB_LIBS:--lz} -lm \
    -o fuzz_h5mr > build.log 2>&1; then
    cat build.log
    fail "building the fuzzer"
    finish
    exit
fi
mkdir -p corpus artifacts
cp "$s"/tests/fuzz/corpus/* corpus/
common=(-rss_limit_mb=2048 -artifact_prefix=artifacts/ -print_final_stats=1)
if [ -n "${FUZZ_SECONDS:-}" ]; then
    ASAN_OPTIONS=detect_leaks=1 ./fuzz_h5mr -max_total_time="$FUZZ_SECONDS" -timeout=10 "${common[@]}" corpus \
        > fuzz.log 2>&1
    rc=$?
else
    # Replay: each seed file once (the regressions among them), no time limit per input
    # that a slow machine could trip; then a fixed, seeded run of mutations.
    ASAN_OPTIONS=detect_leaks=1 ./fuzz_h5mr -timeout=0 "${common[@]}" corpus/* > fuzz.log 2>&1
    rc=$?
    echo "replayed $(ls corpus | wc -l) corpus inputs"
    if [ "$rc" -eq 0 ]; then
        ASAN_OPTIONS=detect_leaks=1 ./fuzz_h5mr -seed=1 -runs="${FUZZ_RUNS:-4000}" -timeout=0 -max_len=256 \
            "${common[@]}" corpus >> fuzz.log 2>&1
        rc=$?
    fi
fi
grep -E '^(stat::number_of_executed_units|stat::peak_rss|#[0-9]+ *DONE)' fuzz.log
if [ "$rc" -eq 0 ]; then
    ok
else
    tail -40 fuzz.log
    ls -l artifacts
    fail "the fuzzer found a failing input (kept in $TMP/artifacts)"
    trap - EXIT
fi
finish
