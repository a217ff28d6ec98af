"""nn.Parameter and nn.Buffer: tensors that a Module registers when they are assigned to it."""
from __future__ import annotations

from .._backend import tensor_type_name
from .._tensor import Tensor
from ..ops.creation import empty

__all__ = ["Buffer", "Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it as a Module attribute registers it.

    ``Parameter(data)`` shares ``data``'s memory (and version counter) and is a leaf that
    requires grad unless ``requires_grad=False``. Ops on Parameters return plain Tensors."""

    def __new__(cls, *args, **kwargs):
        # a tensor subclass may make its own parameters (DTensor: nn.Parameter(dtensor) is a
        # DTensor); __init__ then runs on what it returns. The arguments are __init__'s, a
        # subclass's own included (UninitializedParameter's device, dtype)
        if cls is Parameter:
            data = args[0] if args else kwargs.get("data")
            make = getattr(type(data), "_as_parameter", None)
            if make is not None:
                return make(data, args[1] if len(args) > 1
                            else kwargs.get("requires_grad", True))
        return super().__new__(cls)

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter() expects a Tensor as data, not {type(data).__name__}")
        self._data = data._data
        self._requires_grad = False
        self.grad_fn = None
        self._grad = None
        self._vc = data._version_counter()
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.data, self._requires_grad))


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


class _BufferMeta(type):
    """``isinstance(t, Buffer)`` is true for the tensors that ``Buffer(...)`` made."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor as a buffer: ``module.name = Buffer(t, persistent=False)`` registers it
    as ``register_buffer`` would. ``Buffer(t)`` is a detached Tensor on ``t``'s memory."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:
        if data is None:
            data = empty(0)
        tensor = data.detach().requires_grad_(data.requires_grad)
        tensor.persistent = persistent
        tensor._is_buffer = True
        return tensor


def _typename(obj) -> str:
    """torch.typename with dark's names: 'dark.FloatTensor' for a tensor, else module.qualname."""
    if isinstance(obj, Tensor):
        return tensor_type_name(obj._data)
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"
