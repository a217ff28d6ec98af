"""Write the fixtures of tests/test_datasets_torchvision.py and tests/test_data_utils_draw.py:
small files in torchvision's on-disk layouts and what torchvision 0.29 returns on them.

    /work/venv-tv/bin/python scripts/make_torchvision_datasets_fixture.py

needs torch, torchvision and scipy (scipy.io writes the SVHN .mat files). Writes

- tests/fixtures/torchvision_datasets_extra.npz: ``meta`` (a JSON string: the expected
  classes, samples, targets, lengths and error messages), ``file:<path>`` (the bytes of each
  file, to be written under a test's tmp_path) and ``<case>:<name>`` arrays (images and
  targets as torchvision returns them);
- tests/fixtures/torchvision_draw.npz: inputs and outputs of draw_bounding_boxes and
  draw_segmentation_masks, ``meta`` holding each case's arguments and expected errors.

The data are synthetic (a seeded numpy generator, few values so that the files compress);
no real data set is written. Paths inside messages are written with the root as ``{root}``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import PIL
import scipy.io
import torch
import torchvision
from PIL import Image
from torchvision import datasets
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
rng = np.random.default_rng(20261207)


def low_entropy(shape, dtype=np.uint8):
    """Values from a palette of four, so that the npz compresses."""
    return (rng.integers(0, 4, shape) * 85).astype(dtype)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX (SN3 Pascal Vincent) file: magic 0 0 <type> <ndim>, big-endian dims, data."""
    code = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def error_of(fn, root):
    try:
        fn()
    except Exception as error:  # noqa: BLE001 - recorded as the expected error
        message = str(error)
        return [type(error).__name__, message.replace(root, "{root}") if root else message]
    raise AssertionError("no error raised")


def pil_array(img):
    return np.asarray(img).copy()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def datasets_fixture():
    meta: dict = {"torchvision": torchvision.__version__, "pillow": PIL.__version__}
    arrays: dict = {}
    files: dict[str, bytes] = {}

    # ------------------------------------------------------------------ FakeData
    fake = []
    for kwargs in [dict(size=3, image_size=(3, 9, 7), num_classes=5),
                   dict(size=2, image_size=(1, 6, 5), num_classes=3, random_offset=11),
                   dict(size=1000)]:
        ds = datasets.FakeData(**kwargs)
        case = {"kwargs": kwargs, "len": len(ds), "items": []}
        for index in sorted({0, 1, len(ds) - 1}):
            img, target = ds[index]
            key = f"fake{len(fake)}:{index}"
            if kwargs.get("size") == 1000:   # 224x224 noise does not compress: its digest
                case["items"].append([index, img.mode, target,
                                      hashlib.sha256(np.asarray(img).tobytes()).hexdigest()])
            else:
                arrays[key] = pil_array(img)
                case["items"].append([index, img.mode, target, key])
        case["index_error"] = error_of(lambda ds=ds: ds[len(ds)], "")
        fake.append(case)
    meta["fakedata"] = fake

    # ------------------------------------------------------------------ folders
    def png(array, fmt="PNG"):
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format=fmt)
        return buf.getvalue()

    folder_files = {
        "folder/cat/a.png": png(low_entropy((4, 5, 3))),
        "folder/cat/sub/deep/b.PNG": png(low_entropy((3, 2, 4))),         # RGBA
        "folder/cat/notes.txt": b"not an image\n",
        "folder/dog/c.bmp": png(low_entropy((5, 3)), "BMP"),              # L
        "folder/dog/d.ppm": png(low_entropy((2, 6, 3)), "PPM"),
        "folder/bird/e.tiff": png(low_entropy((3, 3, 3)), "TIFF"),
        "folder_empty/a/x.png": png(low_entropy((2, 2, 3))),
        "folder_noclass/readme.txt": b"no class folders here\n",
    }
    files.update(folder_files)
    dirs = ["folder_empty/b"]
    meta["dirs"] = dirs
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in files.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "wb") as f:
                f.write(data)
        for rel in dirs:
            os.makedirs(os.path.join(tmp, rel), exist_ok=True)
        folder = os.path.join(tmp, "folder")

        def rel_samples(samples):
            return [[os.path.relpath(p, tmp), t] for p, t in samples]

        ds = datasets.ImageFolder(folder)
        imgs = []
        for i in range(len(ds)):
            img, target = ds[i]
            arrays[f"imagefolder:{i}"] = pil_array(img)
            imgs.append([img.mode, target])
        meta["imagefolder"] = {"classes": ds.classes, "class_to_idx": ds.class_to_idx,
                               "samples": rel_samples(ds.samples),
                               "imgs": rel_samples(ds.imgs), "targets": ds.targets,
                               "items": imgs, "repr": repr(ds).replace(tmp, "{tmp}")}

        def read_bytes(path):
            with open(path, "rb") as f:
                return f.read()

        checks = {}
        valid = datasets.DatasetFolder(
            folder, read_bytes, is_valid_file=lambda p: p.endswith((".ppm", "a.png", ".tiff")))
        checks["is_valid_file"] = {"samples": rel_samples(valid.samples),
                                   "classes": valid.classes, "targets": valid.targets}
        checks["allow_empty"] = {"samples": rel_samples(datasets.DatasetFolder(
            folder, read_bytes, extensions=(".txt",), allow_empty=True).samples)}
        checks["empty_imagefolder"] = {"samples": rel_samples(datasets.ImageFolder(
            os.path.join(tmp, "folder_empty"), allow_empty=True).samples)}
        checks["find_classes"] = list(datasets.folder.find_classes(folder))
        checks["make_dataset"] = rel_samples(datasets.folder.make_dataset(
            folder, {"dog": 0, "cat": 7, "zebra": 3}, extensions=".bmp", allow_empty=True))
        errors = {
            "no_valid_tuple": lambda: datasets.DatasetFolder(folder, read_bytes,
                                                             extensions=(".txt", ".md")),
            "no_valid_str": lambda: datasets.DatasetFolder(folder, read_bytes, extensions=".txt"),
            "both": lambda: datasets.DatasetFolder(folder, read_bytes, extensions=(".png",),
                                                   is_valid_file=lambda p: True),
            "neither": lambda: datasets.DatasetFolder(folder, read_bytes),
            "empty_class": lambda: datasets.ImageFolder(os.path.join(tmp, "folder_empty")),
            "no_class": lambda: datasets.ImageFolder(os.path.join(tmp, "folder_noclass")),
            "empty_class_to_idx": lambda: datasets.folder.make_dataset(folder, {}, (".png",)),
            "class_to_idx_none": lambda: datasets.DatasetFolder.make_dataset(folder, None,
                                                                             (".png",)),
        }
        checks["errors"] = {name: error_of(fn, tmp) for name, fn in errors.items()}
        meta["folder_checks"] = checks

    # ------------------------------------------------------------------ EMNIST, QMNIST
    emnist_cases = [("letters", True, 4, np.arange(1, 27)), ("balanced", False, 3, np.arange(47)),
                    ("digits", True, 2, np.arange(10))]
    for split, train, n, label_range in emnist_cases:
        prefix = f"EMNIST/raw/emnist-{split}-{'train' if train else 'test'}"
        files[f"{prefix}-images-idx3-ubyte"] = idx_bytes(low_entropy((n, 28, 28)))
        files[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(
            rng.choice(label_range, n).astype(np.uint8))
    qmnist = {"train": (3, (28, 28)), "test": (10003, (2, 3)), "xnist": (2, (28, 28))}
    for name, (n, hw) in qmnist.items():
        stem = name if name == "xnist" else f"qmnist-{name}"
        files[f"QMNIST/raw/{stem}-images-idx3-ubyte"] = idx_bytes(low_entropy((n, *hw)))
        labels = np.stack([rng.integers(0, 10, n), rng.integers(0, 4, n),
                           rng.integers(0, 3000, n), rng.integers(0, 120, n),
                           np.arange(n), np.zeros(n), rng.integers(0, 3, n),
                           rng.integers(0, 2, n)], 1).astype(np.int32)
        files[f"QMNIST/raw/{stem}-labels-idx2-int"] = idx_bytes(labels)

    # ------------------------------------------------------------------ SVHN, STL10
    for split, n, compress, ydtype in [("train", 3, True, np.uint8),
                                       ("test", 2, False, np.float64)]:
        buf = io.BytesIO()
        y = rng.integers(1, 11, (n, 1)).astype(ydtype)
        y[0, 0] = 10
        scipy.io.savemat(buf, {"X": low_entropy((32, 32, 3, n)), "y": y},
                         do_compression=compress)
        files[f"svhn/{split}_32x32.mat"] = buf.getvalue()
    stl = {"train_X.bin": low_entropy((4, 3, 96, 96)).tobytes(),
           "train_y.bin": np.array([3, 10, 1, 7], np.uint8).tobytes(),
           "unlabeled_X.bin": low_entropy((2, 3, 96, 96)).tobytes(),
           "test_X.bin": low_entropy((2, 3, 96, 96)).tobytes(),
           "test_y.bin": np.array([2, 9], np.uint8).tobytes(),
           "class_names.txt": b"airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n",
           "fold_indices.txt": b"".join(
               (" ".join(str(i) for i in rng.permutation(4)[: 1 + k % 3]) + " \n").encode()
               for k in range(10))}
    for name, data in stl.items():
        files[f"stl/stl10_binary/{name}"] = data
    meta["svhn_md5"] = {s: md5(files[f"svhn/{s}_32x32.mat"]) for s in ("train", "test")}
    meta["stl10_md5"] = {name: md5(data) for name, data in stl.items()}

    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in files.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "wb") as f:
                f.write(data)

        def record(key, ds, indices, target_repr=lambda t: t):
            out = {"len": len(ds), "items": []}
            for i in indices:
                img, target = ds[i]
                arrays[f"{key}:{i}"] = pil_array(img)
                if isinstance(target, torch.Tensor):
                    target = target.tolist()
                out["items"].append([i, img.mode, img.size, target])
            return out

        em = {}
        for split, train, n, _ in emnist_cases:
            ds = datasets.EMNIST(tmp, split, train=train)
            key = f"emnist_{split}_{train}"
            em[key] = record(key, ds, range(n))
            em[key].update(classes=ds.classes, class_to_idx=ds.class_to_idx,
                           targets_dtype=str(ds.targets.dtype), data_dtype=str(ds.data.dtype),
                           data_shape=list(ds.data.shape), extra_repr=ds.extra_repr())
            arrays[f"{key}:data"] = ds.data.numpy()
            arrays[f"{key}:targets"] = ds.targets.numpy()
        em["bad_split"] = error_of(lambda: datasets.EMNIST(tmp, "byletter"), tmp)
        em["missing"] = error_of(lambda: datasets.EMNIST(tmp, "mnist"), tmp)
        meta["emnist"] = em

        qm = {}
        for what, compat, train in [("train", True, True), ("train", False, True),
                                    (None, True, False), ("test10k", True, True),
                                    ("test50k", False, True), ("nist", True, True)]:
            ds = datasets.QMNIST(tmp, what=what, compat=compat, train=train)
            key = f"qmnist_{what}_{compat}_{train}"
            picks = sorted({0, 1, len(ds) - 1})
            qm[key] = record(key, ds, picks)
            qm[key].update(what=what, compat=compat, train=train, data_shape=list(ds.data.shape),
                           targets_shape=list(ds.targets.shape),
                           targets_dtype=str(ds.targets.dtype), extra_repr=ds.extra_repr())
            arrays[f"{key}:targets_picked"] = ds.targets[picks].numpy()
            arrays[f"{key}:data_picked"] = ds.data[picks].numpy()
        qm["bad_what"] = error_of(lambda: datasets.QMNIST(tmp, what="test20k"), tmp)
        meta["qmnist"] = qm

        sv = {}
        for split in ("train", "test"):
            item = datasets.SVHN.split_list[split]
            item[2] = meta["svhn_md5"][split]
            ds = datasets.SVHN(os.path.join(tmp, "svhn"), split=split)
            key = f"svhn_{split}"
            sv[key] = record(key, ds, range(len(ds)))
            sv[key]["labels_dtype"] = str(ds.labels.dtype)
            arrays[f"{key}:data"] = ds.data
            arrays[f"{key}:labels"] = ds.labels
        sv["bad_split"] = error_of(lambda: datasets.SVHN(tmp, split="valid"), tmp)
        sv["missing"] = error_of(lambda: datasets.SVHN(os.path.join(tmp, "svhn"),
                                                       split="extra"), tmp)
        meta["svhn"] = sv

        datasets.STL10.train_list = [[n, meta["stl10_md5"][n]] for n, _ in
                                     datasets.STL10.train_list]
        datasets.STL10.test_list = [[n, meta["stl10_md5"][n]] for n, _ in
                                    datasets.STL10.test_list]
        st = {}
        for split, folds in [("train", None), ("train", 1), ("train+unlabeled", 2),
                             ("unlabeled", None), ("test", None), ("test", 4)]:
            ds = datasets.STL10(os.path.join(tmp, "stl"), split=split, folds=folds)
            key = f"stl10_{split}_{folds}"
            st[key] = record(key, ds, range(len(ds)))
            st[key].update(split=split, folds=folds, classes=getattr(ds, "classes", None),
                           labels_dtype=str(ds.labels.dtype), extra_repr=ds.extra_repr())
            arrays[f"{key}:data"] = ds.data
            arrays[f"{key}:labels"] = ds.labels
        st["bad_folds"] = error_of(lambda: datasets.STL10(os.path.join(tmp, "stl"), folds=10),
                                   tmp)
        st["bad_folds_type"] = error_of(
            lambda: datasets.STL10(os.path.join(tmp, "stl"), folds="1"), tmp)
        st["bad_split"] = error_of(lambda: datasets.STL10(os.path.join(tmp, "stl"),
                                                          split="val"), tmp)
        st["missing"] = error_of(lambda: datasets.STL10(tmp), tmp)
        meta["stl10"] = st

    out = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    out.update({f"file:{rel}": np.frombuffer(data, np.uint8) for rel, data in files.items()})
    out.update(arrays)
    path = os.path.join(FIXTURES, "torchvision_datasets_extra.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes")


def draw_fixture():
    meta: dict = {"torchvision": torchvision.__version__, "pillow": PIL.__version__}
    arrays: dict = {}
    image = torch.from_numpy(rng.integers(0, 256, (3, 40, 50)).astype(np.uint8))
    gray = torch.from_numpy(rng.integers(0, 256, (1, 40, 50)).astype(np.uint8))
    floats = torch.from_numpy(rng.random((3, 40, 50)).astype(np.float32))
    arrays["image"], arrays["gray"], arrays["floats"] = image.numpy(), gray.numpy(), floats.numpy()
    boxes = [[2, 3, 20, 25], [10.7, 5.2, 45.9, 35.5], [0, 0, 49, 39]]
    oriented = [[5, 5, 30, 8, 28, 30, 3, 27], [20, 10, 45, 12, 44, 35, 19, 33]]
    box_cases = {
        "plain": dict(image="image", boxes=boxes),
        "fill_width_colors": dict(image="image", boxes=boxes, fill=True, width=3,
                                  colors=["red", [0, 255, 0], "#0000FF"]),
        "one_color": dict(image="image", boxes=boxes, colors="yellow", width=2),
        "tuple_color": dict(image="gray", boxes=boxes[:2], colors=[200, 100, 50]),
        "labels": dict(image="image", boxes=boxes, labels=["cat", "dog", "x"]),
        "labels_colors": dict(image="image", boxes=boxes, labels=["cat", "dog", "x"],
                              label_colors="white", colors=["red", "blue", "green"]),
        "fill_labels": dict(image="image", boxes=boxes, labels=["cat", "dog", "x"],
                            fill_labels=True, label_background_colors=["black", "navy", "red"]),
        "fill_labels_default": dict(image="image", boxes=boxes, labels=["cat", "dog", "x"],
                                    fill_labels=True),
        "float": dict(image="floats", boxes=boxes, width=2, fill=True),
        "oriented": dict(image="image", boxes=oriented, colors=["red", "blue"], width=2),
        "oriented_fill": dict(image="image", boxes=oriented, fill=True),
    }
    box_errors = {
        "xmin_gt_xmax": dict(image="image", boxes=[[30, 3, 20, 25]]),
        "labels_mismatch": dict(image="image", boxes=boxes, labels=["a"]),
        "few_colors": dict(image="image", boxes=boxes, colors=["red"]),
        "bad_tuple": dict(image="image", boxes=boxes, colors=[1, 2]),
        "bad_colors": dict(image="image", boxes=boxes, colors=5),
    }

    def box_args(case):
        kw = dict(case)
        img = {"image": image, "gray": gray, "floats": floats}[kw.pop("image")]
        kw["boxes"] = torch.tensor(kw["boxes"], dtype=torch.float32)
        for name in ("colors", "label_colors"):
            if isinstance(kw.get(name), list) and kw[name] and isinstance(kw[name][0], int):
                kw[name] = tuple(kw[name])
            elif isinstance(kw.get(name), list):
                kw[name] = [tuple(c) if isinstance(c, list) else c for c in kw[name]]
        return img, kw

    for name, case in box_cases.items():
        img, kw = box_args(case)
        arrays[f"boxes:{name}"] = draw_bounding_boxes(img, **kw).numpy()
    meta["box_cases"] = box_cases
    meta["box_errors"] = {name: [case, error_of(lambda c=case: draw_bounding_boxes(
        box_args(c)[0], **box_args(c)[1]), "")] for name, case in box_errors.items()}
    meta["box_errors"]["int32_image"] = [None, error_of(lambda: draw_bounding_boxes(
        image.int(), torch.tensor(boxes)), "")]
    meta["box_errors"]["batch"] = [None, error_of(lambda: draw_bounding_boxes(
        image[None], torch.tensor(boxes)), "")]
    meta["box_errors"]["two_channels"] = [None, error_of(lambda: draw_bounding_boxes(
        image[:2], torch.tensor(boxes)), "")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw_bounding_boxes(image, torch.zeros((0, 4)))
        draw_bounding_boxes(image, torch.tensor(boxes), font_size=12)
    meta["box_warnings"] = [str(w.message) for w in caught]

    masks = torch.from_numpy(rng.random((3, 40, 50)) < 0.3)
    arrays["masks"] = masks.numpy()
    mask_cases = {
        "default": dict(image="image", alpha=0.8),
        "colors_half": dict(image="image", alpha=0.5, colors=["red", "blue", [1, 2, 3]]),
        "single_2d": dict(image="image", mask=0, alpha=0.3, colors="green"),
        "float": dict(image="floats", alpha=0.6, colors=["red", "#10F0A0", "white"]),
        "alpha_one": dict(image="image", alpha=1.0),
    }

    def mask_args(case):
        kw = dict(case)
        img = {"image": image, "floats": floats}[kw.pop("image")]
        m = masks[kw.pop("mask")] if "mask" in kw else masks
        if isinstance(kw.get("colors"), list):
            kw["colors"] = [tuple(c) if isinstance(c, list) else c for c in kw["colors"]]
        return img, m, kw

    for name, case in mask_cases.items():
        img, m, kw = mask_args(case)
        arrays[f"masks:{name}"] = draw_segmentation_masks(img, m, **kw).numpy()
    meta["mask_cases"] = mask_cases
    meta["mask_errors"] = {
        "not_bool": error_of(lambda: draw_segmentation_masks(image, masks.int()), ""),
        "shape": error_of(lambda: draw_segmentation_masks(image, masks[:, :30]), ""),
        "gray": error_of(lambda: draw_segmentation_masks(gray, masks), ""),
        "ndim": error_of(lambda: draw_segmentation_masks(image, masks[None]), ""),
        "batch": error_of(lambda: draw_segmentation_masks(image[None], masks), ""),
        "int32": error_of(lambda: draw_segmentation_masks(image.int(), masks), ""),
        "few_colors": error_of(lambda: draw_segmentation_masks(image, masks, colors=["red"]),
                               ""),
    }
    out = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    out.update(arrays)
    path = os.path.join(FIXTURES, "torchvision_draw.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes")


V2_DETERMINISTIC = [
    ("v2.Compose([v2.ToImage(), v2.ToDtype(DT.float32, scale=True)])", ["pil", "pair", "dict"]),
    ("v2.ToImage()", ["pil", "ndarray", "gray_ndarray", "tensor_u8"]),
    ("v2.ToDtype(DT.uint8, scale=True)", ["tensor_f32"]),
    ("v2.ToDtype(DT.float64)", ["tensor_u8"]),
    ("v2.ToDtype(DT.float32, scale=True)", ["tensor_u8", "two_tensors"]),
    ("v2.ToDtype(DT.int32, scale=True)", ["tensor_u8"]),
    ("v2.ToDtype(DT.uint8, scale=True)", ["pair_pil_tensor"]),
    ("v2.ConvertImageDtype(DT.float32)", ["tensor_u8"]),
    ("v2.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.3])", ["tensor_f32", "pair_f32"]),
    ("v2.Resize(10)", ["pil", "tensor_u8", "tensor_f32", "pair"]),
    ("v2.Resize((7, 9))", ["pil", "tensor_u8"]),
    ("v2.CenterCrop(9)", ["pil", "tensor_u8"]),
    ("v2.Pad(2, fill=7)", ["pil", "tensor_u8"]),
    ("v2.Grayscale(3)", ["pil", "tensor_u8"]),
    ("v2.RGB()", ["gray_pil", "gray_tensor", "pil"]),
    ("v2.PILToTensor()", ["pil", "pair"]),
    ("v2.ToPILImage()", ["tensor_u8", "ndarray"]),
    ("v2.ToTensor()", ["pil", "ndarray"]),
    ("v2.Lambda(lambda x: x * 2 if isinstance(x, int) else x)", ["pair"]),
    ("v2.Lambda(lambda x: x + 1, int)", ["pair", "dict"]),
    ("v2.Identity()", ["pair", "tensor_u8"]),
    ("v2.ToPureTensor()", ["tensor_u8"]),
    ("v2.Compose([v2.CenterCrop(12), v2.Resize(6), v2.PILToTensor()])", ["pil", "pair"]),
]
V2_RANDOM = [
    ("v2.RandomResizedCrop(8)", ["pil", "tensor_u8", "pair", "two_pils"]),
    ("v2.RandomResizedCrop((6, 9), scale=(0.3, 0.9), antialias=True)", ["tensor_f32"]),
    ("v2.RandomHorizontalFlip()", ["pil", "tensor_u8", "pair"]),
    ("v2.RandomVerticalFlip(p=0.7)", ["pil", "tensor_u8"]),
    ("v2.RandomCrop(10, padding=2)", ["pil", "tensor_u8"]),
    ("v2.RandomCrop(22, pad_if_needed=True)", ["pil"]),
    ("v2.RandomRotation(30)", ["pil", "tensor_u8"]),
    ("v2.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)", ["pil", "tensor_u8"]),
    ("v2.ColorJitter(0.4, 0.4, 0.4, 0.1)", ["pil", "tensor_u8"]),
    ("v2.RandomGrayscale(0.5)", ["pil", "tensor_u8"]),
    ("v2.GaussianBlur(3, sigma=(0.1, 2.0))", ["pil", "tensor_f32"]),
    ("v2.RandomPerspective(0.5, p=1.0)", ["pil", "tensor_u8"]),
    ("v2.RandomErasing(p=1.0)", ["tensor_f32"]),
    ("v2.RandomErasing(p=0.5, value='random')", ["tensor_f32"]),
    ("v2.RandomInvert(0.5)", ["pil", "tensor_u8"]),
    ("v2.RandomPosterize(4, 0.5)", ["pil", "tensor_u8"]),
    ("v2.RandomSolarize(128, 0.5)", ["pil", "tensor_u8"]),
    ("v2.RandomAutocontrast(0.5)", ["pil", "tensor_u8"]),
    ("v2.RandomEqualize(0.5)", ["pil", "tensor_u8"]),
    ("v2.RandomAdjustSharpness(2, 0.5)", ["pil", "tensor_u8"]),
    ("v2.AutoAugment()", ["pil", "tensor_u8"]),
    ("v2.RandAugment()", ["pil", "tensor_u8"]),
    ("v2.TrivialAugmentWide()", ["pil", "tensor_u8"]),
    ("v2.RandomApply([v2.ColorJitter(0.5)], p=0.5)", ["pil", "pair"]),
    ("v2.RandomChoice([v2.RandomHorizontalFlip(1.0), v2.Grayscale(3), v2.CenterCrop(6)])",
     ["pil", "tensor_u8"]),
    ("v2.RandomChoice([v2.Grayscale(3), v2.CenterCrop(6)], p=[0.2, 0.8])", ["pil"]),
    ("v2.RandomOrder([v2.CenterCrop(12), v2.Resize(9), v2.RandomHorizontalFlip(0.5)])",
     ["pil", "tensor_u8"]),
    ("v2.GaussianNoise()", ["tensor_f32"]),
    ("v2.AugMix()", ["tensor_u8", "pil"]),
    ("v2.AugMix(severity=5, mixture_width=2, chain_depth=2, alpha=0.5, all_ops=False)",
     ["tensor_u8"]),
    ("v2.MixUp(num_classes=5)", ["batch"]),
    ("v2.MixUp(alpha=0.4, num_classes=5)", ["batch", "batch_2d"]),
    ("v2.CutMix(num_classes=5)", ["batch"]),
    ("v2.CutMix(alpha=2.0)", ["batch_2d"]),
    ("v2.RandomChoice([v2.CutMix(num_classes=5), v2.MixUp(num_classes=5)])", ["batch"]),
    ("v2.GaussianNoise(0.1, 0.2, clip=False)", ["tensor_f32", "tensor_u8"]),
    ("v2.Compose([v2.RandomResizedCrop(8), v2.RandomHorizontalFlip(), v2.ToImage(), "
     "v2.ToDtype(DT.float32, scale=True), v2.Normalize([0.5] * 3, [0.25] * 3)])", ["pil", "pair"]),
]
V2_SEEDS = range(4)
PAIRED_INPUTS = ("two_tensors", "two_pils", "pair_pil_tensor", "batch", "batch_2d")


def v2_inputs(module):
    """The inputs of the v2 cases, built from the same arrays for torchvision and dark."""
    local = np.random.default_rng(7)
    rgb = local.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    rgb2 = local.integers(0, 256, (20, 24, 3)).astype(np.uint8)
    gray = local.integers(0, 256, (20, 24)).astype(np.uint8)
    floats = local.random((3, 20, 24)).astype(np.float32)
    batch = local.random((4, 3, 6, 8)).astype(np.float32)
    batch_labels = np.array([3, 0, 4, 4])
    soft_labels = local.random((4, 5)).astype(np.float32)
    tensor = module.tensor
    u8 = tensor(rgb.transpose(2, 0, 1).copy())
    return {
        "pil": lambda: Image.fromarray(rgb),
        "gray_pil": lambda: Image.fromarray(gray),
        "ndarray": lambda: rgb.copy(),
        "gray_ndarray": lambda: gray.copy(),
        "tensor_u8": lambda: u8.clone(),
        "gray_tensor": lambda: tensor(gray[None].copy()),
        "tensor_f32": lambda: tensor(floats),
        "pair": lambda: (Image.fromarray(rgb), 3),
        "pair_f32": lambda: (tensor(floats), 3),
        "pair_pil_tensor": lambda: (Image.fromarray(rgb), tensor(floats)),
        "dict": lambda: {"image": Image.fromarray(rgb), "label": 3, "name": "x"},
        "two_tensors": lambda: (u8.clone(), u8.clone() + 1),
        "two_pils": lambda: (Image.fromarray(rgb), Image.fromarray(rgb2)),
        "batch": lambda: (tensor(batch), tensor(batch_labels)),
        "batch_2d": lambda: (tensor(batch), tensor(soft_labels)),
    }


def v2_encode(value, arrays, key):
    """A JSON tree of ``value``: PIL images and tensors stored in ``arrays`` under key."""
    if isinstance(value, Image.Image):
        arrays[key] = np.asarray(value).copy()
        return {"pil": key, "mode": value.mode}
    if isinstance(value, torch.Tensor):
        arrays[key] = value.numpy().copy()
        return {"tensor": key, "dtype": str(value.dtype).replace("torch.", ""),
                "type": type(value).__name__}
    if isinstance(value, np.ndarray):
        arrays[key] = value.copy()
        return {"ndarray": key}
    if isinstance(value, (tuple, list)):
        return {"seq": type(value).__name__,
                "items": [v2_encode(v, arrays, f"{key}.{i}") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return {"dict": {k: v2_encode(v, arrays, f"{key}.{k}") for k, v in value.items()}}
    return {"value": value}


def v2_fixture():
    from torchvision.transforms import v2

    meta: dict = {"torchvision": torchvision.__version__, "pillow": PIL.__version__,
                  "cases": []}
    arrays: dict = {}
    inputs = v2_inputs(torch)
    namespace = {"v2": v2, "DT": torch}
    for spec, names in V2_DETERMINISTIC + V2_RANDOM:
        seeds = V2_SEEDS if (spec, names) in V2_RANDOM else [0]
        for name in names:
            for seed in seeds:
                key = f"{len(meta['cases'])}"
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    transform = eval(spec, namespace)  # noqa: S307 - the specs above
                    torch.manual_seed(seed)
                    sample = inputs[name]()
                    out = transform(*sample) if name in PAIRED_INPUTS else transform(sample)
                    after = torch.rand(1).item()
                meta["cases"].append({"spec": spec, "input": name, "seed": seed,
                                      "output": v2_encode(out, arrays, key), "rand_after": after,
                                      "warnings": [str(w.message) for w in caught]})
    out = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    out.update(arrays)
    path = os.path.join(FIXTURES, "torchvision_v2.npz")
    np.savez_compressed(path, **out)
    print(path, os.path.getsize(path), "bytes,", len(meta["cases"]), "cases")


if __name__ == "__main__":
    print(sys.version.split()[0], "torch", torch.__version__, "torchvision",
          torchvision.__version__, "pillow", PIL.__version__)
    datasets_fixture()
    draw_fixture()
    v2_fixture()
