"""Random ops: the random factories (rand, randn, randint, randperm, normal, bernoulli,
multinomial, poisson and the *_like forms) and the in-place Tensor methods (uniform_,
normal_, bernoulli_, random_, exponential_, ...). They draw from dark.random's generators
(``generator=``, else the default generator of the device) straight in the target dtype
(float32 by default). Sampling is not differentiable: the ops that take tensors record a
node whose gradient is zero, as PyTorch's."""
from __future__ import annotations

import contextlib
import operator

import numpy as np

from .. import _backend
from .._backend import broadcast_shapes
from .._tensor import Tensor, install_methods
from ..autograd.function import Op
from ..autograd.grad_mode import state as _grad_state
from ..random import engine_for
from .creation import finish, on_device, pinnable, shape_arg, zeros

# ----------------------------------------------------------------------------- factories

def _float_dtype(name: str, dtype, kernel: str) -> _backend.dtype:
    dtype = _backend.to_dtype(dtype) if dtype is not None else _backend.get_default_dtype()
    if not (dtype.is_floating_point or dtype.is_complex):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{dtype.scalar_name}\'')
    return dtype


def _draw(engine, kind: str, shape, dtype: _backend.dtype, out=None, mean=0.0, std=1.0):
    """Uniform [0, 1), normal (``mean``, ``std``) or standard exponential values in
    ``dtype``; a complex dtype draws its real and imaginary parts interleaved, as torch's
    view_as_real (each of std ``std / sqrt(2)`` for the normal)."""
    if not dtype.is_complex:
        if kind == "normal":
            return engine.normal(shape, dtype.np, out, mean=mean, std=std)
        return getattr(engine, kind)(shape, dtype.np, out)
    real = np.float32 if dtype.np == np.complex64 else np.float64
    if kind == "normal":
        pairs = engine.normal(tuple(shape) + (2,), np.dtype(real), mean=mean,
                              std=std / np.sqrt(2))
    else:
        pairs = getattr(engine, kind)(tuple(shape) + (2,), np.dtype(real))
    return np.ascontiguousarray(pairs).view(dtype.np).reshape(shape)


def _random_factory(name, kind, kernel, size_args, size, generator, out, dtype, device,
                    requires_grad):
    dtype = _float_dtype(name, dtype if dtype is not None or out is None else out.dtype, kernel)
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    engine = engine_for(generator, dev)
    shape = shape_arg(name, size_args if size is None else (size,))
    return finish(on_device(dev, lambda xp: _draw(engine, kind, shape, dtype)), out,
                  requires_grad)


@pinnable
def rand(*size_args, size=None, generator=None, out=None, dtype=None, layout=None,
         device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Uniform values on [0, 1) of shape ``size`` (default dtype)."""
    return _random_factory("rand", "uniform", "check_uniform_bounds", size_args, size,
                           generator, out, dtype, device, requires_grad)


@pinnable
def randn(*size_args, size=None, generator=None, out=None, dtype=None, layout=None,
          device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Standard normal values of shape ``size`` (default dtype)."""
    return _random_factory("randn", "normal", "normal_kernel_cpu", size_args, size,
                           generator, out, dtype, device, requires_grad)


def _int_bound(value, name: str) -> int:
    value = value.item() if isinstance(value, (Tensor, np.generic)) else value
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"randint(): argument '{name}' must be int, not "
                        f"{type(value).__name__}") from None


def _check_range(low: int, high: int, dtype: _backend.dtype, what: str = "random_") -> None:
    if low >= high:
        raise RuntimeError(f"{what} expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    if not (dtype.is_floating_point or dtype.is_complex):
        info = np.iinfo(dtype.np) if dtype is not _backend.bool_ else None
        low_limit, high_limit = (info.min, info.max) if info else (0, 1)
        if low < low_limit:
            raise RuntimeError(f"from is out of bounds for {dtype.cpp_name}")
        if high - 1 > high_limit:
            raise RuntimeError(f"to - 1 is out of bounds for {dtype.cpp_name}")


def _integers(generator, dev, low, high, shape, dtype) -> np.ndarray:
    engine = engine_for(generator, dev)
    return on_device(dev, lambda xp: engine.integers(low, high, shape, dtype.np))


@pinnable
def randint(*args, size=None, low=None, high=None, generator=None, out=None, dtype=None,
            layout=None, device=None, requires_grad: bool = False,
            pin_memory: bool = False) -> Tensor:
    """Integers uniform on [low, high) of shape ``size``: ``randint(high, size)`` or
    ``randint(low, high, size)``; int64 unless ``dtype`` is given."""
    args = list(args)
    if size is None:
        if not args:
            raise TypeError("randint() missing required argument 'size'")
        size = args.pop()
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"randint(): argument 'size' (position {len(args) + 1}) must be "
                            f"tuple of ints, not {type(size).__name__}")
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint() takes at most 3 positional arguments ({len(args) + 1} "
                        "given)")
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    low = 0 if low is None else _int_bound(low, "low")
    high = _int_bound(high, "high")
    dtype = _backend.to_dtype(dtype) if dtype is not None else (
        out.dtype if out is not None else _backend.int64)
    _check_range(low, high, dtype)
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    shape = shape_arg("randint", (size,))
    return finish(_integers(generator, dev, low, high, shape, dtype), out, requires_grad)


@pinnable
def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless ``dtype`` is given)."""
    n = operator.index(n.item() if isinstance(n, Tensor) else n)
    shape_arg("randperm", (n,))
    dtype = _backend.to_dtype(dtype) if dtype is not None else _backend.int64
    dev = _backend.to_device(device if device is not None or out is None else out.device)
    engine = engine_for(generator, dev)
    return finish(on_device(dev, lambda xp: engine.permutation(n).astype(dtype.np,
                                                                         copy=False)),
                  out, requires_grad)


def _rand_like(function, input, dtype, device, requires_grad, **kwargs):
    return function(input.shape, dtype=dtype if dtype is not None else input.dtype,
                    device=device if device is not None else input.device,
                    requires_grad=requires_grad, **kwargs)


def rand_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Uniform [0, 1) values in ``input``'s shape, dtype and device (unless given)."""
    return _rand_like(rand, input, dtype, device, requires_grad, generator=generator)


def randn_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Standard normal values in ``input``'s shape, dtype and device (unless given)."""
    return _rand_like(randn, input, dtype, device, requires_grad, generator=generator)


def randint_like(input: Tensor, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """Integers uniform on [low, high) in ``input``'s shape, dtype and device:
    ``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator,
                   dtype=dtype if dtype is not None else input.dtype,
                   device=device if device is not None else input.device,
                   requires_grad=requires_grad)


# ----------------------------------------------------------------------------- distributions
# Sampling is not differentiable: as PyTorch, the ops below record a node whose gradient is 0.

def _zero_grads(ctx, grad):
    return tuple(zeros(shape, dtype=grad.dtype, device=grad.device) if need else None
                 for shape, need in zip(ctx.shapes, ctx.needs_input_grad))


class _Sample(Op):
    """``draw(*arrays)`` makes the sample; the inputs get zero gradients."""

    @staticmethod
    def forward(ctx, *arrays, draw=None):
        ctx.shapes = [getattr(a, "shape", ()) for a in arrays]
        return draw(*arrays)

    @staticmethod
    def backward(ctx, grad):
        return _zero_grads(ctx, grad)


def _sample_op(node_name: str):
    return type(node_name.replace("Backward", "Sample"), (_Sample,), {"node_name": node_name})


_NORMAL_OPS = {key: _sample_op(f"NormalBackward{key}") for key in (1, 2, 3)}
_BERNOULLI_OPS = {key: _sample_op(f"BernoulliBackward{key}") for key in (0, 1, 2)}
_FILL_OPS = {name: _sample_op(f"{node}Backward{key}") for name, node, key in (
    ("uniform", "Uniform", 0), ("normal", "Normal", 0), ("bernoulli", "Bernoulli", 2),
    ("random", "Random", 0), ("exponential", "Exponential", 0),
    ("log_normal", "LogNormal", 0), ("cauchy", "Cauchy", 0), ("geometric", "Geometric", 0))}
_POISSON_OP = _sample_op("PoissonBackward0")


def _check_float_input(input: Tensor, kernel: str) -> None:
    if not (input.is_floating_point() or input.is_complex()):
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{input.dtype.scalar_name}'")


def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_number(std)}")


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@pinnable
def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Normal values with the given mean and std: tensors (broadcast together) or numbers;
    with two numbers ``size`` gives the shape. Not differentiable (zero gradients)."""
    mean_tensor, std_tensor = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_tensor and not std_tensor:
        if size is None:
            raise TypeError(f"normal() received an invalid combination of arguments - got "
                            f"({type(mean).__name__}, {type(std).__name__}), but expected "
                            "a Tensor mean or std, or a size")
        _check_std(std)
        dtype = _float_dtype("normal", dtype if dtype is not None or out is None
                             else out.dtype, "normal_kernel_cpu")
        dev = _backend.to_device(device if device is not None or out is None else out.device)
        engine = engine_for(generator, dev)
        shape = shape_arg("normal", (size,))

        def make(xp):
            return _draw(engine, "normal", shape, dtype, mean=mean, std=std)

        return finish(on_device(dev, make), out, requires_grad)
    first = mean if mean_tensor else std
    _check_float_input(first, "normal_kernel_cpu")
    engine = engine_for(generator, first.device)
    if mean_tensor and std_tensor:
        _check_float_input(std, "normal_kernel_cpu")
        if bool((std._data < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")

        def draw(m, s):
            dtype = _backend.result_type(m, s)
            shape = broadcast_shapes(m.shape, s.shape)
            return _draw(engine, "normal", shape, dtype) * s + m

        result = _NORMAL_OPS[3].apply(mean, std, draw=draw)
    elif mean_tensor:
        _check_std(std)
        # torch: output.normal_(0, std).add_(mean)
        result = _NORMAL_OPS[1].apply(mean, draw=lambda m: _draw(
            engine, "normal", m.shape, _backend.from_numpy_dtype(m.dtype), std=std) + m)
    else:
        if bool((std._data < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        result = _NORMAL_OPS[2].apply(std, draw=lambda s: _draw(
            engine, "normal", s.shape, _backend.from_numpy_dtype(s.dtype)) * s + mean)
    return finish(result._data, out, False) if out is not None else result


def _check_probability(p: float, what: str = "bernoulli_") -> None:
    if not 0 <= p <= 1:
        raise RuntimeError(f"{what} expects p to be in [0, 1], but got p={p}")


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 values, 1 with probability ``input`` (elementwise), or ``p`` when given; the
    result has ``input``'s shape and dtype."""
    engine = engine_for(generator, input.device)
    if p is None:
        _check_float_input(input, "bernoulli_tensor_cpu_p_")
        if bool(((input._data < 0) | (input._data > 1)).any()):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        result = _BERNOULLI_OPS[0].apply(input, draw=lambda probs: engine.bernoulli(
            probs.shape, probs, probs.dtype))
    else:
        _check_probability(p)
        result = _BERNOULLI_OPS[1].apply(input, draw=lambda a: engine.bernoulli(
            a.shape, float(p), a.dtype))
    return finish(result._data, out, False) if out is not None else result


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None, out=None) -> Tensor:
    """Indices of categories drawn with the (unnormalised, non-negative) weights of each row
    of ``input`` (1-d: one distribution; 2-d: one per row). int64 of shape (num_samples,)
    or (rows, num_samples)."""
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.is_floating_point():
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.scalar_name}")
    num_samples = operator.index(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    categories = input.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    weights = input._data
    xp = _backend.array_module(input._data)
    if bool((~xp.isfinite(weights) | (weights < 0)).any()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    rows = weights.reshape(-1, categories).astype(np.float64)
    if bool((rows.sum(axis=1) <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    engine = engine_for(generator, input.device)
    if hasattr(engine, "multinomial"):  # the CPU generator: torch's kernels
        samples = engine.multinomial(weights.reshape(-1, categories), num_samples,
                                     replacement)
        samples = samples.reshape(input.shape[:-1] + (num_samples,))
        return finish(samples, out, False)
    with contextlib.ExitStack() as stack:
        if not input.is_cpu:
            stack.enter_context(input._data.device)
        if replacement:
            samples = _sample_with_replacement(xp, engine, rows, num_samples)
        else:
            # the k smallest Exp(1) / weight keys are a draw without replacement
            keys = engine.exponential(rows.shape, np.dtype(np.float64))
            with np.errstate(divide="ignore"):
                keys = keys / rows
            samples = xp.argsort(keys, axis=1)[:, :num_samples]
    samples = samples.astype(np.int64, copy=False).reshape(input.shape[:-1] + (num_samples,))
    return finish(samples, out, False)


def _sample_with_replacement(xp, engine, rows, num_samples: int):
    """Inverse-CDF sampling of all rows in one searchsorted: row r's CDF is shifted to
    [r, r + 1] so the concatenated CDFs stay sorted."""
    count, categories = rows.shape
    cdf = xp.cumsum(rows, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    offsets = xp.arange(count, dtype=np.float64)[:, None]
    queries = engine.uniform((count, num_samples), np.dtype(np.float64)) + offsets
    found = xp.searchsorted((cdf + offsets).ravel(), queries.ravel(), side="right")
    found = found.reshape(count, num_samples) - (offsets * categories).astype(np.int64)
    return xp.minimum(found, categories - 1)


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson counts with the rates ``input`` (same shape and dtype)."""
    if bool((input._data < 0).any()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    engine = engine_for(generator, input.device)
    return _POISSON_OP.apply(
        input, draw=lambda rates: engine.poisson(rates).astype(rates.dtype))


# ----------------------------------------------------------------------------- in place

def _fill_(self: Tensor, name: str, generator, fill) -> Tensor:
    """Overwrite ``self`` with ``fill(engine, shape, np_dtype, out)``. Without a graph to
    record (the usual case, e.g. init under no_grad) the values are drawn straight into the
    tensor's memory; otherwise through ``Tensor._inplace`` (leaf check, zero-gradient node)."""
    engine = engine_for(generator, self.device)
    if _grad_state.enabled and self._requires_grad:
        return self._inplace(lambda source: _FILL_OPS[name].apply(
            source, draw=lambda a: fill(engine, a.shape, a.dtype, None)))
    array = self._data
    with contextlib.ExitStack() as stack:
        if not self.is_cpu:
            stack.enter_context(array.device)
        target = _iteration_view(array)
        values = fill(engine, target.shape, target.dtype,
                      target if target.flags.c_contiguous else None)
        if values is not target:
            _backend.array_module(array).copyto(target, values, casting="unsafe")
    self._bump_version()
    return self


def _iteration_view(array):
    """``array`` with its dims in the order torch's TensorIterator walks them (largest
    stride first), so that values drawn in order land where torch's serial kernels put
    them; a C-contiguous array is itself."""
    if array.flags.c_contiguous or array.ndim < 2:
        return array
    order = sorted(range(array.ndim), key=lambda d: -abs(array.strides[d]))
    return array.transpose(order)


def _float_only(self: Tensor, kernel: str) -> None:
    if not self.is_floating_point():
        raise NotImplementedError(f'"{kernel}" not implemented for \'{self.dtype.scalar_name}\'')


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None,
             **bounds) -> Tensor:
    """Fill with uniform values on [a, b) (PyTorch's ``from=``/``to=`` keywords work too)."""
    a, b = bounds.pop("from", a), bounds.pop("to", b)
    if bounds:
        raise TypeError(f"uniform_() got an unexpected keyword argument '{next(iter(bounds))}'")
    _float_only(self, "check_uniform_bounds")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={_number(a)} > to={_number(b)}")
    return _fill_(self, "uniform", generator, lambda engine, shape, dt, out: engine.uniform(
        shape, dt, out, low=a, high=b))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with normal values of this mean and std."""
    _float_only(self, "normal_kernel_cpu")
    _check_std(std)
    contiguous = self.is_contiguous()
    return _fill_(self, "normal", generator, lambda engine, shape, dt, out: engine.normal(
        shape, dt, out, mean=mean, std=std, contiguous=contiguous))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1, 1 with probability ``p`` (a number or a tensor broadcast to self)."""
    if isinstance(p, Tensor):
        probabilities = p._data
        if bool(((probabilities < 0) | (probabilities > 1)).any()):
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    else:
        _check_probability(p)
        probabilities = p

    def fill(engine, shape, dt, out):
        if isinstance(probabilities, (int, float)):
            return engine.bernoulli(shape, float(probabilities), dt)
        xp = _backend.array_module(probabilities)
        return engine.bernoulli(shape, xp.broadcast_to(probabilities, shape), dt)

    return _fill_(self, "bernoulli", generator, fill)


def random_(self: Tensor, *args, generator=None, **bounds) -> Tensor:
    """Fill with integers uniform on [from, to): ``random_(to)``, ``random_(from, to)``; with
    no upper bound [from, 2**mantissa] for floats and [from, max] for integers."""
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    if len(args) == 1 and "to" not in bounds:
        args = (0,) + args
    from_ = args[0] if args else bounds.pop("from", 0)
    to = args[1] if len(args) > 1 else bounds.pop("to", None)
    if bounds:
        raise TypeError(f"random_() got an unexpected keyword argument '{next(iter(bounds))}'")
    dtype = self.dtype
    full = to is None and from_ == 0
    if to is None:
        if dtype.is_floating_point:
            to = (1 << (np.finfo(dtype.np).nmant + 1)) + 1
        elif dtype is _backend.bool_:
            to = 2
        else:
            to = int(np.iinfo(dtype.np).max) + 1
    from_, to = operator.index(from_), operator.index(to)
    _check_range(from_, to, dtype)
    return _fill_(self, "random", generator, lambda engine, shape, dt, out: engine.integers(
        from_, to, shape, dt, full=full))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with exponential values of rate ``lambd``."""
    if not self.is_floating_point():
        raise RuntimeError("Exponential distribution is a continuous probability "
                           f"distribution. dtype must be a floating point but you specified "
                           f"{self.dtype.scalar_name}")
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found "
                           f"lambda={_number(lambd)}")
    return _fill_(self, "exponential", generator, lambda engine, shape, dt, out:
                  engine.exponential(shape, dt, out, lambd=lambd))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator=None) -> Tensor:
    """Fill with exp(N(mean, std)) values."""
    _float_only(self, "log_normal_cpu")
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_number(std)}")

    return _fill_(self, "log_normal", generator, lambda engine, shape, dt, out:
                  engine.log_normal(shape, dt, mean=mean, std=std))


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator=None) -> Tensor:
    """Fill with Cauchy values: median + sigma * tan(pi * (U - 1/2))."""
    _float_only(self, "cauchy_cpu")
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_number(sigma)}")

    return _fill_(self, "cauchy", generator, lambda engine, shape, dt, out:
                  engine.cauchy(shape, dt, median=median, sigma=sigma))


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success (>= 1)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_number(p)}")

    return _fill_(self, "geometric", generator, lambda engine, shape, dt, out:
                  engine.geometric(shape, dt, p))


install_methods({"uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_,
                 "random_": random_, "exponential_": exponential_, "log_normal_": log_normal_,
                 "cauchy_": cauchy_, "geometric_": geometric_, "bernoulli": bernoulli,
                 "multinomial": multinomial})

__all__ = ["bernoulli", "multinomial", "normal", "poisson", "rand", "rand_like", "randint",
           "randint_like", "randn", "randn_like", "randperm"]
