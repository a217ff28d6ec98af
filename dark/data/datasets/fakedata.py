"""FakeData (torchvision.datasets.FakeData): random images, the same for an index on every
call and equal to torchvision's, since dark's CPU generator draws torch's numbers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..._backend import int64
from ...ops.random import randint, randn
from ...random import default_generator
from ..transforms.functional import to_pil_image
from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """A data set of ``size`` random PIL images of ``image_size`` (C, H, W) and random
    targets in ``[0, num_classes)``. Item ``index`` is drawn from the default CPU generator
    seeded with ``index + random_offset`` (whose state is restored afterwards), with
    ``randn(*image_size)`` then ``randint(0, num_classes, (1,))``, exactly as torchvision
    does: the images and targets equal torchvision's. The float image becomes uint8 as
    torchvision's ``ToPILImage`` makes it (times 255, truncated, wrapping modulo 256).
    ``target_transform`` receives the target as a 0-d int64 tensor and the item's target is
    its ``.item()``, as in torchvision."""

    def __init__(self, size: int = 1000, image_size: tuple[int, int, int] = (3, 224, 224),
                 num_classes: int = 10, transform: Callable | None = None,
                 target_transform: Callable | None = None, random_offset: int = 0) -> None:
        super().__init__(transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, target)``: the PIL image (mode L, LA, RGB or RGBA by the channel count)
        and the int class, through ``transform`` / ``target_transform``."""
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        state = default_generator.get_state()
        try:
            default_generator.manual_seed(index + self.random_offset)
            img = randn(*self.image_size)
            target = randint(0, self.num_classes, size=(1,), dtype=int64)[0]
        finally:
            default_generator.set_state(state)
        # torch's float -> uint8 cast (Tensor.byte) wraps modulo 256 after truncation.
        scaled = img.numpy() * np.float32(255)
        pixels = scaled.astype(np.int64).astype(np.uint8)
        if pixels.ndim == 3:
            pixels = pixels.transpose(1, 2, 0)
        image = to_pil_image(pixels)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target.item()

    def __len__(self) -> int:
        return self.size
