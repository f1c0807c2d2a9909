"""tests/cli/h5mrtest.py: what the Python tests of h5mr share — running h5mr under
mpirun, checks that count, and the matrix of rank counts, schedules and I/O modes a
result must be the same bits in."""
import json
import os
import subprocess
import sys

H5MR = os.environ["H5MR"]
MPIRUN = os.environ.get("TESTMPIRUN", "mpirun --oversubscribe -n NP")
_count = {"pass": 0, "fail": 0}


def fail(msg):
    _count["fail"] += 1
    print("FAIL: " + msg, file=sys.stderr)


def check(desc, cond):
    if cond:
        _count["pass"] += 1
    else:
        fail(desc)


def h5mr(np_, *args):
    cmd = MPIRUN.replace("NP", str(np_)).split() + [H5MR] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def run_json(np_, *args, command="run"):
    p = h5mr(np_, command, "--json", *args)
    if p.returncode != 0:
        fail("h5mr %s %s at %d ranks: exit %d: %s" % (command, " ".join(args), np_, p.returncode,
                                                     p.stderr.strip()[:300]))
        return None
    return json.loads(p.stdout)


def close(a, b, rtol=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rtol * max(abs(a), abs(b), 1e-300)


def configs():
    if os.environ.get("H5MR_IN_SANITIZER_BUILD"):
        # The sanitizer pass (tests/sanitizers.sh) runs the same code paths, each once:
        # one rank and several, each schedule and each I/O mode, not every combination.
        yield from ((1, ["--schedule", "dynamic", "--io", "parallel"]), (2, ["--schedule", "static", "--io", "scatter"]),
                    (3, ["--schedule", "dynamic", "--io", "parallel"]))
        return
    # Every rank count with both schedules, the I/O mode alternating so that each
    # schedule meets each mode at two rank counts or more (8 runs, not all 14
    # combinations: .ci/run stays well inside its half hour).
    for np_, sched, io in ((1, "dynamic", "parallel"), (1, "static", "parallel"), (2, "dynamic", "parallel"),
                           (2, "static", "scatter"), (3, "dynamic", "scatter"), (3, "static", "parallel"),
                           (4, "dynamic", "scatter"), (4, "static", "scatter")):
        yield np_, ["--schedule", sched, "--io", io]


def few_configs():
    # One rank, and three ranks with the other schedule and I/O mode and items of 7 rows.
    yield from ((1, ["--schedule", "dynamic", "--io", "parallel"]), (3, ["--schedule", "static", "--io", "scatter"]))


def matrix(desc, args, want, few=False):
    """Run args in every configuration (few: two of them): results the same bits each
    time, and want(result) true."""
    first = None
    for np_, opts in (few_configs() if few else configs()):
        d = run_json(np_, *(opts + ["--chunk-rows", "7"] if np_ == 3 else opts), *args)
        if d is None:
            return None
        if first is None:
            first = d
            ok, why = want(d)
            check("%s: %s" % (desc, why), ok)
        else:
            check("%s: the same bits at %d ranks %s" % (desc, np_, " ".join(opts)), d["result"] == first["result"])
    return first


def expect_error(code, pattern, *args):
    """At 1 and 3 ranks: exit `code`, one line on stderr holding `pattern`, nothing on stdout."""
    for np_ in (1, 3):
        p = h5mr(np_, *args)
        lines = [l for l in p.stderr.splitlines() if l.startswith("h5mr: ")]
        check("h5mr %s at %d ranks: exit %d (want %d), %d lines: %s" % (" ".join(args), np_, p.returncode, code,
                                                                       len(lines), p.stderr.strip()[:300]),
              p.returncode == code and len(lines) == 1 and pattern in lines[0] and p.stdout == "")


def summary(name):
    print("%s: %d passed, %d failed" % (name, _count["pass"], _count["fail"]))
    sys.exit(1 if _count["fail"] else 0)
