"""Lazy modules: layers whose input size is inferred at their first call, as PyTorch's.

UninitializedParameter / UninitializedBuffer hold no data (an empty array that keeps the
device and dtype to materialise with); reading their values (any op), or their shape,
raises torch's errors, while .to() / .cuda() / .float() and the like move or cast them.
LazyModuleMixin registers a forward pre-hook that calls ``initialize_parameters(*args)``
at the first call: it materialises the parameters (weights equal to torch's after the same
manual_seed: the initialisers run in the eager class's order) and turns the module into
``cls_to_become`` (LazyLinear becomes Linear). load_state_dict materialises first."""
from __future__ import annotations

import itertools
import os
import sys

from ... import _backend
from ..._tensor import Tensor
from ...ops.creation import empty, tensor
from ..parameter import Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm

# (LazyModuleMixin and is_lazy are importable from here, as from torch.nn.modules.lazy and
# torch.nn.parameter; torch.nn does not export them)
__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d",
           "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyLinear", "UninitializedBuffer", "UninitializedParameter"]

_STORAGE = Tensor._data  # the slot that holds a tensor's array, under the _data property
_MODULES_DIR = os.path.dirname(os.path.abspath(__file__))
_DARK_DIR = os.path.dirname(os.path.dirname(_MODULES_DIR))


def _operation_name(frame) -> str:
    """The outermost dark function (outside dark.nn.modules) on the stack from ``frame``:
    the op the user (or a layer) called."""
    name = frame.f_code.co_name
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_DARK_DIR) or filename.startswith(_MODULES_DIR):
            break
        name = frame.f_code.co_name
        frame = frame.f_back
    return name


def _plain(tensor: Tensor) -> Tensor:
    """A plain Tensor on the uninitialized tensor's (empty) array."""
    return Tensor._make(_STORAGE.__get__(tensor))


class UninitializedTensorMixin:
    """What UninitializedParameter and UninitializedBuffer share: no values to read."""

    cls_to_become: type = Tensor

    @property
    def _data(self):
        caller = _operation_name(sys._getframe(1))
        raise ValueError(
            f"Attempted to use an uninitialized parameter in {caller}. This error happens "
            f"when you are using a `LazyModule` or explicitly manipulating "
            f"`torch.nn.parameter.{type(self).__name__}` objects. When using LazyModules "
            f"Call `forward` with a dummy batch to initialize the parameters before calling "
            f"torch functions")

    @_data.setter
    def _data(self, array) -> None:
        _STORAGE.__set__(self, array)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor uninitialized values of ``shape`` (on its device, of its dtype,
        unless given) and make it a ``cls_to_become`` (Parameter or Tensor)."""
        plain = _plain(self)
        device = plain.device if device is None else device
        dtype = plain.dtype if dtype is None else dtype
        _STORAGE.__set__(self, empty(tuple(shape), device=device, dtype=dtype)._data)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(
            "Can't access the shape of an uninitialized parameter or buffer. This error "
            "usually happens in `load_state_dict` when trying to load an uninitialized "
            "parameter into an initialized one. Call `forward` to initialize the parameters "
            "before accessing their attributes.")

    def share_memory_(self):
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call "
                           "`forward` to initialize the parameters before calling "
                           "`module.share_memory()`.")

    @property
    def data(self):
        return self

    @data.setter
    def data(self, value) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        _STORAGE.__set__(self, _STORAGE.__get__(value))

    @property
    def dtype(self):
        return _plain(self).dtype

    @property
    def device(self):
        return _plain(self).device

    def size(self, dim=None):
        return _plain(self).size(dim) if dim is not None else _plain(self).size()

    def dim(self) -> int:
        return 1

    def is_floating_point(self) -> bool:
        return _plain(self).is_floating_point()

    def is_complex(self) -> bool:
        return _plain(self).is_complex()

    def get_device(self) -> int:
        return _plain(self).get_device()

    def requires_grad_(self, requires_grad: bool = True):
        self._requires_grad = bool(requires_grad)
        return self

    def _like(self, plain: Tensor):
        """An uninitialized tensor of this class on ``plain``'s array."""
        out = type(self)(self.requires_grad, plain.device, plain.dtype)
        _STORAGE.__set__(out, plain._data)
        return out

    def to(self, *args, **kwargs):
        return self._like(_plain(self).to(*args, **kwargs))

    def cuda(self, *args, **kwargs):
        return self._like(_plain(self).cuda(*args, **kwargs))

    def cpu(self):
        return self._like(_plain(self).cpu())

    def float(self):
        return self._like(_plain(self).float())

    def double(self):
        return self._like(_plain(self).double())

    def half(self):
        return self._like(_plain(self).half())

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad,))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.requires_grad, self.device, self.dtype)
        memo[id(self)] = result
        return result


def _empty_array(device, dtype):
    return empty(0, device=device, dtype=dtype)._data


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter whose shape is not known yet (see the module docstring)."""

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        _STORAGE.__set__(self, _empty_array(device, dtype))
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._grad = None
        self._vc = Tensor._make(_STORAGE.__get__(self))._version_counter()


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (see the module docstring)."""

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None,
                 persistent: bool = True) -> None:
        made = Tensor._make(_empty_array(device, dtype))
        _STORAGE.__set__(self, made._data)
        self._requires_grad = bool(requires_grad)
        self.grad_fn = None
        self._grad = None
        self._vc = made._version_counter()
        self.persistent = persistent
        self._is_buffer = True


def is_lazy(param) -> bool:
    """Whether ``param`` is an UninitializedParameter or UninitializedBuffer."""
    return isinstance(param, UninitializedTensorMixin)


class LazyModuleMixin:
    """Mixin of the lazy modules: ``initialize_parameters`` runs before the first forward
    (then the module becomes ``cls_to_become``); load_state_dict materialises first."""

    cls_to_become = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def _save_to_state_dict(self, destination, prefix, keep_vars) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                if not (is_lazy(param) or keep_vars):
                    param = param.detach()
                destination[prefix + name] = param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                if not (is_lazy(buffer) or keep_vars):
                    buffer = buffer.detach()
                destination[prefix + name] = buffer

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        # torch's _lazy_load_hook: materialise what the state_dict holds initialized values of
        for name, param in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and param is not None and is_lazy(param):
                value = state_dict[key]
                if not is_lazy(value):
                    param.materialize(tuple(value.shape))
        # an uninitialized value for a still uninitialized one: nothing to copy (torch's
        # copy_ of one empty tensor into another), not a shape mismatch
        skipped = {prefix + name for name, value in itertools.chain(
            self._parameters.items(), self._buffers.items())
            if value is not None and is_lazy(value) and is_lazy(state_dict.get(prefix + name))}
        if skipped:
            state_dict = {k: v for k, v in state_dict.items() if k not in skipped}
            missing = len(missing_keys)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if skipped:
            missing_keys[missing:] = [k for k in missing_keys[missing:] if k not in skipped]

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{self.__class__.__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer of this module (not its children) is
        uninitialized."""
        return any(is_lazy(value) for value in itertools.chain(self._parameters.values(),
                                                               self._buffers.values()))

    def _infer_parameters(self, module, args, kwargs=None):
        kwargs = kwargs if kwargs else {}
        module.initialize_parameters(*args, **kwargs)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        delattr(module, "_initialize_hook")
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _replicate_for_data_parallel(self):
        raise RuntimeError("Modules with uninitialized parameters can't be used with "
                           "`DataParallel`. Run a dummy forward pass to correctly initialize "
                           "the modules")


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose in_features is input.shape[-1] at the first call."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(**factory)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(**factory)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvXdMixin(LazyModuleMixin):
    _spatial_dims = 2

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if self.has_uninitialized_params():
            self.in_channels = self._get_in_channels(input)
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                shape = (self.in_channels, self.out_channels // self.groups)
            else:
                shape = (self.out_channels, self.in_channels // self.groups)
            self.weight.materialize(shape + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _get_in_channels(self, input) -> int:
        no_batch = self._spatial_dims + 1
        if input.dim() not in (no_batch, no_batch + 1):
            raise RuntimeError(f"Expected {no_batch}D (unbatched) or {no_batch + 1}D (batched) "
                               f"input to {self.__class__.__name__}, but got input of size: "
                               f"{input.shape}")
        return input.shape[1] if input.dim() == no_batch + 1 else input.shape[0]


def _lazy_conv(name: str, base: type, dims: int):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        # bias False here: the eager layer's tensors would be replaced at once
        LazyModuleMixin.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups,
                                 False, padding_mode, **factory)
        self.weight = UninitializedParameter(**factory)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(**factory)

    doc = f"{base.__name__} whose in_channels is the input's channel count at the first call."
    return type(name, (_LazyConvXdMixin, base), {
        "__init__": __init__, "cls_to_become": base, "_spatial_dims": dims, "__doc__": doc,
        "__module__": __name__})


def _lazy_conv_transpose(name: str, base: type, dims: int):
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        LazyModuleMixin.__init__(self, 0, 0, kernel_size, stride, padding, output_padding,
                                 groups, False, dilation, padding_mode, **factory)
        self.weight = UninitializedParameter(**factory)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(**factory)

    doc = f"{base.__name__} whose in_channels is the input's channel count at the first call."
    return type(name, (_LazyConvXdMixin, base), {
        "__init__": __init__, "cls_to_become": base, "_spatial_dims": dims, "__doc__": doc,
        "__module__": __name__})


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, 1)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, 2)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, 3)
LazyConvTranspose1d = _lazy_conv_transpose("LazyConvTranspose1d", ConvTranspose1d, 1)
LazyConvTranspose2d = _lazy_conv_transpose("LazyConvTranspose2d", ConvTranspose2d, 2)
LazyConvTranspose3d = _lazy_conv_transpose("LazyConvTranspose3d", ConvTranspose3d, 3)


class _LazyNormBase(LazyModuleMixin):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        factory = {"device": device, "dtype": dtype}
        # affine and track_running_stats False here: those tensors would be replaced at once
        super().__init__(0, eps, momentum, False, False, **factory)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = UninitializedParameter(**factory)
            self.bias = UninitializedParameter(**factory)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=_backend.int64, device=device)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            if self.affine:
                self.weight.materialize((self.num_features,))
                self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


def _lazy_batch_norm(name: str, base: type):
    doc = f"{base.__name__} whose num_features is input.shape[1] at the first call."
    return type(name, (_LazyNormBase, _BatchNorm), {
        "cls_to_become": base, "_check_input_dim": base._check_input_dim, "__doc__": doc,
        "__module__": __name__})


LazyBatchNorm1d = _lazy_batch_norm("LazyBatchNorm1d", BatchNorm1d)
LazyBatchNorm2d = _lazy_batch_norm("LazyBatchNorm2d", BatchNorm2d)
LazyBatchNorm3d = _lazy_batch_norm("LazyBatchNorm3d", BatchNorm3d)
