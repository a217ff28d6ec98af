"""MNIST, Fashion-MNIST and Kuzushiji-MNIST (torchvision.datasets.MNIST and friends).

Files live in torchvision's layout, ``root/<ClassName>/raw/``: the four IDX files as
published (``train-images-idx3-ubyte.gz`` ...), or unpacked (``train-images-idx3-ubyte``),
which are read in preference when both are there. Nothing else is written: no
``processed/`` cache, the IDX bytes are decoded straight into the arrays on each load.

When the files of the split are not under ``root`` and the ``DARK_DATA`` environment
variable names a folder, ``$DARK_DATA/<ClassName>/raw/`` is searched too, so one copy of
the data can serve every program.
"""
from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ...ops.creation import from_numpy
from ..download import download_from_mirrors
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "read_image_file", "read_label_file"]

# IDX type codes (third byte of the magic number) and their big-endian element types.
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _corrupt(path: str, problem: str) -> RuntimeError:
    return RuntimeError(f"{path} is truncated or corrupt ({problem}). Delete it and download "
                        "it again (download=True fetches it).")


def read_idx_file(path: str, magic: int) -> np.ndarray:
    """Decode an IDX file (gzip-compressed when its name ends in .gz) whose big-endian magic
    number must be ``magic`` (2051 for images, 2049 for labels) into a native-endian array
    of the shape its header gives. Raises RuntimeError naming the file when it is not such
    a file or is truncated or corrupt."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            header = f.read(4)
            if len(header) < 4:
                raise _corrupt(path, "the IDX header is incomplete")
            found = int.from_bytes(header, "big")
            if found != magic:
                raise RuntimeError(f"{path} is not the expected IDX file: magic number "
                                   f"{found}, expected {magic}")
            ndim = header[3]
            dims_bytes = f.read(4 * ndim)
            if len(dims_bytes) < 4 * ndim:
                raise _corrupt(path, "the IDX header is incomplete")
            shape = tuple(int(d) for d in np.frombuffer(dims_bytes, ">u4"))
            array = np.empty(shape, _IDX_TYPES[header[2]])
            got = f.readinto(memoryview(array.reshape(-1).view(np.uint8)))
            if got < array.nbytes:
                raise _corrupt(path, f"{got} bytes of data where the header {shape} needs "
                                     f"{array.nbytes}")
            if f.read(1):
                raise _corrupt(path, f"data beyond the {array.nbytes} bytes the header "
                                     f"{shape} announces")
    except (EOFError, OSError, zlib.error) as error:
        raise _corrupt(path, f"{type(error).__name__}: {error}") from error
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def read_image_file(path: str) -> np.ndarray:
    """The uint8 images (N, rows, cols) of an IDX image file (magic 2051)."""
    return read_idx_file(path, 2051)


def read_label_file(path: str) -> np.ndarray:
    """The uint8 labels (N,) of an IDX label file (magic 2049)."""
    return read_idx_file(path, 2049)


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_: 60,000 training and 10,000 test
    28x28 grey-scale digits. ``dataset[i]`` is ``(PIL.Image mode 'L', int label)`` before
    ``transform`` / ``target_transform``. ``data`` is a uint8 tensor (N, 28, 28) and
    ``targets`` an int64 tensor (N,).

    Args:
        root: folder holding ``<ClassName>/raw/`` (``~`` is expanded). When the split's
            files are not there, ``$DARK_DATA/<ClassName>/raw/`` is tried too.
        train: the training split (``train-*``) if True, else the test split (``t10k-*``).
        transform: callable applied to the PIL image.
        target_transform: callable applied to the label.
        download: fetch the four files into ``root/<ClassName>/raw/`` when the split is
            found nowhere; each file comes from the first mirror that serves it with the
            right MD5, and a file already there with the right MD5 is kept.
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self._raw_folder = self._locate(download)
        images = read_image_file(self._split_file("images"))
        labels = read_label_file(self._split_file("labels"))
        if len(images) != len(labels):
            raise RuntimeError(f"{len(images)} images but {len(labels)} labels in "
                               f"{self._raw_folder}: a file is corrupt")
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self) -> str:
        """The folder the files were read from."""
        return self._raw_folder

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def _stems(self) -> list[str]:
        prefix = "train-" if self.train else "t10k-"
        return [name[:-3] for name, _ in self.resources if name.startswith(prefix)]

    def _split_file(self, kind: str, folder: str | None = None) -> str | None:
        """The path of the split's ``kind`` ('images' or 'labels') file in ``folder``:
        the unpacked IDX file, else the .gz, else None."""
        folder = self._raw_folder if folder is None else folder
        stem = next(s for s in self._stems() if f"-{kind}-" in s)
        for name in (stem, stem + ".gz"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
        return None

    def _has_split(self, folder: str) -> bool:
        return all(self._split_file(kind, folder) for kind in ("images", "labels"))

    def _locate(self, download: bool) -> str:
        name = type(self).__name__
        folder = os.path.join(os.fspath(self.root), name, "raw")
        if self._has_split(folder):
            return folder
        shared = os.environ.get("DARK_DATA")
        if shared:
            shared_folder = os.path.join(os.path.expanduser(shared), name, "raw")
            if self._has_split(shared_folder):
                return shared_folder
        if download:
            self.download()
            return folder
        files = " and ".join(f"{stem}(.gz)" for stem in self._stems())
        where = os.path.abspath(folder)
        hint = (f" nor in {os.path.abspath(shared_folder)} (DARK_DATA={shared})" if shared
                else f"; set DARK_DATA to a folder holding {name}/raw/ to use a shared copy")
        raise RuntimeError("Dataset not found. You can use download=True to download it. "
                           f"Expected {files} in {where}{hint}")

    def download(self) -> None:
        """Fetch the files missing from ``root/<ClassName>/raw/`` (a file is kept when its
        unpacked form is there, or its .gz with the right MD5)."""
        folder = os.path.join(os.fspath(self.root), type(self).__name__, "raw")
        os.makedirs(folder, exist_ok=True)
        for filename, md5 in self.resources:
            if os.path.isfile(os.path.join(folder, filename[:-3])):
                continue
            download_from_mirrors(self.mirrors, filename, folder, md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: the PIL image (mode 'L') and the int class, each passed
        through its transform when one is set."""
        img = Image.fromarray(self.data.numpy(force=True)[index], mode="L")
        target = int(self.targets.numpy(force=True)[index])
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_: Zalando's
    28x28 grey-scale clothing images in 10 classes, files and API as :class:`MNIST`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_: 28x28 cursive Japanese
    characters in 10 classes, files and API as :class:`MNIST`."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
