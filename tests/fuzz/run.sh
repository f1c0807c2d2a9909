#!/bin/bash
# Build tests/fuzz/fuzz_h5mr.c with clang's libFuzzer (+ ASan, UBSan) and run it for a
# bounded time (FUZZ_SECONDS, default 20) from the seeds in tests/fuzz/corpus.  A crash
# or a broken invariant fails the test and leaves the input in FUZZ_ARTIFACTS (default:
# the scratch folder, printed).  Longer runs: make fuzz FUZZ_SECONDS=600.
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
ASAN_OPTIONS=detect_leaks=1 ./fuzz_h5mr -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=artifacts/ -print_final_stats=1 corpus > fuzz.log 2>&1
rc=$?
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
