# tests/lib.sh: helpers shared by the test scripts (sourced).
# TESTMPIRUN is a command line with NP where the rank count goes (configure sets it).
set -u
: "${TESTMPIRUN:=mpirun --oversubscribe -n NP}"
: "${H5MR:=$top_builddir/apps/h5mr}"
: "${TEST_TIMEOUT:=120}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# On one node only shared memory is used: without probing the network components
# MPI_Init takes 0.1 s instead of 0.3 (NOTES.md).  Tests that need TCP say so on the
# mpirun command line, which wins over these.
export OMPI_MCA_pml="${OMPI_MCA_pml:-ob1}" OMPI_MCA_btl="${OMPI_MCA_btl:-self,vader}"
# mpirun waits 2 s (SIGCONT, 1 s, SIGTERM, 1 s, SIGKILL) after a rank exits non-zero,
# even when every rank has already left: every error test would pay it.
export OMPI_MCA_odls_base_sigkill_timeout="${OMPI_MCA_odls_base_sigkill_timeout:-0}"
# Idle ranks yield the core: with more ranks than cores, spinning ones starve the rest.
export OMPI_MCA_mpi_yield_when_idle=1
export CK_FORK=no

failures=0
passes=0

# mpi NP CMD...: run CMD on NP ranks under a timeout (a hang fails, it does not wait).
mpi() {
    local np=$1
    shift
    timeout -k 5 "$TEST_TIMEOUT" ${TESTMPIRUN//NP/$np} "$@"
}

ok() { passes=$((passes + 1)); }
fail() {
    failures=$((failures + 1))
    echo "FAIL: $*" >&2
}

# expect DESC COND...: evaluate a test command, count it.
expect() {
    local desc=$1
    shift
    if "$@"; then ok; else fail "$desc"; fi
}

# expect_error CODE PATTERN ARGS...: `h5mr ARGS` at 1 and 3 ranks exits CODE with exactly
# one "h5mr: " line matching PATTERN, nothing on stdout, within 20 s.
expect_error() {
    local code=$1 pattern=$2
    shift 2
    for np in 1 3; do
        local t0=$SECONDS
        mpi $np "$H5MR" "$@" > out.txt 2> err.txt
        local rc=$? lines
        lines=$(grep -c '^h5mr: ' err.txt)
        if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && [ ! -s out.txt ] && grep -q -- "$pattern" err.txt &&
            [ $((SECONDS - t0)) -le 20 ]; then
            ok
        else
            fail "h5mr $* at $np ranks: exit $rc (want $code), $lines h5mr lines, $((SECONDS - t0)) s: $(head -c 400 err.txt)"
        fi
    done
}

finish() {
    echo "$passes passed, $failures failed"
    [ "$failures" -eq 0 ]
}

scratch() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/h5mr-test.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
}

# own_ranks PATTERN: the processes of this test matching PATTERN (pgrep -f): those
# running in its working folder — another test, or a whole CI run beside this one, may
# run the same command line — and the ranks only, not mpirun, orterun, timeout or a shell.
own_ranks() {
    local p here
    here=$(pwd -P)
    for p in $(pgrep -f "$1"); do
        [ "$(readlink /proc/"$p"/cwd 2> /dev/null)" = "$here" ] || continue
        case "$(cat /proc/"$p"/comm 2> /dev/null)" in mpirun | orterun | timeout | bash | sh) ;; *) echo "$p" ;; esac
    done
}
# kill_own SIGNAL PATTERN: every process of this test's folder matching PATTERN (mpirun too).
kill_own() {
    local p here
    here=$(pwd -P)
    for p in $(pgrep -f "$2"); do
        [ "$(readlink /proc/"$p"/cwd 2> /dev/null)" = "$here" ] && kill "$1" "$p" 2> /dev/null
    done
    return 0
}
