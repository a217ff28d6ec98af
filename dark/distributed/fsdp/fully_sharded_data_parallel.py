"""``FullyShardedDataParallel`` (FSDP1) as torch's, on dark.distributed's collectives.

Each FSDP unit (the wrapped module, and every submodule the ``auto_wrap_policy`` picks)
flattens the parameters of its subtree that no inner unit manages into one 1-D
``_flat_param`` (registered on the wrapped module, so the names are torch's:
``_fsdp_wrapped_module._flat_param``), padded to a multiple of the shard group's size; each
rank keeps its chunk (FULL_SHARD, SHARD_GRAD_OP, HYBRID_SHARD) or the whole (NO_SHARD). The
optimizer steps on the flat shards; with ``use_orig_params=True`` the original parameters
stay registered (``_flat_param`` a plain attribute), each a 1-D view of its part of this
rank's shard (NO_SHARD: of its shape), their gradients views of the flat gradient, and the
optimizer steps on them.

Forward: the unit all-gathers its shard (in ``param_dtype`` under MixedPrecision) through
one autograd Function whose outputs are the original parameters' views of the gathered
buffer; they are set as the modules' attributes (plain tensors, as torch's), the module
runs, and FULL_SHARD / HYBRID_SHARD units reshard (drop the gathered buffer and the
attributes) after forward. Backward of that Function is the unit's gradient reduction: the
parameters' gradients packed into one padded flat gradient, cast to ``reduce_dtype``,
divided by torch's pre-divide factor, reduce-scattered (all-reduced for NO_SHARD;
reduce-scattered then all-reduced across the replicate group for HYBRID_SHARD), divided by
the post-divide factor, cast to the flat parameter's dtype and accumulated into its
``.grad`` (the shard). Under ``no_sync()`` the unsharded gradient is kept and added to the
next synchronised backward's (NO_SHARD: accumulated in ``.grad`` and all-reduced with the
next one), as torch.

dark's autograd keeps what ops saved for backward (the gathered parameters included) until
backward uses it, so the parameters needed by backward are those of forward and no second
all-gather runs before backward: FULL_SHARD's resharding after forward takes the gathered
parameters off the modules' attributes (memory is released when backward has used them),
and a hook on the unit's outputs puts that forward's parameters back before the unit's
backward (activation checkpointing recomputes the forward from them there).
``backward_prefetch``, ``forward_prefetch`` and ``limit_all_gathers`` are accepted and change
nothing (the collectives are synchronous).
"""
from __future__ import annotations

import contextlib
import math
import socket
from collections import OrderedDict

import numpy as np

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor, nested_tensors
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ...nn.modules.module import Module
from ...nn.parameter import Parameter
from . import _optim, _sharded
from . import wrap as _wrap_mod
from ._tree import cast_floats
from .api import (
    BackwardPrefetch,
    CPUOffload,
    FullOptimStateDictConfig,
    FullStateDictConfig,
    LocalOptimStateDictConfig,
    LocalStateDictConfig,
    MixedPrecision,
    ShardedOptimStateDictConfig,
    ShardedStateDictConfig,
    ShardingStrategy,
    StateDictSettings,
    StateDictType,
)

# the api names torch's module holds too (programs import MixedPrecision ... from it)
__all__ = ["BackwardPrefetch", "CPUOffload", "FullStateDictConfig", "FullyShardedDataParallel",
           "MixedPrecision", "ShardedStateDictConfig", "ShardingStrategy", "StateDictType"]

FSDP_WRAPPED_MODULE = "_fsdp_wrapped_module"
FSDP_PREFIX = FSDP_WRAPPED_MODULE + "."
FLAT_PARAM = "_flat_param"
_SHARDED = (ShardingStrategy.FULL_SHARD, ShardingStrategy.SHARD_GRAD_OP,
            ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2)
_RESHARD_AFTER_FORWARD = (ShardingStrategy.FULL_SHARD, ShardingStrategy.HYBRID_SHARD)
_HYBRID = (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2)


class _Busy:
    """Set while an FSDP state_dict runs the plain Module machinery (inner units then act
    as plain modules)."""

    state_dict = False


def _predivide_factor(world_size: int) -> float:
    factor = 1
    while world_size % factor == 0 and world_size / factor > factor:
        factor *= 2
    return float(factor)


def _clean(key: str) -> str:
    """The original model's name: without FSDP's (and checkpoint_wrapper's) wrapper."""
    return key.replace(FSDP_PREFIX, "").replace("_checkpoint_wrapped_module.", "")


def _empty_like_param(flat):
    xp = _backend.array_module(flat._data)
    return Tensor._make(xp.empty(0, dtype=flat._data.dtype))


class _Param:
    """One original parameter of a unit: where it lives and where it sits in the flat."""

    def __init__(self, owners, shape, offset, numel):
        self.owners = owners  # [(module, attribute name, fqn relative to the unit)]
        self.shape = tuple(shape)
        self.offset = offset
        self.numel = numel


class _Unshard(Function):
    """Forward: the unit's gathered parameters (one view each); backward: the unit's
    gradient reduction, giving the flat shard its gradient."""

    @staticmethod
    def forward(ctx, flat, handle):
        ctx.handle = handle
        full = handle.gather()
        return tuple(Tensor._make(v) for v in handle.views(full))

    @staticmethod
    def backward(ctx, *grads):
        return ctx.handle.reduce(grads), None


class _Handle:
    """One unit's flat parameter (torch's FlatParamHandle)."""

    def __init__(self, state, module, params):
        self.state = state
        self.module = module
        self.params = params
        first = params[0][1]
        self.dtype = first.dtype
        self.device = first.device
        total = 0
        infos = []
        for owners, p in params:
            infos.append(_Param(owners, p.shape, total, p.numel()))
            total += p.numel()
        self.infos = infos
        self.numel = total
        self.world = state.shard_group.size()
        self.rank = state.shard_group.rank()
        self.sharded = state.sharding_strategy in _SHARDED
        self.chunk = math.ceil(total / self.world) if self.sharded else total
        xp = _backend.array_module(first._data)
        padded = xp.zeros(self.chunk * (self.world if self.sharded else 1),
                          dtype=first._data.dtype)
        for info, (_, p) in zip(infos, params):
            padded[info.offset:info.offset + info.numel] = p._data.reshape(-1)
        shard = padded[self.rank * self.chunk:(self.rank + 1) * self.chunk].copy() \
            if self.sharded else padded
        self.flat = Parameter(Tensor._make(shard), requires_grad=first.requires_grad)
        self.full = None  # the gathered parameters' views while unsharded
        self.unsharded_grad = None  # accumulated under no_sync (sharded strategies)
        self.orig = state._use_orig_params
        self.orig_params = []
        if self.orig:
            # the original parameters stay registered: views of this rank's part of the
            # flat shard (1-D, maybe empty; NO_SHARD: their shapes), their gradients views
            # of the flat gradient
            for info in infos:
                view = self._region(shard, info)
                p = Parameter(Tensor._make(view), requires_grad=first.requires_grad)
                self.orig_params.append(p)
                for owner, name, _ in info.owners:
                    owner._parameters[name] = p
            if self.flat.requires_grad:
                self.flat.register_post_accumulate_grad_hook(lambda _: self._grad_views())

    def _region(self, array, info):
        """``info``'s part of this rank's flat shard ``array`` (a view)."""
        if not self.sharded:
            return array[info.offset:info.offset + info.numel].reshape(info.shape)
        base = self.rank * self.chunk
        lo = min(max(info.offset, base), base + self.chunk)
        hi = max(min(info.offset + info.numel, base + self.chunk), lo)
        return array[lo - base:hi - base]

    def _grad_views(self):
        grad = self.flat.grad
        for info, p in zip(self.infos, self.orig_params):
            p.grad = None if grad is None else Tensor._make(self._region(grad._data, info))

    def _flat_grad_from_orig(self):
        """The flat shard's gradient rebuilt from the original parameters' (the optimizer
        may have set them to None or replaced them)."""
        grads = [p.grad for p in self.orig_params]
        if all(g is None for g in grads):
            self.flat.grad = None
            return
        xp = _backend.array_module(self.flat._data)
        flat = xp.zeros_like(self.flat._data)
        for info, g in zip(self.infos, grads):
            if g is not None:
                self._region(flat, info)[...] = g._data.reshape(self._region(flat, info).shape)
        self.flat.grad = Tensor._make(flat)

    # ---------------------------------------------------------------- parameters
    def gather(self, dtype=None, for_forward=True):
        """The padded full flat parameter (an array), in ``param_dtype`` for forward."""
        shard = self.flat._data
        mp = self.state.mixed_precision
        if for_forward and mp is not None and mp.param_dtype is not None:
            dtype = mp.param_dtype
        if dtype is not None and _backend.to_dtype(dtype).np != shard.dtype:
            shard = _backend.cast(shard, _backend.to_dtype(dtype).np)
        if not self.sharded:
            return shard
        xp = _backend.array_module(shard)
        out = Tensor._make(xp.empty(self.chunk * self.world, dtype=shard.dtype))
        dist.all_gather_into_tensor(out, Tensor._make(xp.ascontiguousarray(shard)),
                                    group=self.state.shard_group)
        return out._data

    def views(self, full):
        return [full[i.offset:i.offset + i.numel].reshape(i.shape) for i in self.infos]

    def use(self, tensors):
        for info, tensor in zip(self.infos, tensors):
            for module, name, _ in info.owners:
                if tensor is None:
                    module.__dict__.pop(name, None)  # the registered original parameter
                else:
                    module.__dict__[name] = tensor

    def unshard(self):
        if self.full is not None:
            return
        if is_grad_enabled() and self.flat.requires_grad:
            self.full = _Unshard.apply(self.flat, self)
        else:
            full = self.gather()
            self.full = tuple(Tensor._make(v) for v in self.views(full))
        self.use(self.full)

    def reshard(self):
        if self.orig:
            self.full = None
            self.use([None] * len(self.infos))
            return
        if not self.sharded and self.state.mixed_precision is None:
            # NO_SHARD: the attributes stay views of the flat parameter itself
            self.full = None
            self.use([Tensor._make(v) for v in self.views(self.flat._data)])
            return
        self.full = None
        empty = _empty_like_param(self.flat)
        self.use([empty] * len(self.infos))

    # ---------------------------------------------------------------- gradients
    def reduce(self, grads):
        state = self.state
        shard = self.flat._data
        if self.orig:
            self._flat_grad_from_orig()
        xp = _backend.array_module(shard)
        gdtype = next((g._data.dtype for g in grads if g is not None), shard.dtype)
        full = xp.zeros(self.chunk * (self.world if self.sharded else 1), dtype=gdtype)
        for info, g in zip(self.infos, grads):
            if g is not None:
                full[info.offset:info.offset + info.numel] = g._data.reshape(-1)
        after = self._after_backward
        if not state._sync_gradients:
            if not self.sharded:
                after()
                return Tensor._make(_backend.cast(full, shard.dtype))
            if self.unsharded_grad is None:
                self.unsharded_grad = full
            else:
                self.unsharded_grad = self.unsharded_grad + full
            after()
            return None
        if self.unsharded_grad is not None:
            full = self.unsharded_grad + full
            self.unsharded_grad = None
        mp = state.mixed_precision
        rdtype = None
        if mp is not None:
            rdtype = mp.reduce_dtype if mp.reduce_dtype is not None else mp.param_dtype
        if not self.sharded:
            existing = self.flat.grad
            if existing is not None:  # torch all-reduces the accumulated .grad
                full = _backend.cast(full, existing._data.dtype) + existing._data
                self.flat.grad = None
        if rdtype is not None:
            full = _backend.cast(full, _backend.to_dtype(rdtype).np)
        else:
            full = full.copy()
        if state._predivide != 1:
            xp.divide(full, state._predivide, out=full, casting="unsafe")
        if self.sharded:
            out = Tensor._make(xp.empty(self.chunk, dtype=full.dtype))
            dist.reduce_scatter_tensor(out, Tensor._make(full), group=state.shard_group)
            if state.replicate_group is not None and state.replicate_group.size() > 1:
                dist.all_reduce(out, group=state.replicate_group)
            result = out._data
        else:
            work = Tensor._make(full)
            dist.all_reduce(work, group=state.shard_group)
            result = work._data
        if state._postdivide != 1:
            xp.divide(result, state._postdivide, out=result, casting="unsafe")
        after()
        return Tensor._make(_backend.cast(result, shard.dtype))

    def _after_backward(self):
        strategy = self.state.sharding_strategy
        if self.sharded and (self.state._sync_gradients or strategy in _RESHARD_AFTER_FORWARD):
            self.reshard()
        else:
            self.full = None


class FullyShardedDataParallel(Module):
    """Shard a module's parameters, gradients and optimizer state across the ranks of a
    process group (torch's FSDP1 API; see the module docstring for what runs when).
    Build the optimizer after wrapping: ``model.parameters()`` are the flat shards."""

    def __init__(self, module, process_group=None, sharding_strategy=None, cpu_offload=None,
                 auto_wrap_policy=None, backward_prefetch=BackwardPrefetch.BACKWARD_PRE,
                 mixed_precision=None, ignored_modules=None, param_init_fn=None,
                 device_id=None, sync_module_states=False, forward_prefetch=False,
                 limit_all_gathers=True, use_orig_params=False, ignored_states=None,
                 device_mesh=None):
        super().__init__()
        if ignored_modules is not None and ignored_states is not None:
            raise ValueError("Cannot pass both ignored_modules and ignored_states at the "
                             "same time. Please just pass ignored_states.")
        strategy = sharding_strategy or ShardingStrategy.FULL_SHARD
        self.sharding_strategy = strategy
        self.mixed_precision = mixed_precision
        self.cpu_offload = cpu_offload or CPUOffload()
        self.backward_prefetch = backward_prefetch
        self.forward_prefetch = forward_prefetch
        self.limit_all_gathers = limit_all_gathers
        self._use_orig_params = use_orig_params
        self._set_groups(process_group, device_mesh, strategy)
        if self.shard_group.size() == 1 and strategy in _SHARDED and \
                (self.replicate_group is None or self.replicate_group.size() == 1):
            self.sharding_strategy = strategy = ShardingStrategy.NO_SHARD
        replicas = self.replicate_group.size() if strategy in _HYBRID and \
            self.replicate_group is not None else 1
        world = self.shard_group.size() * replicas
        self._predivide = _predivide_factor(world)
        self._postdivide = world / self._predivide
        self._sync_gradients = True
        self._is_root = None
        self._state_dict_type = StateDictType.FULL_STATE_DICT
        self._state_dict_config = FullStateDictConfig()
        self._optim_state_dict_config = FullOptimStateDictConfig()
        self._buffer_dtypes = None
        self._in_summon = False
        ignored = ignored_modules if ignored_modules is not None else [
            s for s in (ignored_states or []) if isinstance(s, Module)]
        ignored_params_given = [s for s in (ignored_states or []) if not isinstance(s, Module)]
        self._ignored_modules = {m for top in ignored for m in top.modules()}
        self._ignored_params = {id(p) for m in self._ignored_modules for p in m.parameters()}
        self._ignored_params |= {id(p) for p in ignored_params_given}
        if device_id is not None:
            device = device_id if not isinstance(device_id, int) else f"cuda:{device_id}"
            module.to(device)
        if auto_wrap_policy is not None:
            kwargs = dict(process_group=process_group, sharding_strategy=sharding_strategy,
                          cpu_offload=cpu_offload, backward_prefetch=backward_prefetch,
                          mixed_precision=mixed_precision, param_init_fn=param_init_fn,
                          device_id=device_id, sync_module_states=sync_module_states,
                          forward_prefetch=forward_prefetch,
                          limit_all_gathers=limit_all_gathers,
                          use_orig_params=use_orig_params, device_mesh=device_mesh,
                          ignored_modules=list(ignored) or None)
            if strategy in _HYBRID and process_group is None and device_mesh is None:
                kwargs["process_group"] = (self.shard_group, self.replicate_group)
            _wrap_mod._apply_policy(module, auto_wrap_policy, FullyShardedDataParallel,
                                    self._ignored_modules, self._ignored_params,
                                    {**kwargs, "auto_wrap_policy": auto_wrap_policy})
        self._fsdp_wrapped_module = module
        params = self._managed_params(module)
        if sync_module_states and self.shard_group.size() * replicas > 1:
            with no_grad():
                for _, p in params:
                    dist.broadcast(p.detach(), src=0)
                for b in self._own_buffers(module):
                    dist.broadcast(b, src=0)
        self._handle = None
        if params:
            dtypes = {str(p.dtype) for _, p in params}
            if len(dtypes) > 1:
                raise ValueError(f"Must flatten tensors with uniform dtype but got {dtypes}")
            flags = {p.requires_grad for _, p in params}
            if len(flags) > 1:
                raise ValueError("Must flatten tensors with uniform ``requires_grad`` (dark "
                                 "also with ``use_orig_params=True``)")
            for owners, _ in params:
                for owner, name, _ in owners:
                    del owner._parameters[name]
            self._handle = _Handle(self, module, params)
            if not use_orig_params:
                module.register_parameter(FLAT_PARAM, self._handle.flat)
            else:  # torch keeps it as a plain attribute
                module.__dict__[FLAT_PARAM] = self._handle.flat
            self._handle.reshard()

    # ------------------------------------------------------------------ set up
    def _set_groups(self, process_group, device_mesh, strategy):
        self.replicate_group = None
        if device_mesh is not None:
            groups = device_mesh.get_all_groups() if hasattr(device_mesh, "get_all_groups") \
                else [device_mesh.get_group()]
            if strategy in _HYBRID and len(groups) == 2:
                self.replicate_group, self.shard_group = groups
            else:
                self.shard_group = groups[-1]
            self.process_group = self.shard_group
            return
        if strategy in _HYBRID:
            if isinstance(process_group, tuple):
                self.shard_group, self.replicate_group = process_group
            elif process_group is None:
                self.shard_group, self.replicate_group = _node_groups()
            else:
                raise ValueError(f"{strategy} requires a (intra-node, inter-node) tuple of "
                                 "process groups or none")
        else:
            self.shard_group = dist._group(process_group)
        self.process_group = self.shard_group

    def _subtree(self, module):
        """Modules of ``module``'s subtree not inside an inner unit or an ignored module."""
        stack = [module]
        while stack:
            m = stack.pop()
            yield m
            for child in reversed(list(m._modules.values())):
                if child is None or isinstance(child, FullyShardedDataParallel) or \
                        child in self._ignored_modules:
                    continue
                stack.append(child)

    def _managed_params(self, module):
        """[(owners, parameter)] in named_parameters order, shared ones once."""
        out, index = [], {}
        prefixes = {id(m): n for n, m in _named_subtree(module, self)}
        for m in self._subtree(module):
            for name, p in list(m._parameters.items()):
                if p is None or id(p) in self._ignored_params:
                    continue
                fqn = (prefixes[id(m)] + "." if prefixes[id(m)] else "") + name
                if id(p) in index:
                    out[index[id(p)]][0].append((m, name, fqn))
                    continue
                index[id(p)] = len(out)
                out.append(([(m, name, fqn)], p))
        return out

    def _own_buffers(self, module):
        for m in self._subtree(module):
            for b in m._buffers.values():
                if b is not None:
                    yield b

    @property
    def module(self):
        """The wrapped module."""
        return self._fsdp_wrapped_module

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == FSDP_WRAPPED_MODULE:  # not set yet (or a copy being built)
                raise
            return getattr(self._fsdp_wrapped_module, name)

    def __getitem__(self, key):
        return self._fsdp_wrapped_module.__getitem__(key)

    def _units(self):
        return [m for m in self.modules() if isinstance(m, FullyShardedDataParallel)]

    def _lazy_init(self):
        if self._is_root is not None:
            return
        self._is_root = True
        for unit in self._units():
            if unit is not self:
                unit._is_root = False
        mp = self.mixed_precision
        if mp is not None and mp.buffer_dtype is not None:
            self._buffer_dtypes = {}
            for m in self.modules():
                for name, b in m._buffers.items():
                    if b is not None and b.is_floating_point():
                        self._buffer_dtypes[(id(m), name)] = b.dtype
                        m._buffers[name] = b.to(mp.buffer_dtype)

    def _check_root(self, what):
        self._lazy_init()
        if not self._is_root:
            raise RuntimeError(f"`{what}()` should only be called on the root FSDP instance")

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        self._lazy_init()
        mp = self.mixed_precision
        if mp is not None and mp.param_dtype is not None and (
                (self._is_root and mp.cast_root_forward_inputs) or mp.cast_forward_inputs):
            args, kwargs = cast_floats((args, kwargs), mp.param_dtype)
        handle = self._handle
        if handle is not None:
            handle.unshard()
        views = handle.full if handle is not None else None
        recorded = handle is not None and is_grad_enabled() and handle.flat.requires_grad
        reshard = handle is not None and handle.sharded and not self._is_root and \
            self.sharding_strategy in _RESHARD_AFTER_FORWARD
        try:
            output = self._fsdp_wrapped_module(*args, **kwargs)
        finally:
            if handle is not None:
                if reshard or not recorded:
                    handle.reshard()
                else:
                    handle.full = None  # the views stay as attributes until backward
        if reshard and recorded:
            # before this unit's backward its parameters are its attributes again (those
            # of this forward: what activation checkpointing's recomputation reads)
            def pre_backward(grad, handle=handle, views=views):
                handle.use(views)

            for t in nested_tensors(output):
                if t.requires_grad:
                    t.register_hook(pre_backward)
        return output

    # ------------------------------------------------------------------ no_sync / clip
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates unreduced gradients locally; the first backward
        after it reduces them with its own."""
        self._lazy_init()
        if not self._is_root:
            raise RuntimeError("`no_sync()` on inner FSDP instances is not supported. Please "
                               "call `no_sync()` on root FSDP module.")
        units = self._units()
        previous = [u._sync_gradients for u in units]
        for u in units:
            u._sync_gradients = False
        try:
            yield
        finally:
            for u, value in zip(units, previous):
                u._sync_gradients = value

    def clip_grad_norm_(self, max_norm, norm_type=2.0):
        """Clip the gradients of all the shards by their total norm over the ranks;
        returns that norm (float32 or the gradients' dtype)."""
        self._check_root("clip_grad_norm_")
        norm_type = float(norm_type)
        sharded, replicated = [], []
        for unit in self._units():
            h = unit._handle
            if h is not None and h.orig:
                h._flat_grad_from_orig()  # what the optimizer will step on
                h._grad_views()
            if h is not None and h.flat.grad is not None:
                (sharded if h.sharded else replicated).append(h.flat.grad)
        managed = {id(p) for u in self._units() if u._handle is not None
                   for p in [u._handle.flat, *u._handle.orig_params]}
        for p in self.parameters():
            if id(p) not in managed and p.grad is not None:
                replicated.append(p.grad)
        grads = sharded + replicated
        if not grads:
            return Tensor._make(np.zeros((), dtype="float32"))
        xp = _backend.array_module(grads[0]._data)

        def local(gs):
            if not gs:
                return 0.0
            if norm_type == math.inf:
                return max(float(xp.abs(g._data).max()) if g.numel() else 0.0 for g in gs)
            return sum(float((xp.abs(g._data.astype("float64")) ** norm_type).sum())
                       for g in gs)

        sharded_norm = Tensor._make(np.array(local(sharded), dtype="float64"))
        dist.all_reduce(sharded_norm, op=dist.ReduceOp.MAX if norm_type == math.inf
                        else dist.ReduceOp.SUM, group=self.shard_group)
        if self.replicate_group is not None and self.replicate_group.size() > 1:
            pass  # replicas hold the same shards
        total_local = float(sharded_norm._data)
        rep = local(replicated)
        if norm_type == math.inf:
            total = max(total_local, rep)
        else:
            total = (total_local + rep) ** (1.0 / norm_type)
        dtype = grads[0]._data.dtype
        total_t = Tensor._make(_backend.asarray_on(np.array(total, dtype=dtype),
                                                   grads[0].device))
        coef = max_norm / (total + 1e-6)
        if coef < 1:
            with no_grad():
                for g in grads:
                    g.mul_(coef)
        return total_t

    # ------------------------------------------------------------------ full parameters
    @staticmethod
    @contextlib.contextmanager
    def summon_full_params(module, recurse=True, writeback=True, rank0_only=False,
                           offload_to_cpu=False, with_grads=False):
        """Inside, the FSDP units of ``module`` hold their full parameters as the original
        Parameters (named as in the unwrapped model); with ``writeback`` changes to them
        are copied back into the shards on exit."""
        if with_grads:
            raise NotImplementedError("dark's summon_full_params does not gather gradients "
                                      "(with_grads=True)")
        if writeback and rank0_only:
            raise NotImplementedError("writeback=True and rank0_only=True is not supported, "
                                      "as model parameter shapes will be different across "
                                      "ranks, and writing to them can lead to "
                                      "inconsistencies across ranks when the context is "
                                      "exited.")
        units = FullyShardedDataParallel.fsdp_modules(module) if recurse else [module]
        for unit in units:
            if isinstance(unit, FullyShardedDataParallel):
                unit._lazy_init()
        entered = []
        try:
            for unit in units:
                if not isinstance(unit, FullyShardedDataParallel):
                    continue
                h = unit._handle
                unit._in_summon = True
                entered.append((unit, None))
                if h is None:
                    continue
                full = h.gather(h.dtype, for_forward=False)
                keep = not (rank0_only and dist.get_rank() != 0)
                module_of = h.module
                module_of._parameters.pop(FLAT_PARAM, None)
                params = []
                for info, view in zip(h.infos, h.views(full)):
                    p = Parameter(Tensor._make(view if keep else view.copy()),
                                  requires_grad=h.flat.requires_grad)
                    params.append(p)
                    for owner, name, _ in info.owners:
                        owner.__dict__.pop(name, None)
                        owner._parameters[name] = p
                entered[-1] = (unit, full)
            yield
        finally:
            for unit, full in entered:
                unit._in_summon = False
                h = unit._handle
                if h is None or full is None:
                    continue
                for i, info in enumerate(h.infos):
                    for owner, name, _ in info.owners:
                        if h.orig:
                            owner._parameters[name] = h.orig_params[i]
                        else:
                            owner._parameters.pop(name, None)
                if not h.orig:
                    h.module._parameters[FLAT_PARAM] = h.flat
                if writeback:
                    with no_grad():
                        if h.sharded:
                            h.flat._data[...] = full[h.rank * h.chunk:(h.rank + 1) * h.chunk]
                        elif full is not h.flat._data:
                            h.flat._data[...] = full
                        h.flat._bump_version()
                h.reshard()

    @staticmethod
    def fsdp_modules(module, root_only=False):
        """The FSDP instances in ``module``'s tree (only the outermost with ``root_only``)."""
        units = [m for m in module.modules() if isinstance(m, FullyShardedDataParallel)]
        if root_only:
            inner = {id(u) for top in units for u in top.modules() if u is not top and
                     isinstance(u, FullyShardedDataParallel)}
            units = [u for u in units if id(u) not in inner]
        return units

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        clean = self._in_summon
        for name, p in super().named_parameters(prefix, recurse, remove_duplicate):
            yield (_clean(name) if clean else name), p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        clean = self._in_summon
        for name, b in super().named_buffers(prefix, recurse, remove_duplicate):
            yield (_clean(name) if clean else name), b

    # ------------------------------------------------------------------ state dicts
    @staticmethod
    def set_state_dict_type(module, state_dict_type, state_dict_config=None,
                            optim_state_dict_config=None):
        """Set the state_dict type (and configs) of every FSDP unit of ``module``; returns
        the previous settings."""
        defaults = {StateDictType.FULL_STATE_DICT: (FullStateDictConfig,
                                                    FullOptimStateDictConfig),
                    StateDictType.LOCAL_STATE_DICT: (LocalStateDictConfig,
                                                     LocalOptimStateDictConfig),
                    StateDictType.SHARDED_STATE_DICT: (ShardedStateDictConfig,
                                                       ShardedOptimStateDictConfig)}
        config_cls, optim_cls = defaults[state_dict_type]
        if state_dict_config is None:
            state_dict_config = config_cls()
        if optim_state_dict_config is None:
            optim_state_dict_config = optim_cls()
        if not isinstance(state_dict_config, config_cls):
            raise RuntimeError(f"Expected state_dict_config of type {config_cls} but got "
                               f"{type(state_dict_config)}")
        units = FullyShardedDataParallel.fsdp_modules(module)
        if not units:
            raise ValueError("The module passed to set_state_dict_type has no FSDP "
                             "instance")
        first = units[0]
        previous = StateDictSettings(first._state_dict_type, first._state_dict_config,
                                     first._optim_state_dict_config)
        for unit in units:
            unit._state_dict_type = state_dict_type
            unit._state_dict_config = state_dict_config
            unit._optim_state_dict_config = optim_state_dict_config
        return previous

    @staticmethod
    def get_state_dict_type(module):
        units = FullyShardedDataParallel.fsdp_modules(module)
        first = units[0]
        return StateDictSettings(first._state_dict_type, first._state_dict_config,
                                 first._optim_state_dict_config)

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module, state_dict_type, state_dict_config=None,
                        optim_state_dict_config=None):
        """Inside, ``module.state_dict()`` / ``load_state_dict`` of the FSDP units use
        ``state_dict_type``."""
        previous = FullyShardedDataParallel.set_state_dict_type(
            module, state_dict_type, state_dict_config, optim_state_dict_config)
        try:
            yield
        finally:
            FullyShardedDataParallel.set_state_dict_type(
                module, previous.state_dict_type, previous.state_dict_config,
                previous.optim_state_dict_config)

    def _plain_state_dict(self, prefix="", keep_vars=False):
        _Busy.state_dict = True
        try:
            return Module.state_dict(self, prefix=prefix, keep_vars=keep_vars)
        finally:
            _Busy.state_dict = False

    def _restore_buffer_dtype(self, sd, prefix):
        if not self._buffer_dtypes:
            return sd
        names = {}
        for mname, m in self.named_modules():
            for bname in m._buffers:
                dtype = self._buffer_dtypes.get((id(m), bname))
                if dtype is not None:
                    names[_clean(prefix + (mname + "." if mname else "") + bname)] = dtype
        for key, dtype in names.items():
            if key in sd:
                sd[key] = sd[key].to(dtype)
        return sd

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        if _Busy.state_dict or args or destination is not None:
            return Module.state_dict(self, *args, destination=destination, prefix=prefix,
                                     keep_vars=keep_vars)
        self._lazy_init()
        kind = self._state_dict_type
        config = self._state_dict_config
        if kind == StateDictType.FULL_STATE_DICT:
            with FullyShardedDataParallel.summon_full_params(self, writeback=False):
                raw = self._plain_state_dict(prefix)
            if getattr(config, "rank0_only", False) and dist.get_rank() != 0:
                return OrderedDict()
            sd = OrderedDict((_clean(k), v.detach().clone()) for k, v in raw.items())
            if config.offload_to_cpu:
                sd = OrderedDict((k, v.cpu()) for k, v in sd.items())
            return self._restore_buffer_dtype(sd, prefix)
        if kind == StateDictType.LOCAL_STATE_DICT:
            raw = self._plain_state_dict(prefix, keep_vars)
            return self._restore_buffer_dtype(OrderedDict((_clean(k), v) for k, v in
                                                          raw.items()), prefix)
        return self._sharded_state_dict(prefix)

    def _sharded_state_dict(self, prefix):
        """Each original parameter's dim-0 chunk of this rank, as a DTensor (Shard(0)) when
        dark.distributed.tensor is there."""
        with FullyShardedDataParallel.summon_full_params(self, writeback=False):
            raw = self._plain_state_dict(prefix)
        sd = OrderedDict((_clean(k), v.detach().clone()) for k, v in raw.items())
        return _sharded.chunk_state_dict(self._restore_buffer_dtype(sd, prefix), self.shard_group)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        if _Busy.state_dict:
            return Module.load_state_dict(self, state_dict, strict, assign)
        self._lazy_init()
        kind = self._state_dict_type
        if kind == StateDictType.SHARDED_STATE_DICT:
            state_dict = _sharded.full_state_dict(state_dict, self.shard_group)
            kind = StateDictType.FULL_STATE_DICT
        if kind == StateDictType.FULL_STATE_DICT:
            with FullyShardedDataParallel.summon_full_params(self, writeback=True):
                return self._load_translated(state_dict, strict, assign)
        return self._load_translated(state_dict, strict, assign)

    def _load_translated(self, state_dict, strict, assign):
        actual = list(self._plain_state_dict().keys())
        to_actual = {_clean(k): k for k in actual}
        translated = OrderedDict((to_actual.get(k, k), v) for k, v in state_dict.items())
        _Busy.state_dict = True
        try:
            result = Module.load_state_dict(self, translated, strict, assign)
        finally:
            _Busy.state_dict = False
        result.missing_keys[:] = [_clean(k) for k in result.missing_keys]
        result.unexpected_keys[:] = [_clean(k) for k in result.unexpected_keys]
        return result

    # ------------------------------------------------------------------ optimizer state
    @staticmethod
    def full_optim_state_dict(model, optim, optim_input=None, rank0_only=True, group=None):
        """The optimizer's state keyed as the unwrapped model's would be (``state`` by
        parameter index in ``model.named_parameters`` order of the original parameters,
        full tensors); rank 0 only unless ``rank0_only=False``."""
        return _optim.full_optim_state_dict(model, optim, rank0_only, key="index")

    @staticmethod
    def optim_state_dict(model, optim, optim_state_dict=None, group=None):
        """The optimizer's state keyed by the original parameters' names: full tensors
        (FULL_STATE_DICT), or each one's dim-0 chunk as a DTensor (SHARDED_STATE_DICT)."""
        unit = FullyShardedDataParallel.fsdp_modules(model)[0]
        config = unit._optim_state_dict_config
        sharded = unit._state_dict_type == StateDictType.SHARDED_STATE_DICT
        full = _optim.full_optim_state_dict(
            model, optim, getattr(config, "rank0_only", False) and not sharded, key="name")
        if sharded and full:
            full["state"] = {name: _sharded.chunk_state_dict(entry, unit.shard_group)
                             for name, entry in full["state"].items()}
        return full

    @staticmethod
    def scatter_full_optim_state_dict(full_optim_state_dict, model, optim_input=None,
                                      optim=None, group=None):
        """This rank's optimizer state (its shards) from rank 0's full one (the other
        ranks may pass None)."""
        holder = [full_optim_state_dict if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(holder, src=0)
        return _optim.shard_optim_state_dict(holder[0], model, key="index")

    @staticmethod
    def optim_state_dict_to_load(model, optim, optim_state_dict, is_named_optimizer=False,
                                 load_directly=False, group=None):
        """The state for ``optim.load_state_dict`` from ``optim_state_dict`` (as
        ``optim_state_dict`` gives it, full or sharded)."""
        unit = FullyShardedDataParallel.fsdp_modules(model)[0]
        state = {name: _sharded.full_state_dict(entry, unit.shard_group)
                 for name, entry in optim_state_dict["state"].items()}
        result = _optim.shard_optim_state_dict({**optim_state_dict, "state": state}, model,
                                               key="name")
        if load_directly:
            optim.load_state_dict(result)
        return result


def _named_subtree(module, state):
    """(name relative to ``module``, submodule) for the unit's own subtree."""
    out = [("", module)]
    stack = [("", module)]
    while stack:
        prefix, m = stack.pop()
        for name, child in m._modules.items():
            if child is None or isinstance(child, FullyShardedDataParallel) or \
                    child in state._ignored_modules:
                continue
            full = prefix + "." + name if prefix else name
            out.append((full, child))
            stack.append((full, child))
    return out


def _node_groups():
    """(this node's group, the group of the ranks with this local index on every node),
    from the ranks' host names: HYBRID_SHARD's default groups."""
    world = dist.get_world_size()
    hosts = [None] * world
    dist.all_gather_object(hosts, socket.gethostname())
    nodes = sorted(set(hosts), key=hosts.index)
    by_node = [[r for r in range(world) if hosts[r] == h] for h in nodes]
    me = dist.get_rank()
    intra = inter = None
    for ranks in by_node:
        g = dist.new_group(ranks)
        if me in ranks:
            intra = g
    local = max(len(r) for r in by_node)
    for i in range(local):
        ranks = [r[i] for r in by_node if i < len(r)]
        g = dist.new_group(ranks)
        if me in ranks:
            inter = g
    return intra, inter
