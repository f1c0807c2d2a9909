#!/usr/bin/python3
"""multiprocessing.Pool over blocks of rows, each worker reading its blocks with h5py
(the file opened once per worker) and returning a partial sum or histogram.  Prints
"<seconds> <bytes> <items> <result>".

Usage: pool_run.py sum|histogram FILE DATASET BLOCK_ROWS [PROCESSES]
The pool is started before the clock starts.  Run with /usr/bin/python3 (python3-h5py).
"""
import multiprocessing as mp
import sys
import time

import h5py
import numpy as np

_dset = None


def _open(path, name):
    global _dset
    _dset = h5py.File(path, "r")[name]


def _work(args):
    kernel, lo, hi = args
    x = _dset[lo:hi]
    if kernel == "sum":
        return float(np.sum(x))
    return np.histogram(x, bins=256, range=(0.0, 1.0))[0]


def main():
    kernel, path, name, block = sys.argv[1:5]
    procs = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    block = int(block)
    with h5py.File(path, "r") as f:
        shape, itemsize = f[name].shape, f[name].dtype.itemsize
    rows = shape[0]
    tasks = [(kernel, lo, min(lo + block, rows)) for lo in range(0, rows, block)]
    with mp.Pool(procs, initializer=_open, initargs=(path, name)) as pool:
        pool.map(int, range(procs))  # workers are up before the clock starts
        t0 = time.perf_counter()
        parts = pool.map(_work, tasks, chunksize=1)
        v = sum(parts) if kernel == "sum" else np.sum(parts, axis=0)
        t = time.perf_counter() - t0
    nbytes = rows * int(np.prod(shape[1:])) * itemsize
    out = repr(float(v)) if kernel == "sum" else str(int(np.sum(v)))
    print(f"{t:.6f} {nbytes} {len(tasks)} {out}")


if __name__ == "__main__":
    main()
