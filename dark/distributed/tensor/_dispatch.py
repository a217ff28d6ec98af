"""The op dispatch of DTensors (dark.autograd.function.set_op_dispatch, set when the first
DTensor is made): an op given a DTensor runs on the local pieces, with the sharding rule of
its op (torch's rules for the ops the tensor-parallel models run):

- pointwise ops (with broadcasting): a Shard of any input is kept (the others are split
  alike, or, where they broadcast, replicated); Partial stays Partial through the ops linear
  in it (negation, casts, a sum of Partials, a product with one Partial factor, dropout);
- sum / mean over a sharded dimension give Partial(sum) (a mean's local value scaled by its
  share of the count);
- mm / matmul / addmm (F.linear): rows sharded x Replicate -> rows sharded; Replicate x
  columns sharded -> columns sharded; the contracted dimension sharded on both -> Partial;
  batch dimensions sharded alike -> sharded;
- views (view / reshape, transpose, permute, unsqueeze, expand) move a Shard to where its
  dimension goes (a reshape only where the dimension leads its group of merged or split
  dimensions and divides evenly);
- softmax / log_softmax and layer norm along dimensions that are not sharded; embedding
  with its table sharded by columns (-> Shard(-1)) or rows (-> Partial: the rows of other
  ranks read as zeros);
- any other op: every input made Replicate, the op run on the whole tensors, Replicate out
  (correct, with the communication that takes).

A Replicate input of an op whose output is sharded or partial on a mesh dimension gets only
its local part of the gradient from the local op: it passes through AllReduceGrad, which
sums its gradient over that mesh dimension in backward. Plain tensors with dimensions mixed
with DTensors are an error, as in torch."""
from __future__ import annotations

import math

import numpy as np

from ... import _backend
from ..._tensor import Tensor
from ...autograd import function as _function
from ...autograd.grad_mode import is_grad_enabled
from ...ops.elementwise import Mul
from ._api import DTensor, DTensorSpec, array_owner, local_arg, on_first_dtensor, redistribute
from ._redistribute import (
    AllReduceGrad,
    chunk_sizes,
    local_offsets,
    redistribute_array,
    split_piece,
)
from .placement_types import Partial, Replicate, Shard

_state = {"installed": False, "through": None}


def install() -> None:
    """Put the DTensor dispatch outside every op dispatch, now and later (once)."""
    if _state["installed"]:
        return
    _state["installed"] = True
    _function.add_op_dispatch_layer(_layer)


def _layer(inner):
    """The DTensor dispatch over ``inner`` (the plain path, or autocast's ...)."""
    _state["through"] = inner

    def dispatch(cls, *args, **kwargs):
        for a in args:
            if isinstance(a, DTensor):
                return _run(cls, args, kwargs)
        return inner(cls, *args, **kwargs)
    return dispatch


on_first_dtensor[0] = install


def _through(cls, *args, **kwargs):
    return _state["through"](cls, *args, **kwargs)


class Plan:
    """A rule's answer: each DTensor argument's placements (by position), the output's
    placements and global shape (one per output for ops with several), the kwargs of the
    local op, and optionally a function that runs the local op itself."""

    __slots__ = ("inputs", "outputs", "shapes", "kwargs", "run", "args")

    def __init__(self, inputs, outputs, shapes, kwargs, run=None, args=None):
        self.inputs, self.outputs, self.shapes = inputs, outputs, shapes
        self.kwargs, self.run, self.args = kwargs, run, args


def _op_name(cls) -> str:
    return getattr(cls, "node_name", None) or cls.__name__


def _run(cls, args, kwargs):
    dts = [a for a in args if isinstance(a, DTensor)]
    mesh = dts[0]._spec.mesh
    for a in dts[1:]:
        if a._spec.mesh != mesh:
            raise RuntimeError(f"{_op_name(cls)}: DTensor inputs on different device meshes "
                               f"({mesh} and {a._spec.mesh}) are not supported")
    for a in args:
        if isinstance(a, Tensor) and not isinstance(a, DTensor) and a._data.ndim > 0:
            raise RuntimeError(f"{_op_name(cls)}: got mixed dark.Tensor and DTensor, need to "
                               "convert all dark.Tensor to DTensor before calling distributed "
                               "operators!")
    for key, value in kwargs.items():
        if isinstance(value, Tensor):
            raise RuntimeError(f"{_op_name(cls)}: a tensor keyword argument {key!r} next to "
                               "DTensor inputs is not supported")
    if "view" in kwargs and any(not all(isinstance(p, Replicate) for p in a._spec.placements)
                                for a in dts):
        raise RuntimeError(f"{_op_name(cls)}: indexing a sharded DTensor (placements "
                           f"{dts[0]._spec.placements}) through a region computed from its "
                           "local piece is not supported; index it with its methods (x[...], "
                           "x.select, x.narrow, x.gather, x.sort ...: they work on the whole "
                           "tensor) or call full_tensor() first")
    rule = RULES.get(cls.__name__, _replicate_all)
    plan = rule(cls, args, kwargs, mesh)
    if plan is None:
        plan = _replicate_all(cls, args, kwargs, mesh)
    args = plan.args if plan.args is not None else args
    first_out = plan.outputs[0] if isinstance(plan.outputs, list) else plan.outputs
    record = is_grad_enabled()
    local_args = []
    for i, a in enumerate(args):
        if not isinstance(a, DTensor):
            local_args.append(a)
            continue
        target = plan.inputs[i]
        moved = redistribute(a, target) if a._spec.placements != target else a
        local = local_arg(moved)
        if record and moved._requires_grad:
            dims = tuple(k for k, p in enumerate(target)
                         if isinstance(p, Replicate) and not isinstance(first_out[k], Replicate))
            if dims:
                local = AllReduceGrad.apply(local, mesh, dims)
        local_args.append(local)
    if plan.run is not None:
        result = plan.run(local_args, plan.kwargs)
    else:
        result = _through(cls, *local_args, **plan.kwargs)
    if isinstance(result, tuple):
        outs = []
        for j, r in enumerate(result):
            placements = plan.outputs[j] if isinstance(plan.outputs, list) else plan.outputs
            shape = plan.shapes[j] if isinstance(plan.shapes, list) else plan.shapes
            outs.append(_wrap(r, mesh, placements, shape))
        return tuple(outs)
    return _wrap(result, mesh, first_out,
                 plan.shapes[0] if isinstance(plan.shapes, list) else plan.shapes)


def _wrap(result, mesh, placements, shape):
    if not isinstance(result, Tensor):
        return result
    if shape is None:
        shape = result._data.shape
    return DTensor._wrap(result, DTensorSpec(mesh, placements, shape))


def _specs(args):
    return {i: a._spec for i, a in enumerate(args) if isinstance(a, DTensor)}


def _all_replicate(mesh):
    return (Replicate(),) * mesh.ndim


# --------------------------------------------------------------------------- fallback
def _replicate_all(cls, args, kwargs, mesh):
    """No rule: the whole tensors on every rank (Replicate in, Replicate out)."""
    full = _all_replicate(mesh)
    kwargs = dict(kwargs)
    for key, array in _array_kwargs(kwargs).items():
        spec = array_owner(array)
        if spec is not None:
            kwargs[key] = redistribute_array(array, mesh, spec.shape, spec.placements, full)
    return Plan({i: full for i in _specs(args)}, full, None, kwargs)


# --------------------------------------------------------------------------- pointwise
# ops linear in each Partial input alone (the others Replicate or python numbers)
_LINEAR_UNARY = frozenset({"Neg", "ToCopy", "Clone", "Contiguous", "_Dropout"})


def _broadcast_shape(shapes):
    try:
        return tuple(_backend.broadcast_shapes(*shapes))
    except Exception:
        return tuple(np.broadcast_shapes(*shapes))


def _array_kwargs(kwargs):
    return {k: v for k, v in kwargs.items()
            if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, Tensor)}


def _pointwise(cls, args, kwargs, mesh):
    specs = _specs(args)
    arrays = _array_kwargs(kwargs)
    owned = {}  # the raw arrays that are DTensors' pieces take part as their DTensors
    for key, array in arrays.items():
        spec = array_owner(array)
        if spec is not None:
            owned[key] = spec
            specs[key] = spec
    out_shape = _broadcast_shape([s.shape for s in specs.values()]
                                 + [tuple(a.shape) for k, a in arrays.items()
                                    if k not in owned])
    nd = len(out_shape)
    name = cls.__name__
    inputs = {i: list(s.placements) for i, s in specs.items()}
    out = []
    for k in range(mesh.ndim):
        shards, partials = [], []
        for i, s in specs.items():
            p = s.placements[k]
            if isinstance(p, Shard):
                od = p.dim + nd - len(s.shape)
                if s.shape[p.dim] == out_shape[od]:
                    shards.append(od)
                else:
                    inputs[i][k] = Replicate()
            elif isinstance(p, Partial):
                partials.append(i)
        if shards:
            od = shards[0]
            for i, s in specs.items():
                d = od - (nd - len(s.shape))
                inputs[i][k] = Shard(d) if 0 <= d < len(s.shape) and \
                    s.shape[d] == out_shape[od] else Replicate()
            out.append(Shard(od))
            continue
        keep = False
        if partials:
            ops = {specs[i].placements[k].reduce_op for i in partials}
            sums = ops == {"sum"}
            if name in _LINEAR_UNARY and len(specs) == 1:
                keep = True
            elif name in ("Add", "Sub") and sums and len(partials) == len(specs) \
                    and all(isinstance(a, DTensor) for a in args):
                keep = True  # a sum of Partials (a number or plain scalar would count n times)
            elif name in ("Mul", "Div") and sums and len(partials) == 1 and \
                    (name == "Mul" or partials[0] == 0):
                keep = True
        if keep:
            out.append(specs[partials[0]].placements[k])
            for i in specs:
                if i not in partials:
                    inputs[i][k] = Replicate()
        else:
            for i in specs:
                inputs[i][k] = Replicate()
            out.append(Replicate())
    kwargs = dict(kwargs)
    for key, array in arrays.items():
        if key in owned:
            spec = owned[key]
            kwargs[key] = redistribute_array(array, mesh, spec.shape, spec.placements,
                                             tuple(inputs.pop(key)))
        else:
            kwargs[key] = _slice_like(array, out_shape, out, mesh)
    return Plan({i: tuple(p) for i, p in inputs.items()}, tuple(out), out_shape, kwargs)


def _slice_like(array, out_shape, placements, mesh):
    """This rank's piece of an array broadcast against an output laid out as
    ``placements`` (a dropout mask, a masked_fill mask)."""
    nd = len(out_shape)
    shape = list(out_shape)
    for k, p in enumerate(placements):
        if not isinstance(p, Shard):
            continue
        d = p.dim - (nd - array.ndim)
        n = mesh.size(k)
        if 0 <= d < array.ndim and array.shape[d] == shape[p.dim] and array.shape[d] != 1:
            array = split_piece(array, d, n, mesh._coordinate[k])
        shape[p.dim] = chunk_sizes(shape[p.dim], n)[mesh._coordinate[k]]
    return array


# --------------------------------------------------------------------------- reductions
def _reduction(cls, args, kwargs, mesh):
    spec = args[0]._spec
    nd = len(spec.shape)
    dims = kwargs.get("dims")
    dims = tuple(range(nd)) if dims is None or dims == () else \
        tuple(d % nd for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
    keepdim = bool(kwargs.get("keepdim", False))
    mean = cls.__name__.startswith("Mean")
    inputs, out = [], []
    sharded_reduced = False
    for k in range(mesh.ndim):
        p = spec.placements[k]
        if isinstance(p, Shard):
            inputs.append(p)
            if p.dim in dims:
                out.append(Partial("sum"))
                sharded_reduced = True
            else:
                out.append(Shard(p.dim if keepdim else p.dim - sum(d < p.dim for d in dims)))
        elif isinstance(p, Partial):
            if p.reduce_op == "sum":
                inputs.append(p)
                out.append(p)
            else:
                inputs.append(Replicate())
                out.append(Replicate())
        else:
            inputs.append(p)
            out.append(p)
    shape = tuple(1 if d in dims else s for d, s in enumerate(spec.shape) if keepdim
                  or d not in dims)
    run = None
    if mean and sharded_reduced:
        local = _local_shape(spec.shape, mesh, tuple(inputs))
        ratio = math.prod(local[d] for d in dims) / max(math.prod(spec.shape[d]
                                                                  for d in dims), 1)

        def run(local_args, kw):
            result = _through(cls, *local_args, **kw)
            return _through(Mul, result, float(ratio))
    return Plan({0: tuple(inputs)}, tuple(out), shape, kwargs, run)


def _local_shape(shape, mesh, placements):
    shape = list(shape)
    for k, p in enumerate(placements):
        if isinstance(p, Shard):
            shape[p.dim] = chunk_sizes(shape[p.dim], mesh.size(k))[mesh._coordinate[k]]
    return tuple(shape)


def _along_axis(cls, args, kwargs, mesh):
    """softmax / log_softmax: the axis must be whole; Partial made Replicate."""
    spec = args[0]._spec
    axis = kwargs.get("axis", kwargs.get("dim"))
    nd = len(spec.shape)
    axis = axis % nd if nd else 0
    placements = tuple(Replicate() if isinstance(p, Partial) or
                       (isinstance(p, Shard) and p.dim == axis) else p
                       for p in spec.placements)
    return Plan({0: placements}, placements, spec.shape, kwargs)


# --------------------------------------------------------------------------- matmul
def _mm_layout(shape, ta, role_first, role_second):
    """Roles of a matrix operand's dims: {dim: role}."""
    nd = len(shape)
    first, second = (nd - 1, nd - 2) if ta else (nd - 2, nd - 1)
    return {first: role_first, second: role_second}


def _matmul_plan(a_spec, b_spec, mesh, ta=False, tb=False):
    """Placements of a (.., m, k) @ b (.., k, n) and of the output (.., m, n)."""
    a_shape, b_shape = a_spec.shape, b_spec.shape
    a_roles = _mm_layout(a_shape, ta, "m", "k")
    b_roles = _mm_layout(b_shape, tb, "k", "n")
    a_batch = a_shape[:-2]
    b_batch = b_shape[:-2]
    batch = _broadcast_shape([a_batch, b_batch])
    nb = len(batch)
    m = a_shape[-1] if ta else a_shape[-2]
    n = b_shape[-2] if tb else b_shape[-1]
    out_shape = tuple(batch) + (m, n)
    dim_of = {}
    for roles, _nd in ((a_roles, len(a_shape)), (b_roles, len(b_shape))):
        for d, r in roles.items():
            dim_of[(id(roles), r)] = d

    def role(roles, shape, p):
        if isinstance(p, Shard):
            if p.dim in roles:
                return roles[p.dim]
            od = p.dim + nb - (len(shape) - 2)
            return ("batch", od)
        if isinstance(p, Partial):
            return "P" if p.reduce_op == "sum" else "R*"
        return "R"

    def dim_for(roles, r):
        for d, rr in roles.items():
            if rr == r:
                return d
        raise AssertionError(r)

    def batch_dim(shape, od):
        d = od - (nb - (len(shape) - 2))
        if 0 <= d < len(shape) - 2 and shape[d] == batch[od]:
            return d
        return None

    a_in, b_in, out = [], [], []
    for k in range(mesh.ndim):
        pa, pb = a_spec.placements[k], b_spec.placements[k]
        ra, rb = role(a_roles, a_shape, pa), role(b_roles, b_shape, pb)
        if isinstance(ra, tuple) or isinstance(rb, tuple):
            od = ra[1] if isinstance(ra, tuple) else rb[1]
            da, db = batch_dim(a_shape, od), batch_dim(b_shape, od)
            a_in.append(Shard(da) if da is not None else Replicate())
            b_in.append(Shard(db) if db is not None else Replicate())
            out.append(Shard(od))
        elif ra == "m":
            a_in.append(pa)
            b_in.append(Replicate())
            out.append(Shard(nb))
        elif rb == "n":
            a_in.append(Replicate())
            b_in.append(pb)
            out.append(Shard(nb + 1))
        elif ra == "k" or rb == "k":
            a_in.append(Shard(dim_for(a_roles, "k")))
            b_in.append(Shard(dim_for(b_roles, "k")))
            out.append(Partial("sum"))
        elif ra == "P" and rb == "P":
            a_in.append(Replicate())
            b_in.append(pb)
            out.append(pb)
        elif ra == "P":
            a_in.append(pa)
            b_in.append(Replicate())
            out.append(pa)
        elif rb == "P":
            a_in.append(Replicate())
            b_in.append(pb)
            out.append(pb)
        else:
            a_in.append(Replicate())
            b_in.append(Replicate())
            out.append(Replicate())
    return tuple(a_in), tuple(b_in), tuple(out), out_shape


def _matmul(cls, args, kwargs, mesh):
    a, b = args[0], args[1]
    if not (isinstance(a, DTensor) and isinstance(b, DTensor)) or a.ndim < 2 or b.ndim < 2:
        return None
    a_in, b_in, out, shape = _matmul_plan(a._spec, b._spec, mesh,
                                          bool(kwargs.get("transpose_a", False)),
                                          bool(kwargs.get("transpose_b", False)))
    return Plan({0: a_in, 1: b_in}, out, shape, kwargs)


def _addmm(cls, args, kwargs, mesh):
    """_Addmm(bias, x, weight_t): x @ weight_t + bias (F.linear)."""
    bias, x, wt = args
    if not (isinstance(x, DTensor) and isinstance(wt, DTensor)) or x.ndim != 2 or \
            wt.ndim != 2:
        return None
    x_in, w_in, out, shape = _matmul_plan(x._spec, wt._spec, mesh)
    inputs = {1: x_in, 2: w_in}
    if isinstance(bias, DTensor):
        b_spec = bias._spec
        b_in = []
        for _k, p in enumerate(out):
            if isinstance(p, Shard):
                d = p.dim - (2 - len(b_spec.shape))
                b_in.append(Shard(d) if 0 <= d < len(b_spec.shape) and
                            b_spec.shape[d] == shape[p.dim] else Replicate())
            elif isinstance(p, Partial):
                b_in.append(p)  # the bias added once: on one rank (Replicate -> Partial)
            else:
                b_in.append(Replicate())
        inputs[0] = tuple(b_in)
    elif isinstance(bias, Tensor) and bias._data.ndim > 0:
        return None
    return Plan(inputs, out, shape, kwargs)


# --------------------------------------------------------------------------- views
def _resolve_shape(shape, numel):
    shape = list(shape)
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape[shape.index(-1)] = numel // known if known else 0
    return tuple(int(s) for s in shape)


def _view_groups(src, dst):
    """Pairs (src dims, dst dims) of equal products, in order (None where sizes are 0)."""
    if 0 in src or 0 in dst:
        return None
    groups, i, j = [], 0, 0
    while i < len(src) or j < len(dst):
        si, sj = i, j
        pi = src[i] if i < len(src) else 1
        pj = dst[j] if j < len(dst) else 1
        i, j = min(i + 1, len(src)) if i < len(src) else i, \
            min(j + 1, len(dst)) if j < len(dst) else j
        while pi != pj:
            if pi < pj:
                if i >= len(src):
                    return None
                pi *= src[i]
                i += 1
            else:
                if j >= len(dst):
                    return None
                pj *= dst[j]
                j += 1
        while i < len(src) and src[i] == 1 and (j >= len(dst) or dst[j] != 1):
            i += 1
        while j < len(dst) and dst[j] == 1 and (i >= len(src) or src[i] != 1):
            j += 1
        groups.append((list(range(si, i)), list(range(sj, j))))
    return groups


def _view(cls, args, kwargs, mesh):
    spec = args[0]._spec
    target = _resolve_shape(kwargs["shape"], math.prod(spec.shape))
    if math.prod(target) != math.prod(spec.shape):
        raise RuntimeError(f"{_op_name(cls)} of a DTensor of shape {list(spec.shape)} to "
                           f"{list(kwargs['shape'])}: the sizes do not match the whole "
                           "tensor's (a shape computed from the local piece?)")
    groups = _view_groups(spec.shape, target)
    inputs, out = [], []
    sharded = [p.dim for p in spec.placements if isinstance(p, Shard)]
    nested = len(sharded) != len(set(sharded))
    for k, p in enumerate(spec.placements):
        if not isinstance(p, Shard):
            inputs.append(p)
            out.append(p)
            continue
        n = mesh.size(k)
        mapped = None
        if groups is not None and not nested:
            for src_dims, dst_dims in groups:
                if p.dim in src_dims:
                    lead = [d for d in src_dims if spec.shape[d] != 1]
                    dst_lead = [d for d in dst_dims if target[d] != 1]
                    if lead and lead[0] == p.dim and dst_lead and \
                            spec.shape[p.dim] % n == 0 and target[dst_lead[0]] % n == 0:
                        mapped = dst_lead[0]
                    break
        if mapped is None:
            inputs.append(Replicate())
            out.append(Replicate())
        else:
            inputs.append(p)
            out.append(Shard(mapped))
    local = list(target)
    for k, p in enumerate(out):
        if isinstance(p, Shard):
            local[p.dim] //= mesh.size(k)
    kwargs = dict(kwargs, shape=tuple(local))
    return Plan({0: tuple(inputs)}, tuple(out), target, kwargs)


def _transpose(cls, args, kwargs, mesh):
    spec = args[0]._spec
    nd = len(spec.shape)
    if cls.__name__ == "TransposeMatrix":
        if nd < 2:
            return Plan({0: spec.placements}, spec.placements, spec.shape, kwargs)
        d0, d1 = 0, 1
    else:
        d0, d1 = kwargs["dim0"] % nd, kwargs["dim1"] % nd
    swap = {d0: d1, d1: d0}
    out = tuple(Shard(swap.get(p.dim, p.dim)) if isinstance(p, Shard) else p
                for p in spec.placements)
    shape = list(spec.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return Plan({0: spec.placements}, out, tuple(shape), kwargs)


def _permute(cls, args, kwargs, mesh):
    if "dims" not in kwargs:
        return None
    spec = args[0]._spec
    nd = len(spec.shape)
    dims = [d % nd for d in kwargs["dims"]]
    out = tuple(Shard(dims.index(p.dim)) if isinstance(p, Shard) else p
                for p in spec.placements)
    return Plan({0: spec.placements}, out, tuple(spec.shape[d] for d in dims), kwargs)


def _unsqueeze(cls, args, kwargs, mesh):
    if "dim" not in kwargs:
        return None
    spec = args[0]._spec
    nd = len(spec.shape) + 1
    dim = kwargs["dim"] % nd
    out = tuple(Shard(p.dim + (p.dim >= dim)) if isinstance(p, Shard) else p
                for p in spec.placements)
    shape = list(spec.shape)
    shape.insert(dim, 1)
    return Plan({0: spec.placements}, out, tuple(shape), kwargs)


def _expand(cls, args, kwargs, mesh):
    spec = args[0]._spec
    target = list(kwargs["shape"])
    offset = len(target) - len(spec.shape)
    for d, s in enumerate(spec.shape):
        if target[d + offset] == -1:
            target[d + offset] = s
    inputs, out = [], []
    for p in spec.placements:
        if isinstance(p, Shard) and target[p.dim + offset] != spec.shape[p.dim]:
            inputs.append(Replicate())
            out.append(Replicate())
        elif isinstance(p, Shard):
            inputs.append(p)
            out.append(Shard(p.dim + offset))
        else:
            inputs.append(p)
            out.append(p)
    local = list(target)
    placements = tuple(inputs)
    local_in = _local_shape(spec.shape, mesh, placements)
    for d in range(len(spec.shape)):
        if any(isinstance(p, Shard) and p.dim == d for p in placements):
            local[d + offset] = local_in[d]
    return Plan({0: placements}, tuple(out), tuple(target), dict(kwargs, shape=tuple(local)))


def _split(cls, args, kwargs, mesh):
    if "dim" not in kwargs or "sizes" not in kwargs:
        return None
    spec = args[0]._spec
    nd = len(spec.shape)
    dim = kwargs["dim"] % nd
    placements = tuple(Replicate() if isinstance(p, Shard) and p.dim == dim else p
                       for p in spec.placements)
    sizes = kwargs["sizes"]
    if sum(sizes) != spec.shape[dim]:
        raise RuntimeError(f"{_op_name(cls)} of a DTensor of shape {list(spec.shape)}: split "
                           f"sizes {list(sizes)} do not sum to dimension {dim}'s size "
                           f"{spec.shape[dim]} (sizes computed from the local piece? use the "
                           "tensor's method, e.g. x.split(...))")
    shapes = []
    for s in sizes:
        shape = list(spec.shape)
        shape[dim] = s
        shapes.append(tuple(shape))
    return Plan({0: placements}, [placements] * len(shapes), shapes, kwargs)


def _complex_view(cls, args, kwargs, mesh):
    """view_as_complex (.., 2) -> (..) and view_as_real (..) -> (.., 2): a Shard of any
    dimension but the pairs' stays."""
    spec = args[0]._spec
    nd = len(spec.shape)
    to_complex = cls.__name__ == "ViewAsComplex"
    placements = tuple(Replicate() if to_complex and isinstance(p, Shard) and p.dim == nd - 1
                       else p for p in spec.placements)
    shape = spec.shape[:-1] if to_complex else spec.shape + (2,)
    return Plan({0: placements}, placements, shape, kwargs)


# --------------------------------------------------------------------------- nn ops
def _layer_norm(cls, args, kwargs, mesh):
    x = args[0]
    if not isinstance(x, DTensor) or tuple(kwargs.get("group_shape", ())) != x._spec.shape \
            or kwargs.get("stats") is not None or kwargs.get("running") is not None:
        return None
    spec = x._spec
    nd = len(spec.shape)
    axes = tuple(a % nd for a in kwargs["axes"])
    placements = tuple(Replicate() if isinstance(p, Partial) or
                       (isinstance(p, Shard) and p.dim in axes) else p
                       for p in spec.placements)
    inputs = {0: placements}
    full = _all_replicate(mesh)
    for i in (1, 2):
        if i < len(args) and isinstance(args[i], DTensor):
            inputs[i] = full
    local = _local_shape(spec.shape, mesh, placements)
    return Plan(inputs, placements, spec.shape, dict(kwargs, group_shape=local))


def _embedding(cls, args, kwargs, mesh):
    weight = args[0]
    if not isinstance(weight, DTensor) or len(args) != 1 or weight.ndim != 2:
        return None
    spec = weight._spec
    indices = kwargs["indices"]
    owner = array_owner(indices)
    if owner is not None:  # token ids from a DTensor: the whole of them
        indices = redistribute_array(indices, mesh, owner.shape, owner.placements,
                                     _all_replicate(mesh))
        kwargs = dict(kwargs, indices=indices)
    shape = tuple(indices.shape) + (spec.shape[1],)
    inputs, out = [], []
    rows_sharded = []
    for k, p in enumerate(spec.placements):
        if isinstance(p, Shard) and p.dim == 1:
            inputs.append(p)
            out.append(Shard(len(shape) - 1))
        elif isinstance(p, Shard):
            inputs.append(p)
            out.append(Partial("sum"))
            rows_sharded.append(k)
        else:
            inputs.append(Replicate())
            out.append(Replicate())
    if not rows_sharded:
        return Plan({0: tuple(inputs)}, tuple(out), shape, kwargs)
    placements = tuple(inputs)
    start = local_offsets(spec.shape, mesh, placements)[0]
    rows = _local_shape(spec.shape, mesh, placements)[0]

    def run(local_args, kw):
        xp = _backend.array_module(indices)
        inside = (indices >= start) & (indices < start + rows)
        local_indices = xp.where(inside, indices - start, 0)
        result = _through(cls, local_args[0], **dict(kw, indices=local_indices))
        keep = inside[..., None].astype(result._data.dtype)
        return _through(Mul, result, Tensor._make(keep))
    return Plan({0: placements}, tuple(out), shape, kwargs, run)


RULES = {}
for _name in ("Add", "Sub", "Mul", "Div", "Rsub", "Neg", "Relu", "Silu", "Gelu", "Sigmoid",
              "Tanh", "Exp", "Log", "Sqrt", "Rsqrt", "Pow", "PowScalar", "Abs", "ToCopy",
              "Clone", "Contiguous", "_Dropout", "_Activation", "Where", "MaskedFill",
              "Reciprocal", "Maximum", "Minimum", "ClampScalar", "ClampMin", "ClampMax",
              "Sin", "Cos", "Erf", "Square", "LeakyRelu", "Hardtanh", "Elu", "Softplus",
              "Mish", "Hardswish", "Hardsigmoid", "LogSigmoid", "Eq", "Ne", "Lt", "Le", "Gt",
              "Ge", "NanToNum", "Lerp", "Addcmul", "Addcdiv", "Threshold"):
    RULES[_name] = _pointwise
for _name in ("Sum", "Sum_SumBackward1", "Mean", "Mean_MeanBackward1"):
    RULES[_name] = _reduction
RULES.update({
    "Softmax": _along_axis, "LogSoftmax": _along_axis,
    "Mm": _matmul, "MatMul": _matmul, "Bmm": _matmul, "_Addmm": _addmm,
    "View": _view, "Reshape": _view, "UnsafeView": _view, "_SqueezeRow": _view,
    "Transpose": _transpose, "TransposeMatrix": _transpose, "Permute": _permute,
    "Unsqueeze": _unsqueeze, "Expand": _expand, "Split": _split,
    "ViewAsComplex": _complex_view, "ViewAsReal": _complex_view,
    "_LayerNorm": _layer_norm, "_Embedding": _embedding,
})
