"""``dark.autocast`` (``dark.amp.autocast``): regions where ops run in mixed precision, with
torch's per-op cast lists (aten/src/ATen/autocast_mode.cpp of torch 2.13) and its state
functions (``is_autocast_enabled``, ``get_autocast_dtype`` ...).

The casts happen in the op dispatch (dark.amp._dispatch), at the level of dark's ops: each
op class below stands for the torch ops it implements (``_Addmm`` is linear/addmm,
``Convolution`` conv1d/2d/3d, ``MatMul`` matmul ...). Ops not listed run in the dtype of
their inputs, as in torch. The state is process-wide (torch's is per thread)."""
from __future__ import annotations

import functools
import warnings

from .. import _backend
from .._tensor import Tensor
from ..ops.elementwise import ToCopy
from . import _dispatch

__all__ = ["autocast", "clear_autocast_cache", "custom_bwd", "custom_fwd", "get_autocast_dtype",
           "is_autocast_available", "is_autocast_cache_enabled", "is_autocast_enabled",
           "set_autocast_cache_enabled", "set_autocast_dtype", "set_autocast_enabled"]

_LOWER, _FP32, _SET_DTYPE, _PROMOTE, _BANNED = ("lower_precision_fp", "fp32",
                                                "fp32_set_opt_dtype", "promote", "banned")

# dark op class -> torch's policy, per device type. The torch op names each class stands for
# are in the comments; ops dark composes of others (prelu, scaled_dot_product_attention ...)
# follow the policies of the ops they are made of.
_CPU_POLICIES = {
    # lower_precision_fp: conv1d/2d/3d, _convolution, conv_transpose1d/2d/3d, bmm, mm,
    # baddbmm, addmm, addbmm, linear, matmul
    "Convolution": _LOWER, "ConvTranspose": _LOWER, "Mm": _LOWER, "Bmm": _LOWER,
    "MatMul": _LOWER, "VecMat": _LOWER, "_Addmm": _LOWER,
    # einsum is not listed, but torch's CPU einsum runs its bmm under autocast
    "Einsum": _LOWER,
    # fp32: prod, nll_loss, mse_loss, l1_loss, smooth_l1_loss, huber_loss,
    # binary_cross_entropy(_with_logits), ctc_loss, linalg_inv/inverse, linalg_solve,
    # linalg_svdvals, max_unpool2d/3d
    "Prod": _FP32, "NllLoss": _FP32, "MseLoss": _FP32, "L1Loss": _FP32,
    "SmoothL1Loss": _FP32, "HuberLoss": _FP32, "BinaryCrossEntropy": _FP32,
    "BinaryCrossEntropyWithLogits": _FP32, "_CtcLoss": _FP32, "Inverse": _FP32,
    "Solve": _FP32, "SvdVals": _FP32, "MaxUnpool": _FP32,
    # promote: cat, stack
    "Cat": _PROMOTE, "Stack": _PROMOTE,
}
_CUDA_POLICIES = {
    # lower_precision_fp: conv*, addmm, addmv, matmul, einsum, mm, mv, linear, bmm ...
    "Convolution": _LOWER, "ConvTranspose": _LOWER, "Mm": _LOWER, "Bmm": _LOWER,
    "MatMul": _LOWER, "VecMat": _LOWER, "Mv": _LOWER, "_Addmm": _LOWER, "Einsum": _LOWER,
    # fp32: acos, asin, cosh, erfinv, exp, expm1, log, log10, log2, log1p, reciprocal, rsqrt,
    # sinh, tan, pow, softplus, layer_norm, group_norm, the losses, logsumexp, upsample_*
    "Acos": _FP32, "Asin": _FP32, "Cosh": _FP32, "Exp": _FP32, "Expm1": _FP32,
    "Log": _FP32, "Log10": _FP32, "Log2": _FP32, "Log1P": _FP32, "Reciprocal": _FP32,
    "Rsqrt": _FP32, "Sinh": _FP32, "Tan": _FP32, "Pow": _FP32, "PowTensor": _FP32,
    "PowScalar": _FP32, "Softplus": _FP32, "_LayerNorm": _FP32, "_GroupNorm": _FP32,
    "NllLoss": _FP32, "MseLoss": _FP32, "L1Loss": _FP32, "SmoothL1Loss": _FP32,
    "HuberLoss": _FP32, "BinaryCrossEntropyWithLogits": _FP32, "Logsumexp": _FP32,
    "AxisResample": _FP32,
    # fp32_set_opt_dtype: prod, softmax, log_softmax, cumprod, cumsum, linalg_vector_norm,
    # sum (an explicit dtype is kept)
    "Prod": _SET_DTYPE, "Softmax": _SET_DTYPE, "LogSoftmax": _SET_DTYPE,
    "Cumprod": _SET_DTYPE, "Cumsum": _SET_DTYPE, "VectorNorm": _SET_DTYPE,
    "Sum": _SET_DTYPE,
    # promote: atan2, dot, vdot, index_put
    "Atan2": _PROMOTE, "Dot": _PROMOTE, "Vdot": _PROMOTE, "IndexPut": _PROMOTE,
    # binary_cross_entropy raises torch's error
    "BinaryCrossEntropy": _BANNED,
}
_POLICIES = {"cpu": _CPU_POLICIES, "cuda": _CUDA_POLICIES}

_BANNED_MESSAGE = (
    "dark.nn.functional.binary_cross_entropy and dark.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using dark.nn.functional."
    "binary_cross_entropy_with_logits\nor dark.nn.BCEWithLogitsLoss.  "
    "binary_cross_entropy_with_logits and BCEWithLogits are\nsafe to autocast.")


class _State:
    """The autocast state: per device type whether it is enabled and its dtype; the weight
    cache; the nesting depth of autocast regions."""

    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": _backend.bfloat16, "cuda": _backend.float16}
        self.cache_enabled = True
        self.nesting = 0
        self.cache: dict = {}


_state = _State()
_policy_cache: dict = {}


def _refresh() -> None:
    _dispatch.autocast_state.active = any(_state.enabled.values())
    _dispatch.update()


def _policy(cls, device_type):
    key = (cls, device_type)
    found = _policy_cache.get(key, _refresh)
    if found is _refresh:  # by the class's own name: Dot and Mv are MatMuls, not listed on CPU
        name = cls.__name__  # "Prod_ProdBackward1": Prod under another node name
        if "_" in name[1:]:
            name = name[:name.index("_", 1)]
        found = _policy_cache[key] = _POLICIES[device_type].get(name)
    return found


def _eligible(value, device_type) -> bool:
    """torch's is_eligible: a floating, non-double tensor on the device."""
    if not isinstance(value, Tensor):
        return False
    array = value._data
    kind = array.dtype.kind
    if kind not in "fV" or array.dtype.itemsize == 8:
        return False
    return (device_type == "cpu") == (type(array).__module__ == "numpy")


def _cast(value, dtype, device_type):
    """torch's cached_cast: ``value`` in ``dtype``; the lower precision copy of a float32 leaf
    that requires grad (a weight) is cached until the outermost region exits."""
    if not _eligible(value, device_type) or value._data.dtype == dtype.np:
        return value
    cacheable = (dtype is _state.dtype[device_type] and value._data.dtype.name == "float32"
                 and value._requires_grad and value.grad_fn is None and value._base is None
                 and _state.cache_enabled)
    if cacheable:
        hit = _state.cache.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
    out = ToCopy.apply(value, np_dtype=dtype.np)
    if cacheable:
        _state.cache[id(value)] = (value, out)
    return out


def _cast_all(args, kwargs, dtype, device_type):
    args = tuple(_cast(a, dtype, device_type) for a in args)
    if kwargs:
        kwargs = {k: _cast(v, dtype, device_type) for k, v in kwargs.items()}
    return args, kwargs


def _cast_inputs(cls, args, kwargs):
    """The autocast step of the op dispatch: the inputs of ``cls`` cast by its policy on
    each enabled device type."""
    for device_type, enabled in _state.enabled.items():
        if not enabled:
            continue
        policy = _policy(cls, device_type)
        if policy is None:
            continue
        if policy == _LOWER:
            return _cast_all(args, kwargs, _state.dtype[device_type], device_type)
        if policy == _FP32:
            return _cast_all(args, kwargs, _backend.float32, device_type)
        if policy == _SET_DTYPE:
            first = next((a for a in args if isinstance(a, Tensor)), None)
            if first is None or not _eligible(first, device_type):
                return args, kwargs
            if "np_dtype" in kwargs:
                if kwargs["np_dtype"] is None:
                    kwargs = dict(kwargs, np_dtype=_backend.float32.np)
                return args, kwargs
            return _cast_all(args, kwargs, _backend.float32, device_type)
        if policy == _PROMOTE:
            widest = _state.dtype[device_type]
            for value in list(args) + list(kwargs.values()):
                if _eligible(value, device_type) and value._data.dtype.name == "float32":
                    widest = _backend.float32
                    break
            return _cast_all(args, kwargs, widest, device_type)
        if policy == _BANNED:
            raise RuntimeError(_BANNED_MESSAGE)
    return args, kwargs


_dispatch.autocast_state.cast_inputs = staticmethod(_cast_inputs)

_DEVICE_TYPES = ("cpu", "cuda")


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports ``device_type`` ('cpu' and 'cuda' in dark)."""
    return device_type in _DEVICE_TYPES


def _device_type(device_type) -> str:
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"User specified an unsupported autocast device_type "
                           f"'{device_type}'")
    return device_type


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is enabled for ``device_type`` (no argument: 'cuda', as torch)."""
    return _state.enabled[_device_type("cuda" if device_type is None else device_type)]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """``set_autocast_enabled(device_type, enabled)`` (or ``(enabled)`` for 'cuda')."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state.enabled[_device_type(device_type)] = bool(enabled)
    _refresh()


def get_autocast_dtype(device_type: str):
    """The lower precision dtype of autocast on ``device_type`` (bfloat16 on CPU, float16
    on CUDA unless set)."""
    return _state.dtype[_device_type(device_type)]


def set_autocast_dtype(device_type: str, dtype) -> None:
    _state.dtype[_device_type(device_type)] = _backend.to_dtype(dtype)


def is_autocast_cache_enabled() -> bool:
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    _state.cache.clear()


def autocast_increment_nesting() -> int:
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting() -> int:
    _state.nesting -= 1
    return _state.nesting


class autocast:
    """``with dark.autocast('cpu', dtype=dark.bfloat16):`` (or as a decorator): the ops on
    torch's lists run in ``dtype`` (default: ``get_autocast_dtype(device_type)``), those on
    its float32 lists in float32; the rest in the dtype of their inputs. Wrap the forward
    pass and the loss, not the backward. ``enabled=False`` turns autocast off inside a
    region; ``cache_enabled`` keeps the lower precision copies of the weights for the
    region (default: ``is_autocast_cache_enabled()``)."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: "
                             f"`{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None and \
            device_type in _DEVICE_TYPES else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{self.device}'")
        self._cache_enabled = (is_autocast_cache_enabled() if cache_enabled is None
                               else cache_enabled)
        supported = (_backend.bfloat16, _backend.float16)
        if enabled:
            if self.device == "cuda" and not _backend.cuda_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                              "autocast.", stacklevel=2)
                enabled = False
            elif self.device == "cuda" and self.fast_dtype is _backend.bfloat16:
                raise RuntimeError("CUDA autocast does not support bfloat16 in dark (CuPy has "
                                   "no bfloat16). Please switch dtype to float16.")
            elif self.fast_dtype not in supported:
                name = self.device.upper()
                warnings.warn(f"In {name} autocast, but the target dtype is not supported. "
                              f"Disabling autocast.\n{name} Autocast only supports dtypes of "
                              + ", ".join(map(str, supported)) + " currently.", stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        _state.enabled[self.device] = bool(self._enabled)
        _state.dtype[self.device] = self.fast_dtype
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        _refresh()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        _state.enabled[self.device] = self.prev
        _state.dtype[self.device] = self.prev_fastdtype
        set_autocast_cache_enabled(self.prev_cache_enabled)
        _refresh()
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                f"Did you mean to use autocast as a context manager? For example:\n"
                f"    with dark.autocast(device_type=...):\n"
                f"        output = model(input)")

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


def casts_inputs(*tensors) -> bool:
    """Whether autocast is enabled for the device of these tensors and they are floating:
    the dtype checks of F.linear / conv that come before the op's casts let them pass, as
    torch's autocast casts before linear or conv2d check their inputs."""
    if not _dispatch.autocast_state.active:
        return False
    first = tensors[0]
    device_type = "cpu" if type(first._data).__module__ == "numpy" else "cuda"
    return _state.enabled[device_type] and all(
        t is None or _eligible(t, device_type) for t in tensors)


# Torch ops on the lists that dark writes as a function of several ops: the function casts
# its inputs through autocast_inputs (torch's cast then comes before the ops inside).
_COMPOSITE_POLICIES = {
    "cpu": {"cross_entropy_loss": _FP32, "binary_cross_entropy": _FP32,
            "scaled_dot_product_attention": _LOWER},
    "cuda": {"binary_cross_entropy": _BANNED, "scaled_dot_product_attention": _LOWER},
}


def autocast_inputs(op_name: str, *tensors) -> tuple:
    """``tensors`` cast by the policy of the torch op ``op_name`` on the enabled device types
    (unchanged when autocast is off or the op is not listed for them)."""
    if not _dispatch.autocast_state.active:
        return tensors
    for device_type, enabled in _state.enabled.items():
        policy = _COMPOSITE_POLICIES[device_type].get(op_name) if enabled else None
        if policy == _FP32:
            return tuple(_cast(t, _backend.float32, device_type) for t in tensors)
        if policy == _LOWER:
            return tuple(_cast(t, _state.dtype[device_type], device_type) for t in tensors)
        if policy == _BANNED:
            raise RuntimeError(_BANNED_MESSAGE)
    return tensors


def _cast_value(value, device_type: str, dtype):
    """torch.amp's _cast: floating (non-double) tensors on the device in ``dtype``, through
    lists, tuples and dicts."""
    if isinstance(value, Tensor):
        return value.to(dtype) if _eligible(value, device_type) else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _cast_value(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_value(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for the ``forward`` of a custom autograd.Function under autocast: with
    ``cast_inputs``, floating inputs are cast to it and the forward runs with autocast off;
    without, it runs in the surrounding autocast state (which ``custom_bwd`` then restores
    for the backward)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        args[0]._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_value(args, device_type, cast_inputs),
                           **_cast_value(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for the ``backward`` of a custom autograd.Function: it runs in the autocast
    state its forward ran in (see ``custom_fwd``)."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast,
                      dtype=args[0]._dtype):
            return bwd(*args, **kwargs)

    return decorate_bwd
