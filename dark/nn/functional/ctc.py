"""F.ctc_loss: the connectionist temporal classification loss (Graves et al., 2006) by the
forward (alpha) and backward (beta) recursions in log space, vectorised over the batch and
the extended label sequence (blank, l1, blank, l2, ..., blank), looping over time only.

The gradient is torch's, which is NOT the derivative of the loss with respect to arbitrary
log_probs: torch's kernel returns ``exp(log_probs) - posterior`` (times the output gradient)
for t < input_length and 0 beyond, where the true derivative is ``-posterior``. The two agree
after a log_softmax (each time step's posteriors sum to 1 and so do the probabilities), which
is how ctc_loss is meant to be fed. As in torch, the gradient cannot be differentiated again."""
from __future__ import annotations

import numbers

import numpy as np

from ..._backend import array_module
from ..._kernels import matmul
from ..._tensor import Tensor
from ...autograd.function import Op
from ...ops.elementwise import where

__all__ = ["ctc_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _logsumexp3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf when all three are -inf (call under
    np.errstate(divide="ignore") for the log of 0)."""
    top = xp.maximum(xp.maximum(a, b), c)
    top[top == -np.inf] = 0
    total = xp.exp(a - top)
    total += xp.exp(b - top)
    total += xp.exp(c - top)
    total = xp.log(total)
    total += top
    return total


class _CtcLoss(Op):
    """Per-sample negative log likelihoods (N,) of log_probs (T, N, C)."""

    node_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, labels, input_lengths, target_lengths, zero_infinity):
        xp = array_module(log_probs)
        steps, batch, _ = log_probs.shape
        width = labels.shape[1]  # 2 * longest target + 1
        positions = xp.arange(width)
        valid = positions[None, :] <= 2 * target_lengths[:, None]  # (N, S')
        # the skip from s - 2 is allowed where the extended labels differ (never at blanks)
        skip = xp.zeros((batch, width), dtype=bool)
        skip[:, 2:] = labels[:, 2:] != labels[:, :-2]
        emissions = xp.take_along_axis(log_probs, xp.broadcast_to(labels, (steps,) + labels.shape),
                                       axis=2)  # (T, N, S')
        neg_inf = xp.asarray(-np.inf, dtype=log_probs.dtype)
        zero = xp.zeros((), dtype=log_probs.dtype)
        # entries past 2 * target_length never start or continue a path; additive masks
        # keep the time loop free of selections
        emissions_kept = xp.where(valid[None], emissions, neg_inf)
        skip_add = xp.where(skip, zero, neg_inf)
        # alpha with two -inf columns in front, so that s - 1 and s - 2 are plain slices
        padded = xp.full((steps, batch, width + 2), -np.inf, dtype=log_probs.dtype)
        alpha = padded[:, :, 2:]
        alpha[0, :, 0] = emissions[0, :, 0]
        if width > 1:
            alpha[0, :, 1] = xp.where(target_lengths > 0, emissions[0, :, 1], neg_inf)
        with np.errstate(divide="ignore"):
            for t in range(1, steps):
                previous = padded[t - 1]
                alpha[t] = _logsumexp3(xp, previous[:, 2:], previous[:, 1:-1],
                                       previous[:, :-2] + skip_add) + emissions_kept[t]
        last = xp.maximum(input_lengths - 1, 0)
        rows = alpha[last, xp.arange(batch)]  # (N, S')
        end = 2 * target_lengths
        final_blank = xp.take_along_axis(rows, end[:, None], axis=1)[:, 0]
        final_label = xp.take_along_axis(rows, xp.maximum(end - 1, 0)[:, None], axis=1)[:, 0]
        final_label = xp.where(target_lengths > 0, final_label, neg_inf)
        nll = -xp.logaddexp(final_blank, final_label)
        empty = input_lengths == 0  # torch: no frames emit the empty target with probability 1
        nll = xp.where(empty, xp.where(target_lengths == 0, -0.0, np.inf).astype(nll.dtype), nll)
        ctx.save_for_backward(log_probs)
        ctx.saved = (labels, input_lengths, target_lengths, alpha, nll, skip,
                     emissions, zero_infinity)
        return nll

    @staticmethod
    def backward(ctx, grad):
        (log_probs,) = ctx.saved_tensors  # an input, so that the gradient has a grad_fn
        return _CtcLossGrad.apply(grad, log_probs, saved=ctx.saved)


class _CtcLossGrad(Op):
    """torch's gradient of the per-sample losses with respect to log_probs."""

    node_name = "CtcLossBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, log_probs, saved):
        (labels, input_lengths, target_lengths, alpha, nll, skip, emissions,
         zero_infinity) = saved
        xp = array_module(log_probs)
        steps, batch, classes = log_probs.shape
        width = labels.shape[1]
        neg_inf = xp.asarray(-np.inf, dtype=log_probs.dtype)
        end = 2 * target_lengths
        positions = xp.arange(width)
        skip_back = xp.zeros((batch, width), dtype=bool)  # s may come from s + 2
        skip_back[:, :-2] = skip[:, 2:]
        start = (positions[None, :] == end[:, None]) | (
            (positions[None, :] == end[:, None] - 1) & (target_lengths[:, None] > 0))
        beta = xp.full((steps, batch, width), -np.inf, dtype=log_probs.dtype)
        skip_add = xp.where(skip_back, xp.zeros((), dtype=log_probs.dtype), neg_inf)
        # beta of the following step with two -inf columns behind: s + 1, s + 2 are slices
        following = xp.full((batch, width + 2), -np.inf, dtype=log_probs.dtype)
        with np.errstate(divide="ignore"):
            for t in range(steps - 1, -1, -1):
                current = _logsumexp3(xp, following[:, :-2], following[:, 1:-1],
                                      following[:, 2:] + skip_add) + emissions[t]
                at_last = (input_lengths - 1 == t)[:, None]
                current = xp.where(at_last, xp.where(start, emissions[t], neg_inf), current)
                current = xp.where((t < input_lengths)[:, None], current, neg_inf)
                beta[t] = current
                following[:, :-2] = current
        # log of the summed alpha * beta of each class at each time step
        products = alpha + beta
        # torch's kernel sets (does not add) the last step's entry for label 2L - 1, which
        # drops the final blank's entry when that label is the blank itself
        overwritten = (target_lengths > 0) & (input_lengths > 0) & (xp.take_along_axis(
            labels, xp.maximum(end - 1, 0)[:, None], axis=1)[:, 0] == labels[:, 0])
        batch_ids = xp.nonzero(overwritten)[0]
        products[input_lengths[batch_ids] - 1, batch_ids, end[batch_ids]] = neg_inf
        top = products.max(axis=2, keepdims=True)
        top = xp.where(xp.isneginf(top), xp.zeros((), dtype=top.dtype), top)
        one_hot = (labels[:, :, None] == xp.arange(classes)).astype(log_probs.dtype)
        summed = matmul(xp.exp(products - top).transpose(1, 0, 2), one_hot)  # (N, T, C)
        with np.errstate(divide="ignore"):
            log_class = xp.log(summed).transpose(1, 0, 2) + top  # (T, N, C)
        with np.errstate(invalid="ignore"):
            result = xp.exp(log_probs) - xp.exp(log_class + nll[None, :, None] - log_probs)
        result = result * grad[None, :, None]
        keep = xp.arange(steps)[:, None] < input_lengths[None, :]
        if zero_infinity:
            keep = keep & ~xp.isposinf(nll)[None, :]
        return xp.where(keep[:, :, None], result, xp.zeros((), dtype=result.dtype))

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def _lengths(value, name: str, xp) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value._data
        if array.dtype.kind not in "iu":
            raise RuntimeError(f"{name} must be integral")
        return xp.asarray(array, dtype=np.int64).reshape(-1)
    return xp.asarray([int(v) for v in value], dtype=np.int64)


def _is_int_sequence(value) -> bool:
    return isinstance(value, (tuple, list)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)


def _check_arguments(log_probs, targets, input_lengths, target_lengths, blank):
    kinds = [isinstance(v, Tensor) for v in (input_lengths, target_lengths)]
    sequences = [_is_int_sequence(v) for v in (input_lengths, target_lengths)]
    if not (all(kinds) or all(sequences)):
        got = ", ".join(type(v).__name__ for v in (log_probs, targets, input_lengths,
                                                    target_lengths))
        raise TypeError(
            f"ctc_loss() received an invalid combination of arguments - got ({got}, int, int, "
            "bool), but expected one of:\n * (Tensor log_probs, Tensor targets, tuple of ints "
            "input_lengths, tuple of ints target_lengths, int blank = 0, int reduction = "
            "at::Reduction::Mean, bool zero_infinity = False)\n * (Tensor log_probs, Tensor "
            "targets, Tensor input_lengths, Tensor target_lengths, int blank = 0, int "
            "reduction = at::Reduction::Mean, bool zero_infinity = False)")
    if log_probs._data.dtype not in (np.float32, np.float64):
        raise NotImplementedError("\"ctc_loss_cpu\" not implemented for "
                                  f"'{log_probs.dtype.scalar_name}'")


def _padded_labels(xp, targets, target_lengths, batch: int, blank: int):
    """(N, 2 * longest + 1) extended labels: blank, l1, blank, l2, ..., blank."""
    where_ = "(while checking arguments for ctc_loss_allocate_outputs)"
    lengths = [int(v) for v in target_lengths.tolist()]
    if any(v < 0 for v in lengths):
        bad = next(v for v in lengths if v < 0)
        raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                           f"{bad} {where_}")
    longest = max(lengths, default=0)
    data = targets._data.astype(np.int64) if targets._data.dtype != np.int64 else targets._data
    if targets.dim() == 1:
        total = sum(lengths)
        if data.shape[0] != total:
            raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got "
                               f"size {data.shape[0]} for argument #2 'targets' {where_}")
        padded = xp.full((batch, longest), blank, dtype=np.int64)
        starts = np.cumsum([0] + lengths[:-1])
        for n, (first, length) in enumerate(zip(starts, lengths)):
            padded[n, :length] = data[first:first + length]
    elif targets.dim() == 2:
        if data.shape[0] != batch:
            raise RuntimeError(f"Expected tensor to have size {batch} at dimension 0, but got "
                               f"size {data.shape[0]} for argument #2 'targets' {where_}")
        if data.shape[1] < longest:
            raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension "
                               f"1, but got size {data.shape[1]} for argument #2 'targets' "
                               f"{where_}")
        padded = data[:, :longest].copy()
        padded[xp.arange(longest)[None, :] >= xp.asarray(lengths)[:, None]] = blank
    else:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional "
                           f"tensor for argument #2 'targets' {where_}")
    labels = xp.full((batch, 2 * longest + 1), blank, dtype=np.int64)
    labels[:, 1::2] = padded
    return labels


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """The CTC loss of log_probs (T, N, C) (or unbatched (T, C)), normally log_softmax
    outputs, against targets padded (N, S) or concatenated (sum(target_lengths),).
    input_lengths and target_lengths are (N,) integer tensors or tuples of ints.
    reduction 'mean' divides each loss by its target length (at least 1) and averages;
    ``zero_infinity`` replaces infinite losses (impossible alignments) and their gradients
    by zeros. Targets must lie in [0, C): dark checks this where torch reads out of range."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check_arguments(log_probs, targets, input_lengths, target_lengths, blank)
    batched = log_probs.dim() == 3
    values = log_probs if batched else log_probs.unsqueeze(1)
    where_ = "(while checking arguments for ctc_loss_allocate_outputs)"
    if values.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {values.dim()}-dimensional "
                           f"tensor for argument #1 'log_probs' {where_}")
    if values.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    steps, batch, classes = values.shape
    xp = array_module(values._data)
    inputs = _lengths(input_lengths, "input_lengths", xp)
    lengths = _lengths(target_lengths, "target_lengths", xp)
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if inputs.shape[0] != batch:
        raise RuntimeError("input_lengths must be of size batch_size")
    if lengths.shape[0] != batch:
        raise RuntimeError("target_lengths must be of size batch_size")
    labels = _padded_labels(xp, targets, lengths, batch, blank)
    if labels.size and bool(((labels < 0) | (labels >= classes)).any()):
        raise IndexError(f"ctc_loss: target index out of range for {classes} classes")
    for value in inputs.tolist():
        if value < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got "
                               f"value {value} {where_}")
        if value > steps:
            raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but "
                               f"got value {value} {where_}")
    losses = _CtcLoss.apply(values, labels=labels, input_lengths=inputs,
                            target_lengths=lengths, zero_infinity=zero_infinity)
    if zero_infinity:
        losses = where(losses == np.inf, losses.new_zeros(()), losses)
    if reduction == "none":
        return losses if batched else losses.squeeze(0)
    if reduction == "mean":
        divisor = Tensor._make(xp.maximum(lengths, 1).astype(losses._data.dtype))
        return (losses / divisor).mean()
    return losses.sum()
