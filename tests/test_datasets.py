"""dark.data.datasets (MNIST, FashionMNIST, KMNIST, CIFAR10/100) and dark.data.download.

The MNIST checks read the real files (``data_root`` fixture) and compare with arrays
decoded here independently with numpy. Downloads are tested against a local HTTP server
(the network is closed) serving copies of the real files, corrupt copies, and truncated
responses. CIFAR has no data here: a tiny archive in its layout is built in the test.
"""
import functools
import gzip
import hashlib
import io
import os
import pickle
import shutil
import tarfile

import numpy as np
import pytest
from harness import closed_port_url
from PIL import Image

import dark
from dark.data import datasets
from dark.data.datasets import CIFAR10, CIFAR100, KMNIST, MNIST, FashionMNIST, VisionDataset
from dark.data.download import check_integrity, download_url, extract_archive

FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
TEST_FILES = FILES[2:]


@functools.cache
def reference(root, name, train):
    """Images and labels of a split, decoded with numpy alone (headers skipped by size)."""
    prefix = "train" if train else "t10k"
    folder = os.path.join(root, name, "raw")
    with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


@functools.cache
def loaded(cls, root, train):
    return cls(root, train=train)


def needs_files(cls, root):
    """Skips when ``root`` lacks cls's folder (a data root may hold MNIST alone, as after
    examples/mnist.py downloaded it)."""
    if not os.path.isdir(os.path.join(root, cls.__name__, "raw")):
        pytest.skip(f"{cls.__name__} files not found under {root}")


def md5_of(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def copy_split(data_root, destination, name="MNIST", files=TEST_FILES):
    raw = destination / name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copy(os.path.join(data_root, name, "raw", file), raw / file)
    return raw


@pytest.fixture
def no_dark_data(monkeypatch):
    monkeypatch.delenv("DARK_DATA", raising=False)


# ---------------------------------------------------------------- real MNIST files

@pytest.mark.parametrize("train,length", [(True, 60000), (False, 10000)])
def test_mnist_lengths_shapes_dtypes(data_root, train, length):
    ds = loaded(MNIST, data_root, train)
    assert len(ds) == length
    assert isinstance(ds.data, dark.Tensor) and isinstance(ds.targets, dark.Tensor)
    assert tuple(ds.data.shape) == (length, 28, 28) and ds.data.dtype == dark.uint8
    assert tuple(ds.targets.shape) == (length,) and ds.targets.dtype == dark.int64
    assert ds.data.numpy().flags.writeable


@pytest.mark.parametrize("cls", [MNIST, FashionMNIST])
@pytest.mark.parametrize("train", [True, False])
def test_contents_match_raw_files(data_root, cls, train):
    needs_files(cls, data_root)
    ds = loaded(cls, data_root, train)
    images, labels = reference(data_root, cls.__name__, train)
    assert np.array_equal(ds.targets.numpy(), labels.astype(np.int64))
    assert np.array_equal(ds.data.numpy().sum(axis=(1, 2), dtype=np.int64),
                          images.sum(axis=(1, 2), dtype=np.int64))
    assert np.array_equal(ds.data.numpy(), images)


def test_mnist_first_labels(data_root):
    # The published first labels of each split.
    assert loaded(MNIST, data_root, True).targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert loaded(MNIST, data_root, False).targets[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_getitem_is_pil_and_int(data_root):
    ds = loaded(MNIST, data_root, False)
    images, labels = reference(data_root, "MNIST", False)
    for index in (0, 1, 9999, -1):
        img, target = ds[index]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        assert type(target) is int and target == labels[index]
        assert np.array_equal(np.asarray(img), images[index])


def test_classes(data_root):
    assert MNIST.classes[3] == "3 - three" and len(KMNIST.classes) == 10
    needs_files(FashionMNIST, data_root)
    fashion = loaded(FashionMNIST, data_root, False)
    assert fashion.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert fashion.class_to_idx["Ankle boot"] == 9


def test_transform_and_target_transform(data_root):
    ds = MNIST(data_root, train=False, transform=lambda img: np.asarray(img, np.float32) / 255,
               target_transform=lambda t: t + 100)
    images, labels = reference(data_root, "MNIST", False)
    img, target = ds[3]
    assert img.dtype == np.float32 and np.allclose(img, images[3] / 255)
    assert target == labels[3] + 100
    assert "StandardTransform" in repr(ds) and "Target transform: " in repr(ds)


def test_repr(data_root):
    ds = loaded(MNIST, data_root, False)
    assert repr(ds) == ("Dataset MNIST\n    Number of datapoints: 10000\n"
                        f"    Root location: {data_root}\n    Split: Test")


def test_vision_dataset_rejects_both_transform_kinds():
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        VisionDataset("x", transforms=lambda a, b: (a, b), transform=lambda a: a)
    assert datasets.__all__ and all(hasattr(datasets, n) for n in datasets.__all__)


def test_root_tilde_expands(data_root, tmp_path, monkeypatch, no_dark_data):
    monkeypatch.setenv("HOME", str(tmp_path))
    copy_split(data_root, tmp_path / "data")
    ds = MNIST("~/data", train=False)
    assert ds.root == str(tmp_path / "data") and len(ds) == 10000


def test_dark_data_fallback(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DARK_DATA", data_root)
    ds = MNIST(str(tmp_path / "empty"), train=False)
    assert len(ds) == 10000
    assert ds.raw_folder == os.path.join(data_root, "MNIST", "raw")


def test_unpacked_idx_files(data_root, tmp_path, no_dark_data):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for file in TEST_FILES:
        with gzip.open(os.path.join(data_root, "MNIST", "raw", file)) as f:
            (raw / file[:-3]).write_bytes(f.read())
    # A broken .gz beside the unpacked file is not read: the unpacked one wins.
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"broken")
    ds = MNIST(str(tmp_path), train=False)
    images, labels = reference(data_root, "MNIST", False)
    assert np.array_equal(ds.data.numpy(), images)
    assert np.array_equal(ds.targets.numpy(), labels)


# ---------------------------------------------------------------- errors

def test_missing_files_message(tmp_path, no_dark_data):
    root = tmp_path / "nowhere"
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True "
                       "to download it") as info:
        MNIST(str(root))
    message = str(info.value)
    assert str(root / "MNIST" / "raw") in message and "DARK_DATA" in message
    assert "train-images-idx3-ubyte" in message
    with pytest.raises(RuntimeError, match="KMNIST"):
        KMNIST(str(root), train=False)


def test_missing_files_message_names_dark_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DARK_DATA", str(tmp_path / "shared"))
    with pytest.raises(RuntimeError, match="Dataset not found") as info:
        FashionMNIST(str(tmp_path / "root"))
    assert str(tmp_path / "shared" / "FashionMNIST" / "raw") in str(info.value)


def test_truncated_gz(data_root, tmp_path, no_dark_data):
    raw = copy_split(data_root, tmp_path)
    path = raw / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RuntimeError, match="truncated or corrupt") as info:
        MNIST(str(tmp_path), train=False)
    assert str(path) in str(info.value) and "download" in str(info.value)


def test_not_a_gz(data_root, tmp_path, no_dark_data):
    raw = copy_split(data_root, tmp_path)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00" * 100)
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte.gz is truncated or corrupt"):
        MNIST(str(tmp_path), train=False)


def _idx_gz(path, magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(gzip.compress(header + payload))


def test_idx_size_checked_against_header(tmp_path, no_dark_data):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _idx_gz(raw / "t10k-labels-idx1-ubyte.gz", 2049, [3], b"\x01\x02\x03")
    _idx_gz(raw / "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], bytes(3 * 784 - 1))
    with pytest.raises(RuntimeError, match="t10k-images-idx3-ubyte.gz is truncated or corrupt"):
        MNIST(str(tmp_path), train=False)
    _idx_gz(raw / "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28], bytes(3 * 784 + 5))
    with pytest.raises(RuntimeError, match="beyond"):
        MNIST(str(tmp_path), train=False)
    _idx_gz(raw / "t10k-images-idx3-ubyte.gz", 2049, [3], b"\x01\x02\x03")
    with pytest.raises(RuntimeError, match="magic number 2049, expected 2051"):
        MNIST(str(tmp_path), train=False)
    _idx_gz(raw / "t10k-images-idx3-ubyte.gz", 2051, [3, 28, 28],
            (bytes(range(256)) * 10)[: 3 * 784])
    ds = MNIST(str(tmp_path), train=False)
    assert len(ds) == 3 and ds.data.numpy().reshape(-1)[255] == 255 and ds[2][1] == 3


# ---------------------------------------------------------------- downloads

def _serve_mnist(data_root, tmp_path):
    good = tmp_path / "www" / "good"
    bad = tmp_path / "www" / "bad"
    good.mkdir()
    bad.mkdir()
    for file in FILES:
        shutil.copy(os.path.join(data_root, "MNIST", "raw", file), good / file)
        (bad / file).write_bytes(b"not the real file")


def _leftovers(folder):
    return [p for p in os.listdir(folder) if p.endswith(".part")] if folder.exists() else []


def test_download_falls_through_mirrors(data_root, tmp_path, server, monkeypatch,
                                        no_dark_data, capsys):
    base, requests = server
    _serve_mnist(data_root, tmp_path)
    dead = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", [dead, f"{base}/bad/", f"{base}/good/"])
    ds = MNIST(str(tmp_path / "root"), train=False, download=True)
    raw = tmp_path / "root" / "MNIST" / "raw"
    for file, md5 in MNIST.resources:
        assert md5_of(raw / file) == md5
    assert sorted(os.listdir(raw)) == sorted(FILES)
    assert requests.count("/bad/t10k-images-idx3-ubyte.gz") == 1
    # Each try is announced as torchvision does: "Downloading <url> to <path>".
    tries = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("Downloading ")]
    assert tries == [f"Downloading {mirror}{file} to {raw / file}" for file in FILES
                     for mirror in (dead, f"{base}/bad/", f"{base}/good/")]
    images, labels = reference(data_root, "MNIST", False)
    assert np.array_equal(ds.data.numpy(), images)
    assert np.array_equal(ds.targets.numpy(), labels)
    # Present and verified: nothing is fetched again.
    requests.clear()
    MNIST(str(tmp_path / "root"), train=False, download=True)
    assert requests == []


def test_download_all_mirrors_fail(data_root, tmp_path, server, monkeypatch, no_dark_data):
    base, _ = server
    _serve_mnist(data_root, tmp_path)
    dead = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", [dead, f"{base}/bad/"])
    with pytest.raises(RuntimeError, match="Error downloading train-images-idx3-ubyte.gz") as info:
        MNIST(str(tmp_path / "root"), download=True)
    message = str(info.value)
    assert f"{dead}train-images-idx3-ubyte.gz" in message
    assert "checksum mismatch" in message and "f68b3c2dcbeaaa9fbdd348bbdeb94873" in message
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert os.listdir(raw) == []


def test_download_keeps_good_file_and_replaces_bad(data_root, tmp_path, server, monkeypatch,
                                                   no_dark_data):
    base, requests = server
    _serve_mnist(data_root, tmp_path)
    raw = copy_split(data_root, tmp_path / "root", files=["train-labels-idx1-ubyte.gz"])
    kept = raw / "train-labels-idx1-ubyte.gz"
    os.utime(kept, (1_000_000, 1_000_000))
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"stale")
    monkeypatch.setattr(MNIST, "mirrors", [f"{base}/good/"])
    MNIST(str(tmp_path / "root"), train=False, download=True)
    assert kept.stat().st_mtime == 1_000_000
    assert "/good/train-labels-idx1-ubyte.gz" not in requests
    assert md5_of(raw / "t10k-labels-idx1-ubyte.gz") == MNIST.resources[3][1]


def test_download_url_is_atomic(tmp_path, server):
    base, _ = server
    (tmp_path / "www" / "file.bin").write_bytes(b"new contents")
    target = tmp_path / "dl" / "file.bin"
    target.parent.mkdir()
    target.write_bytes(b"old contents")
    # A checksum mismatch leaves the old file and no .part.
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        download_url(f"{base}/file.bin", str(tmp_path / "dl"), md5="0" * 32)
    assert target.read_bytes() == b"old contents" and _leftovers(target.parent) == []
    # A connection that closes early: the same.
    with pytest.raises(OSError, match="ended early"):
        download_url(f"{base}/short/file.bin", str(tmp_path / "dl"), md5="0" * 32)
    assert target.read_bytes() == b"old contents" and _leftovers(target.parent) == []
    # A missing file on the server (HTTP 404) and a server that is down.
    with pytest.raises(OSError):
        download_url(f"{base}/absent.bin", str(tmp_path / "dl"))
    with pytest.raises(OSError):
        download_url(closed_port_url() + "other.bin", str(tmp_path / "dl"))
    assert sorted(os.listdir(target.parent)) == ["file.bin"]
    # Without md5, a file that is there is taken as it is (as torchvision does).
    assert download_url(closed_port_url() + "file.bin", str(tmp_path / "dl")) == str(target)
    good = hashlib.md5(b"new contents").hexdigest()
    path = download_url(f"{base}/file.bin", str(tmp_path / "dl"), md5=good)
    assert path == str(target) and target.read_bytes() == b"new contents"
    assert check_integrity(path, good) and not check_integrity(path, "0" * 32)
    assert not check_integrity(str(tmp_path / "none"))


# ---------------------------------------------------------------- archives

def test_extract_refuses_paths_outside(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(RuntimeError, match="outside"):
        extract_archive(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()

    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("inside/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(RuntimeError, match="link"):
        extract_archive(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "inside" / "link").exists()


def test_extract_single_gz(tmp_path):
    (tmp_path / "a.bin.gz").write_bytes(gzip.compress(b"payload"))
    extract_archive(str(tmp_path / "a.bin.gz"))
    assert (tmp_path / "a.bin").read_bytes() == b"payload"
    with pytest.raises(RuntimeError, match="Unknown compression"):
        extract_archive(str(tmp_path / "a.rar"))


# ---------------------------------------------------------------- CIFAR (format test)

def _pickle_to(path, obj):
    path.write_bytes(pickle.dumps(obj, protocol=2))
    return md5_of(path)


def _make_cifar(tmp_path, cls, batches, meta_key, label_key, n=3):
    """Writes cls's folder with ``n`` random images per batch into tmp_path/build and
    returns a subclass of cls whose checksums are those of these files."""
    folder = tmp_path / "build" / cls.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sums, contents = {}, {}
    for name in batches:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        contents[name] = (data, labels)
        sums[name] = _pickle_to(folder / name, {"batch_label": name, label_key: labels,
                                                "data": data, "filenames": ["x.png"] * n})
    meta_name = cls.meta["filename"]
    classes = [f"class{i}" for i in range(10)]
    meta_md5 = _pickle_to(folder / meta_name, {meta_key: classes})
    n_train = len(cls.train_list)
    fake = type(cls.__name__, (cls,), {
        "train_list": [[b, sums[b]] for b in batches[:n_train]],
        "test_list": [[b, sums[b]] for b in batches[n_train:]],
        "meta": {**cls.meta, "md5": meta_md5}})
    return fake, contents, classes


CIFAR10_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def test_cifar10_layout(tmp_path, no_dark_data):
    fake, contents, classes = _make_cifar(tmp_path, CIFAR10, CIFAR10_BATCHES,
                                          "label_names", "labels")
    train = fake(str(tmp_path / "build"))
    assert len(train) == 15 and train.data.shape == (15, 32, 32, 3)
    assert train.data.dtype == np.uint8 and train.classes == classes
    flat, labels = contents["data_batch_2"]
    # Rows are channel-major (1024 red, 1024 green, 1024 blue); data is HWC.
    assert train.data[3, 5, 7, 2] == flat[0, 2 * 1024 + 5 * 32 + 7]
    assert train.targets[3:6] == labels
    test = fake(str(tmp_path / "build"), train=False, target_transform=str)
    img, target = test[1]
    assert img.mode == "RGB" and img.size == (32, 32)
    assert np.array_equal(np.asarray(img), test.data[1])
    assert target == str(contents["test_batch"][1][1]) and test.class_to_idx["class4"] == 4
    assert "Split: Test" in repr(test)


def test_cifar100_layout(tmp_path, no_dark_data):
    fake, contents, classes = _make_cifar(tmp_path, CIFAR100, ["train", "test"],
                                          "fine_label_names", "fine_labels", n=4)
    ds = fake(str(tmp_path / "build"), train=False)
    assert len(ds) == 4 and ds.targets == contents["test"][1] and ds.classes == classes


def test_cifar_download_and_missing(tmp_path, server, no_dark_data):
    base, _ = server
    fake, contents, _ = _make_cifar(tmp_path, CIFAR10, CIFAR10_BATCHES, "label_names", "labels")
    archive = tmp_path / "www" / CIFAR10.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "build" / CIFAR10.base_folder, arcname=CIFAR10.base_folder)
    fake.url = f"{base}/{CIFAR10.filename}"
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted") as info:
        fake(str(tmp_path / "root"))
    assert str(tmp_path / "root" / CIFAR10.base_folder) in str(info.value)
    fake.tgz_md5 = "0" * 32
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        fake(str(tmp_path / "root"), download=True)
    assert _leftovers(tmp_path / "root") == []
    fake.tgz_md5 = md5_of(archive)
    ds = fake(str(tmp_path / "root"), train=False, download=True)
    assert np.array_equal(ds.data.reshape(3, -1),
                          contents["test_batch"][0].reshape(3, 3, 32, 32)
                          .transpose(0, 2, 3, 1).reshape(3, -1))


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (self.path,)


def test_cifar_pickle_cannot_run_code(tmp_path, no_dark_data):
    fake, _, _ = _make_cifar(tmp_path, CIFAR10, CIFAR10_BATCHES, "label_names", "labels")
    folder = tmp_path / "build" / CIFAR10.base_folder
    marker = tmp_path / "pwned"
    md5 = _pickle_to(folder / "test_batch", {"data": _Exploit(str(marker)), "labels": []})
    fake.test_list = [["test_batch", md5]]
    with pytest.raises(pickle.UnpicklingError, match="refusing to load os.makedirs"):
        fake(str(tmp_path / "build"), train=False)
    assert not marker.exists()
