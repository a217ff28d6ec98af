"""dark.func: torch.func's function transforms, built on dark's reverse-mode autograd:
``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``hessian``, ``vmap`` and
``functional_call``.

How they differ from torch's, honestly:

- ``grad`` / ``vjp`` / ``jacrev`` differentiate with ``autograd.grad(create_graph=True)`` on
  fresh leaves made of the arguments (views of them when they already require grad, so that
  a transform inside another, ``grad(grad(f))`` or ``jacrev(jacrev(f))``, differentiates
  through the inner one). At the outermost level the results are detached unless an
  argument required grad: a tensor captured by ``f`` from outside that requires grad does
  not make the result differentiable with respect to it, as it would in torch.
- ``vmap`` calls ``func`` once per index of the mapped dim and stacks the results: the same
  values as torch's batched kernels for functions without side effects, at the speed of a
  loop. ``randomness`` keeps torch's meanings: 'error' raises torch's error when ``func``
  draws random numbers (detected by the generators' state moving), 'same' replays the
  first sample's random state for every sample, 'different' lets each sample draw its own
  (not torch's numbers: torch draws one batched tensor). A function that calls ``.item()``
  or branches on values works here where torch's vmap refuses it.
- There is no forward-mode AD in dark, so ``jvp``, ``jacfwd``, ``linearize`` are not here.
"""
from __future__ import annotations

import numbers

from . import random as _random
from ._tensor import Tensor
from .autograd import grad as _autograd_grad
from .autograd.grad_mode import enable_grad
from .nn.modules.module import Module
from .ops.shape import stack

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacrev", "vjp", "vmap"]

_depth = [0]  # how many transforms of this module are running (nesting)


# ----------------------------------------------------------------------------- pytrees

def _leaves(tree, out):
    if isinstance(tree, Tensor):
        out.append(tree)
    elif isinstance(tree, (tuple, list)):
        for item in tree:
            _leaves(item, out)
    elif isinstance(tree, dict):
        for item in tree.values():
            _leaves(item, out)
    return out


def _rebuild(tree, leaves):
    if isinstance(tree, Tensor):
        return next(leaves)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_rebuild(item, leaves) for item in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(item, leaves) for item in tree)
    if isinstance(tree, dict):
        return {key: _rebuild(item, leaves) for key, item in tree.items()}
    return tree


def _map(tree, fn):
    leaves = _leaves(tree, [])
    return _rebuild(tree, iter([fn(leaf) for leaf in leaves]))


# ----------------------------------------------------------------------------- grad

def _argnums(argnums, count: int):
    single = isinstance(argnums, numbers.Integral)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    for num in nums:
        if not isinstance(num, numbers.Integral):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(num)}")
        if not -count <= num < count:
            raise RuntimeError(f"Got argnum={num}, but only {count} positional inputs")
    return single, tuple(num % count for num in nums)


def _fresh(t: Tensor) -> Tensor:
    """A leaf of the transform's own graph: a view when ``t`` is already differentiable
    (an enclosing transform's variable), else a detached copy that requires grad."""
    if t.requires_grad:
        return t.view_as(t)
    return t.detach().requires_grad_(True)


def _differentiate(name, func, argnums, has_aux, args, kwargs, check_scalar=True):
    single, nums = _argnums(argnums, len(args))
    outer_differentiable = _depth[0] > 0 or any(
        t.requires_grad for num in nums for t in _leaves(args[num], []))
    _depth[0] += 1
    try:
        with enable_grad():
            args = list(args)
            for num in nums:
                args[num] = _map(args[num], _fresh)
            output = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(output, tuple) and len(output) == 2):
                    raise RuntimeError(f"{name}(f, ...)(*args): output of function f should be "
                                       "a tuple: (output, aux) if has_aux is True")
                output, aux = output
            if check_scalar:
                if not isinstance(output, Tensor):
                    raise RuntimeError(f"{name}(f)(*args): Expected f(*args) to return a "
                                       f"Tensor, got {type(output)}")
                if output.ndim != 0:
                    raise RuntimeError(
                        f"{name}(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                        f"tensor with {output.ndim} dims. Maybe you wanted to use the vjp or "
                        "jacrev APIs instead?")
            inputs = [args[num] for num in nums]
            return output, aux, inputs, single, outer_differentiable
    finally:
        _depth[0] -= 1


def _grads_of(output, inputs, grad_outputs, keep_graph):
    flat_inputs = _leaves(inputs, [])
    flat_outputs = _leaves(output, [])
    flat_grad_outputs = None if grad_outputs is None else _leaves(grad_outputs, [])
    with enable_grad():
        pairs = [(o, g) for o, g in zip(flat_outputs, flat_grad_outputs or [None] *
                                        len(flat_outputs)) if o.requires_grad]
        if pairs:
            grads = _autograd_grad([o for o, _ in pairs], flat_inputs,
                                   [g for _, g in pairs] if grad_outputs is not None else None,
                                   create_graph=True, allow_unused=True)
        else:
            grads = [None] * len(flat_inputs)
    grads = [t.new_zeros(t.shape) if g is None else g for g, t in zip(grads, flat_inputs)]
    if not keep_graph:
        grads = [g.detach() for g in grads]
    return _rebuild(inputs, iter(grads))


def _finish(value, keep_graph):
    return value if keep_graph else _map(value, lambda t: t.detach())


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning (the gradient of ``func`` with respect to the arguments
    ``argnums``, ``func``'s value); with ``has_aux``, func returns (value, aux) and the result
    is ((gradient), (value, aux))."""

    def wrapper(*args, **kwargs):
        output, aux, inputs, single, keep = _differentiate(
            "grad_and_value", func, argnums, has_aux, args, kwargs)
        _depth[0] += 1
        try:
            grads = _grads_of(output, inputs, None, keep)
        finally:
            _depth[0] -= 1
        grads = grads[0] if single else tuple(grads)
        value = _finish(output, keep)
        if has_aux:
            return grads, (value, _finish(aux, keep))
        return grads, value

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of the scalar function ``func`` with respect to
    the positional arguments ``argnums`` (an int, or a tuple giving a tuple of gradients);
    with ``has_aux``, func returns (value, aux) and the result is (gradient, aux)."""
    inner = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        grads, value = inner(*args, **kwargs)
        if has_aux:
            return grads, value[1]
        return grads

    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): vjp_fn(cotangents) gives the vector-Jacobian
    products with respect to each primal, as a tuple."""
    output, aux, inputs, _, keep = _differentiate(
        "vjp", func, tuple(range(len(primals))), has_aux, primals, {}, check_scalar=False)
    for leaf in _leaves(output, []):
        if not isinstance(leaf, Tensor):
            raise RuntimeError("vjp(f, *primals): Expected f to be a function that has "
                               "non-empty output")

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        structure = _leaves(output, [])
        given = _leaves(cotangents, [])
        if len(given) != len(structure):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as "
                               "pytree structure of outputs to the function.")
        for o, c in zip(structure, given):
            if tuple(o.shape) != tuple(c.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        return tuple(_grads_of(output, inputs, cotangents, keep or _depth[0] > 0))

    value = _finish(output, keep)
    if has_aux:
        return value, vjp_fn, _finish(aux, keep)
    return value, vjp_fn


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """A function returning the Jacobian of ``func`` with respect to the arguments
    ``argnums`` by reverse mode (one vjp per output element): for an output of shape O and
    an input of shape I, a tensor of shape O + I (nested as the outputs and argnums)."""

    def wrapper(*args, **kwargs):
        output, aux, inputs, single, keep = _differentiate(
            "jacrev", func, argnums, has_aux, args, kwargs, check_scalar=False)
        keep = keep or _depth[0] > 0
        flat_inputs = _leaves(inputs, [])
        _depth[0] += 1
        try:
            def jacobian_of(out):
                rows = []
                flat = out.reshape(-1)
                for j in range(out.numel()):
                    with enable_grad():
                        grads = _autograd_grad(flat[j], flat_inputs, create_graph=True,
                                               retain_graph=True, allow_unused=True) \
                            if flat[j].requires_grad else [None] * len(flat_inputs)
                    rows.append([t.new_zeros(t.shape) if g is None else g
                                 for g, t in zip(grads, flat_inputs)])
                blocks = []
                for k, t in enumerate(flat_inputs):
                    if rows:
                        block = stack([row[k] for row in rows], 0)
                    else:
                        block = t.new_zeros((0,) + tuple(t.shape))
                    block = block.reshape(tuple(out.shape) + tuple(t.shape))
                    blocks.append(block if keep else block.detach())
                result = _rebuild(inputs, iter(blocks))
                return result[0] if single else tuple(result)

            jac = _map_outputs(output, jacobian_of)
        finally:
            _depth[0] -= 1
        if has_aux:
            return jac, _finish(aux, keep)
        return jac

    return wrapper


def _map_outputs(output, fn):
    if isinstance(output, Tensor):
        return fn(output)
    if isinstance(output, (tuple, list)):
        return type(output)(_map_outputs(item, fn) for item in output)
    if isinstance(output, dict):
        return {key: _map_outputs(item, fn) for key, item in output.items()}
    raise RuntimeError(f"jacrev(f, ...)(*args): Expected f to return a Tensor or a tuple of "
                       f"Tensors, got {type(output)}")


def hessian(func, argnums=0):
    """The Hessian of a scalar function: jacrev(jacrev(func))."""
    return jacrev(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------- vmap

def _rng_state():
    states = [_random.default_generator.get_state()]
    states += [g.get_state() for g in _random._cuda_generators.values()] \
        if hasattr(_random, "_cuda_generators") else []
    return states


def _same_state(a, b) -> bool:
    return len(a) == len(b) and all(bool((x == y).all()) for x, y in zip(a, b))


def _set_rng_state(states) -> None:
    _random.default_generator.set_state(states[0])
    if hasattr(_random, "_cuda_generators"):
        for generator, state in zip(_random._cuda_generators.values(), states[1:]):
            generator.set_state(state)


def _func_name(func) -> str:
    return getattr(func, "__name__", repr(func))


def _broadcast_in_dims(name, in_dims, args):
    if isinstance(in_dims, numbers.Integral) or in_dims is None:
        return [in_dims] * len(args)
    if not isinstance(in_dims, (tuple, list)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` "
                         f"to be int or a (potentially nested) tuple matching the structure of "
                         f"inputs, got: {type(in_dims)}.")
    if len(in_dims) != len(args):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         f"compatible with the structure of `inputs`. in_dims has structure "
                         f"of length {len(in_dims)} but inputs has {len(args)} values.")
    return list(in_dims)


def _pairs(arg, dims, name, in_dims, out):
    """(tensor, dim) for each tensor leaf of ``arg`` under ``dims`` (an int / None for the
    whole argument, or the same structure)."""
    if isinstance(dims, numbers.Integral) or dims is None:
        for leaf in _leaves(arg, []):
            out.append((leaf, dims))
        if dims is not None and not _leaves(arg, []):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim="
                             f"{dims} for an input but the input is of type {type(arg)}. We "
                             "cannot vmap over non-Tensor arguments, please use None as the "
                             "respective in_dim")
        return out
    if isinstance(arg, (tuple, list)) and isinstance(dims, (tuple, list)) and \
            len(arg) == len(dims):
        for item, d in zip(arg, dims):
            _pairs(item, d, name, in_dims, out)
        return out
    if isinstance(arg, dict) and isinstance(dims, dict):
        for key in arg:
            _pairs(arg[key], dims.get(key), name, in_dims, out)
        return out
    raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                     "compatible with the structure of `inputs`.")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a dim of its inputs (``in_dims``: an int, None for an argument
    not mapped, or a structure per argument), the results stacked at ``out_dims``. See the
    module's text: one call per index."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")

    def wrapper(*args, **kwargs):
        name = _func_name(func)
        dims = _broadcast_in_dims(name, in_dims, args)
        pairs = []
        for arg, d in zip(args, dims):
            _pairs(arg, d, name, in_dims, pairs)
        sizes = []
        for tensor, d in pairs:
            if d is None:
                continue
            if not -tensor.ndim <= d < max(tensor.ndim, 1) or tensor.ndim == 0:
                raise ValueError(
                    f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some "
                    f"input, but that input is a Tensor of dimensionality {tensor.ndim} so "
                    f"expected in_dim to satisfy -{tensor.ndim} <= in_dim < {tensor.ndim}.")
            sizes.append(tensor.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one "
                             "input must be a Tensor mapped over a dim (in_dim not None)")
        if len(set(sizes)) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        size = sizes[0]
        start_state = _rng_state()
        results = []
        for i in range(size):
            if randomness == "same":
                _set_rng_state(start_state)
            before = _rng_state() if randomness == "error" else None
            sample = [_slice_arg(arg, d, i) for arg, d in zip(args, dims)]
            result = func(*sample, **kwargs)
            if before is not None and not _same_state(before, _rng_state()):
                raise RuntimeError(
                    "vmap: called random operation while in randomness error mode. Please "
                    "either use the 'same' or 'different' randomness flags on vmap or perform "
                    "the randomness operation out of vmap")
            results.append(result)
        return _stack_results(name, results, out_dims)

    return wrapper


def _slice_arg(arg, dims, i):
    if dims is None:
        return arg
    if isinstance(dims, numbers.Integral):
        return _map(arg, lambda t: t[(slice(None),) * (dims % t.ndim) + (i,)])
    if isinstance(arg, (tuple, list)):
        return type(arg)(_slice_arg(item, d, i) for item, d in zip(arg, dims))
    if isinstance(arg, dict):
        return {key: _slice_arg(item, dims.get(key), i) for key, item in arg.items()}
    return arg


def _stack_results(name, results, out_dims):
    first = results[0]
    if isinstance(first, Tensor):
        if isinstance(out_dims, (tuple, list)):
            if len(out_dims) != 1:
                raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): "
                                 "out_dims is not compatible with the structure of `outputs`.")
            out_dims = out_dims[0]
        if out_dims is None:
            return first
        d = out_dims if out_dims >= 0 else out_dims + first.ndim + 1
        if not 0 <= d <= first.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-first.ndim - 1}, {first.ndim}], but got {out_dims})")
        return stack(results, d)
    if isinstance(first, (tuple, list)):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else [out_dims] * len(first)
        if len(dims) != len(first):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is "
                             "not compatible with the structure of `outputs`.")
        stacked = [_stack_results(name, [r[k] for r in results], dims[k])
                   for k in range(len(first))]
        return type(first)(stacked) if not hasattr(first, "_fields") else type(first)(*stacked)
    if isinstance(first, dict):
        return {key: _stack_results(name, [r[key] for r in results],
                                    out_dims[key] if isinstance(out_dims, dict) else out_dims)
                for key in first}
    raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                     f"{type(first)}. Did you mean to set out_dims= to None for output?")


# ----------------------------------------------------------------------------- functional_call

def functional_call(module: Module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights: bool = True, strict: bool = False):
    """Call ``module`` with its parameters and buffers named in the dict(s) replaced by the
    given tensors (the module is left as it was afterwards)."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    else:
        values = {}
        repeated = []
        for d in parameter_and_buffer_dicts:
            for key, value in d.items():
                if key in values and key not in repeated:
                    repeated.append(key)
                values[key] = value
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             "functional call is ambiguous")
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(dict(module.named_buffers(remove_duplicate=False)))
    if strict:
        missing = sorted(set(named) - set(values))
        unexpected = sorted(set(values) - set(named))
        if missing or unexpected:
            lines = []
            if unexpected:
                lines.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected)
                             + ".")
            if missing:
                lines.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError("Error(s) in reparametrizing for "
                               f"{type(module).__name__}:\n\t" + "\n\t".join(lines))
    if tie_weights:
        # a tensor given for one name of tied parameters replaces every name of them
        by_id: dict = {}
        for key, tensor in named.items():
            by_id.setdefault(id(tensor), []).append(key)
        for keys in by_id.values():
            given = [k for k in keys if k in values]
            if given:
                for k in keys:
                    values.setdefault(k, values[given[0]])
    swapped = []
    try:
        for key, value in values.items():
            owner, _, attr = key.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            store = (target._parameters if attr in target._parameters else
                     target._buffers if attr in target._buffers else None)
            if store is None:
                continue
            swapped.append((store, attr, store[attr]))
            store[attr] = value
        if args is None:
            args = ()
        elif not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for store, attr, original in reversed(swapped):
            store[attr] = original
