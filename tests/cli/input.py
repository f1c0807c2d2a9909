"""tests/cli/input.py: several files, selections and CF conventions, checked against
numpy (h5py reads) and python3-netCDF4's own masked values, at 1-4 ranks, both
schedules and both I/O modes.  Run by tests/cli/input.sh (Debian's python3, which has
numpy, h5py and netCDF4); exits non-zero on any failure."""
import json
import os
import subprocess
import sys

import h5py
import netCDF4
import warnings
import numpy as np

from h5mrtest import H5MR, MPIRUN, check, close, configs, expect_error, fail, h5mr, matrix, run_json, summary


def stats_of(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    v = a[~np.isnan(a)]
    if v.size == 0:
        return {"count": 0, "sum": 0.0, "mean": None, "min": None, "max": None, "var": None}
    return {"count": int(v.size), "sum": float(v.sum()), "mean": float(v.mean()), "var": float(v.var()),
            "min": float(v.min()), "max": float(v.max())}


def same_stats(r, ref):
    for k in ("count", "min", "max"):
        if r[k] != ref[k]:
            return False, "%s %r, numpy %r" % (k, r[k], ref[k])
    for k in ("sum", "mean", "var"):
        if not close(r[k], ref[k], 1e-11):
            return False, "%s %r, numpy %r" % (k, r[k], ref[k])
    return True, "agrees with numpy"


os.chdir(os.environ.get("WORKDIR", "."))
rng = np.random.default_rng(20261201)

# ------------------------------------------------------------------ several files
# Rows per file: odd sizes, a file of zero rows, one of one row, fewer rows than ranks.
rows = [37, 0, 1, 64, 3, 100]
parts = []
for i, n in enumerate(rows):
    a = rng.normal(10, 3, size=(n, 6, 5)).astype("f4")
    if n > 2:
        a[1, 2, 3] = np.nan
    parts.append(a)
    with h5py.File("day%02d.h5" % i, "w") as f:
        if i % 3 == 0:
            f.create_dataset("t", data=a, chunks=(4, 6, 5) if n else None, compression="gzip" if n else None)
        elif i % 3 == 1:
            f.create_dataset("t", data=a)  # contiguous
        else:
            f.create_dataset("t", data=a, chunks=(min(2, n), 3, 5), shuffle=True, compression="gzip", maxshape=(None, 6, 5))
cat = np.concatenate(parts)
with h5py.File("all.h5", "w") as f:
    f.create_dataset("t", data=cat, chunks=(16, 6, 5))
files = ["day%02d.h5" % i for i in range(len(rows))]

d = matrix("stats over 6 files", ["-k", "stats"] + files + ["/t"], lambda d: same_stats(d["result"], stats_of(cat)))
if d:
    check("input.files is 6", d["input"]["files"] == 6 and d["input"]["file"] == "day00.h5")
    check("input.shape is the concatenation", d["input"]["shape"] == list(cat.shape))
    check("items: the sum over files", d["items"] == sum((n + d["chunk_rows"] - 1) // d["chunk_rows"] for n in rows))
one = run_json(2, "-k", "stats", "all.h5", "/t")
many = run_json(3, "-k", "stats", *files, "/t")
check("several files give the bits of one file holding the concatenation (stats)", one and many and
      one["result"] == many["result"])
for k, extra in (("minmax", []), ("topk", ["-p", "k=5"]), ("sum", ["-p", "axis=0"]), ("stats", ["-p", "axis=0"]),
                 ("histogram", ["-p", "bins=7"]), ("count", ["-p", "gt=10"])):
    one = run_json(1, "-k", k, *extra, "all.h5", "/t")
    many = run_json(4, "-k", k, *extra, "--chunk-rows", "3", *files, "/t")
    check("several files = one file, %s %s" % (k, " ".join(extra)), one and many and one["result"] == many["result"])
mm = run_json(2, "-k", "minmax", *files, "/t")
flat = cat.ravel().astype(np.float64)
if mm:
    check("argmin over files is the index in the concatenation",
          mm["result"]["argmin"] == int(np.nanargmin(flat)) and mm["result"]["argmax"] == int(np.nanargmax(flat)))

# Files whose rows lie in one place (contiguous data, or one unfiltered chunk: a file a
# day) are read with pread, not opened with HDF5 again: the same values, at every
# configuration; a selection within rows takes HDF5's path; a file changed while the job
# runs is named.
rows2 = [5, 1, 9, 0, 4, 2]
parts2 = []
for i, n in enumerate(rows2):
    a = rng.integers(-1000, 1000, size=(n, 7, 3)).astype("i4")
    parts2.append(a)
    if i == 5:  # netCDF-4, an unlimited dimension, one chunk
        with netCDF4.Dataset("g%02d.h5" % i, "w") as nc:
            nc.createDimension("t", None), nc.createDimension("y", 7), nc.createDimension("x", 3)
            nc.createVariable("v", "i4", ("t", "y", "x"), chunksizes=(n, 7, 3))[:] = a
        continue
    # files 1 and 2 begin with a user block: the data's offsets count from the file's start
    with h5py.File("g%02d.h5" % i, "w", **({"userblock_size": 1024} if i in (1, 2) else {})) as f:
        if i % 2 == 0:  # one chunk, larger than the data
            f.create_dataset("v", data=a, chunks=(n + 2, 7, 3), maxshape=(None, 7, 3))
        else:
            f.create_dataset("v", data=a)  # contiguous
cat2 = np.concatenate(parts2)
gfiles = ["g%02d.h5" % i for i in range(len(rows2))]
matrix("sum axis=0 over files read with pread", ["-k", "sum", "-p", "axis=0"] + gfiles + ["/v"],
       lambda d: (d["result"]["sum"] == cat2.sum(0).tolist() and d["result"]["count"] == [[cat2.shape[0]] * 3] * 7,
                  "equals numpy"))
matrix("minmax over files read with pread", ["-k", "minmax"] + gfiles + ["/v"],
       lambda d: (d["result"]["min"] == int(cat2.min()) and d["result"]["argmin"] == int(cat2.argmin()) and
                  d["result"]["argmax"] == int(cat2.argmax()), "equals numpy"))
sel = cat2[2:17, 1:6, ::2]
d = run_json(3, "-k", "sum", "-p", "axis=0", *gfiles, "/v[2:17, 1:6, ::2]")
check("a selection within rows over such files equals numpy", d and d["result"]["sum"] == sel.sum(0).tolist())
for how in ("modified", "shrank"):
    for i in range(12):
        with h5py.File("m%02d.h5" % i, "w") as f:
            f.create_dataset("v", data=np.full((3, 4), i, "f8"))
    if os.path.exists("items.log"):
        os.remove("items.log")
    env = dict(os.environ, H5MR_TEST_DELAY_US="150000", H5MR_TEST_ITEM_LOG="items.log")
    cmd = MPIRUN.replace("NP", "1").split() + [H5MR, "run", "-k", "sum", "--schedule", "static", "m*.h5", "/v"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):  # until the first item is mapped (30 s at most)
        if os.path.exists("items.log") and os.path.getsize("items.log") > 0:
            break
        subprocess.run(["sleep", "0.05"])
    if how == "modified":
        with open("m11.h5", "ab") as f:
            f.write(b"x")
    else:
        os.truncate("m11.h5", 1000)
    out, err = proc.communicate(timeout=60)
    want = "'m11.h5' was modified while it was read" if how == "modified" else "'m11.h5' shrank from"
    check("a file %s during the job: exit 1 naming it (exit %d: %s)" % (how, proc.returncode, err.strip()[:200]),
          proc.returncode == 1 and want in err)

# patterns and lists
d = run_json(2, "-k", "sum", "day*.h5", "/t")
check("a quoted pattern is expanded, sorted", d and d["input"]["files"] == 6 and
      close(d["result"]["sum"], float(np.nansum(cat.astype(np.float64)))))
with open("list.txt", "w") as f:
    f.write("\n".join(files[2:]) + "\n\n")
d = run_json(2, "-k", "sum", files[0], files[1], "--files-from", "list.txt", "/t")
many = run_json(1, "-k", "sum", *files, "/t")
check("--files-from adds its lines after the FILE arguments", d and many and d["result"] == many["result"] and
      d["input"]["files"] == 6)
d = run_json(1, "-k", "sum", "day01.h5", "/t")
check("a file of zero rows alone: count 0", d and d["result"]["count"] == 0 and d["items"] == 0)

# few files open at once: 300 files under a limit of 64 descriptors, at 1 and 2 ranks
for i in range(300):
    with h5py.File("fd%03d.h5" % i, "w") as f:
        f.create_dataset("t", data=np.full((2, 3), i, "i4"))
for np_ in (1, 2):
    cmd = MPIRUN.replace("NP", str(np_)) + " " + H5MR + " run -k sum --json 'fd*.h5' /t"
    p = subprocess.run(["bash", "-c", "ulimit -n 64 && " + cmd], capture_output=True, text=True, timeout=120)
    check("300 files under ulimit -n 64 at %d ranks: %s" % (np_, p.stderr.strip()[:200]),
          p.returncode == 0 and json.loads(p.stdout)["result"]["sum"] == 6 * sum(range(300)))

# every numeric type, two files each
NP_TYPES = {"i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8", "u16": "uint16",
            "u32": "uint32", "u64": "uint64", "f32": "float32", "f64": "float64"}
for t, npt in NP_TYPES.items():
    info = np.iinfo(npt) if t[0] in "iu" else None
    hi = min(info.max, 10**6) if info else 1
    lo = max(info.min, -(10**6)) if info else 0
    arrs = []
    for i, n in enumerate((13, 8)):
        a = rng.integers(lo, hi, size=(n, 3)).astype(npt) if info else rng.random((n, 3)).astype(npt)
        arrs.append(a)
        with h5py.File("ty%d.h5" % i, "w") as f:
            f.create_dataset("v", data=a, chunks=(4, 3) if i else None)
    c = np.concatenate(arrs)
    d = run_json(3, "-k", "stats", "ty0.h5", "ty1.h5", "/v[3:, 1:]")
    ok, why = same_stats(d["result"], stats_of(c[3:, 1:])) if d else (False, "no result")
    check("%s, two files, selection [3:, 1:]: %s" % (t, why), ok)
    if info:
        check("%s: the integer sum is exact" % t, d and d["result"]["sum"] == int(c[3:, 1:].astype(object).sum()))

# ------------------------------------------------------------------ selections
sels = ["[0:744]", "[5:90:4]", "[-24:]", "[:, 1:5, ::2]", "[-30:, 2]", "[10, :, 1:4]", "[::7, -1, -1]",
        "[3:3]", "[200:]", "[:, 1]"]
for s in sels:
    ref = eval("cat" + s)
    matrix("stats over 6 files%s" % s, ["-k", "stats"] + files + ["/t" + s],
           lambda d, ref=ref, s=s: (d["input"]["shape"] == list(ref.shape) and d["input"]["selection"] == s,
                                    "shape %r selection %r" % (d["input"]["shape"], d["input"]["selection"]))
           if d["input"]["shape"] != list(ref.shape) or d["input"]["selection"] != s
           else same_stats(d["result"], stats_of(ref)))
for s in ("[2:50:3, 1:5]", "[-40:, :, 3]", "[7]"):
    ref = eval("cat" + s).astype(np.float64)
    d = run_json(2, "-k", "stats", "-p", "axis=0", *files, "/t" + s)
    if d:
        m = np.array([[np.nan if v is None else v for v in row] for row in d["result"]["mean"]]) \
            if ref.ndim == 3 else np.array([np.nan if v is None else v for v in d["result"]["mean"]])
        with np.errstate(invalid="ignore"):
            want = np.nanmean(ref, axis=0)
        check("stats axis=0 on %s agrees with numpy" % s, np.allclose(m, want, rtol=1e-12, equal_nan=True))
    d = run_json(3, "-k", "minmax", *files, "/t" + s)
    if d:
        f = ref.ravel()
        check("minmax on %s: argmin/argmax index the selected array" % s,
              d["result"]["argmin"] == int(np.nanargmin(f)) and d["result"]["argmax"] == int(np.nanargmax(f)))
    d = run_json(2, "-k", "topk", "-p", "k=4", "-p", "largest=false", *files, "/t" + s)
    if d:
        f = ref.ravel()
        order = sorted((v, i) for i, v in enumerate(f) if not np.isnan(v))[:4]
        check("topk on %s: indices of the selected array" % s, d["result"]["indices"] == [i for v, i in order])

# steps read as their covering block, picked out in memory (read.c read_covering): every
# element size, 1-D to 4-D, groups of covering rows larger than the 4 MiB a group takes,
# a step along dimension 0 too large to cover (one row each, or HDF5's way where a row
# is small), and covering blocks more
# than 64x the selection (left to HDF5); sums against numpy, identical bits whatever the
# ranks, schedule and I/O mode (matrix)
steps = [("u1", (300001,), (65536,), "[3::5]"), ("i2", (5000, 9, 7), (64, 9, 7), "[1::2, ::3, 2::2]"),
         ("f4", (700, 40, 50), (10, 40, 50), "[::3, :, ::2]"), ("f8", (90, 6, 5, 8), (7, 6, 5, 8), "[::2, 1::2, :, 1::3]"),
         ("i8", (20000, 30), (500, 30), "[::100, ::2]"), ("f8", (600, 64, 64), (20, 64, 64), "[5:, ::3, ::3]"),
         ("f4", (3000, 200, 30), (50, 200, 30), "[::2, :, ::2]"), ("f8", (600, 64, 64), (20, 64, 64), "[::2, ::10, ::10]"),
         ("f4", (3000, 200, 30), (50, 200, 30), "[7::100, :, ::2]")]
for t, shape, chunks, sel in steps:
    a = (rng.random(shape) * 100).astype(t)
    with h5py.File("steps.h5", "w") as f:
        f.create_dataset("x", data=a, chunks=chunks)
    ref = eval("a" + sel)
    matrix("steps %s of %s %s" % (sel, t, "x".join(map(str, shape))), ["-k", "stats", "steps.h5", "/x" + sel],
           lambda d, ref=ref: same_stats(d["result"], stats_of(ref)))
    d = run_json(2, "-k", "sum", "-p", "axis=0", "steps.h5", "/x" + sel)
    want = ref.astype(np.float64).sum(axis=0)
    got = np.array(d["result"]["sum"], dtype=np.float64) if d else None
    check("steps %s of %s: per-pixel sums agree with numpy" % (sel, t),
          got is not None and got.shape == want.shape and np.allclose(got, want, rtol=1e-12))

# a quarter of the columns of a compressed dataset: the job reads the selected chunks
big = rng.random((64, 16, 64)).astype("f8")
with h5py.File("cols.h5", "w") as f:
    f.create_dataset("x", data=big, chunks=(8, 16, 16), compression="gzip")
d = matrix("a quarter of the columns of gzip chunks", ["-k", "stats", "cols.h5", "/x[:, :, 16:32]"],
           lambda d: same_stats(d["result"], stats_of(big[:, :, 16:32])))

# a dataset behind an external link, in chunks smaller than HDF5's chunk cache (read in
# whole rows, it is reopened with the cache off: by the name it was opened by, through
# the same link)
linked = rng.random((500, 20, 30))
with h5py.File("linked_target.h5", "w") as f:
    f.create_dataset("grp/data", data=linked, chunks=(10, 20, 30))
with h5py.File("linked.h5", "w") as f:
    f["x"] = h5py.ExternalLink("linked_target.h5", "/grp/data")
matrix("a dataset behind an external link", ["-k", "stats", "linked.h5", "/x"],
       lambda d: same_stats(d["result"], stats_of(linked)))

# compact and virtual layouts (the virtual one maps four of the files)
small = rng.normal(size=(9, 4, 3))
with h5py.File("layouts.h5", "w") as f:
    space = h5py.h5s.create_simple(small.shape)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    h5py.h5d.create(f.id, b"compact", h5py.h5t.NATIVE_DOUBLE, space, dcpl).write(h5py.h5s.ALL, h5py.h5s.ALL, small)
    lay = h5py.VirtualLayout(shape=(cat.shape[0] - 37, 6, 5), dtype="f4")
    lay[0:1] = h5py.VirtualSource("day02.h5", "t", shape=(1, 6, 5))
    lay[1:65] = h5py.VirtualSource("day03.h5", "t", shape=(64, 6, 5))
    lay[65:68] = h5py.VirtualSource("day04.h5", "t", shape=(3, 6, 5))
    lay[68:168] = h5py.VirtualSource("day05.h5", "t", shape=(100, 6, 5))
    f.create_virtual_dataset("virtual", lay)
p = h5mr(1, "info", "--json", "layouts.h5", "/compact")
check("info names a compact layout", p.returncode == 0 and json.loads(p.stdout)["layout"] == "compact")
for name, ref, sel in (("compact", small, "[1:8:2, 1:]"), ("virtual", cat[37:], "[10:150:3, 2, 1:4]")):
    matrix("selection %s of a %s dataset" % (sel, name), ["-k", "stats", "layouts.h5", "/%s%s" % (name, sel)],
           lambda d, ref=ref, sel=sel: same_stats(d["result"], stats_of(eval("ref" + sel))))

# ------------------------------------------------------------------ CF conventions
def write_nc(path, n, seed, scale=0.01, offset=273.15):
    r = np.random.default_rng(seed)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("lat", 4)
        nc.createDimension("lon", 6)
        v = nc.createVariable("t2m", "i2", ("time", "lat", "lon"), fill_value=-32767, chunksizes=(3, 4, 6),
                              zlib=True)
        v.scale_factor = scale
        v.add_offset = offset
        v.set_auto_maskandscale(False)
        raw = r.integers(-3000, 3000, size=(n, 4, 6)).astype("i2")
        raw[raw % 5 == 0] = -32767
        v[:] = raw
        w = nc.createVariable("tas", "f4", ("time", "lat", "lon"), fill_value=np.float32(1e20))
        d = r.normal(280, 5, size=(n, 4, 6)).astype("f4")
        d[::3, 1, :] = 1e20
        w.set_auto_maskandscale(False)
        w[:] = d
        q = nc.createVariable("q", "f8", ("time", "lat", "lon"))
        q.missing_value = np.array([-999.0, -1.0])
        q.valid_range = np.array([0.0, 100.0])
        x = r.uniform(-5, 110, size=(n, 4, 6))
        x[0, 0, :3] = -999
        q.set_auto_maskandscale(False)
        q[:] = x
        c = nc.createVariable("cnt", "i4", ("time", "lat", "lon"), fill_value=-1)
        y = r.integers(0, 50, size=(n, 4, 6)).astype("i4")
        y[y % 7 == 0] = -1
        c.set_auto_maskandscale(False)
        c[:] = y


def masked(paths, var):
    out = []
    for p in paths:
        with netCDF4.Dataset(p) as nc:
            a = nc[var][:]
            out.append(np.ma.filled(np.ma.masked_invalid(a).astype(np.float64), np.nan))
    return np.concatenate(out)


write_nc("m1.nc", 20, 1)
write_nc("m2.nc", 7, 2, scale=0.02, offset=250.0)  # packing differs per file
nc_files = ["m1.nc", "m2.nc"]
for var in ("t2m", "tas", "q", "cnt"):
    ref = masked(nc_files, var)
    d = matrix("CF %s over two netCDF-4 files" % var, ["-k", "stats"] + nc_files + ["/" + var],
               lambda d, ref=ref: same_stats(d["result"], stats_of(ref)))
    if d:
        check("CF %s: input.cf names what applied" % var, d["input"]["cf"] is not None)
    d = run_json(2, "-k", "stats", "-p", "axis=0", *nc_files, "/" + var + "[2:]")
    if d:
        m = np.array([[np.nan if v is None else v for v in row] for row in d["result"]["mean"]])
        with np.errstate(invalid="ignore"):
            want = np.nanmean(ref[2:], axis=0)
        check("CF %s axis=0 on a selection agrees with netCDF4" % var, np.allclose(m, want, rtol=1e-12,
                                                                                 equal_nan=True))
d = run_json(1, "-k", "stats", "m1.nc", "/t2m")
check("CF: input.cf of t2m", d and d["input"]["cf"] == {"fill": [-32767], "scale": 0.01, "offset": 273.15})
check("CF: scaled results are floats", d and isinstance(d["result"]["sum"], float))
d = run_json(2, "-k", "stats", "--raw", "m1.nc", "/t2m")
with h5py.File("m1.nc") as f:
    rawv = f["t2m"][:]
check("--raw: the stored values, input.cf null", d and d["input"]["cf"] is None and
      d["result"]["sum"] == int(rawv.astype(np.int64).sum()) and d["result"]["count"] == rawv.size)
d = run_json(2, "-k", "valuecounts", "--raw", "m1.nc", "/cnt")
check("valuecounts --raw on CF data", d is not None)
p = h5mr(2, "run", "-k", "valuecounts", "m1.nc", "/t2m")
check("valuecounts on scaled data: exit 2 naming --raw", p.returncode == 2 and "--raw" in p.stderr and
      p.stderr.count("h5mr: ") == 1)
p = h5mr(1, "run", "-k", "stats", "m1.nc", "/t2m")
check("the summary names the CF conventions applied", p.returncode == 0 and "CF conventions applied" in p.stdout)

# a file written by ncgen (netcdf-bin) from CDL
cdl = """netcdf g {
dimensions: time = UNLIMITED ; x = 5 ;
variables:
  short v(time, x) ; v:_FillValue = -9s ; v:scale_factor = 0.5 ; v:add_offset = 10. ;
    v:valid_min = -100s ;
data:
  v = 1, 2, -9, 4, 5, -200, 7, 8, 9, -9, 0, 0, 1, 1, -9 ;
}
"""
with open("g.cdl", "w") as f:
    f.write(cdl)
r = subprocess.run(["ncgen", "-k", "nc4", "-o", "g.nc", "g.cdl"], capture_output=True, text=True)
if r.returncode == 0:
    ref = masked(["g.nc"], "v")
    matrix("CF on a file written by ncgen", ["-k", "stats", "g.nc", "/v"], lambda d: same_stats(d["result"],
                                                                                              stats_of(ref)))
else:
    fail("ncgen failed: " + r.stderr)

# Packed integers taken as stored: sum and stats take the stored integers (exact integer
# sums, unpacked at finish) when every file packs the same way; several markers and a
# valid range (set to one marker in place), a negative scale, u8 and i32, a pixel with
# every value missing, files of the same packing concatenated, items cutting chunks.
def write_packed(path, n, seed, t, fill, scale, offset, extra):
    r = np.random.default_rng(seed)
    info = np.iinfo(t)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("y", 3)
        nc.createDimension("x", 5)
        v = nc.createVariable("v", t, ("time", "y", "x"), fill_value=fill, chunksizes=(4, 3, 5))
        if scale is not None:
            v.scale_factor = scale
        if offset is not None:
            v.add_offset = offset
        for k, val in extra.items():
            setattr(v, k, val)
        v.set_auto_maskandscale(False)
        raw = r.integers(max(info.min, -20000), min(info.max, 20000), size=(n, 3, 5), endpoint=True).astype(t)
        raw[r.random((n, 3, 5)) < 0.1] = fill
        raw[:, 2, 4] = fill
        v[:] = raw


packed_cases = [
    ("i16 fill, scale, offset", "i2", -32767, 0.01, 273.15, {}),
    ("i16 negative scale", "i2", -32767, -0.25, 3.0, {}),
    ("i16 fill, missing_value, valid_range", "i2", -32767, 0.5, None,
     {"missing_value": np.array([7, 9], "i2"), "valid_range": np.array([-15000, 15000], "i2")}),
    ("u8 fill 255, valid_max", "u1", 255, 0.1, -5.0, {"valid_max": np.array(200, "u1")}),
    ("i32 fill, valid_min, scale only", "i4", -1, 1e-3, None, {"valid_min": np.array(-10000, "i4")}),
    ("i16 fill only (integers)", "i2", -32767, None, None, {}),
    ("u8 fill, missing_value, valid_min, no scale", "u1", 255, None, None,
     {"missing_value": np.array([3, 5], "u1"), "valid_min": np.array(2, "u1")}),
    ("i32 fill only", "i4", -2147483647, None, None, {}),
]
for k, (name, t, fill, scale, offset, extra) in enumerate(packed_cases):
    paths = ["pk%d_%d.nc" % (k, j) for j in range(2)]
    for j, pth in enumerate(paths):
        write_packed(pth, (23, 9)[j], 100 + 10 * k + j, t, fill, scale, offset, extra)
    ref = masked(paths, "v")
    d = matrix("packed %s: stats" % name, ["-k", "stats"] + paths + ["/v"],
               lambda d, ref=ref: same_stats(d["result"], stats_of(ref)))
    if d and scale is None and offset is None:
        check("packed %s: integer results" % name, isinstance(d["result"]["sum"], int) and
              d["result"]["sum"] == int(np.nansum(ref)) and isinstance(d["result"]["min"], int))
    d = matrix("packed %s: sum" % name, ["-k", "sum"] + paths + ["/v"],
               lambda d, ref=ref: (d["result"]["count"] == int(np.sum(~np.isnan(ref))) and
                                   close(d["result"]["sum"], float(np.nansum(ref)), 1e-11), "sum %r count %r" %
                                   (d["result"]["sum"], d["result"]["count"])))
    # count too: the comparisons become an interval of stored integers (thresholds at
    # values present, so ties are at stake), ne one integer out, the markers out.
    vals = np.sort(ref[~np.isnan(ref)])
    thr, some = float(vals[len(vals) // 2]), float(vals[len(vals) // 3])
    for ps, want in ((["gt=%r" % thr], vals > thr), (["ge=%r" % some, "le=%r" % thr], (vals >= some) & (vals <= thr)),
                     (["eq=%r" % some], vals == some), (["ne=%r" % some, "lt=%r" % thr], (vals != some) & (vals < thr))):
        args = ["-k", "count"] + [a for q in ps for a in ("-p", q)] + paths + ["/v"]
        w = (int(np.sum(want)), int(vals.size))
        matrix("packed %s: count %s" % (name, " ".join(ps)), args,
               lambda d, w=w: ((d["result"]["count"], d["result"]["total"]) == w, "count %r, netCDF4 %r" % (d["result"], w)),
               few=True)
    # topk too: the order of the stored values (reversed for a negative scale), ties by index.
    flat = ref.reshape(-1)
    ids = np.nonzero(~np.isnan(flat))[0]
    vv = flat[ids]
    for kk, largest in ((10, True), (25, False)):
        order = np.lexsort((ids, -vv if largest else vv))[:kk]
        w = ([float(x) for x in vv[order]], [int(x) for x in ids[order]])
        matrix("packed %s: topk k=%d largest=%s" % (name, kk, largest),
               ["-k", "topk", "-p", "k=%d" % kk, "-p", "largest=%s" % str(largest).lower()] + paths + ["/v"],
               lambda d, w=w: ((d["result"]["values"], d["result"]["indices"]) == w, "topk %r, netCDF4 %r" % (d["result"], w)),
               few=True)
    # histogram too: the range from the stored extremes, each stored value's bin from a
    # table (8/16-bit) or unpacked in the loop (32-bit); numpy.histogram on the values.
    for ps, kw in ((["bins=7"], {"bins": 7}), (["bins=5", "min=%r" % some, "max=%r" % thr],
                                               {"bins": 5, "range": (some, thr)})):
        cnt, edges = np.histogram(vals, **kw)
        w = ([int(x) for x in cnt], [float(x) for x in edges])
        matrix("packed %s: histogram %s" % (name, " ".join(ps)),
               ["-k", "histogram"] + [a for q in ps for a in ("-p", q)] + paths + ["/v"],
               lambda d, w=w: ((d["result"]["counts"], d["result"]["edges"]) == w,
                               "histogram %r, numpy %r" % (d["result"], w)), few=True)
    # valuecounts counts the stored integers where nothing scales them (a fill value,
    # markers, a valid range), the missing ones left out; scaled values are exit 2.
    if scale is None and offset is None:
        u, cnt = np.unique(vals, return_counts=True)
        w = ([int(x) for x in u], [int(x) for x in cnt])
        matrix("%s: valuecounts, the missing left out" % name, ["-k", "valuecounts"] + paths + ["/v"],
               lambda d, w=w: ((d["result"]["values"], d["result"]["counts"]) == w,
                               "valuecounts %r, netCDF4 %r" % (d["result"], w)), few=True)
    # minmax takes the stored integers too (unpacking is monotonic for these packings):
    # the unpacked extremes and their first occurrences, a negative scale swapping them.
    mm_want = (float(np.nanmin(ref)), float(np.nanmax(ref)), int(np.nanargmin(ref)), int(np.nanargmax(ref)))
    matrix("packed %s: minmax" % name, ["-k", "minmax"] + paths + ["/v"],
           lambda d, w=mm_want: (tuple(d["result"][f] for f in ("min", "max", "argmin", "argmax")) == w,
                                 "minmax %r, netCDF4 %r" % (d["result"], w)), few=True)
    d = matrix("packed %s: minmax axis=0" % name, ["-k", "minmax", "-p", "axis=0"] + paths + ["/v"],
               lambda d: (True, "ran"), few=True)
    if d:
        flat = ref.reshape(ref.shape[0], -1)
        allnan = np.all(np.isnan(flat), axis=0)
        filled = np.where(np.isnan(flat), np.inf, flat)
        want = {"min": np.where(allnan, np.nan, np.min(filled, axis=0)),
                "argmin": np.where(allnan, np.nan, np.argmin(filled, axis=0)),
                "max": np.where(allnan, np.nan, np.max(np.where(np.isnan(flat), -np.inf, flat), axis=0)),
                "argmax": np.where(allnan, np.nan, np.argmax(np.where(np.isnan(flat), -np.inf, flat), axis=0))}
        for f, w in want.items():
            g = np.array([[np.nan if x is None else x for x in row] for row in d["result"][f]], dtype=float)
            check("packed %s: minmax axis=0 %s agrees with netCDF4" % (name, f),
                  np.array_equal(g.reshape(-1), w, equal_nan=True))
    for kern in ("stats", "sum"):
        d = matrix("packed %s: %s axis=0" % (name, kern), ["-k", kern, "-p", "axis=0"] + paths + ["/v"],
                   lambda d: (True, "ran"))
        if not d:
            continue
        got = {f: np.array([[np.nan if x is None else x for x in row] for row in d["result"][f]], dtype=float)
               for f in d["result"]}
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = {"count": np.sum(~np.isnan(ref), axis=0), "sum": np.nansum(ref, axis=0)}
            if kern == "stats":
                want.update(mean=np.nanmean(ref, axis=0), var=np.nanvar(ref, axis=0), min=np.nanmin(ref, axis=0),
                            max=np.nanmax(ref, axis=0))
        for f, w in want.items():
            exact = f in ("count", "min", "max")
            ok = np.array_equal(got[f], w, equal_nan=True) if exact else np.allclose(got[f], w, rtol=1e-11,
                                                                                     equal_nan=True)
            check("packed %s: %s axis=0 %s agrees with netCDF4" % (name, kern, f), ok)
        check("packed %s: the all-missing pixel has count 0" % name, got["count"][2, 4] == 0)

# minmax of packed integers over blocks of many thousand elements (the kernel's blocks
# of 2048, markers among them, one block all markers, the extremes tied across blocks).
with netCDF4.Dataset("pkbig.nc", "w") as nc:
    nc.createDimension("time", None)
    nc.createDimension("x", 7)
    v = nc.createVariable("v", "i2", ("time", "x"), fill_value=-32767, chunksizes=(500, 7))
    v.scale_factor, v.add_offset = -0.05, 10.0
    v.set_auto_maskandscale(False)
    raw = np.random.default_rng(77).integers(-3000, 3000, size=(5003, 7)).astype("i2")
    raw[np.random.default_rng(78).random(raw.shape) < 0.2] = -32767
    raw[1000:1400] = -32767
    raw[4321, 5] = raw[77, 2] = 3001  # the max stored (the unpacked min), twice
    raw[2999, 0] = raw[4999, 6] = -3001
    v[:] = raw
ref = masked(["pkbig.nc"], "v")
mm_want = (float(np.nanmin(ref)), float(np.nanmax(ref)), int(np.nanargmin(ref)), int(np.nanargmax(ref)))
matrix("packed, 35,021 elements: minmax", ["-k", "minmax", "pkbig.nc", "/v"],
       lambda d, w=mm_want: (tuple(d["result"][f] for f in ("min", "max", "argmin", "argmax")) == w,
                             "minmax %r, netCDF4 %r" % (d["result"], w)))

# ------------------------------------------------------------------ errors: one line, one code, every rank
with h5py.File("other_type.h5", "w") as f:
    f.create_dataset("t", data=np.zeros((4, 6, 5), "f8"))
with h5py.File("other_shape.h5", "w") as f:
    f.create_dataset("t", data=np.zeros((4, 6, 4), "f4"))
expect_error(3, "'other_type.h5' does not concatenate with 'day00.h5': dataset '/t' is f64 there, f32",
             "run", "day00.h5", "day02.h5", "other_type.h5", "/t")
expect_error(3, "has shape 4x6x4 there, 37x6x5 in the first file", "run", "day00.h5", "other_shape.h5", "/t")
expect_error(3, "'nothing*.h5': no such file, and as a pattern it matches none", "run", "nothing*.h5", "/t")
expect_error(3, "cannot open 'missing.h5'", "run", "day00.h5", "missing.h5", "/t")
expect_error(3, "has no dataset '/nope'", "run", "day00.h5", "day03.h5", "/nope")
expect_error(3, "--files-from: cannot open 'nolist.txt'", "run", "--files-from", "nolist.txt", "/t")
open("empty.txt", "w").write("\n\n")
expect_error(2, "no input files", "run", "--files-from", "empty.txt", "/t")
expect_error(2, "is malformed", "run", "day00.h5", "/t[1:2")
expect_error(2, "is malformed", "run", "day00.h5", "/t[a]")
expect_error(2, "step 0", "run", "day00.h5", "/t[::0]")
expect_error(2, "step -1", "run", "day00.h5", "/t[::-1]")
expect_error(2, "index 205 is out of range for dimension 0 of size 205", "run", *files, "/t[205]")
expect_error(2, "index -7 is out of range for dimension 1 of size 6", "run", "day00.h5", "/t[:, -7]")
expect_error(2, "has 4 entries; the dataset has 3 dimensions", "run", "day00.h5", "/t[1, 2, 3, 4]")
expect_error(2, "leaves no dimension", "run", "day00.h5", "/t[1, 2, 3]")
expect_error(2, "missing DATASET", "run", "day00.h5")

# info over several files
p = h5mr(1, "info", "--json", *files, "/t[2:]")
if p.returncode == 0:
    j = json.loads(p.stdout)
    check("info over several files: shape, files, rows per file",
          j["shape"] == [cat.shape[0] - 2, 6, 5] and j["files"] == 6 and
          [r["rows"] for r in j["rows_per_file"]] == rows)
else:
    fail("info over several files: " + p.stderr)
p = h5mr(1, "info", "--json", "m1.nc", "/t2m")
check("info names the CF conventions", p.returncode == 0 and json.loads(p.stdout)["cf"] ==
      {"fill": [-32767], "scale": 0.01, "offset": 273.15})
p = h5mr(1, "info", "day00.h5", "day03.h5")
check("info lists the datasets of several files", p.returncode == 0 and p.stdout.count("/t ") == 2)

# links: info lists soft and external links with where they lead, a dangling one why
with h5py.File("links.h5", "w") as f:
    f["a"] = np.arange(10.0)
    f["soft"] = h5py.SoftLink("/a")
    f["dangling"] = h5py.SoftLink("/nope")
    f["ext"] = h5py.ExternalLink("fd000.h5", "/t")
p = h5mr(1, "info", "--json", "links.h5")
if p.returncode == 0:
    ds = {d["dataset"]: d for d in json.loads(p.stdout)["datasets"]}
    check("info lists a soft link with its target", ds.get("/soft", {}).get("link") == "/a" and
          ds["/soft"]["shape"] == [10])
    check("info lists an external link with its target", ds.get("/ext", {}).get("link") == "fd000.h5:/t")
    check("info says where a dangling link pointed", "'/nope'" in ds.get("/dangling", {}).get("unsupported", ""))
else:
    fail("info links.h5: " + p.stderr)
d = run_json(2, "-k", "sum", "links.h5", "/soft")
check("run through a soft link", d and d["result"]["sum"] == 45)

# ------------------------------------------------------------------ rows in place
# Whole rows of unfiltered data are seen in the file's pages (a private mapping) where
# they lie there in native order, or read (the faster way for the kernel, timed on the
# first slices; H5MR_TEST_READ_WAY=1 takes every slice in place that can be, 0 none).
# Each layout: numpy's answer, and the same bits both ways and timed (which alternates
# on files this small), at 1-4 ranks.


def ways(desc, args, want):
    first = None
    for way in ("1", "0", None):
        if way is None:
            os.environ.pop("H5MR_TEST_READ_WAY", None)
        else:
            os.environ["H5MR_TEST_READ_WAY"] = way
        d = matrix("%s (rows %s)" % (desc, {"1": "in place", "0": "read", None: "either way, timed"}[way]), args,
                   want, few=way is not None)
        if d is not None and first is not None:
            check("%s: the same bits in place as read" % desc, d["result"] == first["result"])
        first = first or d
    os.environ.pop("H5MR_TEST_READ_WAY", None)


ip = rng.normal(0, 1, size=(1001, 7))
with h5py.File("ip_contig.h5", "w") as f:
    f.create_dataset("x", data=ip)
ways("contiguous f64", ["-k", "stats", "ip_contig.h5", "/x"], lambda d: same_stats(d["result"], stats_of(ip)))
ip32 = ip.astype("f4")
with h5py.File("ip_chunks.h5", "w") as f:  # 1001 rows in chunks of 64: the last one partly filled
    f.create_dataset("x", data=ip32, chunks=(64, 7), maxshape=(None, 7))
ways("f32 chunks spanning the rows", ["-k", "stats", "ip_chunks.h5", "/x"],
     lambda d: same_stats(d["result"], stats_of(ip32)))
with h5py.File("ip_ub.h5", "w", userblock_size=4096) as f:  # chunk addresses count from after it
    f.create_dataset("x", data=ip, chunks=(100, 7))
ways("chunks after a user block", ["-k", "stats", "ip_ub.h5", "/x"], lambda d: same_stats(d["result"], stats_of(ip)))
with h5py.File("ip_ubc.h5", "w", userblock_size=1024) as f:  # contiguous: its offset counts the user block
    f.create_dataset("x", data=ip)
ways("contiguous after a user block", ["-k", "stats", "ip_ubc.h5", "/x"],
     lambda d: same_stats(d["result"], stats_of(ip)))
with h5py.File("ip_order.h5", "w") as f:  # chunks stored out of order: not one run of bytes
    x = f.create_dataset("x", shape=ip.shape, dtype="f8", chunks=(10, 7))
    for r in list(range(500, 1001, 10)) + list(range(0, 500, 10)):
        x[r:r + 10] = ip[r:r + 10]
ways("chunks stored out of order", ["-k", "stats", "ip_order.h5", "/x"],
     lambda d: same_stats(d["result"], stats_of(ip)))
part = np.full(ip.shape, 5.0)
part[200:300] = ip[200:300]
with h5py.File("ip_part.h5", "w") as f:  # chunks never written read as the fill value
    x = f.create_dataset("x", shape=ip.shape, dtype="f8", chunks=(50, 7), fillvalue=5.0)
    x[200:300] = ip[200:300]
ways("chunks never written", ["-k", "stats", "ip_part.h5", "/x"], lambda d: same_stats(d["result"], stats_of(part)))
with h5py.File("ip_be.h5", "w") as f:  # another byte order: converted, so read
    f.create_dataset("x", data=ip.astype(">f8"))
ways("big-endian contiguous", ["-k", "stats", "ip_be.h5", "/x"], lambda d: same_stats(d["result"], stats_of(ip)))
with h5py.File("ip_link_target.h5", "w") as f:
    f.create_dataset("g/x", data=ip[::-1].copy())
with h5py.File("ip_link.h5", "w") as f:  # the link's file holds other bytes where the target's are
    f.create_dataset("pad", data=np.zeros((3000, 7)))
    f["x"] = h5py.ExternalLink("ip_link_target.h5", "/g/x")
ways("contiguous behind an external link", ["-k", "stats", "ip_link.h5", "/x"],
     lambda d: same_stats(d["result"], stats_of(ip)))
for t in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"):
    info = np.iinfo(t)
    a = rng.integers(info.min, info.max, size=(333, 5), dtype=t, endpoint=True)
    with h5py.File("ip_%s.h5" % t, "w") as f:
        f.create_dataset("x", data=a, chunks=(32, 5))
    ways("%s chunks" % t, ["-k", "sum", "ip_%s.h5" % t, "/x"],
         lambda d, a=a: (d["result"]["sum"] == float(sum(int(v) for v in a.ravel())),
                         "sum %r, exact %r" % (d["result"]["sum"], sum(int(v) for v in a.ravel()))))
mid = rng.normal(0, 1, size=(300001, 7))  # 17 MB: items of several chunks, read in slices
with h5py.File("ip_mid.h5", "w") as f:
    f.create_dataset("x", data=mid, chunks=(9999, 7))
ways("items of several chunks, in slices", ["-k", "stats", "ip_mid.h5", "/x"],
     lambda d: same_stats(d["result"], stats_of(mid)))
cube = rng.normal(280, 5, size=(75, 6, 9)).astype("f4")
with h5py.File("ip_cube.h5", "w") as f:
    f.create_dataset("t", data=cube, chunks=(8, 6, 9))


def per_pixel(d):
    r = d["result"]
    mean = np.array(r["mean"]).reshape(6, 9)
    ok = np.allclose(mean, cube.astype("f8").mean(axis=0), rtol=1e-12, atol=0)
    return ok, "per-pixel means %s numpy's" % ("agree with" if ok else "differ from")


ways("per-pixel stats of f32 images", ["-k", "stats", "-p", "axis=0", "ip_cube.h5", "/t"], per_pixel)

summary("input.py")
