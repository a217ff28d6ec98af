"""The process groups: MPI through mpi4py (CPU tensors; CUDA tensors are staged through the
host), NCCL through CuPy for CUDA tensors (its unique id passed over MPI).

Every collective is started non-blocking (MPI's ``I*`` calls) and waited for by ``Work``,
which polls the request so that a group's ``timeout`` and the rendezvous watchdog (a rank
that died) end the wait with an error instead of a hang. Blocking calls are the same call
followed by ``wait()``.
"""
from __future__ import annotations

import os
import pickle
import time

import numpy as np

from .. import _backend
from .._tensor import Tensor
from ._store import PeerFailure

_MPI = None
# how long Work.wait polls its requests without sleeping (see there)
_SPIN_S = float(os.environ.get("DARK_MPI_SPIN_S", "0.05"))


def mpi():
    """mpi4py's MPI module, imported (and MPI initialised) on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI  # noqa: PLC0415 - optional: pip install dark[mpi]
        except ImportError as error:
            raise RuntimeError("dark.distributed needs MPI: pip install mpi4py mpich (or pip "
                               "install dark[mpi])") from error
        _MPI = MPI
    return _MPI


def under_mpiexec() -> bool:
    """Whether this process was started by an MPI launcher (so MPI may connect it to
    others): MPICH's hydra sets PMI_RANK, Open MPI OMPI_COMM_WORLD_RANK, PMIx PMIX_RANK."""
    return any(k in os.environ for k in ("PMI_RANK", "PMI_FD", "PMI_PORT", "PMIX_RANK",
                                         "OMPI_COMM_WORLD_RANK"))


class ReduceOp:
    """The reduction of all_reduce / reduce / reduce_scatter, as torch.distributed.ReduceOp."""

    class RedOpType(int):
        _names = {}

        def __repr__(self):
            return f"<RedOpType.{self._names[int(self)]}: {int(self)}>"

        __str__ = __repr__

    SUM = RedOpType(0)
    AVG = RedOpType(1)
    PRODUCT = RedOpType(2)
    MIN = RedOpType(3)
    MAX = RedOpType(4)
    BAND = RedOpType(5)
    BOR = RedOpType(6)
    BXOR = RedOpType(7)


ReduceOp.RedOpType._names = {0: "SUM", 1: "AVG", 2: "PRODUCT", 3: "MIN", 4: "MAX",
                             5: "BAND", 6: "BOR", 7: "BXOR"}
_OP_NAMES = ReduceOp.RedOpType._names


def _check_op(op, dtype) -> int:
    op = int(op)
    if op not in _OP_NAMES:
        raise ValueError(f"unknown ReduceOp {op}")
    kind = np.dtype(dtype).kind
    if op in (5, 6, 7) and kind not in "iub":
        raise RuntimeError(f"Cannot use ReduceOp.{_OP_NAMES[op]} with {dtype}")
    if op == 1 and kind in "iu":
        raise RuntimeError("result type Float can't be cast to the desired output type "
                           f"{_backend.from_numpy_dtype(dtype).scalar_name}")
    if op in (3, 4) and kind == "c":
        raise RuntimeError(f"Cannot use ReduceOp.{_OP_NAMES[op]} with complex inputs")
    return op


def _mpi_op(op: int, dtype):
    MPI = mpi()
    if np.dtype(dtype).kind == "b":
        return {0: MPI.LOR, 4: MPI.LOR, 6: MPI.LOR, 2: MPI.LAND, 3: MPI.LAND, 5: MPI.LAND,
                7: MPI.LXOR}[op]
    return {0: MPI.SUM, 1: MPI.SUM, 2: MPI.PROD, 3: MPI.MIN, 4: MPI.MAX, 5: MPI.BAND,
            6: MPI.BOR, 7: MPI.BXOR}[op]


_DTYPE_CODES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                "float32", "float64", "complex64", "complex128"]

# dtypes MPI has no type for: moved as raw 16-bit words, reduced in float32
_WORDS = ("float16", "bfloat16")


class _Staged:
    """A tensor's memory as an MPI buffer: the numpy array itself when it is a contiguous
    CPU array MPI can take as it is, else a host copy (GPU, strided, float16 reduced in
    float32) that ``finish`` writes back."""

    def __init__(self, tensor: Tensor, reduce: bool = False, read_only: bool = False):
        self.tensor = tensor
        data = tensor._data
        self.host = type(data) is np.ndarray
        array = data if self.host else data.get()
        self.words = array.dtype.name in _WORDS
        if self.words and reduce:
            array = array.astype(np.float32)
        elif self.words:
            array = np.ascontiguousarray(array).view(np.uint16)
        elif not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        self.copied = array is not data
        self.array = array
        self.read_only = read_only

    def finish(self) -> None:
        if self.read_only or not self.copied:
            if not self.read_only:
                self.tensor._bump_version()
            return
        data = self.tensor._data
        array = self.array
        if self.words and array.dtype == np.uint16:
            array = array.view(data.dtype)
        if self.host:
            data[...] = array.astype(data.dtype, copy=False)
        else:
            data.set(np.ascontiguousarray(array.astype(data.dtype, copy=False))) \
                if data.flags.c_contiguous else data.__setitem__(
                    Ellipsis, _backend.module_for(self.tensor.device).asarray(array))
        self.tensor._bump_version()


class Work:
    """A started collective or point-to-point operation (``async_op=True``): ``wait()``
    blocks until it is done (raising on a timeout or a dead peer), ``is_completed()`` tests
    it; ``result()`` gives its output tensors."""

    def __init__(self, group, what, requests, finish=None, outputs=()):
        self.group = group
        self.what = what
        self.requests = list(requests)
        self._finish = finish
        self._done = False
        self._outputs = list(outputs)
        self._exception = None
        self.status = None

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()

    def is_completed(self) -> bool:
        if self._done:
            return True
        MPI = mpi()
        if all(r == MPI.REQUEST_NULL for r in self.requests) or MPI.Request.Testall(
                self.requests):
            self._complete()
            return True
        return False

    def is_success(self) -> bool:
        return self._done and self._exception is None

    def exception(self):
        return self._exception

    def wait(self, timeout=None) -> bool:
        if self._done:
            return True
        MPI = mpi()
        limit = self.group.timeout if timeout is None else (
            timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout))
        start = time.monotonic()
        # MPI makes progress on a nonblocking collective only inside Test: spin (yielding the
        # GIL and the core) for the first _SPIN_S, as MPI's own blocking waits poll, then
        # back off to sleeps of up to 1 ms for long waits (a late rank)
        spin_until = start + _SPIN_S
        pause = 0.0
        status = MPI.Status()
        while True:
            if len(self.requests) == 1:
                done = self.requests[0].Test(status)
            else:
                done = MPI.Request.Testall(self.requests)
            if done:
                break
            watch = self.group.watch
            if watch is not None and watch.dead is not None:
                self._exception = PeerFailure(
                    f"dark.distributed: rank {watch.dead} exited or lost its connection while "
                    f"rank {self.group.global_rank} was waiting in {self.what}")
                raise self._exception
            if time.monotonic() - start > limit:
                self._exception = RuntimeError(
                    f"dark.distributed: {self.what} on rank {self.group.global_rank} timed out "
                    f"after {limit:g} s (a rank did not join it: is every rank running the "
                    "same collectives in the same order?)")
                raise self._exception
            if pause:
                time.sleep(pause)
                pause = min(1e-3, pause * 2)
            elif time.monotonic() > spin_until:
                pause = 2e-5
            else:
                time.sleep(0)
        self.status = status
        self._complete()
        return True

    def result(self) -> list:
        self.wait()
        return self._outputs

    def get_future(self):
        raise RuntimeError("Work.get_future is not available in dark's MPI backend; use "
                           "wait()")

    def synchronize(self):
        self.wait()


class MpiGroup:
    """A process group over an MPI communicator. ``ranks``: the global rank of each member,
    in group order."""

    backend = "mpi"

    def __init__(self, comm, ranks, global_rank, timeout, watch=None, backend_name="mpi"):
        self.comm = comm
        self.ranks = list(ranks)
        self.global_rank = global_rank
        self.timeout = timeout
        self.watch = watch
        self.backend_name = backend_name
        self.tag_base = 0

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    # ------------------------------------------------------------------------- helpers
    def _check(self, tensors, what):
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"{what}: expected a Tensor, got {type(t).__name__}")

    def _same_shapes(self, array, what):
        """Every rank must give the same shape and dtype: checked with one small allgather
        so a mismatch is a clear error, not a corrupted result."""
        MPI = mpi()
        signature = np.zeros(10, np.int64)
        shape = array.shape
        if len(shape) > 8:
            return
        signature[0] = len(shape)
        signature[1:1 + len(shape)] = shape
        signature[9] = _DTYPE_CODES.index(array.dtype.name) if array.dtype.name in \
            _DTYPE_CODES else -1
        gathered = np.empty((self.size(), 10), np.int64)
        Work(self, what, [self.comm.Iallgather([signature, MPI.INT64_T],
                                               [gathered, MPI.INT64_T])]).wait()
        first = gathered[0]
        for rank, row in enumerate(gathered):
            if not np.array_equal(row, first):
                def describe(r):
                    dims = tuple(int(v) for v in r[1:1 + int(r[0])])
                    code = int(r[9])
                    name = _DTYPE_CODES[code] if 0 <= code < len(_DTYPE_CODES) else "?"
                    return f"shape {dims}, dtype {name}"

                raise RuntimeError(
                    f"dark.distributed.{what}: the tensors differ across ranks: rank "
                    f"{self.ranks[0]} has {describe(first)}, rank {self.ranks[rank]} has "
                    f"{describe(row)}")

    def group_rank_of(self, global_rank: int, what: str) -> int:
        try:
            return self.ranks.index(int(global_rank))
        except ValueError:
            raise ValueError(f"Global rank {global_rank} is not part of group "
                             f"{self.ranks}") from None

    # ----------------------------------------------------------------------- collectives
    def all_reduce(self, tensor, op, check=True):
        MPI = mpi()
        op = _check_op(op, tensor._data.dtype)
        staged = _Staged(tensor, reduce=True)
        if check:
            self._same_shapes(staged.array, "all_reduce")
        request = self.comm.Iallreduce(MPI.IN_PLACE, staged.array, op=_mpi_op(op,
                                                                               staged.array.dtype))
        size = self.size()

        def finish():
            if op == 1:
                np.divide(staged.array, size, out=staged.array, casting="unsafe")
            staged.finish()

        return Work(self, "all_reduce", [request], finish, [tensor])

    def broadcast(self, tensor, root):
        staged = _Staged(tensor)
        request = self.comm.Ibcast(staged.array, root=root)
        return Work(self, "broadcast", [request], staged.finish, [tensor])

    def reduce(self, tensor, root, op):
        MPI = mpi()
        op = _check_op(op, tensor._data.dtype)
        staged = _Staged(tensor, reduce=True)
        self._same_shapes(staged.array, "reduce")
        mine = self.rank() == root
        send = MPI.IN_PLACE if mine else staged.array
        receive = staged.array if mine else None
        request = self.comm.Ireduce(send, receive, op=_mpi_op(op, staged.array.dtype),
                                    root=root)
        size = self.size()

        def finish():
            if mine:
                if op == 1:
                    np.divide(staged.array, size, out=staged.array, casting="unsafe")
                staged.finish()

        return Work(self, "reduce", [request], finish, [tensor])

    def all_gather_flat(self, output, input_tensor, what):
        """Every rank's input concatenated along the first axis into ``output``."""
        source = _Staged(input_tensor, read_only=True)
        target = _Staged(output)
        if target.array.size != source.array.size * self.size():
            raise RuntimeError(f"{what}: output tensor size must be equal to world_size "
                               f"times input tensor size (got {tuple(output.shape)} and "
                               f"{tuple(input_tensor.shape)} with world_size {self.size()})")
        request = self.comm.Iallgather(source.array, target.array)
        return Work(self, what, [request], target.finish, [output])

    def gather_flat(self, buffer, input_tensor, root):
        source = _Staged(input_tensor, read_only=True)
        mine = self.rank() == root
        target = _Staged(buffer) if mine else None
        request = self.comm.Igather(source.array, target.array if mine else None, root=root)
        return Work(self, "gather", [request], target.finish if mine else None)

    def scatter_flat(self, output, buffer, root):
        target = _Staged(output)
        mine = self.rank() == root
        source = _Staged(buffer, read_only=True) if mine else None
        request = self.comm.Iscatter(source.array if mine else None, target.array, root=root)
        return Work(self, "scatter", [request], target.finish, [output])

    def reduce_scatter_flat(self, output, input_tensor, op, what):
        op = _check_op(op, input_tensor._data.dtype)
        source = _Staged(input_tensor, reduce=True, read_only=True)
        target = _Staged(output, reduce=True)
        if source.array.size != target.array.size * self.size():
            raise RuntimeError(f"{what}: input tensor must be the same size as output size "
                               f"times world size (got {tuple(input_tensor.shape)} and "
                               f"{tuple(output.shape)} with world_size {self.size()})")
        request = self.comm.Ireduce_scatter_block(source.array, target.array,
                                                  op=_mpi_op(op, source.array.dtype))
        size = self.size()

        def finish():
            if op == 1:
                np.divide(target.array, size, out=target.array, casting="unsafe")
            target.finish()

        return Work(self, what, [request], finish, [output])

    def all_to_all_flat(self, output, input_tensor, out_splits, in_splits, what):
        source = _Staged(input_tensor, read_only=True)
        target = _Staged(output)
        row_in = source.array.size // max(1, input_tensor.shape[0]) if input_tensor.dim() \
            else 1
        row_out = target.array.size // max(1, output.shape[0]) if output.dim() else 1
        counts_in = [int(s) * row_in for s in in_splits]
        counts_out = [int(s) * row_out for s in out_splits]
        displ_in = np.concatenate([[0], np.cumsum(counts_in)[:-1]]).astype(int).tolist()
        displ_out = np.concatenate([[0], np.cumsum(counts_out)[:-1]]).astype(int).tolist()
        request = self.comm.Ialltoallv([source.array, (counts_in, displ_in)],
                                       [target.array, (counts_out, displ_out)])
        return Work(self, what, [request], target.finish, [output])

    def barrier(self):
        return Work(self, "barrier", [self.comm.Ibarrier()])

    def send(self, tensor, peer, tag):
        staged = _Staged(tensor, read_only=True)
        return Work(self, "send", [self.comm.Isend(staged.array, dest=peer, tag=tag)])

    def recv(self, tensor, peer, tag):
        MPI = mpi()
        staged = _Staged(tensor)
        source = MPI.ANY_SOURCE if peer is None else peer
        request = self.comm.Irecv(staged.array, source=source,
                                  tag=MPI.ANY_TAG if tag is None else tag)
        work = Work(self, "recv", [request], staged.finish, [tensor])
        return work

    # ------------------------------------------------------------------------- objects
    def all_gather_bytes(self, payload: bytes) -> list:
        MPI = mpi()
        data = np.frombuffer(payload, np.uint8)
        sizes = np.empty(self.size(), np.int64)
        Work(self, "all_gather_object", [self.comm.Iallgather(
            [np.array([data.size], np.int64), MPI.INT64_T], [sizes, MPI.INT64_T])]).wait()
        out = np.empty(int(sizes.sum()), np.uint8)
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        Work(self, "all_gather_object", [self.comm.Iallgatherv(
            [data, MPI.BYTE], [out, (sizes.astype(int).tolist(), displs), MPI.BYTE])]).wait()
        return [out[d:d + int(s)].tobytes() for d, s in zip(displs, sizes)]

    def broadcast_bytes(self, payload: bytes | None, root: int) -> bytes:
        MPI = mpi()
        size = np.array([len(payload) if self.rank() == root else 0], np.int64)
        Work(self, "broadcast_object_list", [self.comm.Ibcast([size, MPI.INT64_T],
                                                               root=root)]).wait()
        data = np.frombuffer(payload, np.uint8).copy() if self.rank() == root else \
            np.empty(int(size[0]), np.uint8)
        Work(self, "broadcast_object_list", [self.comm.Ibcast([data, MPI.BYTE],
                                                               root=root)]).wait()
        return data.tobytes()

    def split(self, ranks):
        """A sub-group of ``ranks`` (global ranks, in that order); collective over this
        group. None for a process that is not a member."""
        MPI = mpi()
        member = self.global_rank in ranks
        color = 0 if member else MPI.UNDEFINED
        key = ranks.index(self.global_rank) if member else 0
        comm = self.comm.Split(color, key)
        if not member:
            return None
        return MpiGroup(comm, ranks, self.global_rank, self.timeout, self.watch,
                        self.backend_name)

    def destroy(self):
        MPI = mpi()
        if self.comm not in (MPI.COMM_WORLD, MPI.COMM_SELF, MPI.COMM_NULL):
            try:
                self.comm.Free()
            except MPI.Exception:
                pass


def dumps(obj) -> bytes:
    return pickle.dumps(obj)


def loads(data: bytes):
    return pickle.loads(data)
