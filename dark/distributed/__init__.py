"""dark.distributed: torch.distributed's API on MPI (mpi4py, CPU) and NCCL (CuPy, GPU).

Backends: ``"mpi"``; ``"gloo"`` (what the tutorials pass for CPU) is served by MPI; ``"nccl"``
runs CUDA tensors' collectives through NCCL, with MPI to start it. ``pip install dark[mpi]``
brings mpi4py and the mpich wheel (with ``mpiexec``).

Three ways to start the processes, as with torch:

1. ``mpiexec -n N python train.py`` (also Slurm's ``srun --mpi=pmi2``, and MPI host files
   for several machines): ``init_process_group("mpi")`` (or "gloo") uses MPI's world.
2. ``python -m dark.distributed.run --nproc-per-node N train.py ARGS`` (torchrun's flags,
   ``--nnodes`` / ``--node-rank`` / ``--master-addr`` / ``--master-port`` for several
   machines): each worker gets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
   ``MASTER_PORT`` as from torchrun, so ``init_process_group("gloo")`` with
   ``init_method="env://"`` runs unchanged.
3. ``dark.multiprocessing.spawn(fn, args, nprocs)`` with ``MASTER_ADDR`` / ``MASTER_PORT``
   set by the script and ``init_process_group("gloo", rank=rank, world_size=world_size)``.

In 2 and 3 each worker is started by its own ``mpiexec -n 1`` (MPI refuses to connect
processes it did not start) and the workers meet at ``MASTER_ADDR:MASTER_PORT``, where rank
0 hands out its MPI port; they join one MPI communicator with ``Accept`` / ``Connect`` /
``Merge``. That rendezvous then watches the ranks: one that dies makes the others' next
wait fail with an error naming it. A process started plainly (``python train.py``) with a
world size above 1 gets an error that names the launchers.
"""
from __future__ import annotations

import datetime
import os
import pickle
import time

import numpy as np

from .. import _backend, cuda
from .._tensor import Tensor
from . import _nccl, _store
from ._mpi import MpiGroup, ReduceOp, Work, mpi, under_mpiexec

__all__ = ["Backend", "GroupMember", "ReduceOp", "Work", "all_gather",
           "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all",
           "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
           "destroy_process_group", "gather", "gather_object", "get_backend",
           "get_default_backend_for_device", "get_rank",
           "get_world_size", "group", "init_process_group", "irecv", "is_available",
           "is_initialized", "is_mpi_available", "is_nccl_available", "isend",
           "new_group", "recv", "reduce", "reduce_scatter", "reduce_scatter_tensor",
           "scatter", "scatter_object_list", "send"]

default_pg_timeout = datetime.timedelta(minutes=30)


class Backend(str):
    """A backend name: ``Backend("GLOO") == "gloo"``."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    backend_list = ["gloo", "nccl", "mpi"]
    default_device_backend_map = {"cpu": "gloo", "cuda": "nccl"}

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name)}")
        value = name.lower()
        if value not in cls.backend_list and not value.startswith(("cpu:", "cuda:")):
            raise ValueError(f"Invalid backend: '{name}'")
        return str.__new__(cls, value)


class _NonMember:
    def __repr__(self):
        return "GroupMember.NON_GROUP_MEMBER"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801 - torch's name
    WORLD = None


class _State:
    world: MpiGroup | None = None
    backend: str | None = None
    server = None
    client = None
    nccl = {}


def get_default_backend_for_device(device) -> str:
    """The backend ``init_process_group`` takes by default for ``device`` (a str or
    dark.device): "gloo" for the CPU, "nccl" for CUDA, as torch's."""
    device_type = device.type if isinstance(device, _backend.device) else \
        _backend.device(device).type
    backend = Backend.default_device_backend_map.get(device_type)
    if backend is None:
        raise ValueError(f"Default backend not registered for device : {device}")
    return backend


def is_available() -> bool:
    """Whether distributed training can run: mpi4py (with an MPI library) is installed."""
    return is_mpi_available()


def is_mpi_available() -> bool:
    try:
        import mpi4py  # noqa: F401, PLC0415 - optional
    except ImportError:
        return False
    return True


def is_nccl_available() -> bool:
    try:
        from cupy.cuda import nccl  # noqa: F401, PLC0415 - optional
    except Exception:
        return False
    return True


def is_gloo_available() -> bool:
    return is_mpi_available()  # "gloo" is served by MPI


def is_initialized() -> bool:
    return _State.world is not None


def _world() -> MpiGroup:
    if _State.world is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _State.world


def _group(group_) -> MpiGroup:
    world = _world()
    if group_ is None or group_ is GroupMember.WORLD:
        return world
    if group_ is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
    return group_


def _seconds(timeout, backend) -> float:
    if timeout is None:
        return (datetime.timedelta(minutes=10) if backend == "nccl"
                else default_pg_timeout).total_seconds()
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                    f"{type(timeout).__name__}")


def _endpoint(init_method, rank):
    """(address, port) of rank 0's rendezvous service, from ``init_method``: env:// (or
    None) reads MASTER_ADDR / MASTER_PORT, tcp://host:port, file://path (rank 0 writes its
    address there)."""
    if init_method is None or init_method.startswith("env://"):
        addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
        if addr is None:
            raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                             "environment variable MASTER_ADDR expected, but not set")
        if port is None:
            raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                             "environment variable MASTER_PORT expected, but not set")
        return addr, int(port), None
    if init_method.startswith("tcp://"):
        host, _, port = init_method[len("tcp://"):].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"invalid init_method {init_method!r}: expected tcp://HOST:PORT")
        return host.strip("[]"), int(port), None
    if init_method.startswith("file://"):
        return None, 0, init_method[len("file://"):]
    raise ValueError(f"unsupported init_method {init_method!r}: use env://, tcp://HOST:PORT "
                     "or file://PATH")


def _env_int(name, given):
    if given is not None and int(given) != -1:
        return int(given)
    value = os.environ.get(name)
    return int(value) if value is not None else None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None) -> None:
    """Join the default process group (see the module's docstring for how processes meet).
    ``backend``: "gloo" or "mpi" (CPU, MPI) or "nccl" (CUDA tensors through NCCL); None
    picks "nccl" when CUDA is available, else "gloo"."""
    if _State.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if store is not None:
        raise ValueError("dark.distributed: a torch Store is not supported; processes meet "
                         "through init_method (env://, tcp://, file://)")
    if backend is None:
        backend = "nccl" if _cuda_ready() else "gloo"
    backend = Backend(backend)
    if backend.startswith(("cpu:", "cuda:")):  # "cpu:gloo,cuda:nccl"
        parts = dict(p.split(":") for p in backend.split(","))
        backend = Backend(parts.get("cuda", "gloo") if _cuda_ready() else parts.get("cpu",
                                                                                   "gloo"))
    if backend == "nccl" and not is_nccl_available():
        raise RuntimeError("Distributed package doesn't have NCCL built in (dark's NCCL "
                           "backend needs CuPy with NCCL and a GPU)")
    seconds = _seconds(timeout, backend)
    MPI = mpi()
    world = MPI.COMM_WORLD
    size = _env_int("WORLD_SIZE", world_size)
    me = _env_int("RANK", rank)
    watch = None
    if world.Get_size() > 1:  # started by mpiexec -n N
        if size is not None and size != world.Get_size():
            raise ValueError(f"world_size {size} does not match the {world.Get_size()} "
                             "processes mpiexec started")
        order = world.Get_rank() if me is None else me
        comm = world if order == world.Get_rank() else world.Split(0, order)
    else:
        size = 1 if size is None else size
        me = 0 if me is None else me
        if size < 1 or not 0 <= me < size:
            raise ValueError(f"Invalid rank {me} for world_size {size}")
        if size == 1:
            comm = MPI.COMM_SELF.Dup()
        else:
            if not under_mpiexec():
                raise RuntimeError(
                    f"dark.distributed: rank {me} of {size} was not started by an MPI launcher, "
                    "and MPI connects only processes it started. Start the workers with "
                    "`mpiexec -n N python script.py`, `python -m dark.distributed.run "
                    "--nproc-per-node N script.py`, or dark.multiprocessing.spawn (which "
                    "starts each one under mpiexec).")
            comm, watch = _rendezvous(MPI, init_method, me, size, seconds)
    global_rank = comm.Get_rank()
    _State.world = MpiGroup(comm, list(range(comm.Get_size())), global_rank, seconds, watch,
                            backend)
    _State.backend = str(backend)
    GroupMember.WORLD = group.WORLD = _State.world
    if backend == "nccl":
        _State.nccl[id(_State.world)] = _nccl_for(_State.world, device_id)


def _rendezvous(MPI, init_method, rank, size, seconds):
    addr, port, path = _endpoint(init_method, rank)
    if path is not None:  # file://: rank 0 publishes its service's address in the file
        addr, port = _file_endpoint(path, rank, seconds)
    if rank == 0:
        port_name = MPI.Open_port()
        server = _store.Server(addr, port, size, port_name, seconds)
        if path is not None:
            _publish(path, server)
        _State.server = server
        comm = MPI.COMM_SELF.Dup()
        first = 1
        watch = server.watch
    else:
        client = _store.Client(addr, port, rank, size, seconds)
        _State.client = client
        inter = MPI.COMM_SELF.Connect(client.port_name, root=0)
        comm = inter.Merge(high=True)
        inter.Free()
        client.joined()
        port_name = None
        first = rank + 1
        watch = client.watch
    for _ in range(first, size):  # admit the later ranks, one at a time, in rank order
        inter = comm.Accept(port_name if rank == 0 else None, root=0)
        merged = inter.Merge(high=False)
        inter.Free()
        comm.Free()
        comm = merged
        if rank == 0 and _State.server is not None:
            _State.server.joined_ranks = comm.Get_size()
    if rank == 0:
        MPI.Close_port(port_name)
    return comm, watch


def _file_endpoint(path, rank, seconds):
    if rank == 0:
        return "127.0.0.1", 0
    deadline = time.monotonic() + seconds
    while True:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                host, port = text.rsplit(":", 1)
                return host, int(port)
        except (FileNotFoundError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"dark.distributed: rank {rank} found no rendezvous address in "
                               f"{path} within {seconds:g} s")
        time.sleep(0.05)


def _publish(path, server):
    host, port = server.listener.getsockname()
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{host}:{port}")
    os.replace(tmp, path)


def _cuda_ready() -> bool:
    return cuda.is_available()


def destroy_process_group(group=None) -> None:
    """Leave the default group (or free ``group``): after it, collectives need a new
    ``init_process_group``."""
    if group is not None and group is not _State.world:
        if group is not GroupMember.NON_GROUP_MEMBER:
            group.destroy()
        return
    world = _world()
    MPI = mpi()
    comm = world.comm
    rendezvous = world.watch is not None
    if rendezvous:
        # the rendezvous closes first (its connections' ends are no longer deaths), then a
        # barrier: no rank leaves (and may meet again on the same port) before rank 0's
        # service is gone
        world.watch.closing = True
        world.watch = None
        if _State.server is not None:
            _State.server.close()
        if comm.Get_size() > 1:
            try:
                world.barrier().wait()
            except Exception:
                pass
    if comm not in (MPI.COMM_WORLD, MPI.COMM_SELF):
        try:
            comm.Disconnect() if rendezvous else comm.Free()
        except MPI.Exception:
            pass
    for end in (_State.client, _State.server):
        if end is not None:
            end.close()
    _State.world = _State.backend = _State.client = _State.server = None
    _State.nccl = {}
    GroupMember.WORLD = None
    globals()["group"].WORLD = None  # the class `group` (this function's argument hides it)


def get_rank(group=None) -> int:
    g = _group(group)
    return g.rank()


def get_world_size(group=None) -> int:
    g = _group(group)
    return g.size()


def get_backend(group=None) -> str:
    g = _group(group)
    return g.backend_name


def get_global_rank(group, group_rank: int) -> int:
    return _group(group).ranks[group_rank]


def get_process_group_ranks(group) -> list:
    return list(_group(group).ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None,
              sort_ranks=True):
    """A group of ``ranks`` (global ranks; all of them when None). Every rank of the world
    must call it; a rank outside ``ranks`` gets ``GroupMember.NON_GROUP_MEMBER``."""
    world = _world()
    if ranks is None:
        ranks = list(range(world.size()))
    ranks = sorted(int(r) for r in ranks) if sort_ranks else [int(r) for r in ranks]
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"Invalid rank {r} for world_size {world.size()}")
    sub = world.split(ranks)
    if sub is None:
        return GroupMember.NON_GROUP_MEMBER
    if timeout is not None:
        sub.timeout = _seconds(timeout, world.backend_name)
    if backend is not None:
        sub.backend_name = str(Backend(backend))
    world_nccl = _nccl_of(world)
    if world_nccl is not None:  # an "nccl" world's groups get their own NCCL communicators
        _State.nccl[id(sub)] = _nccl_for(sub, world_nccl.device)
    return sub


# -------------------------------------------------------------------------------- helpers
def _member(g) -> bool:
    return g is not GroupMember.NON_GROUP_MEMBER


def _finish(work: Work, async_op: bool):
    if async_op:
        return work
    work.wait()
    return None


def _root(g, global_rank, group_rank, what):
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"Can not specify both {what} and group_{what}")
        return int(group_rank)
    if global_rank is None:
        return 0
    return g.group_rank_of(global_rank, what)


def _checked_tensor(t, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument: {what} should be a Tensor, got "
                        f"{type(t).__name__}")
    return t


def _nccl_of(g):
    return _State.nccl.get(id(g))


# ----------------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group in place: every rank gets the result."""
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    nccl = _nccl_of(g)
    if nccl is not None and tensor.is_cuda:
        return _finish(nccl.all_reduce(tensor, op), async_op)
    return _finish(g.all_reduce(tensor, op), async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    root = _root(g, src, group_src, "src")
    if not 0 <= root < g.size():
        raise RuntimeError(f"invalid root rank: {root}")
    nccl = _nccl_of(g)
    if nccl is not None and tensor.is_cuda:
        return _finish(nccl.broadcast(tensor, root), async_op)
    return _finish(g.broadcast(tensor, root), async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    root = _root(g, dst, group_dst, "dst")
    if not 0 <= root < g.size():
        raise RuntimeError(f"invalid root rank: {root}")
    return _finish(g.reduce(tensor, root, op), async_op)


def _flat_buffer(like, count):
    xp = _backend.array_module(like._data)
    return Tensor._make(xp.empty((count,) + tuple(like.shape), dtype=like._data.dtype))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Each rank's ``tensor`` into ``tensor_list[rank]`` on every rank."""
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    if len(tensor_list) != g.size():
        raise ValueError(f"all_gather: tensor_list must have world_size ({g.size()}) "
                         f"tensors, got {len(tensor_list)}")
    for t in tensor_list:
        if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
            raise ValueError(f"all_gather: every output tensor must have the input's shape "
                             f"{tuple(tensor.shape)} and dtype {tensor.dtype}, got "
                             f"{tuple(t.shape)} {t.dtype}")
    buffer = _flat_buffer(tensor, g.size())
    work = g.all_gather_flat(buffer, tensor, "all_gather")
    inner = work._finish

    def finish():
        if inner is not None:
            inner()
        for i, t in enumerate(tensor_list):
            t._data[...] = buffer._data[i]
            t._bump_version()

    work._finish = finish
    work._outputs = list(tensor_list)
    return _finish(work, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    g = _group(group)
    return _finish(g.all_gather_flat(_checked_tensor(output_tensor, "output_tensor"),
                                     _checked_tensor(input_tensor, "input_tensor"),
                                     "all_gather_into_tensor"), async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    root = _root(g, dst, group_dst, "dst")
    mine = g.rank() == root
    if mine:
        if gather_list is None or len(gather_list) != g.size():
            raise ValueError("Argument ``gather_list`` must be specified on destination rank "
                             f"and hold world_size ({g.size()}) tensors.")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                         "ranks.")
    buffer = _flat_buffer(tensor, g.size()) if mine else None
    work = g.gather_flat(buffer, tensor, root)
    inner = work._finish

    def finish():
        if inner is not None:
            inner()
        if mine:
            for i, t in enumerate(gather_list):
                t._data[...] = buffer._data[i]
                t._bump_version()

    work._finish = finish
    return _finish(work, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    g = _group(group)
    _checked_tensor(tensor, "tensor")
    root = _root(g, src, group_src, "src")
    mine = g.rank() == root
    buffer = None
    if mine:
        if scatter_list is None or len(scatter_list) != g.size():
            raise ValueError("Argument ``scatter_list`` must be specified on source rank and "
                             f"hold world_size ({g.size()}) tensors.")
        xp = _backend.array_module(tensor._data)
        buffer = Tensor._make(xp.stack([_backend.asarray_on(t._data, tensor.device)
                                        for t in scatter_list]))
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                         "ranks.")
    return _finish(g.scatter_flat(tensor, buffer, root), async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    g = _group(group)
    if len(input_list) != g.size():
        raise ValueError(f"reduce_scatter: input_list must hold world_size ({g.size()}) "
                         f"tensors, got {len(input_list)}")
    xp = _backend.array_module(output._data)
    stacked = Tensor._make(xp.stack([t._data for t in input_list]))
    return _finish(g.reduce_scatter_flat(output, stacked, op, "reduce_scatter"), async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None,  # noqa: A002
                          async_op=False):
    g = _group(group)
    return _finish(g.reduce_scatter_flat(output, input, op, "reduce_scatter_tensor"),
                   async_op)


def all_to_all_single(output, input, output_split_sizes=None,  # noqa: A002
                      input_split_sizes=None, group=None, async_op=False):
    g = _group(group)
    n = g.size()

    def splits(given, tensor, name):
        if given is None or len(given) == 0:
            if tensor.dim() == 0 or tensor.shape[0] % n:
                raise ValueError(f"all_to_all_single: {name}'s first dimension "
                                 f"({tensor.shape[0] if tensor.dim() else 0}) must divide by "
                                 f"world_size {n} when no split sizes are given")
            return [tensor.shape[0] // n] * n
        if len(given) != n or sum(given) != tensor.shape[0]:
            raise ValueError(f"all_to_all_single: {name} split sizes {list(given)} must be "
                             f"{n} numbers summing to {tensor.shape[0]}")
        return list(given)

    return _finish(g.all_to_all_flat(output, input, splits(output_split_sizes, output,
                                                             "output"),
                                     splits(input_split_sizes, input, "input"),
                                     "all_to_all_single"), async_op)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    g = _group(group)
    n = g.size()
    if len(output_tensor_list) != n or len(input_tensor_list) != n:
        raise ValueError(f"all_to_all: both lists must hold world_size ({n}) tensors")
    xp = _backend.array_module(input_tensor_list[0]._data)
    flat_in = Tensor._make(xp.concatenate([t._data.reshape(-1) for t in input_tensor_list]))
    sizes_out = [int(t.numel()) for t in output_tensor_list]
    flat_out = Tensor._make(xp.empty(sum(sizes_out), dtype=output_tensor_list[0]._data.dtype))
    work = g.all_to_all_flat(flat_out, flat_in, sizes_out,
                             [int(t.numel()) for t in input_tensor_list], "all_to_all")
    inner = work._finish

    def finish():
        if inner is not None:
            inner()
        offset = 0
        for t, count in zip(output_tensor_list, sizes_out):
            t._data[...] = flat_out._data[offset:offset + count].reshape(t._data.shape)
            t._bump_version()
            offset += count

    work._finish = finish
    work._outputs = list(output_tensor_list)
    return _finish(work, async_op)


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    g = _group(group)
    work = g.barrier()
    if timeout is not None:
        work.wait(timeout)
        return work if async_op else None
    return _finish(work, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    barrier(group, timeout=timeout or datetime.timedelta(seconds=_group(group).timeout))


# ------------------------------------------------------------------------ point to point
def _peer(g, rank, group_rank, what):
    if group_rank is not None:
        return int(group_rank)
    if rank is None:
        raise ValueError(f"Must specify {what} or group_{what}")
    peer = g.group_rank_of(rank, what)
    if peer == g.rank():
        raise ValueError("Invalid destination rank: should not be the same as the rank of "
                         "the current process." if what == "dst" else
                         "Invalid source rank: should not be the same as the rank of the "
                         "current process.")
    return peer


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    g = _group(group)
    return g.send(_checked_tensor(tensor, "tensor"), _peer(g, dst, group_dst, "dst"), tag)


def send(tensor, dst=None, group=None, tag=0, group_dst=None) -> None:
    isend(tensor, dst, group, tag, group_dst).wait()


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    g = _group(group)
    peer = None if src is None and group_src is None else _peer(g, src, group_src, "src")
    return g.recv(_checked_tensor(tensor, "tensor"), peer, tag)


def recv(tensor, src=None, group=None, tag=0, group_src=None) -> int:
    """Receive into ``tensor`` (from any rank when ``src`` is None); returns the sender's
    rank."""
    g = _group(group)
    work = irecv(tensor, src, group, tag, group_src)
    work.wait()
    return g.ranks[work.status.Get_source()]


# ------------------------------------------------------------------------------ objects
def all_gather_object(object_list, obj, group=None) -> None:
    g = _group(group)
    if len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list must have world_size ({g.size()}) "
                         "entries")
    for i, payload in enumerate(g.all_gather_bytes(pickle.dumps(obj))):
        object_list[i] = pickle.loads(payload)


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    g = _group(group)
    root = _root(g, dst, group_dst, "dst")
    gathered = g.all_gather_bytes(pickle.dumps(obj))
    if g.rank() == root:
        if object_gather_list is None or len(object_gather_list) != g.size():
            raise ValueError("Argument ``object_gather_list`` must be specified on destination "
                             "rank.")
        for i, payload in enumerate(gathered):
            object_gather_list[i] = pickle.loads(payload)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    g = _group(group)
    root = _root(g, src, group_src, "src")
    payload = pickle.dumps(list(object_list)) if g.rank() == root else None
    received = pickle.loads(g.broadcast_bytes(payload, root))
    object_list[:] = received


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    g = _group(group)
    root = _root(g, src, group_src, "src")
    payload = pickle.dumps(list(scatter_object_input_list)) if g.rank() == root else None
    everything = pickle.loads(g.broadcast_bytes(payload, root))
    scatter_object_output_list[0] = everything[g.rank()]


def _nccl_for(world, device_id):
    return _nccl.NcclGroup(world, device_id)


# convenience for tests / tools
def _numpy_of(t) -> np.ndarray:
    return t._data if type(t._data) is np.ndarray else t._data.get()
