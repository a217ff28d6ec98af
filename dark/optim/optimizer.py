"""Optimizer: the base class of dark's optimizers, as torch.optim.Optimizer.

It holds ``param_groups`` (dicts of parameters and their options), ``state`` (a defaultdict
keyed by parameter) and ``defaults``; ``state_dict`` / ``load_state_dict`` use PyTorch's
layout (parameters replaced by their integer position), so checkpoints read alike.

The built-in optimizers update raw arrays in place (ufuncs with ``out=``): a parameter's
array, its gradient's and its state's, plus a few scratch buffers that the optimizer keeps
outside ``state`` and reuses for every parameter and every step."""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any, NamedTuple

import numpy as np

from .. import _backend
from .._backend import array_module
from .._sparse import SparseCOO, empty_coo, segment_sum
from .._sparse import linear_index as _linear_index
from .._tensor import Tensor
from ..autograd.grad_mode import enable_grad, no_grad
from ..utils.hooks import RemovableHandle

__all__ = ["Optimizer", "register_optimizer_step_post_hook",
           "register_optimizer_step_pre_hook"]


class _RequiredParameter:
    """Marks an option that every parameter group must give (``lr`` of a bare Optimizer)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


_global_optimizer_pre_hooks: OrderedDict = OrderedDict()
_global_optimizer_post_hooks: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` to run before
    every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _hooked_step(step):
    """``step`` surrounded by the global and per-optimizer step hooks."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
        out = step(self, *args, **kwargs)
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out

    wrapper.hooked = True
    return wrapper


def _use_grad(step):
    """Run a built-in optimizer's step without recording a graph (the closure it calls
    records one under enable_grad)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        with no_grad():
            return step(self, *args, **kwargs)

    return wrapper


def _typename(obj) -> str:
    """torch.typename of a parameter (``dark.FloatTensor``) or of what stands in its place."""
    if isinstance(obj, Tensor):
        return _backend.tensor_type_name(obj._data)
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def _to_scalar(value):
    """A hyperparameter given as a one-element tensor, as a python number."""
    return value.item() if isinstance(value, Tensor) else value


def _check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


_OPTION_LABELS = {"eps": "epsilon"}


def _validate(lr, *, nan_ok: bool = False, **options) -> None:
    """PyTorch's constructor checks, ``lr`` first, then ``options`` in the order given:
    ``lr`` >= 0 (a 1-element tensor allowed), ``betas`` each in [0, 1), ``rho`` in [0, 1],
    any other option >= 0. ``nan_ok`` (SGD's ``value < 0`` tests) lets NaN options pass."""
    _check_lr(lr)
    for name, value in options.items():
        if name == "betas":
            for i in range(2):
                if not 0.0 <= value[i] < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {i}: {value[i]}")
            continue
        if nan_ok:
            valid = not value < 0.0
        else:
            valid = 0.0 <= value <= 1.0 if name == "rho" else 0.0 <= value
        if not valid:
            raise ValueError(f"Invalid {_OPTION_LABELS.get(name, name)} value: {value}")


# what a group loaded from an older checkpoint gets for an option it lacks
_GROUP_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False,
                   "capturable": False, "decoupled_weight_decay": False, "fused": None,
                   "amsgrad": False, "momentum": 0, "centered": False, "nesterov": False}


def _set_group_defaults(optimizer, *keys: str, **values) -> None:
    """``setdefault`` every group's ``keys`` to their usual defaults, then ``values``."""
    for group in optimizer.param_groups:
        for key in keys:
            group.setdefault(key, _GROUP_DEFAULTS[key])
        for key, value in values.items():
            group.setdefault(key, value)


def _check_not_fused_with(fused, foreach, differentiable) -> None:
    if differentiable:
        raise RuntimeError("dark optimizers do not support differentiable=True: the step "
                           "updates the parameters in place without recording a graph")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _scalar_dtype():
    """PyTorch's ``_get_scalar_dtype()``: float64 under a float64 default, else float32."""
    return np.float64 if _backend.get_default_dtype().np == np.float64 else np.float32


def _step_tensor(value: float = 0.0) -> Tensor:
    """A 0-d CPU tensor counting steps, of the scalar dtype, as PyTorch's
    ``state['step']``."""
    return Tensor._make(np.array(value, dtype=_scalar_dtype()))


def _numbers_to_tensors(optimizer, keys, make) -> None:
    """Checkpoints from older PyTorch hold python numbers where the state now keeps 0-d
    tensors: replace each ``state[key]`` number of every parameter by
    ``make(param, value)``."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if not state:
                continue
            for key in keys:
                if not isinstance(state[key], Tensor):
                    state[key] = make(param, float(state[key]))


def _zeros_like(param: Tensor) -> Tensor:
    out = Tensor._make(array_module(param._data).zeros_like(param._data))
    spec = getattr(param, "_spec", None)
    if spec is not None:  # a DTensor parameter: its state is a DTensor laid out as it, as torch's
        out = type(param.detach())._wrap(out, spec)
    return out


def _zeros_state(param: Tensor, *keys: str) -> dict:
    """State entries ``keys``, each a zero tensor like ``param``."""
    return {key: _zeros_like(param) for key in keys}


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter
    groups, each with its own options); ``defaults`` gives the options a group leaves out."""

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked_step(step)

    def _init_hooks(self) -> None:
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._scratch_buffers = {}
        self._scratch_views = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_optimizer_step_pre_hooks" not in self.__dict__:
            self._init_hooks()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``'params'`` and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some "
                                 "param names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if grad.grad_fn is not None:
                        grad.detach_()
                    else:
                        grad.requires_grad_(False)
                    if type(grad._data) is SparseCOO:  # torch's: no entries, coalesced
                        storage = grad._data
                        grad._data = empty_coo(array_module(storage.values), storage.shape,
                                               storage.dtype, storage.sparse_dim)
                        grad._bump_version()
                    else:
                        grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Perform one optimization step (subclasses implement it)."""
        raise NotImplementedError

    @staticmethod
    def _closure_loss(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``: the
        parameters replaced by their position in the groups (the tensors are not copied)."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mapping.update({id(p): i for i, p in enumerate(group["params"], start)
                            if id(p) not in mapping})
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups,
                                                  key=None):
        # state['step'] keeps its dtype and device (it counts on the host) unless the group
        # is fused or capturable, as in PyTorch; other floating state follows the parameter.
        fused = capturable = False
        for group in param_groups:
            if param_id in group["params"]:
                fused = group.get("fused", False)
                capturable = group.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                return value.to(dtype=_backend.float32, device=param.device)
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` (of an optimizer over parameters of the same shapes, in the
        same group layout); floating state is cast to each parameter's dtype and device."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, param_id, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, state_dict["param_groups"], key)
            if isinstance(value, dict):
                return {k: cast(param, v, param_id, key=k) for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
                return type(value)(cast(param, v, param_id) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v, k)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ------------------------------------------------------------------ hooks
    def _register(self, hooks: OrderedDict, hook, prepend: bool = False) -> RemovableHandle:
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs) -> None or (args, kwargs)`` before each step."""
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` after each step."""
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` before ``state_dict()`` builds the dict."""
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> None or state_dict`` after ``state_dict()``."""
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> None or state_dict`` before loading."""
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer)`` after ``load_state_dict()``."""
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------------ update helpers
    def _init_state(self, param: Tensor, group: dict) -> dict:
        """A parameter's first state: ``step`` (0-d, 0), then ``self._new_state(param,
        group)`` (the entries of a built-in optimizer)."""
        state = self.state[param]
        state["step"] = _step_tensor()
        state.update(self._new_state(param, group))
        return state

    def _new_state(self, param: Tensor, group: dict) -> dict:
        raise NotImplementedError

    def _params_to_update(self, group: dict):
        """``(param, state, step)`` for every parameter of ``group`` that has a gradient:
        its state made on its first step, ``state['step']`` counted up and read as ``step``.
        Once the caller has updated the parameter in place, its version is bumped."""
        for param in group["params"]:
            if param._grad is None:
                continue
            state = self.state[param]
            if len(state) == 0:
                state = self._init_state(param, group)
            step_array = state["step"]._data
            step_array += 1
            yield param, state, float(step_array)
            param._bump_version()

    def _buffers(self, like, shape: tuple, count: int, dtype=None, make=tuple):
        """``make`` of ``count`` reusable arrays of ``shape`` on ``like``'s device, of
        ``dtype`` (default ``like``'s). The arrays are allocated once per optimizer, not per
        step, and shared by every parameter (the largest one sets their size); their views
        of each shape are kept too."""
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        key = (dtype, type(like), getattr(getattr(like, "device", None), "id", None), count)
        views = self._scratch_views.get((key, shape, make))
        if views is not None:
            return views
        size = 1
        for n in shape:
            size *= n
        buffers = self._scratch_buffers.get(key)
        if buffers is None or buffers[0].size < size:
            xp = array_module(like)
            buffers = self._scratch_buffers[key] = [xp.empty(size, dtype=dtype)
                                                    for _ in range(count)]
            # views of the smaller arrays would keep them alive
            self._scratch_views = {k: v for k, v in self._scratch_views.items()
                                   if k[0] != key}
        views = self._scratch_views[key, shape, make] = make(
            b[:size].reshape(shape) for b in buffers)
        return views

    def _scratch(self, like, shape: tuple) -> _Scratch:
        """The temporaries of an update of an array like ``like`` of ``shape``."""
        return self._buffers(like, shape, len(_Scratch._fields), make=_Scratch._make)

    def _update(self, update, arrays: tuple, *options) -> None:
        """``update(xp, *arrays, scratch, *options)`` over the raw arrays of one parameter
        (``arrays[0]``, then its gradient and state; entries may be None), ``scratch`` a
        ``_Scratch`` of arrays of their shape.

        Elementwise updates stream every array through memory a dozen times; on the CPU a
        large parameter is therefore updated in pieces of ``_CHUNK_BYTES`` per array, so that
        all those passes run on data held in cache rather than in main memory."""
        param = arrays[0]
        xp = array_module(param)
        size = param.size
        chunk = _CHUNK_BYTES // param.itemsize
        if xp is not np or size <= chunk or not all(
                a is None or a.flags.c_contiguous for a in arrays):
            update(xp, *arrays, self._scratch(param, param.shape), *options)
            return
        flat = [None if a is None else a.reshape(-1) for a in arrays]
        scratch = self._scratch(param, (chunk,))
        for start in range(0, size, chunk):
            stop = min(start + chunk, size)
            if stop - start < chunk:
                scratch = _Scratch._make(s[:stop - start] for s in scratch)
            update(xp, *(None if a is None else a[start:stop] for a in flat), scratch,
                   *options)


class _ElementwiseOptimizer(Optimizer):
    """The frame of the optimizers whose step updates each parameter elementwise from its
    gradient and state (all built-in ones but LBFGS and SparseAdam).

    The constructor refuses ``differentiable=True`` and ``fused`` with ``foreach`` (read
    from ``defaults``); ``step`` computes the closure's loss and calls
    ``_update_group(group, lr)`` for every group (``lr`` read as a number) without
    recording a graph; ``__setstate__`` gives a group of an older checkpoint the options
    named in ``_group_options`` that it lacks (PyTorch's values for a missing option)."""

    _group_options: tuple[str, ...] = ()
    # PyTorch's error for a sparse gradient (None: the optimizer takes them, in its
    # ``_update_group``); raised before a group whose parameters have one is updated
    _sparse_error: str | None = None

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)
        _check_not_fused_with(defaults.get("fused"), defaults["foreach"],
                              defaults["differentiable"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        _set_group_defaults(self, *self._group_options)

    @_use_grad
    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        sparse_error = self._sparse_error
        for group in self.param_groups:
            if sparse_error is not None and _has_sparse_grad(group):
                raise RuntimeError(sparse_error)
            self._update_group(group, _to_scalar(group["lr"]))
        return loss

    def _update_group(self, group: dict, lr: float) -> None:
        raise NotImplementedError


def _has_sparse_grad(group: dict) -> bool:
    """Whether a parameter of ``group`` has a sparse COO gradient."""
    for param in group["params"]:
        grad = param._grad
        if grad is not None and type(grad._data) is SparseCOO:
            return True
    return False


def _add_sparse_(param, storage: SparseCOO, alpha: float) -> None:
    """``param.add_(sparse, alpha=alpha)`` on raw arrays (``param`` dense, of the sparse
    tensor's shape), as PyTorch's CPU kernel: entry after entry in stored order (duplicates
    are not summed first), each ``param + alpha * value`` rounded once, as its fused
    multiply-add (computed in float64 for a float32 or float16 parameter, ``alpha`` rounded
    to the parameter's type first).

    The rows touched are gathered once into a float64 block, those of the most repeated
    indices first; pass k adds the k-th entry of every index that has one (a leading slice
    of the block) and rounds those rows. Past ``_MAX_SPARSE_PASSES`` entries of one index,
    an index's entries add up in float64 before one rounding (within float32 rounding of
    PyTorch's)."""
    values = storage.values
    nnz = values.shape[0]
    if nnz == 0:
        return
    xp = array_module(param)
    dtype = param.dtype
    wide = np.dtype(np.float64) if dtype.kind == "f" and dtype.itemsize < 8 else dtype
    scale = wide.type(dtype.type(alpha))
    indices = storage.indices
    keys = _linear_index(xp, indices, storage.shape[:storage.sparse_dim])
    # the entries sorted by index, those of one index in stored order: a run per index
    order = xp.argsort(keys, kind="stable")
    ordered = keys[order]
    first = xp.ones(nnz, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    starts = xp.flatnonzero(first)
    counts = xp.diff(xp.concatenate([starts, xp.asarray([nnz])]))
    passes = int(counts.max())
    if passes > _MAX_SPARSE_PASSES:
        rows = tuple(indices[:, order[starts]])
        runs = xp.take(values, order, axis=0).astype(wide) * scale
        with np.errstate(over="ignore", invalid="ignore"):
            param[rows] = (param[rows].astype(wide)
                           + segment_sum(xp, runs, starts, nnz)).astype(dtype)
        return
    if passes > 1:  # the runs by length, longest first (stable)
        by_count = xp.argsort(-counts, kind="stable")
        starts, counts = starts[by_count], counts[by_count]
    rows = tuple(indices[:, order[starts]])
    total = param[rows].astype(wide)
    with np.errstate(over="ignore", invalid="ignore"):
        total += xp.take(values, order[starts], axis=0).astype(wide) * scale
        # for each further pass, how many runs are that long (a leading slice of the runs)
        longer = xp.searchsorted(-counts, -xp.arange(1, passes), side="left").tolist()
        for extra, live in enumerate(longer, 1):
            block = total[:live]
            block[...] = block.astype(dtype)  # the previous pass's rounding
            block += xp.take(values, order[starts[:live] + extra], axis=0).astype(wide) * scale
        param[rows] = total.astype(dtype)


_MAX_SPARSE_PASSES = 64


# 1 MiB: the ~8 arrays of an update's piece fit in the last-level cache. Pieces the size of
# a core's L2 (128 KiB) cost more in calls than they save: each is a dozen numpy calls, and
# on a Zen 4 the SGD-momentum step of the 784-512-256-10 MLP took 0.31 ms in them against
# 0.24 ms in 1 MiB pieces (Adam: 1.02 against 0.91 ms; benchmarks/optim_step.py).
_CHUNK_BYTES = 1 << 20


class _Scratch(NamedTuple):
    """The temporaries of an elementwise update (numpy path), each an array of the
    parameter's shape and dtype, reused by every parameter and every step:

    ``grad``: the gradient the update uses, when it differs from ``.grad`` (negated for
    ``maximize``, plus ``weight_decay * param``); built by ``_effective_grad``.
    ``term``: an intermediate of the update that lives across several ops (a denominator,
    a damped gradient, a momentum step); ``_effective_grad`` uses it before that.
    ``work``: the temporary of one compound op (``_lerp_``, ``_addcmul_``, ``_addcdiv_``)
    or of the final ``param += step``."""

    grad: Any
    term: Any
    work: Any


def _effective_grad(xp, param, grad, maximize: bool, weight_decay: float, scratch):
    """The gradient an update uses: ``-grad`` when maximizing, plus ``weight_decay * param``
    (L2), built in ``scratch.grad`` (with ``scratch.term``) so that ``.grad`` stays as it
    is."""
    if maximize:
        xp.negative(grad, out=scratch.grad)
        grad = scratch.grad
    if weight_decay != 0:
        xp.multiply(param, weight_decay, out=scratch.term)
        xp.add(grad, scratch.term, out=scratch.grad)
        grad = scratch.grad
    return grad


# _effective_grad in a fused kernel (see _fused): the in params it adds, the values that
# the host passes for them, and the code, which leaves the gradient in ``g``
_EFFECTIVE_GRAD_CUDA_PARAMS = "T grad, int32 maximize, int32 l2_decay, T weight_decay"


def _effective_grad_cuda_args(grad, maximize: bool, weight_decay: float) -> tuple:
    return (grad, int(maximize), int(weight_decay != 0), float(weight_decay))


_EFFECTIVE_GRAD_CUDA = """
T g = maximize ? -grad : grad;
if (l2_decay) g = g + param * weight_decay;
"""


def _lerp_(xp, self_array, end, weight: float, scratch) -> None:
    """``self.lerp_(end, weight)`` with PyTorch's two formulas (chosen by the weight's size,
    for accuracy near both ends)."""
    xp.subtract(end, self_array, out=scratch)
    if abs(weight) < 0.5:
        xp.multiply(scratch, weight, out=scratch)
        xp.add(self_array, scratch, out=self_array)
    else:
        xp.multiply(scratch, 1 - weight, out=scratch)
        xp.subtract(end, scratch, out=self_array)


def _addcmul_(xp, self_array, tensor1, tensor2, value: float, scratch) -> None:
    """``self.addcmul_(t1, t2, value=v)``: self + v * t1 * t2 (PyTorch's order)."""
    xp.multiply(tensor1, value, out=scratch)
    xp.multiply(scratch, tensor2, out=scratch)
    xp.add(self_array, scratch, out=self_array)


def _addcdiv_(xp, self_array, tensor1, tensor2, value: float, scratch) -> None:
    """``self.addcdiv_(t1, t2, value=v)``: self + v * t1 / t2 (PyTorch's order)."""
    xp.multiply(tensor1, value, out=scratch)
    xp.divide(scratch, tensor2, out=scratch)
    xp.add(self_array, scratch, out=self_array)
