"""dark.data.datasets' FakeData, DatasetFolder, ImageFolder, EMNIST, QMNIST, SVHN and STL10
against torchvision 0.29.

tests/fixtures/torchvision_datasets_extra.npz (scripts/make_torchvision_datasets_fixture.py)
holds small synthetic files in torchvision's on-disk layouts (IDX files, MATLAB .mat files,
STL10's .bin files, image folders) and what torchvision returned on them: the images,
targets, lengths, classes and error messages. The files are written under a temporary
folder and read with dark. Downloads go to the local HTTP server of conftest.
"""
import functools
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from harness import closed_port_url
from PIL import Image

import dark
from dark.data import datasets
from dark.data.datasets import EMNIST, QMNIST, STL10, SVHN, DatasetFolder, FakeData, ImageFolder
from dark.data.datasets import folder as folder_module
from dark.data.datasets._matfile import loadmat

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torchvision_datasets_extra.npz")


@functools.cache
def fixture():
    with np.load(FIXTURE) as z:
        arrays = {name: z[name] for name in z.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def meta(*keys):
    value = fixture()[0]
    for key in keys:
        value = value[key]
    return value


def array(key):
    return fixture()[1][key]


def file_bytes(rel):
    return array(f"file:{rel}").tobytes()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A folder holding every fixture file at its relative path."""
    top = tmp_path_factory.mktemp("tv")
    for name in fixture()[1]:
        if name.startswith("file:"):
            path = top / name[len("file:"):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file_bytes(name[len("file:"):]))
    for rel in meta("dirs"):
        (top / rel).mkdir(parents=True, exist_ok=True)
    return str(top)


@pytest.fixture(autouse=True)
def no_dark_data(monkeypatch):
    monkeypatch.delenv("DARK_DATA", raising=False)


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def check_items(ds, expected, key):
    """Each ``[index, mode, size, target]`` of ``expected`` against ``ds[index]``, the image
    pixel for pixel against the array ``<key>:<index>``."""
    assert len(ds) == expected["len"]
    for index, mode, size, target in expected["items"]:
        img, got = ds[index]
        assert isinstance(img, Image.Image) and img.mode == mode and list(img.size) == size
        np.testing.assert_array_equal(np.asarray(img), array(f"{key}:{index}"))
        if isinstance(got, dark.Tensor):
            assert got.dtype == dark.int64
            got = got.tolist()
        assert got == target and type(got) is type(target)


def check_error(error, expected, root=None):
    kind, message = expected
    assert type(error.value).__name__ == kind
    assert str(error.value) == (message.replace("{root}", root) if root else message)


# ------------------------------------------------------------------------------ FakeData

@pytest.mark.parametrize("case", range(3))
def test_fakedata_equals_torchvision(case):
    expected = meta("fakedata", case)
    ds = FakeData(**expected["kwargs"])
    assert len(ds) == expected["len"]
    for index, mode, target, key in expected["items"]:
        img, got = ds[index]
        assert img.mode == mode and got == target and type(got) is int
        pixels = np.asarray(img)
        if key.startswith("fake"):
            np.testing.assert_array_equal(pixels, array(key))
        else:
            assert hashlib.sha256(pixels.tobytes()).hexdigest() == key
    with pytest.raises(IndexError) as error:
        ds[len(ds)]
    check_error(error, expected["index_error"])


def test_fakedata_restores_the_generator_and_applies_transforms():
    dark.manual_seed(123)
    before = dark.rand(4)
    dark.manual_seed(123)
    ds = FakeData(size=4, image_size=(3, 5, 6), num_classes=3)
    first = ds[2]
    after = dark.rand(4)
    np.testing.assert_array_equal(after.numpy(), before.numpy())
    again = ds[2]
    np.testing.assert_array_equal(np.asarray(again[0]), np.asarray(first[0]))
    assert again[1] == first[1]
    # random_offset shifts the seed: item i with offset k is item i + k without.
    shifted = FakeData(size=4, image_size=(3, 5, 6), num_classes=3, random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[1][0]), np.asarray(ds[2][0]))
    # target_transform gets the 0-d int64 tensor; the item's target is its .item()
    seen = []
    ds = FakeData(size=4, image_size=(3, 5, 6), num_classes=3,
                  transform=lambda im: np.asarray(im).shape,
                  target_transform=lambda t: seen.append(t) or t + 10)
    image, target = ds[2]
    assert image == (5, 6, 3)
    assert isinstance(seen[0], dark.Tensor) and seen[0].ndim == 0
    assert seen[0].dtype == dark.int64 and target == first[1] + 10


# ------------------------------------------------------------------------------ folders

def relative(samples, root):
    return [[os.path.relpath(path, root), target] for path, target in samples]


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_imagefolder_equals_torchvision(root):
    expected = meta("imagefolder")
    ds = ImageFolder(os.path.join(root, "folder"))
    assert ds.classes == expected["classes"] and ds.class_to_idx == expected["class_to_idx"]
    assert relative(ds.samples, root) == expected["samples"]
    assert relative(ds.imgs, root) == expected["imgs"] and ds.imgs is ds.samples
    assert ds.targets == expected["targets"] and ds.extensions == folder_module.IMG_EXTENSIONS
    for i, (mode, target) in enumerate(expected["items"]):
        img, got = ds[i]
        assert img.mode == mode and got == target
        np.testing.assert_array_equal(np.asarray(img), array(f"imagefolder:{i}"))
    assert repr(ds) == expected["repr"].replace("{tmp}", root)


def test_datasetfolder_options_equal_torchvision(root):
    expected = meta("folder_checks")
    folder = os.path.join(root, "folder")
    ds = DatasetFolder(folder, read_bytes,
                       is_valid_file=lambda p: p.endswith((".ppm", "a.png", ".tiff")))
    assert relative(ds.samples, root) == expected["is_valid_file"]["samples"]
    assert ds.classes == expected["is_valid_file"]["classes"]
    assert ds.targets == expected["is_valid_file"]["targets"]
    sample, target = ds[1]
    assert sample == file_bytes("folder/cat/a.png") and target == 1
    ds = DatasetFolder(folder, read_bytes, extensions=(".txt",), allow_empty=True)
    assert relative(ds.samples, root) == expected["allow_empty"]["samples"]
    ds = ImageFolder(os.path.join(root, "folder_empty"), allow_empty=True)
    assert relative(ds.samples, root) == expected["empty_imagefolder"]["samples"]
    assert ds.classes == ["a", "b"]
    assert [*folder_module.find_classes(folder)] == expected["find_classes"]
    assert relative(folder_module.make_dataset(
        folder, {"dog": 0, "cat": 7, "zebra": 3}, extensions=".bmp", allow_empty=True),
        root) == expected["make_dataset"]


FOLDER_ERRORS = {
    "no_valid_tuple": lambda r: DatasetFolder(os.path.join(r, "folder"), read_bytes,
                                              extensions=(".txt", ".md")),
    "no_valid_str": lambda r: DatasetFolder(os.path.join(r, "folder"), read_bytes,
                                            extensions=".txt"),
    "both": lambda r: DatasetFolder(os.path.join(r, "folder"), read_bytes,
                                    extensions=(".png",), is_valid_file=lambda p: True),
    "neither": lambda r: DatasetFolder(os.path.join(r, "folder"), read_bytes),
    "empty_class": lambda r: ImageFolder(os.path.join(r, "folder_empty")),
    "no_class": lambda r: ImageFolder(os.path.join(r, "folder_noclass")),
    "empty_class_to_idx": lambda r: folder_module.make_dataset(os.path.join(r, "folder"), {},
                                                               (".png",)),
    "class_to_idx_none": lambda r: DatasetFolder.make_dataset(os.path.join(r, "folder"), None,
                                                              (".png",)),
}


@pytest.mark.parametrize("name", sorted(FOLDER_ERRORS))
def test_folder_errors_equal_torchvision(root, name):
    with pytest.raises(Exception) as error:
        FOLDER_ERRORS[name](root)
    check_error(error, meta("folder_checks", "errors", name), root)


def test_datasetfolder_uses_overridden_find_classes_and_transforms(root):
    class OnlyDogs(DatasetFolder):
        def find_classes(self, directory):
            return ["dog"], {"dog": 5}

    ds = OnlyDogs(os.path.join(root, "folder"), lambda p: os.path.basename(p),
                  extensions=(".bmp", ".ppm"), transform=str.upper,
                  target_transform=lambda t: -t)
    assert ds.classes == ["dog"] and ds.targets == [5, 5]
    assert [ds[i] for i in range(len(ds))] == [("C.BMP", -5), ("D.PPM", -5)]
    assert folder_module.is_image_file("x/Y.JPEG") and not folder_module.is_image_file("a.gif")


# ------------------------------------------------------------------------------ EMNIST

@pytest.mark.parametrize("split,train", [("letters", True), ("balanced", False),
                                         ("digits", True)])
def test_emnist_equals_torchvision(root, split, train):
    key = f"emnist_{split}_{train}"
    expected = meta("emnist", key)
    ds = EMNIST(root, split, train=train)
    check_items(ds, expected, key)
    assert ds.classes == expected["classes"] and ds.class_to_idx == expected["class_to_idx"]
    assert ds.data.dtype == dark.uint8 and ds.targets.dtype == dark.int64
    assert list(ds.data.shape) == expected["data_shape"]
    np.testing.assert_array_equal(ds.data.numpy(), array(f"{key}:data"))
    np.testing.assert_array_equal(ds.targets.numpy(), array(f"{key}:targets"))
    assert ds.extra_repr() == expected["extra_repr"]


def test_emnist_errors(root):
    with pytest.raises(ValueError) as error:
        EMNIST(root, "byletter")
    check_error(error, meta("emnist", "bad_split"))
    with pytest.raises(RuntimeError) as error:
        EMNIST(root, "mnist")
    kind, message = meta("emnist", "missing")
    assert str(error.value).startswith(message)
    assert "emnist-mnist-train-images-idx3-ubyte" in str(error.value)


# ------------------------------------------------------------------------------ QMNIST

QMNIST_CASES = [("train", True, True), ("train", False, True), (None, True, False),
                ("test10k", True, True), ("test50k", False, True), ("nist", True, True)]


@pytest.mark.parametrize("what,compat,train", QMNIST_CASES)
def test_qmnist_equals_torchvision(root, what, compat, train):
    key = f"qmnist_{what}_{compat}_{train}"
    expected = meta("qmnist", key)
    ds = QMNIST(root, what=what, compat=compat, train=train)
    check_items(ds, expected, key)
    assert list(ds.data.shape) == expected["data_shape"]
    assert list(ds.targets.shape) == expected["targets_shape"]
    assert ds.data.dtype == dark.uint8 and ds.targets.dtype == dark.int64
    picks = sorted({0, 1, len(ds) - 1})
    np.testing.assert_array_equal(ds.data.numpy()[picks], array(f"{key}:data_picked"))
    np.testing.assert_array_equal(ds.targets.numpy()[picks], array(f"{key}:targets_picked"))
    assert ds.extra_repr() == expected["extra_repr"]


def test_qmnist_bad_what(root):
    with pytest.raises(ValueError) as error:
        QMNIST(root, what="test20k")
    check_error(error, meta("qmnist", "bad_what"))


# ------------------------------------------------------------------------------ SVHN

@pytest.fixture
def svhn_md5s(monkeypatch):
    for split, md5 in meta("svhn_md5").items():
        url, name, _ = SVHN.split_list[split]
        monkeypatch.setitem(SVHN.split_list, split, [url, name, md5])


@pytest.mark.parametrize("split", ["train", "test"])
def test_svhn_equals_torchvision(root, svhn_md5s, split):
    key = f"svhn_{split}"
    ds = SVHN(os.path.join(root, "svhn"), split=split)
    check_items(ds, meta("svhn", key), key)
    assert ds.labels.dtype == np.int64 and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, array(f"{key}:data"))
    np.testing.assert_array_equal(ds.labels, array(f"{key}:labels"))
    assert 10 not in ds.labels and 0 in ds.labels
    assert ds.extra_repr() == f"Split: {split}"


def test_svhn_errors(root, svhn_md5s, tmp_path):
    with pytest.raises(ValueError) as error:
        SVHN(root, split="valid")
    check_error(error, meta("svhn", "bad_split"))
    with pytest.raises(RuntimeError) as error:
        SVHN(os.path.join(root, "svhn"), split="extra")
    assert str(error.value).startswith(meta("svhn", "missing")[1])
    # A file with another MD5 is not taken.
    (tmp_path / "train_32x32.mat").write_bytes(file_bytes("svhn/train_32x32.mat") + b"\0")
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        SVHN(str(tmp_path))


def test_matfile_reader(root, tmp_path):
    train = loadmat(os.path.join(root, "svhn", "train_32x32.mat"))    # compressed
    test = loadmat(os.path.join(root, "svhn", "test_32x32.mat"))      # uncompressed
    assert train["X"].shape == (32, 32, 3, 3) and train["X"].dtype == np.uint8
    assert train["y"].shape == (3, 1) and train["y"].dtype == np.uint8
    assert test["y"].dtype == np.float64 and test["X"].shape == (32, 32, 3, 2)
    np.testing.assert_array_equal(np.transpose(train["X"], (3, 2, 0, 1)),
                                  array("svhn_train:data"))
    (tmp_path / "v73.mat").write_bytes(b"MATLAB 7.3 MAT-file, HDF5".ljust(128, b" "))
    with pytest.raises(RuntimeError, match="MATLAB 7.3 .HDF5. MAT-file"):
        loadmat(tmp_path / "v73.mat")
    (tmp_path / "junk.mat").write_bytes(b"junk" * 40)
    with pytest.raises(RuntimeError, match="junk.mat is not a readable MATLAB 5 MAT-file"):
        loadmat(tmp_path / "junk.mat")
    cut = file_bytes("svhn/test_32x32.mat")[:-100]
    (tmp_path / "cut.mat").write_bytes(cut)
    with pytest.raises(RuntimeError, match="runs past the end"):
        loadmat(tmp_path / "cut.mat")


# ------------------------------------------------------------------------------ STL10

@pytest.fixture
def stl_md5s(monkeypatch):
    md5s = meta("stl10_md5")
    monkeypatch.setattr(STL10, "train_list", [[n, md5s[n]] for n, _ in STL10.train_list])
    monkeypatch.setattr(STL10, "test_list", [[n, md5s[n]] for n, _ in STL10.test_list])


STL_CASES = [("train", None), ("train", 1), ("train+unlabeled", 2), ("unlabeled", None),
             ("test", None), ("test", 4)]


@pytest.mark.parametrize("split,folds", STL_CASES)
def test_stl10_equals_torchvision(root, stl_md5s, split, folds):
    key = f"stl10_{split}_{folds}"
    expected = meta("stl10", key)
    ds = STL10(os.path.join(root, "stl"), split=split, folds=folds)
    check_items(ds, expected, key)
    assert ds.classes == expected["classes"] and ds.extra_repr() == expected["extra_repr"]
    assert str(ds.labels.dtype) == expected["labels_dtype"]
    np.testing.assert_array_equal(ds.data, array(f"{key}:data"))
    np.testing.assert_array_equal(ds.labels, array(f"{key}:labels"))


@pytest.mark.parametrize("name,kwargs", [("bad_folds", {"folds": 10}),
                                         ("bad_folds_type", {"folds": "1"}),
                                         ("bad_split", {"split": "val"})])
def test_stl10_argument_errors(root, stl_md5s, name, kwargs):
    with pytest.raises(ValueError) as error:
        STL10(os.path.join(root, "stl"), **kwargs)
    check_error(error, meta("stl10", name))


def test_stl10_missing(root, stl_md5s):
    with pytest.raises(RuntimeError) as error:
        STL10(root)
    assert str(error.value).startswith(meta("stl10", "missing")[1])


# ------------------------------------------------------------------------------ downloads

def serve(tmp_path, rel, data):
    path = tmp_path / "www" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return md5_of(data)


def test_svhn_download(tmp_path, server, monkeypatch):
    base, requests = server
    data = file_bytes("svhn/test_32x32.mat")
    md5 = serve(tmp_path, "housenumbers/test_32x32.mat", data)
    monkeypatch.setitem(SVHN.split_list, "test",
                        [f"{base}/housenumbers/test_32x32.mat", "test_32x32.mat", md5])
    ds = SVHN(str(tmp_path / "svhn"), split="test", download=True)
    np.testing.assert_array_equal(ds.data, array("svhn_test:data"))
    assert (tmp_path / "svhn" / "test_32x32.mat").read_bytes() == data
    requests.clear()
    SVHN(str(tmp_path / "svhn"), split="test", download=True)
    assert requests == []


def test_stl10_download(tmp_path, server, monkeypatch, stl_md5s):
    base, _ = server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in meta("stl10_md5"):
            data = file_bytes(f"stl/stl10_binary/{name}")
            info = tarfile.TarInfo(f"stl10_binary/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    md5 = serve(tmp_path, "stl10/stl10_binary.tar.gz", buf.getvalue())
    monkeypatch.setattr(STL10, "url", f"{base}/stl10/stl10_binary.tar.gz")
    monkeypatch.setattr(STL10, "tgz_md5", md5)
    ds = STL10(str(tmp_path / "data"), split="test", download=True)
    np.testing.assert_array_equal(ds.data, array("stl10_test_None:data"))


def test_emnist_download(tmp_path, server, monkeypatch):
    base, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for kind in ("images-idx3", "labels-idx1"):
            name = f"emnist-letters-train-{kind}-ubyte"
            zf.writestr(f"gzip/{name}.gz",
                        gzip.compress(file_bytes(f"EMNIST/raw/{name}")))
    md5 = serve(tmp_path, "emnist/gzip.zip", buf.getvalue())
    monkeypatch.setattr(EMNIST, "url", f"{base}/emnist/gzip.zip")
    monkeypatch.setattr(EMNIST, "md5", md5)
    ds = EMNIST(str(tmp_path / "data"), "letters", download=True)
    np.testing.assert_array_equal(ds.data.numpy(), array("emnist_letters_True:data"))
    raw = tmp_path / "data" / "EMNIST" / "raw"
    assert sorted(os.listdir(raw)) == ["emnist-letters-train-images-idx3-ubyte",
                                       "emnist-letters-train-labels-idx1-ubyte", "gzip.zip"]


def test_qmnist_download(tmp_path, server, monkeypatch):
    base, _ = server
    resources = {}
    for what, stem, pack, ext in [("train", "qmnist-train", gzip.compress, "gz"),
                                  ("nist", "xnist", lzma.compress, "xz")]:
        resources[what] = []
        for kind in ("images-idx3-ubyte", "labels-idx2-int"):
            name = f"{stem}-{kind}.{ext}"
            md5 = serve(tmp_path, f"qmnist/{name}",
                        pack(file_bytes(f"QMNIST/raw/{stem}-{kind}")))
            resources[what].append((f"{base}/qmnist/{name}", md5))
    monkeypatch.setattr(QMNIST, "resources", {**QMNIST.resources, **resources})
    for what in ("train", "nist"):
        ds = QMNIST(str(tmp_path / "data"), what=what, download=True)
        key = f"qmnist_{what}_True_True"
        np.testing.assert_array_equal(ds.data.numpy()[[0, 1]], array(f"{key}:data_picked")[:2])


def test_downloads_offline_say_so(tmp_path, monkeypatch):
    dead = closed_port_url()
    at_dead = f"[\\s\\S]*{re.escape(dead)}"
    monkeypatch.setitem(SVHN.split_list, "train", [f"{dead}train_32x32.mat",
                                                   "train_32x32.mat", "0" * 32])
    with pytest.raises(RuntimeError, match="Error downloading train_32x32.mat" + at_dead):
        SVHN(str(tmp_path), download=True)
    monkeypatch.setattr(EMNIST, "url", f"{dead}gzip.zip")
    with pytest.raises(RuntimeError, match="Error downloading gzip.zip" + at_dead):
        EMNIST(str(tmp_path), "digits", download=True)
    monkeypatch.setattr(QMNIST, "resources", {
        **QMNIST.resources, "test": [(f"{dead}qmnist-test-images-idx3-ubyte.gz", "0" * 32)] * 2})
    with pytest.raises(RuntimeError, match="Error downloading qmnist-test-images"):
        QMNIST(str(tmp_path), what="test10k", download=True)
    monkeypatch.setattr(STL10, "url", f"{dead}stl10_binary.tar.gz")
    with pytest.raises(RuntimeError, match="Error downloading stl10_binary.tar.gz" + at_dead):
        STL10(str(tmp_path), download=True)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


def test_dark_data_fallback(root, tmp_path, monkeypatch, svhn_md5s):
    shared = tmp_path / "shared"
    shutil.copytree(os.path.join(root, "EMNIST"), shared / "EMNIST")
    shutil.copytree(os.path.join(root, "svhn"), shared / "svhn")
    monkeypatch.setenv("DARK_DATA", str(shared))
    assert len(EMNIST(str(tmp_path / "elsewhere"), "letters")) == 4
    assert len(SVHN(str(tmp_path / "elsewhere"), split="test")) == 2


def test_exports():
    for name in ("FakeData", "DatasetFolder", "ImageFolder", "EMNIST", "QMNIST", "SVHN",
                 "STL10"):
        assert name in datasets.__all__ and getattr(dark.data.datasets, name)
    assert datasets.utils.verify_str_arg("a", "x", ("a",)) == "a"


def test_fakedata_and_imagefolder_through_dataloader(root):
    from dark.data import DataLoader
    from dark.data.transforms import v2

    to_tensor = v2.Compose([v2.ToImage(), v2.ToDtype(dark.float32, scale=True)])
    images, targets = next(iter(DataLoader(
        FakeData(size=6, image_size=(3, 8, 5), num_classes=4, transform=to_tensor),
        batch_size=4)))
    assert images.shape == (4, 3, 8, 5) and images.dtype == dark.float32
    assert targets.dtype == dark.int64 and targets.tolist() == [
        FakeData(size=6, image_size=(3, 8, 5), num_classes=4)[i][1] for i in range(4)]
    folder = ImageFolder(os.path.join(root, "folder"),
                         transform=v2.Compose([v2.Resize((4, 4)), to_tensor]))
    batches = list(DataLoader(folder, batch_size=2))
    assert [b[0].shape for b in batches] == [(2, 3, 4, 4), (2, 3, 4, 4), (1, 3, 4, 4)]
    assert sum((b[1].tolist() for b in batches), []) == meta("imagefolder", "targets")


def mat_bytes(arrays, order="<", opaque=False):
    """A MATLAB 5 MAT-file, uncompressed, in byte order ``order``, written element by element
    as the format describes (names of up to 4 bytes as small elements)."""
    def element(mtype, data):
        if len(data) <= 4:
            return np.array([mtype | len(data) << 16], order[0] + "u4").tobytes() \
                + data.ljust(4, b"\0")
        return np.array([mtype, len(data)], order + "u4").tobytes() + data \
            + b"\0" * (-len(data) % 8)

    codes = {np.uint8: (9, 2), np.float64: (6, 9), np.int16: (10, 3)}
    body = b""
    if opaque:   # an object (mxOPAQUE_CLASS 17): its parts are not a numeric matrix's
        body += element(14, element(6, np.array([17, 0], order + "u4").tobytes())
                        + element(1, b"obj") + element(1, b"MCOS"))
    for name, value in arrays.items():
        mx_class, mi_type = codes[value.dtype.type]
        content = (element(6, np.array([mx_class, 0], order + "u4").tobytes())
                   + element(5, np.array(value.shape, order + "i4").tobytes())
                   + element(1, name.encode())
                   + element(mi_type, value.astype(value.dtype.newbyteorder(order))
                             .tobytes(order="F")))
        body += element(14, content)
    header = b"MATLAB 5.0 MAT-file, written by a test".ljust(116, b" ") + b"\0" * 8
    header += np.array([0x0100], order + "u2").tobytes() + (b"IM" if order == "<" else b"MI")
    return header + body


@pytest.mark.parametrize("order", ["<", ">"])
def test_matfile_byte_orders_and_skipped_kinds(tmp_path, order):
    rng = np.random.default_rng(3)
    arrays = {"X": rng.integers(0, 256, (4, 3, 2)).astype(np.uint8),
              "yy": rng.random((5, 1)), "k": rng.integers(-9, 9, (2, 7)).astype(np.int16)}
    (tmp_path / "a.mat").write_bytes(mat_bytes(arrays, order, opaque=True))
    loaded = loadmat(tmp_path / "a.mat")
    assert sorted(loaded) == ["X", "k", "yy"]
    for name, value in arrays.items():
        assert loaded[name].dtype == value.dtype and loaded[name].dtype.isnative
        np.testing.assert_array_equal(loaded[name], value)
