"""FSDP1's optimizer state dicts: the flat shards' state (exp_avg, momentum_buffer ...)
gathered and cut into the original parameters' tensors, and back."""
from __future__ import annotations

import numpy as np

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor


def _units(model):
    """[(clean prefix, unit)] of every FSDP unit that has a flat parameter."""
    out = []
    for name, m in model.named_modules():
        if "_fsdp_wrapped_module" in m._modules and m.__dict__.get("_handle") is not None:
            out.append((name.replace("_fsdp_wrapped_module.", ""), m))
    return out


def _originals(model):
    """{id(flat param): (handle, [original parameter names])}; with use_orig_params
    {id(original parameter): (handle, name, its index in the unit)}."""
    table = {}
    for prefix, unit in _units(model):
        h = unit._handle
        names = [(prefix + "." if prefix else "") + info.owners[0][2] for info in h.infos]
        table[id(h.flat)] = (h, names)
        for i, p in enumerate(h.orig_params):
            table[id(p)] = (h, names[i], i)
    return table


def _gather_orig(h, i, value):
    """The full tensor of an original parameter's state piece (use_orig_params)."""
    info = h.infos[i]
    if not h.sharded:
        return value.clone()
    pieces = [None] * h.world
    data = value._data if type(value._data) is np.ndarray else value._data.get()
    dist.all_gather_object(pieces, data, group=h.state.shard_group)
    whole = np.concatenate([np.asarray(piece).reshape(-1) for piece in pieces])
    return Tensor._make(_backend.asarray_on(whole.reshape(info.shape), value.device))


def _shard_orig(h, i, value):
    """This rank's piece of an original parameter's full state tensor."""
    info = h.infos[i]
    data = _backend.asarray_on(value._data, h.flat.device)
    if not h.sharded:
        return Tensor._make(data.reshape(info.shape).copy())
    base = h.rank * h.chunk
    lo = min(max(info.offset, base), base + h.chunk)
    hi = max(min(info.offset + info.numel, base + h.chunk), lo)
    flat = data.reshape(-1)
    return Tensor._make(flat[lo - info.offset:hi - info.offset].copy())


def _gather_flat(h, value):
    """The full flat (unpadded) array of a shard-shaped state tensor."""
    if not h.sharded:
        return value._data
    xp = _backend.array_module(value._data)
    out = Tensor._make(xp.empty(h.chunk * h.world, dtype=value._data.dtype))
    dist.all_gather_into_tensor(out, Tensor._make(xp.ascontiguousarray(value._data)),
                                group=h.state.shard_group)
    return out._data[:h.numel]


def full_optim_state_dict(model, optim, rank0_only, key):
    """torch's full optimizer state dict: ``state`` keyed by original parameter (index in
    the optimizer's order of the original parameters, or name), full tensors."""
    table = _originals(model)
    sd = optim.state_dict()
    flat_params = [p for g in optim.param_groups for p in g["params"]]
    state, groups, counter = {}, [], 0
    keys_of = {}
    for index, p in enumerate(flat_params):
        entry = table.get(id(p))
        names = entry[1] if entry is not None else [f"<non-fsdp {index}>"]
        if isinstance(names, str):
            names = [names]
        keys = list(range(counter, counter + len(names))) if key == "index" else names
        counter += len(names)
        keys_of[index] = keys
        pstate = sd["state"].get(index)
        if entry is not None and len(entry) == 3:  # an original parameter (use_orig_params)
            h, name, i = entry
            keys = [counter - 1] if key == "index" else [name]
            keys_of[index] = keys
            if pstate is not None:
                state[keys[0]] = {k: (_gather_orig(h, i, v) if isinstance(v, Tensor) and
                                      v.dim() > 0 else
                                      (v.clone() if isinstance(v, Tensor) else v))
                                  for k, v in pstate.items()}
            continue
        if pstate is None:
            continue
        if entry is None:
            for k in keys:
                state[k] = dict(pstate)
            continue
        h = entry[0]
        per = [dict() for _ in names]
        for name, value in pstate.items():
            if isinstance(value, Tensor) and value.dim() == 1 and \
                    value.shape[0] == h.flat.shape[0]:
                full = _gather_flat(h, value)
                for out, info in zip(per, h.infos):
                    out[name] = Tensor._make(
                        full[info.offset:info.offset + info.numel].reshape(info.shape).copy())
            else:
                for out in per:
                    out[name] = value.clone() if isinstance(value, Tensor) else value
        for k, out in zip(keys, per):
            state[k] = out
    start = 0
    for g in sd["param_groups"]:
        packed = {k: v for k, v in g.items() if k != "params"}
        packed["params"] = [k for i in g["params"] for k in keys_of[i]]
        start += len(g["params"])
        groups.append(packed)
    if rank0_only and dist.get_rank() != 0:
        return {}
    return {"state": state, "param_groups": groups}


def shard_optim_state_dict(full, model, key):
    """This rank's optimizer state dict (for ``optim.load_state_dict``) from a full one
    keyed as ``full_optim_state_dict`` keys it, the optimizer built over ``model``'s
    parameters in their order."""
    table = _originals(model)
    flat_params = list(model.parameters())
    state, groups = {}, []
    counter = 0
    for index, p in enumerate(flat_params):
        entry = table.get(id(p))
        names = entry[1] if entry is not None else [f"<non-fsdp {index}>"]
        if isinstance(names, str):
            names = [names]
        keys = list(range(counter, counter + len(names))) if key == "index" else names
        counter += len(names)
        parts = [full["state"].get(k) for k in keys]
        if entry is not None and len(entry) == 3:  # an original parameter (use_orig_params)
            if parts[0] is not None:
                h, _, i = entry
                state[index] = {k: (_shard_orig(h, i, v) if isinstance(v, Tensor) and
                                    v.dim() > 0 else v) for k, v in parts[0].items()}
            continue
        if all(part is None for part in parts):
            continue
        if entry is None:
            state[index] = dict(parts[0])
            continue
        h = entry[0]
        out = {}
        for name in next(part for part in parts if part is not None):
            values = [part[name] for part in parts]
            if isinstance(values[0], Tensor) and values[0].dim() > 0 and \
                    tuple(values[0].shape) == h.infos[0].shape:
                xp = _backend.array_module(h.flat._data)
                padded = xp.zeros(h.chunk * (h.world if h.sharded else 1),
                                  dtype=values[0]._data.dtype)
                for info, v in zip(h.infos, values):
                    padded[info.offset:info.offset + info.numel] = \
                        _backend.asarray_on(v._data, h.flat.device).reshape(-1)
                shard = padded[h.rank * h.chunk:(h.rank + 1) * h.chunk] if h.sharded \
                    else padded
                out[name] = Tensor._make(np.array(shard) if xp is np else shard.copy())
            else:
                out[name] = values[0]
        state[index] = out
    for g in full["param_groups"]:
        packed = {k: v for k, v in g.items() if k != "params"}
        groups.append(packed)
    if len(groups) == 1:
        groups[0]["params"] = list(range(len(flat_params)))
    return {"state": state, "param_groups": groups}
