"""DatasetFolder and ImageFolder (torchvision.datasets.DatasetFolder / ImageFolder): samples
found on disk as ``root/<class>/**/<file>``, one class per sub-folder of ``root``."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PIL import Image

from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader",
           "find_classes", "has_file_allowed_extension", "is_image_file", "make_dataset",
           "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """Whether ``filename``, lower-cased, ends with one of ``extensions`` (lower-case)."""
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def is_image_file(filename: str) -> bool:
    """Whether ``filename`` ends with one of :data:`IMG_EXTENSIONS` (any case)."""
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The sorted names of the sub-folders of ``directory`` and their indices. Raises
    FileNotFoundError when there is none."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {cls_name: i for i, cls_name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int] | None = None,
                 extensions: str | tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """``(path, class index)`` of every file under ``directory/<class>/`` (links followed,
    folders and names sorted) that has one of ``extensions`` or passes ``is_valid_file``
    (exactly one of the two must be given). ``class_to_idx`` defaults to
    :func:`find_classes`'s. A class without a valid file raises FileNotFoundError unless
    ``allow_empty``."""
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    both_none = extensions is None and is_valid_file is None
    both_something = extensions is not None and is_valid_file is not None
    if both_none or both_something:
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(x: str) -> bool:
            return has_file_allowed_extension(x, extensions)

    instances = []
    available_classes = set()
    for target_class in sorted(class_to_idx.keys()):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    available_classes.add(target_class)
    empty_classes = set(class_to_idx.keys()) - available_classes
    if empty_classes and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty_classes))}. "
        if extensions is not None:
            msg += ("Supported extensions are: "
                    f"{extensions if isinstance(extensions, str) else ', '.join(extensions)}")
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """A data set of files laid out as ``root/<class>/.../<file>``: ``dataset[i]`` is
    ``(loader(path), class index)`` through ``transform`` / ``target_transform``.

    Args:
        root: the folder whose sub-folders are the classes.
        loader: callable loading a sample from its path.
        extensions: the accepted file name endings (any case); give this or
            ``is_valid_file``, not both.
        transform, target_transform: callables applied to the sample and to the target.
        is_valid_file: callable telling from a path whether the file is a sample.
        allow_empty: accept class folders without any valid file (else FileNotFoundError).

    Attributes: ``classes`` (sorted class names), ``class_to_idx``, ``samples`` (list of
    ``(path, class index)``), ``targets`` (the class indices). Override
    :meth:`find_classes` / :meth:`make_dataset` for other layouts.
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx=class_to_idx,
                                    extensions=extensions, is_valid_file=is_valid_file,
                                    allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                     extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        """The module's :func:`make_dataset`, with ``class_to_idx`` required (so that an
        overridden :meth:`find_classes` is the one used)."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions=extensions,
                            is_valid_file=is_valid_file, allow_empty=allow_empty)

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        """The class folders of ``directory`` (the module's :func:`find_classes`)."""
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self) -> int:
        return len(self.samples)


def pil_loader(path: str | os.PathLike) -> Image.Image:
    """The image file at ``path`` as an RGB PIL image (read fully, file closed)."""
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def default_loader(path: str | os.PathLike) -> Any:
    """:func:`pil_loader` (dark has no accimage backend)."""
    return pil_loader(path)


class ImageFolder(DatasetFolder):
    """:class:`DatasetFolder` of image files (:data:`IMG_EXTENSIONS` unless
    ``is_valid_file`` is given) loaded as RGB PIL images by default; ``imgs`` is
    ``samples``."""

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
