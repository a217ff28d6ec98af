"""Loss functions of dark.nn.functional, with torch's reductions ('none', 'mean', 'sum'; the
legacy ``size_average``/``reduce`` arguments mapped as torch maps them), argument checks and
error messages.

The hot losses are fused Ops: the regression losses (MSE, L1, smooth L1, Huber), binary
cross entropy (on probabilities and on logits) and NLL with class indices. Cross entropy is
built as PyTorch builds it, so its graph is torch's: NllLossBackward0 (NllLoss2DBackward0
for spatial inputs) on LogSoftmaxBackward0, and torch's composition around them for label
smoothing and class probabilities. Backward formulas work on raw arrays on the common path
and with Tensor ops under create_graph, so second derivatives work. The others are
compositions of Tensor ops, as in torch's own Python."""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._backend import array_module, broadcast_shapes, promote
from ..._kernels import quiet
from ..._tensor import Tensor
from ...amp.autocast_mode import autocast_inputs
from ...autograd.function import Op
from ...autograd.grad_mode import no_grad
from ...autograd.grad_mode import state as _grad_state
from ...ops.elementwise import clamp_min, exp, log, minimum, sigmoid, sign, where
from ...ops.indexing import MaskedFill
from ...ops.reduction import LogSoftmax, _softmax_input
from ...ops.shape import Contiguous, Reshape
from .activation import logsigmoid, softplus
from .distance import pairwise_distance

# ----------------------------------------------------------------------------- reductions


def legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
    """The reduction named by the deprecated ``size_average``/``reduce`` flags (None means
    True), as torch.nn._reduction.legacy_get_string."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        result = "mean"
    elif reduce:
        result = "sum"
    else:
        result = "none"
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{result}' instead.", stacklevel=3)
    return result


def _reduction(size_average, reduce, reduction: str) -> str:
    """The effective reduction, validated (ValueError naming a bad one, as torch)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        reduction = "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce_array(xp, loss, reduction: str):
    if reduction == "mean":
        with quiet(xp):
            return xp.asarray(loss.mean(), dtype=loss.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=loss.dtype)
    return loss


def _constant(array) -> Tensor:
    return Tensor._make(array)


def _raw(tensor: Tensor | None, dtype):
    """A non-differentiable tensor argument (weights) as a raw array of ``dtype``."""
    if tensor is None:
        return None
    array = tensor._data
    return array if array.dtype == dtype else array.astype(dtype)


def _warn_size(input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input "
                      f"size ({input.size()}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


# ----------------------------------------------------------------------------- elementwise


class _ElementwiseLoss(Op):
    """A loss computed elementwise on (input, target) then reduced. ``compute(xp, x, t,
    **params)`` gives the raw loss; ``derivatives(x, t, **params)`` the pair (d/dx, d/dt) as
    Tensors."""

    @classmethod
    def forward(cls, ctx, x, t, reduction="mean", **params):
        x, t, _ = promote(x, t)
        xp = array_module(x)
        with quiet(xp):
            loss = cls.compute(xp, x, t, **params)
        if loss.dtype != x.dtype:
            loss = loss.astype(x.dtype)
        ctx.params = params
        ctx.reduction = reduction
        ctx.count = loss.size
        ctx.save_for_backward(x, t)
        return _reduce_array(xp, loss, reduction)

    @classmethod
    def backward(cls, ctx, grad):
        x, t = ctx.saved_tensors
        if ctx.reduction == "mean":
            grad = grad / ctx.count
        d_input, d_target = cls.derivatives(x, t, **ctx.params)
        return (grad * d_input if ctx.needs_input_grad[0] else None,
                grad * d_target if ctx.needs_input_grad[1] else None)


class MseLoss(_ElementwiseLoss):
    @staticmethod
    def compute(xp, x, t):
        diff = x - t
        return diff * diff

    @staticmethod
    def derivatives(x, t):
        d = (x - t) * 2
        return d, -d


class L1Loss(_ElementwiseLoss):
    @staticmethod
    def compute(xp, x, t):
        return xp.abs(x - t)

    @staticmethod
    def derivatives(x, t):
        d = sign(x - t)
        return d, -d


class SmoothL1Loss(_ElementwiseLoss):
    @staticmethod
    def compute(xp, x, t, beta):
        diff = xp.abs(x - t)
        return xp.where(diff < beta, diff * diff * (0.5 / beta), diff - 0.5 * beta)

    @staticmethod
    def derivatives(x, t, beta):
        diff = x - t
        d = where(diff.abs() < beta, diff / beta, sign(diff))
        return d, -d


class HuberLoss(_ElementwiseLoss):
    @staticmethod
    def compute(xp, x, t, delta):
        diff = xp.abs(x - t)
        return xp.where(diff < delta, diff * diff * 0.5, (diff - 0.5 * delta) * delta)

    @staticmethod
    def derivatives(x, t, delta):
        diff = x - t
        d = where(diff.abs() < delta, diff, sign(diff) * delta)
        return d, -d


def _regression(op, name, input, target, size_average, reduce, reduction, weight, **params):
    _warn_size(input, target)
    broadcast_shapes(input.shape, target.shape)
    if size_average is not None or reduce is not None or weight is None:
        reduction = _reduction(size_average, reduce, reduction)
    if weight is None:
        return op.apply(input, target, reduction=reduction, **params)
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = op.apply(input, target, reduction="none", **params) * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean() if name == "huber" else loss.sum() / weight.sum()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                     "'sum'.")


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(input - target) ** 2, reduced (with ``weight``: weighted, and 'mean' divides by the
    sum of the weights). Shapes broadcast, with torch's warning when they differ."""
    return _regression(MseLoss, "mse", input, target, size_average, reduce, reduction, weight)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|input - target|, reduced (``weight`` as in mse_loss)."""
    return _regression(L1Loss, "l1", input, target, size_average, reduce, reduction, weight)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target)."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:
        return l1_loss(input, target, size_average, reduce, reduction)
    return _regression(SmoothL1Loss, "smooth_l1", input, target, size_average, reduce,
                       reduction, None, beta=beta)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta); with ``weight``,
    'mean' is the plain mean of the weighted losses (as torch)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _regression(HuberLoss, "huber", input, target, None, None, reduction, weight,
                       delta=delta)


# ----------------------------------------------------------------------------- binary


def _log_clamped(xp, a):
    return xp.maximum(xp.log(a), -100)


class BinaryCrossEntropy(_ElementwiseLoss):
    """-w * (t * log(x) + (1 - t) * log(1 - x)), each log clamped at -100 as in torch."""

    @staticmethod
    def compute(xp, x, t, weight):
        loss = (t - 1) * xp.maximum(xp.log1p(-x), -100) - t * _log_clamped(xp, x)
        return loss if weight is None else loss * weight

    @staticmethod
    def derivatives(x, t, weight):
        d_input = (x - t) / clamp_min((1 - x) * x, 1e-12)
        d_target = clamp_min(log(1 - x), -100) - clamp_min(log(x), -100)
        if weight is not None:
            w = _constant(weight)
            return d_input * w, d_target * w
        return d_input, d_target


class BinaryCrossEntropyWithLogits(_ElementwiseLoss):
    """(1 - t) * x - (1 + (pos_weight - 1) * t) * logsigmoid(x), times the weight; the
    log-sigmoid never overflows."""

    @staticmethod
    def compute(xp, x, t, weight, pos_weight):
        log_sigmoid = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
        scale = 1 if pos_weight is None else (pos_weight - 1) * t + 1
        loss = (1 - t) * x - scale * log_sigmoid
        return loss if weight is None else loss * weight

    @staticmethod
    def derivatives(x, t, weight, pos_weight):
        if pos_weight is None:
            d_input = sigmoid(x) - t
            d_target = -x
        else:
            extra = _constant(pos_weight - 1)
            d_input = (1 - t) - (extra * t + 1) * sigmoid(-x)
            d_target = -x - extra * logsigmoid(x)
        if weight is not None:
            w = _constant(weight)
            return d_input * w, d_target * w
        return d_input, d_target


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy of probabilities ``input`` against ``target`` (same shape);
    ``weight`` broadcasts over the elements."""
    reduction = _reduction(size_average, reduce, reduction)
    input, target, weight = autocast_inputs("binary_cross_entropy", input, target, weight)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the "
                         f"input size ({input.size()}) is deprecated. Please ensure they have "
                         "the same size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {target.dtype.scalar_name} but expected "
                           f"{input.dtype.scalar_name}")
    data = input._data
    for name, array in (("input", data), ("target", target._data)):
        # "not within [0, 1]" rather than "below 0 or above 1": NaN is out of range too
        if array.size and not bool(((array >= 0) & (array <= 1)).all()):
            raise RuntimeError(f"all elements of {name} should be between 0 and 1")
    return BinaryCrossEntropy.apply(input, target, reduction=reduction,
                                    weight=_raw(weight, data.dtype))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross entropy of sigmoid(input), computed stably from the logits;
    ``pos_weight`` weighs the positive term (broadcast over the classes, the last dim)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    dtype = input._data.dtype
    return BinaryCrossEntropyWithLogits.apply(input, target, reduction=reduction,
                                              weight=_raw(weight, dtype),
                                              pos_weight=_raw(pos_weight, dtype))


# ----------------------------------------------------------------------------- class indices


def _target_weights(xp, target, weight, ignore_index, classes, dtype):
    """For each target: its class made safe to index with (0 where ignored), its weight (0
    where ignored; None when every weight is 1) and whether none is ignored; IndexError for
    a target outside [0, classes)."""
    valid = target != ignore_index
    all_valid = bool(valid.all())
    safe = target if all_valid else xp.where(valid, target, 0)
    # one reduction checks both bounds: a negative int64 is huge as uint64
    unsigned = safe.view(np.uint64) if safe.dtype == np.int64 else safe
    if unsigned.size and int(unsigned.max()) >= classes:
        bad = (safe < 0) | (safe >= classes)
        raise IndexError(f"Target {int(safe[bad][0])} is out of bounds.")
    if weight is None:
        return safe, None if all_valid else valid.astype(dtype), all_valid, valid
    target_weight = weight[safe]
    return safe, target_weight if all_valid else target_weight * valid, all_valid, valid


def _pick(xp, log_probs, safe):
    """log_probs[n, safe[n, ...], ...] over the class dim (0 for a 1-D input, else 1)."""
    if log_probs.ndim == 1:
        return log_probs[safe]
    if log_probs.ndim == 2:
        return log_probs[xp.arange(log_probs.shape[0]), safe]
    return xp.take_along_axis(log_probs, safe[:, None], 1)[:, 0]


def _spread(xp, shape, safe, values, dtype):
    """An array of ``shape`` with ``values`` at the target classes and 0 elsewhere."""
    if len(shape) == 1:
        out = xp.zeros(shape, dtype=dtype)
        out[safe] = values
        return out
    if len(shape) == 2:
        out = xp.zeros(shape, dtype=dtype)
        out[xp.arange(shape[0]), safe] = values
        return out
    classes = xp.arange(shape[1]).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    if getattr(values, "ndim", 0):
        values = values[:, None]
    return ((classes == safe[:, None]) * values).astype(dtype, copy=False)


class NllLoss(Op):
    """-weight[t] * input[n, t] for log-probabilities (C), (N, C) or (N, C, H, W) and class
    indices (), (N) or (N, H, W); the mean divides by the summed weights of the targets
    that are not ignored (torch's rule)."""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, target, weight, ignore_index, reduction):
        xp = array_module(log_probs)
        classes = log_probs.shape[0 if log_probs.ndim == 1 else 1]
        safe, target_weight, all_valid, valid = _target_weights(
            xp, target, weight, ignore_index, classes, log_probs.dtype)
        picked = _pick(xp, log_probs, safe)
        losses = -picked if target_weight is None else picked * -target_weight
        if not all_valid:  # an ignored target adds nothing, even at a -inf log-probability
            losses = xp.where(valid, losses, 0)
        ctx.safe, ctx.target_weight, ctx.reduction = safe, target_weight, reduction
        ctx.shape, ctx.dtype = log_probs.shape, log_probs.dtype
        if reduction == "none":
            return xp.asarray(losses)
        if reduction == "sum":
            return xp.asarray(losses.sum(), dtype=losses.dtype)
        ctx.total = total = picked.size if target_weight is None else target_weight.sum()
        with quiet(xp):
            return xp.asarray(losses.sum() / total, dtype=losses.dtype)

    @staticmethod
    def backward(ctx, grad):
        xp = array_module(ctx.safe)
        dtype, target_weight = ctx.dtype, ctx.target_weight
        mean = ctx.reduction == "mean"
        if not _grad_state.enabled:  # the common path: one raw scatter
            scale = (-grad._data / ctx.total if mean else -grad._data).astype(dtype,
                                                                                copy=False)
            per_target = scale if target_weight is None else target_weight * scale
            return _constant(_spread(xp, ctx.shape, ctx.safe, per_target, dtype))
        # create_graph: the gradient is linear in grad, with a constant coefficient
        if mean:
            grad = grad / _constant(xp.asarray(ctx.total, dtype=dtype))
        coefficient = _constant(_spread(xp, ctx.shape, ctx.safe, dtype.type(-1) if
                                        target_weight is None else -target_weight, dtype))
        if ctx.reduction == "none" and len(ctx.shape) > 1:
            grad = grad.unsqueeze(1)
        return coefficient * grad


class NllLoss2d(NllLoss):
    node_name = "NllLoss2DBackward0"


class _MulScalar(Op):
    """``tensor * number`` as torch's C++ code records it (mul.Scalar: one edge)."""

    node_name = "MulBackward1"

    @staticmethod
    def forward(ctx, a, other):
        ctx.other = other
        return a * a.dtype.type(other)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.other


class _DivScalar(Op):
    """``tensor / number`` as torch's C++ code records it (div.Scalar: one edge)."""

    node_name = "DivBackward1"

    @staticmethod
    def forward(ctx, a, other):
        ctx.other = other
        with quiet(array_module(a)):
            return a / a.dtype.type(other)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.other


def _check_target_dtype(target: Tensor) -> None:
    if target._data.dtype not in (np.int64, np.uint8):
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{target.dtype.scalar_name}")


def _check_class_weight(weight, classes: int) -> None:
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} classes "
                           f"or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")


def _check_class_index(input: Tensor, target: Tensor, weight) -> None:
    """torch's checks of a class-index loss on input (C), (N, C) or (N, C, d1, ...) and
    target (), (N) or (N, d1, ...), with its messages."""
    ndim, target_ndim = input.dim(), target.dim()
    if ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {ndim})")
    if ndim != 1 and target_ndim >= 1 and input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    if ndim <= 2:
        if target_ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if (ndim == 1) != (target_ndim == 0):
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)}, target: "
                               f"{list(target.shape)})")
    elif ndim == 4:
        if target_ndim != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but "
                               f"got targets of dimension: {target_ndim}")
        if input.shape[2:] != target.shape[1:]:
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                               f"{list(target.shape)}")
    elif target.shape[1:] != input.shape[2:]:
        expected = [input.shape[0], *input.shape[2:]]
        raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
    _check_target_dtype(target)
    classes = input.shape[0] if ndim == 1 else input.shape[1]
    _check_class_weight(weight, classes)
    if weight is not None and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"expected scalar type {input.dtype.scalar_name} but found "
                           f"{weight.dtype.scalar_name}")


def _nll_loss_nd(input: Tensor, target: Tensor, weight, ignore_index: int,
                 reduction: str) -> Tensor:
    """torch's nll_loss_nd: NllLoss on (C) and (N, C), NllLoss2d on (N, C, H, W), and
    other dims viewed as (N, C, 1, rest) (the unreduced loss viewed back)."""
    _check_class_index(input, target, weight)
    weight = _raw(weight, input._data.dtype)
    target_array = target._data
    ndim = input.dim()
    if ndim <= 2:
        return NllLoss.apply(input, target=target_array, weight=weight,
                             ignore_index=ignore_index, reduction=reduction)
    if ndim == 4:
        return NllLoss2d.apply(input, target=target_array, weight=weight,
                               ignore_index=ignore_index, reduction=reduction)
    batch, classes = input.shape[:2]
    numel, target_numel = input.numel(), target.numel()
    shape = (batch, classes, 1, numel // (batch * classes)) if numel else (batch, classes, 0, 0)
    if not input._data.flags.c_contiguous:
        input = Contiguous.apply(input)
    target_array = (array_module(target_array).ascontiguousarray(target_array).reshape(
        (batch, 1, target_numel // batch) if target_numel else (batch, 0, 0)))
    loss = NllLoss2d.apply(Reshape.apply(input, shape=shape), target=target_array,
                           weight=weight, ignore_index=ignore_index, reduction=reduction)
    return loss.reshape(target.shape) if reduction == "none" else loss


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """The negative log likelihood of class indices ``target`` under log-probabilities
    ``input`` (C), (N, C) or (N, C, d1, ...); 'mean' divides by the summed weights of the
    targets that are not ``ignore_index``."""
    reduction = _reduction(size_average, reduce, reduction)
    if input._data.dtype.kind not in "fcV":  # V: bfloat16
        raise NotImplementedError(f'"log_softmax_lastdim_kernel_impl" not implemented for '
                                  f"'{input.dtype.scalar_name}'")
    return _nll_loss_nd(input, target, weight, ignore_index, reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between the logits ``input`` (C), (N, C) or (N, C, d1, ...) and class
    indices (the shape without C) or class probabilities (the same shape as ``input``),
    through log_softmax; ``weight`` per class, ``ignore_index``, ``label_smoothing``. The
    graph is torch's: NllLossBackward0 (NllLoss2DBackward0 for more dims) on
    LogSoftmaxBackward0, and with label smoothing torch's composition around them."""
    reduction = _reduction(size_average, reduce, reduction)
    input, target, weight = autocast_inputs("cross_entropy_loss", input, target, weight)
    if input.shape == target.shape:
        return _probability_cross_entropy(input, target, weight, ignore_index, reduction,
                                          label_smoothing)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")
    class_dim = 0 if input.dim() == 1 else 1
    if input.dim() == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    input, axis = _softmax_input("log_softmax", input, class_dim, None)
    log_probs = LogSoftmax.apply(input, axis=axis)
    loss = _nll_loss_nd(log_probs, target, weight, ignore_index, reduction)
    if label_smoothing <= 0:
        return loss
    return _smoothed(loss, log_probs, target, weight, ignore_index, reduction,
                     float(label_smoothing), class_dim)


def _smoothed(loss, log_probs, target, weight, ignore_index, reduction, label_smoothing,
              class_dim):
    """``(1 - eps) * loss + eps / C * smooth`` with smooth the (weighted) sum of -log_probs
    over the classes, zero at ignored targets, reduced as torch reduces it (the mean over
    the weights of the targets kept)."""
    classes = log_probs.shape[class_dim]
    terms = log_probs
    if weight is not None:
        terms = log_probs * weight.reshape((classes,) + (1,) * (log_probs.dim() - class_dim - 1))
    ignored = target._data == ignore_index
    smooth = MaskedFill.apply(-terms.sum(class_dim), value=0.0, mask=ignored)
    if reduction == "mean":
        kept = ~ignored
        total = kept.sum() if weight is None else weight._data[target._data[kept]].sum()
        total = Tensor._make(array_module(kept).asarray(total))
        smooth = smooth.sum() / total
    elif reduction == "sum":
        smooth = smooth.sum()
    return (_MulScalar.apply(loss, other=1 - label_smoothing)
            + _MulScalar.apply(smooth, other=label_smoothing / classes))


def _probability_cross_entropy(input, target, weight, ignore_index, reduction,
                               label_smoothing):
    if target._data.dtype.kind not in "fcV":  # V: bfloat16
        raise RuntimeError("Expected floating point type for target with class probabilities, "
                           f"got {target.dtype.scalar_name}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{classes} classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    if label_smoothing > 0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing:g}")
        target = target * (1 - label_smoothing) + label_smoothing / classes
    input, axis = _softmax_input("log_softmax", input, class_dim, None)
    with quiet(array_module(input._data)):  # a -inf logit times a 0 probability: NaN, as torch
        terms = LogSoftmax.apply(input, axis=axis) * target
    if weight is not None:
        terms = terms * weight.reshape((classes,) + (1,) * (input.dim() - class_dim - 1))
    if reduction == "none":
        return -terms.sum(class_dim)
    if reduction == "sum":
        return -terms.sum()
    return _DivScalar.apply(-terms.sum(), other=input.numel() / classes if classes else 0.0)


# ----------------------------------------------------------------------------- divergences


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise KL divergence target * (log(target) - input), ``input`` being
    log-probabilities (and ``target`` too with ``log_target``); 'batchmean' divides the sum
    by the batch size."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns "
                      "with the KL div math definition.'mean' will be changed to behave the "
                      "same as 'batchmean' in the next major release.", stacklevel=2)
    # 0 * -inf (a 0 probability), inf - inf in the sum: NaN, silently as torch
    with quiet(array_module(input._data)):
        if log_target:
            loss = exp(target) * (target - input)
        else:
            safe = where(target == 0, 1.0, target)
            loss = target * log(safe) - target * input
        if reduction == "batchmean":
            total = loss.sum()
            return total / input.shape[0] if input.dim() else total
        return _reduce(loss, _reduction(None, None, reduction))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood: exp(input) - target * input (log_input), else
    input - target * log(input + eps); ``full`` adds Stirling's term for target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        above = target > 1
        safe = where(above, target, 1.0)
        stirling = safe * log(safe) - safe + log(safe * (2 * math.pi)) * 0.5
        loss = loss + where(above, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log likelihood 0.5 * (log(var) + (input - target)**2 / var) with
    var clamped at ``eps`` (the clamp passes the gradient through, as torch); ``var`` may
    omit the last dim or have one broadcast dim (homoscedastic)."""
    if isinstance(var, numbers.Number):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * input.new_ones(input.shape)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.dim() == var.dim() and sum(
                v for i, v in zip(input.shape, var.shape) if i != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = (log(var) + (input - target) ** 2 / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- margins


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin), target in {1, -1}."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {input1.size()}, input2: "
                           f"{input2.size()}, target: {target.size()} ")
    return _reduce(clamp_min(-target * (input1 - input2) + margin, 0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where target is -1."""
    reduction = _reduction(size_average, reduce, reduction)
    below_margin = where(target != 1, clamp_min(margin - input, 0), 0.0)
    return _reduce(below_margin + where(target != -1, input, 0.0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)), target in {1, -1}."""
    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(input1, input2) where target is 1, max(0, cos - margin) where it is -1
    (cosine over the last dim of (N, D) or (D) inputs)."""
    reduction = _reduction(size_average, reduce, reduction)
    target_ndim = target.dim()
    if target_ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target_ndim == 1 and (input1.dim() != 2 or input2.dim() != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if target_ndim == 0 and (input1.dim() != 1 or input2.dim() != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    dim = target_ndim
    dot = (input1 * input2).sum(dim)
    square1 = (input1 * input1).sum(dim) + 1e-12
    square2 = (input2 * input2).sum(dim) + 1e-12
    cosine = dot / (square1 * square2).sqrt()
    loss = (where(target == 1, 1 - cosine, 0.0)
            + where(target == -1, clamp_min(cosine - margin, 0), 0.0))
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with the p-norm distance
    over the last dim; ``swap`` uses min(d(a, n), d(p, n)) as the negative distance."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    return _triplet(anchor, positive, negative,
                    lambda a, b: pairwise_distance(a, b, p, eps), margin, swap, reduction)


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    positive_distance = distance(anchor, positive)
    negative_distance = distance(anchor, negative)
    if swap:
        negative_distance = minimum(negative_distance, distance(positive, negative))
    return _reduce(clamp_min(positive_distance - negative_distance + margin, 0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """triplet_margin_loss with any ``distance_function(x1, x2)`` (default: pairwise
    Euclidean distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance,
                    margin, swap, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum over j != y of max(0, margin - x[y] + x[j]) ** p, times
    weight[y], divided by the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.dim() > 2 or input.numel() == 0 and input.dim() < 2:
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    rows = input.reshape(1, -1) if input.dim() < 2 else input
    classes = rows.shape[1]
    if target.dim() > 1 or target.numel() != rows.shape[0]:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal "
                           f"to the number of input samples (batch size). Expected target "
                           f"size [{rows.shape[0]}], but got {list(target.shape)}. Input has "
                           f"shape {list(input.shape)}.")
    if weight is not None and (weight.dim() > 1 or weight.numel() != classes):
        raise RuntimeError(f"inconsistent weight size, expected {classes} but got "
                           f"{list(weight.shape)}")
    index = target.reshape(-1, 1)
    if index.numel() and bool(((index < 0) | (index >= classes)).any()):
        raise RuntimeError("target out of range")
    hinge = clamp_min(rows - rows.gather(1, index) + margin, 0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[index]
    is_target = index == Tensor._make(array_module(index._data).arange(classes))
    loss = where(is_target, 0.0, hinge).sum(1) / classes
    if input.dim() < 2 and reduction == "none":
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Per-class binary logistic loss of (N, C) logits against 0/1 targets, averaged over
    the classes."""
    if size_average is not None or reduce is not None:
        reduction = legacy_get_string(size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "cross_entropy", "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div",
    "l1_loss", "margin_ranking_loss", "mse_loss", "multi_margin_loss",
    "multilabel_soft_margin_loss", "nll_loss", "poisson_nll_loss", "smooth_l1_loss",
    "soft_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
]
