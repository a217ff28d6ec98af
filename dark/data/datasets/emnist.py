"""EMNIST and QMNIST (torchvision.datasets.EMNIST / QMNIST), readers of the IDX files in
torchvision's layout ``root/<ClassName>/raw/``, with :class:`~.mnist.MNIST`'s API (``data`` a
uint8 tensor, ``targets`` an int64 tensor, the ``DARK_DATA`` fallback).

EMNIST's images are stored transposed (the writing of each 28x28 image is column by
column); like torchvision, the reader returns them as stored, so a digit appears mirrored
and rotated unless a transform transposes it.
"""
from __future__ import annotations

import os
import shutil
import string
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ...ops.creation import from_numpy
from ..download import download_from_mirrors, extract_archive
from .mnist import MNIST, read_idx_file
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["EMNIST", "QMNIST"]


def _split_url(url: str) -> tuple[str, str]:
    """``(prefix ending in '/', file name)`` of a URL."""
    prefix, _, name = url.rpartition("/")
    return prefix + "/", name


class EMNIST(MNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_: handwritten
    characters in six splits, ``byclass`` (62 classes), ``bymerge`` and ``balanced`` (47),
    ``letters`` (26, labels 1..26, class 0 'N/A'), ``digits`` and ``mnist`` (10).

    The files are ``root/EMNIST/raw/emnist-<split>-<train|test>-<images-idx3|labels-idx1>-ubyte``
    (or the same with .gz). ``download=True`` fetches NIST's ``gzip.zip`` (about 560 MB,
    MD5-checked) into that folder and unpacks every split there, as torchvision does.
    Other arguments as :class:`MNIST` (``train``, ``transform``, ``target_transform``).
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    # Merged classes: the letters whose upper and lower case look alike.
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(list(_all_classes)),
        "bymerge": sorted(list(_all_classes - _merged_classes)),
        "balanced": sorted(list(_all_classes - _merged_classes)),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root: str | os.PathLike, split: str, **kwargs: Any) -> None:
        self.split = verify_str_arg(split, "split", self.splits)
        super().__init__(root, **kwargs)
        self.classes = self.classes_split_dict[self.split]

    def _stems(self) -> list[str]:
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]

    def download(self) -> None:
        """Fetch ``gzip.zip`` into ``root/EMNIST/raw`` and unpack each split's files there,
        unless this split's files are already there."""
        folder = os.path.join(os.fspath(self.root), type(self).__name__, "raw")
        if self._has_split(folder):
            return
        os.makedirs(folder, exist_ok=True)
        prefix, name = _split_url(self.url)
        archive = download_from_mirrors([prefix], name, folder, self.md5)
        extract_archive(archive, folder)
        gzip_folder = os.path.join(folder, "gzip")
        for gzip_file in sorted(os.listdir(gzip_folder)):
            if gzip_file.endswith(".gz"):
                extract_archive(os.path.join(gzip_folder, gzip_file), folder)
        shutil.rmtree(gzip_folder)


class QMNIST(MNIST):
    """`QMNIST <https://github.com/facebookresearch/qmnist>`_: MNIST with its full NIST
    provenance. ``what`` picks ``'train'`` (60,000), ``'test'`` (60,000), ``'test10k'`` (its
    first 10,000, MNIST's test set), ``'test50k'`` (the other 50,000) or ``'nist'`` (all
    402,953 NIST digits); by default ``'train'`` or ``'test'`` after ``train``.

    ``targets`` is an int64 tensor (N, 8): class, NIST series, writer id, digit index,
    NIST index, duplicate flag, ... With ``compat=True`` an item's target is the class
    (an int, as MNIST's); otherwise it is the row of 8 (an int64 tensor).

    Files: ``root/QMNIST/raw/qmnist-<train|test>-images-idx3-ubyte`` and
    ``qmnist-<train|test>-labels-idx2-int`` (``xnist-...`` for ``'nist'``), unpacked (or
    .gz for train/test). ``download=True`` fetches and unpacks the two files of ``what``.
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test",
               "nist": "nist"}
    _base = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"
    resources: dict[str, list[tuple[str, str]]] = {  # type: ignore[assignment]
        "train": [(_base + "qmnist-train-images-idx3-ubyte.gz",
                   "ed72d4157d28c017586c42bc6afe6370"),
                  (_base + "qmnist-train-labels-idx2-int.gz",
                   "0058f8dd561b90ffdd0f734c6a30e5e4")],
        "test": [(_base + "qmnist-test-images-idx3-ubyte.gz",
                  "1394631089c404de565df7b7aeaf9412"),
                 (_base + "qmnist-test-labels-idx2-int.gz",
                  "5b5b05890a5e13444e108efe57b788aa")],
        "nist": [(_base + "xnist-images-idx3-ubyte.xz", "7f124b3b8ab81486c9d8c2749c17f834"),
                 (_base + "xnist-labels-idx2-int.xz", "5ed0e788978e45d4a8bd4b7caec3d79d")],
    }
    del _base

    def __init__(self, root: str | os.PathLike, what: str | None = None, compat: bool = True,
                 train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets.keys()))
        self.compat = compat
        VisionDataset.__init__(self, root, transform=transform,
                               target_transform=target_transform)
        self.train = train
        self._raw_folder = self._locate(download)
        images = read_idx_file(self._split_file("images"), 0x0803)   # uint8, 3 dimensions
        labels = read_idx_file(self._split_file("labels"), 0x0C02)   # int32, 2 dimensions
        if len(images) != len(labels):
            raise RuntimeError(f"{len(images)} images but {len(labels)} labels in "
                               f"{self._raw_folder}: a file is corrupt")
        if self.what == "test10k":
            images, labels = images[:10000], labels[:10000]
        elif self.what == "test50k":
            images, labels = images[10000:], labels[10000:]
        self.data = from_numpy(np.ascontiguousarray(images))
        self.targets = from_numpy(labels.astype(np.int64))

    def _stems(self) -> list[str]:
        return [_split_url(url)[1].rsplit(".", 1)[0]
                for url, _ in self.resources[self.subsets[self.what]]]

    def download(self) -> None:
        """Fetch the two files of ``what`` into ``root/QMNIST/raw`` (MD5-checked) and
        unpack them there, unless they are already there."""
        folder = os.path.join(os.fspath(self.root), type(self).__name__, "raw")
        if self._has_split(folder):
            return
        os.makedirs(folder, exist_ok=True)
        for url, md5 in self.resources[self.subsets[self.what]]:
            prefix, name = _split_url(url)
            extract_archive(download_from_mirrors([prefix], name, folder, md5), folder)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: the PIL image (mode 'L') and the class (``compat``) or the
        int64 row of 8 target values, each through its transform when one is set."""
        img = Image.fromarray(self.data.numpy(force=True)[index])
        target = self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.compat:
            target = int(target[0])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self) -> str:
        return f"Split: {self.what}"
