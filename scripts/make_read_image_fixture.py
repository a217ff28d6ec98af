"""Write tests/fixtures/torchvision_read_image.npz: small PNG and JPEG files and what
torchvision 0.29's ``torchvision.io.read_image`` returns on each in each ImageReadMode.

    /work/venv-tv/bin/python scripts/make_read_image_fixture.py

The images are synthetic (a seeded numpy generator). Keys: ``file:<name>`` (the bytes),
``<name>:<MODE>`` (the uint8 array torchvision returns) and ``error:<name>:<MODE>`` (its error
message, as a 0-d string array) where it refuses.
"""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image
from torchvision.io import ImageReadMode, read_image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "torchvision_read_image.npz")
rng = np.random.default_rng(20261207)


def _image(mode: str) -> Image.Image:
    h, w = 5, 7
    if mode == "P":
        img = Image.fromarray(rng.integers(0, 4, (h, w), dtype=np.uint8), "P")
        img.putpalette([10, 20, 30, 200, 100, 0, 0, 255, 128, 255, 255, 255] + [0] * 756)
        return img
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    data = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    return Image.fromarray(data[..., 0] if channels == 1 else data, mode)


def main():
    files = {}
    for mode in ["L", "LA", "RGB", "RGBA", "P"]:
        buf = io.BytesIO()
        _image(mode).save(buf, "PNG")
        files[f"{mode.lower()}.png"] = buf.getvalue()
    for mode in ["L", "RGB"]:
        buf = io.BytesIO()
        _image(mode).save(buf, "JPEG", quality=90)
        files[f"{mode.lower()}.jpg"] = buf.getvalue()
    arrays = {}
    tmp = os.path.join(HERE, "_read_image_tmp")
    os.makedirs(tmp, exist_ok=True)
    try:
        for name, data in files.items():
            arrays[f"file:{name}"] = np.frombuffer(data, dtype=np.uint8)
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            for mode in ["UNCHANGED", "GRAY", "GRAY_ALPHA", "RGB", "RGB_ALPHA"]:
                try:
                    arrays[f"{name}:{mode}"] = read_image(path, getattr(ImageReadMode,
                                                                        mode)).numpy()
                except Exception as error:  # noqa: BLE001 - the message is the fixture
                    arrays[f"error:{name}:{mode}"] = np.array(str(error))
    finally:
        for name in files:
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    np.savez_compressed(OUT, **arrays)
    print(OUT, os.path.getsize(OUT), "bytes")
    for k, v in arrays.items():
        if not k.startswith("file:"):
            print(k, v.shape if v.ndim else v)


if __name__ == "__main__":
    main()
