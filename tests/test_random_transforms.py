"""dark's random transforms draw as torchvision's do: after ``dark.manual_seed(seed)`` (and
``random.seed(seed)``: RandomChoice / RandomOrder use python's generator, as torchvision's do)
each transform gives torchvision's output after ``torch.manual_seed(seed)``, leaves the
generator where torchvision leaves torch's (the next ``rand(1)`` is the same: as many draws,
of the same kinds), and ``get_params`` returns the same parameters.

The torchvision results were computed once by scripts/make_random_transforms_fixture.py (in a
separate virtual environment with torch 2.14.1 and torchvision 0.29.1) and are stored in
tests/fixtures/torchvision_random_transforms.npz; this test needs no torch.
"""
import importlib.util
import json
import pathlib
import random
import re

import numpy as np
import PIL
import pytest
from PIL import Image

import dark
from dark.data import transforms as T
from dark.data.transforms import functional as F

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / \
    "torchvision_random_transforms.npz"
_NPZ = np.load(FIXTURE, allow_pickle=False)
SPEC = json.loads(str(_NPZ["spec"]))
CASES = {name: (source, steps, seed) for name, source, steps, seed in SPEC["cases"]}

_ULP = 2.0 ** -23
# Float outputs that may differ, (rtol, atol) with the reason (tests/test_torchvision_parity.py
# holds the deterministic ops to the same): every other output must be equal.
FLOAT_TOLERANCES = {
    # adjust_contrast's grayscale mean: torch sums float32 with a vectorised cascade, numpy
    # pairwise; the mean can differ by an ulp, scaled by (1 - factor) in the blend (and then
    # carried through the factors applied after it)
    r"ColorJitter/.*/RGB_f/": (2 * _ULP, 2 * _ULP),
    # the Gaussian kernel: torch's exp is Sleef's (within an ulp, not correctly rounded),
    # numpy's another, so kernel entries can differ by an ulp; and torch sums a single
    # plane under a non-square kernel in an order other than its fused row-by-row chain
    # (measured: at most 1.2e-7 on these images, values in [0, 1])
    r"GaussianBlur/.*_f/": (0.0, 2 * _ULP),
    # the displacement field: gaussian_blur of one plane of noise in [-1, 1) (the kernel's
    # ulp and torch's summation order under a non-square sigma, as above), then scaled by
    # alpha / size (here up to 20 / 10): measured at most 1.8e-7 (1.5 ulp of 1, times 2)
    r"params/ElasticTransform/": (0.0, 2 * 2 * _ULP),
}


def _script():
    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / \
        "make_random_transforms_fixture.py"
    spec = importlib.util.spec_from_file_location("make_random_transforms_fixture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCRIPT = _script()


@pytest.fixture(scope="module")
def inputs():
    return _SCRIPT.make_images()


def test_inputs_rebuild_identically(inputs):
    for key in _NPZ.files:
        if key.startswith("in/"):
            np.testing.assert_array_equal(np.asarray(inputs[key[3:]]), _NPZ[key], err_msg=key)


def _decode(value):
    if isinstance(value, dict) and set(value) == {"interp"}:
        return F.InterpolationMode(value["interp"])
    if isinstance(value, dict) and set(value) == {"policy"}:
        return T.AutoAugmentPolicy(value["policy"])
    if isinstance(value, list) and value and isinstance(value[0], list) and \
            len(value[0]) == 4 and value[0][0] in ("T", "F"):
        return [_build(step) for step in value]
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _build(step):
    namespace, name, args, kwargs = step
    if namespace == "P":
        def params(img):
            a = [img if v == {"img": 1} else _decode(v) for v in args]
            return getattr(T, name).get_params(*a, **kwargs)
        return params
    args = [_decode(a) for a in args]
    kwargs = {k: _decode(v) for k, v in kwargs.items()}
    if namespace == "T":
        return getattr(T, name)(*args, **kwargs)
    if namespace == "F":
        return lambda img: getattr(F, name)(img, *args, **kwargs)
    raise ValueError(namespace)


def _missing(steps):
    """The transform classes a case uses that dark lacks."""
    names = set(re.findall(r'\["[TP]", "(\w+)"', json.dumps(steps)))
    return sorted(n for n in names if not hasattr(T, n))


def _expected(info):
    flat = _NPZ[f"out/{info['array_dtype']}"]
    size = int(np.prod(info["array_shape"], dtype=np.int64))
    return flat[info["offset"]:info["offset"] + size].reshape(info["array_shape"])


def _params(value):
    if isinstance(value, dark.Tensor):
        return {"tensor": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, (tuple, list)):
        return [_params(v) for v in value]
    return value


def _tolerance(name):
    for pattern, tol in FLOAT_TOLERANCES.items():
        if re.search(pattern, name):
            return tol
    return None


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torchvision(name, inputs):
    source, steps, seed = CASES[name]
    missing = _missing(steps)
    if missing:
        pytest.skip(f"dark has no {', '.join(missing)}")
    pillow = SPEC["versions"]["pillow"]
    if steps[0][1] not in ("to_tensor", "pil_to_tensor") and \
            pillow.split(".")[:2] != PIL.__version__.split(".")[:2]:
        pytest.skip(f"the fixture was made with Pillow {pillow}, this is {PIL.__version__}")
    info = SPEC["results"][name]
    value = inputs[source]
    for step in steps[:-1]:
        value = _build(step)(value)
    fn = _build(steps[-1])
    dark.manual_seed(seed)
    random.seed(seed)
    value = fn(value)
    next_draw = dark.rand(1).item()
    if "params" in info:
        tol = _tolerance(name)
        if tol is None:
            assert _params(value) == info["params"]
        else:  # a tensor of floats
            expected = info["params"]
            assert value.dtype.name == expected["dtype"]
            np.testing.assert_allclose(value.numpy(), np.array(expected["tensor"]),
                                       rtol=tol[0], atol=tol[1])
    else:
        if info["kind"] == "pil":
            assert isinstance(value, Image.Image), type(value)
            assert value.mode == info["mode"] and list(value.size) == info["size"]
            actual = np.asarray(value)
        else:
            assert isinstance(value, dark.Tensor), type(value)
            assert value.dtype is getattr(dark, info["dtype"])
            actual = value.numpy()
        expected = _expected(info)
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        tol = _tolerance(name)
        if tol is None or expected.dtype.kind != "f":
            np.testing.assert_array_equal(actual, expected)
        else:
            np.testing.assert_allclose(actual, expected, rtol=tol[0], atol=tol[1])
    assert next_draw == info["next"], "the transform made another number of draws than " \
        "torchvision's"


# ----------------------------------------------------------------------------- errors

def test_errors_as_torchvision(inputs):
    pil = inputs["RGB"]
    floats = F.to_tensor(pil)
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.erase(pil, 0, 0, 2, 2, dark.tensor(0.0))
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="Scale should be between 0 and 1"):
        T.RandomErasing(scale=(0.5, 1.5))
    with pytest.raises(ValueError, match=r"either a single value or 3 \(number of input"):
        T.RandomErasing(p=1.0, value=[0.1, 0.2])(floats)
    with pytest.raises(TypeError, match=r"Only torch.uint8 image tensors are supported, but "
                                        r"found dark\.float32"):
        F.posterize(floats, 3)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors"):
        F.equalize(floats)
    with pytest.raises(TypeError, match="Threshold should be less than bound of img."):
        F.solarize(floats, 1.5)
    with pytest.raises(ValueError, match=r"sharpness_factor \(-1\) is not non-negative."):
        F.adjust_sharpness(floats, -1)
    with pytest.raises(ValueError, match=r"kernel_size should have odd and positive integers. "
                                         r"Got \[4, 4\]"):
        F.gaussian_blur(floats, 4)
    with pytest.raises(ValueError, match="Kernel size value should be an odd"):
        T.GaussianBlur(2)
    with pytest.raises(ValueError, match="Please provide exactly four corners, got 3"):
        F.perspective(floats, [[0, 0]] * 3, [[0, 0]] * 4)


def test_erase_copies_unless_inplace(inputs):
    img = F.to_tensor(inputs["L"])
    before = img.numpy().copy()
    out = F.erase(img, 1, 2, 3, 4, dark.tensor([0.5])[:, None, None])
    np.testing.assert_array_equal(img.numpy(), before)
    assert (out.numpy()[:, 1:4, 2:6] == 0.5).all()
    F.erase(img, 1, 2, 3, 4, dark.tensor([0.5])[:, None, None], inplace=True)
    np.testing.assert_array_equal(img.numpy(), out.numpy())


def test_augmix_severity_error_and_repr():
    with pytest.raises(ValueError, match=re.escape(
            "The severity must be between [1, 10]. Got 11 instead.")):
        T.AugMix(severity=11)
    assert repr(T.AugMix()).startswith("AugMix(severity=3, mixture_width=3, chain_depth=-1")


def test_elastic_transform_errors_and_repr(inputs):
    with pytest.raises(TypeError, match="alpha should be float or a sequence of floats"):
        T.ElasticTransform(alpha=50)
    with pytest.raises(ValueError, match="If sigma is a sequence its length should be 2. Got 3"):
        T.ElasticTransform(sigma=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="fill should be int or float or a list or tuple"):
        T.ElasticTransform(fill="black")
    with pytest.raises(TypeError, match="Argument displacement should be a Tensor"):
        F.elastic_transform(inputs["RGB"], np.zeros((1, 12, 10, 2)))
    with pytest.raises(ValueError, match=r"Argument displacement shape should be \(1, 12, 10, "
                                         r"2\)"):
        F.elastic_transform(inputs["RGB"], dark.zeros(1, 10, 12, 2))
    assert repr(T.ElasticTransform()) == ("ElasticTransform(alpha=[50.0, 50.0], sigma=[5.0, "
                                          "5.0], interpolation=InterpolationMode.BILINEAR, "
                                          "fill=[0.0])")
