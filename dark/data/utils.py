"""torchvision.utils for dark tensors: make_grid, save_image, draw_bounding_boxes and
draw_segmentation_masks."""
from __future__ import annotations

import math
import warnings

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from .._backend import array_module, bool_, uint8
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


def _generate_color_palette(num_objects: int) -> list[tuple[int, int, int]]:
    """torchvision's default colours: object i gets (i * (2**25 - 1, 2**15 - 1, 2**21 - 1))
    modulo 255."""
    palette = (2**25 - 1, 2**15 - 1, 2**21 - 1)
    return [tuple((i * p) % 255 for p in palette) for i in range(num_objects)]


def _parse_colors(colors, *, num_objects: int, floating: bool = False) -> list[tuple]:
    """The RGB tuples of ``colors`` (None: the palette; a colour for all; or a list of at
    least ``num_objects`` colours, each a PIL colour name / "#RRGGBB" or an RGB tuple),
    divided by 255 when ``floating``."""
    if colors is None:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(f"Number of colors must be equal or larger than the number of "
                             f"objects, but got {len(colors)} < {num_objects}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got "
                         f"{colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got "
                         f"{colors}.")
    else:
        colors = [colors] * num_objects
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(c) for c in colors]
    if floating:
        colors = [tuple(v / 255 for v in c) for c in colors]
    return colors


class _ImageDrawTV(ImageDraw.ImageDraw):
    """PIL's ImageDraw with torchvision's oriented rectangle: a dashed first side, solid
    other sides, the polygon filled."""

    def oriented_rectangle(self, xy, fill=None, outline=None, width=1):
        self.dashed_line(((xy[0], xy[1]), (xy[2], xy[3])), width=width, fill=outline)
        for i in range(2, len(xy), 2):
            self.line(((xy[i], xy[i + 1]), (xy[(i + 2) % len(xy)], xy[(i + 3) % len(xy)])),
                      width=width, fill=outline)
        self.polygon(xy, fill=fill, outline=None, width=0)

    def dashed_line(self, xy, fill=None, width=0, joint=None, dash_length=5, space_length=5):
        current_dash = True
        for i in range(1, len(xy)):
            x1, y1 = xy[i - 1]
            x2, y2 = xy[i]
            segment_length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
            while segment_length > 0:
                step = min(segment_length, dash_length if current_dash else space_length)
                angle = math.atan2(y2 - y1, x2 - x1)
                end_x = x1 + math.cos(angle) * step
                end_y = y1 + math.sin(angle) * step
                if current_dash:
                    self.line([(x1, y1), (end_x, end_y)], fill, width, joint)
                segment_length -= step
                x1, y1 = end_x, end_y
                current_dash = not current_dash


def _check_image(image, what: str = "Tensor expected, got") -> None:
    if not isinstance(image, Tensor):
        raise TypeError(f"{what} {type(image)}")
    if not (image.dtype == uint8 or image.is_floating_point()):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")


def draw_bounding_boxes(image: Tensor, boxes: Tensor, labels: list[str] | None = None,
                        colors=None, fill: bool | None = False, width: int = 1,
                        font: str | None = None, font_size: int | None = None,
                        label_colors=None, label_background_colors=None,
                        fill_labels: bool = False) -> Tensor:
    """Draw ``boxes`` on a (C, H, W) uint8 (0..255) or float (0..1) image with one or three
    channels, through PIL as torchvision does; returns a new (3, H, W) image of the input's
    dtype (the pixels equal torchvision's).

    ``boxes`` is (N, 4) ``(xmin, ymin, xmax, ymax)`` in pixels, or (N, 8) the four corners
    of oriented boxes (first side dashed); coordinates are truncated to integers.
    ``colors`` / ``label_colors`` / ``label_background_colors``: None (torchvision's
    palette; labels default to the box colour, or black with ``fill_labels``), one colour,
    or a list of at least N, each a PIL name, "#RRGGBB" or an RGB tuple. ``fill`` fills the
    boxes at alpha 100/255; ``width`` is the outline width; ``labels`` (N strings) are
    written at each box's top-left corner in ``font`` (a TrueType file, ``font_size``
    points, default 10) or PIL's default font; ``fill_labels`` draws the text on a box of
    ``label_background_colors``."""
    _check_image(image)
    if image.size(0) not in {1, 3}:
        raise ValueError("Only grayscale and RGB images are supported")
    box_array = boxes.numpy(force=True) if isinstance(boxes, Tensor) else np.asarray(boxes)
    if box_array.shape[-1] == 4 and ((box_array[:, 0] > box_array[:, 2]).any()
                                     or (box_array[:, 1] > box_array[:, 3]).any()):
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use "
                         "torchvision.ops.box_convert to convert them")
    num_boxes = box_array.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. "
                         "Please specify labels for each box.")
    colors = _parse_colors(colors, num_objects=num_boxes)
    if label_colors or fill_labels:
        label_colors = _parse_colors(label_colors if label_colors else "black",
                                     num_objects=num_boxes)
    else:
        label_colors = colors.copy()
    if fill_labels and label_background_colors:
        label_background_colors = _parse_colors(label_background_colors,
                                                num_objects=num_boxes)
    else:
        label_background_colors = colors.copy()
    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.",
                          stacklevel=2)
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)

    pixels = image.detach().numpy(force=True)
    if pixels.shape[0] == 1:
        pixels = np.tile(pixels, (3, 1, 1))
    floating = image.is_floating_point()
    original = pixels.dtype
    if floating:
        # torchvision's to_dtype(scale=True): times (255 + 1 - 1e-3), truncated
        pixels = (pixels * pixels.dtype.type(255 + 1.0 - 1e-3)).astype(np.uint8)
    img_to_draw = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)))
    img_boxes = box_array.astype(np.int64).tolist()
    draw = _ImageDrawTV(img_to_draw, "RGBA") if fill else _ImageDrawTV(img_to_draw)
    for bbox, color, label, label_color, label_bg_color in zip(
            img_boxes, colors, labels, label_colors, label_background_colors):
        draw_method = draw.oriented_rectangle if len(bbox) > 4 else draw.rectangle
        fill_color = color + (100,) if fill else None
        draw_method(bbox, width=width, outline=color, fill=fill_color)
        if label is not None:
            box_margin = 1
            margin = width + box_margin
            if fill_labels:
                left, top, right, bottom = draw.textbbox((bbox[0] + margin, bbox[1] + margin),
                                                         label, font=txt_font)
                draw.rectangle((left - box_margin, top - box_margin, right + box_margin,
                                bottom + box_margin), fill=label_bg_color)
            draw.text((bbox[0] + margin, bbox[1] + margin), label, fill=label_color,
                      font=txt_font)
    out = np.asarray(img_to_draw).transpose(2, 0, 1)
    if floating:
        # back to the input's dtype as to_dtype(scale=True) does: times 1 / 255
        out = out.astype(original) * original.type(1.0 / 255)
    return Tensor._make(np.ascontiguousarray(out)).to(image.device)


def draw_segmentation_masks(image: Tensor, masks: Tensor, alpha: float = 0.8,
                            colors=None) -> Tensor:
    """Paint boolean ``masks`` ((N, H, W) or (H, W)) on a (3, H, W) uint8 (0..255) or float
    (0..1) image: each masked pixel takes its mask's colour (pixels of more than one mask
    are black), blended as ``image * (1 - alpha) + painted * alpha`` in float and cast back
    to the image's dtype, as torchvision does. ``colors``: None (torchvision's palette),
    one colour, or a list of at least N (PIL names, "#RRGGBB" or RGB tuples). Works
    through the image's array module (CPU or GPU); not part of the autograd graph."""
    _check_image(image, "The image must be a tensor, got")
    if image.size()[0] != 3:
        raise ValueError("Pass an RGB image. Other Image formats are not supported")
    if masks.ndim == 2:
        masks = masks[None, :, :]
    if masks.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if masks.dtype != bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {masks.dtype}")
    if masks.shape[-2:] != image.shape[-2:]:
        raise ValueError("The image and the masks must have the same height and width")
    num_masks = masks.size()[0]
    if num_masks == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    data = image.detach()._data
    xp = array_module(data)
    mask_data = masks.detach()._data
    if array_module(mask_data) is not xp:
        raise RuntimeError(f"Expected the image and the masks on the same device, got "
                           f"{image.device} and {masks.device}")
    overlapping = mask_data.sum(axis=0) > 1
    colors = _parse_colors(colors, num_objects=num_masks, floating=image.is_floating_point())
    painted = data.copy()
    for mask, color in zip(mask_data, colors):
        painted[:, mask] = xp.asarray(color, dtype=data.dtype)[:, None]
    painted[:, overlapping] = 0
    if not isinstance(alpha, float) and not image.is_floating_point():
        # an integer alpha keeps torch's integer arithmetic (wrapping in the image's dtype)
        out = data.astype(np.int64) * int(1 - alpha) + painted.astype(np.int64) * int(alpha)
    else:
        compute = data.dtype if image.is_floating_point() else np.dtype(np.float32)
        out = (data.astype(compute) * compute.type(1 - alpha)
               + painted.astype(compute) * compute.type(alpha))
    return Tensor._make(out.astype(data.dtype))


__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks"]
