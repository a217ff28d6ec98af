"""torchvision.utils.make_grid and save_image for dark tensors."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .._backend import array_module
from .._tensor import Tensor
from ..ops.shape import stack


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a (B, C, H, W) batch (or a list of (C, H, W) images) into one (C, rows * (H +
    padding) + padding, cols * (W + padding) + padding) image, ``nrow`` images per row,
    separated by ``padding`` pixels of ``pad_value``. One-channel images become three
    channels; a (H, W) or (C, H, W) input is one image (returned without padding when it is
    alone). ``normalize`` maps [min, max] (or ``value_range``) to [0, 1], per image when
    ``scale_each``. The result is a new tensor (not part of the autograd graph)."""
    if not isinstance(tensor, Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list "
                                    f"containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = stack(tensor, dim=0)
    data = tensor.detach()._data
    xp = array_module(data)
    if data.ndim == 2:
        data = data[None]
    if data.ndim == 3:
        if data.shape[0] == 1:
            data = xp.concatenate((data, data, data), axis=0)
        data = data[None]
    if data.ndim == 4 and data.shape[1] == 1:
        data = xp.concatenate((data, data, data), axis=1)
    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        data = data.copy()
        for image in (data if scale_each is True else (data,)):
            _normalize_range_(xp, image, value_range)
    if data.shape[0] == 1:
        return Tensor._make(data[0].copy())
    nmaps = data.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(data.shape[2] + padding), int(data.shape[3] + padding)
    grid = xp.full((data.shape[1], height * ymaps + padding, width * xmaps + padding),
                   pad_value, dtype=data.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:(y + 1) * height,
             x * width + padding:(x + 1) * width] = data[k]
    return Tensor._make(grid)


def _normalize_range_(xp, image, value_range) -> None:
    """Clamp to [low, high] and map it to [0, 1] in place (float images)."""
    if image.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{image.dtype.name.capitalize()}")
    if value_range is not None:
        low, high = value_range
    else:
        low, high = float(image.min()), float(image.max())
    xp.clip(image, low, high, out=image)
    image -= image.dtype.type(low)
    image /= image.dtype.type(max(high - low, 1e-5))


def save_image(tensor, fp, format: str | None = None, **kwargs) -> None:
    """Write ``make_grid(tensor, **kwargs)`` as an image file (PNG by the file name or
    ``format``), with values in [0, 1] mapped to 0..255 by rounding to the nearest."""
    grid = make_grid(tensor, **kwargs)
    data = grid._data
    xp = array_module(data)
    # + 0.5 after scaling to [0, 255] rounds to the nearest integer, as torchvision does
    scaled = xp.clip(data * data.dtype.type(255) + data.dtype.type(0.5), 0, 255) \
        if data.dtype.kind == "f" else xp.clip(data * 255, 0, 255)
    array = scaled.transpose(1, 2, 0).astype(np.uint8)
    if not isinstance(array, np.ndarray):
        array = array.get()
    Image.fromarray(np.ascontiguousarray(array)).save(fp, format=format)


__all__ = ["make_grid", "save_image"]
