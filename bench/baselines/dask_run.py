#!/usr/bin/python3
"""Dask on h5py, as a user would write it: a dask array over the HDF5 dataset, one
task per block of rows, reduced by dask.  Prints "<seconds> <bytes> <items> <result>".

Usage: dask_run.py threaded|distributed sum|histogram FILE DATASET BLOCK_ROWS [WORKERS] [MAX_ROWS]
  threaded     the default threaded scheduler, WORKERS threads (2)
  distributed  a LocalCluster of WORKERS processes with one thread each (2); the
               cluster is started before the clock starts
  histogram    256 bins over [0, 1)
  MAX_ROWS     read only the first rows (for the granularity sweep)
Needs Debian's python3-dask, python3-distributed, python3-h5py (run with /usr/bin/python3).
"""
import sys
import time

import dask
import dask.array as da
import h5py
import numpy as np


def main():
    mode, kernel, path, name, block = sys.argv[1:6]
    workers = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    max_rows = int(sys.argv[7]) if len(sys.argv) > 7 else None
    block = int(block)
    client = None
    if mode == "distributed":
        from dask.distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    f = h5py.File(path, "r")
    d = f[name]
    rows = d.shape[0] if max_rows is None else min(max_rows, d.shape[0])
    t0 = time.perf_counter()
    x = da.from_array(d, chunks=(block,) + d.shape[1:], lock=False)[:rows]
    if kernel == "sum":
        r = x.sum()
    else:
        r = da.histogram(x, bins=256, range=(0.0, 1.0))[0]
    if client is None:
        with dask.config.set(scheduler="threads", num_workers=workers):
            v = r.compute()
    else:
        v = r.compute()
    t = time.perf_counter() - t0
    nbytes = rows * int(np.prod(d.shape[1:])) * d.dtype.itemsize
    items = -(-rows // block)
    out = repr(float(v)) if kernel == "sum" else str(int(np.sum(v)))
    print(f"{t:.6f} {nbytes} {items} {out}")
    if client is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
