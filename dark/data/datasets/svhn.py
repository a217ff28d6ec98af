"""SVHN (torchvision.datasets.SVHN): the Street View House Numbers' cropped 32x32 digits,
read from the authors' ``<split>_32x32.mat`` files in ``root`` (MATLAB 5 MAT-files, read by
:mod:`._matfile`: scipy, which torchvision needs here, is not needed)."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ..download import check_integrity, download_from_mirrors
from ._matfile import loadmat
from .utils import verify_str_arg
from .vision import VisionDataset

__all__ = ["SVHN"]


class SVHN(VisionDataset):
    """`SVHN <http://ufldl.stanford.edu/housenumbers/>`_: 73,257 ``'train'``, 26,032
    ``'test'`` and 531,131 ``'extra'`` 32x32 RGB digits. The files label the digit 0 as
    10; here, as in torchvision, it is 0. ``data`` is a uint8 numpy array (N, 3, 32, 32),
    ``labels`` int64 (N,); ``dataset[i]`` is ``(PIL RGB image, int)``.

    Args:
        root: the folder holding ``<split>_32x32.mat`` (checked against its MD5); when it is
            not there, ``$DARK_DATA/svhn/`` is tried too.
        split: ``'train'``, ``'test'`` or ``'extra'``.
        transform, target_transform: callables applied to the image and to the label.
        download: fetch the split's file into ``root`` (MD5-checked) when it is found
            nowhere.
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
                  "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
                 "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
                  "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root: str | os.PathLike, split: str = "train",
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list.keys()))
        self.url, self.filename, self.file_md5 = self.split_list[split]
        path = self._locate(download)
        loaded = loadmat(path)
        if "X" not in loaded or "y" not in loaded:
            raise RuntimeError(f"{path} lacks the arrays X and y of SVHN (it holds "
                               f"{sorted(loaded)})")
        # y is (N, 1); 10 stands for the digit 0
        self.labels = loaded["y"].astype(np.int64).squeeze()
        np.place(self.labels, self.labels == 10, 0)
        # X is (32, 32, 3, N): rows, columns, channels, images
        self.data = np.transpose(loaded["X"], (3, 2, 0, 1))

    def _locate(self, download: bool) -> str:
        path = os.path.join(os.fspath(self.root), self.filename)
        if check_integrity(path, self.file_md5):
            return path
        shared = os.environ.get("DARK_DATA")
        if shared:
            shared_path = os.path.join(os.path.expanduser(shared), "svhn", self.filename)
            if check_integrity(shared_path, self.file_md5):
                return shared_path
        if download:
            self.download()
            return path
        raise RuntimeError("Dataset not found or corrupted. You can use download=True to "
                           f"download it (expected {os.path.abspath(path)} with MD5 "
                           f"{self.file_md5})")

    def download(self) -> None:
        """Fetch the split's file into ``root`` unless it is there with the right MD5."""
        prefix, _, name = self.url.rpartition("/")
        download_from_mirrors([prefix + "/"], name, os.fspath(self.root), self.file_md5)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.labels[index])
        img = Image.fromarray(np.transpose(img, (1, 2, 0)))
        return self._transformed(img, target)

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
