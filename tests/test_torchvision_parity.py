"""dark.data.transforms, make_grid / save_image and the MNIST data sets against torchvision
itself.

torchvision cannot be installed beside the torch this suite uses, so its outputs were
computed once by scripts/make_torchvision_fixture.py (in a separate virtual environment with
torchvision) and stored in tests/fixtures/torchvision_transforms.npz and
tests/fixtures/torchvision_datasets.json. Each case there names an input image and a chain of
torchvision calls; this test runs the same chain with dark's functions and classes of the same
names on the same inputs and compares type, PIL mode, dtype, shape and values.
"""
import hashlib
import importlib.util
import io
import json
import pathlib
import re

import numpy as np
import PIL
import pytest
from PIL import Image

import dark
from dark import data as D
from dark.data import datasets
from dark.data import transforms as T
from dark.data.transforms import functional as F

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
_NPZ = np.load(FIXTURES / "torchvision_transforms.npz", allow_pickle=False)
SPEC = json.loads(str(_NPZ["spec"]))
CASES = {name: (source, steps) for name, source, steps in SPEC["cases"]}
DATASETS = json.loads((FIXTURES / "torchvision_datasets.json").read_text())

# Float outputs that are not bit-identical, (rtol, atol) with the reason; every other output
# (all PIL images, all integer tensors, uint8 resizing included, and every other float
# tensor: conversions, normalize, pads, crops, flips, nearest resizing, rotate / affine with
# nearest and bilinear sampling, brightness, saturation, hue, grayscale, make_grid, ...) must
# be equal. Matched by a regular expression on the case name.
_ULP = 2.0 ** -23  # float32 spacing at 1.0; the images hold values in about [0, 1]
FLOAT_TOLERANCES = {
    # tensor resizing is dark's interpolate as torchvision's is torch's. Its bicubic and
    # antialiased weights are torch's bit for bit, but (1) it sums the taps of an axis as a
    # BLAS product or with unfused multiply-adds, where torch's compiled kernels fuse them,
    # and sums non-antialiased bilinear one axis at a time where torch does both in one 2-D
    # pass; (2) its non-antialiased bilinear source index scale * (dst + 0.5) - 0.5 is not
    # fused as torch's is, so a weight can be an ulp off. Measured: at most 1 ulp at 1.0.
    r"resize/.*_f/.*/(bilinear|bicubic)": (0.0, _ULP),
    # the grayscale mean: torch sums float32 with a vectorised cascade, numpy pairwise; the
    # mean can differ by an ulp, scaled by (1 - factor) in the blend
    r"(contrast/RGB_f/|ColorJitter/RGB_f/contrast)": (0.0, 2 * _ULP),
    # img ** gamma: torch's vectorised pow and sqrt (Sleef, about 1 ulp) vs the correctly
    # rounded libm ones
    r"gamma/.*_f/": (2 * _ULP, 0.0),
}


# ----------------------------------------------------------------------------- inputs
# the inputs are made by the fixture script's own functions (it imports torchvision only
# when run); the stored in/ arrays check that they still make the same images

def _fixture_script():
    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "make_torchvision_fixture.py"
    spec = importlib.util.spec_from_file_location("make_torchvision_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCRIPT = _fixture_script()
make_images, make_batches = _SCRIPT.make_images, _SCRIPT.make_batches


def _sha256(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs():
    images = make_images()
    images.update({k: dark.from_numpy(v) for k, v in make_batches().items()})
    return images


def test_inputs_rebuild_identically(inputs):
    for key in _NPZ.files:
        if key.startswith("in/"):
            value = inputs[key[3:]]
            array = np.asarray(value) if isinstance(value, Image.Image) else value.numpy()
            np.testing.assert_array_equal(array, _NPZ[key], err_msg=key)


# ----------------------------------------------------------------------------- running

def _decode(value):
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_decode(v) for v in value["tuple"])
    if isinstance(value, dict) and set(value) == {"interp"}:
        return F.InterpolationMode(value["interp"])
    if isinstance(value, dict) and set(value) == {"dtype"}:
        return getattr(dark, value["dtype"])
    if isinstance(value, list) and value and isinstance(value[0], list) and \
            len(value[0]) == 4 and value[0][0] in ("T", "F"):
        return [_build(step) for step in value]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _build(step):
    namespace, name, args, kwargs = step
    args = [_decode(a) for a in args]
    kwargs = {k: _decode(v) for k, v in kwargs.items()}
    if namespace == "T":
        return getattr(T, name)(*args, **kwargs)
    if namespace == "F":
        return lambda img: getattr(F, name)(img, *args, **kwargs)
    if namespace == "U":
        return lambda img: getattr(D, name)(img, *args, **kwargs)
    if namespace == "S":
        def save(img):
            buffer = io.BytesIO()
            D.save_image(img, buffer, *args, format="png", **kwargs)
            return Image.open(io.BytesIO(buffer.getvalue()))
        return save
    raise ValueError(namespace)


def _expected(name):
    info = SPEC["results"][name]
    flat = _NPZ[f"out/{info['array_dtype']}"]
    size = int(np.prod(info["array_shape"], dtype=np.int64))
    return info, flat[info["offset"]:info["offset"] + size].reshape(info["array_shape"])


def _tolerance(name):
    for pattern, tol in FLOAT_TOLERANCES.items():
        if re.match(pattern, name):
            return tol
    return None


@pytest.fixture(scope="module")
def digit():
    import os
    root = os.environ.get("DARK_DATA") or str(
        pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
    if not pathlib.Path(root, "MNIST", "raw").is_dir():
        pytest.skip(f"MNIST files not found under {root} (set DARK_DATA): the cases on the "
                    "first MNIST test digit need them")
    image = datasets.MNIST(root, train=False)[0][0]
    assert _sha256(np.asarray(image)) == SPEC["digit_sha256"]
    return image


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torchvision(name, inputs, request):
    source, steps = CASES[name]
    pillow = SPEC["versions"]["pillow"]
    if source in ("L", "RGB", "digit") and steps[0][1] not in ("to_tensor", "pil_to_tensor") \
            and pillow.split(".")[:2] != PIL.__version__.split(".")[:2]:
        # on PIL images torchvision calls Pillow: the reference is that Pillow's output
        pytest.skip(f"the fixture was made with Pillow {pillow}, this is {PIL.__version__}")
    value = request.getfixturevalue("digit") if source == "digit" else inputs[source]
    for step in steps:
        value = _build(step)(value)
    info, expected = _expected(name)
    if info["kind"] == "pil":
        assert isinstance(value, Image.Image), type(value)
        assert value.mode == info["mode"]
        assert list(value.size) == info["size"]
        actual = np.asarray(value)
    else:
        assert isinstance(value, dark.Tensor), type(value)
        assert value.dtype is getattr(dark, info["dtype"])
        assert list(value.shape) == info["shape"]
        actual = value.numpy()
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tol = _tolerance(name)
    if tol is None or expected.dtype.kind != "f":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=tol[0], atol=tol[1])


# ----------------------------------------------------------------------------- datasets

@pytest.mark.parametrize("key", [k for k in DATASETS if k != "versions"])
def test_dataset_matches_torchvision(key, data_root):
    name, split = key.split("/")
    ref = DATASETS[key]
    ds = getattr(datasets, name)(data_root, train=split == "train")
    assert len(ds) == ref["len"]
    assert isinstance(ds.data, dark.Tensor) and isinstance(ds.targets, dark.Tensor)
    assert list(ds.data.shape) == ref["data_shape"]
    assert f"torch.{ds.data.dtype.name}" == ref["data_dtype"]
    assert list(ds.targets.shape) == ref["targets_shape"]
    assert f"torch.{ds.targets.dtype.name}" == ref["targets_dtype"]
    assert _sha256(ds.data.numpy()) == ref["data_sha256"]
    assert _sha256(ds.targets.numpy()) == ref["targets_sha256"]
    assert list(ds.classes) == ref["classes"]
    assert ds.class_to_idx == ref["class_to_idx"]
    image, target = ds[0]
    item = ref["item0"]
    assert type(image).__name__ == item["image_type"] and isinstance(image, Image.Image)
    assert image.mode == item["mode"] and list(image.size) == item["size"]
    assert type(target).__name__ == item["target_type"] and target == item["target"]
