#!/bin/bash
# Both sbatch templates (bench/slurm/*.sbatch) on a real single-node Slurm that
# bench/slurm/selftest starts and stops.  Skipped (77) when not root, and in the
# sanitizer build (the templates are shell; the code under them is tested there).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
if [ -n "${H5MR_IN_SANITIZER_BUILD:-}" ]; then
    echo "slurm selftest: not repeated in the sanitizer build"
    exit 77
fi
H5MR_BUILD=$top_builddir timeout -k 10 900 "$top_srcdir/bench/slurm/selftest"
