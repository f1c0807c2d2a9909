"""A session with h5mr from Python, run as
    mpirun -n 2 python3 python/examples/session.py
on session.h5 (h5mr gen --shape 120x73x144 --dtype f32 --chunk 10x73x144 --fill normal
--seed 7 session.h5 /t2m), with PYTHONPATH=python in the build tree or after make
install.  Every rank runs the whole script and gets every result; rank 0 prints."""
import numpy as np

import h5mr

say = print if h5mr.rank() == 0 else (lambda *a, **k: None)

# 1. A built-in kernel: the result is a dict of numpy arrays and Python scalars.
r = h5mr.run("stats", "session.h5", "/t2m", axis=0)
say("per-pixel mean:", r["mean"].shape, r["mean"].dtype, "first values", np.round(r["mean"][0, :3], 4))
say("ran on", r.info["ranks"], "ranks,", r.info["items"], "items,", r.info["schedule"], "schedule")

# 2. A time window and a histogram; the command's options are keywords.
r = h5mr.run("histogram", "session.h5", "/t2m[0:31]", bins=4, schedule="static", io="scatter")
say("January histogram:", r["counts"], "edges", np.round(r["edges"], 3))


# 3. A kernel written in numpy: the fraction of values above a threshold.
class FracAbove(h5mr.Kernel):
    params = {"threshold": 0.0}

    def init(self, info):
        return np.zeros(2, np.int64)

    def map(self, state, block, first_row):  # block: a read-only numpy view, no copy
        v = block[~np.isnan(block)]
        state += (np.count_nonzero(v > self.threshold), v.size)
        return state

    def combine(self, a, b):
        return a + b

    def finish(self, state):
        return {"fraction": state[0] / state[1], "count": int(state[1])}


r = h5mr.run(FracAbove(threshold=1.0), "session.h5", "/t2m")
say("fraction above 1.0: %.6f of %d values" % (r["fraction"], r["count"]))

# 4. Errors are exceptions, the same on every rank.
try:
    h5mr.run("stats", "session.h5", "/t2m", axis=5)
except h5mr.UsageError as e:
    say("UsageError:", e)

# 5. Write a dataset: the anomaly against the per-pixel mean, stored as f32.
r = h5mr.map("anomaly", "session.h5", "/t2m", output="anomaly.h5", dtype="f32", force=True)
say("wrote", r.info["output"]["file"], r.info["output"]["dataset"], r.info["output"]["dtype"])
