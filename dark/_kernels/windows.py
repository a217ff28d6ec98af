"""Sliding windows of raw (N, C, *spatial) arrays: strided views of a padded input, shared by
convolution (im2col) and pooling."""
from __future__ import annotations


def window_view(xp, x, out_shape: tuple, kernel: tuple, stride: tuple, dilation: tuple):
    """The (N, C, *out_shape, *kernel) view ``x[n, c, o * stride + k * dilation]`` of an
    (N, C, *spatial) array, without a copy."""
    strides = x.strides
    spatial = range(len(kernel))
    return xp.lib.stride_tricks.as_strided(
        x, x.shape[:2] + tuple(out_shape) + tuple(kernel),
        strides[:2] + tuple(strides[2 + i] * stride[i] for i in spatial)
        + tuple(strides[2 + i] * dilation[i] for i in spatial))


def pad_array(xp, x, padding: tuple, value=0, extra: tuple | None = None):
    """``x`` with ``padding[i]`` entries of ``value`` before and ``padding[i] + extra[i]``
    after each spatial dim (no copy when there is nothing to add)."""
    extra = extra or (0,) * len(padding)
    if not any(padding) and not any(extra):
        return x
    shape = x.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(x.shape[2:], padding, extra))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in
                                           zip(padding, x.shape[2:]))] = x
    return out
