"""tests/cli/ints.py: `stats` (scalar and axis=0) on 8-, 16- and 32-bit integers against
exact Python integer arithmetic, on the shapes that cut the integer fast paths' blocks:
lengths one past a 4096-element block, items longer than 32768 rows (the per-pixel path
falls back to double lanes there), 300 and 513 pixels (blocks of 256 pixels), every
element at the type's minimum or maximum (the largest squares), at 1 and 3 ranks."""
import os
import sys
from fractions import Fraction

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5mrtest import check, close, run_json, summary  # noqa: E402

os.chdir(os.environ["WORKDIR"])
rng = np.random.default_rng(11)


def want(x):
    """Exact count, sum, min, max; mean and var (ddof 0) rounded once from exact fractions."""
    v = [int(a) for a in x.ravel()]
    n = len(v)
    if n == 0:
        return {"count": 0, "sum": 0, "mean": None, "var": None, "min": None, "max": None}
    s, q = sum(v), sum(a * a for a in v)
    return {"count": n, "sum": s, "mean": float(Fraction(s, n)), "var": float(Fraction(n * q - s * s, n * n)),
            "min": min(v), "max": max(v)}


def same(got, w, desc):
    for k in ("count", "sum", "min", "max"):
        check("%s: %s %r, want %r" % (desc, k, got[k], w[k]), got[k] == w[k])
    check("%s: mean %r, want %r" % (desc, got["mean"], w["mean"]), close(got["mean"], w["mean"], 1e-15))
    check("%s: var %r, want %r" % (desc, got["var"], w["var"]), close(got["var"], w["var"], 1e-13))


cases = {}
with h5py.File("ints.h5", "w") as f:
    for t in ("i1", "u1", "i2", "u2", "i4"):
        info = np.iinfo(t)
        draw = lambda shape: rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=t)  # noqa: E731
        long = draw(4096 * 9 + 5)
        long[:7], long[7:13] = info.min, info.max
        ext = np.full((70, 513), info.max, dtype=t)
        ext[1::2] = info.min
        for name, x, chunks in (("long", long, (4096 * 9 + 5,)), ("mid", draw((41, 300)), (41, 300)),
                                      ("ext", ext, (35, 513)), ("tall", draw((40000, 3)), (40000, 3)),
                                      ("all_max", np.full((40, 257), info.max, dtype=t), (13, 257))):
            f.create_dataset("%s_%s" % (t, name), data=x, chunks=chunks)
            cases["%s_%s" % (t, name)] = x

# The sanitizer pass (tests/sanitizers.sh) runs the same code at one rank count.
ranks = (3,) if os.environ.get("H5MR_IN_SANITIZER_BUILD") else (1, 3)
for name, x in sorted(cases.items()):
    for np_ in ranks:
        d = run_json(np_, "-k", "stats", "ints.h5", "/" + name)
        if d:
            same(d["result"], want(x), "stats %s at %d ranks" % (name, np_))
        if x.ndim < 2:
            continue
        d = run_json(np_, "-k", "stats", "-p", "axis=0", "ints.h5", "/" + name)
        if not d:
            continue
        r = d["result"]
        cols = x.reshape(x.shape[0], -1)
        bad = 0
        for p in range(cols.shape[1]):
            w = want(cols[:, p])
            got = {k: r[k][p] for k in ("count", "sum", "min", "max", "mean", "var")}
            ok = (got["count"] == w["count"] and got["sum"] == w["sum"] and got["min"] == w["min"] and
                  got["max"] == w["max"] and close(got["mean"], w["mean"], 1e-15) and close(got["var"], w["var"], 1e-13))
            if not ok and bad == 0:
                check("stats axis=0 %s at %d ranks, pixel %d: %r, want %r" % (name, np_, p, got, w), False)
            bad += not ok
        check("stats axis=0 %s at %d ranks: %d pixels differ" % (name, np_, bad), bad == 0)

summary("ints.py")
