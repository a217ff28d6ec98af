"""``torch.distributed.checkpoint.state_dict``: one way to get and set the state_dicts of a
model (plain, DDP, FSDP1 or fully_shard'ed) and its optimizers, keyed by the original
model's names.

Sharded (the default): a fully_shard'ed model gives its DTensor shards; an FSDP1 model
its SHARDED_STATE_DICT. ``full_state_dict=True``: full tensors (with ``cpu_offload``,
on rank 0 only, the other ranks get an empty dict). Setting takes either kind;
``broadcast_from_rank0`` sends rank 0's full state_dict to every rank first.
Optimizer state dicts are ``{"state": {name: {...}}, "param_groups": [{..., "params":
[names]}]}``.
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import dataclass

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ...nn.modules.module import _IncompatibleKeys
from ..fsdp import FSDPModule, StateDictType
from ..fsdp import FullyShardedDataParallel as FSDP
from ..fsdp.api import FullStateDictConfig, ShardedStateDictConfig
from ..tensor import DTensor
from ._layout import _is_dtensor, _region

__all__ = ["StateDictOptions", "get_model_state_dict", "get_optimizer_state_dict",
           "get_state_dict", "set_model_state_dict", "set_optimizer_state_dict",
           "set_state_dict"]


@dataclass
class StateDictOptions:
    full_state_dict: bool = False
    cpu_offload: bool = False
    ignore_frozen_params: bool = False
    keep_submodule_prefixes: bool = True
    strict: bool = True
    broadcast_from_rank0: bool = False
    flatten_optimizer_state_dict: bool = False
    dsd_fqn_modifiers: str = "_fqn_modifiers"


def _clean(name: str) -> str:
    """The original model's name: without FSDP1's, DDP's and torch.compile's wrappers."""
    parts = [p for p in name.split(".") if p not in ("_fsdp_wrapped_module",
                                                      "_checkpoint_wrapped_module",
                                                      "_orig_mod")]
    return ".".join(parts)


def _unwrap_ddp(model):
    inner = getattr(model, "module", None)
    if type(model).__name__ == "DistributedDataParallel" and inner is not None:
        model = inner
    for m in model.modules():  # fully_shard'ed modules show their sharded parameters
        if isinstance(m, FSDPModule):
            m.reshard()
    return model


def _rank():
    return dist.get_rank() if dist.is_initialized() else 0


def _full(value):
    return value.full_tensor() if _is_dtensor(value) else value


@contextlib.contextmanager
def _fsdp1_type(model, full, cpu_offload):
    if not FSDP.fsdp_modules(model):
        yield False
        return
    if full:
        config = FullStateDictConfig(offload_to_cpu=cpu_offload, rank0_only=cpu_offload)
        with FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT, config):
            yield True
    else:
        with FSDP.state_dict_type(model, StateDictType.SHARDED_STATE_DICT,
                                  ShardedStateDictConfig(offload_to_cpu=cpu_offload)):
            yield True


def get_model_state_dict(model, *, submodules=None, options=None):
    """The model's state_dict, keyed as the unwrapped model's (see the module docstring)."""
    options = options or StateDictOptions()
    model = _unwrap_ddp(model)
    with _fsdp1_type(model, options.full_state_dict, options.cpu_offload):
        raw = model.state_dict()
    frozen = {_clean(n) for n, p in model.named_parameters() if not p.requires_grad}
    out = OrderedDict()
    for key, value in raw.items():
        key = _clean(key)
        if options.ignore_frozen_params and key in frozen:
            continue
        if options.full_state_dict and isinstance(value, Tensor):
            value = _full(value)
        if options.cpu_offload and isinstance(value, Tensor):
            value = value.cpu()
        out[key] = value.detach() if isinstance(value, Tensor) else value
    if options.full_state_dict and options.cpu_offload and _rank() != 0:
        return {}
    return out


def _broadcast(obj):
    holder = [obj if _rank() == 0 else None]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def _local_piece(full, target):
    """This rank's region of the full tensor ``full`` as ``target`` (a DTensor) lays it
    out (dim-0 chunks for each Shard placement)."""
    offsets, sizes, _ = _region(target)
    index = tuple(slice(o, o + s) for o, s in zip(offsets, sizes))
    return full[index] if index else full


def set_model_state_dict(model, model_state_dict, *, options=None):
    """Load ``model_state_dict`` (full or sharded tensors, keyed as the unwrapped model's)
    into the model; returns ``(missing_keys, unexpected_keys)``."""
    options = options or StateDictOptions()
    model = _unwrap_ddp(model)
    if options.broadcast_from_rank0 and dist.is_initialized():
        model_state_dict = _broadcast(dict(model_state_dict) if _rank() == 0 else None)
    if FSDP.fsdp_modules(model):
        full = not any(_is_dtensor(v) for v in model_state_dict.values())
        with _fsdp1_type(model, full, False):
            return model.load_state_dict(model_state_dict, strict=options.strict)
    targets = {}
    for name, value in model.state_dict(keep_vars=True).items():
        targets[_clean(name)] = value
    missing = [k for k in targets if k not in model_state_dict]
    unexpected = [k for k in model_state_dict if k not in targets]
    if options.strict and (missing or unexpected):
        raise RuntimeError(f"Error(s) in loading state_dict for {type(model).__name__}: "
                           f"missing keys {missing}, unexpected keys {unexpected}")
    with no_grad():
        for key, value in model_state_dict.items():
            target = targets.get(key)
            if target is None or not isinstance(value, Tensor):
                continue
            if _is_dtensor(value):
                value = value.to_local()
            elif _is_dtensor(target):
                value = _local_piece(value, target)
            data = _backend.asarray_on(value._data, target.device)
            if data.dtype != target._data.dtype:
                data = _backend.cast(data, target._data.dtype)
            target._data[...] = data.reshape(target._data.shape)
            target._bump_version()
    return _IncompatibleKeys(missing, unexpected)


# ------------------------------------------------------------------------- optimizers
def _param_names(model):
    """{id(parameter): original name} (FSDP1's flat parameters map to their lists)."""
    names = {}
    for name, p in model.named_parameters():
        names[id(p)] = _clean(name)
    return names


def _init_optim_state(optim):
    """Give every parameter its optimizer state (a step with zero gradients and lr 0), as
    torch's helper."""
    if optim.state:
        return
    for group in optim.param_groups:
        for p in group["params"]:
            if p.grad is None and p.requires_grad:
                p.grad = p.detach() * 0
    lrs = []
    for group in optim.param_groups:
        if "lr" in group:
            lrs.append(group["lr"])
            group["lr"] = 0.0
    optim.step()
    for group in optim.param_groups:
        if "lr" in group:
            group["lr"] = lrs.pop(0)
    optim.zero_grad(set_to_none=True)


def get_optimizer_state_dict(model, optimizers, *, submodules=None, options=None):
    """The optimizers' state keyed by the parameters' original names."""
    options = options or StateDictOptions()
    model = _unwrap_ddp(model)
    optims = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
    if FSDP.fsdp_modules(model):
        out = {"state": {}, "param_groups": []}
        for optim in optims:
            sd = FSDP.optim_state_dict(model, optim)
            out["state"].update(sd.get("state", {}))
            out["param_groups"].extend(sd.get("param_groups", []))
        if options.full_state_dict and options.cpu_offload and _rank() != 0:
            return {}
        return out
    names = _param_names(model)
    state, groups = {}, []
    for optim in optims:
        sd = optim.state_dict()
        params = [p for g in optim.param_groups for p in g["params"]]
        for index, entry in sd["state"].items():
            p = params[index]
            out = {}
            for key, value in entry.items():
                if isinstance(value, Tensor):
                    value = _as_dtensor_like(value, p)
                    if options.full_state_dict:
                        value = _full(value)
                    if options.cpu_offload:
                        value = value.cpu()
                out[key] = value
            state[names[id(p)]] = out
        for g, packed in zip(optim.param_groups, sd["param_groups"]):
            group = {k: v for k, v in packed.items() if k != "params"}
            group["params"] = [names[id(p)] for p in g["params"]]
            groups.append(group)
    if options.full_state_dict and options.cpu_offload and _rank() != 0:
        return {}
    return {"state": state, "param_groups": groups}


def _as_dtensor_like(value, param):
    """A state tensor of a DTensor parameter as a DTensor laid out as the parameter."""
    if _is_dtensor(value) or not _is_dtensor(param) or value.dim() == 0:
        return value
    if tuple(value.shape) != tuple(param.to_local().shape):
        return value
    return DTensor.from_local(value.detach(), param.device_mesh, param.placements,
                              shape=tuple(param.shape))


def set_optimizer_state_dict(model, optimizers, optim_state_dict, *, options=None):
    """Load a state dict of ``get_optimizer_state_dict`` (full or sharded) into the
    optimizers."""
    options = options or StateDictOptions()
    model = _unwrap_ddp(model)
    optims = optimizers if isinstance(optimizers, (list, tuple)) else [optimizers]
    if options.broadcast_from_rank0 and dist.is_initialized():
        optim_state_dict = _broadcast(optim_state_dict if _rank() == 0 else None)
    if FSDP.fsdp_modules(model):
        for optim in optims:
            FSDP.optim_state_dict_to_load(model, optim, optim_state_dict, load_directly=True)
        return
    names = _param_names(model)
    saved_groups = list(optim_state_dict["param_groups"])
    for optim in optims:
        params = [p for g in optim.param_groups for p in g["params"]]
        state = {}
        for index, p in enumerate(params):
            entry = optim_state_dict["state"].get(names[id(p)])
            if entry is None:
                continue
            out = {}
            for key, value in entry.items():
                if isinstance(value, Tensor) and value.dim() > 0:
                    if _is_dtensor(value):
                        value = value.to_local()
                    elif _is_dtensor(p) and tuple(value.shape) == tuple(p.shape):
                        value = _local_piece(value, p)
                out[key] = value
            state[index] = out
        groups = []
        start = 0
        for g in optim.param_groups:
            mine = [names[id(p)] for p in g["params"]]
            saved = next((s for s in saved_groups if list(s["params"]) == mine), None)
            packed = {k: v for k, v in (saved or g).items() if k != "params"}
            packed["params"] = list(range(start, start + len(mine)))
            start += len(mine)
            groups.append(packed)
        optim.load_state_dict({"state": state, "param_groups": groups})


def get_state_dict(model, optimizers, *, submodules=None, options=None):
    return (get_model_state_dict(model, options=options),
            get_optimizer_state_dict(model, optimizers, options=options))


def set_state_dict(model, optimizers, *, model_state_dict, optim_state_dict, options=None):
    result = set_model_state_dict(model, model_state_dict, options=options)
    set_optimizer_state_dict(model, optimizers, optim_state_dict, options=options)
    return result
