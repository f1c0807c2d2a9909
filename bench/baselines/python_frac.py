#!/usr/bin/python3
"""One numpy kernel — the fraction of the valid values above a threshold — through h5mr's
Python package and through Dask, as a user would write each.  Prints
"<seconds> <valid> <above>" (seconds: from before the first read to the result).

Usage: python_frac.py h5mr|threaded|distributed FILE DATASET [THRESHOLD] [WORKERS]
  h5mr         run under mpirun -n N /usr/bin/python3: h5mr.run(FracAbove(...)), the
               kernel's map a numpy function of a block (h5mr reads, schedules, reduces)
  threaded     dask.array over h5py (blocks of the storage chunks), map_blocks of the
               same numpy function, then a sum: Dask's threaded scheduler, WORKERS (2)
  distributed  the same graph on a LocalCluster of WORKERS processes of one thread each,
               started before the clock starts
  null         h5mr, a kernel that does nothing per block but count calls, one block per
               item (join_items = False): the per-item cost of a Python kernel
  builtin:K    h5mr.run("K", FILE, DATASET) (a built-in kernel called from Python)
Needs PYTHONPATH=python (the build tree) or an installed h5mr; Debian's python3-dask,
python3-distributed, python3-h5py.
"""
import sys
import time

import numpy as np


def frac_block(b, t):
    v = b[~np.isnan(b)]
    return np.count_nonzero(v > t), v.size


def main():
    mode, path, name = sys.argv[1:4]
    thr = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    workers = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    if mode.startswith("builtin:"):
        import h5mr
        h5mr._lib.mpi_start()
        t0 = time.perf_counter()
        r = h5mr.run(mode.split(":", 1)[1], path, name)
        t = time.perf_counter() - t0
        if h5mr._lib.rank_size(h5mr._lib.COMM_WORLD)[0] == 0:
            print(f"{t:.6f} {r.get('count', 0)} {r.get('sum', 0)} {r.info['items']} {r.info['elapsed_s']:.6f}")
        return
    if mode in ("h5mr", "null"):
        import h5mr

        class FracAbove(h5mr.Kernel):
            params = {"threshold": 0.0}

            def init(self, info):
                return np.zeros(2, np.int64)

            def map(self, state, block, first_row):
                a, n = frac_block(block, self.threshold)
                state[0] += a
                state[1] += n
                return state

            def combine(self, a, b):
                return a + b

            def finish(self, state):
                return {"above": int(state[0]), "valid": int(state[1])}

        class Null(h5mr.Kernel):
            join_items = False

            def init(self, info):
                return 0

            def map(self, state, block, first_row):
                return state + 1

            def combine(self, a, b):
                return a + b

            def finish(self, state):
                return {"above": state, "valid": state}

        h5mr._lib.mpi_start()
        t0 = time.perf_counter()
        if mode == "h5mr":
            r = h5mr.run(FracAbove(threshold=thr), path, name)
        else:
            r = h5mr.run(Null(), path, name, chunk_rows=1)
        t = time.perf_counter() - t0
        if h5mr._lib.rank_size(h5mr._lib.COMM_WORLD)[0] == 0:
            print(f"{t:.6f} {r['valid']} {r['above']} {r.info['items']}")
        return
    import dask
    import dask.array as da
    import h5py
    client = cluster = None
    if mode == "distributed":
        from dask.distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    f = h5py.File(path, "r")
    d = f[name]
    chunks = d.chunks or (max(1, (4 << 20) // (int(np.prod(d.shape[1:])) * d.dtype.itemsize)),) + d.shape[1:]
    t0 = time.perf_counter()
    x = da.from_array(d, chunks=chunks, lock=False)

    def block_fn(b):
        a, n = frac_block(b, thr)
        return np.array([a, n], np.int64).reshape((1,) * (b.ndim - 1) + (2,))
    parts = x.map_blocks(block_fn, dtype=np.int64, chunks=(1,) * (x.ndim - 1) + (2,))
    tot = parts.sum(axis=tuple(range(x.ndim - 1)))
    if client is None:
        with dask.config.set(scheduler="threads", num_workers=workers):
            above, valid = tot.compute()
    else:
        above, valid = tot.compute()
    t = time.perf_counter() - t0
    print(f"{t:.6f} {valid} {above} {x.numblocks[0]}")
    if client is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
