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
# (all PIL images, all integer tensors, and every other float tensor: conversions, normalize,
# pads, crops, flips, nearest resizing, rotate / affine with nearest and bilinear sampling,
# brightness, saturation, hue, grayscale, make_grid, ...) must be equal, except the bilinear
# and bicubic tensor resizes, float or uint8, held to the bound derived below (_resize_bound).
# Matched by a regular expression on the case name.
_ULP = 2.0 ** -23  # float32 spacing at 1.0; the images hold values in about [0, 1]
FLOAT_TOLERANCES = {
    # the grayscale mean: torch sums float32 with a vectorised cascade, numpy pairwise; the
    # mean can differ by an ulp, scaled by (1 - factor) in the blend
    r"(contrast/RGB_f/|ColorJitter/RGB_f/contrast)": (0.0, 2 * _ULP),
    # img ** gamma: torch's vectorised pow and sqrt (Sleef, about 1 ulp) vs the correctly
    # rounded libm ones
    r"gamma/.*_f/": (2 * _ULP, 0.0),
}

# Bilinear and bicubic tensor resizing (uint8 too: torchvision resizes it in float32 and rounds)
# is dark's interpolate as torchvision's is torch's, with torch's float32 weights bit for bit
# (tests/test_nn_sampling.py checks them), but each output's K products w * x are summed in
# another order. dark sums an axis in a BLAS matrix product, whose kernel -- so the order of
# the sum and its use of fused multiply-adds -- OpenBLAS picks for the CPU it runs on
# (non-antialiased bilinear: by numpy, unfused, the height first). torch sums the taps in a
# chain, its first 4 * ((K - 1) // 4) additions unfused and the rest fused (GCC's vectorised
# loop and its scalar epilogue: that reproduces its outputs bit for bit; its AVX2 and AVX-512
# builds give this fixture, its no-FMA build does not). So the difference depends on the CPU:
# with OpenBLAS's SkylakeX (AVX-512) kernel, resize/L_f/8 and /25 bicubic equal torch's; with
# its Haswell or Zen (AVX2) kernel they are 1.8e-7 and 2.4e-7 off; with its Sandybridge kernel
# a pixel of resize/RGB_u8/25/bilinear rounds to the other integer (OPENBLAS_CORETYPE picks
# the kernel). No order is the right one; a bound holds for all of them: summed in any order,
# fused or not, |fl(sum) - sum| <= gamma(K) sum |w x|, gamma(K) = K u / (1 - K u), u = 2**-24
# (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., (3.5)). The second pass
# sums the first's rounded outputs, so after both |result - exact| <= (g1 + g2 + g1 g2) S1 S2
# max|x|, S an axis's largest sum of |w| over an output. dark and torch each keep to that, so
# they differ by at most twice as much. A uint8 result is the float result clamped and rounded
# half to even: dark's must be its own float result so rounded, torchvision's one of the
# roundings of the values within the bound of it.
_U = 2.0 ** -24  # float32 unit roundoff


def _gamma(taps: int) -> float:
    return taps * _U / (1 - taps * _U)


def _axis_weights(n_in: int, n_out: int, mode: str, antialias: bool):
    """dark's (out, in) weights of one axis: the identity resized (each output is one weight
    times 1 plus zeros, so exact)."""
    eye = dark.from_numpy(np.eye(n_in, dtype=np.float32).reshape(n_in, 1, 1, n_in))
    out = dark.nn.functional.interpolate(eye, size=(1, n_out), mode=mode, antialias=antialias,
                                         align_corners=False)
    return out.numpy().reshape(n_in, n_out).T


def _resize_bound(step, image, out_shape):
    """The most a bilinear / bicubic tensor resize of ``image`` may differ from torch's (see
    above), or None when ``step`` is no such resize."""
    _, name, _, kwargs = step
    mode = kwargs.get("interpolation", {"interp": "bilinear"})["interp"]
    if name not in ("resize", "Resize") or mode not in ("bilinear", "bicubic") or \
            not isinstance(image, dark.Tensor):
        return None
    antialias = kwargs.get("antialias", True)  # torchvision's default for tensors
    gammas, scale = [], 1.0
    for n_in, n_out in zip(image.shape[-2:], out_shape[-2:]):
        weights = _axis_weights(n_in, n_out, mode, antialias)
        if n_in == n_out and np.array_equal(weights, np.eye(n_in)):
            gammas.append(0.0)  # copied
            continue
        # one tap more than the most an output has: dark's matrix adds up the non-antialiased
        # bicubic taps clamped onto the same border pixel before multiplying (one rounding
        # more; counted in every mode, for simplicity)
        gammas.append(_gamma(int(np.count_nonzero(weights, axis=1).max()) + 1))
        if mode == "bicubic" and not antialias:
            # the merged border weights hide taps of opposite signs: Keys' cubic with
            # a = -0.75 at fraction t has sum |w| = 1 + 2 |a| t (1 - t) <= 1 + |a| / 2
            scale *= 1.375
        else:
            scale *= float(np.abs(weights).sum(axis=1).max())
    g1, g2 = gammas
    return 2 * (g1 + g2 + g1 * g2) * scale * float(np.abs(image.numpy()).max())


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
        image, value = value, _build(step)(value)
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
    bound = _resize_bound(steps[-1], image, expected.shape)
    tol = _tolerance(name)
    if bound is not None and expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=0, atol=bound)
    elif bound is not None:
        # dark's own float32 result before the rounding: rounded half to even (clamped), it is
        # dark's output; torch's float result lies within the bound of it, so torchvision's
        # output is one of the roundings of that interval
        unrounded = _build(steps[-1])(image.to(dark.float32)).numpy().astype(np.float64)
        np.testing.assert_array_equal(actual, np.round(np.clip(unrounded, 0, 255)))
        low = np.round(np.clip(unrounded - bound, 0, 255))
        high = np.round(np.clip(unrounded + bound, 0, 255))
        outside = (expected < low) | (expected > high)
        assert not outside.any(), \
            f"{np.count_nonzero(outside)} of {outside.size} values are not a rounding of a " \
            f"value within {bound:.3g} of dark's unrounded result: dark's " \
            f"{actual[outside][:5]}, unrounded {unrounded[outside][:5]}; torch's " \
            f"{expected[outside][:5]}"
    elif tol is None or expected.dtype.kind != "f":
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
