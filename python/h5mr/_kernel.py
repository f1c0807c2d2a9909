"""Python kernels: a class with init/map/combine/finish in numpy, registered with libh5mr
through the same public h5mr_kernel interface as the built-ins and C plugins."""
import ctypes
import inspect
import pickle
import traceback

import numpy as np

from . import _lib
from ._lib import lib

NP_DTYPES = [np.dtype(t) for t in ("i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8")]


class Kernel:
    """A kernel written in numpy.  Subclass it and define

        name = "fracabove"            # optional: the class name in lower case
        params = {"threshold": 0.0}   # parameters and their defaults (self.threshold)
        passes = 1                    # more: end_pass(self, state) between passes
        accepts = ()                  # companions it uses: "weights", "with", "by"
        join_items = True             # False: one block per item (chunk_rows rows)
        block_bytes = 1 << 20         # with join_items: blocks of ~1 MiB of whole rows; 0: as read
        def init(self, info)          -> a new state (info: dtype, shape, pass)
        def map(self, state, block, first_row[, inputs]) -> the state
        def combine(self, a, b)       -> a and b combined (associative, commutative)
        def finish(self, state)       -> a dict of the result (rank 0)

    `block` is a read-only numpy view of the library's buffer or of the file's pages
    (rows of the input, shape (rows, *trailing dimensions)), valid during the call only:
    keep block.copy(), not block; `inputs` (if map takes it) holds the
    companions' rows, broadcast to the block's shape.  States are numpy arrays or any
    picklable object; the tree reduction moves them pickled.  An exception in any
    method fails the job on every rank (h5mr.RunError), never a hang."""

    params = {}
    passes = 1
    accepts = ()
    description = None
    join_items = True  # small consecutive items may come as one block (first_row: its first)
    # With join_items, map gets blocks of about this many bytes (whole rows; 0: as read):
    # numpy's temporaries of a 1 MiB block stay in the cache (bench/RESULTS.md §24).
    block_bytes = 1 << 20

    def __init__(self, **kw):
        for k in kw:
            if k not in self.params:
                raise TypeError("%s: unknown parameter %r (parameters: %s)" %
                                (type(self).__name__, k, ", ".join(self.params) or "none"))
        for k, v in self.params.items():
            setattr(self, k, kw.get(k, v))
        self._given = dict(kw)

    @classmethod
    def kernel_name(cls):
        return getattr(cls, "name", None) or cls.__name__.lower()

    def init(self, info):
        raise NotImplementedError

    def map(self, state, block, first_row):
        raise NotImplementedError

    def combine(self, a, b):
        raise NotImplementedError

    def finish(self, state):
        return {"state": state}

    def end_pass(self, state):
        pass

    def setup(self, info):
        """Optional: check the input (raise h5mr.UsageError or h5mr.InputError)."""


class _Failure(Exception):
    pass


class _Bridge:
    """The C side of one registered Python kernel: callbacks that find the instance
    of the running job and its states (kept here by handle)."""

    def __init__(self, cls):
        self.cls = cls
        self.name = cls.kernel_name()
        self.current = None
        self.states = {}
        self.next_handle = 1
        self.result = None
        self.finishes = 0
        self.failure = None
        self.info = None
        sig = inspect.signature(cls.map)
        self.map_takes_inputs = len(sig.parameters) >= 5
        self.keep = []  # ctypes objects the C struct points at
        decls = (_lib.ParamDecl * (len(cls.params) + 1))()
        for i, (k, v) in enumerate(cls.params.items()):
            decls[i].key = k.encode()
            decls[i].default_value = _param_text(v).encode()
            decls[i].help = b""
        self.keep.append(decls)
        desc = (cls.description or (cls.__doc__ or "").strip().split("\n")[0] or "a Python kernel").encode()
        self.keep.append(desc)
        cb = [_lib.SETUP_FN(self._setup), _lib.NEW_FN(self._new), _lib.FREE_FN(self._free),
              _lib.PACK_FN(self._pack), _lib.UNPACK_FN(self._unpack), _lib.MAP_FN(self._map),
              _lib.COMBINE_FN(self._combine), _lib.FINISH_FN(self._finish), _lib.END_PASS_FN(self._end_pass)]
        self.keep.extend(cb)
        k = _lib.Kernel_()
        k.abi = _lib.KERNEL_ABI
        k.name = self.name.encode()
        k.description = desc
        k.params = ctypes.cast(decls, ctypes.POINTER(_lib.ParamDecl))
        k.setup, k.state_new, k.state_free, k.pack, k.unpack, k.map, k.combine, k.finish, k.end_pass = cb
        k.end_pass = cb[8] if cls.passes > 1 else _lib.END_PASS_FN()
        self.struct = k

    # -- every callback: an exception becomes the job's EKERNEL error with its message
    def _fail(self, ctx, e, status=_lib.EKERNEL):
        from . import UsageError, InputError
        if isinstance(e, UsageError):
            status = _lib.EUSAGE
        elif isinstance(e, InputError):
            status = _lib.EINPUT
        if self.failure is None:
            self.failure = e
            self.trace = traceback.format_exc()
        last = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
        where = " (%s:%d)" % (last.filename.rsplit("/", 1)[-1], last.lineno) if last else ""
        msg = "%s: %s%s" % (type(e).__name__, e, where)
        if status != _lib.EKERNEL:
            msg = str(e)
        return lib.h5mr_ctx_error(ctypes.c_void_p(ctx), status, b"%s", msg.encode(errors="replace")[:480])

    def _info(self, ctx):
        nd = lib.h5mr_ctx_ndims(ctx)
        shp = lib.h5mr_ctx_shape(ctx)
        return {"dtype": NP_DTYPES[lib.h5mr_ctx_dtype(ctx)], "shape": tuple(shp[i] for i in range(nd)),
                "pass": lib.h5mr_ctx_pass(ctx), "integral": bool(lib.h5mr_ctx_values_integral(ctx))}

    def _setup(self, ctx):
        try:
            k = self.current
            if k is None:  # h5mr kernels, or a job of another instance: the defaults
                k = self.current = self.cls()
            if self.cls.passes > 1:
                lib.h5mr_ctx_set_passes(ctx, int(self.cls.passes))
            for role in self.cls.accepts:
                lib.h5mr_ctx_accept_input(ctx, _lib.ROLES[role])
            if self.cls.join_items:
                lib.h5mr_ctx_allow_joined_items(ctx)
            info = self._info(ctx)
            self.info = info
            self.shape = info["shape"]
            k.setup(info)
            return 0
        except Exception as e:  # noqa: BLE001 (any error of the user's code)
            return self._fail(ctx, e)

    def _new(self, ctx):
        try:
            info = dict(self.info or self._info(ctx))
            info["pass"] = lib.h5mr_ctx_pass(ctx)
            h = self.next_handle
            self.next_handle += 1
            self.states[h] = self.current.init(info)
            return h
        except Exception as e:  # noqa: BLE001
            self._fail(ctx, e)
            return None

    def _free(self, ctx, h):
        self.states.pop(h, None)

    def _pack(self, ctx, h, out, n):
        try:
            b = pickle.dumps(self.states[h], protocol=5)
            p = _lib.libc.malloc(max(len(b), 1))
            if not p:
                raise MemoryError("packing a state of %d bytes" % len(b))
            ctypes.memmove(p, b, len(b))
            out[0] = p
            n[0] = len(b)
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)

    def _unpack(self, ctx, h, p, n):
        try:
            self.states[h] = pickle.loads(ctypes.string_at(p, n))
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)

    def _view(self, data, dtype, rows, row_elems):
        dt = NP_DTYPES[dtype]
        n = rows * row_elems
        if n == 0:
            a = np.empty(0, dt)
        else:
            a = np.frombuffer((ctypes.c_char * (n * dt.itemsize)).from_address(data), dt)
            a.flags.writeable = False  # the library's buffer
        trail = self.shape[1:]
        if int(np.prod(trail, dtype=np.int64)) == row_elems:
            a = a.reshape((rows,) + tuple(trail))
        else:
            a = a.reshape(rows, row_elems)
        return a

    def _inputs(self, b):
        d = {}
        shp = (b.rows,) + tuple(self.shape[1:]) if int(np.prod(self.shape[1:], dtype=np.int64)) == b.row_elems \
            else (b.rows, b.row_elems)
        for i in range(b.ninputs):
            r = b.inputs[i]
            dt = NP_DTYPES[r.dtype]
            its = dt.itemsize
            n = max(b.rows - 1, 0) * r.row_stride + max(b.row_elems - 1, 0) * r.elem_stride + 1
            base = np.frombuffer((ctypes.c_char * (n * its)).from_address(r.data), dt)
            base.flags.writeable = False
            flat = np.lib.stride_tricks.as_strided(base, (b.rows, b.row_elems),
                                                   (r.row_stride * its, r.elem_stride * its), writeable=False)
            d[[k for k, v in _lib.ROLES.items() if v == r.role][0]] = flat.reshape(shp)
        return d

    def _map(self, ctx, h, bp):
        try:
            b = bp.contents
            block = self._view(b.data, b.dtype, b.rows, b.row_elems)
            first = None if b.first_row == 0xFFFFFFFFFFFFFFFF else b.first_row
            k = b.rows  # rows per call of map
            if b.rows > 1 and self.cls.join_items and self.cls.block_bytes:
                k = max(1, int(self.cls.block_bytes) // (block.nbytes // b.rows or 1))
            inputs = self._inputs(b) if self.map_takes_inputs else None
            if k >= b.rows:
                s = self.current.map(self.states[h], block, first, inputs) if self.map_takes_inputs else \
                    self.current.map(self.states[h], block, first)
                if s is None:
                    raise TypeError("map returned None: it must return the state")
            else:
                s = self.states[h]
                for r in range(0, b.rows, k):
                    at = None if first is None else first + r
                    if inputs is None:
                        s = self.current.map(s, block[r:r + k], at)
                    else:
                        s = self.current.map(s, block[r:r + k], at, {n: v[r:r + k] for n, v in inputs.items()})
                    if s is None:
                        raise TypeError("map returned None: it must return the state")
            self.states[h] = s
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)

    def _combine(self, ctx, a, b):
        try:
            s = self.current.combine(self.states[a], self.states[b])
            if s is None:
                raise TypeError("combine returned None: it must return the combined state")
            self.states[a] = s
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)

    def _end_pass(self, ctx, h):
        try:
            self.current.end_pass(self.states[h])
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)

    def _finish(self, ctx, h, result):
        try:
            r = self.current.finish(self.states[h])
            if not isinstance(r, dict):
                raise TypeError("finish returned %s: it must return a dict" % type(r).__name__)
            self.result = r
            self.finishes += 1  # (--by: once per label, assembled by the library)
            for k, v in r.items():  # also as result fields, for output=
                _set_field(result, k, v)
            return 0
        except Exception as e:  # noqa: BLE001
            return self._fail(ctx, e)


def _param_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


def _set_field(result, name, v):
    """A value of a Python kernel's result as an h5mr result field (numbers and arrays
    of numbers; other values stay in the Python result only)."""
    key = str(name).encode()
    if v is None:
        lib.h5mr_result_set_null(result, key)
        return
    a = np.asarray(v)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind not in "iuf":
        return
    if a.ndim == 0:  # (np.ascontiguousarray would make it 1-d)
        if a.dtype.kind == "f":
            lib.h5mr_result_set_f64(result, key, float(a))
        elif a.dtype.kind == "u" and int(a) > 2**63 - 1:
            lib.h5mr_result_set_f64(result, key, float(a))
        else:
            lib.h5mr_result_set_i64(result, key, int(a))
        return
    if a.dtype.kind == "f":
        a, t = np.ascontiguousarray(a, np.float64), _lib.FIELD_F64
    elif a.dtype.kind == "u" and a.dtype.itemsize == 8:
        a, t = np.ascontiguousarray(a, np.uint64), _lib.FIELD_U64
    else:
        a, t = np.ascontiguousarray(a, np.int64), _lib.FIELD_I64
    shape = (_lib.c_u64 * a.ndim)(*a.shape)
    lib.h5mr_result_set_array(result, key, t, a.ndim, shape, a.ctypes.data, None)


_bridges = {}


def bridge_for(kernel):
    """The registration of this kernel's class (made once per process)."""
    cls = type(kernel)
    name = cls.kernel_name()
    br = _bridges.get(name)
    if br is not None and br.cls is not cls:
        from . import UsageError
        raise UsageError("a kernel named %r is registered by %s already: give this one another name" %
                         (name, br.cls.__qualname__))
    if br is None:
        if lib.h5mr_kernel_find(name.encode()):
            from . import UsageError
            raise UsageError("a kernel named %r exists (a built-in or a plugin's): give %s another name" %
                             (name, cls.__qualname__))
        br = _Bridge(cls)
        err = _lib.Error_()
        st = lib.h5mr_kernel_register(ctypes.byref(br.struct), ctypes.byref(err))
        if st != 0:
            from . import _raise
            _raise(st, err.message.decode(errors="replace"))
        _bridges[name] = br
    br.current = kernel
    br.result = None
    br.finishes = 0
    br.failure = None
    br.states.clear()
    return br
