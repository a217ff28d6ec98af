"""F.pad: constant padding (or cropping, for negative widths) and the reflect, replicate and
circular modes, which are resamplings along the padded axes (resampling.AxisResample, with
PyTorch's grad_fn names)."""
from __future__ import annotations

import numbers

from ..._backend import array_module, check_scalar
from ..._kernels.resample import pad_constant, pad_index
from ..._tensor import Tensor
from ...autograd.function import Op
from .resampling import resample_op

__all__ = ["pad"]


class ConstantPadNd(Op):
    """Pad (or crop, for negative widths) the last dims with a constant."""

    @staticmethod
    def forward(ctx, x, widths=(), value=0):
        ctx.widths = widths
        return pad_constant(array_module(x), x, widths, value)

    @staticmethod
    def backward(ctx, grad):
        return ConstantPadNd.apply(grad, widths=tuple((-a, -b) for a, b in ctx.widths))


_PAD_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
              "circular": "CircularPad{}DBackward0"}


def _pad_widths(pad) -> list:
    if isinstance(pad, Tensor) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{type(pad).__name__}")
    for position, value in enumerate(pad):
        if not isinstance(value, numbers.Integral):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {type(value).__name__} at pos {position}")
    return [int(v) for v in pad]


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 dims of input: ``pad = (left, right, top, bottom, ...)``
    starts from the last dim. mode: 'constant' (with ``value``; negative widths crop),
    'reflect', 'replicate' or 'circular'."""
    widths = _pad_widths(pad)
    if len(widths) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(widths) // 2
    if k > input.dim():
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(widths)} and input of "
                           f"dimension {input.dim()}")
    pairs = tuple((widths[2 * (k - 1 - i)], widths[2 * (k - 1 - i) + 1]) for i in range(k))
    shape = tuple(input.shape)
    if mode == "constant":
        for size, (a, b) in zip(shape[input.dim() - k:], pairs):
            if size + a + b < 0:
                raise RuntimeError(f"The input size {size}, plus negative padding {a} and {b} "
                                   f"resulted in a negative output size, which is invalid. "
                                   "Check dimension of your input.")
        # torch takes the value as a double, then checks it for the dtype (-1 does not fit uint8)
        value = 0 if value is None else check_scalar(float(value), input.dtype)
        return ConstantPadNd.apply(input, widths=pairs, value=value)
    if mode not in _PAD_NAMES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if not 1 <= k <= 3 or input.dim() not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(widths)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    plan = []
    for i, (a, b) in enumerate(pairs):
        axis = input.dim() - k + i
        size = shape[axis]
        if mode == "reflect" and (a >= size or b >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({a}, {b}) "
                               f"at dimension {axis} of input {list(shape)}")
        if mode == "circular" and (a > size or b > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size == 0 or size + a + b <= 0:
            raise RuntimeError(f"input tensor with shape {list(shape)} cannot be padded with "
                               f"{list(widths)} in mode {mode}")
        plan.append((axis, size, ((pad_index(mode, size, a, b), None),)))
    return resample_op(_PAD_NAMES[mode].format(k)).apply(input, plan=tuple(plan))
