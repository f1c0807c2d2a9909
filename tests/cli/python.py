"""tests/cli/python.py: the Python package h5mr, run by tests/cli/python.sh on every rank
of `mpirun -n N python3` (N = 1 and 3), with and without mpi4py (H5MR_TEST_MPI4PY=1).

- Built-in kernels called from Python give the command's result bit for bit (the
  command's JSON, made by python.sh, read back as numpy: floats print exactly).
- Python kernels (h5mr.Kernel) against numpy: a fraction above a threshold, a
  per-pixel mean (array states), a variable-size state (a set), two passes, a
  companion (--weights), blocks as read-only views.
- Errors: every rank raises the same h5mr.Error subclass with the same message, also
  when only one rank's kernel raises; usage, input and kernel errors.
- h5mr.map, h5mr.kernels, h5mr.info, checkpoint=, ranks= (one rank, no mpirun).
Every rank runs every check (a failed check is counted, not raised), so a failure
never leaves ranks waiting for each other."""
import json
import os
import sys

import numpy as np

if os.environ.get("H5MR_TEST_MPI4PY"):
    from mpi4py import MPI
    COMM = MPI.COMM_WORLD
else:
    COMM = None
import h5py

import h5mr
from h5mr import _lib

W = os.environ["WORKDIR"]
os.chdir(W)
_lib.mpi_start()
RANK, SIZE = _lib.rank_size(_lib.comm_handle(COMM))
fails = 0
passes = 0


def check(desc, cond):
    global fails, passes
    if cond:
        passes += 1
    else:
        fails += 1
        print("FAIL (rank %d of %d%s): %s" % (RANK, SIZE, ", mpi4py" if COMM else "", desc), file=sys.stderr)


def same(a, b):
    """Bit-for-bit equal values (NaN equal to NaN), arrays or scalars, same shape."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            x, y = a.astype(np.float64), b.astype(np.float64)
            return bool(np.all((x == y) | (np.isnan(x) & np.isnan(y))))
        return bool(np.array_equal(a, b))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return float(a) == float(b) or (a != a and b != b)
    return a == b


def raises(cls, fn, text):
    try:
        fn()
    except cls as e:
        return text in str(e), str(e)
    except Exception as e:  # noqa: BLE001
        return False, "%s: %s" % (type(e).__name__, e)
    return False, "no error"


kw = {"comm": COMM} if COMM else {}
x = h5py.File("py.h5", "r")["/x"][...]
xi = h5py.File("py.h5", "r")["/i"][...]
w = h5py.File("py.h5", "r")["/w"][...]

# ---------------------------------------------------------------- built-ins: the command's bits
for line in open("jobs.txt"):
    tag, args = line.rstrip("\n").split("\t")
    spec = json.loads(args)
    ref = json.load(open("ref-%s.json" % tag))["result"]
    for sched in ("dynamic", "static"):
        for io in ("parallel", "scatter"):
            r = h5mr.run(spec["kernel"], spec["files"], spec["dataset"], schedule=sched, io=io, **spec["opts"], **kw)
            for k, v in ref.items():
                check("%s %s/%s: %s equals the command's" % (tag, sched, io, k),
                      k in r and same(r[k], h5mr._from_json(v)))
            check("%s: the same fields as the command (%s)" % (tag, sorted(r)), sorted(r) == sorted(ref))
r = h5mr.run("sum", "py.h5", "/x[5:]", **kw)
check("a result says what ran (%s)" % r.info,
      r.info["ranks"] == SIZE and r.info["shape"] == (x.shape[0] - 5, x.shape[1]) and r.info["selection"] == "[5:]")
r = h5mr.run("stats", "py.h5", "/x", axis=0, **kw)
check("arrays are numpy arrays of the kernel's types",
      isinstance(r["mean"], np.ndarray) and r["mean"].dtype == np.float64 and r["count"].dtype == np.int64)
r = h5mr.run("stats", "py.h5", "/x[0:0]", **kw)
check("an empty selection: count 0 and None for undefined scalars", r["count"] == 0 and r["mean"] is None)


# ---------------------------------------------------------------- Python kernels
class FracAbove(h5mr.Kernel):
    params = {"threshold": 0.0}

    def init(self, info):
        return np.zeros(2, np.int64)

    def map(self, state, block, first_row):
        v = block[~np.isnan(block)]
        state += (np.count_nonzero(v > self.threshold), v.size)
        return state

    def combine(self, a, b):
        return a + b

    def finish(self, state):
        return {"fraction": state[0] / state[1], "count": int(state[1])}


for sched in ("dynamic", "static"):
    for io in ("parallel", "scatter"):
        for cr in (None, 7):
            r = h5mr.run(FracAbove(threshold=0.5), "py.h5", "/x", schedule=sched, io=io, chunk_rows=cr, **kw)
            valid = np.count_nonzero(~np.isnan(x))
            check("FracAbove %s/%s chunk_rows %s = numpy (%s)" % (sched, io, cr, r),
                  r["count"] == valid and r["fraction"] == np.count_nonzero(x > 0.5) / valid)


class PixelMean(h5mr.Kernel):
    """sum and count per pixel (array states), mean at the end"""

    def init(self, info):
        self.seen_info = info
        return [np.zeros((2,) + info["shape"][1:]), True]  # sums, counts; every block read-only

    def map(self, state, block, first_row):
        ok = ~np.isnan(block)
        state[0][0] += np.where(ok, block, 0).sum(axis=0, dtype=np.float64)
        state[0][1] += ok.sum(axis=0)
        state[1] = state[1] and not block.flags.writeable
        return state

    def combine(self, a, b):
        return [a[0] + b[0], a[1] and b[1]]

    def finish(self, state):
        return {"mean": state[0][0] / state[0][1], "ro": state[1]}


k = PixelMean()
r = h5mr.run(k, "py.h5", "/x", chunk_rows=9, **kw)
check("PixelMean = numpy (to rounding)", np.allclose(r["mean"], np.nanmean(x.astype(np.float64), axis=0),
                                                     rtol=1e-12, atol=1e-15))
check("a block is a read-only view", r["ro"] is True)
check("init sees dtype and shape", k.seen_info["dtype"] == np.float32 and k.seen_info["shape"] == x.shape)


class Uniques(h5mr.Kernel):
    """a set of the distinct values (a variable-size, picklable state)"""

    def init(self, info):
        return set()

    def map(self, state, block, first_row):
        state.update(np.unique(block).tolist())
        return state

    def combine(self, a, b):
        return a | b

    def finish(self, state):
        return {"values": np.array(sorted(state)), "n": len(state)}


r = h5mr.run(Uniques(), "py.h5", "/i", chunk_rows=5, **kw)
check("Uniques (a set) = np.unique", same(r["values"], np.unique(xi)) and r["n"] == len(np.unique(xi)))


class TwoPassVar(h5mr.Kernel):
    """the mean in pass 1, the sum of squared deviations in pass 2"""

    passes = 2

    def init(self, info):
        self.pass_ = info["pass"]
        return np.zeros(2)

    def map(self, state, block, first_row):
        v = block[~np.isnan(block)].astype(np.float64)
        if self.pass_ == 0:
            state += (v.sum(), v.size)
        else:
            state += (((v - self.mean) ** 2).sum(), v.size)
        return state

    def combine(self, a, b):
        return a + b

    def end_pass(self, state):
        self.mean = state[0] / state[1]

    def finish(self, state):
        return {"var": state[0] / state[1]}


r = h5mr.run(TwoPassVar(), "py.h5", "/x", chunk_rows=11, **kw)
check("two passes: var = numpy (to rounding) (%r, %r)" % (r["var"], np.nanvar(x.astype(np.float64))),
      abs(r["var"] - np.nanvar(x.astype(np.float64))) < 1e-12)


class WeightedSum(h5mr.Kernel):
    accepts = ("weights",)

    def init(self, info):
        return np.zeros(1)

    def map(self, state, block, first_row, inputs):
        state += np.nansum(block * inputs["weights"])
        return state

    def combine(self, a, b):
        return a + b

    def finish(self, state):
        return {"wsum": float(state[0])}


r = h5mr.run(WeightedSum(), "py.h5", "/x", weights="/w", chunk_rows=13, **kw)
check("a companion (weights, broadcast (C,) to the block): = numpy (to rounding)",
      abs(r["wsum"] - np.nansum(x.astype(np.float64) * w)) < 1e-9)
class Pieces(h5mr.Kernel):
    """what map is handed: joined blocks cut into pieces of block_bytes (whole rows)"""
    accepts = ("weights",)
    block_bytes = 3 * x.shape[1] * 4 + 1  # three rows of f32

    def init(self, info):
        return []

    def map(self, state, block, first_row, inputs):
        n = block.shape[0]
        same_rows = same(block, x[first_row:first_row + n])
        state.append((first_row, n, bool(same_rows) and inputs["weights"].shape == block.shape))
        return state

    def combine(self, a, b):
        return a + b

    def finish(self, state):
        s = sorted(state)
        cover = [r for f, n, _ in s for r in range(f, f + n)]
        return {"covered": cover == list(range(x.shape[0])), "most": max(n for _, n, _ in s),
                "right": all(ok for _, _, ok in s)}


for cr in (10, 2):
    r = h5mr.run(Pieces(), "py.h5", "/x", weights="/w", chunk_rows=cr, **kw)
    check("block_bytes: blocks of at most 3 rows (chunk_rows %d), every row once, first_row and the companion's "
          "rows with each (%s)" % (cr, r), r["covered"] is True and r["most"] == min(3, cr) and r["right"] is True)


class FracBy(FracAbove):
    name = "fracby"
    accepts = ("by",)


r = h5mr.run(FracBy(threshold=0.5), "py.h5", "/x", by="/lab", **kw)
lab = h5py.File("py.h5", "r")["/lab"][...]
ref_n = [int(np.count_nonzero(~np.isnan(x[lab == v]))) for v in range(5)]
ref_f = [np.count_nonzero(x[lab == v] > 0.5) / ref_n[v] for v in range(5)]
check("by= for a Python kernel: its fields per label = numpy (%s)" % {k: r[k] for k in r},
      same(r.get("count"), np.array(ref_n)) and same(r.get("fraction"), np.array(ref_f)))
r = h5mr.run(FracAbove(threshold=0.5), "py.h5", "/x", mask="/m", **kw)
mk = h5py.File("py.h5", "r")["/m"][...] != 0
check("--mask applies to a Python kernel (masked elements arrive as NaN)",
      r["count"] == int((np.broadcast_to(mk, x.shape) & ~np.isnan(x)).sum()))

# ---------------------------------------------------------------- errors on every rank, no hang


class FailsOnRank1(h5mr.Kernel):
    def init(self, info):
        return 0

    def map(self, state, block, first_row):
        if RANK == min(1, SIZE - 1):
            raise ValueError("the kernel of rank %d gives up" % min(1, SIZE - 1))
        return state + 1

    def combine(self, a, b):
        return a + b

    def finish(self, state):
        return {"n": state}


ok, msg = raises(h5mr.RunError, lambda: h5mr.run(FailsOnRank1(), "py.h5", "/x", chunk_rows=3, schedule="static", **kw),
                 "ValueError: the kernel of rank")
check("one rank's kernel raises: RunError on every rank (%s)" % msg, ok)
ok, msg = raises(h5mr.UsageError, lambda: h5mr.run("nosuch", "py.h5", "/x", **kw), "unknown kernel 'nosuch'")
check("an unknown kernel: UsageError (%s)" % msg, ok)
ok, msg = raises(h5mr.UsageError, lambda: h5mr.run("stats", "py.h5", "/x", schedule="fast", **kw),
                 "--schedule 'fast' is not static or dynamic")
check("a bad schedule: UsageError (%s)" % msg, ok)
ok, msg = raises(h5mr.UsageError, lambda: h5mr.run("histogram", "py.h5", "/x", bins=0, **kw), "bins")
check("a bad parameter: UsageError (%s)" % msg, ok)
ok, msg = raises(h5mr.InputError, lambda: h5mr.run("sum", "missing.h5", "/x", **kw), "cannot open 'missing.h5'")
check("a missing file: InputError (%s)" % msg, ok)
ok, msg = raises(h5mr.InputError, lambda: h5mr.run("sum", "py.h5", "/nope", **kw), "/nope")
check("a missing dataset: InputError (%s)" % msg, ok)
ok, msg = raises(h5mr.UsageError, lambda: h5mr.run("convert", "py.h5", "/x", **kw), "writes a dataset")
check("a map kernel in run: UsageError (%s)" % msg, ok)
ok, msg = raises(h5mr.UsageError, lambda: h5mr.run("sum", "py.h5", "/x", resume=True, **kw),
                 "--resume needs --checkpoint FILE")
check("resume without checkpoint: UsageError (%s)" % msg, ok)
check("errors are h5mr.Error", issubclass(h5mr.InputError, h5mr.Error) and issubclass(h5mr.RunError, h5mr.Error))
r = h5mr.run("sum", "py.h5", "/x", **kw)
check("a job after errors runs", same(r["sum"], h5mr._from_json(json.load(open("ref-sum.json"))["result"]["sum"])))

# ---------------------------------------------------------------- map, kernels, info, checkpoint
out = "py-out-%d.h5" % SIZE
r = h5mr.map("scale", "py.h5", "/x", output=out, a=2, b=1, dtype="f64", force=True, **kw)
if RANK == 0:
    with h5py.File(out, "r") as f:
        y = f["/x"][...] if "/x" in f else f[list(f)[0]][...]
    check("h5mr.map scale a=2 b=1 = numpy", same(y, 2 * x.astype(np.float64) + 1))
check("map says what it wrote", r.info["output"]["dtype"] == "f64")
names = [k["name"] for k in h5mr.kernels()]
check("kernels() lists the built-ins and the registered Python kernels",
      "stats" in names and "fracabove" in names and "pixelmean" in names)
check("kernels() says which write", [k["command"] for k in h5mr.kernels() if k["name"] == "convert"] == ["map"])
check("kernels() gives parameters", "threshold" in [k for k in h5mr.kernels() if k["name"] == "fracabove"][0]["params"])
i = h5mr.info("py.h5", "/x")
check("info: shape, dtype, plan", i["shape"] == x.shape and i["dtype"] == "f32" and i["items"] >= 1)
check("info of a file lists its datasets", "/x" in h5mr.info("py.h5"))
ck = "py-%d.ck" % SIZE
r = h5mr.run("stats", "py.h5", "/x", axis=0, checkpoint=ck, checkpoint_every=0.001, chunk_rows=4, **kw)
check("checkpoint=: the result, the checkpoint removed after success",
      same(r["mean"], h5mr._from_json(json.load(open("ref-stats-axis0.json"))["result"]["mean"]))
      and not os.path.exists(ck))
if SIZE == 1 and not os.environ.get("OMPI_COMM_WORLD_SIZE"):
    r2 = h5mr.run("stats", "py.h5", "/x", axis=0, ranks=2)
    check("ranks=2 (the command on 2 ranks): the bits of one rank in process",
          all(same(r2[k], r[k]) for k in r) and r2.info["ranks"] == 2)
    ok, msg = raises(h5mr.UsageError, lambda: h5mr.run(FracAbove(), "py.h5", "/x", ranks=2), "mpirun -n 2 python3")
    check("ranks=2 with a Python kernel: UsageError (%s)" % msg, ok)

# ---------------------------------------------------------------- more options
calls = []
r = h5mr.run("sum", "py.h5", "/x", progress=calls.append, stats=True, **kw)
check("progress= a function: rank 0 gets the final call (%s)" % calls[-1:],
      (RANK != 0 and not calls) or (RANK == 0 and calls and calls[-1]["final"] and calls[-1]["items_done"] >= 1))
check("stats=True: per-rank figures", len(r.info["per_rank"]) == SIZE and sum(p["items"] for p in r.info["per_rank"])
      == r.info["items"])
if RANK == 0:
    with open("list-%d.txt" % SIZE, "w") as f:
        f.write("py.h5\npy.h5\n")
h5mr.run("count", "py.h5", "/x", **kw)  # (every rank waits here for rank 0's file)
r = h5mr.run("count", [], "/x", files_from="list-%d.txt" % SIZE, **kw)
check("files_from=: the files of a list, concatenated", r["count"] == 2 * np.count_nonzero(~np.isnan(x)))
out = "py-frac-%d.h5" % SIZE
h5mr.run(FracAbove(threshold=0.5), "py.h5", "/x", output=out, force=True, **kw)
if RANK == 0:
    with h5py.File(out, "r") as f:
        check("output= of a Python kernel: its result fields as datasets",
              f["/result/count"][()] == np.count_nonzero(~np.isnan(x)) and f["/result/fraction"][()] ==
              np.count_nonzero(x > 0.5) / np.count_nonzero(~np.isnan(x)))

print("rank %d: %d passed, %d failed" % (RANK, passes, fails))
sys.exit(1 if fails else 0)
