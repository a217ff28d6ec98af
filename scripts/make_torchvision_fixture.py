"""Write the torchvision outputs that tests/test_torchvision_parity.py checks dark against.

torchvision cannot be installed beside the CPU torch the test suite uses, so this script runs in
a separate virtual environment that has torchvision, and its outputs are committed:

    python -m venv /tmp/tvenv
    /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 pillow numpy
    DARK_DATA=/work/shared/data /tmp/tvenv/bin/python scripts/make_torchvision_fixture.py

(the fixtures in the repository were made with torch 2.14.1, torchvision 0.29.1, Pillow 13.0.0
and numpy 2.4.6; the Pillow version matters for the PIL-image cases and is recorded.)

It writes

- tests/fixtures/torchvision_transforms.npz: the deterministic input images (``in/<name>``),
  torchvision's outputs (``out/<dtype>``: the outputs of that numpy dtype, flattened and
  concatenated; each case's offset and shape are in ``spec``) and, as the JSON string
  ``spec``, the list of cases: each case is an input name and a chain of steps, a step being
  ``[namespace, name, args, kwargs]`` with namespace ``F`` (a function of
  torchvision.transforms.functional), ``T`` (a class of torchvision.transforms, built with
  args / kwargs and called on the image), ``U`` (a function of torchvision.utils called on the
  image) or ``S`` (save_image to PNG bytes, read back as an array). Interpolation modes and
  dtypes are written as ``{"interp": "bilinear"}`` / ``{"dtype": "uint8"}``. Each output's
  kind (``tensor`` with its dtype, or ``pil`` with its mode) is stored beside it.
- tests/fixtures/torchvision_datasets.json: for MNIST and FashionMNIST, train and test, the
  shape, dtype and sha256 of ``data`` and ``targets``, ``classes``, ``class_to_idx`` and the
  kind of the first item -- no image of the data sets is stored.

The input images are built from seeded numpy RandomStates (the test rebuilds them the same way
and checks them against the stored ``in/`` arrays) plus the first test digit of MNIST, which is
read from the data root (DARK_DATA, or ../shared/data beside the repository) and stored only as
a sha256; the cases on it are skipped by the test when the data is absent.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


# ----------------------------------------------------------------------------- inputs
# (tests/test_torchvision_parity.py makes its inputs with these two functions)

def make_images() -> dict:
    """The deterministic PIL inputs: 'L' (18 rows x 22 columns of noise), 'RGB' (14 x 17)."""
    gray = np.random.RandomState(0).randint(0, 256, size=(18, 22)).astype(np.uint8)
    rgb = np.random.RandomState(1).randint(0, 256, size=(14, 17, 3)).astype(np.uint8)
    return {"L": Image.fromarray(gray, "L"), "RGB": Image.fromarray(rgb, "RGB")}


def make_batches() -> dict:
    """Float batches for make_grid (values outside [0, 1] so that normalize matters)."""
    state = np.random.RandomState(2)
    batch = (state.rand(5, 3, 6, 7) * 3.0 - 1.0).astype(np.float32)
    gray = (state.rand(4, 1, 6, 7) * 2.0).astype(np.float32)
    batch_u8 = state.randint(0, 256, size=(3, 3, 5, 4)).astype(np.uint8)
    return {"batch": batch, "batch1": gray, "batch_u8": batch_u8}


# ----------------------------------------------------------------------------- cases

def _i(mode):
    return {"interp": mode}


def _d(name):
    return {"dtype": name}


def build_cases() -> list:
    """[name, input, steps] for every case."""
    cases = []

    def add(name, source, *steps):
        cases.append([name, source, [list(s) for s in steps]])

    pils = ["L", "RGB", "digit"]
    # tensor inputs are made by the library under test from the PIL ones (to_tensor and
    # pil_to_tensor are checked on their own)
    tensors = {f"{p}_u8": (p, ["F", "pil_to_tensor", [], {}]) for p in pils}
    tensors.update({f"{p}_f": (p, ["F", "to_tensor", [], {}]) for p in pils})

    def add_t(name, tensor_name, *steps):
        source, first = tensors[tensor_name]
        add(name, source, first, *steps)

    # conversions
    for p in pils:
        add(f"to_tensor/{p}", p, ["F", "to_tensor", [], {}])
        add(f"pil_to_tensor/{p}", p, ["F", "pil_to_tensor", [], {}])
    add("ToTensor/RGB", "RGB", ["T", "ToTensor", [], {}])
    add("PILToTensor/RGB", "RGB", ["T", "PILToTensor", [], {}])
    add_t("normalize/RGB_f", "RGB_f", ["F", "normalize", [[0.485, 0.456, 0.406],
                                                          [0.229, 0.224, 0.225]], {}])
    add_t("Normalize/digit_f", "digit_f", ["T", "Normalize", [(0.1307,), (0.3081,)], {}])
    add_t("Normalize/L_f", "L_f", ["T", "Normalize", [[0.5], [0.25]], {}])
    add_t("convert/RGB_u8-f32", "RGB_u8", ["F", "convert_image_dtype", [_d("float32")], {}])
    add_t("convert/RGB_u8-f64", "RGB_u8", ["F", "convert_image_dtype", [_d("float64")], {}])
    add_t("convert/RGB_f-u8", "RGB_f", ["F", "convert_image_dtype", [_d("uint8")], {}])
    add_t("convert/L_f-int16", "L_f", ["F", "convert_image_dtype", [_d("int16")], {}])
    add_t("convert/L_u8-int32", "L_u8", ["F", "convert_image_dtype", [_d("int32")], {}])
    add_t("ConvertImageDtype/digit_f-u8", "digit_f", ["T", "ConvertImageDtype", [_d("uint8")],
                                                      {}])
    add_t("convert/RGB_f-u8-f", "RGB_f", ["F", "convert_image_dtype", [_d("uint8")], {}],
          ["F", "convert_image_dtype", [_d("float32")], {}])
    for name in ["RGB_f", "RGB_u8", "L_f", "L_u8"]:
        add_t(f"to_pil_image/{name}", name, ["F", "to_pil_image", [], {}])
        add_t(f"to_pil_image/{name}/roundtrip", name, ["T", "ToPILImage", [], {}],
              ["F", "to_tensor", [], {}])
    add_t("to_pil_image/RGB_f/HSV", "RGB_f", ["F", "to_pil_image", [], {"mode": "HSV"}])

    # resize
    sizes = [8, [10, 21], 25, [5, 6]]
    for p in ["L", "RGB"]:
        for size in sizes:
            for mode in ["nearest", "bilinear", "bicubic"]:
                add(f"resize/{p}/{size}/{mode}", p, ["F", "resize", [size], {
                    "interpolation": _i(mode)}])
    add("resize/digit/14/bilinear", "digit", ["F", "resize", [14], {}])
    add("resize/RGB/10/max_size", "RGB", ["F", "resize", [10], {"max_size": 11}])
    add("Resize/RGB/[9]/box", "RGB", ["T", "Resize", [[9]], {"interpolation": _i("box")}])
    add("Resize/L/11/lanczos", "L", ["T", "Resize", [11], {"interpolation": _i("lanczos")}])
    add("Resize/L/[9,13]/hamming", "L", ["T", "Resize", [[9, 13]],
                                          {"interpolation": _i("hamming")}])
    add_t("resize/digit_f/20/bilinear", "digit_f", ["F", "resize", [20], {}])
    add_t("resize/digit_u8/12/bicubic", "digit_u8", ["F", "resize", [12], {
        "interpolation": _i("bicubic")}])
    for name in ["RGB_u8", "RGB_f", "L_f"]:
        for size in [8, [10, 21], 25]:
            for mode in ["nearest", "nearest-exact", "bilinear", "bicubic"]:
                add_t(f"resize/{name}/{size}/{mode}", name, ["F", "resize", [size], {
                    "interpolation": _i(mode)}])
        for mode in ["bilinear", "bicubic"]:
            add_t(f"resize/{name}/[9,13]/{mode}/no-aa", name, ["F", "resize", [[9, 13]], {
                "interpolation": _i(mode), "antialias": False}])
    add_t("Resize/RGB_u8/11", "RGB_u8", ["T", "Resize", [11], {}])

    # crops and pads
    for p in ["L", "RGB", "RGB_u8", "L_f"]:
        def add_any(name, *steps, p=p):
            if p in tensors:
                add_t(name, p, *steps)
            else:
                add(name, p, *steps)
        for size in [7, [9, 12], 24, [20, 5]]:
            add_any(f"center_crop/{p}/{size}", ["F", "center_crop", [size], {}])
        add_any(f"CenterCrop/{p}/[11]", ["T", "CenterCrop", [[8]], {}])
        add_any(f"crop/{p}/outside", ["F", "crop", [-2, 3, 12, 21], {}])
        for mode in ["constant", "edge", "reflect", "symmetric"]:
            for padding in [3, [2, 5], [1, 2, 3, 4]]:
                fill = 7 if mode == "constant" else 0
                add_any(f"pad/{p}/{mode}/{padding}", ["F", "pad", [padding], {
                    "fill": fill, "padding_mode": mode}])
            # RandomCrop(size, padding=4, padding_mode=mode) at a fixed position
            add_any(f"randomcrop/{p}/{mode}", ["F", "pad", [4], {"padding_mode": mode}],
                    ["F", "crop", [1, 5, 12, 14], {}])
        add_any(f"Pad/{p}/negative", ["T", "Pad", [[-2, 1, 3, -1]], {"padding_mode": "reflect"}])
        add_any(f"hflip/{p}", ["F", "hflip", [], {}])
        add_any(f"vflip/{p}", ["F", "vflip", [], {}])
        add_any(f"RandomHorizontalFlip/{p}", ["T", "RandomHorizontalFlip", [], {"p": 1.0}])

    # rotate and affine
    rgb_fill = [10, 20, 30]
    for p in ["L", "RGB", "digit", "RGB_u8", "RGB_f", "L_f", "digit_f"]:
        rgb = p.startswith("RGB")
        floaty = p.endswith("_f")
        fill = ([0.1, 0.5, 0.9] if floaty else rgb_fill) if rgb else (0.5 if floaty else 7)

        def add_any(name, *steps, p=p):
            if p in tensors:
                add_t(name, p, *steps)
            else:
                add(name, p, *steps)
        add_any(f"rotate/{p}/30", ["F", "rotate", [30], {}])
        add_any(f"rotate/{p}/-45/bilinear", ["F", "rotate", [-45], {
            "interpolation": _i("bilinear")}])
        add_any(f"rotate/{p}/30/expand", ["F", "rotate", [30], {"expand": True}])
        add_any(f"rotate/{p}/-45/bilinear/expand/fill", ["F", "rotate", [-45], {
            "interpolation": _i("bilinear"), "expand": True, "fill": fill}])
        add_any(f"rotate/{p}/30/center/fill", ["F", "rotate", [30], {
            "center": [5, 7], "fill": fill}])
        add_any(f"rotate/{p}/90", ["F", "rotate", [90], {}])
        add_any(f"affine/{p}/nearest", ["F", "affine", [], {
            "angle": 20, "translate": [3, -2], "scale": 0.9, "shear": [10, 5]}])
        add_any(f"affine/{p}/bilinear", ["F", "affine", [], {
            "angle": 20, "translate": [3, -2], "scale": 0.9, "shear": [10, 5],
            "interpolation": _i("bilinear")}])
        add_any(f"affine/{p}/center/fill", ["F", "affine", [], {
            "angle": -30, "translate": [0, 1], "scale": 1.2, "shear": 15, "center": [4, 6],
            "fill": fill}])
        add_any(f"RandomRotation/{p}", ["T", "RandomRotation", [[30, 30]], {}])
        add_any(f"RandomAffine/{p}", ["T", "RandomAffine", [[20, 20]], {
            "scale": [0.9, 0.9], "shear": [10, 10, 5, 5]}])

    # colour
    for p in ["L", "RGB", "RGB_u8", "RGB_f", "L_u8", "L_f"]:
        def add_any(name, *steps, p=p):
            if p in tensors:
                add_t(name, p, *steps)
            else:
                add(name, p, *steps)
        for factor in [0.5, 1.7]:
            add_any(f"brightness/{p}/{factor}", ["F", "adjust_brightness", [factor], {}])
        for factor in [0.3, 1.8]:
            add_any(f"contrast/{p}/{factor}", ["F", "adjust_contrast", [factor], {}])
        for factor in [0.0, 0.4, 2.0]:
            add_any(f"saturation/{p}/{factor}", ["F", "adjust_saturation", [factor], {}])
        for factor in [-0.3, 0.1, 0.45]:
            add_any(f"hue/{p}/{factor}", ["F", "adjust_hue", [factor], {}])
        add_any(f"gamma/{p}/0.5", ["F", "adjust_gamma", [0.5], {}])
        add_any(f"gamma/{p}/2.2/gain", ["F", "adjust_gamma", [2.2, 1.1], {}])
        add_any(f"ColorJitter/{p}/contrast", ["T", "ColorJitter", [], {"contrast": [1.4, 1.4]}])
        for channels in [1, 3]:
            if p.startswith("RGB"):
                add_any(f"rgb_to_grayscale/{p}/{channels}", ["F", "rgb_to_grayscale", [], {
                    "num_output_channels": channels}])
            add_any(f"Grayscale/{p}/{channels}", ["T", "Grayscale", [channels], {}])
    add("to_grayscale/RGB/3", "RGB", ["F", "to_grayscale", [3], {}])
    add("ColorJitter/RGB/hue", "RGB", ["T", "ColorJitter", [], {"hue": [0.2, 0.2]}])
    add_t("ColorJitter/RGB_f/saturation", "RGB_f", ["T", "ColorJitter", [], {
        "saturation": [1.5, 1.5]}])

    # Compose: a typical MNIST / CIFAR pipeline
    add("Compose/digit", "digit", ["T", "Compose", [[
        ["T", "Resize", [20], {}], ["T", "ToTensor", [], {}],
        ["T", "Normalize", [(0.1307,), (0.3081,)], {}]]], {}])
    add("Compose/RGB", "RGB", ["T", "Compose", [[
        ["T", "Pad", [4], {"padding_mode": "reflect"}], ["T", "CenterCrop", [14], {}],
        ["T", "RandomHorizontalFlip", [], {"p": 1.0}], ["T", "PILToTensor", [], {}],
        ["T", "ConvertImageDtype", [_d("float32")], {}],
        ["T", "Normalize", [(0.5, 0.5, 0.5), (0.5, 0.5, 0.5)], {}]]], {}])

    # make_grid and save_image
    add("make_grid/batch/default", "batch", ["U", "make_grid", [], {}])
    add("make_grid/batch/nrow3-pad1", "batch", ["U", "make_grid", [], {"nrow": 3,
                                                                      "padding": 1}])
    add("make_grid/batch/normalize", "batch", ["U", "make_grid", [], {"normalize": True}])
    add("make_grid/batch/value_range", "batch", ["U", "make_grid", [], {
        "normalize": True, "value_range": (-0.5, 1.5), "nrow": 2}])
    add("make_grid/batch/scale_each", "batch", ["U", "make_grid", [], {
        "normalize": True, "scale_each": True, "pad_value": 0.5, "padding": 3}])
    add("make_grid/batch/scale_each-range", "batch", ["U", "make_grid", [], {
        "normalize": True, "scale_each": True, "value_range": (0.0, 1.0)}])
    add("make_grid/batch1/pad_value", "batch1", ["U", "make_grid", [], {
        "nrow": 3, "pad_value": 1.0}])
    add("make_grid/batch1/normalize", "batch1", ["U", "make_grid", [], {"normalize": True}])
    add("make_grid/batch_u8/pad", "batch_u8", ["U", "make_grid", [], {
        "nrow": 2, "pad_value": 255}])
    add("save_image/batch", "batch", ["S", "save_image", [], {"nrow": 4}])
    add("save_image/batch/normalize", "batch", ["S", "save_image", [], {"normalize": True}])
    return cases


# ----------------------------------------------------------------------------- running

def encode(value):
    """Tuples as {"tuple": [...]} so that they survive JSON (make_grid's value_range must be
    a tuple)."""
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def _decode(value, T, torch):
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(_decode(v, T, torch) for v in value["tuple"])
    if isinstance(value, dict) and set(value) == {"interp"}:
        return T.InterpolationMode(value["interp"])
    if isinstance(value, dict) and set(value) == {"dtype"}:
        return getattr(torch, value["dtype"])
    if isinstance(value, list) and value and isinstance(value[0], list) and \
            len(value[0]) == 4 and value[0][0] in ("T", "F"):
        return [_build(step, T, torch) for step in value]
    if isinstance(value, list):
        return [_decode(v, T, torch) for v in value]
    return value


def _build(step, T, torch):
    """A callable for one step."""
    import torchvision.transforms.functional as F
    import torchvision.utils as U

    namespace, name, args, kwargs = step
    args = [_decode(a, T, torch) for a in args]
    kwargs = {k: _decode(v, T, torch) for k, v in kwargs.items()}
    if namespace == "T":
        return getattr(T, name)(*args, **kwargs)
    if namespace == "F":
        return lambda img: getattr(F, name)(img, *args, **kwargs)
    if namespace == "U":
        return lambda img: getattr(U, name)(img, *args, **kwargs)
    if namespace == "S":
        def save(img):
            buffer = io.BytesIO()
            U.save_image(img, buffer, *args, format="png", **kwargs)
            return Image.open(io.BytesIO(buffer.getvalue()))
        return save
    raise ValueError(namespace)


def _result(value, torch):
    if isinstance(value, torch.Tensor):
        return value.numpy(), {"kind": "tensor", "dtype": str(value.dtype).replace("torch.",
                                                                                     ""),
                               "shape": list(value.shape)}
    if isinstance(value, Image.Image):
        return np.asarray(value).copy(), {"kind": "pil", "mode": value.mode,
                                          "size": list(value.size)}
    raise TypeError(type(value))


def _unpacked_mnist_root(data_root: pathlib.Path, tmp: pathlib.Path) -> pathlib.Path:
    """torchvision reads only the unpacked IDX files: unpack the .gz ones into ``tmp``."""
    for name in ("MNIST", "FashionMNIST"):
        raw = data_root / name / "raw"
        (tmp / name / "raw").mkdir(parents=True)
        for path in raw.iterdir():
            if path.suffix == ".gz":
                with gzip.open(path, "rb") as src, open(tmp / name / "raw" / path.stem,
                                                        "wb") as dst:
                    shutil.copyfileobj(src, dst)
        for path in raw.iterdir():  # unpacked files (where there are some) win
            if path.suffix != ".gz" and path.is_file():
                shutil.copy(path, tmp / name / "raw" / path.name)
    return tmp


def _sha256(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def main() -> None:
    import PIL
    import torch
    import torchvision
    import torchvision.transforms as T
    from torchvision import datasets

    data_root = pathlib.Path(os.environ.get("DARK_DATA") or REPO.parent / "shared" / "data")
    if not (data_root / "MNIST" / "raw").is_dir():
        sys.exit(f"MNIST files not found under {data_root} (set DARK_DATA)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tvdata"))
    try:
        root = _unpacked_mnist_root(data_root, tmp)
        summary = {"versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                                "pillow": PIL.__version__, "numpy": np.__version__}}
        for cls in (datasets.MNIST, datasets.FashionMNIST):
            for train in (True, False):
                ds = cls(str(root), train=train)
                image, target = ds[0]
                summary[f"{cls.__name__}/{'train' if train else 'test'}"] = {
                    "len": len(ds),
                    "data_shape": list(ds.data.shape), "data_dtype": str(ds.data.dtype),
                    "data_sha256": _sha256(ds.data.numpy()),
                    "targets_shape": list(ds.targets.shape),
                    "targets_dtype": str(ds.targets.dtype),
                    "targets_sha256": _sha256(ds.targets.numpy()),
                    "classes": list(ds.classes), "class_to_idx": ds.class_to_idx,
                    "item0": {"image_type": type(image).__name__, "mode": image.mode,
                              "size": list(image.size), "target_type": type(target).__name__,
                              "target": target},
                }
        digit = datasets.MNIST(str(root), train=False)[0][0]
    finally:
        shutil.rmtree(tmp)
    with open(FIXTURES / "torchvision_datasets.json", "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")

    images = make_images()
    images["digit"] = digit
    images.update({k: torch.from_numpy(v) for k, v in make_batches().items()})
    arrays = {f"in/{k}": (np.asarray(v) if isinstance(v, Image.Image) else v.numpy())
              for k, v in images.items() if k != "digit"}
    cases = json.loads(json.dumps(encode(build_cases())))
    meta = {"versions": summary["versions"], "digit_sha256": _sha256(np.asarray(digit)),
            "cases": cases, "results": {}}
    packed = {}  # dtype -> list of flat outputs: one array per dtype compresses far better
    for name, source, steps in cases:
        value = images[source]
        for step in steps:
            value = _build(step, T, torch)(value)
        array, info = _result(value, torch)
        chunks = packed.setdefault(array.dtype.name, [])
        info.update(array_dtype=array.dtype.name, array_shape=list(array.shape),
                    offset=sum(c.size for c in chunks))
        chunks.append(array.ravel())
        meta["results"][name] = info
    arrays.update({f"out/{k}": np.concatenate(v) for k, v in packed.items()})
    arrays["spec"] = np.array(json.dumps(meta))
    np.savez_compressed(FIXTURES / "torchvision_transforms.npz", **arrays)
    print(f"{len(cases)} cases -> {FIXTURES / 'torchvision_transforms.npz'} "
          f"({(FIXTURES / 'torchvision_transforms.npz').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
