"""Attention functionals of dark.nn.functional: scaled_dot_product_attention and
multi_head_attention_forward, composed of differentiable ops (matmul, softmax, masked_fill,
dropout, linear), so gradients of every order come from those ops' own backward formulas.

scaled_dot_product_attention follows PyTorch's math kernel: the scale is split as
sqrt(scale) on query and on key (as PyTorch does, for the same rounding), boolean masks mark
the positions that take part, float masks are added, and a row that attends to nothing
gives zeros (PyTorch's _safe_softmax), not NaN."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..._backend import array_module, broadcast_shapes
from ..._tensor import Tensor
from ...amp.autocast_mode import autocast_inputs
from ...ops.creation import on_device, zeros
from ...ops.indexing import masked_fill
from ...ops.linalg import baddbmm, bmm, matmul
from ...ops.shape import cat
from ._checks import check_tensor
from .activation import softmax
from .dropouts import dropout
from .linear_maps import linear
from .padding import pad

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]

_NEG_INF = float("-inf")


def _constant(array) -> Tensor:
    return Tensor._make(array)


def _check_sdpa_inputs(query: Tensor, key: Tensor, value: Tensor, attn_mask) -> None:
    """PyTorch's validate_sdpa_input: same dtype, same device, at least 2-D, mask dtype."""
    name = "scaled_dot_product_attention"
    for position, (argument, tensor) in enumerate(
            (("query", query), ("key", key), ("value", value)), start=1):
        check_tensor(name, tensor, argument, position)
    if attn_mask is not None:
        check_tensor(name, attn_mask, "attn_mask", 4)
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(
            f"Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{query.dtype.cpp_name} key.dtype: {key.dtype.cpp_name} and value.dtype: "
            f"{value.dtype.cpp_name} instead.")
    if not query.device == key.device == value.device:
        raise RuntimeError(
            f"Expected query, key, and value to have the same device type, but got "
            f"query.device: {query.device} key.device: {key.device} and value.device: "
            f"{value.device} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(
            f"Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} "
            f"instead.")
    if attn_mask is not None:
        kind = attn_mask._data.dtype
        if not (kind == np.bool_ or kind == np.float32 or kind == query._data.dtype):
            raise RuntimeError(
                f"Expected attn_mask dtype to be bool or float or to match query dtype, but "
                f"got attn_mask.dtype: {attn_mask.dtype.cpp_name} and  query.dtype: "
                f"{query.dtype.cpp_name} instead.")
    if query._data.dtype.kind not in "fV":  # V: bfloat16
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: float != "
                           f"{key.dtype.cpp_name}")


def _repeat_heads(query: Tensor, key: Tensor, value: Tensor) -> tuple:
    """key and value with each head repeated to query's number of heads (dim -3), as
    repeat_interleave: head i of key serves query heads i*r ... i*r + r - 1."""
    heads, key_heads, value_heads = query.shape[-3], key.shape[-3], value.shape[-3]
    if heads == key_heads == value_heads:
        return key, value
    if heads % key_heads or heads % value_heads:
        raise RuntimeError("Number of heads in key and value must divide the number of heads "
                           "in ")

    def repeat(tensor: Tensor, times: int) -> Tensor:
        if times == 1:
            return tensor
        shape = tuple(tensor.shape)
        grouped = tensor.unsqueeze(-3).expand(*shape[:-2], times, *shape[-2:])
        return grouped.reshape(*shape[:-3], shape[-3] * times, *shape[-2:])

    return repeat(key, heads // key_heads), repeat(value, heads // value_heads)


def _add_mask(scores: Tensor, attn_mask: Tensor) -> Tensor:
    """scores with the mask applied in place, as PyTorch's attn.add_(mask): the mask may
    broadcast to scores' shape but not beyond it."""
    shape = broadcast_shapes(tuple(scores.shape), tuple(attn_mask.shape))
    if shape != tuple(scores.shape):
        raise RuntimeError(f"output with shape {list(scores.shape)} doesn't match the "
                           f"broadcast shape {list(shape)}")
    if attn_mask._data.dtype == np.bool_:
        return masked_fill(scores, attn_mask.logical_not(), _NEG_INF)
    return scores + attn_mask


def _safe_softmax(scores: Tensor) -> Tensor:
    """softmax over the last dim, with 0 (not NaN) on rows that are all -inf. The dead rows
    are set to 0 before the softmax too, so that no NaN reaches the backward."""
    data = scores._data
    xp = array_module(scores._data)
    dead = xp.all(data == _NEG_INF, axis=-1, keepdims=True)
    if not bool(dead.any()):
        return softmax(scores, -1)
    dead = _constant(dead)
    return masked_fill(softmax(masked_fill(scores, dead, 0.0), -1), dead, 0.0)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value.

    query (N, ..., Hq, L, E), key (N, ..., H, S, E), value (N, ..., H, S, Ev) -> (N, ...,
    Hq, L, Ev). attn_mask broadcasts to (N, ..., L, S): a boolean mask is True where a
    position takes part, a float mask is added. is_causal masks the upper triangle of the
    (L, S) scores (no attn_mask then). scale defaults to 1 / sqrt(E). dropout_p drops
    attention weights (always, whatever the training mode). enable_gqa lets H divide Hq,
    each key/value head serving Hq / H consecutive query heads."""
    query, key, value, attn_mask = autocast_inputs("scaled_dot_product_attention", query, key,
                                                   value, attn_mask)
    _check_sdpa_inputs(query, key, value, attn_mask)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    if dropout_p > 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    root = math.sqrt(abs(scale_factor))
    query = query * (-root if scale_factor < 0 else root)
    if enable_gqa:
        key, value = _repeat_heads(query, key, value)
    scores = matmul(query, key.transpose(-2, -1) * root)
    if is_causal:
        shape = (query.shape[-2], key.shape[-2])
        upper = on_device(query.device, lambda xp: ~xp.tril(xp.ones(shape, dtype=bool)))
        scores = masked_fill(scores, _constant(upper), _NEG_INF)
    if attn_mask is not None:
        scores = _add_mask(scores, attn_mask)
        weights = _safe_softmax(scores)
    else:
        weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, value)


# ----------------------------------------------------------------------------- multi-head


def _is_float(tensor: Tensor) -> bool:
    return tensor._data.dtype.kind in "fV"  # V: bfloat16


def _canonical_mask(mask, mask_name: str, other_type, other_name: str, target_type,
                    check_other: bool = True):
    """A boolean mask (True = masked out) as a float mask of target_type with -inf there;
    float masks pass unchanged."""
    if mask is None:
        return None
    if mask._data.dtype != np.bool_ and not _is_float(mask):
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.", stacklevel=3)
    if _is_float(mask):
        return mask
    filled = zeros(tuple(mask.shape), dtype=target_type, device=mask.device)
    return masked_fill(filled, mask, _NEG_INF)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """True when the query is batched (3-D); torch's errors for the other arguments' dims."""
    n = query.ndim
    if n not in (2, 3):
        raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                             f"{n}-D query tensor")
    which = f"For {'batched' if n == 3 else 'unbatched'} ({n}-D) `query`, expected"
    if key.ndim != n or value.ndim != n:
        raise AssertionError(f"{which} `key` and `value` to be {n}-D but found {key.ndim}-D "
                             f"and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != n - 1:
        raise AssertionError(f"{which} `key_padding_mask` to be `None` or {n - 1}-D but found "
                             f"{key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"{which} `attn_mask` to be `None`, 2-D or 3-D but found "
                                 f"{attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if n == 2 and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{attn_mask.shape}")
    return n == 3


def _in_projection_packed(q: Tensor, k: Tensor, v: Tensor, w: Tensor, b) -> tuple:
    """q, k, v projected by the (3E, E) packed weight (one product when q is k is v)."""
    embed_dim = q.shape[-1]
    if k is v:
        if q is k:
            proj = linear(q, w, b).unflatten(-1, (3, embed_dim))
            proj = proj.unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([embed_dim, embed_dim * 2])
        b_q, b_kv = (None, None) if b is None else b.split([embed_dim, embed_dim * 2])
        kv_proj = linear(k, w_kv, b_kv).unflatten(-1, (2, embed_dim))
        kv_proj = kv_proj.unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
        return linear(q, w_q, b_q), kv_proj[0], kv_proj[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q, b_k, b_v) -> tuple:
    eq, ek, ev = q.shape[-1], k.shape[-1], v.shape[-1]
    for name, tensor, shape in (("query weights", w_q, (eq, eq)), ("key weights", w_k, (eq, ek)),
                                ("value weights", w_v, (eq, ev)), ("query bias", b_q, (eq,)),
                                ("key bias", b_k, (eq,)), ("value bias", b_v, (eq,))):
        if tensor is not None and tuple(tensor.shape) != shape:
            raise AssertionError(f"expecting {name} shape of {shape}, but got {tensor.shape}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _check_sizes(tensor: Tensor, sizes: dict, message: str) -> Tensor:
    """``tensor``, after torch's AssertionError (``message`` formatted with the dim, the size
    expected and the size found) for the first of ``sizes`` ({dim: size}) it does not have."""
    for dim, size in sizes.items():
        if tensor.shape[dim] != size:
            raise AssertionError(message.format(dim=dim, size=size, got=tensor.shape[dim]))
    return tensor


def _static(tensor: Tensor, name: str, batch_heads: int, head_dim: int) -> Tensor:
    return _check_sizes(tensor, {0: batch_heads, 2: head_dim},
                        f"expecting {name}.size({{dim}}) of {{size}}, but got {{got}}")


def _check_key_padding_mask(key_padding_mask: Tensor, src_len: int, bsz: int) -> None:
    _check_sizes(key_padding_mask, {0: bsz, 1: src_len},
                 "Expected key_padded_mask.shape[{dim}] to be {size}, but got {got}")


def _project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight,
             q_proj_weight, k_proj_weight, v_proj_weight) -> tuple:
    if not use_separate_proj_weight:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        return _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                             f"value's {value.shape[:2]}")
    for name, weight in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
        if weight is None:
            raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight is "
                                 "None")
    biases = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
    return _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight,
                          *biases)


def _shape_attn_mask(attn_mask: Tensor, tgt_len: int, src_len: int, batch_heads: int):
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should "
                               f"be {(tgt_len, src_len)}.")
        return attn_mask.unsqueeze(0)
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (batch_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should "
                               f"be {(batch_heads, tgt_len, src_len)}.")
        return attn_mask
    raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple:
    """Multi-head attention as nn.MultiheadAttention computes it (sequence-first).

    query (L, N, E) or (L, E); key (S, N, Ek), value (S, N, Ev) (or unbatched). Returns
    (attn_output (L, N, E), attn_weights (N, L, S) averaged over heads, (N, num_heads, L,
    S) if not average_attn_weights, or None if not need_weights)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", None if attn_mask is None else attn_mask.dtype,
        "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, "
                             f"but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias,
                       use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight)
    batch_heads = bsz * num_heads
    if attn_mask is not None:
        attn_mask = _shape_attn_mask(attn_mask, tgt_len, src_len, batch_heads)

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    q = q.view(tgt_len, batch_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.view(k.shape[0], batch_heads, head_dim).transpose(0, 1)
    else:
        k = _static(static_k, "static_k", batch_heads, head_dim)
    if static_v is None:
        v = v.view(v.shape[0], batch_heads, head_dim).transpose(0, 1)
    else:
        v = _static(static_v, "static_v", batch_heads, head_dim)

    if add_zero_attn:
        zero_shape = (batch_heads, 1, head_dim)
        k = cat([k, zeros(zero_shape, dtype=k.dtype, device=k.device)], dim=1)
        v = cat([v, zeros(zero_shape, dtype=v.dtype, device=v.device)], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        _check_key_padding_mask(key_padding_mask, src_len, bsz)
        key_padding_mask = key_padding_mask.view(bsz, 1, 1, src_len).expand(
            -1, num_heads, -1, -1).reshape(batch_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / float(q.shape[-1]))
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        if attn_mask is not None:
            weights = baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
        else:
            weights = bmm(q_scaled, k.transpose(-2, -1))
        weights = softmax(weights, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        attn_output = bmm(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
        attn_output = attn_output.view(tgt_len, bsz, attn_output.shape[1])
        weights = weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            attn_output, weights = attn_output.squeeze(1), weights.squeeze(0)
        return attn_output, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    attn_output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    attn_output = attn_output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
    attn_output = attn_output.view(tgt_len, bsz, attn_output.shape[1])
    if not is_batched:
        attn_output = attn_output.squeeze(1)
    return attn_output, None
