"""libh5mr and libmpi through ctypes: loading, MPI start-up, the C structures."""
import atexit
import ctypes
import ctypes.util
import os
import sys

from . import _config

c_u64 = ctypes.c_uint64
c_u64_p = ctypes.POINTER(c_u64)

# h5mr_status, in the order of H5MR_STATUS_TABLE (lib/h5mr.h)
STATUS = ["OK", "EUSAGE", "EINPUT", "EIO", "ENOMEM", "EMPI", "EKERNEL", "ELIMIT", "EINTERNAL", "ESTOPPED"]
OK, EUSAGE, EINPUT, EKERNEL = 0, 1, 2, 6
# h5mr_dtype, in the order of H5MR_DTYPE_TABLE
DTYPES = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64"]
ROLES = {"input": 0, "mask": 1, "weights": 2, "by": 3, "with": 4}
FIELD_I64, FIELD_F64, FIELD_U64 = 0, 1, 2
KERNEL_ABI = 2


class Error_(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("rank", ctypes.c_int), ("message", ctypes.c_char * 512)]


class ParamDecl(ctypes.Structure):
    _fields_ = [("key", ctypes.c_char_p), ("default_value", ctypes.c_char_p), ("help", ctypes.c_char_p)]


class Rows(ctypes.Structure):
    _fields_ = [("role", ctypes.c_int), ("dtype", ctypes.c_int), ("data", ctypes.c_void_p),
                ("row_stride", c_u64), ("elem_stride", c_u64)]


class OutRows(ctypes.Structure):
    _fields_ = [("noutputs", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_void_p)),
                ("dtype", ctypes.POINTER(ctypes.c_int)), ("row_elems", c_u64_p)]


class Block(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("rows", c_u64), ("row_elems", c_u64),
                ("first_row", c_u64), ("item", c_u64), ("ninputs", ctypes.c_int),
                ("inputs", ctypes.POINTER(Rows)), ("out", ctypes.POINTER(OutRows))]


STATUS_T = ctypes.c_int
CTX = ctypes.c_void_p
SETUP_FN = ctypes.CFUNCTYPE(STATUS_T, CTX)
INIT_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p)
NEW_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, CTX)
FREE_FN = ctypes.CFUNCTYPE(None, CTX, ctypes.c_void_p)
PACK_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                           ctypes.POINTER(ctypes.c_size_t))
UNPACK_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
MAP_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p, ctypes.POINTER(Block))
COMBINE_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p, ctypes.c_void_p)
FINISH_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p, ctypes.c_void_p)
END_PASS_FN = ctypes.CFUNCTYPE(STATUS_T, CTX, ctypes.c_void_p)


class Kernel_(ctypes.Structure):
    _fields_ = [("abi", ctypes.c_uint), ("name", ctypes.c_char_p), ("description", ctypes.c_char_p),
                ("params", ctypes.POINTER(ParamDecl)), ("setup", SETUP_FN), ("init", INIT_FN),
                ("state_new", NEW_FN), ("state_free", FREE_FN), ("pack", PACK_FN), ("unpack", UNPACK_FN),
                ("map", MAP_FN), ("combine", COMBINE_FN), ("finish", FINISH_FN), ("end_pass", END_PASS_FN)]


class Field(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("type", ctypes.c_int), ("ndims", ctypes.c_int), ("shape", c_u64_p),
                ("nelems", c_u64), ("data", ctypes.c_void_p), ("valid", ctypes.POINTER(ctypes.c_uint8))]


class RankStats(ctypes.Structure):
    _fields_ = [("items", c_u64), ("bytes", c_u64), ("busy_s", ctypes.c_double), ("wait_s", ctypes.c_double),
                ("peak_rss_bytes", c_u64)]


class CompanionInfo(ctypes.Structure):
    _fields_ = [("role", ctypes.c_int), ("file", ctypes.c_char_p), ("dataset", ctypes.c_char_p),
                ("own_file", ctypes.c_int)]


class JobInfo(ctypes.Structure):
    _fields_ = [("file", ctypes.c_char_p), ("dataset", ctypes.c_char_p), ("kernel", ctypes.c_char_p),
                ("dtype", ctypes.c_int), ("ndims", ctypes.c_int), ("shape", c_u64_p), ("ranks", ctypes.c_int),
                ("schedule", ctypes.c_int), ("io", ctypes.c_int), ("items", c_u64), ("chunk_rows", c_u64),
                ("bytes", c_u64), ("elapsed_s", ctypes.c_double), ("per_rank", ctypes.POINTER(RankStats)),
                ("files", ctypes.c_size_t), ("selection", ctypes.c_char_p), ("cf", ctypes.c_char_p),
                ("stored_ndims", ctypes.c_int), ("stored_shape", c_u64_p), ("ncompanions", ctypes.c_int),
                ("companions", CompanionInfo * 4), ("output_file", ctypes.c_char_p),
                ("output_object", ctypes.c_char_p), ("writes", ctypes.c_int), ("out_dtype", ctypes.c_int),
                ("out_ndims", ctypes.c_int), ("out_chunk", c_u64_p), ("out_gzip", ctypes.c_int),
                ("out_shuffle", ctypes.c_int), ("out_bytes", c_u64), ("out_grouped", ctypes.c_int),
                ("out_count", ctypes.c_int), ("out_names", ctypes.c_void_p), ("resumed_items", c_u64),
                ("resumed_bytes", c_u64)]


class StoreOpts(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("chunk_ndims", ctypes.c_int), ("chunk", c_u64 * 32),
                ("gzip", ctypes.c_int), ("shuffle", ctypes.c_int)]


class DatasetInfo(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("ndims", ctypes.c_int), ("shape", c_u64 * 32), ("chunked", ctypes.c_int),
                ("chunk", c_u64 * 32), ("nfilters", ctypes.c_int), ("filters", (ctypes.c_char * 32) * 8),
                ("chunk_rows", c_u64), ("items", c_u64), ("item_bytes", c_u64), ("bytes", c_u64),
                ("layout", ctypes.c_char * 16), ("files", c_u64), ("cf", ctypes.c_char * 256),
                ("link", ctypes.c_char * 256)]


FILE_ROWS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, c_u64, ctypes.c_void_p)
DATASET_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(DatasetInfo), ctypes.c_char_p,
                              ctypes.c_void_p)
PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class Progress(ctypes.Structure):
    _fields_ = [("items_done", c_u64), ("items_total", c_u64), ("bytes_done", c_u64), ("bytes_total", c_u64),
                ("pass_", ctypes.c_int), ("passes", ctypes.c_int), ("elapsed_s", ctypes.c_double),
                ("final", ctypes.c_int)]


def _find_library():
    """libh5mr: $H5MR_LIBRARY, the build tree this package sits in, the prefix it was
    installed to, then the loader's search path."""
    here = os.path.dirname(os.path.abspath(__file__))
    tries = [os.environ.get("H5MR_LIBRARY"),
             os.path.join(here, "..", "..", "lib", ".libs", "libh5mr.so"),
             os.path.join(_config.libdir, "libh5mr.so") if _config.libdir else None,
             ctypes.util.find_library("h5mr")]
    for t in tries:
        if t and (os.path.exists(t) or not os.path.dirname(t)):
            return t
    raise ImportError("h5mr: cannot find libh5mr.so (set H5MR_LIBRARY, or make install)")


def _find_command():
    """The h5mr command beside the library (build tree or prefix)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for t in (os.environ.get("H5MR"), os.path.join(here, "..", "..", "apps", "h5mr"),
              os.path.join(_config.bindir, "h5mr") if _config.bindir else None):
        if t and os.access(t, os.X_OK):
            return t
    return "h5mr"


# Open MPI's components need libmpi's symbols global (as mpi4py loads it).
mpi = ctypes.CDLL(ctypes.util.find_library("mpi") or "libmpi.so.40", mode=ctypes.RTLD_GLOBAL)
lib = ctypes.CDLL(_find_library(), mode=ctypes.RTLD_GLOBAL)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
command = _find_command()

COMM_WORLD = ctypes.addressof(ctypes.c_char.in_dll(mpi, "ompi_mpi_comm_world"))
MPI_BYTE = ctypes.addressof(ctypes.c_char.in_dll(mpi, "ompi_mpi_byte"))
MPI_INT64 = ctypes.addressof(ctypes.c_char.in_dll(mpi, "ompi_mpi_int64_t"))

P = ctypes.c_void_p
S = ctypes.c_char_p
E = ctypes.POINTER(Error_)
for name, res, args in [
    ("h5mr_version", S, []), ("h5mr_kernel_abi", ctypes.c_uint, []),
    ("h5mr_job_create", STATUS_T, [P, ctypes.POINTER(P), E]), ("h5mr_job_free", None, [P]),
    ("h5mr_job_add_file", STATUS_T, [P, S]), ("h5mr_job_add_file_list", STATUS_T, [P, S]),
    ("h5mr_job_set_dataset", STATUS_T, [P, S]), ("h5mr_job_set_raw", STATUS_T, [P, ctypes.c_int]),
    ("h5mr_job_set_companion", STATUS_T, [P, ctypes.c_int, S]), ("h5mr_job_set_kernel", STATUS_T, [P, S]),
    ("h5mr_job_set_param", STATUS_T, [P, S, S]), ("h5mr_job_set_chunk_rows", STATUS_T, [P, c_u64]),
    ("h5mr_job_set_schedule", STATUS_T, [P, ctypes.c_int]), ("h5mr_job_set_io", STATUS_T, [P, ctypes.c_int]),
    ("h5mr_job_set_output", STATUS_T, [P, S]), ("h5mr_job_set_store", STATUS_T, [P, ctypes.POINTER(StoreOpts)]),
    ("h5mr_job_set_force", STATUS_T, [P, ctypes.c_int]),
    ("h5mr_job_set_checkpoint", STATUS_T, [P, S, ctypes.c_double, ctypes.c_int]),
    ("h5mr_job_set_progress", STATUS_T, [P, PROGRESS_FN, P, ctypes.c_double]),
    ("h5mr_job_run", STATUS_T, [P, E]), ("h5mr_job_result", P, [P]),
    ("h5mr_job_get_info", STATUS_T, [P, ctypes.POINTER(JobInfo)]),
    ("h5mr_result_count", ctypes.c_size_t, [P]), ("h5mr_result_field", ctypes.POINTER(Field), [P, ctypes.c_size_t]),
    ("h5mr_result_set_i64", STATUS_T, [P, S, ctypes.c_int64]), ("h5mr_result_set_f64", STATUS_T, [P, S, ctypes.c_double]),
    ("h5mr_result_set_null", STATUS_T, [P, S]),
    ("h5mr_result_set_array", STATUS_T, [P, S, ctypes.c_int, ctypes.c_int, c_u64_p, P, P]),
    ("h5mr_kernel_register", STATUS_T, [ctypes.POINTER(Kernel_), E]), ("h5mr_kernel_find", P, [S]),
    ("h5mr_kernel_count", ctypes.c_size_t, []), ("h5mr_kernel_at", ctypes.POINTER(Kernel_), [ctypes.c_size_t]),
    ("h5mr_kernel_writes", ctypes.c_int, [P]), ("h5mr_plugin_load", STATUS_T, [S, E]),
    ("h5mr_files_inspect", STATUS_T, [ctypes.POINTER(S), ctypes.c_size_t, S, c_u64, ctypes.c_int,
                                      ctypes.POINTER(DatasetInfo), FILE_ROWS_FN, P, E]),
    ("h5mr_file_datasets", STATUS_T, [S, DATASET_FN, P, E]),
    ("h5mr_ctx_dtype", ctypes.c_int, [CTX]), ("h5mr_ctx_ndims", ctypes.c_int, [CTX]),
    ("h5mr_ctx_shape", c_u64_p, [CTX]), ("h5mr_ctx_pass", ctypes.c_int, [CTX]),
    ("h5mr_ctx_param", S, [CTX, S]), ("h5mr_ctx_set_passes", None, [CTX, ctypes.c_int]),
    ("h5mr_ctx_accept_input", None, [CTX, ctypes.c_int]), ("h5mr_ctx_has_input", ctypes.c_int, [CTX, ctypes.c_int]),
    ("h5mr_ctx_allow_joined_items", None, [CTX]), ("h5mr_ctx_values_integral", ctypes.c_int, [CTX]),
    ("h5mr_request_stop", None, [ctypes.c_int]),
]:
    f = getattr(lib, name)
    f.restype, f.argtypes = res, args
lib.h5mr_ctx_error.restype = STATUS_T  # variadic: (ctx, status, "%s", message)

for name, args in [("MPI_Initialized", [ctypes.POINTER(ctypes.c_int)]),
                   ("MPI_Finalized", [ctypes.POINTER(ctypes.c_int)]),
                   ("MPI_Init", [P, P]), ("MPI_Finalize", []),
                   ("MPI_Comm_rank", [P, ctypes.POINTER(ctypes.c_int)]),
                   ("MPI_Comm_size", [P, ctypes.POINTER(ctypes.c_int)]),
                   ("MPI_Bcast", [P, ctypes.c_int, P, ctypes.c_int, P])]:
    f = getattr(mpi, name)
    f.restype, f.argtypes = ctypes.c_int, args

if lib.h5mr_kernel_abi() != KERNEL_ABI:
    raise ImportError("h5mr: libh5mr has kernel ABI %d, this package %d" % (lib.h5mr_kernel_abi(), KERNEL_ABI))

_we_initialised = False


def mpi_start():
    """MPI_Init unless someone (mpi4py, an earlier call) did; MPI_Finalize at exit then."""
    global _we_initialised
    flag = ctypes.c_int(0)
    mpi.MPI_Initialized(ctypes.byref(flag))
    if flag.value:
        return
    if mpi.MPI_Init(None, None) != 0:
        raise RuntimeError("h5mr: MPI_Init failed")
    _we_initialised = True
    _pmix_nodelay()
    atexit.register(_mpi_end)


def _pmix_nodelay():
    """TCP_NODELAY on the loopback connection to the node's PMIx server, as the command
    does (apps/h5mr.c pmix_nodelay: Nagle's algorithm costs MPI_Finalize 40 ms there)."""
    import socket
    for fd in range(3, 1024):
        try:
            dup = os.dup(fd)
        except OSError:
            continue
        try:
            s = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            continue
        try:
            if s.type == socket.SOCK_STREAM and s.family in (socket.AF_INET, socket.AF_INET6):
                host = s.getpeername()[0]
                if host.startswith("127.") or host == "::1":
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        finally:
            s.close()


def _mpi_end():
    done = ctypes.c_int(0)
    mpi.MPI_Finalized(ctypes.byref(done))
    if not done.value:
        sys.stdout.flush()
        mpi.MPI_Finalize()


def comm_handle(comm):
    """The MPI_Comm of an mpi4py communicator, or MPI_COMM_WORLD."""
    if comm is None:
        return COMM_WORLD
    try:
        from mpi4py import MPI  # noqa: F401 (only to read the handle)
        return MPI._handleof(comm)
    except (ImportError, AttributeError, TypeError):
        raise TypeError("h5mr: comm= takes an mpi4py communicator") from None


def rank_size(comm):
    r, s = ctypes.c_int(0), ctypes.c_int(1)
    mpi.MPI_Comm_rank(comm, ctypes.byref(r))
    mpi.MPI_Comm_size(comm, ctypes.byref(s))
    return r.value, s.value


def bcast_bytes(comm, data, rank):
    """Rank 0's bytes on every rank."""
    n = ctypes.c_int64(len(data) if rank == 0 else 0)
    if mpi.MPI_Bcast(ctypes.byref(n), 1, MPI_INT64, 0, comm) != 0:
        raise RuntimeError("h5mr: MPI_Bcast failed")
    buf = ctypes.create_string_buffer(data, n.value) if rank == 0 else ctypes.create_string_buffer(n.value)
    done = 0
    step = 1 << 30
    while done < n.value:  # MPI counts are int
        k = min(step, n.value - done)
        if mpi.MPI_Bcast(ctypes.byref(buf, done), k, MPI_BYTE, 0, comm) != 0:
            raise RuntimeError("h5mr: MPI_Bcast failed")
        done += k
    return buf.raw
