"""STL10 (torchvision.datasets.STL10): the authors' binary version in ``root/stl10_binary/``
(``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin``, ``unlabeled_X.bin``:
uint8 images of 3x96x96 stored channel by channel, each channel column-major; labels 1..10;
``class_names.txt``; ``fold_indices.txt``: ten lines of training indices)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ..download import check_integrity, download_from_mirrors, extract_archive
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["STL10"]


class STL10(VisionDataset):
    """`STL10 <https://cs.stanford.edu/~acoates/stl10/>`_: 5,000 labelled training, 8,000
    test and 100,000 unlabelled 96x96 RGB images in 10 classes. ``data`` is a uint8 numpy
    array (N, 3, 96, 96) and ``labels`` a numpy array (-1 for unlabelled images), as in
    torchvision; ``dataset[i]`` is ``(PIL RGB image, int)``.

    Args:
        root: the folder holding ``stl10_binary/`` (its five .bin files are MD5-checked, as
            torchvision does); when they are not there, ``$DARK_DATA/stl10_binary/`` is
            tried too.
        split: ``'train'``, ``'train+unlabeled'``, ``'unlabeled'`` or ``'test'``.
        folds: None (all 5,000 training images) or 0..9, one of the ten predefined folds of
            1,000 training images.
        transform, target_transform: callables applied to the image and to the label.
        download: fetch and extract ``stl10_binary.tar.gz`` (2.6 GB, MD5-checked) into
            ``root`` when the files are found nowhere.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [
        ["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
        ["train_y.bin", "5a34089d4802c674881badbb80307741"],
        ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"],
    ]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root: str | os.PathLike, split: str = "train", folds: int | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        self._folder = self._locate(download)

        self.labels: np.ndarray | None
        if self.split == "train":
            self.data, self.labels = self._loadfile(self.train_list[0][0],
                                                    self.train_list[1][0])
            self._load_folds(folds)
        elif self.split == "train+unlabeled":
            self.data, self.labels = self._loadfile(self.train_list[0][0],
                                                    self.train_list[1][0])
            self._load_folds(folds)
            unlabeled_data, _ = self._loadfile(self.train_list[2][0])
            self.data = np.concatenate((self.data, unlabeled_data))
            self.labels = np.concatenate((self.labels,
                                          np.asarray([-1] * unlabeled_data.shape[0])))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile(self.train_list[2][0])
            self.labels = np.asarray([-1] * self.data.shape[0])
        else:
            self.data, self.labels = self._loadfile(self.test_list[0][0], self.test_list[1][0])

        class_file = os.path.join(self._folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    @staticmethod
    def _verify_folds(folds: int | None) -> int | None:
        if folds is None:
            return folds
        if isinstance(folds, int):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but "
                             f"got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type "
                         f"{type(folds)}.")

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
        raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                           f"download it (expected the .bin files in "
                           f"{os.path.abspath(folder)})")

    def download(self) -> None:
        """Fetch and extract the archive into ``root`` unless the files are there intact."""
        folder = os.path.join(os.fspath(self.root), self.base_folder)
        if self._intact(folder):
            return
        prefix = self.url.rpartition("/")[0] + "/"
        archive = download_from_mirrors([prefix], self.filename, os.fspath(self.root),
                                        self.tgz_md5)
        extract_archive(archive, os.fspath(self.root))
        if not self._intact(folder):
            raise RuntimeError(f"{self.filename} from {self.url} did not hold the expected "
                               f"files of {self.base_folder}")

    def _loadfile(self, data_file: str,
                  labels_file: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        labels = None
        if labels_file:
            labels = np.fromfile(os.path.join(self._folder, labels_file), dtype=np.uint8) - 1
        everything = np.fromfile(os.path.join(self._folder, data_file), dtype=np.uint8)
        if everything.size % (3 * 96 * 96):
            raise RuntimeError(f"{os.path.join(self._folder, data_file)} is truncated: "
                               f"{everything.size} bytes is not a whole number of 3x96x96 "
                               "images")
        images = np.transpose(everything.reshape(-1, 3, 96, 96), (0, 1, 3, 2))
        return images, labels

    def _load_folds(self, folds: int | None) -> None:
        if folds is None:
            return
        with open(os.path.join(self._folder, self.folds_list_file)) as f:
            list_idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
        self.data = self.data[list_idx, :, :, :]
        if self.labels is not None:
            self.labels = self.labels[list_idx]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        target: int | None
        if self.labels is not None:
            img, target = self.data[index], int(self.labels[index])
        else:
            img, target = self.data[index], None
        img = Image.fromarray(np.transpose(img, (1, 2, 0)))
        return self._transformed(img, target)

    def __len__(self) -> int:
        return self.data.shape[0]

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
