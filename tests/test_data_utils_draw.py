"""dark.data.utils.draw_bounding_boxes and draw_segmentation_masks against torchvision 0.29:
pixel for pixel on tests/fixtures/torchvision_draw.npz (written by
scripts/make_torchvision_datasets_fixture.py), errors and warnings word for word (torch's
dtype names read dark's)."""
import functools
import json
import os
import warnings

import numpy as np
import PIL
import pytest

import dark
from dark.data.utils import draw_bounding_boxes, draw_segmentation_masks

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torchvision_draw.npz")


@functools.cache
def fixture():
    with np.load(FIXTURE) as z:
        arrays = {name: z[name] for name in z.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def meta(key):
    return fixture()[0][key]


def array(key):
    return fixture()[1][key]


def box_args(case):
    kw = dict(case)
    image = dark.tensor(array(kw.pop("image")))
    kw["boxes"] = dark.tensor(kw["boxes"], dtype=dark.float32)
    for name in ("colors", "label_colors"):
        value = kw.get(name)
        if isinstance(value, list) and value and isinstance(value[0], int):
            kw[name] = tuple(value)
        elif isinstance(value, list):
            kw[name] = [tuple(c) if isinstance(c, list) else c for c in value]
    return image, kw


def same_error(error, expected):
    kind, message = expected
    assert type(error.value).__name__ == kind
    assert str(error.value) == message.replace("torch.", "dark.")


def needs_same_pillow(case):
    """Text is drawn with PIL's default font, whose glyphs follow the Pillow version."""
    if "labels" in case and PIL.__version__ != meta("pillow"):
        pytest.skip(f"labels are drawn by Pillow {PIL.__version__}; the fixture's by "
                    f"Pillow {meta('pillow')}")


@pytest.mark.parametrize("name", sorted(meta("box_cases")))
def test_draw_bounding_boxes_equals_torchvision(name):
    case = meta("box_cases")[name]
    needs_same_pillow(case)
    image, kw = box_args(case)
    out = draw_bounding_boxes(image, **kw)
    expected = array(f"boxes:{name}")
    assert out.dtype == image.dtype and isinstance(out, dark.Tensor)
    np.testing.assert_array_equal(out.numpy(), expected)
    # the input is left as it was
    np.testing.assert_array_equal(image.numpy(), array(case["image"]))


@pytest.mark.parametrize("name", sorted(meta("box_errors")))
def test_draw_bounding_boxes_errors(name):
    case, expected = meta("box_errors")[name]
    boxes = dark.tensor([[2, 3, 20, 25], [10.7, 5.2, 45.9, 35.5], [0, 0, 49, 39]])
    image = dark.tensor(array("image"))
    if case is None:
        image = {"int32_image": image.int(), "batch": image[None],
                 "two_channels": image[:2]}[name]
        kw = {"boxes": boxes}
    else:
        image, kw = box_args(case)
    with pytest.raises(Exception) as error:
        draw_bounding_boxes(image, **kw)
    same_error(error, expected)


def test_draw_bounding_boxes_warnings():
    image = dark.tensor(array("image"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        same = draw_bounding_boxes(image, dark.zeros((0, 4)))
        draw_bounding_boxes(image, dark.tensor([[1.0, 2.0, 3.0, 4.0]]), font_size=12)
    assert [str(w.message) for w in caught] == meta("box_warnings")
    assert same is image
    with pytest.raises(TypeError, match="Tensor expected, got <class 'numpy.ndarray'>"):
        draw_bounding_boxes(array("image"), dark.zeros((0, 4)))


def mask_args(case):
    kw = dict(case)
    image = dark.tensor(array(kw.pop("image")))
    masks = dark.tensor(array("masks"))
    if "mask" in kw:
        masks = masks[kw.pop("mask")]
    if isinstance(kw.get("colors"), list):
        kw["colors"] = [tuple(c) if isinstance(c, list) else c for c in kw["colors"]]
    return image, masks, kw


@pytest.mark.parametrize("name", sorted(meta("mask_cases")))
def test_draw_segmentation_masks_equals_torchvision(name, device):
    image, masks, kw = mask_args(meta("mask_cases")[name])
    out = draw_segmentation_masks(image.to(device), masks.to(device), **kw)
    assert out.dtype == image.dtype and out.device.type == device
    np.testing.assert_array_equal(out.numpy(force=True), array(f"masks:{name}"))


def test_draw_segmentation_masks_errors():
    image = dark.tensor(array("image"))
    gray = dark.tensor(array("gray"))
    masks = dark.tensor(array("masks"))
    calls = {
        "not_bool": lambda: draw_segmentation_masks(image, masks.int()),
        "shape": lambda: draw_segmentation_masks(image, masks[:, :30]),
        "gray": lambda: draw_segmentation_masks(gray, masks),
        "ndim": lambda: draw_segmentation_masks(image, masks[None]),
        "batch": lambda: draw_segmentation_masks(image[None], masks),
        "int32": lambda: draw_segmentation_masks(image.int(), masks),
        "few_colors": lambda: draw_segmentation_masks(image, masks, colors=["red"]),
    }
    assert sorted(calls) == sorted(meta("mask_errors"))
    for name, call in calls.items():
        with pytest.raises(Exception) as error:
            call()
        same_error(error, meta("mask_errors")[name])
    with pytest.warns(UserWarning, match="masks doesn't contain any mask. No mask was drawn"):
        assert draw_segmentation_masks(image, masks[:0]) is image
