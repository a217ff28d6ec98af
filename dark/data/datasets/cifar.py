"""CIFAR-10 and CIFAR-100 (torchvision.datasets.CIFAR10 / CIFAR100).

The files are the authors' python version, in torchvision's layout:
``root/cifar-10-batches-py/`` (``data_batch_1`` ... ``data_batch_5``, ``test_batch``,
``batches.meta``) and ``root/cifar-100-python/`` (``train``, ``test``, ``meta``). Each is a
pickle; they are read with an unpickler that only builds numpy arrays, dicts, lists,
strings and numbers, so a tampered file cannot run code. As for MNIST, when the files are
not under ``root`` the folder named by the ``DARK_DATA`` environment variable is tried too.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ..download import check_integrity, download_and_extract_archive
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]

_NUMPY_CORE = "numpy._core" if hasattr(np, "_core") else "numpy.core"
# What a pickled numpy array needs (numpy 1 and 2 spell the core module differently), plus
# _codecs.encode, with which protocol 2 pickles store bytes.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data set "
                                         "file (only numpy arrays and plain values are read)")
        return super().find_class(*_ALLOWED_GLOBALS[module, name])


def _load_pickle(path: str) -> Any:
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


class CIFAR10(VisionDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 50,000 training and
    10,000 test 32x32 colour images in 10 classes. ``dataset[i]`` is ``(PIL.Image RGB,
    int)`` before ``transform`` / ``target_transform``; ``data`` is a uint8 numpy array
    (N, 32, 32, 3) and ``targets`` a list of ints, as in torchvision.

    Args:
        root: folder holding ``cifar-10-batches-py/`` (``~`` is expanded); when the files
            are not there, ``$DARK_DATA/cifar-10-batches-py/`` is tried too.
        train: the five training batches if True, else the test batch.
        transform: callable applied to the PIL image.
        target_transform: callable applied to the label.
        download: fetch and extract the archive into ``root`` (after checking its MD5)
            when the files are found nowhere.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        self._folder = self._locate(download)

        self.data: Any = []
        self.targets: list[int] = []
        for file_name, _ in self.train_list if train else self.test_list:
            entry = _load_pickle(os.path.join(self._folder, file_name))
            self.data.append(entry["data"])
            self.targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(self.data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self._load_meta()

    def _intact(self, folder: str) -> bool:
        return all(check_integrity(os.path.join(folder, name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def _locate(self, download: bool) -> str:
        folder = os.path.join(os.fspath(self.root), self.base_folder)
        if self._intact(folder):
            return folder
        shared = os.environ.get("DARK_DATA")
        if shared:
            shared_folder = os.path.join(os.path.expanduser(shared), self.base_folder)
            if self._intact(shared_folder):
                return shared_folder
        if download:
            self.download()
            return folder
        hint = (f" nor in {os.path.abspath(shared_folder)} (DARK_DATA={shared})" if shared
                else f"; set DARK_DATA to a folder holding {self.base_folder}/ to use a "
                     "shared copy")
        raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                           f"download it. Expected the batches in {os.path.abspath(folder)}"
                           f"{hint}")

    def _load_meta(self) -> None:
        path = os.path.join(self._folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use "
                               f"download=True to download it (expected {path})")
        self.classes = _load_pickle(path)[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def download(self) -> None:
        """Fetch ``filename`` from ``url`` into ``root`` (checked against ``tgz_md5``) and
        extract it there, unless the batches are already there and intact."""
        if self._intact(os.path.join(os.fspath(self.root), self.base_folder)):
            return
        download_and_extract_archive(self.url, os.fspath(self.root), filename=self.filename,
                                     md5=self.tgz_md5)
        if not self._intact(os.path.join(os.fspath(self.root), self.base_folder)):
            raise RuntimeError(f"{self.filename} from {self.url} did not hold the expected "
                               f"files of {self.base_folder}")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: the PIL RGB image and the int class, each passed through its
        transform when one is set."""
        img, target = Image.fromarray(self.data[index]), self.targets[index]
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """`CIFAR-100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: as :class:`CIFAR10`
    with 100 fine classes (``targets`` are the fine labels)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}
