"""tests/cli/map.py: h5mr map against numpy — convert (astype, CF unpacking), scale
(a*x + b), anomaly (x - the mean over dimension 0), normdiff ((x - y) / (x + y)) — the
output the same bits at 1-4 ranks x schedules x I/O modes x chunkings, readable by
h5py, h5dump and python3-netCDF4, compressed when asked; -o FILE:/OBJECT into an
existing file (run and map) leaving every other object as it was; the usage errors.
Fixed seeds, no timing."""
import hashlib
import json
import math
import os
import subprocess

import h5py
import netCDF4
import numpy as np

from h5mrtest import check, configs, expect_error, fail, h5mr, run_json, summary

W = os.environ["WORKDIR"]
rng = np.random.default_rng(20261202)


def path(name):
    return os.path.join(W, name)


def md5(p):
    with open(p, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def run_map(np_, *args):
    return run_json(np_, *args, command="map")


def read(out, ds):
    with h5py.File(out, "r") as f:
        d = f[ds]
        return d[...], d.dtype, d.chunks, d.compression, d.shuffle, d.id.get_storage_size()


def same(a, b):
    """The same values, bit for bit (NaN where NaN)."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def temporaries():
    return [n for n in os.listdir(W) if ".h5mr-" in n]


def matrix(desc, args, ds, want, dtype=None):
    """h5mr map ARGS -o OUT in every configuration (and --chunk-rows 5 at 3 ranks, which
    cuts items across the output's chunks): the same bits each time, equal to want."""
    first = None
    for np_, opts in configs():
        out = path("m-%d.h5" % np_)
        extra = ["--chunk-rows", "5"] if np_ == 3 else []
        d = run_map(np_, *(opts + extra + args + ["-o", out]))
        if d is None:
            return None
        got = read(out, d["output"]["dataset"])[0]
        if first is None:
            first = got
            ok = same(got, want)
            if not ok and got.shape == want.shape:
                diff = np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64))) if got.size else 0
                fail("%s: differs from numpy by up to %r (%s vs %s)" % (desc, diff, got.dtype, want.dtype))
            else:
                check("%s: equals numpy (%s %s vs %s %s)" % (desc, got.dtype, got.shape, want.dtype, want.shape), ok)
        else:
            check("%s: the same bits at %d ranks %s" % (desc, np_, " ".join(opts + extra)), same(got, first))
        check("%s: no temporary left" % desc, temporaries() == [])
    return first


# ---------------------------------------------------------------- inputs

T, Y, X = 61, 7, 9
NAMES = {"i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "u8": "uint8", "u16": "uint16",
         "u32": "uint32", "u64": "uint64", "f32": "float32", "f64": "float64"}
x32 = rng.normal(280, 10, (T, Y, X)).astype(np.float32)
x32[3, 2, 1] = np.nan
x32[10:13, 0, :] = np.nan
y32 = rng.normal(200, 30, (T, Y, X)).astype(np.float32)
y32[0, 0, 0] = -x32[0, 0, 0]  # x + y = 0: NaN
with h5py.File(path("a.h5"), "w") as f:
    f.create_dataset("x", data=x32, chunks=(8, Y, X))
    f.create_dataset("y", data=y32, chunks=(8, 3, 4), compression="gzip", shuffle=True)
    f.create_dataset("xc", data=x32)  # contiguous
    f.create_dataset("land", data=(rng.random((Y, X)) < 0.6).astype(np.uint8))
    f.create_dataset("m5", data=np.array([1, 0, 1, 1, 0], np.uint8))
    f.create_dataset("empty", data=np.zeros((0, Y, X), np.float32))
    f.create_dataset("one", data=x32[:1])
    f.create_dataset("two", data=x32[:2], chunks=(1, Y, X))
    f.create_dataset("ramp", data=np.arange(T * Y * X, dtype=np.float64).reshape(T, Y, X), chunks=(8, Y, X))
    for t in ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64"):
        dt = np.dtype(NAMES[t])
        v = (rng.integers(0, 100, (23, 5)) if dt.kind in "iu" else rng.normal(0, 50, (23, 5))).astype(dt)
        f.create_dataset("t_" + t, data=v, chunks=(4, 5))
# Two files of a daily series, concatenated.
with h5py.File(path("d1.h5"), "w") as f:
    f.create_dataset("x", data=x32[:30], chunks=(8, Y, X))
with h5py.File(path("d2.h5"), "w") as f:
    f.create_dataset("x", data=x32[30:], chunks=(8, Y, X))

# A netCDF-4 packed variable: i16 with _FillValue, scale_factor, add_offset.
with netCDF4.Dataset(path("p.nc"), "w") as nc:
    nc.createDimension("time", T)
    nc.createDimension("lat", Y)
    nc.createDimension("lon", X)
    v = nc.createVariable("t2m", "i2", ("time", "lat", "lon"), fill_value=-32767, chunksizes=(8, Y, X), zlib=True)
    v.scale_factor = 0.01
    v.add_offset = 273.15
    v.set_auto_maskandscale(False)
    raw = rng.integers(-3000, 3000, (T, Y, X)).astype(np.int16)
    raw[5, 3, :] = -32767
    v[...] = raw
with netCDF4.Dataset(path("p.nc")) as nc:
    t2m = nc["t2m"][...]  # netCDF4's own masked, unpacked read
t2m_ref = np.ma.filled(t2m.astype(np.float64), np.nan)

x64 = x32.astype(np.float64)

# ---------------------------------------------------------------- kernels against numpy

a_h5 = path("a.h5")
matrix("convert f32 (chunked)", [a_h5, "/x"], "/x", x32)
matrix("convert f32 (contiguous)", [a_h5, "/xc"], "/xc", x32)
matrix("convert of gzip+shuffle chunks, --dtype f64", ["--dtype", "f64", a_h5, "/y"], "/y", y32.astype(np.float64))
matrix("scale a=2.5 b=-3", ["-k", "scale", "-p", "a=2.5", "-p", "b=-3", a_h5, "/x"], "/x", 2.5 * x64 + -3)
matrix("scale --dtype f32", ["-k", "scale", "-p", "a=0.1", "--dtype", "f32", a_h5, "/x"], "/x",
       (0.1 * x64 + 0).astype(np.float32))
with np.errstate(all="ignore"):
    mean = np.array([[math.fsum(c for c in x64[:, j, i] if c == c) / np.count_nonzero(~np.isnan(x64[:, j, i]))
                      for i in range(X)] for j in range(Y)])
matrix("anomaly (exact pixel means)", ["-k", "anomaly", a_h5, "/x"], "/x", x64 - mean)
with np.errstate(all="ignore"):
    nd = (x64 - y32.astype(np.float64)) / (x64 + y32.astype(np.float64))
nd[(x64 + y32.astype(np.float64)) == 0] = np.nan
matrix("normdiff --with /y", ["-k", "normdiff", "--with", "/y", a_h5, "/x"], "/x", nd)
land = h5py.File(a_h5, "r")["land"][...]
matrix("convert --mask (Y, X)", ["--mask", "/land", a_h5, "/x"], "/x", np.where(land[None] != 0, x32, np.nan))
matrix("convert a selection", [a_h5, "/x[5:50:2, 1:, ::3]"], "/x", x32[5:50:2, 1:, ::3])
matrix("convert an integer index", [a_h5, "/x[:, 3]"], "/x", x32[:, 3])
matrix("convert two files", [path("d1.h5"), path("d2.h5"), "/x"], "/x", x32)
matrix("convert CF: unpacked, filled with NaN (netCDF4's read)", [path("p.nc"), "/t2m"], "/t2m", t2m_ref)
matrix("convert --raw: the stored i16", ["--raw", path("p.nc"), "/t2m"], "/t2m", raw)
matrix("convert CF --dtype f32", ["--dtype", "f32", path("p.nc"), "/t2m"], "/t2m", t2m_ref.astype(np.float32))
matrix("anomaly of CF data", ["-k", "anomaly", path("p.nc"), "/t2m"], "/t2m",
       t2m_ref - np.array([[math.fsum(c for c in t2m_ref[:, j, i] if c == c) /
                            np.count_nonzero(~np.isnan(t2m_ref[:, j, i])) for i in range(X)] for j in range(Y)]))
matrix("one row", [a_h5, "/one"], "/one", x32[:1])
matrix("two rows (fewer than ranks)", ["-k", "scale", a_h5, "/two"], "/two", x64[:2])
matrix("zero rows", [a_h5, "/empty"], "/empty", np.zeros((0, Y, X), np.float32))

with h5py.File(a_h5, "r") as f:
    typed = {t: f["t_" + t][...] for t in ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64")}
for t, v in typed.items():
    matrix("convert %s" % t, [a_h5, "/t_" + t], "/t_" + t, v)
    matrix("scale %s" % t, ["-k", "scale", "-p", "a=3", "-p", "b=0.5", a_h5, "/t_" + t], "/t_" + t,
           3 * v.astype(np.float64) + 0.5)
for src, dst in (("i16", "f32"), ("u8", "i8"), ("i64", "f32"), ("f64", "f32"), ("i32", "u16"), ("u64", "i64")):
    v = typed[src]
    matrix("convert %s --dtype %s" % (src, dst), ["--dtype", dst, a_h5, "/t_" + src], "/t_" + src,
           v.astype({"f32": np.float32, "i8": np.int8, "u16": np.uint16, "i64": np.int64}[dst]))
f64v = typed["f64"]
matrix("convert f64 --dtype i32 (truncated, as astype)", ["--dtype", "i32", a_h5, "/t_f64"], "/t_f64",
       f64v.astype(np.int32))

# ---------------------------------------------------------------- output options

out = path("opts.h5")
for np_ in (1, 3):
    d = run_map(np_, "--chunk", "5x3x4", "--gzip", "6", "--shuffle", "--chunk-rows", "7", a_h5, "/ramp", "-o", out)
    if d:
        v, dt, ch, comp, sh, size = read(out, "/ramp")
        check("--chunk 5x3x4 --gzip 6 --shuffle at %d ranks: values" % np_,
              same(v, np.arange(T * Y * X, dtype=np.float64).reshape(T, Y, X)))
        check("--chunk 5x3x4: the chunk shape (%s)" % (ch,), ch == (5, 3, 4))
        check("--gzip 6 --shuffle: the filters (%s, %s)" % (comp, sh), comp == "gzip" and sh)
        check("--gzip 6: really compressed (%d of %d bytes)" % (size, v.nbytes), size < v.nbytes / 2)
        check("JSON output: chunk, gzip, shuffle, bytes", d["output"]["chunk"] == [5, 3, 4] and
              d["output"]["gzip"] == 6 and d["output"]["shuffle"] is True and d["output"]["bytes"] == size)
        with h5py.File(out, "r") as f:
            a = f["/ramp"].attrs
            check("attributes of the output dataset", a["kernel"] == "convert" and a["input_dataset"] == "/ramp" and
                  "h5mr_version" in a and json.loads(a["params"]) == {} and "scale_factor" not in a)
        p = subprocess.run(["h5dump", "-d", "/ramp", "-c", "2,2,2", out], capture_output=True, text=True)
        check("h5dump reads the output", p.returncode == 0 and "DATA" in p.stdout)
        with netCDF4.Dataset(out) as nc:
            check("netCDF4 reads the output", same(nc["ramp"][...].data, v))
d = run_map(2, "--gzip", "1", a_h5, "/x", "-o", out)
if d:
    check("the default chunk is the input's", read(out, "/x")[2] == (8, Y, X))
d = run_map(2, a_h5, "/xc", "-o", out)
if d:
    check("contiguous input: chunks of whole rows (%s)" % (read(out, "/xc")[2],), read(out, "/xc")[2][1:] == (Y, X))
d = run_map(2, path("p.nc"), "/t2m", "-o", out)
if d:
    with h5py.File(out, "r") as f:
        a = f["/t2m"].attrs
        check("a computed output carries no CF attributes", "_FillValue" not in a and "scale_factor" not in a and
              "add_offset" not in a and f["/t2m"].dtype == np.float64)

# ---------------------------------------------------------------- -o FILE:/OBJECT

def snapshot(p):
    """Every object's values and attributes but the one added."""
    s = {}
    with h5py.File(p, "r") as f:
        def visit(name, obj):
            attrs = {k: (v.tobytes() if hasattr(v, "tobytes") else v) for k, v in obj.attrs.items()}
            s[name] = (obj[...].tobytes() if isinstance(obj, h5py.Dataset) else None, attrs)
        f.visititems(visit)
        s["/"] = (None, dict(f.attrs))
    return s


user = path("user.h5")
with h5py.File(user, "w") as f:
    f.create_dataset("keep", data=np.arange(10))
    f["keep"].attrs["units"] = "m"
    g = f.create_group("grp")
    g.create_dataset("inner", data=rng.random((3, 4)))
    f.attrs["title"] = "a user's file"
before = snapshot(user)
for np_ in (1, 3):
    d = run_map(np_, "-k", "scale", "-p", "a=2", a_h5, "/x", "-o", user + ":/derived/x%d" % np_)
    if d:
        after = snapshot(user)
        check("map -o FILE:/DATASET at %d ranks: the new dataset" % np_,
              same(read(user, "/derived/x%d" % np_)[0], 2 * x64))
        check("map -o FILE:/DATASET: every other object as it was",
              {k: v for k, v in after.items() if not k.startswith("derived")} == before)
m = md5(user)
expect_error(2, "has /derived/x1 already", "map", a_h5, "/x", "-o", user + ":/derived/x1")
check("a refused map leaves the file as it was", md5(user) == m)
d = run_map(2, "--force", a_h5, "/x", "-o", user + ":/derived/x1")
if d:
    check("--force replaces the dataset", same(read(user, "/derived/x1")[0], x32))
    check("--force: the other objects as they were",
          {k: v for k, v in snapshot(user).items() if not k.startswith("derived")} == before)
# A reduction's group.
p = h5mr(3, "run", "-k", "stats", "-p", "axis=0", a_h5, "/x", "-o", user + ":/stats/x")
check("run -o FILE:/GROUP: exit 0 (%s)" % p.stderr.strip()[:200], p.returncode == 0)
with h5py.File(user, "r") as f:
    check("run -o FILE:/GROUP: the fields in the group", "mean" in f["/stats/x"] and
          f["/stats/x/mean"].shape == (Y, X) and f["/stats/x"].attrs["kernel"] == "stats")
check("run -o FILE:/GROUP: every other object as it was",
      {k: v for k, v in snapshot(user).items() if not k.startswith("derived") and not k.startswith("stats")} == before)
expect_error(2, "has /stats/x already", "run", a_h5, "/x", "-o", user + ":/stats/x")
expect_error(2, "not replacing it", "map", a_h5, "/x", "-o", user)
m = md5(user)
with open(path("notes.txt"), "w") as f:
    f.write("not HDF5")
expect_error(2, "is not an HDF5 file", "map", a_h5, "/x", "-o", path("notes.txt") + ":/x")
check("the user's file is unchanged by refusals", md5(user) == m)
check("no temporary left after -o FILE:/OBJECT", temporaries() == [])
# A map output replaced by the next map without --force (h5mr wrote it).
out2 = path("mine.h5")
run_map(1, a_h5, "/x", "-o", out2)
d = run_map(1, "-k", "scale", a_h5, "/x", "-o", out2)
check("a file h5mr's map wrote is replaced without --force", d is not None)

# ---------------------------------------------------------------- a result that keeps dimension 0, streamed

def as_array(v, dtype):
    a = np.array(v, dtype=object)
    return np.where(a == None, np.nan, a).astype(np.float64) if dtype.kind == "f" else a.astype(dtype)  # noqa: E711


with h5py.File(a_h5, "a") as f:
    f["w"] = rng.random((Y, X))
for desc, args in (("stats axis=1,2", ["-k", "stats", "-p", "axis=1,2"]),
                   ("stats axis=1,2 --weights", ["-k", "stats", "-p", "axis=1,2", "--weights", "/w"]),
                   ("minmax axis=2", ["-k", "minmax", "-p", "axis=2"]),
                   ("sum axis=1", ["-k", "sum", "-p", "axis=1"]),
                   ("corr axis=1,2 --with", ["-k", "corr", "-p", "axis=1,2", "--with", "/y"])):
    ref = run_json(2, *args, a_h5, "/x")
    first = None
    for np_, opts in configs():
        out = path("series-%d.h5" % np_)
        extra = ["--chunk-rows", "5"] if np_ == 3 else []
        d = run_json(np_, *(opts + extra + args), "--force", a_h5, "/x", "-o", out + ":/series")
        if not d or not ref:
            break
        check("%s -o: no result held in memory (JSON result {})" % desc, d["result"] == {} and
              d["output"]["datasets"] == list(ref["result"].keys()) and d["output"]["group"] == "/series")
        with h5py.File(out, "r") as f:
            got = {k: f["series"][k][...] for k in f["series"]}
            check("%s -o: the group's attributes" % desc, f["series"].attrs["kernel"] == args[1])
        if first is None:
            first = got
            for k, v in ref["result"].items():
                g = got[k]
                check("%s -o: %s equals the result held in memory (%s %s)" % (desc, k, g.dtype, g.shape),
                      g.tobytes() == as_array(v, g.dtype).tobytes())
        else:
            check("%s -o: the same bits at %d ranks %s" % (desc, np_, " ".join(opts + extra)),
                  all(got[k].tobytes() == first[k].tobytes() for k in first))
d = run_json(3, "-k", "stats", "-p", "axis=1,2", a_h5, "/empty", "-o", path("e0.h5"))
if d:
    with h5py.File(path("e0.h5"), "r") as f:
        check("a series of zero rows", f["result/mean"].shape == (0,) and f["result/count"].dtype == np.int64)

# ---------------------------------------------------------------- errors

expect_error(2, "reduces, it writes no dataset", "map", "-k", "sum", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "writes a dataset: use h5mr map", "run", "-k", "convert", a_h5, "/x")
expect_error(2, "missing -o", "map", a_h5, "/x")
expect_error(2, "are options of h5mr map", "run", "--gzip", "4", a_h5, "/x")
expect_error(2, "--gzip '10' is not a level", "map", "--gzip", "10", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "--chunk '4x0' is not a chunk shape", "map", "--chunk", "4x0", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "--chunk has 2 dimensions, the output has 3", "map", "--chunk", "4x4", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "--dtype 'f16' is not a type", "map", "--dtype", "f16", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "cannot store missing values", "map", "--dtype", "i16", path("p.nc"), "/t2m", "-o", path("e.h5"))
expect_error(2, "cannot store missing values", "map", "--dtype", "i32", "--mask", "/m5", a_h5, "/t_i32",
             "-o", path("e.h5"))
expect_error(2, "needs --with", "map", "-k", "normdiff", a_h5, "/x", "-o", path("e.h5"))
expect_error(2, "is the input file", "map", a_h5, "/x", "-o", a_h5)
expect_error(2, "is the input file", "map", a_h5, "/x", "-o", a_h5 + ":/copy")
expect_error(3, "cannot be stored as i8", "map", "--dtype", "i8", a_h5, "/t_f64", "-o", path("e.h5"))
expect_error(3, "a missing value (NaN) has no integer form", "map", "--dtype", "i32", a_h5, "/x", "-o", path("e.h5"))
expect_error(3, "cannot be stored as u8", "map", "-k", "scale", "-p", "a=-1", "--dtype", "u8", a_h5, "/t_u8",
             "-o", path("e.h5"))
check("a failed map leaves no output and no temporary", not os.path.exists(path("e.h5")) and temporaries() == [])
expect_error(2, "does not take --weights", "map", "--weights", "/land", a_h5, "/x", "-o", path("e.h5"))

summary("map")
