"""``torch.distributed.checkpoint`` (DCP): a state_dict saved by every rank to one folder,
each rank writing its own pieces, and loaded back in place, onto any layout.

The state_dict is flattened (nested dicts and lists: dotted keys, as torch's). A DTensor
is saved as this rank's region of the whole tensor (its offsets from the placements: each
``Shard(d)`` cuts dim d as ``torch.chunk``); a plain tensor counts as replicated and is
saved by rank 0; anything else is a pickled object, from rank 0. The folder holds
``__<rank>_0.distcp`` (one numpy ``.npz``-like pickle per rank: its regions) and
``.metadata`` (every key's whole shape and dtype, and which file holds which region).
``load`` fills the tensors of the state_dict given (a DTensor: its region, read from the
regions that overlap it, so a checkpoint loads onto another number of ranks or into full
tensors) and replaces its other values.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field

import numpy as np

from ... import _backend
from ... import distributed as dist
from ..._tensor import Tensor
from . import default_planner, state_dict, stateful
from ._layout import _is_dtensor, _region
from .default_planner import DefaultLoadPlanner, DefaultSavePlanner
from .stateful import Stateful


__all__ = ["BytesStorageMetadata", "DefaultLoadPlanner", "DefaultSavePlanner",
           "FileSystemReader", "FileSystemWriter", "Metadata", "Stateful",
           "TensorStorageMetadata", "async_save", "default_planner", "load", "load_state_dict",
           "save", "save_state_dict", "state_dict", "stateful"]

_METADATA = ".metadata"


@dataclass
class TensorStorageMetadata:
    """A tensor's whole shape and dtype, and its saved regions: ``[(file, offsets,
    sizes)]``."""

    dtype: str
    size: tuple
    chunks: list = field(default_factory=list)


@dataclass
class BytesStorageMetadata:
    file: str = ""


@dataclass
class Metadata:
    state_dict_metadata: dict
    planner_data: object = None
    storage_data: object = None


class FileSystemWriter:
    """Where ``save`` writes: a folder (made if missing)."""

    def __init__(self, path, single_file_per_rank=True, sync_files=True, thread_count=1,
                 per_thread_copy_ahead=10_000_000, cache_staged_state_dict=False,
                 overwrite=True, _extensions=None, serialization_format=None):
        self.path = os.fspath(path)
        self.overwrite = overwrite


class FileSystemReader:
    """Where ``load`` reads from: a folder ``save`` wrote."""

    def __init__(self, path, _extension_registry=None):
        self.path = os.fspath(path)

    def read_metadata(self) -> Metadata:
        with open(os.path.join(self.path, _METADATA), "rb") as f:
            return pickle.load(f)


# ---------------------------------------------------------------------- flattening
def _flatten(value, prefix, out):
    if _stateful(value):
        value = value.state_dict()
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and any(isinstance(v, (Tensor, dict)) for v in value):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    else:
        out[prefix] = value
    return out


def _host(t) -> np.ndarray:
    data = t._data
    return data if type(data) is np.ndarray else data.get()


def _group(process_group):
    if not dist.is_initialized():
        return None
    return dist._group(process_group)


# ---------------------------------------------------------------------- save / load
def save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None,
         process_group=None, no_dist=False):
    """Save ``state_dict`` to the folder ``checkpoint_id`` (or ``storage_writer.path``):
    every rank of the group calls it with its own (sharded) state_dict."""
    path = _path(checkpoint_id, storage_writer, "save")
    group = None if no_dist else _group(process_group)
    rank = group.rank() if group is not None else 0
    os.makedirs(path, exist_ok=True)
    flat = _flatten(state_dict, "", {})
    mine_file = f"__{rank}_0.distcp"
    pieces, local_meta = {}, {}
    for key, value in flat.items():
        if isinstance(value, Tensor):
            offsets, sizes, owner = _region(value)
            if not _is_dtensor(value):
                owner = rank == 0  # a plain tensor is replicated: rank 0 saves it
            dtype = str(value.dtype).replace("dark.", "")
            local_meta[key] = ("tensor", dtype, tuple(value.shape),
                               (offsets, sizes) if owner else None)
            if owner:
                array = _host(value)
                pieces[key] = (offsets, np.array(array) if array.dtype.kind != "V"
                               else array.astype(np.float32), dtype)
        else:
            local_meta[key] = ("object", value if rank == 0 else None)
    with open(os.path.join(path, mine_file), "wb") as f:
        pickle.dump(pieces, f, protocol=pickle.HIGHEST_PROTOCOL)
    everyone = [None] * (group.size() if group is not None else 1)
    if group is not None:
        dist.all_gather_object(everyone, local_meta, group=group)
    else:
        everyone[0] = local_meta
    if rank == 0:
        meta = {}
        for r, table in enumerate(everyone):
            for key, entry in table.items():
                if entry[0] == "tensor":
                    item = meta.setdefault(key, TensorStorageMetadata(entry[1], entry[2]))
                    if entry[3] is not None and all(c[1:] != tuple(entry[3])
                                                    for c in item.chunks):
                        item.chunks.append((f"__{r}_0.distcp",) + tuple(entry[3]))
                elif r == 0:
                    meta[key] = BytesStorageMetadata(file="")
                    meta[key].value = entry[1]
        tmp = os.path.join(path, _METADATA + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(Metadata(meta), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(path, _METADATA))
    if group is not None:
        dist.barrier(group=group)
    return Metadata({})


def load(state_dict, *, checkpoint_id=None, storage_reader=None, planner=None,
         process_group=None, no_dist=False):
    """Fill ``state_dict`` in place from the folder ``checkpoint_id``: its tensors (a
    DTensor: this rank's region) are copied into, its other values replaced."""
    path = _path(checkpoint_id, storage_reader, "load")
    group = None if no_dist else _group(process_group)
    meta = FileSystemReader(path).read_metadata().state_dict_metadata
    statefuls = {k: v for k, v in state_dict.items() if _stateful(v)}
    views = {k: v.state_dict() for k, v in statefuls.items()}
    flat = _flatten({**state_dict, **views}, "", {})
    files: dict = {}

    def read(name):
        if name not in files:
            with open(os.path.join(path, name), "rb") as f:
                files[name] = pickle.load(f)
        return files[name]

    replaced = {}
    for key, target in flat.items():
        if key not in meta:
            raise RuntimeError(f"Missing key in checkpoint state_dict: {key}.")
        item = meta[key]
        if not isinstance(target, Tensor):
            replaced[key] = item.value
            continue
        if not isinstance(item, TensorStorageMetadata):
            raise RuntimeError(f"dcp.load: {key} is a tensor in the state_dict but an object "
                               "in the checkpoint")
        if tuple(item.size) != tuple(target.shape):
            raise RuntimeError(f"Size mismatch between saved {tuple(item.size)} and current: "
                               f"{tuple(target.shape)} for {key}")
        offsets, sizes, _ = _region(target)
        out = np.zeros(sizes, dtype=np.float32 if item.dtype == "bfloat16" else
                       _np_dtype(item.dtype))
        for name, c_off, c_size in item.chunks:
            lo = [max(a, b) for a, b in zip(offsets, c_off)]
            hi = [min(a + s, b + t) for a, s, b, t in zip(offsets, sizes, c_off, c_size)]
            if any(h <= lo_ for lo_, h in zip(lo, hi)) and len(sizes):
                continue
            _, array, _ = read(name)[key]
            src = tuple(slice(a - b, h - b) for a, h, b in zip(lo, hi, c_off))
            dst = tuple(slice(a - b, h - b) for a, h, b in zip(lo, hi, offsets))
            out[dst] = array[src]
        local = target._data
        values = _backend.asarray_on(out, target.device)
        if local.dtype != values.dtype:
            values = _backend.cast(values, local.dtype)
        local[...] = values.reshape(local.shape)
        target._bump_version()
    if replaced:
        _replace(views, "", replaced)
        _replace(state_dict, "", {k: v for k, v in replaced.items()
                                  if k.split(".", 1)[0] not in views})
    for key, obj in statefuls.items():
        obj.load_state_dict(views[key])
    if group is not None:
        dist.barrier(group=group)


def _stateful(value) -> bool:
    return isinstance(value, Stateful) and not isinstance(value, (dict, list, Tensor))


def _np_dtype(name):
    return getattr(_backend, name).np if hasattr(_backend, name) else np.dtype(name)


def _replace(value, prefix, replaced):
    if isinstance(value, dict):
        for k in list(value):
            key = f"{prefix}.{k}" if prefix else str(k)
            if key in replaced:
                value[k] = replaced[key]
            else:
                _replace(value[k], key, replaced)
    elif isinstance(value, list):
        for i in range(len(value)):
            key = f"{prefix}.{i}" if prefix else str(i)
            if key in replaced:
                value[i] = replaced[key]
            else:
                _replace(value[i], key, replaced)


def _path(checkpoint_id, storage, what):
    if storage is not None:
        return storage.path
    if checkpoint_id is None:
        raise RuntimeError(f"`checkpoint_id` must be specified if storage_writer/"
                           f"storage_reader is None (dcp.{what}).")
    return os.fspath(checkpoint_id)


def save_state_dict(state_dict, storage_writer, process_group=None, coordinator_rank=0,
                    no_dist=False, planner=None):
    """The older name of ``save`` (storage_writer required)."""
    return save(state_dict, storage_writer=storage_writer, process_group=process_group,
                no_dist=no_dist)


def load_state_dict(state_dict, storage_reader, process_group=None, coordinator_rank=0,
                    no_dist=False, planner=None):
    """The older name of ``load``."""
    return load(state_dict, storage_reader=storage_reader, process_group=process_group,
                no_dist=no_dist)


class _Done:
    def result(self, timeout=None):
        return None

    def done(self):
        return True


def async_save(state_dict, *, checkpoint_id=None, storage_writer=None, planner=None,
               process_group=None, async_checkpointer_type=None, async_stager=None,
               no_dist=False, use_collectives=True):
    """``save``, finished before it returns (a done future)."""
    save(state_dict, checkpoint_id=checkpoint_id, storage_writer=storage_writer,
         process_group=process_group, no_dist=no_dist)
    return _Done()
