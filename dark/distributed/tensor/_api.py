"""DTensor: a dark Tensor that is one rank's piece of a tensor laid out over a DeviceMesh.

A DTensor's ``_data`` is its local piece (so autograd, ``nn.Parameter``, optimizers and
``module.to`` work on the pieces as they are); its shape, size, ndim and numel are the
whole tensor's, as torch's. Ops on DTensors go through the op dispatch of ``_dispatch``
(sharding rules: each op runs on the local pieces, after the redistributions its rule asks
for), installed when the first DTensor is made."""
from __future__ import annotations

import inspect
import math
import weakref

from ... import _backend
from ..._tensor import Size, Tensor
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...nn.parameter import Parameter
from ...ops import creation as _creation
from ...ops import random as _random_ops
from ...ops.shape import Expand, Reshape, View, _infer_shape, _shape_args
from .. import broadcast
from ..device_mesh import MESH_STACK, DeviceMesh
from ._redistribute import Redistribute, local_shape, redistribute_array, split_piece
from .placement_types import Partial, Placement, Replicate, Shard

__all__ = ["DTensor", "distribute_module", "distribute_tensor", "empty", "full", "ones",
           "rand", "randn", "zeros"]

# the DTensor whose piece an array is (by the array's id): op wrappers hand some tensors to
# their ops as raw arrays (torch.where's condition, a mask), read from ``_data``
_OWNERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def array_owner(array):
    """The spec of the DTensor whose local piece ``array`` is (None for other arrays)."""
    owner = _OWNERS.get(id(array))
    if owner is not None and owner._data is array:
        return owner._spec
    return None


class DTensorSpec:
    """A DTensor's layout: its mesh, one placement per mesh dimension, its global shape."""

    __slots__ = ("mesh", "placements", "shape")

    def __init__(self, mesh: DeviceMesh, placements, shape):
        self.mesh = mesh
        self.placements = tuple(placements)
        self.shape = tuple(int(s) for s in shape)

    def __eq__(self, other) -> bool:
        return (isinstance(other, DTensorSpec) and self.mesh == other.mesh
                and self.placements == other.placements and self.shape == other.shape)

    def __repr__(self) -> str:
        return f"DTensorSpec({self.mesh}, {self.placements}, {self.shape})"


def normalize_placements(placements, mesh: DeviceMesh, ndim: int) -> tuple:
    if placements is None:
        return (Replicate(),) * mesh.ndim
    placements = tuple(placements)
    if len(placements) != mesh.ndim:
        raise ValueError(f"`placements` must have the same length as `device_mesh.ndim`! Found "
                         f"placements length: {len(placements)}, and device_mesh.ndim: "
                         f"{mesh.ndim}.")
    out = []
    for p in placements:
        if not isinstance(p, Placement):
            raise TypeError(f"placements must be Placement objects (Shard, Replicate, "
                            f"Partial), got {p!r}")
        if isinstance(p, Shard):
            dim = p.dim + ndim if p.dim < 0 else p.dim
            if not 0 <= dim < ndim:
                raise IndexError(f"Shard({p.dim}) is out of range for a {ndim}-D tensor")
            p = Shard(dim)
        out.append(p)
    partial_ops = {p.reduce_op for p in out if isinstance(p, Partial)}
    if len(partial_ops) > 1:
        raise ValueError(f"Mixed Partial reduce types are not supported: {tuple(out)}")
    return tuple(out)


def _current_mesh(mesh):
    if mesh is not None:
        return mesh
    if MESH_STACK:
        return MESH_STACK[-1]
    raise RuntimeError("No device mesh is currently active!")


class DTensor(Tensor):
    """torch.distributed.tensor.DTensor: this rank's piece (``to_local()``) of a tensor laid
    out over ``device_mesh`` as ``placements``. Make one with ``distribute_tensor`` or
    ``DTensor.from_local``."""

    __slots__ = ()

    # -------------------------------------------------------------- making them
    @staticmethod
    def _wrap(local: Tensor, spec: DTensorSpec) -> DTensor:
        """``local`` (a plain Tensor just made by an op or Function) becomes the DTensor."""
        local.__class__ = DTensor
        local._spec = spec
        _OWNERS[id(local._data)] = local
        _dispatch_on()
        return local

    @staticmethod
    def from_local(local_tensor: Tensor, device_mesh: DeviceMesh | None = None,
                   placements=None, *, run_check: bool = False, shape=None,
                   stride=None) -> DTensor:
        """A DTensor whose piece on this rank is ``local_tensor`` (differentiable: gradients
        reach ``local_tensor``). Without ``shape`` the whole tensor's shape assumes even
        pieces."""
        if isinstance(local_tensor, DTensor):
            raise RuntimeError(f"the local_tensor argument only accepts dark.Tensor but got "
                               f"{type(local_tensor)} value.")
        if not isinstance(local_tensor, Tensor):
            raise TypeError(f"from_local expects a local Tensor, got "
                            f"{type(local_tensor).__name__}")
        mesh = _current_mesh(device_mesh)
        if mesh.device_type != local_tensor.device.type:
            local_tensor = local_tensor.to(mesh.device_type)
        placements = normalize_placements(placements, mesh, local_tensor.ndim)
        if shape is None:
            global_shape = list(local_tensor.shape)
            for i, p in enumerate(placements):
                if isinstance(p, Shard):
                    global_shape[p.dim] *= mesh.size(i)
        else:
            global_shape = list(shape)
        array = local_tensor._data
        if run_check and any(isinstance(p, Replicate) for p in placements):
            # a Replicate's values are those of the first rank of its mesh dimension
            copy = Tensor._make(array.copy())
            for i, p in enumerate(placements):
                if isinstance(p, Replicate) and mesh.size(i) > 1:
                    src = mesh._ranks[tuple(0 if d == i else c
                                            for d, c in enumerate(mesh._coordinate))]
                    broadcast(copy, src=int(src), group=mesh.get_group(i))
            array = copy._data
        spec = DTensorSpec(mesh, placements, global_shape)
        if is_grad_enabled() and local_tensor.requires_grad:
            return DTensor._wrap(_FromLocal.apply(local_tensor, array), spec)
        counter = local_tensor._version_counter() if array is local_tensor._data else None
        return DTensor._wrap(Tensor._make(array, counter=counter), spec)

    # -------------------------------------------------------------- layout
    @property
    def placements(self) -> tuple:
        return self._spec.placements

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._spec.mesh

    @property
    def _local_tensor(self) -> Tensor:
        return Tensor._make(self._data, counter=self._version_counter())

    @property
    def shape(self) -> Size:
        return Size(self._spec.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._spec.shape)
        ndim = len(self._spec.shape)
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-ndim}, {ndim - 1}], but got {dim})")
        return self._spec.shape[dim % ndim]

    def dim(self) -> int:
        return len(self._spec.shape)

    @property
    def ndim(self) -> int:
        return len(self._spec.shape)

    def ndimension(self) -> int:
        return len(self._spec.shape)

    def numel(self) -> int:
        return math.prod(self._spec.shape)

    nelement = numel

    def stride(self, dim: int | None = None):
        strides, step = [], 1
        for size in reversed(self._spec.shape):
            strides.append(step)
            step *= max(size, 1)
        strides = tuple(reversed(strides))
        return strides if dim is None else strides[dim]

    def __len__(self) -> int:
        if not self._spec.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._spec.shape[0]

    # -------------------------------------------------------------- conversions
    def to_local(self, *, grad_placements=None) -> Tensor:
        """This rank's piece as a plain Tensor (differentiable). ``grad_placements``: how
        the gradient that will reach it is laid out, when not as this DTensor."""
        if grad_placements is not None:
            grad_placements = normalize_placements(grad_placements, self._spec.mesh,
                                                   self.ndim)
        if is_grad_enabled() and self._requires_grad:
            return _ToLocal.apply(local_arg(self), self._spec, grad_placements)
        return Tensor._make(self._data, counter=self._version_counter())

    def redistribute(self, device_mesh: DeviceMesh | None = None, placements=None, *,
                     async_op: bool = False, forward_dtype=None,
                     backward_dtype=None) -> DTensor:
        """The same tensor laid out as ``placements`` (the collectives that takes;
        differentiable)."""
        mesh = self._spec.mesh if device_mesh is None else device_mesh
        if mesh != self._spec.mesh:
            raise NotImplementedError("Cross device mesh comm not supported yet!")
        if placements is None:
            raise RuntimeError("placements is needed for redistribute!")
        placements = normalize_placements(placements, mesh, self.ndim)
        for i, p in enumerate(placements):
            if isinstance(p, Partial) and self.placements[i] != p:
                raise RuntimeError(f"Can not redistribute from {self.placements[i]} to {p}, "
                                   "redistributing to Partial is for internal use only!")
        return redistribute(self, placements)

    def full_tensor(self, *, grad_placements=None) -> Tensor:
        """The whole tensor on every rank, a plain Tensor (differentiable)."""
        whole = redistribute(self, (Replicate(),) * self._spec.mesh.ndim)
        return whole.to_local(grad_placements=grad_placements)

    # -------------------------------------------------------------- autograd state
    @property
    def grad(self):
        grad = Tensor.grad.fget(self)
        if grad is None or isinstance(grad, DTensor):
            return grad
        placements = tuple(Replicate() if isinstance(p, Partial) else p
                           for p in self._spec.placements)
        return DTensor._wrap(Tensor._make(grad._data, counter=grad._version_counter()),
                             DTensorSpec(self._spec.mesh, placements, self._spec.shape))

    @grad.setter
    def grad(self, value) -> None:
        Tensor.grad.fset(self, value)

    def detach(self) -> DTensor:
        return DTensor._wrap(Tensor._make(self._data, counter=self._version_counter()),
                             self._spec)

    @property
    def data(self) -> DTensor:
        return self.detach()

    @data.setter
    def data(self, value) -> None:
        Tensor.data.fset(self, value)
        if isinstance(value, DTensor):
            self._spec = value._spec

    # -------------------------------------------------------------- values
    def item(self):
        return self.full_tensor().item()

    def tolist(self):
        return self.full_tensor().tolist()

    def numpy(self, *, force: bool = False):
        raise RuntimeError("DTensor.numpy(): call .full_tensor() or .to_local() first")

    def __repr__(self) -> str:
        local = Tensor._make(self._data)
        return (f"DTensor(local_tensor={local!r}, device_mesh={self._spec.mesh}, "
                f"placements={self._spec.placements})")

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        spec = self._spec
        copy = Tensor._make(self._data.copy(), counter=None)
        copy._requires_grad = self._requires_grad
        out = DTensor._wrap(copy, spec)
        if type(self) is not DTensor:  # a parameter
            out = type(self)(out, self._requires_grad)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        raise RuntimeError("dark: pickling a DTensor is not supported; save "
                           "dtensor.full_tensor() or dtensor.to_local()")

    # -------------------------------------------------------------- shape methods
    # The Tensor methods whose wrappers size their op from the array (here the local
    # piece): sized from the whole tensor instead (view / reshape / flatten / unflatten /
    # expand, through the ops' sharding rules), or run on the whole tensor (the indexing and
    # splitting ones: made Replicate, computed, Replicate out).
    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, Size)):
            return _on_whole(self, "view", shape, {})
        return View.apply(self, shape=_infer_shape(_shape_args(shape), self.numel()))

    def reshape(self, *shape):
        return Reshape.apply(self, shape=_infer_shape(_shape_args(shape), self.numel()))

    def view_as(self, other):
        return self.view(tuple(other.shape))

    def reshape_as(self, other):
        return self.reshape(tuple(other.shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        shape = self._spec.shape
        if not shape:
            return self.reshape(1)
        start, end = start_dim % len(shape), end_dim % len(shape)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after "
                               "end_dim")
        return self.reshape(shape[:start] + (math.prod(shape[start:end + 1]),)
                            + shape[end + 1:])

    def unflatten(self, dim: int, sizes):
        shape = self._spec.shape
        dim %= len(shape)
        sizes = list(sizes)
        if -1 in sizes:
            known = math.prod(s for s in sizes if s != -1)
            sizes[sizes.index(-1)] = shape[dim] // known
        return self.reshape(shape[:dim] + tuple(sizes) + shape[dim + 1:])

    def expand(self, *sizes):
        sizes = list(_shape_args(sizes))
        shape = self._spec.shape
        offset = len(sizes) - len(shape)
        if offset < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be "
                               f"greater or equal to the number of dimensions in the tensor "
                               f"({len(shape)})")
        for d, s in enumerate(shape):
            if sizes[d + offset] == -1:
                sizes[d + offset] = s
            elif s != 1 and sizes[d + offset] != s:
                raise RuntimeError(f"The expanded size of the tensor ({sizes[d + offset]}) must "
                                   f"match the existing size ({s}) at non-singleton dimension "
                                   f"{d + offset}.  Target sizes: {sizes}.  Tensor sizes: "
                                   f"{list(shape)}")
        if tuple(sizes) == shape:
            return self
        return Expand.apply(self, shape=tuple(sizes))

    def expand_as(self, other):
        return self.expand(tuple(other.shape))

    def __getitem__(self, key):
        return _on_whole(self, "__getitem__", (key,), {})

    def split(self, *args, **kwargs):
        return _on_whole(self, "split", args, kwargs)

    def chunk(self, *args, **kwargs):
        return _on_whole(self, "chunk", args, kwargs)

    def unbind(self, *args, **kwargs):
        return _on_whole(self, "unbind", args, kwargs)

    def narrow(self, *args, **kwargs):
        return _on_whole(self, "narrow", args, kwargs)

    def select(self, *args, **kwargs):
        return _on_whole(self, "select", args, kwargs)

    def squeeze(self, *args, **kwargs):
        return _on_whole(self, "squeeze", args, kwargs)

    def tensor_split(self, *args, **kwargs):
        return _on_whole(self, "tensor_split", args, kwargs)

    def sort(self, *args, **kwargs):
        return _on_whole(self, "sort", args, kwargs)

    def argsort(self, *args, **kwargs):
        return _on_whole(self, "argsort", args, kwargs)

    def topk(self, *args, **kwargs):
        return _on_whole(self, "topk", args, kwargs)

    def kthvalue(self, *args, **kwargs):
        return _on_whole(self, "kthvalue", args, kwargs)

    def gather(self, *args, **kwargs):
        return _on_whole(self, "gather", args, kwargs)

    def index_select(self, *args, **kwargs):
        return _on_whole(self, "index_select", args, kwargs)

    def take(self, *args, **kwargs):
        return _on_whole(self, "take", args, kwargs)

    def masked_select(self, *args, **kwargs):
        return _on_whole(self, "masked_select", args, kwargs)

    def __iter__(self):
        return iter(self.unbind(0))

    # -------------------------------------------------------------- new_* factories
    # a DTensor as torch's: laid out as this one when of its shape, else Replicate
    def new_empty(self, *size, **kwargs):
        return _new_factory(self, "new_empty", size, (), kwargs)

    def new_zeros(self, *size, **kwargs):
        return _new_factory(self, "new_zeros", size, (), kwargs)

    def new_ones(self, *size, **kwargs):
        return _new_factory(self, "new_ones", size, (), kwargs)

    def new_full(self, size, fill_value, **kwargs):
        return _new_factory(self, "new_full", (size,), (fill_value,), kwargs)

    # -------------------------------------------------------------- random fills
    # (nn.init's): the whole tensor drawn on every rank from the same stream, each keeping
    # its piece, so a parallelized model initialized after parallelize_module gets the
    # values of the single-process model (given the same seed on every rank)
    def uniform_(self, *args, **kwargs):
        return _random_fill(self, "uniform_", args, kwargs)

    def normal_(self, *args, **kwargs):
        return _random_fill(self, "normal_", args, kwargs)

    def bernoulli_(self, *args, **kwargs):
        return _random_fill(self, "bernoulli_", args, kwargs)

    def random_(self, *args, **kwargs):
        return _random_fill(self, "random_", args, kwargs)

    def exponential_(self, *args, **kwargs):
        return _random_fill(self, "exponential_", args, kwargs)

    def log_normal_(self, *args, **kwargs):
        return _random_fill(self, "log_normal_", args, kwargs)

    def cauchy_(self, *args, **kwargs):
        return _random_fill(self, "cauchy_", args, kwargs)

    def geometric_(self, *args, **kwargs):
        return _random_fill(self, "geometric_", args, kwargs)

    # -------------------------------------------------------------- parameters
    @staticmethod
    def _as_parameter(data: DTensor, requires_grad: bool):
        """``nn.Parameter(dtensor)``: a parameter that is a DTensor (Parameter.__init__
        then takes ``data``'s piece)."""
        param = Tensor.__new__(DParameter)
        param._spec = data._spec
        return param


class DParameter(DTensor, Parameter):
    """What ``nn.Parameter(dtensor)`` makes: a Parameter (modules register it) that is a
    DTensor."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        Parameter.__init__(self, data, requires_grad)
        self._spec = data._spec
        _OWNERS[id(self._data)] = self

    def __repr__(self) -> str:
        return "Parameter containing:\n" + DTensor.__repr__(self)


def local_arg(dt: DTensor) -> Tensor:
    """A plain Tensor that is ``dt`` for autograd (same array, node, version counter, and,
    for a leaf, the same AccumulateGrad): what the ops and Functions are given."""
    view = Tensor._make(dt._data, dt._requires_grad, dt.grad_fn, dt._output_nr,
                        dt._version_counter())
    if dt._requires_grad and dt.grad_fn is None:
        acc = dt._grad_accumulator()
        view._grad_acc = weakref.ref(acc)
        view._keep_acc = acc
    base = dt._base
    if base is not None:
        view._base = base
    return view


def _on_whole(dt: DTensor, name: str, args, kwargs):
    """Tensor method ``name`` run on the whole tensor (every rank the same), its tensor
    results Replicate DTensors (differentiable throughout)."""
    mesh = dt._spec.mesh
    whole = redistribute(dt, (Replicate(),) * mesh.ndim).to_local()
    args = [a.full_tensor() if isinstance(a, DTensor) else a for a in args]
    kwargs = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in kwargs.items()}
    result = getattr(Tensor, name)(whole, *args, **kwargs)
    return _replicated(result, mesh)


def _new_factory(dt: DTensor, name: str, size, args, kwargs):
    spec = dt._spec
    size = tuple(int(n) for n in _shape_args(size))
    placements = tuple(Replicate() if isinstance(p, Partial) else p for p in spec.placements)
    if size != spec.shape:
        placements = (Replicate(),) * spec.mesh.ndim
    piece = local_shape(size, spec.mesh, placements)
    local = getattr(Tensor, name)(Tensor._make(dt._data), piece, *args, **kwargs)
    return DTensor._wrap(local, DTensorSpec(spec.mesh, placements, size))


def _random_fill(dt: DTensor, name: str, args, kwargs):
    spec = dt._spec
    if is_grad_enabled() and dt._requires_grad:  # torch's in-place check (a leaf raises)
        return getattr(Tensor, name)(dt, *args, **kwargs)
    if any(isinstance(p, Partial) for p in spec.placements):
        raise RuntimeError(f"{name} of a DTensor with Partial placements {spec.placements} is "
                           "not supported")
    args = [a.full_tensor() if isinstance(a, DTensor) else a for a in args]
    xp = _backend.array_module(dt._data)
    whole = Tensor._make(xp.empty(spec.shape, dtype=dt._data.dtype))
    getattr(Tensor, name)(whole, *args, **kwargs)
    piece = whole._data
    for i, p in enumerate(spec.placements):
        if isinstance(p, Shard):
            piece = split_piece(piece, p.dim, spec.mesh.size(i), spec.mesh._coordinate[i])
    dt._data[...] = piece
    dt._bump_version()
    return dt


def _replicated(value, mesh):
    if isinstance(value, Tensor):
        return DTensor.from_local(value, mesh, (Replicate(),) * mesh.ndim)
    if isinstance(value, (tuple, list)):
        items = [_replicated(v, mesh) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


class _FromLocal(Function):
    @staticmethod
    def forward(ctx, local, array):
        return Tensor._make(array)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class _ToLocal(Function):
    @staticmethod
    def forward(ctx, local, spec, grad_placements):
        ctx.layout = (spec, grad_placements)
        return Tensor._make(local._data)

    @staticmethod
    def backward(ctx, grad):
        spec, grad_placements = ctx.layout
        if grad_placements is not None and grad_placements != spec.placements:
            grad = Tensor._make(redistribute_array(grad._data, spec.mesh, spec.shape,
                                                   grad_placements, spec.placements))
        return grad, None, None


def redistribute(dt: DTensor, placements) -> DTensor:
    """``dt`` laid out as ``placements`` (any, Partial included; differentiable)."""
    spec = dt._spec
    placements = tuple(placements)
    if placements == spec.placements:
        return dt
    new_spec = DTensorSpec(spec.mesh, placements, spec.shape)
    if is_grad_enabled() and dt._requires_grad:
        local = Redistribute.apply(local_arg(dt), spec.mesh, spec.shape, spec.placements,
                                   placements)
    else:
        local = Tensor._make(redistribute_array(dt._data, spec.mesh, spec.shape,
                                                spec.placements, placements))
    return DTensor._wrap(local, new_spec)


# ------------------------------------------------------------------ distributing
def distribute_tensor(tensor: Tensor, device_mesh: DeviceMesh | None = None, placements=None,
                      *, src_data_rank: int | None = 0) -> DTensor:
    """``tensor`` laid out over ``device_mesh`` as ``placements`` (Replicate by default): a
    leaf DTensor, requiring grad as ``tensor`` does. The values are rank ``src_data_rank``'s
    (of each mesh dimension; broadcast); None: each rank's own."""
    mesh = _current_mesh(device_mesh)
    if isinstance(tensor, DTensor):
        placements = normalize_placements(placements, mesh, tensor.ndim)
        if tensor.device_mesh != mesh:
            raise ValueError(f"Cannot distribute a DTensor with device mesh "
                             f"{tensor.device_mesh} to a different device mesh {mesh}.")
        if tensor.placements != placements:
            raise ValueError(f"Cannot distribute a DTensor with placements "
                             f"{tensor.placements} to a different placements {placements}. do "
                             "you want to call `redistribute` instead?")
        return tensor
    placements = normalize_placements(placements, mesh, tensor.ndim)
    if mesh.device_type != tensor.device.type:
        tensor = tensor.to(mesh.device_type)
    array = tensor._data
    if src_data_rank is not None and mesh._coordinate is not None:
        array = array.copy()
        whole = Tensor._make(array)
        for i in range(mesh.ndim):
            if mesh.size(i) == 1:
                continue
            src = mesh._ranks[tuple(int(src_data_rank) if d == i else c
                                    for d, c in enumerate(mesh._coordinate))]
            broadcast(whole, src=int(src), group=mesh.get_group(i))
        array = whole._data
    local = redistribute_array(array, mesh, tuple(tensor.shape),
                               (Replicate(),) * mesh.ndim, placements)
    if local is tensor._data:
        local = local.copy()
    out = Tensor._make(local)
    spec = DTensorSpec(mesh, placements, tuple(tensor.shape))
    out = DTensor._wrap(out, spec)
    if tensor.requires_grad:
        out.requires_grad_(True)
    return out


def distribute_module(module, device_mesh: DeviceMesh | None = None, partition_fn=None,
                      input_fn=None, output_fn=None):
    """Distribute ``module``'s parameters with ``partition_fn(name, submodule, mesh)`` (the
    ones it leaves plain are replicated) and hook ``input_fn(module, inputs, mesh)`` /
    ``output_fn(module, outputs, mesh)`` around its forward."""
    if getattr(module, "_distribute_module_applied", False):
        raise RuntimeError("distribute_module should only be called once on a module, but it "
                           "has already been called on this module!")
    mesh = _current_mesh(device_mesh)

    def replicate(m):
        full = [Replicate()] * mesh.ndim
        for key, param in list(m._parameters.items()):
            if param is not None and not isinstance(param, DTensor):
                m.register_parameter(key, _parameter(distribute_tensor(param.data, mesh, full),
                                                     param.requires_grad))
        for key, buffer in list(m._buffers.items()):
            if buffer is not None and not isinstance(buffer, DTensor):
                m._buffers[key] = distribute_tensor(buffer, mesh, full)

    if partition_fn is None:
        for sub in module.modules():
            replicate(sub)
    else:
        for name, sub in module.named_modules():
            partition_fn(name, sub, mesh)
            replicate(sub)
    for fn, kind in ((input_fn, "input_fn"), (output_fn, "output_fn")):
        if fn is None:
            continue
        count = len(inspect.signature(fn).parameters)
        if count not in (2, 3):
            raise ValueError(f"{kind} should take in 3 arguments, but got {count} arguments!")
        if kind == "input_fn":
            if count == 3:
                module.register_forward_pre_hook(lambda m, inputs, f=fn: f(m, inputs, mesh))
            else:
                module.register_forward_pre_hook(lambda m, inputs, f=fn: f(inputs, mesh))
        elif count == 3:
            module.register_forward_hook(lambda m, inputs, outputs, f=fn: f(m, outputs, mesh))
        else:
            module.register_forward_hook(lambda m, inputs, outputs, f=fn: f(outputs, mesh))
    module._distribute_module_applied = True
    return module


def _parameter(dt: DTensor, requires_grad: bool = True):
    return DParameter(dt, requires_grad)


# ------------------------------------------------------------------ factories
def _factory(make, size, device_mesh, placements, requires_grad, **kwargs) -> DTensor:
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    mesh = _current_mesh(device_mesh)
    placements = normalize_placements(placements, mesh, len(size))
    shape = local_shape(size, mesh, placements)
    local = make(shape, **kwargs)
    out = DTensor._wrap(Tensor._make(local._data), DTensorSpec(mesh, placements, size))
    if requires_grad:
        out.requires_grad_(True)
    return out


def zeros(*size, requires_grad=False, dtype=None, layout=None, device_mesh=None,
          placements=None) -> DTensor:
    return _factory(lambda s, **k: _creation.zeros(s, **k), size, device_mesh,
                    placements, requires_grad, dtype=dtype)


def ones(*size, dtype=None, layout=None, requires_grad=False, device_mesh=None,
         placements=None) -> DTensor:
    return _factory(lambda s, **k: _creation.ones(s, **k), size, device_mesh,
                    placements, requires_grad, dtype=dtype)


def empty(*size, dtype=None, layout=None, requires_grad=False, device_mesh=None,
          placements=None) -> DTensor:
    return _factory(lambda s, **k: _creation.empty(s, **k), size, device_mesh,
                    placements, requires_grad, dtype=dtype)


def full(size, fill_value, *, dtype=None, layout=None, requires_grad=False, device_mesh=None,
         placements=None) -> DTensor:
    return _factory(lambda s, **k: _creation.full(s, fill_value, **k), (size,),
                    device_mesh, placements, requires_grad, dtype=dtype)


def _random(name, size, generator, dtype, requires_grad, device_mesh, placements):
    """The whole tensor drawn on every rank (the same stream), then this rank's piece: the
    values are a single-process draw's."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    mesh = _current_mesh(device_mesh)
    whole = getattr(_random_ops, name)(tuple(size), generator=generator, dtype=dtype)
    placements = normalize_placements(placements, mesh, len(size))
    local = whole._data
    for i, p in enumerate(placements):
        if isinstance(p, Shard):
            local = split_piece(local, p.dim, mesh.size(i), mesh._coordinate[i])
    out = DTensor._wrap(Tensor._make(local), DTensorSpec(mesh, placements, tuple(size)))
    if requires_grad:
        out.requires_grad_(True)
    return out


def rand(*size, requires_grad=False, dtype=None, layout=None, device_mesh=None,
         placements=None, generator=None) -> DTensor:
    return _random("rand", size, generator, dtype, requires_grad, device_mesh, placements)


def randn(*size, requires_grad=False, dtype=None, layout=None, device_mesh=None,
          placements=None, generator=None) -> DTensor:
    return _random("randn", size, generator, dtype, requires_grad, device_mesh, placements)


# set by _dispatch (which imports this module): installs the op dispatch of DTensors
on_first_dtensor = [None]


def _dispatch_on() -> None:
    install = on_first_dtensor[0]
    if install is not None:
        install()
