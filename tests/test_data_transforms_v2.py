"""dark.data.transforms.v2 against torchvision.transforms.v2 0.29.

tests/fixtures/torchvision_v2.npz (scripts/make_torchvision_datasets_fixture.py) holds each
case's transform (a Python expression over ``v2`` and ``DT``, the torch / dark module), its
input (an image, a pair with a label, a dict, two images), the seed, torchvision's output
and the first ``rand(1)`` after the call (so the random draws are the same in number too).
Here the same expression is built with dark's v2 module and the outputs compared.
"""
import functools
import json
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import dark
from dark.data.transforms import v2
from dark.data.transforms.v2 import functional as F

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torchvision_v2.npz")


@functools.cache
def fixture():
    with np.load(FIXTURE) as z:
        arrays = {name: z[name] for name in z.files}
    return json.loads(str(arrays.pop("meta"))), arrays


CASES = fixture()[0]["cases"]
PAIRED_INPUTS = ("two_tensors", "two_pils", "pair_pil_tensor", "batch", "batch_2d")

# The outputs that are not bit-identical, with the bound and the reason; all others (every
# PIL output, every other tensor output, uint8 bilinear resizes included) must be equal.
_FLOAT_SUM_ORDER = (2.0 ** -22, "a float32 sum of products (the antialiased resize's taps, the "
                    "blur's kernel) taken in another order than torch's vectorised loop: a "
                    "few ulps in [0, 1]")
_COLOR_FMA = (2, "torchvision v2's adjust_saturation / adjust_contrast on uint8 tensors blend "
              "with add_(x, alpha=...), which torch's vectorised loop computes with a fused "
              "multiply-add; dark blends as v1 does. A float result an ulp apart truncates to "
              "the next integer in rare pixels, once per colour op (AutoAugment chains two)")
TOLERANCES = {
    ("v2.RandomResizedCrop((6, 9), scale=(0.3, 0.9), antialias=True)", "tensor_f32"):
        _FLOAT_SUM_ORDER,
    ("v2.GaussianBlur(3, sigma=(0.1, 2.0))", "tensor_f32"): _FLOAT_SUM_ORDER,
    ("v2.AutoAugment()", "tensor_u8"): _COLOR_FMA,
    ("v2.RandAugment()", "tensor_u8"): _COLOR_FMA,
    ("v2.TrivialAugmentWide()", "tensor_u8"): _COLOR_FMA,
    # AugMix applies its ops to a tensor, PIL input included
    ("v2.AugMix()", "tensor_u8"): _COLOR_FMA,
    ("v2.AugMix()", "pil"): _COLOR_FMA,
}


def inputs():
    """The inputs of the script's v2_inputs, built with dark."""
    local = np.random.default_rng(7)
    rgb = local.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    rgb2 = local.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    gray = local.integers(0, 256, (20, 24)).astype(np.uint8)
    floats = local.random((3, 20, 24)).astype(np.float32)
    batch = local.random((4, 3, 6, 8)).astype(np.float32)
    batch_labels = np.array([3, 0, 4, 4])
    soft_labels = local.random((4, 5)).astype(np.float32)
    u8 = dark.tensor(rgb.transpose(2, 0, 1).copy())
    return {
        "pil": lambda: Image.fromarray(rgb),
        "gray_pil": lambda: Image.fromarray(gray),
        "ndarray": lambda: rgb.copy(),
        "gray_ndarray": lambda: gray.copy(),
        "tensor_u8": lambda: u8.clone(),
        "gray_tensor": lambda: dark.tensor(gray[None].copy()),
        "tensor_f32": lambda: dark.tensor(floats),
        "pair": lambda: (Image.fromarray(rgb), 3),
        "pair_f32": lambda: (dark.tensor(floats), 3),
        "pair_pil_tensor": lambda: (Image.fromarray(rgb), dark.tensor(floats)),
        "dict": lambda: {"image": Image.fromarray(rgb), "label": 3, "name": "x"},
        "two_tensors": lambda: (u8.clone(), u8.clone() + 1),
        "two_pils": lambda: (Image.fromarray(rgb), Image.fromarray(rgb2)),
        "batch": lambda: (dark.tensor(batch), dark.tensor(batch_labels)),
        "batch_2d": lambda: (dark.tensor(batch), dark.tensor(soft_labels)),
    }


def close(actual, expected, bound, where):
    """Within ``bound`` everywhere; integer images: different in under 1% of the pixels."""
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=0, atol=bound, err_msg=where)
        return
    difference = np.abs(actual.astype(np.int64) - expected)
    assert difference.max() <= bound, where
    assert np.count_nonzero(difference) < 0.01 * difference.size, where


def check(value, expected, where, bound=None):
    arrays = fixture()[1]
    if "pil" in expected:
        assert isinstance(value, Image.Image), f"{where}: {type(value)}"
        assert value.mode == expected["mode"], where
        if bound is None:
            np.testing.assert_array_equal(np.asarray(value), arrays[expected["pil"]],
                                          err_msg=where)
        else:
            close(np.asarray(value), arrays[expected["pil"]], bound, where)
    elif "tensor" in expected:
        assert isinstance(value, dark.Tensor), f"{where}: {type(value)}"
        assert value.dtype == getattr(dark, expected["dtype"]), where
        if bound is None:
            np.testing.assert_array_equal(value.numpy(), arrays[expected["tensor"]],
                                          err_msg=where)
        else:
            close(value.numpy(), arrays[expected["tensor"]], bound, where)
    elif "ndarray" in expected:
        np.testing.assert_array_equal(value, arrays[expected["ndarray"]], err_msg=where)
    elif "seq" in expected:
        assert type(value).__name__ == expected["seq"], where
        assert len(value) == len(expected["items"]), where
        for i, (v, e) in enumerate(zip(value, expected["items"])):
            check(v, e, f"{where}[{i}]")
    elif "dict" in expected:
        assert isinstance(value, dict) and list(value) == list(expected["dict"]), where
        for k, e in expected["dict"].items():
            check(value[k], e, f"{where}[{k!r}]")
    else:
        assert value == expected["value"] and type(value) is type(expected["value"]), where


@pytest.mark.parametrize("case", CASES, ids=[f"{c['spec']}|{c['input']}|{c['seed']}"
                                             for c in CASES])
def test_v2_equals_torchvision(case):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        transform = eval(case["spec"], {"v2": v2, "DT": dark})  # noqa: S307 - the fixture's
        dark.manual_seed(case["seed"])
        sample = inputs()[case["input"]]()
        out = transform(*sample) if case["input"] in PAIRED_INPUTS else transform(sample)
        after = dark.rand(1).item()
    bound = TOLERANCES.get((case["spec"], case["input"]), (None, ""))[0]
    check(out, case["output"], case["spec"], bound)
    assert after == case["rand_after"], "a different number of random draws"
    assert [str(w.message) for w in caught] == case["warnings"]


# ----------------------------------------------------------------------------- API and errors

def test_import_forms():
    import dark.data as torchvision
    import dark.data.transforms.v2 as transforms
    from dark.data.transforms.v2 import functional as functional_v2

    assert torchvision.transforms.v2 is v2 is transforms and functional_v2 is F
    for name in ("Compose", "ToImage", "ToDtype", "RandomResizedCrop", "Normalize", "ToTensor",
                 "RandomHorizontalFlip", "Resize", "CenterCrop", "Lambda", "Transform"):
        assert name in v2.__all__ and callable(getattr(v2, name))
    for name in ("to_image", "to_dtype", "resize", "to_pil_image", "normalize", "hflip"):
        assert name in F.__all__


def test_containers_and_arguments_errors():
    with pytest.raises(TypeError, match="Argument transforms should be a sequence of callables"):
        v2.Compose(v2.ToImage())
    with pytest.raises(ValueError, match="Pass at least one transform"):
        v2.Compose([])
    with pytest.raises(ValueError, match=r"`p` should be a floating point value in the "
                                         r"interval \[0.0, 1.0\]."):
        v2.RandomApply([v2.ToImage()], p=1.5)
    with pytest.raises(ValueError, match="Length of p doesn't match the number of "
                                         "transforms: 1 != 2"):
        v2.RandomChoice([v2.ToImage(), v2.Identity()], p=[1.0])
    with pytest.raises(ValueError, match="dtype must be a dict or a torch.dtype, got "
                                         "<class 'str'> instead"):
        v2.ToDtype("float32")
    with pytest.raises(RuntimeError, match="The conversion from dark.float32 to dark.int32 "
                                           "cannot be performed safely."):
        v2.ToDtype(dark.int32, scale=True)(dark.rand(3, 2, 2))
    with pytest.raises(TypeError, match="Normalize\\(\\) does not support PIL images."):
        v2.Normalize([0.5], [0.5])(Image.new("L", (4, 4)))
    with pytest.raises(ValueError, match="Gaussian Noise is not implemented for PIL images."):
        v2.GaussianNoise()(Image.new("L", (4, 4)))
    with pytest.raises(ValueError, match="sigma shouldn't be negative. Got -1"):
        v2.GaussianNoise(sigma=-1)(dark.rand(3, 2, 2))
    with pytest.raises(TypeError, match="Input can either be a pure Tensor, a numpy array, or "
                                        "a PIL image, but got <class 'int'> instead."):
        F.to_image(3)
    image = Image.new("RGB", (8, 8))
    with pytest.raises(TypeError, match="Auto augment transformations are only properly "
                                        "defined for a single image or video, but found 2."):
        v2.AutoAugment()(image, image)
    with pytest.raises(TypeError, match="Found no image in the sample."):
        v2.RandAugment()(3)


def test_pass_through_structures_and_custom_transforms():
    from collections import namedtuple

    Sample = namedtuple("Sample", "image label")
    out = v2.Compose([v2.ToImage(), v2.ToDtype(dark.float32, scale=True)])(
        Sample(Image.new("RGB", (3, 2), (255, 0, 51)), [1, "a"]))
    assert type(out) is Sample and out.label == [1, "a"]
    np.testing.assert_allclose(out.image.numpy()[:, 0, 0], [1.0, 0.0, 0.2], rtol=1e-6)
    # a PIL image in the sample: tensors are not images then, and pass through
    label = dark.tensor([1, 2])
    pil, same = v2.RandomHorizontalFlip(p=1.0)(Image.new("L", (2, 1)), label)
    assert same is label and isinstance(pil, Image.Image)

    class AddOne(v2.Transform):
        def make_params(self, flat_inputs):
            return {"count": len(flat_inputs)}

        def transform(self, inpt, params):
            return inpt + params["count"]

    first, second = AddOne()(dark.zeros(2), dark.zeros(2))
    assert first.tolist() == [1.0, 1.0] and second.tolist() == [0.0, 0.0]
    assert repr(v2.Compose([v2.ToImage(), v2.ToPureTensor()])) == \
        "Compose(\n      ToImage()\n      ToPureTensor()\n)"
    assert repr(v2.ToDtype(dark.float32, scale=True)) == \
        "ToDtype(dtype=dark.float32, scale=True)"


def test_to_dtype_matches_convert_image_dtype_ranges():
    u8 = dark.tensor([[[0, 1, 128, 255]]], dtype=dark.uint8)
    assert F.to_dtype(u8, dark.int32, scale=True).tolist() == [[[0, 1 << 23, 128 << 23,
                                                                 255 << 23]]]
    assert F.to_dtype(F.to_dtype(u8, dark.int16, scale=True), dark.uint8,
                      scale=True).tolist() == u8.tolist()
    back = F.to_dtype(F.to_dtype(u8, dark.float32, scale=True), dark.uint8, scale=True)
    assert back.tolist() == u8.tolist()
    assert F.to_dtype(u8, dark.float64).tolist() == [[[0.0, 1.0, 128.0, 255.0]]]


def test_mixup_cutmix_errors():
    images, labels = dark.rand(4, 3, 5, 5), dark.tensor([0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"num_classes must be passed if the labels are "
                                         r"index-based \(1D\)"):
        v2.MixUp()(images, labels)
    with pytest.raises(ValueError, match="When passing 2D labels, the number of elements in "
                                         "last dimension must match num_classes: 3 != 4."):
        v2.CutMix(num_classes=4)(images, dark.rand(4, 3))
    with pytest.raises(ValueError, match="The labels must be a tensor, but got <class 'int'>"):
        v2.MixUp(num_classes=3)({"image": images, "label": 3})
    with pytest.raises(ValueError, match="MixUp.. does not support PIL images"):
        v2.MixUp(num_classes=3)(Image.new("L", (2, 2)), labels)
    with pytest.raises(ValueError, match="Expected a batched input with 4 dims, but got 3"):
        v2.CutMix(num_classes=3)(images[0], labels)
    with pytest.raises(ValueError, match="does not match the batch size of the labels: 4 != 3"):
        v2.MixUp(num_classes=3)(images, labels[:3])
    # labels found in a dict under a label-like key; the rest passes through
    out = v2.MixUp(num_classes=3)((images, {"class_labels": labels, "id": 7}))
    assert out[1]["id"] == 7 and out[1]["class_labels"].shape == (4, 3)
