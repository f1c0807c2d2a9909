"""tests/cli/companions.py: --mask, --weights, --by, --with and the kernels corr and cov,
checked against numpy (masked arrays, np.average, np.unique/np.bincount, np.corrcoef,
np.cov) at 1-4 ranks, both schedules and both I/O modes, on odd shapes, several files,
selections and CF conventions.  Run by tests/cli/companions.sh with Debian's python3;
exits non-zero on any failure."""
import os

import h5py
import netCDF4
import numpy as np

from h5mrtest import check, close, expect_error, matrix, run_json, summary

os.chdir(os.environ.get("WORKDIR", "."))
rng = np.random.default_rng(15)

# A (T, Y, X) stack of odd extents, chunked and compressed, with NaNs; companions of
# every shape the SPEC allows.
T, Y, X = 37, 9, 11
x = rng.normal(280, 10, (T, Y, X)).astype("f4")
x[3, 2, 2] = x[10, 0, :] = np.nan
land = (rng.random((Y, X)) > 0.4).astype("u1")
full_mask = (rng.random((T, Y, X)) > 0.3).astype("u1")
lat = np.linspace(-80, 80, Y)
area = np.cos(np.deg2rad(lat))[:, None] * np.ones((1, X))
tw = rng.integers(28, 32, T).astype("f8")  # days per month
region = rng.choice(np.array([-2, 0, 5, 100], "i4"), (Y, X))
labels = rng.integers(-3, 4, (T, Y, X)).astype("i2")
month = (np.arange(T) % 12 + 1).astype("i2")
y = (x * 0.5 + rng.normal(0, 3, (T, Y, X))).astype("f4")
y[5, 5, 5] = np.nan
index = rng.normal(0, 1, T)
with h5py.File("a.h5", "w") as f:
    f.create_dataset("t2m", data=x, chunks=(5, 9, 11), compression="gzip", shuffle=True)
    f["land"] = land
    f["mask"] = full_mask
    f.create_dataset("area", data=area, chunks=(4, 11), compression="gzip")
    f["tw"] = tw
    f["region"] = region
    f["labels"] = labels
    f["month"] = month
    f["y"] = y
    f["index"] = index
    f["flab"] = region.astype("f4")
    f["neg"] = -area
    f["wrong"] = np.zeros((Y, X + 1))

xd = x.astype(np.float64)


def ok(cond, why):
    return (True, "agrees with numpy") if cond else (False, why)


def masked_stats(valid):
    v = xd[valid & ~np.isnan(xd)]
    return v


# ------------------------------------------------------------------ --mask
for name, m in (("/land", np.broadcast_to(land != 0, x.shape)), ("/mask", full_mask != 0)):
    v = masked_stats(m)

    def want(d, v=v):
        r = d["result"]
        return ok(r["count"] == v.size and r["nan_count"] == x.size - v.size and close(r["mean"], v.mean(), 1e-12) and
                  close(r["var"], v.var(), 1e-11) and r["min"] == v.min() and r["max"] == v.max(),
                  "%r, numpy count %d mean %r" % (r, v.size, v.mean()))
    d = matrix("stats --mask %s" % name, ["-k", "stats", "a.h5", "/t2m", "--mask", name], want)
    if d:
        check("input.mask in the JSON", d["input"]["mask"] == {"file": "a.h5", "dataset": name})

# a mask on integer data: the values become f64 (sum as a float)
xi = rng.integers(-1000, 1000, (T, Y, X)).astype("i2")
with h5py.File("int.h5", "w") as f:
    f["v"] = xi
    f["land"] = land
vi = xi[np.broadcast_to(land != 0, xi.shape)].astype(np.float64)
matrix("sum of i16 --mask", ["-k", "sum", "int.h5", "/v", "--mask", "/land"],
       lambda d: ok(d["result"]["sum"] == vi.sum() and type(d["result"]["sum"]) is int and
                    d["result"]["count"] == vi.size, repr(d["result"])))
# integer data stays integer in the results (sum, min, max), though masked through f64
d = run_json(3, "-k", "stats", "int.h5", "/v", "--mask", "/land")
check("stats of i16 --mask: integer sum, min, max", d and all(type(d["result"][k]) is int for k in ("sum", "min", "max"))
      and d["result"]["min"] == vi.min() and d["result"]["max"] == vi.max())
d = run_json(2, "-k", "minmax", "int.h5", "/v", "--mask", "/land")
check("minmax of i16 --mask: integers", d and type(d["result"]["min"]) is int and d["result"]["max"] == vi.max())
mi = np.ma.masked_array(xi, mask=np.broadcast_to(land == 0, xi.shape))
d = run_json(2, "-k", "sum", "-p", "axis=0", "int.h5", "/v", "--mask", "/land")
check("sum axis=0 of i16 --mask: exact integers per pixel",
      d and d["result"]["sum"] == mi.sum(axis=0).filled(0).astype(int).tolist())
d = run_json(3, "-k", "stats", "-p", "axis=0", "int.h5", "/v", "--mask", "/land")
check("stats axis=0 of i16 --mask: integer sums and minima, null where masked",
      d and d["result"]["sum"] == mi.sum(axis=0).filled(0).astype(int).tolist() and
      d["result"]["min"] == [[None if m is np.ma.masked else int(m) for m in row] for row in mi.min(axis=0)])
# every stored type of the input, masked
for t in ("i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64"):
    a = rng.integers(0, 100, (13, 4)).astype({"i": "i", "u": "u", "f": "f"}[t[0]] + str(int(t[1:]) // 8))
    with h5py.File("type_%s.h5" % t, "w") as f:
        f["v"] = a
        f["m"] = (np.arange(4) % 2).astype("u1")
    sel = a[:, 1::2].astype(np.float64)
    d = run_json(2, "-k", "stats", "type_%s.h5" % t, "/v", "--mask", "/m")
    check("stats of %s with a mask" % t, d and d["result"]["count"] == sel.size and
          close(d["result"]["mean"], sel.mean()) and d["result"]["min"] == sel.min())
# everything masked: count 0, null statistics
with h5py.File("none.h5", "w") as f:
    f["v"] = x[:3]
    f["m"] = np.zeros((Y, X), "u1")
d = run_json(3, "-k", "stats", "none.h5", "/v", "--mask", "/m")
check("all masked: count 0, mean null", d and d["result"]["count"] == 0 and d["result"]["mean"] is None)

# ------------------------------------------------------------------ --weights
valid = ~np.isnan(xd)
for name, w in (("/area", np.broadcast_to(area, x.shape)), ("/tw", np.broadcast_to(tw[:, None, None], x.shape))):
    sw, swx = w[valid].sum(), (w * np.nan_to_num(xd))[valid].sum()
    matrix("sum --weights %s" % name, ["-k", "sum", "a.h5", "/t2m", "--weights", name],
           lambda d, sw=sw, swx=swx: ok(close(d["result"]["sum"], swx, 1e-13) and close(d["result"]["weight"], sw, 1e-13)
                                       and d["result"]["count"] == valid.sum(), repr(d["result"])))
    m = np.average(xd[valid], weights=w[valid])
    var = np.average((xd[valid] - m) ** 2, weights=w[valid])

    def want(d, m=m, var=var):
        r = d["result"]
        return ok(close(r["mean"], m, 1e-13) and close(r["var"], var, 1e-10) and r["count"] == valid.sum() and
                  r["min"] == np.nanmin(xd), "%r, numpy mean %r var %r" % (r, m, var))
    matrix("stats --weights %s" % name, ["-k", "stats", "a.h5", "/t2m", "--weights", name], want)

# per pixel over time, weighted by days per month (a (T,) weight)
wm = np.ma.average(np.ma.masked_invalid(xd), axis=0, weights=np.broadcast_to(tw[:, None, None], x.shape))
matrix("stats axis=0 --weights /tw", ["-k", "stats", "-p", "axis=0", "a.h5", "/t2m", "--weights", "/tw"],
       lambda d: ok(np.allclose(np.array(d["result"]["mean"], float), wm.filled(np.nan), rtol=1e-13, equal_nan=True),
                    "per-pixel weighted mean differs"))
# an area-weighted field mean per time step is --by over rows... here: sum axis=0 weighted by area
ws = np.nansum(xd * area, axis=0)
matrix("sum axis=0 --weights /area", ["-k", "sum", "-p", "axis=0", "a.h5", "/t2m", "--weights", "/area"],
       lambda d: ok(np.allclose(np.array(d["result"]["sum"]), ws, rtol=1e-13), "per-pixel weighted sum differs"))
# the FMA path and the portable one give the same bits
for args in (["-k", "stats", "--weights", "/area"], ["-k", "stats", "-p", "axis=1,2", "--weights", "/area"],
             ["-k", "sum", "--weights", "/tw"]):
    a = run_json(2, *args, "a.h5", "/t2m")
    os.environ["H5MR_NO_FMA"] = "1"
    b = run_json(2, *args, "a.h5", "/t2m")
    del os.environ["H5MR_NO_FMA"]
    check("with and without FMA, the same bits: %s" % " ".join(args), a and b and a["result"] == b["result"])
expect_error(1, "negative weight", "run", "-k", "sum", "a.h5", "/t2m", "--weights", "/neg")
expect_error(2, "kernel topk does not take --weights", "run", "-k", "topk", "a.h5", "/t2m", "--weights", "/area")

# ------------------------------------------------------------------ --by


def by_ref(lab, w=None):
    lab = np.broadcast_to(lab, x.shape)
    out = {}
    for k in np.unique(lab):
        sel = (lab == k)
        v = xd[sel & valid]
        if w is None:
            out[int(k)] = (sel.sum(), v)
        else:
            out[int(k)] = (sel.sum(), v, np.broadcast_to(w, x.shape)[sel & valid])
    return out


def want_by(ref, kernel):
    def want(d):
        r = d["result"]
        keys = sorted(ref)
        if r["keys"] != keys:
            return False, "keys %r, numpy %r" % (r["keys"], keys)
        for i, k in enumerate(keys):
            n, v = ref[k][0], ref[k][1]
            if kernel == "stats":
                good = (r["count"][i] == v.size and r["nan_count"][i] == n - v.size and
                        close(r["mean"][i], v.mean() if v.size else None, 1e-12) and
                        close(r["var"][i], v.var() if v.size else None, 1e-10) and
                        r["min"][i] == v.min() and r["max"][i] == v.max())
            elif kernel == "sum":
                good = r["count"][i] == v.size and close(r["sum"][i], v.sum(), 1e-13)
            elif kernel == "minmax":
                good = r["min"][i] == v.min() and r["max"][i] == v.max()
            else:
                good = r["count"][i] == (v > 280).sum() and r["total"][i] == v.size
            if not good:
                return False, "label %d: %r" % (k, {f: r[f][i] for f in r if f != "keys"})
        return True, "agrees with numpy per label"
    return want


for kernel, extra in (("stats", []), ("sum", []), ("minmax", []), ("count", ["-p", "gt=280"])):
    d = matrix("%s --by /region" % kernel, ["-k", kernel] + extra + ["a.h5", "/t2m", "--by", "/region"],
               want_by(by_ref(region), kernel))
    if d and kernel == "minmax":
        check("minmax --by a label per element: no positions (null argmin)",
              all(a is None for a in d["result"]["argmin"]))
matrix("stats --by a (T, Y, X) label", ["-k", "stats", "a.h5", "/t2m", "--by", "/labels"],
       want_by(by_ref(labels), "stats"))
matrix("stats --by a (T,) label", ["-k", "stats", "a.h5", "/t2m", "--by", "/month"],
       want_by(by_ref(month[:, None, None]), "stats"))
# weighted zonal means
ref = by_ref(region, area)
matrix("stats --by /region --weights /area", ["-k", "stats", "a.h5", "/t2m", "--by", "/region", "--weights", "/area"],
       lambda d: ok(d["result"]["keys"] == sorted(ref) and all(
           close(d["result"]["mean"][i], np.average(ref[k][1], weights=ref[k][2]), 1e-13)
           for i, k in enumerate(sorted(ref))), repr(d["result"]["mean"])))
# a monthly climatology: one per-pixel map per month
clim = np.stack([np.nanmean(xd[month == m], axis=0) for m in range(1, 13)])


def want_clim(d):
    r = d["result"]
    got = np.array([[[np.nan if v is None else v for v in row] for row in m] for m in r["mean"]])
    return ok(r["keys"] == list(range(1, 13)) and np.allclose(got, clim, rtol=1e-13, equal_nan=True),
              "climatology differs")


matrix("stats axis=0 --by /month (climatology)", ["-k", "stats", "-p", "axis=0", "a.h5", "/t2m", "--by", "/month"],
       want_clim)
d = run_json(3, "-k", "minmax", "-p", "axis=0", "a.h5", "/t2m", "--by", "/month")
if d:
    sub = xd[month == 1]
    check("minmax axis=0 --by month: argmin along dimension 0 of the whole stack",
          d["result"]["argmin"][0][0][0] == int(np.where(month == 1)[0][np.nanargmin(sub[:, 0, 0])]))
# a million distinct labels (1-D data), in bounded memory
N = 2_000_003
big = rng.normal(0, 1, N)
blab = rng.integers(-10**12, 10**12, 10**6)[rng.integers(0, 10**6, N)]
with h5py.File("million.h5", "w") as f:
    f.create_dataset("v", data=big, chunks=(65536,))
    f.create_dataset("lab", data=blab, chunks=(65536,))
u, inv = np.unique(blab, return_inverse=True)
cnt = np.bincount(inv)
sums = np.bincount(inv, weights=big)
for np_ in (1, 3):
    d = run_json(np_, "-k", "sum", "million.h5", "/v", "--by", "/lab")
    check("sum --by %d distinct labels at %d ranks" % (len(u), np_), d and d["result"]["keys"] == u.tolist() and
          d["result"]["count"] == cnt.tolist() and np.allclose(d["result"]["sum"], sums, rtol=1e-12, atol=1e-12))
# one label; labels with gaps and a CF fill value (skipped)
lab_fill = region.copy()
lab_fill[0, :] = -999
nc = netCDF4.Dataset("cf.nc", "w")
nc.createDimension("t", T), nc.createDimension("y", Y), nc.createDimension("x", X)
v = nc.createVariable("t2m", "f4", ("t", "y", "x"))
v[:] = x
r_ = nc.createVariable("region", "i4", ("y", "x"), fill_value=-999)
r_[:] = np.ma.masked_equal(lab_fill, -999)
mk = nc.createVariable("land", "i1", ("y", "x"), fill_value=-1)
mk[:] = np.ma.masked_array(land.astype("i1"), mask=(np.arange(X)[None, :] == 3) & np.ones((Y, 1), bool))
nc.close()
nc = netCDF4.Dataset("cf.nc")
rl = nc["region"][:]
ref = by_ref(np.where(np.ma.getmaskarray(rl), 10**9, rl.filled(0)))
ref.pop(10**9)
matrix("stats --by a netCDF-4 label with _FillValue (skipped)", ["-k", "stats", "cf.nc", "/t2m", "--by", "/region"],
       want_by(ref, "stats"))
lm = nc["land"][:]
use = np.broadcast_to(~np.ma.getmaskarray(lm) & (lm.filled(0) != 0), x.shape)
vv = xd[use & valid]
nc.close()
d = run_json(2, "-k", "stats", "cf.nc", "/t2m", "--mask", "/land")
check("a mask's missing values (netCDF-4 _FillValue) mask the element", d and d["result"]["count"] == vv.size and
      close(d["result"]["mean"], vv.mean()))
with h5py.File("one.h5", "w") as f:
    f["v"] = x[:4]
    f["lab"] = np.full((Y, X), 7, "u8")
d = run_json(4, "-k", "sum", "one.h5", "/v", "--by", "/lab")
check("one label", d and d["result"]["keys"] == [7] and close(d["result"]["sum"][0], np.nansum(xd[:4])))
expect_error(3, "labels must be of an integer type", "run", "a.h5", "/t2m", "--by", "/flab")
expect_error(2, "kernel histogram does not take --by", "run", "-k", "histogram", "a.h5", "/t2m", "--by", "/region")
expect_error(3, "with axis=0, --by must give one label per row", "run", "-p", "axis=0", "a.h5", "/t2m", "--by",
             "/region")

# ------------------------------------------------------------------ --with: corr, cov
pair = valid & ~np.isnan(y)
xa, ya = xd[pair], y.astype(np.float64)[pair]
matrix("corr --with /y", ["-k", "corr", "a.h5", "/t2m", "--with", "/y"],
       lambda d: ok(d["result"]["count"] == pair.sum() and close(d["result"]["corr"], np.corrcoef(xa, ya)[0, 1], 1e-12)
                    and close(d["result"]["cov"], np.cov(xa, ya, bias=True)[0, 1], 1e-11), repr(d["result"])))
matrix("cov --with /y", ["-k", "cov", "a.h5", "/t2m", "--with", "/y"],
       lambda d: ok(close(d["result"]["mean_x"], xa.mean(), 1e-13) and close(d["result"]["mean_y"], ya.mean(), 1e-13)
                    and close(d["result"]["cov"], np.cov(xa, ya, bias=True)[0, 1], 1e-11), repr(d["result"])))
cmap = np.full((Y, X), np.nan)
for i in range(Y):
    for j in range(X):
        s = ~np.isnan(xd[:, i, j])
        cmap[i, j] = np.corrcoef(xd[s, i, j], index[s])[0, 1]
matrix("corr axis=0 --with a (T,) index: a correlation map", ["-k", "corr", "-p", "axis=0", "a.h5", "/t2m", "--with",
                                                              "/index"],
       lambda d: ok(np.allclose(np.array(d["result"]["corr"], float), cmap, rtol=1e-11), "correlation map differs"))
with h5py.File("const.h5", "w") as f:
    f["v"] = np.ones((5, 3), "f8")
    f["w"] = np.arange(15.0).reshape(5, 3)
d = run_json(2, "-k", "corr", "const.h5", "/v", "--with", "/w")
check("corr of a constant is null", d and d["result"]["corr"] is None and d["result"]["cov"] == 0)
expect_error(2, "needs the second variable: give --with", "run", "-k", "corr", "a.h5", "/t2m")

# ------------------------------------------------------------------ several files, selections, FILE:
cuts = [0, 1, 20, 20, 37]  # a one-row file and a zero-row file
names = []
for i in range(len(cuts) - 1):
    with h5py.File("part%d.h5" % i, "w") as f:
        f.create_dataset("t2m", data=x[cuts[i]:cuts[i + 1]], maxshape=(None, Y, X), chunks=(3, Y, X))
        f["land"] = land
        f["y"] = y[cuts[i]:cuts[i + 1]]
        f["month"] = month[cuts[i]:cuts[i + 1]]
    names.append("part%d.h5" % i)
for args in (["-k", "stats", "--mask", "/land"], ["-k", "corr", "--with", "/y"], ["-k", "stats", "--by", "/month"],
             ["-k", "stats", "--mask", "a.h5:/land"], ["-k", "stats", "--by", "a.h5:/labels"],
             ["-k", "sum", "--weights", "a.h5:/tw", "-p", "axis=0"]):
    one = run_json(2, *args, "a.h5", "/t2m")
    many = run_json(3, "--chunk-rows", "4", *args, *names, "/t2m")
    check("several files = one file: %s" % " ".join(args), one and many and one["result"] == many["result"])
sel = "/t2m[5:30:2, 1:8, ::3]"
xs = xd[5:30:2, 1:8, ::3]
ls = np.broadcast_to(land[1:8, ::3] != 0, xs.shape)
vs = xs[ls & ~np.isnan(xs)]
matrix("a selection applies to the mask's dimensions", ["-k", "stats", "a.h5", sel, "--mask", "/land"],
       lambda d: ok(d["result"]["count"] == vs.size and close(d["result"]["mean"], vs.mean()), repr(d["result"])))
xs0 = xd[4, 1:8]
v0 = xs0[(land[1:8] != 0) & ~np.isnan(xs0)]
d = run_json(3, "-k", "stats", "a.h5", "/t2m[4, 1:8]", "--mask", "/land")
check("an integer first index with a trailing mask", d and d["result"]["count"] == v0.size and
      close(d["result"]["mean"], v0.mean()))
mo = month[4]
d = run_json(2, "-k", "sum", "a.h5", "/t2m[4]", "--by", "/month")
check("an integer first index with a (T,) label: one label", d and d["result"]["keys"] == [int(mo)])
expect_error(3, "which is neither the shape of '/t2m' (37x9x11) nor a trailing or leading part of it", "run", "a.h5",
             "/t2m", "--mask", "/wrong")
expect_error(3, "has no dataset '/nope'", "run", "a.h5", "/t2m", "--mask", "/nope")
expect_error(3, "cannot open 'missing.h5'", "run", "a.h5", "/t2m", "--weights", "missing.h5:/w")
with h5py.File("bad_part.h5", "w") as f:
    f["t2m"] = x[:3]
    f["land"] = np.ones((Y, X + 2), "u1")
expect_error(3, "is u8 of shape 9x13 there, not u8 of shape 9x11", "run", "-k", "sum", "a.h5", "bad_part.h5", "/t2m",
             "--mask", "/land")
with h5py.File("maskfile.h5", "w") as f:
    f["land"] = land
expect_error(2, "is the input file 'maskfile.h5'", "run", "-o", "maskfile.h5", "a.h5", "/t2m", "--mask",
             "maskfile.h5:/land")

# ------------------------------------------------------------------ axis sets
def rowwise(f):
    return np.array([f(xd[t][~np.isnan(xd[t])]) if (~np.isnan(xd[t])).any() else np.nan for t in range(T)])


for axis in ("1,2", "-1,-2", "2,1"):
    matrix("stats axis=%s: a series of field means" % axis, ["-k", "stats", "-p", "axis=" + axis, "a.h5", "/t2m"],
           lambda d: ok(np.allclose(np.array(d["result"]["mean"]), rowwise(np.mean), rtol=1e-13) and
                        np.allclose(np.array(d["result"]["var"]), rowwise(np.var), rtol=1e-10) and
                        d["result"]["count"] == [int(c) for c in (~np.isnan(xd)).sum(axis=(1, 2))],
                        "row means differ"))
fm = np.array([np.average(xd[t][valid[t]], weights=area[valid[t]]) for t in range(T)])
matrix("stats axis=1,2 --weights /area (cdo fldmean)", ["-k", "stats", "-p", "axis=1,2", "a.h5", "/t2m", "--weights",
                                                        "/area"],
       lambda d: ok(np.allclose(np.array(d["result"]["mean"]), fm, rtol=1e-13), "weighted field means differ"))
d = run_json(3, "-k", "minmax", "-p", "axis=1,2", "a.h5", "/t2m")
check("minmax axis=1,2: argmin is the flat index within the row",
      d and d["result"]["argmin"] == [int(np.nanargmin(xd[t])) for t in range(T)] and
      d["result"]["max"] == [float(np.nanmax(xd[t])) for t in range(T)])
d = run_json(2, "-k", "sum", "-p", "axis=1,2", "--chunk-rows", "5", "a.h5", "/t2m")
check("sum axis=1,2", d and np.allclose(d["result"]["sum"], np.nansum(xd, axis=(1, 2)), rtol=1e-13))
rc = [np.corrcoef(xd[t][pair[t]], y[t].astype(float)[pair[t]])[0, 1] for t in range(T)]
matrix("corr axis=1,2 --with /y", ["-k", "corr", "-p", "axis=1,2", "a.h5", "/t2m", "--with", "/y"],
       lambda d: ok(np.allclose(np.array(d["result"]["corr"]), rc, rtol=1e-11), "per-row correlations differ"))
one = run_json(2, "-k", "stats", "-p", "axis=0,1,2", "a.h5", "/t2m")
none = run_json(2, "-k", "stats", "a.h5", "/t2m")
check("axis = every dimension is everything", one and none and one["result"] == none["result"])
p = run_json(2, "-k", "stats", "-p", "axis=1,2", "-o", "series.h5", "a.h5", "/t2m")
if p:
    with h5py.File("series.h5") as f:
        check("-o writes the series", f["result/mean"].shape == (T,) and
              np.allclose(f["result/mean"][:], rowwise(np.mean), rtol=1e-13))
expect_error(2, "axis=7: dimension 7 is out of range for 3 dimensions", "run", "-p", "axis=7", "a.h5", "/t2m")
expect_error(2, "names dimension 1 twice", "run", "-p", "axis=1,1", "a.h5", "/t2m")
# every set of axes of a 3-D stack, and some of a 4-D one, against numpy: values, and
# argmin/argmax as flat row-major indices within the reduced dimensions
def flat_arg(a, axes, f):
    keep = [k for k in range(a.ndim) if k not in axes]
    t = np.transpose(a, keep + list(axes)).reshape([a.shape[k] for k in keep] + [-1])
    return f(np.where(np.isnan(t), np.inf if f is np.argmin else -np.inf, t), axis=-1)


x4 = rng.normal(0, 1, (6, 5, 4, 3))
x4[2, 1, 0, 2] = np.nan
with h5py.File("four.h5", "w") as f:
    f.create_dataset("v", data=x4, chunks=(2, 5, 4, 3))
for name, arr, sets in (("a.h5", xd, [(1,), (2,), (0, 1), (0, 2), (1, 2)]),
                        ("four.h5", x4, [(3,), (2, 3), (1,), (1, 2), (0, 1), (0, 1, 2), (0, 3), (0, 2, 3)])):
    ds = "/t2m" if name == "a.h5" else "/v"
    for axes in sets:
        spec = ",".join(str(a) for a in axes)
        m, v = np.nanmean(arr, axis=axes), np.nanvar(arr, axis=axes)
        d = matrix("stats axis=%s of %s" % (spec, name), ["-k", "stats", "-p", "axis=" + spec, name, ds],
                   lambda d, m=m, v=v: ok(np.allclose(np.array(d["result"]["mean"], float), m, rtol=1e-12,
                                                      equal_nan=True) and
                                          np.allclose(np.array(d["result"]["var"], float), v, rtol=1e-10,
                                                      equal_nan=True) and
                                          np.array(d["result"]["mean"]).shape == m.shape, "differs from numpy"))
        d = run_json(3, "-k", "minmax", "-p", "axis=" + spec, "--chunk-rows", "2", name, ds)
        empty = np.isnan(arr).all(axis=axes)  # all-NaN cells: null
        with np.errstate(all="ignore"):
            mn = np.where(empty, np.nan, np.nanmin(np.where(np.isnan(arr), np.inf, arr), axis=axes))
        am = np.where(empty, -1, flat_arg(arr, axes, np.argmin))
        ax_ = np.where(empty, -1, flat_arg(arr, axes, np.argmax))
        nul = lambda a: np.array([-1 if v is None else v for v in np.array(a, dtype=object).ravel()]).reshape(am.shape)
        check("minmax axis=%s of %s: values and flat indices within the reduced dimensions" % (spec, name),
              d and np.array_equal(np.array(d["result"]["min"], float), mn, equal_nan=True) and
              np.array_equal(nul(d["result"]["argmin"]), am) and np.array_equal(nul(d["result"]["argmax"]), ax_))
        d = run_json(2, "-k", "sum", "-p", "axis=" + spec, name, ds)
        check("sum axis=%s of %s" % (spec, name), d and np.allclose(d["result"]["sum"], np.nansum(arr, axis=axes),
                                                                     rtol=1e-12, atol=1e-12))
wz = np.broadcast_to(area, x.shape)
zm = np.array([[np.average(xd[t, i][valid[t, i]], weights=wz[t, i][valid[t, i]]) if valid[t, i].any() else np.nan
                for i in range(Y)] for t in range(T)])
matrix("stats axis=2 --weights (a weighted zonal mean)", ["-k", "stats", "-p", "axis=2", "a.h5", "/t2m", "--weights",
                                                          "/area"],
       lambda d: ok(np.allclose(np.array(d["result"]["mean"], float), zm, rtol=1e-13, equal_nan=True),
                    "weighted zonal means differ"))
cm = np.array([np.corrcoef(xd[:, i, :][pair[:, i, :]], y.astype(float)[:, i, :][pair[:, i, :]])[0, 1] for i in range(Y)])
matrix("corr axis=0,2 --with /y", ["-k", "corr", "-p", "axis=0,2", "a.h5", "/t2m", "--with", "/y"],
       lambda d: ok(np.allclose(np.array(d["result"]["corr"]), cm, rtol=1e-11), "correlations per latitude differ"))
expect_error(2, "axis=1,3 is not supported yet", "run", "-p", "axis=1,3", "four.h5", "/v")
expect_error(2, "is not a list of dimensions", "run", "-p", "axis=x", "a.h5", "/t2m")

summary("companions.py")
