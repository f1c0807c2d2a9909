"""h5mr from Python: map-reduce over HDF5 and netCDF-4 datasets with MPI.

Under ``mpirun -n N python3 script.py`` every rank calls these functions collectively
(with the same arguments); without mpirun the script is one rank, or ``ranks=N``
starts N for a built-in kernel.

    import h5mr
    r = h5mr.run("stats", "t.nc", "/tas", axis=0)     # {"mean": ndarray, ...}, on every rank
    h5mr.map("anomaly", files, "/tas", output="anom.h5")
    h5mr.kernels(); h5mr.info("t.nc", "/tas")

Keyword arguments are the options of ``h5mr run`` (chunk_rows=, schedule=, io=,
mask=, weights=, by=, with_=, raw=, output=, force=, checkpoint=, checkpoint_every=,
resume=, plugin=, files_from=, timeout=, progress=, stats=, comm=, ranks=); any other
keyword is a kernel parameter (axis=0 is -p axis=0).  Results: numpy arrays (NaN
where the command's JSON has null) and Python scalars.  Errors raise UsageError,
InputError or RunError (subclasses of Error) with the command's message, on every
rank.
"""
import ctypes
import json
import os
import pickle
import subprocess
import sys
import threading

import numpy as np

from . import _lib
from ._lib import lib
from ._kernel import Kernel, bridge_for

__all__ = ["run", "map", "kernels", "info", "Kernel", "Error", "UsageError", "InputError", "RunError", "version",
           "rank", "size", "Result"]


class Error(Exception):
    """An h5mr failure; `status` is the library's status name (EUSAGE, EINPUT, ...)."""

    status = "EINTERNAL"

    def __init__(self, message, status=None):
        super().__init__(message)
        if status:
            self.status = status


class UsageError(Error):
    """A bad option, kernel, parameter, selection or output (the command's exit 2)."""

    status = "EUSAGE"


class InputError(Error):
    """A file, dataset or companion that cannot be read as asked (exit 3)."""

    status = "EINPUT"


class RunError(Error):
    """A failure while running: I/O, a kernel's error, a lost rank, a signal (exit 1)."""

    status = "EIO"


def _raise(st, message):
    name = _lib.STATUS[st] if 0 <= st < len(_lib.STATUS) else "EINTERNAL"
    cls = UsageError if st == _lib.EUSAGE else InputError if st == _lib.EINPUT else RunError
    raise cls(message or name.lower(), name)


def version():
    return lib.h5mr_version().decode()


def rank(comm=None):
    """This process's rank in comm (an mpi4py communicator; None: MPI_COMM_WORLD),
    starting MPI if nobody has."""
    _lib.mpi_start()
    return _lib.rank_size(_lib.comm_handle(comm))[0]


def size(comm=None):
    """The number of ranks of comm (None: MPI_COMM_WORLD), starting MPI if needed."""
    _lib.mpi_start()
    return _lib.rank_size(_lib.comm_handle(comm))[1]


# ---------------------------------------------------------------- options

_SCHEDULES = {"dynamic": 0, "static": 1}
_IOS = {"scatter": 0, "parallel": 1, "auto": 2}
_OPTIONS = {"chunk_rows", "schedule", "io", "mask", "weights", "by", "with_", "raw", "output", "force", "checkpoint",
            "checkpoint_every", "resume", "plugin", "files_from", "timeout", "progress", "stats", "comm", "ranks",
            "dtype", "chunk", "gzip", "shuffle"}
_loaded_plugins = set()


def _files(files):
    if isinstance(files, (str, os.PathLike)):
        return [os.fspath(files)]
    return [os.fspath(f) for f in files]


def _positive(cmd, opt, v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        x = float("nan")
    if not (x > 0) or x > 1e9:
        raise UsageError("%s: --%s '%s' is not a positive number of seconds" % (cmd, opt, v))
    return x


def _param_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return repr(v) if isinstance(v, float) else str(v)


def _check(cmd, opts):
    """The command's own checks of its options, with its messages."""
    if opts.get("schedule") is not None and opts["schedule"] not in _SCHEDULES:
        raise UsageError("%s: --schedule '%s' is not static or dynamic" % (cmd, opts["schedule"]))
    if opts.get("io") is not None and opts["io"] not in _IOS:
        raise UsageError("%s: --io '%s' is not scatter, parallel or auto" % (cmd, opts["io"]))
    cr = opts.get("chunk_rows")
    if cr is not None and (isinstance(cr, bool) or not isinstance(cr, (int, np.integer)) or cr <= 0):
        raise UsageError("%s: --chunk-rows '%s' is not a positive integer" % (cmd, cr))
    if opts.get("timeout") is not None:
        opts["timeout"] = _positive(cmd, "timeout", opts["timeout"])
    if opts.get("checkpoint_every") is not None:
        opts["checkpoint_every"] = _positive(cmd, "checkpoint-every", opts["checkpoint_every"])
    if (opts.get("resume") or opts.get("checkpoint_every") is not None) and not opts.get("checkpoint"):
        raise UsageError("%s: %s needs --checkpoint FILE" %
                         (cmd, "--resume" if opts.get("resume") else "--checkpoint-every"))
    store = [k for k in ("dtype", "chunk", "gzip", "shuffle") if opts.get(k) not in (None, False)]
    if cmd == "run" and store:
        raise UsageError("run: --dtype, --chunk, --gzip and --shuffle are options of h5mr map (which writes a dataset)")


def _load_plugins(plugins):
    for p in [plugins] if isinstance(plugins, str) else plugins or []:
        path = os.path.abspath(p)
        if path in _loaded_plugins:
            continue
        err = _lib.Error_()
        st = lib.h5mr_plugin_load(os.fspath(p).encode(), ctypes.byref(err))
        if st != 0:
            _raise(st, err.message.decode(errors="replace"))
        _loaded_plugins.add(path)


def _kernel_names():
    return [lib.h5mr_kernel_at(i).contents.name.decode() for i in range(lib.h5mr_kernel_count())]


# ---------------------------------------------------------------- results

def _field_value(f):
    n = f.nelems
    dt = {_lib.FIELD_I64: np.int64, _lib.FIELD_F64: np.float64, _lib.FIELD_U64: np.uint64}[f.type]
    if n:
        a = np.frombuffer((ctypes.c_char * (n * 8)).from_address(f.data), dt).copy()
    else:
        a = np.empty(0, dt)
    if f.valid:
        valid = np.ctypeslib.as_array(f.valid, (n,)).astype(bool) if n else np.empty(0, bool)
        if not valid.all():
            a = a.astype(np.float64)
            a[~valid] = np.nan
    if f.ndims == 0:
        v = a[0]
        if isinstance(v, np.floating):
            return None if np.isnan(v) and f.type != _lib.FIELD_F64 else float(v)
        return int(v)
    return a.reshape(tuple(f.shape[i] for i in range(f.ndims)))


def _result_dict(res):
    out = {}
    for i in range(lib.h5mr_result_count(res)):
        f = lib.h5mr_result_field(res, i).contents
        out[f.name.decode()] = _field_value(f)
    # A scalar that is undefined is None (JSON null), as the command prints it.
    for k, v in out.items():
        if isinstance(v, float) and v != v:
            out[k] = None
    return out


def _from_json(v):
    """A JSON result value: lists become numpy arrays (null: NaN)."""
    if isinstance(v, list):
        flat = []

        def walk(x):
            if isinstance(x, list):
                for y in x:
                    walk(y)
            else:
                flat.append(x)
        walk(v)
        shape = []
        x = v
        while isinstance(x, list):
            shape.append(len(x))
            x = x[0] if x else None
        if any(e is None or isinstance(e, float) for e in flat):
            a = np.array([np.nan if e is None else e for e in flat], np.float64)
        elif flat and all(isinstance(e, int) and not isinstance(e, bool) for e in flat):
            a = np.array(flat, np.uint64 if max(flat) > 2**63 - 1 else np.int64)
        else:
            a = np.array(flat, np.float64)
        return a.reshape(shape)
    return v


class Result(dict):
    """The result fields; `.info` says what ran (ranks, items, elapsed_s, ...)."""

    info = None


def _job_info(job, stats):
    ji = _lib.JobInfo()
    lib.h5mr_job_get_info(job, ctypes.byref(ji))
    d = {"kernel": ji.kernel.decode() if ji.kernel else None,
         "file": ji.file.decode() if ji.file else None, "files": ji.files,
         "dataset": ji.dataset.decode() if ji.dataset else None,
         "selection": ji.selection.decode() if ji.selection else None,
         "shape": tuple(ji.shape[i] for i in range(ji.ndims)) if ji.shape else (),
         "dtype": _lib.DTYPES[ji.dtype], "ranks": ji.ranks,
         "schedule": "static" if ji.schedule == 1 else "dynamic",
         "io": "parallel" if ji.io == 1 else "scatter", "items": ji.items, "chunk_rows": ji.chunk_rows,
         "bytes": ji.bytes, "elapsed_s": ji.elapsed_s}
    if ji.resumed_items:
        d["resumed"] = {"items": ji.resumed_items, "bytes": ji.resumed_bytes}
    if ji.writes:
        d["output"] = {"file": ji.output_file.decode(), "dataset": ji.output_object.decode(),
                       "dtype": _lib.DTYPES[ji.out_dtype], "bytes": ji.out_bytes}
    if stats and ji.per_rank:
        d["per_rank"] = [{"rank": r, "items": ji.per_rank[r].items, "bytes": ji.per_rank[r].bytes,
                          "busy_s": ji.per_rank[r].busy_s, "wait_s": ji.per_rank[r].wait_s,
                          "peak_rss_bytes": ji.per_rank[r].peak_rss_bytes} for r in range(ji.ranks)]
    return d


# ---------------------------------------------------------------- run, map

def _progress_printer():
    def show(p, arg):
        q = ctypes.cast(p, ctypes.POINTER(_lib.Progress)).contents
        passes = max(q.passes, 1)
        frac = (q.pass_ + q.items_done / q.items_total) / passes if q.items_total else 1
        gbs = ((q.bytes_total * q.pass_ + q.bytes_done) / q.elapsed_s / 1e9) if q.elapsed_s > 0 else 0
        if q.final:
            sys.stderr.write("h5mr: %d/%d items, %.2f GB/s, done in %.1f s\n" %
                             (q.items_done, q.items_total, gbs, q.elapsed_s))
        else:
            sys.stderr.write("h5mr: %d/%d items (%.0f%%), %.2f GB/s\n" % (q.items_done, q.items_total, 100 * frac, gbs))
        sys.stderr.flush()
    return _lib.PROGRESS_FN(show)


def _command_line(cmd, kernel, files, dataset, opts, params):
    """The same job as a command line (ranks=N outside mpirun)."""
    a = [_lib.command, cmd, "-n", str(opts["ranks"]), "--json", "-k", kernel]
    for k, v in params.items():
        a += ["-p", "%s=%s" % (k, _param_value(v))]
    flags = {"chunk_rows": "--chunk-rows", "schedule": "--schedule", "io": "--io", "mask": "--mask",
             "weights": "--weights", "by": "--by", "with_": "--with", "output": "-o", "checkpoint": "--checkpoint",
             "checkpoint_every": "--checkpoint-every", "timeout": "--timeout", "dtype": "--dtype", "gzip": "--gzip"}
    for k, f in flags.items():
        if opts.get(k) is not None:
            a += [f, str(opts[k])]
    if opts.get("chunk") is not None:
        a += ["--chunk", ",".join(str(x) for x in opts["chunk"])]
    for k, f in (("raw", "--raw"), ("force", "--force"), ("resume", "--resume"), ("shuffle", "--shuffle")):
        if opts.get(k):
            a.append(f)
    for p in [opts["plugin"]] if isinstance(opts.get("plugin"), str) else opts.get("plugin") or []:
        a += ["--plugin", p]
    for p in [opts["files_from"]] if isinstance(opts.get("files_from"), str) else opts.get("files_from") or []:
        a += ["--files-from", p]
    a += ["--progress" if opts.get("progress") else "--no-progress"]
    return a + files + [dataset]


def _spawn(cmd, kernel, files, dataset, opts, params):
    # The environment as the script got it: not what MPI_Init of this (singleton)
    # process added, which would make the command think it is a rank of mpirun.
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("OMPI_", "PMIX_", "OPAL_")) and not k.startswith(("OMPI_MCA_", "OMPI_ALLOW")))}
    p = subprocess.run(_command_line(cmd, kernel, files, dataset, opts, params), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        line = next((ln for ln in p.stderr.splitlines() if ln.startswith("h5mr: ")), p.stderr.strip())
        msg = line[len("h5mr: "):] if line.startswith("h5mr: ") else line
        raise {2: UsageError, 3: InputError}.get(p.returncode, RunError)(msg)
    d = json.loads(p.stdout)
    r = Result({k: _from_json(v) for k, v in d["result"].items()})
    r.info = {k: d[k] for k in ("kernel", "ranks", "schedule", "io", "items", "chunk_rows", "bytes", "elapsed_s")}
    r.info.update({"file": d["input"]["file"], "files": d["input"]["files"], "dataset": d["input"]["dataset"],
                   "shape": tuple(d["input"]["shape"]), "dtype": d["input"]["dtype"]})
    if "output" in d:
        r.info["output"] = d["output"]
    if "resumed" in d:
        r.info["resumed"] = d["resumed"]
    return r


def _job(cmd, kernel, files, dataset, kw):
    opts = {k: kw.pop(k) for k in list(kw) if k in _OPTIONS}
    if "with" in kw:  # with= is a keyword in Python: with_= (or **{"with": ...})
        opts["with_"] = kw.pop("with")
    params = kw
    files = _files(files)
    if not isinstance(dataset, str):
        raise TypeError("h5mr.%s: dataset must be a string ('/tas', '/tas[0:744]')" % cmd)
    _check(cmd, opts)
    _load_plugins(opts.get("plugin"))
    py = isinstance(kernel, Kernel)
    if isinstance(kernel, type) and issubclass(kernel, Kernel):
        kernel, py = kernel(), True
    if py:
        if params:
            raise UsageError("%s: parameters of a Python kernel are given to it: %s(%s)" %
                             (cmd, type(kernel).__name__, ", ".join("%s=..." % k for k in params)))
        name = type(kernel).kernel_name()
        params = {k: getattr(kernel, k) for k in type(kernel).params}
    else:
        name = str(kernel)
        if not lib.h5mr_kernel_find(name.encode()):
            raise UsageError("%s: unknown kernel '%s' (kernels: %s)" % (cmd, name, ", ".join(_kernel_names())))
        writes = lib.h5mr_kernel_writes(lib.h5mr_kernel_find(name.encode()))
        if cmd == "map" and not writes:
            raise UsageError("map: kernel %s reduces, it writes no dataset: use h5mr.run('%s', ...)" % (name, name))
        if cmd == "run" and writes:
            raise UsageError("run: kernel %s writes a dataset: use h5mr.map('%s', ..., output=...)" % (name, name))
    if cmd == "map" and not opts.get("output"):
        raise UsageError("map: missing output=, where to write (OUT.h5 or OUT.h5:/DATASET)")
    if not files and not opts.get("files_from"):
        raise UsageError("%s: missing FILE (h5mr.%s(kernel, files, dataset))" % (cmd, cmd))

    launched = "OMPI_COMM_WORLD_SIZE" in os.environ or "PMIX_RANK" in os.environ
    ranks = opts.get("ranks")
    if ranks is not None and ranks > 1 and not launched and opts.get("comm") is None:
        if py:
            raise UsageError("%s: ranks=%d starts the command, which cannot run a Python kernel: run the script "
                             "under mpirun -n %d python3" % (cmd, ranks, ranks))
        return _spawn(cmd, name, files, dataset, opts, params)
    _lib.mpi_start()
    comm = _lib.comm_handle(opts.get("comm"))
    rank, size = _lib.rank_size(comm)
    if ranks is not None and ranks != size:
        raise UsageError("%s: ranks=%d, but this job has %d rank%s (inside mpirun, ranks must match it)" %
                         (cmd, ranks, size, "" if size == 1 else "s"))
    br = bridge_for(kernel) if py else None
    return _run_job(cmd, name, files, dataset, opts, params, comm, rank, br)


def _run_job(cmd, name, files, dataset, opts, params, comm, rank, br):
    job = ctypes.c_void_p()
    err = _lib.Error_()
    timer = None
    keep = []
    st = lib.h5mr_job_create(comm, ctypes.byref(job), ctypes.byref(err))
    if st != 0:
        _raise(st, err.message.decode(errors="replace"))
    try:
        st = lib.h5mr_job_set_dataset(job, dataset.encode())
        for f in files:
            if st == 0:
                st = lib.h5mr_job_add_file(job, f.encode())
        for f in [opts["files_from"]] if isinstance(opts.get("files_from"), str) else opts.get("files_from") or []:
            if st == 0:
                st = lib.h5mr_job_add_file_list(job, os.fspath(f).encode())
        if st == 0:
            st = lib.h5mr_job_set_raw(job, 1 if opts.get("raw") else 0)
        for role, opt in (("mask", "mask"), ("weights", "weights"), ("by", "by"), ("with", "with_")):
            if st == 0 and opts.get(opt) is not None:
                st = lib.h5mr_job_set_companion(job, _lib.ROLES[role], str(opts[opt]).encode())
                if st != 0:
                    raise UsageError("%s: --%s '%s' is not [FILE:]DATASET" % (cmd, role, opts[opt]))
        if st == 0:
            st = lib.h5mr_job_set_kernel(job, name.encode())
        for k, v in params.items():
            if st == 0:
                st = lib.h5mr_job_set_param(job, str(k).encode(), _param_value(v).encode())
        if st == 0:
            st = lib.h5mr_job_set_chunk_rows(job, int(opts.get("chunk_rows") or 0))
        if st == 0:
            st = lib.h5mr_job_set_schedule(job, _SCHEDULES[opts.get("schedule") or "dynamic"])
        if st == 0:
            st = lib.h5mr_job_set_io(job, _IOS[opts.get("io") or "auto"])
        if st == 0 and opts.get("output"):
            st = lib.h5mr_job_set_output(job, os.fspath(opts["output"]).encode())
            if st != 0:
                raise UsageError("%s: -o '%s' is not FILE or FILE:/%s" %
                                 (cmd, opts["output"], "DATASET" if cmd == "map" else "GROUP"))
        if st == 0 and cmd == "map":
            so = _lib.StoreOpts()
            so.dtype = _lib.DTYPES.index(opts["dtype"]) if opts.get("dtype") else -1
            if opts.get("dtype") and opts["dtype"] not in _lib.DTYPES:
                raise UsageError("map: --dtype '%s' is not a type (%s)" % (opts["dtype"], " ".join(_lib.DTYPES)))
            ch = opts.get("chunk")
            if ch is not None:
                ch = [int(x) for x in (ch if not isinstance(ch, str) else ch.replace("x", ",").split(","))]
                if not ch or min(ch) < 1:
                    raise UsageError("map: --chunk '%s' is not a chunk shape" % (opts["chunk"],))
                so.chunk_ndims = len(ch)
                for i, x in enumerate(ch):
                    so.chunk[i] = x
            g = opts.get("gzip")
            if g is not None and (isinstance(g, bool) or not isinstance(g, int) or not 0 <= g <= 9):
                raise UsageError("map: --gzip '%s' is not a level from 0 to 9" % (g,))
            so.gzip = -1 if g is None else g
            so.shuffle = 1 if opts.get("shuffle") else 0
            st = lib.h5mr_job_set_store(job, ctypes.byref(so))
        if st == 0 and opts.get("checkpoint"):
            st = lib.h5mr_job_set_checkpoint(job, os.fspath(opts["checkpoint"]).encode(),
                                             float(opts.get("checkpoint_every") or 0), 1 if opts.get("resume") else 0)
        if st == 0:
            st = lib.h5mr_job_set_force(job, 1 if opts.get("force") else 0)
        if st == 0 and rank == 0 and opts.get("progress"):
            fn = opts["progress"]
            if callable(fn):
                def call(p, arg, fn=fn):
                    q = ctypes.cast(p, ctypes.POINTER(_lib.Progress)).contents
                    fn({"items_done": q.items_done, "items_total": q.items_total, "pass": q.pass_,
                        "passes": q.passes, "elapsed_s": q.elapsed_s, "final": bool(q.final)})
                cb = _lib.PROGRESS_FN(call)
            else:
                cb = _progress_printer()
            keep.append(cb)
            st = lib.h5mr_job_set_progress(job, cb, None, 5.0)
        if st != 0:
            _raise(st, "%s: %s" % (cmd, _lib.STATUS[st].lower()))
        if opts.get("timeout"):
            def expire(t=opts["timeout"]):
                if rank == 0:
                    sys.stderr.write("h5mr: the job ran longer than --timeout %g s; stopped, no output written\n" % t)
                    sys.stderr.flush()
                os._exit(1)
            timer = threading.Timer(opts["timeout"] + (0 if rank == 0 else 1), expire)
            timer.daemon = True
            timer.start()
        st = lib.h5mr_job_run(job, ctypes.byref(err))
        if st != 0:
            e = {1: UsageError, 2: InputError}.get(st, RunError)(err.message.decode(errors="replace"),
                                                                  _lib.STATUS[st])
            if br is not None and br.failure is not None:
                raise e from br.failure
            raise e
        # The result, made on rank 0, on every rank.
        payload = b""
        if rank == 0:
            if br is not None and br.finishes == 1:
                r = dict(br.result or {})  # as the kernel returned it (any picklable values)
            else:
                r = _result_dict(lib.h5mr_job_result(job))
            payload = pickle.dumps((r, _job_info(job, opts.get("stats"))), protocol=5)
        r, inf = pickle.loads(_lib.bcast_bytes(comm, payload, rank))
        res = Result(r)
        res.info = inf
        return res
    finally:
        if timer is not None:
            timer.cancel()
        lib.h5mr_job_free(job)
        del keep


def run(kernel, files, dataset, **kw):
    """Run a reducing kernel (a built-in's name, a plugin's, or an h5mr.Kernel) over
    DATASET of FILES (a path, a pattern or a list, concatenated along dimension 0).
    Returns the result (a dict of numpy arrays and Python scalars) on every rank."""
    return _job("run", kernel, files, dataset, kw)


def map(kernel, files, dataset, output=None, **kw):  # noqa: A001 (the command's name)
    """Write a transformed dataset (convert, scale, anomaly, normdiff, a plugin's map
    kernel) to output ("OUT.h5" or "OUT.h5:/DATASET"); dtype=, chunk=, gzip=, shuffle=
    say how it is stored.  Returns what was written (info) on every rank."""
    kw["output"] = output
    return _job("map", kernel, files, dataset, kw)


def kernels():
    """The registered kernels: name, description, parameters (default, help), and
    whether it reduces (command "run") or writes a dataset ("map")."""
    out = []
    for i in range(lib.h5mr_kernel_count()):
        kp = lib.h5mr_kernel_at(i)
        k = kp.contents
        params = {}
        j = 0
        while k.params and k.params[j].key:
            p = k.params[j]
            params[p.key.decode()] = {"default": p.default_value.decode() if p.default_value else None,
                                      "help": p.help.decode() if p.help else ""}
            j += 1
        out.append({"name": k.name.decode(), "description": (k.description or b"").decode(), "params": params,
                    "command": "map" if lib.h5mr_kernel_writes(kp) else "run"})
    return out


def _dataset_dict(di):
    d = {"dtype": _lib.DTYPES[di.dtype], "shape": tuple(di.shape[i] for i in range(di.ndims)),
         "layout": di.layout.decode(), "chunk": tuple(di.chunk[i] for i in range(di.ndims)) if di.chunked else None,
         "filters": [di.filters[i].value.decode() for i in range(min(di.nfilters, 8))],
         "chunk_rows": di.chunk_rows, "items": di.items, "item_bytes": di.item_bytes, "bytes": di.bytes}
    cf = di.cf.decode()
    d["cf"] = json.loads(cf) if cf and cf != "null" else None
    return d


def info(files, dataset=None, chunk_rows=0, raw=False):
    """Describe DATASET over FILES (shape, type, layout, filters, the plan, CF, the rows
    of each file), or without DATASET list the datasets of one file with why h5mr
    can or cannot read each ({path: dict, or {"unreadable": why}})."""
    files = _files(files)
    err = _lib.Error_()
    if dataset is None:
        if len(files) != 1:
            raise UsageError("info: without a DATASET, one FILE")
        found = {}

        def each(path, dip, why, arg):
            p = path.decode()
            if dip:
                d = _dataset_dict(dip.contents)
                link = dip.contents.link.decode()
                if link:
                    d["link"] = link
                found[p] = d
            else:
                found[p] = {"unreadable": (why or b"").decode()}
            return 0
        cb = _lib.DATASET_FN(each)
        st = lib.h5mr_file_datasets(files[0].encode(), cb, None, ctypes.byref(err))
        if st != 0:
            _raise(st, err.message.decode(errors="replace"))
        return found
    arr = (ctypes.c_char_p * len(files))(*[f.encode() for f in files])
    di = _lib.DatasetInfo()
    rows = []

    def each_file(f, n, arg):
        rows.append((f.decode(), n))
        return 0
    cb = _lib.FILE_ROWS_FN(each_file)
    st = lib.h5mr_files_inspect(arr, len(files), dataset.encode(), int(chunk_rows), 1 if raw else 0,
                                ctypes.byref(di), cb, None, ctypes.byref(err))
    if st != 0:
        _raise(st, err.message.decode(errors="replace"))
    d = _dataset_dict(di)
    d["files"] = rows
    return d
