"""``fully_shard`` (FSDP2) as torch's: each parameter of the module sharded on dim 0 across
the mesh's ranks (``torch.chunk``'s pieces: rank r keeps rows [r*c, (r+1)*c), c = ceil(rows
/ world)), registered as a DTensor (dark.distributed.tensor) with placement ``Shard(0)`` (as torch:
the optimizer and ``state_dict()`` see the shards).

The module's class becomes ``FSDP<Class>`` (a subclass of FSDPModule and the original
class). Before its forward the module's group of parameters is all-gathered (one
collective over the padded shards, in ``mp_policy.param_dtype``) through one autograd
Function whose outputs are registered as the unsharded parameters during forward; its
backward packs the parameters' gradients into one padded buffer, reduce-scatters them
(averaged: ReduceOp.AVG for float32/bfloat16, torch's pre/post division for the other
dtypes, in ``reduce_dtype``) and gives each sharded parameter its piece of the gradient.
``set_requires_gradient_sync(False)`` keeps the unsharded gradients and adds them to the
next synchronised backward's. After forward (non-root modules, ``reshard_after_forward``)
and after backward the sharded parameters are registered again.

As for FullyShardedDataParallel, dark's autograd keeps what backward needs from forward,
so no all-gather runs again in backward: a hook on the module's outputs registers that
forward's unsharded parameters again before its backward (activation checkpointing
recomputes from them). Prefetching (``set_modules_to_forward_prefetch``) unshards the listed
modules early; backward prefetching changes nothing.
"""
from __future__ import annotations

import math

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor, nested_tensors
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...nn.modules.container import ModuleDict, ModuleList
from ...nn.modules.module import Module
from ...nn.parameter import Parameter
from ..device_mesh import init_device_mesh
from ..tensor import DTensor, Replicate, Shard
from ._tree import cast_floats
from .api import MixedPrecisionPolicy, OffloadPolicy

__all__ = ["FSDPModule", "UnshardHandle", "fully_shard", "register_fsdp_forward_method"]

_FSDP_CLASSES: dict = {}
_DEFAULT_MP = MixedPrecisionPolicy()
_DEFAULT_OFFLOAD = OffloadPolicy()


class _Forward:
    """The FSDP states whose forward is running (the first one to run is the root)."""

    depth = 0


def _local_rows(rows, world, rank):
    c = math.ceil(rows / world) if rows else 0
    start = min(rank * c, rows)
    return c, start, min(start + c, rows)


class _ParamInfo:
    def __init__(self, owner, name, fqn, param, world, rank):
        self.owner, self.name, self.fqn = owner, name, fqn
        self.shape = tuple(param.shape)
        self.dtype = param.dtype
        self.requires_grad = param.requires_grad
        rows = self.shape[0]
        self.rest = math.prod(self.shape[1:])
        self.chunk, self.start, self.stop = _local_rows(rows, world, rank)
        self.segment = self.chunk * self.rest  # per-rank elements, padded
        self.offset = 0  # in a rank's segment of the gathered buffer
        self.sharded = None  # the registered sharded Parameter (DTensor)


class _AllGather(Function):
    @staticmethod
    def forward(ctx, group, *shards):
        ctx.group = group
        return tuple(Tensor._make(a) for a in group.gather_arrays())

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + ctx.group.reduce(grads)


class _FSDPState:
    """One fully_shard call's parameter group and settings (torch's FSDPState +
    FSDPParamGroup)."""

    def __init__(self, module, mesh, reshard_after_forward, mp_policy, offload_policy,
                 ignored_params):
        self.module = module
        self.mesh = mesh
        self.group = mesh.get_group(mesh.ndim - 1) if mesh.ndim > 1 else mesh.get_group()
        self.replicate_group = mesh.get_group(0) if mesh.ndim > 1 else None
        self.world = self.group.size()
        self.rank = self.group.rank()
        self.auto_reshard = reshard_after_forward is None
        self.reshard_after_forward = True if reshard_after_forward is None else \
            bool(reshard_after_forward)
        self.reshard_after_backward = True
        self.mp = mp_policy
        self.offload_policy = offload_policy
        self.requires_gradient_sync = True
        self.requires_all_reduce = True
        self.is_last_backward = True
        self.divide_factor = None
        self.force_sum = False
        self.is_root = None
        self.unsharded = None  # the all-gathered tensors while unsharded
        self.unsharded_grads = None
        self.forward_prefetch = []
        self.backward_prefetch = []
        self.infos = []
        ignored = {id(p) for p in (ignored_params or ())}
        seen = set()
        for prefix, m in _own_modules(module):
            for name, p in list(m._parameters.items()):
                if p is None or id(p) in ignored or id(p) in seen:
                    continue
                if p.dim() == 0:
                    raise NotImplementedError(f"fully_shard: parameter {prefix}{name} is 0-d; "
                                              "dark shards parameters on dim 0")
                seen.add(id(p))
                info = _ParamInfo(m, name, prefix + name, p, self.world, self.rank)
                self.infos.append(info)
        offset = 0
        for info in self.infos:
            info.offset = offset
            offset += info.segment
        self.segment = offset
        for info in self.infos:
            full = info.owner._parameters[info.name]
            local = full.detach()[info.start:info.stop].clone()
            info.sharded = self._shard_param(local, info)
            for m in _owners(module, full):
                for pname, q in m._parameters.items():
                    if q is full:
                        m._parameters[pname] = info.sharded

    def _shard_param(self, local, info):
        placements = (Shard(0),) if self.mesh.ndim == 1 else (Replicate(), Shard(0))
        dt = DTensor.from_local(local, self.mesh, placements, shape=info.shape,
                                stride=_contiguous_strides(info.shape))
        return Parameter(dt, requires_grad=info.requires_grad)

    # ---------------------------------------------------------------- collectives
    def _param_dtype(self):
        return self.mp.param_dtype if self.mp is not None else None

    def _current_sharded(self):
        """The registered sharded parameters (load_state_dict(assign=True) may have
        replaced them)."""
        out = []
        for info in self.infos:
            current = info.owner._parameters.get(info.name)
            if current is not None and (self.unsharded is None or
                                        all(current is not u for u in self.unsharded)):
                info.sharded = current
            out.append(info.sharded)
        return out

    def gather_arrays(self):
        shards = [info.sharded for info in self.infos]
        first = shards[0]._data
        xp = _backend.array_module(first)
        dtype = self._param_dtype()
        np_dtype = _backend.to_dtype(dtype).np if dtype is not None else first.dtype
        mine = xp.zeros(self.segment, dtype=np_dtype)
        for info, p in zip(self.infos, shards):
            local = p._data.reshape(-1)
            n = local.shape[0]
            if n:
                mine[info.offset:info.offset + n] = local if local.dtype == np_dtype else \
                    _backend.cast(local, np_dtype)
        if self.world == 1:
            full = mine.reshape(1, -1)
        else:
            out = Tensor._make(xp.empty(self.segment * self.world, dtype=np_dtype))
            dist.all_gather_into_tensor(out, Tensor._make(mine), group=self.group)
            full = out._data.reshape(self.world, self.segment)
        arrays = []
        for info in self.infos:
            part = full[:, info.offset:info.offset + info.segment]
            arrays.append(part.reshape((self.world * info.chunk,) + info.shape[1:])
                          [:info.shape[0]])
        return arrays

    def reduce(self, grads):
        shards = [info.sharded for info in self.infos]
        xp = _backend.array_module(shards[0]._data)
        gdtype = next((g._data.dtype for g in grads if g is not None), shards[0]._data.dtype)
        buffer = xp.zeros((self.world, self.segment), dtype=gdtype)
        for info, g in zip(self.infos, grads):
            if g is None:
                continue
            rows = xp.zeros((self.world * info.chunk,) + info.shape[1:], dtype=gdtype)
            rows[:info.shape[0]] = g._data
            buffer[:, info.offset:info.offset + info.segment] = rows.reshape(self.world, -1)
        self._after_backward_reshard()
        if not self.requires_gradient_sync:
            self.unsharded_grads = buffer if self.unsharded_grads is None else \
                self.unsharded_grads + buffer
            return (None,) * len(self.infos)
        if self.unsharded_grads is not None:
            buffer = self.unsharded_grads + buffer
            self.unsharded_grads = None
        rdtype = None
        if self.mp is not None:
            rdtype = self.mp.reduce_dtype if self.mp.reduce_dtype is not None else \
                self.mp.param_dtype
        np_rdtype = _backend.to_dtype(rdtype).np if rdtype is not None else buffer.dtype
        buffer = _backend.cast(buffer, np_rdtype) if buffer.dtype != np_rdtype else buffer
        replicas = self.replicate_group.size() if self.replicate_group is not None else 1
        size = self.world * replicas
        factor = float(size) if self.divide_factor is None else float(self.divide_factor)
        pre = post = None
        op = dist.ReduceOp.SUM
        if size > 1 or self.divide_factor is not None:
            if str(np_rdtype) in ("float32", "bfloat16") and not self.force_sum and \
                    self.divide_factor is None:
                op = dist.ReduceOp.AVG
            elif str(np_rdtype) not in ("float32", "bfloat16"):
                pre = 1
                while factor % pre == 0 and factor / pre > pre:
                    pre *= 2
                post = factor / pre
            else:
                post = factor
        if pre is not None and pre != 1:
            buffer = buffer / pre
        if self.world > 1:
            out = Tensor._make(xp.empty(self.segment, dtype=buffer.dtype))
            dist.reduce_scatter_tensor(out, Tensor._make(xp.ascontiguousarray(
                buffer.reshape(-1))), op=op, group=self.group)
            mine = out._data
        else:
            mine = buffer.reshape(-1).copy()
            if op == dist.ReduceOp.AVG:
                op = dist.ReduceOp.SUM  # one rank: the average is the value
        if replicas > 1 and self.requires_all_reduce:
            work = Tensor._make(mine)
            dist.all_reduce(work, op=op, group=self.replicate_group)
            mine = work._data
        if post is not None and post != 1:
            mine = mine / post
        out = []
        for info, p in zip(self.infos, shards):
            n = (info.stop - info.start) * info.rest
            piece = mine[info.offset:info.offset + n].reshape(
                (info.stop - info.start,) + info.shape[1:])
            out.append(Tensor._make(_backend.cast(piece, p._data.dtype)))
        return tuple(out)

    # ---------------------------------------------------------------- states
    def unshard(self):
        if self.unsharded is not None or not self.infos:
            return
        shards = self._current_sharded()
        if is_grad_enabled() and any(p.requires_grad for p in shards):
            full = _AllGather.apply(self, *shards)
        else:
            full = tuple(Tensor._make(a) for a in self.gather_arrays())
        self.use(full)

    def use(self, full):
        """Register ``full`` (unsharded tensors) in place of the sharded parameters."""
        if self.unsharded is not None:
            return
        self.unsharded = full
        for info, tensor in zip(self.infos, full):
            for m in _owners(self.module, info.sharded):
                for pname, q in list(m._parameters.items()):
                    if q is info.sharded:
                        m._parameters[pname] = tensor

    def reshard(self):
        if self.unsharded is None:
            return
        for info, tensor in zip(self.infos, self.unsharded):
            for m in _owners(self.module, tensor):
                for pname, q in list(m._parameters.items()):
                    if q is tensor:
                        m._parameters[pname] = info.sharded
        self.unsharded = None

    def _after_backward_reshard(self):
        if self.reshard_after_backward or self.requires_gradient_sync:
            self.reshard()


def _contiguous_strides(shape):
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _own_modules(module):
    """(prefix, module) of ``module``'s subtree, not entering fully_shard'ed submodules."""
    out = []
    stack = [("", module)]
    while stack:
        prefix, m = stack.pop(0)
        out.append((prefix, m))
        for name, child in m._modules.items():
            if child is None or isinstance(child, FSDPModule):
                continue
            stack.append((prefix + name + ".", child))
    return out


def _owners(module, param):
    return [m for _, m in _own_modules(module)
            if any(q is param for q in m._parameters.values())]


def _state(module) -> _FSDPState:
    return module.__dict__["_fsdp_state"]


def _pre_forward(module, args, kwargs):
    state = _state(module)
    if state.is_root is None:
        state.is_root = _Forward.depth == 0
        if state.is_root:
            for m in module.modules():
                if m is not module and isinstance(m, FSDPModule):
                    _state(m).is_root = False
            if state.auto_reshard:
                state.reshard_after_forward = False
    _Forward.depth += 1
    state.unshard()
    for other in state.forward_prefetch:
        _state(other).unshard()
    mp = state.mp
    if mp is not None and mp.param_dtype is not None and mp.cast_forward_inputs:
        args, kwargs = cast_floats((args, kwargs), mp.param_dtype)
    return args, kwargs


def _post_forward(module, args, kwargs, output):
    state = _state(module)
    _Forward.depth -= 1
    views = state.unsharded
    recorded = views is not None and any(t.grad_fn is not None for t in views)
    reshard = state.reshard_after_forward and not state.is_root
    if not recorded or reshard:
        state.reshard()
    if recorded and reshard:
        # before this module's backward its unsharded parameters (this forward's) are
        # registered again: what activation checkpointing's recomputation reads
        def pre_backward(grad, state=state, views=views):
            state.use(views)

        for t in nested_tensors(output):
            if t.requires_grad:
                t.register_hook(pre_backward)
    if state.mp is not None and state.mp.output_dtype is not None:
        output = cast_floats(output, state.mp.output_dtype)
    return output


class UnshardHandle:
    """What ``unshard(async_op=True)`` returns; dark's all-gather has finished already."""

    def wait(self) -> None:
        return None


class FSDPModule:
    """The methods a module gains from fully_shard (its class becomes ``FSDP<Class>``)."""

    def __deepcopy__(self, memo):
        raise AssertionError("FSDP does not support deepcopy. Please use state dict for "
                             "serialization.")

    def reshard(self) -> None:
        """Register the sharded parameters again (freeing the unsharded ones)."""
        _state(self).reshard()

    def unshard(self, async_op: bool = False):
        """All-gather this module's parameters (not its fully_shard'ed submodules')."""
        _state(self).unshard()
        return UnshardHandle() if async_op else None

    def _states(self, recurse):
        if not recurse:
            return [_state(self)]
        return [_state(m) for m in self.modules() if isinstance(m, FSDPModule)]

    def set_requires_gradient_sync(self, requires_gradient_sync: bool, *,
                                   recurse: bool = True) -> None:
        """False: backward keeps the unsharded gradients (no reduce-scatter); the next
        backward with True reduces them with its own."""
        for s in self._states(recurse):
            s.requires_gradient_sync = requires_gradient_sync

    def set_requires_all_reduce(self, requires_all_reduce: bool, *, recurse: bool = True):
        for s in self._states(recurse):
            s.requires_all_reduce = requires_all_reduce

    def set_reshard_after_forward(self, reshard_after_forward: bool, recurse: bool = True):
        for s in self._states(recurse):
            s.reshard_after_forward = bool(reshard_after_forward)
            s.auto_reshard = False

    def set_reshard_after_backward(self, reshard_after_backward: bool, *,
                                   recurse: bool = True) -> None:
        for s in self._states(recurse):
            s.reshard_after_backward = reshard_after_backward

    def set_is_last_backward(self, is_last_backward: bool) -> None:
        _state(self).is_last_backward = is_last_backward

    def set_modules_to_forward_prefetch(self, modules) -> None:
        """Unshard ``modules`` right after this module's own all-gather in forward."""
        for m in modules:
            if not isinstance(m, FSDPModule):
                raise ValueError(f"Expects FSDPModule but got {type(m)}: {m}")
        _state(self).forward_prefetch = list(modules)

    def set_modules_to_backward_prefetch(self, modules) -> None:
        for m in modules:
            if not isinstance(m, FSDPModule):
                raise ValueError(f"Expects FSDPModule but got {type(m)}: {m}")
        _state(self).backward_prefetch = list(modules)

    def set_post_optim_event(self, event) -> None:
        return None

    def set_reduce_scatter_divide_factor(self, factor: float) -> None:
        self.set_gradient_divide_factor(factor)

    def set_gradient_divide_factor(self, factor: float) -> None:
        for s in self._states(True):
            s.divide_factor = factor

    def set_force_sum_reduction_for_comms(self, enable: bool) -> None:
        for s in self._states(True):
            s.force_sum = enable

    def set_unshard_in_backward(self, unshard_in_backward: bool) -> None:
        return None


def fully_shard(module, *, mesh=None, reshard_after_forward=None, shard_placement_fn=None,
                mp_policy=_DEFAULT_MP, offload_policy=_DEFAULT_OFFLOAD,
                ignored_params=None):
    """Shard ``module``'s parameters (those not already managed by a fully_shard'ed
    submodule) on dim 0 over ``mesh`` (1-D: FSDP; 2-D: HSDP, replicated on dim 0, sharded
    on dim 1); returns ``module``, now an ``FSDPModule``."""
    if isinstance(module, (ModuleList, ModuleDict)):
        raise ValueError(f"fully_shard does not support containers that do not implement "
                         f"forward: {module}")
    if not isinstance(module, Module):
        raise ValueError(f"fully_shard expects an nn.Module, got {type(module)}")
    if isinstance(module, FSDPModule):
        raise ValueError(f"fully_shard was already applied to {type(module).__name__}")
    if shard_placement_fn is not None:
        raise NotImplementedError("fully_shard: dark shards every parameter on dim 0 "
                                  "(shard_placement_fn is not supported)")
    if mesh is None:
        world = dist._world()
        device = next((p.device.type for p in module.parameters()), "cpu")
        mesh = init_device_mesh(device, (world.size(),))
    state = _FSDPState(module, mesh, reshard_after_forward, mp_policy, offload_policy,
                       ignored_params)
    module.__dict__["_fsdp_state"] = state
    cls = type(module)
    fsdp_cls = _FSDP_CLASSES.get(cls)
    if fsdp_cls is None:
        fsdp_cls = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {})
        _FSDP_CLASSES[cls] = fsdp_cls
    module.__class__ = fsdp_cls
    module.register_forward_pre_hook(_pre_forward, prepend=True, with_kwargs=True)
    module.register_forward_hook(_post_forward, with_kwargs=True, always_call=True)
    return module


def register_fsdp_forward_method(module, method_name: str) -> None:
    """Run ``module.<method_name>`` (a forward other than ``forward``) with the
    parameters unsharded, as torch's."""
    if not isinstance(module, FSDPModule):
        return
    original = getattr(module, method_name)

    def wrapped(*args, **kwargs):
        args, kwargs = _pre_forward(module, args, kwargs)
        return _post_forward(module, args, kwargs, original(*args, **kwargs))

    setattr(module, method_name, wrapped)


fully_shard.state = _state
