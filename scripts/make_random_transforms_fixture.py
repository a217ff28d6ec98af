"""Write the torchvision random-transform outputs that tests/test_random_transforms.py checks
dark against: after ``torch.manual_seed(seed)`` (and ``random.seed(seed)``, for RandomChoice /
RandomOrder, which use python's generator as torchvision does), each random transform applied
to a small fixed image, its output, the value of the next ``torch.rand(1)`` (so that the number
of draws the transform made is checked too) and, for the transforms that have one, the result
of ``get_params`` called the same way.

torchvision cannot be installed beside the CPU torch the test suite uses, so this runs in a
separate virtual environment and its output is committed:

    python -m venv /work/venv-tv
    /work/venv-tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /work/venv-tv/bin/python scripts/make_random_transforms_fixture.py

(torch 2.14.1's CPU generator gives the same streams as the torch 2.13 the suite checks dark's
generator against; the script checks a few draws of it against values torch 2.13 gives.)

It writes tests/fixtures/torchvision_random_transforms.npz: the inputs (``in/<name>``), the
outputs (``out/<dtype>``, flattened and concatenated; offsets and shapes in ``spec``) and, as
the JSON string ``spec``, the cases. A case is ``[name, input, steps, seed]``; steps are
``[namespace, name, args, kwargs]`` as in scripts/make_torchvision_fixture.py (``F`` a function
of transforms.functional, ``T`` a transform class built with args / kwargs and called on the
image), plus ``P``: ``T.<name>.get_params(*args, **kwargs)`` with ``{"img": 1}`` standing for
the image; its result is stored as JSON (tensors as ``{"tensor": values, "dtype": ...}``).
"""
from __future__ import annotations

import json
import pathlib
import random

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "torchvision_random_transforms.npz"
SEEDS = [0, 1, 3, 5, 42]
SEEDS_MORE = [6, 7, 8, 9, 10, 11, 12, 13]


def make_images() -> dict:
    """The deterministic PIL inputs: 'L' (10 rows x 12 columns of noise), 'RGB' (12 x 10)."""
    gray = np.random.RandomState(10).randint(0, 256, size=(10, 12)).astype(np.uint8)
    rgb = np.random.RandomState(11).randint(0, 256, size=(12, 10, 3)).astype(np.uint8)
    return {"L": Image.fromarray(gray, "L"), "RGB": Image.fromarray(rgb, "RGB")}


def _i(mode):
    return {"interp": mode}


IMG = {"img": 1}


def build_cases() -> list:
    """[name, input, steps, seed] for every case."""
    cases = []
    # tensor inputs are made by the library under test from the PIL ones
    first = {"RGB_u8": ("RGB", ["F", "pil_to_tensor", [], {}]),
             "RGB_f": ("RGB", ["F", "to_tensor", [], {}]),
             "L_f": ("L", ["F", "to_tensor", [], {}])}

    def add(name, source, step, seeds=SEEDS):
        for seed in seeds:
            if source in first:
                src, conv = first[source]
                cases.append([f"{name}/{source}/{seed}", src, [conv, list(step)], seed])
            else:
                cases.append([f"{name}/{source}/{seed}", source, [list(step)], seed])

    few = SEEDS[:3]
    for src in ["L", "RGB", "RGB_u8", "RGB_f"]:
        add("RandomHorizontalFlip", src, ["T", "RandomHorizontalFlip", [], {}])
        add("RandomVerticalFlip", src, ["T", "RandomVerticalFlip", [], {"p": 0.3}])
    for src in ["RGB", "RGB_u8"]:
        add("RandomCrop/6", src, ["T", "RandomCrop", [6], {}])
        add("RandomCrop/[5,8]/pad2", src, ["T", "RandomCrop", [[5, 8]], {"padding": 2}])
        add("RandomCrop/14/pad_if_needed", src, ["T", "RandomCrop", [14], {
            "pad_if_needed": True, "fill": 9}], few)
        add("RandomCrop/[11,9]/reflect", src, ["T", "RandomCrop", [[11, 9]], {
            "padding": [1, 3], "padding_mode": "reflect"}], few)
        add("RandomResizedCrop/6", src, ["T", "RandomResizedCrop", [6], {}])
        add("RandomResizedCrop/[5,7]/nearest", src, ["T", "RandomResizedCrop", [[5, 7]], {
            "scale": [0.3, 0.9], "ratio": [0.5, 2.0], "interpolation": _i("nearest")}])
        # scale > 1: every try fails, the central crop of the fallback
        add("RandomResizedCrop/6/fallback", src, ["T", "RandomResizedCrop", [6], {
            "scale": [4.0, 5.0], "ratio": [3.0, 4.0], "interpolation": _i("nearest")}], few)
        add("RandomRotation/30", src, ["T", "RandomRotation", [30], {}])
        add("RandomRotation/[-20,50]/expand", src, ["T", "RandomRotation", [[-20, 50]], {
            "expand": True}], few)
        add("RandomAffine/full", src, ["T", "RandomAffine", [25], {
            "translate": [0.2, 0.1], "scale": [0.8, 1.2], "shear": [-10, 10, -5, 5]}])
        add("RandomAffine/shear", src, ["T", "RandomAffine", [[-10, 10]], {"shear": 8}], few)
        add("RandomGrayscale", src, ["T", "RandomGrayscale", [], {"p": 0.5}])
        add("RandomPerspective", src, ["T", "RandomPerspective", [], {}], few)
        for name in ["RandomInvert", "RandomEqualize", "RandomAutocontrast"]:
            add(name, src, ["T", name, [], {}], few)
        add("RandomPosterize", src, ["T", "RandomPosterize", [3], {}], few)
        add("RandomSolarize", src, ["T", "RandomSolarize", [100], {}], few)
        add("RandomAdjustSharpness", src, ["T", "RandomAdjustSharpness", [2.0], {}], few)
    for src in ["RGB_f", "L", "L_f"]:
        add("RandomPerspective", src, ["T", "RandomPerspective", [], {}], few)
        add("RandomInvert", src, ["T", "RandomInvert", [], {}], few)
        add("RandomAutocontrast", src, ["T", "RandomAutocontrast", [], {}], few)
        add("RandomAdjustSharpness", src, ["T", "RandomAdjustSharpness", [0.3], {}], few)
        add("RandomSolarize", src, ["T", "RandomSolarize", [
            0.4 if src.endswith("_f") else 100], {}], few)
    for src in ["RGB", "RGB_u8", "RGB_f"]:
        add("RandomPerspective/nearest/fill", src, ["T", "RandomPerspective", [0.7], {
            "p": 1.0, "interpolation": _i("nearest"),
            "fill": [0.2, 0.4, 0.6] if src.endswith("_f") else [20, 40, 60]}], few)
    for src in ["RGB", "L", "RGB_u8", "RGB_f", "L_f"]:
        add("GaussianBlur/3", src, ["T", "GaussianBlur", [3], {}], few)
        add("GaussianBlur/[5,3]", src, ["T", "GaussianBlur", [[5, 3]], {"sigma": [0.5, 1.5]}],
            few)
    add("RandomEqualize", "L", ["T", "RandomEqualize", [], {}], few)
    add("RandomPosterize", "L", ["T", "RandomPosterize", [2], {}], few)
    for src in ["RGB", "RGB_u8", "RGB_f"]:
        add("ColorJitter/all", src, ["T", "ColorJitter", [], {
            "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}])
        add("ColorJitter/bc", src, ["T", "ColorJitter", [], {
            "brightness": [0.5, 1.5], "contrast": 0.3}], few)
    add("ColorJitter/all", "L", ["T", "ColorJitter", [], {"brightness": 0.4,
                                                           "contrast": 0.4}], few)
    for src in ["RGB_f", "L_f"]:
        add("RandomErasing", src, ["T", "RandomErasing", [], {}])
        add("RandomErasing/random", src, ["T", "RandomErasing", [], {
            "p": 1.0, "value": "random"}])
        add("RandomErasing/value", src, ["T", "RandomErasing", [], {
            "p": 1.0, "scale": [0.1, 0.5], "ratio": [0.5, 2.0], "value": 0.25}], few)
    add("RandomErasing/rgb-value", "RGB_f", ["T", "RandomErasing", [], {
        "p": 1.0, "value": [0.1, 0.2, 0.3]}], few)
    add("RandomErasing/u8", "RGB_u8", ["T", "RandomErasing", [], {"p": 1.0, "value": 7}], few)
    # autoaugment (uint8 tensors and PIL images, as torchvision asks)
    for src in ["RGB", "RGB_u8", "L"]:
        for policy in ["imagenet", "cifar10", "svhn"]:
            add(f"AutoAugment/{policy}", src, ["T", "AutoAugment", [{"policy": policy}], {}])
        add("RandAugment", src, ["T", "RandAugment", [], {}])
        add("RandAugment/3-14-bilinear", src, ["T", "RandAugment", [3, 14], {
            "interpolation": _i("bilinear"), "fill": 30}])
        add("TrivialAugmentWide", src, ["T", "TrivialAugmentWide", [], {}], SEEDS + SEEDS_MORE)
    for src in ["RGB", "RGB_u8", "L"]:
        add("AugMix", src, ["T", "AugMix", [], {}], SEEDS + SEEDS_MORE)
        add("AugMix/5-2-2-nearest", src, ["T", "AugMix", [], {
            "severity": 5, "mixture_width": 2, "chain_depth": 2, "alpha": 0.5,
            "all_ops": False, "interpolation": _i("nearest"), "fill": 40}])
    for src in ["RGB", "RGB_u8", "RGB_f", "L", "L_f"]:
        add("ElasticTransform", src, ["T", "ElasticTransform", [], {"sigma": 1.0}], few)
    for src in ["RGB", "RGB_u8", "RGB_f"]:
        add("ElasticTransform/nearest-fill", src, ["T", "ElasticTransform", [], {
            "alpha": [20.0, 35.0], "sigma": [0.7, 1.2], "interpolation": _i("nearest"),
            "fill": [0.2, 0.4, 0.6] if src.endswith("_f") else [20, 40, 60]}], few)
        add("ElasticTransform/no-blur", src, ["T", "ElasticTransform", [], {
            "alpha": 8.0, "sigma": 0.0}], few)
    # containers
    for src in ["RGB", "RGB_u8"]:
        add("RandomApply", src, ["T", "RandomApply", [[
            ["T", "RandomCrop", [8], {}], ["T", "RandomHorizontalFlip", [], {}]]], {}])
        add("RandomChoice", src, ["T", "RandomChoice", [[
            ["T", "RandomCrop", [8], {}], ["T", "RandomHorizontalFlip", [], {}],
            ["T", "RandomVerticalFlip", [], {}]]], {}])
        add("RandomOrder", src, ["T", "RandomOrder", [[
            ["T", "RandomCrop", [8], {}], ["T", "RandomRotation", [20], {}],
            ["T", "ColorJitter", [], {"brightness": 0.5}]]], {}])
        add("Compose/cifar", src, ["T", "Compose", [[
            ["T", "RandomCrop", [10], {"padding": 2}], ["T", "RandomHorizontalFlip", [], {}],
            ["T", "ColorJitter", [], {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2}],
        ]], {}])

    # get_params on their own
    def add_p(name, source, cls, args, kwargs=None, seeds=SEEDS):
        add(f"params/{name}", source, ["P", cls, args, kwargs or {}], seeds)

    add_p("RandomCrop", "RGB", "RandomCrop", [IMG, [5, 7]])
    add_p("RandomResizedCrop", "RGB", "RandomResizedCrop", [IMG, [0.08, 1.0], [0.75, 4 / 3]])
    add_p("RandomResizedCrop/wide", "L_f", "RandomResizedCrop", [IMG, [0.5, 1.0], [0.2, 5.0]])
    add_p("RandomRotation", "RGB", "RandomRotation", [[-33.3, 71.0]])
    add_p("RandomAffine", "RGB", "RandomAffine", [[-30.0, 30.0], [0.3, 0.2], [0.7, 1.3],
                                                  [-5.0, 5.0, -3.0, 9.0], [10, 12]])
    add_p("RandomAffine/none", "RGB", "RandomAffine", [[-30.0, 30.0], None, None, None,
                                                       [10, 12]])
    add_p("ColorJitter", "RGB", "ColorJitter", [[0.6, 1.4], [0.5, 1.5], None, [-0.2, 0.2]])
    add_p("RandomErasing", "RGB_f", "RandomErasing", [IMG, [0.02, 0.33], [0.3, 3.3]],
          {"value": None})
    add_p("RandomErasing/value", "RGB_f", "RandomErasing", [IMG, [0.02, 0.33], [0.3, 3.3]],
          {"value": [0.5]})
    add_p("RandomPerspective", "RGB", "RandomPerspective", [10, 12, 0.5])
    add_p("GaussianBlur", "RGB", "GaussianBlur", [0.1, 2.0])
    add_p("ElasticTransform", "RGB", "ElasticTransform", [[10.0, 20.0], [1.0, 0.8], [10, 12]],
          seeds=SEEDS[:3])
    return cases


# ----------------------------------------------------------------------------- running

def _decode(value, T, torch):
    if isinstance(value, dict) and set(value) == {"interp"}:
        return T.InterpolationMode(value["interp"])
    if isinstance(value, dict) and set(value) == {"policy"}:
        return T.AutoAugmentPolicy(value["policy"])
    if isinstance(value, list) and value and isinstance(value[0], list) and \
            len(value[0]) == 4 and value[0][0] in ("T", "F"):
        return [_build(step, T, torch) for step in value]
    if isinstance(value, list):
        return [_decode(v, T, torch) for v in value]
    return value


def _build(step, T, torch):
    import torchvision.transforms.functional as F

    namespace, name, args, kwargs = step
    if namespace == "P":
        def params(img):
            a = [img if v == IMG else _decode(v, T, torch) for v in args]
            return getattr(T, name).get_params(*a, **kwargs)
        return params
    args = [_decode(a, T, torch) for a in args]
    kwargs = {k: _decode(v, T, torch) for k, v in kwargs.items()}
    if namespace == "T":
        return getattr(T, name)(*args, **kwargs)
    if namespace == "F":
        return lambda img: getattr(F, name)(img, *args, **kwargs)
    raise ValueError(namespace)


def encode_params(value, torch):
    """get_params' result as JSON: tuples and lists as lists, tensors tagged."""
    if isinstance(value, torch.Tensor):
        return {"tensor": value.tolist(), "dtype": str(value.dtype).replace("torch.", "")}
    if isinstance(value, (tuple, list)):
        return [encode_params(v, torch) for v in value]
    if value is None or isinstance(value, (int, float)):
        return value
    raise TypeError(type(value))


def _check_generator(torch) -> None:
    """torch 2.14.1's CPU streams are torch 2.13's (values printed by torch 2.13.0)."""
    torch.manual_seed(0)
    assert torch.rand(3).tolist() == [0.49625658988952637, 0.7682217955589294,
                                      0.08847743272781372], "rand"
    torch.manual_seed(1)
    assert torch.randint(0, 1000, (4,)).tolist() == [845, 139, 124, 368], "randint"
    torch.manual_seed(2)
    assert torch.randperm(6).tolist() == [0, 3, 1, 2, 4, 5], "randperm"
    torch.manual_seed(3)
    assert torch.bernoulli(torch.linspace(0.05, 0.95, 10)).tolist() == [
        1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0], "bernoulli"
    torch.manual_seed(4)
    assert torch.empty(3).normal_().tolist() == [-1.605276346206665, 0.23248571157455444,
                                                 2.239870071411133], "normal_"


def main() -> None:
    import PIL
    import torch
    import torchvision
    import torchvision.transforms as T

    _check_generator(torch)
    images = make_images()
    cases = build_cases()
    meta = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                         "pillow": PIL.__version__, "numpy": np.__version__},
            "cases": cases, "results": {}}
    arrays = {f"in/{k}": np.asarray(v) for k, v in images.items()}
    packed = {}
    for name, source, steps, seed in cases:
        value = images[source]
        for step in steps[:-1]:  # conversions: no draws
            value = _build(step, T, torch)(value)
        fn = _build(steps[-1], T, torch)
        torch.manual_seed(seed)
        random.seed(seed)
        value = fn(value)
        info = {"next": torch.rand(1).item()}
        if steps[-1][0] == "P":
            info["params"] = encode_params(value, torch)
        else:
            if isinstance(value, torch.Tensor):
                array = value.numpy()
                info.update(kind="tensor", dtype=str(value.dtype).replace("torch.", ""))
            else:
                array = np.asarray(value).copy()
                info.update(kind="pil", mode=value.mode, size=list(value.size))
            chunks = packed.setdefault(array.dtype.name, [])
            info.update(array_dtype=array.dtype.name, array_shape=list(array.shape),
                        offset=sum(c.size for c in chunks))
            chunks.append(array.ravel())
        meta["results"][name] = info
    arrays.update({f"out/{k}": np.concatenate(v) for k, v in packed.items()})
    arrays["spec"] = np.array(json.dumps(meta))
    np.savez_compressed(FIXTURE, **arrays)
    print(f"{len(cases)} cases -> {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
